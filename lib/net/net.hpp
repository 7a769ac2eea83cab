// The OS socket layer under TLSSocket and TLSListener: resolve, connect with a deadline,
// wait for readiness, non-blocking send/recv. Everything above this file sees sockets only
// through these functions, so POSIX and Winsock differences stay in net.cpp.
#pragma once

#ifndef TLSOCK_BUILDING_LIBRARY
#error "internal header: not part of tlsock's public API"
#endif

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "tlsock/types.hpp"

namespace tlsock::net {

using Clock = std::chrono::steady_clock;
// A whole public call is bounded by one point in time, computed once at its start;
// std::nullopt means no limit.
using Deadline = std::optional<Clock::time_point>;

#ifdef _WIN32
inline constexpr NativeSocket invalid_socket = ~NativeSocket{0};  // INVALID_SOCKET
#else
inline constexpr NativeSocket invalid_socket = -1;
#endif

// Turns a public Timeout into a Deadline. Throws std::invalid_argument for a negative or
// NaN timeout; a timeout too large to represent (or infinite) means no limit.
[[nodiscard]] Deadline deadline_after(const Timeout& timeout);

// Owns one socket descriptor and closes it on destruction. Move-only.
class Socket {
 public:
  Socket() = default;
  explicit Socket(NativeSocket fd) noexcept : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  [[nodiscard]] NativeSocket get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ != invalid_socket; }
  // Gives up ownership without closing.
  [[nodiscard]] NativeSocket release() noexcept;
  void close() noexcept;

 private:
  NativeSocket fd_ = invalid_socket;
};

// The error category of getaddrinfo() results (messages from gai_strerror).
[[nodiscard]] const std::error_category& resolve_category() noexcept;

// Resolves host (IPv4 and IPv6) and tries every address in order with a non-blocking
// connect, all bounded by the one deadline; returns the first socket that connects,
// non-blocking, close-on-exec, with TCP_NODELAY (and SO_NOSIGPIPE where it exists).
// Throws std::invalid_argument (empty, over-long or NUL-containing host; port 0),
// std::system_error ("resolve host:port failed: ..." in resolve_category(), or
// "connect to host:port (address) failed: ..." with the last address's OS error),
// tlsock::TimeoutError when the deadline passes. Name resolution itself cannot be
// interrupted, so a slow resolver may overrun the deadline before connecting starts.
[[nodiscard]] Socket connect(std::string_view host, std::uint16_t port, Deadline deadline);

// Switches a socket between blocking and non-blocking mode (O_NONBLOCK, FIONBIO).
// Throws std::system_error.
void set_blocking(NativeSocket fd, bool blocking);

// The other end of a connected socket.
struct Peer {
  std::string address;     // as peer_address() gives it
  std::uint16_t port = 0;  // as peer_port() gives it
};

// Prepares a socket the application hands over (TLSSocket::wrap): checks that it is a
// connected stream socket (std::invalid_argument otherwise) and makes it non-blocking,
// close-on-exec and SIGPIPE-free. Does not take ownership. Returns the peer it looked up
// while checking (no second getpeername for the caller).
Peer adopt(NativeSocket fd);

enum class Direction { read, write };

// Waits until fd is readable or writable, or the deadline passes (returns false).
// Errors and hang-ups count as ready: the next send/recv reports them. A deadline already
// past still checks once without blocking.
[[nodiscard]] bool wait(NativeSocket fd, Direction direction, Deadline deadline);

// Sends what the kernel takes now; returns 0 if it would block (or size is 0).
// Never raises SIGPIPE. Throws std::system_error "send failed: ...".
[[nodiscard]] std::size_t send_some(NativeSocket fd, const char* data, std::size_t size);

// Reads what is available now: std::nullopt if it would block, 0 at end of stream,
// otherwise the byte count. A reset connection reads as end of stream, since callers
// report both as "the remote end closed the connection". size must be positive
// (std::invalid_argument), or 0 would be mistaken for end of stream.
// Throws std::system_error "recv failed: ..." for other errors.
[[nodiscard]] std::optional<std::size_t> recv_some(NativeSocket fd, char* data, std::size_t size);

