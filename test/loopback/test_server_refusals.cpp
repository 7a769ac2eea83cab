// What our server refuses in a ClientHello, checked in memory (sans-IO, no socket): the
// ClientHello is our own client's, edited where the test needs a client that behaves
// otherwise, and the server's first answer is read byte for byte.
//
// RFC 7627 5.3: a session made with an extended master secret is never resumed by a
// ClientHello without the extended_master_secret extension (the server aborts with
// handshake_failure), and a session made without one is never stored, so never resumed.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;

namespace {

constexpr unsigned extended_master_secret = 23;  // RFC 7627 5.1

unsigned u16_at(std::string_view bytes, std::size_t at) {
  return (static_cast<unsigned char>(bytes.at(at)) << 8) | static_cast<unsigned char>(bytes.at(at + 1));
}

void put_u16(std::string& bytes, std::size_t at, std::size_t value) {
  bytes.at(at) = static_cast<char>(value >> 8);
  bytes.at(at + 1) = static_cast<char>(value & 0xff);
}

constexpr std::size_t record_header = 5, handshake_header = 4;

// Where the compression methods' length byte is in a ClientHello record (one record, as our
// client sends it).
std::size_t compression_at(std::string_view hello) {
  REQUIRE(hello.size() > record_header + handshake_header);
  REQUIRE(hello[0] == 22);             // handshake
  REQUIRE(hello[record_header] == 1);  // ClientHello
  REQUIRE(u16_at(hello, 3) == hello.size() - record_header);
  std::size_t at = record_header + handshake_header + 2 + 32;  // legacy_version, random
  at += 1 + static_cast<unsigned char>(hello.at(at));          // session ID
  return at + 2 + u16_at(hello, at);                           // cipher suites
}

// Sets the record's and the handshake message's lengths to what follows their headers.
void fix_lengths(std::string& hello) {
  const std::size_t body = hello.size() - record_header - handshake_header;
  hello.at(record_header + 1) = static_cast<char>(body >> 16);
  put_u16(hello, record_header + 2, body & 0xffff);
  put_u16(hello, 3, hello.size() - record_header);
}

// Where the extensions' length is in a ClientHello record, and where the extension of the
// given type starts.
struct ExtensionAt {
  std::size_t list = 0;
  std::size_t at = 0;
};
ExtensionAt extension_at(std::string_view hello, unsigned type) {
  std::size_t at = compression_at(hello);
  at += 1 + static_cast<unsigned char>(hello.at(at));  // compression methods
  const std::size_t list = at;
  for (at += 2; at + 4 <= hello.size(); at += 4 + u16_at(hello, at + 2))
    if (u16_at(hello, at) == type) return {list, at};
  FAIL("the ClientHello has no extension " << type);
  return {};
}

// A ClientHello record whose extension of the given type has this body instead.
std::string with_extension_body(std::string hello, unsigned type, std::string_view body) {
  const ExtensionAt found = extension_at(hello, type);
  const std::size_t old_size = u16_at(hello, found.at + 2);
  hello.replace(found.at + 4, old_size, body);
  put_u16(hello, found.at + 2, body.size());
  put_u16(hello, found.list, u16_at(hello, found.list) + body.size() - old_size);
  fix_lengths(hello);
  return hello;
}

// A ClientHello record without the extension of the given type.
std::string without_extension(std::string hello, unsigned type) {
  const ExtensionAt found = extension_at(hello, type);
  const std::size_t removed = 4 + u16_at(hello, found.at + 2);
  hello.erase(found.at, removed);
  put_u16(hello, found.list, u16_at(hello, found.list) - removed);
  fix_lengths(hello);
  return hello;
}

// A ClientHello record that offers the given compression methods instead of null alone.
std::string with_compression(std::string hello, std::string_view methods) {
  const std::size_t at = compression_at(hello);
  hello.replace(at, 1 + static_cast<unsigned char>(hello.at(at)), 1, static_cast<char>(methods.size()));
  hello.insert(at + 1, methods);
  fix_lengths(hello);
  return hello;
}

// The ClientHello our client writes first.
std::string client_hello(const ClientTLS& client) {
  std::string hello;
  Connection connection = client.start([&](std::string_view bytes) { hello += bytes; });
  return hello;
}

// The server's answer to a ClientHello: what it wrote, and how it failed ("" if it did not).
struct Answer {
  std::string bytes;
  std::string error;
};

Answer answer(const ServerTLS& server, std::string_view hello) {
  Answer out;
  Connection connection = server.start([&](std::string_view bytes) { out.bytes += bytes; });
  try {
    (void)connection.data_from_wire(hello);
  } catch (const std::exception& e) {
    out.error = describe(e);
  }
  return out;
}

using Edit = std::function<std::string(std::string)>;

// A whole handshake in memory; returns the client's connection (its info() tells how the
// session was established).
// first_flight, if given, rewrites the client's first flight (its ClientHello) on the wire;
// second_flight the next (TLS 1.2: ClientKeyExchange, ChangeCipherSpec and Finished).
ConnectionInfo handshake(const ClientTLS& client, const ServerTLS& server, const Edit& first_flight = {},
                         const Edit& second_flight = {}) {
  std::string to_server, to_client;
  Connection c = client.start([&](std::string_view bytes) { to_server += bytes; });
  Connection s = server.start([&](std::string_view bytes) { to_client += bytes; });
  if (first_flight) to_server = first_flight(std::move(to_server));
  (void)s.data_from_wire(std::exchange(to_server, {}));
  (void)c.data_from_wire(std::exchange(to_client, {}));
  if (second_flight) to_server = second_flight(std::move(to_server));
  while (!to_server.empty() || !to_client.empty()) {
    (void)s.data_from_wire(std::exchange(to_server, {}));
    (void)c.data_from_wire(std::exchange(to_client, {}));
  }
  REQUIRE(c.is_handshake_complete());
  return c.info();
}

const std::string handshake_failure_alert("\x15\x03\x03\x00\x02\x02\x28", 7);  // fatal, handshake_failure (40)

// The plaintext records in bytes, as "type:length" ("22:1234 21:2"), and the fatal alerts'
// descriptions as their names ("alert unexpected_message").
std::string records_of(std::string_view bytes) {
  std::string out;
  std::size_t at = 0;
  for (; at + record_header <= bytes.size(); at += record_header + u16_at(bytes, at + 3)) {
    const auto type = static_cast<unsigned char>(bytes[at]);
    const std::size_t length = u16_at(bytes, at + 3);
    if (!out.empty()) out += ' ';
    if (type == 21 && length == 2 && at + record_header + 2 <= bytes.size() && bytes[at + record_header] == 2)
      out += "alert " + std::string(to_string(static_cast<Alert>(bytes[at + record_header + 1])));
    else
      out += std::to_string(type) + ":" + std::to_string(length);
  }
  if (at != bytes.size()) out += " (and " + std::to_string(bytes.size() - at) + " bytes)";
  return out;
}

// The records of a server's answer without the lengths of its handshake records, and its
// flight's handshake records as one: "22 alert unexpected_message" for a flight, then an alert.
std::string shape_of(std::string_view bytes) {
  std::string out;
  const std::string records = records_of(bytes);
  std::string_view all = records;
  while (!all.empty()) {
    std::string_view token = all.substr(0, all.find(' '));
    all.remove_prefix(std::min(all.size(), token.size() + 1));
    if (token == "alert") {  // "alert <name>"
      std::string_view name = all.substr(0, all.find(' '));
      all.remove_prefix(std::min(all.size(), name.size() + 1));
      out += (out.empty() ? "" : " ") + std::string(token) + " " + std::string(name);
      continue;
    }
    if (token.starts_with("22:")) token = "22";
    if (token == "22" && (out == "22" || out.ends_with(" 22"))) continue;
    out += (out.empty() ? "" : " ") + std::string(token);
  }
  return out;
}

// A one-record handshake flight split into records of at most `size` bytes of its body each.
std::string fragmented(std::string_view flight, std::size_t size) {
  REQUIRE(u16_at(flight, 3) == flight.size() - record_header);
  std::string out;
  for (std::size_t at = record_header; at < flight.size(); at += size) {
    std::string_view part = flight.substr(at, size);
    std::string header(flight.substr(0, record_header));
    put_u16(header, 3, part.size());
    out += header + std::string(part);
  }
  return out;
}

// A record of the given type and body.
std::string record(unsigned type, std::string_view body) {
  std::string out{static_cast<char>(type), 3, 3, 0, 0};
  put_u16(out, 3, body.size());
  return out + std::string(body);
}

// The server's answer to our client's second flight (TLS 1.2: ClientKeyExchange,
// ChangeCipherSpec, Finished), each flight rewritten on the wire as given.
Answer second_flight_answer(const ClientTLS& client, const ServerTLS& server, const Edit& first_flight,
                            const Edit& second_flight) {
  std::string to_server, to_client;
  Connection c = client.start([&](std::string_view bytes) { to_server += bytes; });
  Connection s = server.start([&](std::string_view bytes) { to_client += bytes; });
  (void)s.data_from_wire(first_flight(std::exchange(to_server, {})));
  (void)c.data_from_wire(std::exchange(to_client, {}));
  REQUIRE(to_server.size() > record_header);
  Answer out;
  try {
    (void)s.data_from_wire(second_flight(std::exchange(to_server, {})));
  } catch (const std::exception& e) {
    out.error = describe(e);
  }
  out.bytes = to_client;
  return out;
}

// A flight's first record split into records of at most `size` bytes of its body each; the
// rest as it was.
std::string first_record_fragmented(const std::string& flight, std::size_t size) {
  const std::size_t first = record_header + u16_at(flight, 3);
  REQUIRE(first <= flight.size());
  return fragmented(flight.substr(0, first), size) + flight.substr(first);
}

std::string refused(std::string_view what) {
  return "BadTLSDataError: TLS handshake failed - the client sent " + std::string(what);
}

constexpr unsigned change_cipher_spec = 20, heartbeat = 24;

// Our client sends its ClientHello followed by `after`; the server's answer goes back to the
// client. Returns the server's answer, and in `client_error` how the client ended: it reads
// the server's alert in plaintext (TLS 1.2) or under the handshake keys (TLS 1.3).
Answer hello_then(const ClientTLS& client, const ServerTLS& server, std::string_view after, std::string& client_error) {
  std::string hello;
  Connection connection = client.start([&](std::string_view bytes) { hello += bytes; });
  Answer out = answer(server, hello + std::string(after));
  client_error = error_of([&] { (void)connection.data_from_wire(out.bytes); });
  return out;
}

// Whether the client heard the server's fatal unexpected_message. Under TLS 1.3 mbedTLS 3.6's
// server encrypts it with its handshake keys, which our client, past the server's Finished,
// cannot read (Mbed-TLS/mbedtls#10877): there the answer ends in one more encrypted record,
// of an alert's size (2 bytes and the content type, padded to 16, and the tag).
bool heard_unexpected_message(const Answer& answer, const std::string& client_error, bool tls13) {
  UNSCOPED_INFO("the server's answer: " << records_of(answer.bytes) << "; the client: " << client_error);
  if (tls13) return records_of(answer.bytes).ends_with(" 23:64 23:32");
  return client_error ==
         "TLSAlertError: TLS handshake failed - received fatal alert unexpected_message (10) [unexpected_message, "
         "fatal]";
}

}  // namespace

