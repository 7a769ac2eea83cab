// TLS 1.3 messages that follow the handshake (mbedTLS 3.6): a peer's KeyUpdate, which 3.6
// cannot process, ends the connection with a named TLSError and an unexpected_message alert,
// in both roles (openssl s_server and s_client typing `k`); NewSessionTickets that arrive after
// the handshake are taken in by write(), select_read() and close(), so a client that writes
// and closes without reading still resumes next time (openssl s_server and our own server).
//
// Every test case skips when the linked mbedTLS has no TLS 1.3 (2.28).
#include <chrono>
#include <memory>
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
namespace ts = tlsock::testing;
using namespace std::chrono_literals;

namespace {

#define TLSOCK_REQUIRE_TLS13(program)                                         \
  do {                                                                        \
    if (!supported_protocols().contains(Protocol::TLSv1_3))                   \
      TLSOCK_SKIP("the linked " << backend_version() << " has no TLS 1.3");   \
    if (std::string_view(program) != "" && ts::find_program(program).empty()) \
      TLSOCK_SKIP((program) << " is not installed");                          \
  } while (false)

std::shared_ptr<TLSSession> tls13_session() {
  TLSSession::Options options = trusted_options();
  options.protocols = {Protocol::TLSv1_3};
  return trusted_session(std::move(options));
}

std::string key_update_refused() {
  return "TLSError: TLS connection failed - the peer updated its keys (TLS 1.3 KeyUpdate), which the linked " +
         std::string(backend_version()) + " does not support";
}

// Waits (bounded) until a server program's output contains text.
bool log_shows(const ts::ServerProcess& server, std::string_view text, std::chrono::seconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (server.log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string reuse_facts(const TLSSocket& socket) {
  return "ticket=" + reuse_of(socket.session_ticket()) + " id=" + reuse_of(socket.session_id());
}

}  // namespace

// --- KeyUpdate ----------------------------------------------------------------------------

TEST_CASE("a KeyUpdate from openssl s_server ends our client with a named error and an alert",
          "[tls13][keyupdate][openssl]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  // Not -www: s_server relays its stdin to the client, and `k` on a line of its own sends a
  // KeyUpdate (not with -quiet, which turns the command letters off, so not openssl_server()).
  // -msg logs the messages it receives, our alert included.
  std::uint16_t port = ts::free_port();
  ts::ServerProcessOptions options;
  options.keep_stdin = true;
  options.ready_check = ts::ReadyCheck::listening;
  ts::ServerProcess server = ts::ServerProcess::start(
      {ts::find_program("openssl"), "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       cert_path("localhost.pem").string(), "-key", cert_path("localhost.key").string(), "-cert_chain",
       cert_path("intermediate-ca.pem").string(), "-tls1_3", "-msg"},
      port, options);
  TLSSocket client("localhost", server.port(), 10s, tls13_session());
  REQUIRE(client.protocol() == "TLSv1.3");
  // s_server prints what it receives: once it shows our line, its handshake is over too.
  client.write("ping from tlsock\n");
  REQUIRE(log_shows(server, "ping from tlsock"));
  server.write_stdin("k\n");
  CHECK(error_of([&] { (void)client.read(100); }) == key_update_refused());
  CHECK(error_of([&] { (void)client.read(100); }) == key_update_refused());  // sticky
  CHECK(error_of([&] { client.write("more"); }) == key_update_refused());
  INFO(server.log());
  CHECK(log_shows(server, "<<< TLS 1.3, Alert [length 0002], fatal unexpected_message"));
}

TEST_CASE("a KeyUpdate from openssl s_client ends our server's connection the same way",
          "[tls13][keyupdate][openssl][server]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    std::string line = socket.read_line();
    socket.write("ready\n");
    log.add(line + read_to_end(socket));
  });
  // s_client sends its stdin; `k` on a line of its own sends a KeyUpdate (not with -quiet,
  // which turns the command letters off). The line goes out once our answer arrived, so the
  // handshake is over on both ends; stdin stays open until s_client has seen our alert.
  ts::TempDir dir;
  std::string out = (dir.path() / "out.txt").string();
  std::string script =
      "out=$1; shift\n"
      "{ printf 'hello\\n'; i=0\n"
      "  while [ $i -lt 200 ] && ! grep -q '^ready' \"$out\" 2>/dev/null; do sleep 0.05; i=$((i+1)); done\n"
      "  printf 'k\\n'; i=0\n"
      "  while [ $i -lt 200 ] && ! grep -q 'Alert' \"$out\" 2>/dev/null; do sleep 0.05; i=$((i+1)); done\n"
      "} | \"$@\" >\"$out\" 2>&1\n"
      "cat \"$out\"\n";
  ts::ProgramResult result =
      ts::run_program({"sh", "-c", script, "sh", out, ts::find_program("openssl"), "s_client", "-connect",
                       "127.0.0.1:" + std::to_string(server.port()), "-servername", "localhost", "-CAfile",
                       cert_path("root-ca.pem").string(), "-verify_return_error", "-tls1_3", "-msg"},
                      40s);
  INFO(result.output);
  REQUIRE(log.wait_for(1));
  server.stop();
  CHECK(log.lines() == std::vector<std::string>{"hello\n" + key_update_refused()});
  CHECK(result.output.find("<<< TLS 1.3, Alert [length 0002], fatal unexpected_message") != std::string::npos);
  CHECK(server.errors().lines().empty());
}

