// fetch --json and probe --json are one schema: the same keys for the same facts (connection,
// certificate, error), on success and on failure, dates in RFC 3339. The built binary
// (TLSOCK_CLI) against `openssl s_server -www` on loopback; stdout alone is read (stderr goes
// to /dev/null), as a script would.
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/openssl_peer.hpp"
#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Runs `tlsock COMMAND ARGS...` and keeps its stdout only.
ProgramResult run_stdout(const std::string& command, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"sh", "-c", "exec \"$0\" \"$@\" 2>/dev/null", TLSOCK_CLI, command};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(std::move(argv), 60s);
}

// stdout must be exactly one JSON document (fetch: one object a line, here one URL).
json parse_stdout(const ProgramResult& result) {
  INFO(result.output);
  REQUIRE(!result.output.empty());
  return json::parse(result.output);  // throws (fails the test) on anything but JSON
}

std::set<std::string> keys(const json& object) {
  std::set<std::string> out;
  for (const auto& item : object.items()) out.insert(item.key());
  return out;
}

const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");

const std::set<std::string> certificate_keys = {
    "subject",       "issuer",   "serial_number",  "not_before",         "not_after", "valid_domains", "valid_ips",
    "key_algorithm", "key_bits", "signature_hash", "sha256_fingerprint", "is_ca",     "self_signed"};
const std::set<std::string> connection_keys = {"address",    "protocol",       "cipher_suite", "alpn", "compression",
                                               "session_id", "session_ticket", "certificate",  "chain"};

}  // namespace

TEST_CASE("fetch --json and probe --json give the same facts under the same keys", "[openssl][json]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string port = std::to_string(server.port());
  json fetched =
      parse_stdout(run_stdout("fetch", {"--cacert", root_ca(), "--json", "https://localhost:" + port + "/"}));
  json probed = parse_stdout(run_stdout("probe", {"--cacert", root_ca(), "--json", "localhost:" + port}));

  std::set<std::string> fetch_connection = keys(fetched["connection"]);
  CHECK(fetch_connection.erase("reused") == 1);  // fetch's own: a kept-alive connection
  CHECK(fetch_connection == connection_keys);
  CHECK(keys(probed["connection"]) == connection_keys);
  CHECK(keys(fetched["connection"]["certificate"]) == certificate_keys);
  CHECK(keys(probed["connection"]["certificate"]) == certificate_keys);

  // The same server, the same facts.
  for (const char* key : {"address", "protocol", "compression"})
    CHECK(fetched["connection"][key] == probed["connection"][key]);
  CHECK(fetched["connection"]["certificate"] == probed["connection"]["certificate"]);
  CHECK(fetched["connection"]["chain"] == probed["connection"]["chain"]);
  REQUIRE(probed["connection"]["chain"].size() == 2);
  CHECK(probed["connection"]["chain"][0] == probed["connection"]["certificate"]);
  auto leaf = Certificate::load(certs_dir() / "localhost.pem").at(0);
  CHECK(fetched["connection"]["certificate"]["sha256_fingerprint"] == leaf.sha256_fingerprint());
  for (const json& certificate : fetched["connection"]["chain"]) {
    CHECK(std::regex_match(certificate["not_before"].get<std::string>(), rfc3339));
    CHECK(std::regex_match(certificate["not_after"].get<std::string>(), rfc3339));
  }
  CHECK(fetched["error"].is_null());
  CHECK(probed["error"].is_null());
  CHECK(fetched["exit_code"] == 0);
  CHECK(probed["exit_code"] == 0);
}

TEST_CASE("a TLS failure is JSON on stdout for fetch and probe, the same keys as a success", "[openssl][json]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  const std::string port = std::to_string(server.port());
  const std::string url = "https://localhost:" + port + "/";
  const std::string verdict =
      "Server certificate verification failed - certificate issuer not found in trusted root certificate store";
  json fetch_ok = parse_stdout(run_stdout("fetch", {"--cacert", root_ca(), "--json", url}));

  // No --cacert: the test root is not trusted.
  ProgramResult fetch_run = run_stdout("fetch", {"--json", url});
  CHECK(fetch_run.exit_code == 5);
  json fetch_failed = parse_stdout(fetch_run);
  CHECK(keys(fetch_failed) == keys(fetch_ok));
  CHECK(fetch_failed["url"] == url);
  CHECK(fetch_failed["status"].is_null());
  CHECK(fetch_failed["connection"].is_null());
  CHECK(fetch_failed["error"] == json({{"class", "verification"}, {"message", verdict}, {"exit_code", 5}}));
  CHECK(fetch_failed["exit_code"] == 5);

  ProgramResult probe_run = run_stdout("probe", {"--json", "localhost:" + port});
  CHECK(probe_run.exit_code == 5);
  json probe_failed = parse_stdout(probe_run);
  CHECK(probe_failed["error"] == fetch_failed["error"]);
  CHECK(probe_failed["exit_code"] == 5);

  SECTION("nothing listens: exit 3, network, the same keys") {
    const std::string closed = std::to_string(free_port());
    ProgramResult fetch_closed = run_stdout("fetch", {"--json", "https://127.0.0.1:" + closed + "/"});
    CHECK(fetch_closed.exit_code == 3);
    json f = parse_stdout(fetch_closed);
    CHECK(keys(f) == keys(fetch_ok));
    CHECK(f["error"]["class"] == "network");
    CHECK(f["error"]["exit_code"] == 3);
    CHECK(f["connection"].is_null());

    json probe_ok = parse_stdout(run_stdout("probe", {"--cacert", root_ca(), "--json", "localhost:" + port}));
    ProgramResult probe_closed = run_stdout("probe", {"--json", "127.0.0.1:" + closed});
    CHECK(probe_closed.exit_code == 3);
    json p = parse_stdout(probe_closed);
    CHECK(keys(p) == keys(probe_ok));
    CHECK(p["error"]["class"] == "network");
    CHECK(p["error"]["message"] == f["error"]["message"].get<std::string>());
    CHECK(p["connection"].is_null());
    CHECK(p["resumption"].is_null());
  }
}
