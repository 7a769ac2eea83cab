// The handshake transcript reader: session reuse, client-auth requests, DH sizes and
// non-TLS servers, from hand-made records fed in every chunking.
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "engine/messages.hpp"
#include "engine/transcript.hpp"
#include "support/catch.hpp"

namespace {

std::string u16(unsigned v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string u24(unsigned v) {
  return {static_cast<char>(v >> 16), static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string message(unsigned type, const std::string& body) {
  return std::string(1, static_cast<char>(type)) + u24(static_cast<unsigned>(body.size())) + body;
}
std::string record(unsigned type, const std::string& body) {
  return std::string(1, static_cast<char>(type)) + "\x03\x03" + u16(static_cast<unsigned>(body.size())) + body;
}

std::string client_hello(const std::string& session_id, bool ticket) {
  std::string ext = ticket ? u16(35) + u16(4) + "tick" : u16(35) + u16(0);
  std::string body = "\x03\x03" + std::string(32, 'r') + static_cast<char>(session_id.size()) + session_id + u16(2) +
                     u16(0xC02F) + "\x01" + std::string(1, '\0') + u16(static_cast<unsigned>(ext.size())) + ext;
  return message(1, body);
}

std::string server_hello(const std::string& session_id, unsigned suite, bool ticket_ext) {
  std::string ext = ticket_ext ? u16(35) + u16(0) : std::string();
  std::string body = "\x03\x03" + std::string(32, 's') + static_cast<char>(session_id.size()) + session_id +
                     u16(suite) + std::string(1, '\0') + u16(static_cast<unsigned>(ext.size())) + ext;
  return message(2, body);
}

bool is_dhe(std::uint16_t suite) { return suite == 0x009E; }

void feed_server(tlsock::engine::Transcript& t, const std::string& bytes, std::size_t chunk) {
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) t.server_bytes(bytes.substr(pos, chunk), is_dhe);
}

}  // namespace

TEST_CASE("a full handshake with a new session ID and ticket", "[transcript]") {
  std::string sid(32, 'i');
  std::string flight = server_hello(sid, 0xC02F, true) + message(11, "cert") + message(14, "");
  std::string wire =
      record(22, flight) + record(22, message(4, "ticket")) + record(20, "\x01") + record(22, "encrypted");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, wire.size()}) {
    tlsock::engine::Transcript t;
    t.client_bytes(record(22, client_hello("", false)));
    feed_server(t, wire, chunk);
    CHECK(t.facts().server_hello);
    CHECK(t.facts().server_session_id == sid);
    CHECK(t.facts().cipher_suite == 0xC02F);
    CHECK(t.facts().server_certificate);
    CHECK(t.facts().new_session_ticket);
    CHECK(t.facts().server_ticket_extension);
    CHECK_FALSE(t.facts().certificate_request);
    CHECK_FALSE(t.resumed());
    CHECK(t.server_looks_like_tls());
  }
}

TEST_CASE("an abbreviated handshake echoes the offered session ID", "[transcript]") {
  std::string sid(32, 'i');
  tlsock::engine::Transcript t;
  t.client_bytes(record(22, client_hello(sid, true)));
  feed_server(t, record(22, server_hello(sid, 0xC02F, false)) + record(20, "\x01"), 2);
  CHECK(t.facts().ticket_offered);
  CHECK(t.resumed());
}

TEST_CASE("a handshake message split across records is reassembled", "[transcript]") {
  std::string flight = server_hello("", 0x009E, false) + message(11, "cert") + message(13, "req");
  std::string wire;
  for (std::size_t pos = 0; pos < flight.size(); pos += 5) wire += record(22, flight.substr(pos, 5));
  tlsock::engine::Transcript t;
  feed_server(t, wire, 4);
  CHECK(t.facts().certificate_request);
  CHECK(t.facts().server_certificate);
}

TEST_CASE("the DH prime size of a DHE ServerKeyExchange", "[transcript]") {
  std::string p512 = std::string(1, '\x80') + std::string(63, '\x01');
  std::string ske = u16(64) + p512 + u16(1) + "\x02" + u16(1) + "\x05";
  tlsock::engine::Transcript t;
  feed_server(t, record(22, server_hello("", 0x009E, false) + message(11, "c") + message(12, ske)), 1);
  REQUIRE(t.facts().dh_prime_bits);
  CHECK(*t.facts().dh_prime_bits == 512);

  // Leading zero bytes and high zero bits do not count.
  std::string p = std::string("\x00\x01", 2) + std::string(127, '\xff');
  tlsock::engine::Transcript t2;
  feed_server(t2, record(22, server_hello("", 0x009E, false) + message(12, u16(129) + p)), 9);
  REQUIRE(t2.facts().dh_prime_bits);
  CHECK(*t2.facts().dh_prime_bits == 1017);
}