TEST_CASE("a session with an extended master secret is not resumed by a ClientHello without one",
          "[server][refusals][ems]") {
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};  // session IDs and TLS 1.2 tickets
  const bool by_ticket = GENERATE(false, true);
  options.session_cache = !by_ticket;
  options.session_tickets = by_ticket;
  INFO((by_ticket ? "by ticket" : "by session ID"));
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());

  ConnectionInfo first = handshake(client, *server);
  CHECK(reuse_of(by_ticket ? first.session_ticket : first.session_id) == "new");

  SECTION("with the extension, the session is resumed") {
    ConnectionInfo second = handshake(client, *server);
    CHECK(reuse_of(by_ticket ? second.session_ticket : second.session_id) == "reused");
  }
  SECTION("without it, the server aborts with handshake_failure and says why") {
    Answer refused = answer(*server, without_extension(client_hello(client), extended_master_secret));
    CHECK(refused.error ==
          "TLSError: TLS handshake failed - the client resumed a session without its extended master secret "
          "(RFC 7627)");
    CHECK(refused.bytes == handshake_failure_alert);
  }
}

TEST_CASE("a ClientHello without an extended master secret and no known session gets a full handshake",
          "[server][refusals][ems]") {
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());
  Answer full = answer(*server, without_extension(client_hello(client), extended_master_secret));
  CHECK(full.error.empty());
  REQUIRE(full.bytes.size() > 9);
  CHECK(full.bytes[0] == 22);  // a handshake record: ServerHello and the rest of the flight
  CHECK(full.bytes[5] == 2);
}

