// Reads the plaintext part of a TLS handshake off the wire, in both directions, to learn
// what mbedTLS does not tell: whether a session was resumed (by ID or ticket), whether the
// server asked for a client certificate, the size of its DH group, and which protocol a
// non-TLS server spoke. Bounded: it stops recording after a fixed number of bytes.
#pragma once

#include "internal.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/alert.hpp"

namespace tlsock::engine {

// Wire values the transcript reads (RFC 8446 B.1, B.3 and 4.2; RFC 5246 6.2.1 and 7.4).
namespace wire {
// Protocol versions (ProtocolVersion).
inline constexpr std::uint16_t tls1_0 = 0x0301;
inline constexpr std::uint16_t tls1_2 = 0x0303;
inline constexpr std::uint16_t tls1_3 = 0x0304;
// Cipher suite values (RFC 7507 6).
inline constexpr std::uint16_t fallback_scsv = 0x5600;
// Record content types (ContentType).
inline constexpr unsigned change_cipher_spec = 20;
inline constexpr unsigned alert = 21;
inline constexpr unsigned handshake = 22;
inline constexpr unsigned application_data = 23;
inline constexpr unsigned heartbeat = 24;
// Handshake message types (HandshakeType).
inline constexpr unsigned client_hello = 1;
inline constexpr unsigned server_hello = 2;
inline constexpr unsigned new_session_ticket = 4;
inline constexpr unsigned certificate = 11;
inline constexpr unsigned server_key_exchange = 12;
inline constexpr unsigned certificate_request = 13;
inline constexpr unsigned client_key_exchange = 16;
// Extension types (ExtensionType).
inline constexpr unsigned ext_extended_master_secret = 23;
inline constexpr unsigned ext_session_ticket = 35;
inline constexpr unsigned ext_pre_shared_key = 41;
inline constexpr unsigned ext_supported_versions = 43;
// Header sizes: a record's type, version and length; a handshake message's type and length.
inline constexpr std::size_t record_header = 5;
inline constexpr std::size_t handshake_header = 4;
// The body length in the record header at bytes[at], and the whole size (header included) of
// the handshake message whose header is at bytes[at]. The caller checks the header is there.
inline std::size_t record_length(std::string_view bytes, std::size_t at) {
  return (std::size_t{static_cast<unsigned char>(bytes[at + 3])} << 8) | static_cast<unsigned char>(bytes[at + 4]);
}
inline std::size_t message_size(std::string_view bytes, std::size_t at) {
  return handshake_header + ((std::size_t{static_cast<unsigned char>(bytes[at + 1])} << 16) |
                             (std::size_t{static_cast<unsigned char>(bytes[at + 2])} << 8) |
                             static_cast<unsigned char>(bytes[at + 3]));
}
}  // namespace wire

// A record or handshake message that the RFCs forbid where it came: the alert they prescribe,
// what the peer sent (for the error message) and where its record starts in the byte stream.
struct Forbidden {
  Alert alert;
  std::string what;
  std::size_t offset;
};

// Incremental parser of one direction's records: handshake messages are reassembled across
// records; parsing stops at ChangeCipherSpec (what follows is encrypted) or the size cap.
class RecordReader {
 public:
  // Calls on_message(type, body) for each complete plaintext handshake message.
  template <typename F>
  void feed(std::string_view bytes, F&& on_message);
  [[nodiscard]] bool stopped() const noexcept { return stopped_; }
  // The connection is TLS 1.3: a ChangeCipherSpec is then only the middlebox-compatibility
  // dummy (RFC 8446 D.4), sent after a HelloRetryRequest too, and the plaintext handshake goes
  // on past it (the second ClientHello and ServerHello); encrypted records are application_data.
  void set_tls13() noexcept { tls13_ = true; }
  // The first bytes seen, for detecting a server that does not speak TLS.
  [[nodiscard]] std::string_view first_bytes() const noexcept { return first_bytes_; }
  // False once bytes arrived that cannot be a TLS record header.
  [[nodiscard]] bool looks_like_tls() const noexcept { return looks_like_tls_; }
  // The description of the first plaintext alert seen, if any.
  [[nodiscard]] std::optional<std::uint8_t> alert() const noexcept { return alert_; }
  // The first record that no peer may send in the plaintext handshake: a heartbeat (never
  // negotiated: RFC 6520 2) or a ChangeCipherSpec other than the single byte 1 (RFC 8446 5).
  [[nodiscard]] const std::optional<Forbidden>& forbidden() const noexcept { return forbidden_; }
  void forbid(Alert alert, std::string what) {
    if (!forbidden_) forbidden_ = Forbidden{alert, std::move(what), forbid_at_};
  }
  // Stops reading and frees the reassembly buffers (what was learnt stays).
  void release() noexcept {
    stopped_ = true;
    std::string().swap(records_);
    std::string().swap(handshake_);
  }

