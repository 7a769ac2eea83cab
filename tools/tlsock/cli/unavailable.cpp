// The commands the Windows build leaves out (tools/meson.build): `serve` (its signal handling
// and file serving are POSIX) and `demo` (it runs serve's server). They stay in --help and say so
// when run, exit code 1.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/cli.hpp"

namespace tlsock::cli {
namespace {

void add_unavailable(CLI::App& app, int& result, const char* name, const char* description) {
  auto* command = app.add_subcommand(name, std::string(description) + " (not available on Windows)");
  command->allow_extras();
  command->callback([&result, name] {
    std::cerr << "tlsock " << name << ": not available on Windows\n";
    result = failure;
  });
}

}  // namespace

void add_serve(CLI::App& app, int& result) {
  add_unavailable(app, result, "serve", "Serve a directory over HTTPS (GET and HEAD), or echo lines back");
}

void add_demo(CLI::App& app, int& result) {
  add_unavailable(app, result, "demo",
                  "See tlsock work: a local HTTPS server, a verified fetch from it, the connection facts, resumption");
}

}  // namespace tlsock::cli
