// Truncation: a peer that ends the TCP connection in the middle of a body, without
// close_notify, is never a clean end. read(), read_exactly(), read_line() and read_until()
// each raise TLSDisconnectError ("The remote end closed the connection", not the graceful
// subclass), return no short result as if the stream had ended, and lose nothing: the bytes
// that did arrive stay readable, exactly those and in order. For contrast, the same reads after
// the peer's close_notify raise TLSGracefulDisconnectError.
//
// Peers: `openssl s_server -WWW` behind a FaultProxy that cuts the body in the middle of a
// record, and our own server (a TLSListener on a thread) that stops with shutdown(2) instead
// of close_notify.
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/fault_proxy.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace std::chrono_literals;
namespace ts = tlsock::testing;
namespace lb = tlsock::loopback;

namespace {

const std::string abrupt_end = "TLSDisconnectError: The remote end closed the connection";
const std::string graceful_end = "TLSGracefulDisconnectError: The remote end closed the connection";
constexpr std::string_view marker = "--END OF BODY--";

// 64-byte lines of letters, then the marker with no line ending after it.
std::string make_body(std::size_t lines) {
  std::string body;
  for (std::size_t i = 0; i < lines; ++i) {
    std::string line(63, static_cast<char>('a' + i % 26));
    body += line + "\n";
  }
  return body + std::string(marker);
}

enum class Method { read, read_exactly, read_line, read_until };

std::string_view name(Method method) {
  switch (method) {
    case Method::read:
      return "read";
    case Method::read_exactly:
      return "read_exactly";
    case Method::read_line:
      return "read_line";
    case Method::read_until:
      return "read_until";
  }
  return "?";
}

// How one read method took the body: what it returned until it raised (or the whole body,
// where it succeeded), then what was still readable with read() and how that ended.
struct Taken {
  std::vector<std::string> returned;
  std::string error = "no exception";
  std::string rest;
  std::string rest_end;

  [[nodiscard]] std::string all() const {
    std::string out;
    for (const auto& piece : returned) out += piece;
    return out + rest;
  }
};

// Takes up to body_size bytes with method, then drains the socket with read().
Taken take(TLSSocket& socket, Method method, std::size_t body_size) {
  Taken out;
  try {
    switch (method) {
      case Method::read:
        break;  // the drain below is the read() loop
      case Method::read_exactly:
        out.returned.push_back(socket.read_exactly(body_size));
        break;
      case Method::read_line:
        for (;;) out.returned.push_back(socket.read_line());
        break;
      case Method::read_until:
        out.returned.push_back(socket.read_until(marker));
        break;
    }
  } catch (const std::exception& e) {
    out.error = lb::describe(e);
  }
  out.rest_end = lb::read_to_end(socket, &out.rest);
  return out;
}

bool all_lines(const std::vector<std::string>& pieces) {
  for (const auto& piece : pieces)
    if (piece.empty() || piece.back() != '\n' || piece.find('\n') != piece.size() - 1) return false;
  return true;
}

// Every method over a connection cut after `arrived` (a proper prefix of the body): each
// raises the abrupt disconnect, and exactly `arrived` can still be read, then the same error.
void check_truncated(const std::function<TLSSocket()>& connect, std::string_view body, std::string_view arrived) {
  REQUIRE(!arrived.empty());
  REQUIRE(arrived.size() < body.size());
  REQUIRE(body.starts_with(arrived));
  for (Method method : {Method::read, Method::read_exactly, Method::read_line, Method::read_until}) {
    INFO(name(method));
    TLSSocket socket = connect();
    Taken taken = take(socket, method, body.size());
    if (method != Method::read) CHECK(taken.error == abrupt_end);
    CHECK(taken.rest_end == abrupt_end);
    CHECK(taken.all() == arrived);
    if (method == Method::read_exactly || method == Method::read_until) CHECK(taken.returned.empty());
    if (method == Method::read_line) CHECK(all_lines(taken.returned));
    // Sticky: the next call says the same.
    CHECK(lb::error_of([&] { (void)socket.read(1); }) == abrupt_end);
  }
}

// The same methods when the peer ended with close_notify after the whole body: each finds
// what it looks for, and the end is graceful.
void check_graceful(const std::function<TLSSocket()>& connect, std::string_view body) {
  for (Method method : {Method::read, Method::read_exactly, Method::read_line, Method::read_until}) {
    INFO(name(method));
    TLSSocket socket = connect();
    Taken taken = take(socket, method, body.size());
    if (method == Method::read_line) {
      // The last piece has no line ending: it stays in the buffer when close_notify comes.
      CHECK(taken.error == graceful_end);
      CHECK(all_lines(taken.returned));
    } else {
      CHECK(taken.error == "no exception");
    }
    CHECK(taken.rest_end == graceful_end);
    CHECK(taken.all() == body);
  }
  // Asking for more than the peer sent before close_notify raises the graceful end, and the
  // bytes stay readable.
  TLSSocket socket = connect();
  CHECK(lb::error_of([&] { (void)socket.read_exactly(body.size() + 1); }) == graceful_end);
  std::string rest;
  CHECK(lb::read_to_end(socket, &rest) == graceful_end);
  CHECK(rest == body);
}

}  // namespace

