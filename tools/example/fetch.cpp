// The quick start's example: fetch a page over TLS, verified against a given CA, print the
// connection's facts, then reconnect with the same TLSSession to show session resumption.
//
//   tlsock-example HOST PORT CA_FILE
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "tlsock/tlsock.hpp"

namespace {

void fetch(const std::string& host, std::uint16_t port, const std::shared_ptr<tlsock::TLSSession>& session,
           bool print_facts) {
  tlsock::TLSSocket socket(host, port, std::chrono::seconds(10), session);
  socket.write("GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
  std::string status = socket.read_line();
  if (print_facts) {
    std::cout << "status:         " << status;
    std::cout << "protocol:       " << socket.protocol() << "\n"
              << "cipher suite:   " << socket.cipher_suite() << "\n"
              << "subject:        " << socket.certificate().subject() << "\n"
              << "issuer:         " << socket.certificate().issuer() << "\n"
              << "intermediates:  " << socket.intermediates().size() << "\n";
  }
  auto reuse = [](std::optional<tlsock::SessionReuse> r) { return r ? std::string(tlsock::to_string(*r)) : "none"; };
  std::cout << "session id:     " << reuse(socket.session_id()) << ", ticket: " << reuse(socket.session_ticket())
            << "\n";
  socket.close();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " HOST PORT CA_FILE\n";
    return 2;
  }
  std::uint16_t port = 0;
  std::string_view port_text = argv[2];
  if (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec != std::errc() || port == 0) {
    std::cerr << "bad port: " << port_text << "\n";
    return 2;
  }
  try {
    tlsock::TLSSession::Options options;
    options.extra_trust_roots.emplace_back(std::filesystem::path(argv[3]));
    auto session = std::make_shared<tlsock::TLSSession>(options);
    std::cout << "tlsock " << tlsock::version() << " on " << tlsock::backend_version() << "\n";
    std::cout << "first connection\n";
    fetch(argv[1], port, session, true);
    std::cout << "second connection (same TLSSession)\n";
    fetch(argv[1], port, session, false);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
