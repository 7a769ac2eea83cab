// Server certificate verification against `openssl s_server`: a good chain (RSA and ECDSA,
// by name and by IP address), every failure oscrypto names with its exact message, wildcard
// matching, manual validation, and the OS trust store alone. Every peer listens on loopback.
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

namespace ts = tlsock::testing;
using namespace std::chrono_literals;

namespace {

// Bounds every connection of this file; none needs more than a fraction of it.
constexpr auto timeout = 5s;

const std::string verification_failed = "Server certificate verification failed";

std::string cert_file(const std::string& name) { return (ts::certs_dir() / name).string(); }

// The (first) certificate of certs/<name>.pem.
tlsock::Certificate certificate_in(const std::string& name) {
  return tlsock::Certificate::load(cert_file(name + ".pem")).front();
}

// `openssl s_server -www` serving certs/<name>.pem; the intermediate CA is sent too, except
// for leaves that no intermediate issued.
std::vector<std::string> server_args(const std::string& name) {
  std::vector<std::string> args{"-cert", cert_file(name + ".pem"), "-key", cert_file(name + ".key")};
  if (name != "self-signed" && name != "untrusted")
    args.insert(args.end(), {"-cert_chain", cert_file("intermediate-ca.pem")});
  // SECLEVEL=0 lets OpenSSL 3 serve the SHA-1 signed leaf; the client decides what it accepts.
  args.insert(args.end(), {"-www", "-cipher", "DEFAULT:@SECLEVEL=0"});
  return args;
}

ts::ServerProcess serve(const std::string& name) { return ts::openssl_server(server_args(name)); }

// Like serve(), on another loopback address ("127.0.0.2", "::1"), which openssl_server() does
// not offer. Throws std::runtime_error if s_server cannot listen there.
ts::ServerProcess serve_on(const std::string& name, const std::string& address) {
  std::uint16_t port = ts::free_port();
  std::string accept = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  std::vector<std::string> argv{"openssl", "s_server", "-accept", accept + ":" + std::to_string(port), "-quiet"};
  std::vector<std::string> args = server_args(name);
  argv.insert(argv.end(), args.begin(), args.end());
  ts::ServerProcess::Options options;
  options.keep_stdin = true;
  options.ready_check = ts::ReadyCheck::listening;  // the connect probe only knows 127.0.0.1
  return ts::ServerProcess::start(std::move(argv), port, options);
}

std::shared_ptr<tlsock::TLSSession> trusting_root(bool manual_validation = false) {
  tlsock::TLSSession::Options options;
  options.extra_trust_roots = {tlsock::TrustRoot(ts::certs_dir() / "root-ca.pem")};
  options.manual_validation = manual_validation;
  return std::make_shared<tlsock::TLSSession>(std::move(options));
}

tlsock::TLSSocket connect_to(const std::string& host, std::uint16_t port,
                             std::shared_ptr<tlsock::TLSSession> session = trusting_root()) {
  return tlsock::TLSSocket(host, port, timeout, std::move(session));
}

// Adds TLS to a plain connection to 127.0.0.1:port, verifying it as `hostname`: the way to
// test names that do not resolve to loopback.
tlsock::TLSSocket wrap(std::uint16_t port, const std::string& hostname,
                       std::shared_ptr<tlsock::TLSSession> session = trusting_root()) {
  ts::UniqueFd fd = ts::connect_loopback(port);
  return tlsock::TLSSocket::wrap(fd.release(), hostname, std::move(session), timeout);
}

// Runs connect_fn, which must fail verification, and returns the error.
template <typename Function>
tlsock::TLSVerificationError verification_error(Function&& connect_fn) {
  try {
    connect_fn();
  } catch (const tlsock::TLSVerificationError& e) {
    return e;
  }
  FAIL("no TLSVerificationError was thrown");
  throw std::logic_error("unreachable");
}

// The connection to `host` fails verification with exactly `message`, naming `name`.pem.
void require_rejected(const ts::ServerProcess& server, const std::string& host, const std::string& name,
                      const std::string& message) {
  INFO("server certificate " << name << ".pem, connecting as " << host);
  REQUIRE_THROWS_MATCHES(connect_to(host, server.port()), tlsock::TLSVerificationError,
                         Catch::Matchers::Message(message));
  auto error = verification_error([&] { (void)connect_to(host, server.port()); });
  REQUIRE(error.certificate().has_value());
  CHECK(error.certificate()->subject() == certificate_in(name).subject());
  CHECK(*error.certificate() == certificate_in(name));
}

void require_good_connection(tlsock::TLSSocket& socket, const std::string& host, std::uint16_t port,
                             const std::shared_ptr<tlsock::TLSSession>& session) {
  bool tls13 = tlsock::default_protocols().contains(tlsock::Protocol::TLSv1_3);
  CHECK(socket.protocol() == (tls13 ? "TLSv1.3" : "TLSv1.2"));
  if (!tls13) CHECK(socket.cipher_suite().starts_with("TLS_ECDHE_"));
  CHECK(socket.certificate() == certificate_in("localhost"));
  CHECK(socket.certificate().subject() == "CN=localhost");
  REQUIRE(socket.intermediates().size() == 1);
  CHECK(socket.intermediates()[0].subject().find("Intermediate") != std::string::npos);
  CHECK(socket.intermediates()[0] == certificate_in("intermediate-ca"));
  CHECK(socket.hostname() == host);
  CHECK(socket.port() == port);
  CHECK_FALSE(socket.compression());
  CHECK(socket.session() == session);
  CHECK(socket.socket() >= 0);
  // The connection carries data both ways.
  socket.write("GET / HTTP/1.0\r\n\r\n");
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
}

}  // namespace