TEST_CASE("s_server's body cut in the middle of a record is never a clean end", "[truncation][openssl]") {
  if (ts::find_program("openssl").empty()) TLSOCK_SKIP("openssl is not installed");
  const std::string body = make_body(2000);  // 128 KiB: eight full records and a bit
  const std::string headers = "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n";
  ts::TempDir dir;
  std::ofstream(dir.path() / "body.txt", std::ios::binary) << body;
  ts::ServerProcess server = ts::www_server(dir.path());
  ts::FaultProxy proxy(server.port());
  auto session = lb::trusted_session();

  auto connect = [&] {
    TLSSocket socket = lb::connect_tls(proxy.port(), "localhost", session, 10s);
    socket.write("GET /body.txt HTTP/1.0\r\n\r\n");
    REQUIRE(socket.read_until("\r\n\r\n") == headers);
    return socket;
  };

  SECTION("graceful: close_notify after the whole body") { check_graceful(connect, body); }
  SECTION("truncated: the TCP connection cut half way through the server's bytes") {
    std::size_t total = 0;
    {
      TLSSocket socket = connect();
      std::string rest;
      REQUIRE(lb::read_to_end(socket, &rest) == graceful_end);
      REQUIRE(rest == body);
    }
    total = proxy.wait_relayed(1).of(ts::Flow::server_to_client).size();
    proxy.set_fault(ts::Fault::cut(ts::Flow::server_to_client, total / 2));
    // What arrives before the cut: whole records only, the same every time.
    std::string arrived;
    {
      TLSSocket socket = connect();
      CHECK(lb::read_to_end(socket, &arrived) == abrupt_end);
    }
    CHECK(arrived.size() > body.size() / 4);
    check_truncated(connect, body, arrived);
  }
}

TEST_CASE("our server's body ended by a TCP close without close_notify is never a clean end", "[truncation][server]") {
  const std::string body = make_body(500);
  // Ends that mid-line, mid-record; the server sends it in pieces so that it spans records.
  const std::string arrived = body.substr(0, 20'000 + 17);
  std::atomic<bool> graceful = false;
  lb::ServerThread server(lb::make_server(), [&](TLSSocket& socket) {
    const std::string& send = graceful ? body : arrived;
    for (std::size_t at = 0; at < send.size(); at += 7000) socket.write(std::string_view(send).substr(at, 7000));
    if (graceful) {
      socket.shutdown();  // close_notify
    } else if (::shutdown(socket.socket(), SHUT_WR) != 0) {
      return;  // the client then waits for its timeout and the test fails there
    }
    (void)lb::read_to_end(socket);  // keep the connection until the client is done
  });
  auto connect = [&] { return lb::connect_tls(server.port(), "localhost", lb::trusted_session(), 10s); };

  SECTION("graceful: close_notify after the whole body") {
    graceful = true;
    check_graceful(connect, body);
  }
  SECTION("truncated: shutdown(2) with no close_notify") { check_truncated(connect, body, arrived); }
  server.stop();
  CHECK(server.errors().lines().empty());
}
