// The library's version and the backend it runs with.
#pragma once

#include <string_view>

namespace tlsock {

[[nodiscard]] std::string_view version() noexcept;          // "0.1.0"
[[nodiscard]] std::string_view backend_version() noexcept;  // "Mbed TLS 3.6.6": the loaded library's

}  // namespace tlsock
