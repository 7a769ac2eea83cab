// Hostname, wildcard and IP matching.
#include "engine/hostname.hpp"
#include "engine/messages.hpp"
#include "net/net.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/certificate.hpp"

using tlsock::engine::certificate_matches;
using tlsock::engine::domain_matches;
using tlsock::engine::ip_matches;
using tlsock::net::is_ip_literal;

TEST_CASE("exact names match case-insensitively, trailing dot ignored", "[hostname]") {
  CHECK(domain_matches("example.com", "example.com"));
  CHECK(domain_matches("Example.COM", "example.com"));
  CHECK(domain_matches("example.com", "EXAMPLE.com."));
  CHECK_FALSE(domain_matches("example.com", "www.example.com"));
  CHECK_FALSE(domain_matches("example.com", "example.co"));
  CHECK_FALSE(domain_matches("", "example.com"));
}

TEST_CASE("wildcards cover exactly one whole left-most label", "[hostname]") {
  CHECK(domain_matches("*.example.com", "www.example.com"));
  CHECK(domain_matches("*.example.com", "WWW.Example.com"));
  CHECK_FALSE(domain_matches("*.example.com", "example.com"));
  CHECK_FALSE(domain_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(domain_matches("*.example.com", ".example.com"));
  CHECK_FALSE(domain_matches("*.com", "example.com"));
  CHECK_FALSE(domain_matches("f*.example.com", "foo.example.com"));
  CHECK_FALSE(domain_matches("www.*.example.com", "www.a.example.com"));
  CHECK_FALSE(domain_matches("*.*.example.com", "a.b.example.com"));
  CHECK_FALSE(domain_matches("*.example.com", "xn--bcher-kva.example.com"));
  CHECK_FALSE(domain_matches("*.0.0.1", "127.0.0.1"));
  CHECK_FALSE(domain_matches("*.example.com", "*.example.com"));
}

TEST_CASE("IP literals", "[hostname]") {
  CHECK(is_ip_literal("127.0.0.1"));
  CHECK(is_ip_literal("::1"));
  CHECK(is_ip_literal("2001:db8::1"));
  CHECK_FALSE(is_ip_literal("localhost"));
  CHECK_FALSE(is_ip_literal("[::1]"));
  CHECK_FALSE(is_ip_literal("127.0.0.1.example.com"));
  CHECK(ip_matches("::1", "0:0:0:0:0:0:0:1"));
  CHECK(ip_matches("127.0.0.1", "127.0.0.1"));
  CHECK_FALSE(ip_matches("127.0.0.1", "127.0.0.2"));
  CHECK_FALSE(ip_matches("::ffff:127.0.0.1", "127.0.0.1"));
}

TEST_CASE("certificates match by SAN, IPs only against IP SANs", "[hostname]") {
  auto dir = tlsock::testing::certs_dir();
  auto localhost = tlsock::Certificate::load(dir / "localhost.pem").front();
  CHECK(certificate_matches(localhost, "localhost"));
  CHECK(certificate_matches(localhost, "LOCALHOST."));
  CHECK(certificate_matches(localhost, "127.0.0.1"));
  CHECK(certificate_matches(localhost, "::1"));
  CHECK_FALSE(certificate_matches(localhost, "127.0.0.2"));
  CHECK_FALSE(certificate_matches(localhost, "localhost.example"));

  auto wildcard = tlsock::Certificate::load(dir / "wildcard.pem").front();
  CHECK(certificate_matches(wildcard, "a.example.test"));
  CHECK(certificate_matches(wildcard, "example.test"));
  CHECK_FALSE(certificate_matches(wildcard, "a.b.example.test"));
  CHECK_FALSE(certificate_matches(wildcard, "localhost"));
}

// The engine's matcher and lib/net once disagreed on a scoped IPv6 literal: the engine took
// "fe80::1%eth0" for a DNS name (sent it as SNI, matched it against dNSName SANs). It is an
// address: no SNI, matched against the iPAddress SANs without its zone.
TEST_CASE("a scoped IPv6 literal is an IP address, matched without its zone", "[hostname]") {
  CHECK(is_ip_literal("fe80::1%eth0"));
  CHECK(ip_matches("fe80::1%eth0", "fe80::1"));
  CHECK(ip_matches("fe80::1%eth0", "fe80:0::1%eth1"));
  CHECK_FALSE(ip_matches("fe80::1%eth0", "fe80::2"));
  CHECK_FALSE(ip_matches("fe80::1%", "fe80::1"));
  CHECK_FALSE(domain_matches("fe80::1%eth0", "fe80::1%eth0"));
  CHECK_FALSE(domain_matches("*", "fe80::1%eth0"));

  auto localhost = tlsock::Certificate::load(tlsock::testing::certs_dir() / "localhost.pem").front();
  CHECK(certificate_matches(localhost, "::1%lo"));
  CHECK_FALSE(certificate_matches(localhost, "::2%lo"));
  CHECK(std::string(tlsock::messages::hostname_mismatch(localhost, "::2%lo").what()) ==
        "Server certificate verification failed - IP address ::2%lo does not match valid domains: localhost or "
        "valid IP addresses: 127.0.0.1, ::1");
}
