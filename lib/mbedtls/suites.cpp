// Cipher suites and protocol versions as the linked mbedTLS knows them.
#include <algorithm>
#include <array>
#include <stdexcept>

#include "backend/backend.hpp"
#include "mbedtls/shared.hpp"
#include "mbedtls/suites.hpp"

namespace tlsock::backend {
namespace {

// Forward-secret AEAD suites first (ECDSA before RSA: cheaper handshakes on both ends),
// then forward-secret CBC for older servers, then static RSA as the last resort.
// Never RC4, DES, 3DES, NULL, anonymous or export suites.
constexpr std::array default_suite_names = {
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
};

// A server's defaults are stricter: it need not reach old servers, and every client of the
// last decade offers ECDHE with AEAD. Forward secrecy and AEAD only (no static RSA key
// exchange, no CBC, so no LUCKY13-style padding oracles), strongest first; mbedTLS's TLS 1.2
// server picks in this order, its TLS 1.3 server in the client's order among these.
constexpr std::array default_server_suite_names = {
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
};

// Finite-field DHE with AEAD, offered by a server after its ECDHE suites when it was given
// DH parameters (asking for DHE by giving its parameters).
constexpr std::array default_server_dhe_suite_names = {
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
};

// What a server that was asked to speak TLS 1.0 or 1.1 needs for those versions: forward-secret
// CBC suites, after every AEAD suite.
constexpr std::array default_server_legacy_suite_names = {
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
};

bool insecure(std::string_view iana) {
  for (std::string_view bad : {"RC4", "_DES", "3DES", "NULL", "anon", "EXPORT", "_MD5"})
    if (iana.find(bad) != std::string_view::npos) return true;
  return false;
}

}  // namespace

std::string iana_suite_name(std::string_view mbedtls_name) {
  std::string name(mbedtls_name);
  if (name.rfind("TLS1-3-", 0) == 0) name = "TLS-" + name.substr(7);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string suite_name(std::uint16_t id) {
  const mbedtls_ssl_ciphersuite_t* suite = mbedtls_ssl_ciphersuite_from_id(id);
  if (suite == nullptr) return {};
  return iana_suite_name(mbedtls_ssl_get_ciphersuite_name(id));
}

bool suite_uses_dhe(std::uint16_t id) { return suite_name(id).rfind("TLS_DHE_", 0) == 0; }

std::vector<int> suite_ids(const std::vector<std::string>& iana_names, SuiteDefaults defaults) {
  std::vector<int> ids;
  const auto add_known = [&ids](const auto& names) {
    for (const char* name : names)
      if (int id = compat::suite_id(name); id != 0) ids.push_back(id);
  };
  if (iana_names.empty() && !defaults.server) {
    add_known(default_suite_names);
  } else if (iana_names.empty()) {
    add_known(default_server_suite_names);
    if (defaults.dhe) add_known(default_server_dhe_suite_names);
    if (defaults.legacy_versions) add_known(default_server_legacy_suite_names);
  } else {
    for (const std::string& name : iana_names) {
      if (insecure(name)) throw std::invalid_argument("cipher_suites: " + name + " is insecure and not allowed");
      int id = compat::suite_id(name);
      if (id == 0)
        throw std::invalid_argument("cipher_suites: " + name + " is not a cipher suite the linked " +
                                    std::string(compat::version_text()) + " supports");
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  ids.push_back(0);  // mbedTLS wants a zero-terminated list
  return ids;
}

ProtocolSet supported_protocols() {
  ProtocolSet out;
  if (TLSOCK_HAS_TLS10) out.insert(Protocol::TLSv1);
  if (TLSOCK_HAS_TLS11) out.insert(Protocol::TLSv1_1);
#if defined(MBEDTLS_SSL_PROTO_TLS1_2)
  out.insert(Protocol::TLSv1_2);
#endif
  if (TLSOCK_HAS_TLS13) out.insert(Protocol::TLSv1_3);
  return out;
}

std::string_view version_text() { return compat::version_text(); }

}  // namespace tlsock::backend
