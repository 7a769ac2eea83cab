// Matching the name we connected to against a certificate: DNS names by RFC 6125 rules
// (wildcards only as a whole left-most label, never for IP literals), IP addresses
// against iPAddress SANs only.
#pragma once

#include "internal.hpp"

#include <string>
#include <string_view>

#include "tlsock/certificate.hpp"

namespace tlsock::engine {

// True when host is an IPv4 or IPv6 literal (no brackets).
[[nodiscard]] bool is_ip_address(std::string_view host);

// True when pattern (a SAN dNSName or a domain-like CN) covers host. Case-insensitive;
// a trailing dot on host is ignored.
[[nodiscard]] bool domain_matches(std::string_view pattern, std::string_view host);

// True when two IP literals denote the same address ("::1" and "0:0::1" do).
[[nodiscard]] bool ip_matches(std::string_view a, std::string_view b);

// True when the certificate is valid for host (a domain name or an IP literal).
[[nodiscard]] bool certificate_matches(const Certificate& certificate, std::string_view host);

}  // namespace tlsock::engine
