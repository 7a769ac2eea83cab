// tlsock-bench: what tlsock costs over mbedTLS. In one run it starts its own server (this
// binary in --server mode, on 127.0.0.1), measures tlsock, a reference client written
// directly on mbedTLS and OpenSSL against it in interleaved rounds, times mbedTLS's
// primitives, stops the server and prints a table (or --json).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "bench.hpp"
#include "child_process.hpp"
#include "server.hpp"

namespace {

namespace fs = std::filesystem;
using namespace tlsock;
using namespace tlsock::bench;

constexpr const char* default_suite = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
constexpr const char* os_bundle = "/etc/ssl/certs/ca-certificates.crt";

// The trust roots every client loads: the test root, and the OS bundle that tlsock loads too.
ClientSetup client_setup(const fs::path& certs, const std::string& suite) {
  ClientSetup setup;
  setup.certs_dir = certs;
  setup.ca_files = {certs / "root-ca.pem"};
  if (std::error_code ignored; fs::is_regular_file(os_bundle, ignored)) setup.ca_files.emplace_back(os_bundle);
  setup.cipher_suite = suite;
  return setup;
}

// A free port not among taken (free_port() may hand out the same one twice).
std::uint16_t another_free_port(std::vector<std::uint16_t>& taken) {
  for (;;) {
    std::uint16_t port = free_port();
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) {
      taken.push_back(port);
      return port;
    }
  }
}

// The openssl command's own name of an IANA suite ("ECDHE-ECDSA-AES128-GCM-SHA256").
std::optional<std::string> openssl_name(const std::string& iana) {
  ProgramResult result = run_program({"openssl", "ciphers", "-stdname", "ALL"});
  std::istringstream lines(result.output);
  std::string standard, dash, name;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    if (words >> standard >> dash >> name && standard == iana) return name;
  }
  return std::nullopt;
}

int run(const Settings& settings, bool quick, bool json, const fs::path& json_file, const fs::path& certs,
        const std::string& suite) {
  Environment env;
  env.self = fs::read_symlink("/proc/self/exe");
  env.setup = client_setup(certs, suite);
  std::vector<std::uint16_t> taken;
  env.ticket_port = another_free_port(taken);
  env.id_port = another_free_port(taken);
  ChildProcess server =
      ChildProcess::start({env.self.string(), "--server", "--ticket-port", std::to_string(env.ticket_port), "--id-port",
                           std::to_string(env.id_port), "--certs", certs.string(), "--suite", suite},
                          env.ticket_port);
  // openssl s_server, where installed, as a second server for the handshake rows.
  std::vector<ChildProcess> s_servers;
  std::optional<std::string> s_server_suite = openssl_name(suite);  // none without the openssl command
  if (s_server_suite) {
    env.openssl_ticket_port = another_free_port(taken);
    env.openssl_id_port = another_free_port(taken);
    for (std::uint16_t port : {env.openssl_ticket_port, env.openssl_id_port}) {
      std::vector<std::string> args{"openssl",
                                    "s_server",
                                    "-accept",
                                    "127.0.0.1:" + std::to_string(port),
                                    "-quiet",
                                    "-cert",
                                    (certs / "localhost-ecdsa.pem").string(),
                                    "-key",
                                    (certs / "localhost-ecdsa.key").string(),
                                    "-cert_chain",
                                    (certs / "intermediate-ca.pem").string(),
                                    "-tls1_2",
                                    "-cipher",
                                    *s_server_suite};
      if (port == env.openssl_id_port) args.emplace_back("-no_ticket");
      s_servers.push_back(ChildProcess::start(args, port));
    }
  }
  Report report;
  try {
    report = run_bench(env, settings);
  } catch (const std::exception&) {
    server.stop();
    std::cerr << "tlsock-bench: server log:\n" << server.log();
    throw;
  }
  server.stop();
  for (auto& s_server : s_servers) s_server.stop();
  report.quick = quick;
  if (json)
    print_json(report, std::cout);
  else
    print_table(report);
  if (!json_file.empty()) {
    std::ofstream out(json_file);
    print_json(report, out);
    if (!out) throw std::runtime_error("cannot write " + json_file.string());
  }
  return 0;
}

}  // namespace

static int bench_main(int argc, char** argv) {
  CLI::App app{"tlsock-bench: tlsock against a reference client on raw mbedTLS (and OpenSSL), on 127.0.0.1"};
  bool json = false, quick = false, server = false;
  Settings settings;
  std::string suite = default_suite;
  fs::path certs = TLSOCK_CERTS_DIR;
  std::string first_connection;
  std::uint16_t port = 0, ticket_port = 0, id_port = 0;
  fs::path json_file;
  app.add_flag("--json", json, "Print the results as JSON");
  app.add_option("--json-file", json_file, "Also write the JSON results to this file");
  app.add_flag("--quick", quick, "One round of tiny sizes: a smoke test, not a measurement");
  app.add_option("--rounds", settings.rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--handshakes", settings.handshakes, "Full handshakes per round")->check(CLI::PositiveNumber);
  app.add_option("--resumed", settings.resumed_handshakes, "Resumed handshakes per round and kind")
      ->check(CLI::PositiveNumber);
  app.add_option("--bulk-mib", settings.bulk_bytes, "MiB per bulk transfer")
      ->check(CLI::PositiveNumber)
      ->transform([](const std::string& value) { return std::to_string(std::stoull(value) << 20); });
  app.add_option("--lines", settings.lines, "Lines per read_line round")->check(CLI::PositiveNumber);
  app.add_option("--messages", settings.messages, "Messages per read_until round")->check(CLI::PositiveNumber);
  app.add_option("--idle", settings.idle_connections, "Idle connections for the heap row")->check(CLI::PositiveNumber);
  app.add_option("--only", settings.only, "Run only these rows (ids as in --json; also first_connection, primitives)");
  app.add_option("--contenders", settings.contenders, "Run only these clients (tlsock, mbedtls, openssl)");
  app.add_option("--suite", suite, "The TLS 1.2 cipher suite (IANA name) every client and the server use");
  app.add_option("--certs", certs, "The test PKI (certs/)");
  // Internal modes: the server, and the child of the first-connection row.
  app.add_flag("--server", server, "Run as the bench's server")->group("");
  app.add_option("--ticket-port", ticket_port)->group("");
  app.add_option("--id-port", id_port)->group("");
  app.add_option("--first-connection", first_connection)->group("");
  app.add_option("--port", port)->group("");
  app.add_option("--later", settings.later_connections)->group("");
  CLI11_PARSE(app, argc, argv);

  try {
    raise_descriptor_limit();
    if (server) return run_server({certs, suite, Protocol::TLSv1_2, ticket_port, id_port});
    if (!first_connection.empty())
      return run_first_connection(client_setup(certs, suite), first_connection, port, settings.later_connections);
    if (quick) {
      Settings q = quick_settings();
      q.only = settings.only;
      q.contenders = settings.contenders;
      settings = q;
    }
    return run(settings, quick, json, json_file, certs, suite);
  } catch (const std::exception& error) {
    std::cerr << "tlsock-bench: " << error.what() << "\n";
    return 1;
  }
}

int main(int argc, char** argv) {
  try {
    return bench_main(argc, argv);
  } catch (const std::exception& error) {  // e.g. while setting the options up
    std::cerr << "tlsock-bench: " << error.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "tlsock-bench: an unknown error\n";
    return 1;
  }
}
