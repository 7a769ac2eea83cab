// An in-process TCP server on 127.0.0.1 for tests whose peer must not speak TLS: one that
// answers with an HTTP or FTP banner, hangs up at once, or never answers. It runs one
// background thread and stops it promptly on destruction, whatever the client is doing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "support/loopback.hpp"

namespace tlsock::testing {

class PlainServer {
 public:
  // Called for each accepted connection in turn, on the server's thread. The server owns fd and
  // closes it when the handler returns. On destruction the server shuts fd down
  // (shutdown(SHUT_RDWR)), which wakes a handler blocked in poll, recv or send on fd; a handler
  // must wait on nothing else, or destruction waits for it. Write with send(MSG_NOSIGNAL) (or
  // send_all): a client that has gone would otherwise raise SIGPIPE in the test runner. An
  // exception from the handler ends only that connection; see handler_error().
  using Handler = std::function<void(int fd)>;

  // Listens on 127.0.0.1 on an ephemeral port and starts serving.
  explicit PlainServer(Handler handler);
  // Not movable: the thread refers to this object.
  PlainServer(const PlainServer&) = delete;
  PlainServer& operator=(const PlainServer&) = delete;
  // Stops accepting, shuts down the connection being handled and joins the thread.
  ~PlainServer();

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // How many connections were accepted so far.
  [[nodiscard]] std::size_t connections() const noexcept { return connections_.load(); }
  // The message of the first exception a handler threw (or of a failure of the server itself),
  // "" if there was none.
  [[nodiscard]] std::string handler_error() const;

 private:
  void run() noexcept;
  void serve(int fd) noexcept;
  void record_error(const std::string& error) noexcept;

  Handler handler_;
  UniqueFd listener_;
  // Self-pipe: the destructor writes to it to wake the thread out of poll().
  UniqueFd wake_read_;
  UniqueFd wake_write_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};

  mutable std::mutex mutex_;
  // Guarded by mutex_, so a connection is either registered before the destructor looks (and
  // shut down by it) or sees stopping_ and is dropped; none can slip in between.
  bool stopping_ = false;
  int current_fd_ = -1;
  std::string handler_error_;

  // Last, so it starts after everything above is initialised.
  std::thread thread_;
};

// Sends bytes (an HTTP response, an FTP banner, ...), then reads and discards what the client
// sends until it closes or 1 s passes, then closes. Closing while the client's bytes (say a
// ClientHello) sit unread would make the kernel send RST instead of FIN, and the RST can
// discard the bytes we sent before the client reads them. No FIN is sent before that, so a
// client must recognise the bytes as "not TLS" by themselves. A client that resets the
// connection mid-send is not an error.
[[nodiscard]] PlainServer::Handler send_and_close(std::string bytes);

// Closes each connection as soon as it is accepted. If the client's first bytes arrived before
// the close, the client may see a reset rather than EOF.
[[nodiscard]] PlainServer::Handler close_immediately();

// Reads and discards, never answers, and closes after duration, when the client closes, or when
// the server is destroyed, whichever is first. For timeout tests.
[[nodiscard]] PlainServer::Handler accept_and_stall(std::chrono::milliseconds duration);

}  // namespace tlsock::testing
