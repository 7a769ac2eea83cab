// `tlsock serve` and `tlsock demo`, driven as a user would: the built binary (TLSOCK_CLI) is
// started on a free 127.0.0.1 port and talked to with the library's own TLSSocket, so no
// curl or openssl is needed (one interoperability check uses curl when it is installed).
// Each server is stopped with SIGTERM and must then exit with status 0.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

extern char** environ;

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string cli = TLSOCK_CLI;

std::string cert(const std::string& name) { return (certs_dir() / name).string(); }

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Every byte value, over and over: binary content with NULs, CRs and LFs in it.
std::string binary(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 7 + i / 256) & 0xff);
  return out;
}

const std::string secret = "TOP-SECRET-OUTSIDE-THE-ROOT";
const std::string big = binary(300 * 1024);

// base/secret.txt outside the served root base/www, and files of each type inside it.
class Site {
 public:
  Site() {
    std::string pattern = (fs::temp_directory_path() / "tlsock-serve-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    base_ = pattern;
    root_ = base_ / "www";
    fs::create_directories(root_ / "sub");
    fs::create_directories(root_ / "empty");
    write_file(base_ / "secret.txt", secret);
    write_file(root_ / "index.html", "<h1>root index</h1>\n");
    write_file(root_ / "sub" / "index.html", "<h1>sub index</h1>\n");
    write_file(root_ / "hello.txt", "hello\n");
    write_file(root_ / "with space.txt", "spaced\n");
    write_file(root_ / "big.bin", big);
    write_file(root_ / "empty.txt", "");
    for (const char* name : {"a.html", "a.txt", "a.css", "a.js", "a.json", "a.png", "a.jpg", "a.svg", "a.pdf",
                             "a.unknownext", "noextension", "UPPER.PNG"})
      write_file(root_ / name, std::string("content of ") + name);
    fs::create_symlink(base_ / "secret.txt", root_ / "escape.txt");
    fs::create_symlink(base_, root_ / "escape-dir");
    fs::create_symlink(root_ / "hello.txt", root_ / "inside-link.txt");
  }
  ~Site() {
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }
  Site(const Site&) = delete;
  Site& operator=(const Site&) = delete;
  [[nodiscard]] const fs::path& root() const noexcept { return root_; }

 private:
  fs::path base_, root_;
};

ServerProcess start_serve(std::vector<std::string> args) {
  std::uint16_t port = free_port();
  std::vector<std::string> argv{cli, "serve", "--port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  ServerProcess::Options options;
  // Not a probing connect: it would show in the log as a failed handshake.
  options.ready_check = ReadyCheck::listening;
  return ServerProcess::start(std::move(argv), port, options);
}

// SIGTERM, then the promised clean end: exit status 0 and "stopped".
void stop_cleanly(ServerProcess& server) {
  server.stop();
  INFO(server.log());
  CHECK(server.exit_description() == "exit status 0");
  CHECK(server.log().find("stopped\n") != std::string::npos);
}

std::shared_ptr<TLSSession> trusting_session(bool with_client_certificate = false) {
  TLSSession::Options options;
  options.extra_trust_roots = {TrustRoot(certs_dir() / "root-ca.pem")};
  if (with_client_certificate)
    options.client_certificate = CertificateChain::load(certs_dir() / "client-chain.pem", certs_dir() / "client.key");
  return std::make_shared<TLSSession>(options);
}

// A TCP connection to 127.0.0.1, TLS with hostname as the name verified and sent (SNI).
TLSSocket connect(std::uint16_t port, const std::string& hostname = "localhost",
                  std::shared_ptr<TLSSession> session = trusting_session()) {
  return TLSSocket::wrap(connect_tcp("127.0.0.1", port, 5s), hostname, std::move(session), 10s);
}

struct Response {
  int status = 0;
  std::string status_line;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

Response read_response(TLSSocket& socket, bool head_only = false) {
  Response response;
  response.status_line = socket.read_line();
  REQUIRE(response.status_line.starts_with("HTTP/1.1 "));
  response.status = std::stoi(response.status_line.substr(9, 3));
  for (;;) {
    std::string line = socket.read_line();
    if (line == "\r\n") break;
    auto colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n") + 1);
    response.headers[name] = value;
  }
  REQUIRE(response.headers.count("content-length") == 1);
  if (!head_only) response.body = socket.read_exactly(std::stoull(response.header("content-length")));
  return response;
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
}

Response roundtrip(TLSSocket& socket, const std::string& request, bool head_only = false) {
  socket.write(request);
  return read_response(socket, head_only);
}

// One request on its own connection.
Response once(std::uint16_t port, const std::string& request) {
  TLSSocket socket = connect(port);
  return roundtrip(socket, request, request.starts_with("HEAD "));
}

// Whether the server closed the connection after its last response (close_notify or EOF).
bool closed_by_server(TLSSocket& socket) {
  try {
    (void)socket.read(1);
    return false;
  } catch (const TLSDisconnectError&) {
    return true;
  }
}

// Access-log lines are written after the response, so wait for them a little.
bool log_shows(const ServerProcess& server, const std::regex& line, std::chrono::milliseconds within = 3s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    if (std::regex_search(server.log(), line)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

TEST_CASE("serve: GET sends a file's exact bytes with its Content-Length and Content-Type", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());

  Response response = roundtrip(socket, get("/hello.txt"));
  CHECK(response.status == 200);
  CHECK(response.body == "hello\n");
  CHECK(response.header("content-length") == "6");
  CHECK(response.header("content-type") == "text/plain; charset=utf-8");

  response = roundtrip(socket, get("/big.bin"));
  CHECK(response.status == 200);
  CHECK(response.header("content-length") == std::to_string(big.size()));
  CHECK(response.header("content-type") == "application/octet-stream");
  CHECK(response.body == big);

  response = roundtrip(socket, get("/empty.txt"));
  CHECK(response.status == 200);
  CHECK(response.header("content-length") == "0");
  CHECK(response.body.empty());

  const std::map<std::string, std::string> types{
      {"a.html", "text/html; charset=utf-8"},
      {"a.txt", "text/plain; charset=utf-8"},
      {"a.css", "text/css; charset=utf-8"},
      {"a.js", "text/javascript; charset=utf-8"},
      {"a.json", "application/json"},
      {"a.png", "image/png"},
      {"a.jpg", "image/jpeg"},
      {"a.svg", "image/svg+xml"},
      {"a.pdf", "application/pdf"},
      {"a.unknownext", "application/octet-stream"},
      {"noextension", "application/octet-stream"},
      {"UPPER.PNG", "image/png"},
  };
  for (const auto& [name, type] : types) {
    INFO(name);
    response = roundtrip(socket, get("/" + name));
    CHECK(response.status == 200);
    CHECK(response.header("content-type") == type);
    CHECK(response.body == "content of " + name);
  }

  // Percent-encoded names, a query string, a symlink that stays inside the root.
  CHECK(roundtrip(socket, get("/with%20space.txt")).body == "spaced\n");
  CHECK(roundtrip(socket, get("/hello.txt?x=1&y=2")).body == "hello\n");
  CHECK(roundtrip(socket, get("/inside-link.txt")).body == "hello\n");
  CHECK(roundtrip(socket, get("/%68ello.txt")).body == "hello\n");
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: HEAD sends GET's headers and no body", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());
  Response head = roundtrip(socket, "HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n", true);
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == std::to_string(big.size()));
  CHECK(head.header("content-type") == "application/octet-stream");
  // Had a body followed, this would read it as the next status line.
  Response response = roundtrip(socket, get("/hello.txt"));
  CHECK(response.status == 200);
  CHECK(response.body == "hello\n");
  Response missing = roundtrip(socket, "HEAD /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n", true);
  CHECK(missing.status == 404);
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: keep-alive, pipelining, Connection: close and HTTP/1.0", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});

  SECTION("two requests on one connection") {
    TLSSocket socket = connect(server.port());
    Response first = roundtrip(socket, get("/hello.txt"));
    CHECK(first.header("connection") == "keep-alive");
    CHECK(roundtrip(socket, get("/a.txt")).body == "content of a.txt");
  }
  SECTION("pipelined requests in one write are answered in order") {
    TLSSocket socket = connect(server.port());
    socket.write(get("/hello.txt") + get("/a.txt") + get("/nothing"));
    CHECK(read_response(socket).body == "hello\n");
    CHECK(read_response(socket).body == "content of a.txt");
    CHECK(read_response(socket).status == 404);
  }
  SECTION("Connection: close ends the connection after the response") {
    TLSSocket socket = connect(server.port());
    Response response = roundtrip(socket, get("/hello.txt", "Connection: close\r\n"));
    CHECK(response.body == "hello\n");
    CHECK(response.header("connection") == "close");
    CHECK(closed_by_server(socket));
  }
  SECTION("HTTP/1.0 closes unless asked to keep alive") {
    TLSSocket socket = connect(server.port());
    socket.write("GET /hello.txt HTTP/1.0\r\n\r\n");
    CHECK(read_response(socket).body == "hello\n");
    CHECK(closed_by_server(socket));
    TLSSocket again = connect(server.port());
    again.write("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(read_response(again).header("connection") == "keep-alive");
    again.write("GET /a.txt HTTP/1.0\r\n\r\n");
    CHECK(read_response(again).body == "content of a.txt");
  }
  stop_cleanly(server);
}

TEST_CASE("serve: directories, 404 and 301", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());
  Response root = roundtrip(socket, get("/"));
  CHECK(root.status == 200);
  CHECK(root.body == "<h1>root index</h1>\n");
  CHECK(root.header("content-type") == "text/html; charset=utf-8");
  Response redirect = roundtrip(socket, get("/sub"));
  CHECK(redirect.status == 301);
  CHECK(redirect.header("location") == "/sub/");
  CHECK(roundtrip(socket, get("/sub/")).body == "<h1>sub index</h1>\n");
  CHECK(roundtrip(socket, get("/empty/")).status == 404);
  CHECK(roundtrip(socket, get("/does-not-exist.html")).status == 404);
  CHECK(roundtrip(socket, get("/hello.txt/")).status == 404);
  // A 404 keeps the connection usable.
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: path traversal is refused and nothing outside the root leaks", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  const std::vector<std::string> targets{
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub/../../secret.txt",
      "/sub/%2e%2e/%2e%2e/secret.txt",
      "/./../secret.txt",
      "//../secret.txt",
      "/..\\secret.txt",
      "/%252e%252e/secret.txt",
      "https://localhost/../secret.txt",
      "/../../../../../../../../etc/passwd",
      "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/etc/passwd",
      "/escape-dir/secret.txt",
      "secret.txt",
      "/%00",
      "/hello.txt%00.html",
      "/%zz",
      "/%2",
  };
  for (const std::string& target : targets) {
    INFO(target);
    Response response = once(server.port(), get(target));
    CHECK((response.status == 400 || response.status == 403 || response.status == 404));
    CHECK(response.body.find(secret) == std::string::npos);
    CHECK(response.body.find("root:") == std::string::npos);
  }
  // A symlink out of the root is refused.
  Response link = once(server.port(), get("/escape.txt"));
  CHECK((link.status == 403 || link.status == 404));
  CHECK(link.body.find(secret) == std::string::npos);
  // The server is still fine.
  CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
  stop_cleanly(server);
}

TEST_CASE("serve: other methods get 405, malformed requests 400", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  for (const std::string method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"}) {
    INFO(method);
    Response response =
        once(server.port(), method + " /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    CHECK(response.status == 405);
    CHECK(response.header("allow") == "GET, HEAD");
  }
  const std::vector<std::pair<std::string, int>> cases{
      {"garbage\r\n\r\n", 400},
      {"GET /hello.txt\r\n\r\n", 400},                       // HTTP/0.9
      {"GET /hello.txt HTTP/1.1\r\n\r\n", 400},              // no Host
      {"GET  /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", 400},  // two spaces
      {"GET /hello.txt HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost : a\r\n\r\n", 400},  // space before the colon
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},  // a bare CR
      {"GET /hello.txt HTTP/9.9\r\nHost: a\r\n\r\n", 505},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
      {"GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n", 413},
  };
  for (const auto& [request, status] : cases) {
    INFO(request);
    TLSSocket socket = connect(server.port());
    Response response = roundtrip(socket, request);
    CHECK(response.status == status);
    CHECK(response.header("connection") == "close");
    CHECK(closed_by_server(socket));
  }
  // A GET may carry a (small) body: it is skipped, and the connection goes on.
  TLSSocket socket = connect(server.port());
  CHECK(roundtrip(socket, get("/hello.txt", "Content-Length: 5\r\n") + "12345").body == "hello\n");
  CHECK(roundtrip(socket, get("/a.txt")).body == "content of a.txt");
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: oversized request lines and headers are refused", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  SECTION("a 10 KiB request line gets 414") {
    Response response = once(server.port(), get("/" + std::string(10 * 1024, 'a')));
    CHECK(response.status == 414);
  }
  SECTION("a 40 KiB header gets 431") {
    Response response = once(server.port(), get("/hello.txt", "X-Big: " + std::string(40 * 1024, 'b') + "\r\n"));
    CHECK(response.status == 431);
  }
  SECTION("200 header fields get 431") {
    std::string headers;
    for (int i = 0; i < 200; ++i) headers += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(once(server.port(), get("/hello.txt", headers)).status == 431);
  }
  SECTION("a head that never ends is cut off at the limit, not buffered forever") {
    TLSSocket socket = connect(server.port());
    socket.write("GET /hello.txt HTTP/1.1\r\nHost: a\r\n");
    std::string line(1000, 'x');
    line += "\r\n";
    Response response;
    try {
      for (int i = 0; i < 1000; ++i) socket.write("X-" + std::to_string(i) + ": " + line);
    } catch (const std::exception&) {
      // The server may close while we are still writing; its answer is already on its way.
    }
    CHECK(read_response(socket).status == 431);
  }
  // The server is still fine.
  CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
  stop_cleanly(server);
}

TEST_CASE("serve: the access log has a line per request", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());
  (void)roundtrip(socket, get("/hello.txt"));
  (void)roundtrip(socket, get("/missing"));
  (void)roundtrip(socket, "HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", true);
  socket.close();
  (void)once(server.port(), "GET /\"quoted\x01 HTTP/1.1\r\nHost: a\r\n\r\n");
  const std::string prefix = R"(127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] )";
  CHECK(log_shows(server, std::regex(prefix + R"("GET /hello\.txt HTTP/1\.1" 200 6 sni=localhost\n)")));
  CHECK(log_shows(server, std::regex(prefix + R"("GET /missing HTTP/1\.1" 404 \d+ sni=localhost\n)")));
  CHECK(log_shows(server, std::regex(prefix + R"("HEAD /a\.txt HTTP/1\.1" 200 0 sni=localhost\n)")));
  // Bytes from the network are escaped: a client cannot forge log lines.
  CHECK(log_shows(server, std::regex(prefix + R"("GET /\\"quoted\\x01 HTTP/1\.1" 400 \d+ sni=localhost\n)")));
  stop_cleanly(server);
}

TEST_CASE("serve --echo: lines come back", "[serve]") {
  ServerProcess server = start_serve({"--echo"});
  TLSSocket socket = connect(server.port());
  socket.write("hello\n");
  CHECK(socket.read_line() == "hello\n");
  socket.write("two\nlines\n");
  CHECK(socket.read_line() == "two\n");
  CHECK(socket.read_line() == "lines\n");
  socket.write("in ");
  socket.write("pieces\r\n");
  CHECK(socket.read_line() == "in pieces\r\n");
  std::string long_line(100 * 1024, 'z');
  socket.write(long_line + "\n");
  CHECK(socket.read_exactly(long_line.size() + 1) == long_line + "\n");
  socket.close();
  CHECK(log_shows(server, std::regex(R"("ECHO 5 lines" - \d+ sni=localhost)")));
  stop_cleanly(server);
}

TEST_CASE("serve: several --cert/--key pairs are chosen by SNI", "[serve]") {
  Site site;
  ServerProcess server = start_serve({"--cert", cert("localhost-chain.pem"), "--key", cert("localhost.key"), "--cert",
                                      cert("wildcard-chain.pem"), "--key", cert("wildcard.key"), site.root().string()});
  {
    TLSSocket socket = connect(server.port(), "a.example.test");
    CHECK(socket.certificate().subject() == "CN=*.example.test");
    CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  }
  {
    TLSSocket socket = connect(server.port(), "localhost");
    CHECK(socket.certificate().subject() == "CN=localhost");
  }
  {
    // No SNI (an IP literal is never sent): the first pair is the default.
    TLSSession::Options options;
    options.manual_validation = true;
    TLSSocket socket = connect(server.port(), "127.0.0.1", std::make_shared<TLSSession>(options));
    CHECK(socket.certificate().subject() == "CN=localhost");
  }
  {
    // An unknown name gets the default too, which then fails verification as it should.
    try {
      TLSSocket socket = connect(server.port(), "other.invalid");
      FAIL("connected although the certificate does not name other.invalid");
    } catch (const TLSVerificationError& error) {
      CHECK(std::string(error.what()).find("does not match") != std::string::npos);
    }
  }
  CHECK(log_shows(server, std::regex(R"("GET /hello\.txt HTTP/1\.1" 200 6 sni=a\.example\.test)")));
  stop_cleanly(server);
}

TEST_CASE("serve --client-auth required refuses clients without a certificate", "[serve]") {
  Site site;
  ServerProcess server =
      start_serve({"--client-auth", "required", "--client-ca", cert("root-ca.pem"), site.root().string()});
  try {
    TLSSocket socket = connect(server.port());
    // TLS 1.3 clients learn of the refusal on their first read.
    (void)roundtrip(socket, get("/hello.txt"));
    FAIL("a client without a certificate was served");
  } catch (const TLSError& error) {
    CHECK(std::string(error.what()) == "TLS handshake failed - client authentication required");
  }
  TLSSocket socket = connect(server.port(), "localhost", trusting_session(true));
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  CHECK(log_shows(server,
                  std::regex(R"("GET /hello\.txt HTTP/1\.1" 200 6 sni=localhost client="CN=tlsock Test Client")")));
  stop_cleanly(server);
}

TEST_CASE("serve --client-auth optional serves clients with and without a certificate", "[serve]") {
  Site site;
  ServerProcess server =
      start_serve({"--client-auth", "optional", "--client-ca", cert("root-ca.pem"), site.root().string()});
  CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
  TLSSocket socket = connect(server.port(), "localhost", trusting_session(true));
  CHECK(roundtrip(socket, get("/a.txt")).body == "content of a.txt");
  socket.close();
  CHECK(
      log_shows(server, std::regex(R"("GET /a\.txt HTTP/1\.1" 200 \d+ sni=localhost client="CN=tlsock Test Client")")));
  stop_cleanly(server);
}

TEST_CASE("serve: 8 concurrent clients x 20 requests all succeed", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  auto session = trusting_session();  // shared: resumption across threads
  constexpr int threads = 8, requests = 20;
  std::atomic<int> succeeded{0};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> clients;
  clients.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      try {
        std::optional<TLSSocket> socket;
        for (int i = 0; i < requests; ++i) {
          // A new connection every fifth request; keep-alive in between.
          if (i % 5 == 0) socket.emplace(connect(server.port(), "localhost", session));
          const bool large = (i + t) % 4 == 0;
          socket->write(get(large ? "/big.bin" : "/hello.txt"));
          std::string status = socket->read_line();
          std::string headers = socket->read_until("\r\n\r\n");
          std::string expected = large ? big : "hello\n";
          std::string length = "Content-Length: " + std::to_string(expected.size()) + "\r\n";
          std::string body = socket->read_exactly(expected.size());
          if (status == "HTTP/1.1 200 OK\r\n" && headers.find(length) != std::string::npos && body == expected)
            ++succeeded;
          else
            throw std::runtime_error("unexpected response: " + status);
        }
      } catch (const std::exception& error) {
        std::lock_guard lock(errors_mutex);
        errors.push_back("client " + std::to_string(t) + ": " + error.what());
      }
    });
  }
  for (std::thread& client : clients) client.join();
  for (const std::string& error : errors) UNSCOPED_INFO(error);
  CHECK(errors.empty());
  CHECK(succeeded == threads * requests);
  stop_cleanly(server);
}

