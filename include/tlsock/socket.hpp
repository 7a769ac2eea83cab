// TLSSocket: a blocking TLS client socket with the semantics of oscrypto.tls.TLSSocket.
//
//   tlsock::TLSSocket s("example.com", 443);
//   s.write("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
//   std::string status = s.read_line();
//
// Every blocking call is bounded by the socket's timeout (one deadline per call); past it,
// tlsock::TimeoutError. A peer's close_notify is reported, after its data, as
// TLSGracefulDisconnectError; a TCP close without it as TLSDisconnectError. Errors are sticky
// as in oscrypto: every call after a TLS failure rethrows the first error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/certificate.hpp"
#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"
#include "tlsock/info.hpp"
#include "tlsock/session.hpp"
#include "tlsock/types.hpp"

namespace tlsock {

class ServerTLS;
class TCPStream;

/// A connected TCP socket (address resolved, every address tried, within timeout), for
/// protocols that talk in plain text before TLS (STARTTLS, HTTP CONNECT proxies): talk, then
/// hand it to TLSSocket::wrap. The caller owns it until then. It is in blocking mode, as a
/// socket the caller made would be (close-on-exec, TCP_NODELAY, no SIGPIPE where the OS allows).
[[nodiscard]] TLSOCK_API NativeSocket connect_tcp(std::string_view address, std::uint16_t port,
                                                  Timeout timeout = std::chrono::seconds(10));

/// A blocking TLS socket, client or server, with oscrypto's TLSSocket semantics (see the top of this file); move-only.
class TLSOCK_API TLSSocket {
 public:
  /// Resolves address (IPv4 and IPv6, each address tried in order), connects and handshakes,
  /// all within timeout. session defaults to a new TLSSession with oscrypto's defaults.
  TLSSocket(std::string_view address, std::uint16_t port, Timeout timeout = std::chrono::seconds(10),
            std::shared_ptr<TLSSession> session = nullptr);
  /// Adds TLS to a connected socket and takes ownership of it (closed on failure too); the
  /// socket may be blocking or not (it is made non-blocking, which the TLSSocket needs).
  /// hostname is verified against the certificate and sent as SNI (unless an IP literal).
  [[nodiscard]] static TLSSocket wrap(NativeSocket socket, std::string_view hostname,
                                      std::shared_ptr<TLSSession> session = nullptr,
                                      Timeout timeout = std::chrono::seconds(10));

  /// Adds TLS to a TCPStream after its plain-text part (STARTTLS, a proxy's CONNECT) and takes
  /// it over. A stream holding bytes it read ahead is refused and closed (TLSError "TLS protocol
  /// error - ..."): a TLS server sends nothing before the ClientHello, so such bytes were injected.
  [[nodiscard]] static TLSSocket wrap(TCPStream&& stream, std::string_view hostname,
                                      std::shared_ptr<TLSSession> session = nullptr,
                                      Timeout timeout = std::chrono::seconds(10));

  /// The server side of a connection accepted elsewhere (takes ownership). With
  /// do_handshake = false the handshake waits for do_handshake() or the first read/write.
  /// The handshake is bounded by the server's handshake_timeout; later calls by timeout.
  [[nodiscard]] static TLSSocket wrap_server(NativeSocket socket, const std::shared_ptr<const ServerTLS>& server,
                                             bool do_handshake = true, Timeout timeout = std::chrono::seconds(10));

  /// Moves the socket; the moved-from one must not be used.
  TLSSocket(TLSSocket&&) noexcept;
  /// Moves the socket; the moved-from one must not be used.
  TLSSocket& operator=(TLSSocket&&) noexcept;
  TLSSocket(const TLSSocket&) = delete;
  TLSSocket& operator=(const TLSSocket&) = delete;
  ~TLSSocket();

  /// Completes the handshake now (a no-op once done). Reads and writes do it implicitly.
  void do_handshake();

  /// Up to max_length bytes; blocks until at least one is available.
  [[nodiscard]] std::string read(std::size_t max_length);
  /// read() into the caller's buffer, without allocating: up to buffer.size() bytes (at least
  /// one); returns how many.
  [[nodiscard]] std::size_t read_into(std::span<char> buffer);
  /// One line, with its ending ("\r\n", "\r" or "\n") kept.
  [[nodiscard]] std::string read_line();
  /// Everything up to and including marker.
  /// (A regular expression as marker: tlsock/regex.hpp.)
  [[nodiscard]] std::string read_until(std::string_view marker);
  /// Exactly num_bytes; a connection that ends sooner raises and returns nothing.
  [[nodiscard]] std::string read_exactly(std::size_t num_bytes);
  /// True when read() would return without waiting on the network, or data arrives within timeout.
  [[nodiscard]] bool select_read(Timeout timeout = std::nullopt);
  /// Sends all of data.
  void write(std::string_view data);
  /// Waits until a write can proceed, at most timeout (nullopt: no limit); false when the time ran out.
  [[nodiscard]] bool select_write(Timeout timeout = std::nullopt);
  /// Sends close_notify, then shuts the socket down for writing.
  void shutdown();
  /// shutdown(), then closes the descriptor. Safe to call twice.
  void close();

  /// The timeout applied to each later call (read, write, ...).
  void set_timeout(Timeout timeout);
  /// The timeout each call is bounded by.
  [[nodiscard]] Timeout timeout() const noexcept;

  /// The host name given (verified and sent as SNI); on a server, empty.
  [[nodiscard]] const std::string& hostname() const noexcept;
  /// The port given; on a server, the peer's port.
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// What the handshake established; the accessors below (oscrypto's names) read it.
  [[nodiscard]] const ConnectionInfo& info() const;
  /// The peer's leaf certificate and the intermediates it sent, as sent. On a server: the
  /// client's, and certificate() throws TLSError when the client sent none.
  [[nodiscard]] const Certificate& certificate() const;
  /// The intermediate certificates the peer sent after its leaf.
  [[nodiscard]] const std::vector<Certificate>& intermediates() const;
  [[nodiscard]] std::string_view protocol() const noexcept;      ///< "TLSv1.2"
  [[nodiscard]] std::string_view cipher_suite() const noexcept;  ///< IANA name
  /// Whether TLS compression is in use.
  [[nodiscard]] bool compression() const noexcept;
  /// Whether a session ID was new or reused (nullopt: not used).
  [[nodiscard]] std::optional<SessionReuse> session_id() const noexcept;
  /// Whether a session ticket was new or reused (nullopt: not used).
  [[nodiscard]] std::optional<SessionReuse> session_ticket() const noexcept;
  /// The ALPN protocol the server chose; empty when none.
  [[nodiscard]] std::string_view alpn_protocol() const noexcept;
  [[nodiscard]] const std::shared_ptr<TLSSession>& session() const noexcept;  ///< null on a server
  /// True for a socket on the server side.
  [[nodiscard]] bool is_server() const noexcept;
  /// Server: the name the client asked for with SNI ("" if none).
  [[nodiscard]] std::string_view server_name() const noexcept;
  /// The peer as "127.0.0.1:443" or "[::1]:443" ("" if unknown).
  [[nodiscard]] const std::string& peer_address() const noexcept;
  /// The descriptor; -1 (INVALID_SOCKET) once closed.
  [[nodiscard]] NativeSocket socket() const noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;
  TLSOCK_HIDDEN explicit TLSSocket(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock
