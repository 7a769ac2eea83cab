// `tlsock fetch` driven as a program (TLSOCK_CLI): exact bodies from `openssl s_server -WWW`,
// -o (a file replaced atomically; links, FIFOs and descriptors written through), -i, --json,
// every exit code, keep-alive and session reuse, redirects, chunked bodies, truncations,
// --resolve/--connect-to, and the progress bar on a terminal.
//
// Responses s_server cannot give (Content-Length, chunked with trailers, redirects, keep-alive,
// 404, malformed or cut-short answers) come from ScriptServer: a small HTTPS server built on the
// library's own TLSListener that answers each request path with a scripted handler.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/plain_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;
using Json = nlohmann::json;

namespace {

// --- a scripted HTTPS server ------------------------------------------------------------

struct HttpRequest {
  std::size_t connection = 0;  // 1 for the first connection the server accepted, ...
  std::string method;
  std::string target;
  std::string head;  // request line and header lines
  std::string body;

  [[nodiscard]] bool has_header(const std::string& line) const {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
  }
};

// What the server does with the connection after a handler answered.
enum class After { keep_open, close, abort };

// HTTPS on 127.0.0.1 (TLSListener, ALPN http/1.1), one thread per connection. Each request
// path has a handler that writes whatever bytes it likes; unknown paths get a 404.
class ScriptServer {
 public:
  using Handler = std::function<After(TLSSocket& socket, const HttpRequest& request)>;

  explicit ScriptServer(const std::string& chain = "localhost-chain.pem", const std::string& key = "localhost.key") {
    ServerOptions options;
    options.alpn_protocols = {"http/1.1"};
    auto certificates =
        std::make_shared<ServerCertificateChain>(CertificateChain::load(certs_dir() / chain, certs_dir() / key));
    listener_.emplace("127.0.0.1", 0, std::make_shared<ServerTLS>(certificates, options));
    thread_ = std::thread([this] { accept_loop(); });
  }
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;
  ~ScriptServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes workers blocked in a read
    }
    thread_.join();
    for (std::thread& worker : workers_) worker.join();
  }

  void on(const std::string& target, Handler handler) {
    std::lock_guard lock(mutex_);
    handlers_[target] = std::move(handler);
  }
  // Answers target with these bytes, then does `after`.
  void on(const std::string& target, std::string raw, After after = After::keep_open) {
    on(target, [raw = std::move(raw), after](TLSSocket& socket, const HttpRequest&) {
      socket.write(raw);
      return after;
    });
  }

  [[nodiscard]] std::uint16_t port() const { return listener_->port(); }
  [[nodiscard]] std::size_t connections() const { return connections_.load(); }
  [[nodiscard]] std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] std::string url(const std::string& target, const std::string& host = "localhost") const {
    return "https://" + host + ":" + std::to_string(port()) + target;
  }

 private:
  void accept_loop() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      try {
        TLSSocket socket = listener_->accept(100ms);
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        std::size_t index = ++connections_;
        open_fds_.push_back(socket.socket());
        workers_.emplace_back([this, index, socket = std::move(socket)]() mutable { serve(socket, index); });
      } catch (const std::exception&) {
        // a timeout (look at stopping_ again) or a failed handshake
      }
    }
  }

  void serve(TLSSocket& socket, std::size_t index) {
    int fd = socket.socket();
    try {
      socket.set_timeout(10s);
      for (;;) {
        HttpRequest request = read_request(socket, index);
        Handler handler;
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
          auto found = handlers_.find(request.target.substr(0, request.target.find('?')));  // by path
          if (found != handlers_.end()) handler = found->second;
        }
        After after = handler ? handler(socket, request) : not_found(socket);
        if (after == After::close) socket.close();
        if (after == After::abort) ::shutdown(fd, SHUT_RDWR);  // FIN without close_notify
        if (after != After::keep_open) break;
      }
    } catch (const std::exception&) {
      // the client went away (or the server is stopping)
    }
    std::lock_guard lock(mutex_);
    std::erase(open_fds_, fd);
  }

  static HttpRequest read_request(TLSSocket& socket, std::size_t index) {
    HttpRequest request;
    request.connection = index;
    request.head = socket.read_until("\r\n\r\n");
    std::istringstream line(request.head.substr(0, request.head.find("\r\n")));
    line >> request.method >> request.target;
    std::string lower = request.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
      request.body = socket.read_exactly(std::stoul(lower.substr(at + 17)));
    return request;
  }

  static After not_found(TLSSocket& socket) {
    socket.write("HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nno such x\n");
    return After::keep_open;
  }

  std::optional<TLSListener> listener_;
  std::atomic<std::size_t> connections_{0};
  mutable std::mutex mutex_;
  bool stopping_ = false;
  std::map<std::string, Handler> handlers_;
  std::vector<HttpRequest> requests_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread thread_;  // last: starts once everything above exists
};

// "HTTP/1.1 <status>\r\nContent-Length: n\r\n<extra>\r\n<body>"
std::string response(const std::string& status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

// --- running the program ----------------------------------------------------------------

ProgramResult fetch(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  args.insert(args.begin(), {TLSOCK_CLI, "fetch"});
  return run_program(std::move(args), timeout);
}

std::string cacert() { return "--cacert=" + (certs_dir() / "root-ca.pem").string(); }

// The JSON objects among the output's lines (stderr is interleaved with stdout).
std::vector<Json> json_lines(const std::string& output) {
  std::vector<Json> objects;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("{")) objects.push_back(Json::parse(line));
  return objects;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random());
  return out;
}

bool have_openssl() { return !find_program("openssl").empty(); }

