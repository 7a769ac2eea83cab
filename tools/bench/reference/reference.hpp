// The yardstick of tools/bench: client loops and primitive timings written directly on
// mbedTLS, as a straightforward mbedTLS program would do them (one shared config, one DRBG,
// mbedtls_net sockets with TCP_NODELAY, verification on). Compiled into a static library that
// only the bench links; libtlsock never does. The interface names no mbedTLS type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/protocol.hpp"

namespace tlsock::reference {

// "mbed TLS 2.28.3" (the linked library's own text).
[[nodiscard]] std::string mbedtls_version();

struct RawOptions {
  std::vector<std::filesystem::path> ca_files;  // PEM bundles to trust, parsed once per RawClient
  std::string hostname;                         // sent as SNI and checked against the certificate
  std::string cipher_suite;                     // IANA name to offer alone; empty: mbedTLS's defaults
  Protocol protocol = Protocol::TLSv1_2;        // the one version offered
  bool session_tickets = true;                  // offer the ticket extension
};

// One TLS connection to 127.0.0.1, blocking.
class RawConnection {
 public:
  struct Impl;
  explicit RawConnection(std::unique_ptr<Impl> impl);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends all of data.
  void write(std::string_view data);
  // Decrypts 1 to size bytes into data; throws std::runtime_error at the end of the stream.
  [[nodiscard]] std::size_t read(char* data, std::size_t size);
  // close_notify, then closes the socket.
  void close();

 private:
  std::unique_ptr<Impl> impl_;
};

// The shared part: config, trust roots, DRBG, and the last saved session.
class RawClient {
 public:
  explicit RawClient(const RawOptions& options);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Connects and completes the handshake. With resume, offers the session saved by the last
  // connection made with resume (by ticket if the server gave one, else by session ID) and
  // saves the new one.
  [[nodiscard]] std::unique_ptr<RawConnection> connect(std::uint16_t port, bool resume = false);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One timed primitive of the linked mbedTLS.
struct PrimitiveResult {
  std::string name;             // "AES-128-GCM encrypt", "ECDHE X25519", ...
  std::string unit;             // "MB/s" or "ops/s"
  std::optional<double> value;  // empty: the build lacks it ("n/a")
};

// Times each primitive for about `seconds`: AES-128-GCM and ChaCha20-Poly1305 on 16 KiB
// buffers, ECDHE X25519 and P-256 (a key pair and a shared secret per op), ECDSA P-256 and
// RSA-2048 signature verification with the keys in certs_dir.
[[nodiscard]] std::vector<PrimitiveResult> time_primitives(const std::filesystem::path& certs_dir, double seconds);

}  // namespace tlsock::reference
