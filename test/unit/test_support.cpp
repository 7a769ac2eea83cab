// Tests of the test-support library itself: peer processes start, answer and always stop, and
// the plain TCP server delivers what it should and never holds up a test.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/plain_server.hpp"
#include "support/process.hpp"

using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

// Whether pid is a running process. A zombie counts as gone: an orphan that was killed waits
// for init to reap it, and a container's init may never do so.
bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && line.size() > close_paren + 2 && line[close_paren + 2] != 'Z';
}

// process_alive() until it turns false or timeout passes; a killed orphan is not gone at once.
bool process_gone_within(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A self-signed certificate made for these tests, so they do not depend on the generated test
// PKI in certs/. Removed with the object.
class TempCert {
 public:
  TempCert() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tlsock-cert-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    ProgramResult made =
        run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key(), "-out", cert(), "-days", "2", "-subj", "/CN=localhost"});
    if (made.exit_code != 0) throw std::runtime_error("openssl req failed:\n" + made.output);
  }
  TempCert(const TempCert&) = delete;
  TempCert& operator=(const TempCert&) = delete;
  ~TempCert() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  [[nodiscard]] std::string cert() const { return (dir_ / "cert.pem").string(); }
  [[nodiscard]] std::string key() const { return (dir_ / "key.pem").string(); }

 private:
  std::filesystem::path dir_;
};

