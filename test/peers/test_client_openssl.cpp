// TLSSocket as a client of `openssl s_server`: an HTTP exchange, session resumption (by
// session ID and by ticket, also from many threads), wrapping a connected descriptor, close()
// and moves. Every server is started here on 127.0.0.1 and stopped by its ServerProcess.
//
// s_server -www serves one connection at a time, and (observed here) after its close_notify it
// keeps the connection until the client closes it: a test never opens a second connection to a
// server while it still holds one, or that second handshake waits until the timeout.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view http_get = "GET / HTTP/1.0\r\n\r\n";
constexpr std::string_view remote_closed = "The remote end closed the connection";
constexpr std::string_view already_closed = "The connection was already closed";

bool have_openssl() { return !find_program("openssl").empty(); }

// Session IDs and TLS 1.2 tickets are TLS 1.2 mechanisms (TLS 1.3 resumes with PSKs): the
// resumption tests pin TLS 1.2, which is also all mbedTLS 2.28 speaks.
std::shared_ptr<TLSSession> tls12_session() {
  TLSSession::Options options = trusted_options();
  options.protocols = {Protocol::TLSv1_2};
  return trusted_session(std::move(options));
}

Certificate pki_certificate(const char* name) { return Certificate::load(certs_dir() / name).at(0); }

// What one HTTP exchange with s_server -www showed about its connection.
struct Visit {
  std::optional<SessionReuse> session_id;
  std::optional<SessionReuse> session_ticket;
  std::string protocol;
  std::string status_line;
  std::optional<Certificate> certificate;
  std::vector<Certificate> intermediates;
  bool graceful_end = false;
};

// Connects, fetches "/" and reads the page to its end. No Catch2 assertions here, so threads can
// call it; exceptions propagate.
Visit visit(std::uint16_t port, const std::shared_ptr<TLSSession>& session) {
  TLSSocket socket("localhost", port, 10s, session);
  Visit v;
  v.session_id = socket.session_id();
  v.session_ticket = socket.session_ticket();
  v.protocol = std::string(socket.protocol());
  v.certificate = socket.certificate();
  v.intermediates = socket.intermediates();
  socket.write(http_get);
  v.status_line = socket.read_line();
  // Reading to the end lets s_server finish with SSL_shutdown(): OpenSSL drops a session from
  // its cache when a connection ends without an orderly shutdown.
  v.graceful_end = read_to_end(socket, [](const std::string&) {}) == End::graceful;
  return v;
}

}  // namespace

TEST_CASE("an HTTP GET against s_server -www ends with the server's close_notify", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  TLSSocket socket("localhost", server.port(), 10s, trusted_session());
  CHECK(socket.hostname() == "localhost");
  CHECK(socket.port() == server.port());
  CHECK(socket.protocol() == expected_protocol());  // TLSv1.2 with mbedTLS 2.28
  CHECK_FALSE(socket.cipher_suite().empty());
  CHECK_FALSE(socket.compression());

  socket.write(http_get);
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
  CHECK(socket.read_until("\r\n\r\n") == "Content-type: text/html\r\n\r\n");

  // On the wire (checked with `openssl s_client -msg`), s_server -www ends the page with a
  // close_notify alert before closing TCP, so the end is graceful: the page arrives in full,
  // then TLSGracefulDisconnectError.
  std::string body;
  End end = read_to_end(socket, [&](const std::string& piece) { body += piece; });
  CHECK(end == End::graceful);
  CHECK(body.rfind("<HTML><BODY", 0) == 0);
  CHECK(body.ends_with("</pre></BODY></HTML>\r\n\r\n"));
  // The error is sticky, and reads keep reporting it.
  CHECK(error_of([&] { (void)socket.read(1); }) == "TLSGracefulDisconnectError: " + std::string(remote_closed));
  CHECK(error_of([&] { (void)socket.read_line(); }) == "TLSGracefulDisconnectError: " + std::string(remote_closed));
  CHECK_NOTHROW(socket.close());
}

