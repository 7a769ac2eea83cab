// Handshakes that fail, against real peers on loopback: protocol version mismatches, a required
// client certificate, weak DH groups, servers that speak another protocol, hang up or never
// answer, nothing listening, and arguments refused before any connection is made.
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/plain_server.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

namespace ts = tlsock::testing;
using namespace std::chrono_literals;
using Catch::Matchers::Message;

namespace {

// Bounds every connection of this file; none needs more than a fraction of it.
constexpr auto timeout = 5s;

std::string cert_file(const std::string& name) { return (ts::certs_dir() / name).string(); }

std::shared_ptr<tlsock::TLSSession> trusting_root(tlsock::TLSSession::Options options = {}) {
  options.extra_trust_roots = {tlsock::TrustRoot(ts::certs_dir() / "root-ca.pem")};
  return std::make_shared<tlsock::TLSSession>(std::move(options));
}

tlsock::TLSSocket connect_to(std::uint16_t port, std::shared_ptr<tlsock::TLSSession> session = trusting_root(),
                             tlsock::Timeout limit = timeout) {
  return tlsock::TLSSocket("localhost", port, limit, std::move(session));
}

// A plain TCP server answering every connection with `banner`; the client connects by IP.
void require_other_protocol(const std::string& banner, const std::string& message) {
  INFO("server sends " << Catch::Detail::stringify(banner));
  ts::PlainServer server(ts::send_and_close(banner));
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("127.0.0.1", server.port(), timeout), tlsock::TLSError, Message(message));
}

// gnutls-serv in TLS 1.2 with only DHE-RSA key exchange and the given DH parameters.
ts::ServerProcess gnutls_dhe_server(const std::string& dhparams, bool request_client_certificate) {
  std::vector<std::string> args{"--dhparams", cert_file(dhparams), "--priority",
                                "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA:%PROFILE_VERY_WEAK"};
  if (!request_client_certificate) args.emplace_back("--disable-client-cert");
  return ts::gnutls_server(args);
}

// Finite-field DHE is a TLS 1.2 mechanism (TLS 1.3 has no DHE-RSA suites): pinned to TLS 1.2.
std::shared_ptr<tlsock::TLSSession> dhe_only() {
  return trusting_root(
      {.protocols = {tlsock::Protocol::TLSv1_2}, .cipher_suites = {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}});
}

std::string protocol_names(const tlsock::ProtocolSet& protocols) {
  std::string out;
  for (tlsock::Protocol p : protocols) out += (out.empty() ? "" : ", ") + std::string(tlsock::to_string(p));
  return out;
}

}  // namespace

TEST_CASE("no common protocol version", "[handshake]") {
  SECTION("a TLS 1.3-only server and a TLS 1.2-only client") {
    // With mbedTLS 2.28 the defaults are TLS 1.2 only; with 3.6 the client is pinned to it.
    auto server = ts::openssl_server({"-tls1_3", "-www"});
    auto session = trusting_root({.protocols = {tlsock::Protocol::TLSv1_2}});
    REQUIRE_THROWS_MATCHES(connect_to(server.port(), session), tlsock::TLSError,
                           Message("TLS handshake failed - protocol version error"));
  }
  SECTION("a TLS 1.1-only client and a TLS 1.2-only server") {
    if (!tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1_1))
      TLSOCK_SKIP("the linked mbedTLS has no TLS 1.1");
    auto server = ts::openssl_server({"-tls1_2", "-www"});
    auto session = trusting_root({.protocols = {tlsock::Protocol::TLSv1_1}});
    REQUIRE_THROWS_MATCHES(connect_to(server.port(), session), tlsock::TLSError,
                           Message("TLS handshake failed - protocol version error"));
  }
}

TEST_CASE("TLS 1.1 works when both ends allow it", "[handshake]") {
  if (!tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1_1))
    TLSOCK_SKIP("the linked mbedTLS has no TLS 1.1");
  // OpenSSL 3 allows TLS 1.1 (and its SHA-1 handshake signatures) only at security level 0.
  auto server = ts::openssl_server({"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-www"});
  auto socket = connect_to(server.port(), trusting_root({.protocols = {tlsock::Protocol::TLSv1_1}}));
  CHECK(socket.protocol() == "TLSv1.1");
}

