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

[[nodiscard]] TLSVerificationError hostname_mismatch(const Certificate& certificate, std::string_view host);
// "certificate expired <date>" or "certificate not valid until <date>", judged against now.
[[nodiscard]] TLSVerificationError expired_or_not_yet_valid(const Certificate& certificate);
[[nodiscard]] TLSVerificationError self_signed(const Certificate& certificate);
[[nodiscard]] TLSVerificationError no_issuer(const Certificate& certificate);
[[nodiscard]] TLSVerificationError weak_signature(const Certificate& certificate);
[[nodiscard]] TLSVerificationError verification_failed(std::optional<Certificate> certificate);

[[nodiscard]] TLSError client_auth_required();
[[nodiscard]] TLSError weak_dh_parameters();
[[nodiscard]] TLSError protocol_version();
[[nodiscard]] TLSError handshake_failed();
// other_protocol: "HTTP", "FTP", ... or empty for "a different protocol".
[[nodiscard]] TLSError protocol_error(std::string_view other_protocol);

// Which plain-text protocol a server answered with, judged by its first bytes ("" if none).
[[nodiscard]] std::string detect_other_protocol(std::string_view server_bytes);

}  // namespace tlsock::messages