TEST_CASE("the client offers X25519 and P-256 first, and no curve under 256 bits", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  TLSSocket socket("localhost", server.port(), 10s, trusted_session());
  socket.write(http_get);
  std::string page;
  (void)read_to_end(socket, [&](const std::string& piece) { page += piece; });
  // s_server -www lists the groups the client offered, in the client's order.
  std::size_t at = page.find("Supported groups: ");
  REQUIRE(at != std::string::npos);
  std::string groups = page.substr(at, page.find('\n', at) - at);
  CHECK(groups.rfind("Supported groups: x25519:secp256r1:secp384r1", 0) == 0);
  for (const char* weak : {"secp192", "secp224", "secp256k1"}) CHECK(groups.find(weak) == std::string::npos);
}

TEST_CASE("a session resumes by session ID when the server issues no tickets", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  auto session = tls12_session();
  Certificate leaf = pki_certificate("localhost.pem");
  Certificate intermediate = pki_certificate("intermediate-ca.pem");

  Visit first = visit(server.port(), session);
  CHECK(reuse_of(first.session_id) == "new");
  CHECK(reuse_of(first.session_ticket) == "none");
  CHECK(first.status_line == "HTTP/1.0 200 ok\r\n");
  CHECK(first.graceful_end);

  Visit second = visit(server.port(), session);
  CHECK(reuse_of(second.session_id) == "reused");
  CHECK(reuse_of(second.session_ticket) == "none");
  CHECK(second.protocol == "TLSv1.2");
  CHECK(second.status_line == "HTTP/1.0 200 ok\r\n");
  CHECK(second.graceful_end);
  // An abbreviated handshake carries no certificates; the socket still reports the chain that
  // the full handshake verified.
  REQUIRE(second.certificate.has_value());
  CHECK(*second.certificate == leaf);
  REQUIRE(second.intermediates.size() == 1);
  CHECK(second.intermediates[0] == intermediate);
}

TEST_CASE("a session resumes by ticket when the server issues tickets", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});  // tickets are on by default
  auto session = tls12_session();

  Visit first = visit(server.port(), session);
  CHECK(reuse_of(first.session_ticket) == "new");
  CHECK(first.graceful_end);

  Visit second = visit(server.port(), session);
  CHECK(reuse_of(second.session_ticket) == "reused");
  CHECK(second.status_line == "HTTP/1.0 200 ok\r\n");
  REQUIRE(second.certificate.has_value());
  CHECK(*second.certificate == pki_certificate("localhost.pem"));
  CHECK(second.intermediates.size() == 1);
}

TEST_CASE("a connection with a fresh TLSSession does not resume", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  SECTION("session IDs") {
    ServerProcess server = openssl_server({"-www", "-no_ticket"});
    Visit first = visit(server.port(), tls12_session());
    Visit second = visit(server.port(), tls12_session());
    CHECK(reuse_of(first.session_id) == "new");
    CHECK(reuse_of(second.session_id) == "new");
    CHECK(reuse_of(second.session_ticket) == "none");
  }
  SECTION("tickets") {
    ServerProcess server = openssl_server({"-www"});
    Visit first = visit(server.port(), tls12_session());
    Visit second = visit(server.port(), tls12_session());
    CHECK(reuse_of(first.session_ticket) == "new");
    CHECK(reuse_of(second.session_ticket) == "new");
    CHECK(reuse_of(second.session_id) != "reused");
  }
}

TEST_CASE("TLSSession::clear_cache() makes the next connection a full handshake", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  auto session = tls12_session();
  CHECK(reuse_of(visit(server.port(), session).session_id) == "new");
  CHECK(reuse_of(visit(server.port(), session).session_id) == "reused");
  session->clear_cache();
  CHECK(reuse_of(visit(server.port(), session).session_id) == "new");
  CHECK(reuse_of(visit(server.port(), session).session_id) == "reused");
}

