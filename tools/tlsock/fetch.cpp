// tlsock fetch (not implemented yet).
#include "cli.hpp"

namespace tlsock::cli {

void add_fetch(CLI::App& app, int& result) {
  auto* command = app.add_subcommand("fetch", "(not implemented yet)");
  command->callback([&result] { result = failure; });
}

}  // namespace tlsock::cli
