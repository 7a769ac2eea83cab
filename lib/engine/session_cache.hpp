// The resumption cache of one TLSSession: saved sessions keyed by "host:port", shared by
// every socket of the session and safe across threads. Bounded; the least recently
// stored entry goes first. Entries expire: a ticket when its lifetime ends, a session ID
// after a day (RFC 5246 F.1.4's upper limit); no entry outlives a week (RFC 8446's
// limit for tickets).
#pragma once

#include "internal.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "tlsock/certificate.hpp"

namespace tlsock::engine {

struct CachedSession {
  std::shared_ptr<const backend::SavedSession> saved;  // the backend's saved session, never null
  std::vector<Certificate> chain;                      // the peer chain of the full handshake, reported on resumption
  bool single_use = false;                             // a TLS 1.3 ticket: offered once, then forgotten (RFC 8446 C.4)
};

class SessionCache {
 public:
  using Clock = std::chrono::system_clock;

  // One entry as snapshot() hands it out.
  struct Stored {
    std::string key;
    CachedSession session;
    Clock::time_point expires;
  };

  explicit SessionCache(std::size_t capacity = 1024) : capacity_(capacity) {}
  // The entry for key unless it has expired; a single-use entry is forgotten in the same
  // step, so two connections never offer the same TLS 1.3 ticket.
  [[nodiscard]] std::optional<CachedSession> take(const std::string& key);
  // Stores a session that expires as its ticket lifetime says (see above).
  void store(const std::string& key, CachedSession session);
  // Stores a session that expires at a known time (an imported one); an expired one is not
  // stored.
  void store(const std::string& key, CachedSession session, Clock::time_point expires);
  void clear();
  // The entries that have not expired, least recently stored first.
  [[nodiscard]] std::vector<Stored> snapshot() const;

  // When a session stored now expires.
  [[nodiscard]] static Clock::time_point expiry_of(const backend::SavedSession& saved, Clock::time_point now);

 private:
  struct Entry {
    CachedSession session;
    std::uint64_t stamp;
    Clock::time_point expires;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::uint64_t next_stamp_ = 0;
  std::size_t capacity_;
};

}  // namespace tlsock::engine
