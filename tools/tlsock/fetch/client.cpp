// fetch's transfer loop: one connection target, its kept connection and the reading of
// one response (see client.hpp).
#include "fetch/client.hpp"

#include "cli/failure.hpp"

namespace tlsock::cli {
namespace {

constexpr std::size_t read_size = 64 * 1024;

}  // namespace

// Sends request (the whole message) and reads its response through handlers. A kept
// connection that the server closed meanwhile is replaced once, before any response
// byte arrived; any failure after that propagates. close_after: the request said
// "Connection: close".
Exchange Client::exchange(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                          bool close_after) {
  for (;;) {
    bool reused = connect();  // a new connection is never retried: attempt() returns or throws
    try {
      if (auto result = attempt(request, head_request, handlers, reused)) {
        if (close_after) disconnect();
        return *result;
      }
    } catch (...) {
      disconnect();
      throw;
    }
    disconnect();  // the kept connection was stale: once more on a new one
  }
}

// True when the kept connection is used, false for a new one.
bool Client::connect() {
  if (socket_) {
    bool stale = true;
    try {
      // Anything readable now, before the request, is the server's EOF or garbage.
      stale = socket_->select_read(std::chrono::duration<double>(0));
    } catch (const std::exception&) {
    }
    if (!stale) return true;
    disconnect();
  }
  socket_.emplace(cli::connect(options_, session_, host_, port_));
  facts_ = facts_of(*socket_);
  return false;
}

void Client::disconnect() noexcept {
  if (!socket_) return;
  try {
    socket_->close();
  } catch (const std::exception&) {
  }
  socket_.reset();
}

// std::nullopt: the kept connection (kept: true) turned out closed before the response
// started, so the request can be sent again on a new one.
std::optional<Exchange> Client::attempt(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                                        bool kept) {
  http::ResponseParser parser(head_request);
  try {
    socket_->write(request);
  } catch (const TLSDisconnectError&) {
    if (kept) return std::nullopt;
    throw;
  }
  bool headers_seen = false;
  bool leftover = false;
  std::string body;
  while (!parser.complete()) {
    std::string data;
    try {
      data = socket_->read(read_size);
    } catch (const TLSGracefulDisconnectError&) {
      if (!parser.started() && kept) return std::nullopt;
      end_of_response(parser);
      break;
    } catch (const TLSDisconnectError& error) {
      if (!parser.started() && kept) return std::nullopt;
      throw cut_short(error, parser);
    }
    body.clear();
    std::size_t used = feed(parser, data, body);
    leftover = used < data.size();
    if (!headers_seen && parser.headers_complete()) {
      headers_seen = true;
      handlers.headers(parser);
    }
    if (!body.empty()) handlers.body(body);
  }
  // A TLS 1.3 server's tickets arrive after the handshake: the session facts are final
  // only now.
  if (socket_) {
    facts_.session_id = socket_->session_id();
    facts_.session_ticket = socket_->session_ticket();
  }
  // A response the server means to close after, one that ended with the connection, or
  // bytes past its end (nothing we asked for): the connection is not kept.
  if (!parser.reusable() || leftover) disconnect();
  return Exchange{parser.response(), parser.body_bytes(), parser.content_length(), facts_, kept};
}

std::size_t Client::feed(http::ResponseParser& parser, std::string_view data, std::string& body) const {
  try {
    return parser.feed(data, body);
  } catch (const http::ProtocolError& error) {
    throw Failure(tls, "invalid HTTP response from " + where() + ": " + error.what());
  }
}

// The server sent close_notify: the end of a close-delimited body, or a truncation.
void Client::end_of_response(http::ResponseParser& parser) const {
  try {
    parser.finish();
  } catch (const http::TruncatedError& error) {
    throw Failure(network, "the response from " + where() + " was cut short: " + error.what());
  }
}

// The connection ended without close_notify: always a truncation, even of a
// close-delimited body, which could otherwise be silently short.
Failure Client::cut_short(const TLSDisconnectError& error, const http::ResponseParser& parser) const {
  std::string message = std::string(error.what()) + " (" + where() + ") ";
  if (!parser.started()) return Failure(network, message + "before sending a response");
  if (parser.framing() == http::Framing::until_close && parser.headers_complete())
    return Failure(network, message + parser.progress() + " without close_notify: the body may be truncated");
  return Failure(network, message + parser.progress());
}

std::string Client::where() const { return http::Url{host_, port_, "/"}.authority(); }

}  // namespace tlsock::cli