TEST_CASE("a ClientHello without the null compression method is refused with illegal_parameter",
          "[server][refusals][compression]") {
  // RFC 5246 7.4.1.2: the list MUST contain null; RFC 8446 4.1.2: exactly null, else
  // illegal_parameter. mbedTLS's TLS 1.2 server ignores the list.
  auto server = make_server();
  const std::string methods = GENERATE(std::string("\x01"), std::string("\x01\x40"));
  ClientTLS client("localhost", tls12_session());
  Answer answer_ = answer(*server, with_compression(client_hello(client), methods));
  CHECK(answer_.error == refused("a ClientHello without the null compression method (RFC 5246 7.4.1.2)"));
  CHECK(shape_of(answer_.bytes) == "alert illegal_parameter");
}

TEST_CASE("a TLS 1.2 ClientHello that offers null among other compression methods gets a handshake",
          "[server][refusals][compression]") {
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());
  Answer full = answer(*server, with_compression(client_hello(client), std::string("\x01\x00", 2)));
  CHECK(full.error.empty());
  CHECK(shape_of(full.bytes) == "22");
}

TEST_CASE("a ClientHello whose lengths do not add up is refused with decode_error", "[server][refusals][malformed]") {
  auto server = make_server();
  ClientTLS client("localhost", trusted_session());
  std::string hello = client_hello(client);
  SECTION("its last bytes cut off, the handshake length fixed") {
    const std::size_t cut = GENERATE(1, 7);
    hello.resize(hello.size() - cut);
    fix_lengths(hello);
  }
  SECTION("bytes after its extensions") {
    hello += std::string("\0\0\0\0", 4);
    fix_lengths(hello);
  }
  SECTION("its extensions' length too long by one") {
    std::size_t at = compression_at(hello);
    at += 1 + static_cast<unsigned char>(hello.at(at));
    put_u16(hello, at, u16_at(hello, at) + 1);
  }
  Answer answer_ = answer(*server, hello);
  CHECK(answer_.error == refused("a malformed ClientHello: its lengths do not add up (RFC 5246 7.4.1.2)"));
  CHECK(shape_of(answer_.bytes) == "alert decode_error");
}

