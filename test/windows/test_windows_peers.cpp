// tlsock built for Windows, run under Wine, against peers the Linux side started on 127.0.0.1
// (test/windows/driver.py: openssl s_server and s_client, stopped by their PIDs). The driver
// passes their ports in the environment and runs one tag at a time, each in a fresh process:
//   [peers]     TLSOCK_WWW_PORT: `s_server -www` (TLS 1.3 where both sides have it, tickets);
//               TLSOCK_WWW12_PORT: `s_server -www -tls1_2 -no_ticket` (session IDs);
//               TLSOCK_UNTRUSTED_PORT: `s_server -www` with a chain to the untrusted root
//   [listener]  TLSOCK_LISTEN_PORT: a TLSListener that `openssl s_client` connects to
// Public API and Winsock only: this file is built for Windows alone (test/meson.build).
#include <winsock2.h>
#include <ws2tcpip.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace std::chrono_literals;
using tlsock::Protocol;
using tlsock::TLSSession;
using tlsock::TLSSocket;

namespace {

const std::string verification_failed = "Server certificate verification failed";

std::uint16_t port_from(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr)
    throw std::runtime_error(std::string(variable) + " is not set (test/windows/driver.py sets it)");
  return static_cast<std::uint16_t>(std::stoul(value));
}

std::string cert_path(const std::string& name) { return (tlsock::testing::certs_dir() / name).string(); }

std::shared_ptr<TLSSession> trusted(std::optional<Protocol> only = std::nullopt) {
  TLSSession::Options options;
  options.extra_trust_roots = {cert_path("root-ca.pem")};
  if (only) options.protocols = {*only};
  return std::make_shared<TLSSession>(std::move(options));
}

tlsock::Certificate pki_certificate(const std::string& name) {
  return tlsock::Certificate::load(cert_path(name)).at(0);
}

// A request `s_server -www` answers with a status page.
std::string get_status_line(TLSSocket& socket) {
  socket.write("GET / HTTP/1.0\r\n\r\n");
  return socket.read_line();
}

}  // namespace

