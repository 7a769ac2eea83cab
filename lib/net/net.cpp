// POSIX and Winsock implementations of the socket layer declared in net.hpp. The Winsock
// branches are kept beside their POSIX twins so the two cannot drift apart unnoticed.
#include "net/net.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "arguments.hpp"
#include "tlsock/errors.hpp"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace tlsock::net {
namespace {

#ifdef _WIN32
using SockLen = int;
using IoSize = int;
#else
using SockLen = socklen_t;
using IoSize = std::size_t;
#endif

// ---- errors ---------------------------------------------------------------------------

int last_error_value() noexcept {
#ifdef _WIN32
  return WSAGetLastError();
#else
  return errno;
#endif
}

std::error_code os_error(int value) noexcept { return {value, std::system_category()}; }

bool is_interrupted(int error) noexcept {
#ifdef _WIN32
  return error == WSAEINTR;
#else
  return error == EINTR;
#endif
}

bool is_would_block(int error) noexcept {
#ifdef _WIN32
  return error == WSAEWOULDBLOCK;
#elif EAGAIN == EWOULDBLOCK
  return error == EAGAIN;
#else
  // They differ on some systems, and POSIX allows either.
  return error == EAGAIN || error == EWOULDBLOCK;
#endif
}

bool is_connect_in_progress(int error) noexcept {
#ifdef _WIN32
  return error == WSAEWOULDBLOCK || error == WSAEINPROGRESS;
#else
  // An interrupted non-blocking connect keeps going in the background, like EINPROGRESS.
  return error == EINPROGRESS || error == EINTR;
#endif
}

bool is_reset(int error) noexcept {
#ifdef _WIN32
  return error == WSAECONNRESET || error == WSAECONNABORTED;
#else
  return error == ECONNRESET || error == EPIPE;
#endif
}

class ResolveCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int value) const override {
#ifdef _WIN32
    // EAI_* are WSA error codes, and gai_strerrorA uses a shared static buffer.
    return std::system_category().message(value);
#else
    return ::gai_strerror(value);
#endif
  }
};

// ---- descriptors ----------------------------------------------------------------------

void close_native(NativeSocket fd) noexcept {
#ifdef _WIN32
  ::closesocket(fd);
#else
  // Not retried on EINTR: Linux has released the descriptor by then, and a retry could
  // close one that another thread just opened.
  ::close(fd);
#endif
}

void ensure_winsock() {
#ifdef _WIN32
  static const int result = [] {
    WSADATA data;
    return ::WSAStartup(MAKEWORD(2, 2), &data);
  }();
  if (result != 0) throw std::system_error(os_error(result), "WSAStartup failed");
#endif
}

// A child process must not inherit (and so keep open) a TLS connection's socket.
void set_cloexec(NativeSocket fd) {
#ifdef _WIN32
  if (!::SetHandleInformation(reinterpret_cast<HANDLE>(fd), HANDLE_FLAG_INHERIT, 0))
    throw std::system_error(os_error(static_cast<int>(::GetLastError())), "SetHandleInformation failed");
#else
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags != -1 && (flags & FD_CLOEXEC) != 0) return;  // one system call less per connection
  if (flags == -1 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1)
    throw std::system_error(os_error(errno), "fcntl(FD_CLOEXEC) failed");
#endif
}

void set_option(NativeSocket fd, int level, int option, const char* what) {
  const int on = 1;
  if (::setsockopt(fd, level, option, reinterpret_cast<const char*>(&on), sizeof on) != 0)
    throw std::system_error(os_error(last_error_value()), std::string("setsockopt(") + what + ") failed");
}

// Where MSG_NOSIGNAL is missing (macOS, older BSDs) the socket itself must refuse SIGPIPE.
void set_nosigpipe([[maybe_unused]] NativeSocket fd) {
#ifdef SO_NOSIGPIPE
  set_option(fd, SOL_SOCKET, SO_NOSIGPIPE, "SO_NOSIGPIPE");
#endif
}

#ifdef MSG_NOSIGNAL
constexpr int send_flags = MSG_NOSIGNAL;
#else
constexpr int send_flags = 0;  // SO_NOSIGPIPE (or Winsock, which has no SIGPIPE) covers it
#endif

// ---- text -----------------------------------------------------------------------------

