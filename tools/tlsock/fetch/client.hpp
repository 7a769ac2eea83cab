// fetch's transfer loop: a Client per connection target (host:port) sends a request and reads
// its response through the HTTP parser, keeping the TLS connection between requests while
// the server allows it and replacing a kept connection the server closed meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/cli.hpp"
#include "cli/facts.hpp"
#include "cli/failure.hpp"
#include "http/http.hpp"

namespace tlsock::cli {

// One request and its response, as the Fetcher needs them afterwards.
struct Exchange {
  http::Response response;
  std::uint64_t body_bytes = 0;
  std::optional<std::uint64_t> content_length;
  ConnectionFacts connection;  // what --json reports about the TLS connection
  bool reused_connection = false;
};

// Called with the final response's headers (before any of its body), then with its body.
struct ResponseHandlers {
  std::function<void(const http::ResponseParser& parser)> headers;
  std::function<void(std::string_view bytes)> body;
};

// What every connection of one run shares besides the connect options: -v and -m.
struct TransferOptions {
  bool verbose = false;  // -v: connection facts and headers on stderr (curl's "* ", "> ", "< ")
  double max_time = 0;   // -m: seconds for the whole transfer; 0: no limit
  std::chrono::steady_clock::time_point deadline{};

  // Starts the -m clock (call once, before the first connection).
  void start() {
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(max_time));
  }
  // The timeout for the next operation: --timeout, or what is left of -m if less. Throws
  // Failure(network) once -m has passed.
  [[nodiscard]] double timeout(double per_operation) const;
  // "* text" on stderr with -v.
  void say(const std::string& text) const;
  // With -v, each CRLF-ended line of block with its prefix on stderr ("> " the request's
  // header section, "< " a response's).
  void say_lines(const std::string& prefix, std::string_view block) const;
};

// One connection target, host:port. Keeps the TLS connection between requests while the
// server allows it; opens a new one (resuming the TLS session) when it does not.
class Client {
 public:
  // secure: TLS; false: plain TCP (an http:// URL).
  Client(const ConnectOptions& options, const TransferOptions& transfer, std::shared_ptr<TLSSession> session,
         const http::Url& url)
      : options_(options),
        transfer_(transfer),
        session_(std::move(session)),
        host_(url.host),
        port_(url.port),
        secure_(url.secure) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { disconnect(); }

  [[nodiscard]] bool serves(const http::Url& url) const {
    return url.host == host_ && url.port == port_ && url.secure == secure_;
  }

  // Sends request (the whole message) and reads its response through handlers. A kept
  // connection that the server closed meanwhile is replaced once, before any response
  // byte arrived; any failure after that propagates. close_after: the request said
  // "Connection: close".
  Exchange exchange(const std::string& request, bool head_request, const ResponseHandlers& handlers, bool close_after);

 private:
  Exchange exchange_once(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                         bool close_after);
  bool connect();
  void disconnect() noexcept;
  std::optional<Exchange> attempt(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                                  bool kept);
  std::size_t feed(http::ResponseParser& parser, std::string_view data, std::string& body) const;
  void end_of_response(http::ResponseParser& parser) const;
  [[nodiscard]] Failure cut_short(const TLSDisconnectError& error, const http::ResponseParser& parser) const;
  [[nodiscard]] std::string where() const;
  // The open connection's operations, TLS or plain; each bounded by --timeout and -m.
  void send(const std::string& data);
  [[nodiscard]] std::string receive();
  void say_connected() const;

  const ConnectOptions& options_;
  const TransferOptions& transfer_;
  std::shared_ptr<TLSSession> session_;
  std::string host_;
  std::uint16_t port_;
  bool secure_;
  std::optional<TLSSocket> socket_;
  std::optional<TCPStream> plain_;
  ConnectionFacts facts_;
};

}  // namespace tlsock::cli
