// The server side over real sockets, against our own client, in one process on 127.0.0.1:
// protocol versions, SNI, client certificates, resumption, alerts and close_notify both ways,
// the TLSSocket API in the server role, deferred handshakes, stalled clients, key logging,
// ALPN and many clients at once.
//
// Each test starts its server (a TLSListener served by a ServerThread, or a plain listening
// socket and a std::thread) and stops and joins it before it ends. Catch2 assertions run on the
// test's thread only; server threads record what they saw in a Log. In-memory handshakes are
// in test_sansio.cpp; this file uses the sans-IO API only where a socket cannot show
// something (an alert on demand, the server's handshake messages).
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using tlsock::testing::connect_loopback;
using tlsock::testing::send_all;
using tlsock::testing::UniqueFd;
using namespace std::chrono_literals;

namespace {

const std::string graceful_end = "TLSGracefulDisconnectError: The remote end closed the connection";
const std::string abrupt_end = "TLSDisconnectError: The remote end closed the connection";

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// Deterministic bytes of every value, so a transfer that drops, repeats or reorders a chunk
// shows up.
std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string out(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t word = random();
    std::memcpy(out.data() + i, &word, 8);
  }
  return out;
}

// A server handler that answers "ok\n" and then waits for the client to end the connection,
// so the server never closes while the client's close_notify is unread (which would make the
// kernel reset the connection). Records the server-side facts in log.
ServerThread::Handler answer_ok(Log& log, std::function<std::string(TLSSocket&)> facts) {
  return [&log, facts = std::move(facts)](TLSSocket& socket) {
    log.add(facts(socket));
    socket.write("ok\n");
    (void)read_to_end(socket);
  };
}

// A sans-IO client over a real socket: for what TLSSocket does not offer (sending an alert).
struct WireClient {
  UniqueFd fd;
  Connection connection;

  WireClient(std::uint16_t port, const std::string& hostname, std::shared_ptr<TLSSession> session)
      : fd(connect_loopback(port)),
        connection(ClientTLS(hostname, std::move(session)).start([this](std::string_view bytes) {
          send_all(fd.get(), bytes);
        })) {}

  std::string plaintext;  // received and not yet taken

  // Feeds what the socket has (waiting up to timeout) to the connection.
  void receive(std::chrono::milliseconds timeout = 10s) {
    if (!tlsock::testing::wait_fd(fd.get(), POLLIN, std::chrono::steady_clock::now() + timeout))
      throw std::runtime_error("WireClient: nothing arrived within the timeout");
    char buffer[16384];
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0)
      connection.wire_eof();
    else
      plaintext += connection.data_from_wire(std::string_view(buffer, static_cast<std::size_t>(n)));
  }

  void handshake() {
    while (!connection.is_handshake_complete()) receive();
  }

  std::string read_line() {
    while (plaintext.find('\n') == std::string::npos) receive();
    std::size_t end = plaintext.find('\n') + 1;
    std::string line = plaintext.substr(0, end);
    plaintext.erase(0, end);
    return line;
  }
};

// The handshake message types in TLS 1.2 handshake records (plaintext until ChangeCipherSpec).
std::vector<int> handshake_types(std::string_view wire) {
  std::string messages;
  while (wire.size() >= 5) {
    auto type = static_cast<unsigned char>(wire[0]);
    std::size_t length = (std::size_t{static_cast<unsigned char>(wire[3])} << 8) | static_cast<unsigned char>(wire[4]);
    if (wire.size() < 5 + length) break;
    if (type == 20) break;  // ChangeCipherSpec: what follows is encrypted
    if (type == 22) messages.append(wire.substr(5, length));
    wire.remove_prefix(5 + length);
  }
  std::vector<int> types;
  std::string_view rest = messages;
  while (rest.size() >= 4) {
    std::size_t length = (std::size_t{static_cast<unsigned char>(rest[1])} << 16) |
                         (std::size_t{static_cast<unsigned char>(rest[2])} << 8) | static_cast<unsigned char>(rest[3]);
    types.push_back(static_cast<unsigned char>(rest[0]));
    if (rest.size() < 4 + length) break;
    rest.remove_prefix(4 + length);
  }
  return types;
}

// The handshake messages our server sends in its first flight to a TLS 1.2 client (in memory).
std::vector<int> server_first_flight(ServerOptions options) {
  auto server = make_server(std::move(options));
  std::string to_server, to_client;
  Connection client =
      ClientTLS("localhost", tls12_session()).start([&](std::string_view bytes) { to_server.append(bytes); });
  Connection peer = server->start([&](std::string_view bytes) { to_client.append(bytes); });
  (void)peer.data_from_wire(to_server);
  return handshake_types(to_client);
}

constexpr int certificate_request = 13;

}  // namespace

// --- 1. Protocol versions ---------------------------------------------------------------

