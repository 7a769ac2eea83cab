// Shared pieces of the tlsock command line: exit codes, error reporting in one line on
// stderr, and the trust/connect options that fetch and probe have in common.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tlsock/tlsock.hpp"

// CLI11 is declared only: its header compiles much of CLI11 into every file that includes
// it, so only the files that build commands include <CLI/CLI.hpp>.
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace tlsock::cli {

// Documented in `tlsock --help`, the README and each subcommand's help.
enum ExitCode : int {
  success = 0,
  failure = 1,       // anything not listed below
  usage = 2,         // bad arguments
  network = 3,       // DNS, connect, timeouts, disconnects, proxy
  tls = 4,           // TLS handshake or protocol failure
  verification = 5,  // certificate verification failed
  http_status = 6,   // the server answered with an HTTP error status (>= 400)
  file_io = 7,       // reading or writing a local file failed
  expectation = 8,   // probe: an --expect-* check failed
};

inline constexpr const char* exit_code_help =
    "Exit codes: 0 success, 1 other error, 2 usage, 3 network/DNS/timeout, 4 TLS handshake or protocol,\n"
    "5 certificate verification, 6 HTTP error status, 7 file I/O, 8 a probe --expect-* check failed.";

// Prints "tlsock: <message>" on stderr (oscrypto's wording for TLS failures) and returns
// the exit code for the exception's kind.
int report(const std::exception& error);
// Runs body, turning any exception into report()'s exit code.
template <typename F>
int guarded(F body) {
  try {
    return body();
  } catch (const std::exception& error) {
    return report(error);
  }
}

// A check for options in seconds: a number above 0, at most max_seconds; its error says so in
// those words ("--timeout: must be a number of seconds above 0 and at most 86400, not 0").
CLI::Validator seconds_check(double max_seconds = 86400);

// A warning line on stderr ("tlsock: warning: ...").
void warn(const std::string& message);

// The trust and connection options of fetch and probe.
struct ConnectOptions {
  std::vector<std::string> cacert;       // --cacert (repeatable): the only trust roots (as curl)
  std::vector<std::string> cacert_add;   // --cacert-add (repeatable): trusted with the OS bundle
  bool insecure = false;                 // --insecure: manual validation
  std::string tls_version;               // --tls-version: exactly this version
  std::string tls_min;                   // --tls-min: this version and newer
  std::vector<std::string> connect_to;   // --connect-to HOST:PORT:ADDR:PORT (curl)
  std::vector<std::string> resolve;      // --resolve HOST:PORT:ADDR (curl)
  double timeout = 30;                   // --timeout seconds, per operation
  std::vector<std::string> alpn;         // ALPN protocols to offer
  std::optional<std::string> cert, key;  // --cert/--key: a client certificate
  std::string key_password;              // --pass: of an encrypted --key
  std::string proxy;                     // -x/--proxy: a CONNECT proxy, before HTTPS_PROXY
  bool no_proxy = false;                 // --noproxy-all: no proxy at all (-x and HTTPS_PROXY)
  std::string session_file;              // --session-file: TLS sessions kept between runs
};

// Adds the options above to a subcommand.
void add_connect_options(CLI::App& command, ConnectOptions& options);

// The TLSSession the options describe (warns on stderr for --insecure), with the sessions
// of --session-file when it names a file (one that cannot be used: a warning, and none).
std::shared_ptr<TLSSession> make_session(const ConnectOptions& options);

// Saves the session's cache to --session-file, if given (0600, atomically); a failure is a
// warning: the run's own result stands. Call it once the connections are closed.
void save_session_file(const ConnectOptions& options, const TLSSession& session);

// Where to open the TCP connection for host:port after --connect-to and --resolve.
struct Target {
  std::string address;
  std::uint16_t port;
};
Target route(const ConnectOptions& options, const std::string& host, std::uint16_t port);

// "dXNlcjpwYXNz" for "user:pass": the credentials of HTTP Basic authentication (RFC 7617).
std::string basic_credentials(std::string_view credentials);

// A plain TCP connection to host:port honouring --connect-to, --resolve and -x or HTTPS_PROXY /
// NO_PROXY (an HTTP CONNECT tunnel; --noproxy-all: none), with --timeout as its timeout. The caller wraps it with
// TLSSocket::wrap.
TCPStream open_tcp(const ConnectOptions& options, const std::string& host, std::uint16_t port);

// open_tcp + TLSSocket::wrap with the session and timeout: the usual way in.
TLSSocket connect(const ConnectOptions& options, const std::shared_ptr<TLSSession>& session, const std::string& host,
                  std::uint16_t port);

// What `tlsock --version` prints (main.cpp), one fact a line: tlsock's version, the mbedTLS it
// runs with (the loaded library's own answer) and the protocols this build can speak, with
// those it offers unless asked; on a line without TLS 1.3, a line saying so.
std::string version_text();

// Subcommands: each adds itself to app and sets `result` when it runs.
void add_fetch(CLI::App& app, int& result);
void add_probe(CLI::App& app, int& result);
void add_serve(CLI::App& app, int& result);
void add_demo(CLI::App& app, int& result);

}  // namespace tlsock::cli
