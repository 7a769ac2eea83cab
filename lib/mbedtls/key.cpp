// PrivateKey: PEM or DER keys (PKCS#1, SEC1, PKCS#8, encrypted or not) on mbedTLS's pk
// parser, with mbedTLS's error codes turned into messages that say what to fix.
#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/pkcs12.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#include <cstring>
#include <optional>
#include <stdexcept>

#include "mbedtls/shared.hpp"
#include "trust/trust.hpp"

namespace tlsock {
namespace {

// A private copy of key bytes, wiped before its memory is released. Sized once, so no
// reallocation leaves an unwiped copy behind.
class SecretBytes {
 public:
  // nul_terminated: append the NUL that mbedTLS's PEM parser wants (and counts in the size).
  SecretBytes(std::string_view bytes, bool nul_terminated)
      : size_(bytes.size() + (nul_terminated ? 1 : 0)), data_(std::make_unique<unsigned char[]>(size_)) {
    if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
    if (nul_terminated) data_[size_ - 1] = 0;
  }
  explicit SecretBytes(std::size_t size) : size_(size), data_(std::make_unique<unsigned char[]>(size_)) {}
  ~SecretBytes() { mbedtls_platform_zeroize(data_.get(), size_); }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  [[nodiscard]] unsigned char* data() noexcept { return data_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  std::unique_ptr<unsigned char[]> data_;
};

// Wipes a string the caller got from elsewhere (the bytes of a key file) when leaving scope.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& bytes) noexcept : bytes_(bytes) {}
  ~WipeOnExit() { mbedtls_platform_zeroize(bytes_.data(), bytes_.size()); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& bytes_;
};

enum class Failure { wrong_password, password_required, unsupported_encryption, not_a_key };

// The high-level part of a (possibly combined) mbedTLS error code.
int high_level(int code) { return -((-code) & 0xFF80); }

std::optional<Failure> failure_from_code(int code) {
  switch (high_level(code)) {
    case MBEDTLS_ERR_PK_PASSWORD_MISMATCH:
    case MBEDTLS_ERR_PEM_PASSWORD_MISMATCH:
    case MBEDTLS_ERR_PKCS5_PASSWORD_MISMATCH:
    case MBEDTLS_ERR_PKCS12_PASSWORD_MISMATCH:
      return Failure::wrong_password;
    case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
    case MBEDTLS_ERR_PEM_PASSWORD_REQUIRED:
      return Failure::password_required;
    case MBEDTLS_ERR_PEM_UNKNOWN_ENC_ALG:
    case MBEDTLS_ERR_PEM_FEATURE_UNAVAILABLE:
    case MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE:
    case MBEDTLS_ERR_PKCS12_FEATURE_UNAVAILABLE:
      return Failure::unsupported_encryption;
    default:
      return std::nullopt;
  }
}

bool is_encrypted_pem(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

// PKCS#8 EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier (a SEQUENCE), OCTET STRING },
// where every unencrypted key form starts its SEQUENCE with an INTEGER.
bool is_encrypted_pkcs8_der(const unsigned char* der, std::size_t size) {
  unsigned char* p = const_cast<unsigned char*>(der);
  const unsigned char* end = der + size;
  std::size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
  end = p + len;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
  p += len;
  return mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) == 0;
}

int parse_into(mbedtls_pk_context* pk, const unsigned char* key, std::size_t size, std::string_view password) {
  return backend::compat::parse_key(pk, key, size, reinterpret_cast<const unsigned char*>(password.data()),
                                    password.size(), backend::random, nullptr);
}

// mbedTLS's DER parser tries every key form in turn and reports only the last failure, so an
// encrypted PKCS#8 DER key that fails to decrypt comes back as "invalid format". The same
// bytes as an ENCRYPTED PRIVATE KEY PEM block go straight to the decryption, whose error
// says why (wrong password, unsupported cipher).
int decryption_error_of_der(const unsigned char* der, std::size_t size, std::string_view password) {
  std::size_t b64_size = 0;
  mbedtls_base64_encode(nullptr, 0, &b64_size, der, size);
  SecretBytes b64(b64_size);
  if (mbedtls_base64_encode(b64.data(), b64.size(), &b64_size, der, size) != 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(b64.data()), b64_size);
  static constexpr std::string_view begin = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n";
  static constexpr std::string_view end = "\n-----END ENCRYPTED PRIVATE KEY-----\n";
  SecretBytes pem(begin.size() + body.size() + end.size() + 1);
  unsigned char* out = pem.data();
  for (std::string_view part : {begin, body, end}) {
    std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  *out = 0;
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  int rc = parse_into(&pk, pem.data(), pem.size(), password);
  mbedtls_pk_free(&pk);
  return rc;
}

[[noreturn]] void throw_failure(Failure failure, int code, const std::filesystem::path* path) {
  switch (failure) {
    case Failure::wrong_password:
      throw std::invalid_argument("password: wrong password for the private key" +
                                  (path != nullptr ? " " + path->string() : std::string()));
    case Failure::password_required:
      throw std::invalid_argument("password: the private key is encrypted and no password was given");
    case Failure::unsupported_encryption:
      throw std::invalid_argument("key: the private key is encrypted with a scheme this mbedTLS cannot decrypt: " +
                                  backend::error_text(code));
    case Failure::not_a_key:
      break;
  }
  throw std::invalid_argument("key: not a PEM or DER private key: " + backend::error_text(code));
}

// Parses a key; pem says whether bytes hold PEM text (then they end with the NUL mbedTLS wants).
std::shared_ptr<const backend::PrivateKeyImpl> parse(SecretBytes& bytes, bool pem, std::string_view password,
                                                     const std::filesystem::path* path) {
  auto impl = std::make_shared<backend::PrivateKeyImpl>();
  int rc = parse_into(&impl->pk, bytes.data(), bytes.size(), password);
  if (rc == 0) return impl;

  bool encrypted = pem ? is_encrypted_pem(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()))
                       : is_encrypted_pkcs8_der(bytes.data(), bytes.size());
  if (encrypted && password.empty()) throw_failure(Failure::password_required, rc, path);
  if (encrypted && !pem) {
    int precise = decryption_error_of_der(bytes.data(), bytes.size(), password);
    if (precise != 0) rc = precise;
  }
  std::optional<Failure> failure = failure_from_code(rc);
  // An encrypted key that decrypted to garbage (the padding happened to check out) fails
  // later with a format error: still a wrong password. An unknown PBE scheme is the pk
  // module's "feature unavailable".
  if (!failure && encrypted)
    failure = high_level(rc) == MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE ? Failure::unsupported_encryption
                                                                   : Failure::wrong_password;
  throw_failure(failure.value_or(Failure::not_a_key), rc, path);
}

}  // namespace

PrivateKey::PrivateKey(std::shared_ptr<const Impl> impl) noexcept : impl_(std::move(impl)) {}

PrivateKey PrivateKey::load(const std::filesystem::path& path, std::string_view password) {
  std::string file = trust::read_file(path);
  WipeOnExit wipe(file);
  bool pem = file.find("-----BEGIN") != std::string::npos;
  SecretBytes bytes(file, pem);
  return PrivateKey(parse(bytes, pem, password, &path));
}

PrivateKey PrivateKey::from_pem(std::string_view pem, std::string_view password) {
  SecretBytes bytes(pem, true);
  return PrivateKey(parse(bytes, true, password, nullptr));
}

PrivateKey PrivateKey::from_der(std::string_view der, std::string_view password) {
  if (der.empty()) throw std::invalid_argument("key: empty DER private key");
  SecretBytes bytes(der, false);
  return PrivateKey(parse(bytes, false, password, nullptr));
}

std::string PrivateKey::key_algorithm() const {
  switch (mbedtls_pk_get_type(&impl_->pk)) {
    case MBEDTLS_PK_RSA:
    case MBEDTLS_PK_RSASSA_PSS:
      return "rsa";
    case MBEDTLS_PK_ECKEY:
    case MBEDTLS_PK_ECKEY_DH:
    case MBEDTLS_PK_ECDSA:
      return "ec";
    default:
      return "unknown";
  }
}

std::size_t PrivateKey::key_bits() const { return mbedtls_pk_get_bitlen(&impl_->pk); }

bool PrivateKey::matches(const Certificate& certificate) const {
  return backend::compat::check_pair(&detail::Access::impl(certificate).crt.pk, &impl_->pk, backend::random, nullptr) ==
         0;
}

}  // namespace tlsock

namespace tlsock::backend {

RawKeyParse raw_parse_key(std::string_view pem, std::string_view password) {
  SecretBytes terminated(pem, true);
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  int rc = parse_into(&pk, terminated.data(), terminated.size(), password);
  mbedtls_pk_free(&pk);
  return {rc == 0, rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH, rc == 0 ? std::string() : error_text(rc)};
}

}  // namespace tlsock::backend
