// The library's version and the backend it was built against.
#pragma once

#include <string_view>

namespace tlsock {

[[nodiscard]] std::string_view version() noexcept;          // "0.1.0"
[[nodiscard]] std::string_view backend_version() noexcept;  // "mbedTLS 2.28.3"

}  // namespace tlsock
