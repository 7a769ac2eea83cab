// fetch's transfer loop: one connection target, its kept connection and the reading of
// one response (see client.hpp).
#include "fetch/client.hpp"

#include <iostream>

#include "cli/failure.hpp"

namespace tlsock::cli {
namespace {

constexpr std::size_t read_size = 64 * 1024;

std::string seconds_text(double seconds) {
  std::string text = std::to_string(seconds);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.ends_with('.')) text.pop_back();
  return text;
}

}  // namespace

double TransferOptions::timeout(double per_operation) const {
  if (max_time <= 0) return per_operation;
  double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
  if (left <= 0) throw Failure(network, "the transfer took longer than -m/--max-time " + seconds_text(max_time) + " s");
  return std::min(per_operation, left);
}

void TransferOptions::say(const std::string& text) const {
  if (verbose) std::cerr << "* " << text << "\n";
}

void TransferOptions::say_lines(const std::string& prefix, std::string_view block) const {
  if (!verbose) return;
  std::size_t start = 0;
  for (std::size_t end; (end = block.find("\r\n", start)) != std::string_view::npos; start = end + 2)
    std::cerr << prefix << block.substr(start, end - start) << "\n";
}

// Sends request (the whole message) and reads its response through handlers. A kept
// connection that the server closed meanwhile is replaced once, before any response
// byte arrived; any failure after that propagates. close_after: the request said
// "Connection: close".
Exchange Client::exchange(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                          bool close_after) {
  try {
    return exchange_once(request, head_request, handlers, close_after);
  } catch (const TimeoutError&) {
    // A timeout cut to what was left of -m is -m's: (void) timeout() throws its message.
    (void)transfer_.timeout(options_.timeout);
    throw;
  }
}

Exchange Client::exchange_once(const std::string& request, bool head_request, const ResponseHandlers& handlers,
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
  if (socket_ || plain_) {
    bool stale = true;
    try {
      // Anything readable now, before the request, is the server's EOF or garbage.
      auto now = std::chrono::duration<double>(0);
      stale = socket_ ? socket_->select_read(now) : plain_->select_read(now);
    } catch (const std::exception&) {
    }
    if (!stale) {
      transfer_.say("Re-using the connection to " + where());
      return true;
    }
    disconnect();
  }
  ConnectOptions options = options_;
  options.timeout = transfer_.timeout(options_.timeout);
  if (secure_) {
    socket_.emplace(cli::connect(options, session_, host_, port_));
    facts_ = facts_of(*socket_);
  } else {
    if (options.proxy.empty()) options.no_proxy = true;  // HTTPS_PROXY is for https:// only
    plain_.emplace(open_tcp(options, host_, port_));
    facts_ = ConnectionFacts{};
    facts_.address = plain_->peer_address();
  }
  say_connected();
  return false;
}

// -v: what the handshake settled, as curl prints it.
void Client::say_connected() const {
  if (!transfer_.verbose) return;
  transfer_.say("Connected to " + where() + " (" + facts_.address + ")" +
                (secure_ ? "" : ", plain HTTP: not encrypted"));
  if (!secure_) return;
  transfer_.say("TLS: " + facts_.protocol + ", " + facts_.cipher_suite +
                (facts_.alpn.empty() ? "" : ", ALPN " + facts_.alpn));
  if (const Certificate* leaf = facts_.certificate()) {
    transfer_.say("Server certificate: subject " + leaf->subject() + "; issuer " + leaf->issuer());
    transfer_.say(options_.insecure ? "Certificate verification skipped (--insecure)"
                                    : "Certificate verified for " + host_);
  }
  auto reuse = [](const std::optional<SessionReuse>& value) {
    return value ? std::string(to_string(*value)) : std::string("none");
  };
  transfer_.say(
      "Session: " +
      std::string(socket_->session_id() == SessionReuse::reused || socket_->session_ticket() == SessionReuse::reused
                      ? "resumed"
                      : "full handshake") +
      " (session id " + reuse(facts_.session_id) + ", ticket " + reuse(facts_.session_ticket) + ")");
}

void Client::disconnect() noexcept {
  try {
    if (socket_) socket_->close();
    if (plain_) plain_->close();
  } catch (const std::exception&) {
  }
  socket_.reset();
  plain_.reset();
}

void Client::send(const std::string& data) {
  double timeout = transfer_.timeout(options_.timeout);
  if (socket_) {
    socket_->set_timeout(timeout);
    socket_->write(data);
  } else {
    plain_->set_timeout(timeout);
    plain_->write(data);
  }
}

// Plain HTTP has no close_notify: the end of the stream is the end a close-delimited body
// has, told as TLS tells its close_notify.
std::string Client::receive() {
  double timeout = transfer_.timeout(options_.timeout);
  if (socket_) {
    socket_->set_timeout(timeout);
    return socket_->read(read_size);
  }
  plain_->set_timeout(timeout);
  try {
    return plain_->read(read_size);
  } catch (const TLSDisconnectError& error) {
    throw TLSGracefulDisconnectError(error.what());
  }
}

// std::nullopt: the kept connection (kept: true) turned out closed before the response
// started, so the request can be sent again on a new one.
std::optional<Exchange> Client::attempt(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                                        bool kept) {
  http::ResponseParser parser(head_request);
  try {
    transfer_.say_lines("> ", std::string_view(request).substr(0, request.find("\r\n\r\n") + 4));
    send(request);
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
      data = receive();
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

std::string Client::where() const {
  http::Url url;
  url.host = host_;
  url.port = port_;
  url.secure = secure_;
  return url.authority();
}

}  // namespace tlsock::cli
