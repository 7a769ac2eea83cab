// `tlsock probe`: the binary (TLSOCK_CLI) against `openssl s_server -www` and against small
// STARTTLS servers written here (SMTP, IMAP, POP3, FTP, XMPP, PostgreSQL) that upgrade with
// the library's server side; plus the parsers of the STARTTLS dialogues. Loopback only.
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "../../tools/tlsock/probe/starttls.hpp"
#include "cli/openssl_peer.hpp"
#include "cli/smtp_server.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

ProgramResult probe(std::vector<std::string> args) {
  args.insert(args.begin(), {TLSOCK_CLI, "probe"});
  return run_program(std::move(args), 60s);
}

// The JSON object in the output (stderr lines such as "tlsock: ..." may come before it).
json json_of(const ProgramResult& result) {
  auto open = result.output.find("{\n");
  auto close = result.output.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    FAIL("no JSON object in the output:\n" << result.output);
  }
  return json::parse(result.output.substr(open, close - open + 1));
}

// How probe reports a protocol version against a server that speaks TLS 1.2 and 1.3 (as
// OpenSSL 3 and tlsock's own server with its defaults do).
std::string expected_result(Protocol protocol) {
  if (!supported_protocols().contains(protocol)) return "not supported";
  return default_protocols().contains(protocol) ? "accepted" : "refused";
}

int count_supported(bool accepted) {
  int n = 0;
  for (Protocol p : supported_protocols())
    if (default_protocols().contains(p) == accepted) ++n;
  return n;
}

const std::regex sha256_hex("[0-9a-f]{64}");

}  // namespace

// --- the parsers of the dialogues -------------------------------------------------------

// The protocol a default client and openssl s_server agree on: TLS 1.3 where the linked
// mbedTLS has it (3.6), else TLS 1.2.
static std::string newest_protocol() {
  return tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1_3) ? "TLSv1.3" : "TLSv1.2";
}

TEST_CASE("Reply reads single- and multi-line SMTP replies", "[starttls]") {
  using tlsock::cli::Reply;
  SECTION("one line") {
    Reply reply;
    CHECK(reply.add("220 mail.example.com ESMTP ready\r\n"));
    CHECK(reply.code() == 220);
    CHECK(reply.lines() == std::vector<std::string>{"mail.example.com ESMTP ready"});
  }
  SECTION("a code alone is a complete reply") {
    Reply reply;
    CHECK(reply.add("250\r\n"));
    CHECK(reply.code() == 250);
  }
  SECTION("several lines, the last with a space") {
    Reply reply;
    CHECK_FALSE(reply.add("250-mail.example.com\r\n"));
    CHECK_FALSE(reply.add("250-PIPELINING\r\n"));
    CHECK_FALSE(reply.complete());
    CHECK(reply.add("250 STARTTLS\r\n"));
    CHECK(reply.complete());
    CHECK(reply.lines() == std::vector<std::string>{"mail.example.com", "PIPELINING", "STARTTLS"});
    CHECK(reply.first_line() == "250-mail.example.com");
  }
  SECTION("FTP: lines in between may carry no code, or another code") {
    Reply reply;
    CHECK_FALSE(reply.add("220-Welcome\r\n"));
    CHECK_FALSE(reply.add(" to the server\r\n"));
    CHECK_FALSE(reply.add("230 is not the end\r\n"));
    CHECK(reply.add("220 ready\n"));
    CHECK(reply.code() == 220);
    CHECK(reply.lines().size() == 4);
  }
  SECTION("a first line without a code is refused, quoted") {
    Reply reply;
    CHECK_THROWS_WITH(reply.add("HTTP/1.1 400 Bad Request\r\n"), "not a reply: \"HTTP/1.1 400 Bad Request\"");
    Reply other;
    CHECK_THROWS_AS(other.add("2200 x\r\n"), std::invalid_argument);
  }
  SECTION("replies are bounded") {
    Reply reply;
    REQUIRE_FALSE(reply.add("250-first\r\n"));
    for (std::size_t i = 1; i < tlsock::cli::max_reply_lines; ++i) REQUIRE_FALSE(reply.add("250-more\r\n"));
    CHECK_THROWS_AS(reply.add("250-one too many\r\n"), std::invalid_argument);
  }
}

TEST_CASE("ehlo_offers_starttls finds the keyword on any line but the first", "[starttls]") {
  using tlsock::cli::Reply;
  auto ehlo = [](const std::vector<std::string>& lines) {
    Reply reply;
    for (const auto& line : lines) reply.add(line);
    return tlsock::cli::ehlo_offers_starttls(reply);
  };
  CHECK(ehlo({"250-mx\r\n", "250-STARTTLS\r\n", "250 8BITMIME\r\n"}));
  CHECK(ehlo({"250-mx\r\n", "250 STARTTLS\r\n"}));
  CHECK(ehlo({"250-mx\r\n", "250 starttls\r\n"}));
  CHECK_FALSE(ehlo({"250-mx\r\n", "250-STARTTLSX\r\n", "250 SIZE 100\r\n"}));
  CHECK_FALSE(ehlo({"250-mx\r\n", "250 X-STARTTLS\r\n"}));
  CHECK_FALSE(ehlo({"250 STARTTLS\r\n"}));  // the first line is the server's name
  CHECK_FALSE(ehlo({"250-mx\r\n", "250 PIPELINING\r\n"}));
  CHECK_FALSE(ehlo({"502-mx\r\n", "502 STARTTLS\r\n"}));
}

