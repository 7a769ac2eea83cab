// Trusting the extra roots alone (TLSSession::Options::use_os_trust_roots = false) against
// `openssl s_server` serving certs/localhost-chain.pem, whose chain leads to certs/root-ca.pem.
//
// This process runs with SSL_CERT_FILE naming certs/ca-bundle.pem (a copy of the test root) and
// without SSL_CERT_DIR, so its OS trust store trusts the server (the first test shows it): a
// trust-only session that still refuses the server did not consult the OS store. The OS roots
// are parsed once per process, at the first verifying session, hence the environment is set
// before main() and this test is an executable of its own.
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

namespace ts = tlsock::testing;
using namespace std::chrono_literals;

namespace {

const bool os_store_is_the_test_root = [] {
  ::setenv("SSL_CERT_FILE", (ts::certs_dir() / "ca-bundle.pem").c_str(), 1);
  ::unsetenv("SSL_CERT_DIR");
  return true;
}();

const std::string issuer_not_found =
    "Server certificate verification failed - certificate issuer not found in trusted root certificate store";

ts::ServerProcess serve(std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), "-www");
  return ts::openssl_server(std::move(extra));
}

std::shared_ptr<tlsock::TLSSession> trusting_only(const std::string& root_file,
                                                  tlsock::ProtocolSet protocols = tlsock::default_protocols()) {
  tlsock::TLSSession::Options options;
  options.protocols = std::move(protocols);
  options.extra_trust_roots = {ts::certs_dir() / root_file};
  options.use_os_trust_roots = false;
  return std::make_shared<tlsock::TLSSession>(std::move(options));
}

// One HTTP request over a new connection; the connection is closed when this returns.
std::string status_line(tlsock::TLSSocket socket) {
  socket.write("GET / HTTP/1.0\r\n\r\n");
  std::string line = socket.read_line();
  (void)ts::read_to_end(socket, [](const std::string&) {});
  return line;
}

}  // namespace

TEST_CASE("this process's OS trust store (SSL_CERT_FILE) trusts the test root", "[trust-only]") {
  REQUIRE(os_store_is_the_test_root);
  auto server = serve();
  auto session = std::make_shared<tlsock::TLSSession>();  // OS roots, no extra roots
  CHECK(session->options().use_os_trust_roots);
  CHECK(status_line(tlsock::TLSSocket("localhost", server.port(), 5s, session)) == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("trusting only another root refuses the server, though the OS store trusts it", "[trust-only]") {
  auto server = serve();
  auto session = trusting_only("untrusted-root-ca.pem");
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("localhost", server.port(), 5s, session), tlsock::TLSVerificationError,
                         Catch::Matchers::Message(issuer_not_found));
  try {
    tlsock::TLSSocket socket("localhost", server.port(), 5s, session);
    FAIL("the server was accepted");
  } catch (const tlsock::TLSVerificationError& e) {
    REQUIRE(e.certificate().has_value());
    CHECK(*e.certificate() == tlsock::Certificate::load(ts::certs_dir() / "localhost.pem").front());
  }
}

TEST_CASE("trusting only the test root accepts the server", "[trust-only]") {
  auto server = serve();
  auto session = trusting_only("root-ca.pem");
  CHECK_FALSE(session->options().use_os_trust_roots);
  tlsock::TLSSocket socket("localhost", server.port(), 5s, session);
  CHECK(socket.protocol() == ts::expected_protocol());
  CHECK(socket.certificate() == tlsock::Certificate::load(ts::certs_dir() / "localhost.pem").front());
  const std::string line = status_line(std::move(socket));
  CHECK(line == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("a session cached under one trust setting does not resume under another", "[trust-only]") {
  auto server = serve({"-no_ticket"});  // TLS 1.2 session IDs: resumption on both mbedTLS lines
  const tlsock::ProtocolSet tls12{tlsock::Protocol::TLSv1_2};
  auto trusted = trusting_only("root-ca.pem", tls12);
  CHECK(status_line(tlsock::TLSSocket("localhost", server.port(), 5s, trusted)) == "HTTP/1.0 200 ok\r\n");
  {
    tlsock::TLSSocket resumed("localhost", server.port(), 5s, trusted);
    CHECK(ts::reuse_of(resumed.session_id()) == "reused");
  }
  // The server would resume that session for anyone who offers it; a session trusting another
  // root has its own (empty) cache and verifies the chain in a full handshake.
  REQUIRE_THROWS_MATCHES(
      tlsock::TLSSocket("localhost", server.port(), 5s, trusting_only("untrusted-root-ca.pem", tls12)),
      tlsock::TLSVerificationError, Catch::Matchers::Message(issuer_not_found));
}

TEST_CASE("trusting nothing: refused while verifying, allowed with manual validation", "[trust-only]") {
  tlsock::TLSSession::Options options;
  options.use_os_trust_roots = false;
  REQUIRE_THROWS_MATCHES(tlsock::TLSSession(options), std::invalid_argument,
                         Catch::Matchers::Message("use_os_trust_roots: false needs at least one extra_trust_roots "
                                                  "certificate (or manual_validation): a verifying session would "
                                                  "trust nothing"));
  options.manual_validation = true;
  auto server = serve();
  auto session = std::make_shared<tlsock::TLSSession>(options);
  CHECK(status_line(tlsock::TLSSocket("localhost", server.port(), 5s, session)) == "HTTP/1.0 200 ok\r\n");
}
