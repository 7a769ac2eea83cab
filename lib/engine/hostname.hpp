// Matching the name we connected to against a certificate: DNS names by RFC 6125 rules
// (wildcards only as a whole left-most label, never for IP literals), IP addresses
// (net::is_ip_literal) against iPAddress SANs only.
#pragma once

#include "internal.hpp"

#include <string>
#include <string_view>

#include "tlsock/certificate.hpp"

namespace tlsock::engine {

// True when pattern (a SAN dNSName or a domain-like CN) covers host. Case-insensitive;
// a trailing dot on host is ignored.
[[nodiscard]] bool domain_matches(std::string_view pattern, std::string_view host);

// True when two IP literals denote the same address ("::1" and "0:0::1" do; a scoped
// "fe80::1%eth0" is fe80::1: see net::parse_ip).
[[nodiscard]] bool ip_matches(std::string_view a, std::string_view b);

// True when the certificate is valid for host (a domain name or an IP literal).
[[nodiscard]] bool certificate_matches(const Certificate& certificate, std::string_view host);

}  // namespace tlsock::engine
