// The resumption cache (see session_cache.hpp).
#include "engine/session_cache.hpp"

#include <algorithm>

namespace tlsock::engine {
namespace {

using namespace std::chrono_literals;

// RFC 5246 F.1.4: "an upper limit of 24 hours is suggested for session ID lifetimes".
constexpr auto session_id_lifetime = std::chrono::seconds(24h);
// RFC 8446 4.6.1: a ticket lives at most seven days.
constexpr auto longest_lifetime = std::chrono::seconds(7 * 24h);

}  // namespace

SessionCache::Clock::time_point SessionCache::expiry_of(const backend::SavedSession& saved, Clock::time_point now) {
  auto lifetime = std::min(saved.ticket_lifetime().value_or(session_id_lifetime), longest_lifetime);
  return now + lifetime;
}

std::optional<CachedSession> SessionCache::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= Clock::now()) {
    entries_.erase(it);
    return std::nullopt;
  }
  CachedSession session = it->second.session;
  if (session.single_use) entries_.erase(it);
  return session;
}

void SessionCache::store(const std::string& key, CachedSession session) {
  Clock::time_point expires = expiry_of(*session.saved, Clock::now());
  store(key, std::move(session), expires);
}

void SessionCache::store(const std::string& key, CachedSession session, Clock::time_point expires) {
  std::lock_guard lock(mutex_);
  if (capacity_ == 0 || expires <= Clock::now()) return;
  if (entries_.size() >= capacity_ && !entries_.contains(key)) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.stamp < b.second.stamp; });
    entries_.erase(oldest);
  }
  entries_.insert_or_assign(key, Entry{std::move(session), next_stamp_++, expires});
}

void SessionCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::vector<SessionCache::Stored> SessionCache::snapshot() const {
  std::vector<std::pair<std::uint64_t, Stored>> stamped;
  {
    std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    for (const auto& [key, entry] : entries_)
      if (entry.expires > now) stamped.emplace_back(entry.stamp, Stored{key, entry.session, entry.expires});
  }
  std::sort(stamped.begin(), stamped.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Stored> out;
  out.reserve(stamped.size());
  for (auto& [stamp, stored] : stamped) out.push_back(std::move(stored));
  return out;
}

}  // namespace tlsock::engine
