// TLS 1.3 (mbedTLS 3.6): handshakes with each TLS 1.3 suite against `openssl s_server -tls1_3`
// and gnutls-serv, our own server in both roles, resumption by NewSessionTicket (and tickets
// used once), HelloRetryRequest, a 1.3-only server with a 1.2-only client, a server that
// requires a client certificate, key logging of the TLS 1.3 secrets, the protocol versions
// mbedTLS 3 no longer has, and oscrypto's verification messages at TLS 1.3.
//
// Every test case skips when the linked mbedTLS has no TLS 1.3 (2.28). Servers listen on
// 127.0.0.1; `openssl s_server -www` serves one connection at a time, so a test never opens a
// second connection to it while it still holds one.
#include <poll.h>
#include <sys/socket.h>

#include <barrier>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
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

bool have_tls13() { return supported_protocols().contains(Protocol::TLSv1_3); }

// Skips the rest of the test case unless the linked mbedTLS speaks TLS 1.3 (and the program is
// installed, when one is named).
#define TLSOCK_REQUIRE_TLS13(program)                                                        \
  do {                                                                                       \
    if (!have_tls13()) TLSOCK_SKIP("the linked " << backend_version() << " has no TLS 1.3"); \
    if (std::string_view(program) != "" && ts::find_program(program).empty())                \
      TLSOCK_SKIP((program) << " is not installed");                                         \
  } while (false)

const std::vector<std::string> tls13_suites = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                               "TLS_CHACHA20_POLY1305_SHA256"};

constexpr std::string_view http_get = "GET / HTTP/1.0\r\n\r\n";
const std::string graceful_end = "TLSGracefulDisconnectError: The remote end closed the connection";
const std::string verification_failed = "Server certificate verification failed";

// A client policy that trusts the test PKI and speaks TLS 1.3 only.
TLSSession::Options tls13_options() {
  TLSSession::Options options = trusted_options();
  options.protocols = {Protocol::TLSv1_3};
  return options;
}

std::shared_ptr<TLSSession> tls13_session(TLSSession::Options options = tls13_options()) {
  return trusted_session(std::move(options));
}

Certificate pki_certificate(std::string_view name) { return Certificate::load(cert_path(name)).at(0); }

// "GET /" against an HTTP-mode peer (s_server -www, gnutls-serv): the status line, then the
// page to its end. Reading to the end also takes in the TLS 1.3 NewSessionTickets.
struct Page {
  std::string status_line;
  std::string end;  // how the connection ended, as describe() renders it
};

Page get_page(TLSSocket& socket) {
  socket.write(http_get);
  Page page;
  page.status_line = socket.read_line();
  page.end = read_to_end(socket);
  return page;
}

std::string reuse_facts(const TLSSocket& socket) {
  return "ticket=" + reuse_of(socket.session_ticket()) + " id=" + reuse_of(socket.session_id());
}

// A server handler that records a fact about the connection, answers "ok\n" and waits for the
// client to end the connection.
ServerThread::Handler answer_ok(Log& log, std::function<std::string(TLSSocket&)> facts) {
  return [&log, facts = std::move(facts)](TLSSocket& socket) {
    log.add(facts(socket));
    socket.write("ok\n");
    (void)read_to_end(socket);
  };
}

std::string protocol_and_suite(const TLSSocket& socket) {
  return std::string(socket.protocol()) + " " + std::string(socket.cipher_suite());
}

// The lines of an NSS key log, by label; each label's lines in order.
std::map<std::string, std::vector<std::string>> key_log_lines(const std::filesystem::path& file) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    out[line.substr(0, line.find(' '))].push_back(line);
  }
  return out;
}

const std::vector<std::string> tls13_secret_labels = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                                      "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                                                      "SERVER_TRAFFIC_SECRET_0"};

