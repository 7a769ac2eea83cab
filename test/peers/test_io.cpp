// TLSSocket's reading and writing against real peers: large exact transfers, read_line and
// read_until over record boundaries, the read buffer's cap, select, timeouts, and how the end
// of a connection is reported (close_notify or not).
//
// Peers: `openssl s_server -WWW` serves files from a temporary directory (its answer has no
// Content-Length; the body ends with close_notify), `openssl s_server -www` a status page, and
// `gnutls-serv --echo`. The echo server is line-based: it collects what it receives until the
// collected text contains a '\n', then sends all of it back in one write (one record, up to
// 16 KiB); it treats data as a C string (no NUL bytes) and turns "\r\n" into "\n". So echo
// tests send text without NUL or '\r', and every write they want echoed contains a '\n'.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <system_error>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view remote_closed = "The remote end closed the connection";
constexpr std::string_view www_headers = "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n";

bool have_openssl() { return !find_program("openssl").empty(); }
bool have_gnutls() { return !find_program("gnutls-serv").empty(); }

void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Deterministic bytes that never contain marker-like text: letters only.
std::string letters(std::size_t size, unsigned seed = 1) {
  std::mt19937 random(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>('a' + random() % 26);
  return out;
}

// Lines of letters, each ending in '\n', size bytes in all (the last byte is '\n').
std::string text_lines(std::size_t size, unsigned seed = 1) {
  std::string out = letters(size, seed);
  for (std::size_t i = 63; i < size; i += 64) out[i] = '\n';
  out.back() = '\n';
  return out;
}

TLSSocket connect(const ServerProcess& server, std::shared_ptr<TLSSession> session = trusted_session()) {
  return TLSSocket("localhost", server.port(), 10s, std::move(session));
}

}  // namespace

TEST_CASE("50 MiB from s_server -WWW arrive exactly, then a graceful end", "[io]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  constexpr std::size_t size = 50 * 1024 * 1024;
  TempDir dir;
  std::filesystem::path file = dir.path() / "random.bin";
  {
    std::mt19937_64 random(20240601);
    std::string content(size, '\0');
    for (std::size_t i = 0; i < size; i += 8) {
      std::uint64_t word = random();
      std::memcpy(content.data() + i, &word, 8);
    }
    write_file(file, content);
  }
  std::string expected_digest = sha256sum_of(file);

  ServerProcess server = www_server(dir.path());
  TLSSocket socket = connect(server);
  socket.write("GET /random.bin HTTP/1.0\r\n\r\n");
  CHECK(socket.read_until("\r\n\r\n") == www_headers);

  Sha256 digest;
  std::size_t total = 0, largest = 0, empty_reads = 0;
  End end = read_to_end(socket, [&](const std::string& piece) {
    if (piece.empty()) ++empty_reads;
    largest = std::max(largest, piece.size());
    total += piece.size();
    digest.update(piece);
  });
  // s_server ends the body with close_notify.
  CHECK(end == End::graceful);
  CHECK(empty_reads == 0);
  CHECK(largest <= 65536);
  CHECK(total == size);
  CHECK(digest.hex_digest() == expected_digest);
}

