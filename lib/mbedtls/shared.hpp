// Pieces the backend's own files share: the process-wide DRBG, the parsed forms behind
// Certificate and SavedSession, and error text. Includes mbedTLS; only lib/mbedtls/*.cpp include this.
#pragma once

#include "mbedtls/compat.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "access.hpp"
#include "backend/backend.hpp"
#include "tlsock/certificate.hpp"

namespace tlsock {

// The parsed certificate: its DER and mbedTLS's parse of exactly that DER.
struct Certificate::Impl {
  std::string der;
  mbedtls_x509_crt crt{};
  Impl() { mbedtls_x509_crt_init(&crt); }
  ~Impl() { mbedtls_x509_crt_free(&crt); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

// The parsed private key. Pinned: mbedTLS keeps pointers to pk (ssl configs, handshakes).
struct PrivateKey::Impl {
  mbedtls_pk_context pk{};
  Impl() { mbedtls_pk_init(&pk); }
  ~Impl() { mbedtls_pk_free(&pk); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

// A validated chain, ready for mbedtls_ssl_conf_own_cert / mbedtls_ssl_set_hs_own_cert:
// crt is the same certificates as one mbedTLS list (leaf first) and key's Impl's pk their key.
// Pinned: mbedTLS keeps pointers to crt; key's Impl is shared, so its pk never moves either.
struct CertificateChain::Impl {
  std::vector<Certificate> certificates;  // leaf first
  PrivateKey key;
  mbedtls_x509_crt crt{};
  Impl(std::vector<Certificate> chain, const PrivateKey& private_key)
      : certificates(std::move(chain)), key(private_key) {
    mbedtls_x509_crt_init(&crt);
  }
  ~Impl() { mbedtls_x509_crt_free(&crt); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

}  // namespace tlsock

namespace tlsock::backend {

using CertificateImpl = detail::Access::Impl<Certificate>;
using PrivateKeyImpl = detail::Access::Impl<PrivateKey>;
using CertificateChainImpl = detail::Access::Impl<CertificateChain>;

// A saved session in mbedTLS's parsed form (see SavedSession in backend.hpp).
struct SavedSession::Impl {
  mbedtls_ssl_session session{};
  Impl() { mbedtls_ssl_session_init(&session); }
  ~Impl() { mbedtls_ssl_session_free(&session); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

// A thread-safe random generator for mbedTLS callbacks: one CTR-DRBG per process, seeded
// once from the OS entropy source, guarded by a mutex.
int random(void* unused, unsigned char* out, std::size_t size);

// The CERTIFICATE blocks of a PEM text, in order: each whole block (BEGIN line to END line)
// and the base64 between the two. A BEGIN line without its END line ends the list and sets
// unterminated.
struct PemBlock {
  std::string_view block;
  std::string_view body;
};
struct PemBlocks {
  std::vector<PemBlock> blocks;
  bool unterminated = false;
};
[[nodiscard]] PemBlocks certificate_pem_blocks(std::string_view pem);

// A Certificate wrapping a copy of crt's DER (one certificate, not the rest of its list).
[[nodiscard]] Certificate certificate_from(const mbedtls_x509_crt& crt);

// "X509 - Certificate verification failed (-0x2700)".
[[nodiscard]] std::string error_text(int code);

// Throws std::invalid_argument("<what>: <mbedTLS text>") when code is an error.
void check(int code, std::string_view what);

}  // namespace tlsock::backend