TEST_CASE("serve --workers 1: an idle keep-alive connection does not starve the next client", "[serve]") {
  Site site;
  ServerProcess server = start_serve({"--workers", "1", site.root().string()});
  TLSSocket idle = connect(server.port());
  CHECK(roundtrip(idle, get("/hello.txt")).body == "hello\n");
  auto start = std::chrono::steady_clock::now();
  CHECK(once(server.port(), get("/a.txt")).body == "content of a.txt");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  stop_cleanly(server);
}

TEST_CASE("serve: a client that never finishes its handshake is dropped after --handshake-timeout", "[serve]") {
  Site site;
  ServerProcess server = start_serve({"--handshake-timeout", "0.5", site.root().string()});
  UniqueFd silent = connect_loopback(server.port());
  auto start = std::chrono::steady_clock::now();
  std::string received = read_until_eof(silent.get(), 5s);
  CHECK(received.empty());
  CHECK(std::chrono::steady_clock::now() - start < 4s);
  CHECK(log_shows(server, std::regex("handshake.*timed out")));
  // Others are served meanwhile and after.
  CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
  stop_cleanly(server);
}

TEST_CASE("serve: SIGTERM and SIGINT end it cleanly, also with clients connected", "[serve]") {
  Site site;
  SECTION("SIGTERM with an idle keep-alive connection and a half-sent request") {
    ServerProcess server = start_serve({site.root().string()});
    TLSSocket idle = connect(server.port());
    CHECK(roundtrip(idle, get("/hello.txt")).body == "hello\n");
    TLSSocket half = connect(server.port());
    half.write("GET /hello.txt HTTP/1.1\r\n");
    auto start = std::chrono::steady_clock::now();
    stop_cleanly(server);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(closed_by_server(idle));
  }
  SECTION("SIGINT") {
    ServerProcess server = start_serve({site.root().string()});
    CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
    REQUIRE(::kill(server.pid(), SIGINT) == 0);
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!server.exited() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    CHECK(server.exit_description() == "exit status 0");
    CHECK(server.log().find("stopped\n") != std::string::npos);
  }
}

