// tlsock serve, the command: its options, the ServerTLS they describe (certificates, SNI,
// client authentication), and the process around HttpsServer (signals, the first lines).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
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
  unsigned workers = 8;
  ServerTLSOptions tls;
};

int serve(const ServeOptions& options) {
  ServeConfig config;
  config.address = options.listen;
  config.port = static_cast<std::uint16_t>(options.port);
  config.root = options.directory;
  config.echo = options.echo;
  config.workers = options.workers;
  config.tls = make_server_tls(options.tls);

  // SIGINT and SIGTERM stay pending (blocked in every thread, workers included, since they
  // inherit the mask) until a thread of their own takes them with sigwait and stops the
  // server: no handler, no EINTR anywhere, and run() blocks instead of polling.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  std::signal(SIGPIPE, SIG_IGN);  // stdout may be a pipe that closes before we print "stopped"
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old_mask};

  HttpsServer server(std::move(config));
  std::cout << "listening on " << server.url() << std::endl;
  if (options.echo)
    std::cout << "echoing lines back; Ctrl-C stops" << std::endl;
  else
    std::cout << "serving " << fs::canonical(options.directory).string() << "; Ctrl-C stops" << std::endl;
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    signalled = true;
    server.stop();
  });
  // If run() ends without a signal (it threw), the waiter gets one of its own to end with.
  struct JoinWaiter {
    std::thread& thread;
    std::atomic<bool>& signalled;
    ~JoinWaiter() {
      // The waiter takes SIGTERM with sigwait and returns: it ends the thread, not the process.
      if (!signalled) pthread_kill(thread.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
      thread.join();
    }
  } join{waiter, signalled};
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
                   "the default). Default: the test identity certs/localhost-chain.pem")
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
  command->add_option("--workers", options->workers, "Connections served at once (default 8)")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--handshake-timeout", options->tls.handshake_timeout,
                   "Seconds a client gets to finish the TLS handshake (default 10)")
      ->check(seconds_check());
  command->footer(
      "Logs one line per request on stderr: peer, time, request line, status, body bytes, SNI name.\n"
      "SIGINT or SIGTERM stops it: requests in progress finish, then it prints \"stopped\" and exits 0.\n" +
      std::string(exit_code_help));
  command->callback([options, &result] { result = guarded([&] { return serve(*options); }); });
}

}  // namespace tlsock::cli