TEST_CASE("a server that requires a client certificate", "[handshake]") {
  auto server = ts::openssl_server({"-Verify", "1", "-CAfile", cert_file("root-ca.pem"), "-www"});
  SECTION("TLS 1.2: the handshake fails; the error names the CAs of the CertificateRequest") {
    auto session = trusting_root({.protocols = {tlsock::Protocol::TLSv1_2}});
    REQUIRE_THROWS_MATCHES(connect_to(server.port(), session), tlsock::TLSError,
                           Message("TLS handshake failed - client authentication required"));
    try {
      (void)connect_to(server.port(), session);
      FAIL("the handshake succeeded");
    } catch (const tlsock::TLSError& error) {
      const tlsock::ClientAuthRequest* request = tlsock::client_auth_request(error);
      REQUIRE(request != nullptr);
      // s_server names the subjects of its -CAfile.
      CHECK(request->acceptable_ca_names() ==
            std::vector<std::string>{tlsock::Certificate::load(cert_file("root-ca.pem")).at(0).subject()});
    }
  }
  SECTION("TLS 1.3: the client's handshake is done first; the refusal arrives at the next write or read") {
    if (!tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1_3))
      TLSOCK_SKIP("the linked mbedTLS has no TLS 1.3");
    auto socket = connect_to(server.port());
    CHECK(socket.protocol() == "TLSv1.3");
    // write() takes in what already arrived after the handshake, so the refusal may come there.
    auto request = [&] {
      socket.write("GET / HTTP/1.0\r\n\r\n");
      (void)socket.read_line();
    };
    try {
      request();
      FAIL("the server did not refuse");
    } catch (const tlsock::TLSError& error) {
      CHECK(std::string(error.what()) == "TLS handshake failed - client authentication required");
      const tlsock::ClientAuthRequest* auth = tlsock::client_auth_request(error);
      REQUIRE(auth != nullptr);
      CHECK(auth->acceptable_ca_names() == std::nullopt);  // TLS 1.3 encrypts the CertificateRequest
    }
  }
}

