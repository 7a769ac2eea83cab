// Certificate: parsing and accessors, on mbedTLS's X.509 parser.
#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <system_error>

#include "mbedtls/shared.hpp"
#include "trust/trust.hpp"

namespace tlsock {
namespace {

std::shared_ptr<const backend::CertificateImpl> parse_der(std::string der) {
  auto impl = std::make_shared<backend::CertificateImpl>();
  impl->der = std::move(der);
  // nocopy: the parse points into impl->der, which never moves (Impl is pinned).
  int rc = mbedtls_x509_crt_parse_der_nocopy(&impl->crt, reinterpret_cast<const unsigned char*>(impl->der.data()),
                                             impl->der.size());
  if (rc != 0) throw std::invalid_argument("certificate: not a valid DER certificate: " + backend::error_text(rc));
  // A DER buffer with trailing bytes after the certificate is not one certificate.
  if (impl->crt.raw.len != impl->der.size())
    throw std::invalid_argument("certificate: trailing bytes after the DER certificate");
  return impl;
}

// Every certificate of a PEM text, in order. Blocks that fail to parse are an error.
std::vector<Certificate> parse_pem_bundle(std::string_view pem, std::string_view source) {
  std::vector<Certificate> out;
  const backend::PemBlocks pem_blocks = backend::certificate_pem_blocks(pem);
  for (const backend::PemBlock& block : pem_blocks.blocks) {
    std::string body;
    for (char c : block.body)
      if (!std::isspace(static_cast<unsigned char>(c))) body.push_back(c);
    std::size_t size = 0;
    mbedtls_base64_decode(nullptr, 0, &size, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    std::string der(size, '\0');
    int rc = mbedtls_base64_decode(reinterpret_cast<unsigned char*>(der.data()), der.size(), &size,
                                   reinterpret_cast<const unsigned char*>(body.data()), body.size());
    if (rc != 0) throw std::invalid_argument(std::string(source) + ": bad base64 in PEM certificate block");
    der.resize(size);
    out.push_back(detail::Access::make<Certificate>(parse_der(std::move(der))));
  }
  if (pem_blocks.unterminated)
    throw std::invalid_argument(std::string(source) + ": unterminated PEM certificate block");
  return out;
}

std::chrono::system_clock::time_point to_time_point(const mbedtls_x509_time& t) {
  using namespace std::chrono;
  // system_clock counts nanoseconds in 64 bits (years 1678 to 2262). RFC 5280's "no
  // expiry" 9999-12-31 must not overflow: clamp a little inside, so that formatting the
  // result cannot overflow either.
  if (t.year >= 2262) return time_point_cast<system_clock::duration>(sys_days{year{2262} / January / 1});
  if (t.year <= 1678) return time_point_cast<system_clock::duration>(sys_days{year{1678} / December / 31});
  auto date =
      sys_days{year{t.year} / month{static_cast<unsigned>(t.mon)} / std::chrono::day{static_cast<unsigned>(t.day)}};
  return time_point_cast<system_clock::duration>(date + hours{t.hour} + minutes{t.min} + seconds{t.sec});
}

// A Name as mbedtls_x509_dn_gets writes it, in a buffer of 1 KiB grown up to most bytes;
// nothing when it does not fit or cannot be written.
std::optional<std::string> dn_gets(const mbedtls_x509_name& name, std::size_t most) {
  for (std::size_t size = 1024;; size *= 4) {
    std::string text(std::min(size, most), '\0');
    int n = mbedtls_x509_dn_gets(text.data(), text.size(), &name);
    if (n >= 0) {
      text.resize(static_cast<std::size_t>(n));
      return text;
    }
    if (n != MBEDTLS_ERR_X509_BUFFER_TOO_SMALL || text.size() == most) return std::nullopt;
  }
}

std::string dn_text(const mbedtls_x509_name& name) { return dn_gets(name, 1024).value_or(std::string()); }

std::string ip_text(const unsigned char* p, std::size_t len) {
  char buffer[64];
  if (len == 4) {
    std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
    return buffer;
  }
  if (len != 16) return {};
  // RFC 5952 text: longest run of zero groups (length >= 2) becomes "::".
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = (p[2 * i] << 8) | p[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buffer, sizeof buffer, "%x", groups[i]);
    out += buffer;
  }
  return out;
}

// Calls f(tag number, bytes, size) for each subjectAltName entry.
template <typename F>
void for_each_san(const mbedtls_x509_crt& crt, F f) {
  for (const mbedtls_x509_sequence* s = &crt.subject_alt_names; s != nullptr && s->buf.p != nullptr; s = s->next)
    f(s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK, s->buf.p, s->buf.len);
}

}  // namespace

Certificate::Certificate(std::shared_ptr<const Impl> impl) noexcept : impl_(std::move(impl)) {}

Certificate Certificate::from_der(std::string_view der) {
  if (der.empty()) throw std::invalid_argument("der: empty certificate");
  return Certificate(parse_der(std::string(der)));
}

Certificate Certificate::from_pem(std::string_view pem) {
  auto all = parse_pem_bundle(pem, "pem");
  if (all.empty()) throw std::invalid_argument("pem: no CERTIFICATE block found");
  return all.front();
}

std::vector<Certificate> Certificate::load(const std::filesystem::path& path) {
  std::string bytes = trust::read_file(path);
  if (bytes.find("-----BEGIN") != std::string::npos) {
    auto all = parse_pem_bundle(bytes, path.string());
    if (all.empty()) throw std::invalid_argument(path.string() + ": no CERTIFICATE block found");
    return all;
  }
  if (bytes.empty()) throw std::invalid_argument(path.string() + ": empty file");
  try {
    return {Certificate(parse_der(std::move(bytes)))};
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  }
}

const std::string& Certificate::der() const noexcept { return impl_->der; }

std::string Certificate::pem() const {
  std::size_t size = 0;
  const auto* der_bytes = reinterpret_cast<const unsigned char*>(impl_->der.data());
  mbedtls_base64_encode(nullptr, 0, &size, der_bytes, impl_->der.size());
  std::string b64(size, '\0');
  mbedtls_base64_encode(reinterpret_cast<unsigned char*>(b64.data()), b64.size(), &size, der_bytes, impl_->der.size());
  b64.resize(size);
  std::string out = "-----BEGIN CERTIFICATE-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out.append(b64, i, 64).push_back('\n');
  out += "-----END CERTIFICATE-----\n";
  return out;
}

std::string Certificate::subject() const { return dn_text(impl_->crt.subject); }
std::string Certificate::issuer() const { return dn_text(impl_->crt.issuer); }

std::string Certificate::serial_number() const {
  char buffer[256];
  int n = mbedtls_x509_serial_gets(buffer, sizeof buffer, &impl_->crt.serial);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

std::chrono::system_clock::time_point Certificate::not_before() const {
  return to_time_point(backend::compat::valid_from(impl_->crt));
}
std::chrono::system_clock::time_point Certificate::not_after() const {
  return to_time_point(backend::compat::valid_to(impl_->crt));
}

std::vector<std::string> Certificate::valid_domains() const {
  std::vector<std::string> out;
  for_each_san(impl_->crt, [&](int tag, const unsigned char* p, std::size_t len) {
    std::string name(reinterpret_cast<const char*>(p), len);
    if (tag == 2 && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  });
  bool has_san = impl_->crt.subject_alt_names.buf.p != nullptr;
  if (!has_san) {
    // RFC 6125 6.4.4: the common name counts only without a SAN extension, and only when it
    // looks like a domain name.
    static const std::regex domain(R"(^(\*\.)?(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?\.)+[a-zA-Z]{2,}$)");
    for (const mbedtls_x509_name* n = &impl_->crt.subject; n != nullptr; n = n->next) {
      if (n->oid.p == nullptr || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0) continue;
      std::string value(reinterpret_cast<const char*>(n->val.p), n->val.len);
      if (std::regex_match(value, domain)) out.push_back(std::move(value));
    }
  }
  return out;
}

std::vector<std::string> Certificate::valid_ips() const {
  std::vector<std::string> out;
  for_each_san(impl_->crt, [&](int tag, const unsigned char* p, std::size_t len) {
    if (tag != 7) return;
    std::string ip = ip_text(p, len);
    if (!ip.empty() && std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(std::move(ip));
  });
  return out;
}

bool Certificate::self_signed() const {
  const mbedtls_x509_crt& crt = impl_->crt;
  if (crt.issuer_raw.len != crt.subject_raw.len ||
      std::memcmp(crt.issuer_raw.p, crt.subject_raw.p, crt.issuer_raw.len) != 0)
    return false;
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(backend::compat::sig_md(crt));
  if (md == nullptr) return false;
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (mbedtls_md(md, crt.tbs.p, crt.tbs.len, hash) != 0) return false;
  const mbedtls_x509_buf& sig = crt.TLSOCK_PRIVATE(sig);
  auto* pk = const_cast<mbedtls_pk_context*>(&crt.pk);
  return mbedtls_pk_verify(pk, backend::compat::sig_md(crt), hash, mbedtls_md_get_size(md), sig.p, sig.len) == 0;
}

bool Certificate::is_ca() const { return impl_->crt.TLSOCK_PRIVATE(ca_istrue) != 0; }

std::string Certificate::hash_algorithm() const {
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(backend::compat::sig_md(impl_->crt));
  if (md == nullptr) return "unknown";
  std::string name = mbedtls_md_get_name(md);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

std::string Certificate::key_algorithm() const {
  switch (mbedtls_pk_get_type(&impl_->crt.pk)) {
    case MBEDTLS_PK_RSA:
    case MBEDTLS_PK_RSASSA_PSS:
      return "rsa";
    case MBEDTLS_PK_ECKEY:
    case MBEDTLS_PK_ECKEY_DH:
    case MBEDTLS_PK_ECDSA:
      return "ec";
    default:
      return "unknown";
  }
}

std::size_t Certificate::key_bits() const { return mbedtls_pk_get_bitlen(&impl_->crt.pk); }

std::string Certificate::sha256_fingerprint() const {
  unsigned char digest[32];
  backend::compat::sha256(reinterpret_cast<const unsigned char*>(impl_->der.data()), impl_->der.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

std::string format_utc(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto day = floor<days>(time);
  year_month_day ymd{day};
  hh_mm_ss hms{floor<seconds>(time - day)};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u %02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buffer;
}

}  // namespace tlsock

namespace tlsock::backend {

namespace {

// Peers present the same certificates connection after connection. A certificate still held
// by some connection is shared with the next one that sees the same DER, instead of parsed
// and stored again: each connection of a thousand to one server would otherwise keep its own
// copy of the server's chain (the parse is immutable, so sharing it is safe across threads).
class RecentCertificates {
 public:
  std::shared_ptr<const backend::CertificateImpl> find(std::string_view der) {
    std::size_t hash = std::hash<std::string_view>{}(der);
    std::lock_guard lock(mutex_);
    for (const Slot& slot : slots_)
      if (slot.hash == hash)
        if (auto impl = slot.impl.lock(); impl != nullptr && impl->der == der) return impl;
    return nullptr;
  }

  void add(const std::shared_ptr<const backend::CertificateImpl>& impl) {
    std::size_t hash = std::hash<std::string_view>{}(impl->der);
    std::lock_guard lock(mutex_);
    slots_[next_] = {hash, impl};
    next_ = (next_ + 1) % slots_.size();
  }

 private:
  struct Slot {
    std::size_t hash = 0;
    std::weak_ptr<const backend::CertificateImpl> impl;
  };
  std::mutex mutex_;
  std::array<Slot, 16> slots_{};
  std::size_t next_ = 0;
};

RecentCertificates& recent_certificates() {
  static RecentCertificates recent;
  return recent;
}

}  // namespace

PemBlocks certificate_pem_blocks(std::string_view pem) {
  static constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view end = "-----END CERTIFICATE-----";
  PemBlocks out;
  for (std::size_t at = pem.find(begin); at != std::string_view::npos; at = pem.find(begin, at)) {
    const std::size_t stop = pem.find(end, at);
    if (stop == std::string_view::npos) {
      out.unterminated = true;
      break;
    }
    out.blocks.push_back(
        {pem.substr(at, stop + end.size() - at), pem.substr(at + begin.size(), stop - at - begin.size())});
    at = stop + end.size();
  }
  return out;
}

namespace {

// The attributes of a DER Name (RFC 5280 4.1.2.4: SEQUENCE OF SET OF SEQUENCE {OID, value})
// as mbedTLS's linked list, pointing into der; empty when der is not one valid Name. Walked
// with the public ASN.1 reader: mbedTLS 3 no longer exports its own Name parser.
std::optional<std::vector<mbedtls_x509_name>> parse_name(std::string_view der) {
  std::vector<mbedtls_x509_name> attributes;
  auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(der.data()));
  const unsigned char* end = p + der.size();
  std::size_t len = 0;
  constexpr int constructed_sequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
  if (mbedtls_asn1_get_tag(&p, end, &len, constructed_sequence) != 0 || p + len != end) return std::nullopt;
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET) != 0 || len == 0)
      return std::nullopt;
    const unsigned char* set_end = p + len;
    while (p < set_end) {
      mbedtls_x509_name attribute{};
      if (mbedtls_asn1_get_tag(&p, set_end, &len, constructed_sequence) != 0) return std::nullopt;
      const unsigned char* attribute_end = p + len;
      if (mbedtls_asn1_get_tag(&p, attribute_end, &len, MBEDTLS_ASN1_OID) != 0) return std::nullopt;
      attribute.oid = {MBEDTLS_ASN1_OID, len, p};
      p += len;
      if (attribute_end - p < 1) return std::nullopt;
      int tag = *p++;
      if (mbedtls_asn1_get_len(&p, attribute_end, &len) != 0 || p + len != attribute_end) return std::nullopt;
      attribute.val = {tag, len, p};
      p += len;
      compat::set_next_merged(attribute, p < set_end);  // a multi-valued RDN: "CN=a + O=b"
      attributes.push_back(attribute);
    }
  }
  for (std::size_t i = 0; i + 1 < attributes.size(); ++i) attributes[i].next = &attributes[i + 1];
  return attributes;
}

}  // namespace

std::string distinguished_name_text(std::string_view der) {
  std::optional<std::vector<mbedtls_x509_name>> name = parse_name(der);
  if (!name) return "(a name that is not valid DER, " + std::to_string(der.size()) + " bytes)";
  if (name->empty()) return "(an empty name)";
  if (std::optional<std::string> text = dn_gets(name->front(), 64 * 1024)) return std::move(*text);
  return "(a name too long to show, " + std::to_string(der.size()) + " bytes)";
}

Certificate certificate_from(const mbedtls_x509_crt& crt) {
  std::string_view der(reinterpret_cast<const char*>(crt.raw.p), crt.raw.len);
  if (auto impl = recent_certificates().find(der)) return detail::Access::make<Certificate>(std::move(impl));
  auto impl = parse_der(std::string(der));
  recent_certificates().add(impl);
  return detail::Access::make<Certificate>(std::move(impl));
}

}  // namespace tlsock::backend
