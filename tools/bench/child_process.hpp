// What tlsock-bench needs of other processes: its server child (itself with --server, or
// openssl s_server), started and waited for until it accepts connections, stopped by its PID;
// a program run to its end with its output; and a free port on 127.0.0.1.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tlsock::bench {

// A server process. start() returns once 127.0.0.1:port accepts a TCP connection; the
// destructor stops it (SIGTERM, then SIGKILL after 5 s) if stop() was not called.
class ChildProcess {
 public:
  // Throws std::runtime_error, with the child's output, if it exits or does not accept
  // connections within 10 s (then it is stopped).
  static ChildProcess start(const std::vector<std::string>& argv, std::uint16_t port);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();
  void stop() noexcept;
  // What the child wrote on stdout and stderr so far.
  [[nodiscard]] std::string log() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdin_ = -1;  // kept open while it runs: openssl s_server ends at the end of its input
  std::string log_file_;
};

struct ProgramResult {
  int exit_code = 0;   // 128 + the signal number if a signal ended it; 127 if it could not start
  std::string output;  // stdout and stderr
};

// Runs argv[0] (found on PATH) to its end. Throws std::runtime_error past timeout (the
// program is killed).
ProgramResult run_program(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
std::uint16_t free_port();

}  // namespace tlsock::bench