TEST_CASE("server and client pinned to the same version agree on it", "[server][protocols]") {
  for (Protocol protocol : supported_protocols()) {
    INFO("protocol " << to_string(protocol));
    ServerOptions options;
    options.protocols = {protocol};
    Log log;
    ServerThread server(make_server(options), answer_ok(log, [](TLSSocket& s) { return std::string(s.protocol()); }));
    TLSSession::Options client_options = trusted_options();
    client_options.protocols = {protocol};
    {
      TLSSocket client = connect_tls(server.port(), "localhost", trusted_session(client_options));
      CHECK(client.protocol() == to_string(protocol));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{std::string(to_string(protocol))});
    CHECK(server.errors().lines().empty());
    CHECK(server.handshake_errors().lines().empty());
  }
}

TEST_CASE("mismatched version pins fail on both ends with protocol version error", "[server][protocols]") {
  ProtocolSet protocols = supported_protocols();
  for (Protocol server_protocol : protocols) {
    for (Protocol client_protocol : protocols) {
      if (server_protocol == client_protocol) continue;
      INFO("server " << to_string(server_protocol) << ", client " << to_string(client_protocol));
      ServerOptions options;
      options.protocols = {server_protocol};
      ServerThread server(make_server(options), [](TLSSocket&) {});
      TLSSession::Options client_options = trusted_options();
      client_options.protocols = {client_protocol};
      std::string client_error =
          error_of([&] { (void)connect_tls(server.port(), "localhost", trusted_session(client_options)); });
      // Whoever detects the mismatch sends protocol_version; the other side receives that alert.
      // The server refuses the ClientHello when the client is older, or offers TLS 1.3 only:
      // that ClientHello (supported_versions, TLS 1.3 suites only) leaves an older server
      // nothing to answer with.
      bool server_refuses = client_protocol < server_protocol || client_protocol == Protocol::TLSv1_3;
      if (server_refuses) {
        // The server refuses the ClientHello.
        CHECK(client_error == "TLSAlertError: TLS handshake failed - protocol version error [protocol_version, fatal]");
      } else {
        // The server answers with its (older) version; the client refuses it.
        CHECK(client_error == "TLSError: TLS handshake failed - protocol version error");
      }
      REQUIRE(server.handshake_errors().wait_for(1));
      server.stop();
      if (server_refuses)
        CHECK(server.handshake_errors().lines() ==
              std::vector<std::string>{"TLSError: TLS handshake failed - protocol version error"});
      else
        CHECK(server.handshake_errors().lines() ==
              std::vector<std::string>{
                  "TLSAlertError: TLS handshake failed - protocol version error [protocol_version, fatal]"});
      CHECK(server.accepted() == 0);
    }
  }
}

// --- 2. SNI -----------------------------------------------------------------------------

TEST_CASE("SNI selects the chain: exact name, wildcard, default", "[server][sni]") {
  auto certificates = std::make_shared<SNIServerCertificates>(
      std::vector<CertificateChain>{pki_chain("localhost"), pki_chain("wildcard")}, pki_chain("localhost-ecdsa"));
  auto server_tls = std::make_shared<ServerTLS>(certificates);
  Log log;
  ServerThread server(server_tls, answer_ok(log, [](TLSSocket& s) { return "sni=" + std::string(s.server_name()); }));
  auto rsa_localhost = Certificate::load(cert_path("localhost.pem")).at(0);
  auto ecdsa_localhost = Certificate::load(cert_path("localhost-ecdsa.pem")).at(0);
  auto wildcard = Certificate::load(cert_path("wildcard.pem")).at(0);
  TLSSession::Options unverified = trusted_options();
  unverified.manual_validation = true;

  SECTION("a name with its own chain") {
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
    CHECK(client.certificate() == rsa_localhost);
    CHECK(client.certificate().key_algorithm() == "rsa");
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"sni=localhost"});
  }
  SECTION("a name matched by a wildcard chain") {
    TLSSocket client = connect_tls(server.port(), "a.example.test", trusted_session());
    CHECK(client.certificate() == wildcard);
    CHECK(client.intermediates().size() == 1);
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"sni=a.example.test"});
  }
  SECTION("an unknown name gets the default chain, which does not verify for it") {
    try {
      (void)connect_tls(server.port(), "other.example", trusted_session());
      FAIL("the handshake succeeded");
    } catch (const TLSVerificationError& e) {
      CHECK(std::string(e.what()) ==
            "Server certificate verification failed - domain name other.example does not match valid domains: "
            "localhost or valid IP addresses: 127.0.0.1, ::1");
      REQUIRE(e.certificate().has_value());
      CHECK(*e.certificate() == ecdsa_localhost);
    }
    REQUIRE(server.handshake_errors().wait_for(1));
    CHECK(server.handshake_errors().lines() ==
          std::vector<std::string>{"TLSAlertError: TLS handshake failed - received fatal alert bad_certificate (42) "
                                   "[bad_certificate, fatal]"});
    // Without verification the same name connects and shows what was served.
    TLSSocket client = connect_tls(server.port(), "other.example", trusted_session(unverified));
    CHECK(client.certificate() == ecdsa_localhost);
    CHECK(client.certificate().key_algorithm() == "ec");
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"sni=other.example"});
  }
  SECTION("an IP address sends no SNI and gets the default chain") {
    TLSSocket client = connect_tls(server.port(), "127.0.0.1", trusted_session());
    CHECK(client.certificate() == ecdsa_localhost);
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"sni="});
  }
  server.stop();
  CHECK(server.errors().lines().empty());
}

