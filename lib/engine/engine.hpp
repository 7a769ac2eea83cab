// The sans-IO TLS engine: the library's one TLS state machine, for both roles. Wire bytes go
// in (receive_space/received), wire bytes come out (outgoing/sent), plaintext is read and
// written in between. It never touches a socket: engine::Driver (driver.hpp) drives it, for
// TLSSocket, TLSListener and the public Connection alike.
//
// Errors are sticky: after the first fatal error every call rethrows it, while outgoing()
// still yields the alert that the error queued, so the driver can flush it.
#pragma once

#include "internal.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "access.hpp"
#include "backend/backend.hpp"
#include "engine/session_cache.hpp"
#include "engine/transcript.hpp"
#include "tlsock/alert.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/info.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/server.hpp"
#include "tlsock/session.hpp"

namespace tlsock {
// ServerTLS's shared state: the options and the backend config built from them once.
struct ServerTLS::Impl {
  ServerOptions options;
  std::shared_ptr<const backend::Config> config;
};
using ServerContext = detail::Access::Impl<ServerTLS>;
}  // namespace tlsock

namespace tlsock::engine {

enum class Role { client, server };

// What the handshake established (the public tlsock::ConnectionInfo), captured once when it
// completes.
using tlsock::ConnectionInfo;

class Engine {
 public:
  // A client. hostname: verified against the certificate; sent as SNI unless an IP literal.
  // port: with hostname, the key of the session's resumption cache.
  Engine(std::shared_ptr<TLSSession> session, std::string hostname, std::uint16_t port);
  // A server.
  explicit Engine(std::shared_ptr<const ServerContext> server);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  [[nodiscard]] Role role() const noexcept { return role_; }
  void set_verify_callback(VerifyCallback callback) { verify_callback_ = std::move(callback); }

  // Wire input. The driver writes into receive_space(), then reports how much it wrote.
  // An empty span means the engine holds enough input to make progress first.
  [[nodiscard]] std::span<char> receive_space();
  void received(std::size_t size);
  // Copies bytes in (for drivers that have them in hand).
  void receive(std::string_view bytes);
  // The transport reached EOF.
  void receive_eof();
  // The transport reached EOF and the driver wants the verdict now: fails (sticky) with
  // TLSDisconnectError unless the peer's close_notify came first.
  void finish_eof();
  [[nodiscard]] bool eof_received() const noexcept { return eof_; }

  // Wire output.
  [[nodiscard]] std::string_view outgoing() const noexcept { return tls_.output(); }
  void sent(std::size_t size) noexcept;

  // Advances the handshake. True when it is complete; false when it needs wire input.
  [[nodiscard]] bool handshake();
  [[nodiscard]] bool is_handshake_complete() const noexcept { return complete_; }

  // Decrypts up to size bytes into data. 0 means it needs wire input. Throws
  // TLSGracefulDisconnectError after close_notify, TLSDisconnectError at EOF without it.
  // source (optional): once the handshake is complete, wire input beyond what was received
  // goes from it straight to the backend (see backend::Tls::read); its EOF counts as
  // receive_eof(), and what it throws passes through, leaving the engine as it was.
  [[nodiscard]] std::size_t read(char* data, std::size_t size, backend::Source* source = nullptr);
  // Encrypts a prefix of data (at most one record's worth) into outgoing(); returns its size.
  [[nodiscard]] std::size_t write(std::string_view data);
  // Queues close_notify (once).
  void close_notify();
  // Queues an alert; a fatal one fails the engine (InvalidatedError-worthy from then on).
  void send_alert(Alert alert, AlertLevel level);

  // True when read() can make progress without more wire input.
  [[nodiscard]] bool readable_without_wire() const noexcept;
  // A TLS 1.3 client that keeps sessions and has read neither a NewSessionTicket nor any data
  // on this connection: servers send their tickets right after the handshake, before any
  // data, so one is likely on its way (drivers take it in before closing, see TLSSocket).
  [[nodiscard]] bool awaiting_ticket() const noexcept;
  [[nodiscard]] bool peer_closed() const noexcept { return peer_closed_; }
  [[nodiscard]] bool close_notify_sent() const noexcept { return close_notify_sent_; }
  [[nodiscard]] bool failed() const noexcept { return static_cast<bool>(error_); }
  [[nodiscard]] const std::exception_ptr& error() const noexcept { return error_; }
  [[nodiscard]] const ConnectionInfo& info() const noexcept { return info_; }
  // The transport's peer, for info() (before the handshake).
  void set_peer_address(std::string address) { info_.peer_address = std::move(address); }

 private:
  [[noreturn]] void fail(std::exception_ptr error);
  void rethrow_if_failed() const;
  [[noreturn]] void handshake_failed(backend::Status status, std::size_t queued);
  [[nodiscard]] std::exception_ptr make_error(const std::string& message);
  // A client's "client authentication required", also a ClientAuthRequest (make_error's classes).
  [[nodiscard]] std::exception_ptr client_auth_required();
  // A BadTLSDataError, after sending the fatal alert (unless one went out already).
  [[nodiscard]] std::exception_ptr bad_data(const std::string& message, Alert alert);
  void fatal_alert_once(Alert alert);
  [[nodiscard]] std::exception_ptr verification_error() const;
  void refuse_inappropriate_fallback();
  void refuse_unsupported_versions();
  void refuse_forbidden_input();
  [[nodiscard]] std::size_t client_bytes_read() const noexcept;
  void hold_handshake(std::string_view bytes);
  void give_pending(std::string& ready, std::size_t size);
  void give_to_backend(std::string_view bytes);
  [[noreturn]] void refuse_resumption_without_ems(std::size_t queued);
  void capture_info();
  void on_new_ticket();
  void store_session(bool single_use);
  void finish_handshake();
  void sniff_outgoing();
  [[nodiscard]] static std::shared_ptr<const backend::Config> config_of(const std::shared_ptr<TLSSession>& session);

  Role role_;
  std::shared_ptr<TLSSession> session_;          // client
  std::shared_ptr<const ServerContext> server_;  // server
  std::string hostname_;
  std::string cache_key_;
  std::optional<CachedSession> offered_;
  std::vector<Certificate> peer_chain_;  // as reported, kept for caching later sessions
  backend::Tls tls_;
  Transcript transcript_;
  VerifyCallback verify_callback_;
  std::size_t outgoing_sniffed_ = 0;
  // Server, while the client's handshake is in plaintext (see hold_handshake): the wire bytes
  // of its records not yet parsed, and the handshake bytes of those parsed but not yet given to
  // mbedTLS (a message not yet whole) with the type and version of the record they began in.
  bool holding_ = true;
  std::string held_;
  std::string pending_;
  std::string pending_head_;
  std::size_t given_total_ = 0;  // bytes given to mbedTLS so far
  // The client's wire bytes minus what mbedTLS was given for them: the record headers that
  // joining fragments dropped, less those that splitting records added.
  std::ptrdiff_t reframed_ = 0;
  char* receive_at_ = nullptr;
  ConnectionInfo info_;
  std::exception_ptr error_;
  bool complete_ = false;
  bool peer_closed_ = false;
  bool close_notify_sent_ = false;
  bool eof_ = false;
  bool ticket_received_ = false;  // a NewSessionTicket arrived on this connection
  bool data_received_ = false;    // application data arrived on this connection
  // Server, TLS 1.3, ClientAuth::required: mbedTLS checked the client's certificate as
  // optional, and finish_handshake refuses (see handshake()).
  bool client_refused_after_handshake_ = false;
};

}  // namespace tlsock::engine
