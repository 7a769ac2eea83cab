#include "support/loopback.hpp"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tlsock::testing {

namespace {

// The POSIX/Winsock differences of the test helpers, in this one place.
#ifdef _WIN32
// Winsock needs WSAStartup before the first socket call; the library does its own, this one
// covers helpers that run before any tlsock call. Never undone (process lifetime).
void start_winsock() {
  static const int started = [] {
    WSADATA data;
    return ::WSAStartup(MAKEWORD(2, 2), &data);
  }();
  if (started != 0) throw std::system_error(started, std::system_category(), "WSAStartup");
}
int last_error() { return ::WSAGetLastError(); }
const std::error_category& error_category() { return std::system_category(); }
bool would_block(int error) { return error == WSAEWOULDBLOCK || error == WSAEINTR; }
bool connect_pending(int error) { return error == WSAEWOULDBLOCK; }
int poll_one(pollfd* entry, int timeout_ms) { return ::WSAPoll(entry, 1, timeout_ms); }
void close_fd(NativeSocket fd) { ::closesocket(fd); }
NativeSocket open_tcp() {
  start_winsock();
  return ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
}
void set_blocking(NativeSocket fd, bool blocking) {
  u_long non_blocking = blocking ? 0 : 1;
  if (::ioctlsocket(fd, FIONBIO, &non_blocking) != 0)
    throw std::system_error(last_error(), error_category(), "ioctlsocket");
}
// Winsock has no MSG_DONTWAIT: callers wait for readiness first. A send of more than the socket
// buffer could still block, so sends go in pieces no larger than what POLLOUT promises room for.
constexpr int recv_flags = 0;
constexpr int send_flags = 0;
constexpr std::size_t send_piece = 4096;
using io_size = int;
#else
int last_error() { return errno; }
const std::error_category& error_category() { return std::generic_category(); }
bool would_block(int error) { return error == EINTR || error == EAGAIN || error == EWOULDBLOCK; }
bool connect_pending(int error) { return error == EINPROGRESS; }
int poll_one(pollfd* entry, int timeout_ms) { return ::poll(entry, 1, timeout_ms); }
// close() is not retried on EINTR: on Linux the descriptor is gone either way.
void close_fd(NativeSocket fd) { ::close(fd); }
NativeSocket open_tcp() { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); }
void set_blocking(NativeSocket fd, bool blocking) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "fcntl");
  }
}
constexpr int recv_flags = MSG_DONTWAIT;
constexpr int send_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
constexpr std::size_t send_piece = std::size_t(1) << 30;
using io_size = std::size_t;
#endif

[[noreturn]] void throw_errno(const std::string& what, int error) {
  throw std::system_error(error, error_category(), what);
}

sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, 60'000));
}

// A new socket bound to 127.0.0.1:0 (an ephemeral port).
UniqueFd bound_loopback(const std::string& what) {
  UniqueFd fd(open_tcp());
  if (!fd.valid()) throw_errno(what + ": socket", last_error());
  sockaddr_in address = loopback_address(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw_errno(what + ": bind 127.0.0.1:0", last_error());
  }
  return fd;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

NativeSocket UniqueFd::release() noexcept {
  NativeSocket fd = fd_;
  fd_ = invalid_fd;
  return fd;
}

void UniqueFd::reset(NativeSocket fd) noexcept {
  if (fd_ != invalid_fd) close_fd(fd_);
  fd_ = fd;
}

bool wait_fd(NativeSocket fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    int ready = poll_one(&entry, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0) {
      // poll() rounds to milliseconds and caps at a minute; only give up at the real deadline.
      if (std::chrono::steady_clock::now() >= deadline) return false;
      continue;
    }
    if (int error = last_error(); !would_block(error)) throw_errno("poll", error);
  }
}

std::uint16_t free_port() { return local_port(bound_loopback("free_port").get()); }

std::uint16_t local_port(NativeSocket fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw_errno("getsockname", last_error());
  }
  return ntohs(address.sin_port);
}

UniqueFd listen_loopback(int backlog) {
  UniqueFd fd = bound_loopback("listen");
  if (::listen(fd.get(), backlog) != 0) throw_errno("listen", last_error());
  return fd;
}

UniqueFd accept_within(NativeSocket listener, std::chrono::milliseconds timeout) {
  if (!wait_fd(listener, POLLIN, std::chrono::steady_clock::now() + timeout)) {
    throw std::runtime_error("no connection within the timeout");
  }
#ifdef _WIN32
  UniqueFd client(::accept(listener, nullptr, nullptr));
#else
  UniqueFd client(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
#endif
  if (!client.valid()) throw_errno("accept", last_error());
  return client;
}

bool sees_eof(NativeSocket fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    if (!wait_fd(fd, POLLIN, deadline)) return false;
    auto n = ::recv(fd, buffer, sizeof buffer, recv_flags);
    if (n == 0) return true;
    if (n < 0 && !would_block(last_error())) return true;
  }
}

UniqueFd connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string where = "connect to 127.0.0.1:" + std::to_string(port);
  // Non-blocking so the timeout holds even if the backlog is full and the SYN goes unanswered.
  UniqueFd fd(open_tcp());
  if (!fd.valid()) throw_errno(where + ": socket", last_error());
  set_blocking(fd.get(), false);
  sockaddr_in address = loopback_address(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (int error = last_error(); !connect_pending(error)) throw_errno(where, error);
    if (!wait_fd(fd.get(), POLLOUT, deadline)) {
      throw std::runtime_error(where + ": timed out after " + std::to_string(timeout.count()) + " ms");
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &length) != 0) {
      error = last_error();
    }
    if (error != 0) throw_errno(where, error);
  }
  set_blocking(fd.get(), true);
  return fd;
}

std::string read_until_eof(NativeSocket fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string received;
  char buffer[4096];
  while (wait_fd(fd, POLLIN, deadline)) {
    auto n = ::recv(fd, buffer, sizeof buffer, recv_flags);
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || !would_block(last_error())) {
      break;
    }
  }
  return received;
}

void send_all(NativeSocket fd, std::string_view data, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    if (!wait_fd(fd, POLLOUT, deadline)) {
      throw std::runtime_error("send: timed out with " + std::to_string(data.size()) + " bytes unsent");
    }
    auto piece = static_cast<io_size>(std::min(data.size(), send_piece));
    auto n = ::send(fd, data.data(), piece, send_flags);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (int error = last_error(); !would_block(error)) {
      throw_errno("send", error);
    }
  }
}

}  // namespace tlsock::testing
