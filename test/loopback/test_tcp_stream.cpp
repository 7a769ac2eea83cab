// TCPStream against real plain peers on 127.0.0.1 (test/support/plain_server): reads, lines,
// markers, deadlines and the errors with their classes and messages; TLSSocket::wrap taking a
// stream over (and refusing one that read bytes ahead of the handshake); and calls blocked in
// one thread that another thread ends: shutdown_socket under a TCPStream's or a TLSSocket's
// read, TLSListener::close under accept().
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/plain_server.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using namespace std::chrono_literals;

namespace {

// Sends banner, then echoes what arrives until the client closes (or 10 s pass).
testing::PlainServer::Handler banner_then_echo(std::string banner) {
  return [banner = std::move(banner)](int fd) {
    testing::send_all(fd, banner);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    char buffer[4096];
    while (testing::wait_fd(fd, POLLIN, deadline)) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      testing::send_all(fd, std::string_view(buffer, static_cast<std::size_t>(n)));
    }
  };
}

// Waits (5 s at most) until size bytes can be read from fd, without reading them.
bool arrived(int fd, std::size_t size) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  std::string peek(size, '\0');
  while (testing::wait_fd(fd, POLLIN, deadline)) {
    ssize_t n = ::recv(fd, peek.data(), size, MSG_PEEK);
    if (n == static_cast<ssize_t>(size)) return true;
    if (n <= 0) return false;
    std::this_thread::sleep_for(1ms);  // poll says readable until the rest comes: don't spin
  }
  return false;
}

std::string address_of(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

TEST_CASE("TCPStream reads lines, markers, exact counts and chunks from a plain peer", "[tcp-stream]") {
  testing::PlainServer server(banner_then_echo("220 ready\r\nsecond\nthird\rfourth|rest"));
  TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
  CHECK(stream.timeout() == 5s);
  CHECK(stream.peer_address() == address_of(server.port()));
  CHECK(stream.read_line() == "220 ready\r\n");
  CHECK(stream.read_line() == "second\n");
  CHECK(stream.read_line() == "third\r");
  CHECK(stream.read_until("|") == "fourth|");
  CHECK(stream.read_exactly(2) == "re");
  CHECK(stream.buffered() == 2);
  char two[8];
  CHECK(stream.read_into(std::span<char>(two, 8)) == 2);
  CHECK(std::string(two, 2) == "st");

  // Written bytes come back through the echo: write, then read them in pieces.
  stream.write("ping\npong\n");
  CHECK(stream.select_read(5));
  CHECK(stream.read_line() == "ping\n");
  CHECK(stream.read(64) == "pong\n");
  CHECK(stream.select_write(0));
}

TEST_CASE("TCPStream: the end of the stream, timeouts and the buffer limit as errors", "[tcp-stream]") {
  SECTION("the peer closes: bytes before the end stay readable, then TLSDisconnectError") {
    testing::PlainServer server(testing::send_and_close("no newline"));
    TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
    stream.shutdown();  // our FIN ends the server's discard loop: it closes
    CHECK(error_of([&] { (void)stream.read_line(); }) == "TLSDisconnectError: " + std::string(remote_closed));
    CHECK(stream.read(64) == "no newline");
    CHECK(error_of([&] { (void)stream.read(64); }) == "TLSDisconnectError: " + std::string(remote_closed));
    CHECK(error_of([&] { stream.write("x"); }).find("TLSDisconnectError: ") == 0);
  }
  SECTION("a silent peer: TimeoutError naming the peer") {
    testing::PlainServer server(testing::accept_and_stall(10s));
    TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 0.2);
    CHECK(error_of([&] { (void)stream.read_line(); }) ==
          "TimeoutError: read from " + address_of(server.port()) + " timed out: Connection timed out");
    CHECK_FALSE(stream.select_read(0.05));
  }
  SECTION("a line longer than the buffer limit") {
    testing::PlainServer server(testing::send_and_close(std::string(64, 'x')));
    TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
    stream.set_max_buffered_bytes(16);
    CHECK(error_of([&] { (void)stream.read_line(); }) ==
          "std::exception: read_line: no match within the first 16 bytes (the read buffer limit, "
          "TCPStream::set_max_buffered_bytes)");
  }
  SECTION("nothing listens") {
    std::uint16_t port = testing::free_port();
    CHECK(error_of([&] { (void)TCPStream::connect("127.0.0.1", port, 5); }) ==
          "std::system_error: connect to " + address_of(port) + " (127.0.0.1) failed: Connection refused");
  }
}

TEST_CASE("TCPStream refuses bad arguments and use after close", "[tcp-stream]") {
  const std::string invalid = "std::invalid_argument: ";
  CHECK(error_of([] { (void)TCPStream::connect("", 25); }) == invalid + "address: must not be empty");
  CHECK(error_of([] { (void)TCPStream::connect("127.0.0.1", 0); }) ==
        invalid + "port: must be between 1 and 65535, not 0");
  CHECK(error_of([] { (void)TCPStream::connect("127.0.0.1", 25, -1); }) ==
        invalid + "timeout: must be a non-negative number of seconds (or std::nullopt for no limit), not -1");
  CHECK(error_of([] { (void)TCPStream::adopt(-1); }) == invalid + "socket: must be a valid socket descriptor, not -1");

  testing::PlainServer server(banner_then_echo("hello\n"));
  TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
  CHECK(error_of([&] { (void)stream.read(0); }) == invalid + "max_length: must be at least 1, not 0");
  CHECK(error_of([&] { (void)stream.read_until(""); }) == invalid + "marker: must not be empty");
  CHECK(error_of([&] { (void)stream.read_into({}); }) == invalid + "buffer: must not be empty");
  CHECK(error_of([&] { stream.set_timeout(std::nan("")); }) ==
        invalid + "timeout: must be a non-negative number of seconds (or std::nullopt for no limit), not nan");
  CHECK(error_of([&] { stream.set_max_buffered_bytes(0); }) == invalid + "limit: must be at least 1, not 0");
  REQUIRE(arrived(stream.socket(), 6));
  CHECK(stream.read_until("l") == "hel");
  CHECK(error_of([&] { (void)stream.release(); }) ==
        "std::logic_error: TCPStream::release: 3 bytes read ahead are still buffered and would be lost");
  stream.close();
  stream.close();
  CHECK(stream.socket() == -1);
  CHECK(error_of([&] { (void)stream.read(1); }) == "TLSDisconnectError: The connection was already closed");
}

