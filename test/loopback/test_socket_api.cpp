// connect_tcp, TLSSocket::wrap and timeouts as the socket API promises them, against our own
// server on 127.0.0.1: timeouts given as plain numbers of seconds (as in oscrypto) as well as
// std::chrono durations and std::nullopt; connect_tcp's socket in blocking mode, as one the
// caller made; wrap taking a blocking or a non-blocking socket.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using namespace std::chrono_literals;

namespace {

// Echoes each line until the client leaves.
ServerThread echo_server() {
  return ServerThread(make_server(), [](TLSSocket& socket) {
    try {
      for (;;) socket.write(socket.read_line());
    } catch (const TLSDisconnectError&) {
    }
  });
}

bool is_non_blocking(NativeSocket fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

const std::string timeout_rule =
    "std::invalid_argument: timeout: must be a non-negative number of seconds (or std::nullopt for no limit), not ";

}  // namespace

TEST_CASE("timeouts are plain numbers of seconds, as in oscrypto", "[socket-api]") {
  ServerThread server = echo_server();
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  TLSSocket socket("127.0.0.1", server.port(), 5, trusted_session());
  CHECK(socket.timeout() == 5s);

  // Nothing was sent: select_read waits 50 ms and says so.
  CHECK_FALSE(socket.select_read(0.05));
  socket.set_timeout(0.2);
  REQUIRE(socket.timeout().has_value());
  CHECK(socket.timeout()->count() == 0.2);
  CHECK(error_of([&] { (void)socket.read(1); }) ==
        "TimeoutError: read from " + address + " timed out: Connection timed out");

  socket.set_timeout(5);
  socket.write("after the timeout\n");
  CHECK(socket.select_read(5));
  CHECK(socket.read_line() == "after the timeout\n");
  CHECK(socket.select_write(0));

  // Negative and NaN numbers are refused like negative and NaN durations.
  CHECK(error_of([&] { socket.set_timeout(-1); }) == timeout_rule + "-1");
  CHECK(error_of([&] { (void)socket.select_read(-0.5); }) == timeout_rule + "-0.5");
  CHECK(error_of([&] { (void)socket.select_write(std::nan("")); }) == timeout_rule + "nan");
  CHECK(socket.timeout() == 5s);  // unchanged by the refused values

  // What compiled before still does: chrono durations, std::nullopt, std::optional.
  socket.set_timeout(250ms);
  CHECK(socket.timeout() == 0.25);
  socket.set_timeout(std::nullopt);
  CHECK_FALSE(socket.timeout());
  CHECK(socket.timeout() == std::nullopt);
  socket.set_timeout(std::optional<std::chrono::seconds>(3s));
  const std::optional<std::chrono::duration<double>> as_optional = socket.timeout();
  REQUIRE(as_optional.has_value());
  CHECK(as_optional->count() == 3.0);
  socket.close();
}

TEST_CASE("read_into fills the caller's buffer: buffered bytes first, then the wire", "[socket-api]") {
  ServerThread server = echo_server();
  TLSSocket socket("127.0.0.1", server.port(), 5, trusted_session());
  socket.write("first line\nsecond\n");
  std::string first = socket.read_line();
  CHECK(first == "first line\n");
  // Whatever the line reader buffered past its line comes first, a small buffer at a time.
  std::array<char, 4> small{};
  std::string second;
  while (second.size() < 7) {
    std::size_t n = socket.read_into(small);
    REQUIRE(n >= 1);
    REQUIRE(n <= small.size());
    second.append(small.data(), n);
  }
  CHECK(second == "second\n");
  // A buffer larger than what arrived: what there is, at least one byte, never more.
  socket.write("xyz\n");
  std::array<char, 64> large{};
  large.fill('#');
  std::string third;
  while (third.size() < 4) third.append(large.data(), socket.read_into(large));
  CHECK(third == "xyz\n");
  // read() and read_line() still see the stream in order after read_into.
  socket.write("abc\n");
  CHECK(socket.read(1) == "a");
  CHECK(socket.read_into(std::span<char>(small.data(), 1)) == 1);
  CHECK(small[0] == 'b');
  CHECK(socket.read_line() == "c\n");
  socket.close();
}

// After the handshake a read receives from the socket straight into mbedTLS's record buffer,
// from inside mbedTLS's receive callback (engine::Driver::read): an error of the socket must
// come out of read_line as it is, and leave mbedTLS able to go on once the socket works again.
TEST_CASE("a socket error during a read is raised as it is and the connection goes on", "[socket-api]") {
  ServerThread server = echo_server();
  TLSSocket socket("127.0.0.1", server.port(), 5, trusted_session());
  socket.write("one\n");
  CHECK(socket.read_line() == "one\n");
  socket.write("two\n");
  // The socket's descriptor stands for a pipe for a while: recv() fails with ENOTSOCK. The
  // pipe holds a byte, so that waiting for it to be readable returns.
  const NativeSocket fd = socket.socket();
  const int saved = ::dup(fd);
  std::array<int, 2> pipe_fds{};
  REQUIRE(saved >= 0);
  REQUIRE(::pipe(pipe_fds.data()) == 0);
  REQUIRE(::write(pipe_fds[1], "x", 1) == 1);
  REQUIRE(::dup2(pipe_fds[0], fd) == fd);
  try {
    (void)socket.read_line();
    FAIL("read_line returned");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::not_a_socket);
    CHECK(std::string(e.what()) == "recv failed: " + e.code().message());
  }
  REQUIRE(::dup2(saved, fd) == fd);
  for (int other : {saved, pipe_fds[0], pipe_fds[1]}) ::close(other);
  CHECK(socket.read_line() == "two\n");
  socket.write("three\n");
  CHECK(socket.read_line() == "three\n");
  socket.close();
}

