// The public sans-IO API (Connection, ClientTLS, ServerTLS) over the engine.
#include "tlsock/connection.hpp"

#include <stdexcept>

#include "access.hpp"
#include "arguments.hpp"
#include "engine/driver.hpp"
#include "engine/engine.hpp"
#include "engine/messages.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/server.hpp"

namespace tlsock {

// The Connection's transport: bytes come in through data_from_wire (never waited for), bytes
// go out through write_to_wire once the driver is done with the engine.
struct Connection::Impl final : engine::Transport {
  template <typename... Args>
  explicit Impl(Args&&... args) : driver(*this, engine::Errors::invalidate, std::forward<Args>(args)...) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() = default;

  engine::Driver driver;
  engine::Engine& engine = driver.engine();
  WriteToWire write_to_wire;
  WireClose wire_close;
  ConnectionVerifyCallback verify_callback;
  Connection* owner = nullptr;  // for verify_callback; kept current across moves
  std::string outbox;           // wire bytes the engine produced, not yet given to write_to_wire
  std::string queued;           // application data written before the handshake completed
  bool finish_queued = false;   // application_finished() before the handshake completed
  bool wire_closed = false;

  std::size_t send(std::string_view bytes) override {
    outbox.append(bytes);
    return bytes.size();
  }
  std::optional<std::size_t> receive(std::span<char>) override { return std::nullopt; }
  void wait(engine::Direction, engine::Deadline, engine::Operation) override {}
  void flushed() override { deliver(); }
  void failed(bool orderly) override {
    if (orderly) {
      if (engine.close_notify_sent()) close_wire(false);
      return;
    }
    close_wire(true);
  }

  // Hands the outbox to write_to_wire once the engine has marked it sent. The callback may
  // re-enter the connection: it gets bytes of its own, and what it causes is delivered by the
  // call it made.
  void deliver() {
    while (!outbox.empty()) {
      std::string bytes = std::move(outbox);
      outbox.clear();
      write_to_wire(bytes);
    }
  }

  void flush() { (void)driver.flush(engine::Wait::never()); }

  void close_wire(bool immediate) {
    if (wire_closed) return;
    wire_closed = true;
    if (wire_close) wire_close(immediate);
  }

  template <typename F>
  auto guarded(F f, bool closing = false) -> decltype(f()) {
    return driver.guarded(std::move(f), closing);
  }

  void advance_handshake() {
    if (engine.is_handshake_complete()) return;
    bool done = driver.handshake(engine::Wait::never());
    if (!done) return;
    if (!queued.empty()) {
      std::string pending = std::move(queued);
      queued.clear();
      write_all(pending);
    }
    if (finish_queued) {
      engine.close_notify();
      flush();
    }
  }

