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
#include "serve/server.hpp"

namespace tlsock::cli {

namespace fs = std::filesystem;

fs::path default_certs_dir() {
#ifdef TLSOCK_DEFAULT_CERTS
  fs::path dir = TLSOCK_DEFAULT_CERTS;
#else
  fs::path dir = "certs";
#endif
  if (!fs::exists(dir / "localhost-chain.pem"))
    throw Failure(file_io, "the test certificates are not in " + dir.string() +
                               " (this tlsock was built elsewhere): pass --cert FILE --key FILE");
  return dir;
}

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8443;
  std::string directory = ".";
  bool echo = false;
  std::vector<std::string> certs, keys;
  std::string client_auth = "none";
  std::vector<std::string> client_ca;
  unsigned workers = 8;
  double handshake_timeout = 10;
};

fs::path existing(const std::string& path, const std::string& option) {
  if (!fs::exists(path)) throw Failure(file_io, option + " " + path + ": no such file");
  return path;
}

CertificateChain load_chain(const std::string& cert, const std::string& key) {
  fs::path cert_path = existing(cert, "--cert"), key_path = existing(key, "--key");
  try {
    return CertificateChain::load(cert_path, key_path);
  } catch (const std::exception& error) {
    throw Failure(usage, "--cert " + cert + " --key " + key + ": " + error.what());
  }
}

std::shared_ptr<const ServerTLS> make_server_tls(const ServeOptions& options) {
  std::vector<CertificateChain> chains;
  if (options.certs.size() != options.keys.size())
    throw Failure(usage, "--cert and --key go in pairs: each --cert needs its --key");
  if (options.certs.empty()) {
    fs::path certs = default_certs_dir();
    chains.push_back(load_chain((certs / "localhost-chain.pem").string(), (certs / "localhost.key").string()));
  }
  for (std::size_t i = 0; i < options.certs.size(); ++i)
    chains.push_back(load_chain(options.certs[i], options.keys[i]));

  std::shared_ptr<const ServerCertificates> certificates;
  if (chains.size() == 1)
    certificates = std::make_shared<ServerCertificateChain>(chains.front());
  else
    certificates = std::make_shared<SNIServerCertificates>(chains, chains.front());  // the first is the default

  ServerOptions server;
  server.client_auth = options.client_auth == "required"   ? ClientAuth::required
                       : options.client_auth == "optional" ? ClientAuth::optional
                                                           : ClientAuth::none;
  if (server.client_auth != ClientAuth::none && options.client_ca.empty())
    throw Failure(
        usage, "--client-auth " + options.client_auth + " needs --client-ca FILE (who may sign client certificates)");
  for (const std::string& ca : options.client_ca) server.client_trust_roots.emplace_back(existing(ca, "--client-ca"));
  server.handshake_timeout = std::chrono::duration<double>(options.handshake_timeout);
  return std::make_shared<ServerTLS>(std::move(certificates), std::move(server));
}

int serve(const ServeOptions& options) {
  ServeConfig config;
  config.address = options.listen;
  config.port = static_cast<std::uint16_t>(options.port);
  config.root = options.directory;
  config.echo = options.echo;
  config.workers = options.workers;
  config.tls = make_server_tls(options);

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
      ->add_option("--cert", options->certs,
                   "Certificate chain (PEM, leaf first); repeat with --key for several names (SNI; the first is "
                   "the default). Default: the test identity certs/localhost-chain.pem")
      ->allow_extra_args(false);  // one file per --cert: a DIRECTORY after it stays positional
  command->add_option("--key", options->keys, "Private key of the --cert in the same position (PEM or DER)")
      ->allow_extra_args(false);
  command->add_option("--client-auth", options->client_auth, "Ask clients for a certificate: none, optional, required")
      ->check(CLI::IsMember({"none", "optional", "required"}));
  command
      ->add_option("--client-ca", options->client_ca,
                   "CA certificates that may sign client certificates (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  command->add_option("--workers", options->workers, "Connections served at once (default 8)")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--handshake-timeout", options->handshake_timeout,
                   "Seconds a client gets to finish the TLS handshake (default 10)")
      ->check(CLI::PositiveNumber);
  command->footer(
      "Logs one line per request on stderr: peer, time, request line, status, body bytes, SNI name.\n"
      "SIGINT or SIGTERM stops it: requests in progress finish, then it prints \"stopped\" and exits 0.\n" +
      std::string(exit_code_help));
  command->callback([options, &result] { result = guarded([&] { return serve(*options); }); });
}

}  // namespace tlsock::cli