// "host:port", with IPv6 literals bracketed so the port stays readable.
std::string host_port_text(std::string_view host, std::uint16_t port) {
  std::string text;
  if (host.find(':') != std::string_view::npos)
    text.append("[").append(host).append("]");
  else
    text.append(host);
  return text + ":" + std::to_string(port);
}

// The numeric address, with ":port" (IPv6 bracketed) if asked; "" for other families.
std::string address_text(const sockaddr* address, bool with_port) {
  char buffer[INET6_ADDRSTRLEN] = {};
  std::uint16_t port = 0;
  bool ipv6 = false;
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    if (::inet_ntop(AF_INET, &in->sin_addr, buffer, sizeof buffer) == nullptr) return {};
    port = ntohs(in->sin_port);
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (::inet_ntop(AF_INET6, &in6->sin6_addr, buffer, sizeof buffer) == nullptr) return {};
    port = ntohs(in6->sin6_port);
    ipv6 = true;
  } else {
    return {};
  }
  if (!with_port) return buffer;
  return ipv6 ? "[" + std::string(buffer) + "]:" + std::to_string(port)
              : std::string(buffer) + ":" + std::to_string(port);
}

Peer peer_of(const sockaddr* address) {
  Peer peer{address_text(address, true), 0};
  if (address->sa_family == AF_INET) peer.port = ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  if (address->sa_family == AF_INET6) peer.port = ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  return peer;
}

// The peer of a connected socket; empty (port 0) if unknown.
Peer peer_of_socket(NativeSocket fd) {
  sockaddr_storage peer{};
  SockLen length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return {};
  return peer_of(reinterpret_cast<const sockaddr*>(&peer));
}

// ---- connect --------------------------------------------------------------------------

struct AddrInfoDeleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoList resolve(std::string_view host, std::uint16_t port, const std::string& target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // No AI_ADDRCONFIG: glibc ignores loopback addresses when applying it, so "localhost"
  // would not resolve on a machine that is offline. Unusable addresses just fail over.
#ifdef AI_NUMERICSERV
  hints.ai_flags = AI_NUMERICSERV;
#endif
  const std::string host_text(host);
  const std::string port_text = std::to_string(port);
  addrinfo* list = nullptr;
  const int result = ::getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &list);
  AddrInfoList owned(list);
  const std::string what = "resolve " + target + " failed";
#ifdef EAI_SYSTEM
  if (result == EAI_SYSTEM) throw std::system_error(os_error(errno), what);
#endif
  if (result != 0) throw std::system_error(result, resolve_category(), what);
  if (!owned) throw std::system_error(EAI_NONAME, resolve_category(), what);
  return owned;
}

// An invalid Socket, with error set, if the OS refuses this address family.
Socket open_stream_socket(const addrinfo& address, int& error) {
  int type = address.ai_socktype;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  // Atomically (a fork in another thread must not inherit it either), and without the four
  // fcntl calls per connection that setting both flags afterwards costs.
  type |= SOCK_CLOEXEC | SOCK_NONBLOCK;
#endif
  Socket socket(::socket(address.ai_family, type, address.ai_protocol));
  if (!socket.valid()) {
    error = last_error_value();
    return socket;
  }
#if !defined(SOCK_CLOEXEC) || !defined(SOCK_NONBLOCK)
  set_cloexec(socket.get());
  set_blocking(socket.get(), false);
#endif
  set_nosigpipe(socket.get());
  // TLS records are written whole; Nagle would hold back a handshake flight's last record.
  set_option(socket.get(), IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
  return socket;
}

// The error of a non-blocking connect once the socket became writable; 0 if it connected.
int pending_connect_error(NativeSocket fd) {
  int error = 0;
  SockLen length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &length) != 0) return last_error_value();
  return error;
}

}  // namespace

// ---- public ---------------------------------------------------------------------------

Deadline deadline_after(const Timeout& timeout) {
  arguments::check_timeout("timeout", timeout);
  if (!timeout) return std::nullopt;
  // steady_clock counts nanoseconds in 64 bits (about 292 years from boot): a longer
  // timeout would overflow, and over a century is no limit in practice.
  constexpr std::chrono::duration<double> no_limit_beyond = std::chrono::hours(24 * 365 * 100);
  if (*timeout >= no_limit_beyond) return std::nullopt;
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(*timeout);
}

