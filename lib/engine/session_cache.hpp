// The resumption cache of one TLSSession: saved sessions keyed by "host:port", shared by
// every socket of the session and safe across threads. Bounded; the least recently
// stored entry goes first.
#pragma once

#include "internal.hpp"

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
  std::shared_ptr<const mbed::SavedSession> saved;  // the backend's saved session, never null
  std::vector<Certificate> chain;  // the peer chain of the full handshake, reported on resumption
  bool single_use = false;         // a TLS 1.3 ticket: offered once, then forgotten (RFC 8446 C.4)
};

class SessionCache {
 public:
  explicit SessionCache(std::size_t capacity = 1024) : capacity_(capacity) {}
  [[nodiscard]] std::optional<CachedSession> find(const std::string& key) const;
  // find(), and forgets a single-use entry in the same step, so two connections never
  // offer the same TLS 1.3 ticket.
  [[nodiscard]] std::optional<CachedSession> take(const std::string& key);
  void store(const std::string& key, CachedSession session);
  void erase(const std::string& key);
  void clear();
  [[nodiscard]] std::size_t size() const;

 private:
  struct Entry {
    CachedSession session;
    std::uint64_t stamp;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::uint64_t next_stamp_ = 0;
  std::size_t capacity_;
};

}  // namespace tlsock::engine
