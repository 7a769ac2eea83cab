// Which certificate chain a server presents: one for everybody, or one chosen by SNI.
#include <algorithm>
#include <cctype>

#include "engine/hostname.hpp"
#include "net/net.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/server.hpp"

namespace tlsock {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

ServerCertificateChain::ServerCertificateChain(const CertificateChain& chain) : chain_(chain) {}

const CertificateChain* ServerCertificateChain::select(std::string_view) const { return &chain_; }

SNIServerCertificates::SNIServerCertificates(std::vector<CertificateChain> chains,
                                             std::optional<CertificateChain> default_chain)
    : chains_(std::move(chains)), default_chain_(std::move(default_chain)) {
  if (chains_.empty() && !default_chain_)
    throw NoCertificateChainError("chains: no certificate chains and no default chain given");
  // The names are read once here, so select() does no certificate parsing per handshake.
  // The default chain's own names count too, after the others.
  auto index = [&](const CertificateChain& chain, std::size_t i) {
    for (const std::string& name : chain.leaf().valid_domains())
      (name.find('*') == std::string::npos ? exact_names_ : wildcard_names_).emplace_back(lower(name), i);
  };
  for (std::size_t i = 0; i < chains_.size(); ++i) index(chains_[i], i);
  if (default_chain_) index(*default_chain_, chains_.size());
}

const CertificateChain* SNIServerCertificates::select(std::string_view server_name) const {
  const CertificateChain* fallback = default_chain_ ? &*default_chain_ : nullptr;
  // Some clients send an IP literal as SNI (RFC 6066 forbids it): treat it as no name.
  if (server_name.empty() || net::is_ip_literal(server_name)) return fallback;
  std::string host = lower(server_name);
  if (host.back() == '.') host.pop_back();
  if (host.empty()) return fallback;
  auto chain_at = [&](std::size_t i) { return i < chains_.size() ? &chains_[i] : &*default_chain_; };
  // An exact name first (the first chain given wins), then the first matching wildcard.
  for (const auto& [name, i] : exact_names_)
    if (name == host) return chain_at(i);
  for (const auto& [name, i] : wildcard_names_)
    if (engine::domain_matches(name, host)) return chain_at(i);
  return fallback;
}

}  // namespace tlsock