TEST_CASE("DH groups under 1024 bits are refused", "[handshake]") {
  if (ts::find_program("gnutls-serv").empty()) TLSOCK_SKIP("gnutls-serv is not installed");
  // OpenSSL 3.0's s_server refuses to load dh512.pem at all ("dh key too small"): its
  // -cipher "...@SECLEVEL=0" comes into force only after -dhparam was applied. gnutls-serv
  // serves it.

  SECTION("512 bits") {
    auto server = gnutls_dhe_server("dh512.pem", /*request_client_certificate=*/false);
    REQUIRE_THROWS_MATCHES(connect_to(server.port(), dhe_only()), tlsock::TLSError,
                           Message("TLS handshake failed - weak DH parameters"));
  }
  SECTION("512 bits, from a server that also asks for an optional client certificate") {
    // The CertificateRequest follows the weak ServerKeyExchange in the same flight; the
    // handshake failed on the DH group, not on client authentication.
    auto server = gnutls_dhe_server("dh512.pem", /*request_client_certificate=*/true);
    REQUIRE_THROWS_MATCHES(connect_to(server.port(), dhe_only()), tlsock::TLSError,
                           Message("TLS handshake failed - weak DH parameters"));
  }
  SECTION("2048 bits are fine") {
    auto server = gnutls_dhe_server("dh2048.pem", /*request_client_certificate=*/false);
    auto socket = connect_to(server.port(), dhe_only());
    CHECK(socket.protocol() == "TLSv1.2");
    CHECK(socket.cipher_suite() == "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
  }
  SECTION("2048 bits, with an optional client certificate request") {
    auto server = gnutls_dhe_server("dh2048.pem", /*request_client_certificate=*/true);
    auto socket = connect_to(server.port(), dhe_only());
    CHECK(socket.cipher_suite() == "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
  }
}

TEST_CASE("a server speaking another protocol is named", "[handshake]") {
  const std::string prefix = "TLS protocol error - server responded using ";
  require_other_protocol("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", prefix + "HTTP");
  require_other_protocol("220 ProFTPD Server (ftp.example.com)\r\n", prefix + "FTP");
  require_other_protocol("220 mail.example.com ESMTP Postfix\r\n", prefix + "SMTP");
  require_other_protocol("+OK POP3 ready\r\n", prefix + "POP3");
  require_other_protocol("* OK IMAP4rev1 ready\r\n", prefix + "IMAP");
  require_other_protocol(std::string("\x01\x02garbage\r\n"), prefix + "a different protocol");
}

TEST_CASE("a server that hangs up at once", "[handshake]") {
  ts::PlainServer server(ts::close_immediately());
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("127.0.0.1", server.port(), timeout), tlsock::TLSDisconnectError,
                         Message("The remote end closed the connection"));
  try {
    tlsock::TLSSocket socket("127.0.0.1", server.port(), timeout);
    FAIL("the handshake succeeded");
  } catch (const tlsock::TLSDisconnectError& e) {
    // No close_notify was sent: this is not an orderly end.
    CHECK(dynamic_cast<const tlsock::TLSGracefulDisconnectError*>(&e) == nullptr);
  }
}

TEST_CASE("a server that never answers times out", "[handshake]") {
  ts::PlainServer server(ts::accept_and_stall(10s));
  const std::string message =
      "TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " timed out: Connection timed out";
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("127.0.0.1", server.port(), 0.5s), tlsock::TimeoutError, Message(message));
  try {
    tlsock::TLSSocket socket("127.0.0.1", server.port(), 0.5s);
    FAIL("the handshake succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::timed_out);
  }
}

TEST_CASE("nothing listening", "[handshake]") {
  std::uint16_t port = ts::free_port();
  try {
    tlsock::TLSSocket socket("127.0.0.1", port, timeout);
    FAIL("the connection succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::connection_refused);
    CHECK(e.code().value() == ECONNREFUSED);
    CHECK(std::string(e.what()) ==
          "connect to 127.0.0.1:" + std::to_string(port) + " (127.0.0.1) failed: Connection refused");
  }
}

TEST_CASE("bad arguments are refused before connecting", "[handshake]") {
  std::uint16_t port = ts::free_port();  // nothing listens: an argument check must come first
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("", port, timeout), std::invalid_argument,
                         Message("address: must not be empty"));
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("127.0.0.1", 0, timeout), std::invalid_argument,
                         Message("port: must be between 1 and 65535, not 0"));
  const std::string timeout_message =
      "timeout: must be a non-negative number of seconds (or std::nullopt for no limit), not ";
  REQUIRE_THROWS_MATCHES(tlsock::TLSSocket("127.0.0.1", port, -1s), std::invalid_argument,
                         Message(timeout_message + "-1"));
  REQUIRE_THROWS_MATCHES(
      tlsock::TLSSocket("127.0.0.1", port, std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
      std::invalid_argument, Message(timeout_message + "nan"));
}

TEST_CASE("protocol names and sets", "[handshake]") {
  REQUIRE_THROWS_MATCHES(tlsock::parse_protocol("SSLv3"), std::invalid_argument,
                         Message("protocol: SSLv3 is not supported (it is insecure and was removed)"));
  REQUIRE_THROWS_MATCHES(tlsock::parse_protocol("SSLv2"), std::invalid_argument,
                         Message("protocol: SSLv2 is not supported (it is insecure and was removed)"));
  REQUIRE_THROWS_MATCHES(
      tlsock::parse_protocol("TLSv1.4"), std::invalid_argument,
      Message("protocol: unknown protocol \"TLSv1.4\" (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)"));

  SECTION("TLS 1.3 on a backend without it") {
    tlsock::ProtocolSet supported = tlsock::supported_protocols();
    if (supported.contains(tlsock::Protocol::TLSv1_3)) TLSOCK_SKIP("the linked mbedTLS supports TLS 1.3");
    REQUIRE_THROWS_MATCHES(
        tlsock::TLSSession(tlsock::ProtocolSet{tlsock::Protocol::TLSv1_3}), std::invalid_argument,
        Message("protocols: TLSv1.3 is not supported by the linked " + std::string(tlsock::backend_version()) +
                " (supported: " + protocol_names(supported) + ")"));
  }
  SECTION("a set with a hole") {
    if (!tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1))
      TLSOCK_SKIP("the linked mbedTLS has no TLS 1.0");
    REQUIRE_THROWS_MATCHES(tlsock::TLSSession(tlsock::ProtocolSet{tlsock::Protocol::TLSv1, tlsock::Protocol::TLSv1_2}),
                           std::invalid_argument,
                           Message("protocols: TLSv1, TLSv1.2 is not a contiguous range of versions"));
  }
}