TEST_CASE("truncated or malformed messages are tolerated", "[transcript]") {
  tlsock::engine::Transcript t;
  // A ServerHello whose session ID length runs past the end.
  feed_server(t, record(22, message(2, std::string("\x03\x03", 2) + std::string(32, 's') + "\xff")), 1);
  CHECK(t.facts().server_hello);
  CHECK(t.facts().server_session_id.empty());
  CHECK_FALSE(t.resumed());
}

TEST_CASE("non-TLS servers are recognised", "[transcript]") {
  using tlsock::messages::detect_other_protocol;
  tlsock::engine::Transcript t;
  feed_server(t, "HTTP/1.1 400 Bad Request\r\n\r\n", 3);
  CHECK_FALSE(t.server_looks_like_tls());
  CHECK(detect_other_protocol(t.server_first_bytes()) == "HTTP");
  CHECK(detect_other_protocol("220 ProFTPD Server (ftp.example.com)\r\n") == "FTP");
  CHECK(detect_other_protocol("220-Welcome\r\n") == "FTP");
  CHECK(detect_other_protocol("220 mail.example.com ESMTP Postfix\r\n") == "SMTP");
  CHECK(detect_other_protocol("+OK POP3 ready\r\n") == "POP3");
  CHECK(detect_other_protocol("* OK IMAP4rev1 ready\r\n") == "IMAP");
  CHECK(detect_other_protocol("* PREAUTH ready\r\n") == "IMAP");
  CHECK(detect_other_protocol("\x16\x03\x03").empty());
}

namespace {

// A TLS 1.3 ServerHello (supported_versions 0x0304), with pre_shared_key when a PSK was
// accepted. A HelloRetryRequest has the same shape (and no pre_shared_key).
std::string tls13_server_hello(bool psk) {
  std::string ext = u16(43) + u16(2) + u16(0x0304);
  if (psk) ext += u16(41) + u16(2) + u16(0);
  std::string body = "\x03\x03" + std::string(32, 's') + static_cast<char>(32) + std::string(32, 'l') + u16(0x1301) +
                     std::string(1, '\0') + u16(static_cast<unsigned>(ext.size())) + ext;
  return message(2, body);
}

}  // namespace

TEST_CASE("TLS 1.3 resumption is the pre_shared_key in the ServerHello", "[transcript]") {
  for (bool psk : {false, true}) {
    tlsock::engine::Transcript t;
    feed_server(t, record(22, tls13_server_hello(psk)) + record(20, "\x01") + record(23, "encrypted"), 3);
    CHECK(t.facts().server_version == 0x0304);
    CHECK(t.resumed() == psk);
  }
}

TEST_CASE("a HelloRetryRequest and its ChangeCipherSpec do not hide the ServerHello after them", "[transcript]") {
  // RFC 8446 D.4: a server in middlebox-compatibility mode sends a dummy ChangeCipherSpec after
  // its HelloRetryRequest; the ServerHello that answers the second ClientHello is plaintext.
  std::string wire = record(22, tls13_server_hello(false)) + record(20, "\x01") + record(22, tls13_server_hello(true)) +
                     record(23, "encrypted extensions, finished");
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, wire.size()}) {
    tlsock::engine::Transcript t;
    feed_server(t, wire, chunk);
    CHECK(t.facts().server_version == 0x0304);
    CHECK(t.resumed());
  }
  // TLS 1.2 stops at ChangeCipherSpec: what follows is encrypted.
  tlsock::engine::Transcript t;
  feed_server(t, record(22, server_hello("", 0xC02F, false)) + record(20, "\x01") + record(22, message(13, "x")), 1);
  CHECK_FALSE(t.facts().certificate_request);
}

namespace {

// DER: a tag, a definite length (short or long form), the content.
std::string der(unsigned tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  if (content.size() < 0x80)
    out += static_cast<char>(content.size());
  else
    out += "\x82" + u16(static_cast<unsigned>(content.size()));
  return out + content;
}
// An attribute of a Name: SEQUENCE { OID 2.5.4.x, PrintableString value }.
std::string attribute(unsigned x, const std::string& value) {
  return der(0x30, der(0x06, std::string("\x55\x04", 2) + static_cast<char>(x)) + der(0x13, value));
}
constexpr unsigned country = 6, organization = 10, common_name = 3;
// A Name of one attribute per RDN.
std::string name(const std::vector<std::string>& attributes) {
  std::string rdns;
  for (const std::string& a : attributes) rdns += der(0x31, a);
  return der(0x30, rdns);
}
// A CertificateRequest's body (RFC 5246 7.4.4); TLS 1.0 and 1.1 have no signature algorithms.
std::string certificate_request(const std::vector<std::string>& names, bool tls12) {
  std::string list;
  for (const std::string& n : names) list += u16(static_cast<unsigned>(n.size())) + n;
  return std::string("\x01\x01", 2) + (tls12 ? u16(2) + "\x04\x01" : "") + u16(static_cast<unsigned>(list.size())) +
         list;
}
std::string server_hello_version(unsigned version) {
  std::string body =
      u16(version) + std::string(32, 's') + std::string(1, '\0') + u16(0xC02F) + std::string(1, '\0') + u16(0);
  return message(2, body);
}

}  // namespace

