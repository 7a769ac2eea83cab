// Hostname and IP matching (see hostname.hpp).
#include "engine/hostname.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "arguments.hpp"
#include "net/net.hpp"

namespace tlsock::engine {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

bool ip_matches(std::string_view a, std::string_view b) {
  const std::optional<net::IpAddress> x = net::parse_ip(a);
  const std::optional<net::IpAddress> y = net::parse_ip(b);
  return x && y && *x == *y;
}

bool domain_matches(std::string_view pattern_in, std::string_view host_in) {
  if (pattern_in.empty() || host_in.empty() || net::is_ip_literal(host_in)) return false;
  std::string host = lower(host_in);
  std::string pattern = lower(pattern_in);
  if (host.back() == '.') host.pop_back();
  if (!pattern.empty() && pattern.back() == '.') pattern.pop_back();
  if (host.empty() || pattern.empty()) return false;
  // A host name never contains a wildcard: "*.example.com" is not a name a certificate covers.
  if (host.find('*') != std::string::npos) return false;
  if (pattern.find('*') == std::string::npos) return pattern == host;
  // A wildcard must be the whole left-most label, followed by at least two more labels
  // ("*.example.com", never "*.com", "f*.example.com" or "www.*.example.com").
  if (pattern.rfind("*.", 0) != 0) return false;
  std::string_view rest = std::string_view(pattern).substr(2);
  if (rest.find('*') != std::string_view::npos || rest.find('.') == std::string_view::npos) return false;
  std::size_t dot = host.find('.');
  if (dot == 0 || dot == std::string::npos) return false;
  // Internationalized labels are not matched by wildcards (RFC 6125 6.4.3).
  if (host.rfind("xn--", 0) == 0) return false;
  return std::string_view(host).substr(dot + 1) == rest;
}

bool certificate_matches(const Certificate& certificate, std::string_view host) {
  if (net::is_ip_literal(host)) {
    auto ips = certificate.valid_ips();
    return std::any_of(ips.begin(), ips.end(), [&](const std::string& ip) { return ip_matches(ip, host); });
  }
  auto domains = certificate.valid_domains();
  return std::any_of(domains.begin(), domains.end(), [&](const std::string& d) { return domain_matches(d, host); });
}

}  // namespace tlsock::engine

namespace tlsock {

bool Certificate::valid_for(std::string_view host) const {
  arguments::check_host("host", host);
  return engine::certificate_matches(*this, host);
}

}  // namespace tlsock
