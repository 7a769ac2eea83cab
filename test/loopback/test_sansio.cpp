// Two sans-IO connections wired memory to memory, no socket at all: handshake, data both
// ways, alerts, garbage, close_notify, verify callbacks.
#include <memory>
#include <string>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;

namespace {

std::filesystem::path certs(const char* name) { return tlsock::testing::certs_dir() / name; }

std::shared_ptr<ServerTLS> make_server(ServerOptions options = {}) {
  auto chain = CertificateChain::load(certs("localhost-chain.pem"), certs("localhost.key"));
  return std::make_shared<ServerTLS>(std::make_shared<ServerCertificateChain>(chain), std::move(options));
}

// What our client and server agree on with their defaults: TLS 1.3 where the linked mbedTLS
// has it, else TLS 1.2.
std::string expected_protocol() { return supported_protocols().contains(Protocol::TLSv1_3) ? "TLSv1.3" : "TLSv1.2"; }

std::shared_ptr<TLSSession> trusting_session() {
  TLSSession::Options options;
  options.extra_trust_roots = {certs("root-ca.pem")};
  return std::make_shared<TLSSession>(options);
}

// A client and a server connection with in-memory "wires".
struct Pair {
  std::string to_server, to_client;
  int client_closes = 0, server_closes = 0;
  bool client_close_immediate = false, server_close_immediate = false;
  Connection client;
  Connection server;

  Pair(const ClientTLS& client_tls, const ServerTLS& server_tls, ConnectionVerifyCallback client_verify = {})
      : client(client_tls.start([this](std::string_view b) { to_server.append(b); },
                                [this](bool immediate) {
                                  ++client_closes;
                                  client_close_immediate = immediate;
                                },
                                std::move(client_verify))),
        server(server_tls.start([this](std::string_view b) { to_client.append(b); },
                                [this](bool immediate) {
                                  ++server_closes;
                                  server_close_immediate = immediate;
                                })) {}

  // Moves bytes until neither side has anything to say; returns the plaintext each received.
  std::pair<std::string, std::string> pump() {
    std::string at_client, at_server;
    while (!to_server.empty() || !to_client.empty()) {
      std::string a = std::exchange(to_server, {});
      if (!a.empty()) at_server += server.data_from_wire(a);
      std::string b = std::exchange(to_client, {});
      if (!b.empty()) at_client += client.data_from_wire(b);
    }
    return {at_client, at_server};
  }
};

}  // namespace

TEST_CASE("handshake and data both ways in memory", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  CHECK_FALSE(pair.client.is_handshake_complete());
  CHECK_FALSE(pair.to_server.empty());  // the ClientHello was written at start()
  pair.pump();
  REQUIRE(pair.client.is_handshake_complete());
  REQUIRE(pair.server.is_handshake_complete());
  REQUIRE(pair.client.info().protocol);
  REQUIRE(pair.server.info().protocol);
  CHECK(to_string(*pair.client.info().protocol) == expected_protocol());
  CHECK(to_string(*pair.server.info().protocol) == expected_protocol());
  CHECK(pair.client.info().cipher_suite == pair.server.info().cipher_suite);
  CHECK(pair.client.info().certificate->subject() == "CN=localhost");
  CHECK(pair.client.info().intermediates.size() == 1);
  CHECK_FALSE(pair.server.info().certificate.has_value());
  CHECK(pair.server.info().server_name == "localhost");
  CHECK(pair.client.info().peer_address.empty());  // sans-IO: no transport of its own
  CHECK(pair.server.is_server());
  CHECK_FALSE(pair.client.is_server());

  pair.client.data_from_application("hello server");
  auto [at_client, at_server] = pair.pump();
  CHECK(at_server == "hello server");
  pair.server.data_from_application(std::string(100000, 'x'));
  std::tie(at_client, at_server) = pair.pump();
  CHECK(at_client == std::string(100000, 'x'));
}

TEST_CASE("data written before the handshake completes is queued", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.client.data_from_application("early");
  auto [at_client, at_server] = pair.pump();
  CHECK(at_server == "early");
}