TEST_CASE("SNI without a default chain refuses names it has no chain for", "[server][sni]") {
  auto certificates = std::make_shared<SNIServerCertificates>(
      std::vector<CertificateChain>{pki_chain("localhost"), pki_chain("wildcard")});
  Log log;
  ServerThread server(std::make_shared<ServerTLS>(certificates),
                      answer_ok(log, [](TLSSocket& s) { return "sni=" + std::string(s.server_name()); }));
  // select() gives nullptr: mbedTLS answers an unknown name with unrecognized_name...
  CHECK(error_of([&] { (void)connect_tls(server.port(), "other.example", trusted_session()); }) ==
        "TLSAlertError: TLS handshake failed - received fatal alert unrecognized_name (112) "
        "[unrecognized_name, fatal]");
  REQUIRE(server.handshake_errors().wait_for(1));
  // ... and a client without SNI finds no certificate at all, so no suite can be agreed on.
  CHECK(error_of([&] { (void)connect_tls(server.port(), "127.0.0.1", trusted_session()); }) ==
        "TLSAlertError: TLS handshake failed - received fatal alert handshake_failure (40) "
        "[handshake_failure, fatal]");
  REQUIRE(server.handshake_errors().wait_for(2));
  {
    TLSSocket client = connect_tls(server.port(), "b.example.test", trusted_session());
    CHECK(client.certificate().subject() == "CN=*.example.test");
    CHECK(client.read_line() == "ok\n");
  }
  server.stop();
  CHECK(server.handshake_errors().lines() ==
        std::vector<std::string>{"TLSError: TLS handshake failed", "TLSError: TLS handshake failed"});
  CHECK(log.lines() == std::vector<std::string>{"sni=b.example.test"});
}

// --- 3. Client authentication -----------------------------------------------------------

namespace {

ServerOptions client_auth(ClientAuth mode) {
  ServerOptions options;
  options.client_auth = mode;
  options.client_trust_roots = {cert_path("root-ca.pem")};
  return options;
}

std::shared_ptr<TLSSession> client_with(std::optional<CertificateChain> chain,
                                        ProtocolSet protocols = default_protocols()) {
  TLSSession::Options options = trusted_options();
  options.client_certificate = std::move(chain);
  options.protocols = std::move(protocols);
  return trusted_session(std::move(options));
}

// The versions a client-authentication failure is checked at: it shows at different points
// of the client's handshake in TLS 1.2 and TLS 1.3.
std::vector<Protocol> client_auth_versions() {
  std::vector<Protocol> out{Protocol::TLSv1_2};
  if (supported_protocols().contains(Protocol::TLSv1_3)) out.push_back(Protocol::TLSv1_3);
  return out;
}

// What the server learnt about the client: its certificate's subject, or the error.
std::string client_identity(TLSSocket& socket) {
  try {
    return "subject=" + socket.certificate().subject() +
           " intermediates=" + std::to_string(socket.intermediates().size());
  } catch (const std::exception& e) {
    return describe(e);
  }
}

}  // namespace

