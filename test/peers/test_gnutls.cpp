// Interoperability with GnuTLS: TLSSocket against gnutls-serv, in its HTTP mode and as an echo
// server. Skipped when gnutls-serv is not installed.
//
// gnutls-serv --echo is line-based: it collects received text until it holds a '\n', then
// sends all of it back; it treats data as a C string and turns "\r\n" into "\n". The payloads
// here are letters and '\n' only.
#include <chrono>
#include <random>
#include <string>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

bool have_gnutls() { return !find_program("gnutls-serv").empty(); }

Certificate pki_certificate(const char* name) { return Certificate::load(certs_dir() / name).at(0); }

// Checks what every verified connection to gnutls-serv with the localhost chain shows.
void check_verified(const TLSSocket& socket) {
  CHECK(socket.protocol() == expected_protocol());  // TLSv1.2 with mbedTLS 2.28
  CHECK_FALSE(socket.cipher_suite().empty());
  CHECK(socket.cipher_suite().substr(0, 4) == "TLS_");
  CHECK_FALSE(socket.compression());
  CHECK(socket.certificate() == pki_certificate("localhost.pem"));
  REQUIRE(socket.intermediates().size() == 1);
  CHECK(socket.intermediates()[0] == pki_certificate("intermediate-ca.pem"));
}

}  // namespace

TEST_CASE("gnutls-serv in HTTP mode: a verified exchange", "[gnutls]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server();
  TLSSocket socket("localhost", server.port(), 10s, trusted_session());
  check_verified(socket);

  socket.write("GET / HTTP/1.0\r\n\r\n");
  CHECK(socket.read_line() == "HTTP/1.0 200 OK\r\n");
  std::string headers = socket.read_until("\r\n\r\n");
  CHECK(headers.find("Content-type: text/html\r\n") != std::string::npos);
  // gnutls-serv ends its page with close_notify (seen with `openssl s_client -msg`).
  std::string page;
  End end = read_to_end(socket, [&](const std::string& piece) { page += piece; });
  CHECK(end == End::graceful);
  CHECK(page.find("<HTML>") != std::string::npos);
  CHECK(page.find("</HTML>") != std::string::npos);
}

TEST_CASE("gnutls-serv --echo: 1 MiB round trip, exact", "[gnutls]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  TLSSocket socket("localhost", server.port(), 10s, trusted_session());
  check_verified(socket);

  // Lines of letters; chunks of 64 KiB, each ending in '\n', so the server echoes each chunk as
  // soon as it has all of it, and what is in flight stays within the socket buffers.
  constexpr std::size_t total = 1024 * 1024;
  constexpr std::size_t chunk = 64 * 1024;
  std::mt19937 random(42);
  std::string data(total, '\0');
  for (std::size_t i = 0; i < total; ++i) data[i] = i % 80 == 79 ? '\n' : static_cast<char>('a' + random() % 26);
  data.back() = '\n';
  for (std::size_t at = chunk - 1; at < total; at += chunk) data[at] = '\n';

  std::string echoed;
  echoed.reserve(total);
  for (std::size_t at = 0; at < total; at += chunk) {
    socket.write(std::string_view(data).substr(at, chunk));
    echoed += socket.read_exactly(chunk);
  }
  CHECK(echoed.size() == total);
  CHECK(echoed == data);
  CHECK_FALSE(socket.select_read(0.0s));

  // An orderly close from our side: close_notify, then the descriptor.
  socket.close();
  CHECK(socket.socket() == -1);
}

TEST_CASE("gnutls-serv --echo: a session resumes with the same TLSSession", "[gnutls]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  auto session = trusted_session();
  auto round_trip = [&](TLSSocket& socket) {
    socket.write("hello\n");
    CHECK(socket.read_exactly(6) == "hello\n");
  };
  // TLS 1.2 announces the ticket in the handshake; a TLS 1.3 NewSessionTicket follows the
  // handshake and is seen by the first read. TLS 1.3 resumes by ticket only (no session IDs).
  const bool tls13 = expected_protocol() == "TLSv1.3";
  {
    TLSSocket first("localhost", server.port(), 10s, session);
    if (!tls13) CHECK(reuse_of(first.session_ticket()) == "new");
    round_trip(first);
    CHECK(reuse_of(first.session_ticket()) == "new");
    if (tls13) CHECK(reuse_of(first.session_id()) == "none");
  }
  TLSSocket second("localhost", server.port(), 10s, session);
  CHECK(reuse_of(second.session_ticket()) == "reused");
  if (tls13) CHECK(reuse_of(second.session_id()) == "none");
  check_verified(second);
  round_trip(second);
}
