// `tlsock --version` on whichever mbedTLS line this build uses: tlsock's version, the mbedTLS
// the binary runs with and the protocols it can speak. The expected mbedTLS facts come from
// what Meson found in the headers (TLSOCK_MBEDTLS_*, test/meson.build), not from the library.
// Also the command line's manners: one-line usage errors with human ranges, the nearest command.
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("--version names tlsock, the mbedTLS it runs with and the protocols of this build", "[version]") {
  ProgramResult result = run_program({TLSOCK_CLI, "--version"}, 30s);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  std::vector<std::string> lines = lines_of(result.output);
  REQUIRE(lines.size() >= 3);
  CHECK(lines[0] == "tlsock " + std::string(tlsock::version()));
  // The build dir's rpath loads the mbedTLS it was compiled against, so the library's run-time
  // answer is the headers' version (2.28 spells itself "mbed TLS", 3.x "Mbed TLS").
  CHECK((lines[1] == std::string("Mbed TLS ") + TLSOCK_MBEDTLS_VERSION ||
         lines[1] == std::string("mbed TLS ") + TLSOCK_MBEDTLS_VERSION));
  if (TLSOCK_MBEDTLS_TLS13) {
    CHECK(lines[2] == std::string("Protocols: ") + TLSOCK_MBEDTLS_PROTOCOLS + " (default: TLSv1.2, TLSv1.3)");
    CHECK(lines[2].find("TLSv1.3") != std::string::npos);
    CHECK(lines.size() == 3);
  } else {
    CHECK(lines[2] == std::string("Protocols: ") + TLSOCK_MBEDTLS_PROTOCOLS + " (default: TLSv1.2)");
    CHECK(result.output.find("TLSv1.3") == std::string::npos);
    REQUIRE(lines.size() == 4);
    CHECK(lines[3] ==
          "No TLS 1.3: this mbedTLS line has none (2.28, end of life); build against mbedTLS 3.6 (README, "
          "\"mbedTLS lines\")");
  }
}

TEST_CASE("usage errors are one line with a tlsock: prefix and human ranges", "[cli]") {
  ProgramResult timeout = run_program({TLSOCK_CLI, "fetch", "--timeout", "0", "https://localhost/"}, 30s);
  CHECK(timeout.exit_code == 2);
  CHECK(timeout.output ==
        "tlsock: --timeout: must be a number of seconds above 0 and at most 86400, not 0 (see tlsock fetch --help)\n");
  ProgramResult huge = run_program({TLSOCK_CLI, "serve", "--handshake-timeout", "1e300"}, 30s);
  CHECK(huge.exit_code == 2);
  CHECK(huge.output ==
        "tlsock: --handshake-timeout: must be a number of seconds above 0 and at most 86400, not "
        "1e300 (see tlsock serve --help)\n");
  ProgramResult unknown_option = run_program({TLSOCK_CLI, "probe", "--frobnicate", "localhost"}, 30s);
  CHECK(unknown_option.exit_code == 2);
  CHECK(unknown_option.output.rfind("tlsock: ", 0) == 0);
  CHECK(unknown_option.output.find('\n') == unknown_option.output.size() - 1);  // one line
  CHECK(unknown_option.output.find("--frobnicate") != std::string::npos);
}

TEST_CASE("an unknown command gets the nearest one suggested", "[cli]") {
  ProgramResult typo = run_program({TLSOCK_CLI, "fetc", "https://localhost/"}, 30s);
  CHECK(typo.exit_code == 2);
  CHECK(typo.output == "tlsock: unknown command \"fetc\"; did you mean \"fetch\"?\n");
  ProgramResult swapped = run_program({TLSOCK_CLI, "porbe"}, 30s);
  CHECK(swapped.output == "tlsock: unknown command \"porbe\"; did you mean \"probe\"?\n");
  ProgramResult far = run_program({TLSOCK_CLI, "download"}, 30s);
  CHECK(far.exit_code == 2);
  CHECK(far.output == "tlsock: unknown command \"download\" (commands: fetch, probe, serve, demo)\n");
}
