// tlsock: fetch, probe and serve over TLS from the command line.
#include <csignal>
#include <iostream>

#include "cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tlsock: fetch, probe and serve over TLS, built on the tlsock library"};
  app.set_version_flag("--version", std::string("tlsock ") + std::string(tlsock::version()) + " (" +
                                        std::string(tlsock::backend_version()) + ")");
  app.require_subcommand(1);
  app.footer(tlsock::cli::exit_code_help);
  int result = tlsock::cli::success;
  tlsock::cli::add_fetch(app, result);
  tlsock::cli::add_probe(app, result);
  tlsock::cli::add_serve(app, result);
  tlsock::cli::add_demo(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);  // prints help, version or the usage error
    return code == 0 ? tlsock::cli::success : tlsock::cli::usage;
  }
  return result;
}
