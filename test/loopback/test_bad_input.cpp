// The bad-input catalogue: every public entry point (include/tlsock/*.hpp) given invalid
// arguments or used in a wrong state (empty, over-long and NUL-containing host names, port 0,
// negative and NaN timeouts, empty markers, regular expressions that match nothing at all,
// calls after close(), moved-from objects, wrong file paths, corrupt PEM, wrong passwords...).
// Each answers with the documented exception class (checked exactly, not a base class) and
// its message; nothing crashes, and a socket handed over is closed. Run under ASan and UBSan
// by ./run, so a wrong-state call that touched freed or null memory would fail here.
//
// One TEST_CASE per entry point (or per small group of overloads). Happy paths are elsewhere.
#include <cxxabi.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <regex>
#include <string>
#include <utility>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "support/loopback.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using namespace std::chrono_literals;
using Catch::Matchers::StartsWith;

namespace {

// "<exact class>: <what()>" for the exception f throws, "no exception" otherwise. The class is
// the thrown object's own (demangled), so a base class or a sibling does not pass.
template <typename F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> name(
        abi::__cxa_demangle(abi::__cxa_current_exception_type()->name(), nullptr, nullptr, &status), &std::free);
    return std::string(status == 0 ? name.get() : "?") + ": " + e.what();
  }
  return "no exception";
}

const std::string invalid = "std::invalid_argument: ";
const std::string already_closed = "tlsock::TLSDisconnectError: The connection was already closed";
const Timeout negative = std::chrono::duration<double>(-1);
const Timeout nan_seconds = std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN());
const std::string timeout_rule = "must be a non-negative number of seconds (or std::nullopt for no limit), not ";

const std::string long_label(64, 'a');
const std::string long_host = std::string(250, 'a') + ".com";  // 254 characters
const std::string nul_host("example.com\0.evil", 17);

// Host names every entry point that takes one refuses, with the message for argument `name`.
// (A struct, not a pair: clang 14 cannot capture structured bindings in the tests' lambdas.)
struct BadHost {
  std::string host;
  std::string error;
};
std::vector<BadHost> bad_hosts(const std::string& name) {
  return {
      {"", invalid + name + ": must not be empty"},
      {long_host, invalid + name + ": longer than 253 characters (254): \"" + std::string(64, 'a') + "\"..."},
      {long_label + ".example.com",
       invalid + name + ": has a label longer than 63 characters (64): \"" + std::string(64, 'a') + "\"..."},
      {nul_host, invalid + name + ": contains a NUL byte: \"example.com\\0.evil\""},
  };
}

// A server that sends two lines and a NUL byte, then waits for the client to close.
ServerThread line_server() {
  return ServerThread(make_server(), [](TLSSocket& socket) {
    socket.write(std::string("hello\nworld\n\0end", 16));
    (void)read_to_end(socket);
  });
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A value as the library's messages quote it: NUL bytes as \0, cut after 64 characters.
std::string in_message(const std::string& value) {
  std::string out = "\"";
  for (const char c : value.substr(0, 64)) out += c == '\0' ? std::string("\\0") : std::string(1, c);
  return out + "\"" + (value.size() > 64 ? "..." : "");
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

const std::string corrupt_pem = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";

}  // namespace

// ---- protocol.hpp, alert.hpp ----------------------------------------------------------

TEST_CASE("parse_protocol: unknown, removed, empty and NUL-containing names", "[bad-input]") {
  CHECK(thrown([] { (void)parse_protocol(""); }) ==
        invalid + "protocol: unknown protocol \"\" (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)");
  CHECK(thrown([] { (void)parse_protocol("tlsv1.2"); }) ==
        invalid + "protocol: unknown protocol \"tlsv1.2\" (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)");
  CHECK(thrown([] { (void)parse_protocol(std::string_view("TLSv1.2\0", 8)); }) ==
        invalid + "protocol: unknown protocol \"TLSv1.2\\0\" (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)");
  CHECK(thrown([] { (void)parse_protocol("SSLv3"); }) ==
        invalid + "protocol: SSLv3 is not supported (it is insecure and was removed)");
  // Names of values outside the enums are "unknown", not a crash.
  CHECK(to_string(static_cast<Protocol>(42)) == "unknown");
  CHECK(to_string(static_cast<Alert>(1)) == "unknown");
  CHECK(to_string(static_cast<AlertLevel>(7)) == "unknown");
}

// ---- certificate.hpp --------------------------------------------------------------------

TEST_CASE("Certificate::from_der, from_pem: empty, garbage, corrupt and truncated input", "[bad-input]") {
  const std::string der = Certificate::load(cert_path("localhost.pem")).front().der();
  CHECK(thrown([] { (void)Certificate::from_der(""); }) == invalid + "der: empty certificate");
  CHECK_THAT(thrown([] { (void)Certificate::from_der("not a certificate"); }),
             StartsWith(invalid + "certificate: not a valid DER certificate: "));
  CHECK_THAT(thrown([&] { (void)Certificate::from_der(der.substr(0, der.size() / 2)); }),
             StartsWith(invalid + "certificate: not a valid DER certificate: "));
  CHECK(thrown([&] { (void)Certificate::from_der(der + std::string(1, '\0')); }) ==
        invalid + "certificate: trailing bytes after the DER certificate");
  CHECK(thrown([] { (void)Certificate::from_pem(""); }) == invalid + "pem: no CERTIFICATE block found");
  CHECK(thrown([] { (void)Certificate::from_pem(corrupt_pem); }) ==
        invalid + "pem: bad base64 in PEM certificate block");
  CHECK(thrown([] { (void)Certificate::from_pem("-----BEGIN CERTIFICATE-----\nMIIB\n"); }) ==
        invalid + "pem: unterminated PEM certificate block");
}

TEST_CASE("Certificate::load: missing files, directories, empty files, corrupt PEM, NUL in the path", "[bad-input]") {
  TempDir dir;
  CHECK(thrown([&] { (void)Certificate::load(dir / "missing.pem"); }) ==
        "std::system_error: cannot read " + (dir / "missing.pem") + ": No such file or directory");
  CHECK(thrown([&] { (void)Certificate::load(dir.path()); }) ==
        "std::system_error: cannot read " + dir.path().string() + ": Is a directory");
  write_file(dir / "empty.pem", "");
  CHECK(thrown([&] { (void)Certificate::load(dir / "empty.pem"); }) == invalid + (dir / "empty.pem") + ": empty file");
  write_file(dir / "corrupt.pem", corrupt_pem);
  CHECK(thrown([&] { (void)Certificate::load(dir / "corrupt.pem"); }) ==
        invalid + (dir / "corrupt.pem") + ": bad base64 in PEM certificate block");
  write_file(dir / "garbage.der", "\x30\x03\x02\x01");
  CHECK_THAT(thrown([&] { (void)Certificate::load(dir / "garbage.der"); }),
             StartsWith(invalid + (dir / "garbage.der") + ": certificate: not a valid DER certificate: "));
  // The C file API would open "root-ca.pem" and ignore the rest.
  const std::string with_nul = cert_path("root-ca.pem").string() + std::string("\0.txt", 5);
  CHECK(thrown([&] { (void)Certificate::load(with_nul); }) ==
        invalid + "path: contains a NUL byte: " + in_message(with_nul));
}

TEST_CASE("PrivateKey::load, from_pem, from_der: wrong and missing passwords, corrupt PEM, wrong paths",
          "[bad-input]") {
  TempDir dir;
  const std::filesystem::path encrypted = cert_path("client-encrypted.key");
  CHECK(thrown([&] { (void)PrivateKey::load(encrypted, "wrong"); }) ==
        invalid + "password: wrong password for the private key " + encrypted.string());
  CHECK(thrown([&] { (void)PrivateKey::load(encrypted); }) ==
        invalid + "password: the private key is encrypted and no password was given");
  // Passwords are bytes: a NUL byte inside is part of the password, not its end. (A NUL
  // byte at the end would still open this key: HMAC pads its key with zeros.)
  CHECK(thrown([&] { (void)PrivateKey::load(encrypted, std::string_view("tl\0sock", 7)); }) ==
        invalid + "password: wrong password for the private key " + encrypted.string());
  CHECK(thrown([&] { (void)PrivateKey::load(dir / "missing.key"); }) ==
        "std::system_error: cannot read " + (dir / "missing.key") + ": No such file or directory");
  const std::string with_nul = cert_path("localhost.key").string() + std::string("\0x", 2);
  CHECK(thrown([&] { (void)PrivateKey::load(with_nul); }) ==
        invalid + "path: contains a NUL byte: " + in_message(with_nul));
  CHECK_THAT(
      thrown([] { (void)PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"); }),
      StartsWith(invalid + "key: not a PEM or DER private key: "));
  CHECK_THAT(thrown([] { (void)PrivateKey::from_pem(""); }),
             StartsWith(invalid + "key: not a PEM or DER private key: "));
  CHECK(thrown([] { (void)PrivateKey::from_der(""); }) == invalid + "key: empty DER private key");
  CHECK_THAT(thrown([] { (void)PrivateKey::from_der("\x30\x00"); }),
             StartsWith(invalid + "key: not a PEM or DER private key: "));
}

TEST_CASE("CertificateChain: empty chains, keys that do not match, wrong order, wrong paths", "[bad-input]") {
  const Certificate leaf = Certificate::load(cert_path("localhost.pem")).front();
  const Certificate intermediate = Certificate::load(cert_path("intermediate-ca.pem")).front();
  const PrivateKey key = PrivateKey::load(cert_path("localhost.key"));
  const PrivateKey other_key = PrivateKey::load(cert_path("client.key"));
  CHECK_THAT(thrown([&] { CertificateChain({}, key); }), StartsWith("tlsock::NoCertificateChainError: "));
  CHECK_THAT(thrown([&] { CertificateChain({leaf}, other_key); }),
             StartsWith("tlsock::LeafCertificateHasNoPrivateKeyError: "));
  CHECK_THAT(thrown([&] { CertificateChain({leaf, leaf}, key); }), StartsWith("tlsock::CertificateChainError: "));
  CHECK_THAT(thrown([&] { (void)CertificateChain::from_pieces({}, {key}); }),
             StartsWith("tlsock::NoCertificateChainError: "));
  CHECK_THAT(thrown([&] {
               (void)CertificateChain::from_pieces({leaf, intermediate}, {key, other_key});
             }),
             StartsWith("tlsock::ExtraneousPrivateKeyError: "));
  TempDir dir;
  CHECK(thrown([&] { (void)CertificateChain::load(dir / "missing.pem", cert_path("localhost.key")); }) ==
        "std::system_error: cannot read " + (dir / "missing.pem") + ": No such file or directory");
  CHECK(thrown([&] { (void)CertificateChain::load(cert_path("localhost-chain.pem"), dir / "missing.key"); }) ==
        "std::system_error: cannot read " + (dir / "missing.key") + ": No such file or directory");
  CHECK(thrown([&] {
          (void)CertificateChain::load(cert_path("client-chain.pem"), cert_path("client-encrypted.key"), "wrong");
        }) == invalid + "password: wrong password for the private key " + cert_path("client-encrypted.key").string());
  CHECK_THAT(thrown([&] { (void)CertificateChain::from_der(leaf.der(), "garbage"); }),
             StartsWith(invalid + "key: not a PEM or DER private key: "));
}

TEST_CASE("Certificate, PrivateKey and CertificateChain stay usable after being moved from", "[bad-input]") {
  // Immutable values: moving copies the shared handle, so the source is still the same value
  // (and never a null one that would crash its getters).
  Certificate certificate = Certificate::load(cert_path("localhost.pem")).front();
  // NOLINTNEXTLINE(performance-move-const-arg): a value without a move constructor, moved as a user would
  Certificate moved_certificate = std::move(certificate);
  CHECK(certificate.der() == moved_certificate.der());  // NOLINT(bugprone-use-after-move): what is tested
  CHECK(certificate.subject() == moved_certificate.subject());

  PrivateKey key = PrivateKey::load(cert_path("localhost.key"));
  PrivateKey moved_key = std::move(key);  // NOLINT(performance-move-const-arg): as above
  CHECK(key.matches(moved_certificate));  // NOLINT(bugprone-use-after-move)

  CertificateChain chain = pki_chain("localhost");
  CertificateChain moved_chain = std::move(chain);  // NOLINT(performance-move-const-arg): as above
  CHECK(chain.leaf() == moved_chain.leaf());        // NOLINT(bugprone-use-after-move)
  CHECK(chain.certificates().size() == moved_chain.certificates().size());
  CHECK(chain.key().matches(chain.leaf()));
}

// ---- session.hpp ------------------------------------------------------------------------

TEST_CASE("TrustRoot: wrong paths, corrupt PEM, empty and garbage DER", "[bad-input]") {
  TempDir dir;
  CHECK(thrown([&] { TrustRoot root(dir / "missing.pem"); }) ==
        "std::system_error: cannot read " + (dir / "missing.pem") + ": No such file or directory");
  write_file(dir / "corrupt.pem", corrupt_pem);
  CHECK(thrown([&] { TrustRoot root(dir / "corrupt.pem"); }) ==
        invalid + (dir / "corrupt.pem") + ": bad base64 in PEM certificate block");
  CHECK(thrown([] { (void)TrustRoot::der(""); }) == invalid + "der: empty certificate");
  CHECK_THAT(thrown([] { (void)TrustRoot::der("garbage"); }),
             StartsWith(invalid + "certificate: not a valid DER certificate: "));
}

TEST_CASE("TLSSession::Options: every option with an invalid value", "[bad-input]") {
  auto session_error = [](auto change) {
    TLSSession::Options options;
    change(options);
    return thrown([&] { TLSSession session(options); });
  };
  CHECK(session_error([](auto& o) { o.protocols = {}; }) == invalid + "protocols: at least one protocol is required");
  CHECK(session_error([](auto& o) { o.alpn_protocols = {""}; }) ==
        invalid + "alpn_protocols: each name must be 1 to 255 bytes, not \"\"");
  CHECK(session_error([](auto& o) { o.alpn_protocols = {std::string("h2\0", 3)}; }) ==
        invalid + "alpn_protocols: names must not contain NUL bytes");
  CHECK_THAT(session_error([](auto& o) { o.alpn_protocols = {std::string(256, 'a')}; }),
             StartsWith(invalid + "alpn_protocols: each name must be 1 to 255 bytes, not \"aaa"));
  CHECK(session_error([](auto& o) { o.minimum_dh_bits = 0; }) ==
        invalid + "minimum_dh_bits: must be between 512 and 16384, not 0");
  CHECK(session_error([](auto& o) { o.cipher_suites = {"TLS_RSA_WITH_RC4_128_SHA"}; }) ==
        invalid + "cipher_suites: TLS_RSA_WITH_RC4_128_SHA is insecure and not allowed");
  CHECK_THAT(session_error([](auto& o) { o.cipher_suites = {""}; }),
             StartsWith(invalid + "cipher_suites:  is not a cipher suite the linked "));
  CHECK(session_error([](auto& o) { o.max_buffered_bytes = 0; }) ==
        invalid + "max_buffered_bytes: must be at least 1, not 0");
  CHECK(session_error([](auto& o) { o.use_os_trust_roots = false; }) ==
        invalid +
            "use_os_trust_roots: false needs at least one extra_trust_roots certificate (or "
            "manual_validation): a verifying session would trust nothing");
  const std::string nul_path("keys\0.log", 9);
  CHECK(session_error([&](auto& o) { o.key_log_file = std::filesystem::path(nul_path); }) ==
        invalid + "key_log_file: contains a NUL byte: \"keys\\0.log\"");
}

// ---- socket.hpp: creating sockets --------------------------------------------------------

TEST_CASE("TLSSocket(address, port, timeout): bad host names, port 0, negative and NaN timeouts", "[bad-input]") {
  for (const BadHost& bad : bad_hosts("address")) {
    CAPTURE(bad.host);
    CHECK(thrown([&] { TLSSocket socket(bad.host, 443); }) == bad.error);
  }
  CHECK(thrown([] { TLSSocket socket("127.0.0.1", 0); }) == invalid + "port: must be between 1 and 65535, not 0");
  CHECK(thrown([] { TLSSocket socket("127.0.0.1", 443, negative); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([] { TLSSocket socket("127.0.0.1", 443, nan_seconds); }) ==
        invalid + "timeout: " + timeout_rule + "nan");
}

TEST_CASE("connect_tcp: bad host names, port 0, negative and NaN timeouts", "[bad-input]") {
  for (const BadHost& bad : bad_hosts("address")) {
    CAPTURE(bad.host);
    CHECK(thrown([&] { (void)connect_tcp(bad.host, 443); }) == bad.error);
  }
  CHECK(thrown([] { (void)connect_tcp("127.0.0.1", 0); }) == invalid + "port: must be between 1 and 65535, not 0");
  CHECK(thrown([] { (void)connect_tcp("127.0.0.1", 443, negative); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([] { (void)connect_tcp("127.0.0.1", 443, nan_seconds); }) ==
        invalid + "timeout: " + timeout_rule + "nan");
}

TEST_CASE("TLSSocket::wrap: descriptors that are no connected TCP socket, bad host names and timeouts", "[bad-input]") {
  CHECK(thrown([] { (void)TLSSocket::wrap(-1, "localhost"); }) ==
        invalid + "socket: must be a valid socket descriptor, not -1");

  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  testing::UniqueFd pipe_write(pipe_fds[1]);
  const int pipe_read = pipe_fds[0];
  CHECK(thrown([&] { (void)TLSSocket::wrap(pipe_read, "localhost"); }) ==
        invalid + "socket: must be an open socket descriptor, not " + std::to_string(pipe_read) +
            " (Socket operation on non-socket)");
  CHECK_FALSE(is_open(pipe_read));  // wrap owns what it is given, also when it fails

  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(udp >= 0);
  CHECK(thrown([&] { (void)TLSSocket::wrap(udp, "localhost"); }) ==
        invalid + "socket: must be a stream (TCP) socket, not " + std::to_string(udp));
  CHECK_FALSE(is_open(udp));

  const int unconnected = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(unconnected >= 0);
  CHECK(thrown([&] { (void)TLSSocket::wrap(unconnected, "localhost"); }) ==
        invalid + "socket: must be connected, not " + std::to_string(unconnected) +
            " (Transport endpoint is not connected)");
  CHECK_FALSE(is_open(unconnected));

  PlainListener listener;
  for (const BadHost& bad : bad_hosts("hostname")) {
    CAPTURE(bad.host);
    testing::UniqueFd fd = testing::connect_loopback(listener.port());
    const int raw = fd.get();
    CHECK(thrown([&] { (void)TLSSocket::wrap(fd.release(), bad.host); }) == bad.error);
    CHECK_FALSE(is_open(raw));
  }
  const std::string timeout_error = invalid + "timeout: " + timeout_rule;
  for (const Timeout& timeout : {negative, nan_seconds}) {
    testing::UniqueFd fd = testing::connect_loopback(listener.port());
    CHECK_THAT(thrown([&] { (void)TLSSocket::wrap(fd.release(), "localhost", nullptr, timeout); }),
               StartsWith(timeout_error));
  }
}

TEST_CASE("TLSSocket::wrap_server: no server, bad descriptors and timeouts", "[bad-input]") {
  PlainListener listener;
  testing::UniqueFd fd = testing::connect_loopback(listener.port());
  const int raw = fd.get();
  CHECK(thrown([&] { (void)TLSSocket::wrap_server(fd.release(), nullptr); }) == invalid + "server: must not be null");
  CHECK_FALSE(is_open(raw));
  CHECK(thrown([] { (void)TLSSocket::wrap_server(-1, make_server()); }) ==
        invalid + "socket: must be a valid socket descriptor, not -1");
  testing::UniqueFd other = testing::connect_loopback(listener.port());
  CHECK(thrown([&] { (void)TLSSocket::wrap_server(other.release(), make_server(), false, negative); }) ==
        invalid + "timeout: " + timeout_rule + "-1");
}

// ---- socket.hpp: using sockets -----------------------------------------------------------

TEST_CASE("TLSSocket::read, read_until, read_exactly, select_*, set_timeout: invalid arguments", "[bad-input]") {
  ServerThread server = line_server();
  TLSSession::Options options = trusted_options();
  options.max_buffered_bytes = 16;  // all the server sends
  TLSSocket socket = connect_tls(server.port(), "localhost", trusted_session(options));
  CHECK(thrown([&] { (void)socket.read(0); }) == invalid + "max_length: must be at least 1, not 0");
  CHECK(thrown([&] { (void)socket.read_into(std::span<char>()); }) ==
        invalid + "buffer: must hold at least 1 byte, not 0");
  CHECK(thrown([&] { (void)socket.read_until(""); }) == invalid + "marker: must not be empty");
  for (const char* pattern : {"", "x*", "(a|)", "^", "$"}) {
    CAPTURE(pattern);
    CHECK(thrown([&] { (void)read_until(socket, std::regex(pattern)); }) ==
          invalid + "marker: the regular expression matches the empty string");
  }
  CHECK(thrown([&] { socket.set_timeout(negative); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([&] { socket.set_timeout(nan_seconds); }) == invalid + "timeout: " + timeout_rule + "nan");
  CHECK(thrown([&] { (void)socket.select_read(negative); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([&] { (void)socket.select_write(nan_seconds); }) == invalid + "timeout: " + timeout_rule + "nan");
  // The same as plain numbers of seconds.
  CHECK(thrown([&] { socket.set_timeout(-1); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([&] { (void)socket.select_read(std::nan("")); }) == invalid + "timeout: " + timeout_rule + "nan");

  // None of that disturbed the connection. A regular expression that never matches (a
  // default-constructed one included) reads up to the buffer cap and says so, losing nothing;
  // a NUL byte is an ordinary byte of a marker; a huge max_length is only an upper bound.
  CHECK(thrown([&] { (void)read_until(socket, std::regex()); }) ==
        "tlsock::TLSError: read_until: no match within the first 16 bytes (the read buffer limit, "
        "TLSSession::Options::max_buffered_bytes)");
  CHECK(socket.read_exactly(0).empty());
  CHECK(socket.read_exactly(6) == "hello\n");
  CHECK(socket.read_until(std::string_view("\n\0", 2)) == std::string("world\n\0", 7));
  CHECK(socket.read(std::numeric_limits<std::size_t>::max()) == "end");
  socket.close();
}

TEST_CASE("TLSSocket: every call after close() says the connection was already closed", "[bad-input]") {
  ServerThread server = line_server();
  TLSSocket socket = connect_tls(server.port(), "localhost", trusted_session());
  socket.close();
  socket.close();  // twice is fine
  CHECK(thrown([&] { (void)socket.read(1); }) == already_closed);
  char byte = 0;
  CHECK(thrown([&] { (void)socket.read_into(std::span<char>(&byte, 1)); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_line(); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_until("\n"); }) == already_closed);
  CHECK(thrown([&] { (void)read_until(socket, std::regex("\n")); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_exactly(1); }) == already_closed);
  CHECK(thrown([&] { (void)socket.select_read(); }) == already_closed);
  CHECK(thrown([&] { (void)socket.select_write(); }) == already_closed);
  CHECK(thrown([&] { socket.write("x"); }) == already_closed);
  CHECK(thrown([&] { socket.shutdown(); }) == already_closed);
  CHECK(thrown([&] { socket.do_handshake(); }) == already_closed);
  // The facts of the finished handshake stay readable.
  CHECK(socket.protocol() == default_protocol());
  CHECK(socket.socket() == -1);
}

TEST_CASE("TLSSocket: a moved-from socket is a closed one, and its getters are empty", "[bad-input]") {
  ServerThread server = line_server();
  TLSSocket socket = connect_tls(server.port(), "localhost", trusted_session());
  TLSSocket moved = std::move(socket);
  // NOLINTBEGIN(bugprone-use-after-move): what is tested
  CHECK(thrown([&] { (void)socket.read(1); }) == already_closed);
  char byte = 0;
  CHECK(thrown([&] { (void)socket.read_into(std::span<char>(&byte, 1)); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_line(); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_until("\n"); }) == already_closed);
  CHECK(thrown([&] { (void)socket.read_exactly(1); }) == already_closed);
  CHECK(thrown([&] { socket.write("x"); }) == already_closed);
  CHECK(thrown([&] { socket.shutdown(); }) == already_closed);
  CHECK(thrown([&] { socket.set_timeout(1s); }) == already_closed);
  CHECK(thrown([&] { (void)socket.certificate(); }) == already_closed);
  CHECK(thrown([&] { (void)socket.intermediates(); }) == already_closed);
  socket.close();
  CHECK(socket.hostname().empty());
  CHECK(socket.port() == 0);
  CHECK(socket.protocol().empty());
  CHECK(socket.cipher_suite().empty());
  CHECK_FALSE(socket.session_id());
  CHECK_FALSE(socket.session());
  CHECK(socket.peer_address().empty());
  CHECK(socket.socket() == -1);
  CHECK_FALSE(socket.timeout());
  // NOLINTEND(bugprone-use-after-move)
  CHECK(moved.read_line() == "hello\n");  // the connection moved along
  // Assigning to a moved-from socket revives it; assigning over a live one closes that first.
  socket = std::move(moved);
  CHECK(socket.hostname() == "localhost");
  socket.close();
}

TEST_CASE("TLSSocket::certificate on a server whose client sent none", "[bad-input]") {
  Log log;
  ServerThread server(make_server(), [&log](TLSSocket& socket) {
    log.add(thrown([&] { (void)socket.certificate(); }));
    socket.write("done\n");
    (void)read_to_end(socket);
  });
  TLSSocket client = connect_tls(server.port(), "localhost", trusted_session());
  CHECK(client.read_line() == "done\n");
  client.close();
  server.stop();
  CHECK(log.lines() == std::vector<std::string>{"tlsock::TLSError: the client sent no certificate"});
}

// ---- server.hpp ---------------------------------------------------------------------------

TEST_CASE("SNIServerCertificates and ServerTLS: no certificates, invalid options", "[bad-input]") {
  CHECK_THAT(thrown([] { SNIServerCertificates certificates({}); }), StartsWith("tlsock::NoCertificateChainError: "));
  CHECK(thrown([] { ServerTLS server(nullptr); }) == invalid + "certificates: must not be null");

  auto server_error = [](auto change) {
    ServerOptions options;
    change(options);
    return thrown([&] { (void)make_server(options); });
  };
  CHECK(server_error([](auto& o) { o.protocols = {}; }) == invalid + "protocols: at least one protocol is required");
  CHECK(server_error([](auto& o) { o.client_auth = ClientAuth::required; }) ==
        invalid + "client_trust_roots: client authentication needs at least one trust root");
  CHECK(server_error([](auto& o) { o.ticket_lifetime = 0s; }) ==
        invalid + "ticket_lifetime: must be between 1 second and 7 days, not 0 s");
  CHECK(server_error([](auto& o) { o.alpn_protocols = {""}; }) ==
        invalid + "alpn_protocols: each name must be 1 to 255 bytes, not \"\"");
  CHECK(server_error([](auto& o) { o.cipher_suites = {"TLS_RSA_WITH_NULL_SHA"}; }) ==
        invalid + "cipher_suites: TLS_RSA_WITH_NULL_SHA is insecure and not allowed");
  CHECK(server_error([](auto& o) { o.handshake_timeout = negative; }) ==
        invalid + "handshake_timeout: " + timeout_rule + "-1");
  CHECK(server_error([](auto& o) { o.handshake_timeout = nan_seconds; }) ==
        invalid + "handshake_timeout: " + timeout_rule + "nan");
  CHECK(server_error([](auto& o) { o.max_buffered_bytes = 0; }) ==
        invalid + "max_buffered_bytes: must be at least 1, not 0");
  TempDir dir;
  CHECK(server_error([&](auto& o) { o.dh_parameters = dir.path() / "missing.pem"; }) ==
        "std::system_error: cannot read " + (dir / "missing.pem") + ": No such file or directory");
  write_file(dir / "corrupt-dh.pem", "-----BEGIN DH PARAMETERS-----\n!!!!\n-----END DH PARAMETERS-----\n");
  CHECK_THAT(server_error([&](auto& o) { o.dh_parameters = dir.path() / "corrupt-dh.pem"; }),
             StartsWith(invalid + "dh_parameters: "));
  const std::string nul_path = cert_path("dh2048.pem").string() + std::string("\0x", 2);
  CHECK(server_error([&](auto& o) { o.dh_parameters = std::filesystem::path(nul_path); }) ==
        invalid + "dh_parameters: contains a NUL byte: " + in_message(nul_path));
  CHECK(server_error([&](auto& o) { o.key_log_file = std::filesystem::path(std::string("k\0", 2)); }) ==
        invalid + "key_log_file: contains a NUL byte: \"k\\0\"");
}

TEST_CASE("TLSListener: bad addresses, no server, bad timeouts, use after close or move", "[bad-input]") {
  auto server = make_server();
  for (const BadHost& bad : bad_hosts("address")) {
    CAPTURE(bad.host);
    CHECK(thrown([&] { TLSListener listener(bad.host, 0, server); }) == bad.error);
  }
  CHECK(thrown([] { TLSListener listener("127.0.0.1", 0, nullptr); }) == invalid + "server: must not be null");
  CHECK_THAT(thrown([&] { TLSListener listener("not-an-address.invalid", 0, server); }),
             StartsWith("std::system_error: listen on not-an-address.invalid:0 failed: "));

  TLSListener listener("127.0.0.1", 0, server);
  CHECK(thrown([&] { (void)listener.accept(negative); }) == invalid + "timeout: " + timeout_rule + "-1");
  CHECK(thrown([&] { (void)listener.accept(nan_seconds); }) == invalid + "timeout: " + timeout_rule + "nan");
  TLSListener moved = std::move(listener);
  // NOLINTBEGIN(bugprone-use-after-move): what is tested
  CHECK(thrown([&] { (void)listener.accept(0s); }) == "std::logic_error: accept on a closed TLSListener");
  CHECK(listener.port() == 0);
  CHECK(listener.socket() == -1);
  listener.on_handshake_error([](const std::exception&) {});
  listener.close();
  // NOLINTEND(bugprone-use-after-move)
  moved.close();
  moved.close();
  CHECK(thrown([&] { (void)moved.accept(0s); }) == "std::logic_error: accept on a closed TLSListener");
}

// ---- connection.hpp -----------------------------------------------------------------------

TEST_CASE("ClientTLS: bad host names and ports, no write_to_wire, use after move", "[bad-input]") {
  for (const BadHost& bad : bad_hosts("server_hostname")) {
    CAPTURE(bad.host);
    CHECK(thrown([&] { ClientTLS client(bad.host); }) == bad.error);
  }
  CHECK(thrown([] { ClientTLS client("localhost", nullptr, 0); }) ==
        invalid + "port: must be between 1 and 65535, not 0");
  ClientTLS client("localhost", trusted_session());
  CHECK(thrown([&] { (void)client.start(nullptr); }) == invalid + "write_to_wire: must be callable");

  // A ClientTLS is a value (a name and a shared session): moving copies it.
  ClientTLS moved = std::move(client);  // NOLINT(performance-move-const-arg): moved as a user would
  std::string hello;
  Connection connection =
      client.start([&](std::string_view bytes) { hello += bytes; });  // NOLINT(bugprone-use-after-move)
  CHECK(client.server_hostname() == "localhost");
  CHECK_FALSE(hello.empty());
}

TEST_CASE("ServerTLS::start and Connection: no write_to_wire, bad alerts, use after move or failure", "[bad-input]") {
  auto server = make_server();
  CHECK(thrown([&] { (void)server->start(nullptr); }) == invalid + "write_to_wire: must be callable");

  std::string to_server;
  ClientTLS client("localhost", trusted_session());
  Connection connection = client.start([&](std::string_view bytes) { to_server += bytes; });
  CHECK(thrown([&] { connection.send_alert(Alert::bad_certificate); }) ==
        "tlsock::InvalidAlertLevel: level: bad_certificate has no prescribed level; pass AlertLevel::warning or "
        "AlertLevel::fatal");
  CHECK(thrown([&] { connection.send_alert(Alert::close_notify, AlertLevel::fatal); }) ==
        "tlsock::InvalidAlertLevel: level: close_notify must be sent as warning, not fatal");
  CHECK(thrown([&] { connection.send_alert(Alert::bad_certificate, static_cast<AlertLevel>(7)); }) ==
        "tlsock::InvalidAlertLevel: level: not an alert level: 7");
  CHECK(thrown([&] { connection.send_alert(static_cast<Alert>(1)); }) == invalid + "alert: not a TLS alert: 1");
  CHECK_FALSE(connection.is_invalidated());  // none of these reached the wire

  Connection moved = std::move(connection);
  const std::string moved_from = "std::logic_error: use of a moved-from tlsock::Connection";
  // NOLINTBEGIN(bugprone-use-after-move): what is tested
  CHECK(thrown([&] { (void)connection.data_from_wire("x"); }) == moved_from);
  CHECK(thrown([&] { connection.wire_eof(); }) == moved_from);
  CHECK(thrown([&] { connection.data_from_application("x"); }) == moved_from);
  CHECK(thrown([&] { connection.send_alert(Alert::close_notify); }) == moved_from);
  CHECK(thrown([&] { connection.application_finished(); }) == moved_from);
  CHECK(connection.is_invalidated());
  CHECK_FALSE(connection.info().protocol);
  CHECK_FALSE(connection.info().certificate);
  // NOLINTEND(bugprone-use-after-move)

  // Bytes that are not TLS invalidate the connection; every later call says so.
  CHECK_THAT(thrown([&] { (void)moved.data_from_wire(std::string("GET / HTTP/1.1\r\n\r\n")); }),
             StartsWith("tlsock::"));
  CHECK(moved.is_invalidated());
  CHECK_THAT(thrown([&] { (void)moved.data_from_wire("more"); }), StartsWith("tlsock::InvalidatedError: "));
  CHECK_THAT(thrown([&] { moved.data_from_application("x"); }), StartsWith("tlsock::InvalidatedError: "));
}
