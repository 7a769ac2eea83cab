// tlsock demo: the library end to end in one command. Starts the `serve` server in-process
// on a free 127.0.0.1 port with the test PKI's localhost identity, fetches "/" with a
// TLSSocket that verifies the server against certs/root-ca.pem, prints what the connection
// negotiated, reconnects with the same TLSSession to show resumption, and stops the server.
#include <CLI/CLI.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/cli.hpp"
#include "cli/facts.hpp"
#include "cli/failure.hpp"
#include "cli/policy.hpp"
#include "http/http.hpp"
#include "serve/server.hpp"

namespace tlsock::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* page =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head><meta charset=\"utf-8\"><title>tlsock demo</title></head>\n"
    "<body>\n"
    "<h1>Hello from tlsock</h1>\n"
    "<p>This page came over TLS from <code>tlsock serve</code>, and was fetched by a\n"
    "<code>tlsock::TLSSocket</code> that verified the server's certificate chain and name.</p>\n"
    "</body>\n"
    "</html>\n";

// A directory with the demo's index.html, removed again at the end.
class TemporarySite {
 public:
  TemporarySite() {
    std::string pattern = (fs::temp_directory_path() / "tlsock-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw Failure(file_io, "cannot create a temporary directory in " + fs::temp_directory_path().string());
    path_ = pattern;
    std::ofstream out(path_ / "index.html", std::ios::binary);
    out << page;
    if (!out) throw Failure(file_io, "cannot write " + (path_ / "index.html").string());
  }
  ~TemporarySite() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TemporarySite(const TemporarySite&) = delete;
  TemporarySite& operator=(const TemporarySite&) = delete;
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

// The server on its own thread; stopped and joined however the demo ends.
class BackgroundServer {
 public:
  explicit BackgroundServer(ServeConfig config) : server_(std::move(config)), thread_([this] { server_.run(); }) {}
  ~BackgroundServer() { stop(); }
  BackgroundServer(const BackgroundServer&) = delete;
  BackgroundServer& operator=(const BackgroundServer&) = delete;
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] const HttpsServer& server() const noexcept { return server_; }

 private:
  HttpsServer server_;
  std::thread thread_;
};

struct Response {
  std::string status_line;
  std::string content_type;
  std::string body;
};

// GET / over an established connection, the response read by the HTTP module's parser (the
// one `tlsock fetch` uses) until it is complete.
Response get(TLSSocket& socket, std::uint16_t port) {
  socket.write("GET / HTTP/1.1\r\nHost: localhost:" + std::to_string(port) +
               "\r\nUser-Agent: tlsock-demo\r\nConnection: close\r\n\r\n");
  http::ResponseParser parser;
  std::string body;
  while (!parser.complete()) {
    try {
      parser.feed(socket.read(16 * 1024), body);
    } catch (const TLSGracefulDisconnectError&) {
      parser.finish();
    }
  }
  const http::Response& head = parser.response();
  Response response;
  response.status_line = head.version_text() + " " + std::to_string(head.status) + " " + head.reason;
  response.content_type = std::string(http::find(head.headers, "content-type").value_or(""));
  response.body = std::move(body);
  return response;
}

std::string reuse_words(const std::optional<SessionReuse>& reuse) { return reuse_text(reuse).value_or("not used"); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void row(const std::string& name, const std::string& value) {
  std::cout << "    " << name << std::string(name.size() < 15 ? 15 - name.size() : 1, ' ') << value << "\n";
}

int demo() {
  fs::path certs = default_certs_dir();
  fs::path chain_file = certs / "localhost-chain.pem", key_file = certs / "localhost.key";
  fs::path root_file = certs / "root-ca.pem";
  TemporarySite site;

  std::mutex log_mutex;
  std::vector<std::string> server_log;
  ServeConfig config;
  config.address = "127.0.0.1";
  config.port = 0;
  config.root = site.path();
  config.max_connections = 16;
  ServerTLSOptions server_tls;  // as `tlsock serve --cert CHAIN --key KEY` would have them
  server_tls.certs = {chain_file.string()};
  server_tls.keys = {key_file.string()};
  config.tls = make_server_tls(server_tls);
  config.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    server_log.push_back(line);
  };
  BackgroundServer background(std::move(config));
  std::uint16_t port = background.server().port();

  std::cout << "tlsock demo: an HTTPS server and a verifying client, both made with the tlsock library\n\n";
  // What `tlsock --version` says: the mbedTLS line decides whether TLS 1.3 is there.
  std::istringstream library(version_text());
  const char* label = "  Library ";
  for (std::string fact; std::getline(library, fact); label = "          ") std::cout << label << fact << "\n";
  std::cout << "  Server  " << background.server().url() << " (tlsock serve, in this process)\n"
            << "          certificate " << chain_file.string() << "\n"
            << "          key         " << key_file.string() << "\n"
            << "  Client  trusts " << root_file.string() << " (the test root CA) and checks that the\n"
            << "          certificate chains to it and names \"localhost\"\n\n";

  ConnectOptions client;  // as `tlsock fetch --cacert ROOT` would have them
  client.cacert = {root_file.string()};
  auto session = std::make_shared<TLSSession>(session_options(client));

  // The TCP connection goes to 127.0.0.1 itself; "localhost" is the name verified and sent (SNI).
  auto connect = [&] { return TLSSocket::wrap(TCPStream::connect("127.0.0.1", port, 10s), "localhost", session, 10s); };

  // On TLS 1.3 the server sends its session ticket after the handshake, ahead of the response:
  // reading the response takes the ticket in and stores it in the TLSSession for the second
  // connection.
  TLSSocket first = connect();
  Response response = get(first, port);
  std::cout << "  1. First connection: a full handshake\n";
  row("protocol", std::string(first.protocol()));
  row("cipher suite", std::string(first.cipher_suite()));
  const Certificate& leaf = first.certificate();
  row("certificate", leaf.subject());
  row("issued by", leaf.issuer());
  std::vector<std::string> names = leaf.valid_domains();
  for (const std::string& ip : leaf.valid_ips()) names.push_back(ip);
  row("valid for", join(names));
  row("valid until", format_utc(leaf.not_after()));
  std::vector<std::string> intermediates;
  for (const Certificate& certificate : first.intermediates()) intermediates.push_back(certificate.subject());
  row("intermediates", intermediates.empty() ? "none" : join(intermediates));
  row("verified", "yes: the chain leads to the trusted root, and the name matches");
  row("session",
      "session ID: " + reuse_words(first.session_id()) + ", session ticket: " + reuse_words(first.session_ticket()));
  row("response", response.status_line + ", " + std::to_string(response.body.size()) + " bytes of " +
                      (response.content_type.empty() ? "unknown type" : response.content_type));
  first.close();

  TLSSocket second = connect();
  Response again = get(second, port);
  std::cout << "\n  2. Second connection, same TLSSession: an abbreviated handshake\n";
  row("protocol", std::string(second.protocol()));
  row("cipher suite", std::string(second.cipher_suite()));
  bool resumed = true;
  if (second.session_ticket() == SessionReuse::reused)
    row("session", "session ticket: reused (the server did not send its certificate again)");
  else if (second.session_id() == SessionReuse::reused)
    row("session", "session ID: reused (the server did not send its certificate again)");
  else {
    row("session", "not resumed (session ID: " + reuse_words(second.session_id()) +
                       ", session ticket: " + reuse_words(second.session_ticket()) + ")");
    resumed = false;
  }
  row("response", again.status_line + ", " + std::to_string(again.body.size()) + " bytes");
  second.close();

  background.stop();
  std::cout << "\n  Server log (`tlsock serve` writes it on stderr):\n";
  {
    std::lock_guard lock(log_mutex);
    for (const std::string& line : server_log) std::cout << "    " << line << "\n";
  }
  std::cout << "\n  Server stopped.\n\n"
            << "  Next: `tlsock serve DIRECTORY` serves a directory the same way (https://127.0.0.1:8443/),\n"
            << "  `tlsock probe HOST` shows these facts for any server, `tlsock fetch URL` downloads.\n";
  std::cout.flush();
  if (!resumed) throw Failure(tls, "the second connection did not resume the session");
  if (response.body != page || again.body != page) throw Failure(failure, "the page arrived altered");
  return success;
}

}  // namespace

void add_demo(CLI::App& app, int& result) {
  auto* command = app.add_subcommand(
      "demo", "See tlsock work: a local HTTPS server, a verified fetch from it, the connection facts, resumption");
  command->footer(
      "Starts `tlsock serve` in-process on a free 127.0.0.1 port with the test certificates (certs/), fetches\n"
      "\"/\" with a TLSSocket that trusts certs/root-ca.pem, prints protocol, cipher suite, certificate and\n"
      "response, reconnects with the same TLSSession to show session resumption, and stops the server.\n" +
      std::string(exit_code_help));
  command->callback([&result] { result = guarded([] { return demo(); }); });
}

}  // namespace tlsock::cli