TEST_CASE("a heartbeat message is refused with unexpected_message", "[server][refusals][heartbeat]") {
  // RFC 6520 2: heartbeat messages only after the extension was negotiated, and our server never
  // negotiates it; RFC 5246 6 and RFC 8446 5: an unexpected record type is unexpected_message.
  auto server = make_server();
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  ClientTLS client("localhost", tls13 ? trusted_session() : tls12_session());
  const std::string heartbeat_request = record(heartbeat, std::string("\x01\x00\x04ping", 7) + std::string(16, 'p'));
  SECTION("after the ClientHello: the server answers the ClientHello, then refuses") {
    std::string client_error;
    Answer answer_ = hello_then(client, *server, heartbeat_request, client_error);
    CHECK(answer_.error == refused("a heartbeat message, which was not negotiated (RFC 6520)"));
    CHECK(shape_of(answer_.bytes).starts_with("22 "));
    CHECK(heard_unexpected_message(answer_, client_error, tls13));
  }
  SECTION("before it") {
    Answer answer_ = answer(*server, heartbeat_request + client_hello(client));
    CHECK(answer_.error == refused("a heartbeat message, which was not negotiated (RFC 6520)"));
    CHECK(shape_of(answer_.bytes) == "alert unexpected_message");
  }
}

TEST_CASE("a ChangeCipherSpec other than the single byte 1 is refused with unexpected_message",
          "[server][refusals][ccs]") {
  // RFC 8446 5: any other change_cipher_spec value is an unexpected_message; tlsfuzzer expects the
  // same of TLS 1.2 (test-ccs, "two bytes long CCS").
  auto server = make_server();
  const std::string body = GENERATE(std::string("\x01\x01"), std::string("\x02"), std::string());
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  ClientTLS client("localhost", tls13 ? trusted_session() : tls12_session());
  std::string client_error;
  Answer answer_ = hello_then(client, *server, record(change_cipher_spec, body), client_error);
  CHECK(answer_.error == refused("a ChangeCipherSpec that is not the single byte 1 (RFC 5246 7.1, RFC 8446 5)"));
  CHECK(shape_of(answer_.bytes).starts_with("22 "));
  CHECK(heard_unexpected_message(answer_, client_error, tls13));
}

