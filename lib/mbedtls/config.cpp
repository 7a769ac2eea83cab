// Config: one mbedtls_ssl_config per client policy, and the process-wide OS trust roots.
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_set>

#include "arguments.hpp"
#include "mbedtls/config_impl.hpp"
#include "mbedtls/suites.hpp"
#include "trust/trust.hpp"

namespace tlsock::backend {
namespace {

// Parses trust roots into one list, each certificate once. The sources overlap: where
// SSL_CERT_FILE and SSL_CERT_DIR are both set (as some environments do), the directory holds
// the bundle itself and every certificate of it again in a file of its own, and parsing them
// all would triple the work and the memory for nothing.
class RootLoader {
 public:
  explicit RootLoader(mbedtls_x509_crt* crt) : crt_(crt) {}

  void file(const std::filesystem::path& path) {
    std::string bytes;
    try {
      bytes = trust::read_file(path);
    } catch (const std::system_error&) {
      return;  // an unreadable file adds no roots, as before
    }
    const PemBlocks pem = certificate_pem_blocks(bytes);
    if (pem.blocks.empty() && !pem.unterminated) {
      der(bytes);
      return;
    }
    // An unterminated last block is dropped; the blocks before it are kept.
    for (const PemBlock& pem_block : pem.blocks) {
      std::string block(pem_block.block);
      if (!seen_.insert(block).second) continue;
      // A certificate that fails to parse is skipped; the rest are kept.
      (void)mbedtls_x509_crt_parse(crt_, reinterpret_cast<const unsigned char*>(block.c_str()), block.size() + 1);
    }
  }

