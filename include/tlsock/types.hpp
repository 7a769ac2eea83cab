// Small vocabulary types shared by the socket-level API.
#pragma once

#include <chrono>
#include <optional>

namespace tlsock {

// How long a whole public call may take; std::nullopt means no limit.
using Timeout = std::optional<std::chrono::duration<double>>;

#ifdef _WIN32
using NativeSocket = unsigned long long;  // SOCKET
#else
using NativeSocket = int;
#endif

}  // namespace tlsock
