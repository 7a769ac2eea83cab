// Compiles the umbrella header with only the public include directory: proves that the
// public API needs no internal or mbedTLS header.
#include "tlsock/tlsock.hpp"

int main() { return tlsock::version().empty() ? 1 : 0; }