TEST_CASE("close_notify both ways closes the wire", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.pump();
  pair.client.data_from_application("last words");
  pair.client.application_finished();
  CHECK(pair.client.is_closed_for_writing());
  CHECK_FALSE(pair.client.is_closed_for_reading());
  // The server gets the data first, then the close.
  std::string bytes = std::exchange(pair.to_server, {});
  CHECK(pair.server.data_from_wire(bytes) == "last words");
  REQUIRE_THROWS_AS(pair.server.data_from_wire(""), TLSGracefulDisconnectError);
  CHECK(pair.server.is_closed_for_reading());
  pair.server.application_finished();
  CHECK(pair.server_closes == 1);
  CHECK_FALSE(pair.server_close_immediate);
  REQUIRE_THROWS_MATCHES(pair.client.data_from_wire(std::exchange(pair.to_client, {})), TLSGracefulDisconnectError,
                         Catch::Matchers::Message("The remote end closed the connection"));
  CHECK(pair.client_closes == 1);
  REQUIRE_THROWS_AS(pair.client.data_from_application("more"), TLSError);
}

TEST_CASE("EOF without close_notify is truncation", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.pump();
  REQUIRE_THROWS_MATCHES(pair.client.wire_eof(), TLSDisconnectError,
                         Catch::Matchers::Message("The remote end closed the connection"));
  CHECK(pair.client.is_closed_for_reading());
  REQUIRE_THROWS_AS(pair.client.data_from_wire(""), InvalidatedError);
}

TEST_CASE("alerts both ways", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.pump();
  pair.server.send_alert(Alert::internal_error);
  CHECK(pair.server_closes == 1);
  CHECK(pair.server_close_immediate);
  CHECK(pair.server.is_invalidated());
  try {
    (void)pair.client.data_from_wire(std::exchange(pair.to_client, {}));
    FAIL("no alert raised");
  } catch (const TLSAlertError& e) {
    CHECK(e.alert_code() == Alert::internal_error);
    CHECK(e.alert_level() == AlertLevel::fatal);
    CHECK(std::string(e.what()) == "TLS connection failed - received fatal alert internal_error (80)");
  }
  CHECK(pair.client_closes == 1);
  CHECK(pair.client_close_immediate);
  REQUIRE_THROWS_AS(pair.client.data_from_wire("x"), InvalidatedError);
  REQUIRE_THROWS_AS(pair.client.data_from_application("x"), InvalidatedError);
}

TEST_CASE("alert levels are checked against the specification", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.pump();
  REQUIRE_THROWS_MATCHES(pair.client.send_alert(Alert::handshake_failure, AlertLevel::warning), InvalidAlertLevel,
                         Catch::Matchers::Message("level: handshake_failure must be sent as fatal, not warning"));
  REQUIRE_THROWS_MATCHES(
      pair.client.send_alert(Alert::bad_certificate), InvalidAlertLevel,
      Catch::Matchers::Message(
          "level: bad_certificate has no prescribed level; pass AlertLevel::warning or AlertLevel::fatal"));
  REQUIRE_THROWS_AS(pair.client.send_alert(Alert::close_notify, AlertLevel::fatal), InvalidAlertLevel);
  CHECK_FALSE(pair.client.is_invalidated());  // refused alerts change nothing
}

TEST_CASE("garbage is BadTLSDataError after an alert, then InvalidatedError", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  pair.pump();
  REQUIRE_THROWS_AS(pair.server.data_from_wire(std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'g')),
                    BadTLSDataError);
  CHECK_FALSE(pair.to_client.empty());  // the alert
  CHECK(pair.server_close_immediate);
  REQUIRE_THROWS_AS(pair.server.data_from_wire("more"), InvalidatedError);
  try {
    (void)pair.server.data_from_application("x");
  } catch (const InvalidatedError& e) {
    REQUIRE(e.cause());
    REQUIRE_THROWS_AS(std::rethrow_exception(e.cause()), BadTLSDataError);
  }
  REQUIRE_THROWS_AS(pair.client.data_from_wire(std::exchange(pair.to_client, {})), TLSAlertError);
}

