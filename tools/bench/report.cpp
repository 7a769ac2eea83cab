// tlsock-bench output: a table for people, --json for scripts.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "bench.hpp"

namespace tlsock::bench {
namespace {

// 3 significant digits at most, no exponent: 1234567 -> "1234567", 0.01234 -> "0.0123".
std::string number(double value) {
  char text[64];
  if (std::fabs(value) >= 100)
    std::snprintf(text, sizeof text, "%.0f", value);
  else if (std::fabs(value) >= 10)
    std::snprintf(text, sizeof text, "%.1f", value);
  else if (std::fabs(value) >= 1)
    std::snprintf(text, sizeof text, "%.2f", value);
  else
    std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

std::string cell(const Stats& stats) {
  if (stats.samples.size() <= 1) return number(stats.median());
  return number(stats.median()) + " (" + number(stats.min()) + "-" + number(stats.max()) + ")";
}

std::string verdict(const Row& row) {
  std::optional<bool> passed = row.passed();
  if (!passed) return "";
  return std::string(row.higher_is_better ? ">= " : "<= ") + number(*row.target) + (*passed ? " ok" : " MISSED");
}

void pad(std::string& line, const std::string& text, std::size_t width) {
  line += text;
  line.append(width > text.size() ? width - text.size() : 1, ' ');
}

}  // namespace

void print_table(const Report& report) {
  std::cout << "tlsock-bench " << report.date << ", " << report.cpus << " CPUs, " << report.mbedtls_version << ", "
            << report.protocol << " " << report.cipher_suite << (report.quick ? " (--quick: not a measurement)" : "")
            << "\n";
  for (const auto& [name, version] : report.contenders) std::cout << "  " << name << ": " << version << "\n";
  std::cout << "trust roots, the same files for every client:";
  for (const std::string& file : report.trust_roots) std::cout << " " << file;
  std::cout << "\n";
  std::cout << "median of " << report.settings.rounds
            << " interleaved rounds (min-max); ratio = tlsock / mbedtls, the median of the rounds' ratios\n\n";
  std::vector<std::string> header{"", "unit"};
  for (const auto& [name, version] : report.contenders) header.push_back(name);
  header.emplace_back("ratio");
  header.emplace_back("target");
  std::vector<std::vector<std::string>> lines{header};
  for (const Row& row : report.rows) {
    std::vector<std::string> line{row.label, row.unit};
    for (const auto& [name, version] : report.contenders) {
      auto it = row.results.find(name);
      line.push_back(it == row.results.end() ? "-" : cell(it->second));
    }
    std::optional<double> ratio = row.ratio();
    line.push_back(ratio ? number(*ratio) : "");
    line.push_back(verdict(row));
    lines.push_back(std::move(line));
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& line : lines)
    for (std::size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size() + 2);
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) pad(text, line[i], widths[i]);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    std::cout << text << "\n";
  }
  if (!report.checks.empty()) std::cout << "\n";
  for (const Check& check : report.checks)
    std::cout << check.name << " = " << number(check.value) << " (target >= " << number(check.target) << ")"
              << (check.passed() ? " ok" : " MISSED") << "\n";
  if (!report.primitives.empty()) std::cout << "\nmbedTLS primitives (" << report.mbedtls_version << ", one thread)\n";
  for (const auto& p : report.primitives)
    std::cout << "  " << p.name << ": " << (p.value ? number(*p.value) + " " + p.unit : std::string("n/a")) << "\n";
  for (const std::string& note : report.notes) std::cout << "note: " << note << "\n";
}

void print_json(const Report& report, std::ostream& stream) {
  using nlohmann::json;
  json out;
  out["date"] = report.date;
  out["cpus"] = report.cpus;
  out["mbedtls_version"] = report.mbedtls_version;
  out["protocol"] = report.protocol;
  out["cipher_suite"] = report.cipher_suite;
  out["trust_roots"] = report.trust_roots;
  out["quick"] = report.quick;
  out["rounds"] = report.settings.rounds;
  out["contenders"] = json::object();
  for (const auto& [name, version] : report.contenders) out["contenders"][name] = version;
  out["rows"] = json::array();
  for (const Row& row : report.rows) {
    json r{{"id", row.id}, {"label", row.label}, {"unit", row.unit}, {"higher_is_better", row.higher_is_better}};
    r["results"] = json::object();
    for (const auto& [name, stats] : row.results)
      r["results"][name] = {
          {"median", stats.median()}, {"min", stats.min()}, {"max", stats.max()}, {"samples", stats.samples}};
    std::optional<double> ratio = row.ratio();
    std::optional<bool> passed = row.passed();
    r["ratio"] = ratio ? json(*ratio) : json(nullptr);
    r["target"] = row.target ? json(*row.target) : json(nullptr);
    r["pass"] = passed ? json(*passed) : json(nullptr);
    out["rows"].push_back(std::move(r));
  }
  out["checks"] = json::array();
  for (const Check& check : report.checks)
    out["checks"].push_back(
        {{"name", check.name}, {"value", check.value}, {"target", check.target}, {"pass", check.passed()}});
  out["primitives"] = json::array();
  for (const auto& p : report.primitives)
    out["primitives"].push_back(
        {{"name", p.name}, {"unit", p.unit}, {"value", p.value ? json(*p.value) : json(nullptr)}});
  out["notes"] = report.notes;
  stream << out.dump(2) << "\n";
}

}  // namespace tlsock::bench