// recv_some's twin that leaves the bytes waiting (MSG_PEEK): what the next recv_some would
// return first.
[[nodiscard]] std::optional<std::size_t> peek_some(NativeSocket fd, char* data, std::size_t size);
// Half-closes the sending side (shutdown(SHUT_WR)); errors are ignored because the
// peer may already be gone, which is no reason to fail a close.
void shutdown_write(NativeSocket fd) noexcept;

// An IP address in binary, network byte order: 4 bytes for IPv4, 16 for IPv6.
struct IpAddress {
  std::array<unsigned char, 16> bytes{};
  std::size_t size = 0;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// Parses an IPv4 dotted quad or an IPv6 address. A scoped IPv6 address ("fe80::1%eth0") is
// an address too; its zone names an interface of this host, not part of the address, and is
// dropped (a certificate's iPAddress SAN never has one). Brackets ("[::1]") are not accepted:
// they belong to URLs, not to host names. std::nullopt for anything else.
[[nodiscard]] std::optional<IpAddress> parse_ip(std::string_view text);

// True when parse_ip(host) succeeds: host is an address, so it gets no SNI and is matched
// against a certificate's IP addresses, never its DNS names.
[[nodiscard]] bool is_ip_literal(std::string_view host);

// A listening socket bound to address:port (port 0: an ephemeral one), non-blocking,
// close-on-exec, with SO_REUSEADDR. Throws std::invalid_argument for an empty or over-long
// address, std::system_error "listen on host:port failed: ..." otherwise.
[[nodiscard]] Socket listen(std::string_view address, std::uint16_t port, int backlog = 128);
// Accepts one pending connection without blocking: std::nullopt if none is waiting. The new
// socket is prepared as connect()'s are (non-blocking, TCP_NODELAY, no SIGPIPE).
[[nodiscard]] std::optional<Socket> accept_some(NativeSocket listener);
// The local port a socket is bound to.
[[nodiscard]] std::uint16_t local_port(NativeSocket fd);

// One socket to watch in wait_many.
struct Watch {
  NativeSocket fd;
  Direction direction;
  bool ready = false;   // set by wait_many
  bool failed = false;  // set by wait_many: the OS reported an error or a hang-up (POLLERR, POLLHUP)
};
// Waits until at least one watched socket is ready or the deadline passes (returns false).
[[nodiscard]] bool wait_many(std::span<Watch> watches, Deadline deadline);

// The peer's port; 0 if unknown.
[[nodiscard]] std::uint16_t peer_port(NativeSocket fd);

// The peer as "127.0.0.1:443" or "[::1]:443", for messages; "" if unknown.
[[nodiscard]] std::string peer_address(NativeSocket fd);

// ---- waking a blocked call from another thread ------------------------------------------

// Shuts fd down in both directions (SHUT_RDWR). Safe from any thread while another waits on fd
// in wait()/wait_many() or reads it: the wait returns (ready) and recv_some reads end of
// stream. fd stays open. Errors are ignored (the peer may be gone). On Winsock, shutdown(SD_BOTH)
// is not documented to wake WSAPoll: the Windows version pairs the socket with a Wakeup below.
void shutdown_both(NativeSocket fd) noexcept;

// A wake-up call for a wait in progress: its fd() joins wait_many's watches (Direction::read)
// and signal(), from any thread, makes that wait return with the watch ready. Stays signalled
// until clear(). POSIX: a non-blocking, close-on-exec self-pipe (an eventfd would do on Linux;
// a pipe works everywhere). Winsock cannot poll a pipe: there it would be a UDP socket bound to
// 127.0.0.1 that sends itself one datagram (or WSAEventSelect with WSASetEvent).
class Wakeup {
 public:
  Wakeup();  // throws std::system_error
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  [[nodiscard]] NativeSocket fd() const noexcept { return read_end_; }
  void signal() noexcept;
  void clear() noexcept;

 private:
  NativeSocket read_end_ = invalid_socket;
  NativeSocket write_end_ = invalid_socket;
};

}  // namespace tlsock::net