  void der(const std::string& bytes) {
    if (!seen_.insert(bytes).second) return;
    (void)mbedtls_x509_crt_parse_der(crt_, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  }

 private:
  mbedtls_x509_crt* crt_;
  std::unordered_set<std::string> seen_;  // PEM blocks and DER certificates parsed so far
};

// The OS trust roots, parsed once per process on first need and never freed (they are
// linked into every verifying config).
mbedtls_x509_crt* os_roots() {
  static mbedtls_x509_crt* roots = [] {
    auto* crt = new mbedtls_x509_crt;
    mbedtls_x509_crt_init(crt);
    RootLoader loader(crt);
    for (const trust::TrustSource& source : trust::os_trust_sources()) {
      switch (source.kind) {
        case trust::TrustSource::Kind::pem_bundle:
          loader.file(source.path);
          break;
        case trust::TrustSource::Kind::directory:
          for (const auto& file : trust::certificate_files_in(source.path)) loader.file(file);
          break;
        case trust::TrustSource::Kind::der_blobs:
          for (const std::string& der : source.der) loader.der(der);
          break;
      }
    }
    return crt;
  }();
  return roots;
}

int minor_of(Protocol p) {
  switch (p) {
    case Protocol::TLSv1:
      return 1;
    case Protocol::TLSv1_1:
      return 2;
    case Protocol::TLSv1_2:
      return 3;
    case Protocol::TLSv1_3:
      return 4;
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

// What client and server configs share: protocols, suites, ALPN, randomness, key log.
void configure_common(Config::Impl& impl, int endpoint, const ProtocolSet& protocols,
                      const std::vector<std::string>& cipher_suites, SuiteDefaults suite_defaults,
                      const std::vector<std::string>& alpn, const std::string& key_log_file) {
  mbedtls_ssl_config& conf = impl.conf;
  check(mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT),
        "TLS configuration");
  mbedtls_ssl_conf_rng(&conf, random, nullptr);
  set_protocols(conf, protocols);
  compat::prefer_fast_groups(&conf);

  impl.suites = suite_ids(cipher_suites, suite_defaults);
  mbedtls_ssl_conf_ciphersuites(&conf, impl.suites.data());

  for (const std::string& protocol : alpn) {
    if (protocol.empty() || protocol.size() > 255)
      arguments::reject("alpn_protocols", "each name must be 1 to 255 bytes, not " + arguments::quoted(protocol));
    if (protocol.find('\0') != std::string::npos)
      arguments::reject("alpn_protocols", "names must not contain NUL bytes");
  }
  if (!alpn.empty()) {
    impl.alpn = alpn;
    for (const std::string& p : impl.alpn) impl.alpn_pointers.push_back(p.c_str());
    impl.alpn_pointers.push_back(nullptr);
    check(mbedtls_ssl_conf_alpn_protocols(&conf, impl.alpn_pointers.data()), "alpn_protocols");
  }

  arguments::check_path("key_log_file", key_log_file);
  impl.key_log_file = key_log_file;
  if (impl.key_log_file.empty())
    if (const char* env = std::getenv("SSLKEYLOGFILE"); env != nullptr) impl.key_log_file = env;
  if (!impl.key_log_file.empty()) key_log_config(impl);
}

// Parses certificates into the config's own root list.
void parse_roots(Config::Impl& impl, const std::vector<Certificate>& roots, std::string_view option) {
  for (const Certificate& root : roots)
    check(mbedtls_x509_crt_parse_der(&impl.extra_roots, reinterpret_cast<const unsigned char*>(root.der().data()),
                                     root.der().size()),
          option);
}

void set_own_chain(Config::Impl& impl, const CertificateChain& chain) {
  impl.own_chain = chain;
  check(mbedtls_ssl_conf_own_cert(&impl.conf, const_cast<mbedtls_x509_crt*>(&detail::Access::impl(*impl.own_chain).crt),
                                  const_cast<mbedtls_pk_context*>(&detail::Access::impl(impl.own_chain->key()).pk)),
        "certificate chain");
}

}  // namespace

Config::Config(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Config::~Config() = default;

std::shared_ptr<const Config> Config::client(const ClientPolicy& policy) {
  auto impl = std::make_unique<Impl>();
  mbedtls_ssl_config& conf = impl->conf;
  configure_common(*impl, MBEDTLS_SSL_IS_CLIENT, policy.protocols, policy.cipher_suites, SuiteDefaults{}, policy.alpn,
                   policy.key_log_file);

  if (policy.minimum_dh_bits < 512 || policy.minimum_dh_bits > 16384)
    throw std::invalid_argument("minimum_dh_bits: must be between 512 and 16384, not " +
                                std::to_string(policy.minimum_dh_bits));
#if defined(MBEDTLS_DHM_C) && defined(MBEDTLS_SSL_CLI_C)
  mbedtls_ssl_conf_dhm_min_bitlen(&conf, policy.minimum_dh_bits);
#endif
  if (policy.protocols.contains(Protocol::TLSv1_2) && policy.protocols.contains(Protocol::TLSv1_3))
    compat::rsa_pkcs1_before_pss(&conf);

#if TLSOCK_HAS_SESSION_TICKETS
  mbedtls_ssl_conf_session_tickets(
      &conf, policy.session_cache ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  if (policy.session_cache) compat::signal_new_session_tickets(&conf);
#endif
  if (policy.client_certificate) set_own_chain(*impl, *policy.client_certificate);

  if (policy.manual_validation) {
    // Nothing to verify against: do not even load the OS roots.
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  } else {
    if (!policy.os_roots && policy.extra_roots.empty())
      arguments::reject("use_os_trust_roots",
                        "false needs at least one extra_trust_roots certificate (or manual_validation): "
                        "a verifying session would trust nothing");
    parse_roots(*impl, policy.extra_roots, "extra_trust_roots");
    // Trusting the extra roots alone never loads the OS roots, so their environment
    // (SSL_CERT_FILE, SSL_CERT_DIR, the system bundle) has no say.
    mbedtls_x509_crt* chain = policy.os_roots ? os_roots() : &impl->extra_roots;
    if (policy.os_roots && !policy.extra_roots.empty()) {
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

std::shared_ptr<const Config> Config::server(const ServerPolicy& policy) {
  if (!policy.certificates) arguments::reject("certificates", "must not be null");
  auto impl = std::make_unique<Impl>();
  impl->server = true;
  mbedtls_ssl_config& conf = impl->conf;
  configure_common(*impl, MBEDTLS_SSL_IS_SERVER, policy.protocols, policy.cipher_suites,
                   SuiteDefaults{.server = true,
                                 .dhe = policy.dh_parameters.has_value(),
                                 .legacy_versions = policy.protocols.contains(Protocol::TLSv1) ||
                                                    policy.protocols.contains(Protocol::TLSv1_1)},
                   policy.alpn, policy.key_log_file);

  impl->certificates = policy.certificates;
  // Clients without SNI get the chain selected for no name; with SNI, the callback decides.
  if (const CertificateChain* chain = policy.certificates->select(""); chain != nullptr) set_own_chain(*impl, *chain);
  mbedtls_ssl_conf_sni(&conf, on_server_name, impl.get());

  static_assert(ClientAuth{} == ClientAuth::none, "ServerPolicy::client_auth's default (backend.hpp)");
  switch (policy.client_auth) {
    case ClientAuth::none:
      mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
      break;
    case ClientAuth::optional:
      mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
      break;
    case ClientAuth::required:
      mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
      break;
  }
  if (policy.client_auth != ClientAuth::none) {
    if (policy.client_roots.empty())
      throw std::invalid_argument("client_trust_roots: client authentication needs at least one trust root");
    parse_roots(*impl, policy.client_roots, "client_trust_roots");
    mbedtls_ssl_conf_ca_chain(&conf, &impl->extra_roots, nullptr);
  }

  if (policy.session_cache) guard_session_cache(conf, impl->cache);
#if TLSOCK_HAS_SESSION_TICKETS
  if (policy.session_tickets) {
    if (policy.ticket_lifetime.count() <= 0 || policy.ticket_lifetime > std::chrono::hours(24 * 7))
      throw std::invalid_argument("ticket_lifetime: must be between 1 second and 7 days, not " +
                                  std::to_string(policy.ticket_lifetime.count()) + " s");
    // mbedTLS rotates the ticket key every lifetime, keeping the previous one for parsing.
    check(mbedtls_ssl_ticket_setup(&impl->tickets, random, nullptr, MBEDTLS_CIPHER_AES_256_GCM,
                                   static_cast<uint32_t>(policy.ticket_lifetime.count())),
          "session tickets");
    mbedtls_ssl_conf_session_tickets_cb(&conf, guarded_ticket_write, guarded_ticket_parse, &impl->tickets);
    // TLS 1.2 tickets carry the client's certificate; mbedTLS's TLS 1.3 tickets do not.
    if (policy.client_auth != ClientAuth::none) compat::no_tls13_tickets(&conf);
  }
#endif
  if (policy.dh_parameters) {
    // Read as certificates and keys are (std::system_error when the file cannot be read);
    // mbedTLS wants PEM text with its terminating NUL, DER without.
    arguments::check_path("dh_parameters", *policy.dh_parameters);
    const std::string text = trust::read_file(*policy.dh_parameters);
    const std::size_t size = text.size() + (text.find("-----BEGIN ") != std::string::npos ? 1 : 0);
    check(mbedtls_dhm_parse_dhm(&impl->dhm, reinterpret_cast<const unsigned char*>(text.c_str()), size),
          "dh_parameters");
    check(mbedtls_ssl_conf_dh_param_ctx(&conf, &impl->dhm), "dh_parameters");
  }
  return std::make_shared<const Config>(std::move(impl));
}

}  // namespace tlsock::backend
