// TLSSocket: a blocking driver around the sans-IO ClientEngine and lib/net. All TLS logic
// lives in the engine; this file only moves bytes and enforces deadlines.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/engine.hpp"
#include "engine/messages.hpp"
#include "engine/session_impl.hpp"
#include "net/net.hpp"
#include "socket/read_buffer.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/socket.hpp"

namespace tlsock {
namespace {

constexpr std::size_t read_chunk = 16 * 1024;

std::shared_ptr<TLSSession> session_or_default(std::shared_ptr<TLSSession> session) {
  return session ? std::move(session) : std::make_shared<TLSSession>();
}

void check_host(std::string_view name, std::string_view host) {
  if (host.empty()) throw std::invalid_argument(std::string(name) + ": must not be empty");
  if (host.size() > 253)
    throw std::invalid_argument(std::string(name) + ": longer than 253 characters (" + std::to_string(host.size()) + ")");
  if (host.find('\0') != std::string_view::npos) throw std::invalid_argument(std::string(name) + ": contains a NUL byte");
}

}  // namespace

struct TLSSocket::Impl {
  Impl(net::Socket socket, std::string host, std::uint16_t port_number, Timeout timeout_value,
       std::shared_ptr<TLSSession> tls_session)
      : sock(std::move(socket)),
        hostname(std::move(host)),
        port(port_number),
        timeout(timeout_value),
        session(std::move(tls_session)),
        engine(session, hostname, port),
        address(net::peer_address(sock.get())) {}

  net::Socket sock;
  std::string hostname;
  std::uint16_t port;
  Timeout timeout;
  std::shared_ptr<TLSSession> session;
  engine::ClientEngine engine;
  ReadBuffer buffer;
  std::string address;  // for messages
  bool closed = false;

  [[nodiscard]] net::Deadline deadline() const { return net::deadline_after(timeout); }

  void ensure_open() const {
    if (closed) throw TLSDisconnectError(std::string(messages::already_closed));
  }

  [[noreturn]] void timed_out(std::string_view what) const {
    throw TimeoutError(std::string(what) + " " + (address.empty() ? hostname : address) + " timed out");
  }

  void await(net::Direction direction, net::Deadline deadline, std::string_view what) {
    if (!net::wait(sock.get(), direction, deadline)) timed_out(what);
  }

  // Sends everything the engine has queued.
  void flush(net::Deadline deadline) {
    for (std::string_view out = engine.outgoing(); !out.empty(); out = engine.outgoing()) {
      std::size_t n = 0;
      try {
        n = net::send_some(sock.get(), out.data(), out.size());
      } catch (const std::system_error& e) {
        if (e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset)
          throw TLSDisconnectError(std::string(messages::remote_closed));
        throw;
      }
      if (n == 0)
        await(net::Direction::write, deadline, "write to");
      else
        engine.sent(n);
    }
  }

  // Best effort: after a failure, the peer should still get the alert it caused.
  void flush_quietly() noexcept {
    try {
      flush(net::Clock::now() + std::chrono::milliseconds(200));
    } catch (...) {
    }
  }

  // Moves wire bytes into the engine, waiting for them until the deadline.
  void fill(net::Deadline deadline, std::string_view what) {
    std::span<char> space = engine.receive_space();
    if (space.empty()) return;  // the engine holds enough to make progress
    for (;;) {
      std::optional<std::size_t> n = net::recv_some(sock.get(), space.data(), space.size());
      if (!n) {
        await(net::Direction::read, deadline, what);
        continue;
      }
      if (*n == 0)
        engine.receive_eof();
      else
        engine.received(*n);
      return;
    }
  }

  void handshake(net::Deadline deadline) {
    try {
      while (!engine.handshake()) {
        flush(deadline);
        fill(deadline, "TLS handshake with");
      }
      flush(deadline);
    } catch (const TLSError&) {
      flush_quietly();
      throw;
    }
  }

  // Decrypts into data; blocks until at least one byte or an error.
  std::size_t read_some(char* data, std::size_t size, net::Deadline deadline) {
    for (;;) {
      std::size_t n = 0;
      try {
        n = engine.read(data, size);
      } catch (const TLSGracefulDisconnectError&) {
        throw;
      } catch (const TLSError&) {
        flush_quietly();
        throw;
      }
      if (n > 0) return n;
      flush(deadline);  // e.g. a post-handshake message that needs an answer
      fill(deadline, "read from");
    }
  }

  // Appends decrypted bytes to the buffer, at most `limit` of them.
  void fill_buffer(std::size_t limit, net::Deadline deadline) {
    std::span<char> space = buffer.prepare(std::min(read_chunk, limit));
    buffer.commit(read_some(space.data(), std::min(space.size(), limit), deadline));
  }

  std::size_t max_buffered() const { return session->options().max_buffered_bytes; }

  // Reads until find() reports a match length, within the buffer cap.
  template <typename Find>
  std::string read_until_match(Find find, std::string_view what) {
    ensure_open();
    net::Deadline deadline = this->deadline();
    for (;;) {
      if (std::optional<std::size_t> end = find()) return buffer.take(*end);
      if (buffer.size() >= max_buffered())
        throw TLSError(std::string(what) + ": no match within the first " + std::to_string(max_buffered()) +
                       " bytes (the read buffer limit, TLSSession::Options::max_buffered_bytes)");
      fill_buffer(max_buffered() - buffer.size(), deadline);
    }
  }
};

TLSSocket::TLSSocket(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

TLSSocket::TLSSocket(std::string_view address, std::uint16_t port, Timeout timeout,
                     std::shared_ptr<TLSSession> session) {
  check_host("address", address);
  if (port == 0) throw std::invalid_argument("port: must be between 1 and 65535, not 0");
  net::Deadline deadline = net::deadline_after(timeout);
  session = session_or_default(std::move(session));
  std::string host(address);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  net::Socket sock = net::connect(host, port, deadline);
  impl_ = std::make_unique<Impl>(std::move(sock), std::move(host), port, timeout, std::move(session));
  impl_->handshake(deadline);
}

TLSSocket TLSSocket::wrap(NativeSocket socket, std::string_view hostname, std::shared_ptr<TLSSession> session,
                          Timeout timeout) {
  check_host("hostname", hostname);
  net::Deadline deadline = net::deadline_after(timeout);
  net::adopt(socket);
  net::Socket owned(socket);
  session = session_or_default(std::move(session));
  auto impl = std::make_unique<Impl>(std::move(owned), std::string(hostname), 0, timeout, std::move(session));
  impl->handshake(deadline);
  return TLSSocket(std::move(impl));
}

TLSSocket::TLSSocket(TLSSocket&&) noexcept = default;

TLSSocket& TLSSocket::operator=(TLSSocket&& other) noexcept {
  if (this != &other) {
    if (impl_) {
      try {
        close();
      } catch (...) {
      }
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}

TLSSocket::~TLSSocket() {
  if (!impl_) return;
  try {
    close();
  } catch (...) {
  }
}

namespace {
TLSSocket::Impl& checked(const std::unique_ptr<TLSSocket::Impl>& impl) {
  if (!impl) throw TLSDisconnectError("The connection was already closed");
  return *impl;
}
}  // namespace

std::string TLSSocket::read(std::size_t max_length) {
  Impl& s = checked(impl_);
  s.ensure_open();
  if (max_length == 0) throw std::invalid_argument("max_length: must be at least 1, not 0");
  if (!s.buffer.empty()) return s.buffer.take(std::min(max_length, s.buffer.size()));
  std::string out(std::min(max_length, read_chunk), '\0');
  out.resize(s.read_some(out.data(), out.size(), s.deadline()));
  return out;
}

std::string TLSSocket::read_line() {
  Impl& s = checked(impl_);
  return s.read_until_match([&] { return s.buffer.find_line_end(); }, "read_line");
}

std::string TLSSocket::read_until(std::string_view marker) {
  Impl& s = checked(impl_);
  if (marker.empty()) throw std::invalid_argument("marker: must not be empty");
  return s.read_until_match([&] { return s.buffer.find(marker); }, "read_until");
}

std::string TLSSocket::read_until(const std::regex& marker) {
  Impl& s = checked(impl_);
  if (std::regex_search("", marker))
    throw std::invalid_argument("marker: the regular expression matches the empty string");
  // A regex can match anywhere, so each new chunk rescans the buffer; the buffer cap
  // bounds that work.
  return s.read_until_match(
      [&]() -> std::optional<std::size_t> {
        std::string_view data = s.buffer.view();
        std::cmatch match;
        if (!std::regex_search(data.data(), data.data() + data.size(), match, marker)) return std::nullopt;
        return static_cast<std::size_t>(match.position(0) + match.length(0));
      },
      "read_until");
}

std::string TLSSocket::read_exactly(std::size_t num_bytes) {
  Impl& s = checked(impl_);
  s.ensure_open();
  net::Deadline deadline = s.deadline();
  // Bytes stay in the buffer until all have arrived: a connection cut short raises and
  // the partial data remains readable rather than being returned as if complete.
  while (s.buffer.size() < num_bytes) s.fill_buffer(num_bytes - s.buffer.size(), deadline);
  return s.buffer.take(num_bytes);
}

bool TLSSocket::select_read(Timeout timeout) {
  Impl& s = checked(impl_);
  s.ensure_open();
  if (!s.buffer.empty() || s.engine.readable_without_wire()) return true;
  return net::wait(s.sock.get(), net::Direction::read, net::deadline_after(timeout));
}

void TLSSocket::write(std::string_view data) {
  Impl& s = checked(impl_);
  s.ensure_open();
  net::Deadline deadline = s.deadline();
  while (!data.empty()) {
    std::size_t n = 0;
    try {
      n = s.engine.write(data);
    } catch (const TLSError&) {
      s.flush_quietly();
      throw;
    }
    data.remove_prefix(n);
    s.flush(deadline);
  }
}

bool TLSSocket::select_write(Timeout timeout) {
  Impl& s = checked(impl_);
  s.ensure_open();
  return net::wait(s.sock.get(), net::Direction::write, net::deadline_after(timeout));
}

void TLSSocket::shutdown() {
  Impl& s = checked(impl_);
  s.ensure_open();
  s.engine.close_notify();
  try {
    s.flush(s.deadline());
  } catch (const TLSDisconnectError&) {
    // The peer is gone already; there is nobody left to tell.
  }
  net::shutdown_write(s.sock.get());
}

void TLSSocket::close() {
  if (!impl_ || impl_->closed) return;
  Impl& s = *impl_;
  try {
    shutdown();
  } catch (const TimeoutError&) {
  } catch (const std::system_error&) {
  }
  s.closed = true;
  s.sock.close();
}

void TLSSocket::set_timeout(Timeout timeout) {
  Impl& s = checked(impl_);
  (void)net::deadline_after(timeout);  // validates
  s.timeout = timeout;
}

Timeout TLSSocket::timeout() const noexcept { return impl_ ? impl_->timeout : Timeout{}; }

const std::string& TLSSocket::hostname() const noexcept {
  static const std::string none;
  return impl_ ? impl_->hostname : none;
}
std::uint16_t TLSSocket::port() const noexcept { return impl_ ? impl_->port : 0; }

const Certificate& TLSSocket::certificate() const {
  const Impl& s = checked(impl_);
  const auto& leaf = s.engine.info().certificate;
  if (!leaf) throw TLSError("the server sent no certificate");
  return *leaf;
}

const std::vector<Certificate>& TLSSocket::intermediates() const {
  return checked(impl_).engine.info().intermediates;
}

std::string_view TLSSocket::protocol() const noexcept {
  return impl_ ? to_string(impl_->engine.info().protocol) : std::string_view();
}
std::string_view TLSSocket::cipher_suite() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().cipher_suite) : std::string_view();
}
bool TLSSocket::compression() const noexcept { return impl_ && impl_->engine.info().compression; }
std::optional<SessionReuse> TLSSocket::session_id() const noexcept {
  return impl_ ? impl_->engine.info().session_id : std::nullopt;
}
std::optional<SessionReuse> TLSSocket::session_ticket() const noexcept {
  return impl_ ? impl_->engine.info().session_ticket : std::nullopt;
}
std::string_view TLSSocket::alpn_protocol() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().alpn) : std::string_view();
}
const std::shared_ptr<TLSSession>& TLSSocket::session() const noexcept {
  static const std::shared_ptr<TLSSession> none;
  return impl_ ? impl_->session : none;
}
NativeSocket TLSSocket::socket() const noexcept { return impl_ ? impl_->sock.get() : net::invalid_socket; }

}  // namespace tlsock