TEST_CASE("a client hello that is not TLS", "[sansio]") {
  auto server_tls = make_server();
  std::string out;
  Connection server = server_tls->start([&](std::string_view b) { out.append(b); });
  REQUIRE_THROWS_MATCHES(server.data_from_wire("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), BadTLSDataError,
                         Catch::Matchers::Message("TLS protocol error - client sent an HTTP request"));
}

TEST_CASE("verify callbacks run after the library's checks; throwing invalidates", "[sansio]") {
  ClientTLS client_tls("localhost", trusting_session());
  auto server_tls = make_server();
  std::vector<std::string> seen;
  SECTION("accepting") {
    Pair pair(client_tls, *server_tls, [&](const std::vector<Certificate>& chain, const Connection& c) {
      for (const auto& cert : chain) seen.push_back(cert.subject());
      CHECK_FALSE(c.is_server());
    });
    pair.pump();
    CHECK(pair.client.is_handshake_complete());
    CHECK(seen == std::vector<std::string>{"CN=localhost", "CN=tlsock Test Intermediate CA"});
  }
  SECTION("refusing") {
    Pair pair(client_tls, *server_tls, [&](const std::vector<Certificate>&, const Connection&) {
      throw std::runtime_error("pinned key mismatch");
    });
    REQUIRE_THROWS_MATCHES(pair.pump(), std::runtime_error, Catch::Matchers::Message("pinned key mismatch"));
    REQUIRE_THROWS_AS(pair.client.data_from_application("x"), InvalidatedError);
  }
}

TEST_CASE("one VerifyCallback family: the session's (chain) runs first, then the connection's (chain, Connection&)",
          "[sansio]") {
  std::vector<std::string> order;
  TLSSession::Options options;
  options.extra_trust_roots = {certs("root-ca.pem")};
  // A VerifyCallback is the chain-only callback, for sockets and connections alike.
  VerifyCallback session_check = [&](const std::vector<Certificate>& chain) {
    order.push_back("session " + chain.front().subject());
  };
  options.verify_callback = session_check;
  ClientTLS client_tls("localhost", std::make_shared<TLSSession>(options));
  auto server_tls = make_server();
  // Both shapes of the connection's callback still fit: Connection& and const Connection&.
  ConnectionVerifyCallback mutable_view = [&](const std::vector<Certificate>& chain, Connection& c) {
    order.push_back("connection " + std::to_string(chain.size()) + (c.is_server() ? " server" : " client"));
  };
  SECTION("Connection&") {
    Pair pair(client_tls, *server_tls, mutable_view);
    pair.pump();
    CHECK(pair.client.is_handshake_complete());
  }
  SECTION("const Connection&") {
    Pair pair(client_tls, *server_tls, [&](const std::vector<Certificate>& chain, const Connection& c) {
      order.push_back("connection " + std::to_string(chain.size()) + (c.is_server() ? " server" : " client"));
    });
    pair.pump();
    CHECK(pair.client.is_handshake_complete());
  }
  CHECK(order == std::vector<std::string>{"session CN=localhost", "connection 2 client"});
}

TEST_CASE("verification failures in memory", "[sansio]") {
  ClientTLS client_tls("wrong.example", trusting_session());
  auto server_tls = make_server();
  Pair pair(client_tls, *server_tls);
  REQUIRE_THROWS_MATCHES(
      pair.pump(), TLSVerificationError,
      Catch::Matchers::Message("Server certificate verification failed - domain name wrong.example does not match "
                               "valid domains: localhost or valid IP addresses: 127.0.0.1, ::1"));
}

TEST_CASE("sans-IO arguments are validated", "[sansio]") {
  REQUIRE_THROWS_WITH(ClientTLS(""), "server_hostname: must not be empty");
  ClientTLS client_tls("localhost", trusting_session());
  REQUIRE_THROWS_WITH(client_tls.start(nullptr), "write_to_wire: must be callable");
  REQUIRE_THROWS_WITH(ServerTLS(nullptr), "certificates: must not be null");
}
