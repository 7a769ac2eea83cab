// The README's code, compiled and run: the STARTTLS example ("### STARTTLS from C++") is
// extracted from README.md at build time (test/support/readme_block.py), so the README shows
// code that builds and works, against a local SMTP server that upgrades to TLS (smtp_server.hpp).
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "cli/smtp_server.hpp"
#include "readme_starttls.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;

namespace {

std::shared_ptr<TLSSession> trusting_test_root() {
  TLSSession::Options options;
  options.extra_trust_roots = {certs_dir() / "root-ca.pem"};
  return std::make_shared<TLSSession>(std::move(options));
}

// The dialogue after a pause before the greeting, as real servers take (greeting delays
// against spam): a client reading with a non-blocking recv would find nothing and fail.
StartTLSServer::Dialogue unhurried(StartTLSServer::Dialogue dialogue) {
  return [dialogue = std::move(dialogue)](PlainPeer& peer) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return dialogue(peer);
  };
}

// After the handshake: the client's second EHLO, answered inside TLS.
void answer_ehlo(TLSSocket& tls) {
  const std::string ehlo = tls.read_line();
  tls.write(ehlo == "EHLO client.example\r\n" ? "250-localhost greets you again\r\n250 8BITMIME\r\n"
                                              : "500 expected EHLO, got " + ehlo);
}

}  // namespace

TEST_CASE("the README's STARTTLS example upgrades an SMTP session and verifies the server", "[readme]") {
  StartTLSServer server(unhurried(smtp_dialogue(true)), answer_ehlo);
  auto session = trusting_test_root();
  TLSSocket smtp = smtp_starttls("localhost", server.port(), session);
  CHECK(smtp.read_line() == "250-localhost greets you again\r\n");
  CHECK(smtp.read_line() == "250 8BITMIME\r\n");
  CHECK(smtp.certificate().subject() == "CN=localhost");
  CHECK(smtp.hostname() == "localhost");
  CHECK(smtp.session() == session);
  smtp.close();
  CHECK(server.wait_for(1, 0));
  CHECK(server.handshakes() == 1);
  CHECK(server.handler_error() == "");
}

TEST_CASE("the README's STARTTLS example: no STARTTLS offered, or a certificate not trusted", "[readme]") {
  SECTION("the server refuses STARTTLS") {
    StartTLSServer server(smtp_dialogue(false));
    REQUIRE_THROWS_MATCHES(smtp_starttls("localhost", server.port(), trusting_test_root()), std::runtime_error,
                           Catch::Matchers::Message("the SMTP server refused STARTTLS"));
    CHECK(server.handshakes() == 0);
  }
  SECTION("a server whose certificate is not trusted") {
    StartTLSServer server(smtp_dialogue(true));
    TLSSession::Options options;
    options.extra_trust_roots = {certs_dir() / "untrusted-root-ca.pem"};
    options.use_os_trust_roots = false;
    REQUIRE_THROWS_MATCHES(smtp_starttls("localhost", server.port(), std::make_shared<TLSSession>(options)),
                           TLSVerificationError,
                           Catch::Matchers::Message("Server certificate verification failed - certificate issuer "
                                                    "not found in trusted root certificate store"));
  }
}
