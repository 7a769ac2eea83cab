// The peer hears why we end a connection, and the application's own closing is kept:
// - every BadTLSDataError goes with a fatal alert on the wire (an unknown record type, a record
//   version that is not TLS, another protocol's answer, a tampered record after the handshake),
//   from TLSSocket and from Connection, in both roles: raw TCP peers record the bytes;
// - a verify callback that throws anything fails the handshake with that exception and a
//   bad_certificate alert; a Connection's callback may send its own alert instead;
// - Connection::application_finished() before the handshake sends close_notify after it;
// - writing after our own shutdown() says "The connection was already closed".
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/fault_proxy.hpp"
#include "support/loopback.hpp"
#include "support/plain_server.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
namespace ts = tlsock::testing;
using namespace std::chrono_literals;

namespace {

// Bytes as "15 03 0x 00 02 02 0a": the record version's minor byte of an alert record (the
// third byte) is shown as "0x", since it depends on the mbedTLS line and the handshake's stage.
std::string alert_hex(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(bytes[i]));
    out += (i == 0 ? "" : " ") + (i == 2 && bytes[0] == '\x15' ? std::string("0x") : std::string(hex));
  }
  return out;
}

// One whole TLS record from fd (header and body), "" if none arrives in time.
std::string read_record(int fd) {
  std::string record;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::size_t want = 5;
  char buffer[16384 + 5];
  while (record.size() < want) {
    if (!ts::wait_fd(fd, POLLIN, deadline)) return "";
    ssize_t n = ::recv(fd, buffer, want - record.size(), 0);
    if (n <= 0) return "";
    record.append(buffer, static_cast<std::size_t>(n));
    if (record.size() == 5)
      want = 5 + ((static_cast<std::size_t>(static_cast<unsigned char>(record[3])) << 8) |
                  static_cast<unsigned char>(record[4]));
  }
  return record;
}

// A raw TCP server: takes the ClientHello (one record), answers with reply, then records
// everything the client sends until it closes.
ts::PlainServer::Handler answer_and_record(std::string reply, Log& received) {
  return [reply = std::move(reply), &received](int fd) {
    if (read_record(fd).empty()) {
      received.add("no ClientHello");
      return;
    }
    ts::send_all(fd, reply);
    received.add(alert_hex(ts::read_until_eof(fd)));
  };
}

// A sans-IO client over a TCP connection to 127.0.0.1: what it writes goes to the socket.
struct WiredClient {
  ts::UniqueFd fd;
  Connection connection;
  std::string plaintext;

  WiredClient(std::uint16_t port, const ClientTLS& tls, ConnectionVerifyCallback verify = {})
      : fd(ts::connect_loopback(port)),
        connection(
            tls.start([this](std::string_view bytes) { ts::send_all(fd.get(), bytes); }, {}, std::move(verify))) {}

  // Feeds what arrives to the connection until done() or the wire's end (wire_eof()); the
  // connection's exceptions propagate.
  void pump(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    char buffer[16384];
    while (!done()) {
      if (!ts::wait_fd(fd.get(), POLLIN, deadline)) throw std::runtime_error("WiredClient: nothing arrived in time");
      ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
      if (n <= 0) {
        connection.wire_eof();
        return;
      }
      plaintext += connection.data_from_wire(std::string_view(buffer, static_cast<std::size_t>(n)));
    }
  }
  void handshake() {
    pump([this] { return connection.is_handshake_complete(); });
  }
};

const std::string other_protocol = "BadTLSDataError: TLS protocol error - server responded using a different protocol";

struct Garbage {
  std::string name;
  std::string reply;  // what the raw server answers the ClientHello with
  std::string error;  // what our client raises
  std::string alert;  // the bytes it sends back, as alert_hex() shows them
};

const std::vector<Garbage> garbage = {
    {"an unknown record type", std::string("\x63\x03\x03\x00\x05hello", 10), other_protocol, "15 03 0x 00 02 02 0a"},
    {"a record version that is not TLS", std::string("\x16\x09\x09\x00\x05hello", 10), other_protocol,
     "15 03 0x 00 02 02 46"},
    {"a TLS record version above TLS 1.2", std::string("\x16\x03\x09\x00\x05hello", 10),
     "BadTLSDataError: TLS handshake failed", "15 03 0x 00 02 02 46"},
    {"an HTTP answer", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
     "BadTLSDataError: TLS protocol error - server responded using HTTP", "15 03 0x 00 02 02 0a"},
};

}  // namespace

// --- BadTLSDataError goes with an alert -------------------------------------------------

