// Writes the seed corpora of the fuzz targets (test/fuzz/corpus/<target>/): real handshakes
// between the library's own client and server, recorded in memory through the public
// sans-IO API, plus certificates and keys from certs/, ReadBuffer programs and HTTP
// responses. Seeds of the connection targets carry the variant (fuzz_configs.hpp) of the
// side being fuzzed; the recorded peer is configured to drive it down one path each.
//
//   build-fuzz/test/fuzz/fuzz-make-seeds test/fuzz/corpus
//
// Handshake seeds hold random values (randoms, keys, tickets), so each run writes different
// bytes under the same names. Files it does not write (hand-made reproducers) stay. Names
// starting with "regression-" go to test/fuzz/regressions/<target>/ instead (README.md).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_configs.hpp"

namespace {

using namespace tlsock;
namespace fs = std::filesystem;

fs::path corpus_root;

// Reproducers of findings (README.md) go to test/fuzz/regressions/<target>/, next to corpus/.
void write_seed(std::string_view target, std::string_view name, std::string_view bytes) {
  fs::path dir = (name.starts_with("regression-") ? corpus_root.parent_path() / "regressions" : corpus_root) / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

std::string header(std::uint8_t variant, std::uint8_t p0 = 0xff, std::uint8_t p1 = 0xff, std::uint8_t p2 = 0xff) {
  return std::string{static_cast<char>(variant), static_cast<char>(p0), static_cast<char>(p1), static_cast<char>(p2)};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// --- recorded handshakes --------------------------------------------------------------

struct Recording {
  std::string client;  // every byte the client wrote
  std::string server;  // every byte the server wrote
  bool handshake_complete = false;
};

// Runs a handshake, one HTTP-ish exchange and both close_notify alerts, all in memory.
Recording record(const ClientTLS& client_tls, const ServerTLS& server_tls) {
  Recording r;
  std::string to_server, to_client;
  Connection server = server_tls.start([&](std::string_view b) {
    to_client.append(b);
    r.server.append(b);
  });
  Connection client = client_tls.start([&](std::string_view b) {
    to_server.append(b);
    r.client.append(b);
  });
  bool client_done = false, server_done = false, responded = false, closed = false;
  try {
    client.data_from_application("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  } catch (const TLSError&) {
    client_done = true;
  }
  for (int round = 0; round < 100 && (!to_server.empty() || !to_client.empty()); ++round) {
    std::string in = std::move(to_server);
    to_server.clear();
    if (!in.empty() && !server_done) {
      try {
        std::string got = server.data_from_wire(in);
        if (!got.empty() && !responded) {
          responded = true;
          server.data_from_application("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
          server.application_finished();
        }
      } catch (const TLSError&) {
        server_done = true;
      }
    }
    in = std::move(to_client);
    to_client.clear();
    if (!in.empty() && !client_done) {
      try {
        std::string got = client.data_from_wire(in);
        r.handshake_complete = client.is_handshake_complete();
        if (!got.empty() && !closed) {
          closed = true;
          client.application_finished();
        }
      } catch (const TLSError&) {
        r.handshake_complete = client.is_handshake_complete();
        client_done = true;
      }
    }
  }
  return r;
}

std::shared_ptr<TLSSession> client_session(std::vector<std::string> suites = {},
                                           ProtocolSet protocols = default_protocols(), bool client_certificate = false,
                                           std::vector<std::string> alpn = {}) {
  TLSSession::Options options;
  options.manual_validation = true;
  options.cipher_suites = std::move(suites);
  options.protocols = std::move(protocols);
  if (client_certificate) options.client_certificate = fuzz::load_chain("client");
  options.alpn_protocols = std::move(alpn);
  return std::make_shared<TLSSession>(options);
}

std::shared_ptr<ServerTLS> server(std::string_view chain, ServerOptions options = {}) {
  return std::make_shared<ServerTLS>(std::make_shared<ServerCertificateChain>(fuzz::load_chain(chain)),
                                     std::move(options));
}

ServerOptions with_suites(std::vector<std::string> suites, ServerOptions options = {}) {
  options.cipher_suites = std::move(suites);
  return options;
}

// Every sha256WithRSAEncryption OID (tbsCertificate and outer signatureAlgorithm alike)
// turned into an unknown one: mbedTLS skips such certificates in a Certificate message.
std::string unknown_signature_algorithm(std::string bytes) {
  const std::string oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", 11);
  for (std::size_t at = bytes.find(oid); at != std::string::npos; at = bytes.find(oid, at + oid.size()))
    bytes[at + oid.size() - 1] = '\x7f';
  return bytes;
}

const std::string rsa_gcm = "TLS_RSA_WITH_AES_128_GCM_SHA256";
const std::string rsa_cbc = "TLS_RSA_WITH_AES_256_CBC_SHA256";
const std::string rsa_cbc_sha1 = "TLS_RSA_WITH_AES_128_CBC_SHA";
const std::string dhe_gcm = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256";

// Seeds for fuzz_client: what servers send.
void client_seeds(const std::vector<ClientTLS>& clients) {
  struct Case {
    const char* name;
    int variant;
    std::shared_ptr<ServerTLS> server;
  };
  ServerOptions weak_dh = with_suites({dhe_gcm});
  weak_dh.dh_parameters = fuzz::cert_path("dh512.pem");
  ServerOptions strong_dh = with_suites({dhe_gcm});
  strong_dh.dh_parameters = fuzz::cert_path("dh2048.pem");
  ServerOptions optional_auth = with_suites({rsa_gcm});
  optional_auth.client_auth = ClientAuth::optional;
  optional_auth.client_trust_roots = {TrustRoot(fuzz::cert_path("root-ca.pem"))};
  optional_auth.alpn_protocols = {"http/1.1"};
  ServerOptions required_auth = optional_auth;
  required_auth.client_auth = ClientAuth::required;
  ServerOptions tls10 = with_suites({rsa_cbc_sha1});
  tls10.protocols = {Protocol::TLSv1};
  ServerOptions tls11 = with_suites({rsa_cbc_sha1});
  tls11.protocols = {Protocol::TLSv1_1};
  ServerOptions no_tickets = with_suites({rsa_gcm});
  no_tickets.session_tickets = false;

  std::vector<Case> cases = {
      {"rsa-kx-gcm", fuzz::client_manual, server("localhost", with_suites({rsa_gcm}))},
      {"rsa-kx-cbc", fuzz::client_manual, server("localhost", with_suites({rsa_cbc}))},
      {"rsa-kx-no-ticket", fuzz::client_manual, server("localhost", no_tickets)},
      {"ecdhe-rsa", fuzz::client_manual, server("localhost")},
      {"ecdhe-ecdsa", fuzz::client_manual, server("localhost-ecdsa")},
      {"dhe-rsa", fuzz::client_old, server("localhost", strong_dh)},
      {"dhe-weak", fuzz::client_manual, server("localhost", weak_dh)},
      {"verify-ok", fuzz::client_verifying, server("localhost", with_suites({rsa_gcm}))},
      {"verify-wrong-host", fuzz::client_verifying, server("wrong-host", with_suites({rsa_gcm}))},
      {"verify-expired", fuzz::client_verifying, server("expired", with_suites({rsa_gcm}))},
      {"verify-sha1", fuzz::client_verifying, server("sha1", with_suites({rsa_gcm}))},
      {"verify-untrusted", fuzz::client_verifying, server("untrusted", with_suites({rsa_gcm}))},
      {"certreq-mutual", fuzz::client_mutual, server("localhost", optional_auth)},
      {"certreq-no-client-cert", fuzz::client_manual, server("localhost", required_auth)},
  };
  // TLS 1.0 and 1.1 only where the linked mbedTLS speaks them (2.28, not 3.6).
  if (supported_protocols().contains(Protocol::TLSv1))
    cases.push_back({"tls10", fuzz::client_old, server("localhost", tls10)});
  if (supported_protocols().contains(Protocol::TLSv1_1))
    cases.push_back({"tls11", fuzz::client_old, server("localhost", tls11)});
  for (const Case& c : cases) {
    Recording r = record(clients[static_cast<std::size_t>(c.variant)], *c.server);
    std::cerr << "client/" << c.name << ": " << r.server.size() << " server bytes"
              << (r.handshake_complete ? ", handshake complete" : ", handshake failed") << "\n";
    write_seed("client", c.name, header(static_cast<std::uint8_t>(c.variant)) + r.server);
    // The same bytes in small chunks: 1, 5 and 100 bytes, repeated.
    if (std::string_view(c.name).starts_with("rsa-kx") || std::string_view(c.name) == "ecdhe-rsa")
      write_seed("client", std::string(c.name) + "-chunked",
                 header(static_cast<std::uint8_t>(c.variant), 0, 4, 99) + r.server);
  }
  // Finding 2 (README.md): a chain of certificates with unknown signature algorithms.
  for (int variant : {fuzz::client_verifying}) {
    Recording r = record(clients[static_cast<std::size_t>(variant)], *server("localhost", with_suites({rsa_gcm})));
    write_seed("client", "regression-unknown-sig-alg-chain-" + std::to_string(variant),
               header(static_cast<std::uint8_t>(variant)) + unknown_signature_algorithm(r.server));
  }
  // Servers that are not TLS servers, and bare alerts.
  std::vector<std::pair<const char*, std::string>> others = {
      {"not-tls-http", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"},
      {"not-tls-smtp", "220 mail.example.com ESMTP ready\r\n"},
      {"not-tls-pop3", "+OK POP3 server ready\r\n"},
      {"not-tls-imap", "* OK IMAP4rev1 ready\r\n"},
      {"not-tls-ftp", "220 FTP server ready\r\n"},
      {"alert-handshake-failure", std::string("\x15\x03\x03\x00\x02\x02\x28", 7)},
      {"alert-protocol-version", std::string("\x15\x03\x01\x00\x02\x02\x46", 7)},
      {"alert-close-notify", std::string("\x15\x03\x03\x00\x02\x01\x00", 7)},
  };
  for (const auto& [name, bytes] : others) write_seed("client", name, header(fuzz::client_manual) + bytes);
}

// Seeds for fuzz_server: what clients send.
void server_seeds(const std::vector<std::shared_ptr<ServerTLS>>& servers) {
  struct Case {
    const char* name;
    int variant;
    ClientTLS client;
  };
  auto manual = client_session();
  ProtocolSet tls10{Protocol::TLSv1}, tls11{Protocol::TLSv1_1};
  std::vector<Case> cases = {
      {"default", fuzz::server_default, ClientTLS("localhost", manual)},
      {"rsa-kx-gcm", fuzz::server_default, ClientTLS("localhost", client_session({rsa_gcm}))},
      {"rsa-kx-cbc", fuzz::server_default, ClientTLS("localhost", client_session({rsa_cbc}))},
      {"ip-no-sni", fuzz::server_default, ClientTLS("127.0.0.1", client_session({rsa_gcm}))},
      {"optional-auth-cert", fuzz::server_optional_auth,
       ClientTLS("localhost", client_session({rsa_gcm}, default_protocols(), true, {"h2", "http/1.1"}))},
      {"optional-auth-no-cert", fuzz::server_optional_auth,
       ClientTLS("localhost", client_session({}, default_protocols(), false, {"http/1.1"}))},
      {"alpn-mismatch", fuzz::server_optional_auth,
       ClientTLS("localhost", client_session({}, default_protocols(), false, {"h2"}))},
      {"old-dhe", fuzz::server_old, ClientTLS("localhost", client_session({dhe_gcm}))},
      {"sni-ecdsa-cert", fuzz::server_sni, ClientTLS("localhost", client_session({}, default_protocols(), true))},
      {"sni-wildcard-cert", fuzz::server_sni,
       ClientTLS("a.example.test", client_session({rsa_gcm}, default_protocols(), true))},
      {"sni-default-no-cert", fuzz::server_sni, ClientTLS("unknown.example", client_session({rsa_gcm}))},
  };
  if (supported_protocols().contains(Protocol::TLSv1))
    cases.push_back({"old-tls10", fuzz::server_old, ClientTLS("localhost", client_session({rsa_cbc_sha1}, tls10))});
  if (supported_protocols().contains(Protocol::TLSv1_1))
    cases.push_back({"old-tls11", fuzz::server_old, ClientTLS("localhost", client_session({rsa_cbc_sha1}, tls11))});
  for (const Case& c : cases) {
    Recording r = record(c.client, *servers[static_cast<std::size_t>(c.variant)]);
    std::cerr << "server/" << c.name << ": " << r.client.size() << " client bytes"
              << (r.handshake_complete ? ", handshake complete" : ", handshake failed") << "\n";
    write_seed("server", c.name, header(static_cast<std::uint8_t>(c.variant)) + r.client);
    if (std::string_view(c.name) == "rsa-kx-gcm" || std::string_view(c.name) == "default")
      write_seed("server", std::string(c.name) + "-chunked",
                 header(static_cast<std::uint8_t>(c.variant), 0, 4, 99) + r.client);
  }
  // Resumption: the same client session again offers a ticket, then (tickets off) a session ID.
  {
    ClientTLS client("localhost", client_session({rsa_gcm}));
    (void)record(client, *servers[fuzz::server_default]);
    Recording again = record(client, *servers[fuzz::server_default]);
    write_seed("server", "resume-ticket", header(fuzz::server_default) + again.client);
    ServerOptions id_only = with_suites({rsa_gcm});
    id_only.session_tickets = false;
    auto id_server = server("localhost", id_only);
    ClientTLS by_id("localhost", client_session({rsa_gcm}));
    (void)record(by_id, *id_server);
    write_seed("server", "resume-session-id", header(fuzz::server_default) + record(by_id, *id_server).client);
  }
  // Finding 2 (README.md): a client certificate chain with unknown signature algorithms.
  {
    ClientTLS client("localhost", client_session({rsa_gcm}, default_protocols(), true));
    for (int variant : {fuzz::server_optional_auth}) {
      Recording r = record(client, *servers[static_cast<std::size_t>(variant)]);
      write_seed("server", "regression-unknown-sig-alg-client-chain-" + std::to_string(variant),
                 header(static_cast<std::uint8_t>(variant)) + unknown_signature_algorithm(r.client));
    }
  }
  std::vector<std::pair<const char*, std::string>> others = {
      {"not-tls-http", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
      // An SSLv2-format ClientHello (version 3.1, one cipher spec, 16-byte challenge).
      {"sslv2-client-hello", std::string("\x80\x1c\x01\x03\x01\x00\x03\x00\x00\x00\x10\x00\x00\x2f"
                                         "0123456789abcdef",
                                         30)},
      {"alert-close-notify", std::string("\x15\x03\x03\x00\x02\x01\x00", 7)},
  };
  for (const auto& [name, bytes] : others) write_seed("server", name, header(fuzz::server_default) + bytes);
}

// --- saved sessions -------------------------------------------------------------------

// Exports of real sessions (fuzz_sessions.cpp): a TLS 1.2 ticket, a TLS 1.2 session ID and,
// where the build has it, a TLS 1.3 ticket, each for variants 0 and 1; and an export of
// several hosts at once. They expire (a day, or the ticket's lifetime): variant 0 then
// parses them and skips them, variant 1 renews them.
void session_seeds(const std::vector<std::shared_ptr<ServerTLS>>& servers) {
  ServerOptions id_only;
  id_only.session_tickets = false;
  auto id_server = server("localhost", id_only);
  struct Case {
    const char* name;
    ProtocolSet protocols;
    const ServerTLS& server;
  };
  std::vector<Case> cases = {{"tls12-ticket", {Protocol::TLSv1_2}, *servers[fuzz::server_default]},
                             {"tls12-session-id", {Protocol::TLSv1_2}, *id_server}};
  if (supported_protocols().contains(Protocol::TLSv1_3))
    cases.push_back({"tls13-ticket", {Protocol::TLSv1_3}, *servers[fuzz::server_default]});
  auto all = client_session({}, default_protocols());
  std::uint16_t port = 8443;
  // An export names the exact mbedTLS version that made it and is refused by any other, so
  // the seeds carry it in their names and each line's seeds stay beside the other's.
  std::string line(backend_version());  // "Mbed TLS 3.6.6"
  line = "mbedtls-" + line.substr(line.rfind(' ') + 1) + "-";
  for (const Case& c : cases) {
    auto session = client_session({}, c.protocols);
    Recording r = record(ClientTLS("localhost", session), c.server);
    (void)record(ClientTLS("localhost", all, port++), c.server);
    std::string exported = session->export_sessions();
    std::cout << "sessions/" << c.name << ": " << exported.size() << " bytes"
              << (r.handshake_complete ? "" : ", handshake failed") << "\n";
    for (std::uint8_t variant : {0, 1})
      write_seed("sessions", line + c.name + "-" + std::to_string(variant), header(variant) + exported);
  }
  write_seed("sessions", line + "several-hosts-0", header(0) + all->export_sessions());
  write_seed("sessions", line + "several-hosts-2", header(2) + all->export_sessions());
  write_seed("sessions", line + "empty-0", header(0) + client_session()->export_sessions());
}

// --- certificates and keys ------------------------------------------------------------

void certificate_seeds() {
  auto seed = [](const std::string& name, int mode, const std::string& bytes) {
    write_seed("certificate", name, std::string(1, static_cast<char>(mode)) + bytes);
  };
  for (const char* name : {"localhost", "localhost-ecdsa", "root-ca", "intermediate-ca", "wildcard", "self-signed",
                           "sha1", "expired", "client", "bad-key-usage", "wrong-host"}) {
    std::string pem = read_file(fuzz::cert_path(std::string(name) + ".pem"));
    seed(std::string(name) + ".pem", 1, pem);
    seed(std::string(name) + ".der", 0, Certificate::from_pem(pem).der());
  }
  seed("localhost-chain.pem", 1, read_file(fuzz::cert_path("localhost-chain.pem")));
  seed("root-ca.trust", 4, Certificate::from_pem(read_file(fuzz::cert_path("root-ca.pem"))).der());
  for (const char* name : {"localhost.key", "localhost-ecdsa.key", "client-encrypted.key", "client.key"})
    seed(name, 3, read_file(fuzz::cert_path(name)));
  seed("localhost.key.der", 2, read_file(fuzz::cert_path("localhost.key.der")));
  std::string der = read_file(fuzz::cert_path("localhost.der"));
  std::string length{static_cast<char>(der.size() >> 8), static_cast<char>(der.size() & 0xff)};
  seed("localhost.chain", 5, length + der + read_file(fuzz::cert_path("localhost.key.der")));
}

// --- ReadBuffer programs (fuzz_read_buffer.cpp's opcodes) -------------------------------

struct ProgramBuilder {
  std::string bytes;
  ProgramBuilder& append(std::string_view data, bool over_prepare = false) {
    do {
      std::string_view piece = data.substr(0, 255);
      bytes += static_cast<char>(over_prepare ? 4 : 0);
      bytes += static_cast<char>(piece.size());
      bytes += piece;
      data.remove_prefix(piece.size());
    } while (!data.empty());
    return *this;
  }
  ProgramBuilder& line(bool at_eof = false) {
    bytes += static_cast<char>(at_eof ? 5 : 1);
    return *this;
  }
  ProgramBuilder& find(std::string_view marker) {
    bytes += static_cast<char>(2);
    bytes += static_cast<char>(marker.size() - 1);
    bytes += marker;
    return *this;
  }
  ProgramBuilder& take(std::uint8_t n) {
    bytes += static_cast<char>(3);
    bytes += static_cast<char>(n);
    return *this;
  }
};

void read_buffer_seeds() {
  auto seed = [](const char* name, const ProgramBuilder& p) { write_seed("read_buffer", name, p.bytes); };
  seed("lines-lf-crlf-cr", ProgramBuilder().append("one\ntwo\r\nthree\rfour").line().line().line().line().line(true));
  seed("cr-then-lf", ProgramBuilder().append("abc\r").line().append("\nrest").line().take(4));
  seed("cr-at-eof", ProgramBuilder().append("abc\r").line().line(true));
  seed("line-split", ProgramBuilder()
                         .append("GET / HT")
                         .line()
                         .append("TP/1.1\r")
                         .line()
                         .append("\nHost: x\r\n\r\n")
                         .line()
                         .line()
                         .line());
  seed("marker-split",
       ProgramBuilder().append("xxxx--MAR").find("--MARKER").append("KER--yy").find("--MARKER").take(3));
  seed("marker-overlap", ProgramBuilder().append("ababa").find("abac").append("c").find("abac"));
  seed("marker-repeat", ProgramBuilder().append("\r\n\r\n\r\n").find("\r\n\r\n").find("\r\n\r\n").take(1));
  ProgramBuilder growth;
  for (int i = 0; i < 20; ++i) growth.append(std::string(200, static_cast<char>('a' + i)), i % 2 == 0).take(150);
  growth.append("\n").line();
  seed("growth-and-slide", growth);
  seed("empty-append", ProgramBuilder().append("").line().find("x").take(0));
  // Finding 1 (README.md): a marker search that failed, then a line search, with the line
  // ending before where the first search stopped. Fails only with TLSOCK_FUZZ_MIXED_SEARCHES=1.
  seed("regression-mixed-searches", ProgramBuilder().append("line\npartial").find("END").line());
}

// --- HTTP responses and URLs (fuzz_http.cpp) -----------------------------------------

void http_seeds() {
  auto response = [](const char* name, std::uint8_t variant, std::string_view bytes, std::uint8_t p0 = 0xff,
                     std::uint8_t p1 = 0xff, std::uint8_t p2 = 0xff) {
    write_seed("http", name, header(variant, p0, p1, p2) + std::string(bytes));
  };
  response("content-length", 0, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
  response("content-length-chunked-feed", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 2, 6);
  response("chunked", 0,
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: "
           "t\r\n\r\n");
  response("chunked-bare-lf", 0, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\na\nhellohello\n0\n\n", 1, 0, 3);
  response("until-close-http10", 0, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close");
  response("head", 1, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  response("not-modified", 0, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
  response("no-content", 0, "HTTP/1.1 204 No Content\r\n\r\n");
  response("continue-then-ok", 0,
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 "
           "OK\r\nContent-Length: 2\r\n\r\nok");
  response("not-found", 0, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
  response("redirect", 0, "HTTP/1.1 301 Moved Permanently\r\nLocation: /other\r\nContent-Length: 0\r\n\r\n");
  response("pipelined-extra", 0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
  response("small-limit", 2, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(300, 'x') + "\r\n\r\n");
  response("error-cl-and-te", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  response("error-conflicting-cl", 0, "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello");
  response("error-bad-chunk", 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  response("error-obs-fold", 0, "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n");
  response("error-101", 0, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
  response("error-not-http", 0, "SSH-2.0-OpenSSH_9.2\r\n");
  response("truncated-body", 0, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort");
  auto url = [](const char* name, std::string_view text) { write_seed("http", name, header(4) + std::string(text)); };
  url("url-relative", "https://example.com:8443/a/b/c?x=1#frag\n../d/./e?y");
  url("url-ipv6-network-path", "https://[::1]/\n//other.example:444/x/../y");
  url("url-query-only", "https://example.com/path?old\n?new");
  url("url-absolute-ref", "https://example.com/\nhttps://EXAMPLE.org/Z");
  url("url-header", "https://example.com/\nX-Test: value with spaces");
  url("url-header-replace", "https://example.com/\nUser-Agent: fuzz/1.0");
  url("url-bad-http", "http://example.com/\nhttp://example.com/");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR  (test/fuzz/corpus)\n";
    return 2;
  }
  corpus_root = fs::absolute(argv[1]).lexically_normal();
  if (!corpus_root.has_filename()) corpus_root = corpus_root.parent_path();
  try {
    client_seeds(fuzz::make_clients());
    server_seeds(fuzz::make_servers());
    session_seeds(fuzz::make_servers());
    certificate_seeds();
    read_buffer_seeds();
    http_seeds();
  } catch (const std::exception& e) {
    std::cerr << "fuzz-make-seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
