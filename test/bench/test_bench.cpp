// tlsock-bench (TLSOCK_BENCH) runs: once with --quick --json, checked for the shape of its
// output. Not a timing test: no figure is compared with anything.
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/catch.hpp"
#include "support/process.hpp"

using namespace tlsock::testing;
using nlohmann::json;

TEST_CASE("tlsock-bench --quick --json runs every row and prints valid JSON") {
  ProgramResult result = run_program({TLSOCK_BENCH, "--quick", "--json"}, std::chrono::seconds(120));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  auto open = result.output.find("{\n");
  REQUIRE(open != std::string::npos);
  json report = json::parse(result.output.substr(open));

  for (const char* key : {"date", "cpus", "mbedtls_version", "protocol", "cipher_suite", "quick", "rounds",
                          "contenders", "rows", "checks", "primitives"})
    CHECK(report.contains(key));
  CHECK(report["quick"] == true);
  CHECK(report["contenders"].contains("tlsock"));
  CHECK(report["contenders"].contains("mbedtls"));

  std::set<std::string> ids;
  for (const json& row : report["rows"]) {
    ids.insert(row["id"].get<std::string>());
    for (const char* key : {"label", "unit", "higher_is_better", "results", "ratio", "target", "pass"})
      CHECK(row.contains(key));
    for (const char* contender : {"tlsock", "mbedtls"}) {
      INFO(row["id"] << " " << contender);
      REQUIRE(row["results"].contains(contender));
      for (const char* key : {"median", "min", "max", "samples"}) CHECK(row["results"][contender].contains(key));
    }
  }
  for (const char* id : {"full_handshake", "resumed_session_id", "resumed_ticket", "bulk_read_16k", "bulk_read_1k",
                         "bulk_write_16k", "bulk_write_1k", "bulk_read_16k_cpu", "read_line", "read_until",
                         "heap_per_idle_connection", "first_connection", "later_connection"})
    CHECK(ids.count(id) == 1);
  CHECK(report["primitives"].size() == 6);
  for (const json& primitive : report["primitives"])
    CHECK((primitive["value"].is_null() || primitive["value"].is_number()));
}
