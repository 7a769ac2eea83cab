// Slow and hostile peers, both ways. Against our server (a TLSListener with a 1 s handshake
// timeout): a client that stalls half-way through its ClientHello, one that dribbles it a byte
// at a time, and one that completes the handshake and then sends a line that never ends to a
// server in read_line(). Against our client: a server that dribbles a real server flight and
// one that sends an endless line. Each is stopped by a deadline or by the read buffer's cap,
// with the documented error, while a well-behaved client connecting at the same time is served.
//
// No timing assertions: timeouts are upper bounds for hang detection only. A dribbler sends a
// byte every 50 ms, so finishing its message would take several seconds longer than the 1 s
// deadline; being cut off before its last byte shows that the deadline bounds the whole
// handshake rather than each read.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "support/plain_server.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using namespace std::chrono_literals;
namespace ts = tlsock::testing;

namespace {

constexpr auto handshake_timeout = 1s;
constexpr auto dribble_interval = 50ms;
std::string cap_message_tail(std::string_view option) {
  return " bytes (the read buffer limit, " + std::string(option) + ")";
}

std::string timed_out(std::uint16_t port) {
  return "TimeoutError: TLS handshake with 127.0.0.1:" + std::to_string(port) + " timed out: Connection timed out";
}

ServerOptions short_handshakes() {
  ServerOptions options;
  options.handshake_timeout = handshake_timeout;
  return options;
}

// A real ClientHello from our client, made in memory.
std::string client_hello() {
  std::string hello;
  ClientTLS client("localhost", trusted_session());
  Connection connection = client.start([&](std::string_view bytes) { hello += bytes; });
  return hello;
}

// A real server flight (ServerHello ... ServerHelloDone) answering a ClientHello, made in memory.
std::string server_flight() {
  std::string flight;
  auto server = make_server();
  Connection connection = server->start([&](std::string_view bytes) { flight += bytes; });
  (void)connection.data_from_wire(client_hello());
  return flight;
}

// Sends bytes one at a time, one every dribble_interval, until all are sent or the peer
// closes (or resets) the connection; returns how many were sent.
std::size_t dribble(int fd, std::string_view bytes) {
  std::size_t sent = 0;
  for (char byte : bytes) {
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) != 1) break;
    ++sent;
    // The wait is the pause between bytes; it ends early if the peer closes.
    if (ts::wait_fd(fd, POLLIN, std::chrono::steady_clock::now() + dribble_interval) && sees_eof(fd, 0ms)) break;
  }
  return sent;
}

// The handler for well-behaved clients: one line in, one line out.
void answer_hi(TLSSocket& socket) {
  if (socket.read_line() == "hi\n") socket.write("hello\n");
}

// A well-behaved client: it is served within its (10 s) timeout, or this says why not.
std::string well_behaved_client(std::uint16_t port) {
  return error_of([&] {
    TLSSocket client = connect_tls(port, "localhost", trusted_session());
    client.write("hi\n");
    if (client.read_line() != "hello\n") throw std::runtime_error("wrong answer");
  });
}

}  // namespace

TEST_CASE("a client that stalls half-way through its ClientHello is dropped at the deadline", "[hostile][server]") {
  ServerThread server(make_server(short_handshakes()), answer_hi);
  std::string hello = client_hello();
  ts::UniqueFd stalled = ts::connect_loopback(server.port());
  ts::send_all(stalled.get(), std::string_view(hello).substr(0, hello.size() / 2));

  CHECK(well_behaved_client(server.port()) == "no exception");
  CHECK(sees_eof(stalled.get(), 10s));
  REQUIRE(server.handshake_errors().wait_for(1, 10s));
  server.stop();
  CHECK(server.handshake_errors().lines() == std::vector<std::string>{timed_out(local_port(stalled.get()))});
  CHECK(server.errors().lines().empty());
}

TEST_CASE("a client that dribbles its ClientHello is dropped at the deadline, not after it", "[hostile][server]") {
  ServerThread server(make_server(short_handshakes()), answer_hi);
  std::string hello = client_hello();
  ts::UniqueFd dribbler = ts::connect_loopback(server.port());
  std::uint16_t dribbler_port = local_port(dribbler.get());
  std::size_t sent = 0;
  std::thread slow([&] { sent = dribble(dribbler.get(), hello); });

  // Served while the dribbler is at it.
  CHECK(well_behaved_client(server.port()) == "no exception");
  slow.join();
  INFO("sent " << sent << " of " << hello.size() << " bytes");
  CHECK(sent > 0);
  CHECK(sent < hello.size());
  CHECK(sees_eof(dribbler.get(), 0ms));
  REQUIRE(server.handshake_errors().wait_for(1, 10s));
  server.stop();
  CHECK(server.handshake_errors().lines() == std::vector<std::string>{timed_out(dribbler_port)});
}

