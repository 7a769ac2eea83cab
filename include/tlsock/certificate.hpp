// Parsed X.509 certificates, private keys and certificate chains.
//
// Certificate is immutable and cheap to copy (the parsed form is shared), so the peer
// chain of a connection can be handed out without copying DER. These values have no empty
// state: moving one copies it (the copy constructors below suppress the moves), so a
// moved-from Certificate, PrivateKey or CertificateChain is still the same value.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"

namespace tlsock {

/// An X.509 certificate, parsed once and shared between copies (oscrypto's Certificate).
class TLSOCK_API Certificate {
 public:
  /// Throws std::invalid_argument when the bytes are not one well-formed certificate.
  [[nodiscard]] static Certificate from_der(std::string_view der);
  /// The first CERTIFICATE block of a PEM text.
  [[nodiscard]] static Certificate from_pem(std::string_view pem);
  /// Every certificate in a PEM bundle, or the one certificate of a DER file.
  /// Throws std::system_error when the file cannot be read, std::invalid_argument when it
  /// holds no certificate.
  [[nodiscard]] static std::vector<Certificate> load(const std::filesystem::path& path);

  /// Copies share the parsed certificate.
  Certificate(const Certificate&) noexcept = default;
  /// Copies share the parsed certificate.
  Certificate& operator=(const Certificate&) noexcept = default;

  /// The certificate's DER bytes.
  [[nodiscard]] const std::string& der() const noexcept;
  /// The certificate as one PEM CERTIFICATE block.
  [[nodiscard]] std::string pem() const;
  [[nodiscard]] std::string subject() const;  ///< "CN=localhost, O=..."
  /// The issuer's distinguished name, in the subject() format.
  [[nodiscard]] std::string issuer() const;
  [[nodiscard]] std::string serial_number() const;  ///< hex, colon-separated
  /// Start of the validity period.
  [[nodiscard]] std::chrono::system_clock::time_point not_before() const;
  /// End of the validity period.
  [[nodiscard]] std::chrono::system_clock::time_point not_after() const;
  /// DNS names the certificate is valid for: its dNSName SANs, else a domain-like common name.
  [[nodiscard]] std::vector<std::string> valid_domains() const;
  /// IP addresses from its iPAddress SANs, in text form ("127.0.0.1", "::1").
  [[nodiscard]] std::vector<std::string> valid_ips() const;
  /// Whether the certificate covers host as a verifying connection checks it: a domain name
  /// against valid_domains() by RFC 6125 (a wildcard only as the whole left-most label, never
  /// for an IP literal), an IP literal against valid_ips() alone. Throws std::invalid_argument
  /// when host is not a valid host name or IP literal (empty, too long, a NUL byte).
  [[nodiscard]] bool valid_for(std::string_view host) const;
  /// Issuer equals subject and the certificate's own key verifies its signature.
  [[nodiscard]] bool self_signed() const;
  /// Whether basicConstraints marks it a certificate authority.
  [[nodiscard]] bool is_ca() const;
  [[nodiscard]] std::string hash_algorithm() const;  ///< "sha256", "sha1", "md5", ...
  [[nodiscard]] std::string key_algorithm() const;   ///< "rsa", "ec", ...
  /// The public key's size in bits.
  [[nodiscard]] std::size_t key_bits() const;
  [[nodiscard]] std::string sha256_fingerprint() const;  ///< lower-case hex, no separators

  /// Equal when their DER bytes are.
  friend bool operator==(const Certificate& a, const Certificate& b) noexcept { return a.der() == b.der(); }

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;  ///< defined by the backend
  TLSOCK_HIDDEN explicit Certificate(std::shared_ptr<const Impl> impl) noexcept;
  std::shared_ptr<const Impl> impl_;
};

/// A private key (RSA or EC), parsed once and shared between copies.
class TLSOCK_API PrivateKey {
 public:
  /// PEM (PKCS#1, SEC1 or PKCS#8, encrypted or not) or DER. password is used for encrypted
  /// keys; a wrong or missing password gives std::invalid_argument saying so.
  [[nodiscard]] static PrivateKey load(const std::filesystem::path& path, std::string_view password = {});
  /// Parses a PEM private key (see load for the formats and password).
  [[nodiscard]] static PrivateKey from_pem(std::string_view pem, std::string_view password = {});
  /// Parses a DER private key (see load for the formats and password).
  [[nodiscard]] static PrivateKey from_der(std::string_view der, std::string_view password = {});