TEST_CASE("serve --port 0 picks a free port and prints it first", "[serve]") {
  Site site;
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args{cli, "serve", "--port", "0", site.root().string()};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, cli.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  UniqueFd output(out[0]);
  REQUIRE(spawned == 0);
  struct Reaper {
    pid_t pid;
    int status = -1;
    bool reaped = false;
    bool wait(std::chrono::milliseconds timeout) {
      auto deadline = std::chrono::steady_clock::now() + timeout;
      while (!reaped) {
        if (::waitpid(pid, &status, WNOHANG) == pid)
          reaped = true;
        else if (std::chrono::steady_clock::now() >= deadline)
          return false;
        else
          std::this_thread::sleep_for(10ms);
      }
      return true;
    }
    ~Reaper() {
      if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{pid};

  std::string first_line;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (first_line.find('\n') == std::string::npos && wait_fd(output.get(), POLLIN, deadline)) {
    char c;
    if (::read(output.get(), &c, 1) != 1) break;
    first_line.push_back(c);
  }
  std::smatch match;
  REQUIRE(std::regex_match(first_line, match, std::regex(R"(listening on https://127\.0\.0\.1:(\d+)/\n)")));
  int port = std::stoi(match[1]);
  CHECK(port > 0);
  CHECK(port != 8443);
  CHECK(once(static_cast<std::uint16_t>(port), get("/hello.txt")).body == "hello\n");

  REQUIRE(::kill(pid, SIGTERM) == 0);
  REQUIRE(reaper.wait(5s));
  CHECK(WIFEXITED(reaper.status));
  CHECK(WEXITSTATUS(reaper.status) == 0);
  std::string rest;  // a pipe: read_until_eof() is for sockets
  deadline = std::chrono::steady_clock::now() + 2s;
  char buffer[256];
  for (ssize_t n = 1; n > 0 && wait_fd(output.get(), POLLIN, deadline);) {
    n = ::read(output.get(), buffer, sizeof buffer);
    if (n > 0) rest.append(buffer, static_cast<std::size_t>(n));
  }
  INFO(rest);
  CHECK(rest.ends_with("stopped\n"));
}

TEST_CASE("serve: bad arguments fail with the documented exit codes", "[serve]") {
  Site site;
  CHECK(run_program({cli, "serve", "--cert", cert("localhost-chain.pem"), site.root().string()}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--client-auth", "required", site.root().string()}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--client-auth", "sometimes"}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--workers", "0"}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--port", "0", (site.root() / "no-such-dir").string()}).exit_code == 7);
  CHECK(run_program({cli, "serve", "--port", "0", "--cert", "/no/such.pem", "--key", "/no/such.key"}).exit_code == 7);
  // A port already taken is a network error.
  ServerProcess server = start_serve({site.root().string()});
  ProgramResult taken = run_program({cli, "serve", "--port", std::to_string(server.port()), site.root().string()});
  INFO(taken.output);
  CHECK(taken.exit_code == 3);
  stop_cleanly(server);
}

