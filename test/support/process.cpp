#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;

namespace tlsock::testing {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often start() probes the port and stop() checks for exit: short enough not to slow
// tests down, long enough not to busy-wait.
constexpr milliseconds poll_interval{10};
// How long stop() waits after SIGKILL; only a process stuck in the kernel outlives it.
constexpr milliseconds kill_timeout{5'000};

[[noreturn]] void throw_errno(const std::string& what, int error) {
  throw std::system_error(error, std::generic_category(), what);
}

std::string quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$") == std::string::npos) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + quote(arg);
  return line;
}

// Whether args has option, alone or as "option=value".
bool contains(const std::vector<std::string>& args, std::string_view option) {
  return std::any_of(args.begin(), args.end(), [option](std::string_view arg) {
    return arg == option || (arg.starts_with(option) && arg.size() > option.size() && arg[option.size()] == '=');
  });
}

// Tells the parent why the child cannot exec (errno) and ends the child.
[[noreturn]] void report_and_exit(int error_fd) {
  int error = errno;
  [[maybe_unused]] ssize_t n = ::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

// Runs in the forked child, so only async-signal-safe calls: the parent may have other threads
// (PlainServer, the library under test) whose locks fork() copied in a locked state.
[[noreturn]] void exec_child(const char* path, char* const* argv, int stdin_fd, int log_fd, int error_fd, pid_t parent,
                             long open_max) {
  ::setpgid(0, 0);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) report_and_exit(error_fd);
  // The parent may have died between fork() and prctl(); the signal would never come then.
  if (::getppid() != parent) ::_exit(127);

  // Blocked signals and ignored dispositions survive exec; the test runner's must not leak
  // into the server, or SIGTERM might not stop it.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) {
    ::sigaction(sig, &default_action, nullptr);
  }

  if (::dup2(stdin_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) report_and_exit(error_fd);
  // Descriptors the test holds (listening sockets, other servers' stdin) must not stay open in
  // the child: a leaked stdin writer would keep another server from ever seeing EOF.
  // error_fd is close-on-exec and closes itself once exec succeeds.
  bool closed = (error_fd == 3 || ::close_range(3, static_cast<unsigned>(error_fd) - 1, 0) == 0) &&
                ::close_range(static_cast<unsigned>(error_fd) + 1, ~0U, 0) == 0;
  if (!closed) {
    for (long fd = 3; fd < open_max; ++fd) {
      if (fd != error_fd) ::close(static_cast<int>(fd));
    }
  }
  ::execve(path, argv, environ);
  report_and_exit(error_fd);
}

// Forks and execs argv with the given stdin and log. Throws if the program cannot be run; the
// exec error comes back over a close-on-exec pipe, so "not found" is reported here and not as
// an early exit with status 127.
pid_t spawn(const std::vector<std::string>& argv, int stdin_fd, int log_fd) {
  if (argv.empty()) throw std::invalid_argument("cannot start a program: argv is empty");
  std::string path = find_program(argv[0]);
  if (path.empty()) {
    throw std::runtime_error("cannot start `" + join_command(argv) + "`: program '" + argv[0] + "' not found in PATH");
  }
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const auto& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);

  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) throw_errno("pipe2", errno);
  UniqueFd error_read(error_pipe[0]);
  UniqueFd error_write(error_pipe[1]);
  pid_t parent = ::getpid();
  long open_max = std::max(::sysconf(_SC_OPEN_MAX), 1024L);

  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork", errno);
  if (pid == 0) {
    exec_child(path.c_str(), c_argv.data(), stdin_fd, log_fd, error_write.get(), parent, open_max);
  }
  error_write.reset();

  int error = 0;
  ssize_t n;
  do {
    n = ::read(error_read.get(), &error, sizeof error);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof error)) {
    // The child _exit()s right after reporting, so this wait is short.
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error("cannot start `" + join_command(argv) + "`: " + std::strerror(error));
  }
  return pid;
}

std::string log_name(const std::string& program) {
  std::string name = std::filesystem::path(program).filename().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return "tlsock-" + name + "-XXXXXX";
}

// One attempt to connect to 127.0.0.1:port, bounded by deadline.
bool accepts_connection(std::uint16_t port, Clock::time_point deadline) {
  try {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    (void)connect_loopback(port, std::clamp(left, milliseconds(1), milliseconds(200)));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// Whether /proc/net/tcp or tcp6 lists a socket in state LISTEN (0A) on port, on any address.
bool kernel_lists_listener(std::uint16_t port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // column headings
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) == port) return true;
    }
  }
  return false;
}

}  // namespace

ServerProcess ServerProcess::launch(std::vector<std::string> argv, std::uint16_t port, Options options) {
  if (argv.empty()) throw std::invalid_argument("cannot start a program: argv is empty");
  ServerProcess process;
  process.argv_ = std::move(argv);
  process.port_ = port;
  process.options_ = options;

  std::string log_path = (std::filesystem::temp_directory_path() / log_name(process.argv_[0]));
  // O_APPEND: stdout and stderr share the file and must not overwrite each other.
  UniqueFd log_fd(::mkostemp(log_path.data(), O_CLOEXEC | O_APPEND));
  if (!log_fd.valid()) throw_errno("cannot create log file " + log_path, errno);
  process.log_path_ = log_path;

  UniqueFd child_stdin;
  if (options.keep_stdin) {
    // A socket rather than a pipe: send(MSG_NOSIGNAL) to a dead child fails with EPIPE instead
    // of killing the test runner with SIGPIPE.
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      throw_errno("socketpair", errno);
    }
    process.stdin_.reset(pair[0]);
    child_stdin.reset(pair[1]);
  } else {
    child_stdin.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!child_stdin.valid()) throw_errno("open /dev/null", errno);
  }
  process.pid_ = spawn(process.argv_, child_stdin.get(), log_fd.get());
  return process;
}

ServerProcess ServerProcess::start(std::vector<std::string> argv, std::uint16_t port, Options options) {
  ServerProcess process = launch(std::move(argv), port, options);
  process.wait_until_ready();
  return process;
}