TEST_CASE("a ClientHello fragmented over several records gets a handshake", "[server][refusals][fragmented]") {
  // RFC 5246 6.2.1 and RFC 8446 5.1: handshake messages may be fragmented over records; the
  // engine joins the ClientHello's fragments, which mbedTLS's server cannot.
  auto server = make_server();
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  const std::size_t size = GENERATE(1, 5, 100);
  INFO((tls13 ? "TLSv1.3" : "TLSv1.2") << ", fragments of " << size << " bytes");
  ClientTLS client("localhost", tls13 ? trusted_session() : tls12_session());
  ConnectionInfo info = handshake(client, *server, [&](const std::string& flight) { return fragmented(flight, size); });
  REQUIRE(info.protocol.has_value());
  CHECK(to_string(*info.protocol) == (tls13 ? "TLSv1.3" : "TLSv1.2"));
}

TEST_CASE("a fragmented ClientHello is checked whole", "[server][refusals][fragmented]") {
  auto server = make_server();
  ClientTLS client("localhost", tls12_session());
  Answer answer_ = answer(*server, fragmented(with_compression(client_hello(client), "\x01"), 7));
  CHECK(answer_.error == refused("a ClientHello without the null compression method (RFC 5246 7.4.1.2)"));
  CHECK(shape_of(answer_.bytes) == "alert illegal_parameter");
}

TEST_CASE("a ClientHello record with a higher minor version gets a handshake", "[server][refusals][version]") {
  // RFC 5246 E.1: servers accept any {03,XX} as the ClientHello's record version; RFC 8446 5.1:
  // it is ignored. mbedTLS refuses one above TLS 1.2's; the engine reads it as TLS 1.2's.
  auto server = make_server();
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  const char minor = GENERATE(char{4}, char{0x7f});
  const bool split = GENERATE(false, true);
  ClientTLS client("localhost", tls13 ? trusted_session() : tls12_session());
  ConnectionInfo info = handshake(client, *server, [&](std::string flight) {
    if (split) flight = fragmented(flight, 64);
    for (std::size_t at = 0; at < flight.size(); at += record_header + u16_at(flight, at + 3))
      flight.at(at + 2) = minor;
    return flight;
  });
  REQUIRE(info.protocol.has_value());
  CHECK(to_string(*info.protocol) == (tls13 ? "TLSv1.3" : "TLSv1.2"));
}

