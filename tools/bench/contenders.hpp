// The clients the bench compares, behind one interface: tlsock, the reference loop written
// directly on mbedTLS, and OpenSSL where the bench was built with it. Every one connects to
// 127.0.0.1, verifies the server's chain against the same CA and the name "localhost", and
// offers the same single cipher suite and protocol version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/protocol.hpp"

namespace tlsock::bench {

struct ClientSetup {
  std::filesystem::path certs_dir;
  std::vector<std::filesystem::path> ca_files;  // root-ca.pem, plus the OS bundle: every client loads these
  std::string hostname = "localhost";
  std::string cipher_suite;  // IANA name
  Protocol protocol = Protocol::TLSv1_2;
};

class ContenderConnection {
 public:
  virtual ~ContenderConnection() = default;
  virtual void write(std::string_view data) = 0;
  // 1 to max bytes; the view stays valid until the next call.
  virtual std::string_view read(std::size_t max) = 0;
  virtual std::string read_line() = 0;
  virtual std::string read_until(std::string_view marker) = 0;
  // close_notify, then close the socket.
  virtual void close() = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  // Connects to 127.0.0.1:port and completes the handshake.
  virtual std::unique_ptr<ContenderConnection> connect(std::uint16_t port) = 0;
};

struct Contender {
  std::string name;  // "tlsock", "mbedtls", "openssl"
  std::string version;
  // resume: keep the last session and offer it (by ticket where the server issues them, else
  // by session ID). Without it every handshake is a full one and no ticket is asked for.
  std::function<std::unique_ptr<Client>(bool resume)> client;
};

[[nodiscard]] Contender tlsock_contender(const ClientSetup& setup);
[[nodiscard]] Contender mbedtls_contender(const ClientSetup& setup);
// Empty when the bench was built without OpenSSL.
[[nodiscard]] std::vector<Contender> openssl_contenders(const ClientSetup& setup);

// All of the above, tlsock first and the mbedTLS reference second (ratios divide by it).
[[nodiscard]] std::vector<Contender> all_contenders(const ClientSetup& setup);

}  // namespace tlsock::bench