TEST_CASE("client certificates: required, optional, none", "[server][client-auth]") {
  CertificateChain client_chain = pki_chain("client");
  Log log;

  SECTION("required, with a certificate") {
    ServerThread server(make_server(client_auth(ClientAuth::required)), answer_ok(log, client_identity));
    {
      TLSSocket client = connect_tls(server.port(), "localhost", client_with(client_chain));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"subject=CN=tlsock Test Client intermediates=1"});
    CHECK(server.handshake_errors().lines().empty());
  }
  SECTION("required, without a certificate") {
    for (Protocol protocol : client_auth_versions()) {
      INFO("protocol " << to_string(protocol));
      ServerThread server(make_server(client_auth(ClientAuth::required)), answer_ok(log, client_identity));
      std::string client_error;
      // The error is also a ClientAuthRequest: the CA names of the server's CertificateRequest.
      const ClientAuthRequest* request = nullptr;
      std::optional<std::vector<std::string>> ca_names;
      auto names_of = [&](const TLSError& error) {
        request = client_auth_request(error);
        if (request != nullptr) ca_names = request->acceptable_ca_names();
      };
      if (protocol == Protocol::TLSv1_2) {
        // RFC 5246 7.4.6: the server refuses the client's flight with handshake_failure.
        client_error = error_of([&] {
          try {
            (void)connect_tls(server.port(), "localhost", client_with(std::nullopt, {protocol}));
          } catch (const TLSError& error) {
            names_of(error);
            throw;
          }
        });
      } else {
        // TLS 1.3: the client's handshake is done before the server has seen its (empty)
        // Certificate; RFC 8446 4.4.2.4: the server refuses it with certificate_required, which
        // the client reads after the handshake.
        client_error = error_of([&] {
          TLSSocket client = connect_tls(server.port(), "localhost", client_with(std::nullopt, {protocol}));
          CHECK(client.protocol() == "TLSv1.3");
          try {
            (void)client.read_line();
          } catch (const TLSError& error) {
            names_of(error);
            throw;
          }
        });
      }
      CHECK(client_error ==
            "TLSAlertError: TLS handshake failed - client authentication required [" +
                std::string(protocol == Protocol::TLSv1_2 ? "handshake_failure" : "certificate_required") + ", fatal]");
      CHECK(request != nullptr);
      if (protocol == Protocol::TLSv1_2)  // the client trust root's subject, as the server named it
        CHECK(ca_names == std::vector<std::string>{Certificate::load(cert_path("root-ca.pem")).at(0).subject()});
      else  // TLS 1.3 encrypts the CertificateRequest
        CHECK(ca_names == std::nullopt);
      REQUIRE(server.handshake_errors().wait_for(1));
      server.stop();
      CHECK(server.handshake_errors().lines() ==
            std::vector<std::string>{"TLSError: TLS handshake failed - client authentication required"});
      CHECK(server.accepted() == 0);
    }
  }
  SECTION("optional, without a certificate") {
    ServerThread server(make_server(client_auth(ClientAuth::optional)), answer_ok(log, client_identity));
    {
      TLSSocket client = connect_tls(server.port(), "localhost", client_with(std::nullopt));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"TLSError: the client sent no certificate"});
  }
  SECTION("optional, with a certificate") {
    ServerThread server(make_server(client_auth(ClientAuth::optional)), answer_ok(log, client_identity));
    {
      TLSSocket client = connect_tls(server.port(), "localhost", client_with(client_chain));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"subject=CN=tlsock Test Client intermediates=1"});
  }
  SECTION("none: a client with a certificate is not asked for it") {
    ServerThread server(make_server(client_auth(ClientAuth::none)), answer_ok(log, client_identity));
    {
      TLSSocket client = connect_tls(server.port(), "localhost", client_with(client_chain));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"TLSError: the client sent no certificate"});
  }
  SECTION("none does not need trust roots") {
    ServerOptions options;
    options.client_auth = ClientAuth::none;
    ServerThread server(make_server(options), answer_ok(log, client_identity));
    {
      TLSSocket client = connect_tls(server.port(), "localhost", client_with(client_chain));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"TLSError: the client sent no certificate"});
  }
}

TEST_CASE("the server sends CertificateRequest only when it wants a certificate", "[server][client-auth]") {
  std::vector<int> none = server_first_flight(client_auth(ClientAuth::none));
  std::vector<int> optional = server_first_flight(client_auth(ClientAuth::optional));
  std::vector<int> required = server_first_flight(client_auth(ClientAuth::required));
  // ServerHello (2), Certificate (11), ServerKeyExchange (12), [CertificateRequest (13)], ServerHelloDone (14)
  CHECK(none == std::vector<int>{2, 11, 12, 14});
  CHECK(optional == std::vector<int>{2, 11, 12, certificate_request, 14});
  CHECK(required == std::vector<int>{2, 11, 12, certificate_request, 14});
}

TEST_CASE("client authentication needs client trust roots", "[server][client-auth]") {
  ServerOptions options;
  options.client_auth = ClientAuth::required;
  CHECK(error_of([&] { (void)make_server(options); }) ==
        "std::invalid_argument: client_trust_roots: client authentication needs at least one trust root");
}

TEST_CASE("a client certificate from an untrusted root is refused", "[server][client-auth]") {
  std::string openssl = tlsock::testing::find_program("openssl");
  if (openssl.empty()) TLSOCK_SKIP("openssl is not installed (needed to make the client certificate)");
  TempDir dir;
  // A client certificate issued by untrusted-root-ca, with the usages of client.pem.
  std::filesystem::path key = dir.path() / "rogue.key", csr = dir.path() / "rogue.csr", pem = dir.path() / "rogue.pem",
                        ext = dir.path() / "ext.cnf";
  {
    std::ofstream out(ext);
    out << "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
           "extendedKeyUsage = clientAuth\n";
  }
  auto run = [](std::vector<std::string> argv) {
    auto result = tlsock::testing::run_program(std::move(argv), 30s);
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
  };
  run({openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key.string(), "-out", csr.string(), "-subj",
       "/CN=tlsock Rogue Client"});
  run({openssl, "x509", "-req", "-in", csr.string(), "-CA", cert_path("untrusted-root-ca.pem").string(), "-CAkey",
       cert_path("untrusted-root-ca.key").string(), "-set_serial", "4242", "-days", "30", "-sha256", "-extfile",
       ext.string(), "-out", pem.string()});
  CertificateChain rogue = CertificateChain::load(pem, key);
  const std::string refused =
      "TLSVerificationError: Client certificate verification failed - certificate issuer not found in trusted root "
      "certificate store";
  Log log;

  SECTION("optional") {
    for (Protocol protocol : client_auth_versions()) {
      INFO("protocol " << to_string(protocol));
      ServerThread server(make_server(client_auth(ClientAuth::optional)), answer_ok(log, client_identity));
      // The server refuses an optional certificate once its own handshake is done, after it
      // sent its Finished; the client's handshake ends with that Finished in both versions, so
      // the refusal (a bad_certificate alert) ends the connection at the client's first read.
      std::string client_error = error_of([&] {
        TLSSocket client = connect_tls(server.port(), "localhost", client_with(rogue, {protocol}));
        (void)client.read_line();
      });
      CHECK(
          client_error ==
          "TLSAlertError: TLS connection failed - received fatal alert bad_certificate (42) [bad_certificate, fatal]");
      REQUIRE(server.handshake_errors().wait_for(1));
      server.stop();
      CHECK(server.handshake_errors().lines() == std::vector<std::string>{refused});
      CHECK(server.accepted() == 0);
      CHECK(log.lines().empty());
    }
  }
  SECTION("required") {
    for (Protocol protocol : client_auth_versions()) {
      INFO("protocol " << to_string(protocol));
      ServerThread server(make_server(client_auth(ClientAuth::required)), answer_ok(log, client_identity));
      if (protocol == Protocol::TLSv1_2) {
        CHECK(error_of([&] { (void)connect_tls(server.port(), "localhost", client_with(rogue, {protocol})); }) ==
              "TLSAlertError: TLS handshake failed - received fatal alert unknown_ca (48) [unknown_ca, fatal]");
      } else {
        // TLS 1.3: the server's refusal arrives after the client's handshake.
        CHECK(error_of([&] {
                TLSSocket client = connect_tls(server.port(), "localhost", client_with(rogue, {protocol}));
                (void)client.read_line();
              }) == "TLSAlertError: TLS connection failed - received fatal alert unknown_ca (48) [unknown_ca, fatal]");
      }
      REQUIRE(server.handshake_errors().wait_for(1));
      server.stop();
      CHECK(server.handshake_errors().lines() == std::vector<std::string>{refused});
      CHECK(server.accepted() == 0);
    }
  }
}