void ServerProcess::wait_until_ready() {
  auto deadline = Clock::now() + options_.ready_timeout;
  ReadyCheck check = options_.ready_check.value_or(ReadyCheck::connect);
  std::string where = "127.0.0.1:" + std::to_string(port_);
  for (;;) {
    if (exited()) {
      throw std::runtime_error("`" + command_line() + "` ended (" + exit_description() + ") before " + where +
                               " was ready; its output:\n" + log());
    }
    bool ready = check == ReadyCheck::connect ? accepts_connection(port_, deadline) : kernel_lists_listener(port_);
    if (ready) return;
    if (Clock::now() >= deadline) {
      stop();  // first, so the log below is complete
      throw std::runtime_error("`" + command_line() + "` did not listen on " + where + " within " +
                               std::to_string(options_.ready_timeout.count()) + " ms (stopped it); its output:\n" +
                               log());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept { *this = std::move(other); }

ServerProcess& ServerProcess::operator=(ServerProcess&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    ended_ = other.ended_;
    reaped_ = other.reaped_;
    end_code_ = other.end_code_;
    end_status_ = other.end_status_;
    port_ = other.port_;
    argv_ = std::move(other.argv_);
    options_ = other.options_;
    log_path_ = std::exchange(other.log_path_, {});
    stdin_ = std::move(other.stdin_);
  }
  return *this;
}

ServerProcess::~ServerProcess() { release(); }

void ServerProcess::release() noexcept {
  stop();
  if (!log_path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(log_path_, ignored);
    log_path_.clear();
  }
}

std::string ServerProcess::log() const {
  if (log_path_.empty()) return {};
  std::ifstream in(log_path_, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool ServerProcess::exited() noexcept {
  if (pid_ < 0 || ended_) return true;
  siginfo_t info{};
  int result;
  do {
    // WNOWAIT: look without reaping; stop() reaps (see ended_).
    result = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (result < 0 && errno == EINTR);
  if (result == 0 && info.si_pid == 0) return false;
  ended_ = true;
  if (result == 0) {
    end_code_ = info.si_code;
    end_status_ = info.si_status;
  } else {
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN, a stray wait()); it is gone and
    // its PID may already be reused, so it must not be signalled again.
    reaped_ = true;
  }
  return true;
}

std::string ServerProcess::exit_description() const {
  switch (ended_ ? end_code_ : -1) {
    case -1:
      return {};
    case CLD_EXITED:
      return "exit status " + std::to_string(end_status_);
    case CLD_KILLED:
    case CLD_DUMPED: {
      const char* name = ::sigabbrev_np(end_status_);
      return "killed by signal " + std::to_string(end_status_) +
             (name ? std::string(" (SIG") + name + ")" : std::string());
    }
    default:
      return "ended, status unknown";
  }
}

bool ServerProcess::wait_exit(milliseconds timeout) noexcept {
  auto deadline = Clock::now() + timeout;
  while (!exited()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

void ServerProcess::stop() noexcept {
  close_stdin();
  if (pid_ < 0 || reaped_) return;
  if (!exited()) {
    signal_group(SIGTERM);
    if (!wait_exit(options_.stop_timeout)) {
      signal_group(SIGKILL);
      if (!wait_exit(kill_timeout)) {
        std::fprintf(stderr, "tlsock test support: `%s` (pid %d) survived SIGKILL for %lld ms\n",
                     command_line().c_str(), static_cast<int>(pid_), static_cast<long long>(kill_timeout.count()));
        return;
      }
    }
  }
  if (reaped_) return;
  // The child is a zombie now, so its group's ID is still ours; sweep up what it left running.
  signal_group(SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

void ServerProcess::signal_group(int signal) noexcept {
  // The group is gone if the child and all its descendants ended (or, in theory, if setpgid
  // failed in the child); the child itself is still signalled by its own PID then.
  if (::kill(-pid_, signal) != 0) ::kill(pid_, signal);
}

void ServerProcess::write_stdin(std::string_view data, milliseconds timeout) {
  if (!stdin_.valid()) {
    throw std::logic_error("write_stdin: `" + command_line() +
                           "` was started without keep_stdin, or its stdin was closed");
  }
  send_all(stdin_.get(), data, timeout);
}

void ServerProcess::close_stdin() noexcept { stdin_.reset(); }

std::string ServerProcess::command_line() const { return join_command(argv_); }

ProgramResult run_program(std::vector<std::string> argv, milliseconds timeout) {
  ServerProcessOptions options;
  options.stop_timeout = milliseconds(500);
  ServerProcess process = ServerProcess::launch(std::move(argv), 0, options);
  if (!process.wait_exit(timeout)) {
    process.stop();
    throw std::runtime_error("`" + process.command_line() + "` still ran after " + std::to_string(timeout.count()) +
                             " ms (stopped it); its output:\n" + process.log());
  }
  ProgramResult result;
  switch (process.end_code_) {
    case CLD_EXITED:
      result.exit_code = process.end_status_;
      break;
    case CLD_KILLED:
    case CLD_DUMPED:
      result.exit_code = 128 + process.end_status_;
      break;
    default:
      result.exit_code = -1;
  }
  result.output = process.log();
  return result;
}

std::string find_program(std::string_view name) {
  auto runnable = [](const std::filesystem::path& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  if (name.empty()) return {};
  if (name.find('/') != std::string_view::npos) {
    return runnable(std::filesystem::path(name)) ? std::string(name) : std::string();
  }
  const char* env_path = std::getenv("PATH");
  std::string_view search = env_path ? env_path : "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    auto colon = search.find(':');
    std::string_view dir = search.substr(0, colon);
    // An empty PATH entry means the current directory.
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (runnable(candidate)) return candidate.string();
    if (colon == std::string_view::npos) return {};
    search.remove_prefix(colon + 1);
  }
}

namespace {

std::string require_program(std::string_view name) {
  std::string path = find_program(name);
  if (path.empty()) {
    throw std::runtime_error(std::string(name) +
                             " is not installed (not found in PATH); check find_program() first "
                             "and skip the test");
  }
  return path;
}

std::string require_cert(const std::string& file) {
  std::filesystem::path path = certs_dir() / file;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error("test certificate missing: " + path.string() + " (generate the test PKI in " +
                             certs_dir().string() + " first)");
  }
  return path.string();
}

}  // namespace

ServerProcess openssl_server(std::vector<std::string> extra_args, std::uint16_t port, ServerProcessOptions options) {
  std::vector<std::string> argv{require_program("openssl"), "s_server", "-accept", "127.0.0.1:" + std::to_string(port)};
  if (!contains(extra_args, "-cert")) {
    argv.insert(argv.end(), {"-cert", require_cert("localhost.pem"), "-key", require_cert("localhost.key"),
                             "-cert_chain", require_cert("intermediate-ca.pem")});
  }
  argv.emplace_back("-quiet");
  bool http_mode = contains(extra_args, "-www") || contains(extra_args, "-WWW") || contains(extra_args, "-HTTP");
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  options.keep_stdin = true;
  if (!options.ready_check) {
    options.ready_check = http_mode ? ReadyCheck::connect : ReadyCheck::listening;
  }
  return ServerProcess::start(std::move(argv), port, options);
}

ServerProcess gnutls_server(std::vector<std::string> extra_args, std::uint16_t port, ServerProcessOptions options) {
  std::vector<std::string> argv{require_program("gnutls-serv"), "--port", std::to_string(port)};
  if (!contains(extra_args, "--x509certfile")) {
    argv.insert(argv.end(), {"--x509certfile", require_cert("localhost-chain.pem"), "--x509keyfile",
                             require_cert("localhost.key")});
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  return ServerProcess::start(std::move(argv), port, options);
}

}  // namespace tlsock::testing
