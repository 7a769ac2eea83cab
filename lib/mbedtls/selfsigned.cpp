// generate_self_signed: a fresh ECDSA P-256 key and a self-signed certificate for it, written
// with mbedTLS's X.509 writer (both lines), for a server that was given no identity.
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include "arguments.hpp"
#include "mbedtls/shared.hpp"
#include "net/net.hpp"

namespace tlsock {
namespace {

// YYYYMMDDhhmmss (UTC), as mbedtls_x509write_crt_set_validity wants it; <chrono>'s calendar,
// which Windows has too (it has no gmtime_r).
std::string x509_time(std::chrono::system_clock::time_point when) {
  namespace chrono = std::chrono;
  auto at = chrono::floor<chrono::seconds>(when);
  chrono::sys_days date_days = chrono::floor<chrono::days>(at);
  chrono::year_month_day date{date_days};
  chrono::hh_mm_ss clock{at - date_days};
  char text[32];
  int n = std::snprintf(text, sizeof text, "%04d%02u%02u%02d%02d%02d", static_cast<int>(date.year()),
                        static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                        static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                        static_cast<int>(clock.seconds().count()));
  return {text, static_cast<std::size_t>(n > 0 ? n : 0)};
}

// The subjectAltName extension's value: a SEQUENCE of dNSName [2] and iPAddress [7].
std::string subject_alt_names(const std::vector<std::string>& names) {
  std::vector<unsigned char> buffer(256 + names.size() * 300);
  unsigned char* start = buffer.data();
  unsigned char* p = buffer.data() + buffer.size();
  std::size_t length = 0;
  auto add = [&](int ret) {
    backend::check(ret < 0 ? ret : 0, "subjectAltName");
    length += static_cast<std::size_t>(ret);
  };
  // ASN.1 is written backwards: the last name first.
  std::for_each(names.rbegin(), names.rend(), [&](const std::string& name) {
    std::size_t before = length;
    if (std::optional<net::IpAddress> ip = net::parse_ip(name)) {
      add(mbedtls_asn1_write_raw_buffer(&p, start, ip->bytes.data(), ip->size));
      add(mbedtls_asn1_write_len(&p, start, length - before));
      add(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
    } else {
      add(mbedtls_asn1_write_raw_buffer(&p, start, reinterpret_cast<const unsigned char*>(name.data()), name.size()));
      add(mbedtls_asn1_write_len(&p, start, length - before));
      add(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
    }
  });
  add(mbedtls_asn1_write_len(&p, start, length));
  add(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  return {reinterpret_cast<const char*>(p), length};
}

// Letters, digits, '-', '.', '*': nothing that could bend the subject name or the SAN.
bool plain_dns_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '*';
  });
}

}  // namespace

CertificateChain generate_self_signed(const std::vector<std::string>& names, std::chrono::seconds validity) {
  if (names.empty()) arguments::reject("names", "must not be empty");
  for (const std::string& name : names) {
    arguments::check_host("names", name);
    if (!net::parse_ip(name) && !plain_dns_name(name))
      arguments::reject("names", arguments::quoted(name) + " is neither a host name nor an IP address");
  }
  if (validity.count() <= 0) arguments::reject("validity", std::to_string(validity.count()) + "s: must be positive");

  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  mbedtls_x509write_cert cert;
  mbedtls_x509write_crt_init(&cert);
  struct Free {
    mbedtls_pk_context& key;
    mbedtls_x509write_cert& cert;
    ~Free() {
      mbedtls_x509write_crt_free(&cert);
      mbedtls_pk_free(&key);
    }
  } free{key, cert};

  backend::check(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "generate_self_signed: key");
  backend::check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), backend::random, nullptr),
                 "generate_self_signed: key");

  std::array<unsigned char, 16> serial{};
  backend::check(backend::random(nullptr, serial.data(), serial.size()), "generate_self_signed: serial");
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x40;  // and 16 bytes long
  auto now = std::chrono::system_clock::now();
  std::string subject = "CN=" + names.front() + ",O=tlsock self-signed";
  std::string san = subject_alt_names(names);

  mbedtls_x509write_crt_set_version(&cert, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&cert, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&cert, &key);
  mbedtls_x509write_crt_set_issuer_key(&cert, &key);
  const char* step = "generate_self_signed: certificate";
  backend::check(backend::compat::set_serial(&cert, serial.data(), serial.size()), step);
  backend::check(mbedtls_x509write_crt_set_subject_name(&cert, subject.c_str()), step);
  backend::check(mbedtls_x509write_crt_set_issuer_name(&cert, subject.c_str()), step);
  backend::check(mbedtls_x509write_crt_set_validity(&cert, x509_time(now - std::chrono::hours(1)).c_str(),
                                                    x509_time(now + validity).c_str()),
                 step);
  backend::check(mbedtls_x509write_crt_set_basic_constraints(&cert, 0, -1), step);
  backend::check(mbedtls_x509write_crt_set_key_usage(&cert, MBEDTLS_X509_KU_DIGITAL_SIGNATURE), step);
  backend::check(mbedtls_x509write_crt_set_subject_key_identifier(&cert), step);
  backend::check(mbedtls_x509write_crt_set_extension(&cert, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                     MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                     reinterpret_cast<const unsigned char*>(san.data()), san.size()),
                 step);

  // Both writers fill their buffer from the end and return the length written there.
  std::vector<unsigned char> buffer(4096);
  int n = mbedtls_x509write_crt_der(&cert, buffer.data(), buffer.size(), backend::random, nullptr);
  backend::check(n < 0 ? n : 0, step);
  std::string der(reinterpret_cast<const char*>(buffer.data() + buffer.size() - static_cast<std::size_t>(n)),
                  static_cast<std::size_t>(n));
  n = mbedtls_pk_write_key_der(&key, buffer.data(), buffer.size());
  backend::check(n < 0 ? n : 0, "generate_self_signed: key");
  std::string key_der(reinterpret_cast<const char*>(buffer.data() + buffer.size() - static_cast<std::size_t>(n)),
                      static_cast<std::size_t>(n));
  mbedtls_platform_zeroize(buffer.data(), buffer.size());
  CertificateChain chain = CertificateChain::from_der(der, key_der);
  mbedtls_platform_zeroize(key_der.data(), key_der.size());
  return chain;
}

}  // namespace tlsock