// Checks that a key log holds exactly the four TLS 1.3 traffic secrets of one connection: one
// line each, well formed, all with the same client random. Returns that client random.
std::string check_tls13_key_log(const std::filesystem::path& file, std::size_t secret_hex_digits) {
  std::string text = read_file(file);
  INFO("key log " << file.string() << ":\n" << text);
  auto lines = key_log_lines(file);
  std::set<std::string> labels;
  for (const auto& [label, unused] : lines) labels.insert(label);
  CHECK(labels == std::set<std::string>(tls13_secret_labels.begin(), tls13_secret_labels.end()));
  const std::regex format("([A-Z_0]+) ([0-9a-f]{64}) ([0-9a-f]{" + std::to_string(secret_hex_digits) + "})");
  std::set<std::string> randoms;
  for (const std::string& label : tls13_secret_labels) {
    REQUIRE(lines[label].size() == 1);
    std::smatch match;
    REQUIRE(std::regex_match(lines[label][0], match, format));
    randoms.insert(match[2]);
  }
  REQUIRE(randoms.size() == 1);
  return *randoms.begin();
}

// A sans-IO client over a socket that is connected only later: the ClientHello written at
// start() waits in `pending` until connect().
struct LateClient {
  ts::UniqueFd fd;
  std::string pending;
  Connection connection;
  std::string plaintext;

  LateClient(std::uint16_t port, std::shared_ptr<TLSSession> session)
      : connection(ClientTLS("localhost", std::move(session), port).start([this](std::string_view bytes) {
          if (fd.valid())
            ts::send_all(fd.get(), bytes);
          else
            pending.append(bytes);
        })) {}

  void connect(std::uint16_t port) {
    fd = ts::connect_loopback(port);
    ts::send_all(fd.get(), std::exchange(pending, {}));
  }

  // Feeds what arrives within the deadline to the connection; false at EOF.
  bool receive(std::chrono::steady_clock::time_point deadline) {
    if (!ts::wait_fd(fd.get(), POLLIN, deadline)) throw std::runtime_error("LateClient: nothing arrived in time");
    char buffer[16384];
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    std::string data = connection.data_from_wire(std::string_view(buffer, static_cast<std::size_t>(n)));
    plaintext += data;
    // A close_notify that came with data is reported by the next call.
    if (!data.empty()) plaintext += connection.data_from_wire({});
    return true;
  }
};

}  // namespace

// --- Handshakes with each TLS 1.3 suite --------------------------------------------------

TEST_CASE("TLS 1.3 with each suite against openssl s_server -tls1_3", "[tls13][openssl]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-www"});
  for (const std::string& suite : tls13_suites) {
    INFO("suite " << suite);
    TLSSession::Options options = tls13_options();
    options.cipher_suites = {suite};
    TLSSocket socket("localhost", server.port(), 10s, tls13_session(options));
    CHECK(socket.protocol() == "TLSv1.3");
    CHECK(socket.cipher_suite() == suite);
    CHECK_FALSE(socket.compression());
    CHECK(socket.certificate() == pki_certificate("localhost.pem"));
    REQUIRE(socket.intermediates().size() == 1);
    CHECK(socket.intermediates()[0] == pki_certificate("intermediate-ca.pem"));
    Page page = get_page(socket);
    CHECK(page.status_line == "HTTP/1.0 200 ok\r\n");
    CHECK(page.end == graceful_end);
  }
}

TEST_CASE("TLS 1.3 with each suite against gnutls-serv", "[tls13][gnutls]") {
  TLSOCK_REQUIRE_TLS13("gnutls-serv");
  // TLS 1.3 and 1.2 allowed: our default client must pick 1.3.
  ts::ServerProcess server = ts::gnutls_server({"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"});
  {
    TLSSocket socket("localhost", server.port(), 10s, trusted_session());
    CHECK(socket.protocol() == "TLSv1.3");
    CHECK(get_page(socket).status_line == "HTTP/1.0 200 OK\r\n");
  }
  for (const std::string& suite : tls13_suites) {
    INFO("suite " << suite);
    TLSSession::Options options = trusted_options();
    options.cipher_suites = {suite};
    TLSSocket socket("localhost", server.port(), 10s, trusted_session(options));
    CHECK(socket.protocol() == "TLSv1.3");
    CHECK(socket.cipher_suite() == suite);
    CHECK(socket.certificate() == pki_certificate("localhost.pem"));
    Page page = get_page(socket);
    CHECK(page.status_line == "HTTP/1.0 200 OK\r\n");
    CHECK(page.end == graceful_end);
  }
}

TEST_CASE("TLS 1.2-only servers still work with the default protocols", "[tls13][openssl]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  // RFC 8446 4.2.3: a client that offers rsa_pss_rsae_* (which TLS 1.3 needs for RSA keys)
  // must accept them in TLS 1.2 too; OpenSSL and GnuTLS sign a TLS 1.2 ServerKeyExchange with
  // RSA-PSS when offered. Known broken in mbedTLS 3.6.6 (Mbed-TLS/mbedtls#10668, fixed by #10672).
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string suite_prefix;
  };
  const std::vector<Case> cases = {
      {"RSA key, ECDHE", {"-tls1_2", "-www"}, "TLS_ECDHE_RSA_"},
      {"ECDSA key, ECDHE",
       {"-tls1_2", "-www", "-cert", cert_path("localhost-ecdsa.pem").string(), "-key",
        cert_path("localhost-ecdsa.key").string(), "-cert_chain", cert_path("intermediate-ca.pem").string()},
       "TLS_ECDHE_ECDSA_"},
      {"RSA key, PKCS#1 v1.5 signatures only", {"-tls1_2", "-www", "-sigalgs", "RSA+SHA256"}, "TLS_ECDHE_RSA_"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    ts::ServerProcess server = ts::openssl_server(c.args);
    std::string outcome = error_of([&] {
      TLSSocket socket("localhost", server.port(), 10s, trusted_session());
      CHECK(socket.protocol() == "TLSv1.2");
      CHECK(socket.cipher_suite().starts_with(c.suite_prefix));
      CHECK(get_page(socket).status_line == "HTTP/1.0 200 ok\r\n");
    });
    CHECK(outcome == "no exception");
  }
}

TEST_CASE("our client and our server at TLS 1.3, each suite chosen by either end", "[tls13][server]") {
  TLSOCK_REQUIRE_TLS13("");
  for (const std::string& suite : tls13_suites) {
    for (bool pinned_by_server : {true, false}) {
      INFO("suite " << suite << (pinned_by_server ? ", the server's only suite" : ", the client's only suite"));
      ServerOptions server_options;
      server_options.protocols = {Protocol::TLSv1_3};
      TLSSession::Options client_options = tls13_options();
      (pinned_by_server ? server_options.cipher_suites : client_options.cipher_suites) = {suite};
      Log log;
      ServerThread server(make_server(server_options), [&log](TLSSocket& socket) {
        log.add(protocol_and_suite(socket));
        std::string line = socket.read_line();
        socket.write("server got " + line);
        log.add(read_to_end(socket));
      });
      {
        TLSSocket client = connect_tls(server.port(), "localhost", tls13_session(client_options));
        CHECK(protocol_and_suite(client) == "TLSv1.3 " + suite);
        CHECK(client.certificate() == pki_certificate("localhost.pem"));
        client.write("hello\n");
        CHECK(client.read_line() == "server got hello\n");
      }
      REQUIRE(log.wait_for(2));
      server.stop();
      CHECK(log.lines() == std::vector<std::string>{"TLSv1.3 " + suite, graceful_end});
      CHECK(server.handshake_errors().lines().empty());
      CHECK(server.errors().lines().empty());
    }
  }
}

TEST_CASE("openssl s_client -tls1_3 and gnutls-cli against our server", "[tls13][server]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  const std::string answer = "tlsock server says hello";
  Log log;
  ServerThread server(make_server(), [&](TLSSocket& socket) {
    std::string line = socket.read_line();
    log.add(line + protocol_and_suite(socket));
    socket.write(answer + "\n");
  });
  for (const std::string& suite : tls13_suites) {
    INFO("suite " << suite);
    ts::ProgramResult result = ts::run_program(
        {"sh", "-c", "printf 'hello\\n' | exec \"$@\"", "sh", ts::find_program("openssl"), "s_client", "-connect",
         "127.0.0.1:" + std::to_string(server.port()), "-servername", "localhost", "-CAfile",
         cert_path("root-ca.pem").string(), "-verify_return_error", "-quiet", "-tls1_3", "-ciphersuites", suite},
        30s);
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find(answer + "\n") != std::string::npos);
  }
  if (!ts::find_program("gnutls-cli").empty()) {
    // gnutls-cli leaves when its input ends: keep it open until the answer arrived.
    TempDir dir;
    std::string out = (dir.path() / "out.txt").string();
    std::string script =
        "out=$1; shift\n"
        "{ printf 'hello\\n'; i=0\n"
        "  while [ $i -lt 200 ] && ! grep -q 'says hello' \"$out\" 2>/dev/null; do sleep 0.1; i=$((i+1)); done\n"
        "} | \"$@\" >\"$out\" 2>&1\n"
        "status=$?\n"
        "cat \"$out\"\n"
        "exit $status\n";
    ts::ProgramResult result =
        ts::run_program({"sh", "-c", script, "sh", out, ts::find_program("gnutls-cli"), "--x509cafile",
                         cert_path("root-ca.pem").string(), "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", "-p",
                         std::to_string(server.port()), "localhost"},
                        40s);
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("- Status: The certificate is trusted.") != std::string::npos);
    CHECK(result.output.find(answer + "\n") != std::string::npos);
  }
  server.stop();
  std::vector<std::string> expected;
  expected.reserve(std::size(tls13_suites));
  for (const std::string& suite : tls13_suites) expected.push_back("hello\nTLSv1.3 " + suite);
  if (!ts::find_program("gnutls-cli").empty()) {
    REQUIRE(log.lines().size() == expected.size() + 1);
    CHECK(log.lines().back().starts_with("hello\nTLSv1.3 TLS_"));
    expected.push_back(log.lines().back());
  }
  CHECK(log.lines() == expected);
  CHECK(server.handshake_errors().lines().empty());
  CHECK(server.errors().lines().empty());
}

// --- Resumption -------------------------------------------------------------------------

TEST_CASE("TLS 1.3 resumption by NewSessionTicket against openssl s_server", "[tls13][openssl][resumption]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-www"});
  auto session = tls13_session();
  {
    TLSSocket first("localhost", server.port(), 10s, session);
    CHECK(first.protocol() == "TLSv1.3");
    // The tickets follow the handshake: the first read takes them in.
    Page page = get_page(first);
    CHECK(page.status_line == "HTTP/1.0 200 ok\r\n");
    CHECK(page.end == graceful_end);
    CHECK(reuse_facts(first) == "ticket=new id=none");
  }
  TLSSocket second("localhost", server.port(), 10s, session);
  CHECK(second.protocol() == "TLSv1.3");
  CHECK(reuse_facts(second) == "ticket=reused id=none");
  // A resumed handshake carries no certificates; the socket reports the chain the full
  // handshake verified.
  CHECK(second.certificate() == pki_certificate("localhost.pem"));
  REQUIRE(second.intermediates().size() == 1);
  CHECK(second.intermediates()[0] == pki_certificate("intermediate-ca.pem"));
  CHECK(get_page(second).status_line == "HTTP/1.0 200 ok\r\n");
  CHECK(reuse_facts(second) == "ticket=reused id=none");
}

TEST_CASE("TLS 1.3 resumption with our own server, seen from both ends", "[tls13][server][resumption]") {
  TLSOCK_REQUIRE_TLS13("");
  Log log;
  auto session = tls13_session();
  std::vector<std::string> client_facts;

  SECTION("tickets on") {
    ServerThread server(make_server(), answer_ok(log, reuse_facts));
    for (int i = 0; i < 2; ++i) {
      TLSSocket client = connect_tls(server.port(), "localhost", session);
      CHECK(client.protocol() == "TLSv1.3");
      CHECK(client.read_line() == "ok\n");
      client_facts.push_back(reuse_facts(client));
    }
    server.stop();
    CHECK(client_facts == std::vector<std::string>{"ticket=new id=none", "ticket=reused id=none"});
    CHECK(log.lines() == std::vector<std::string>{"ticket=new id=none", "ticket=reused id=none"});
  }
  SECTION("tickets off: TLS 1.3 has nothing else to resume with") {
    ServerOptions options;
    options.session_tickets = false;
    ServerThread server(make_server(options), answer_ok(log, reuse_facts));
    for (int i = 0; i < 2; ++i) {
      TLSSocket client = connect_tls(server.port(), "localhost", session);
      CHECK(client.read_line() == "ok\n");
      client_facts.push_back(reuse_facts(client));
    }
    server.stop();
    CHECK(client_facts == std::vector<std::string>{"ticket=none id=none", "ticket=none id=none"});
    CHECK(log.lines() == std::vector<std::string>{"ticket=none id=none", "ticket=none id=none"});
  }
}

TEST_CASE("a required client certificate is known on every TLS 1.3 connection (resumed too)",
          "[tls13][server][resumption][client-auth]") {
  TLSOCK_REQUIRE_TLS13("");
  ServerOptions server_options;
  server_options.client_auth = ClientAuth::required;
  server_options.client_trust_roots = {cert_path("root-ca.pem")};
  Log log;
  ServerThread server(make_server(server_options), answer_ok(log, [](TLSSocket& socket) {
                        try {
                          return "client=" + socket.certificate().subject();
                        } catch (const std::exception& e) {
                          return describe(e);
                        }
                      }));
  TLSSession::Options options = tls13_options();
  options.client_certificate = pki_chain("client");
  auto session = tls13_session(options);
  for (int i = 0; i < 2; ++i) {
    TLSSocket client = connect_tls(server.port(), "localhost", session);
    CHECK(client.read_line() == "ok\n");
  }
  server.stop();
  // A TLS 1.3 resumption carries no Certificate message: the server must know the client from
  // the session (or not resume).
  CHECK(log.lines() == std::vector<std::string>{"client=CN=tlsock Test Client", "client=CN=tlsock Test Client"});
}

TEST_CASE("a TLS 1.3 ticket is used once: against openssl s_server -num_tickets 1", "[tls13][openssl][resumption]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-num_tickets", "1", "-www"});
  auto session = tls13_session();
  {
    TLSSocket first("localhost", server.port(), 10s, session);
    CHECK(get_page(first).end == graceful_end);
    CHECK(reuse_facts(first) == "ticket=new id=none");
  }
  // Two connections race for the one ticket. s_server serves one connection at a time, so the
  // race is staged: `late` starts first (its ClientHello, written at start(), offers the
  // ticket) but reaches the server only after `other` is done.
  LateClient late(server.port(), session);
  {
    TLSSocket other("localhost", server.port(), 10s, session);
    CHECK(other.protocol() == "TLSv1.3");
    CHECK(reuse_of(other.session_ticket()) != "reused");
    CHECK(get_page(other).end == graceful_end);
    // Its own new ticket came with its page; it cannot have resumed.
    CHECK(reuse_facts(other) == "ticket=new id=none");
  }
  late.connect(server.port());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!late.connection.is_handshake_complete()) REQUIRE(late.receive(deadline));
  CHECK(late.connection.info().protocol == Protocol::TLSv1_3);
  CHECK(reuse_of(late.connection.info().session_ticket) == "reused");
  CHECK(reuse_of(late.connection.info().session_id) == "none");
  late.connection.data_from_application(http_get);
  std::string end = error_of([&] {
    while (late.receive(deadline)) {
    }
  });
  CHECK(late.plaintext.starts_with("HTTP/1.0 200 ok\r\n"));
  CHECK(end == "TLSGracefulDisconnectError: The remote end closed the connection");
}

