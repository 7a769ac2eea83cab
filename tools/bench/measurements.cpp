// The measurements of tlsock-bench, one function per row, run in interleaved rounds.
#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "child_process.hpp"
#include "protocol.hpp"

namespace tlsock::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Bytes in use on the heap (main arena and mmapped chunks): the bench's client is one thread.
std::size_t heap_in_use() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::string command(std::string_view verb, std::size_t n) { return std::string(verb) + " " + std::to_string(n) + "\n"; }

// connect, handshake, "ping" -> 1 byte, close. Returns the byte ('R': the server resumed).
char ping(Client& client, std::uint16_t port) {
  std::unique_ptr<ContenderConnection> connection = client.connect(port);
  connection->write("ping\n");
  char answer = connection->read(1).front();
  connection->close();
  return answer;
}

// One measured value, with the client's CPU time where the row reports it.
struct Sample {
  double value = 0;
  std::optional<double> cpu;
};

// What a row's measurement gets: its client (made once per contender and kept across
// rounds, so a resuming client always holds the session of its last handshake).
struct Slot {
  const Contender* contender = nullptr;
  std::unique_ptr<Client> client;
};

struct Workload {
  std::string id, label, unit;
  bool higher_is_better = true;
  std::optional<double> target;
  // The unit of Sample::cpu ("CPU us each"), whose row "<id>_cpu" follows this one.
  std::string cpu_unit;
  int max_rounds = 0;                  // 0: every round
  std::function<void(Slot&)> prepare;  // makes slot.client
  std::function<Sample(Slot&)> measure;
};

// connect, handshake, close: for servers that do not speak the bench's protocol.
void handshake_only(Client& client, std::uint16_t port) { client.connect(port)->close(); }

Sample handshakes(Client& client, std::uint16_t port, std::size_t count, bool resumed) {
  // A fresh session to resume: the server's cache (50 sessions) forgets old ones while other
  // rows make full handshakes.
  if (resumed) (void)ping(client, port);
  std::size_t reused = 0;
  auto start = Clock::now();
  double cpu = cpu_seconds();
  for (std::size_t i = 0; i < count; ++i) reused += ping(client, port) == 'R';
  double elapsed = seconds_since(start);
  cpu = cpu_seconds() - cpu;
  std::size_t expected = resumed ? count : 0;
  if (reused != expected)
    throw std::runtime_error(std::to_string(reused) + " of " + std::to_string(count) +
                             " handshakes resumed, expected " + std::to_string(expected));
  return {static_cast<double>(count) / elapsed, cpu * 1e6 / static_cast<double>(count)};
}

Sample bulk_read(Client& client, std::uint16_t port, std::size_t total, std::size_t chunk) {
  std::unique_ptr<ContenderConnection> connection = client.connect(port);
  connection->write(command("bulk", total));
  auto start = Clock::now();
  double cpu = cpu_seconds();
  for (std::size_t got = 0; got < total;) got += connection->read(std::min(chunk, total - got)).size();
  Sample sample{static_cast<double>(total) / 1e6 / seconds_since(start),
                (cpu_seconds() - cpu) * 1e9 / static_cast<double>(total)};
  connection->close();
  return sample;
}

Sample bulk_write(Client& client, std::uint16_t port, std::size_t total, std::size_t chunk) {
  static const std::string block(16 * 1024, 'w');
  std::unique_ptr<ContenderConnection> connection = client.connect(port);
  connection->write(command("sink", total));
  auto start = Clock::now();
  double cpu = cpu_seconds();
  for (std::size_t left = total; left > 0;) {
    std::size_t n = std::min({chunk, left, block.size()});
    connection->write(std::string_view(block).substr(0, n));
    left -= n;
  }
  if (connection->read(1) != "k") throw std::runtime_error("sink: the server did not acknowledge");
  Sample sample{static_cast<double>(total) / 1e6 / seconds_since(start),
                (cpu_seconds() - cpu) * 1e9 / static_cast<double>(total)};
  connection->close();
  return sample;
}

// count items of the server's generator, read with read_one; checks the byte count.
template <typename ReadOne>
Sample items(Client& client, std::uint16_t port, std::string_view verb, std::size_t count,
             void (*append)(std::string&, std::size_t), ReadOne read_one) {
  std::size_t expected = 0;
  std::string scratch;
  for (std::size_t i = 0; i < count; ++i) {
    scratch.clear();
    append(scratch, i);
    expected += scratch.size();
  }
  std::unique_ptr<ContenderConnection> connection = client.connect(port);
  connection->write(command(verb, count));
  std::size_t bytes = 0;
  auto start = Clock::now();
  double cpu = cpu_seconds();
  for (std::size_t i = 0; i < count; ++i) bytes += read_one(*connection).size();
  Sample sample{static_cast<double>(count) / seconds_since(start),
                (cpu_seconds() - cpu) * 1e9 / static_cast<double>(count)};
  connection->close();
  if (bytes != expected)
    throw std::runtime_error(std::string(verb) + ": read " + std::to_string(bytes) + " bytes, expected " +
                             std::to_string(expected));
  return sample;
}