// The tests control every variable fetch reads; the runner's own must not leak in.
const bool environment_cleared = [] {
  for (const char* name :
       {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE"})
    ::unsetenv(name);
  return true;
}();

// Sets an environment variable for the programs a test runs, and removes it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// An HTTP CONNECT proxy for PlainServer: answers 200, then relays bytes both ways between the
// client and 127.0.0.1:<the port asked for> until either side closes.
PlainServer::Handler connect_proxy(std::atomic<int>& tunnels) {
  return [&tunnels](int fd) {
    std::string request;
    char c;
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (::recv(fd, &c, 1, 0) != 1) return;
      request.push_back(c);
    }
    std::string target = request.substr(8, request.find(' ', 8) - 8);  // "CONNECT host:port HTTP/1.1"
    UniqueFd upstream = connect_loopback(static_cast<std::uint16_t>(std::stoi(target.substr(target.rfind(':') + 1))));
    send_all(fd, "HTTP/1.1 200 Connection established\r\n\r\n");
    ++tunnels;
    pollfd fds[2] = {{fd, POLLIN, 0}, {upstream.get(), POLLIN, 0}};
    char buffer[16384];
    for (;;) {
      if (::poll(fds, 2, 10'000) <= 0) return;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
        if (n <= 0) return;
        send_all(fds[1 - i].fd, std::string_view(buffer, static_cast<std::size_t>(n)));
      }
    }
  };
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

// --- s_server -WWW ----------------------------------------------------------------------

TEST_CASE("fetch from s_server -WWW: exact bytes on stdout and with -o", "[cli][fetch]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  TempDir served;
  TempDir out;
  std::string binary = random_bytes(3 * 1024 * 1024 + 17, 7);
  write_file(served.path() / "random.bin", binary);
  write_file(served.path() / "hello.txt", "hello, world\n");
  ServerProcess server = www_server(served.path());
  std::string base = "https://localhost:" + std::to_string(server.port());

  ProgramResult text = fetch({cacert(), base + "/hello.txt"});
  CHECK(text.exit_code == 0);
  CHECK(text.output == "hello, world\n");  // nothing but the body

  std::filesystem::path file = out.path() / "random.bin";
  ProgramResult result = fetch({cacert(), "-o", file.string(), base + "/random.bin"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.empty());
  CHECK(read_file(file) == binary);
  CHECK(files_in(out.path()) == std::vector<std::string>{"random.bin"});  // no temporary file left
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::others_read) !=
        std::filesystem::perms::none);  // an ordinary file, not mkstemp's 0600

  SECTION("-i shows s_server's HTTP/1.0 status line and headers first") {
    ProgramResult headers = fetch({cacert(), "-i", base + "/hello.txt"});
    CHECK(headers.exit_code == 0);
    CHECK(headers.output == "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\nhello, world\n");
  }
  SECTION("two URLs: s_server closes after each, so a second connection resumes the session") {
    ProgramResult json = fetch({cacert(), "--json", base + "/hello.txt", base + "/random.bin"});
    INFO(json.output);
    CHECK(json.exit_code == 0);
    std::vector<Json> records = json_lines(json.output);
    REQUIRE(records.size() == 2);
    CHECK(records[0]["body_bytes"] == 13);
    CHECK(records[1]["body_bytes"] == binary.size());
    CHECK(records[0]["content_length"].is_null());  // close-delimited
    CHECK(records[0]["http_version"] == "HTTP/1.0");
    CHECK(records[1]["connection"]["reused"] == false);
    Json first = records[0]["connection"];
    Json second = records[1]["connection"];
    CHECK((first["session_id"] == "new" || first["session_ticket"] == "new"));
    CHECK((second["session_id"] == "reused" || second["session_ticket"] == "reused"));
  }
}

TEST_CASE("--session-file: the next run resumes the session; the file is 0600", "[cli][fetch][sessions]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  TempDir served;
  TempDir out;
  write_file(served.path() / "hello.txt", "hello\n");
  ServerProcess server = www_server(served.path());
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/hello.txt";
  const std::string file = out / "sessions";
  // How a run's one connection began: "new", "reused" (by session ID or ticket) or "none".
  const auto resumption = [&](const ProgramResult& run) {
    std::vector<Json> records = json_lines(run.output);
    REQUIRE(records.size() == 1);
    Json c = records[0]["connection"];
    if (c["session_id"] == "reused" || c["session_ticket"] == "reused") return std::string("reused");
    if (c["session_id"] == "new" || c["session_ticket"] == "new") return std::string("new");
    return std::string("none");
  };
  const auto mode = [](const std::string& path) {
    return std::filesystem::status(path).permissions() & std::filesystem::perms::all;
  };
  const auto owner_rw = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
  const auto not_loaded = [&](const std::string& reason) {
    return "tlsock: warning: --session-file: path: \"" + file + "\": " + reason + "; starting without saved sessions\n";
  };

  ProgramResult first = fetch({cacert(), "--json", "--session-file", file, url});
  INFO(first.output);
  CHECK(first.exit_code == 0);
  CHECK(resumption(first) == "new");
  REQUIRE(std::filesystem::exists(file));
  CHECK(mode(file) == owner_rw);
  CHECK(files_in(out.path()) == std::vector<std::string>{"sessions"});  // no temporary file left

  ProgramResult second = fetch({cacert(), "--json", "--session-file", file, url});
  INFO(second.output);
  CHECK(second.exit_code == 0);
  CHECK(resumption(second) == "reused");
  CHECK(json_lines(second.output)[0]["connection"]["certificate"]["subject"] == "CN=localhost");
  CHECK(mode(file) == owner_rw);

  SECTION("a damaged file: a warning, a full handshake, and the file is good again") {
    std::string bytes = read_file(file);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
    write_file(file, bytes);
    ProgramResult damaged = fetch({cacert(), "--json", "--session-file", file, url});
    INFO(damaged.output);
    CHECK(damaged.exit_code == 0);
    CHECK(contains(damaged.output, not_loaded("damaged or truncated (the SHA-256 digest does not match)")));
    CHECK(resumption(damaged) == "new");
    ProgramResult again = fetch({cacert(), "--json", "--session-file", file, url});
    CHECK(resumption(again) == "reused");
  }
  SECTION("sessions made with --insecure are not resumed by a verifying run") {
    ProgramResult insecure = fetch({"--insecure", "--json", "--session-file", file, url});
    INFO(insecure.output);
    CHECK(insecure.exit_code == 0);
    CHECK(contains(insecure.output, not_loaded("the sessions were made with certificate verification, and this "
                                               "TLSSession has manual_validation")));
    CHECK(resumption(insecure) == "new");
    ProgramResult verifying = fetch({cacert(), "--json", "--session-file", file, url});
    INFO(verifying.output);
    CHECK(contains(verifying.output, not_loaded("the sessions were made without certificate verification "
                                                "(manual_validation), and this TLSSession verifies certificates")));
    CHECK(resumption(verifying) == "new");
  }
  SECTION("a file that cannot be written: a warning, and the fetch still succeeds") {
    ProgramResult nowhere =
        fetch({cacert(), "--json", "--session-file", (out.path() / "missing" / "sessions").string(), url});
    INFO(nowhere.output);
    CHECK(nowhere.exit_code == 0);
    CHECK(contains(nowhere.output, "tlsock: warning: --session-file: cannot write " +
                                       (out.path() / "missing" / "sessions").string() +
                                       " (creating a temporary file): No such file or directory; this run's "
                                       "sessions were not saved\n"));
  }
}

TEST_CASE("fetch without --cacert fails verification (exit 5)", "[cli][fetch]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  TempDir served;
  write_file(served.path() / "hello.txt", "hello\n");
  ServerProcess server = www_server(served.path());
  ProgramResult result = fetch({"https://localhost:" + std::to_string(server.port()) + "/hello.txt"});
  CHECK(result.exit_code == 5);
  CHECK(result.output ==
        "tlsock: Server certificate verification failed - certificate issuer not found in trusted root certificate "
        "store\n");
}

TEST_CASE("--cacert replaces the OS trust store, as in curl; --cacert-add adds to it", "[cli][fetch]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n"));
  const std::string other_root = (certs_dir() / "untrusted-root-ca.pem").string();
  const std::string test_root = (certs_dir() / "root-ca.pem").string();
  const std::string refused =
      "tlsock: Server certificate verification failed - certificate issuer not found in trusted root certificate "
      "store\n";
  // The OS trust store of the programs run here is SSL_CERT_FILE: the test root.
  ScopedEnv os_store("SSL_CERT_FILE", test_root);

  SECTION("the OS store alone trusts the server") {
    ProgramResult result = fetch({server.url("/ok")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "ok\n");
  }
  SECTION("--cacert with another root: the OS store is not consulted") {
    ProgramResult result = fetch({"--cacert", other_root, server.url("/ok")});
    CHECK(result.exit_code == 5);
    CHECK(result.output == refused);
  }
  SECTION("--cacert-add with another root keeps the OS store") {
    ProgramResult result = fetch({"--cacert-add", other_root, server.url("/ok")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "ok\n");
  }
  SECTION("--cacert and --cacert-add together: their files, without the OS store") {
    ProgramResult both = fetch({"--cacert", other_root, "--cacert-add", test_root, server.url("/ok")});
    CHECK(both.exit_code == 0);
    CHECK(both.output == "ok\n");
    ProgramResult neither = fetch({"--cacert", other_root, "--cacert-add", other_root, server.url("/ok")});
    CHECK(neither.exit_code == 5);
    CHECK(neither.output == refused);
  }
  SECTION("a --cacert-add file that does not exist exits 7") {
    const std::string missing = (certs_dir() / "missing.pem").string();
    ProgramResult result = fetch({"--cacert-add", missing, server.url("/ok")});
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: --cacert-add " + missing + ": no such file\n");
  }
  SECTION("--help says that --cacert replaces the OS store and how to add to it") {
    ProgramResult help = fetch({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(contains(help.output, "they replace the OS trust store. To add to it instead, use --cacert-add"));
    CHECK(contains(help.output, "Trust these CA certificates as well as the OS trust store"));
  }
}

// --- exit codes -------------------------------------------------------------------------

TEST_CASE("usage errors exit 2 before any connection", "[cli][fetch]") {
  ProgramResult ftp = fetch({"ftp://localhost:1/"});
  CHECK(ftp.exit_code == 2);
  CHECK(contains(ftp.output, "unsupported scheme \"ftp\", tlsock fetch speaks https:// and http:// only"));

  ProgramResult bad = fetch({"localhost/index.html"});
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.output, "not an absolute URL"));

  ProgramResult port = fetch({"https://localhost:99999/"});
  CHECK(port.exit_code == 2);
  CHECK(contains(port.output, "bad port"));

  ProgramResult two_outputs = fetch({"-o", "x", "https://localhost:1/a", "https://localhost:1/b"});
  CHECK(two_outputs.exit_code == 2);
  CHECK(contains(two_outputs.output, "-o FILE takes one URL"));

  ProgramResult header = fetch({"-H", "no colon", "https://localhost:1/"});
  CHECK(header.exit_code == 2);

  ProgramResult missing = fetch({});
  CHECK(missing.exit_code == 2);

  // One line on stderr, nothing else.
  CHECK(std::count(ftp.output.begin(), ftp.output.end(), '\n') == 1);
}

TEST_CASE("network errors exit 3: connection refused, timeout", "[cli][fetch]") {
  SECTION("refused") {
    ProgramResult result = fetch({"https://127.0.0.1:" + std::to_string(free_port()) + "/"});
    CHECK(result.exit_code == 3);
    CHECK(contains(result.output, "Connection refused"));
  }
  SECTION("--timeout against a server that never answers") {
    PlainServer server(accept_and_stall(10s));
    auto start = std::chrono::steady_clock::now();
    ProgramResult result = fetch({"--timeout", "1", "https://127.0.0.1:" + std::to_string(server.port()) + "/"});
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(result.exit_code == 3);
    CHECK(elapsed < 5s);
    CHECK(elapsed >= 900ms);
  }
}

TEST_CASE("a plain HTTP server is a TLS protocol error (exit 4)", "[cli][fetch]") {
  PlainServer server(send_and_close("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
  ProgramResult result = fetch({"https://127.0.0.1:" + std::to_string(server.port()) + "/"});
  CHECK(result.exit_code == 4);
  CHECK(result.output == "tlsock: TLS protocol error - server responded using HTTP\n");
}

TEST_CASE("a malformed HTTP response exits 4 with the parser's reason", "[cli][fetch]") {
  ScriptServer server;
  server.on("/folded", "HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n");
  server.on("/smuggle", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  server.on("/lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
  server.on("/not-http", "SSH-2.0-OpenSSH_9.2\r\n");
  for (auto [target, reason] :
       std::vector<std::pair<std::string, std::string>>{{"/folded", "obsolete line folding"},
                                                        {"/smuggle", "both Transfer-Encoding and Content-Length"},
                                                        {"/lengths", "conflicting Content-Length values (3 and 4)"},
                                                        {"/not-http", "bad status line"}}) {
    DYNAMIC_SECTION(target) {
      ProgramResult result = fetch({cacert(), server.url(target)});
      INFO(result.output);
      CHECK(result.exit_code == 4);
      CHECK(contains(result.output,
                     "tlsock: invalid HTTP response from localhost:" + std::to_string(server.port()) + ": " + reason));
    }
  }
}

TEST_CASE("an HTTP error status exits 6: the body on stdout, no -o file", "[cli][fetch]") {
  ScriptServer server;
  TempDir out;
  ProgramResult result = fetch({cacert(), server.url("/missing")});
  CHECK(result.exit_code == 6);
  CHECK(result.output == "no such x\ntlsock: HTTP error status 404 Not Found (" + server.url("/missing") + ")\n");

  std::filesystem::path file = out.path() / "page.html";
  ProgramResult to_file = fetch({cacert(), "-o", file.string(), server.url("/missing")});
  CHECK(to_file.exit_code == 6);
  CHECK(files_in(out.path()).empty());

  // Later URLs are still fetched; the exit code remembers the error.
  server.on("/ok", response("200 OK", "fine\n"));
  ProgramResult both = fetch({cacert(), server.url("/missing"), server.url("/ok")});
  CHECK(both.exit_code == 6);
  CHECK(contains(both.output, "fine\n"));
}

TEST_CASE("-f is the default for HTTP errors; --no-fail makes them responses like any other", "[cli][fetch]") {
  ScriptServer server;
  TempDir out;
  ProgramResult fail = fetch({cacert(), "-f", server.url("/missing")});
  CHECK(fail.exit_code == 6);
  CHECK(fail.output == "no such x\ntlsock: HTTP error status 404 Not Found (" + server.url("/missing") + ")\n");

  std::filesystem::path file = out.path() / "page.html";
  ProgramResult no_fail = fetch({cacert(), "--no-fail", "-o", file.string(), server.url("/missing")});
  CHECK(no_fail.exit_code == 0);
  CHECK(no_fail.output.empty());
  CHECK(read_file(file) == "no such x\n");

  ProgramResult both = fetch({cacert(), "-f", "--no-fail", server.url("/missing")});
  CHECK(both.exit_code == 2);
  CHECK(both.output == "tlsock: -f and --no-fail cannot be combined\n");
}

TEST_CASE("-I sends HEAD and shows the status line and headers", "[cli][fetch]") {
  ScriptServer server;
  server.on("/page", [](TLSSocket& socket, const HttpRequest& request) {
    // The length of the body a GET would get, and none of it.
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Method: " + request.method + "\r\n\r\n");
    return After::keep_open;
  });
  ProgramResult result = fetch({cacert(), "-I", server.url("/page")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Method: HEAD\r\n\r\n");
  ProgramResult with_data = fetch({cacert(), "-I", "--data", "x", server.url("/page")});
  CHECK(with_data.exit_code == 2);
  CHECK(with_data.output == "tlsock: -I sends HEAD: it cannot be combined with -X or --data\n");
}

TEST_CASE("-o into a directory that does not exist exits 7", "[cli][fetch]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "fine\n"));
  TempDir out;
  std::filesystem::path file = out.path() / "no" / "such" / "file";
  ProgramResult result = fetch({cacert(), "-o", file.string(), server.url("/ok")});
  CHECK(result.exit_code == 7);
  CHECK(result.output == "tlsock: -o " + file.string() + ": cannot create a file in " + file.parent_path().string() +
                             ": No such file or directory\n");
  CHECK(files_in(out.path()).empty());

  ProgramResult data = fetch({cacert(), "--data", "@" + (out.path() / "missing").string(), server.url("/ok")});
  CHECK(data.exit_code == 7);
}

// --- -o after failures ------------------------------------------------------------------

TEST_CASE("-o leaves nothing (and an older file untouched) when the transfer is cut short", "[cli][fetch]") {
  ScriptServer server;
  std::string half(50'000, 'x');
  // Content-Length promises twice what arrives, then the TCP connection ends (no close_notify).
  server.on("/length", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + half, After::abort);
  // The same with close_notify: still short of Content-Length.
  server.on("/length-notify", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + half, After::close);
  // A chunk cut in the middle.
  server.on("/chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + half, After::abort);
  // A close-delimited body ended without close_notify: it may be truncated, so it fails.
  server.on("/until-close", "HTTP/1.0 200 OK\r\n\r\n" + half, After::abort);

  for (auto [target, reason] : std::vector<std::pair<std::string, std::string>>{
           {"/length", "The remote end closed the connection (localhost:" + std::to_string(server.port()) +
                           ") after 50000 of 100000 body bytes"},
           {"/length-notify", "was cut short: the connection closed after 50000 of 100000 body bytes"},
           {"/chunked", "in the middle of the chunked body, after 50000 bytes"},
           {"/until-close", "after 50000 body bytes without close_notify: the body may be truncated"}}) {
    DYNAMIC_SECTION(target) {
      TempDir out;
      std::filesystem::path file = out.path() / "download";
      write_file(file, "the previous version\n");
      ProgramResult result = fetch({cacert(), "-o", file.string(), server.url(target)});
      INFO(result.output);
      CHECK(result.exit_code == 3);
      CHECK(contains(result.output, reason));
      CHECK(files_in(out.path()) == std::vector<std::string>{"download"});
      CHECK(read_file(file) == "the previous version\n");
    }
  }
}

TEST_CASE("a close-delimited body ended by close_notify is complete", "[cli][fetch]") {
  ScriptServer server;
  std::string body = random_bytes(200'000, 3);
  server.on("/until-close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body, After::close);
  TempDir out;
  std::filesystem::path file = out.path() / "body";
  ProgramResult result = fetch({cacert(), "-o", file.string(), server.url("/until-close")});
  CHECK(result.exit_code == 0);
  CHECK(read_file(file) == body);
}

// --- -o: what the path names ------------------------------------------------------------

namespace {

// Reads a FIFO to its end in a thread, as the program at the other end of a pipe would. The
// FIFO is opened for reading at once (without blocking), so a writer's open() returns at once
// too. The reading ends when the writer has come and gone (EOF), or, once finish() was called,
// if no writer ever came: a program that replaced the FIFO instead of writing to it.
class FifoReader {
 public:
  explicit FifoReader(const std::filesystem::path& path) : fd_(open_for_reading(path)), thread_([this] { run(); }) {}
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;
  ~FifoReader() {
    finishing_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Called once the writer has exited: everything read.
  std::string finish() {
    finishing_ = true;
    thread_.join();
    return data_;
  }

 private:
  static int open_for_reading(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
    return fd;
  }

  void run() {
    char buffer[65536];
    for (;;) {
      // Before a writer has opened the FIFO, poll() reports nothing (not even POLLHUP).
      pollfd ready{fd_.get(), POLLIN, 0};
      int events = ::poll(&ready, 1, 100);
      if (events == 0 && finishing_) return;  // no writer ever came
      if (events <= 0) continue;
      ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
      if (n == 0) return;  // the writer came and went
      if (n > 0) data_.append(buffer, static_cast<std::size_t>(n));
    }
  }

  UniqueFd fd_;
  std::string data_;
  std::atomic<bool> finishing_{false};
  std::thread thread_;  // last: starts once everything above exists
};

// fetch with a FifoReader at the FIFO: what it printed and what the reader got.
struct FifoRun {
  ProgramResult result;
  std::string received;
};
FifoRun fetch_to_fifo(const std::filesystem::path& fifo, std::vector<std::string> args) {
  FifoReader reader(fifo);
  ProgramResult result = fetch(std::move(args));
  return {result, reader.finish()};
}

std::filesystem::path make_fifo(const TempDir& dir) {
  std::filesystem::path fifo = dir.path() / "fifo";
  if (::mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + fifo.string());
  return fifo;
}

struct stat lstat_of(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) throw std::runtime_error("cannot lstat " + path.string());
  return info;
}

// A file the test makes, with this content and mode.
std::filesystem::path make_file(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  write_file(path, content);
  if (::chmod(path.c_str(), mode) != 0) throw std::runtime_error("chmod " + path.string());
  return path;
}

mode_t mode_of(const std::filesystem::path& path) { return lstat_of(path).st_mode & 07777; }

mode_t current_umask() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

// A server with a 200 KiB body at /body (more than a pipe holds) and a 404 at /missing.
struct BodyServer {
  BodyServer() { server.on("/body", response("200 OK", body)); }
  std::string body = random_bytes(200'000, 11);
  ScriptServer server;
};

}  // namespace

TEST_CASE("-o a new file: created with 0666 minus the umask, no temporary file left", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path file = out.path() / "new";
  ProgramResult result = fetch({cacert(), "-o", file.string(), s.server.url("/body")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.empty());
  CHECK(read_file(file) == s.body);
  CHECK(S_ISREG(lstat_of(file).st_mode));
  CHECK(mode_of(file) == (0666 & ~current_umask()));
  CHECK(files_in(out.path()) == std::vector<std::string>{"new"});
}

TEST_CASE("-o an existing file: replaced by a new file, with the old one's mode (and as root its owner)",
          "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path file = make_file(out.path() / "file", "the previous version\n", 0640);
  bool root = ::geteuid() == 0;
  if (root) REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
  ino_t before = lstat_of(file).st_ino;

  ProgramResult result = fetch({cacert(), "-o", file.string(), s.server.url("/body")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(read_file(file) == s.body);
  struct stat after = lstat_of(file);
  CHECK(after.st_ino != before);  // a new file renamed into place, not the old one rewritten
  CHECK((after.st_mode & 07777) == 0640);
  if (root) {
    CHECK(after.st_uid == 65534);
    CHECK(after.st_gid == 65534);
  }
  CHECK(files_in(out.path()) == std::vector<std::string>{"file"});
}

TEST_CASE("-o a symbolic link to a file: the link stays, its target gets the body", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::create_directory(out.path() / "files");
  std::filesystem::create_directory(out.path() / "links");
  std::filesystem::path target = out.path() / "files" / "real";
  std::filesystem::path link = out.path() / "links" / "link";
  make_file(target, "the previous version\n", 0600);
  std::filesystem::create_symlink("../files/real", link);  // relative to the link's own directory

  ProgramResult result = fetch({cacert(), "-o", link.string(), s.server.url("/body")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(std::filesystem::is_symlink(link));
  CHECK(std::filesystem::read_symlink(link) == "../files/real");
  CHECK(read_file(target) == s.body);
  CHECK(mode_of(target) == 0600);
  // The temporary file was made next to the target, and is gone.
  CHECK(files_in(out.path() / "files") == std::vector<std::string>{"real"});
  CHECK(files_in(out.path() / "links") == std::vector<std::string>{"link"});
}

TEST_CASE("-o a dangling symbolic link: its target is created, the link stays", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path link = out.path() / "link";
  std::filesystem::create_symlink("target", link);
  ProgramResult result = fetch({cacert(), "-o", link.string(), s.server.url("/body")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(std::filesystem::is_symlink(link));
  CHECK(read_file(out.path() / "target") == s.body);
  CHECK(files_in(out.path()) == std::vector<std::string>{"link", "target"});
}

TEST_CASE("-o a FIFO: its reader gets the body, the FIFO stays", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path fifo = make_fifo(out);
  FifoRun run = fetch_to_fifo(fifo, {cacert(), "-o", fifo.string(), s.server.url("/body")});
  INFO(run.result.output);
  CHECK(run.result.exit_code == 0);
  CHECK(run.received == s.body);
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
  CHECK(files_in(out.path()) == std::vector<std::string>{"fifo"});

  SECTION("through a symbolic link") {
    std::filesystem::create_symlink("fifo", out.path() / "link");
    FifoRun linked = fetch_to_fifo(fifo, {cacert(), "-o", (out.path() / "link").string(), s.server.url("/body")});
    CHECK(linked.result.exit_code == 0);
    CHECK(linked.received == s.body);
    CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
    CHECK(std::filesystem::is_symlink(out.path() / "link"));
  }
}

TEST_CASE("-o a FIFO and an HTTP error status: the reader gets an empty stream, exit 6", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path fifo = make_fifo(out);
  FifoRun run = fetch_to_fifo(fifo, {cacert(), "-o", fifo.string(), s.server.url("/missing")});
  CHECK(run.result.exit_code == 6);
  CHECK(run.result.output == "tlsock: HTTP error status 404 Not Found (" + s.server.url("/missing") + ")\n");
  CHECK(run.received.empty());
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));

  SECTION("with -i -L: not even the redirect's headers") {
    s.server.on("/moved", response("302 Found", "", "Location: /missing\r\n"));
    FifoRun redirected = fetch_to_fifo(fifo, {cacert(), "-i", "-L", "-o", fifo.string(), s.server.url("/moved")});
    CHECK(redirected.result.exit_code == 6);
    CHECK(redirected.received.empty());
  }
}

TEST_CASE("-o -i -L into a FIFO: the redirect's headers, then the final response", "[cli][fetch][output]") {
  BodyServer s;
  s.server.on("/moved", response("302 Found", "", "Location: /body\r\n"));
  TempDir out;
  std::filesystem::path fifo = make_fifo(out);
  FifoRun run = fetch_to_fifo(fifo, {cacert(), "-i", "-L", "-o", fifo.string(), s.server.url("/moved")});
  CHECK(run.result.exit_code == 0);
  CHECK(run.received ==
        "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: /body\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" +
            s.body);
}

TEST_CASE("-o /dev/fd/1 writes through the descriptor: stdout is the test's log file, opened to append",
          "[cli][fetch][output]") {
  BodyServer s;
  ProgramResult result = fetch({cacert(), "-o", "/dev/fd/1", s.server.url("/body")});
  CHECK(result.exit_code == 0);
  CHECK(result.output == s.body);  // written in place: a replaced log file would have lost it

  SECTION("and through a symbolic link to /dev/stdout") {
    TempDir out;
    std::filesystem::create_symlink("/dev/stdout", out.path() / "link");
    ProgramResult linked = fetch({cacert(), "-o", (out.path() / "link").string(), s.server.url("/body")});
    CHECK(linked.exit_code == 0);
    CHECK(linked.output == s.body);
    CHECK(std::filesystem::read_symlink(out.path() / "link") == "/dev/stdout");
  }
}

TEST_CASE("-o /proc/self/fd/1 when stdout is a pipe", "[cli][fetch][output]") {
  BodyServer s;
  std::string command =
      std::string(TLSOCK_CLI) + " fetch " + cacert() + " -o /proc/self/fd/1 " + s.server.url("/body") + " | cat";
  ProgramResult result = run_program({"/bin/sh", "-c", command}, 30s);
  CHECK(result.exit_code == 0);
  CHECK(result.output == s.body);
}

TEST_CASE("-o >(cmd): bash's process substitution, a pipe named /dev/fd/N", "[cli][fetch][output]") {
  std::string bash = find_program("bash");
  if (bash.empty()) TLSOCK_SKIP("bash is not installed");
  BodyServer s;
  std::string command = std::string(TLSOCK_CLI) + " fetch " + cacert() + " -o >(cat) " + s.server.url("/body") +
                        "; status=$?; wait $!; exit $status";
  ProgramResult result = run_program({bash, "-c", command}, 30s);
  CHECK(result.exit_code == 0);
  CHECK(result.output == s.body);
}

TEST_CASE("-o - is stdout", "[cli][fetch][output]") {
  BodyServer s;
  ProgramResult result = fetch({cacert(), "-o", "-", s.server.url("/body")});
  CHECK(result.exit_code == 0);
  CHECK(result.output == s.body);
}

TEST_CASE("an HTTP error status leaves an existing -o file, or a link's target, untouched", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path file = out.path() / "file";
  write_file(file, "the previous version\n");
  std::filesystem::create_symlink("file", out.path() / "link");
  for (std::string name : {"file", "link"}) {
    DYNAMIC_SECTION(name) {
      ProgramResult result = fetch({cacert(), "-o", (out.path() / name).string(), s.server.url("/missing")});
      CHECK(result.exit_code == 6);
      CHECK(read_file(file) == "the previous version\n");
      CHECK(std::filesystem::is_symlink(out.path() / "link"));
      CHECK(files_in(out.path()) == std::vector<std::string>{"file", "link"});
    }
  }
}

TEST_CASE("-o what cannot be written: exit 7, a message naming the path, nothing lost", "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  auto run = [&](const std::filesystem::path& path) {
    return fetch({cacert(), "-o", path.string(), s.server.url("/body")});
  };

  SECTION("a directory") {
    std::filesystem::create_directory(out.path() / "dir");
    ProgramResult result = run(out.path() / "dir");
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + (out.path() / "dir").string() + ": is a directory\n");
    CHECK(files_in(out.path() / "dir").empty());
  }
  SECTION("a symbolic link to a directory") {
    std::filesystem::create_directory(out.path() / "dir");
    std::filesystem::create_symlink("dir", out.path() / "link");
    ProgramResult result = run(out.path() / "link");
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + (out.path() / "link").string() + ": is a directory\n");
    CHECK(std::filesystem::is_symlink(out.path() / "link"));
  }
  SECTION("a dangling symbolic link into a missing directory") {
    std::filesystem::create_symlink("no/such/file", out.path() / "link");
    ProgramResult result = run(out.path() / "link");
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + (out.path() / "link").string() + ": cannot create a file in " +
                               (out.path() / "no/such").string() + ": No such file or directory\n");
    CHECK(files_in(out.path()) == std::vector<std::string>{"link"});
  }
  SECTION("a path through a regular file") {
    write_file(out.path() / "file", "kept\n");
    ProgramResult result = run(out.path() / "file" / "x");
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + (out.path() / "file" / "x").string() + ": Not a directory\n");
    CHECK(read_file(out.path() / "file") == "kept\n");
  }
  SECTION("a symbolic link loop") {
    std::filesystem::create_symlink("b", out.path() / "a");
    std::filesystem::create_symlink("a", out.path() / "b");
    ProgramResult result = run(out.path() / "a");
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + (out.path() / "a").string() + ": Too many levels of symbolic links\n");
    CHECK(std::filesystem::read_symlink(out.path() / "a") == "b");
    CHECK(std::filesystem::read_symlink(out.path() / "b") == "a");
    CHECK(files_in(out.path()) == std::vector<std::string>{"a", "b"});
  }
  SECTION("a socket") {
    std::filesystem::path path = out.path() / "socket";
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof address.sun_path);
    std::strcpy(address.sun_path, path.c_str());
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ProgramResult result = run(path);
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o " + path.string() + ": is a socket, which cannot be opened as a file\n");
    CHECK(S_ISSOCK(lstat_of(path).st_mode));
  }
  SECTION("a descriptor that is not open") {
    ProgramResult result = run("/dev/fd/9");  // the test runner gives the program fds 0, 1 and 2 only
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o /dev/fd/9: Bad file descriptor\n");
  }
  SECTION("a descriptor open for reading only") {
    ProgramResult result = run("/dev/fd/0");  // /dev/null, read-only
    CHECK(result.exit_code == 7);
    CHECK(result.output == "tlsock: -o /dev/fd/0: descriptor 0 is not open for writing\n");
  }
}

TEST_CASE("-o a file the user may not write: exit 7, the file intact, even in a directory they may write",
          "[cli][fetch][output]") {
  BodyServer s;
  TempDir out;
  std::filesystem::path file = make_file(out.path() / "read-only", "kept\n", 0444);
  std::vector<std::string> argv = {TLSOCK_CLI, "fetch", cacert(), "-o", file.string(), s.server.url("/body")};
  if (::geteuid() == 0) {
    // root may write any file: run the command as nobody, in a directory anyone may write.
    std::string setpriv = find_program("setpriv");
    if (setpriv.empty()) TLSOCK_SKIP("running as root without setpriv(1): no user to lack the permission");
    REQUIRE(::chmod(out.path().c_str(), 0777) == 0);
    argv.insert(argv.begin(), {setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"});
  } else {
    REQUIRE(::chmod(out.path().c_str(), 0700) == 0);
  }
  ProgramResult result = run_program(argv, 30s);
  CHECK(result.exit_code == 7);
  CHECK(result.output == "tlsock: -o " + file.string() + ": Permission denied\n");
  CHECK(read_file(file) == "kept\n");
  CHECK(mode_of(file) == 0444);
  CHECK(files_in(out.path()) == std::vector<std::string>{"read-only"});
}

// --- framing, -i, --json ----------------------------------------------------------------

TEST_CASE("Content-Length and chunked bodies with trailers, -i and --json", "[cli][fetch]") {
  ScriptServer server;
  server.on("/length", response("200 OK", "hello\n", "Content-Type: text/plain\r\nX-Twice: a\r\nX-Twice: b\r\n"));
  server.on("/chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
            "6\r\nhello \r\n1;ext=1\r\nw\r\n4\r\norld\r\n0\r\nX-Sum: 42\r\n\r\n");

  SECTION("bodies") {
    ProgramResult result = fetch({cacert(), server.url("/length"), server.url("/chunked")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "hello\nhello world");
  }
  SECTION("-i") {
    ProgramResult result = fetch({cacert(), "-i", server.url("/length")});
    CHECK(result.exit_code == 0);
    CHECK(result.output ==
          "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\nX-Twice: a\r\nX-Twice: b\r\n\r\n"
          "hello\n");
  }
  SECTION("--json") {
    ProgramResult result = fetch({cacert(), "--json", server.url("/length"), server.url("/chunked")});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    std::vector<Json> records = json_lines(result.output);
    REQUIRE(records.size() == 2);
    Json length = records[0];
    CHECK(length["url"] == server.url("/length"));
    CHECK(length["effective_url"] == server.url("/length"));
    CHECK(length["status"] == 200);
    CHECK(length["reason"] == "OK");
    CHECK(length["http_version"] == "HTTP/1.1");
    CHECK(length["headers"]["content-type"] == "text/plain");
    CHECK(length["headers"]["x-twice"] == "a, b");
    CHECK(length["content_length"] == 6);
    CHECK(length["body_bytes"] == 6);
    CHECK(length["redirects"] == 0);
    CHECK(length["output"].is_null());
    Json connection = length["connection"];
    CHECK(connection["address"] == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(connection["reused"] == false);
    CHECK(connection["protocol"] == std::string(expected_protocol()));
    CHECK(!connection["cipher_suite"].get<std::string>().empty());
    CHECK(connection["alpn"] == "http/1.1");
    CHECK((connection["session_id"] == "new" || connection["session_ticket"] == "new"));
    Certificate leaf = Certificate::load(certs_dir() / "localhost.pem").front();
    CHECK(connection["certificate"]["subject"] == leaf.subject());
    CHECK(connection["certificate"]["issuer"] == leaf.issuer());
    CHECK(connection["certificate"]["not_after"] ==
          std::regex_replace(format_utc(leaf.not_after()), std::regex(" "), "T"));
    CHECK(connection["certificate"]["sha256_fingerprint"] == leaf.sha256_fingerprint());

    Json chunked = records[1];
    CHECK(chunked["body_bytes"] == 11);
    CHECK(chunked["content_length"].is_null());
    CHECK(chunked["trailers"]["x-sum"] == "42");
    CHECK(chunked["connection"]["reused"] == true);
  }
  SECTION("--json with -o: the body goes to the file") {
    TempDir out;
    std::filesystem::path file = out.path() / "body";
    ProgramResult result = fetch({cacert(), "--json", "-o", file.string(), server.url("/chunked")});
    CHECK(result.exit_code == 0);
    CHECK(read_file(file) == "hello world");
    std::vector<Json> records = json_lines(result.output);
    REQUIRE(records.size() == 1);
    CHECK(records[0]["output"] == file.string());
  }
}

TEST_CASE("HEAD, 204 and 304 responses end without a body", "[cli][fetch]") {
  ScriptServer server;
  server.on("/", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");  // HEAD: the size a GET would get
  server.on("/empty", "HTTP/1.1 204 No Content\r\n\r\n");
  server.on("/same", "HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n");
  ProgramResult head = fetch({cacert(), "-X", "HEAD", "--json", server.url("/")}, 10s);
  CHECK(head.exit_code == 0);
  std::vector<Json> records = json_lines(head.output);
  REQUIRE(records.size() == 1);
  CHECK(records[0]["content_length"] == 1000);
  CHECK(records[0]["body_bytes"] == 0);
  ProgramResult empty = fetch({cacert(), server.url("/empty"), server.url("/same")}, 10s);
  CHECK(empty.exit_code == 0);
  CHECK(empty.output.empty());
  CHECK(server.connections() == 2);
  REQUIRE(server.requests().size() == 3);
  CHECK(server.requests()[0].method == "HEAD");
}

// --- connections ------------------------------------------------------------------------

TEST_CASE("several URLs to one host share a keep-alive connection", "[cli][fetch]") {
  ScriptServer server;
  server.on("/a", response("200 OK", "a"));
  server.on("/b", response("200 OK", "bb"));
  server.on("/c", response("200 OK", "ccc"));
  ProgramResult result =
      fetch({cacert(), "--json", "-H", "X-Test: yes", server.url("/a"), server.url("/b"), server.url("/c")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(server.connections() == 1);
  std::vector<Json> records = json_lines(result.output);
  REQUIRE(records.size() == 3);
  CHECK(records[0]["connection"]["reused"] == false);
  CHECK(records[1]["connection"]["reused"] == true);
  CHECK(records[2]["connection"]["reused"] == true);
  std::vector<HttpRequest> requests = server.requests();
  REQUIRE(requests.size() == 3);
  for (const HttpRequest& request : requests) {
    CHECK(request.method == "GET");
    CHECK(request.connection == 1);
    CHECK(request.has_header("Host: localhost:" + std::to_string(server.port())));
    CHECK(request.has_header("Connection: keep-alive"));
    CHECK(request.has_header("X-Test: yes"));
  }
  CHECK(requests[0].head.starts_with("GET /a HTTP/1.1\r\n"));
}

TEST_CASE("a new connection when the server closes or the host changes, resuming the session", "[cli][fetch]") {
  ScriptServer server;
  server.on("/close", response("200 OK", "bye\n", "Connection: close\r\n"), After::close);
  server.on("/silent-close", response("200 OK", "gone\n"), After::close);  // keep-alive promised, then closed
  server.on("/ok", response("200 OK", "ok\n"));

  SECTION("Connection: close") {
    ProgramResult result = fetch({cacert(), "--json", server.url("/close"), server.url("/ok")});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(server.connections() == 2);
    std::vector<Json> records = json_lines(result.output);
    REQUIRE(records.size() == 2);
    Json second = records[1]["connection"];
    CHECK(second["reused"] == false);
    CHECK((second["session_id"] == "reused" || second["session_ticket"] == "reused"));
  }
  SECTION("the server closes a connection it said it would keep") {
    ProgramResult result = fetch({cacert(), server.url("/silent-close"), server.url("/ok")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "gone\nok\n");
    CHECK(server.connections() == 2);
  }
  SECTION("another host name for the same server") {
    ProgramResult result = fetch({cacert(), "--json", server.url("/ok"), server.url("/ok", "127.0.0.1")});
    CHECK(result.exit_code == 0);
    CHECK(server.connections() == 2);
    std::vector<HttpRequest> requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].has_header("Host: 127.0.0.1:" + std::to_string(server.port())));
  }
}

// --- redirects ----------------------------------------------------------------------------

TEST_CASE("-L follows redirects, relative ones too, within --max-redirs", "[cli][fetch]") {
  ScriptServer server;
  server.on("/start", response("302 Found", "moved\n", "Location: dir/next?x=1\r\n"));
  server.on("/dir/next", response("301 Moved Permanently", "", "Location: ../final\r\n"));
  server.on("/final", response("200 OK", "arrived\n"));
  server.on("/loop", response("302 Found", "", "Location: /loop\r\n"));
  server.on("/other-host",
            response("307 Temporary Redirect", "", "Location: " + server.url("/final", "127.0.0.1") + "\r\n"));

  SECTION("without -L the redirect is the answer") {
    ProgramResult result = fetch({cacert(), server.url("/start")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "moved\n");
  }
  SECTION("with -L") {
    ProgramResult result = fetch({cacert(), "-L", "--json", server.url("/start")});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    std::vector<Json> records = json_lines(result.output);
    REQUIRE(records.size() == 1);
    CHECK(records[0]["redirects"] == 2);
    CHECK(records[0]["url"] == server.url("/start"));
    CHECK(records[0]["effective_url"] == server.url("/final"));
    CHECK(records[0]["status"] == 200);
    CHECK(server.connections() == 1);  // same host: one keep-alive connection
    std::vector<HttpRequest> requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[1].target == "/dir/next?x=1");
    CHECK(requests[2].target == "/final");
  }
  SECTION("-L -i shows every response's headers, the final body only") {
    ProgramResult result = fetch({cacert(), "-L", "-i", server.url("/start")});
    CHECK(result.exit_code == 0);
    CHECK(result.output ==
          "HTTP/1.1 302 Found\r\nContent-Length: 6\r\nLocation: dir/next?x=1\r\n\r\n"
          "HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\nLocation: ../final\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\narrived\n");
  }
  SECTION("to another host: a new connection") {
    ProgramResult result = fetch({cacert(), "-L", server.url("/other-host")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "arrived\n");
    CHECK(server.connections() == 2);
  }
  SECTION("a loop stops after --max-redirs") {
    ProgramResult result = fetch({cacert(), "-L", "--max-redirs", "3", server.url("/loop")});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.output, "more than 3 redirects"));
    CHECK(server.requests().size() == 4);
  }
}

TEST_CASE("--data sends a body; 303 turns it into GET, 307 keeps it", "[cli][fetch]") {
  ScriptServer server;
  server.on("/echo", [](TLSSocket& socket, const HttpRequest& request) {
    socket.write(response("200 OK", request.method + " " + request.body + "\n"));
    return After::keep_open;
  });
  server.on("/see-other", response("303 See Other", "", "Location: /echo\r\n"));
  server.on("/temporary", response("307 Temporary Redirect", "", "Location: /echo\r\n"));

  ProgramResult post = fetch({cacert(), "--data", "a=1&b=2", server.url("/echo")});
  CHECK(post.exit_code == 0);
  CHECK(post.output == "POST a=1&b=2\n");
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].has_header("Content-Length: 7"));

  TempDir dir;
  std::string binary = random_bytes(5000, 9);
  write_file(dir.path() / "body.bin", binary);
  ProgramResult put = fetch({cacert(), "-X", "PUT", "--data", "@" + (dir.path() / "body.bin").string(), "-o",
                             (dir.path() / "answer").string(), server.url("/echo")});
  CHECK(put.exit_code == 0);
  CHECK(read_file(dir.path() / "answer") == "PUT " + binary + "\n");

  ProgramResult see_other = fetch({cacert(), "-L", "--data", "x", server.url("/see-other")});
  CHECK(see_other.output == "GET \n");
  ProgramResult temporary = fetch({cacert(), "-L", "--data", "x", server.url("/temporary")});
  CHECK(temporary.output == "POST x\n");
}

// --- routing ----------------------------------------------------------------------------

TEST_CASE("--resolve and --connect-to reach a name that DNS does not know", "[cli][fetch]") {
  ScriptServer server("wildcard-chain.pem", "wildcard.key");
  server.on("/", response("200 OK", "wildcard\n"));
  std::string port = std::to_string(server.port());

  ProgramResult resolved =
      fetch({cacert(), "--resolve", "example.test:" + port + ":127.0.0.1", "https://example.test:" + port + "/"});
  INFO(resolved.output);
  CHECK(resolved.exit_code == 0);
  CHECK(resolved.output == "wildcard\n");

  ProgramResult connected =
      fetch({cacert(), "--connect-to", "www.example.test:443:127.0.0.1:" + port, "https://www.example.test/"});
  INFO(connected.output);
  CHECK(connected.exit_code == 0);
  CHECK(connected.output == "wildcard\n");

  std::vector<HttpRequest> requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].has_header("Host: example.test:" + port));
  CHECK(requests[1].has_header("Host: www.example.test"));

  // The name is still verified: the wildcard certificate does not cover localhost.
  ProgramResult mismatch = fetch({cacert(), "https://localhost:" + port + "/"});
  CHECK(mismatch.exit_code == 5);
  CHECK(contains(mismatch.output, "does not match valid domains"));
}

// --- the progress bar ---------------------------------------------------------------------

namespace {

// /slow on server: a body of pieces x 10,000 bytes, one piece every 100 ms.
void serve_slowly(ScriptServer& server, int pieces) {
  server.on("/slow", [pieces](TLSSocket& socket, const HttpRequest&) {
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(pieces * 10000) + "\r\n\r\n");
    for (int i = 0; i < pieces; ++i) {
      std::this_thread::sleep_for(100ms);
      socket.write(std::string(10000, 'p'));
    }
    return After::keep_open;
  });
}

}  // namespace

TEST_CASE("a progress bar on a terminal for long downloads only", "[cli][fetch]") {
  std::string script = find_program("script");
  if (script.empty()) TLSOCK_SKIP("script(1) is not installed: no terminal to test with");
  ScriptServer server;
  constexpr int pieces = 25;  // 2.5 s: the bar shows for the last 1.5 s
  serve_slowly(server, pieces);
  TempDir out;
  std::string command = std::string(TLSOCK_CLI) + " fetch " + cacert() + " -o " + (out.path() / "slow").string() + " " +
                        server.url("/slow");

  // script(1) gives the program a terminal on stdin, stdout and stderr.
  ProgramResult terminal = run_program({script, "-qec", command, "/dev/null"}, 30s);
  INFO(terminal.output);
  CHECK(terminal.exit_code == 0);
  CHECK(contains(terminal.output, "KiB/s"));
  CHECK(contains(terminal.output, " / 244.1 KiB"));
  CHECK(contains(terminal.output, "ETA 0:0"));
  CHECK(read_file(out.path() / "slow").size() == pieces * 10000);

  ProgramResult quiet = run_program({script, "-qec", command + " --no-progress", "/dev/null"}, 30s);
  CHECK(quiet.exit_code == 0);
  CHECK_FALSE(contains(quiet.output, "/s"));

  ProgramResult no_terminal = fetch({cacert(), "-o", (out.path() / "slow").string(), server.url("/slow")});
  CHECK(no_terminal.exit_code == 0);
  CHECK(no_terminal.output.empty());
}

TEST_CASE("on a narrow terminal the bar never wraps and ends as a one-line summary", "[cli][fetch]") {
  std::string script = find_program("script");
  if (script.empty()) TLSOCK_SKIP("script(1) is not installed: no terminal to test with");
  ScriptServer server;
  constexpr int pieces = 20;  // 2 s: the bar shows for the last second
  serve_slowly(server, pieces);
  TempDir out;
  std::string command = "stty cols 30; " + std::string(TLSOCK_CLI) + " fetch " + cacert() + " -o " +
                        (out.path() / "slow").string() + " " + server.url("/slow");
  ProgramResult terminal = run_program({script, "-qec", command, "/dev/null"}, 30s);
  INFO(terminal.output);
  CHECK(terminal.exit_code == 0);
  // Every piece of the output between carriage returns and newlines fits in 29 columns.
  std::size_t start = 0;
  for (std::size_t i = 0; i <= terminal.output.size(); ++i) {
    if (i == terminal.output.size() || terminal.output[i] == '\r' || terminal.output[i] == '\n') {
      CHECK(i - start <= 29);
      start = i + 1;
    }
  }
  CHECK(contains(terminal.output, " / 195.3 KiB"));  // the bar, without what does not fit
  CHECK(std::regex_search(terminal.output, std::regex("  195\\.3 KiB in [0-9]+\\.[0-9] s\r?\n")));
}

TEST_CASE("a binary body is not written to a terminal unless -o - asks for it", "[cli][fetch]") {
  std::string script = find_program("script");
  if (script.empty()) TLSOCK_SKIP("script(1) is not installed: no terminal to test with");
  ScriptServer server;
  server.on("/binary", response("200 OK", std::string("PK\x03\x04\0\0data", 10)));
  std::string command = std::string(TLSOCK_CLI) + " fetch " + cacert() + " " + server.url("/binary");
  ProgramResult refused = run_program({script, "-qec", command, "/dev/null"}, 30s);
  CHECK(refused.exit_code == 7);
  CHECK(contains(refused.output,
                 "tlsock: the body is binary and stdout is a terminal: not shown (use -o FILE, or -o - to show "
                 "it anyway)"));
  ProgramResult asked = run_program({script, "-qec", command + " -o -", "/dev/null"}, 30s);
  CHECK(asked.exit_code == 0);
  CHECK(contains(asked.output, "data"));
  ProgramResult piped = fetch({cacert(), server.url("/binary")});
  CHECK(piped.exit_code == 0);
  CHECK(piped.output == std::string("PK\x03\x04\0\0data", 10));
}

// --- the environment ------------------------------------------------------------------------

TEST_CASE("HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE and SSLKEYLOGFILE", "[cli][fetch]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n"));

  SECTION("HTTPS_PROXY tunnels through CONNECT; NO_PROXY bypasses it") {
    std::atomic<int> tunnels{0};
    PlainServer proxy(connect_proxy(tunnels));
    ScopedEnv env("HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(proxy.port()));
    ProgramResult result = fetch({cacert(), "--json", server.url("/ok"), server.url("/ok")});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    std::vector<Json> records = json_lines(result.output);
    REQUIRE(records.size() == 2);
    CHECK(records[0]["connection"]["address"] == "127.0.0.1:" + std::to_string(proxy.port()));
    CHECK(records[1]["connection"]["reused"] == true);
    CHECK(tunnels == 1);
    {
      ScopedEnv bypass("NO_PROXY", "example.test, localhost");
      ProgramResult direct = fetch({cacert(), server.url("/ok")});
      CHECK(direct.exit_code == 0);
      CHECK(direct.output == "ok\n");
      CHECK(proxy.connections() == 1);
    }
    ProgramResult no_proxy = fetch({cacert(), "--noproxy-all", server.url("/ok")});
    CHECK(no_proxy.exit_code == 0);
    CHECK(proxy.connections() == 1);
  }
  SECTION("a proxy that is not there is a network error") {
    ScopedEnv env("HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(free_port()));
    ProgramResult result = fetch({cacert(), server.url("/ok")});
    CHECK(result.exit_code == 3);
  }
  SECTION("SSL_CERT_FILE names the OS trust store: no --cacert needed") {
    ScopedEnv env("SSL_CERT_FILE", (certs_dir() / "root-ca.pem").string());
    ProgramResult result = fetch({server.url("/ok")});
    CHECK(result.exit_code == 0);
    CHECK(result.output == "ok\n");
  }
  SECTION("SSLKEYLOGFILE records the secrets") {
    TempDir dir;
    ScopedEnv env("SSLKEYLOGFILE", (dir.path() / "keys.log").string());
    ProgramResult result = fetch({cacert(), server.url("/ok")});
    CHECK(result.exit_code == 0);
    // TLS 1.2 logs the master secret, TLS 1.3 its traffic secrets.
    std::string keys = read_file(dir.path() / "keys.log");
    CHECK((contains(keys, "CLIENT_RANDOM ") || contains(keys, "CLIENT_TRAFFIC_SECRET_0 ")));
  }
}

// --- curl's flags: -v, -m, -O, -u, -x, http://, -C -, --compressed, --pass ------------------

namespace {

// Runs fetch in dir (for -O, which writes to the current directory).
ProgramResult fetch_in(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::string command = "cd '" + dir.string() + "' && exec '" + TLSOCK_CLI + "' fetch";
  for (const std::string& arg : args) command += " '" + arg + "'";
  return run_program({"sh", "-c", command}, 30s);
}

// The bytes a shell pipeline writes to stdout (for test data made with gzip, python3).
std::string shell_output(const std::string& command) {
  TempDir dir;
  ProgramResult made = run_program({"sh", "-c", command + " > '" + (dir.path() / "out").string() + "'"}, 30s);
  REQUIRE(made.exit_code == 0);
  return read_file(dir.path() / "out");
}

// The run exited with code and said message (a part of its output).
void check_result(const ProgramResult& result, int code, const std::string& message) {
  INFO(result.output);
  CHECK(result.exit_code == code);
  CHECK(contains(result.output, message));
}

}  // namespace

TEST_CASE("-v shows the handshake, the request and the response headers on stderr", "[cli][fetch][curl]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n", "X-Test: yes\r\n"));
  ProgramResult result = fetch({cacert(), "-v", server.url("/ok"), server.url("/ok")});
  INFO(result.output);
  check_result(result, 0, "* Connected to localhost:" + std::to_string(server.port()) + " (127.0.0.1:");
  CHECK(std::regex_search(result.output, std::regex(R"(\* TLS: TLSv1\.[23], TLS-\S+|\* TLS: TLSv1\.[23], TLS_)")));
  CHECK(contains(result.output, ", ALPN http/1.1\n"));
  CHECK(contains(result.output, "* Server certificate: subject CN=localhost; issuer CN=tlsock Test Intermediate CA\n"));
  CHECK(contains(result.output, "* Certificate verified for localhost\n"));
  CHECK(contains(result.output, "* Session: full handshake"));
  CHECK(contains(result.output, "> GET /ok HTTP/1.1\n> Host: localhost:" + std::to_string(server.port()) + "\n"));
  CHECK(contains(result.output, "< HTTP/1.1 200 OK\n< Content-Length: 3\n< X-Test: yes\n"));
  CHECK(contains(result.output, "* Re-using the connection to localhost:"));  // the second URL
  CHECK(result.output.ends_with("< X-Test: yes\n< \nok\n"));                  // the body follows its headers

  SECTION("without -v: nothing of it") {
    ProgramResult quiet = fetch({cacert(), server.url("/ok")});
    CHECK(quiet.output == "ok\n");
  }
}

TEST_CASE("-m bounds the whole transfer; --timeout stays per operation", "[cli][fetch][curl]") {
  ScriptServer server;
  serve_slowly(server, 20);  // 2 s, a piece every 100 ms: --timeout 1 never fires
  ProgramResult slow = fetch({cacert(), "--timeout", "1", "-m", "0.5", "-o", "/dev/null", server.url("/slow")});
  INFO(slow.output);
  check_result(slow, 3, "tlsock: the transfer took longer than -m/--max-time 0.5 s\n");

  ProgramResult bad = fetch({cacert(), "-m", "0", server.url("/slow")});
  check_result(bad, 2, "must be a number of seconds above 0 and at most 604800, not 0");
}

TEST_CASE("-O names the file after the URL's last path segment, safely", "[cli][fetch][curl]") {
  ScriptServer server;
  server.on("/dir/report.txt", response("200 OK", "report\n"));
  server.on("/dir/", response("200 OK", "index\n"));
  TempDir dir;
  ProgramResult result = fetch_in(dir.path(), {cacert(), "-O", server.url("/dir/report.txt?x=1/y")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(files_in(dir.path()) == std::vector<std::string>{"report.txt"});
  CHECK(read_file(dir.path() / "report.txt") == "report\n");

  for (std::string target : {"/dir/", "/dir/..", "/"}) {
    ProgramResult bad = fetch_in(dir.path(), {cacert(), "-O", server.url(target)});
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.output, "-O: https://localhost:" + std::to_string(server.port()) + "/"));
    CHECK(contains(bad.output, "has no file name at the end of its path (use -o FILE)"));
  }
  CHECK(files_in(dir.path()) == std::vector<std::string>{"report.txt"});
  ProgramResult both = fetch_in(dir.path(), {cacert(), "-O", "-o", "x", server.url("/dir/report.txt")});
  check_result(both, 2, "tlsock: -O and -o cannot be combined");
}

TEST_CASE("-u and userinfo send Basic credentials, never to another host", "[cli][fetch][curl]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n"));
  server.on("/away", response("302 Found", "", "Location: " + server.url("/ok", "127.0.0.1") + "\r\n"));

  ProgramResult user = fetch({cacert(), "-u", "alice:s3cret", "-L", server.url("/away")});
  INFO(user.output);
  CHECK(user.exit_code == 0);
  std::vector<HttpRequest> requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].has_header("Authorization: Basic YWxpY2U6czNjcmV0"));
  CHECK(!contains(requests[1].head, "Authorization"));  // the redirect went to another host

  std::string url = server.url("/ok");
  url.insert(8, "bob:p%40ss@");  // https://bob:p%40ss@localhost:port/ok: the password is "p@ss"
  ProgramResult info = fetch({cacert(), url});
  check_result(info, 0, "tlsock: warning: credentials in a URL are visible to other users");
  CHECK(server.requests().back().has_header("Authorization: Basic Ym9iOnBAc3M="));

  ProgramResult bad = fetch({cacert(), "-u", "alice", url});
  check_result(bad, 2, "tlsock: -u alice: expected USER:PASSWORD (tlsock does not prompt)");
}

TEST_CASE("-x tunnels through a CONNECT proxy; --noproxy-all wins", "[cli][fetch][curl]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n"));
  std::atomic<int> tunnels{0};
  PlainServer proxy(connect_proxy(tunnels));
  std::string at = "127.0.0.1:" + std::to_string(proxy.port());
  ProgramResult result = fetch({cacert(), "-x", at, "--json", server.url("/ok")});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  std::vector<Json> records = json_lines(result.output);
  REQUIRE(records.size() == 1);
  CHECK(records[0]["connection"]["address"] == at);
  CHECK(tunnels == 1);
  {
    ScopedEnv env("HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(free_port()));  // -x comes first
    ProgramResult first = fetch({cacert(), "-x", "http://" + at, server.url("/ok")});
    CHECK(first.exit_code == 0);
    CHECK(tunnels == 2);
  }
  ProgramResult direct = fetch({cacert(), "-x", at, "--noproxy-all", server.url("/ok")});
  CHECK(direct.exit_code == 0);
  CHECK(direct.output == "ok\n");
  CHECK(proxy.connections() == 2);
}

TEST_CASE("http:// is plain HTTP; a redirect from https:// to http:// is refused", "[cli][fetch][curl]") {
  PlainServer plain([](int fd) {
    std::string request;
    char c;
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (::recv(fd, &c, 1, 0) != 1) return;
      request.push_back(c);
    }
    send_all(fd, request.starts_with("GET /plain HTTP/1.1\r\n")
                     ? "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nplain\n"
                     : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  std::string plain_url = "http://127.0.0.1:" + std::to_string(plain.port()) + "/plain";
  ProgramResult result = fetch({"-v", plain_url});
  INFO(result.output);
  check_result(result, 0, ", plain HTTP: not encrypted\n");
  CHECK(contains(result.output, "> Host: 127.0.0.1:" + std::to_string(plain.port()) + "\n"));
  CHECK(contains(result.output, "plain\n"));

  ScriptServer server;
  server.on("/down", response("301 Moved", "", "Location: " + plain_url + "\r\n"));
  ProgramResult down = fetch({cacert(), "-L", server.url("/down")});
  check_result(down, 1,
               "tlsock: refusing the redirect from " + server.url("/down") + " to " + plain_url +
                   ": https:// to http:// would send the request unencrypted\n");
  CHECK(plain.connections() == 1);
}

TEST_CASE("-C - continues the -o file with Range, and checks the answer", "[cli][fetch][curl]") {
  const std::string whole = "hello, world\n";
  ScriptServer server;
  server.on("/good", response("206 Partial Content", "world\n", "Content-Range: bytes 7-12/13\r\n"));
  server.on("/wrong", response("206 Partial Content", whole, "Content-Range: bytes 0-12/13\r\n"));
  server.on("/whole", response("200 OK", whole));
  TempDir dir;
  std::filesystem::path file = dir.path() / "file.txt";

  write_file(file, "hello, ");
  ProgramResult good = fetch({cacert(), "-C", "-", "-o", file.string(), server.url("/good")});
  INFO(good.output);
  CHECK(good.exit_code == 0);
  CHECK(read_file(file) == whole);
  CHECK(server.requests().back().has_header("Range: bytes=7-"));

  write_file(file, "hello, ");
  ProgramResult wrong = fetch({cacert(), "-C", "-", "-o", file.string(), server.url("/wrong")});
  CHECK(wrong.exit_code == 1);
  CHECK(contains(wrong.output,
                 "tlsock: -C -: asked for bytes from 7 on, the server answered 206 with Content-Range: "
                 "bytes 0-12/13; " +
                     file.string() + " is left as it was\n"));
  CHECK(read_file(file) == "hello, ");
  CHECK(files_in(dir.path()) == std::vector<std::string>{"file.txt"});

  ProgramResult restart = fetch({cacert(), "-C", "-", "-o", file.string(), server.url("/whole")});
  check_result(restart, 0, "tlsock: warning: -C -: the server sent the whole file (200), not the rest");
  CHECK(read_file(file) == whole);

  ProgramResult offset = fetch({cacert(), "-C", "7", "-o", file.string(), server.url("/whole")});
  check_result(offset, 2, "only -C - (continue where the -o file ends) is supported");
  ProgramResult no_file = fetch({cacert(), "-C", "-", server.url("/whole")});
  check_result(no_file, 2, "tlsock: -C - continues a file: it needs -o FILE or -O\n");
}

TEST_CASE("--compressed asks for gzip and deflate and decompresses with zlib", "[cli][fetch][curl]") {
  if (find_program("python3").empty()) TLSOCK_SKIP("python3 is not installed: no test data");
  const std::string text = "compressed body\n";
  std::string gzip = shell_output("printf 'compressed body\\n' | gzip -c");
  std::string deflate =
      shell_output("python3 -c \"import sys,zlib; sys.stdout.buffer.write(zlib.compress(b'compressed body\\n'))\"");
  std::string raw = shell_output(
      "python3 -c \"import sys,zlib; c=zlib.compressobj(9,zlib.DEFLATED,-15); "
      "sys.stdout.buffer.write(c.compress(b'compressed body\\n')+c.flush())\"");
  std::string bomb = shell_output("head -c 20000000 /dev/zero | gzip -c");  // 20 MB from ~20 KB
  ScriptServer server;
  server.on("/gzip", response("200 OK", gzip, "Content-Encoding: gzip\r\n"));
  server.on("/deflate", response("200 OK", deflate, "Content-Encoding: deflate\r\n"));
  server.on("/raw", response("200 OK", raw, "Content-Encoding: deflate\r\n"));
  server.on("/corrupt", response("200 OK", gzip.substr(0, 10) + "garbage!", "Content-Encoding: gzip\r\n"));
  server.on("/bomb", response("200 OK", bomb, "Content-Encoding: gzip\r\n"));

  for (std::string path : {"/gzip", "/deflate", "/raw"}) {
    ProgramResult result = fetch({cacert(), "--compressed", server.url(path)});
    INFO(path << ": " << result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output == text);
    CHECK(server.requests().back().has_header("Accept-Encoding: gzip, deflate"));
  }
  ProgramResult plain = fetch({cacert(), "-o", "/dev/null", server.url("/gzip")});
  CHECK(plain.exit_code == 0);
  CHECK(!contains(server.requests().back().head, "Accept-Encoding"));

  ProgramResult corrupt = fetch({cacert(), "--compressed", server.url("/corrupt")});
  check_result(corrupt, 4, "tlsock: the gzip body is corrupt: ");

  TempDir dir;
  ProgramResult big = fetch({cacert(), "--compressed", "-o", (dir.path() / "zeros").string(), server.url("/bomb")});
  CHECK(big.exit_code == 0);
  CHECK(std::filesystem::file_size(dir.path() / "zeros") == 20000000);
}

TEST_CASE("--pass opens an encrypted --key; a wrong one says so", "[cli][fetch][curl]") {
  ScriptServer server;
  server.on("/ok", response("200 OK", "ok\n"));
  std::string cert = (certs_dir() / "client-chain.pem").string();
  std::string key = (certs_dir() / "client-encrypted.key").string();
  ProgramResult good = fetch({cacert(), "--cert", cert, "--key", key, "--pass", "tlsock", server.url("/ok")});
  INFO(good.output);
  CHECK(good.exit_code == 0);
  CHECK(good.output == "ok\n");

  ProgramResult wrong = fetch({cacert(), "--cert", cert, "--key", key, "--pass", "wrong", server.url("/ok")});
  CHECK(wrong.exit_code == 2);
  CHECK(wrong.output ==
        "tlsock: --cert " + cert + " --key " + key + ": password: wrong password for the private key " + key + "\n");
  ProgramResult missing = fetch({cacert(), "--cert", cert, "--key", key, server.url("/ok")});
  check_result(missing, 2, "the private key is encrypted and no password was given");
}