// --- 4. Resumption ----------------------------------------------------------------------

namespace {

std::string reuse_facts(TLSSocket& socket) {
  return "id=" + reuse_of(socket.session_id()) + " ticket=" + reuse_of(socket.session_ticket());
}

}  // namespace

TEST_CASE("resumption is reported on both ends", "[server][resumption]") {
  Log log;
  // Session IDs and TLS 1.2 tickets are TLS 1.2 mechanisms.
  auto session = tls12_session();
  std::vector<std::string> client_facts;

  SECTION("by ticket") {
    ServerThread server(make_server(), answer_ok(log, reuse_facts));
    for (int i = 0; i < 2; ++i) {
      TLSSocket client = connect_tls(server.port(), "localhost", session);
      client_facts.push_back(reuse_facts(client));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    // mbedTLS's server sends an empty session ID when it issues a ticket (RFC 5077 allows it),
    // so there is no session ID to reuse: none on both ends, both times.
    std::vector<std::string> expected{"id=none ticket=new", "id=none ticket=reused"};
    CHECK(client_facts == expected);
    CHECK(log.lines() == expected);
  }
  SECTION("by session ID when tickets are off") {
    ServerOptions options;
    options.session_tickets = false;
    ServerThread server(make_server(options), answer_ok(log, reuse_facts));
    for (int i = 0; i < 2; ++i) {
      TLSSocket client = connect_tls(server.port(), "localhost", session);
      client_facts.push_back(reuse_facts(client));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    std::vector<std::string> expected{"id=new ticket=none", "id=reused ticket=none"};
    CHECK(client_facts == expected);
    CHECK(log.lines() == expected);
  }
  SECTION("not at all when the server keeps nothing") {
    ServerOptions options;
    options.session_tickets = false;
    options.session_cache = false;
    ServerThread server(make_server(options), answer_ok(log, reuse_facts));
    for (int i = 0; i < 2; ++i) {
      TLSSocket client = connect_tls(server.port(), "localhost", session);
      client_facts.push_back(reuse_facts(client));
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    std::vector<std::string> expected{"id=new ticket=none", "id=new ticket=none"};
    CHECK(client_facts == expected);
    CHECK(log.lines() == expected);
  }
}

// --- 5. close_notify and alerts both ways -----------------------------------------------

TEST_CASE("close_notify both ways: data first, then a graceful end", "[server][close]") {
  Log log;

  SECTION("the client closes") {
    ServerThread server(make_server(), [&](TLSSocket& socket) {
      std::string data;
      std::string end = read_to_end(socket, &data);
      log.add(data);
      log.add(end);
    });
    {
      TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
      client.write("last words\n");
      client.close();
      CHECK(error_of([&] { (void)client.read(1); }) == "TLSDisconnectError: The connection was already closed");
    }
    REQUIRE(log.wait_for(2));
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"last words\n", graceful_end});
  }
  SECTION("the server closes") {
    ServerThread server(make_server(), [&](TLSSocket& socket) {
      socket.write("server's last words\n");
      socket.close();
      log.add(error_of([&] { socket.write("more"); }));
    });
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
    std::string data;
    CHECK(read_to_end(client, &data) == graceful_end);
    CHECK(data == "server's last words\n");
    // After the peer's close_notify the error stays: every later read says the same.
    CHECK(error_of([&] { (void)client.read(1); }) == graceful_end);
    client.close();
    REQUIRE(log.wait_for(1));
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"TLSDisconnectError: The connection was already closed"});
  }
}

