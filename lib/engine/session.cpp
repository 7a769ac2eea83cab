// TLSSession and TrustRoot.
#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "arguments.hpp"
#include "engine/session_export.hpp"
#include "engine/session_impl.hpp"
#include "trust/trust.hpp"

namespace tlsock {
namespace {

backend::ClientPolicy policy_of(const TLSSession::Options& options) {
  backend::ClientPolicy policy;
  policy.protocols = options.protocols;
  policy.manual_validation = options.manual_validation;
  for (const TrustRoot& root : options.extra_trust_roots)
    policy.extra_roots.insert(policy.extra_roots.end(), root.certificates().begin(), root.certificates().end());
  policy.os_roots = options.use_os_trust_roots;
  policy.alpn = options.alpn_protocols;
  policy.minimum_dh_bits = options.minimum_dh_bits;
  policy.cipher_suites = options.cipher_suites;
  policy.session_cache = options.session_cache;
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
std::shared_ptr<const backend::Config> config_for(const TLSSession::Options& options) {
  if (!is_default(options)) return backend::Config::client(policy_of(options));
  static std::once_flag once;
  static std::shared_ptr<const backend::Config> shared;
  std::call_once(once, [&] { shared = backend::Config::client(policy_of(options)); });
  return shared;
}

// What a session's trust settings are, as far as a saved session must match them: the
// extra trust roots, as a SHA-256 of their sorted DER (manual_validation is kept apart, to
// name it in the error). A new trust option belongs here too.
std::string roots_digest(const TLSSession::Options& options) {
  std::vector<std::string> roots;
  for (const TrustRoot& root : options.extra_trust_roots)
    for (const Certificate& certificate : root.certificates()) roots.push_back(certificate.der());
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  // The OS store is part of what a session trusted: one made with it must not resume in a
  // session that trusts the extra roots alone, nor the other way round.
  std::string all = options.use_os_trust_roots ? "os+" : "only+";
  for (const std::string& der : roots) all += std::to_string(der.size()) + ":" + der;
  return backend::sha256(all);
}

// The checks of import_sessions: the export's reason for refusing, without the argument's name.
std::vector<engine::SessionCache::Stored> importable(const TLSSession::Options& options, std::string_view bytes) {
  engine::SessionExport sessions = engine::decode(bytes);
  if (sessions.manual_validation && !options.manual_validation)
    throw std::invalid_argument(
        "the sessions were made without certificate verification (manual_validation), and this TLSSession "
        "verifies certificates");
  if (!sessions.manual_validation && options.manual_validation)
    throw std::invalid_argument(
        "the sessions were made with certificate verification, and this TLSSession has manual_validation");
  if (!options.manual_validation && sessions.roots_digest != roots_digest(options))
    throw std::invalid_argument(
        "the sessions were made with other trust roots (extra_trust_roots, use_os_trust_roots) than this "
        "TLSSession's");
  return std::move(sessions.sessions);
}

// Stores the sessions that have not expired; returns how many.
std::size_t add_to(detail::Access::Impl<TLSSession>& impl, std::vector<engine::SessionCache::Stored> entries) {
  if (!impl.options.session_cache) return 0;
  std::size_t added = 0;
  const auto now = engine::SessionCache::Clock::now();
  for (engine::SessionCache::Stored& entry : entries) {
    if (entry.expires <= now) continue;
    impl.cache.store(entry.key, std::move(entry.session), entry.expires);
    ++added;
  }
  return added;
}

}  // namespace

TrustRoot::TrustRoot(const Certificate& certificate) : certificates_{certificate} {}
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

namespace tlsock {

std::string TLSSession::export_sessions() const {
  engine::SessionExport sessions;
  sessions.backend = backend::session_format();
  sessions.manual_validation = impl_->options.manual_validation;
  sessions.roots_digest = roots_digest(impl_->options);
  sessions.sessions = impl_->cache.snapshot();
  return engine::encode(sessions);
}

std::size_t TLSSession::import_sessions(std::string_view sessions) {
  try {
    return add_to(*impl_, importable(impl_->options, sessions));
  } catch (const std::invalid_argument& error) {
    arguments::reject("sessions", error.what());
  }
}

void TLSSession::save_sessions(const std::filesystem::path& path) const {
  trust::write_private_file(path, export_sessions());
}

std::size_t TLSSession::load_sessions(const std::filesystem::path& path) {
  const std::string bytes = trust::read_file(path);
  try {
    return add_to(*impl_, importable(impl_->options, bytes));
  } catch (const std::invalid_argument& error) {
    arguments::reject("path", arguments::quoted(path.string()) + ": " + error.what());
  }
}

}  // namespace tlsock
