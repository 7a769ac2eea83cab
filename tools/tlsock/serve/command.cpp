// tlsock serve, the command: its options, the ServerTLS they describe (certificates, SNI,
// client authentication), and the process around HttpsServer (signals, the first lines).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>
#include <vector>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "cli/policy.hpp"
#include "serve/server.hpp"

namespace tlsock::cli {

namespace fs = std::filesystem;

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8443;
  std::string directory = ".";
  bool echo = false;
  unsigned max_connections = 512;
  double header_timeout = 10, idle_timeout = 15;  // seconds
  ServerTLSOptions tls;
};

// "ab01..." as "AB:01:...", the way openssl x509 -fingerprint prints it.
std::string colon_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
  }
  return out;
}

// SIGINT and SIGTERM (the process's signal seam): blocked while a StopSignals lives, in every
// thread started meanwhile (threads inherit the mask), and taken by a thread of their own with
// sigwait, so there is no handler, no EINTR anywhere, and run() blocks instead of polling.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
    std::signal(SIGPIPE, SIG_IGN);  // stdout may be a pipe that closes before we print "stopped"
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals() { pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr); }

  // The thread that takes them: the first signal calls first(), the next one second(). It
  // ends with the Waiter (declare the Waiter after what first and second use).
  class Waiter {
   public:
    Waiter(const StopSignals& signals, std::function<void()> first, std::function<void()> second)
        : thread_([this, set = signals.set_, first = std::move(first), second = std::move(second)] {
            int signal = 0;
            sigwait(&set, &signal);
            if (done_) return;
            first();
            sigwait(&set, &signal);
            if (done_) return;
            second();
          }) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter() {
      // The waiter takes this SIGTERM with sigwait and, seeing done_, returns: it ends the
      // thread, not the process.
      done_ = true;
      pthread_kill(thread_.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
      thread_.join();
    }

   private:
    std::atomic<bool> done_{false};
    std::thread thread_;
  };

 private:
  sigset_t set_{}, old_mask_{};
};

int serve(const ServeOptions& options) {
  ServeConfig config;
  config.address = options.listen;
  config.port = static_cast<std::uint16_t>(options.port);
  config.root = options.directory;
  config.echo = options.echo;
  config.max_connections = options.max_connections;
  config.header_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options.header_timeout));
  config.idle_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options.idle_timeout));
  ServerTLSOptions tls = options.tls;
  if (!options.echo) tls.alpn = {"http/1.1"};
  if (tls.certs.empty()) {
    // No --cert: a fresh identity, never the source tree's test certificates; clients can pin
    // it by the fingerprint printed below.
    tls.identity = generate_self_signed({"localhost", "127.0.0.1", "::1"});
  }
  config.tls = make_server_tls(tls);

  StopSignals signals;  // blocked from here on, in every thread started after this line
  HttpsServer server(std::move(config));
  std::cout << "listening on " << server.url() << std::endl;
  if (tls.identity)
    std::cout << "certificate: self-signed for localhost, 127.0.0.1 and ::1, generated now (--cert to use your own)\n"
              << "SHA-256 fingerprint: " << colon_hex(tls.identity->leaf().sha256_fingerprint()) << std::endl;
  if (options.echo)
    std::cout << "echoing lines back; Ctrl-C stops" << std::endl;
  else
    std::cout << "serving " << fs::canonical(options.directory).string() << "; Ctrl-C stops" << std::endl;
  StopSignals::Waiter waiter(
      signals,
      [&server] {
        std::cout << "draining " << server.connections() << " connections; Ctrl-C again to exit now" << std::endl;
        server.stop();
      },
      [] {
        std::cout << "exiting now" << std::endl;
        std::_Exit(130);  // 128 + SIGINT, as a shell reports an interrupted command
      });
  server.run();
  std::cout << "stopped" << std::endl;
  return success;
}

}  // namespace

void add_serve(CLI::App& app, int& result) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand("serve", "Serve a directory over HTTPS (GET and HEAD), or echo lines back");
  command->add_option("DIRECTORY", options->directory, "The directory to serve (default: the current one)");
  command->add_option("--listen", options->listen, "Address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)");
  command->add_option("--port", options->port, "Port (default 8443; 0 picks a free one, printed on the first line)")
      ->check(CLI::Range(0, 65535));
  command->add_flag("--echo", options->echo, "Echo each line a client sends instead of serving files")
      ->excludes("DIRECTORY");
  command
      ->add_option("--cert", options->tls.certs,
                   "Certificate chain (PEM, leaf first); repeat with --key for several names (SNI; the first is "
                   "the default). Default: a self-signed certificate for localhost, generated at start (its "
                   "SHA-256 fingerprint is printed)")
      ->allow_extra_args(false);  // one file per --cert: a DIRECTORY after it stays positional
  command->add_option("--key", options->tls.keys, "Private key of the --cert in the same position (PEM or DER)")
      ->allow_extra_args(false);
  command
      ->add_option("--client-auth", options->tls.client_auth, "Ask clients for a certificate: none, optional, required")
      ->check(CLI::IsMember({"none", "optional", "required"}));
  command
      ->add_option("--client-ca", options->tls.client_ca,
                   "CA certificates that may sign client certificates (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  command
      ->add_option("--max-connections", options->max_connections,
                   "Connections served at once, each on its own thread (default 512); more get 503 at once")
      ->check(CLI::Range(1, 100000));
  command
      ->add_option("--header-timeout", options->header_timeout,
                   "Seconds a request's whole head may take to arrive once it has started (default 10)")
      ->check(seconds_check());
  command
      ->add_option("--idle-timeout", options->idle_timeout,
                   "Seconds an idle keep-alive connection stays open (default 15)")
      ->check(seconds_check());
  command
      ->add_option("--cipher-suites", options->tls.cipher_suites,
                   "Cipher suites to accept, comma-separated IANA names (default: tlsock's)")
      ->delimiter(',')
      ->allow_extra_args(false);
  command
      ->add_option("--handshake-timeout", options->tls.handshake_timeout,
                   "Seconds a client gets to finish the TLS handshake (default 10)")
      ->check(seconds_check());
  command->footer(
      "Logs one line per request on stderr: peer, time, request line, status, body bytes, SNI name.\n"
      "SIGINT or SIGTERM stops it: it prints how many connections it drains, requests in progress finish, then it\n"
      "prints \"stopped\" and exits 0; a second SIGINT or SIGTERM exits at once (status 130).\n" +
      std::string(exit_code_help));
  command->callback([options, &result] { result = guarded([&] { return serve(*options); }); });
}

}  // namespace tlsock::cli