TEST_CASE("the CA names of a TLS 1.0 to 1.2 CertificateRequest", "[transcript][client-auth]") {
  const std::string root =
      name({attribute(country, "NL"), attribute(organization, "Example"), attribute(common_name, "Example Root CA")});
  const std::string other = name({attribute(common_name, "Other CA")});
  for (unsigned version : {0x0303U, 0x0302U, 0x0301U}) {
    INFO("version " << version);
    std::string wire = record(22, server_hello_version(version) + message(11, "cert") +
                                      message(13, certificate_request({root, other}, version == 0x0303)));
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, wire.size()}) {
      tlsock::engine::Transcript t;
      feed_server(t, wire, chunk);
      CHECK(t.facts().certificate_request);
      CHECK(t.facts().acceptable_ca_names_der == std::vector<std::string>{root, other});
    }
  }
  SECTION("none named") {
    tlsock::engine::Transcript t;
    feed_server(t, record(22, server_hello_version(0x0303) + message(13, certificate_request({}, true))), 3);
    CHECK(t.facts().certificate_request);
    CHECK(t.facts().acceptable_ca_names_der.empty());
  }
  SECTION("a list cut short keeps the names before the cut") {
    std::string body = certificate_request({root, other}, true);
    body.resize(body.size() - 3);
    tlsock::engine::Transcript t;
    feed_server(t, record(22, server_hello_version(0x0303) + message(13, body)), 5);
    CHECK(t.facts().certificate_request);
    CHECK(t.facts().acceptable_ca_names_der == std::vector<std::string>{root});
  }
  SECTION("at most 64 names are kept") {
    tlsock::engine::Transcript t;
    feed_server(
        t, record(22, server_hello_version(0x0303) + message(13, certificate_request(std::vector(100, other), true))),
        4096);
    CHECK(t.facts().acceptable_ca_names_der == std::vector(64, other));
  }
}

TEST_CASE("a DER Name as text, and bytes that are not one", "[transcript][client-auth]") {
  using tlsock::backend::distinguished_name_text;
  CHECK(distinguished_name_text(name({attribute(country, "NL"), attribute(organization, "Example"),
                                      attribute(common_name, "Example Root CA")})) ==
        "C=NL, O=Example, CN=Example Root CA");
  // A multi-valued RDN: one SET of two attributes.
  CHECK(distinguished_name_text(der(0x30, der(0x31, attribute(common_name, "a") + attribute(organization, "b")))) ==
        "CN=a + O=b");
  CHECK(distinguished_name_text(der(0x30, "")) == "(an empty name)");
  const std::string good = name({attribute(common_name, "Example Root CA")});
  CHECK(distinguished_name_text("") == "(a name that is not valid DER, 0 bytes)");
  CHECK(distinguished_name_text("garbage") == "(a name that is not valid DER, 7 bytes)");
  CHECK(distinguished_name_text(good + "x") == "(a name that is not valid DER, 29 bytes)");
  CHECK(distinguished_name_text(good.substr(0, good.size() - 1)) == "(a name that is not valid DER, 27 bytes)");
  CHECK(distinguished_name_text(der(0x30, der(0x31, ""))) == "(a name that is not valid DER, 4 bytes)");
  // An attribute without its value; a SET where a SEQUENCE belongs.
  CHECK(distinguished_name_text(der(0x30, der(0x31, der(0x30, der(0x06, "\x55\x04\x03"))))) ==
        "(a name that is not valid DER, 11 bytes)");
  CHECK(distinguished_name_text(der(0x31, der(0x31, attribute(common_name, "a")))) ==
        "(a name that is not valid DER, 14 bytes)");
  // Every prefix of a valid name, and every single-byte change of it, never crashes.
  for (std::size_t n = 0; n < good.size(); ++n) CHECK(distinguished_name_text(good.substr(0, n)).starts_with("("));
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string changed = good;
    changed[i] = static_cast<char>(changed[i] ^ 0xFF);
    CHECK_FALSE(distinguished_name_text(changed).empty());
  }
  // A long name: the text grows past the first buffer.
  std::vector<std::string> many(200, attribute(organization, std::string(100, 'o')));
  std::string long_text = distinguished_name_text(name(many));
  CHECK(long_text.size() == 200 * 102 + 199 * 2);
}
