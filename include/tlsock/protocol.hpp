// TLS protocol versions: names as oscrypto spells them, and what the linked backend can do.
#pragma once

#include <set>
#include <string_view>

#include "tlsock/export.hpp"

namespace tlsock {

enum class Protocol { TLSv1, TLSv1_1, TLSv1_2, TLSv1_3 };

using ProtocolSet = std::set<Protocol>;

/// "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3".
[[nodiscard]] TLSOCK_API std::string_view to_string(Protocol protocol);

/// The inverse of to_string. Throws std::invalid_argument for unknown names, and says that
/// "SSLv2"/"SSLv3" are not supported at all.
[[nodiscard]] TLSOCK_API Protocol parse_protocol(std::string_view name);

/// What the linked mbedTLS can negotiate.
[[nodiscard]] TLSOCK_API ProtocolSet supported_protocols();

/// TLSv1.2 and TLSv1.3, where supported (RFC 8996: older versions only when asked for).
[[nodiscard]] TLSOCK_API ProtocolSet default_protocols();

}  // namespace tlsock