TEST_CASE("connect_tcp, wrap and TLSListener::accept take plain numbers of seconds", "[socket-api]") {
  ServerThread server = echo_server();
  TLSSocket socket = TLSSocket::wrap(connect_tcp("127.0.0.1", server.port(), 2.5), "localhost", trusted_session(), 2.5);
  CHECK(socket.timeout() == 2.5);
  socket.write("ping\n");
  CHECK(socket.read_line() == "ping\n");
  socket.close();

  TLSListener idle("127.0.0.1", 0, make_server());
  CHECK(error_of([&] { (void)idle.accept(0.05); }) ==
        "TimeoutError: accept on 127.0.0.1:" + std::to_string(idle.port()) + " timed out: Connection timed out");
  CHECK(error_of([&] { (void)connect_tcp("127.0.0.1", server.port(), -2); }) == timeout_rule + "-2");
}

TEST_CASE("connect_tcp hands back a blocking socket; wrap takes it blocking or not", "[socket-api]") {
  ServerThread server = echo_server();
  for (const bool make_non_blocking : {false, true}) {
    INFO((make_non_blocking ? "made non-blocking by the caller" : "as connect_tcp returned it"));
    const NativeSocket fd = connect_tcp("127.0.0.1", server.port());
    CHECK_FALSE(is_non_blocking(fd));
    if (make_non_blocking) REQUIRE(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
    TLSSocket socket = TLSSocket::wrap(fd, "localhost", trusted_session(), 5s);
    CHECK(socket.socket() == fd);
    socket.write("one\ntwo\n");
    CHECK(socket.read_line() == "one\n");
    CHECK(socket.read_line() == "two\n");
    // The deadline still bounds a read on what was a blocking socket.
    socket.set_timeout(0.1);
    CHECK(error_of([&] { (void)socket.read(1); }) ==
          "TimeoutError: read from 127.0.0.1:" + std::to_string(server.port()) + " timed out: Connection timed out");
    socket.close();
  }
  server.stop();
  CHECK(server.errors().lines().empty());
}
