// The handshake transcript reader: session reuse, client-auth requests, DH sizes and
// non-TLS servers, from hand-made records fed in every chunking.
#include <string>

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