  /// Copies share the parsed key.
  PrivateKey(const PrivateKey&) noexcept = default;
  /// Copies share the parsed key.
  PrivateKey& operator=(const PrivateKey&) noexcept = default;

  [[nodiscard]] std::string key_algorithm() const;  ///< "rsa", "ec"
  /// The key's size in bits.
  [[nodiscard]] std::size_t key_bits() const;
  /// True when this is the private half of the certificate's public key.
  [[nodiscard]] bool matches(const Certificate& certificate) const;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;  ///< defined by the backend
  TLSOCK_HIDDEN explicit PrivateKey(std::shared_ptr<const Impl> impl) noexcept;
  std::shared_ptr<const Impl> impl_;
};

/// A server (or client) identity: the leaf with its private key, then the intermediates,
/// each certificate issued by the next. Validated on construction; immutable; cheap to copy.
class TLSOCK_API CertificateChain {
 public:
  /// chain: leaf first. Throws NoCertificateChainError (empty), LeafCertificateHasNoPrivateKeyError
  /// (the key does not match the leaf), CertificateChainError (not ordered leaf to root).
  CertificateChain(std::vector<Certificate> chain, PrivateKey key);
  /// A PEM bundle (leaf first) and a key file.
  [[nodiscard]] static CertificateChain load(const std::filesystem::path& chain_pem, const std::filesystem::path& key,
                                             std::string_view password = {});
  /// One DER certificate and its DER key, in memory (as MicroPython's ussl set_cert_key).
  [[nodiscard]] static CertificateChain from_der(std::string_view certificate_der, std::string_view key_der);
  /// PyTLS's strict factory: certificates in any order plus keys. Finds the one leaf (the
  /// certificate that issued none of the others), orders its issuers after it and checks the
  /// key. Throws NoCertificateChainError, NoLeafCertificateError, MoreThanOneLeafCertificateError
  /// (also for stray certificates, which are leaves of their own), LeafCertificateHasNoPrivateKeyError,
  /// ExtraneousPrivateKeyError (more keys than the leaf's).
  [[nodiscard]] static CertificateChain from_pieces(std::vector<Certificate> certificates,
                                                    std::vector<PrivateKey> keys);

  /// Copies share the parsed chain.
  CertificateChain(const CertificateChain&) noexcept = default;
  /// Copies share the parsed chain.
  CertificateChain& operator=(const CertificateChain&) noexcept = default;

  /// The leaf certificate, the one the key belongs to.
  [[nodiscard]] const Certificate& leaf() const noexcept;
  [[nodiscard]] const std::vector<Certificate>& certificates() const noexcept;  ///< leaf first
  /// The leaf's private key.
  [[nodiscard]] const PrivateKey& key() const noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;  ///< defined by the backend: the parsed chain ready for mbedTLS
  std::shared_ptr<const Impl> impl_;
};

/// A fresh ECDSA P-256 key and a self-signed certificate for it (SHA-256, not a CA, valid from
/// an hour ago for validity), naming each of names in its subjectAltName: a host name becomes
/// a dNSName, an IP literal ("127.0.0.1", "::1") an iPAddress; the first is also the subject's
/// CN. For a server that has no identity of its own: clients pin it by sha256_fingerprint().
/// Throws std::invalid_argument for no names, a name that is neither, or a validity <= 0.
[[nodiscard]] TLSOCK_API CertificateChain generate_self_signed(const std::vector<std::string>& names,
                                                               std::chrono::seconds validity = std::chrono::hours(24 *
                                                                                                                  30));

/// Renders a time point as oscrypto does in its messages: "2001-01-02 00:00:00Z".
[[nodiscard]] TLSOCK_API std::string format_utc(std::chrono::system_clock::time_point time);

}  // namespace tlsock