TEST_CASE("read_line splits a large body at every line ending", "[io]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  constexpr int lines = 200'000;
  std::string content;
  for (int i = 0; i < lines; ++i) {
    content += "line " + std::to_string(i) + ' ' + std::string(static_cast<std::size_t>(i * 7 % 53), 'x');
    if (i % 101 == 50)
      content += "\r";  // never followed by '\n': every line has text before its ending
    else if (i % 2 == 0)
      content += "\r\n";
    else
      content += "\n";
  }
  TempDir dir;
  write_file(dir.path() / "lines.txt", content);
  ServerProcess server = www_server(dir.path());
  TLSSocket socket = connect(server);
  socket.write("GET /lines.txt HTTP/1.0\r\n\r\n");
  CHECK(socket.read_line() == "HTTP/1.0 200 ok\r\n");
  CHECK(socket.read_line() == "Content-type: text/plain\r\n");
  CHECK(socket.read_line() == "\r\n");

  std::string joined;
  joined.reserve(content.size());
  int bad_endings = 0;
  std::string first_bad;
  for (int i = 0; i < lines; ++i) {
    std::string line = socket.read_line();
    joined += line;
    std::string_view text(line);
    if (text.ends_with("\r\n"))
      text.remove_suffix(2);
    else if (text.ends_with("\n") || text.ends_with("\r"))
      text.remove_suffix(1);
    else
      text = "\n";  // no ending at all: counted below
    if (text.find_first_of("\r\n") != std::string_view::npos) {
      if (bad_endings++ == 0) first_bad = line;
    }
  }
  CHECK(bad_endings == 0);
  CHECK(first_bad.empty());
  CHECK(joined.size() == content.size());
  CHECK(joined == content);
  CHECK(error_of([&] { (void)socket.read_line(); }) == "TLSGracefulDisconnectError: " + std::string(remote_closed));
}

TEST_CASE("read_line returns a last line ended by a lone CR before close_notify", "[io]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  TempDir dir;
  write_file(dir.path() / "cr.txt", "one\ntwo\r");
  ServerProcess server = www_server(dir.path());
  TLSSocket socket = connect(server);
  socket.write("GET /cr.txt HTTP/1.0\r\n\r\n");
  CHECK(socket.read_until("\r\n\r\n") == www_headers);
  CHECK(socket.read_line() == "one\n");
  // After close_notify nothing can follow the "\r": the line is complete.
  std::string last;
  CHECK(error_of([&] { last = socket.read_line(); }) == "no exception");
  CHECK(last == "two\r");
  CHECK(error_of([&] { (void)socket.read_line(); }) == "TLSGracefulDisconnectError: " + std::string(remote_closed));
}

TEST_CASE("read_until finds a marker split across TLS records", "[io]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  TLSSocket socket = connect(server);

  SECTION("a literal marker") {
    // Each write() is one record, echoed back as one record (each holds a '\n'): the marker
    // "--MARKER--" spans the second and third records, the second time at its first byte.
    socket.write("aa\naa");
    socket.write("\nbb--MA");
    socket.write("RKER--\nrest\nx-");
    socket.write("-MARKER--\ntail\n");
    CHECK(socket.read_until("--MARKER--") == "aa\naa\nbb--MARKER--");
    CHECK(socket.read_line() == "\n");
    CHECK(socket.read_line() == "rest\n");
    CHECK(socket.read_until("--MARKER--") == "x--MARKER--");
    CHECK(socket.read_exactly(6) == "\ntail\n");
    // Nothing else is pending.
    CHECK_FALSE(socket.select_read(0.0s));
  }

  SECTION("a regular expression") {
    socket.write("\nhead id=4");
    socket.write("2; tail\n");
    CHECK(read_until(socket, std::regex("id=[0-9]+;")) == "\nhead id=42;");
    CHECK(socket.read_line() == " tail\n");
  }

  SECTION("markers that can never be found are refused") {
    CHECK(error_of([&] { (void)socket.read_until(std::string_view()); }) ==
          "std::invalid_argument: marker: must not be empty");
    CHECK(error_of([&] { (void)read_until(socket, std::regex("a*")); }) ==
          "std::invalid_argument: marker: the regular expression matches the empty string");
    // The socket is still usable.
    socket.write("ok\n");
    CHECK(socket.read_line() == "ok\n");
  }
}

