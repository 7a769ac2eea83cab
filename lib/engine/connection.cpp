// The public sans-IO API (Connection, ClientTLS, ServerTLS) over the engine.
#include "tlsock/connection.hpp"

#include <stdexcept>

#include "arguments.hpp"
#include "engine/engine.hpp"
#include "engine/messages.hpp"
#include "tlsock/errors.hpp"

namespace tlsock {

struct Connection::Impl {
  template <typename... Args>
  explicit Impl(Args&&... args) : engine(std::forward<Args>(args)...) {}

  engine::Engine engine;
  WriteToWire write_to_wire;
  WireClose wire_close;
  VerifyCallback verify_callback;
  Connection* owner = nullptr;  // for verify_callback; kept current across moves
  std::string queued;           // application data written before the handshake completed
  bool finish_queued = false;   // application_finished() before the handshake completed
  bool error_reported = false;  // the first error was raised; later calls get InvalidatedError
  bool wire_closed = false;

  void flush() {
    std::string_view out = engine.outgoing();
    if (out.empty()) return;
    std::string copy(out);  // the callback may re-enter; the engine's buffer must not move under it
    engine.sent(out.size());
    write_to_wire(copy);
  }

  void close_wire(bool immediate) {
    if (wire_closed) return;
    wire_closed = true;
    if (wire_close) wire_close(immediate);
  }

  // Raises InvalidatedError once the first error has been reported. After the peer's
  // close_notify, only sending our own is still allowed.
  void check_valid(bool closing = false) {
    if (!engine.failed() || !error_reported) return;
    if (closing && engine.peer_closed()) return;
    if (engine.peer_closed()) std::rethrow_exception(engine.error());
    std::string cause = "an earlier error";
    try {
      std::rethrow_exception(engine.error());
    } catch (const std::exception& e) {
      cause = e.what();
    } catch (...) {
      // Not a std::exception (a verify callback may throw anything): no text to quote.
    }
    throw InvalidatedError("The connection was invalidated by an earlier error: " + cause, engine.error());
  }

  // Runs f; on a TLS failure flushes the alert it queued, closes the wire, reports once.
  template <typename F>
  auto guarded(F f, bool closing = false) -> decltype(f()) {
    check_valid(closing);
    try {
      return f();
    } catch (const TLSGracefulDisconnectError&) {
      error_reported = true;
      flush();
      if (engine.close_notify_sent()) close_wire(false);
      throw;
    } catch (...) {
      error_reported = true;
      try {
        flush();
      } catch (...) {
      }
      close_wire(true);
      throw;
    }
  }

  void advance_handshake() {
    if (engine.is_handshake_complete()) return;
    bool done = engine.handshake();
    flush();
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

  void write_all(std::string_view data) {
    while (!data.empty()) {
      data.remove_prefix(engine.write(data));
      flush();
    }
  }
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
Connection::Impl& checked(const std::unique_ptr<Connection::Impl>& impl) {
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
    throw InvalidAlertLevel("level: " + name + " has no prescribed level; pass AlertLevel::warning or AlertLevel::fatal");
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
    s.error_reported = true;  // the application ended it: later calls are invalid
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

std::string_view Connection::protocol() const noexcept {
  return impl_ && impl_->engine.is_handshake_complete() ? to_string(impl_->engine.info().protocol) : std::string_view();
}
std::string_view Connection::cipher_suite() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().cipher_suite) : std::string_view();
}
const std::optional<Certificate>& Connection::peer_certificate() const noexcept {
  static const std::optional<Certificate> none;
  return impl_ ? impl_->engine.info().certificate : none;
}
const std::vector<Certificate>& Connection::peer_intermediates() const noexcept {
  static const std::vector<Certificate> none;
  return impl_ ? impl_->engine.info().intermediates : none;
}
std::optional<SessionReuse> Connection::session_id() const noexcept {
  return impl_ ? impl_->engine.info().session_id : std::nullopt;
}
std::optional<SessionReuse> Connection::session_ticket() const noexcept {
  return impl_ ? impl_->engine.info().session_ticket : std::nullopt;
}
std::string_view Connection::alpn_protocol() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().alpn) : std::string_view();
}
std::string_view Connection::server_name() const noexcept {
  return impl_ ? std::string_view(impl_->engine.info().server_name) : std::string_view();
}

namespace {

// Wires the callbacks in; `first` (a TLSSession's own verify callback) runs before the
// connection's.
void attach(Connection::Impl& impl, WriteToWire write_to_wire, WireClose wire_close, VerifyCallback verify_callback,
            std::function<void(const std::vector<Certificate>&)> first = {}) {
  impl.write_to_wire = std::move(write_to_wire);
  impl.wire_close = std::move(wire_close);
  impl.verify_callback = std::move(verify_callback);
  if (impl.verify_callback) {
    Connection::Impl* self = &impl;
    impl.engine.set_verify_callback([self, first](const std::vector<Certificate>& chain) {
      if (first) first(chain);
      self->verify_callback(chain, *self->owner);
    });
  }
}

// Builds a connection and lets it write its first flight (a client's ClientHello).
template <typename... EngineArgs>
Connection start_connection(WriteToWire write_to_wire, WireClose wire_close, VerifyCallback verify_callback,
                            std::function<void(const std::vector<Certificate>&)> first, EngineArgs&&... args) {
  if (!write_to_wire) arguments::reject("write_to_wire", "must be callable");
  auto impl = std::make_unique<Connection::Impl>(std::forward<EngineArgs>(args)...);
  attach(*impl, std::move(write_to_wire), std::move(wire_close), std::move(verify_callback), std::move(first));
  Connection::Impl* raw = impl.get();
  Connection connection(std::move(impl));
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

Connection ClientTLS::start(WriteToWire write_to_wire, WireClose wire_close, VerifyCallback verify_callback) const {
  return start_connection(std::move(write_to_wire), std::move(wire_close), std::move(verify_callback),
                          session_->options().verify_callback, session_, hostname_, port_);
}

ServerTLS::ServerTLS(std::shared_ptr<const ServerCertificates> certificates, ServerOptions options) {
  if (!certificates) arguments::reject("certificates", "must not be null");
  mbed::ServerPolicy policy;
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
  context->config = mbed::Config::server(policy);
  context->options = std::move(options);
  impl_ = std::move(context);
}

ServerTLS::~ServerTLS() = default;

const ServerOptions& ServerTLS::options() const noexcept { return impl_->options; }

Connection ServerTLS::start(WriteToWire write_to_wire, VerifyCallback verify_callback, WireClose wire_close) const {
  return start_connection(std::move(write_to_wire), std::move(wire_close), std::move(verify_callback), {}, impl_);
}

}  // namespace tlsock
