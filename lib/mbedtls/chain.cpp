// CertificateChain: validation, PyTLS's from_pieces factory, and the chain as one mbedTLS
// certificate list for the handshake.
#include <algorithm>
#include <cstring>
#include <utility>

#include "mbedtls/shared.hpp"
#include "tlsock/errors.hpp"

namespace tlsock {
namespace {

bool same_name(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && (a.len == 0 || std::memcmp(a.p, b.p, a.len) == 0);
}

// True when issuer's subject is the name certificate says issued it. Names only, compared
// as raw DER: signatures are the peer's business when it verifies the chain.
bool names_issuer_of(const Certificate& issuer, const Certificate& certificate) {
  return same_name(detail::Access::impl(issuer).crt.subject_raw, detail::Access::impl(certificate).crt.issuer_raw);
}

bool self_issued(const Certificate& certificate) { return names_issuer_of(certificate, certificate); }

// "certificate 2 (CN=...)", 1-based.
std::string position(std::size_t index, const Certificate& certificate) {
  return "certificate " + std::to_string(index + 1) + " (" + certificate.subject() + ")";
}

[[noreturn]] void throw_more_than_one_leaf(const std::vector<const Certificate*>& leaves) {
  std::string names;
  for (const Certificate* leaf : leaves) names += (names.empty() ? "" : ", ") + leaf->subject();
  throw MoreThanOneLeafCertificateError("certificates: more than one leaf certificate: " + names);
}

}  // namespace

// NOLINTNEXTLINE(performance-unnecessary-value-param): the public signature (certificate.hpp); a shared handle
CertificateChain::CertificateChain(std::vector<Certificate> chain, PrivateKey key) {
  if (chain.empty()) throw NoCertificateChainError("chain: no certificates given");
  if (!key.matches(chain.front()))
    throw LeafCertificateHasNoPrivateKeyError("key: the private key does not match the leaf certificate " +
                                              chain.front().subject());
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (!names_issuer_of(chain[i], chain[i - 1]))
      throw CertificateChainError("chain: " + position(i, chain[i]) + " did not issue " +
                                  position(i - 1, chain[i - 1]));
  }
  auto impl = std::make_shared<Impl>(std::move(chain), key);
  for (const Certificate& certificate : impl->certificates) {
    const std::string& der = certificate.der();
    // A copying parse: crt then owns its bytes and does not depend on how Certificate stores them.
    backend::check(
        mbedtls_x509_crt_parse_der(&impl->crt, reinterpret_cast<const unsigned char*>(der.data()), der.size()),
        "chain");
  }
  impl_ = std::move(impl);
}

CertificateChain CertificateChain::load(const std::filesystem::path& chain_pem, const std::filesystem::path& key,
                                        std::string_view password) {
  std::vector<Certificate> chain = Certificate::load(chain_pem);
  PrivateKey private_key = PrivateKey::load(key, password);
  return CertificateChain(std::move(chain), private_key);
}

CertificateChain CertificateChain::from_der(std::string_view certificate_der, std::string_view key_der) {
  Certificate certificate = Certificate::from_der(certificate_der);
  PrivateKey key = PrivateKey::from_der(key_der);
  return CertificateChain({certificate}, key);
}

CertificateChain CertificateChain::from_pieces(std::vector<Certificate> certificates, std::vector<PrivateKey> keys) {
  if (certificates.empty()) throw NoCertificateChainError("chain: no certificates given");
  std::vector<Certificate> pieces;
  for (Certificate& certificate : certificates) {
    if (std::find(pieces.begin(), pieces.end(), certificate) == pieces.end()) pieces.push_back(std::move(certificate));
  }

  // A leaf is a certificate that issued none of the others (a self-signed one issues only itself).
  std::vector<const Certificate*> leaves;
  for (const Certificate& candidate : pieces) {
    bool issued_another = std::any_of(pieces.begin(), pieces.end(), [&](const Certificate& other) {
      return &other != &candidate && names_issuer_of(candidate, other);
    });
    if (!issued_another) leaves.push_back(&candidate);
  }
  if (leaves.empty())
    throw NoLeafCertificateError("certificates: no leaf certificate (every certificate issued another one)");
  if (leaves.size() > 1) throw_more_than_one_leaf(leaves);

  // Walk up from the leaf through the issuers given; the first certificate with the right
  // subject wins, any other is left over.
  std::vector<bool> used(pieces.size(), false);
  std::vector<Certificate> chain;
  const Certificate* current = leaves.front();
  used[static_cast<std::size_t>(current - pieces.data())] = true;
  chain.push_back(*current);
  while (!self_issued(*current)) {
    const Certificate* issuer = nullptr;
    for (std::size_t i = 0; i < pieces.size() && issuer == nullptr; ++i) {
      if (!used[i] && names_issuer_of(pieces[i], *current)) {
        used[i] = true;
        issuer = &pieces[i];
      }
    }
    if (issuer == nullptr) break;
    chain.push_back(*issuer);
    current = issuer;
  }
  // Certificates off the leaf's issuer path are leaves of chains of their own.
  if (chain.size() != pieces.size()) {
    std::vector<const Certificate*> strays{leaves.front()};
    for (std::size_t i = 0; i < pieces.size(); ++i)
      if (!used[i]) strays.push_back(&pieces[i]);
    throw_more_than_one_leaf(strays);
  }

  if (keys.empty())
    throw LeafCertificateHasNoPrivateKeyError("keys: no private key for the leaf certificate " +
                                              chain.front().subject());
  if (keys.size() > 1)
    throw ExtraneousPrivateKeyError("keys: " + std::to_string(keys.size()) +
                                    " private keys given, the leaf needs exactly one");
  return CertificateChain(std::move(chain), keys.front());
}

const Certificate& CertificateChain::leaf() const noexcept { return impl_->certificates.front(); }
const std::vector<Certificate>& CertificateChain::certificates() const noexcept { return impl_->certificates; }
const PrivateKey& CertificateChain::key() const noexcept { return impl_->key; }

}  // namespace tlsock

namespace tlsock::backend {

std::vector<std::string> prepared_chain(const CertificateChain& chain) {
  std::vector<std::string> der;
  for (const mbedtls_x509_crt* c = &detail::Access::impl(chain).crt; c != nullptr && c->raw.p != nullptr; c = c->next)
    der.emplace_back(reinterpret_cast<const char*>(c->raw.p), c->raw.len);
  return der;
}

bool prepared_key_matches(const CertificateChain& chain) {
  const CertificateChainImpl& impl = detail::Access::impl(chain);
  return compat::check_pair(&impl.crt.pk, &detail::Access::impl(impl.key).pk, random, nullptr) == 0;
}

}  // namespace tlsock::backend
