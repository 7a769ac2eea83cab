// TLSListener: a listening socket that hands out server-role TLSSockets.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"
#include "tlsock/server.hpp"
#include "tlsock/socket.hpp"
#include "tlsock/types.hpp"

namespace tlsock {

/// A listening TCP socket whose accept() returns server-role TLSSockets with the handshake
/// done. Handshakes run concurrently inside accept(): a client that stalls holds up nobody,
/// and is dropped after the server's handshake_timeout.
class TLSOCK_API TLSListener {
 public:
  /// address: "127.0.0.1", "::1", "0.0.0.0", ...; port 0 picks a free one (see port()).
  TLSListener(std::string_view address, std::uint16_t port, std::shared_ptr<const ServerTLS> server);
  /// Moves the listener; the moved-from one must not be used.
  TLSListener(TLSListener&&) noexcept;
  /// Moves the listener; the moved-from one must not be used.
  TLSListener& operator=(TLSListener&&) noexcept;
  ~TLSListener();

  /// The next client whose handshake succeeded; tlsock::TimeoutError past timeout. Clients
  /// whose handshake fails are dropped (see on_handshake_error).
  [[nodiscard]] TLSSocket accept(Timeout timeout = std::nullopt);
  /// Called with each failed handshake's error (default: none).
  void on_handshake_error(std::function<void(const std::exception& error)> handler);
  /// With this handler set, a client whose first byte is an ASCII letter (clear text, plain
  /// HTTP most likely, not TLS) gets what the handler returns for the first bytes received, in
  /// the clear (an HTTP server's "400: this is an HTTPS port"; as much as the socket takes at
  /// once), is dropped and is reported to on_handshake_error as PlaintextRequestError. Without
  /// it, such a client gets the alert unexpected_message and BadTLSDataError, as any bad record.
  void on_plaintext(std::function<std::string(std::string_view first_bytes)> reply);
  /// The port it listens on (the one picked, when 0 was asked for).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// The listening socket, still owned by the listener.
  [[nodiscard]] NativeSocket socket() const noexcept;
  /// Stops listening and drops handshakes in progress. May be called from another thread while
  /// accept() waits: that accept() then ends at once with TLSDisconnectError("accept on
  /// ADDRESS:PORT ended: the listener was closed"), and close() returns once it has.
  void close() noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock
