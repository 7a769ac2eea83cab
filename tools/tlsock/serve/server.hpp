// The HTTPS file server (and line echo server) behind `tlsock serve`, usable in-process:
// `tlsock demo` runs one on a thread. An accept loop (TLSListener: handshakes run side by
// side there) gives each finished handshake a thread of its own, up to max_connections;
// past that a client gets a 503 at once. Each connection has its own deadlines (the request
// head, keep-alive idleness), so a slow or idle client never holds up another.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "tlsock/tlsock.hpp"

namespace tlsock::cli {

struct ServeConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;         // 0: a free port (see HttpsServer::port())
  std::filesystem::path root = ".";  // the directory served
  bool echo = false;                 // echo lines back instead of serving HTTP
  unsigned max_connections = 512;    // served at once; more get 503
  // The whole request head must arrive within header_timeout of its first byte; a
  // keep-alive connection idle for idle_timeout is closed.
  std::chrono::steady_clock::duration header_timeout = std::chrono::seconds(10);
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(15);
  std::shared_ptr<const ServerTLS> tls;  // certificates and policy (required)
  // Receives each access-log line (no trailing newline), from any thread, one at a time.
  // Default: stderr.
  std::function<void(const std::string& line)> log;
};

class HttpsServer {
 public:
  // Listens at once (throws std::system_error when the address cannot be bound, Failure
  // when the root is not a directory).
  explicit HttpsServer(ServeConfig config);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string url() const;  // "https://127.0.0.1:8443/"
  // Connections being served now.
  [[nodiscard]] std::size_t connections() const;

  // Serves until stop() is called, blocked (no polling) in accept and in the connections' reads.
  // Then accepts no one more, ends idle keep-alive connections at once, gives requests still
  // arriving stop_grace (1 s), lets each response being sent finish, closes the rest and
  // returns once every connection thread has ended.
  void run();
  // Thread-safe (from a signal-waiting thread, say); run() returns soon after: stop() ends
  // the calls it is blocked in (TLSListener::close, shutdown_socket).
  void stop() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock::cli
