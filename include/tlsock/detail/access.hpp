// The library's private way into the public classes' hidden implementation (their Impl).
#pragma once

namespace tlsock::detail {
// Only the library defines it (lib/access.hpp); the public classes name it as a friend.
struct Access;
}  // namespace tlsock::detail
