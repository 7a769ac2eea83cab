// The library's version and the backend it runs with.
#pragma once

#include <string_view>

#include "tlsock/export.hpp"

namespace tlsock {

[[nodiscard]] TLSOCK_API std::string_view version() noexcept;          // "0.1.0"
[[nodiscard]] TLSOCK_API std::string_view backend_version() noexcept;  // "Mbed TLS 3.6.6": the loaded library's

}  // namespace tlsock