// Opens count connections (handshake and one ping each) and keeps them open: the heap they
// hold, per connection.
Sample heap_per_connection(Client& client, std::uint16_t port, std::size_t count) {
  (void)ping(client, port);  // anything made once per process or per client is made now
  std::vector<std::unique_ptr<ContenderConnection>> open;
  open.reserve(count);
  std::size_t before = heap_in_use();
  for (std::size_t i = 0; i < count; ++i) {
    open.push_back(client.connect(port));
    open.back()->write("ping\n");
    (void)open.back()->read(1);
  }
  std::size_t after = heap_in_use();
  for (auto& connection : open) connection->close();
  return {static_cast<double>(after - before) / static_cast<double>(count), {}};
}

// How many idle connections fit under the descriptor limit (see raise_descriptor_limit).
std::size_t connections_that_fit(std::size_t wanted) {
  rlimit limit{};
  constexpr std::size_t reserve = 64;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted + reserve)
    return wanted;
  return limit.rlim_cur > reserve ? limit.rlim_cur - reserve : 1;
}

std::vector<Workload> workloads(const Environment& env, const Settings& s) {
  std::uint16_t ids = env.id_port, tickets = env.ticket_port;
  auto full_client = [](Slot& slot) { slot.client = slot.contender->client(false); };
  auto resuming_client = [](Slot& slot) { slot.client = slot.contender->client(true); };
  std::vector<Workload> out;
  out.push_back({"full_handshake", "full handshakes", "handshakes/s", true, 0.95, "CPU us each", 0, full_client,
                 [=](Slot& slot) { return handshakes(*slot.client, ids, s.handshakes, false); }});
  out.push_back({"resumed_session_id", "resumed handshakes, session ID", "handshakes/s", true, 0.95, "CPU us each", 0,
                 resuming_client,
                 [=](Slot& slot) { return handshakes(*slot.client, ids, s.resumed_handshakes, true); }});
  out.push_back({"resumed_ticket", "resumed handshakes, ticket", "handshakes/s", true, 0.95, "CPU us each", 0,
                 resuming_client,
                 [=](Slot& slot) { return handshakes(*slot.client, tickets, s.resumed_handshakes, true); }});
  // openssl s_server answers nothing the bench could ask: the handshake alone (resumption is
  // proven against our server, with the same client code).
  if (env.openssl_id_port != 0) {
    std::uint16_t o_ids = env.openssl_id_port, o_tickets = env.openssl_ticket_port;
    auto count = [](Client& client, std::uint16_t port, std::size_t n, bool resumed) {
      if (resumed) handshake_only(client, port);
      auto start = Clock::now();
      double cpu = cpu_seconds();
      for (std::size_t i = 0; i < n; ++i) handshake_only(client, port);
      return Sample{static_cast<double>(n) / seconds_since(start),
                    (cpu_seconds() - cpu) * 1e6 / static_cast<double>(n)};
    };
    out.push_back({"full_handshake_s_server", "full handshakes, openssl s_server", "handshakes/s", true, 0.95,
                   "CPU us each", 0, full_client,
                   [=](Slot& slot) { return count(*slot.client, o_ids, s.handshakes, false); }});
    out.push_back({"resumed_session_id_s_server", "resumed, session ID, openssl s_server", "handshakes/s", true, 0.95,
                   "CPU us each", 0, resuming_client,
                   [=](Slot& slot) { return count(*slot.client, o_ids, s.resumed_handshakes, true); }});
    out.push_back({"resumed_ticket_s_server", "resumed, ticket, openssl s_server", "handshakes/s", true, 0.95,
                   "CPU us each", 0, resuming_client,
                   [=](Slot& slot) { return count(*slot.client, o_tickets, s.resumed_handshakes, true); }});
  }
  for (std::size_t chunk : {std::size_t{16 * 1024}, std::size_t{1024}}) {
    std::string k = std::to_string(chunk / 1024) + "k", kib = std::to_string(chunk / 1024) + " KiB";
    out.push_back({"bulk_read_" + k, "bulk read, " + kib + " reads", "MB/s", true, 0.95, "CPU ns/byte", 0, full_client,
                   [=](Slot& slot) { return bulk_read(*slot.client, ids, s.bulk_bytes, chunk); }});
    out.push_back({"bulk_write_" + k, "bulk write, " + kib + " writes", "MB/s", true, 0.95, "CPU ns/byte", 0,
                   full_client, [=](Slot& slot) { return bulk_write(*slot.client, ids, s.bulk_bytes, chunk); }});
  }
  out.push_back({"read_line", "read_line", "lines/s", true, 0.95, "CPU ns each", 0, full_client, [=](Slot& slot) {
                   return items(*slot.client, ids, "lines", s.lines, append_line,
                                [](ContenderConnection& c) { return c.read_line(); });
                 }});
  out.push_back({"read_until", "read_until \"\\r\\n\\r\\n\"", "messages/s", true, 0.95, "CPU ns each", 0, full_client,
                 [=](Slot& slot) {
                   return items(*slot.client, ids, "until", s.messages, append_message,
                                [](ContenderConnection& c) { return c.read_until(marker); });
                 }});
  std::size_t idle = connections_that_fit(s.idle_connections);
  out.push_back({"heap_per_idle_connection", "heap per idle connection (" + std::to_string(idle) + " open)", "bytes",
                 false, 1.1, "", 1, full_client,
                 [=](Slot& slot) { return heap_per_connection(*slot.client, ids, idle); }});
  return out;
}