TEST_CASE("read_until and read_line stop at max_buffered_bytes without losing data", "[io]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  constexpr std::size_t limit = 64 * 1024;
  ServerProcess server = gnutls_server({"--echo"});
  TLSSession::Options options = trusted_options();
  options.max_buffered_bytes = limit;
  TLSSocket socket = connect(server, trusted_session(options));

  // 200 KiB without the marker, and one line ending at its very end. The echo server sends it
  // back only once it has all of it, so nothing has to be read while writing.
  std::string data = letters(200 * 1024) + "\n";
  socket.write(data);

  std::string limit_message = "no match within the first " + std::to_string(limit) +
                              " bytes (the read buffer limit, TLSSession::Options::max_buffered_bytes)";
  CHECK(error_of([&] { (void)socket.read_until("--MARKER--"); }) == "TLSError: read_until: " + limit_message);
  CHECK(error_of([&] { (void)socket.read_line(); }) == "TLSError: read_line: " + limit_message);

  // The buffered bytes come first, in order: nothing was lost.
  std::string received = socket.read(1024 * 1024);
  CHECK(received.size() >= 1);
  CHECK(received == data.substr(0, received.size()));
  received += socket.read_exactly(data.size() - received.size());
  CHECK(received.size() == data.size());
  CHECK(received == data);
  CHECK_FALSE(socket.select_read(0.0s));
}

