// fetch's transfer loop: a Client per connection target (host:port) sends a request and reads
// its response through the HTTP parser, keeping the TLS connection between requests while
// the server allows it and replacing a kept connection the server closed meanwhile.
#pragma once

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

// One connection target, host:port. Keeps the TLS connection between requests while the
// server allows it; opens a new one (resuming the TLS session) when it does not.
class Client {
 public:
  Client(const ConnectOptions& options, std::shared_ptr<TLSSession> session, std::string host, std::uint16_t port)
      : options_(options), session_(std::move(session)), host_(std::move(host)), port_(port) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { disconnect(); }

  [[nodiscard]] bool serves(const http::Url& url) const { return url.host == host_ && url.port == port_; }

  // Sends request (the whole message) and reads its response through handlers. A kept
  // connection that the server closed meanwhile is replaced once, before any response
  // byte arrived; any failure after that propagates. close_after: the request said
  // "Connection: close".
  Exchange exchange(const std::string& request, bool head_request, const ResponseHandlers& handlers, bool close_after);

 private:
  bool connect();
  void disconnect() noexcept;
  std::optional<Exchange> attempt(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                                  bool kept);
  std::size_t feed(http::ResponseParser& parser, std::string_view data, std::string& body) const;
  void end_of_response(http::ResponseParser& parser) const;
  [[nodiscard]] Failure cut_short(const TLSDisconnectError& error, const http::ResponseParser& parser) const;
  [[nodiscard]] std::string where() const;

  const ConnectOptions& options_;
  std::shared_ptr<TLSSession> session_;
  std::string host_;
  std::uint16_t port_;
  std::optional<TLSSocket> socket_;
  ConnectionFacts facts_;
};

}  // namespace tlsock::cli
