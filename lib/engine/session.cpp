// TLSSession and TrustRoot.
#include <mutex>
#include <stdexcept>

#include "arguments.hpp"
#include "engine/session_impl.hpp"

namespace tlsock {
namespace {

mbed::ClientPolicy policy_of(const TLSSession::Options& options) {
  mbed::ClientPolicy policy;
  policy.protocols = options.protocols;
  policy.manual_validation = options.manual_validation;
  for (const TrustRoot& root : options.extra_trust_roots)
    policy.extra_roots.insert(policy.extra_roots.end(), root.certificates().begin(), root.certificates().end());
  policy.os_roots = options.use_os_trust_roots;
  policy.alpn = options.alpn_protocols;
  policy.minimum_dh_bits = options.minimum_dh_bits;
  policy.cipher_suites = options.cipher_suites;
  policy.session_tickets = options.session_cache;
  policy.client_certificate = options.client_certificate;
  if (options.key_log_file) policy.key_log_file = options.key_log_file->string();
  return policy;
}

bool is_default(const TLSSession::Options& o) {
  return o.protocols == default_protocols() && !o.manual_validation && o.extra_trust_roots.empty() &&
         o.use_os_trust_roots && o.alpn_protocols.empty() && o.minimum_dh_bits == 1024 && o.cipher_suites.empty() &&
         o.session_cache && !o.client_certificate && !o.key_log_file;
}

// Sessions with oscrypto's defaults (every TLSSocket made without a session has one) share
// one backend config: building it, and parsing the OS roots, happens once per process.
std::shared_ptr<const mbed::Config> config_for(const TLSSession::Options& options) {
  if (!is_default(options)) return mbed::Config::client(policy_of(options));
  static std::once_flag once;
  static std::shared_ptr<const mbed::Config> shared;
  std::call_once(once, [&] { shared = mbed::Config::client(policy_of(options)); });
  return shared;
}

}  // namespace

TrustRoot::TrustRoot(Certificate certificate) : certificates_{std::move(certificate)} {}
TrustRoot::TrustRoot(const std::filesystem::path& path) : certificates_(Certificate::load(path)) {}
TrustRoot TrustRoot::der(std::string_view der_bytes) { return TrustRoot(Certificate::from_der(der_bytes)); }

TLSSession::TLSSession() : TLSSession(Options{}) {}

TLSSession::TLSSession(Options options) : impl_(std::make_unique<Impl>()) {
  if (options.max_buffered_bytes == 0) arguments::reject("max_buffered_bytes", "must be at least 1, not 0");
  impl_->config = config_for(options);
  impl_->options = std::move(options);
}

TLSSession::TLSSession(ProtocolSet protocols, bool manual_validation, std::vector<TrustRoot> extra_trust_roots)
    : TLSSession(Options{.protocols = std::move(protocols),
                         .manual_validation = manual_validation,
                         .extra_trust_roots = std::move(extra_trust_roots)}) {}

TLSSession::~TLSSession() = default;

const TLSSession::Options& TLSSession::options() const noexcept { return impl_->options; }

void TLSSession::clear_cache() { impl_->cache.clear(); }

}  // namespace tlsock
