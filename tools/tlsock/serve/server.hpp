// The HTTPS file server (and line echo server) behind `tlsock serve`, usable in-process:
// `tlsock demo` runs one on a thread. An accept loop (TLSListener: handshakes run side by
// side there) hands finished handshakes to a fixed pool of worker threads through a bounded
// queue; each worker serves one connection at a time, keep-alive included.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "tlsock/tlsock.hpp"

namespace tlsock::cli {

struct ServeConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8443;             // 0: a free port (see HttpsServer::port())
  std::filesystem::path root = ".";      // the directory served
  bool echo = false;                     // echo lines back instead of serving HTTP
  unsigned workers = 8;                  // connections served at once
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

  // Serves until stop() is called or should_stop() returns true (asked every 100 ms from
  // this thread). Then accepts no one more, lets each worker finish the request it is
  // serving, closes the rest and returns once every worker has ended.
  void run(const std::function<bool()>& should_stop = {});
  // Thread-safe; run() returns soon after.
  void stop() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The test PKI (certs/ in the source tree): `serve` and `demo` present its localhost
// identity unless told otherwise. Throws Failure (file I/O) when it is missing.
[[nodiscard]] std::filesystem::path default_certs_dir();

}  // namespace tlsock::cli
