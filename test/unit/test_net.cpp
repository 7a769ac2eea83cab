// Unit tests of lib/net against loopback sockets only (127.0.0.1, ::1, localhost): argument
// checks, connect and its failures, readiness, send/recv edge cases, adopting a socket.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "net/net.hpp"
#include "support/catch.hpp"
#include "tlsock/errors.hpp"

#ifndef _WIN32
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace net = tlsock::net;
using namespace std::chrono_literals;

namespace {

// Catch2 v3 renamed the substring matcher; the shim may bring in either version.
auto contains(const std::string& text) {
#if CATCH_VERSION_MAJOR >= 3
  return Catch::Matchers::ContainsSubstring(text);
#else
  return Catch::Matchers::Contains(text);
#endif
}

// Runs function, which must throw Exception, and returns what it threw.
template <typename Exception, typename Function>
Exception thrown_by(Function&& function) {
  try {
    function();
  } catch (const Exception& e) {
    return e;
  }
  FAIL("the expected exception was not thrown");
  throw std::logic_error("unreachable");
}

net::Deadline soon() { return net::Clock::now() + 5s; }

// A socket bound to 127.0.0.1 on a port the kernel picked.
struct Bound {
  net::Socket socket;
  std::uint16_t port = 0;
};

Bound bind_loopback() {
  Bound bound{net::Socket(::socket(AF_INET, SOCK_STREAM, 0)), 0};
  REQUIRE(bound.socket.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(bound.socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(bound.socket.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  bound.port = ntohs(address.sin_port);
  return bound;
}

Bound listen_loopback() {
  Bound bound = bind_loopback();
  REQUIRE(::listen(bound.socket.get(), 16) == 0);
  return bound;
}

// A port nothing listens on: bound, then released. Another process could take it in
// between, but on loopback within a test run that is vanishingly unlikely.
std::uint16_t closed_port() { return bind_loopback().port; }

// Both ends of one loopback TCP connection: client from net::connect, server from accept
// (so still blocking, as an application's own socket would be).
struct Pair {
  Bound listener;
  net::Socket client;
  net::Socket server;
};

Pair connected_pair() {
  Pair pair{listen_loopback(), {}, {}};
  pair.client = net::connect("127.0.0.1", pair.listener.port, soon());
  pair.server = net::Socket(::accept(pair.listener.socket.get(), nullptr, nullptr));
  REQUIRE(pair.server.valid());
  return pair;
}

bool has_status_flag(int fd, int flag) { return (::fcntl(fd, F_GETFL) & flag) != 0; }
bool has_descriptor_flag(int fd, int flag) { return (::fcntl(fd, F_GETFD) & flag) != 0; }

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// Restores SIGPIPE's disposition: the test needs the default (death), whatever the
// test runner inherited, or a missing MSG_NOSIGNAL would go unnoticed.
class DefaultSigpipe {
 public:
  DefaultSigpipe() : previous_(std::signal(SIGPIPE, SIG_DFL)) {}
  ~DefaultSigpipe() { (void)std::signal(SIGPIPE, previous_); }
  DefaultSigpipe(const DefaultSigpipe&) = delete;
  DefaultSigpipe& operator=(const DefaultSigpipe&) = delete;

 private:
  void (*previous_)(int);
};

}  // namespace

TEST_CASE("deadline_after turns a timeout into a deadline and rejects bad ones", "[net]") {
  CHECK_FALSE(net::deadline_after(std::nullopt).has_value());

  const auto before = net::Clock::now();
  const auto zero = net::deadline_after(0s);
  REQUIRE(zero.has_value());
  CHECK(*zero >= before);
  CHECK(*zero <= net::Clock::now());

  const auto later = net::deadline_after(std::chrono::duration<double>(1.5));
  REQUIRE(later.has_value());
  CHECK(*later > net::Clock::now());

  SECTION("negative") {
    const auto e =
        thrown_by<std::invalid_argument>([] { (void)net::deadline_after(std::chrono::duration<double>(-1)); });
    CHECK_THAT(e.what(), contains("timeout: must be") && contains("-1"));
  }
  SECTION("NaN") {
    const auto nan = std::numeric_limits<double>::quiet_NaN();
    const auto e =
        thrown_by<std::invalid_argument>([&] { (void)net::deadline_after(std::chrono::duration<double>(nan)); });
    CHECK_THAT(e.what(), contains("timeout: must be") && contains("nan"));
  }
  SECTION("too large to represent means no limit") {
    CHECK_FALSE(net::deadline_after(std::chrono::duration<double>(std::numeric_limits<double>::infinity())));
    CHECK_FALSE(net::deadline_after(std::chrono::duration<double>(1e300)));
  }
}

TEST_CASE("Socket owns its descriptor", "[net]") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  {
    net::Socket first(fd);
    CHECK(first.valid());
    net::Socket second(std::move(first));
    CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the point
    CHECK(second.get() == fd);
    net::Socket third;
    CHECK_FALSE(third.valid());
    third = std::move(second);
    CHECK(third.get() == fd);
    CHECK(is_open(fd));
  }
  CHECK_FALSE(is_open(fd));

  const int other = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(other >= 0);
  net::Socket owner(other);
  const int released = owner.release();
  CHECK(released == other);
  CHECK_FALSE(owner.valid());
  owner.close();  // closing an empty Socket does nothing
  CHECK(is_open(other));
  ::close(other);
}

TEST_CASE("connect reaches a loopback listener, with TCP_NODELAY", "[net]") {
  const Bound listener = listen_loopback();
  const net::Socket socket = net::connect("127.0.0.1", listener.port, soon());
  REQUIRE(socket.valid());

  int nodelay = 0;
  socklen_t length = sizeof nodelay;
  REQUIRE(::getsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0);
  CHECK(nodelay != 0);
  CHECK(has_status_flag(socket.get(), O_NONBLOCK));
  CHECK(has_descriptor_flag(socket.get(), FD_CLOEXEC));
  CHECK(net::peer_address(socket.get()) == "127.0.0.1:" + std::to_string(listener.port));
}

TEST_CASE("connect without a deadline", "[net]") {
  const Bound listener = listen_loopback();
  CHECK(net::connect("127.0.0.1", listener.port, std::nullopt).valid());
}

TEST_CASE("connect to a closed port is refused with the address in the message", "[net]") {
  const std::uint16_t port = closed_port();
  const auto e = thrown_by<std::system_error>([&] { (void)net::connect("127.0.0.1", port, soon()); });
  CHECK(e.code() == std::errc::connection_refused);
  CHECK(e.code().value() == ECONNREFUSED);
  CHECK_THAT(e.what(), contains("connect to 127.0.0.1:" + std::to_string(port)) && contains("(127.0.0.1)"));
}

TEST_CASE("connect resolves localhost and tries each of its addresses", "[net]") {
  // Listening on 127.0.0.1 only: if localhost resolves to ::1 first, that attempt is
  // refused and connect must go on to the IPv4 address.
  const Bound listener = listen_loopback();
  const net::Socket socket = net::connect("localhost", listener.port, soon());
  REQUIRE(socket.valid());
  CHECK(net::peer_address(socket.get()) == "127.0.0.1:" + std::to_string(listener.port));
}

TEST_CASE("connect to an IPv6 loopback literal", "[net]") {
  net::Socket listener(::socket(AF_INET6, SOCK_STREAM, 0));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  if (!listener.valid() || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    TLSOCK_SKIP("no IPv6 loopback on this machine");
  }
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  REQUIRE(::listen(listener.get(), 4) == 0);
  const std::uint16_t port = ntohs(address.sin6_port);

  const net::Socket socket = net::connect("::1", port, soon());
  CHECK(net::peer_address(socket.get()) == "[::1]:" + std::to_string(port));
}

TEST_CASE("connect to an unknown host fails to resolve", "[net]") {
  const auto e = thrown_by<std::system_error>([] { (void)net::connect("no-such-host.invalid", 443, soon()); });
  CHECK_THAT(e.what(), contains("resolve no-such-host.invalid:443 failed"));
}

TEST_CASE("connect rejects bad arguments, naming them", "[net]") {
  const auto port = thrown_by<std::invalid_argument>([] { (void)net::connect("127.0.0.1", 0, soon()); });
  CHECK_THAT(port.what(), contains("port") && contains("0"));

  const auto empty = thrown_by<std::invalid_argument>([] { (void)net::connect("", 443, soon()); });
  CHECK_THAT(empty.what(), contains("host: must not be empty"));

  const std::string long_host(254, 'a');
  const auto too_long = thrown_by<std::invalid_argument>([&] { (void)net::connect(long_host, 443, soon()); });
  CHECK_THAT(too_long.what(), contains("host: longer than 253 characters (254)"));

  const std::string with_nul("example.com\0.evil", 17);
  const auto nul = thrown_by<std::invalid_argument>([&] { (void)net::connect(with_nul, 443, soon()); });
  CHECK_THAT(nul.what(), contains("host: contains a NUL byte") && contains("example.com\\0.evil"));
}

TEST_CASE("wait reports readiness, or false once the deadline passes", "[net]") {
  Pair pair = connected_pair();
  CHECK_FALSE(net::wait(pair.client.get(), net::Direction::read, net::Clock::now() + 50ms));
  CHECK_FALSE(net::wait(pair.client.get(), net::Direction::read, net::Clock::now() - 1s));
  CHECK(net::wait(pair.client.get(), net::Direction::write, net::Clock::now() - 1s));

  char byte = 'x';
  REQUIRE(::send(pair.server.get(), &byte, 1, 0) == 1);
  CHECK(net::wait(pair.client.get(), net::Direction::read, soon()));
  CHECK(net::wait(pair.client.get(), net::Direction::read, std::nullopt));
}

TEST_CASE("send_some and recv_some move bytes without blocking", "[net]") {
  Pair pair = connected_pair();
  char buffer[16] = {};
  CHECK_FALSE(net::recv_some(pair.client.get(), buffer, sizeof buffer).has_value());
  CHECK(net::send_some(pair.client.get(), "", 0) == 0);
  CHECK_THROWS_AS(net::recv_some(pair.client.get(), buffer, 0), std::invalid_argument);

  CHECK(net::send_some(pair.client.get(), "hello", 5) == 5);
  REQUIRE(net::wait(pair.server.get(), net::Direction::read, soon()));
  CHECK(::recv(pair.server.get(), buffer, sizeof buffer, 0) == 5);
  CHECK(std::string(buffer, 5) == "hello");
}

TEST_CASE("send_some returns 0 when the send buffer is full", "[net]") {
  Pair pair = connected_pair();
  const std::string chunk(std::size_t{64} * 1024, 'z');
  std::size_t sent = 0;
  for (int i = 0; i < 10000; ++i) {
    sent = net::send_some(pair.client.get(), chunk.data(), chunk.size());
    if (sent == 0) break;
  }
  CHECK(sent == 0);
  CHECK_FALSE(net::wait(pair.client.get(), net::Direction::write, net::Clock::now() + 50ms));
}

TEST_CASE("recv_some returns 0 at end of stream", "[net]") {
  Pair pair = connected_pair();
  char buffer[16];

  SECTION("orderly close") { pair.server.close(); }
  SECTION("half close") { net::shutdown_write(pair.server.get()); }
  SECTION("reset") {
    const linger abort_on_close{1, 0};  // close sends RST
    REQUIRE(::setsockopt(pair.server.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
    pair.server.close();
  }
  REQUIRE(net::wait(pair.client.get(), net::Direction::read, soon()));
  const auto received = net::recv_some(pair.client.get(), buffer, sizeof buffer);
  REQUIRE(received.has_value());
  CHECK(*received == 0);
}

TEST_CASE("send_some to a closed peer never raises SIGPIPE", "[net]") {
  const DefaultSigpipe default_sigpipe;
  Pair pair = connected_pair();
  pair.server.close();

  // The first send usually succeeds and draws an RST; a later one then fails. Either
  // way the process must survive, which is the point of this test.
  bool failed = false;
  for (int attempt = 0; attempt < 50 && !failed; ++attempt) {
    try {
      (void)net::send_some(pair.client.get(), "data", 4);
      std::this_thread::sleep_for(10ms);
    } catch (const std::system_error& e) {
      failed = true;
      CHECK((e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset));
      CHECK_THAT(e.what(), contains("send failed"));
    }
  }
  SUCCEED("still alive");
}

TEST_CASE("is_ip_literal", "[net]") {
  CHECK(net::is_ip_literal("127.0.0.1"));
  CHECK(net::is_ip_literal("255.255.255.255"));
  CHECK(net::is_ip_literal("::1"));
  CHECK(net::is_ip_literal("2001:db8::1"));
  CHECK(net::is_ip_literal("::ffff:192.0.2.1"));
  CHECK(net::is_ip_literal("fe80::1%eth0"));

  CHECK_FALSE(net::is_ip_literal(""));
  CHECK_FALSE(net::is_ip_literal("[::1]"));
  CHECK_FALSE(net::is_ip_literal("localhost"));
  CHECK_FALSE(net::is_ip_literal("example.com"));
  CHECK_FALSE(net::is_ip_literal("256.1.1.1"));
  CHECK_FALSE(net::is_ip_literal("1.2.3"));
  CHECK_FALSE(net::is_ip_literal("1.2.3.4.5"));
  CHECK_FALSE(net::is_ip_literal("1.2.3.4%eth0"));
  CHECK_FALSE(net::is_ip_literal("fe80::1%"));
  CHECK_FALSE(net::is_ip_literal(std::string("127.0.0.1\0x", 11)));
}

TEST_CASE("parse_ip gives the address's bytes, a scoped IPv6 address without its zone", "[net]") {
  auto bytes = [](std::string_view text) {
    std::optional<net::IpAddress> ip = net::parse_ip(text);
    REQUIRE(ip);
    return std::vector<int>(ip->bytes.begin(), ip->bytes.begin() + static_cast<std::ptrdiff_t>(ip->size));
  };
  CHECK(bytes("192.0.2.1") == std::vector<int>{192, 0, 2, 1});
  CHECK(bytes("::1") == std::vector<int>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK(bytes("fe80::1%eth0") == bytes("fe80::1"));
  // An IPv4-mapped IPv6 address is not the IPv4 address: 16 bytes, not 4.
  CHECK(bytes("::ffff:192.0.2.1").size() == 16);
  CHECK_FALSE(net::parse_ip("fe80::1%"));
  CHECK_FALSE(net::parse_ip("[::1]"));
  CHECK_FALSE(net::parse_ip("localhost"));
}

TEST_CASE("peer_address is empty when there is no peer", "[net]") {
  const net::Socket socket(::socket(AF_INET, SOCK_STREAM, 0));
  CHECK(net::peer_address(socket.get()).empty());
  CHECK(net::peer_address(-1).empty());
}

TEST_CASE("adopt prepares an application's connected socket", "[net]") {
  Pair pair = connected_pair();
  REQUIRE_FALSE(has_status_flag(pair.server.get(), O_NONBLOCK));
  net::adopt(pair.server.get());
  CHECK(has_status_flag(pair.server.get(), O_NONBLOCK));
  CHECK(has_descriptor_flag(pair.server.get(), FD_CLOEXEC));
}

TEST_CASE("adopt rejects what is not a connected stream socket", "[net]") {
  const auto invalid = thrown_by<std::invalid_argument>([] { net::adopt(-1); });
  CHECK_THAT(invalid.what(), Catch::Matchers::StartsWith("socket") && contains("-1"));

  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  const net::Socket read_end(pipe_ends[0]), write_end(pipe_ends[1]);
  const auto not_socket = thrown_by<std::invalid_argument>([&] { net::adopt(read_end.get()); });
  CHECK_THAT(not_socket.what(), Catch::Matchers::StartsWith("socket") && contains(std::to_string(read_end.get())));

  const net::Socket datagram(::socket(AF_INET, SOCK_DGRAM, 0));
  const auto not_stream = thrown_by<std::invalid_argument>([&] { net::adopt(datagram.get()); });
  CHECK_THAT(not_stream.what(), contains("stream"));

  const net::Socket unconnected(::socket(AF_INET, SOCK_STREAM, 0));
  const auto not_connected = thrown_by<std::invalid_argument>([&] { net::adopt(unconnected.get()); });
  CHECK_THAT(not_connected.what(), contains("connected"));
}

TEST_CASE("resolve_category names getaddrinfo", "[net]") {
  CHECK(std::string(net::resolve_category().name()) == "getaddrinfo");
}

#endif  // _WIN32