TEST_CASE("a TCP close without close_notify is truncation, both ways", "[server][close]") {
  Log log;

  SECTION("the client's") {
    ServerThread server(make_server(), [&](TLSSocket& socket) {
      std::string data;
      std::string end = read_to_end(socket, &data);
      log.add(data);
      log.add(end);
    });
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
    client.write("cut short\n");
    REQUIRE(::shutdown(client.socket(), SHUT_RDWR) == 0);  // FIN, no close_notify
    REQUIRE(log.wait_for(2));
    server.stop();
    CHECK(log.lines() == std::vector<std::string>{"cut short\n", abrupt_end});
  }
  SECTION("the server's") {
    ServerThread server(make_server(), [&](TLSSocket& socket) {
      socket.write("cut short\n");
      if (::shutdown(socket.socket(), SHUT_WR) != 0) log.add("shutdown failed");
      // Keep the socket until the client has seen the end.
      log.add(read_to_end(socket));
    });
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
    std::string data;
    CHECK(read_to_end(client, &data) == abrupt_end);
    CHECK(data == "cut short\n");
    client.close();
    REQUIRE(log.wait_for(1));
    server.stop();
    // Truncation is a fatal error, after which the client says no close_notify: the server
    // sees a TCP close without one too.
    CHECK(log.lines() == std::vector<std::string>{abrupt_end});
  }
}

TEST_CASE("alerts both ways over sockets", "[server][alerts]") {
  SECTION("a client's fatal alert reaches the server's read") {
    Log log;
    ServerThread server(make_server(), [&](TLSSocket& socket) {
      socket.write("ready\n");
      log.add(error_of([&] { (void)socket.read_line(); }));
    });
    WireClient client(server.port(), "localhost", trusted_session());
    client.handshake();
    CHECK(client.read_line() == "ready\n");
    client.connection.send_alert(Alert::access_denied);
    CHECK(client.connection.is_invalidated());
    REQUIRE(log.wait_for(1));
    server.stop();
    CHECK(log.lines() ==
          std::vector<std::string>{"TLSAlertError: TLS connection failed - received fatal alert access_denied (49) "
                                   "[access_denied, fatal]"});
  }
  SECTION("a server's fatal alert reaches the client's read") {
    PlainListener listener;
    auto server_tls = make_server();
    Log log;
    std::thread server([&] {
      try {
        UniqueFd fd = listener.accept();
        Connection connection = server_tls->start([&](std::string_view bytes) { send_all(fd.get(), bytes); });
        char buffer[16384];
        std::string received;
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (received.find('\n') == std::string::npos) {
          if (!tlsock::testing::wait_fd(fd.get(), POLLIN, deadline)) throw std::runtime_error("server: timed out");
          ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
          if (n <= 0) throw std::runtime_error("server: the client left");
          received += connection.data_from_wire(std::string_view(buffer, static_cast<std::size_t>(n)));
        }
        log.add(received);
        connection.send_alert(Alert::internal_error);
        // Keep the connection until the client closes it, so the alert is not lost to a reset.
        log.add(tlsock::testing::read_until_eof(fd.get(), 10s).empty() ? "client closed" : "client sent more");
      } catch (const std::exception& e) {
        log.add(describe(e));
      }
    });
    std::string client_error;
    {
      TLSSocket client = connect_tls(listener.port(), "localhost", trusted_session());
      client.write("please fail\n");
      client_error = error_of([&] { (void)client.read_line(); });
      // The error is sticky.
      CHECK(error_of([&] { (void)client.read(1); }) == client_error);
    }
    server.join();
    CHECK(client_error ==
          "TLSAlertError: TLS connection failed - received fatal alert internal_error (80) [internal_error, fatal]");
    CHECK(log.lines() == std::vector<std::string>{"please fail\n", "client closed"});
  }
}

// --- 6. The TLSSocket API in the server role --------------------------------------------

TEST_CASE("the whole TLSSocket API works on the server side", "[server][io]") {
  constexpr std::size_t large = 8 * 1024 * 1024;
  const std::string upload = random_bytes(large, 1);
  const std::string download = random_bytes(large, 2);
  Log log;
  ServerThread server(make_server(), [&](TLSSocket& socket) {
    log.add(socket.is_server() ? "server" : "client");
    log.add(socket.session() ? "session" : "no session");
    // The client waits for "go" before it sends anything: nothing can be readable yet.
    log.add(socket.select_read(0s) ? "readable" : "not readable");
    log.add(socket.select_write(5s) ? "writable" : "not writable");
    socket.write("go\n");
    log.add(socket.select_read(10s) ? "readable" : "not readable");
    log.add(socket.read_line());
    log.add(socket.read_line());
    log.add(socket.read_line());
    log.add(socket.read_until("\r\n\r\n"));
    log.add(read_until(socket, std::regex("END|STOP")));
    log.add(socket.read_exactly(5));
    std::string received = socket.read_exactly(large);
    log.add(received == upload ? "upload intact" : "upload differs");
    socket.write(download);
    socket.write("bye\r\n");
    log.add(read_to_end(socket));
  });

  TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
  CHECK(client.read_line() == "go\n");
  client.write("line one\r\nsecond\rthird\nHEADER: x\r\n\r\nbody;END12345");
  client.write(upload);
  CHECK(client.read_exactly(large) == download);
  CHECK(client.read_until("\r\n") == "bye\r\n");
  client.close();
  REQUIRE(log.wait_for(13));
  server.stop();
  CHECK(log.lines() == std::vector<std::string>{"server", "no session", "not readable", "writable", "readable",
                                                "line one\r\n", "second\r", "third\n", "HEADER: x\r\n\r\n", "body;END",
                                                "12345", "upload intact", graceful_end});
  CHECK(server.errors().lines().empty());
}