template <typename F>
std::chrono::milliseconds time_of(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

TEST_CASE("free_port returns a port a server can bind", "[support]") {
  std::uint16_t port = free_port();
  CHECK(port != 0);
  // PlainServer binds its own ephemeral port; here we only check the number is usable.
  CHECK_THROWS(connect_loopback(port, 500ms));  // nobody listens there
}

TEST_CASE("find_program searches PATH", "[support]") {
  CHECK(find_program("sh").ends_with("/sh"));
  CHECK(find_program("/bin/sh") == "/bin/sh");
  CHECK(find_program("tlsock-no-such-program").empty());
  CHECK(find_program("").empty());
}

TEST_CASE("run_program reports exit code and output", "[support]") {
  ProgramResult result = run_program({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(result.exit_code == 3);
  CHECK(result.output.find("out") != std::string::npos);
  CHECK(result.output.find("err") != std::string::npos);

  auto elapsed = time_of([] { CHECK_THROWS(run_program({"sleep", "30"}, 100ms)); });
  CHECK(elapsed < 2s);
}

// The default certificate options of the helpers must form a chain that verifies against
// root-ca.pem for "localhost": openssl s_client checks that independently of tlsock.
TEST_CASE("openssl_server and gnutls_server serve the test PKI", "[support]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  if (!std::filesystem::exists(certs_dir() / "localhost-chain.pem")) {
    TLSOCK_SKIP("the test PKI is not generated in " + certs_dir().string());
  }
  auto verify = [](std::uint16_t port) {
    return run_program(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile",
         (certs_dir() / "root-ca.pem").string(), "-verify_hostname", "localhost", "-verify_return_error"},
        5s);
  };
  SECTION("openssl s_server") {
    ServerProcess server = openssl_server({"-www"});
    ProgramResult client = verify(server.port());
    INFO(client.output);
    CHECK(client.exit_code == 0);
    CHECK(client.output.find("Verify return code: 0 (ok)") != std::string::npos);
  }
  SECTION("gnutls-serv") {
    if (find_program("gnutls-serv").empty()) TLSOCK_SKIP("gnutls-serv is not installed");
    ServerProcess server = gnutls_server();
    ProgramResult client = verify(server.port());
    INFO(client.output);
    CHECK(client.exit_code == 0);
    CHECK(client.output.find("Verify return code: 0 (ok)") != std::string::npos);
  }
}

TEST_CASE("ServerProcess runs openssl s_server -www and stop() ends it", "[support]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempCert cert;
  ServerProcess server = openssl_server({"-cert", cert.cert(), "-key", cert.key(), "-www"});
  pid_t pid = server.pid();
  CHECK(pid > 0);
  CHECK(process_alive(pid));
  CHECK_FALSE(server.exited());

  // The port really is served: a connection gets accepted.
  UniqueFd client = connect_loopback(server.port());
  CHECK(client.valid());

  server.stop();
  CHECK(server.exited());
  CHECK_FALSE(process_alive(pid));
  CHECK(server.exit_description() == "killed by signal 15 (SIGTERM)");
  server.stop();  // idempotent
}

TEST_CASE("openssl s_server outside -www mode echoes with stdin kept open", "[support]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempCert cert;
  // ReadyCheck::listening is chosen here, so s_server has not seen any client yet and
  // "-naccept 1" is left for the real one.
  ServerProcess server = openssl_server({"-cert", cert.cert(), "-key", cert.key(), "-naccept", "1"});
  ProgramResult client =
      run_program({"sh", "-c",
                   "echo hello-from-client | openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) +
                       " -quiet -no_ign_eof"},
                  5s);
  (void)client;
  // The server prints what the client sent and, having served its one connection, exits.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!server.exited() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  INFO(server.log());
  CHECK(server.log().find("hello-from-client") != std::string::npos);
}

TEST_CASE("ServerProcess escalates to SIGKILL when SIGTERM is ignored", "[support]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempCert cert;
  std::uint16_t port = free_port();
  ServerProcessOptions options;
  options.stop_timeout = 200ms;
  // Ignored signals survive exec, so openssl itself ignores SIGTERM.
  ServerProcess server =
      ServerProcess::start({"sh", "-c",
                            "trap '' TERM; exec openssl s_server -accept 127.0.0.1:" + std::to_string(port) +
                                " -cert " + cert.cert() + " -key " + cert.key() + " -www -quiet"},
                           port, options);
  pid_t pid = server.pid();
  auto elapsed = time_of([&] { server.stop(); });
  CHECK(elapsed >= 200ms);
  CHECK(elapsed < 3s);
  CHECK_FALSE(process_alive(pid));
  CHECK(server.exit_description() == "killed by signal 9 (SIGKILL)");
}

TEST_CASE("ServerProcess stops helpers the program started", "[support]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempCert cert;
  std::uint16_t port = free_port();
  std::filesystem::path pid_file = std::filesystem::path(cert.cert()).parent_path() / "helper.pid";
  ServerProcess server = ServerProcess::start(
      {"sh", "-c",
       "sleep 300 & echo $! > " + pid_file.string() + "; exec openssl s_server -www -quiet -accept 127.0.0.1:" +
           std::to_string(port) + " -cert " + cert.cert() + " -key " + cert.key()},
      port);
  std::ifstream in(pid_file);
  pid_t helper = 0;
  in >> helper;
  REQUIRE(helper > 0);
  CHECK(process_alive(helper));
  server.stop();
  CHECK(process_gone_within(helper, 2s));
}

TEST_CASE("ServerProcess::start fails clearly", "[support]") {
  SECTION("the program does not exist") {
    try {
      (void)ServerProcess::start({"tlsock-no-such-program", "--flag"}, free_port());
      FAIL("start() did not throw");
    } catch (const std::runtime_error& e) {
      std::string message = e.what();
      CHECK(message.find("tlsock-no-such-program --flag") != std::string::npos);
      CHECK(message.find("not found") != std::string::npos);
    }
  }
  SECTION("the program exits before listening") {
    try {
      (void)ServerProcess::start({"sh", "-c", "echo cannot bind >&2; exit 7"}, free_port());
      FAIL("start() did not throw");
    } catch (const std::runtime_error& e) {
      std::string message = e.what();
      CHECK(message.find("exit status 7") != std::string::npos);
      CHECK(message.find("cannot bind") != std::string::npos);
    }
  }
  SECTION("the port is never ready") {
    ServerProcessOptions options;
    options.ready_timeout = 200ms;
    std::string message;
    auto elapsed = time_of([&] {
      try {
        (void)ServerProcess::start({"sleep", "30"}, free_port(), options);
      } catch (const std::runtime_error& e) {
        message = e.what();
      }
    });
    CHECK(message.find("did not listen") != std::string::npos);
    CHECK(elapsed < 2s);  // stopped by SIGTERM, not waited for
  }
  SECTION("a test certificate is missing") {
    if (std::filesystem::exists(certs_dir() / "localhost.pem")) return;
    try {
      (void)openssl_server({"-www"});
      FAIL("openssl_server() did not throw");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("test certificate missing") != std::string::npos);
    }
  }
}

