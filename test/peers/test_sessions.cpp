// Sessions that outlive the process: TLSSession::export_sessions/import_sessions and
// save_sessions/load_sessions against `openssl s_server` (TLS 1.2 session IDs, TLS 1.2
// tickets, TLS 1.3 tickets on mbedTLS 3.6): a NEW TLSSession that imported the export resumes
// and still knows the server's chain. Garbage, truncated, bit-flipped and tampered exports,
// exports from another mbedTLS version and exports made with other trust settings are
// refused with std::invalid_argument and its exact message, adding nothing.
//
// s_server -www serves one connection at a time: a test never holds two connections to it.
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view http_get = "GET / HTTP/1.0\r\n\r\n";

bool have_openssl() { return !find_program("openssl").empty(); }
bool have_tls13() { return supported_protocols().contains(Protocol::TLSv1_3); }

std::shared_ptr<TLSSession> session_for(Protocol protocol, bool manual_validation = false) {
  TLSSession::Options options = trusted_options();
  options.protocols = {protocol};
  options.manual_validation = manual_validation;
  return std::make_shared<TLSSession>(std::move(options));
}

Certificate pki_certificate(const char* name) { return Certificate::load(certs_dir() / name).at(0); }

struct Visit {
  std::string id;      // reuse_of(session_id())
  std::string ticket;  // reuse_of(session_ticket())
  std::string protocol;
  std::optional<Certificate> certificate;
  std::vector<Certificate> intermediates;
  std::string status_line;
};

// Connects, fetches "/" and reads to the end (which also takes in TLS 1.3 tickets).
Visit visit(std::uint16_t port, const std::shared_ptr<TLSSession>& session) {
  TLSSocket socket("localhost", port, 10s, session);
  Visit v;
  v.protocol = std::string(socket.protocol());
  v.certificate = socket.certificate();
  v.intermediates = socket.intermediates();
  socket.write(http_get);
  v.status_line = socket.read_line();
  (void)read_to_end(socket, [](const std::string&) {});
  v.id = reuse_of(socket.session_id());
  v.ticket = reuse_of(socket.session_ticket());
  return v;
}

// Offsets in the export (format version 1, see lib/engine/session_export.hpp).
constexpr std::size_t backend_at = 10;
constexpr std::size_t first_entry_at = 51;
constexpr std::size_t digest_size = 32;