 private:
  static constexpr std::size_t cap = 256 * 1024;
  std::string records_;    // unparsed record bytes
  std::string handshake_;  // reassembled handshake-message bytes
  std::string first_bytes_;
  std::size_t seen_ = 0;
  std::size_t erased_ = 0;      // stream offset of records_[0]
  std::size_t forbid_at_ = 0;   // stream offset of the record (or handshake message) being parsed
  std::size_t message_at_ = 0;  // stream offset of the record where handshake_ starts
  std::optional<Forbidden> forbidden_;
  bool stopped_ = false;
  bool looks_like_tls_ = true;
  bool tls13_ = false;
  std::optional<std::uint8_t> alert_;
};

struct HandshakeFacts {
  // ClientHello
  bool client_hello = false;
  std::vector<std::uint16_t> client_versions;  // supported_versions, when the client sent it
  std::uint16_t client_legacy_version = 0;     // legacy_version (client_version in TLS 1.2)
  bool fallback_scsv = false;                  // TLS_FALLBACK_SCSV among the cipher suites (RFC 7507)
  std::string client_session_id;
  bool ticket_offered = false;  // a non-empty session_ticket extension
  bool ems_offered = false;     // extended_master_secret (RFC 7627)
  // ServerHello
  bool server_hello = false;
  std::uint16_t server_version = 0;  // legacy_version, or supported_versions for TLS 1.3
  std::string server_session_id;
  std::uint16_t cipher_suite = 0;
  std::uint8_t compression = 0;
  bool server_ticket_extension = false;
  bool psk_accepted = false;  // TLS 1.3 pre_shared_key in ServerHello
  // Later server messages (TLS 1.2; TLS 1.3 encrypts them)
  bool certificate_request = false;
  // The CertificateRequest's certificate_authorities: each DistinguishedName's DER, in the
  // server's order (at most max_ca_names; of a malformed list, what parsed).
  std::vector<std::string> acceptable_ca_names_der;
  static constexpr std::size_t max_ca_names = 64;
  bool new_session_ticket = false;
  bool server_certificate = false;
  std::optional<unsigned> dh_prime_bits;  // from a DHE ServerKeyExchange
  std::uint16_t ecdhe_group = 0;          // from an ECDHE ServerKeyExchange (a named group)
  // The client's ClientKeyExchange under an ECDHE suite: whether its lengths add up to one
  // key share of the group's size and encoding (RFC 8422 5.7; an uncompressed point, or an
  // X25519/X448 u-coordinate). Whether it is a point on the curve is mbedTLS's to say.
  std::optional<bool> client_key_share_well_formed;
};

class Transcript {
 public:
  void client_bytes(std::string_view bytes);
  // is_dhe tells whether a suite id is a finite-field DHE suite (the backend knows).
  void server_bytes(std::string_view bytes, bool (*is_dhe)(std::uint16_t));
  [[nodiscard]] const HandshakeFacts& facts() const noexcept { return facts_; }
  [[nodiscard]] std::string_view server_first_bytes() const noexcept { return server_.first_bytes(); }
  [[nodiscard]] bool server_looks_like_tls() const noexcept { return server_.looks_like_tls(); }
  [[nodiscard]] std::string_view client_first_bytes() const noexcept { return client_.first_bytes(); }
  [[nodiscard]] bool client_looks_like_tls() const noexcept { return client_.looks_like_tls(); }
  // An alert the client sent unencrypted. A TLS 1.3 client that fails before it has switched
  // to its handshake keys (verifying the server's certificate) sends it so; mbedTLS's server
  // then expects encrypted records and cannot read it.
  [[nodiscard]] std::optional<std::uint8_t> client_plaintext_alert() const noexcept { return client_.alert(); }
  // Server side: the first thing the client sent that the RFCs forbid (a malformed
  // ClientHello, one without the null compression method, a heartbeat, a malformed
  // ChangeCipherSpec), which mbedTLS accepts or answers with another alert.
  [[nodiscard]] const std::optional<Forbidden>& client_forbidden() const noexcept { return client_.forbidden(); }
  // A TLS 1.2 abbreviated handshake: the server echoed the session ID we offered.
  [[nodiscard]] bool resumed() const noexcept;
  // The handshake is over: frees both directions' buffers, keeping the facts (but for the CA
  // names, only a failed handshake's error needs).
  void release() noexcept {
    client_.release();
    server_.release();
    std::vector<std::string>().swap(facts_.acceptable_ca_names_der);
  }