TEST_CASE("ServerProcess is move-only and stops once, in its last owner", "[support]") {
  static_assert(!std::is_copy_constructible_v<ServerProcess>);
  static_assert(std::is_nothrow_move_constructible_v<ServerProcess>);
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempCert cert;
  ServerProcess first = openssl_server({"-cert", cert.cert(), "-key", cert.key(), "-www"});
  pid_t pid = first.pid();
  ServerProcess second = std::move(first);
  CHECK(first.pid() == -1);  // NOLINT(bugprone-use-after-move): the moved-from state is tested
  CHECK(second.pid() == pid);
  {
    ServerProcess last = std::move(second);
    CHECK(process_alive(pid));
  }
  CHECK_FALSE(process_alive(pid));
}

TEST_CASE("gnutls_server starts gnutls-serv", "[support]") {
  if (find_program("gnutls-serv").empty()) TLSOCK_SKIP("gnutls-serv is not installed");
  TempCert cert;
  ServerProcess server = gnutls_server({"--x509certfile", cert.cert(), "--x509keyfile", cert.key(), "--echo"});
  UniqueFd client = connect_loopback(server.port());
  CHECK(client.valid());
  pid_t pid = server.pid();
  server.stop();
  CHECK_FALSE(process_alive(pid));
}

TEST_CASE("PlainServer send_and_close delivers the bytes", "[support]") {
  const std::string banner = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  PlainServer server(send_and_close(banner));

  SECTION("and closes once the client does") {
    UniqueFd client = connect_loopback(server.port());
    send_all(client.get(), "\x16\x03\x01\x00\x05hello");
    ::shutdown(client.get(), SHUT_WR);
    std::string received;
    auto elapsed = time_of([&] { received = read_until_eof(client.get(), 3s); });
    CHECK(received == banner);
    CHECK(elapsed < 900ms);
  }
  SECTION("and closes after 1 s if the client never does") {
    UniqueFd client = connect_loopback(server.port());
    std::string received;
    auto elapsed = time_of([&] { received = read_until_eof(client.get(), 5s); });
    CHECK(received == banner);
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 3s);
  }
  SECTION("to each client in turn") {
    for (int i = 0; i < 3; ++i) {
      UniqueFd client = connect_loopback(server.port());
      ::shutdown(client.get(), SHUT_WR);
      CHECK(read_until_eof(client.get(), 3s) == banner);
    }
    CHECK(server.connections() == 3);
  }
  CHECK(server.handler_error().empty());
}

TEST_CASE("PlainServer close_immediately hangs up", "[support]") {
  PlainServer server(close_immediately());
  UniqueFd client = connect_loopback(server.port());
  auto elapsed = time_of([&] { CHECK(read_until_eof(client.get(), 3s).empty()); });
  CHECK(elapsed < 1s);
}

TEST_CASE("PlainServer destruction is prompt", "[support]") {
  SECTION("with a stalled connection") {
    UniqueFd client;
    std::optional<PlainServer> server(std::in_place, accept_and_stall(std::chrono::hours(1)));
    client = connect_loopback(server->port());
    send_all(client.get(), "ClientHello?");
    // Let the server accept it and start stalling.
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (server->connections() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(server->connections() == 1);
    CHECK_FALSE(wait_fd(client.get(), POLLIN, std::chrono::steady_clock::now() + 100ms));
    auto elapsed = time_of([&] { server.reset(); });
    CHECK(elapsed < 500ms);
    CHECK(read_until_eof(client.get(), 1s).empty());
  }
  SECTION("with clients queued behind a stalled one") {
    std::optional<PlainServer> server(std::in_place, accept_and_stall(std::chrono::hours(1)));
    UniqueFd first = connect_loopback(server->port());
    UniqueFd second = connect_loopback(server->port());
    std::this_thread::sleep_for(50ms);
    auto elapsed = time_of([&] { server.reset(); });
    CHECK(elapsed < 500ms);
  }
  SECTION("with no connection") {
    auto elapsed = time_of([] { PlainServer server(close_immediately()); });
    CHECK(elapsed < 500ms);
  }
  SECTION("stall ends by itself after its duration") {
    PlainServer server(accept_and_stall(200ms));
    UniqueFd client = connect_loopback(server.port());
    auto elapsed = time_of([&] { CHECK(read_until_eof(client.get(), 3s).empty()); });
    CHECK(elapsed >= 150ms);
    CHECK(elapsed < 2s);
  }
}

TEST_CASE("PlainServer reports a handler's exception", "[support]") {
  PlainServer server([](int) { throw std::runtime_error("handler broke"); });
  UniqueFd client = connect_loopback(server.port());
  CHECK(read_until_eof(client.get(), 3s).empty());
  CHECK(server.handler_error() == "handler broke");
}
