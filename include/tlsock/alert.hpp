// TLS alerts: descriptions with their wire values (RFC 8446 section 6, RFC 5246 7.2) and levels.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "tlsock/export.hpp"

namespace tlsock {

enum class AlertLevel : std::uint8_t { warning = 1, fatal = 2 };

enum class Alert : std::uint8_t {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  handshake_failure = 40,
  bad_certificate = 42,
  unsupported_certificate = 43,
  certificate_revoked = 44,
  certificate_expired = 45,
  certificate_unknown = 46,
  illegal_parameter = 47,
  unknown_ca = 48,
  access_denied = 49,
  decode_error = 50,
  decrypt_error = 51,
  protocol_version = 70,
  insufficient_security = 71,
  internal_error = 80,
  inappropriate_fallback = 86,
  user_canceled = 90,
  no_renegotiation = 100,
  missing_extension = 109,
  unsupported_extension = 110,
  unrecognized_name = 112,
  bad_certificate_status_response = 113,
  unknown_psk_identity = 115,
  certificate_required = 116,
  no_application_protocol = 120,
};

/// "bad_record_mac"; "unknown" for values outside the enum.
[[nodiscard]] TLSOCK_API std::string_view to_string(Alert alert) noexcept;
[[nodiscard]] TLSOCK_API std::string_view to_string(AlertLevel level) noexcept;

/// The level the specifications prescribe for an alert: warning for close_notify and
/// user_canceled, fatal for the rest; std::nullopt where TLS 1.2 allowed either and the
/// caller must choose (no_renegotiation, unsupported_certificate...).
[[nodiscard]] TLSOCK_API std::optional<AlertLevel> prescribed_level(Alert alert) noexcept;

}  // namespace tlsock
