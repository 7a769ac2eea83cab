// What one run of tlsock-bench measures and how the results are kept: rows of samples per
// contender (one sample per round), their medians, and the ratios against the mbedTLS
// reference that the targets are stated in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "contenders.hpp"
#include "reference/reference.hpp"  // tools/bench/reference: the raw mbedTLS loops, behind an mbedTLS-free interface

namespace tlsock::bench {

struct Settings {
  int rounds = 5;
  std::size_t handshakes = 100;          // full handshakes per round
  std::size_t resumed_handshakes = 500;  // resumed handshakes per round and kind
  std::size_t bulk_bytes = 100 << 20;    // per round, read and write
  std::size_t lines = 1'000'000;         // read_line
  std::size_t messages = 200'000;        // read_until
  std::size_t idle_connections = 1000;   // heap per idle connection
  int first_connection_runs = 5;         // processes started for "first connection"
  std::size_t later_connections = 9;     // connections after the first, per process
  double primitive_seconds = 0.5;        // per primitive
  std::vector<std::string> only;         // row ids to run (empty: all)
  std::vector<std::string> contenders;   // contender names to run (empty: all)
};

// The quick settings of --quick: one round of tiny sizes (a smoke test, not a measurement).
[[nodiscard]] Settings quick_settings();

struct Stats {
  std::vector<double> samples;
  [[nodiscard]] double median() const;
  [[nodiscard]] double min() const;
  [[nodiscard]] double max() const;
};

struct Row {
  std::string id;     // "bulk_read_16k"
  std::string label;  // "bulk read, 16 KiB reads"
  std::string unit;   // "MB/s"
  bool higher_is_better = true;
  // Target for tlsock / mbedTLS: at least this when higher is better, at most otherwise.
  std::optional<double> target;
  std::map<std::string, Stats> results;  // by contender name
  // tlsock / mbedtls: the median of the rounds' ratios (of the medians if counts differ).
  [[nodiscard]] std::optional<double> ratio() const;
  [[nodiscard]] std::optional<bool> passed() const;
};

// A target that is not a ratio against the reference (resumed >= 3x full).
struct Check {
  std::string name;
  double value = 0;
  double target = 0;
  [[nodiscard]] bool passed() const { return value >= target; }
};

struct Report {
  std::string date;
  std::string mbedtls_version;
  std::vector<std::pair<std::string, std::string>> contenders;  // name, version
  std::string cipher_suite;
  std::string protocol;
  std::vector<std::string> trust_roots;  // the files every client loads, the same for all
  unsigned cpus = 0;
  Settings settings;
  bool quick = false;
  std::vector<std::string> notes;
  std::vector<Row> rows;
  std::vector<Check> checks;
  std::vector<reference::PrimitiveResult> primitives;
};

// The server's ports (see server.hpp) and how to start child processes of this binary.
struct Environment {
  std::filesystem::path self;  // this executable
  ClientSetup setup;
  std::uint16_t ticket_port = 0;
  std::uint16_t id_port = 0;
  // openssl s_server with the same identity and suite, with and without tickets (0: none).
  std::uint16_t openssl_ticket_port = 0;
  std::uint16_t openssl_id_port = 0;
};

// Runs every measurement, interleaving contenders within each round.
[[nodiscard]] Report run_bench(const Environment& env, const Settings& settings);

// The child of the "first connection" row (tlsock-bench --first-connection NAME): connects
// once, then settings.later_connections times, and prints "first_ms later_ms" on stdout.
int run_first_connection(const ClientSetup& setup, const std::string& contender, std::uint16_t port,
                         std::size_t later_connections);

// Raises the soft limit on open descriptors to the hard one (1,000 idle connections, and
// the server's side of them).
void raise_descriptor_limit();

// Output.
void print_table(const Report& report);
void print_json(const Report& report, std::ostream& stream);

}  // namespace tlsock::bench
