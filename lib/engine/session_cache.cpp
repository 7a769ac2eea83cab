// The resumption cache (see session_cache.hpp).
#include "engine/session_cache.hpp"

#include <algorithm>

namespace tlsock::engine {

std::optional<CachedSession> SessionCache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.session;
}

std::optional<CachedSession> SessionCache::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  CachedSession session = it->second.session;
  if (session.single_use) entries_.erase(it);
  return session;
}

void SessionCache::store(const std::string& key, CachedSession session) {
  std::lock_guard lock(mutex_);
  if (capacity_ == 0) return;
  if (entries_.size() >= capacity_ && !entries_.contains(key)) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.stamp < b.second.stamp; });
    entries_.erase(oldest);
  }
  entries_.insert_or_assign(key, Entry{std::move(session), next_stamp_++});
}

void SessionCache::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

void SessionCache::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::size_t SessionCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace tlsock::engine
