// Config::Impl, shared by config.cpp and tls.cpp.
#pragma once

#include "mbedtls/backend.hpp"
#include "mbedtls/shared.hpp"

#include <string>
#include <vector>

namespace tlsock::mbed {

struct Config::Impl {
  mbedtls_ssl_config conf{};
  // The session's extra roots, with the process-wide OS roots linked after them (not copied).
  mbedtls_x509_crt extra_roots{};
  mbedtls_x509_crt* linked_tail = nullptr;
  std::vector<int> suites;                // referenced by conf
  std::vector<std::string> alpn;          // referenced by conf through alpn_pointers
  std::vector<const char*> alpn_pointers;
  bool manual_validation = false;

  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&extra_roots);
  }
  ~Impl() {
    if (linked_tail != nullptr) linked_tail->next = nullptr;  // the OS roots are not ours to free
    mbedtls_x509_crt_free(&extra_roots);
    mbedtls_ssl_config_free(&conf);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

}  // namespace tlsock::mbed
