// Cipher-suite lists for mbedtls_ssl_conf_ciphersuites (backend-internal).
#pragma once

#include "internal.hpp"

#include <string>
#include <vector>

namespace tlsock::backend {

// Zero-terminated mbedTLS ids for IANA names (empty: tlsock's defaults). Throws
// std::invalid_argument for unknown or insecure names.
[[nodiscard]] std::vector<int> suite_ids(const std::vector<std::string>& iana_names);

}  // namespace tlsock::backend