void set_blocking(NativeSocket fd, bool blocking) {
#ifdef _WIN32
  u_long non_blocking = blocking ? 0 : 1;
  if (::ioctlsocket(fd, FIONBIO, &non_blocking) != 0)
    throw std::system_error(os_error(last_error_value()), "ioctlsocket(FIONBIO) failed");
#else
  // One system call where fcntl's F_GETFL and F_SETFL take two; FIONBIO changes O_NONBLOCK alone.
  int non_blocking = blocking ? 0 : 1;
  if (::ioctl(fd, FIONBIO, &non_blocking) == -1) throw std::system_error(os_error(errno), "ioctl(FIONBIO) failed");
#endif
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

NativeSocket Socket::release() noexcept {
  const NativeSocket fd = fd_;
  fd_ = invalid_socket;
  return fd;
}

void Socket::close() noexcept {
  if (valid()) close_native(release());
}

const std::error_category& resolve_category() noexcept {
  static const ResolveCategory category;
  return category;
}

Socket connect(std::string_view host, std::uint16_t port, Deadline deadline) {
  arguments::check_host("host", host);
  arguments::check_port("port", port);
  ensure_winsock();

  const std::string target = host_port_text(host, port);
  const AddrInfoList addresses = resolve(host, port, target);

  int last_error = 0;
  std::string last_address;
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    last_address = address_text(address->ai_addr, false);
    Socket socket = open_stream_socket(*address, last_error);
    if (!socket.valid()) continue;  // e.g. IPv6 disabled in this kernel: try the next address
    int error = 0;
    if (::connect(socket.get(), address->ai_addr, static_cast<SockLen>(address->ai_addrlen)) != 0) {
      error = last_error_value();
      if (is_connect_in_progress(error)) {
        // On Windows before 10 2004, WSAPoll never reports a refused connect, so there a
        // refusal ends as a timeout rather than an error.
        Watch watch{socket.get(), Direction::write};
        if (!wait_many(std::span<Watch>(&watch, 1), deadline))
          throw TimeoutError("connect to " + target + " timed out");
#ifndef _WIN32
        // Writable without an error: connected, and SO_ERROR would only say 0 (a system call
        // less per connection). WSAPoll's reports are not trusted that far.
        if (!watch.failed) return socket;
#endif
        error = pending_connect_error(socket.get());
      }
    }
    if (error == 0) return socket;
    last_error = error;
  }
  throw std::system_error(os_error(last_error), "connect to " + target + " (" + last_address + ") failed");
}

Peer adopt(NativeSocket fd) {
  const std::string value = std::to_string(fd);
  if (fd == invalid_socket) arguments::reject("socket", "must be a valid socket descriptor, not " + value);
  ensure_winsock();

  // The OS error is read before any string is built: allocating could overwrite errno.
  const auto rejected = [&value](const char* requirement, int error) {
    return std::invalid_argument(std::string("socket: must be ") + requirement + ", not " + value + " (" +
                                 os_error(error).message() + ")");
  };
  int type = 0;
  SockLen length = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &length) != 0)
    throw rejected("an open socket descriptor", last_error_value());
  if (type != SOCK_STREAM) arguments::reject("socket", "must be a stream (TCP) socket, not " + value);

  sockaddr_storage peer{};
  SockLen peer_length = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0)
    throw rejected("connected", last_error_value());

  set_cloexec(fd);
  set_blocking(fd, false);
  set_nosigpipe(fd);
  return peer_of(reinterpret_cast<const sockaddr*>(&peer));
}

bool wait_many(std::span<Watch> watches, Deadline deadline) {
#ifdef _WIN32
  using PollEntry = WSAPOLLFD;
  constexpr short read_events = POLLRDNORM, write_events = POLLWRNORM;
#else
  using PollEntry = pollfd;
  constexpr short read_events = POLLIN, write_events = POLLOUT;
#endif
  // A wait for one or two sockets (every wait of a connection) allocates nothing.
  std::array<PollEntry, 2> few{};
  std::vector<PollEntry> many;
  if (watches.size() > few.size()) many.resize(watches.size());
  const std::span<PollEntry> entries =
      many.empty() ? std::span<PollEntry>(few).first(watches.size()) : std::span<PollEntry>(many);
  for (std::size_t i = 0; i < watches.size(); ++i) {
    entries[i].fd = watches[i].fd;
    entries[i].events = watches[i].direction == Direction::read ? read_events : write_events;
    watches[i].ready = watches[i].failed = false;
  }
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto remaining = *deadline - Clock::now();
      // Rounded up: rounding down would wake just before the deadline and spin.
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(remaining).count();
      timeout_ms = static_cast<int>(std::clamp<decltype(ms)>(ms, 0, INT_MAX));
    }
    for (PollEntry& entry : entries) entry.revents = 0;