TEST_CASE("many threads share one TLSSession", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  auto session = trusted_session();
  constexpr int threads = 8;
  constexpr int per_thread = 10;

  std::mutex mutex;
  std::vector<std::string> failures;  // Catch2 assertions are not thread-safe: collect, check later
  std::atomic<int> succeeded{0};
  std::atomic<int> reused{0};
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        try {
          Visit v = visit(server.port(), session);
          if (v.status_line != "HTTP/1.0 200 ok\r\n" || !v.graceful_end || !v.certificate)
            throw std::runtime_error("unexpected answer: " + v.status_line);
          ++succeeded;
          if (v.session_ticket == SessionReuse::reused || v.session_id == SessionReuse::reused) ++reused;
        } catch (const std::exception& e) {
          std::lock_guard lock(mutex);
          failures.emplace_back(e.what());
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();

  CHECK(failures.empty());
  for (const std::string& failure : failures) UNSCOPED_INFO(failure);
  CHECK(succeeded == threads * per_thread);
  CHECK(reused > 0);
}

TEST_CASE("TLSSocket::wrap adds TLS to a connected descriptor and owns it", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  UniqueFd tcp = connect_loopback(server.port());
  int fd = tcp.get();
  TLSSocket socket = TLSSocket::wrap(tcp.release(), "localhost", trusted_session());
  CHECK(socket.socket() == fd);
  CHECK(socket.hostname() == "localhost");
  // oscrypto reports the peer's port for a wrapped socket too (getpeername()).
  CHECK(socket.port() == server.port());
  CHECK(socket.certificate() == pki_certificate("localhost.pem"));

  socket.write(http_get);
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
  CHECK(read_to_end(socket, [](const std::string&) {}) == End::graceful);
  socket.close();
  CHECK(socket.socket() == -1);
}

TEST_CASE("close() ends the connection for good", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  TLSSocket socket("localhost", server.port(), 10s, trusted_session());
  CHECK(socket.socket() >= 0);
  socket.write(http_get);
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");

  socket.close();
  CHECK(socket.socket() == -1);
  std::string closed = "TLSDisconnectError: " + std::string(already_closed);
  CHECK(error_of([&] { (void)socket.read(1); }) == closed);
  CHECK(error_of([&] { (void)socket.read_line(); }) == closed);
  CHECK(error_of([&] { (void)socket.read_exactly(1); }) == closed);
  CHECK(error_of([&] { socket.write("more"); }) == closed);
  CHECK_NOTHROW(socket.close());
  CHECK(socket.socket() == -1);

  // The server is free again: the closed connection does not hold it up.
  CHECK(visit(server.port(), trusted_session()).graceful_end);
}

TEST_CASE("a moved TLSSocket keeps working; the moved-from one is closed", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  auto session = trusted_session();
  std::string closed = "TLSDisconnectError: " + std::string(already_closed);

  SECTION("move construction") {
    TLSSocket original("localhost", server.port(), 10s, session);
    int fd = original.socket();
    TLSSocket moved(std::move(original));
    CHECK(moved.socket() == fd);
    moved.write(http_get);
    CHECK(moved.read_line() == "HTTP/1.0 200 ok\r\n");
    CHECK(read_to_end(moved, [](const std::string&) {}) == End::graceful);
    CHECK(error_of([&] { (void)original.read(1); }) == closed);  // NOLINT(bugprone-use-after-move)
    CHECK(error_of([&] { original.write("x"); }) == closed);
    CHECK(original.socket() == -1);
    CHECK_NOTHROW(original.close());
  }

  SECTION("move assignment closes the target's old connection") {
    // Two servers: s_server (as run here) serves its next client only once the previous one
    // has closed, so the source must not queue behind the target's connection.
    ServerProcess other = openssl_server({"-www"});
    TLSSocket target("localhost", server.port(), 10s, session);
    target.write(http_get);
    CHECK(read_to_end(target, [](const std::string&) {}) == End::graceful);

    TLSSocket source("localhost", other.port(), 10s, session);
    int fd = source.socket();
    target = std::move(source);
    CHECK(target.socket() == fd);
    CHECK(target.port() == other.port());
    target.write(http_get);
    CHECK(target.read_line() == "HTTP/1.0 200 ok\r\n");
    CHECK(read_to_end(target, [](const std::string&) {}) == End::graceful);
    CHECK(error_of([&] { (void)source.read(1); }) == closed);  // NOLINT(bugprone-use-after-move)
    CHECK(source.socket() == -1);
    // The target's old connection was closed, so its server takes a new client.
    CHECK(visit(server.port(), session).graceful_end);
  }
}