// --- 7. Deferred handshakes -------------------------------------------------------------

TEST_CASE("wrap_server on an accepted socket: explicit and implicit handshakes", "[server][wrap]") {
  PlainListener listener;
  auto server_tls = make_server();
  Log log;
  std::function<void(TLSSocket&)> serve;
  std::vector<std::string> expected;

  SECTION("do_handshake()") {
    serve = [&](TLSSocket& socket) {
      log.add(socket.cipher_suite().empty() ? "no suite yet" : "suite before the handshake");
      socket.do_handshake();
      log.add(std::string(socket.protocol()));
      socket.do_handshake();  // a no-op once done
      log.add(socket.read_line());
      socket.write("pong\n");
    };
    expected = {"server", "no suite yet", default_protocol(), "ping\n", graceful_end};
  }
  SECTION("the first read") {
    serve = [&](TLSSocket& socket) {
      log.add(socket.read_line());
      log.add(std::string(socket.protocol()));
      socket.write("pong\n");
    };
    expected = {"server", "ping\n", default_protocol(), graceful_end};
  }

  std::thread server([&] {
    try {
      UniqueFd fd = listener.accept();
      TLSSocket socket = TLSSocket::wrap_server(fd.release(), server_tls, /*do_handshake=*/false);
      log.add(socket.is_server() ? "server" : "client");
      serve(socket);
      log.add(read_to_end(socket));
    } catch (const std::exception& e) {
      log.add(describe(e));
    }
  });
  {
    TLSSocket client = connect_tls(listener.port(), "localhost", trusted_session());
    client.write("ping\n");
    CHECK(client.read_line() == "pong\n");
  }
  server.join();
  CHECK(log.lines() == expected);
}

