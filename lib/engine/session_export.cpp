// tlsock's session export (see session_export.hpp).
#include "engine/session_export.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "arguments.hpp"
#include "backend/backend.hpp"

namespace tlsock::engine {
namespace {

using namespace std::chrono_literals;
using Clock = SessionCache::Clock;

constexpr std::string_view magic = "tlsockSS";
constexpr std::uint16_t format_version = 1;
constexpr std::size_t digest_size = 32;
constexpr std::uint8_t trust_manual_validation = 1;
constexpr std::uint8_t flag_single_use = 1;
// No entry is kept longer than a TLS 1.3 ticket may live (RFC 8446 4.6.1), whatever the
// bytes say: a clock set back must not make a session immortal.
constexpr std::int64_t longest_lifetime_seconds = 7 * 24 * 3600;

[[noreturn]] void refuse(const std::string& reason) { throw std::invalid_argument(reason); }

class Writer {
 public:
  void bytes(std::string_view data) { out_.append(data); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { number(v, 2); }
  void u32(std::uint32_t v) { number(v, 4); }
  void i64(std::int64_t v) { number(static_cast<std::uint64_t>(v), 8); }
  void blob16(std::string_view data) {
    if (data.size() > std::numeric_limits<std::uint16_t>::max())
      throw std::length_error("session export: field too long");
    u16(static_cast<std::uint16_t>(data.size()));
    bytes(data);
  }
  void blob32(std::string_view data) {
    if (data.size() > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("session export: field too long");
    u32(static_cast<std::uint32_t>(data.size()));
    bytes(data);
  }
  [[nodiscard]] std::string& out() { return out_; }

 private:
  void number(std::uint64_t v, int size) {
    for (int shift = 8 * (size - 1); shift >= 0; shift -= 8) out_.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  std::string out_;
};

// Reads what Writer wrote; every read checks the length first, so nothing is allocated
// beyond the bytes that are there.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::string_view bytes(std::size_t n, const char* what) {
    if (in_.size() < n) refuse(std::string("truncated (in ") + what + ")");
    std::string_view out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }
  std::uint8_t u8(const char* what) { return static_cast<std::uint8_t>(number(1, what)); }
  std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>(number(2, what)); }
  std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(number(4, what)); }
  std::int64_t i64(const char* what) { return static_cast<std::int64_t>(number(8, what)); }
  std::string_view blob16(const char* what) { return bytes(u16(what), what); }
  std::string_view blob32(const char* what) { return bytes(u32(what), what); }
  [[nodiscard]] bool empty() const noexcept { return in_.empty(); }

 private:
  std::uint64_t number(std::size_t size, const char* what) {
    std::uint64_t v = 0;
    for (char c : bytes(size, what)) v = v << 8 | static_cast<unsigned char>(c);
    return v;
  }
  std::string_view in_;
};

// "host:port" as the engine makes it: a host name or IP literal (IPv6 without brackets), a
// port from 1 to 65535 in decimal.
void check_key(std::string_view key) {
  std::size_t colon = key.rfind(':');
  if (colon == std::string_view::npos) refuse("an entry's key is not \"host:port\"");
  std::string_view host = key.substr(0, colon);
  std::string_view port = key.substr(colon + 1);
  arguments::check_host("an entry's host", host);  // as the TLSSocket that stored it did
  const bool digits = !port.empty() && port.size() <= 5 && port[0] != '0' &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  unsigned value = 0;
  for (char c : digits ? port : std::string_view()) value = value * 10 + static_cast<unsigned>(c - '0');
  if (!digits || value > 65535) refuse("an entry's port is not a number from 1 to 65535");
}

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// The expiry as a time point, computed as a remaining time from now, so no value of the
// field overflows the clock's duration (nanoseconds on libstdc++ cover only ±292 years).
Clock::time_point expiry_from(std::int64_t seconds, Clock::time_point now) {
  std::int64_t now_seconds = unix_seconds(now);
  if (seconds <= now_seconds) return Clock::time_point{};  // expired
  std::int64_t remaining = seconds - now_seconds;          // > 0, no overflow: both are in range
  return now + std::chrono::seconds(std::min(remaining, longest_lifetime_seconds));
}

SessionCache::Stored read_entry(Reader& in, Clock::time_point now) {
  SessionCache::Stored entry;
  std::string_view key = in.blob16("key");
  check_key(key);
  entry.key = std::string(key);
  std::uint8_t flags = in.u8("flags");
  if ((flags & ~flag_single_use) != 0) refuse("entry " + entry.key + ": unknown flags");
  entry.session.single_use = (flags & flag_single_use) != 0;
  entry.expires = expiry_from(in.i64("expiry"), now);
  std::string_view saved = in.blob32("session");
  std::uint16_t certificates = in.u16("chain");
  for (std::uint16_t i = 0; i < certificates; ++i) {
    std::string_view der = in.blob32("chain");
    try {
      entry.session.chain.push_back(Certificate::from_der(der));
    } catch (const std::invalid_argument& error) {
      refuse("entry " + entry.key + ": certificate " + std::to_string(i) + ": " + error.what());
    }
  }
  try {
    entry.session.saved = backend::SavedSession::parse(saved);
  } catch (const std::invalid_argument& error) {
    refuse("entry " + entry.key + ": " + error.what());
  }
  return entry;
}

}  // namespace