std::string sha256_bytes(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  std::string hex = hash.hex_digest();
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The export with its digest recomputed: what a deliberate change (not damage) looks like.
std::string resealed(std::string blob) {
  blob.resize(blob.size() - digest_size);
  return blob + sha256_bytes(blob);
}

std::uint64_t read_number(const std::string& blob, std::size_t at, int size) {
  std::uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = v << 8 | static_cast<unsigned char>(blob[at + static_cast<std::size_t>(i)]);
  return v;
}

void write_number(std::string& blob, std::size_t at, int size, std::uint64_t v) {
  for (int i = size - 1; i >= 0; --i, v >>= 8) blob[at + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
}

// Where the first entry's expiry and serialized session are.
std::size_t expiry_at(const std::string& blob) { return first_entry_at + 2 + read_number(blob, first_entry_at, 2) + 1; }
std::size_t session_at(const std::string& blob) { return expiry_at(blob) + 8 + 4; }

std::string import_error(TLSSession& session, std::string_view blob) {
  return error_of([&] { (void)session.import_sessions(blob); });
}

// An export holding one session for localhost:port, made against s_server with TLS 1.2
// session IDs.
std::string session_id_export(std::uint16_t port, bool manual_validation = false) {
  auto first = session_for(Protocol::TLSv1_2, manual_validation);
  Visit v = visit(port, first);
  REQUIRE(v.id == "new");
  return first->export_sessions();
}

void put_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

mode_t mode_of(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

}  // namespace

TEST_CASE("an imported TLS 1.2 session ID resumes in a new TLSSession", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  std::string blob = session_id_export(server.port());

  auto second = session_for(Protocol::TLSv1_2);
  CHECK(second->import_sessions(blob) == 1);
  Visit resumed = visit(server.port(), second);
  CHECK(resumed.id == "reused");
  CHECK(resumed.ticket == "none");
  CHECK(resumed.status_line == "HTTP/1.0 200 ok\r\n");
  // The abbreviated handshake carries no certificate: the chain came with the export.
  REQUIRE(resumed.certificate.has_value());
  CHECK(*resumed.certificate == pki_certificate("localhost.pem"));
  REQUIRE(resumed.intermediates.size() == 1);
  CHECK(resumed.intermediates[0] == pki_certificate("intermediate-ca.pem"));

  // A session ID can be offered again: the next connection resumes too.
  CHECK(visit(server.port(), second).id == "reused");
  // Another port is another cache key: nothing to resume there.
  ServerProcess other = openssl_server({"-www", "-no_ticket"});
  CHECK(visit(other.port(), second).id == "new");
}

TEST_CASE("an imported TLS 1.2 ticket resumes in a new TLSSession", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www"});
  auto first = session_for(Protocol::TLSv1_2);
  CHECK(visit(server.port(), first).ticket == "new");
  std::string blob = first->export_sessions();

  auto second = session_for(Protocol::TLSv1_2);
  CHECK(second->import_sessions(blob) == 1);
  Visit resumed = visit(server.port(), second);
  CHECK(resumed.ticket == "reused");
  CHECK(resumed.protocol == "TLSv1.2");
  REQUIRE(resumed.certificate.has_value());
  CHECK(*resumed.certificate == pki_certificate("localhost.pem"));
  CHECK(resumed.intermediates.size() == 1);
}

TEST_CASE("an imported TLS 1.3 ticket resumes in a new TLSSession", "[sessions][openssl][tls13]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  if (!have_tls13()) TLSOCK_SKIP("the linked " << backend_version() << " has no TLS 1.3");
  ServerProcess server = openssl_server({"-tls1_3", "-www"});
  auto first = session_for(Protocol::TLSv1_3);
  Visit full = visit(server.port(), first);
  CHECK(full.protocol == "TLSv1.3");
  CHECK(full.ticket == "new");
  std::string blob = first->export_sessions();

  {
    // mbedTLS 3.6 keeps a TLS 1.3 client session's host name NUL-terminated, and reads it
    // with strlen later: a name without its NUL (found by fuzz-sessions) is refused before
    // mbedTLS loads it. The layout (Debian's build: no early data, no record size limit):
    // mbedTLS's header (5), version, endpoint, suite (4), ticket_age_add, flags, key length
    // (6), the key, then the name's 16-bit length and bytes.
    std::size_t at = session_at(blob) + 5 + 4;
    at += 6 + static_cast<unsigned char>(blob[at + 5]);
    REQUIRE(read_number(blob, at, 2) == 10);
    REQUIRE(blob.substr(at + 2, 10) == std::string("localhost\0", 10));
    std::string unterminated = blob;
    unterminated[at + 2 + 9] = 'x';
    auto refusing = session_for(Protocol::TLSv1_3);
    CHECK(import_error(*refusing, resealed(unterminated)) ==
          "std::invalid_argument: sessions: entry localhost:" + std::to_string(server.port()) +
              ": not a valid mbedTLS session (its host name is not terminated)");
  }

  auto second = session_for(Protocol::TLSv1_3);
  CHECK(second->import_sessions(blob) == 1);
  Visit resumed = visit(server.port(), second);
  CHECK(resumed.protocol == "TLSv1.3");
  CHECK(resumed.ticket == "reused");
  CHECK(resumed.id == "none");
  CHECK(resumed.status_line == "HTTP/1.0 200 ok\r\n");
  REQUIRE(resumed.certificate.has_value());
  CHECK(*resumed.certificate == pki_certificate("localhost.pem"));
  REQUIRE(resumed.intermediates.size() == 1);
  CHECK(resumed.intermediates[0] == pki_certificate("intermediate-ca.pem"));

  // The resumed connection got tickets of its own: exported again, they resume once more.
  auto third = session_for(Protocol::TLSv1_3);
  CHECK(third->import_sessions(second->export_sessions()) == 1);
  CHECK(visit(server.port(), third).ticket == "reused");
}

TEST_CASE("save_sessions writes 0600 atomically; load_sessions resumes", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  TempDir dir;
  std::filesystem::path file = dir.path() / "sessions";
  auto first = session_for(Protocol::TLSv1_2);
  CHECK(visit(server.port(), first).id == "new");

  SECTION("a new file, then one replaced") {
    first->save_sessions(file);
    CHECK(mode_of(file) == 0600);
    put_file(file, "old content");
    ::chmod(file.c_str(), 0644);
    first->save_sessions(file);
    CHECK(mode_of(file) == 0600);  // the file is replaced, not rewritten in place
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
      names.push_back(entry.path().filename().string());
    CHECK(names == std::vector<std::string>{"sessions"});  // no temporary file left
    auto second = session_for(Protocol::TLSv1_2);
    CHECK(second->load_sessions(file) == 1);
    CHECK(visit(server.port(), second).id == "reused");
  }
  SECTION("through a symbolic link: the link stays, its target gets the sessions") {
    std::filesystem::path target = dir.path() / "target";
    put_file(target, "");
    std::filesystem::create_symlink(target, file);
    first->save_sessions(file);
    CHECK(std::filesystem::is_symlink(file));
    CHECK(mode_of(target) == 0600);
    auto second = session_for(Protocol::TLSv1_2);
    CHECK(second->load_sessions(target) == 1);
    CHECK(visit(server.port(), second).id == "reused");
  }
  SECTION("errors name the path") {
    auto second = session_for(Protocol::TLSv1_2);
    std::filesystem::path missing = dir.path() / "missing";
    CHECK(error_of([&] { (void)second->load_sessions(missing); }) ==
          "std::system_error: cannot read " + missing.string() + ": No such file or directory");
    put_file(file, "garbage");
    CHECK(error_of([&] { (void)second->load_sessions(file); }) ==
          "std::invalid_argument: path: \"" + file.string() + "\": not a tlsock session export");
    CHECK(error_of([&] { first->save_sessions(dir.path()); }) ==
          "std::invalid_argument: path: \"" + dir.path().string() + "\" is not a regular file");
    std::filesystem::path nowhere = dir.path() / "no-such-dir" / "sessions";
    CHECK(error_of([&] { first->save_sessions(nowhere); }) ==
          "std::system_error: cannot write " + nowhere.string() +
              " (creating a temporary file): No such file or directory");
    CHECK(error_of([&] { first->save_sessions(std::string("a\0b", 3)); }) ==
          "std::invalid_argument: path: contains a NUL byte: \"a\\0b\"");
  }
}

TEST_CASE("garbage, truncated and damaged exports are refused, adding nothing", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  const std::string blob = session_id_export(server.port());
  auto session = session_for(Protocol::TLSv1_2);
  const std::string empty = session->export_sessions();

  CHECK(import_error(*session, "") == "std::invalid_argument: sessions: truncated (in the header)");
  CHECK(import_error(*session, "hello, world") == "std::invalid_argument: sessions: not a tlsock session export");
  CHECK(import_error(*session, std::string(4096, '\0')) ==
        "std::invalid_argument: sessions: not a tlsock session export");
  CHECK(import_error(*session, blob + "x") ==
        "std::invalid_argument: sessions: damaged or truncated (the SHA-256 digest does not match)");

  // Every cut of a real export.
  const std::set<std::string> truncated = {
      "std::invalid_argument: sessions: truncated (in the header)",
      "std::invalid_argument: sessions: damaged or truncated (the SHA-256 digest does not match)"};
  for (std::size_t size = 0; size < blob.size(); ++size) {
    std::string error = import_error(*session, blob.substr(0, size));
    INFO("first " << size << " of " << blob.size() << " bytes: " << error);
    CHECK(truncated.contains(error));
  }
  // Every single bit flipped.
  const std::set<std::string> flipped = {
      "std::invalid_argument: sessions: not a tlsock session export",
      "std::invalid_argument: sessions: damaged or truncated (the SHA-256 digest does not match)"};
  std::size_t refused = 0;
  for (std::size_t bit = 0; bit < blob.size() * 8; ++bit) {
    std::string damaged = blob;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    std::string error = import_error(*session, damaged);
    if (bit / 8 == 8 || bit / 8 == 9) {  // the format version
      CHECK(error.starts_with("std::invalid_argument: sessions: format version "));
      CHECK(error.ends_with(" is not supported (this tlsock reads version 1)"));
    } else if (bit / 8 >= backend_at && bit / 8 < backend_at + 4) {
      CHECK(error.ends_with("; sessions do not move between mbedTLS versions"));
    } else {
      INFO("bit " << bit << ": " << error);
      CHECK(flipped.contains(error));
    }
    refused += error.starts_with("std::invalid_argument: sessions: ") ? 1 : 0;
  }
  CHECK(refused == blob.size() * 8);
  CHECK(session->export_sessions() == empty);  // nothing was added
  CHECK(visit(server.port(), session).id == "new");
}

TEST_CASE("exports from another mbedTLS version or build are refused", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  const std::string blob = session_id_export(server.port());
  auto session = session_for(Protocol::TLSv1_2);

  SECTION("tlsock's header names the versions") {
    std::string other = blob;
    std::uint64_t ours = read_number(blob, backend_at, 4);
    std::uint64_t theirs = (ours >> 24) == 3 ? 0x021C0300 : 0x03060600;  // the other line
    write_number(other, backend_at, 4, theirs);
    std::string text = theirs == 0x021C0300 ? "mbedTLS 2.28.3" : "mbedTLS 3.6.6";
    std::string mine = std::string(backend_version());  // "Mbed TLS 3.6.6" / "mbed TLS 2.28.3"
    std::string mine_number = mine.substr(mine.rfind(' ') + 1);
    CHECK(import_error(*session, resealed(other)) == "std::invalid_argument: sessions: the sessions were saved by " +
                                                         text + ", this build uses mbedTLS " + mine_number +
                                                         "; sessions do not move between mbedTLS versions");
  }
  SECTION("mbedTLS's own header: another patch release") {
    // mbedtls_ssl_session_save starts with the version (major, minor, patch) and the build
    // configuration's flags; mbedtls_ssl_session_load refuses any difference, on both lines.
    std::string other = blob;
    std::size_t patch = session_at(blob) + 2;
    other[patch] = static_cast<char>(other[patch] ^ 1);
    CHECK(import_error(*session, resealed(other)) ==
          "std::invalid_argument: sessions: entry localhost:" + std::to_string(server.port()) +
              ": the session was saved by another mbedTLS version or build configuration");
    std::string config = blob;
    std::size_t flags = session_at(blob) + 3;
    config[flags] = static_cast<char>(config[flags] ^ 0x80);
    CHECK(import_error(*session, resealed(config)) ==
          "std::invalid_argument: sessions: entry localhost:" + std::to_string(server.port()) +
              ": the session was saved by another mbedTLS version or build configuration");
  }
  SECTION("a format version this tlsock does not read") {
    std::string next = blob;
    write_number(next, 8, 2, 2);
    CHECK(import_error(*session, resealed(next)) ==
          "std::invalid_argument: sessions: format version 2 is not supported (this tlsock reads version 1)");
  }
  CHECK(visit(server.port(), session).id == "new");
}

TEST_CASE("an expired session is not imported; a far expiry is capped", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});
  const std::string blob = session_id_export(server.port());
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  // A session ID lives a day from when it was stored.
  auto expires = static_cast<std::int64_t>(read_number(blob, expiry_at(blob), 8));
  CHECK(expires > now.count() + 23 * 3600);
  CHECK(expires <= now.count() + 24 * 3600);

  std::string expired = blob;
  write_number(expired, expiry_at(blob), 8, static_cast<std::uint64_t>(now.count() - 1));
  auto session = session_for(Protocol::TLSv1_2);
  CHECK(session->import_sessions(resealed(expired)) == 0);
  CHECK(visit(server.port(), session).id == "new");

  for (std::int64_t far : {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
    std::string odd = blob;
    write_number(odd, expiry_at(blob), 8, static_cast<std::uint64_t>(far));
    auto fresh = session_for(Protocol::TLSv1_2);
    CHECK(fresh->import_sessions(resealed(odd)) == (far > 0 ? 1u : 0u));
    if (far > 0) {
      // Re-exported, the expiry is at most a week away.
      std::string again = fresh->export_sessions();
      CHECK(static_cast<std::int64_t>(read_number(again, expiry_at(again), 8)) <= now.count() + 7 * 24 * 3600 + 60);
    }
  }
}

TEST_CASE("sessions only move between TLSSessions with the same trust settings", "[sessions][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  ServerProcess server = openssl_server({"-www", "-no_ticket"});

  SECTION("a session made without verification is never resumed by a verifying TLSSession") {
    std::string unverified = session_id_export(server.port(), true);
    auto verifying = session_for(Protocol::TLSv1_2);
    CHECK(import_error(*verifying, unverified) ==
          "std::invalid_argument: sessions: the sessions were made without certificate verification "
          "(manual_validation), and this TLSSession verifies certificates");
    Visit v = visit(server.port(), verifying);
    CHECK(v.id == "new");
    // Between two manual_validation sessions they move.
    auto manual = session_for(Protocol::TLSv1_2, true);
    CHECK(manual->import_sessions(unverified) == 1);
    CHECK(visit(server.port(), manual).id == "reused");
  }
  SECTION("nor the other way round") {
    std::string verified = session_id_export(server.port());
    auto manual = session_for(Protocol::TLSv1_2, true);
    CHECK(import_error(*manual, verified) ==
          "std::invalid_argument: sessions: the sessions were made with certificate verification, and this "
          "TLSSession has manual_validation");
  }
  SECTION("other extra trust roots") {
    std::string verified = session_id_export(server.port());
    TLSSession::Options options = trusted_options();
    options.protocols = {Protocol::TLSv1_2};
    options.extra_trust_roots.emplace_back(certs_dir() / "self-signed.pem");
    TLSSession more_roots(options);
    CHECK(import_error(more_roots, verified) ==
          "std::invalid_argument: sessions: the sessions were made with other trust roots (extra_trust_roots, "
          "use_os_trust_roots) than this TLSSession's");
    TLSSession::Options os_only;
    os_only.protocols = {Protocol::TLSv1_2};
    TLSSession no_roots(os_only);
    CHECK(import_error(no_roots, verified) ==
          "std::invalid_argument: sessions: the sessions were made with other trust roots (extra_trust_roots, "
          "use_os_trust_roots) than this TLSSession's");
    // The same extra roots without the OS store are other trust too.
    TLSSession::Options only_these = trusted_options();
    only_these.protocols = {Protocol::TLSv1_2};
    only_these.use_os_trust_roots = false;
    TLSSession roots_alone(only_these);
    CHECK(import_error(roots_alone, verified) ==
          "std::invalid_argument: sessions: the sessions were made with other trust roots (extra_trust_roots, "
          "use_os_trust_roots) than this TLSSession's");
    // The same roots in another order, or twice, are the same trust.
    TLSSession::Options same = trusted_options();
    same.protocols = {Protocol::TLSv1_2};
    same.extra_trust_roots.emplace_back(certs_dir() / "root-ca.pem");
    TLSSession again(same);
    CHECK(again.import_sessions(verified) == 1);
  }
  SECTION("a TLSSession without a cache imports nothing") {
    std::string verified = session_id_export(server.port());
    TLSSession::Options options = trusted_options();
    options.session_cache = false;
    TLSSession no_cache(options);
    CHECK(no_cache.import_sessions(verified) == 0);
  }
}
