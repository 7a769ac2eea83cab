// TLSSocket: a blocking driver around the sans-IO Engine and lib/net. All TLS logic
// lives in the engine; this file only moves bytes and enforces deadlines.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "arguments.hpp"
#include "engine/engine.hpp"
#include "engine/messages.hpp"
#include "engine/session_impl.hpp"
#include "net/net.hpp"
#include "socket/socket_impl.hpp"
#include "tlsock/connection.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/socket.hpp"
#include "tlsock/tcp.hpp"

namespace tlsock {
namespace {

std::shared_ptr<TLSSession> session_or_default(std::shared_ptr<TLSSession> session) {
  return session ? std::move(session) : std::make_shared<TLSSession>();
}

// "[::1]" (as in URLs) is the address ::1.
std::string strip_brackets(std::string_view address) {
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    address = address.substr(1, address.size() - 2);
  return std::string(address);
}

}  // namespace

NativeSocket connect_tcp(std::string_view address, std::uint16_t port, Timeout timeout) {
  arguments::check_host("address", address);
  arguments::check_port("port", port);
  net::Deadline deadline = net::deadline_after(timeout);
  net::Socket socket = net::connect(strip_brackets(address), port, deadline);
  // The caller talks over it with plain send/recv, as over a socket of its own making.
  net::set_blocking(socket.get(), true);
  return socket.release();
}

TLSSocket::TLSSocket(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

TLSSocket::TLSSocket(std::string_view address, std::uint16_t port, Timeout timeout,
                     std::shared_ptr<TLSSession> session) {
  arguments::check_host("address", address);
  arguments::check_port("port", port);
  net::Deadline deadline = net::deadline_after(timeout);
  session = session_or_default(std::move(session));
  std::string host = strip_brackets(address);
  net::Socket sock = net::connect(host, port, deadline);
  std::string peer = net::peer_address(sock.get());
  impl_ = std::make_unique<Impl>(std::move(sock), std::move(peer), std::move(host), port, timeout, std::move(session));
  impl_->handshake(deadline);
}

TLSSocket TLSSocket::wrap(NativeSocket socket, std::string_view hostname, std::shared_ptr<TLSSession> session,
                          Timeout timeout) {
  // Owned from the first line: a failure below closes it, as documented.
  net::Socket owned(socket);
  arguments::check_host("hostname", hostname);
  net::Deadline deadline = net::deadline_after(timeout);
  net::Peer peer = net::adopt(socket);
  session = session_or_default(std::move(session));
  auto impl = std::make_unique<Impl>(std::move(owned), std::move(peer.address), std::string(hostname), peer.port,
                                     timeout, std::move(session));
  impl->handshake(deadline);
  return TLSSocket(std::move(impl));
}

TLSSocket TLSSocket::wrap(TCPStream&& stream, std::string_view hostname, std::shared_ptr<TLSSession> session,
                          Timeout timeout) {
  TCPStream owned(std::move(stream));  // closed on failure, as for wrap()
  if (std::size_t ahead = owned.buffered(); ahead > 0) {
    std::string bytes = owned.read(ahead);
    throw TLSError(messages::protocol_error(messages::detect_other_protocol(bytes)) + " (" + std::to_string(ahead) +
                   " bytes arrived before the TLS handshake started)");
  }
  return wrap(owned.release(), hostname, std::move(session), timeout);
}

TLSSocket TLSSocket::wrap_server(NativeSocket socket, const std::shared_ptr<const ServerTLS>& server, bool do_handshake,
                                 Timeout timeout) {
  net::Socket owned(socket);  // owned from the first line, as for wrap()
  if (!server) arguments::reject("server", "must not be null");
  arguments::check_timeout("timeout", timeout);
  net::Peer peer = net::adopt(socket);
  auto impl =
      std::make_unique<Impl>(std::move(owned), std::move(peer.address), detail::Access::impl_ptr(*server), timeout);
  if (do_handshake) impl->handshake(net::deadline_after(server->options().handshake_timeout));
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
using SocketImpl = detail::Access::Impl<TLSSocket>;

SocketImpl& checked(const std::unique_ptr<SocketImpl>& impl) {
  if (!impl) throw TLSDisconnectError(std::string(messages::already_closed));
  return *impl;
}
}  // namespace

void TLSSocket::do_handshake() {
  Impl& s = checked(impl_);
  s.ensure_open();
  s.handshake(s.deadline());
}

std::string TLSSocket::read(std::size_t max_length) {
  Impl& s = checked(impl_);
  s.ensure_open();
  if (max_length == 0) arguments::reject("max_length", "must be at least 1, not 0");
  if (!s.buffer.empty()) return s.buffer.take(std::min(max_length, s.buffer.size()));
  std::string out(std::min(max_length, read_chunk), '\0');
  out.resize(read_into(out));
  return out;
}

std::size_t TLSSocket::read_into(std::span<char> buffer) {
  Impl& s = checked(impl_);
  s.ensure_open();
  if (buffer.empty()) arguments::reject("buffer", "must hold at least 1 byte, not 0");
  if (!s.buffer.empty()) return s.buffer.take_into(buffer);
  return s.read_some(buffer.data(), buffer.size(), s.deadline());
}

std::string TLSSocket::read_line() {
  Impl& s = checked(impl_);
  return s.read_until_match([&](bool at_end) { return s.buffer.find_line_end(at_end); }, "read_line");
}

std::string TLSSocket::read_until(std::string_view marker) {
  Impl& s = checked(impl_);
  if (marker.empty()) arguments::reject("marker", "must not be empty");
  return s.read_until_match([&](bool) { return s.buffer.find(marker); }, "read_until");
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
  net::Deadline deadline = net::deadline_after(timeout);
  for (;;) {
    if (!s.buffer.empty() || s.engine.failed()) return true;  // after an error read() answers at once
    if (s.engine.eof_received()) return true;                 // read() reports how it ended
    // A deferred handshake (wrap_server) needs the peer's bytes first.
    if (!s.engine.is_handshake_complete()) return net::wait(s.sock.get(), net::Direction::read, deadline);
    if (s.engine.readable_without_wire()) {
      // Whole records wait: decrypt them now, since they may hold no application data at all
      // (a TLS 1.3 NewSessionTicket) and read() would then block.
      try {
        s.driver.guarded([&] {
          std::span<char> space = s.buffer.prepare(read_chunk);
          s.buffer.commit(s.engine.read(space.data(), space.size()));
        });
        s.driver.flush_quietly();  // e.g. the answer to a KeyUpdate
      } catch (const TLSError&) {
        return true;  // read() reports it
      }
      if (!s.buffer.empty() || s.engine.readable_without_wire()) return true;
    }
    if (!net::wait(s.sock.get(), net::Direction::read, deadline)) return false;
    // Bytes arrived, but they may be records without application data: take in what the
    // socket has, without blocking, and look again.
    engine::Driver::Intake intake{};
    try {
      intake = s.driver.take_in(engine::Wait::never(), engine::Operation::read);
    } catch (const std::system_error&) {
      return true;  // read() reports it
    }
    if (intake != engine::Driver::Intake::received && intake != engine::Driver::Intake::nothing) return true;
  }
}

void TLSSocket::write(std::string_view data) {
  Impl& s = checked(impl_);
  s.ensure_open();
  if (s.shut_down) throw TLSDisconnectError(std::string(messages::already_closed));
  net::Deadline deadline = s.deadline();
  // A TLS 1.3 ticket that arrived since the handshake is stored now, not at the next read.
  if (s.engine.awaiting_ticket()) s.take_in_available();
  s.driver.guarded([&] { (void)s.driver.write(data, engine::Wait::until(deadline)); });
}

bool TLSSocket::select_write(Timeout timeout) {
  Impl& s = checked(impl_);
  s.ensure_open();
  return net::wait(s.sock.get(), net::Direction::write, net::deadline_after(timeout));
}

void TLSSocket::shutdown() {
  Impl& s = checked(impl_);
  s.ensure_open();
  s.shut_down = true;
  s.wait_for_ticket();  // so that the next connection can resume (see Impl::wait_for_ticket)
  s.engine.close_notify();
  try {
    (void)s.driver.flush(engine::Wait::until(s.deadline()));
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
  arguments::check_timeout("timeout", timeout);
  s.timeout = timeout;
}

Timeout TLSSocket::timeout() const noexcept { return impl_ ? impl_->timeout : Timeout{}; }

const std::string& TLSSocket::hostname() const noexcept {
  static const std::string none;
  return impl_ ? impl_->hostname : none;
}
std::uint16_t TLSSocket::port() const noexcept { return impl_ ? impl_->port : 0; }

const ConnectionInfo& TLSSocket::info() const { return checked(impl_).engine.info(); }

const Certificate& TLSSocket::certificate() const {
  const Impl& s = checked(impl_);
  const auto& leaf = s.engine.info().certificate;
  if (!leaf)
    throw TLSError(s.engine.role() == engine::Role::server ? "the client sent no certificate"
                                                           : "the server sent no certificate");
  return *leaf;
}

const std::vector<Certificate>& TLSSocket::intermediates() const { return checked(impl_).engine.info().intermediates; }

std::string_view TLSSocket::protocol() const noexcept {
  return impl_ && impl_->engine.is_handshake_complete() && impl_->engine.info().protocol
             ? to_string(*impl_->engine.info().protocol)
             : std::string_view();
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
  return impl_ ? std::string_view(impl_->engine.info().alpn_protocol) : std::string_view();
}
const std::shared_ptr<TLSSession>& TLSSocket::session() const noexcept {
  static const std::shared_ptr<TLSSession> none;
  return impl_ ? impl_->session : none;
}
bool TLSSocket::is_server() const noexcept { return impl_ && impl_->engine.role() == engine::Role::server; }
std::string_view TLSSocket::server_name() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().server_name) : std::string_view();
}
const std::string& TLSSocket::peer_address() const noexcept {
  static const std::string none;
  return impl_ ? impl_->engine.info().peer_address : none;
}
NativeSocket TLSSocket::socket() const noexcept { return impl_ ? impl_->sock.get() : net::invalid_socket; }

}  // namespace tlsock
