// tlsock: fetch, probe and serve over TLS from the command line.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"

namespace tlsock::cli {
namespace {

std::string protocol_list(const tlsock::ProtocolSet& protocols) {
  std::string out;
  for (tlsock::Protocol p : protocols) out += (out.empty() ? "" : ", ") + std::string(tlsock::to_string(p));
  return out.empty() ? "none" : out;
}

// Levenshtein distance: how far a mistyped command is from a real one.
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "tlsock: unknown command "fetc"; did you mean "fetch"?" for a first argument that is no
// command (CLI11 would say it expected a subcommand, or that the argument was not expected).
std::optional<std::string> unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  std::string given = argv[1];
  std::string nearest, names;
  std::size_t best = std::string::npos;
  for (const CLI::App* command : app.get_subcommands({})) {
    const std::string& name = command->get_name();
    if (name == given) return std::nullopt;
    names += (names.empty() ? "" : ", ") + name;
    if (std::size_t d = distance(given, name); d < best) {
      best = d;
      nearest = name;
    }
  }
  std::string message = "tlsock: unknown command \"" + given + "\"";
  if (best <= 2) return message + "; did you mean \"" + nearest + "\"?";
  return message + " (commands: " + names + ")";
}

// CLI11's usage errors as one line: "tlsock: <what is wrong> (see tlsock fetch --help)".
std::string one_line_failure(const CLI::App* app, const CLI::Error& error) {
  std::string help = "tlsock";
  for (const CLI::App* command = app; command != nullptr;) {
    auto parsed = command->get_subcommands();
    command = parsed.empty() ? nullptr : parsed.front();
    if (command != nullptr) help += " " + command->get_name();
  }
  std::string message = error.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  return "tlsock: " + message + " (see " + help + " --help)\n";
}

}  // namespace

std::string version_text() {
  std::string text = "tlsock " + std::string(tlsock::version()) + "\n" + std::string(tlsock::backend_version()) +
                     "\nProtocols: " + protocol_list(tlsock::supported_protocols()) +
                     " (default: " + protocol_list(tlsock::default_protocols()) + ")";
  if (!tlsock::supported_protocols().contains(tlsock::Protocol::TLSv1_3))
    text +=
        "\nNo TLS 1.3: this mbedTLS line has none (2.28, end of life); build against mbedTLS 3.6 (README, "
        "\"mbedTLS lines\")";
  return text;
}

}  // namespace tlsock::cli

int main(int argc, char** argv) {
  try {
    CLI::App app{"tlsock: fetch, probe and serve over TLS, built on the tlsock library"};
    app.set_version_flag("--version", tlsock::cli::version_text());
    app.require_subcommand(1);
    app.footer(tlsock::cli::exit_code_help);
    app.failure_message(tlsock::cli::one_line_failure);
    int result = tlsock::cli::success;
    tlsock::cli::add_fetch(app, result);
    tlsock::cli::add_probe(app, result);
    tlsock::cli::add_serve(app, result);
    tlsock::cli::add_demo(app, result);
    if (auto unknown = tlsock::cli::unknown_command(app, argc, argv)) {
      std::cerr << *unknown << "\n";
      return tlsock::cli::usage;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
      int code = app.exit(error);  // prints help, version or the usage error
      return code == 0 ? tlsock::cli::success : tlsock::cli::usage;
    }
    return result;
  } catch (const std::exception& error) {
    return tlsock::cli::report(error);  // one no command caught: "tlsock: <message>", its exit code
  } catch (...) {
    std::cerr << "tlsock: an unknown error\n";
    return tlsock::cli::failure;
  }
}