bool selected(const std::vector<std::string>& only, const std::string& id) {
  return only.empty() || std::find(only.begin(), only.end(), id) != only.end();
}

// Starts this binary in --first-connection mode for each contender, interleaved.
void first_connection_rows(const Environment& env, const Settings& s, const std::vector<Contender>& contenders,
                           Report& report) {
  Row first{"first_connection", "first connection of a process", "ms", false, std::nullopt, {}};
  Row later{"later_connection",
            "later connections (median of " + std::to_string(s.later_connections) + ")",
            "ms",
            false,
            std::nullopt,
            {}};
  for (int run = 0; run < s.first_connection_runs; ++run) {
    for (std::size_t i = 0; i < contenders.size(); ++i) {
      const Contender& contender = contenders[(i + static_cast<std::size_t>(run)) % contenders.size()];
      std::vector<std::string> argv{env.self.string(),
                                    "--first-connection",
                                    contender.name,
                                    "--port",
                                    std::to_string(env.id_port),
                                    "--certs",
                                    env.setup.certs_dir.string(),
                                    "--suite",
                                    env.setup.cipher_suite,
                                    "--later",
                                    std::to_string(s.later_connections)};
      ProgramResult result = run_program(argv, std::chrono::seconds(60));
      std::istringstream in(result.output);
      double first_ms = 0, later_ms = 0;
      std::string tag;
      if (result.exit_code != 0 || !(in >> tag >> first_ms >> later_ms) || tag != "first-connection")
        throw std::runtime_error("first connection (" + contender.name + ") failed: " + result.output);
      first.results[contender.name].samples.push_back(first_ms);
      later.results[contender.name].samples.push_back(later_ms);
    }
  }
  report.rows.push_back(std::move(first));
  report.rows.push_back(std::move(later));
}

std::string today() {
  std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

void add_checks(Report& report) {
  auto median_of = [&](const std::string& id) -> std::optional<double> {
    for (const Row& row : report.rows)
      if (row.id == id)
        if (auto it = row.results.find("tlsock"); it != row.results.end()) return it->second.median();
    return std::nullopt;
  };
  std::optional<double> full = median_of("full_handshake");
  for (const char* id : {"resumed_session_id", "resumed_ticket"})
    if (std::optional<double> resumed = median_of(id); resumed && full)
      report.checks.push_back({std::string("tlsock ") + id + " / full_handshake", *resumed / *full, 3.0});
}

}  // namespace

void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Settings quick_settings() {
  Settings s;
  s.rounds = 1;
  s.handshakes = 5;
  s.resumed_handshakes = 5;
  s.bulk_bytes = 256 * 1024;
  s.lines = 1000;
  s.messages = 100;
  s.idle_connections = 10;
  s.first_connection_runs = 1;
  s.later_connections = 2;
  s.primitive_seconds = 0.01;
  return s;
}

double Stats::median() const {
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  std::size_t n = sorted.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}
double Stats::min() const { return samples.empty() ? 0 : *std::min_element(samples.begin(), samples.end()); }
double Stats::max() const { return samples.empty() ? 0 : *std::max_element(samples.begin(), samples.end()); }

std::optional<double> Row::ratio() const {
  auto t = results.find("tlsock"), m = results.find("mbedtls");
  if (t == results.end() || m == results.end() || m->second.median() == 0) return std::nullopt;
  // The median of each round's own ratio: a round's two samples are taken back to back, so
  // a change in the machine's load between rounds divides out.
  const std::vector<double>& a = t->second.samples;
  const std::vector<double>& b = m->second.samples;
  if (a.size() != b.size() || std::find(b.begin(), b.end(), 0.0) != b.end())
    return t->second.median() / m->second.median();
  Stats ratios;
  for (std::size_t i = 0; i < a.size(); ++i) ratios.samples.push_back(a[i] / b[i]);
  return ratios.median();
}

std::optional<bool> Row::passed() const {
  std::optional<double> r = ratio();
  if (!r || !target) return std::nullopt;
  return higher_is_better ? *r >= *target : *r <= *target;
}

Report run_bench(const Environment& env, const Settings& s) {
  Report report;
  report.date = today();
  report.mbedtls_version = reference::mbedtls_version();
  report.cipher_suite = env.setup.cipher_suite;
  for (const auto& file : env.setup.ca_files) report.trust_roots.push_back(file.string());
  report.protocol = std::string(to_string(env.setup.protocol));
  report.cpus = std::thread::hardware_concurrency();
  report.settings = s;

  std::vector<Contender> contenders;
  for (Contender& c : all_contenders(env.setup))
    if (selected(s.contenders, c.name)) contenders.push_back(std::move(c));
  for (const Contender& c : contenders) report.contenders.emplace_back(c.name, c.version);

  std::vector<Workload> chosen;
  for (Workload& w : workloads(env, s))
    if (selected(s.only, w.id)) chosen.push_back(std::move(w));
  // slots[w][c]: the client of workload w and contender c, made on first use.
  std::vector<std::vector<Slot>> slots(chosen.size());
  std::vector<Row> rows, cpu_rows;
  for (const Workload& w : chosen) {
    rows.push_back({w.id, w.label, w.unit, w.higher_is_better, w.target, {}});
    cpu_rows.push_back({w.cpu_unit.empty() ? "" : w.id + "_cpu", "  client CPU", w.cpu_unit, false, std::nullopt, {}});
  }
  for (std::size_t w = 0; w < chosen.size(); ++w)
    for (const Contender& c : contenders) slots[w].push_back({&c, nullptr});

  for (int round = 0; round < s.rounds; ++round) {
    for (std::size_t w = 0; w < chosen.size(); ++w) {
      if (chosen[w].max_rounds > 0 && round >= chosen[w].max_rounds) continue;
      // Each round starts with the next contender, so none always runs first after a row
      // change (the server has just finished other work then).
      for (std::size_t i = 0; i < slots[w].size(); ++i) {
        Slot& slot = slots[w][(i + static_cast<std::size_t>(round)) % slots[w].size()];
        try {
          if (!slot.client) chosen[w].prepare(slot);
          Sample sample = chosen[w].measure(slot);
          rows[w].results[slot.contender->name].samples.push_back(sample.value);
          if (sample.cpu) cpu_rows[w].results[slot.contender->name].samples.push_back(*sample.cpu);
        } catch (const std::exception& error) {
          throw std::runtime_error(chosen[w].id + " (" + slot.contender->name + "): " + error.what());
        }
      }
    }
  }
  for (std::size_t w = 0; w < chosen.size(); ++w) {
    report.rows.push_back(std::move(rows[w]));
    if (!cpu_rows[w].id.empty()) report.rows.push_back(std::move(cpu_rows[w]));
  }
  if (selected(s.only, "first_connection")) first_connection_rows(env, s, contenders, report);
  add_checks(report);
  if (selected(s.only, "primitives"))
    report.primitives = reference::time_primitives(env.setup.certs_dir, s.primitive_seconds);
  return report;
}

int run_first_connection(const ClientSetup& setup, const std::string& name, std::uint16_t port,
                         std::size_t later_connections) {
  for (const Contender& contender : all_contenders(setup)) {
    if (contender.name != name) continue;
    auto start = Clock::now();
    std::unique_ptr<Client> client = contender.client(false);
    (void)ping(*client, port);
    double first_ms = seconds_since(start) * 1e3;
    Stats later;
    for (std::size_t i = 0; i < later_connections; ++i) {
      auto again = Clock::now();
      (void)ping(*client, port);
      later.samples.push_back(seconds_since(again) * 1e3);
    }
    std::cout << "first-connection " << first_ms << " " << later.median() << "\n";
    return 0;
  }
  std::cerr << "tlsock-bench: no contender named " << name << "\n";
  return 2;
}

}  // namespace tlsock::bench