TEST_CASE("a ClientKeyExchange fragmented into records of a few bytes gets a handshake",
          "[server][refusals][fragmented]") {
  // RFC 5246 6.2.1: mbedTLS 3.6 wants each handshake message's 4-byte header in one record and
  // 2.28 joins no fragments; the engine joins the client's plaintext handshake messages.
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  const std::size_t size = GENERATE(1, 3, 7);
  INFO("fragments of " << size << " bytes");
  ClientTLS client("localhost", tls12_session());
  ConnectionInfo info = handshake(client, *server, {}, [&](const std::string& flight) {
    REQUIRE(flight.at(record_header) == 16);  // ClientKeyExchange first
    return first_record_fragmented(flight, size);
  });
  REQUIRE(info.protocol.has_value());
  CHECK(to_string(*info.protocol) == "TLSv1.2");
}

TEST_CASE(
    "a ClientKeyExchange with an ECDHE public key that is not a point on the curve is refused with "
    "illegal_parameter",
    "[server][refusals][key_exchange]") {
  // RFC 8422 5.11 and tlsfuzzer (test-ecdhe-rsa-key-exchange-with-bad-messages): mbedTLS 3.6
  // answers decode_error and 2.28 closes without an alert. The client offers secp256r1 alone, so
  // its key share is an uncompressed point: 0x04, x, y (65 bytes after its length byte).
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());
  constexpr unsigned supported_groups = 10, secp256r1 = 23;
  const Edit p256_only = [](std::string hello) {
    return with_extension_body(std::move(hello), supported_groups, std::string("\0\x02\0\x17", 4));
  };
  constexpr std::size_t share = record_header + handshake_header;  // the key share's length byte
  const auto edited = [&](const std::function<void(std::string&)>& edit, bool fragment) {
    return [edit, fragment](std::string flight) {
      REQUIRE(flight.at(record_header) == 16);
      REQUIRE(static_cast<unsigned char>(flight.at(share)) == 65);
      REQUIRE(flight.at(share + 1) == 4);
      edit(flight);
      return fragment ? first_record_fragmented(flight, 1) : flight;
    };
  };
  static_assert(secp256r1 == 0x17);
  const bool fragment = GENERATE(false, true);
  INFO((fragment ? "in records of one byte" : "in one record"));
  SECTION("x and y zero, or y alone, or y's last byte changed: not on the curve") {
    const int which = GENERATE(0, 1, 2);
    const auto off_the_curve = [which](std::string& flight) {
      const std::size_t x = share + 2, y = x + 32;
      if (which == 0) std::fill_n(flight.begin() + x, 64, '\0');
      if (which == 1) std::fill_n(flight.begin() + y, 32, '\0');
      if (which == 2) flight.at(y + 31) ^= '\xff';
    };
    Answer answer_ = second_flight_answer(client, *server, p256_only, edited(off_the_curve, fragment));
    CHECK(answer_.error == refused("an ECDHE public key that is not a point on the curve (RFC 8422 5.11)"));
    CHECK(shape_of(answer_.bytes) == "alert illegal_parameter");
  }
  SECTION("a key share one byte short, its lengths fixed: malformed") {
    const auto short_by_one = [](std::string& flight) {
      flight.erase(share + 65, 1);
      flight.at(share) = 64;                      // the key share
      flight.at(record_header + 3) = 65;          // the handshake message (under 256 bytes)
      put_u16(flight, 3, handshake_header + 65);  // the record
    };
    Answer answer_ = second_flight_answer(client, *server, p256_only, edited(short_by_one, fragment));
    CHECK(answer_.error == refused("a malformed ClientKeyExchange: its lengths do not add up (RFC 8422 5.7)"));
    CHECK(shape_of(answer_.bytes) == "alert decode_error");
  }
}