TEST_CASE("a server's bad bytes: BadTLSDataError, after a fatal alert (TLSSocket)", "[alerts][bad-data]") {
  for (const Garbage& g : garbage) {
    INFO(g.name);
    Log received;
    ts::PlainServer server(answer_and_record(g.reply, received));
    CHECK(error_of([&] { (void)TLSSocket("127.0.0.1", server.port(), 5s, trusted_session()); }) == g.error);
    REQUIRE(received.wait_for(1));
    CHECK(received.lines() == std::vector<std::string>{g.alert});
  }
}

TEST_CASE("a server's bad bytes: BadTLSDataError, after a fatal alert (Connection)", "[alerts][bad-data][sansio]") {
  for (const Garbage& g : garbage) {
    INFO(g.name);
    Log received;
    ts::PlainServer server(answer_and_record(g.reply, received));
    {
      WiredClient client(server.port(), ClientTLS("localhost", trusted_session()));
      CHECK(error_of([&] { client.handshake(); }) == g.error);
      CHECK(client.connection.is_invalidated());
    }
    REQUIRE(received.wait_for(1));
    CHECK(received.lines() == std::vector<std::string>{g.alert});
  }
}

TEST_CASE("a client that speaks HTTP to our server gets an alert first", "[alerts][bad-data][server]") {
  ServerThread server(make_server(), [](TLSSocket&) {});
  ts::UniqueFd fd = ts::connect_loopback(server.port());
  ts::send_all(fd.get(), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(alert_hex(ts::read_until_eof(fd.get())) == "15 03 0x 00 02 02 0a");
  REQUIRE(server.handshake_errors().wait_for(1));
  server.stop();
  CHECK(server.handshake_errors().lines() ==
        std::vector<std::string>{"BadTLSDataError: TLS protocol error - client sent an HTTP request"});
}

TEST_CASE("a record tampered with after the handshake: the alert reaches the server", "[alerts][bad-data][server]") {
  // TLS 1.2, where every record's type is in the clear: the first application data record the
  // server sends is found in a clean run, then its type or its version is changed on the way.
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    std::string line = socket.read_line();
    socket.write("answer\n");
    log.add(read_to_end(socket));
  });
  ts::FaultProxy proxy(server.port());
  auto run = [&] {
    return error_of([&] {
      // A new session each time: full handshakes, so the records are where the clean run had them.
      TLSSocket client = connect_tls(proxy.port(), "localhost", tls12_session());
      client.write("question\n");
      if (std::string line = client.read_line(); line != "answer\n") throw std::runtime_error("answered " + line);
    });
  };
  REQUIRE(run() == "no exception");
  ts::Relayed clean = proxy.wait_relayed(1);
  std::size_t answer_at = 0;
  for (const ts::TlsRecord& record : ts::parse_records(clean.of(ts::Flow::server_to_client)))
    if (record.type == 23) {
      answer_at = record.offset;
      break;
    }
  REQUIRE(answer_at > 0);
  REQUIRE(log.wait_for(1));

  struct Case {
    std::string name;
    std::size_t byte;  // of the record header
    std::uint8_t mask;
    std::string alert;
  };
  const std::vector<Case> cases = {
      {"record type 0x17 -> 0x60", 0, 0x77, "unexpected_message (10) [unexpected_message, fatal]"},
      {"record version 3.3 -> 4.3", 1, 0x07, "protocol_version (70) [protocol_version, fatal]"},
  };
  std::size_t relayed = 1, logged = 1;
  for (const Case& c : cases) {
    INFO(c.name);
    proxy.set_fault(ts::Fault::flip(ts::Flow::server_to_client, answer_at + c.byte, c.mask));
    CHECK(run() == "BadTLSDataError: TLS connection failed - SSL - An invalid SSL record was received (-0x7200)");
    ts::Relayed tampered = proxy.wait_relayed(++relayed);
    CHECK(tampered.fault_applied);
    // The client's last record is its alert (encrypted: only the type shows).
    std::vector<ts::TlsRecord> sent = ts::parse_records(tampered.of(ts::Flow::client_to_server));
    REQUIRE_FALSE(sent.empty());
    CHECK(sent.back().type == 21);
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() == "TLSAlertError: TLS connection failed - received fatal alert " + c.alert);
  }
  server.stop();
}

// --- Verify callbacks ---------------------------------------------------------------------