 private:
  RecordReader client_;
  RecordReader server_;
  HandshakeFacts facts_;
};

template <typename F>
void RecordReader::feed(std::string_view bytes, F&& on_message) {
  if (first_bytes_.size() < 64) first_bytes_.append(bytes.substr(0, 64 - first_bytes_.size()));
  if (stopped_) return;
  seen_ += bytes.size();
  if (seen_ > cap) {
    stopped_ = true;
    return;
  }
  records_.append(bytes);
  std::size_t pos = 0;
  while (!stopped_ && records_.size() - pos >= wire::record_header) {
    auto type = static_cast<unsigned char>(records_[pos]);
    auto major = static_cast<unsigned char>(records_[pos + 1]);
    if (type < wire::change_cipher_spec || type > wire::heartbeat || major != 3) {
      looks_like_tls_ = false;
      stopped_ = true;
      break;
    }
    std::size_t length = wire::record_length(records_, pos);
    if (records_.size() - pos < wire::record_header + length) break;
    forbid_at_ = erased_ + pos;
    if (type == wire::heartbeat)
      forbid(Alert::unexpected_message, "a heartbeat message, which was not negotiated (RFC 6520)");
    if (type == wire::change_cipher_spec && (length != 1 || records_[pos + wire::record_header] != 1))
      forbid(Alert::unexpected_message, "a ChangeCipherSpec that is not the single byte 1 (RFC 5246 7.1, RFC 8446 5)");
    if (type == wire::change_cipher_spec && !tls13_) {  // ChangeCipherSpec: the rest of this direction is encrypted
      stopped_ = true;
      break;
    }
    if (type == wire::alert && length == 2 && !alert_)  // level, then description
      alert_ = static_cast<std::uint8_t>(records_[pos + wire::record_header + 1]);
    if (type == wire::handshake) {
      if (handshake_.empty()) message_at_ = erased_ + pos;
      handshake_.append(records_, pos + wire::record_header, length);
      std::size_t h = 0;
      while (handshake_.size() - h >= wire::handshake_header) {
        std::size_t body = wire::message_size(handshake_, h) - wire::handshake_header;
        if (handshake_.size() - h < wire::handshake_header + body) break;
        forbid_at_ = h == 0 ? message_at_ : erased_ + pos;  // a message's offset: its first record's
        on_message(static_cast<unsigned char>(handshake_[h]),
                   std::string_view(handshake_).substr(h + wire::handshake_header, body));
        h += wire::handshake_header + body;
      }
      handshake_.erase(0, h);
      if (h > 0) message_at_ = erased_ + pos;
    }
    pos += wire::record_header + length;
  }
  records_.erase(0, pos);
  erased_ += pos;
}

}  // namespace tlsock::engine