std::string encode(const SessionExport& sessions) {
  Writer out;
  out.bytes(magic);
  out.u16(format_version);
  out.u32(sessions.backend);
  out.u8(sessions.manual_validation ? trust_manual_validation : 0);
  if (sessions.roots_digest.size() != digest_size) throw std::logic_error("session export: roots digest size");
  out.bytes(sessions.roots_digest);
  out.u32(static_cast<std::uint32_t>(sessions.sessions.size()));
  for (const SessionCache::Stored& entry : sessions.sessions) {
    out.blob16(entry.key);
    out.u8(entry.session.single_use ? flag_single_use : 0);
    out.i64(unix_seconds(entry.expires));
    out.blob32(entry.session.saved->serialize());
    if (entry.session.chain.size() > std::numeric_limits<std::uint16_t>::max())
      throw std::length_error("session export: chain too long");
    out.u16(static_cast<std::uint16_t>(entry.session.chain.size()));
    for (const Certificate& certificate : entry.session.chain) out.blob32(certificate.der());
  }
  std::string digest = backend::sha256(out.out());
  out.bytes(digest);
  return std::move(out.out());
}

SessionExport decode(std::string_view bytes, bool check_digest) {
  if (!bytes.starts_with(magic)) {
    if (bytes.size() < magic.size() && magic.starts_with(bytes)) refuse("truncated (in the header)");
    refuse("not a tlsock session export");
  }
  Reader header(bytes.substr(magic.size()));
  std::uint16_t version = header.u16("the header");
  if (version != format_version)
    refuse("format version " + std::to_string(version) + " is not supported (this tlsock reads version " +
           std::to_string(format_version) + ")");
  std::uint32_t saved_by = header.u32("the header");
  if (saved_by != backend::session_format())
    refuse("the sessions were saved by " + backend::session_format_text(saved_by) + ", this build uses " +
           backend::session_format_text(backend::session_format()) + "; sessions do not move between mbedTLS versions");
  if (bytes.size() < magic.size() + 2 + 4 + 1 + digest_size + 4 + digest_size) refuse("truncated (in the header)");
  std::string_view body = bytes.substr(0, bytes.size() - digest_size);
  if (check_digest && backend::sha256(body) != bytes.substr(body.size()))
    refuse("damaged or truncated (the SHA-256 digest does not match)");

  SessionExport out;
  out.backend = saved_by;
  Reader in(body.substr(magic.size() + 2 + 4));
  std::uint8_t trust = in.u8("the header");
  if ((trust & ~trust_manual_validation) != 0) refuse("unknown trust flags");
  out.manual_validation = (trust & trust_manual_validation) != 0;
  out.roots_digest = std::string(in.bytes(digest_size, "the header"));
  std::uint32_t count = in.u32("the header");
  const Clock::time_point now = Clock::now();
  for (std::uint32_t i = 0; i < count; ++i) out.sessions.push_back(read_entry(in, now));
  if (!in.empty()) refuse("bytes after the last entry");
  return out;
}

}  // namespace tlsock::engine
