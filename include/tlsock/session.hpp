// TLSSession: a client policy (protocols, trust, verification) and a resumption cache,
// shared by many TLSSockets and safe to use from many threads at once.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tlsock/certificate.hpp"
#include "tlsock/detail/access.hpp"
#include "tlsock/export.hpp"
#include "tlsock/protocol.hpp"

namespace tlsock {

/// A certificate to trust in addition to the OS trust roots (or instead of them: see
/// TLSSession::Options::use_os_trust_roots).
class TLSOCK_API TrustRoot {
 public:
  TrustRoot(const Certificate& certificate);     ///< NOLINT(google-explicit-constructor): as oscrypto
  TrustRoot(const std::filesystem::path& path);  ///< NOLINT(google-explicit-constructor): PEM bundle or DER
  /// A trust root read from the PEM or DER file at path.
  TrustRoot(const char* path) : TrustRoot(std::filesystem::path(path)) {}  // NOLINT
  /// A trust root read from the PEM or DER file at path.
  TrustRoot(const std::string& path) : TrustRoot(std::filesystem::path(path)) {}  // NOLINT
  /// A trust root from one certificate's DER bytes.
  [[nodiscard]] static TrustRoot der(std::string_view der_bytes);

  /// The certificates this root stands for (a PEM bundle may hold several).
  [[nodiscard]] const std::vector<Certificate>& certificates() const noexcept { return certificates_; }

 private:
  explicit TrustRoot(std::vector<Certificate> certificates) : certificates_(std::move(certificates)) {}
  std::vector<Certificate> certificates_;
};

/// Runs after the library's own checks, once per handshake, with the peer's chain (leaf
/// first); throwing fails the handshake with that exception. The sans-IO Connection's callback
/// (ConnectionVerifyCallback, connection.hpp) takes the same chain and the Connection.
using VerifyCallback = std::function<void(const std::vector<Certificate>& chain)>;

/// What connections share: protocols, trust settings and the session cache (oscrypto's TLSSession).
class TLSOCK_API TLSSession {
 public:
  /// A TLSSession's settings.
  struct Options {
    /// The protocol versions offered.
    ProtocolSet protocols = default_protocols();
    /// Skip chain and hostname validation. The connection is then encrypted but not
    /// authenticated: for tests and pinned setups only.
    bool manual_validation = false;
    /// CA certificates trusted for verification (see use_os_trust_roots).
    std::vector<TrustRoot> extra_trust_roots{};
    /// Verify against the OS trust roots as well as extra_trust_roots. false: trust
    /// extra_trust_roots alone (Python's cafile=, curl's --cacert), for private PKIs and tests;
    /// verifying with false and no extra_trust_roots is a std::invalid_argument.
    bool use_os_trust_roots = true;
    /// Application protocols to offer (ALPN), in order of preference, e.g. {"http/1.1"}.
    std::vector<std::string> alpn_protocols{};
    /// Diffie-Hellman groups smaller than this are refused ("weak DH parameters").
    unsigned minimum_dh_bits = 1024;
    /// IANA cipher-suite names, in order of preference; empty means tlsock's defaults
    /// (forward-secret AEAD suites first; never RC4, DES, 3DES, NULL, anonymous or export).
    std::vector<std::string> cipher_suites{};
    /// Keep sessions for resumption (by session ID and by ticket).
    bool session_cache = true;
    /// Most bytes read_until/read_line may buffer while looking for their marker.
    std::size_t max_buffered_bytes = 4 * 1024 * 1024;
    /// A certificate and key to present when a server asks for one.
    std::optional<CertificateChain> client_certificate{};
    /// Checks the server's chain after the library's own checks (see VerifyCallback).
    VerifyCallback verify_callback{};
    /// Append TLS secrets in the NSS key log format (for Wireshark); $SSLKEYLOGFILE also works.
    std::optional<std::filesystem::path> key_log_file{};
  };

  TLSSession();
  /// A session with these options.
  explicit TLSSession(Options options);
  /// oscrypto's constructor: protocols, manual_validation and extra_trust_roots; the OS trust roots are used too.
  explicit TLSSession(ProtocolSet protocols, bool manual_validation = false,
                      std::vector<TrustRoot> extra_trust_roots = {});
  ~TLSSession();
  TLSSession(const TLSSession&) = delete;
  TLSSession& operator=(const TLSSession&) = delete;

  /// The options the session was made with.
  [[nodiscard]] const Options& options() const noexcept;
  /// The protocol versions offered.
  [[nodiscard]] const ProtocolSet& protocols() const noexcept { return options().protocols; }
  /// Whether chain and hostname validation are skipped.
  [[nodiscard]] bool manual_validation() const noexcept { return options().manual_validation; }
  /// The extra trust roots.
  [[nodiscard]] const std::vector<TrustRoot>& extra_trust_roots() const noexcept { return options().extra_trust_roots; }
  /// Forgets every cached session.
  void clear_cache();

  /// Sessions that outlive the process (a CLI, a short-lived job): export the cache, import
  /// it into a TLSSession of a later process, and its connections resume.
  ///
  /// export_sessions() is every session of the cache that has not expired, with its
  /// "host:port", whether it is a TLS 1.3 ticket (used once), when it expires (a ticket's
  /// lifetime; a session ID's is a day; never more than a week) and the server's chain (so
  /// certificate() works on a resumed connection). It holds the sessions' secrets: keep it
  /// as private as a key. A TLS 1.3 ticket exported stays in this cache too: use it in one
  /// process only. The bytes are bound to the mbedTLS version tlsock runs with.
  [[nodiscard]] std::string export_sessions() const;
  /// Adds the sessions of an export to this cache (replacing any for the same host:port) and
  /// returns how many it added: expired ones are skipped, and nothing is added when
  /// options().session_cache is off. Throws std::invalid_argument ("sessions: <reason>"),
  /// adding nothing, for bytes that are not an export, are damaged or truncated, come from
  /// another mbedTLS version or build, or were made with other trust settings: by a
  /// TLSSession whose manual_validation or extra_trust_roots differ from this one's (a
  /// session made without verification is never resumed by a verifying TLSSession).
  std::size_t import_sessions(std::string_view sessions);
  /// export_sessions() written to a file: atomically (a temporary file in the same directory,
  /// then renamed over path) and readable by the owner only (0600). A symbolic link is
  /// written through. std::system_error when writing fails; std::invalid_argument when path
  /// exists and is not a regular file.
  void save_sessions(const std::filesystem::path& path) const;
  /// import_sessions() of a file's content. std::system_error when it cannot be read (it
  /// does not exist, ...); std::invalid_argument ("path: \"<path>\": <reason>") when its
  /// content is refused.
  std::size_t load_sessions(const std::filesystem::path& path);

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;  ///< the library's side: shared backend config and the cache
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock
