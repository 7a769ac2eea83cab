// certs_dir() (support/process.hpp): the test PKI's folder. Apart from process.cpp, which is
// POSIX-only, so that the tests built for Windows (test/meson.build) find the certificates too.
#include <filesystem>

#include "support/process.hpp"

namespace tlsock::testing {

std::filesystem::path certs_dir() {
#ifdef TLSOCK_CERTS_DIR
  return TLSOCK_CERTS_DIR;
#else
  return "certs";
#endif
}

}  // namespace tlsock::testing