TEST_CASE("TLSSocket::wrap takes a TCPStream over after its plain-text part", "[tcp-stream]") {
  ServerThread server(make_server(), [](TLSSocket& socket) { socket.write(socket.read_line()); });
  TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
  TLSSocket tls = TLSSocket::wrap(std::move(stream), "localhost", trusted_session(), 5);
  CHECK(stream.socket() == -1);  // NOLINT(bugprone-use-after-move): moved from, as documented
  tls.write("over TLS\n");
  CHECK(tls.read_line() == "over TLS\n");
  CHECK(tls.protocol() == default_protocol());
}

TEST_CASE("TLSSocket::wrap refuses a TCPStream holding bytes read ahead of the handshake", "[tcp-stream]") {
  // A STARTTLS go-ahead with bytes injected behind it: read_line buffers them, and they cannot
  // be the TLS server's (it says nothing before the ClientHello).
  const std::string sent = "+OK go ahead\r\n+OK injected\r\n";
  testing::PlainServer server(testing::send_and_close(sent));
  TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), 5);
  // All of it waits in the kernel first, so that read_line's one recv takes the injected line too.
  REQUIRE(arrived(stream.socket(), sent.size()));
  CHECK(stream.read_line() == "+OK go ahead\r\n");
  REQUIRE(stream.buffered() == 14);
  CHECK(error_of([&] { (void)TLSSocket::wrap(std::move(stream), "localhost", trusted_session(), 5); }) ==
        "TLSError: TLS protocol error - server responded using POP3 (14 bytes arrived before the TLS handshake "
        "started)");
}

TEST_CASE("shutdown_socket from another thread ends a read blocked in a TCPStream", "[tcp-stream][threads]") {
  testing::PlainServer server(testing::accept_and_stall(30s));
  TCPStream stream = TCPStream::connect("127.0.0.1", server.port(), std::nullopt);  // no deadline
  const NativeSocket fd = stream.socket();
  std::thread other([fd] {
    std::this_thread::sleep_for(100ms);  // before or during the read: it ends either way
    shutdown_socket(fd);
  });
  std::string ended = error_of([&] { (void)stream.read_line(); });
  other.join();
  CHECK(ended == "TLSDisconnectError: " + std::string(remote_closed));
}

TEST_CASE("shutdown_socket from another thread ends a read blocked in a TLSSocket", "[tcp-stream][threads]") {
  // The server answers nothing and waits for the client to go.
  ServerThread server(make_server(), [](TLSSocket& socket) { (void)read_to_end(socket); });
  TLSSocket socket = connect_tls(server.port(), "localhost", trusted_session(), std::nullopt);
  const NativeSocket fd = socket.socket();
  std::thread other([fd] {
    std::this_thread::sleep_for(100ms);
    shutdown_socket(fd);
  });
  std::string ended = error_of([&] { (void)socket.read(64); });
  other.join();
  CHECK(ended == "TLSDisconnectError: " + std::string(remote_closed));
}

TEST_CASE("TLSListener::close from another thread ends a blocked accept", "[tcp-stream][threads]") {
  TLSListener listener("127.0.0.1", 0, make_server());
  const std::string address = address_of(listener.port());
  // A client that speaks no TLS: accept() meets it, reports it through the handler (so the
  // test knows accept() is running) and goes on waiting, without a deadline.
  std::atomic<bool> in_accept{false};
  listener.on_handshake_error([&](const std::exception&) { in_accept = true; });
  std::string ended;
  std::thread acceptor([&] { ended = error_of([&] { (void)listener.accept(std::nullopt); }); });
  testing::UniqueFd client = testing::connect_loopback(listener.port());
  testing::send_all(client.get(), "GET / HTTP/1.1\r\n\r\n");
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!in_accept && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(in_accept);
  listener.close();  // returns once accept() has ended
  acceptor.join();
  CHECK(ended == "TLSDisconnectError: accept on " + address + " ended: the listener was closed");
  // Closed for good: a later accept is a programming error, as before.
  CHECK(error_of([&] { (void)listener.accept(0s); }) == "std::logic_error: accept on a closed TLSListener");
}

TEST_CASE("TLSListener::close from a handshake-error handler ends that accept", "[tcp-stream]") {
  TLSListener listener("127.0.0.1", 0, make_server());
  const std::string address = address_of(listener.port());
  listener.on_handshake_error([&](const std::exception&) { listener.close(); });  // inside accept()
  testing::UniqueFd client = testing::connect_loopback(listener.port());
  testing::send_all(client.get(), "GET / HTTP/1.1\r\n\r\n");
  CHECK(error_of([&] { (void)listener.accept(10s); }) ==
        "TLSDisconnectError: accept on " + address + " ended: the listener was closed");
  CHECK(error_of([&] { (void)listener.accept(0s); }) == "std::logic_error: accept on a closed TLSListener");
}
