#include "child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "tlsock/tlsock.hpp"

extern char** environ;

namespace tlsock::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

// Spawns argv with stdin from in_fd and stdout and stderr into out_fd (both closed in the
// child's copy of every other descriptor by O_CLOEXEC, which the caller sets).
pid_t spawn(const std::vector<std::string>& argv, int in_fd, int out_fd) {
  if (argv.empty()) throw std::invalid_argument("cannot start a program: argv is empty");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  pid_t pid = -1;
  int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return -1;
  return pid;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// Waits up to timeout for pid to end; its exit code, or -1 if it still runs.
int wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return exit_code(status);
    if (done < 0) return 127;
    if (Clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

int open_or_throw(const char* path, int flags) {
  int fd = ::open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(std::string("cannot open ") + path);
  return fd;
}

}  // namespace

ChildProcess ChildProcess::start(const std::vector<std::string>& argv, std::uint16_t port) {
  ChildProcess child;
  std::string pattern = "/tmp/tlsock-bench-XXXXXX";
  int log_fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (log_fd < 0) throw std::runtime_error("cannot create a log file in /tmp");
  child.log_file_ = pattern;
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    ::close(log_fd);
    throw std::runtime_error("cannot create a pipe");
  }
  child.pid_ = spawn(argv, in[0], log_fd);
  ::close(in[0]);
  ::close(log_fd);
  child.stdin_ = in[1];
  if (child.pid_ < 0) throw std::runtime_error("cannot start `" + command_line(argv) + "`");
  auto deadline = Clock::now() + 10s;
  for (;;) {
    try {
      TCPStream::connect("127.0.0.1", port, 1s).close();
      return child;
    } catch (const std::exception&) {
    }
    int status = 0;
    bool exited = ::waitpid(child.pid_, &status, WNOHANG) == child.pid_;
    if (exited) child.pid_ = -1;
    if (exited || Clock::now() >= deadline) {
      child.stop();
      throw std::runtime_error("`" + command_line(argv) + "` did not accept connections on 127.0.0.1:" +
                               std::to_string(port) + "; its output:\n" + child.log());
    }
    std::this_thread::sleep_for(20ms);
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept { *this = std::move(other); }

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    if (!log_file_.empty()) ::unlink(log_file_.c_str());
    pid_ = std::exchange(other.pid_, -1);
    stdin_ = std::exchange(other.stdin_, -1);
    log_file_ = std::exchange(other.log_file_, {});
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  stop();
  if (!log_file_.empty()) ::unlink(log_file_.c_str());
}

void ChildProcess::stop() noexcept {
  if (stdin_ >= 0) ::close(std::exchange(stdin_, -1));
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  if (wait_for(pid_, 5s) < 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

std::string ChildProcess::log() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ProgramResult run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe");
  int null_fd = open_or_throw("/dev/null", O_RDONLY);
  pid_t pid = spawn(argv, null_fd, out[1]);
  ::close(null_fd);
  ::close(out[1]);
  ProgramResult result;
  if (pid < 0) {
    ::close(out[0]);
    result.exit_code = 127;
    return result;
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd fd{out[0], POLLIN, 0};
    if (left <= 0 || ::poll(&fd, 1, static_cast<int>(left)) == 0) {
      ::close(out[0]);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw std::runtime_error("`" + command_line(argv) + "` did not end within " + std::to_string(timeout.count()) +
                               " ms (killed it)");
    }
    char buffer[4096];
    ssize_t got = ::read(out[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(out[0]);
  int status = 0;
  result.exit_code = ::waitpid(pid, &status, 0) == pid ? exit_code(status) : -1;
  return result;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("cannot create a socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot find a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

}  // namespace tlsock::bench