TEST_CASE("a client's plaintext fatal alert after the server's flight ends the handshake without an answer",
          "[server][refusals][alert]") {
  // RFC 8446 6 and RFC 5246 7.2: a fatal alert closes the connection, and the other side sends
  // nothing more. Under TLS 1.3 the server then reads with the client's handshake keys, and
  // mbedTLS answers the plaintext alert with bad_record_mac under its own, which a client that
  // failed before it had them cannot read (tlsfuzzer: test-tls13-unencrypted-alert).
  auto server = make_server();
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  INFO((tls13 ? "TLSv1.3" : "TLSv1.2"));
  ClientTLS client("localhost", tls13 ? trusted_session() : tls12_session());
  const Edit as_it_is = [](std::string flight) { return flight; };
  Answer answer_ = second_flight_answer(client, *server, as_it_is, [](const std::string&) {
    return record(21, std::string("\x02\x30", 2));  // fatal, unknown_ca (48)
  });
  CHECK(answer_.error ==
        "TLSAlertError: TLS handshake failed - received fatal alert unknown_ca (48) [unknown_ca, fatal]");
  CHECK(records_of(answer_.bytes).empty());
}

namespace {

// A ClientHello record with TLS_FALLBACK_SCSV (0x5600, RFC 7507) appended to its cipher
// suites and the given legacy_version.
std::string as_fallback(std::string hello, unsigned version) {
  put_u16(hello, record_header + handshake_header, version);
  std::size_t at = record_header + handshake_header + 2 + 32;
  at += 1 + static_cast<unsigned char>(hello.at(at));  // session ID: now the suites' length
  const std::size_t suites = u16_at(hello, at);
  hello.insert(at + 2 + suites, std::string("\x56\x00", 2));
  put_u16(hello, at, suites + 2);
  fix_lengths(hello);
  return hello;
}

}  // namespace

TEST_CASE("a fallback below the server's highest version is refused with inappropriate_fallback",
          "[server][refusals][fallback]") {
  // RFC 7507 3: TLS_FALLBACK_SCSV and a version below the server's highest, whether or not the
  // server speaks that version (mbedTLS answers protocol_version to one it does not).
  // With TLS 1.3 (mbedTLS 3.6), a TLS 1.2 ClientHello with the SCSV is a fallback too.
  const bool tls13 = GENERATE(false, true) && default_protocol() == "TLSv1.3";
  INFO((tls13 ? "a TLS 1.3 server, a TLS 1.2 hello" : "a TLS 1.2 server, a TLS 1.1 hello"));
  ServerOptions options;
  if (!tls13) options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());
  const unsigned tls1_1 = 0x0302, tls1_2 = 0x0303;
  Answer answer_ = answer(*server, as_fallback(client_hello(client), tls13 ? tls1_2 : tls1_1));
  CHECK(answer_.error ==
        refused("TLS_FALLBACK_SCSV with a version below this server's highest: a downgrade (RFC 7507)"));
  CHECK(shape_of(answer_.bytes) == "alert inappropriate_fallback");
}

TEST_CASE("a fallback to the server's highest version gets a handshake", "[server][refusals][fallback]") {
  ServerOptions options;
  options.protocols = {Protocol::TLSv1_2};
  auto server = make_server(options);
  ClientTLS client("localhost", tls12_session());
  const unsigned tls1_2 = 0x0303;
  Answer full = answer(*server, as_fallback(client_hello(client), tls1_2));
  CHECK(full.error.empty());
  CHECK(shape_of(full.bytes) == "22");
}
