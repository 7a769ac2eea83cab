// Compiles the umbrella header with only the public include directory: proves that the
// public API needs no internal or mbedTLS header.
#include "tlsock/tlsock.hpp"

#include <type_traits>

// The umbrella brings every concept, the regex reader and the listener included.
static_assert(std::is_default_constructible_v<tlsock::ConnectionInfo>);
static_assert(std::is_move_constructible_v<tlsock::TLSListener>);
static_assert(
    std::is_same_v<decltype(tlsock::read_until(std::declval<tlsock::TLSSocket&>(), std::declval<const std::regex&>())),
                   std::string>);

int main() { return tlsock::version().empty() ? 1 : 0; }
