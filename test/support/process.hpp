// Peer programs for tests (openssl s_server, gnutls-serv, one-shot tools): started on
// 127.0.0.1, owned by exactly one object, and stopped through their own PID in bounded time, so
// a test never leaves a process behind and never waits forever.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/loopback.hpp"

namespace tlsock::testing {

// How ServerProcess::start decides that the server is ready.
enum class ReadyCheck {
  // 127.0.0.1:port accepts a TCP connection. Portable, but the probe is a real client to the
  // server: it may show in the server's log as a failed handshake and, for `openssl s_server`
  // outside -www/-WWW/-HTTP mode, it is the one client being served and uses up one of
  // `-naccept N`. Both checks trust that nobody else took the port since free_port().
  connect,
  // The kernel's socket table (/proc/net/tcp, tcp6) lists a listener on port. The server sees
  // nothing. Linux only.
  listening,
};

// Defined outside ServerProcess so it can be a default argument of ServerProcess's members.
struct ServerProcessOptions {
  // How long start() waits for the port; it throws after that.
  std::chrono::milliseconds ready_timeout{10'000};
  // How long stop() waits after SIGTERM before it sends SIGKILL.
  std::chrono::milliseconds stop_timeout{3'000};
  // Give the child a stdin that stays open (and can be written with write_stdin) instead of
  // /dev/null. `openssl s_server` outside -www mode closes each connection as soon as it sees
  // EOF on stdin.
  bool keep_stdin = false;
  // Unset means ReadyCheck::connect, except where a helper below documents its own choice.
  std::optional<ReadyCheck> ready_check;
};

// The result of run_program.
struct ProgramResult {
  // The exit status, or 128 + the signal number if a signal ended the program (as shells do);
  // -1 if unknown (something else reaped the child).
  int exit_code = 0;
  // stdout and stderr, interleaved as written.
  std::string output;
};

// Runs a one-shot program to completion (stdin is /dev/null), e.g. to make a certificate.
// Throws std::runtime_error if it cannot be started or is still running after timeout, in which
// case it is killed first.
[[nodiscard]] ProgramResult run_program(std::vector<std::string> argv,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A server program with stdout and stderr in a temporary log file. It leads its own process
// group, whose ID is its PID: stop() signals that group, so helpers the program started stop
// with it, and a signal aimed at the test runner's group (Ctrl-C, a harness ending the run)
// reaches the runner alone, which then stops its servers in order. The kernel also kills the
// child when the thread that started it dies (PR_SET_PDEATHSIG), so a crashed or killed test
// run cannot leave it behind (its helpers excepted): start servers from the test's main thread.
class ServerProcess {
 public:
  using Options = ServerProcessOptions;

  // Starts argv (argv[0] is looked up in PATH) and waits until port on 127.0.0.1 is ready.
  // Throws std::runtime_error, naming the command and quoting its output, if the program cannot
  // be started, exits first, or the port is not ready within options.ready_timeout; the process
  // is stopped before the exception leaves.
  [[nodiscard]] static ServerProcess start(std::vector<std::string> argv, std::uint16_t port, Options options = {});

  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Stops the process (see stop()) and deletes the log file.
  ~ServerProcess();

  // The child's PID; stays readable after stop(). -1 for a moved-from object.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::vector<std::string>& argv() const noexcept { return argv_; }
  // Everything the program wrote to stdout and stderr so far (also after stop()).
  [[nodiscard]] std::string log() const;
  // True once the process has exited.
  [[nodiscard]] bool exited() noexcept;
  // How it exited ("exit status 1", "killed by signal 15 (SIGTERM)"); "" while running.
  [[nodiscard]] std::string exit_description() const;

  // Closes stdin, sends SIGTERM, waits up to options.stop_timeout for the process to exit, then
  // sends SIGKILL and waits up to 5 s more. The signals go to the child's process group (see
  // above), so helpers the program started (say, a `sh -c` pipeline) stop too; once
  // the child has exited, whatever is left in its group gets SIGKILL before the child is reaped.
  // Idempotent; never throws.
  void stop() noexcept;

  // Writes to the child's stdin (requires keep_stdin). Throws std::runtime_error if the child
  // does not take the bytes within timeout.
  void write_stdin(std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(3));
  // Sends EOF to the child's stdin.
  void close_stdin() noexcept;

 private:
  friend ProgramResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout);

  ServerProcess() = default;
  // Starts the program without waiting for anything.
  [[nodiscard]] static ServerProcess launch(std::vector<std::string> argv, std::uint16_t port, Options options);
  void wait_until_ready();
  [[nodiscard]] bool wait_exit(std::chrono::milliseconds timeout) noexcept;
  [[nodiscard]] std::string command_line() const;
  void signal_group(int signal) noexcept;
  void release() noexcept;

  pid_t pid_ = -1;
  // Set once waitid() saw the child end. It stays a zombie until stop() reaps it, which keeps
  // its PID, and so the ID of its process group, from being reused: until then a signal to
  // either can only reach the child and its descendants.
  bool ended_ = false;
  bool reaped_ = false;
  int end_code_ = 0;    // CLD_EXITED, CLD_KILLED or CLD_DUMPED; 0 if unknown
  int end_status_ = 0;  // the exit status or the signal number
  std::uint16_t port_ = 0;
  std::vector<std::string> argv_;
  Options options_;
  std::filesystem::path log_path_;
  UniqueFd stdin_;
};

// The full path of the executable name would run as, searching PATH; "" if there is none.
// A name containing '/' is checked as it is. Tests use it to skip when a peer is not installed.
[[nodiscard]] std::string find_program(std::string_view name);

// The directory of the test PKI (localhost.pem, localhost.key, localhost-chain.pem,
// intermediate-ca.pem, root-ca.pem, ...), TLSOCK_CERTS_DIR as set by the build.
[[nodiscard]] std::filesystem::path certs_dir();

// `openssl s_server -accept 127.0.0.1:<port> -cert localhost.pem -key localhost.key
// -cert_chain intermediate-ca.pem -quiet <extra_args>` (certificates from certs_dir()). If
// extra_args contains "-cert", the three default certificate options are left out. stdin is
// always kept open (see ServerProcessOptions::keep_stdin). Unless options.ready_check is set,
// readiness is checked with ReadyCheck::connect in -www/-WWW/-HTTP mode (a probe is one more
// HTTP client there) and ReadyCheck::listening otherwise, where s_server serves one client at a
// time and the probe would count as one.
[[nodiscard]] ServerProcess openssl_server(std::vector<std::string> extra_args = {}, std::uint16_t port = free_port(),
                                           ServerProcessOptions options = {});

// `gnutls-serv --port <port> --x509certfile localhost-chain.pem --x509keyfile localhost.key
// <extra_args>`; if extra_args contains "--x509certfile", the two defaults are left out.
// gnutls-serv has no option to choose its address: it listens on every IPv4 and IPv6 address
// (0.0.0.0 and ::), which is accepted here; tests still only connect to 127.0.0.1. Its default
// mode is HTTP; pass "--echo" for an echo server.
[[nodiscard]] ServerProcess gnutls_server(std::vector<std::string> extra_args = {}, std::uint16_t port = free_port(),
                                          ServerProcessOptions options = {});

}  // namespace tlsock::testing
