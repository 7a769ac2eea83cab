// Handshake message parsing (see transcript.hpp). Every read is bounds-checked: the bytes
// come from the network.
#include "engine/transcript.hpp"

#include <algorithm>

namespace tlsock::engine {
namespace {

// A cursor over untrusted bytes: reads past the end yield zeros and mark it broken.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  unsigned u8() { return take(1).empty() ? 0 : static_cast<unsigned char>(last_[0]); }
  unsigned u16() {
    std::string_view b = take(2);
    return b.size() < 2 ? 0 : (static_cast<unsigned char>(b[0]) << 8) | static_cast<unsigned char>(b[1]);
  }
  std::string_view take(std::size_t n) {
    if (data_.size() - pos_ < n) {
      ok_ = false;
      pos_ = data_.size();
      return last_ = {};
    }
    last_ = data_.substr(pos_, n);
    pos_ += n;
    return last_;
  }
  // At most n bytes: what is there of a vector cut short.
  std::string_view take_up_to(std::size_t n) { return take(std::min(n, data_.size() - pos_)); }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool done() const { return pos_ >= data_.size(); }

 private:
  std::string_view data_, last_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

template <typename F>
void for_each_extension(Cursor& c, F f) {
  if (c.done()) return;
  Cursor all(c.take(c.u16()));
  while (all.ok() && !all.done()) {
    unsigned type = all.u16();
    std::string_view body = all.take(all.u16());
    if (all.ok()) f(type, body);
  }
}

// What RFC 5246 7.4.1.2 and RFC 8446 4.1.2 forbid in a ClientHello that mbedTLS lets
// through or answers otherwise: lengths that do not add up (decode_error), and a list of
// compression methods without null, which every client must offer (illegal_parameter).
void check_client_hello(std::string_view body, RecordReader& reader) {
  Cursor c(body);
  c.take(2 + 32);   // legacy_version, random
  c.take(c.u8());   // legacy_session_id
  c.take(c.u16());  // cipher_suites
  std::string_view compression = c.take(c.u8());
  bool extensions_ok = true;
  if (c.ok() && !c.done()) {
    Cursor all(c.take(c.u16()));
    while (all.ok() && !all.done()) {
      all.u16();
      all.take(all.u16());
    }
    extensions_ok = all.ok();
  }
  if (!c.ok() || !c.done() || !extensions_ok)
    reader.forbid(Alert::decode_error, "a malformed ClientHello: its lengths do not add up (RFC 5246 7.4.1.2)");
  else if (compression.find('\0') == std::string_view::npos)
    reader.forbid(Alert::illegal_parameter, "a ClientHello without the null compression method (RFC 5246 7.4.1.2)");
}

// A TLS 1.0 to 1.2 CertificateRequest (RFC 5246 7.4.4, RFC 4346 7.4.4): the DER of each name
// in certificate_authorities. TLS 1.2 alone has supported_signature_algorithms.
std::vector<std::string> acceptable_ca_names(std::string_view body, std::uint16_t version) {
  Cursor c(body);
  c.take(c.u8());                                // certificate_types
  if (version == wire::tls1_2) c.take(c.u16());  // supported_signature_algorithms
  Cursor all(c.take_up_to(c.u16()));             // of a list cut short, the names before the cut
  std::vector<std::string> names;
  while (all.ok() && !all.done() && names.size() < HandshakeFacts::max_ca_names) {
    std::string_view name = all.take(all.u16());
    if (all.ok()) names.emplace_back(name);
  }
  return names;
}

// The size of a key share of an ECDHE group on the wire (RFC 8422 5.4.1, RFC 8446 4.2.8.2); 0
// for a group this does not know.
std::size_t key_share_size(std::uint16_t group) {
  switch (group) {
    case 23:  // secp256r1
    case 26:  // brainpoolP256r1
      return 65;
    case 24:  // secp384r1
    case 27:  // brainpoolP384r1
      return 97;
    case 28:  // brainpoolP512r1
      return 129;
    case 25:  // secp521r1
      return 133;
    case 29:  // x25519
      return 32;
    case 30:  // x448
      return 56;
    default:
      return 0;
  }
}

bool well_formed_key_share(std::string_view body, std::uint16_t group) {
  Cursor c(body);
  std::string_view share = c.take(c.u8());
  const std::size_t size = key_share_size(group);
  if (!c.ok() || !c.done() || size == 0 || share.size() != size) return false;
  const bool montgomery = group == 29 || group == 30;
  return montgomery || share[0] == 4;  // the uncompressed form, the one mbedTLS negotiates
}

}  // namespace

void Transcript::client_bytes(std::string_view bytes) {
  client_.feed(bytes, [this](unsigned type, std::string_view body) {
    if (type == wire::client_key_exchange && facts_.ecdhe_group != 0)
      facts_.client_key_share_well_formed = well_formed_key_share(body, facts_.ecdhe_group);
    if (type != wire::client_hello) return;
    check_client_hello(body, client_);
    Cursor c(body);
    facts_.client_legacy_version = static_cast<std::uint16_t>(c.u16());
    c.take(32);  // random
    facts_.client_session_id = std::string(c.take(c.u8()));
    Cursor suites(c.take(c.u16()));
    facts_.fallback_scsv = false;
    while (suites.ok() && !suites.done())
      if (suites.u16() == wire::fallback_scsv) facts_.fallback_scsv = true;
    c.take(c.u8());  // compression methods
    facts_.client_hello = true;
    facts_.ticket_offered = false;
    facts_.ems_offered = false;
    facts_.client_versions.clear();
    for_each_extension(c, [this](unsigned ext, std::string_view data) {
      if (ext == wire::ext_session_ticket && !data.empty()) facts_.ticket_offered = true;
      if (ext == wire::ext_extended_master_secret) facts_.ems_offered = true;
      if (ext == wire::ext_supported_versions) {
        Cursor versions(data);
        Cursor list(versions.take(versions.u8()));
        while (list.ok() && !list.done()) facts_.client_versions.push_back(static_cast<std::uint16_t>(list.u16()));
      }
    });
  });
}

void Transcript::server_bytes(std::string_view bytes, bool (*is_dhe)(std::uint16_t)) {
  server_.feed(bytes, [this, is_dhe](unsigned type, std::string_view body) {
    Cursor c(body);
    switch (type) {
      case wire::server_hello: {
        facts_.server_hello = true;
        facts_.server_version = static_cast<std::uint16_t>(c.u16());
        c.take(32);
        facts_.server_session_id = std::string(c.take(c.u8()));
        facts_.cipher_suite = static_cast<std::uint16_t>(c.u16());
        facts_.compression = static_cast<std::uint8_t>(c.u8());
        for_each_extension(c, [this](unsigned ext, std::string_view data) {
          if (ext == wire::ext_session_ticket) facts_.server_ticket_extension = true;
          if (ext == wire::ext_pre_shared_key) facts_.psk_accepted = true;
          if (ext == wire::ext_supported_versions && data.size() == 2)
            facts_.server_version = static_cast<std::uint16_t>((static_cast<unsigned char>(data[0]) << 8) |
                                                               static_cast<unsigned char>(data[1]));
        });
        // After a HelloRetryRequest both sides go on in plaintext past a ChangeCipherSpec.
        if (facts_.server_version == wire::tls1_3) {
          client_.set_tls13();
          server_.set_tls13();
        }
        break;
      }
      case wire::new_session_ticket:
        facts_.new_session_ticket = true;
        break;
      case wire::certificate:
        facts_.server_certificate = true;
        break;
      case wire::server_key_exchange:  // for DHE it opens with the prime p
        if (is_dhe != nullptr && is_dhe(facts_.cipher_suite)) {
          std::string_view p = c.take(c.u16());
          if (c.ok()) {
            std::size_t skip = 0;
            while (skip < p.size() && p[skip] == 0) ++skip;  // leading zero bytes do not count
            unsigned bits = static_cast<unsigned>((p.size() - skip) * 8);
            if (skip < p.size())
              for (unsigned char top = static_cast<unsigned char>(p[skip]); top < 0x80; top <<= 1) --bits;
            facts_.dh_prime_bits = bits;
          }
        } else if (c.u8() == 3) {  // ECParameters: a named_curve (RFC 8422 5.4)
          facts_.ecdhe_group = static_cast<std::uint16_t>(c.u16());
        }
        break;
      case wire::certificate_request:
        facts_.certificate_request = true;
        facts_.acceptable_ca_names_der = acceptable_ca_names(body, facts_.server_version);
        break;
      default:
        break;
    }
  });
}

bool Transcript::resumed() const noexcept {
  // TLS 1.3 echoes the legacy session ID whatever happens; only pre_shared_key means resumption.
  if (facts_.server_version == wire::tls1_3) return facts_.psk_accepted;
  return facts_.server_hello && !facts_.server_session_id.empty() &&
         facts_.server_session_id == facts_.client_session_id && !facts_.server_certificate;
}

}  // namespace tlsock::engine