TEST_CASE("a TLS 1.3 ticket is used once: two threads race against our server", "[tls13][server][resumption]") {
  TLSOCK_REQUIRE_TLS13("");
  Log log;
  // Handshakes progress inside accept(), so the handler must not wait for the client: the
  // racers hold their connections open until both handshakes are done.
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    log.add(reuse_facts(socket));
    socket.write("ok\n");
  });
  auto session = tls13_session();
  {
    TLSSocket first = connect_tls(server.port(), "localhost", session);
    CHECK(first.read_line() == "ok\n");
    CHECK(reuse_facts(first) == "ticket=new id=none");
  }
  // Both handshakes finish before either reads, so neither has a new ticket to share yet:
  // whoever took the cached ticket first resumes, the other makes a full handshake.
  std::barrier handshakes_done(2);
  std::vector<std::string> facts(2), errors(2);
  std::vector<std::thread> racers;
  racers.reserve(2);
  for (int i = 0; i < 2; ++i) {
    racers.emplace_back([&, i] {
      std::optional<TLSSocket> socket;
      try {
        socket.emplace(connect_tls(server.port(), "localhost", session));
        facts[i] = reuse_facts(*socket);
      } catch (const std::exception& e) {
        errors[i] = describe(e);
      }
      handshakes_done.arrive_and_wait();
      try {
        if (socket && socket->read_line() != "ok\n") errors[i] = "unexpected answer";
      } catch (const std::exception& e) {
        errors[i] = describe(e);
      }
    });
  }
  for (std::thread& racer : racers) racer.join();
  server.stop();
  CHECK(errors == std::vector<std::string>(2));
  std::multiset<std::string> seen(facts.begin(), facts.end());
  CHECK(seen == std::multiset<std::string>{"ticket=none id=none", "ticket=reused id=none"});
  // The server saw it the same way (its first connection issued the ticket).
  std::vector<std::string> server_facts = log.lines();
  REQUIRE(server_facts.size() == 3);
  CHECK(server_facts[0] == "ticket=new id=none");
  CHECK(std::multiset<std::string>(server_facts.begin() + 1, server_facts.end()) ==
        std::multiset<std::string>{"ticket=new id=none", "ticket=reused id=none"});
  CHECK(server.handshake_errors().lines().empty());
  CHECK(server.errors().lines().empty());
}

// --- HelloRetryRequest ------------------------------------------------------------------

TEST_CASE("HelloRetryRequest: a server that accepts only a group we do not key-share first", "[tls13][openssl]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  TempDir dir;
  std::filesystem::path messages = dir.path() / "messages.txt";
  // -msg logs every handshake message the server sees; -quiet (added by openssl_server) keeps
  // the rest out.
  ts::ServerProcess server =
      ts::openssl_server({"-tls1_3", "-groups", "secp384r1", "-www", "-msg", "-msgfile", messages.string()});
  auto session = trusted_session();
  {
    TLSSocket socket("localhost", server.port(), 10s, session);
    CHECK(socket.protocol() == "TLSv1.3");
    CHECK(socket.certificate() == pki_certificate("localhost.pem"));
    Page page = get_page(socket);
    CHECK(page.status_line == "HTTP/1.0 200 ok\r\n");
    CHECK(page.end == graceful_end);
  }
  // The server saw two ClientHellos: the first one's key share was refused with a retry.
  std::string log = read_file(messages);
  INFO(log);
  std::regex client_hello("<<< TLS 1.3, Handshake \\[length [0-9a-f]+\\], ClientHello");
  CHECK(std::distance(std::sregex_iterator(log.begin(), log.end(), client_hello), std::sregex_iterator()) == 2);
  // A resumption after the retry: the ticket came from a handshake with a retry in it.
  TLSSocket again("localhost", server.port(), 10s, session);
  CHECK(again.protocol() == "TLSv1.3");
  CHECK(reuse_facts(again) == "ticket=reused id=none");
  CHECK(get_page(again).status_line == "HTTP/1.0 200 ok\r\n");
}

// --- Failures ---------------------------------------------------------------------------

TEST_CASE("a TLS 1.3-only server and a TLS 1.2-only client", "[tls13][handshake]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  TLSSession::Options options = trusted_options();
  options.protocols = {Protocol::TLSv1_2};
  const std::string refused = "TLSAlertError: TLS handshake failed - protocol version error [protocol_version, fatal]";
  SECTION("openssl s_server -tls1_3") {
    ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-www"});
    CHECK(error_of([&] { (void)TLSSocket("localhost", server.port(), 10s, trusted_session(options)); }) == refused);
  }
  SECTION("our own server with TLS 1.3 only") {
    ServerOptions server_options;
    server_options.protocols = {Protocol::TLSv1_3};
    ServerThread server(make_server(server_options), [](TLSSocket&) {});
    CHECK(error_of([&] { (void)connect_tls(server.port(), "localhost", trusted_session(options)); }) == refused);
    REQUIRE(server.handshake_errors().wait_for(1));
    server.stop();
    CHECK(server.handshake_errors().lines() ==
          std::vector<std::string>{"TLSError: TLS handshake failed - protocol version error"});
  }
}

TEST_CASE("a TLS 1.3 server that requires a client certificate", "[tls13][openssl][client-auth]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  ts::ServerProcess server =
      ts::openssl_server({"-tls1_3", "-Verify", "1", "-CAfile", cert_path("root-ca.pem").string(), "-www"});
  SECTION("without one: the refusal arrives at the next write or read, after our handshake is done") {
    std::optional<TLSSocket> socket;
    socket.emplace("localhost", server.port(), 10s, tls13_session());
    CHECK(socket->protocol() == "TLSv1.3");
    const std::string refused =
        "TLSAlertError: TLS handshake failed - client authentication required [certificate_required, fatal]";
    // write() takes in what already arrived after the handshake, so the refusal may come there.
    CHECK(error_of([&] {
            socket->write(http_get);
            (void)socket->read_line();
          }) == refused);
    CHECK(error_of([&] { (void)socket->read(1); }) == refused);  // sticky
  }
  SECTION("with one") {
    TLSSession::Options options = tls13_options();
    options.client_certificate = pki_chain("client");
    TLSSocket socket("localhost", server.port(), 10s, tls13_session(options));
    CHECK(socket.protocol() == "TLSv1.3");
    Page page = get_page(socket);
    CHECK(page.status_line == "HTTP/1.0 200 ok\r\n");
    CHECK(page.end == graceful_end);
  }
}

// --- Key logging ------------------------------------------------------------------------

TEST_CASE("key logging of the TLS 1.3 secrets", "[tls13][keylog]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  TempDir dir;

  SECTION("our client against openssl s_server, which logs the same secrets") {
    std::filesystem::path ours = dir.path() / "client.keys", theirs = dir.path() / "server.keys";
    ts::ServerProcess server = ts::openssl_server({"-tls1_3", "-www", "-keylogfile", theirs.string()});
    for (const std::string& suite : {std::string("TLS_AES_128_GCM_SHA256"), std::string("TLS_AES_256_GCM_SHA384")}) {
      INFO("suite " << suite);
      std::filesystem::remove(ours);  // s_server keeps its file open: it grows across connections
      TLSSession::Options options = tls13_options();
      options.key_log_file = ours;
      options.cipher_suites = {suite};
      {
        TLSSocket socket("localhost", server.port(), 10s, tls13_session(options));
        CHECK(get_page(socket).end == graceful_end);
      }
      // SHA-384 suites have 48-byte secrets, SHA-256 suites 32-byte ones.
      std::string client_random = check_tls13_key_log(ours, suite.ends_with("SHA384") ? 96 : 64);
      // OpenSSL logs (at least) the same four lines for the same connection.
      auto our_lines = key_log_lines(ours), their_lines = key_log_lines(theirs);
      INFO("server's key log:\n" << read_file(theirs));
      for (const std::string& label : tls13_secret_labels) {
        std::vector<std::string> same_connection;
        for (const std::string& line : their_lines[label])
          if (line.find(" " + client_random + " ") != std::string::npos) same_connection.push_back(line);
        CHECK(same_connection == our_lines[label]);
      }
    }
  }
  SECTION("our client and our server log the same lines") {
    std::filesystem::path client_log = dir.path() / "client.keys", server_log = dir.path() / "server.keys";
    ServerOptions server_options;
    server_options.key_log_file = server_log;
    Log log;
    ServerThread server(make_server(server_options), answer_ok(log, [](TLSSocket&) { return std::string("served"); }));
    TLSSession::Options options = tls13_options();
    options.key_log_file = client_log;
    {
      TLSSocket client = connect_tls(server.port(), "localhost", tls13_session(options));
      CHECK(client.protocol() == "TLSv1.3");
      CHECK(client.read_line() == "ok\n");
    }
    server.stop();
    std::string client_random = check_tls13_key_log(client_log, 64);
    CHECK(check_tls13_key_log(server_log, 64) == client_random);
    CHECK(key_log_lines(client_log) == key_log_lines(server_log));
  }
}

// --- What mbedTLS 3 no longer has -------------------------------------------------------

TEST_CASE("TLS 1.0 and 1.1 are refused with a clear message", "[tls13][protocols]") {
  TLSOCK_REQUIRE_TLS13("");
  ProtocolSet supported = supported_protocols();
  std::string supported_names;
  for (Protocol p : supported) supported_names += (supported_names.empty() ? "" : ", ") + std::string(to_string(p));
  for (Protocol old : {Protocol::TLSv1, Protocol::TLSv1_1}) {
    if (supported.contains(old)) continue;  // an mbedTLS build with TLS 1.3 and old versions too
    INFO("protocol " << to_string(old));
    const std::string refused = "std::invalid_argument: protocols: " + std::string(to_string(old)) +
                                " is not supported by the linked " + std::string(backend_version()) +
                                " (supported: " + supported_names + ")";
    CHECK(error_of([&] { (void)TLSSession(ProtocolSet{old}); }) == refused);
    CHECK(error_of([&] { (void)TLSSession(ProtocolSet{old, Protocol::TLSv1_2, Protocol::TLSv1_3}); }) == refused);
    ServerOptions options;
    options.protocols = {old};
    CHECK(error_of([&] { (void)make_server(options); }) == refused);
    options.protocols = {old, Protocol::TLSv1_2};
    CHECK(error_of([&] { (void)make_server(options); }) == refused);
  }
}

// --- oscrypto's verification messages at TLS 1.3 ----------------------------------------

TEST_CASE("verification failures name the reason at TLS 1.3", "[tls13][verification]") {
  TLSOCK_REQUIRE_TLS13("openssl");
  auto serve = [](const std::string& name, bool with_intermediate) {
    std::vector<std::string> args{
        "-tls1_3", "-www", "-cert", cert_path(name + ".pem").string(), "-key", cert_path(name + ".key").string()};
    if (with_intermediate) args.insert(args.end(), {"-cert_chain", cert_path("intermediate-ca.pem").string()});
    return ts::openssl_server(args);
  };
  // Connects to 127.0.0.1 and verifies the certificate as `hostname`; the error, with the
  // certificate it carries.
  auto rejected = [](const ts::ServerProcess& server, const std::string& hostname) {
    try {
      ts::UniqueFd fd = ts::connect_loopback(server.port());
      (void)TLSSocket::wrap(fd.release(), hostname, tls13_session(), 10s);
    } catch (const TLSVerificationError& e) {
      return std::make_pair(std::string(e.what()), e.certificate());
    } catch (const std::exception& e) {
      return std::make_pair(describe(e), std::optional<Certificate>());
    }
    return std::make_pair(std::string("no exception"), std::optional<Certificate>());
  };
  struct Case {
    std::string name;
    bool with_intermediate;
    std::string hostname;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"expired", true, "localhost", verification_failed + " - certificate expired 2001-01-02 00:00:00Z"},
      {"self-signed", false, "localhost", verification_failed + " - certificate is self-signed"},
      {"untrusted", false, "localhost",
       verification_failed + " - certificate issuer not found in trusted root certificate store"},
      {"wrong-host", true, "localhost",
       verification_failed + " - domain name localhost does not match valid domains: wrong.example, other.example"},
      {"localhost", true, "other.example",
       verification_failed + " - domain name other.example does not match valid domains: localhost or valid IP "
                             "addresses: 127.0.0.1, ::1"},
      {"wrong-host", true, "127.0.0.1",
       verification_failed + " - IP address 127.0.0.1 does not match valid domains: wrong.example, other.example"},
      {"bad-key-usage", true, "localhost", verification_failed},
  };
  for (const Case& c : cases) {
    INFO("server certificate " << c.name << ".pem, verified as " << c.hostname);
    ts::ServerProcess server = serve(c.name, c.with_intermediate);
    auto [message, certificate] = rejected(server, c.hostname);
    CHECK(message == c.message);
    REQUIRE(certificate.has_value());
    CHECK(*certificate == pki_certificate(c.name + ".pem"));
  }
  // The same servers accept a TLS 1.3 client that verifies nothing.
  TLSSession::Options unverified = tls13_options();
  unverified.manual_validation = true;
  ts::ServerProcess server = serve("expired", true);
  TLSSocket socket("localhost", server.port(), 10s, tls13_session(unverified));
  CHECK(socket.protocol() == "TLSv1.3");
  CHECK(get_page(socket).status_line == "HTTP/1.0 200 ok\r\n");
}
