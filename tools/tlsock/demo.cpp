// tlsock demo (not implemented yet).
#include "cli.hpp"

namespace tlsock::cli {

void add_demo(CLI::App& app, int& result) {
  auto* command = app.add_subcommand("demo", "(not implemented yet)");
  command->callback([&result] { result = failure; });
}

}  // namespace tlsock::cli
