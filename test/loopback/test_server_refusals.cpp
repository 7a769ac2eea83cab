// What our server refuses in a ClientHello, checked in memory (sans-IO, no socket): the
// ClientHello is our own client's, edited where the test needs a client that behaves
// otherwise, and the server's first answer is read byte for byte.
//
// RFC 7627 5.3: a session made with an extended master secret is never resumed by a
// ClientHello without the extended_master_secret extension (the server aborts with
// handshake_failure), and a session made without one is never stored, so never resumed.
#include <cstdint>
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

// A ClientHello record (one record, as our client sends it) without the extension of the
// given type; the record, handshake and extensions lengths are fixed up.
std::string without_extension(std::string hello, unsigned type) {
  constexpr std::size_t record_header = 5, handshake_header = 4;
  REQUIRE(hello.size() > record_header + handshake_header);
  REQUIRE(hello[0] == 22);             // handshake
  REQUIRE(hello[record_header] == 1);  // ClientHello
  REQUIRE(u16_at(hello, 3) == hello.size() - record_header);
  std::size_t at = record_header + handshake_header + 2 + 32;  // legacy_version, random
  at += 1 + static_cast<unsigned char>(hello.at(at));          // session ID
  at += 2 + u16_at(hello, at);                                 // cipher suites
  at += 1 + static_cast<unsigned char>(hello.at(at));          // compression methods
  const std::size_t extensions_length_at = at;
  for (at += 2; at + 4 <= hello.size(); at += 4 + u16_at(hello, at + 2)) {
    if (u16_at(hello, at) != type) continue;
    const std::size_t removed = 4 + u16_at(hello, at + 2);
    hello.erase(at, removed);
    put_u16(hello, extensions_length_at, u16_at(hello, extensions_length_at) - removed);
    const std::size_t body = hello.size() - record_header - handshake_header;
    hello.at(record_header + 1) = static_cast<char>(body >> 16);
    put_u16(hello, record_header + 2, body & 0xffff);
    put_u16(hello, 3, hello.size() - record_header);
    return hello;
  }
  FAIL("the ClientHello has no extension " << type);
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

// A whole handshake in memory; returns the client's connection (its info() tells how the
// session was established).
ConnectionInfo handshake(const ClientTLS& client, const ServerTLS& server) {
  std::string to_server, to_client;
  Connection c = client.start([&](std::string_view bytes) { to_server += bytes; });
  Connection s = server.start([&](std::string_view bytes) { to_client += bytes; });
  while (!to_server.empty() || !to_client.empty()) {
    (void)s.data_from_wire(std::exchange(to_server, {}));
    (void)c.data_from_wire(std::exchange(to_client, {}));
  }
  REQUIRE(c.is_handshake_complete());
  return c.info();
}

const std::string handshake_failure_alert("\x15\x03\x03\x00\x02\x02\x28", 7);  // fatal, handshake_failure (40)

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