TEST_CASE("a verify callback that throws anything fails the handshake with a bad_certificate alert",
          "[alerts][verify]") {
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) { log.add(read_to_end(socket)); });
  const std::string alert_received =
      "TLSAlertError: TLS connection failed - received fatal alert bad_certificate (42) [bad_certificate, fatal]";
  std::size_t logged = 0;

  SECTION("TLSSocket: a std::runtime_error is raised as it was thrown") {
    TLSSession::Options options = trusted_options();
    options.verify_callback = [](const std::vector<Certificate>&) { throw std::runtime_error("pinned key mismatch"); };
    CHECK(error_of([&] { (void)connect_tls(server.port(), "localhost", trusted_session(options)); }) ==
          "std::exception: pinned key mismatch");
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() == alert_received);
  }
  SECTION("TLSSocket: an int") {
    TLSSession::Options options = trusted_options();
    options.verify_callback = [](const std::vector<Certificate>&) { throw 7; };
    int thrown = 0;
    try {
      (void)connect_tls(server.port(), "localhost", trusted_session(options));
    } catch (int value) {
      thrown = value;
    }
    CHECK(thrown == 7);
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() == alert_received);
  }
  SECTION("Connection: an int, then InvalidatedError") {
    WiredClient client(server.port(), ClientTLS("localhost", trusted_session()),
                       [](const std::vector<Certificate>&, Connection&) { throw 7; });
    int thrown = 0;
    try {
      client.handshake();
    } catch (int value) {
      thrown = value;
    }
    CHECK(thrown == 7);
    CHECK(error_of([&] { client.connection.data_from_application("x"); }) ==
          "InvalidatedError: The connection was invalidated by an earlier error: an earlier error");
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() == alert_received);
  }
  SECTION("Connection: the callback sends an alert of its choice") {
    WiredClient client(server.port(), ClientTLS("localhost", trusted_session()),
                       [](const std::vector<Certificate>& chain, Connection& connection) {
                         if (chain.at(0).subject() == "CN=localhost") connection.send_alert(Alert::access_denied);
                       });
    CHECK(error_of([&] { client.handshake(); }) ==
          "TLSError: TLS connection closed - this side sent the fatal alert access_denied");
    CHECK(client.connection.is_invalidated());
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() ==
          "TLSAlertError: TLS connection failed - received fatal alert access_denied (49) [access_denied, fatal]");
  }
  SECTION("Connection: a callback taking a const Connection& still compiles and accepts") {
    WiredClient client(
        server.port(), ClientTLS("localhost", trusted_session()),
        [](const std::vector<Certificate>&, const Connection& connection) { CHECK_FALSE(connection.is_server()); });
    client.handshake();
    client.connection.application_finished();
    REQUIRE(log.wait_for(++logged));
    CHECK(log.lines().back() == "TLSGracefulDisconnectError: The remote end closed the connection");
  }
  server.stop();
}

// --- The application's own close --------------------------------------------------------

TEST_CASE("Connection::application_finished() before the handshake: close_notify follows it",
          "[alerts][close][sansio]") {
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    std::string data;
    std::string end = read_to_end(socket, &data);
    log.add(data + "|" + end);
  });
  {
    WiredClient client(server.port(), ClientTLS("localhost", trusted_session()));
    client.connection.data_from_application("early data\n");
    client.connection.application_finished();
    CHECK(client.connection.is_closed_for_writing());
    CHECK_FALSE(client.connection.is_handshake_complete());
    CHECK(error_of([&] { client.connection.data_from_application("more"); }) ==
          "TLSDisconnectError: The connection was already closed");
    client.handshake();
    CHECK(client.connection.is_closed_for_writing());
    // The server answers our close_notify with its own.
    CHECK(error_of([&] { client.pump([] { return false; }); }) ==
          "TLSGracefulDisconnectError: The remote end closed the connection");
  }
  REQUIRE(log.wait_for(1));
  server.stop();
  CHECK(log.lines() ==
        std::vector<std::string>{"early data\n|TLSGracefulDisconnectError: The remote end closed the connection"});
}

TEST_CASE("a write after our own shutdown() says the connection was already closed", "[alerts][close]") {
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    std::string data;
    std::string end = read_to_end(socket, &data);
    log.add(data + "|" + end);
  });
  TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
  client.write("hello\n");
  client.shutdown();
  CHECK(error_of([&] { client.write("more\n"); }) == "TLSDisconnectError: The connection was already closed");
  CHECK(error_of([&] { client.write("more\n"); }) == "TLSDisconnectError: The connection was already closed");
  client.close();
  CHECK(error_of([&] { client.write("more\n"); }) == "TLSDisconnectError: The connection was already closed");
  REQUIRE(log.wait_for(1));
  server.stop();
  CHECK(log.lines() ==
        std::vector<std::string>{"hello\n|TLSGracefulDisconnectError: The remote end closed the connection"});
}