#ifdef _WIN32
    const int ready = ::WSAPoll(entries.data(), static_cast<ULONG>(entries.size()), timeout_ms);
#else
    const int ready = ::poll(entries.data(), static_cast<nfds_t>(entries.size()), timeout_ms);
#endif
    if (ready > 0) {
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].revents & POLLNVAL)
          throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor), "poll failed");
        // POLLERR and POLLHUP count as ready: the next send/recv reports them.
        watches[i].ready = entries[i].revents != 0;
        watches[i].failed = (entries[i].revents & (POLLERR | POLLHUP)) != 0;
      }
      return true;
    }
    if (ready == 0) {
      if (deadline && Clock::now() >= *deadline) return false;
      continue;  // woke early (timer slack, or a timeout clamped to INT_MAX ms)
    }
    const int error = last_error_value();
    if (!is_interrupted(error)) throw std::system_error(os_error(error), "poll failed");
  }
}

bool wait(NativeSocket fd, Direction direction, Deadline deadline) {
  Watch watch{fd, direction};
  return wait_many(std::span<Watch>(&watch, 1), deadline);
}

Socket listen(std::string_view address, std::uint16_t port, int backlog) {
  arguments::check_host("address", address);
  ensure_winsock();
  const std::string target = host_port_text(address, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string host_text(address);
  const std::string port_text = std::to_string(port);
  addrinfo* list = nullptr;
  const int result = ::getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &list);
  AddrInfoList owned(list);
  if (result != 0 || !owned) throw std::system_error(result, resolve_category(), "listen on " + target + " failed");
  int error = 0;
  Socket socket = open_stream_socket(*owned, error);
  if (!socket.valid()) throw std::system_error(os_error(error), "listen on " + target + " failed");
  int one = 1;
  ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const char*>(&one), sizeof one);
  if (::bind(socket.get(), owned->ai_addr, static_cast<SockLen>(owned->ai_addrlen)) != 0 ||
      ::listen(socket.get(), backlog) != 0)
    throw std::system_error(os_error(last_error_value()), "listen on " + target + " failed");
  return socket;
}