// --- Tickets that arrive after the handshake ---------------------------------------------

TEST_CASE("a client that writes and closes without reading stores the TLS 1.3 ticket: openssl s_server",
          "[tls13][resumption][openssl]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-www"});
  auto session = tls13_session();
  for (const std::string expected : {"ticket=new id=none", "ticket=reused id=none", "ticket=reused id=none"}) {
    TLSSocket socket("localhost", server.port(), 10s, session);
    CHECK(socket.protocol() == "TLSv1.3");
    socket.write("GET / HTTP/1.0\r\n\r\n");
    socket.close();  // takes in the ticket the server sent after the handshake
    CHECK(reuse_facts(socket) == expected);
  }
}

TEST_CASE("a client that writes and closes without reading stores the TLS 1.3 ticket: our server",
          "[tls13][resumption][server]") {
  TLSOCK_REQUIRE_TLS13("");
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    std::string line = socket.read_line();
    log.add(line + " " + reuse_facts(socket));
  });
  auto session = tls13_session();
  std::vector<std::string> client_facts;
  for (int i = 0; i < 3; ++i) {
    TLSSocket socket = connect_tls(server.port(), "localhost", session);
    socket.write("request " + std::to_string(i) + "\n");
    socket.shutdown();
    client_facts.push_back(reuse_facts(socket));
  }
  REQUIRE(log.wait_for(3));
  server.stop();
  CHECK(client_facts ==
        std::vector<std::string>{"ticket=new id=none", "ticket=reused id=none", "ticket=reused id=none"});
  CHECK(log.lines() == std::vector<std::string>{"request 0\n ticket=new id=none", "request 1\n ticket=reused id=none",
                                                "request 2\n ticket=reused id=none"});
}

TEST_CASE("write() and select_read() take in a ticket that is already on the wire", "[tls13][resumption][server]") {
  TLSOCK_REQUIRE_TLS13("");
  // Our server sends its tickets before accept() returns: once the handler runs, they wait in
  // the client's socket.
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    log.add("accepted");
    log.add(read_to_end(socket));
  });
  auto session = tls13_session();
  SECTION("write") {
    TLSSocket socket = connect_tls(server.port(), "localhost", session);
    REQUIRE(log.wait_for(1));
    CHECK(reuse_of(socket.session_ticket()) == "none");  // nothing read yet
    socket.write("x");
    CHECK(reuse_of(socket.session_ticket()) == "new");
  }
  SECTION("select_read") {
    TLSSocket socket = connect_tls(server.port(), "localhost", session);
    REQUIRE(log.wait_for(1));
    CHECK_FALSE(socket.select_read(0s));  // a ticket is no application data
    CHECK(reuse_of(socket.session_ticket()) == "new");
  }
  // The ticket it stored resumes the next connection.
  TLSSocket again = connect_tls(server.port(), "localhost", session);
  CHECK(reuse_of(again.session_ticket()) == "reused");
  again.close();
  REQUIRE(log.wait_for(4));
  server.stop();
  CHECK(log.lines()[1] == "TLSGracefulDisconnectError: The remote end closed the connection");
}
