// Cipher-suite lists for mbedtls_ssl_conf_ciphersuites (backend-internal).
#pragma once

#include "internal.hpp"

#include <string>
#include <vector>

namespace tlsock::backend {

// Whose defaults an empty list means: a client's (widest: it must reach old servers), a
// server's (forward-secret AEAD only), or a server's with DH parameters (plus DHE-RSA AEAD).
enum class SuiteDefaults { client, server, server_with_dhe };

// Zero-terminated mbedTLS ids for IANA names (empty: the defaults named). Throws
// std::invalid_argument for unknown or insecure names.
[[nodiscard]] std::vector<int> suite_ids(const std::vector<std::string>& iana_names, SuiteDefaults defaults);

}  // namespace tlsock::backend