TEST_CASE("a valid chain verifies by name and by IP address", "[verification]") {
  auto server = serve("localhost");
  auto session = trusting_root();

  SECTION("localhost") {
    auto socket = connect_to("localhost", server.port(), session);
    require_good_connection(socket, "localhost", server.port(), session);
  }
  SECTION("127.0.0.1 matches an IP SAN") {
    auto socket = connect_to("127.0.0.1", server.port(), session);
    require_good_connection(socket, "127.0.0.1", server.port(), session);
  }
}

TEST_CASE("::1 matches an IPv6 SAN", "[verification]") {
  std::optional<ts::ServerProcess> server;
  try {
    server = serve_on("localhost", "::1");
  } catch (const std::runtime_error& e) {
    TLSOCK_SKIP("openssl s_server cannot listen on [::1]: " << e.what());
  }
  auto session = trusting_root();
  {
    auto socket = connect_to("::1", server->port(), session);
    require_good_connection(socket, "::1", server->port(), session);
  }  // closed first: s_server serves one connection at a time, even in -www mode
  // The bracketed form is the same address.
  auto bracketed = connect_to("[::1]", server->port(), session);
  CHECK(bracketed.hostname() == "::1");
}

TEST_CASE("an ECDSA leaf negotiates an ECDSA suite", "[verification]") {
  auto server = serve("localhost-ecdsa");
  auto socket = connect_to("localhost", server.port());
  CHECK(socket.certificate() == certificate_in("localhost-ecdsa"));
  CHECK(socket.certificate().key_algorithm() == "ec");
  if (socket.protocol() == "TLSv1.2") CHECK(socket.cipher_suite().find("_ECDSA_") != std::string::npos);
}

TEST_CASE("verification failures name the reason", "[verification]") {
  SECTION("expired") {
    auto server = serve("expired");
    require_rejected(server, "localhost", "expired",
                     verification_failed + " - certificate expired 2001-01-02 00:00:00Z");
  }
  SECTION("not yet valid") {
    auto server = serve("not-yet-valid");
    require_rejected(server, "localhost", "not-yet-valid",
                     verification_failed + " - certificate not valid until 2090-01-01 00:00:00Z");
  }
  SECTION("wrong host, by name") {
    auto server = serve("wrong-host");
    require_rejected(
        server, "localhost", "wrong-host",
        verification_failed + " - domain name localhost does not match valid domains: wrong.example, other.example");
  }
  SECTION("wrong host, by IP address") {
    auto server = serve("wrong-host");
    require_rejected(
        server, "127.0.0.1", "wrong-host",
        verification_failed + " - IP address 127.0.0.1 does not match valid domains: wrong.example, other.example");
  }
  SECTION("self-signed") {
    auto server = serve("self-signed");
    require_rejected(server, "localhost", "self-signed", verification_failed + " - certificate is self-signed");
  }
  SECTION("issued by an untrusted root") {
    auto server = serve("untrusted");
    require_rejected(server, "localhost", "untrusted",
                     verification_failed + " - certificate issuer not found in trusted root certificate store");
  }
  SECTION("SHA-1 signature") {
    auto server = serve("sha1");
    require_rejected(server, "localhost", "sha1", verification_failed + " - weak certificate signature algorithm");
  }
  SECTION("key usage not for a TLS server") {
    auto server = serve("bad-key-usage");
    require_rejected(server, "localhost", "bad-key-usage", verification_failed);
  }
}

TEST_CASE("an IP address outside the certificate's IP SANs is refused", "[verification]") {
  std::optional<ts::ServerProcess> server;
  try {
    server = serve_on("localhost", "127.0.0.2");
  } catch (const std::runtime_error& e) {
    TLSOCK_SKIP("openssl s_server cannot listen on 127.0.0.2: " << e.what());
  }
  require_rejected(*server, "127.0.0.2", "localhost",
                   verification_failed +
                       " - IP address 127.0.0.2 does not match valid domains: localhost or valid IP addresses: "
                       "127.0.0.1, ::1");
}

TEST_CASE("wildcard certificates match one label", "[verification]") {
  auto server = serve("wildcard");

  SECTION("localhost is not covered") {
    require_rejected(
        server, "localhost", "wildcard",
        verification_failed + " - domain name localhost does not match valid domains: *.example.test, example.test");
  }
  SECTION("a.example.test matches *.example.test") {
    auto socket = wrap(server.port(), "a.example.test");
    CHECK(socket.certificate() == certificate_in("wildcard"));
    CHECK(socket.hostname() == "a.example.test");
  }
  SECTION("example.test matches its own SAN") {
    auto socket = wrap(server.port(), "example.test");
    CHECK(socket.certificate() == certificate_in("wildcard"));
  }
  SECTION("A.Example.Test matches regardless of case") {
    auto socket = wrap(server.port(), "A.Example.Test");
    CHECK(socket.certificate() == certificate_in("wildcard"));
  }
  SECTION("a.b.example.test is two labels deep") {
    REQUIRE_THROWS_MATCHES(
        wrap(server.port(), "a.b.example.test"), tlsock::TLSVerificationError,
        Catch::Matchers::Message(
            verification_failed +
            " - domain name a.b.example.test does not match valid domains: *.example.test, example.test"));
  }
}

TEST_CASE("manual validation accepts certificates that fail verification", "[verification]") {
  auto session = trusting_root(/*manual_validation=*/true);
  for (const std::string name :
       {"expired", "not-yet-valid", "self-signed", "wrong-host", "untrusted", "sha1", "bad-key-usage"}) {
    INFO("server certificate " << name << ".pem");
    auto server = serve(name);
    auto socket = connect_to("localhost", server.port(), session);
    CHECK(socket.certificate() == certificate_in(name));
    socket.write("GET / HTTP/1.0\r\n\r\n");
    CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
  }
}

TEST_CASE("without extra trust roots the test PKI is not trusted", "[verification]") {
  auto server = serve("localhost");
  for (auto session : {std::shared_ptr<tlsock::TLSSession>(), std::make_shared<tlsock::TLSSession>()}) {
    INFO((session ? "a default TLSSession" : "no TLSSession"));
    REQUIRE_THROWS_MATCHES(
        connect_to("localhost", server.port(), session), tlsock::TLSVerificationError,
        Catch::Matchers::Message(verification_failed +
                                 " - certificate issuer not found in trusted root certificate store"));
    // The chain ends at the intermediate, whose issuer is unknown; as oscrypto, the error
    // carries the leaf.
    auto error = verification_error([&] { (void)connect_to("localhost", server.port(), session); });
    REQUIRE(error.certificate().has_value());
    CHECK(*error.certificate() == certificate_in("localhost"));
  }
}
