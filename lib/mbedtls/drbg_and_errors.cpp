// The process-wide DRBG and the text of mbedTLS error codes.
#include "mbedtls/shared.hpp"

#include <cstdio>
#include <mutex>
#include <stdexcept>

namespace tlsock::backend {
namespace {

struct Drbg {
  std::mutex mutex;
  mbedtls_entropy_context entropy{};
  mbedtls_ctr_drbg_context drbg{};
  Drbg() {
    compat::init_crypto();
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    static constexpr unsigned char personalization[] = "tlsock";
    int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, personalization, sizeof personalization - 1);
    if (rc != 0) throw std::runtime_error("seeding the random generator failed: " + error_text(rc));
  }
  ~Drbg() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

Drbg& drbg() {
  static Drbg instance;
  return instance;
}

}  // namespace

int random(void*, unsigned char* out, std::size_t size) {
  Drbg& d = drbg();
  std::lock_guard lock(d.mutex);
  return mbedtls_ctr_drbg_random(&d.drbg, out, size);
}

std::string error_text(int code) {
  char buffer[200];
  mbedtls_strerror(code, buffer, sizeof buffer);
  char hex[16];
  std::snprintf(hex, sizeof hex, "-0x%04X", static_cast<unsigned>(-code));
  return std::string(buffer) + " (" + hex + ")";
}

void check(int code, std::string_view what) {
  if (code != 0) throw std::invalid_argument(std::string(what) + ": " + error_text(code));
}

}  // namespace tlsock::backend
