// The linked mbedTLS's own ceiling: the primitives a TLS 1.2 connection is made of, timed
// Bench code, not the library: the one deliberate exception to "mbedTLS headers only in
// lib/mbedtls/" (it is what tlsock is measured against, so it calls mbedTLS directly; it borrows
// lib/mbedtls/compat.hpp for the 2.28-vs-3.6 differences and is linked by tools/bench only).
// alone. What the bench's TLS figures can never beat.
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#if defined(MBEDTLS_CHACHAPOLY_C)
#include <mbedtls/chachapoly.h>
#endif

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "mbedtls/compat.hpp"
#include "reference/reference.hpp"

namespace tlsock::reference {
namespace {

namespace compat = backend::compat;

using Clock = std::chrono::steady_clock;
constexpr std::size_t buffer_size = 16 * 1024;

// Runs op until `seconds` have passed; returns calls per second.
double rate(double seconds, const std::function<void()>& op) {
  op();  // warm up (tables, caches)
  std::size_t calls = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  Clock::time_point now;
  do {
    op();
    ++calls;
    now = Clock::now();
  } while (now < end);
  return static_cast<double>(calls) / std::chrono::duration<double>(now - start).count();
}

void check(int code, const char* what) {
  if (code != 0) throw std::runtime_error(std::string(what) + " failed: " + std::to_string(code));
}

struct Rng {
  mbedtls_entropy_context entropy{};
  mbedtls_ctr_drbg_context drbg{};
  Rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    check(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0), "seeding the DRBG");
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
};

std::optional<double> aes_gcm(double seconds) {
#if defined(MBEDTLS_GCM_C) && defined(MBEDTLS_AES_C)
  mbedtls_gcm_context gcm;
  mbedtls_gcm_init(&gcm);
  unsigned char key[16] = {1}, iv[12] = {2}, aad[13] = {3}, tag[16];
  std::vector<unsigned char> in(buffer_size, 'x'), out(buffer_size);
  check(mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 128), "mbedtls_gcm_setkey");
  double calls = rate(seconds, [&] {
    check(mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, in.size(), iv, sizeof iv, aad, sizeof aad, in.data(),
                                    out.data(), sizeof tag, tag),
          "mbedtls_gcm_crypt_and_tag");
  });
  mbedtls_gcm_free(&gcm);
  return calls * buffer_size / 1e6;
#else
  (void)seconds;
  return std::nullopt;
#endif
}

std::optional<double> chacha20_poly1305(double seconds) {
#if defined(MBEDTLS_CHACHAPOLY_C)
  mbedtls_chachapoly_context ctx;
  mbedtls_chachapoly_init(&ctx);
  unsigned char key[32] = {1}, nonce[12] = {2}, aad[13] = {3}, tag[16];
  std::vector<unsigned char> in(buffer_size, 'x'), out(buffer_size);
  check(mbedtls_chachapoly_setkey(&ctx, key), "mbedtls_chachapoly_setkey");
  double calls = rate(seconds, [&] {
    check(mbedtls_chachapoly_encrypt_and_tag(&ctx, in.size(), nonce, aad, sizeof aad, in.data(), out.data(), tag),
          "mbedtls_chachapoly_encrypt_and_tag");
  });
  mbedtls_chachapoly_free(&ctx);
  return calls * buffer_size / 1e6;
#else
  (void)seconds;
  return std::nullopt;
#endif
}

// One side of an ECDHE exchange: a fresh key pair, then the shared secret with the peer's key.
std::optional<double> ecdhe(mbedtls_ecp_group_id id, double seconds, Rng& rng) {
#if defined(MBEDTLS_ECDH_C)
  if (mbedtls_ecp_curve_info_from_grp_id(id) == nullptr) return std::nullopt;
  mbedtls_ecp_group grp;
  mbedtls_mpi d, peer_d, z;
  mbedtls_ecp_point q, peer_q;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi_init(&d);
  mbedtls_mpi_init(&peer_d);
  mbedtls_mpi_init(&z);
  mbedtls_ecp_point_init(&q);
  mbedtls_ecp_point_init(&peer_q);
  check(mbedtls_ecp_group_load(&grp, id), "mbedtls_ecp_group_load");
  check(mbedtls_ecdh_gen_public(&grp, &peer_d, &peer_q, mbedtls_ctr_drbg_random, &rng.drbg), "mbedtls_ecdh_gen_public");
  double calls = rate(seconds, [&] {
    check(mbedtls_ecdh_gen_public(&grp, &d, &q, mbedtls_ctr_drbg_random, &rng.drbg), "mbedtls_ecdh_gen_public");
    check(mbedtls_ecdh_compute_shared(&grp, &z, &peer_q, &d, mbedtls_ctr_drbg_random, &rng.drbg),
          "mbedtls_ecdh_compute_shared");
  });
  mbedtls_ecp_point_free(&peer_q);
  mbedtls_ecp_point_free(&q);
  mbedtls_mpi_free(&z);
  mbedtls_mpi_free(&peer_d);
  mbedtls_mpi_free(&d);
  mbedtls_ecp_group_free(&grp);
  return calls;
#else
  (void)id, (void)seconds, (void)rng;
  return std::nullopt;
#endif
}

// Verifies one SHA-256 signature made with the key in key_file.
std::optional<double> verify(const std::filesystem::path& key_file, double seconds, Rng& rng) {
  std::ifstream in(key_file, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (pem.empty()) return std::nullopt;
  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  int rc = compat::parse_key(&key, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1, nullptr, 0,
                             mbedtls_ctr_drbg_random, &rng.drbg);
  if (rc != 0) {
    mbedtls_pk_free(&key);
    return std::nullopt;
  }
  unsigned char hash[32] = {7};
  unsigned char signature[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  std::size_t length = 0;
  check(compat::pk_sign(&key, MBEDTLS_MD_SHA256, hash, sizeof hash, signature, sizeof signature, &length,
                        mbedtls_ctr_drbg_random, &rng.drbg),
        "mbedtls_pk_sign");
  double calls = rate(seconds, [&] {
    check(mbedtls_pk_verify(&key, MBEDTLS_MD_SHA256, hash, sizeof hash, signature, length), "mbedtls_pk_verify");
  });
  mbedtls_pk_free(&key);
  return calls;
}

}  // namespace

std::vector<PrimitiveResult> time_primitives(const std::filesystem::path& certs_dir, double seconds) {
  compat::init_crypto();
  Rng rng;
  std::vector<PrimitiveResult> out;
  out.push_back({"AES-128-GCM encrypt (16 KiB)", "MB/s", aes_gcm(seconds)});
  out.push_back({"ChaCha20-Poly1305 encrypt (16 KiB)", "MB/s", chacha20_poly1305(seconds)});
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
  out.push_back({"ECDHE X25519 (keygen + shared)", "ops/s", ecdhe(MBEDTLS_ECP_DP_CURVE25519, seconds, rng)});
#else
  out.push_back({"ECDHE X25519 (keygen + shared)", "ops/s", std::nullopt});
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
  out.push_back({"ECDHE P-256 (keygen + shared)", "ops/s", ecdhe(MBEDTLS_ECP_DP_SECP256R1, seconds, rng)});
#else
  out.push_back({"ECDHE P-256 (keygen + shared)", "ops/s", std::nullopt});
#endif
  out.push_back({"ECDSA P-256 verify", "ops/s", verify(certs_dir / "localhost-ecdsa.key", seconds, rng)});
  out.push_back({"RSA-2048 verify", "ops/s", verify(certs_dir / "localhost.key", seconds, rng)});
  return out;
}

}  // namespace tlsock::reference
