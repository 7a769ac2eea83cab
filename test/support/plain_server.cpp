#include "support/plain_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>
#include <utility>

namespace tlsock::testing {

namespace {

// A bound on each wait in the accept loop, so the thread re-checks stopping_ even if a wake-up
// were somehow lost.
constexpr int accept_poll_ms = 200;

[[noreturn]] void throw_errno(const std::string& what, int error) {
  throw std::system_error(error, std::generic_category(), "PlainServer: " + what);
}

// Reads and drops bytes until EOF, an error, or timeout.
void discard_until_eof(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (wait_fd(fd, POLLIN, deadline)) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) return;
  }
}

}  // namespace

PlainServer::PlainServer(Handler handler) : handler_(std::move(handler)) {
  // Non-blocking, so an accept() for a connection the client already abandoned cannot block.
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_.valid()) throw_errno("socket", errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw_errno("bind 127.0.0.1:0", errno);
  }
  if (::listen(listener_.get(), 16) != 0) throw_errno("listen", errno);
  socklen_t length = sizeof address;
  if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw_errno("getsockname", errno);
  }
  port_ = ntohs(address.sin_port);

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno("pipe2", errno);
  wake_read_.reset(wake[0]);
  wake_write_.reset(wake[1]);

  thread_ = std::thread([this] { run(); });
}

PlainServer::~PlainServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (current_fd_ >= 0) ::shutdown(current_fd_, SHUT_RDWR);
  }
  char byte = 0;
  [[maybe_unused]] ssize_t n = ::write(wake_write_.get(), &byte, 1);
  if (thread_.joinable()) thread_.join();
}

std::string PlainServer::handler_error() const {
  std::lock_guard lock(mutex_);
  return handler_error_;
}

void PlainServer::run() noexcept {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
    int ready = ::poll(fds, 2, accept_poll_ms);
    if (ready < 0 && errno != EINTR) {
      record_error(std::string("poll failed: ") + std::strerror(errno));
      return;
    }
    if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;  // timeout, EINTR or a wake-up
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EAGAIN or ECONNABORTED: the client gave up first. Anything else (EMFILE) would repeat
      // at once, so pause rather than spin.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR) {
        std::this_thread::sleep_for(std::chrono::milliseconds(accept_poll_ms));
      }
      continue;
    }
    ++connections_;
    serve(fd);
  }
}

void PlainServer::serve(int fd) noexcept {
  UniqueFd connection(fd);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    current_fd_ = fd;
  }
  std::string error;
  try {
    handler_(fd);
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  {
    // Unregister before the descriptor is closed, so the destructor never shuts down a number
    // that has been reused for something else.
    std::lock_guard lock(mutex_);
    current_fd_ = -1;
  }
  if (!error.empty()) record_error(error);
}

void PlainServer::record_error(const std::string& error) noexcept {
  std::lock_guard lock(mutex_);
  if (handler_error_.empty()) handler_error_ = error;
}

PlainServer::Handler send_and_close(std::string bytes) {
  return [bytes = std::move(bytes)](int fd) {
    try {
      send_all(fd, bytes, std::chrono::seconds(5));
    } catch (const std::exception&) {
      return;  // the client hung up first: it has seen enough
    }
    discard_until_eof(fd, std::chrono::seconds(1));
  };
}

PlainServer::Handler close_immediately() {
  return [](int) {};
}

PlainServer::Handler accept_and_stall(std::chrono::milliseconds duration) {
  return [duration](int fd) { discard_until_eof(fd, duration); };
}

}  // namespace tlsock::testing
