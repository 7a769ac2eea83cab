// Every TLS error message of the library, in oscrypto's words, made in one place so that
// all code paths (and a future second backend) say exactly the same thing.
#pragma once

#include "internal.hpp"

#include <exception>
#include <string>
#include <string_view>

#include "tlsock/certificate.hpp"
#include "tlsock/errors.hpp"

namespace tlsock::messages {

inline constexpr std::string_view remote_closed = "The remote end closed the connection";
inline constexpr std::string_view already_closed = "The connection was already closed";

// A blocking call past its deadline: "<operation> <peer> timed out", e.g. "TLS handshake with
// 127.0.0.1:8443 timed out" (operation: handshake_with, "read from", "write to").
inline constexpr std::string_view handshake_with = "TLS handshake with";
[[nodiscard]] std::string timed_out(std::string_view operation, std::string_view peer);

// Whose certificate failed: "Server certificate verification failed - ..." on a client,
// "Client certificate verification failed - ..." on a server.
enum class Peer { server, client };

[[nodiscard]] TLSVerificationError hostname_mismatch(const Certificate& certificate, std::string_view host);
// "certificate expired <date>" or "certificate not valid until <date>", judged against now.
[[nodiscard]] TLSVerificationError expired_or_not_yet_valid(const Certificate& certificate, Peer peer = Peer::server);
[[nodiscard]] TLSVerificationError self_signed(const Certificate& certificate, Peer peer = Peer::server);
[[nodiscard]] TLSVerificationError no_issuer(const Certificate& certificate, Peer peer = Peer::server);
[[nodiscard]] TLSVerificationError weak_signature(const Certificate& certificate, Peer peer = Peer::server);
[[nodiscard]] TLSVerificationError verification_failed(std::optional<Certificate> certificate,
                                                       Peer peer = Peer::server);

inline constexpr std::string_view client_auth_required = "TLS handshake failed - client authentication required";
inline constexpr std::string_view weak_dh_parameters = "TLS handshake failed - weak DH parameters";
inline constexpr std::string_view protocol_version = "TLS handshake failed - protocol version error";
inline constexpr std::string_view handshake_failed = "TLS handshake failed";
inline constexpr std::string_view resumption_without_ems =
    "TLS handshake failed - the client resumed a session without its extended master secret (RFC 7627)";
// Our server refused what the client sent: "TLS handshake failed - the client sent <what>".
[[nodiscard]] std::string client_sent_forbidden(std::string_view what);
inline constexpr std::string_view invalid_key_share =
    "an ECDHE public key that is not a point on the curve (RFC 8422 5.11)";
inline constexpr std::string_view inappropriate_fallback =
    "TLS_FALLBACK_SCSV with a version below this server's highest: a downgrade (RFC 7507)";
inline constexpr std::string_view malformed_key_exchange =
    "a malformed ClientKeyExchange: its lengths do not add up (RFC 8422 5.7)";
// other_protocol: "HTTP", "FTP", ... or empty for "a different protocol".
[[nodiscard]] std::string protocol_error(std::string_view other_protocol);
// A client that does not speak TLS to our server.
[[nodiscard]] std::string client_protocol_error(std::string_view client_bytes);
// After the handshake: "TLS connection failed - <detail>".
[[nodiscard]] std::string connection_failed(std::string_view detail);
// The peer sent a TLS 1.3 KeyUpdate, which backend ("mbed TLS 3.6.6") cannot process.
[[nodiscard]] std::string key_update_unsupported(std::string_view backend);

// Which plain-text protocol a server answered with, judged by its first bytes ("" if none).
[[nodiscard]] std::string detect_other_protocol(std::string_view server_bytes);

}  // namespace tlsock::messages
