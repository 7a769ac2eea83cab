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
    for (const char* name : {"a.html", "a.txt",        "a.css",       "a.js",      "a.json", "a.png",  "a.jpg", "a.svg",
                             "a.pdf",  "a.unknownext", "noextension", "UPPER.PNG", "a.mp4",  "a.webm", "a.mp3", "a.ogg",
                             "a.zip",  "a.gz",         "a.tar",       "a.xz",      "a.wasm", "a.woff2"})
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

// With the test PKI's localhost identity unless args name a --cert (or self_signed: none, so
// serve makes its own).
ServerProcess start_serve(std::vector<std::string> args, bool self_signed = false) {
  std::uint16_t port = free_port();
  std::vector<std::string> argv{cli, "serve", "--port", std::to_string(port)};
  if (!self_signed && std::find(args.begin(), args.end(), "--cert") == args.end())
    argv.insert(argv.end(), {"--cert", cert("localhost-chain.pem"), "--key", cert("localhost.key")});
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
  if (response.status == 304) return response;  // no body, and no length to say so
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
      {"a.mp4", "video/mp4"},
      {"a.webm", "video/webm"},
      {"a.mp3", "audio/mpeg"},
      {"a.ogg", "audio/ogg"},
      {"a.zip", "application/zip"},
      {"a.gz", "application/gzip"},
      {"a.tar", "application/x-tar"},
      {"a.xz", "application/x-xz"},
      {"a.wasm", "application/wasm"},
      {"a.woff2", "font/woff2"},
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
  CHECK(roundtrip(socket, get("/does-not-exist.html")).status == 404);
  CHECK(roundtrip(socket, get("/hello.txt/")).status == 404);
  // A 404 keeps the connection usable.
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: a directory without index.html is listed, names escaped, nothing outside the root", "[serve]") {
  Site site;
  fs::path list = site.root() / "list";
  fs::create_directories(list / "sub dir");
  write_file(list / "<b>&\"x\" 'y'.txt", "tricky");
  write_file(list / "plain.txt", "plain");
  fs::create_symlink(site.root().parent_path() / "secret.txt", list / "outside.txt");
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());

  Response page = roundtrip(socket, get("/list/"));
  CHECK(page.status == 200);
  CHECK(page.header("content-type") == "text/html; charset=utf-8");
  INFO(page.body);
  CHECK(page.body.find("<title>Index of /list/</title>") != std::string::npos);
  CHECK(
      page.body.find(R"(<a href="%3Cb%3E%26%22x%22%20%27y%27.txt">&lt;b&gt;&amp;&quot;x&quot; &#39;y&#39;.txt</a>)") !=
      std::string::npos);
  CHECK(page.body.find(R"(<a href="sub%20dir/">sub dir/</a>)") != std::string::npos);
  CHECK(page.body.find(R"(<a href="plain.txt">plain.txt</a>)") != std::string::npos);
  CHECK(page.body.find(R"(<a href="../">)") != std::string::npos);
  CHECK(page.body.find("outside") == std::string::npos);  // a symlink out of the root is not shown
  CHECK(page.body.find("<b>") == std::string::npos);
  // The links work.
  CHECK(roundtrip(socket, get("/list/%3Cb%3E%26%22x%22%20%27y%27.txt")).body == "tricky");
  CHECK(roundtrip(socket, get("/list/sub%20dir/")).status == 200);
  // An empty directory lists nothing but its parent; HEAD sends the length only.
  Response empty = roundtrip(socket, "HEAD /empty/ HTTP/1.1\r\nHost: localhost\r\n\r\n", true);
  CHECK(empty.status == 200);
  CHECK(std::stoul(empty.header("content-length")) > 0);
  socket.close();
  stop_cleanly(server);
}

TEST_CASE("serve: Range gives 206 with Content-Range, or 416; ETag and Last-Modified give 304", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket socket = connect(server.port());
  const std::string size = std::to_string(big.size());

  Response whole = roundtrip(socket, get("/big.bin"));
  CHECK(whole.status == 200);
  CHECK(whole.header("accept-ranges") == "bytes");
  const std::string etag = whole.header("etag");
  const std::string last_modified = whole.header("last-modified");
  CHECK(std::regex_match(etag, std::regex(R"("[0-9a-f]+-[0-9a-f]+")")));
  CHECK(std::regex_match(last_modified, std::regex(R"([A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)")));

  Response part = roundtrip(socket, get("/big.bin", "Range: bytes=1000-1999\r\n"));
  CHECK(part.status == 206);
  CHECK(part.header("content-range") == "bytes 1000-1999/" + size);
  CHECK(part.header("content-length") == "1000");
  CHECK(part.body == big.substr(1000, 1000));
  part = roundtrip(socket, get("/big.bin", "Range: bytes=-10\r\n"));
  CHECK(part.status == 206);
  CHECK(part.body == big.substr(big.size() - 10));
  part = roundtrip(socket, get("/big.bin", "Range: bytes=300000-\r\n"));
  CHECK(part.status == 206);
  CHECK(part.body == big.substr(300000));
  part = roundtrip(socket, get("/hello.txt", "Range: bytes=2-100\r\n"));
  CHECK(part.header("content-range") == "bytes 2-5/6");
  CHECK(part.body == "llo\n");

  Response unsatisfiable = roundtrip(socket, get("/hello.txt", "Range: bytes=6-\r\n"));
  CHECK(unsatisfiable.status == 416);
  CHECK(unsatisfiable.header("content-range") == "bytes */6");
  // Several ranges, another unit, nonsense: the whole file (the RFC lets a server ignore Range).
  for (const char* range : {"bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=x-"}) {
    INFO(range);
    Response full = roundtrip(socket, get("/hello.txt", std::string("Range: ") + range + "\r\n"));
    CHECK(full.status == 200);
    CHECK(full.body == "hello\n");
  }
  // If-Range: the range only while the client's copy is current.
  CHECK(roundtrip(socket, get("/big.bin", "Range: bytes=0-9\r\nIf-Range: " + etag + "\r\n")).status == 206);
  CHECK(roundtrip(socket, get("/big.bin", "Range: bytes=0-9\r\nIf-Range: \"old\"\r\n")).status == 200);

  Response cached = roundtrip(socket, get("/big.bin", "If-None-Match: \"other\", " + etag + "\r\n"));
  CHECK(cached.status == 304);
  CHECK(cached.header("etag") == etag);
  CHECK(cached.headers.count("content-length") == 0);
  CHECK(roundtrip(socket, get("/big.bin", "If-None-Match: W/" + etag + "\r\n")).status == 304);
  CHECK(roundtrip(socket, get("/big.bin", "If-None-Match: \"other\"\r\n")).body == big);
  CHECK(roundtrip(socket, get("/big.bin", "If-Modified-Since: " + last_modified + "\r\n")).status == 304);
  CHECK(roundtrip(socket, get("/big.bin", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")).status == 200);
  // If-None-Match wins over If-Modified-Since.
  CHECK(roundtrip(socket, get("/big.bin", "If-None-Match: \"other\"\r\nIf-Modified-Since: " + last_modified + "\r\n"))
            .status == 200);
  // The connection is still in step after all that.
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

TEST_CASE("serve: 50 clients dribbling their request heads do not hold up a normal request", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  constexpr int slow_clients = 50;
  std::vector<TLSSocket> slow;
  slow.reserve(slow_clients);
  for (int i = 0; i < slow_clients; ++i) {
    slow.push_back(connect(server.port()));
    slow.back().write("GET /hello.txt HTTP/1.1\r\n");
  }
  // They go on sending a header byte at a time while the normal requests are made.
  std::atomic<bool> done{false};
  std::thread dribbler([&] {
    try {
      for (int round = 0; !done && round < 200; ++round) {
        for (TLSSocket& socket : slow) socket.write(round % 2 == 0 ? "X" : "-");
        std::this_thread::sleep_for(20ms);
      }
    } catch (const std::exception&) {
      // The server let a slow client go: the normal requests below say whether that mattered.
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& thread;
    ~Join() {
      done = true;
      if (thread.joinable()) thread.join();
    }
  } join{done, dribbler};
  for (int i = 0; i < 5; ++i) CHECK(once(server.port(), get("/a.txt")).body == "content of a.txt");
  // Nor a long download: a keep-alive client fetches big.bin while the others dribble.
  TLSSocket downloader = connect(server.port());
  CHECK(roundtrip(downloader, get("/big.bin")).body == big);
  done = true;
  dribbler.join();
  stop_cleanly(server);
}

TEST_CASE("serve --max-connections: past the cap a client gets 503 at once, not a place in a queue", "[serve]") {
  Site site;
  ServerProcess server = start_serve({"--max-connections", "2", site.root().string()});
  TLSSocket first = connect(server.port());
  CHECK(roundtrip(first, get("/hello.txt")).body == "hello\n");
  TLSSocket second = connect(server.port());
  CHECK(roundtrip(second, get("/hello.txt")).body == "hello\n");
  TLSSocket third = connect(server.port());
  Response refused = read_response(third);  // before it asks anything
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(closed_by_server(third));
  CHECK(log_shows(server, std::regex(R"(" 503 \d+ .*--max-connections 2 reached)")));
  // A freed place is taken again.
  first.close();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    TLSSocket next = connect(server.port());
    next.write(get("/a.txt"));
    served = read_response(next).status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  CHECK(served);
  stop_cleanly(server);
}

TEST_CASE("serve --header-timeout and --idle-timeout end slow and idle connections", "[serve]") {
  Site site;
  ServerProcess server = start_serve({"--header-timeout", "0.3", "--idle-timeout", "0.3", site.root().string()});
  SECTION("a head still arriving after --header-timeout gets 408") {
    TLSSocket slow = connect(server.port());
    slow.write("GET /hello.txt HTTP/1.1\r\n");
    Response response;
    for (int i = 0; i < 100 && response.status == 0; ++i) {
      if (slow.select_read(50ms)) {
        response = read_response(slow);
      } else {
        try {
          slow.write("X");  // a header byte at a time, never the end of the head
        } catch (const TLSError&) {
          break;
        }
      }
    }
    CHECK(response.status == 408);
  }
  SECTION("an idle keep-alive connection is closed after --idle-timeout") {
    TLSSocket idle = connect(server.port());
    CHECK(roundtrip(idle, get("/hello.txt")).body == "hello\n");
    CHECK(closed_by_server(idle));
  }
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
  std::vector<std::string> args{cli,
                                "serve",
                                "--port",
                                "0",
                                "--cert",
                                cert("localhost-chain.pem"),
                                "--key",
                                cert("localhost.key"),
                                site.root().string()};
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
  CHECK(run_program({cli, "serve", "--max-connections", "0"}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--header-timeout", "0"}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--idle-timeout", "-1"}).exit_code == 2);
  CHECK(run_program({cli, "serve", "--port", "0", (site.root() / "no-such-dir").string()}).exit_code == 7);
  CHECK(run_program({cli, "serve", "--port", "0", "--cert", "/no/such.pem", "--key", "/no/such.key"}).exit_code == 7);
  // A port already taken is a network error.
  ServerProcess server = start_serve({site.root().string()});
  ProgramResult taken =
      run_program({cli, "serve", "--port", std::to_string(server.port()), "--cert", cert("localhost-chain.pem"),
                   "--key", cert("localhost.key"), site.root().string()});
  INFO(taken.output);
  CHECK(taken.exit_code == 3);
  stop_cleanly(server);
}

TEST_CASE("serve offers ALPN http/1.1 (to tlsock and to openssl s_client)", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  TLSSession::Options options;
  options.extra_trust_roots = {TrustRoot(certs_dir() / "root-ca.pem")};
  options.alpn_protocols = {"h2", "http/1.1"};
  TLSSocket socket = TLSSocket::wrap(connect_tcp("127.0.0.1", server.port(), 5s), "localhost",
                                     std::make_shared<TLSSession>(options), 10s);
  CHECK(socket.alpn_protocol() == "http/1.1");
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  ProgramResult openssl = run_program({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                       "-servername", "localhost", "-alpn", "http/1.1"});
  INFO(openssl.output);
  CHECK(openssl.output.find("ALPN protocol: http/1.1") != std::string::npos);
  stop_cleanly(server);
}

TEST_CASE("serve answers plain HTTP on its TLS port with a 400 that says so", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  UniqueFd plain = connect_loopback(server.port());
  const std::string request = "GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
  send_all(plain.get(), request);
  std::string answer = read_until_eof(plain.get(), 5s);
  INFO(answer);
  CHECK(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"));
  CHECK(answer.find("Connection: close\r\n") != std::string::npos);
  CHECK(answer.ends_with("\r\n\r\n400 Bad Request: the plain HTTP request was sent to an HTTPS port; use https://\n"));
  CHECK(
      log_shows(server, std::regex("dropped a client: TLS handshake with 127\\.0\\.0\\.1:\\d+ failed: the client sent "
                                   "clear text \\(plain HTTP\\?\\), not a TLS ClientHello")));
  // TLS clients are served as before.
  CHECK(once(server.port(), get("/hello.txt")).body == "hello\n");
  stop_cleanly(server);
}

TEST_CASE("serve: Ctrl-C says it is draining; a second Ctrl-C exits at once", "[serve]") {
  Site site;
  // A download the client does not read holds the drain (its write waits for the client).
  write_file(site.root() / "huge.bin", std::string(32 * 1024 * 1024, 'x'));
  ServerProcess server = start_serve({site.root().string()});
  TLSSocket stalled = connect(server.port());
  stalled.write(get("/huge.bin"));
  (void)stalled.read(1);  // the response has started
  REQUIRE(::kill(server.pid(), SIGINT) == 0);
  CHECK(log_shows(server, std::regex("draining 1 connections; Ctrl-C again to exit now\n")));
  CHECK_FALSE(server.exited());
  REQUIRE(::kill(server.pid(), SIGINT) == 0);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!server.exited() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  INFO(server.log());
  CHECK(server.exit_description() == "exit status 130");
  CHECK(server.log().find("exiting now\n") != std::string::npos);
  CHECK(server.log().find("stopped\n") == std::string::npos);
}

TEST_CASE("serve without --cert makes a self-signed localhost identity and prints its fingerprint", "[serve]") {
  Site site;
  ServerProcess server = start_serve({site.root().string()}, true);
  REQUIRE(log_shows(server, std::regex("SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}\n")));
  std::smatch match;
  std::string log = server.log();
  REQUIRE(std::regex_search(log, match, std::regex("SHA-256 fingerprint: ([0-9A-F:]+)\n")));
  std::string printed = match[1];
  printed.erase(std::remove(printed.begin(), printed.end(), ':'), printed.end());
  for (char& c : printed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(log.find("certs") == std::string::npos);  // nothing of the source tree's test PKI

  // Not trusted as such; pinned by the fingerprint it is the certificate we get, for each name.
  CHECK_THROWS_AS(connect(server.port()), TLSVerificationError);
  auto pinning = std::make_shared<TLSSession>(default_protocols(), true);
  TLSSocket socket = TLSSocket::wrap(connect_tcp("127.0.0.1", server.port(), 5s), "localhost", pinning, 10s);
  const Certificate& leaf = socket.certificate();
  CHECK(leaf.sha256_fingerprint() == printed);
  CHECK(leaf.valid_domains() == std::vector<std::string>{"localhost"});
  CHECK(leaf.valid_ips() == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK(leaf.self_signed());
  CHECK_FALSE(leaf.is_ca());
  CHECK(leaf.key_algorithm() == "ec");
  CHECK(leaf.key_bits() == 256);
  CHECK(roundtrip(socket, get("/hello.txt")).body == "hello\n");
  socket.close();
  // openssl sees the same: a self-signed certificate for localhost.
  ProgramResult shown = run_program({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(server.port()),
                                     "-servername", "localhost", "-verify_hostname", "localhost"});
  INFO(shown.output);
  CHECK(std::regex_search(shown.output, std::regex("Verify return code: 18 \\(self.signed certificate\\)")));
  CHECK(std::regex_search(shown.output, std::regex("subject=CN ?= ?localhost")));
  stop_cleanly(server);

  // A fresh one each start.
  ServerProcess again = start_serve({site.root().string()}, true);
  REQUIRE(log_shows(again, std::regex("SHA-256 fingerprint: ")));
  CHECK(again.log().find(match[1].str()) == std::string::npos);
  stop_cleanly(again);
}

TEST_CASE("generate_self_signed validates its arguments", "[serve]") {
  CHECK_THROWS_MATCHES(generate_self_signed({}), std::invalid_argument,
                       Catch::Matchers::Message("names: must not be empty"));
  CHECK_THROWS_MATCHES(generate_self_signed({"bad name,CN=x"}), std::invalid_argument,
                       Catch::Matchers::Message("names: \"bad name,CN=x\" is neither a host name nor an IP address"));
  CHECK_THROWS_MATCHES(generate_self_signed({"localhost"}, std::chrono::seconds(0)), std::invalid_argument,
                       Catch::Matchers::Message("validity: 0s: must be positive"));
  CertificateChain chain = generate_self_signed({"example.test", "10.1.2.3"}, std::chrono::hours(1));
  CHECK(chain.leaf().valid_domains() == std::vector<std::string>{"example.test"});
  CHECK(chain.leaf().valid_ips() == std::vector<std::string>{"10.1.2.3"});
  CHECK(chain.leaf().not_after() - chain.leaf().not_before() == std::chrono::hours(2));
}

TEST_CASE("serve --cipher-suites limits the suites; an unknown name is a one-line usage error", "[serve]") {
  Site site;
  const std::string suite = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256";
  // With TLS 1.3 a TLS 1.3 suite too, or that version would have none.
  const std::string suites = TLSOCK_MBEDTLS_TLS13 ? "TLS_AES_128_GCM_SHA256," + suite : suite;
  ServerProcess server = start_serve({"--cipher-suites", suites, site.root().string()});
  TLSSession::Options options;
  options.extra_trust_roots = {TrustRoot(certs_dir() / "root-ca.pem")};
  options.protocols = {Protocol::TLSv1_2};
  TLSSocket socket = TLSSocket::wrap(connect_tcp("127.0.0.1", server.port(), 5s), "localhost",
                                     std::make_shared<TLSSession>(options), 10s);
  CHECK(socket.cipher_suite() == suite);
  socket.close();
  stop_cleanly(server);

  ProgramResult unknown = run_program({cli, "serve", "--cipher-suites", "TLS_NO_SUCH_SUITE", site.root().string()});
  CHECK(unknown.exit_code == 2);
  CHECK(std::regex_match(unknown.output, std::regex("tlsock: --cipher-suites: TLS_NO_SUCH_SUITE is not a cipher suite "
                                                    "the linked [Mm]bed ?TLS [0-9.]+ supports\n")));
}

TEST_CASE("serve works with curl too (when curl is installed)", "[serve][interop]") {
  if (find_program("curl").empty()) TLSOCK_SKIP("curl is not installed");
  Site site;
  ServerProcess server = start_serve({site.root().string()});
  std::string base = "https://localhost:" + std::to_string(server.port());
  // Ranges and the plain-HTTP answer, as curl sees them.
  ProgramResult range = run_program({"curl", "-sS", "--noproxy", "*", "--cacert", cert("root-ca.pem"), "-r", "1-3",
                                     "-w", " %{http_code}", base + "/hello.txt"});
  CHECK(range.output == "ell 206");
  ProgramResult plain = run_program({"curl", "-sS", "--noproxy", "*", "-w", " %{http_code}",
                                     "http://localhost:" + std::to_string(server.port()) + "/"});
  INFO(plain.output);
  CHECK(plain.output.find("plain HTTP request was sent to an HTTPS port") != std::string::npos);
  CHECK(plain.output.ends_with(" 400"));
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