TEST_CASE("the XMPP scanners wait for whole elements", "[starttls]") {
  using tlsock::cli::XmppScan;
  std::string header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' version='1.0'>";
  CHECK(tlsock::cli::scan_xmpp_features(header) == XmppScan::incomplete);
  CHECK(tlsock::cli::scan_xmpp_features(
            header + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") == XmppScan::incomplete);
  std::string features =
      header + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
  CHECK(tlsock::cli::scan_xmpp_features(features) == XmppScan::done);
  CHECK(tlsock::cli::xmpp_offers_starttls(features));
  CHECK(tlsock::cli::scan_xmpp_features(header + "<stream:features/>") == XmppScan::done);
  CHECK_FALSE(tlsock::cli::xmpp_offers_starttls(header + "<stream:features/>"));
  CHECK(tlsock::cli::scan_xmpp_features(header + "<stream:error><host-unknown/></stream:error>") == XmppScan::error);

  bool proceed = false;
  CHECK(tlsock::cli::scan_xmpp_answer("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'", proceed) ==
        XmppScan::incomplete);
  CHECK(tlsock::cli::scan_xmpp_answer("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", proceed) == XmppScan::done);
  CHECK(proceed);
  CHECK(tlsock::cli::scan_xmpp_answer("<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'>", proceed) ==
        XmppScan::incomplete);
  CHECK(tlsock::cli::scan_xmpp_answer("<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'></tls:proceed>",
                                      proceed) == XmppScan::done);
  CHECK(tlsock::cli::scan_xmpp_answer("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", proceed) == XmppScan::done);
  CHECK_FALSE(proceed);
  CHECK(tlsock::cli::scan_xmpp_answer("<stream:error>", proceed) == XmppScan::error);
}

TEST_CASE("printable makes a server's line safe to quote", "[starttls]") {
  CHECK(tlsock::cli::printable("454 TLS not available\r\n") == "454 TLS not available");
  CHECK(tlsock::cli::printable(std::string("a\0b\x1b", 4)) == "a?b?");
  CHECK(tlsock::cli::printable(std::string(200, 'x')) == std::string(120, 'x') + "...");
}

// --- against openssl s_server -www ------------------------------------------------------

TEST_CASE("probe --json against s_server: connection, chain, verdict, resumption, versions", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--cacert", root_ca(), "--json"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  json j = json_of(result);

  CHECK(j["host"] == "localhost");
  CHECK(j["port"] == server.port());
  CHECK(j["starttls"].is_null());
  CHECK(j["connection"]["address"] == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(j["connection"]["protocol"] == newest_protocol());
  CHECK(std::regex_match(j["connection"]["cipher_suite"].get<std::string>(),
                         std::regex("TLS_ECDHE_(RSA|ECDSA)_WITH_[A-Z0-9_]+|TLS_(AES|CHACHA20)_[A-Z0-9_]+")));
  CHECK(j["alpn_offered"] == json::array({"h2", "http/1.1"}));
  CHECK(j["connection"]["alpn"].is_null());  // s_server answers no ALPN unless told to
  CHECK(j["connection"]["compression"] == false);
  CHECK(j["connection"]["session_ticket"] == "new");
  CHECK(j["verified"] == true);
  CHECK(j["verdict"] == "OK");

  REQUIRE(j["connection"]["chain"].size() == 2);
  CHECK(j["connection"]["chain"][0]["subject"] == "CN=localhost");
  CHECK(j["connection"]["chain"][0]["issuer"] == "CN=tlsock Test Intermediate CA");
  CHECK(j["connection"]["chain"][0]["valid_domains"] == json::array({"localhost"}));
  CHECK(j["connection"]["chain"][0]["valid_ips"] == json::array({"127.0.0.1", "::1"}));
  CHECK(j["connection"]["chain"][0]["key_algorithm"] == "rsa");
  CHECK(j["connection"]["chain"][0]["key_bits"] == 2048);
  CHECK(j["connection"]["chain"][0]["signature_hash"] == "sha256");
  CHECK(j["connection"]["chain"][0]["is_ca"] == false);
  CHECK(j["connection"]["chain"][1]["subject"] == "CN=tlsock Test Intermediate CA");
  CHECK(j["connection"]["chain"][1]["is_ca"] == true);
  auto pki = [](const char* name) { return Certificate::load(certs_dir() / name).at(0); };
  CHECK(j["connection"]["chain"][0]["sha256_fingerprint"] == pki("localhost.pem").sha256_fingerprint());
  CHECK(j["connection"]["chain"][1]["sha256_fingerprint"] == pki("intermediate-ca.pem").sha256_fingerprint());
  for (const json& certificate : j["connection"]["chain"]) {
    CHECK(std::regex_match(certificate["sha256_fingerprint"].get<std::string>(), sha256_hex));
    CHECK(std::regex_match(certificate["not_before"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
    CHECK(std::regex_match(certificate["not_after"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  }

  CHECK(j["resumption"]["session_ticket"] == "reused");
  CHECK(j["resumption"]["resumed"] == true);
  CHECK(j["resumption"]["error"].is_null());

  CHECK(j["protocols"]["TLSv1.2"] == "accepted");
  CHECK(j["protocols"]["TLSv1.3"] == expected_result(Protocol::TLSv1_3));
  for (Protocol p : {Protocol::TLSv1, Protocol::TLSv1_1}) {
    std::string name(to_string(p));
    // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level.
    CHECK(j["protocols"][name] == (supported_protocols().contains(p) ? "refused" : "not supported"));
    if (supported_protocols().contains(p)) CHECK(j["protocol_errors"][name].get<std::string>().starts_with("TLS "));
  }
  CHECK(j["error"].is_null());
  CHECK(j["exit_code"] == 0);
}

// The issue's own "done when": a TLS 1.3-only server, probed by a default build.
TEST_CASE("probe of a TLS 1.3-only s_server: TLSv1.3, verified, exit 0 (protocol version error on 2.28)", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-tls1_3"});
  ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--cacert", root_ca(), "--json"});
  INFO(result.output);
  if (!supported_protocols().contains(Protocol::TLSv1_3)) {
    CHECK(result.exit_code == 4);
    CHECK(result.output.find("TLS handshake failed - protocol version error") != std::string::npos);
    return;
  }
  REQUIRE(result.exit_code == 0);
  json j = json_of(result);
  CHECK(j["connection"]["protocol"] == "TLSv1.3");
  CHECK(std::regex_match(j["connection"]["cipher_suite"].get<std::string>(),
                         std::regex("TLS_(AES|CHACHA20)_[A-Z0-9_]+")));
  CHECK(j["verified"] == true);
  CHECK(j["verdict"] == "OK");
  CHECK(j["resumption"]["session_ticket"] == "reused");
  CHECK(j["protocols"]["TLSv1.3"] == "accepted");
  CHECK(j["protocols"]["TLSv1.2"] == "refused");
}

TEST_CASE("probe --session-file: the next run's first connection resumes", "[openssl][sessions]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  TempDir dir;
  const std::string file = dir / "sessions";
  const std::vector<std::string> args = {
      "localhost:" + std::to_string(server.port()), "--cacert", root_ca(), "--json", "--session-file", file};
  ProgramResult first = probe(args);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(json_of(first)["connection"]["session_ticket"] == "new");
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  ProgramResult second = probe(args);
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  json j = json_of(second);
  CHECK(j["connection"]["session_ticket"] == "reused");  // the saved session, from the first run
  CHECK(j["connection"]["protocol"] == newest_protocol());
  CHECK(j["connection"]["chain"].size() == 2);  // as the full handshake sent it
  CHECK(j["resumption"]["resumed"] == true);

  ProgramResult third = probe(args);  // what the second run saved resumes too
  INFO(third.output);
  CHECK(json_of(third)["connection"]["session_ticket"] == "reused");
}

TEST_CASE("probe without the test CA: exit 5, oscrypto's verdict, the chain still shown", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string verdict =
      "Server certificate verification failed - certificate issuer not found in trusted root certificate store";

  SECTION("--json") {
    ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 5);
    CHECK(result.output.find("tlsock: " + verdict + "\n") != std::string::npos);  // stderr
    json j = json_of(result);
    CHECK(j["verified"] == false);
    CHECK(j["verdict"] == verdict);
    CHECK(j["connection"]["protocol"] == newest_protocol());
    REQUIRE(j["connection"]["chain"].size() == 2);
    CHECK(j["connection"]["chain"][0]["subject"] == "CN=localhost");
    CHECK(j["connection"]["chain"][1]["subject"] == "CN=tlsock Test Intermediate CA");
    CHECK(j["resumption"]["resumed"] == true);  // with the unverified session
    CHECK(j["protocols"]["TLSv1.2"] == "accepted");
    CHECK(j["error"]["class"] == "verification");
    CHECK(j["error"]["message"] == verdict);
    CHECK(j["error"]["exit_code"] == 5);
    CHECK(j["exit_code"] == 5);
  }
  SECTION("text") {
    ProgramResult result = probe({"127.0.0.1:" + std::to_string(server.port())});
    INFO(result.output);
    CHECK(result.exit_code == 5);
    CHECK(result.output.find("Verification:   " + verdict + "\n") != std::string::npos);
    CHECK(result.output.find("  [0] CN=localhost\n") != std::string::npos);
    CHECK(result.output.find("  [1] CN=tlsock Test Intermediate CA\n") != std::string::npos);
  }
  SECTION("--insecure: not verified, exit 0, with a warning") {
    ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--insecure", "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("tlsock: warning: --insecure") != std::string::npos);
    json j = json_of(result);
    CHECK(j["verified"] == false);
    CHECK(j["verdict"] == "not verified (--insecure)");
    CHECK(j["connection"]["chain"].size() == 2);
  }
}

TEST_CASE("probe --cacert replaces the OS trust store, as in curl; --cacert-add adds to it", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string other_root = (certs_dir() / "untrusted-root-ca.pem").string();
  // The probe runs with an OS trust store of the test root alone (SSL_CERT_FILE).
  auto probe_trusting_test_root = [&](const std::string& option) {
    return run_program({"env", "-u", "SSL_CERT_DIR", "SSL_CERT_FILE=" + root_ca(), TLSOCK_CLI, "probe",
                        "localhost:" + std::to_string(server.port()), option, other_root, "--json"},
                       60s);
  };
  ProgramResult replaced = probe_trusting_test_root("--cacert");
  INFO(replaced.output);
  CHECK(replaced.exit_code == 5);
  CHECK(json_of(replaced)["verdict"] ==
        "Server certificate verification failed - certificate issuer not found in trusted root certificate store");
  ProgramResult added = probe_trusting_test_root("--cacert-add");
  INFO(added.output);
  CHECK(added.exit_code == 0);
  CHECK(json_of(added)["verdict"] == "OK");
}

TEST_CASE("probe prints the key facts as text", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  std::string port = std::to_string(server.port());
  ProgramResult result = probe({"localhost:" + port, "--cacert", root_ca(), "--alpn", "http/1.1"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  const std::string& out = result.output;
  CHECK(out.find("Host:           localhost port " + port + "\n") != std::string::npos);
  CHECK(out.find("Address:        127.0.0.1:" + port + "\n") != std::string::npos);
  CHECK(out.find("Protocol:       " + newest_protocol() + "\n") != std::string::npos);
  CHECK(std::regex_search(out, std::regex("\nCipher suite:   TLS_[A-Z0-9_]+\n")));
  CHECK(out.find("ALPN:           none (offered http/1.1)\n") != std::string::npos);
  CHECK(out.find("Compression:    no\n") != std::string::npos);
  CHECK(out.find("Verification:   OK\n") != std::string::npos);
  CHECK(out.find("Resumption:     reused (session ID none, ticket reused)\n") != std::string::npos);
  CHECK(out.find("Certificate chain (as sent by the server):\n  [0] CN=localhost\n") != std::string::npos);
  CHECK(out.find("      issuer:       CN=tlsock Test Intermediate CA\n") != std::string::npos);
  CHECK(out.find("      DNS names:    localhost\n") != std::string::npos);
  CHECK(out.find("      IP addresses: 127.0.0.1, ::1\n") != std::string::npos);
  CHECK(out.find("      key:          rsa 2048 bits\n") != std::string::npos);
  CHECK(out.find("      signature:    sha256\n") != std::string::npos);
  CHECK(std::regex_search(out, std::regex("      SHA-256:      [0-9a-f]{64}\n")));
  CHECK(std::regex_search(out, std::regex("      valid:        \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ to ")));
  CHECK(out.find("Protocol versions:\n") != std::string::npos);
  CHECK(out.find("  TLSv1.2   accepted\n") != std::string::npos);
}

TEST_CASE("probe takes an IPv6 literal in brackets", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  std::uint16_t port = free_port();  // free on 127.0.0.1 a moment ago; ::1 is checked below
  std::filesystem::path certs = certs_dir();
  ServerProcessOptions options;
  options.keep_stdin = true;
  options.ready_check = ReadyCheck::listening;
  std::optional<ServerProcess> server;
  try {
    server.emplace(ServerProcess::start({"openssl", "s_server", "-accept", "[::1]:" + std::to_string(port), "-cert",
                                         (certs / "localhost.pem").string(), "-key", (certs / "localhost.key").string(),
                                         "-cert_chain", (certs / "intermediate-ca.pem").string(), "-quiet", "-www"},
                                        port, options));
  } catch (const std::exception& error) {
    TLSOCK_SKIP(std::string("no server on [::1] (no IPv6 loopback?): ") + error.what());
  }
  ProgramResult result = probe({"[::1]:" + std::to_string(port), "--cacert", root_ca(), "--json"});
  INFO(result.output);
  CHECK(result.exit_code == 0);  // the leaf has the IP SAN ::1
  json j = json_of(result);
  CHECK(j["host"] == "::1");
  CHECK(j["connection"]["address"] == "[::1]:" + std::to_string(port));
  CHECK(j["verdict"] == "OK");
}

// --- STARTTLS -------------------------------------------------------------------------------

TEST_CASE("probe --starttls smtp upgrades every connection it makes", "[starttls]") {
  StartTLSServer server(smtp_dialogue(true));
  ProgramResult result =
      probe({"localhost:" + std::to_string(server.port()), "--starttls", "smtp", "--cacert", root_ca(), "--json"});
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  json j = json_of(result);
  CHECK(j["starttls"] == "smtp");
  CHECK(j["connection"]["protocol"] == newest_protocol());
  CHECK(j["verdict"] == "OK");
  REQUIRE(j["connection"]["chain"].size() == 2);
  CHECK(j["connection"]["chain"][0]["subject"] == "CN=localhost");
  CHECK(j["connection"]["chain"][1]["subject"] == "CN=tlsock Test Intermediate CA");
  CHECK(j["resumption"]["session_ticket"] == "reused");
  CHECK(j["resumption"]["resumed"] == true);
  for (Protocol p : {Protocol::TLSv1, Protocol::TLSv1_1, Protocol::TLSv1_2, Protocol::TLSv1_3})
    CHECK(j["protocols"][std::string(to_string(p))] == expected_result(p));
  // main + resumption + each accepted version; each refused version fails on the server.
  int accepted = 2 + count_supported(true);
  CHECK(server.wait_for(accepted, count_supported(false)));
  CHECK(server.handshakes() == accepted);
  CHECK(server.failed_handshakes() == count_supported(false));
  CHECK(server.handler_error() == "");
}

TEST_CASE("probe --starttls smtp against a server without STARTTLS fails clearly with exit 4", "[starttls]") {
  StartTLSServer server(smtp_dialogue(false));
  SECTION("text") {
    ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--starttls", "smtp"});
    CHECK(result.exit_code == 4);
    CHECK(result.output == "tlsock: STARTTLS: the SMTP server does not offer STARTTLS\n");
  }
  SECTION("--json") {
    ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--starttls", "SMTP", "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 4);
    json j = json_of(result);
    CHECK(j["error"]["message"] == "STARTTLS: the SMTP server does not offer STARTTLS");
    CHECK(j["error"]["class"] == "tls");
    CHECK(j["connection"].is_null());
    CHECK(j["starttls"] == "smtp");
    CHECK(j["port"] == server.port());
    CHECK(j["exit_code"] == 4);
  }
  CHECK(server.handshakes() == 0);
  CHECK(server.handler_error() == "");
}

TEST_CASE("probe --starttls speaks IMAP, POP3, FTP, XMPP and PostgreSQL", "[starttls]") {
  std::string name;
  StartTLSServer::Dialogue dialogue;
  SECTION("imap") {
    name = "imap";
    dialogue = [](PlainPeer& peer) {
      peer.send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
      if (peer.line() != "a001 STARTTLS\r\n") return false;
      peer.send("* NOTE an untagged line first\r\na001 OK Begin TLS negotiation now\r\n");
      return true;
    };
  }
  SECTION("pop3") {
    name = "pop3";
    dialogue = [](PlainPeer& peer) {
      peer.send("+OK POP3 server ready\r\n");
      if (peer.line() != "STLS\r\n") return false;
      peer.send("+OK Begin TLS negotiation\r\n");
      return true;
    };
  }
  SECTION("ftp") {
    name = "ftp";
    dialogue = [](PlainPeer& peer) {
      peer.send("220-Welcome to the test server\r\n  a line without a code\r\n220 ready\r\n");
      if (peer.line() != "AUTH TLS\r\n") return false;
      peer.send("234 AUTH TLS successful\r\n");
      return true;
    };
  }
  SECTION("xmpp") {
    name = "xmpp";
    dialogue = [](PlainPeer& peer) {
      std::string header = peer.element();
      if (header.find("<?xml") == 0) header = peer.element();
      if (header.find("<stream:stream") == std::string::npos || header.find("to='localhost'") == std::string::npos)
        throw std::runtime_error("bad stream header: " + header);
      peer.send(
          "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
          "id='c2s-1' from='localhost' version='1.0'>\n  <stream:features>"
          "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
          "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
          "</stream:features>");
      if (peer.element() != "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") return false;
      peer.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      return true;
    };
  }
  SECTION("postgres") {
    name = "postgres";
    dialogue = [](PlainPeer& peer) {
      if (peer.bytes(8) != std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8)) return false;
      peer.send("S");
      return true;
    };
  }
  StartTLSServer server(dialogue);
  ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--starttls", name, "--cacert", root_ca(),
                                "--json", "--timeout", "10"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  json j = json_of(result);
  CHECK(j["starttls"] == name);
  CHECK(j["verdict"] == "OK");
  CHECK(j["resumption"]["resumed"] == true);
  CHECK(j["protocols"]["TLSv1.2"] == "accepted");
  CHECK(server.wait_for(2 + count_supported(true), count_supported(false)));
  CHECK(server.handler_error() == "");
}

TEST_CASE("probe --starttls: refusals exit 4, broken connections exit 3", "[starttls]") {
  struct Case {
    std::string protocol;
    StartTLSServer::Dialogue dialogue;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"smtp",
       [](PlainPeer& peer) {
         peer.send("554 5.3.2 no service for you\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the SMTP server did not greet with 220: 554 5.3.2 no service for you"},
      {"smtp",
       [](PlainPeer& peer) {
         peer.send("220 ready\r\n");
         (void)peer.line();
         peer.send("250-mx\r\n250 STARTTLS\r\n");
         (void)peer.line();
         peer.send("454 4.7.0 TLS not available due to temporary reason\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the SMTP server refused STARTTLS: 454 4.7.0 TLS not available due to temporary reason"},
      {"smtp",
       [](PlainPeer& peer) {
         peer.send("HTTP/1.1 400 Bad Request\r\n\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the SMTP server sent not a reply: \"HTTP/1.1 400 Bad Request\""},
      {"smtp",
       [](PlainPeer& peer) {
         peer.send("220-" + std::string(5000, 'x') + "\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: a line from the SMTP server is longer than 4096 bytes"},
      {"smtp", [](PlainPeer&) { return false; }, 3, "STARTTLS: the SMTP server closed the connection"},
      {"pop3",
       [](PlainPeer& peer) {
         peer.send("+OK hello\r\n");
         (void)peer.line();
         peer.send("-ERR not now\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the POP3 server refused STLS: -ERR not now"},
      {"imap",
       [](PlainPeer& peer) {
         peer.send("* OK hi\r\n");
         (void)peer.line();
         peer.send("a001 BAD unknown command\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the IMAP server refused STARTTLS: a001 BAD unknown command"},
      {"ftp",
       [](PlainPeer& peer) {
         peer.send("220 ftp\r\n");
         (void)peer.line();
         peer.send("502 Command not implemented\r\n");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the FTP server does not offer AUTH TLS: 502 Command not implemented"},
      {"xmpp",
       [](PlainPeer& peer) {
         (void)peer.element();
         peer.send(
             "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
             "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the XMPP server does not offer STARTTLS"},
      {"postgres",
       [](PlainPeer& peer) {
         (void)peer.bytes(8);
         peer.send("N");
         (void)peer.line();
         return false;
       },
       4, "STARTTLS: the PostgreSQL server does not accept SSL connections"},
  };
  for (const Case& c : cases) {
    StartTLSServer server(c.dialogue);
    ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--starttls", c.protocol});
    INFO(c.protocol << ": " << result.output);
    CHECK(result.exit_code == c.exit_code);
    CHECK(result.output == "tlsock: " + c.message + "\n");
  }
}

TEST_CASE("probe --starttls gives up after --timeout when the server says nothing", "[starttls]") {
  StartTLSServer server([](PlainPeer& peer) {
    (void)peer.bytes(1);  // until the client closes, at most 5 s
    return false;
  });
  auto start = std::chrono::steady_clock::now();
  ProgramResult result =
      probe({"localhost:" + std::to_string(server.port()), "--starttls", "smtp", "--timeout", "0.5"});
  CHECK(std::chrono::steady_clock::now() - start < 10s);  // generous: tests run in parallel
  CHECK(result.exit_code == 3);
  CHECK(result.output == "tlsock: STARTTLS: timed out after 0.5 s waiting for the SMTP server\n");
}

TEST_CASE("bytes a server sends ahead of the handshake are left for TLS to reject", "[starttls]") {
  // Plain text injected after the go-ahead must not be swallowed as part of the dialogue
  // (the STARTTLS injection attacks): it reaches the TLS engine, which refuses it.
  StartTLSServer server([](PlainPeer& peer) {
    peer.send("+OK ready\r\n");
    (void)peer.line();
    peer.send("+OK go ahead\r\n-ERR injected\r\n");
    (void)peer.bytes(1);
    return false;
  });
  ProgramResult result = probe({"localhost:" + std::to_string(server.port()), "--starttls", "pop3"});
  INFO(result.output);
  CHECK(result.exit_code == 4);
  CHECK(result.output.find("tlsock: TLS ") == 0);
}

TEST_CASE("probe's usage errors exit 2", "[cli]") {
  CHECK(probe({"localhost:0"}).exit_code == 2);
  CHECK(probe({"localhost:99999"}).exit_code == 2);
  CHECK(probe({"[::1"}).exit_code == 2);
  CHECK(probe({"localhost", "--starttls", "gopher"}).exit_code == 2);
  CHECK(probe({}).exit_code == 2);
  ProgramResult help = probe({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("sha256_fingerprint") != std::string::npos);
  CHECK(help.output.find("--starttls") != std::string::npos);
}

TEST_CASE("probe exits 3 when nothing listens", "[cli]") {
  std::uint16_t port = free_port();
  ProgramResult result = probe({"127.0.0.1:" + std::to_string(port), "--json"});
  CHECK(result.exit_code == 3);
  json j = json_of(result);
  CHECK(j["host"] == "127.0.0.1");
  CHECK(j["port"] == port);
  CHECK(j["error"]["message"].get<std::string>().find(std::to_string(port)) != std::string::npos);
  CHECK(j["error"]["class"] == "network");
  CHECK(j["error"]["exit_code"] == 3);
  CHECK(j["exit_code"] == 3);
}

// --- targets and client certificates --------------------------------------------------------

TEST_CASE("probe takes host, host:port, a bare IPv6 address and an https:// URL", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  std::string port = std::to_string(server.port());

  SECTION("host alone: port 443 (here rerouted with --connect-to)") {
    ProgramResult result =
        probe({"localhost", "--connect-to", "localhost:443:127.0.0.1:" + port, "--cacert", root_ca(), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    json j = json_of(result);
    CHECK(j["host"] == "localhost");
    CHECK(j["port"] == 443);
    CHECK(j["connection"]["address"] == "127.0.0.1:" + port);
  }
  SECTION("a bare IPv6 address is the host, port 443, verified against the IP SAN") {
    ProgramResult result = probe({"::1", "--connect-to", ":443:127.0.0.1:" + port, "--cacert", root_ca(), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    json j = json_of(result);
    CHECK(j["host"] == "::1");
    CHECK(j["port"] == 443);
    CHECK(j["verdict"] == "OK");
  }
  SECTION("an https:// URL: its host and port, the path ignored") {
    ProgramResult result = probe({"https://localhost:" + port + "/some/path?q", "--cacert", root_ca(), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    json j = json_of(result);
    CHECK(j["host"] == "localhost");
    CHECK(j["port"] == server.port());
  }
}

TEST_CASE("probe refuses a bare IPv6 address that could end in a port, naming both spellings", "[cli]") {
  ProgramResult result = probe({"::1:9443"});
  CHECK(result.exit_code == 2);
  CHECK(result.output ==
        "tlsock: target ::1:9443: ambiguous, write [::1]:9443 for a port, or [::1:9443] for the address\n");
  ProgramResult bad_url = probe({"https://localhost:99999/"});
  CHECK(bad_url.exit_code == 2);
  CHECK(bad_url.output == "tlsock: URL \"https://localhost:99999/\": bad port \"99999\"\n");
  ProgramResult bad_port = probe({"localhost:x1"});
  CHECK(bad_port.exit_code == 2);
  CHECK(bad_port.output == "tlsock: target localhost:x1: bad port \"x1\"\n");
}

TEST_CASE("probe of a server that requires a client certificate: never verified, exit 4, says so", "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-Verify", "1", "-CAfile", root_ca()});
  std::string target = "localhost:" + std::to_string(server.port());

  SECTION("without --cert") {
    ProgramResult result = probe({target, "--cacert", root_ca(), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 4);
    json j = json_of(result);
    CHECK(j["handshake_completed"] == false);
    CHECK(j["client_certificate_required"] == true);
    CHECK(j["verified"] == false);
    CHECK(j["verdict"] == "handshake not completed: TLS handshake failed - client authentication required");
    CHECK(j["resumption"]["error"] == "not tried: the first handshake did not complete");
    CHECK(j["protocols"]["TLSv1.2"] == "accepted");
    CHECK(j["protocol_errors"]["TLSv1.2"] == "client certificate required");
    // s_server names the subjects of its -CAfile; TLS 1.3 encrypts them, TLS 1.2 shows them.
    const std::string root_subject = Certificate::load(root_ca()).at(0).subject();
    CHECK(j["acceptable_ca_names"] == json::array({root_subject}));
    CHECK(j["acceptable_ca_names_from"] == "TLSv1.2");
    if (newest_protocol() == "TLSv1.3") {
      // TLS 1.3 refuses after the client's side of the handshake: the chain was seen.
      CHECK(j["connection"]["protocol"] == "TLSv1.3");
      REQUIRE(j["connection"]["chain"].size() == 2);
      CHECK(j["connection"]["chain"][0]["subject"] == "CN=localhost");
    } else {
      CHECK(j["connection"].is_null());  // TLS 1.2: the handshake ended before it
    }
    ProgramResult text = probe({target, "--cacert", root_ca()});
    CHECK(text.exit_code == 4);
    CHECK(text.output.find("Client cert:    required by the server, none sent (pass --cert and --key)\n"
                           "Acceptable CAs (from the TLSv1.2 CertificateRequest):\n"
                           "  " +
                           root_subject + "\n") != std::string::npos);
    CHECK(text.output.find("verified: true") == std::string::npos);
  }
  SECTION("with --cert and --key") {
    ProgramResult result = probe({target, "--cacert", root_ca(), "--cert", (certs_dir() / "client-chain.pem").string(),
                                  "--key", (certs_dir() / "client.key").string(), "--json"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    json j = json_of(result);
    CHECK(j["handshake_completed"] == true);
    CHECK(j["client_certificate_required"] == false);
    CHECK(j["acceptable_ca_names"].is_null());
    CHECK(j["verified"] == true);
  }
}

TEST_CASE("probe of a server that requires a client certificate with TLS 1.3 alone: the CA names are not known",
          "[openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  if (newest_protocol() != "TLSv1.3") TLSOCK_SKIP("the linked mbedTLS has no TLS 1.3");
  ServerProcess server = openssl_server({"-www", "-tls1_3", "-Verify", "1", "-CAfile", root_ca()});
  std::string target = "localhost:" + std::to_string(server.port());
  ProgramResult result = probe({target, "--cacert", root_ca(), "--json"});
  INFO(result.output);
  CHECK(result.exit_code == 4);
  json j = json_of(result);
  CHECK(j["client_certificate_required"] == true);
  CHECK(j["acceptable_ca_names"].is_null());  // TLS 1.3 encrypts the CertificateRequest
  CHECK(j["acceptable_ca_names_from"].is_null());
  ProgramResult text = probe({target, "--cacert", root_ca()});
  CHECK(text.output.find("Acceptable CAs: not known (TLS 1.3 encrypts the server's CertificateRequest, and the "
                         "server did not ask with an older version)\n") != std::string::npos);
}

// --- expectations -----------------------------------------------------------------------------

namespace {

// Days the test PKI's localhost certificate has left, rounded down.
long days_left() {
  auto leaf = Certificate::load(certs_dir() / "localhost.pem").at(0);
  return std::chrono::duration_cast<std::chrono::hours>(leaf.not_after() - std::chrono::system_clock::now()).count() /
         24;
}

// The version a default build and OpenSSL 3 do not agree on.
std::string other_protocol() { return newest_protocol() == "TLSv1.3" ? "TLSv1.2" : "TLSv1.3"; }

}  // namespace

TEST_CASE("probe --expect-*: all hold, exit 0, each listed as passed", "[openssl][expect]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string target = "localhost:" + std::to_string(server.port());
  const std::string days = std::to_string(days_left() - 1);
  ProgramResult result =
      probe({target, "--cacert", root_ca(), "--json", "--expect-protocol", newest_protocol(), "--expect-resumption",
             "--expect-valid-days", days, "--expect-name", "LOCALHOST", "--expect-name", "::1"});
  INFO(result.output);
  CHECK(result.exit_code == 0);
  json j = json_of(result);
  REQUIRE(j["expectations"].size() == 5);
  CHECK(j["expectations"][0] == json({{"expectation", "protocol"},
                                      {"expected", newest_protocol()},
                                      {"actual", newest_protocol()},
                                      {"passed", true},
                                      {"reason", nullptr}}));
  CHECK(j["expectations"][1]["expectation"] == "resumption");
  CHECK(j["expectations"][1]["actual"] == true);
  CHECK(j["expectations"][2]["expectation"] == "valid_days");
  CHECK(j["expectations"][2]["expected"] == std::stol(days));
  CHECK(j["expectations"][2]["actual"] == j["connection"]["certificate"]["not_after"]);
  CHECK(j["expectations"][3]["expected"] == "LOCALHOST");
  CHECK(j["expectations"][3]["actual"] == json::array({"localhost", "127.0.0.1", "::1"}));
  CHECK(j["expectations"][4]["expected"] == "::1");
  for (const json& e : j["expectations"]) CHECK(e["passed"] == true);
  CHECK(j["error"].is_null());

  ProgramResult text = probe({target, "--cacert", root_ca(), "--expect-name", "127.0.0.1"});
  CHECK(text.exit_code == 0);
  CHECK(text.output.find("Expectations:\n  --expect-name 127.0.0.1: passed\n") != std::string::npos);
}

TEST_CASE("probe --expect-*: every one is checked, the failures say why, exit 8", "[openssl][expect]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string target = "localhost:" + std::to_string(server.port());
  const long left = days_left();
  const std::vector<std::string> expect = {"--expect-protocol",      other_protocol(), "--expect-valid-days",
                                           std::to_string(left + 2), "--expect-name",  "example.test",
                                           "--expect-name",          "localhost",      "--expect-resumption"};
  std::vector<std::string> args = {target, "--cacert", root_ca(), "--json"};
  args.insert(args.end(), expect.begin(), expect.end());
  ProgramResult result = probe(args);
  INFO(result.output);
  CHECK(result.exit_code == 8);
  const std::string protocol_reason = "the server chose " + newest_protocol();
  const std::string name_reason = "the certificate covers localhost, 127.0.0.1, ::1, not example.test";
  CHECK(result.output.find("tlsock: expectation failed: --expect-protocol " + other_protocol() + ": " +
                           protocol_reason + "\n") != std::string::npos);  // stderr
  CHECK(result.output.find("tlsock: expectation failed: --expect-name example.test: " + name_reason + "\n") !=
        std::string::npos);
  json j = json_of(result);
  REQUIRE(j["expectations"].size() == 5);
  CHECK(j["expectations"][0] == json({{"expectation", "protocol"},
                                      {"expected", other_protocol()},
                                      {"actual", newest_protocol()},
                                      {"passed", false},
                                      {"reason", protocol_reason}}));
  CHECK(j["expectations"][1]["expectation"] == "resumption");
  CHECK(j["expectations"][1]["passed"] == true);
  CHECK(j["expectations"][2]["expectation"] == "valid_days");
  CHECK(j["expectations"][2]["passed"] == false);
  CHECK(std::regex_match(j["expectations"][2]["reason"].get<std::string>(),
                         std::regex("the certificate expires on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, in " +
                                    std::to_string(left) + " days, less than " + std::to_string(left + 2))));
  CHECK(j["expectations"][3]["passed"] == false);
  CHECK(j["expectations"][3]["reason"] == name_reason);
  CHECK(j["expectations"][4]["passed"] == true);  // localhost
  CHECK(j["verified"] == true);
  CHECK(j["error"]["class"] == "expectation");
  CHECK(j["error"]["exit_code"] == 8);
  CHECK(j["error"]["message"].get<std::string>().starts_with("expectation failed: --expect-protocol " +
                                                             other_protocol() + ": " + protocol_reason + "; "));
  CHECK(j["exit_code"] == 8);

  std::vector<std::string> text_args = {target, "--cacert", root_ca(), "--expect-name", "example.test"};
  ProgramResult text = probe(text_args);
  CHECK(text.exit_code == 8);
  CHECK(text.output.find("Expectations:\n  --expect-name example.test: FAILED: " + name_reason + "\n") !=
        std::string::npos);

  SECTION("a worse failure keeps its exit code; the expectations are still reported") {
    ProgramResult unverified = probe({target, "--json", "--expect-name", "example.test"});
    INFO(unverified.output);
    CHECK(unverified.exit_code == 5);
    json u = json_of(unverified);
    CHECK(u["error"]["class"] == "verification");
    CHECK(u["expectations"][0]["reason"] == name_reason);
  }
}

TEST_CASE("probe --expect-resumption fails against a server that never resumes", "[openssl][expect]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_cache", "-no_ticket", "-num_tickets", "0"});
  ProgramResult result =
      probe({"localhost:" + std::to_string(server.port()), "--cacert", root_ca(), "--json", "--expect-resumption"});
  INFO(result.output);
  CHECK(result.exit_code == 8);
  json j = json_of(result);
  REQUIRE(j["expectations"].size() == 1);
  CHECK(j["expectations"][0]["actual"] == false);
  CHECK(j["expectations"][0]["passed"] == false);
  CHECK(j["expectations"][0]["reason"].get<std::string>().starts_with("the second connection made a new session ("));
  CHECK(j["resumption"]["resumed"] == false);
}

TEST_CASE("probe --expect-* refuses bad values before connecting, exit 2", "[cli][expect]") {
  std::uint16_t port = free_port();  // nothing listens: a usage error must come first
  const std::string target = "127.0.0.1:" + std::to_string(port);
  ProgramResult protocol = probe({target, "--expect-protocol", "TLSv9"});
  CHECK(protocol.exit_code == 2);
  CHECK(protocol.output ==
        "tlsock: --expect-protocol: protocol: unknown protocol \"TLSv9\" (expected TLSv1, TLSv1.1, TLSv1.2 or "
        "TLSv1.3)\n");
  ProgramResult days = probe({target, "--expect-valid-days", "-1"});
  CHECK(days.exit_code == 2);
  CHECK(days.output == "tlsock: --expect-valid-days: must be a number of days from 0 to 36500, not -1\n");
  ProgramResult name = probe({target, "--expect-name", ""});
  CHECK(name.exit_code == 2);
  CHECK(name.output == "tlsock: --expect-name: must not be empty\n");
}
