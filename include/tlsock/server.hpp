// The server side: which certificate chain to present (by SNI), server policy, and ServerTLS,
// the server role that starts sans-IO Connections (TLSListener, listener.hpp, serves sockets).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/certificate.hpp"
#include "tlsock/connection.hpp"
#include "tlsock/export.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/session.hpp"
#include "tlsock/types.hpp"

namespace tlsock {

/// Chooses the chain to present for the server name a client asked for (SNI).
class TLSOCK_API ServerCertificates {
 public:
  virtual ~ServerCertificates() = default;
  /// server_name is empty when the client sent no SNI (or sent an IP literal). nullptr
  /// refuses the handshake with an unrecognized_name alert.
  [[nodiscard]] virtual const CertificateChain* select(std::string_view server_name) const = 0;
};

/// One chain for every client.
class TLSOCK_API ServerCertificateChain : public ServerCertificates {
 public:
  /// The chain to serve (its leaf and key).
  explicit ServerCertificateChain(const CertificateChain& chain);
  [[nodiscard]] const CertificateChain* select(std::string_view server_name) const override;
  /// The chain given to the constructor.
  [[nodiscard]] const CertificateChain& chain() const noexcept { return chain_; }

 private:
  CertificateChain chain_;
};

/// Several chains chosen by SNI: an exact name first, then a wildcard (RFC 6125 rules),
/// then default_chain (nullptr without one). Names come from each leaf's valid_domains().
class TLSOCK_API SNIServerCertificates : public ServerCertificates {
 public:
  /// Throws NoCertificateChainError when chains is empty and there is no default.
  explicit SNIServerCertificates(std::vector<CertificateChain> chains,
                                 std::optional<CertificateChain> default_chain = {});
  [[nodiscard]] const CertificateChain* select(std::string_view server_name) const override;

 private:
  std::vector<CertificateChain> chains_;
  std::optional<CertificateChain> default_chain_;
  /// Lower-case names from the leaves, computed once: (name, index into chains_; the
  /// default chain is index chains_.size()), in the order they are tried.
  std::vector<std::pair<std::string, std::size_t>> exact_names_;
  std::vector<std::pair<std::string, std::size_t>> wildcard_names_;
};

enum class ClientAuth { none, optional, required };

/// How a ServerTLS behaves: protocols, client certificates, resumption, ALPN, suites, limits.
struct TLSOCK_API ServerOptions {
  /// The protocol versions accepted.
  ProtocolSet protocols = default_protocols();
  /// Whether to ask clients for a certificate, and whether one is required.
  ClientAuth client_auth = ClientAuth::none;
  std::vector<TrustRoot> client_trust_roots{};  ///< who may sign client certificates
  bool session_cache = true;                    ///< resumption by session ID
  bool session_tickets = true;                  ///< resumption by ticket (keys rotated)
  /// How long a session ticket stays valid.
  std::chrono::seconds ticket_lifetime{std::chrono::hours(12)};
  std::optional<std::filesystem::path> dh_parameters{};  ///< PEM DH parameters for DHE suites
  std::vector<std::string> alpn_protocols{};             ///< in order of preference
  std::vector<std::string> cipher_suites{};              ///< IANA names; empty: defaults
  /// The time a client gets to finish the handshake on an accepted socket.
  Timeout handshake_timeout = std::chrono::seconds(10);
  /// read_line/read_until on an accepted socket give up (TLSError) past this many buffered
  /// bytes without a match: a client sending an endless line costs at most this much memory.
  std::size_t max_buffered_bytes = 4 * 1024 * 1024;
  std::optional<std::filesystem::path> key_log_file{};  ///< NSS key log (also $SSLKEYLOGFILE)
};

/// The server role: certificates, policy, and the session cache and ticket keys that every
/// connection it starts shares. Thread-safe.
class TLSOCK_API ServerTLS {
 public:
  /// The server role over certificates (one chain, or one per SNI name), with options.
  explicit ServerTLS(std::shared_ptr<const ServerCertificates> certificates, ServerOptions options = {});
  ~ServerTLS();
  ServerTLS(const ServerTLS&) = delete;
  ServerTLS& operator=(const ServerTLS&) = delete;

  /// Starts a handshake; the parameters are ClientTLS::start's.
  [[nodiscard]] Connection start(WriteToWire write_to_wire, WireClose wire_close = {},
                                 ConnectionVerifyCallback verify_callback = {}) const;
  /// The options given to the constructor.
  [[nodiscard]] const ServerOptions& options() const noexcept;

 private:
  friend struct detail::Access;
  struct TLSOCK_HIDDEN Impl;  ///< the library's side: the options and the backend config, shared
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tlsock
