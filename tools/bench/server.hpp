// The bench's server mode (tlsock-bench --server): tlsock's own server side speaking the
// protocol of protocol.hpp, one thread per connection, on 127.0.0.1 only. The bench starts it
// as a child process and stops it by its PID.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "tlsock/protocol.hpp"

namespace tlsock::bench {

struct ServerSetup {
  std::filesystem::path certs_dir;
  std::string cipher_suite;  // IANA name, the only one the server accepts
  Protocol protocol = Protocol::TLSv1_2;
  std::uint16_t ticket_port = 0;  // session cache and tickets
  std::uint16_t id_port = 0;      // session cache only: resumption by session ID
};

// Listens on id_port, then ticket_port (so that a listener on ticket_port means both are
// ready), and serves until killed. Returns only on a setup error (non-zero).
int run_server(const ServerSetup& setup);

}  // namespace tlsock::bench