  void write_all(std::string_view data) { (void)driver.write(data, engine::Wait::never()); }
};

Connection::Connection(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {
  if (impl_) impl_->owner = this;
}
Connection::Connection(Connection&& other) noexcept : impl_(std::move(other.impl_)) {
  if (impl_) impl_->owner = this;
}
Connection& Connection::operator=(Connection&& other) noexcept {
  impl_ = std::move(other.impl_);
  if (impl_) impl_->owner = this;
  return *this;
}
Connection::~Connection() = default;

namespace {
using ConnectionImpl = detail::Access::Impl<Connection>;

ConnectionImpl& checked(const std::unique_ptr<ConnectionImpl>& impl) {
  if (!impl) throw std::logic_error("use of a moved-from tlsock::Connection");
  return *impl;
}
}  // namespace

std::string Connection::data_from_wire(std::string_view bytes) {
  Impl& s = checked(impl_);
  return s.guarded([&] {
    s.engine.receive(bytes);
    s.advance_handshake();
    std::string out;
    if (!s.engine.is_handshake_complete()) return out;
    char buffer[16 * 1024];
    for (;;) {
      std::size_t n = 0;
      try {
        n = s.engine.read(buffer, sizeof buffer);
      } catch (const TLSGracefulDisconnectError&) {
        s.flush();
        // Data that arrived before close_notify comes first; the next call reports the close.
        if (!out.empty()) return out;
        throw;
      }
      s.flush();  // e.g. a TLS 1.3 KeyUpdate answered
      if (n == 0) return out;
      out.append(buffer, n);
    }
  });
}

void Connection::wire_eof() {
  Impl& s = checked(impl_);
  s.guarded([&] {
    s.engine.finish_eof();
    s.flush();
  });
}

void Connection::data_from_application(std::string_view bytes) {
  Impl& s = checked(impl_);
  s.guarded([&] {
    if (s.engine.close_notify_sent() || s.finish_queued)
      throw TLSDisconnectError(std::string(messages::already_closed));
    if (!s.engine.is_handshake_complete()) {
      s.queued.append(bytes);
      return;
    }
    s.write_all(bytes);
  });
}

void Connection::send_alert(Alert alert, std::optional<AlertLevel> level) {
  Impl& s = checked(impl_);
  std::optional<AlertLevel> prescribed = prescribed_level(alert);
  std::string name(to_string(alert));
  if (name == "unknown") arguments::reject("alert", "not a TLS alert: " + std::to_string(static_cast<int>(alert)));
  if (level && to_string(*level) == "unknown")
    throw InvalidAlertLevel("level: not an alert level: " + std::to_string(static_cast<int>(*level)));
  if (!level && !prescribed)
    throw InvalidAlertLevel("level: " + name +
                            " has no prescribed level; pass AlertLevel::warning or AlertLevel::fatal");
  if (level && prescribed && *level != *prescribed)
    throw InvalidAlertLevel("level: " + name + " must be sent as " + std::string(to_string(*prescribed)) + ", not " +
                            std::string(to_string(*level)));
  AlertLevel chosen = level ? *level : *prescribed;
  s.guarded(
      [&] {
        if (alert == Alert::close_notify && !s.engine.is_handshake_complete()) {
          // close_notify follows the handshake (and the data queued for after it).
          s.finish_queued = true;
          return;
        }
        s.engine.send_alert(alert, chosen);
        s.flush();
      },
      alert == Alert::close_notify);
  if (chosen == AlertLevel::fatal) {
    s.driver.set_error_reported();  // the application ended it: later calls are invalid
    s.close_wire(true);
  } else if (alert == Alert::close_notify && s.engine.peer_closed()) {
    s.close_wire(false);
  }
}

void Connection::application_finished() { send_alert(Alert::close_notify); }

bool Connection::is_handshake_complete() const noexcept { return impl_ && impl_->engine.is_handshake_complete(); }
bool Connection::wants_wire_data() const noexcept {
  return impl_ && !impl_->engine.failed() && !impl_->engine.peer_closed() && !impl_->engine.eof_received();
}
bool Connection::has_pending_plaintext() const noexcept { return impl_ && impl_->engine.readable_without_wire(); }
bool Connection::is_closed_for_reading() const noexcept {
  return !impl_ || impl_->engine.failed() || impl_->engine.peer_closed() || impl_->engine.eof_received();
}
bool Connection::is_closed_for_writing() const noexcept {
  return !impl_ || (impl_->engine.failed() && !impl_->engine.peer_closed()) || impl_->engine.close_notify_sent() ||
         impl_->finish_queued;
}
bool Connection::is_invalidated() const noexcept {
  return !impl_ || (impl_->engine.failed() && !impl_->engine.peer_closed());
}
bool Connection::is_server() const noexcept { return impl_ && impl_->engine.role() == engine::Role::server; }

const ConnectionInfo& Connection::info() const noexcept {
  static const ConnectionInfo none;
  return impl_ ? impl_->engine.info() : none;
}

namespace {

// Wires the callbacks in; `first` (a TLSSession's own verify callback) runs before the
// connection's.
void attach(ConnectionImpl& impl, WriteToWire write_to_wire, WireClose wire_close,
            ConnectionVerifyCallback verify_callback, const VerifyCallback& first = {}) {
  impl.write_to_wire = std::move(write_to_wire);
  impl.wire_close = std::move(wire_close);
  impl.verify_callback = std::move(verify_callback);
  if (impl.verify_callback) {
    ConnectionImpl* self = &impl;
    impl.engine.set_verify_callback([self, first](const std::vector<Certificate>& chain) {
      if (first) first(chain);
      self->verify_callback(chain, *self->owner);
    });
  }
}

// Builds a connection and lets it write its first flight (a client's ClientHello).
template <typename... EngineArgs>
Connection start_connection(WriteToWire write_to_wire, WireClose wire_close, ConnectionVerifyCallback verify_callback,
                            VerifyCallback first, EngineArgs&&... args) {
  if (!write_to_wire) arguments::reject("write_to_wire", "must be callable");
  auto impl = std::make_unique<ConnectionImpl>(std::forward<EngineArgs>(args)...);
  attach(*impl, std::move(write_to_wire), std::move(wire_close), std::move(verify_callback), std::move(first));
  ConnectionImpl* raw = impl.get();
  Connection connection = detail::Access::make<Connection>(std::move(impl));
  if (raw->engine.role() == engine::Role::client) raw->guarded([&] { raw->advance_handshake(); });
  return connection;
}

}  // namespace

ClientTLS::ClientTLS(std::string server_hostname, std::shared_ptr<TLSSession> session, std::uint16_t port)
    : hostname_(std::move(server_hostname)),
      session_(session ? std::move(session) : std::make_shared<TLSSession>()),
      port_(port) {
  arguments::check_host("server_hostname", hostname_);
  arguments::check_port("port", port_);
}

Connection ClientTLS::start(WriteToWire write_to_wire, WireClose wire_close,
                            ConnectionVerifyCallback verify_callback) const {
  return start_connection(std::move(write_to_wire), std::move(wire_close), std::move(verify_callback),
                          session_->options().verify_callback, session_, hostname_, port_);
}

ServerTLS::ServerTLS(std::shared_ptr<const ServerCertificates> certificates, ServerOptions options) {
  if (!certificates) arguments::reject("certificates", "must not be null");
  backend::ServerPolicy policy;
  policy.protocols = options.protocols;
  policy.certificates = std::move(certificates);
  policy.client_auth = options.client_auth;
  for (const TrustRoot& root : options.client_trust_roots)
    policy.client_roots.insert(policy.client_roots.end(), root.certificates().begin(), root.certificates().end());
  policy.session_cache = options.session_cache;
  policy.session_tickets = options.session_tickets;
  policy.ticket_lifetime = options.ticket_lifetime;
  policy.dh_parameters = options.dh_parameters;
  policy.alpn = options.alpn_protocols;
  policy.cipher_suites = options.cipher_suites;
  if (options.key_log_file) policy.key_log_file = options.key_log_file->string();
  arguments::check_timeout("handshake_timeout", options.handshake_timeout);
  if (options.max_buffered_bytes == 0) arguments::reject("max_buffered_bytes", "must be at least 1, not 0");
  auto context = std::make_shared<ServerContext>();
  context->config = backend::Config::server(policy);
  context->options = std::move(options);
  impl_ = std::move(context);
}

ServerTLS::~ServerTLS() = default;

const ServerOptions& ServerTLS::options() const noexcept { return impl_->options; }

Connection ServerTLS::start(WriteToWire write_to_wire, WireClose wire_close,
                            ConnectionVerifyCallback verify_callback) const {
  return start_connection(std::move(write_to_wire), std::move(wire_close), std::move(verify_callback), {}, impl_);
}

}  // namespace tlsock
