// tlsock: fetch, probe and serve over TLS from the command line.
#include <csignal>
#include <iostream>

#include "cli/cli.hpp"

namespace tlsock::cli {
namespace {

std::string protocol_list(const tlsock::ProtocolSet& protocols) {
  std::string out;
  for (tlsock::Protocol p : protocols) out += (out.empty() ? "" : ", ") + std::string(tlsock::to_string(p));
  return out.empty() ? "none" : out;
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
  } catch (const std::exception& error) {
    return tlsock::cli::report(error);  // one no command caught: "tlsock: <message>", its exit code
  } catch (...) {
    std::cerr << "tlsock: an unknown error\n";
    return tlsock::cli::failure;
  }
}
