// TLSSocket::Impl: a socket, the engine's driver and a read buffer. The socket is the driver's
// transport (a deadline per public call); shared by TLSSocket and TLSListener.
#pragma once

#include "internal.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "access.hpp"
#include "engine/driver.hpp"
#include "engine/engine.hpp"
#include "engine/messages.hpp"
#include "net/net.hpp"
#include "socket/read_buffer.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/socket.hpp"

namespace tlsock {

inline constexpr std::size_t read_chunk = 16 * 1024;

struct TLSSocket::Impl final : engine::Transport {
  // A client. peer: the socket's peer address (the caller has it already: one getpeername).
  Impl(net::Socket socket, std::string peer, std::string host, std::uint16_t port_number, Timeout timeout_value,
       std::shared_ptr<TLSSession> tls_session)
      : sock(std::move(socket)),
        hostname(std::move(host)),
        port(port_number),
        timeout(timeout_value),
        max_buffered(tls_session->options().max_buffered_bytes),
        max_buffered_option("TLSSession::Options::max_buffered_bytes"),
        session(std::move(tls_session)),
        driver(*this, engine::Errors::sticky, session, hostname, port) {
    engine.set_peer_address(std::move(peer));
  }
  // A server.
  Impl(net::Socket socket, std::string peer, std::shared_ptr<const ServerContext> server, Timeout timeout_value)
      : sock(std::move(socket)),
        port(0),
        timeout(timeout_value),
        max_buffered(server->options.max_buffered_bytes),
        max_buffered_option("ServerOptions::max_buffered_bytes"),
        driver(*this, engine::Errors::sticky, std::move(server)) {
    engine.set_peer_address(std::move(peer));
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() = default;

  net::Socket sock;
  std::string hostname;
  std::uint16_t port;
  Timeout timeout;
  std::size_t max_buffered;              // read_line/read_until's buffer cap
  std::string_view max_buffered_option;  // the setting behind it, for the message
  std::shared_ptr<TLSSession> session;
  engine::Driver driver;
  engine::Engine& engine = driver.engine();
  ReadBuffer buffer;
  bool closed = false;
  bool shut_down = false;                 // the application called shutdown(): no more writes
  net::Clock::duration handshake_time{};  // how long the handshake took (sizes the wait for tickets)

  [[nodiscard]] net::Deadline deadline() const { return net::deadline_after(timeout); }
  [[nodiscard]] const std::string& address() const noexcept { return engine.info().peer_address; }

  void ensure_open() const {
    if (closed) throw TLSDisconnectError(std::string(messages::already_closed));
  }

  // engine::Transport over the non-blocking socket.
  std::size_t send(std::string_view bytes) override {
    try {
      return net::send_some(sock.get(), bytes.data(), bytes.size());
    } catch (const std::system_error& e) {
      if (e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset)
        throw TLSDisconnectError(std::string(messages::remote_closed));
      throw;
    }
  }
  std::optional<std::size_t> receive(std::span<char> space) override {
    return net::recv_some(sock.get(), space.data(), space.size());
  }
  void wait(engine::Direction direction, engine::Deadline until, engine::Operation operation) override {
    if (direction == engine::Direction::write) {
      if (!net::wait(sock.get(), net::Direction::write, until)) timed_out("write to");
      return;
    }
    if (!net::wait(sock.get(), net::Direction::read, until))
      timed_out(operation == engine::Operation::handshake ? messages::handshake_with
                : operation == engine::Operation::read    ? "read from"
                                                          : "write to");
  }

  [[noreturn]] void timed_out(std::string_view what) const {
    throw TimeoutError(messages::timed_out(what, address().empty() ? hostname : address()));
  }

  // Advances the handshake with whatever the socket has now, never blocking: true once it
  // is complete. Used by TLSListener to run many handshakes at once.
  bool handshake_step() {
    return driver.guarded([&] { return driver.handshake(engine::Wait::never()); });
  }

  void handshake(net::Deadline deadline) {
    net::Clock::time_point start = net::Clock::now();
    driver.guarded([&] { (void)driver.handshake(engine::Wait::until(deadline)); });
    handshake_time = net::Clock::now() - start;
  }

  // Takes in what the peer has sent so far, never waiting: whole records are processed now (a
  // TLS 1.3 NewSessionTicket is stored in the session's cache; application data waits in the
  // buffer for read(), up to the buffer cap). An error stays in the engine, sticky, for the
  // next call to report; the alert it queued is flushed.
  void take_in_available() noexcept {
    try {
      driver.guarded([&] {
        // Bounded: each turn takes in wire bytes or processes records.
        for (int turns = 0; turns < 64 && engine.is_handshake_complete() && !engine.failed(); ++turns) {
          if (engine.readable_without_wire()) {
            if (buffer.size() >= max_buffered) return;
            std::span<char> space = buffer.prepare(read_chunk);
            buffer.commit(engine.read(space.data(), space.size()));
            if (!driver.flush(engine::Wait::never())) return;  // e.g. an alert; the rest goes with the next flush
            continue;
          }
          if (engine.eof_received()) return;
          if (driver.take_in(engine::Wait::never(), engine::Operation::read) != engine::Driver::Intake::received)
            return;
        }
      });
    } catch (...) {
      // Sticky in the engine (the peer's close_notify too: read() reports it after the data
      // before it); a socket error shows up again at the next call.
    }
  }

  // A TLS 1.3 server sends its tickets about a round trip after our last handshake flight, so
  // a client that writes and closes at once would close before they arrive, and its next
  // connection could not resume. While the engine awaits a ticket (TLS 1.3, session cache on,
  // no ticket and no data read yet), this waits for one: twice the handshake's duration, at
  // least 250 ms and at most 1 s, never past the socket's timeout. Never throws.
  void wait_for_ticket() noexcept {
    using namespace std::chrono_literals;
    if (!engine.awaiting_ticket()) return;
    try {
      net::Clock::duration wait = std::clamp<net::Clock::duration>(2 * handshake_time, 250ms, 1s);
      net::Deadline limit = net::Clock::now() + wait;
      if (net::Deadline overall = deadline(); overall && *overall < *limit) limit = overall;
      for (int turns = 0; turns < 256 && engine.awaiting_ticket(); ++turns) {
        take_in_available();
        if (!engine.awaiting_ticket() || !net::wait(sock.get(), net::Direction::read, limit)) return;
      }
    } catch (...) {
    }
  }

  // Decrypts into data; blocks until at least one byte or an error.
  std::size_t read_some(char* data, std::size_t size, net::Deadline deadline) {
    return driver.guarded([&] { return driver.read(data, size, engine::Wait::until(deadline)); });
  }

  // Appends decrypted bytes to the buffer, at most `limit` of them.
  void fill_buffer(std::size_t limit, net::Deadline deadline) {
    std::span<char> space = buffer.prepare(std::min(read_chunk, limit));
    buffer.commit(read_some(space.data(), std::min(space.size(), limit), deadline));
  }

  // Reads until find(at_end) reports a match length, within the buffer cap (see
  // tlsock::read_until_match): an orderly end settles a final "\r", a full buffer is a TLSError.
  template <typename Find>
  std::string read_until_match(Find find, std::string_view what) {
    ensure_open();
    // The deadline starts when the call first has to wait for the wire: before that it only
    // searches bytes already buffered, which takes no waiting (and most lines of a body are
    // found there, without a clock read each).
    std::optional<net::Deadline> deadline;
    return tlsock::read_until_match<TLSGracefulDisconnectError>(
        buffer, max_buffered, what, max_buffered_option, find,
        [&](std::size_t limit) {
          if (!deadline) deadline = this->deadline();
          fill_buffer(limit, *deadline);
        },
        [](const std::string& message) { throw TLSError(message); });
  }
};

}  // namespace tlsock