std::optional<Socket> accept_some(NativeSocket listener) {
  for (;;) {
#if defined(SOCK_CLOEXEC) && defined(__linux__)
    Socket socket(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
#else
    Socket socket(::accept(listener, nullptr, nullptr));
#endif
    if (!socket.valid()) {
      const int error = last_error_value();
      if (is_interrupted(error)) continue;
      // A client that gave up between poll and accept is not our error.
      if (is_would_block(error) || is_reset(error)) return std::nullopt;
      throw std::system_error(os_error(error), "accept failed");
    }
    set_cloexec(socket.get());
    set_blocking(socket.get(), false);
    set_nosigpipe(socket.get());
    set_option(socket.get(), IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
    return socket;
  }
}

std::uint16_t peer_port(NativeSocket fd) { return peer_of_socket(fd).port; }

std::uint16_t local_port(NativeSocket fd) {
  sockaddr_storage address{};
  SockLen length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::system_error(os_error(last_error_value()), "getsockname failed");
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
}

std::size_t send_some(NativeSocket fd, const char* data, std::size_t size) {
  if (size == 0) return 0;
  const auto length = static_cast<IoSize>(std::min<std::size_t>(size, INT_MAX));
  for (;;) {
    const auto sent = ::send(fd, data, length, send_flags);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    const int error = last_error_value();
    if (is_interrupted(error)) continue;
    if (is_would_block(error)) return 0;
    throw std::system_error(os_error(error), "send failed");
  }
}

namespace {
std::optional<std::size_t> receive(NativeSocket fd, char* data, std::size_t size, int flags) {
  if (size == 0) arguments::reject("size", "must be positive, not 0");
  const auto length = static_cast<IoSize>(std::min<std::size_t>(size, INT_MAX));
  for (;;) {
    const auto received = ::recv(fd, data, length, flags);
    if (received >= 0) return static_cast<std::size_t>(received);
    const int error = last_error_value();
    if (is_interrupted(error)) continue;
    if (is_would_block(error)) return std::nullopt;
    if (is_reset(error)) return 0;
    throw std::system_error(os_error(error), "recv failed");
  }
}
}  // namespace

std::optional<std::size_t> recv_some(NativeSocket fd, char* data, std::size_t size) {
  return receive(fd, data, size, 0);
}

std::optional<std::size_t> peek_some(NativeSocket fd, char* data, std::size_t size) {
  return receive(fd, data, size, MSG_PEEK);
}

void shutdown_write(NativeSocket fd) noexcept {
#ifdef _WIN32
  ::shutdown(fd, SD_SEND);
#else
  ::shutdown(fd, SHUT_WR);
#endif
}

std::optional<IpAddress> parse_ip(std::string_view host) {
  if (host.empty() || host.find('\0') != std::string_view::npos) return std::nullopt;
  std::string text(host);
  IpAddress address;
  in_addr ipv4{};
  if (::inet_pton(AF_INET, text.c_str(), &ipv4) == 1) {
    std::memcpy(address.bytes.data(), &ipv4, sizeof ipv4);
    address.size = sizeof ipv4;
    return address;
  }
  const auto percent = text.find('%');
  if (percent != std::string::npos) {
    if (percent + 1 == text.size()) return std::nullopt;
    text.resize(percent);
  }
  in6_addr ipv6{};
  if (::inet_pton(AF_INET6, text.c_str(), &ipv6) != 1) return std::nullopt;
  std::memcpy(address.bytes.data(), &ipv6, sizeof ipv6);
  address.size = sizeof ipv6;
  return address;
}

bool is_ip_literal(std::string_view host) { return parse_ip(host).has_value(); }

std::string peer_address(NativeSocket fd) { return peer_of_socket(fd).address; }

// ---- waking a blocked call from another thread ------------------------------------------

void shutdown_both(NativeSocket fd) noexcept {
#ifdef _WIN32
  ::shutdown(fd, SD_BOTH);
#else
  ::shutdown(fd, SHUT_RDWR);
#endif
}

#ifdef _WIN32
// Winsock cannot poll a pipe: a UDP socket bound to 127.0.0.1 and connected to itself, which
// signal() sends one datagram (readable until clear() drains it). read_end_ is that socket;
// write_end_ stays invalid.
Wakeup::Wakeup() {
  ensure_winsock();
  read_end_ = ::socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  if (read_end_ == invalid_socket) throw std::system_error(os_error(last_error_value()), "socket failed");
  try {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SockLen length = sizeof address;
    if (::bind(read_end_, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        ::getsockname(read_end_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::connect(read_end_, reinterpret_cast<const sockaddr*>(&address), length) != 0)
      throw std::system_error(os_error(last_error_value()), "binding the wake-up socket failed");
    set_cloexec(read_end_);
    set_blocking(read_end_, false);
  } catch (...) {
    close_native(read_end_);
    throw;
  }
}

Wakeup::~Wakeup() { close_native(read_end_); }

void Wakeup::signal() noexcept {
  const char byte = 1;
  ::send(read_end_, &byte, 1, 0);  // a full buffer means it is signalled already
}

void Wakeup::clear() noexcept {
  char scratch[64];
  while (::recv(read_end_, scratch, sizeof scratch, 0) > 0) {
  }
}
#else
Wakeup::Wakeup() {
  int ends[2];
  if (::pipe(ends) != 0) throw std::system_error(os_error(errno), "pipe failed");
  read_end_ = ends[0];
  write_end_ = ends[1];
  try {
    for (int end : ends) {
      set_cloexec(end);
      set_blocking(end, false);
    }
  } catch (...) {
    close_native(read_end_);
    close_native(write_end_);
    throw;
  }
}

Wakeup::~Wakeup() {
  close_native(read_end_);
  close_native(write_end_);
}

void Wakeup::signal() noexcept {
  const char byte = 1;
  // Full pipe: it is signalled already. Interrupted: try again.
  while (::write(write_end_, &byte, 1) < 0 && errno == EINTR) {
  }
}

void Wakeup::clear() noexcept {
  char scratch[64];
  for (;;) {
    const auto n = ::read(read_end_, scratch, sizeof scratch);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    return;  // empty (EAGAIN)
  }
}
#endif

}  // namespace tlsock::net
