// TCPStream: a plain TCP connection with TLSSocket's deadlines and reads, for the protocols
// that talk in plain text before TLS starts (STARTTLS, HTTP CONNECT proxies) and for plain
// peers generally.
//
//   tlsock::TCPStream smtp = tlsock::TCPStream::connect("mail.example.com", 587);
//   std::string greeting = smtp.read_line();              // "220 mail.example.com ESMTP\r\n"
//   smtp.write("STARTTLS\r\n");
//   ...
//   tlsock::TLSSocket tls = tlsock::TLSSocket::wrap(std::move(smtp), "mail.example.com");
//
// Every blocking call is bounded by the stream's timeout (one deadline per call); past it,
// tlsock::TimeoutError. The end of the stream (the peer closed, or reset, the connection) is
// TLSDisconnectError("The remote end closed the connection"), as on a TLSSocket; bytes that
// arrived before it stay readable. read_line and read_until read ahead into a buffer (at most
// max_buffered_bytes, 4 MiB unless set_max_buffered_bytes says otherwise); TLSSocket::wrap
// refuses a stream whose buffer still holds bytes (see there).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"
#include "tlsock/types.hpp"

namespace tlsock {

/// A plain, blocking TCP connection with TLSSocket's timeouts, for the plain-text part of a protocol before TLS;
/// move-only.
class TLSOCK_API TCPStream {
 public:
  /// Resolves address (IPv4 and IPv6; "[::1]" as in URLs too), tries every address in order
  /// and returns the first connection made, all within timeout. Throws std::invalid_argument
  /// (bad address, port 0, negative or NaN timeout), std::system_error ("resolve host:port
  /// failed: ...", "connect to host:port (address) failed: ..."), tlsock::TimeoutError.
  [[nodiscard]] static TCPStream connect(std::string_view address, std::uint16_t port,
                                         Timeout timeout = std::chrono::seconds(10));
  /// Takes over a connected stream socket (closed on failure too), as TLSSocket::wrap does.
  [[nodiscard]] static TCPStream adopt(NativeSocket socket, Timeout timeout = std::chrono::seconds(10));

  /// Moves the stream; the moved-from one must not be used.
  TCPStream(TCPStream&&) noexcept;
  /// Moves the stream; the moved-from one must not be used.
  TCPStream& operator=(TCPStream&&) noexcept;
  TCPStream(const TCPStream&) = delete;
  TCPStream& operator=(const TCPStream&) = delete;
  ~TCPStream();  ///< closes the socket unless released

  /// Up to max_length bytes (at least 1); blocks until at least one is available.
  [[nodiscard]] std::string read(std::size_t max_length);
  /// Reads into buffer (not empty); returns the bytes read, at least one.
  [[nodiscard]] std::size_t read_into(std::span<char> buffer);
  /// One line, with its ending ("\r\n", "\r" or "\n") kept.
  [[nodiscard]] std::string read_line();
  /// Everything up to and including marker (not empty).
  [[nodiscard]] std::string read_until(std::string_view marker);
  /// Exactly num_bytes; a connection that ends sooner raises and returns nothing (the bytes
  /// stay buffered).
  [[nodiscard]] std::string read_exactly(std::size_t num_bytes);
  /// True when read() would return without waiting, or data (or the end) arrives within timeout.
  [[nodiscard]] bool select_read(Timeout timeout = std::nullopt);
  /// Sends all of data.
  void write(std::string_view data);
  /// Waits until a write can proceed, at most timeout (nullopt: no limit); false when the time ran out.
  [[nodiscard]] bool select_write(Timeout timeout = std::nullopt);

  /// Stops writing (a FIN: the peer reads the end of the stream); reading goes on.
  void shutdown();
  /// Closes the socket. Safe to call twice.
  void close() noexcept;
  /// Gives the socket up without closing it: the caller owns it (in non-blocking mode). Throws
  /// std::logic_error while bytes read ahead are buffered, since they would be lost.
  [[nodiscard]] NativeSocket release();

  /// The timeout applied to each later call (read, write, ...).
  void set_timeout(Timeout timeout);
  /// The timeout each call is bounded by.
  [[nodiscard]] Timeout timeout() const noexcept;
  /// read_line/read_until give up (std::runtime_error) past this many buffered bytes without a
  /// match (at least 1).
  void set_max_buffered_bytes(std::size_t limit);
  /// Bytes received but not read yet.
  [[nodiscard]] std::size_t buffered() const noexcept;
  /// The peer as "127.0.0.1:443" or "[::1]:443" ("" if unknown).
  [[nodiscard]] const std::string& peer_address() const noexcept;
  /// The descriptor; -1 (INVALID_SOCKET) once closed or released.
  [[nodiscard]] NativeSocket socket() const noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;
  TLSOCK_HIDDEN explicit TCPStream(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

/// Shuts socket down in both directions, from any thread: a read, read_line or select_read (of
/// a TCPStream or a TLSSocket) blocked on it in another thread returns at once, a read with
/// TLSDisconnectError. The descriptor stays open for its owner to close. Never throws.
TLSOCK_API void shutdown_socket(NativeSocket socket) noexcept;

}  // namespace tlsock
