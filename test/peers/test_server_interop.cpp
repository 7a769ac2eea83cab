// Our server (a TLSListener served by a thread of this process, on 127.0.0.1) against other
// TLS clients: `openssl s_client` and `gnutls-cli`, which verify it against the test PKI's root,
// send a line and print the answer; client certificates from s_client; resumption as the peer
// reports it.
//
// The clients run through run_program (stdin is /dev/null), so their input comes from a
// `sh -c` pipeline. s_client -quiet implies -ign_eof: it stays after its input ends, until our
// server closes. gnutls-cli instead says goodbye as soon as its input ends, so its input is
// kept open until its output shows the server's answer (a bounded wait in the shell).
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using tlsock::testing::find_program;
using tlsock::testing::ProgramResult;
using tlsock::testing::run_program;
using namespace std::chrono_literals;

namespace {

const std::string answer = "tlsock server says hello";

std::string path_of(std::string_view name) { return cert_path(name).string(); }

// Reads the client's line, records what the server saw, answers, and closes (close_notify)
// once the client has ended its side.
ServerThread::Handler answer_line(Log& log) {
  return [&log](TLSSocket& socket) {
    std::string line = socket.read_line();
    std::string identity;
    try {
      identity = socket.certificate().subject();
    } catch (const TLSError& e) {
      identity = e.what();
    }
    log.add("line=" + line + "protocol=" + std::string(socket.protocol()) +
            " sni=" + std::string(socket.server_name()) + " client=" + identity);
    socket.write(answer + "\n");
  };
}

// `printf 'hello\n' | openssl s_client ... -quiet <extra>`, to 127.0.0.1:port as "localhost".
ProgramResult s_client(std::uint16_t port, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"sh",
                                "-c",
                                "printf 'hello\\n' | exec \"$@\"",
                                "sh",
                                find_program("openssl"),
                                "s_client",
                                "-connect",
                                "127.0.0.1:" + std::to_string(port),
                                "-servername",
                                "localhost",
                                "-CAfile",
                                path_of("root-ca.pem"),
                                "-verify_return_error",
                                "-quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_program(std::move(argv), 30s);
}

}  // namespace

TEST_CASE("openssl s_client verifies our server and exchanges a line", "[server-interop][openssl]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  Log log;
  ServerThread server(make_server(), answer_line(log));
  ProgramResult result = s_client(server.port());
  server.stop();
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find(answer + "\n") != std::string::npos);
  CHECK(log.lines() == std::vector<std::string>{"line=hello\nprotocol=" + default_protocol() +
                                                " sni=localhost client=the client sent no certificate"});
  CHECK(server.handshake_errors().lines().empty());
  CHECK(server.errors().lines().empty());
}

TEST_CASE("openssl s_client with a client certificate", "[server-interop][openssl][client-auth]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  ServerOptions options;
  options.client_auth = ClientAuth::required;
  options.client_trust_roots = {cert_path("root-ca.pem")};
  Log log;
  ServerThread server(make_server(options), answer_line(log));

  SECTION("presented: the server sees who it is") {
    ProgramResult result = s_client(server.port(), {"-cert", path_of("client.pem"), "-key", path_of("client.key"),
                                                    "-cert_chain", path_of("intermediate-ca.pem")});
    server.stop();
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find(answer + "\n") != std::string::npos);
    CHECK(log.lines() == std::vector<std::string>{"line=hello\nprotocol=" + default_protocol() +
                                                  " sni=localhost client=CN=tlsock Test Client"});
    CHECK(server.handshake_errors().lines().empty());
  }
  SECTION("missing, TLS 1.2: refused with a handshake_failure alert") {
    server.stop();
    ServerOptions tls12 = options;
    tls12.protocols = {Protocol::TLSv1_2};
    ServerThread server12(make_server(tls12), answer_line(log));
    ProgramResult result = s_client(server12.port());
    REQUIRE(server12.handshake_errors().wait_for(1));
    server12.stop();
    INFO(result.output);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(answer) == std::string::npos);
    // RFC 5246 7.4.6: a server that will not continue without a certificate answers with a
    // fatal handshake_failure alert.
    CHECK(result.output.find("alert handshake failure") != std::string::npos);
    CHECK(server12.handshake_errors().lines() ==
          std::vector<std::string>{"TLSError: TLS handshake failed - client authentication required"});
    CHECK(log.lines().empty());
  }
  SECTION("missing, TLS 1.3: refused with a certificate_required alert") {
    if (!supported_protocols().contains(Protocol::TLSv1_3)) TLSOCK_SKIP("the linked mbedTLS has no TLS 1.3");
    ProgramResult result = s_client(server.port(), {"-tls1_3"});
    REQUIRE(server.handshake_errors().wait_for(1));
    server.stop();
    INFO(result.output);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(answer) == std::string::npos);
    // RFC 8446 4.4.2.4: a server that will not continue without a certificate aborts with a
    // fatal certificate_required alert.
    CHECK(result.output.find("alert certificate required") != std::string::npos);
    CHECK(server.handshake_errors().lines() ==
          std::vector<std::string>{"TLSError: TLS handshake failed - client authentication required"});
    CHECK(log.lines().empty());
  }
}

// What a TLS 1.2 s_client offering only `ciphers` (OpenSSL names) gets from a server with the
// given options: the suite the server chose (IANA name), or the handshake error it recorded
// and, when s_client reports it, the alert it received.
std::string tls12_suite_chosen(const ServerOptions& options, const std::string& ciphers) {
  Log log;
  ServerThread server(make_server(options), [&log](TLSSocket& socket) {
    log.add(std::string(socket.cipher_suite()));
    (void)socket.read_line();
    socket.write(answer + "\n");
  });
  ProgramResult result = s_client(server.port(), {"-tls1_2", "-cipher", ciphers});
  (void)(result.exit_code == 0 ? log.wait_for(1) : server.handshake_errors().wait_for(1));
  server.stop();
  INFO(result.output);
  if (!log.lines().empty()) return log.lines().front();
  if (server.handshake_errors().lines().empty()) return "(nothing)";
  std::string alert =
      result.output.find("alert handshake failure") != std::string::npos ? ", alert handshake failure" : "";
  return server.handshake_errors().lines().front() + alert;
}

TEST_CASE("our server offers forward-secret AEAD suites only, strongest first, unless widened",
          "[server-interop][openssl][suites]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  const std::string refused = "TLSError: TLS handshake failed, alert handshake failure";
  SECTION("static RSA key exchange and CBC are refused by default") {
    CHECK(tls12_suite_chosen({}, "AES128-GCM-SHA256") == refused);
    CHECK(tls12_suite_chosen({}, "AES256-SHA") == refused);
    CHECK(tls12_suite_chosen({}, "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384") == refused);
  }
  SECTION("ECDHE with AEAD, in the server's order: AES-256 before ChaCha20 before AES-128") {
    CHECK(
        tls12_suite_chosen({}, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384") ==
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    CHECK(tls12_suite_chosen({}, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305") ==
          "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
    CHECK(tls12_suite_chosen({}, "ECDHE-RSA-AES128-GCM-SHA256") == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  }
  SECTION("cipher_suites widens the list") {
    ServerOptions wide;
    wide.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"};
    CHECK(tls12_suite_chosen(wide, "ECDHE-RSA-AES128-SHA") == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
  }
}

TEST_CASE("openssl s_client resumes a session with our server", "[server-interop][openssl][resumption]") {
  if (find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  TempDir dir;
  std::string saved = (dir.path() / "session.pem").string();
  Log log;
  // Session IDs and TLS 1.2 tickets are TLS 1.2 mechanisms.
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  ServerThread server(make_server(options), [&log](TLSSocket& socket) {
    log.add("ticket=" + reuse_of(socket.session_ticket()) + " id=" + reuse_of(socket.session_id()));
    (void)socket.read_line();
    socket.write(answer + "\n");
  });
  // Without -quiet s_client prints "New, ..." or "Reused, ..." for each connection.
  auto run = [&](const std::string& session_option) {
    return run_program({"sh", "-c", "printf 'hello\\n' | exec \"$@\"", "sh", find_program("openssl"), "s_client",
                        "-connect", "127.0.0.1:" + std::to_string(server.port()), "-servername", "localhost", "-CAfile",
                        path_of("root-ca.pem"), "-verify_return_error", "-ign_eof", session_option, saved},
                       30s);
  };
  ProgramResult first = run("-sess_out");
  ProgramResult second = run("-sess_in");
  server.stop();
  INFO(first.output);
  INFO(second.output);
  CHECK(first.exit_code == 0);
  CHECK(second.exit_code == 0);
  CHECK(first.output.find("\nNew, TLSv1.2") != std::string::npos);
  CHECK(second.output.find("\nReused, TLSv1.2") != std::string::npos);
  CHECK(second.output.find(answer + "\n") != std::string::npos);
  CHECK(log.lines() == std::vector<std::string>{"ticket=new id=none", "ticket=reused id=none"});
}

TEST_CASE("gnutls-cli verifies our server and exchanges a line", "[server-interop][gnutls]") {
  if (find_program("gnutls-cli").empty()) TLSOCK_SKIP("gnutls-cli is not installed");
  TempDir dir;
  std::string out = (dir.path() / "out.txt").string();
  Log log;
  ServerThread server(make_server(), answer_line(log));
  // The input stays open until the answer is in gnutls-cli's output (at most 20 s), so that
  // gnutls-cli does not end the connection before the server has answered. The pipeline's
  // status is gnutls-cli's.
  std::string script =
      "out=$1; shift\n"
      "{ printf 'hello\\n'; i=0\n"
      "  while [ $i -lt 200 ] && ! grep -q 'says hello' \"$out\" 2>/dev/null; do sleep 0.1; i=$((i+1)); done\n"
      "} | \"$@\" >\"$out\" 2>&1\n"
      "status=$?\n"
      "cat \"$out\"\n"
      "exit $status\n";
  ProgramResult result = run_program({"sh", "-c", script, "sh", out, find_program("gnutls-cli"), "--x509cafile",
                                      path_of("root-ca.pem"), "-p", std::to_string(server.port()), "localhost"},
                                     40s);
  server.stop();
  INFO(result.output);
  CHECK(result.output.find("- Status: The certificate is trusted.") != std::string::npos);
  CHECK(result.output.find(answer + "\n") != std::string::npos);
  CHECK(result.exit_code == 0);
  CHECK(log.lines() == std::vector<std::string>{"line=hello\nprotocol=" + default_protocol() +
                                                " sni=localhost client=the client sent no certificate"});
  CHECK(server.handshake_errors().lines().empty());
  CHECK(server.errors().lines().empty());
}

// RFC 7627 5.3 from the other side: a session made without an extended master secret
// (gnutls-cli's %NO_SESSION_HASH) is never resumed, by ticket or by session ID; with one it is.
TEST_CASE("gnutls-cli resumes only sessions made with an extended master secret",
          "[server-interop][gnutls][resumption][ems]") {
  if (find_program("gnutls-cli").empty()) TLSOCK_SKIP("gnutls-cli is not installed");
  const bool ems = GENERATE(true, false);
  const bool tickets = GENERATE(true, false);
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  ServerThread server(make_server(options), [](TLSSocket& socket) { socket.write(answer + "\n"); });
  std::string priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
  if (!ems) priority += ":%NO_SESSION_HASH";
  if (!tickets) priority += ":%NO_TICKETS";
  // -r: a handshake, then a second one that offers the first one's session. stdin is
  // /dev/null, so each connection ends as soon as it is established.
  ProgramResult result = run_program({find_program("gnutls-cli"), "--x509cafile", path_of("root-ca.pem"), "-p",
                                      std::to_string(server.port()), "--priority", priority, "-r", "localhost"},
                                     40s);
  server.stop();
  INFO(priority);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  // gnutls-cli says "Resume Handshake was completed" after the second handshake either way,
  // and then whether it was an abbreviated one.
  CHECK(result.output.find("- Resume Handshake was completed") != std::string::npos);
  CHECK((result.output.find("*** This is a resumed session") != std::string::npos) == ems);
  CHECK(server.handshake_errors().lines().empty());
}