TEST_CASE("read, read_exactly and their arguments", "[io]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  TLSSocket socket = connect(server);

  SECTION("read_exactly returns exactly the bytes asked for, across records") {
    std::string data = text_lines(10'000, 5) + text_lines(30'000, 6) + text_lines(10'000, 7);
    socket.write(std::string_view(data).substr(0, 10'000));
    socket.write(std::string_view(data).substr(10'000, 30'000));
    socket.write(std::string_view(data).substr(40'000));
    CHECK(socket.read_exactly(1) == data.substr(0, 1));
    CHECK(socket.read_exactly(49'998) == data.substr(1, 49'998));
    CHECK(socket.read_exactly(1) == data.substr(49'999));
    CHECK_FALSE(socket.select_read(0.0s));
  }

  SECTION("read(max) returns between 1 and max bytes") {
    std::string data = text_lines(1000, 9);
    socket.write(data);
    std::string received;
    std::size_t out_of_range = 0;
    while (received.size() < data.size()) {
      std::string piece = socket.read(10);
      if (piece.empty() || piece.size() > 10) ++out_of_range;
      received += piece;
    }
    CHECK(out_of_range == 0);
    CHECK(received == data);
  }

  SECTION("read(0) is refused") {
    CHECK(error_of([&] { (void)socket.read(0); }) == "std::invalid_argument: max_length: must be at least 1, not 0");
    socket.write("still fine\n");
    CHECK(socket.read_exactly(11) == "still fine\n");
  }
}

TEST_CASE("select_read and select_write report readiness", "[io]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  TLSSocket socket = connect(server);

  CHECK(socket.select_write(1s));
  CHECK_FALSE(socket.select_read(0.0s));

  socket.write("one\ntwo\n");  // one record, echoed as one record
  CHECK(socket.select_read(5s));
  CHECK(socket.read_line() == "one\n");
  // "two\n" came in the same record and waits in the buffer: no network needed.
  CHECK(socket.select_read(0.0s));
  CHECK(socket.read_line() == "two\n");
  CHECK_FALSE(socket.select_read(0.0s));
}

TEST_CASE("a read timeout raises TimeoutError and leaves the socket usable", "[io]") {
  if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
  ServerProcess server = gnutls_server({"--echo"});
  TLSSocket socket = connect(server);
  socket.set_timeout(0.3s);
  REQUIRE(socket.timeout().has_value());

  bool timed_out = false;
  try {
    (void)socket.read(1);
  } catch (const TimeoutError& e) {
    timed_out = true;
    CHECK(e.code() == std::errc::timed_out);
    std::string what = e.what();
    INFO(what);
    // The operation and the address, as DESIGN.md asks of socket failures.
    CHECK(what.find("read from 127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
    CHECK(what.find("timed out") != std::string::npos);
  }
  CHECK(timed_out);

  socket.set_timeout(10s);
  socket.write("after the timeout\n");
  CHECK(socket.read_exactly(18) == "after the timeout\n");

  // A timeout inside read_line keeps the partial line: nothing is lost.
  socket.write("first\nsecond half");  // echoed at once: it holds a '\n'
  CHECK(socket.read_line() == "first\n");
  socket.set_timeout(0.3s);
  CHECK_THROWS_AS(socket.read_line(), TimeoutError);
  socket.set_timeout(10s);
  socket.write(" ends here\n");
  CHECK(socket.read_line() == "second half ends here\n");
}

TEST_CASE("a peer that vanishes without close_notify is an abrupt disconnect", "[io]") {
  SECTION("at a record boundary: gnutls-serv killed") {
    if (!have_gnutls()) TLSOCK_SKIP("gnutls-serv is not installed");
    ServerProcess server = gnutls_server({"--echo"});
    TLSSocket socket = connect(server);
    socket.write("ping\n");
    CHECK(socket.read_exactly(5) == "ping\n");
    // SIGKILL: the kernel closes the TCP connection; no close_notify is ever sent.
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);
    std::string abrupt = "TLSDisconnectError: " + std::string(remote_closed);
    CHECK(error_of([&] { (void)socket.read(1); }) == abrupt);
    CHECK(error_of([&] { (void)socket.read(1); }) == abrupt);  // sticky
    CHECK_NOTHROW(socket.close());
  }

  SECTION("in the middle of a stream: s_server -WWW killed while sending") {
    if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
    constexpr std::size_t size = 16 * 1024 * 1024;
    TempDir dir;
    write_file(dir.path() / "big.txt", letters(size, 3));
    ServerProcess server = www_server(dir.path());
    TLSSocket socket = connect(server);
    socket.write("GET /big.txt HTTP/1.0\r\n\r\n");
    CHECK(socket.read_until("\r\n\r\n") == www_headers);
    std::size_t total = socket.read_exactly(1024 * 1024).size();
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);  // the sh -c exec'd s_server: same PID
    End end = read_to_end(socket, [&](const std::string& piece) { total += piece.size(); });
    CHECK(end == End::abrupt);
    CHECK(total < size);
    CHECK(error_of([&] { (void)socket.read(1); }) == "TLSDisconnectError: " + std::string(remote_closed));
  }
}

TEST_CASE("after close_notify the buffered data comes first, then a graceful disconnect", "[io]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  TLSSocket socket = connect(server);
  socket.write("GET / HTTP/1.0\r\n\r\n");
  CHECK(socket.read_until("\r\n\r\n") == "HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n");

  std::string graceful = "TLSGracefulDisconnectError: " + std::string(remote_closed);
  // The whole page is buffered while looking for more than it holds; the server's close_notify
  // ends the search...
  SECTION("read_until") {
    CHECK(error_of([&] { (void)socket.read_until("NOT IN THE PAGE"); }) == graceful);
  }
  SECTION("read_exactly") {
    CHECK(error_of([&] { (void)socket.read_exactly(10 * 1024 * 1024); }) == graceful);
  }
  // ...but the page is still there to read.
  std::string page;
  End end = read_to_end(socket, [&](const std::string& piece) { page += piece; });
  CHECK(end == End::graceful);
  CHECK(page.rfind("<HTML><BODY", 0) == 0);
  CHECK(page.ends_with("</pre></BODY></HTML>\r\n\r\n"));
  CHECK(error_of([&] { (void)socket.read(1); }) == graceful);
  CHECK(error_of([&] { (void)socket.read_exactly(1); }) == graceful);
  // read() now returns (by raising) at once, without waiting on the network, which is what
  // select_read reports. (s_server keeps TCP open after its close_notify until we close, so
  // the descriptor itself need not be readable.)
  CHECK(socket.select_read(0.0s));
}
