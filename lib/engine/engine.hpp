// The sans-IO TLS engine: the library's one TLS state machine. Wire bytes go in
// (receive_space/received), wire bytes come out (outgoing/sent), plaintext is read and
// written in between. It never touches a socket; TLSSocket drives it.
//
// Errors are sticky: after the first fatal error every call rethrows it, while outgoing()
// still yields the alert that the error queued, so the driver can flush it.
#pragma once

#include "internal.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session_cache.hpp"
#include "engine/transcript.hpp"
#include "mbedtls/backend.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/session.hpp"
#include "tlsock/socket.hpp"

namespace tlsock::engine {

// What the handshake established, captured once when it completes.
struct ConnectionInfo {
  Protocol protocol = Protocol::TLSv1_2;
  std::string cipher_suite;
  bool compression = false;
  std::optional<SessionReuse> session_id;
  std::optional<SessionReuse> session_ticket;
  std::optional<Certificate> certificate;   // the leaf
  std::vector<Certificate> intermediates;   // as the server sent them
  std::string alpn;
};

class ClientEngine {
 public:
  // hostname: verified against the certificate; sent as SNI unless an IP literal.
  // port: with hostname, the key of the session's resumption cache.
  ClientEngine(std::shared_ptr<TLSSession> session, std::string hostname, std::uint16_t port);

  // Wire input. The driver writes into receive_space(), then reports how much it wrote.
  [[nodiscard]] std::span<char> receive_space();
  void received(std::size_t size);
  // The transport reached EOF.
  void receive_eof();

  // Wire output.
  [[nodiscard]] std::string_view outgoing() const noexcept { return tls_.output(); }
  void sent(std::size_t size) noexcept;

  // Advances the handshake. True when it is complete; false when it needs wire input.
  [[nodiscard]] bool handshake();
  [[nodiscard]] bool is_handshake_complete() const noexcept { return complete_; }

  // Decrypts up to size bytes into data. 0 means it needs wire input. Throws
  // TLSGracefulDisconnectError after close_notify, TLSDisconnectError at EOF without it.
  [[nodiscard]] std::size_t read(char* data, std::size_t size);
  // Encrypts a prefix of data (at most one record's worth) into outgoing(); returns its size.
  [[nodiscard]] std::size_t write(std::string_view data);
  // Queues close_notify.
  void close_notify();

  // True when read() can make progress without more wire input.
  [[nodiscard]] bool readable_without_wire() const noexcept;
  [[nodiscard]] bool peer_closed() const noexcept { return peer_closed_; }
  [[nodiscard]] const ConnectionInfo& info() const noexcept { return info_; }

 private:
  [[noreturn]] void fail(std::exception_ptr error);
  void rethrow_if_failed() const;
  [[noreturn]] void handshake_failed(mbed::Status status);
  [[nodiscard]] std::exception_ptr verification_error() const;
  void capture_info();
  void sniff_outgoing();

  std::shared_ptr<TLSSession> session_;
  std::string hostname_;
  std::string cache_key_;
  std::optional<CachedSession> offered_;
  mbed::Tls tls_;
  Transcript transcript_;
  std::size_t outgoing_sniffed_ = 0;
  char* receive_at_ = nullptr;
  ConnectionInfo info_;
  std::exception_ptr error_;
  bool complete_ = false;
  bool peer_closed_ = false;
  bool eof_ = false;
};

}  // namespace tlsock::engine