TEST_CASE("serve works with curl too (when curl is installed)", "[serve][interop]") {
  if (find_program("curl").empty()) TLSOCK_SKIP("curl is not installed");
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  std::string base = "https://localhost:" + std::to_string(server.port());
  ProgramResult result = run_program({"curl", "-sS", "--noproxy", "*", "--cacert", cert("root-ca.pem"),
                                      base + "/hello.txt", base + "/a.json", base + "/with%20space.txt"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output == "hello\ncontent of a.jsonspaced\n");
  stop_cleanly(server);
}

TEST_CASE("demo: serves, fetches verified, shows the facts and a resumed session (TLS 1.3 on 3.6), exits 0", "[demo]") {
  ProgramResult result = run_program({cli, "demo"}, 30s);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(std::regex_search(result.output, std::regex(R"(protocol +TLSv1\.[23]\n)")));
  CHECK(std::regex_search(result.output, std::regex(R"(cipher suite +TLS_[A-Z0-9_]+\n)")));
  CHECK(std::regex_search(result.output, std::regex(R"(certificate +CN=localhost\n)")));
  CHECK(std::regex_search(result.output, std::regex(R"(HTTP/1\.1 200 OK, \d+ bytes)")));
  CHECK(result.output.find("reused") != std::string::npos);
  CHECK(result.output.find("Server stopped") != std::string::npos);
  CHECK(std::regex_search(result.output, std::regex("  Library tlsock " + std::string(version()) +
                                                    "\n {10}[Mm]bed TLS " + TLSOCK_MBEDTLS_VERSION + "\n")));

  // On mbedTLS 3.6, TLS 1.3 and a resumption by ticket; on 2.28, TLS 1.2 (TLSOCK_MBEDTLS_TLS13:
  // what Meson found in the mbedTLS headers, test/meson.build).
  auto count = [&](const std::string& pattern) {
    std::regex re(pattern);
    return std::distance(std::sregex_iterator(result.output.begin(), result.output.end(), re), std::sregex_iterator());
  };
  std::string newest = TLSOCK_MBEDTLS_TLS13 ? "TLSv1\\.3" : "TLSv1\\.2";
  CHECK(count("protocol +" + newest + "\n") == 2);  // both connections
  CHECK(count("protocol +") == 2);
  if (TLSOCK_MBEDTLS_TLS13) {
    // The first connection took the ticket in (it came after the handshake, ahead of the
    // response); the second resumed with it, the server's certificate not sent again.
    CHECK(count("session +session ID: not used, session ticket: new\n") == 1);
    CHECK(count("session +session ticket: reused \\(the server did not send its certificate again\\)\n") == 1);
    CHECK(count("cipher suite +TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)\n") == 2);
    CHECK(result.output.find("No TLS 1.3") == std::string::npos);
  } else {
    CHECK(count("session +session (ID|ticket): reused \\(the server did not send its certificate again\\)\n") == 1);
    CHECK(count("No TLS 1\\.3: this mbedTLS line has none") == 1);
  }
}
