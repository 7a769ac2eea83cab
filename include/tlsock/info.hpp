// ConnectionInfo: what a handshake established, captured once when it completes and then
// only read (TLSSocket::info(), Connection::info()).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/certificate.hpp"
#include "tlsock/export.hpp"
#include "tlsock/protocol.hpp"

namespace tlsock {

/// Whether a handshake resumed a session (by session ID or by ticket) or made a new one.
enum class SessionReuse { new_session, reused };
[[nodiscard]] TLSOCK_API std::string_view to_string(SessionReuse reuse);  ///< "new" / "reused"

/// Before the handshake completes every field is empty (protocol nullopt).
struct TLSOCK_API ConnectionInfo {
  /// The protocol agreed (nullopt before the handshake completes).
  std::optional<Protocol> protocol;
  std::string cipher_suite;  ///< IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
  /// Whether TLS compression is in use (never, with the mbedTLS lines tlsock supports).
  bool compression = false;
  /// nullopt: the mechanism was not used (no session ID, no ticket).
  std::optional<SessionReuse> session_id;
  /// A TLS 1.3 ticket that arrives after the handshake turns this to new_session.
  std::optional<SessionReuse> session_ticket;
  /// The peer's leaf (a client's only if it sent one) and the intermediates it sent.
  std::optional<Certificate> certificate;
  /// The intermediate certificates the peer sent after its leaf, as sent.
  std::vector<Certificate> intermediates;
  std::string alpn_protocol;  ///< the ALPN protocol agreed; empty when none
  std::string server_name;    ///< server: the SNI name the client sent ("" if none)
  std::string peer_address;   ///< "127.0.0.1:443" or "[::1]:443"; "" when unknown (a Connection)
};

}  // namespace tlsock
