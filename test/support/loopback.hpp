// Plain TCP over 127.0.0.1 for tests: an owning file descriptor, a free port, a client
// connection and a bounded read. Every blocking step takes a timeout so a test cannot hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tlsock::testing {

// Owns one file descriptor and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  // Gives up ownership; the caller must close the descriptor.
  [[nodiscard]] int release() noexcept;
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// A TCP port that was free on 127.0.0.1 a moment ago. Another process may take it before the
// caller binds it; that race is accepted (the kernel hands out ephemeral ports round-robin, so a
// collision within a test run is unlikely). SO_REUSEADDR is not set, so the port is not left in
// any state that would stop a server from binding it.
[[nodiscard]] std::uint16_t free_port();

// Connects to 127.0.0.1:port and returns a blocking socket. Throws std::runtime_error if the
// connection is refused or not established within timeout.
[[nodiscard]] UniqueFd connect_loopback(std::uint16_t port,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Reads from fd until the peer closes, an error occurs (a reset ends the read like EOF does) or
// timeout passes, and returns what arrived. Tests compare the result, so a short read shows up
// as a readable mismatch rather than an exception.
[[nodiscard]] std::string read_until_eof(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Sends all of data (without SIGPIPE) within timeout; throws std::runtime_error otherwise.
void send_all(int fd, std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Waits until fd is ready for events (POLLIN/POLLOUT) or deadline passes; true if ready,
// including when poll reports an error or hang-up, which the next read or write will surface.
[[nodiscard]] bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace tlsock::testing
