// Cipher-suite lists for mbedtls_ssl_conf_ciphersuites (backend-internal).
#pragma once

#include "internal.hpp"

#include <string>
#include <vector>

namespace tlsock::backend {

// Whose defaults an empty list means: a client's (widest: it must reach old servers) or a
// server's (forward-secret AEAD only), which grows with what the server was asked for.
struct SuiteDefaults {
  bool server = false;
  bool dhe = false;              // DH parameters were given: DHE-RSA with AEAD after ECDHE
  bool legacy_versions = false;  // TLS 1.0 or 1.1 is enabled: they have no AEAD suite, so
                                 // ECDHE with CBC (SHA-1 HMAC) comes last
};

// Zero-terminated mbedTLS ids for IANA names (empty: the defaults named). Throws
// std::invalid_argument for unknown or insecure names.
[[nodiscard]] std::vector<int> suite_ids(const std::vector<std::string>& iana_names, SuiteDefaults defaults);

}  // namespace tlsock::backend
