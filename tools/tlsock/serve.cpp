// tlsock serve (not implemented yet).
#include "cli.hpp"

namespace tlsock::cli {

void add_serve(CLI::App& app, int& result) {
  auto* command = app.add_subcommand("serve", "(not implemented yet)");
  command->callback([&result] { result = failure; });
}

}  // namespace tlsock::cli