// The server's write comes first here, so that write must drive the handshake, reading the
// ClientHello. Should it fail to (spinning without reading, or blocking), the server would never
// return, so it runs in a forked child that the test kills after a bound; the fork happens while
// this process has no other thread (every earlier test joined its threads).
TEST_CASE("wrap_server: the first write does the handshake", "[server][wrap]") {
  PlainListener listener;
  auto server_tls = make_server();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int code = 1;
    try {
      UniqueFd fd = listener.accept();
      TLSSocket socket = TLSSocket::wrap_server(fd.release(), server_tls, /*do_handshake=*/false, 5s);
      socket.write("first\n");
      code = socket.read_line() == "thanks\n" && read_to_end(socket) == graceful_end ? 0 : 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  std::string line;
  std::string client_error = error_of([&] {
    TLSSocket client = connect_tls(listener.port(), "localhost", trusted_session(), 5s);
    line = client.read_line();
    client.write("thanks\n");
  });
  // Reap the child: at once if it finished, else after 10 s, killed.
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(child, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  bool killed = false;
  if (reaped == 0) {
    ::kill(child, SIGKILL);
    (void)::waitpid(child, &status, 0);
    killed = true;
  }
  CHECK(client_error == "no exception");
  CHECK(line == "first\n");
  CHECK_FALSE(killed);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("wrap_server with the handshake done at once", "[server][wrap]") {
  PlainListener listener;
  auto server_tls = make_server();
  Log log;
  std::thread server([&] {
    try {
      UniqueFd fd = listener.accept();
      TLSSocket socket = TLSSocket::wrap_server(fd.release(), server_tls);
      log.add(std::string(socket.protocol()) + " " + std::string(socket.server_name()));
      socket.write("hello\n");
      log.add(read_to_end(socket));
    } catch (const std::exception& e) {
      log.add(describe(e));
    }
  });
  {
    TLSSocket client = connect_tls(listener.port(), "localhost", trusted_session());
    CHECK(client.read_line() == "hello\n");
  }
  server.join();
  CHECK(log.lines() == std::vector<std::string>{default_protocol() + " localhost", graceful_end});
}

// --- 8. Stalled clients -----------------------------------------------------------------

TEST_CASE("a client that sends nothing does not hold up the others", "[server][stall]") {
  Log log;
  auto served = [&](TLSSocket& socket) {
    log.add("served " + std::string(socket.server_name()));
    socket.write("hi\n");
    (void)read_to_end(socket);
  };

  SECTION("another client is served while it waits") {
    ServerOptions options;
    options.handshake_timeout = 60s;  // longer than this test: the stalled one stays pending
    ServerThread server(make_server(options), served);
    UniqueFd stalled = connect_loopback(server.port());
    {
      TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
      CHECK(client.read_line() == "hi\n");
    }
    CHECK(log.lines() == std::vector<std::string>{"served localhost"});
    CHECK(server.handshake_errors().lines().empty());
    CHECK_FALSE(sees_eof(stalled.get(), 0ms));  // still waiting for its ClientHello
    server.stop();                              // closing the listener drops it
    CHECK(sees_eof(stalled.get()));
  }
  SECTION("it is dropped after the handshake timeout") {
    ServerOptions options;
    options.handshake_timeout = 2s;
    ServerThread server(make_server(options), served);
    UniqueFd stalled = connect_loopback(server.port());
    std::uint16_t stalled_port = local_port(stalled.get());
    {
      TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
      CHECK(client.read_line() == "hi\n");
    }
    CHECK(sees_eof(stalled.get()));
    REQUIRE(server.handshake_errors().wait_for(1));
    server.stop();
    CHECK(server.handshake_errors().lines() ==
          std::vector<std::string>{"TimeoutError: TLS handshake with 127.0.0.1:" + std::to_string(stalled_port) +
                                   " timed out: Connection timed out"});
    CHECK(log.lines() == std::vector<std::string>{"served localhost"});
  }
}

// --- 9. Key logging ---------------------------------------------------------------------

TEST_CASE("both ends write the same NSS key log line", "[server][keylog]") {
  TempDir dir;
  std::filesystem::path server_log = dir.path() / "server.keys", client_log = dir.path() / "client.keys";
  ServerOptions options;
  options.key_log_file = server_log;
  Log log;
  ServerThread server(make_server(options), answer_ok(log, [](TLSSocket&) { return std::string("served"); }));
  TLSSession::Options client_options = trusted_options();
  client_options.key_log_file = client_log;
  {
    // CLIENT_RANDOM lines carry TLS 1.2 master secrets (TLS 1.3 logs traffic secrets).
    TLSSocket client = connect_tls(server.port(), "localhost", tls12_session(client_options));
    CHECK(client.read_line() == "ok\n");
  }
  server.stop();
  const std::regex line("CLIENT_RANDOM ([0-9a-f]{64}) ([0-9a-f]{96})\n");
  std::string server_keys = read_file(server_log), client_keys = read_file(client_log);
  INFO("server: " << server_keys << "client: " << client_keys);
  CHECK(std::regex_match(server_keys, line));
  CHECK(std::regex_match(client_keys, line));
  // Same client random, same master secret: one connection seen from both ends.
  CHECK(server_keys == client_keys);
}

// --- 10. ALPN ---------------------------------------------------------------------------

TEST_CASE("ALPN: the server picks from the client's list", "[server][alpn]") {
  ServerOptions options;
  options.alpn_protocols = {"h2", "http/1.1"};
  Log log;
  ServerThread server(make_server(options),
                      answer_ok(log, [](TLSSocket& s) { return std::string(s.alpn_protocol()); }));
  SECTION("a common protocol") {
    TLSSession::Options client_options = trusted_options();
    client_options.alpn_protocols = {"http/1.1"};
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session(client_options));
    CHECK(client.alpn_protocol() == "http/1.1");
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"http/1.1"});
  }
  SECTION("the server's preference wins") {
    TLSSession::Options client_options = trusted_options();
    client_options.alpn_protocols = {"http/1.1", "h2"};
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session(client_options));
    CHECK(client.alpn_protocol() == "h2");
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{"h2"});
  }
  SECTION("a client without ALPN") {
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
    CHECK(client.alpn_protocol().empty());
    CHECK(client.read_line() == "ok\n");
    CHECK(log.lines() == std::vector<std::string>{""});
  }
  server.stop();
  CHECK(server.errors().lines().empty());
}

// --- 11. Many clients -------------------------------------------------------------------

TEST_CASE("4 threads x 20 connections against one accept loop", "[server][many]") {
  constexpr int threads = 4, per_thread = 20;
  Log served;
  ServerThread server(make_server(), [&](TLSSocket& socket) {
    std::string line = socket.read_line();
    socket.write("echo " + line);
    served.add(line);
    (void)read_to_end(socket);
  });
  auto session = trusted_session();  // shared, as TLSSession is meant to be
  Log failures;
  std::atomic<int> succeeded{0};
  std::vector<std::thread> clients;
  clients.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      // A thread stops at its first failure, so a broken server costs one timeout per thread.
      for (int i = 0; i < per_thread; ++i) {
        std::string line = "client " + std::to_string(t) + " connection " + std::to_string(i) + "\n";
        try {
          TLSSocket client = connect_tls(server.port(), "localhost", session, 5s);
          client.write(line);
          std::string answer = client.read_line();
          if (answer != "echo " + line) {
            failures.add(line + " got " += answer);
            return;
          }
          ++succeeded;
        } catch (const std::exception& e) {
          failures.add(line + " " + describe(e));
          return;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  if (failures.size() == 0) CHECK(served.wait_for(threads * per_thread));
  server.stop();
  CHECK(join(failures.lines()).empty());
  CHECK(succeeded == threads * per_thread);
  CHECK(server.accepted() == threads * per_thread);
  CHECK(server.handshake_errors().lines().empty());
  CHECK(server.errors().lines().empty());
}
