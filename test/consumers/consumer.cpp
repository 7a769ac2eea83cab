// A program of tlsock's users, built by each consumer project here (CMake, pkg-config with
// make, Meson) against an installed tlsock: the headers it finds and the library it links are
// of the same release, and the library runs (its mbedTLS linked in, for a static tlsock).
#include <cstdio>
#include <string_view>

#include "tlsock/version.hpp"

int main() {
  if (tlsock::version() != TLSOCK_VERSION_STRING) {
    std::fprintf(stderr, "headers of tlsock %s, library of tlsock %.*s\n", TLSOCK_VERSION_STRING,
                 static_cast<int>(tlsock::version().size()), tlsock::version().data());
    return 1;
  }
  std::printf("tlsock %.*s on %.*s\n", static_cast<int>(tlsock::version().size()), tlsock::version().data(),
              static_cast<int>(tlsock::backend_version().size()), tlsock::backend_version().data());
  return 0;
}
