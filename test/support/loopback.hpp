// Plain TCP over 127.0.0.1 for tests: an owning file descriptor, a free port, a client
// connection, a listener and a bounded read. Every blocking step takes a timeout so a test
// cannot hang. POSIX sockets or Winsock (loopback.cpp is the test helpers' one place for the
// difference): a descriptor is tlsock::NativeSocket, an int on POSIX.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tlsock/types.hpp"

namespace tlsock::testing {

// What a closed or failed descriptor holds: -1 on POSIX, INVALID_SOCKET on Windows.
inline constexpr NativeSocket invalid_fd = static_cast<NativeSocket>(-1);

// Owns one file descriptor (a socket on Windows) and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(NativeSocket fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] NativeSocket get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ != invalid_fd; }
  // Gives up ownership; the caller must close the descriptor.
  [[nodiscard]] NativeSocket release() noexcept;
  void reset(NativeSocket fd = invalid_fd) noexcept;

 private:
  NativeSocket fd_ = invalid_fd;
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
[[nodiscard]] std::string read_until_eof(NativeSocket fd, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Sends all of data (without SIGPIPE) within timeout; throws std::runtime_error otherwise.
void send_all(NativeSocket fd, std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Waits until fd is ready for events (POLLIN/POLLOUT) or deadline passes; true if ready,
// including when poll reports an error or hang-up, which the next read or write will surface.
[[nodiscard]] bool wait_fd(NativeSocket fd, short events, std::chrono::steady_clock::time_point deadline);

// A TCP socket listening on 127.0.0.1 on an ephemeral port (local_port() tells which).
[[nodiscard]] UniqueFd listen_loopback(int backlog = 16);

// The next connection on listener; std::runtime_error if none arrives within timeout.
[[nodiscard]] UniqueFd accept_within(NativeSocket listener, std::chrono::milliseconds timeout);

// The local port of a bound socket (as a server names a client in its messages).
[[nodiscard]] std::uint16_t local_port(NativeSocket fd);

// True when the peer of fd ends the connection (EOF, or a reset) within timeout; false if it
// is still open then. Bytes that arrive first are read and ignored.
[[nodiscard]] bool sees_eof(NativeSocket fd, std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace tlsock::testing
