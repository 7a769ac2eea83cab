// TLSSession::Impl: the options, the backend config built from them once, and the cache.
#pragma once

#include "internal.hpp"

#include <memory>

#include "access.hpp"
#include "backend/backend.hpp"
#include "engine/session_cache.hpp"
#include "tlsock/session.hpp"

namespace tlsock {

struct TLSSession::Impl {
  Options options;
  std::shared_ptr<const backend::Config> config;
  engine::SessionCache cache;
};

}  // namespace tlsock