TEST_CASE("an endless line to a server in read_line stops at the buffer cap", "[hostile][server]") {
  const std::size_t cap = 512 * 1024;  // ServerOptions::max_buffered_bytes
  ServerOptions options = short_handshakes();
  options.max_buffered_bytes = cap;
  Log log;
  std::atomic<bool> hostile_started{false};
  ServerThread server(
      make_server(options),
      [&](TLSSocket& socket) {
        std::string first = socket.read_line();
        if (first == "hi\n") {
          socket.write("hello\n");
          return;
        }
        // The hostile one: its first line ends only after the cap.
        log.add(first);
      },
      /*thread_per_client=*/true);
  // The hostile client sends half the cap of a line, lets a well-behaved client be served, then goes
  // on until the server gives up on it.
  std::string chunk(64 * 1024, 'x');
  std::size_t sent = 0;
  std::string hostile_end;
  std::atomic<bool> well_behaved_done{false};
  std::thread hostile([&] {
    hostile_end = error_of([&] {
      TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
      for (; sent < cap / 2; sent += chunk.size()) client.write(chunk);
      hostile_started = true;
      while (!well_behaved_done) std::this_thread::sleep_for(1ms);
      // 16 times the cap: if the server kept reading, this would end "no exception".
      for (; sent < 16 * cap; sent += chunk.size()) client.write(chunk);
    });
    hostile_started = true;  // also when it failed early
  });
  auto give_up = std::chrono::steady_clock::now() + 15s;
  while (!hostile_started && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  CHECK(well_behaved_client(server.port()) == "no exception");
  well_behaved_done = true;
  hostile.join();
  server.stop();
  CHECK(log.lines().empty());  // read_line never returned the hostile line
  CHECK(server.errors().lines() ==
        std::vector<std::string>{"TLSError: read_line: no match within the first " + std::to_string(cap) +
                                 cap_message_tail("ServerOptions::max_buffered_bytes")});
  // The server closed on it: its writes fail with a disconnect, long before 16 times the cap.
  CHECK(hostile_end == "TLSDisconnectError: The remote end closed the connection");
  CHECK(sent < 16 * cap);
}

TEST_CASE("a server that dribbles its flight runs into the client's deadline", "[hostile][client]") {
  std::string flight = server_flight();
  std::atomic<std::size_t> sent{0};
  ts::PlainServer server([&](int fd) {
    // Take the ClientHello first (its bytes left unread would turn our close into a reset).
    char buffer[4096];
    if (ts::wait_fd(fd, POLLIN, std::chrono::steady_clock::now() + 5s)) (void)::recv(fd, buffer, sizeof buffer, 0);
    sent = dribble(fd, flight);
  });
  std::string error =
      error_of([&] { (void)connect_tls(server.port(), "localhost", trusted_session(), handshake_timeout); });
  CHECK(error == timed_out(server.port()));
  // The PlainServer's thread ends when the client closed; its destructor would end it anyway.
}

TEST_CASE("a server that sends an endless line stops at the client's buffer cap", "[hostile][client]") {
  constexpr std::size_t cap = 256 * 1024;
  Log log;
  ServerThread server(make_server(), [&](TLSSocket& socket) {
    std::string chunk(64 * 1024, 'y');
    log.add(error_of([&] {
      for (;;) socket.write(chunk);
    }));
  });
  TLSSession::Options options = trusted_options();
  options.max_buffered_bytes = cap;
  {
    TLSSocket client = connect_tls(server.port(), "localhost", trusted_session(options));
    CHECK(error_of([&] { (void)client.read_line(); }) ==
          "TLSError: read_line: no match within the first " + std::to_string(cap) +
              cap_message_tail("TLSSession::Options::max_buffered_bytes"));
    // The buffer holds exactly the cap, nothing lost and nothing more.
    std::string buffered = client.read(4 * cap);
    CHECK(buffered == std::string(cap, 'y'));
  }
  // Closing the client ends the server's writing with a disconnect, not a hang.
  REQUIRE(log.wait_for(1, 15s));
  server.stop();
  CHECK(log.lines() == std::vector<std::string>{"TLSDisconnectError: The remote end closed the connection"});
}
