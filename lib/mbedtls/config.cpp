// Config: one mbedtls_ssl_config per client policy, and the process-wide OS trust roots.
#include <mutex>
#include <stdexcept>

#include "mbedtls/config_impl.hpp"
#include "mbedtls/suites.hpp"
#include "trust/trust.hpp"

namespace tlsock::mbed {
namespace {

// The OS trust roots, parsed once per process on first need and never freed (they are
// linked into every verifying config).
mbedtls_x509_crt* os_roots() {
  static mbedtls_x509_crt* roots = [] {
    auto* crt = new mbedtls_x509_crt;
    mbedtls_x509_crt_init(crt);
    for (const trust::TrustSource& source : trust::os_trust_sources()) {
      switch (source.kind) {
        case trust::TrustSource::Kind::pem_bundle:
          // A positive result counts certificates that failed to parse; the rest are kept.
          mbedtls_x509_crt_parse_file(crt, source.path.string().c_str());
          break;
        case trust::TrustSource::Kind::directory:
          for (const auto& file : trust::certificate_files_in(source.path))
            mbedtls_x509_crt_parse_file(crt, file.string().c_str());
          break;
        case trust::TrustSource::Kind::der_blobs:
          for (const std::string& der : source.der)
            mbedtls_x509_crt_parse_der(crt, reinterpret_cast<const unsigned char*>(der.data()), der.size());
          break;
      }
    }
    return crt;
  }();
  return roots;
}

int minor_of(Protocol p) {
  switch (p) {
    case Protocol::TLSv1: return 1;
    case Protocol::TLSv1_1: return 2;
    case Protocol::TLSv1_2: return 3;
    case Protocol::TLSv1_3: return 4;
  }
  return 3;
}

std::string names(const ProtocolSet& set) {
  std::string out;
  for (Protocol p : set) out += (out.empty() ? "" : ", ") + std::string(to_string(p));
  return out;
}

void set_protocols(mbedtls_ssl_config& conf, const ProtocolSet& protocols) {
  if (protocols.empty()) throw std::invalid_argument("protocols: at least one protocol is required");
  ProtocolSet supported = supported_protocols();
  for (Protocol p : protocols)
    if (!supported.contains(p))
      throw std::invalid_argument("protocols: " + std::string(to_string(p)) + " is not supported by the linked " +
                                  std::string(compat::version_text()) + " (supported: " + names(supported) + ")");
  int low = minor_of(*protocols.begin());
  int high = minor_of(*protocols.rbegin());
  // mbedTLS negotiates a range; a set with a hole would silently allow the missing version.
  if (high - low + 1 != static_cast<int>(protocols.size()))
    throw std::invalid_argument("protocols: " + names(protocols) + " is not a contiguous range of versions");
  compat::set_version_bounds(&conf, low, high);
}

}  // namespace

Config::Config(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Config::~Config() = default;
bool Config::manual_validation() const noexcept { return impl_->manual_validation; }

std::shared_ptr<const Config> Config::client(const ClientPolicy& policy) {
  auto impl = std::make_unique<Impl>();
  mbedtls_ssl_config& conf = impl->conf;
  check(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT),
        "TLS configuration");
  mbedtls_ssl_conf_rng(&conf, random, nullptr);
  set_protocols(conf, policy.protocols);

  if (policy.minimum_dh_bits < 512 || policy.minimum_dh_bits > 16384)
    throw std::invalid_argument("minimum_dh_bits: must be between 512 and 16384, not " +
                                std::to_string(policy.minimum_dh_bits));
#if defined(MBEDTLS_DHM_C) && defined(MBEDTLS_SSL_CLI_C)
  mbedtls_ssl_conf_dhm_min_bitlen(&conf, policy.minimum_dh_bits);
#endif

  impl->suites = suite_ids(policy.cipher_suites);
  mbedtls_ssl_conf_ciphersuites(&conf, impl->suites.data());

  for (const std::string& protocol : policy.alpn) {
    if (protocol.empty() || protocol.size() > 255)
      throw std::invalid_argument("alpn_protocols: each name must be 1 to 255 bytes, not \"" + protocol + "\"");
    if (protocol.find('\0') != std::string::npos)
      throw std::invalid_argument("alpn_protocols: names must not contain NUL bytes");
  }
  if (!policy.alpn.empty()) {
    impl->alpn = policy.alpn;
    for (const std::string& p : impl->alpn) impl->alpn_pointers.push_back(p.c_str());
    impl->alpn_pointers.push_back(nullptr);
    check(mbedtls_ssl_conf_alpn_protocols(&conf, impl->alpn_pointers.data()), "alpn_protocols");
  }

#if TLSOCK_HAS_SESSION_TICKETS
  mbedtls_ssl_conf_session_tickets(&conf, policy.session_tickets ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                                 : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif

  impl->manual_validation = policy.manual_validation;
  if (policy.manual_validation) {
    // Nothing to verify against: do not even load the OS roots.
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  } else {
    for (const Certificate& root : policy.extra_roots)
      check(mbedtls_x509_crt_parse_der(&impl->extra_roots, reinterpret_cast<const unsigned char*>(root.der().data()),
                                       root.der().size()),
            "extra_trust_roots");
    mbedtls_x509_crt* chain = os_roots();
    if (!policy.extra_roots.empty()) {
      mbedtls_x509_crt* tail = &impl->extra_roots;
      while (tail->next != nullptr) tail = tail->next;
      if (chain->raw.p != nullptr) {
        tail->next = chain;
        impl->linked_tail = tail;
      }
      chain = &impl->extra_roots;
    }
    mbedtls_ssl_conf_ca_chain(&conf, chain, nullptr);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  }
  return std::make_shared<const Config>(std::move(impl));
}

}  // namespace tlsock::mbed