TEST_CASE("a verified handshake with openssl s_server reports every attribute", "[peers]") {
  TLSSocket socket("127.0.0.1", port_from("TLSOCK_WWW_PORT"), 10s, trusted());
  bool tls13 = tlsock::default_protocols().contains(Protocol::TLSv1_3);
  CHECK(socket.protocol() == (tls13 ? "TLSv1.3" : "TLSv1.2"));
  CHECK(socket.cipher_suite().starts_with("TLS_"));
  CHECK_FALSE(socket.compression());
  CHECK(socket.hostname() == "127.0.0.1");
  CHECK(socket.port() == port_from("TLSOCK_WWW_PORT"));
  CHECK(socket.certificate() == pki_certificate("localhost.pem"));
  REQUIRE(socket.intermediates().size() == 1);
  CHECK(socket.intermediates()[0] == pki_certificate("intermediate-ca.pem"));
  CHECK(socket.peer_address() == "127.0.0.1:" + std::to_string(port_from("TLSOCK_WWW_PORT")));
  CHECK(get_status_line(socket) == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("verification failures carry oscrypto's class and message", "[peers]") {
  SECTION("a root the policy does not trust (and the Windows ROOT store does not hold)") {
    // No extra roots: the Windows ROOT store alone, which has no test root.
    CHECK_THROWS_MATCHES(TLSSocket("localhost", port_from("TLSOCK_WWW_PORT"), 10s), tlsock::TLSVerificationError,
                         Catch::Matchers::Message(verification_failed +
                                                  " - certificate issuer not found in trusted root certificate store"));
  }
  SECTION("a chain to an untrusted root") {
    CHECK_THROWS_MATCHES(TLSSocket("localhost", port_from("TLSOCK_UNTRUSTED_PORT"), 10s, trusted()),
                         tlsock::TLSVerificationError,
                         Catch::Matchers::Message(verification_failed +
                                                  " - certificate issuer not found in trusted root certificate store"));
  }
  SECTION("a name the certificate does not have") {
    SOCKET s = static_cast<SOCKET>(tlsock::connect_tcp("127.0.0.1", port_from("TLSOCK_WWW_PORT")));
    CHECK_THROWS_MATCHES(
        TLSSocket::wrap(s, "wrong.example", trusted()), tlsock::TLSVerificationError,
        Catch::Matchers::Message(verification_failed +
                                 " - domain name wrong.example does not match valid domains: localhost or "
                                 "valid IP addresses: 127.0.0.1, ::1"));
  }
}

TEST_CASE("a session resumes by session ID (TLS 1.2) and by ticket", "[peers]") {
  SECTION("session ID") {
    auto session = trusted(Protocol::TLSv1_2);
    {
      TLSSocket first("localhost", port_from("TLSOCK_WWW12_PORT"), 10s, session);
      CHECK(first.session_id() == tlsock::SessionReuse::new_session);
      CHECK(get_status_line(first) == "HTTP/1.0 200 ok\r\n");
    }
    TLSSocket second("localhost", port_from("TLSOCK_WWW12_PORT"), 10s, session);
    CHECK(second.session_id() == tlsock::SessionReuse::reused);
    CHECK_FALSE(second.session_ticket().has_value());
  }
  SECTION("ticket, on the newest protocol both have") {
    auto session = trusted();
    {
      TLSSocket first("localhost", port_from("TLSOCK_WWW_PORT"), 10s, session);
      // A TLS 1.3 ticket arrives after the handshake: reading the answer receives it.
      CHECK(get_status_line(first) == "HTTP/1.0 200 ok\r\n");
      CHECK(first.session_ticket() == tlsock::SessionReuse::new_session);
    }
    TLSSocket second("localhost", port_from("TLSOCK_WWW_PORT"), 10s, session);
    CHECK(second.session_ticket() == tlsock::SessionReuse::reused);
    CHECK(get_status_line(second) == "HTTP/1.0 200 ok\r\n");
  }
}

TEST_CASE("TLS 1.3 is negotiated with openssl when asked for alone", "[peers]") {
  if (!tlsock::default_protocols().contains(Protocol::TLSv1_3)) TLSOCK_SKIP("this mbedTLS has no TLS 1.3");
  TLSSocket socket("localhost", port_from("TLSOCK_WWW_PORT"), 10s, trusted(Protocol::TLSv1_3));
  CHECK(socket.protocol() == "TLSv1.3");
  CHECK(get_status_line(socket) == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("read_line, read_until and read_exactly work across records", "[peers]") {
  TLSSocket socket("localhost", port_from("TLSOCK_WWW_PORT"), 10s, trusted());
  // -www sends the status page in several writes: headers, then the page's lines.
  socket.write("GET / HTTP/1.0\r\n\r\n");
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
  CHECK(socket.read_until("\r\n\r\n").ends_with("\r\n\r\n"));
  std::string five = socket.read_exactly(5);
  CHECK(five.size() == 5);
  // The rest, until the server closes.
  std::string rest;
  CHECK_THROWS_AS(
      [&] {
        for (;;) rest += socket.read(16384);
      }(),
      tlsock::TLSGracefulDisconnectError);
  CHECK((five + rest).find("</pre></BODY></HTML>") != std::string::npos);
}

TEST_CASE("waits end in TimeoutError and select reports readiness (WSAPoll)", "[peers]") {
  TLSSocket socket("localhost", port_from("TLSOCK_WWW_PORT"), 10s, trusted());
  // -www says nothing until it has a request.
  CHECK_FALSE(socket.select_read(200ms));
  CHECK(socket.select_write(1s));
  socket.set_timeout(300ms);
  CHECK_THROWS_AS(socket.read(1), tlsock::TimeoutError);
  socket.set_timeout(10s);
  socket.write("GET / HTTP/1.0\r\n\r\n");
  CHECK(socket.select_read(10s));
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("wrap() takes a Winsock socket the caller connected itself", "[peers]") {
  SOCKET s = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  REQUIRE(s != INVALID_SOCKET);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_from("TLSOCK_WWW_PORT"));
  REQUIRE(inet_pton(AF_INET, "127.0.0.1", &address.sin_addr) == 1);
  REQUIRE(::connect(s, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  TLSSocket socket = TLSSocket::wrap(static_cast<tlsock::NativeSocket>(s), "localhost", trusted());
  CHECK(socket.socket() == static_cast<tlsock::NativeSocket>(s));
  CHECK(get_status_line(socket) == "HTTP/1.0 200 ok\r\n");
}

TEST_CASE("close and shutdown", "[peers]") {
  TLSSocket socket("localhost", port_from("TLSOCK_WWW_PORT"), 10s, trusted());
  socket.shutdown();
  CHECK_THROWS_AS(socket.write("late"), tlsock::TLSError);
  socket.close();
  CHECK_THROWS_AS(socket.read(1), tlsock::TLSError);
  socket.close();  // twice is harmless
}

TEST_CASE("a TLSListener serves openssl s_client", "[listener]") {
  auto server = std::make_shared<tlsock::ServerTLS>(std::make_shared<tlsock::ServerCertificateChain>(
      tlsock::CertificateChain::load(cert_path("localhost-chain.pem"), cert_path("localhost.key"))));
  tlsock::TLSListener listener("127.0.0.1", port_from("TLSOCK_LISTEN_PORT"), server);
  TLSSocket client = listener.accept(60s);
  CHECK(client.is_server());
  CHECK(client.read_line() == "hello from s_client\n");
  client.write("hello from tlsock\n");
  client.shutdown();
}
