// tlsock's session export: the versioned container that carries a TLSSession's cached
// sessions out of the process and back (TLSSession::export_sessions/import_sessions,
// save_sessions/load_sessions), around mbedTLS's own session serialization.
//
// Format version 1, integers big-endian:
//   magic      8    "tlsockSS"
//   version    2    1
//   backend    4    the mbedTLS version that serialized the sessions (0x03060600)
//   trust      1    bit 0: made by a TLSSession with manual_validation
//   roots      32   SHA-256 of that TLSSession's extra trust roots (see TLSSession)
//   count      4    number of entries, least recently stored first:
//     key      2+n  "host:port", the cache key
//     flags    1    bit 0: single use (a TLS 1.3 ticket)
//     expires  8    seconds since 1970-01-01 UTC, signed
//     session  4+n  mbedtls_ssl_session_save's bytes
//     chain    2    number of certificates, then each as 4+n DER, leaf first
//   digest     32   SHA-256 of everything before it
// The digest catches damage (a flipped bit, a cut copy) before mbedTLS parses anything: a
// damaged secret would otherwise fail the resumed handshake instead of being refused here.
// It is no authentication: whoever can write the file can change it.
#pragma once

#include "internal.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session_cache.hpp"

namespace tlsock::engine {

struct SessionExport {
  std::uint32_t backend = 0;  // backend::session_format() of the writer
  bool manual_validation = false;
  std::string roots_digest = std::string(32, '\0');
  std::vector<SessionCache::Stored> sessions;
};

[[nodiscard]] std::string encode(const SessionExport& sessions);

// The export in bytes. Throws std::invalid_argument with the reason (without an argument's
// name: the caller says which argument) when the bytes are not an export of format
// version 1 from the running mbedTLS version, are damaged, or hold an entry this build
// cannot use. Entries are parsed but not filtered: expired ones are still there.
// check_digest false is for the fuzzer only, to reach the parsers behind the digest.
[[nodiscard]] SessionExport decode(std::string_view bytes, bool check_digest = true);

}  // namespace tlsock::engine
