// The sans-IO API, shaped like PyTLS: a Connection is an encrypted pipe with TLS bytes on
// one side and plaintext on the other. It never touches a socket; you move the bytes.
//
//   wire bytes --data_from_wire()-->  [Connection]  --> returned plaintext
//   plaintext  --data_from_application()--> [Connection] --> write_to_wire(bytes)
//
// Errors are sticky: the first fatal error is raised by the call that met it (after any
// alert was passed to write_to_wire); every later call raises InvalidatedError.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/alert.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"
#include "tlsock/info.hpp"
#include "tlsock/session.hpp"

namespace tlsock {

class Connection;

/// Receives bytes for the peer; the connection does not keep them after the call.
using WriteToWire = std::function<void(std::string_view bytes)>;
/// The protocol requires the transport to close: at once after a fatal alert (immediate),
/// after both close_notify alerts otherwise.
using WireClose = std::function<void(bool immediate)>;
/// The Connection's VerifyCallback (session.hpp): runs once per handshake after the library's
/// own checks (and after a TLSSession's verify_callback), with the peer's chain (leaf first)
/// and the connection. To refuse, throw (any exception: the handshake fails with it, and the peer gets a
/// fatal bad_certificate alert) or call connection.send_alert() with a fatal alert of your
/// choice (the handshake then fails with the TLSError that send_alert leaves). A callback
/// taking `const Connection&` still fits.
using ConnectionVerifyCallback = std::function<void(const std::vector<Certificate>& chain, Connection& connection)>;

/// One TLS connection, sans-IO: wire bytes in and out through the caller's transport. Made by ClientTLS::start or
/// ServerTLS::accept; move-only.
class TLSOCK_API Connection {
 public:
  /// Moves the connection; the moved-from one must not be used.
  Connection(Connection&&) noexcept;
  /// Moves the connection; the moved-from one must not be used.
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Feeds TLS bytes from the peer; returns the application data they completed (possibly
  /// empty). Partial records are kept for the next call. Raises TLSAlertError for a received
  /// alert, BadTLSDataError for bytes that are not TLS, TLSGracefulDisconnectError once the
  /// peer's close_notify has been read (after returning the data before it).
  [[nodiscard]] std::string data_from_wire(std::string_view bytes);
  /// The transport reached EOF. Raises TLSDisconnectError ("The remote end closed the
  /// connection") unless the peer had sent close_notify: truncation is never a clean end.
  void wire_eof();
  /// Encrypts and passes to write_to_wire; before the handshake completes, data is queued.
  void data_from_application(std::string_view bytes);
  /// Sends an alert. level defaults to the one the specification prescribes; an alert
  /// without one (e.g. bad_certificate) needs it, and a level the specification forbids
  /// raises InvalidAlertLevel. A fatal alert invalidates the connection.
  void send_alert(Alert alert, std::optional<AlertLevel> level = std::nullopt);
  /// Sends close_notify: no more application data from this side. Before the handshake is
  /// complete it is queued: it follows the handshake and the data queued for after it, and
  /// is_closed_for_writing() is true at once.
  void application_finished();

  /// True once the handshake has completed.
  [[nodiscard]] bool is_handshake_complete() const noexcept;
  /// True while more wire bytes are needed to progress (handshake, or a partial record).
  [[nodiscard]] bool wants_wire_data() const noexcept;
  /// Decrypted bytes or whole records held back because the caller has not asked yet.
  [[nodiscard]] bool has_pending_plaintext() const noexcept;
  [[nodiscard]] bool is_closed_for_reading() const noexcept;  ///< peer's close_notify, EOF or failure
  [[nodiscard]] bool is_closed_for_writing() const noexcept;  ///< our close_notify or failure
  /// True after a fatal error: every later call rethrows it.
  [[nodiscard]] bool is_invalidated() const noexcept;

  /// True for a connection made by ServerTLS.
  [[nodiscard]] bool is_server() const noexcept;
  /// What the handshake established (empty until it completes).
  [[nodiscard]] const ConnectionInfo& info() const noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;
  TLSOCK_HIDDEN explicit Connection(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// The client role: one ClientTLS per server name, any number of connections. A value with
/// no empty state: moving one copies it, so a moved-from ClientTLS still works.
class TLSOCK_API ClientTLS {
 public:
  /// A client for server_hostname (verified against the certificate, sent as SNI unless an IP literal); session
  /// defaults to a new TLSSession.
  explicit ClientTLS(std::string server_hostname, std::shared_ptr<TLSSession> session = nullptr,
                     std::uint16_t port = 443);
  /// Copies share the session.
  ClientTLS(const ClientTLS&) = default;
  /// Copies share the session.
  ClientTLS& operator=(const ClientTLS&) = default;
  /// Starts a handshake: the ClientHello reaches write_to_wire before this returns.
  [[nodiscard]] Connection start(WriteToWire write_to_wire, WireClose wire_close = {},
                                 ConnectionVerifyCallback verify_callback = {}) const;
  /// The server name given to the constructor.
  [[nodiscard]] const std::string& server_hostname() const noexcept { return hostname_; }

 private:
  std::string hostname_;
  std::shared_ptr<TLSSession> session_;
  std::uint16_t port_;
};

}  // namespace tlsock
