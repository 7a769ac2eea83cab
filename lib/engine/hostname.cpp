// Hostname and IP matching (see hostname.hpp).
#include "engine/hostname.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace tlsock::engine {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// 16 bytes for IPv6, or IPv4 mapped into the first 4 bytes with a distinct length.
bool parse_ip(std::string_view text, std::array<unsigned char, 16>& bytes, int& family) {
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) return false;
  std::string s(text);
  bytes.fill(0);
  if (inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace

bool is_ip_address(std::string_view host) {
  std::array<unsigned char, 16> bytes{};
  int family = 0;
  return parse_ip(host, bytes, family);
}

bool ip_matches(std::string_view a, std::string_view b) {
  std::array<unsigned char, 16> x{}, y{};
  int fx = 0, fy = 0;
  return parse_ip(a, x, fx) && parse_ip(b, y, fy) && fx == fy && x == y;
}

bool domain_matches(std::string_view pattern_in, std::string_view host_in) {
  if (pattern_in.empty() || host_in.empty() || is_ip_address(host_in)) return false;
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
  if (is_ip_address(host)) {
    auto ips = certificate.valid_ips();
    return std::any_of(ips.begin(), ips.end(), [&](const std::string& ip) { return ip_matches(ip, host); });
  }
  auto domains = certificate.valid_domains();
  return std::any_of(domains.begin(), domains.end(), [&](const std::string& d) { return domain_matches(d, host); });
}

}  // namespace tlsock::engine
