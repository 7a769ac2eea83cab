// tlsock probe (not implemented yet).
#include "cli.hpp"

namespace tlsock::cli {

void add_probe(CLI::App& app, int& result) {
  auto* command = app.add_subcommand("probe", "(not implemented yet)");
  command->callback([&result] { result = failure; });
}

}  // namespace tlsock::cli
