// The server side: which certificate chain to present (by SNI), server policy, and a
// listening socket that hands out server-role TLSSockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/certificate.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/session.hpp"
#include "tlsock/socket.hpp"
#include "tlsock/types.hpp"

namespace tlsock {

// Chooses the chain to present for the server name a client asked for (SNI).
class ServerCertificates {
 public:
  virtual ~ServerCertificates() = default;
  // server_name is empty when the client sent no SNI (or sent an IP literal). nullptr
  // refuses the handshake with an unrecognized_name alert.
  [[nodiscard]] virtual const CertificateChain* select(std::string_view server_name) const = 0;
};

// One chain for every client.
class ServerCertificateChain : public ServerCertificates {
 public:
  explicit ServerCertificateChain(CertificateChain chain);
  [[nodiscard]] const CertificateChain* select(std::string_view server_name) const override;
  [[nodiscard]] const CertificateChain& chain() const noexcept { return chain_; }

 private:
  CertificateChain chain_;
};

// Several chains chosen by SNI: an exact name first, then a wildcard (RFC 6125 rules),
// then default_chain (nullptr without one). Names come from each leaf's valid_domains().
class SNIServerCertificates : public ServerCertificates {
 public:
  // Throws NoCertificateChainError when chains is empty and there is no default.
  explicit SNIServerCertificates(std::vector<CertificateChain> chains,
                                 std::optional<CertificateChain> default_chain = {});
  [[nodiscard]] const CertificateChain* select(std::string_view server_name) const override;

 private:
  std::vector<CertificateChain> chains_;
  std::optional<CertificateChain> default_chain_;
  // Lower-case names from the leaves, computed once: (name, index into chains_; the
  // default chain is index chains_.size()), in the order they are tried.
  std::vector<std::pair<std::string, std::size_t>> exact_names_;
  std::vector<std::pair<std::string, std::size_t>> wildcard_names_;
};

enum class ClientAuth { none, optional, required };

struct ServerOptions {
  ProtocolSet protocols = default_protocols();
  ClientAuth client_auth = ClientAuth::none;
  std::vector<TrustRoot> client_trust_roots{};  // who may sign client certificates
  bool session_cache = true;                    // resumption by session ID
  bool session_tickets = true;                  // resumption by ticket (keys rotated)
  std::chrono::seconds ticket_lifetime{std::chrono::hours(12)};
  std::optional<std::filesystem::path> dh_parameters{};  // PEM DH parameters for DHE suites
  std::vector<std::string> alpn_protocols{};    // in order of preference
  std::vector<std::string> cipher_suites{};     // IANA names; empty: defaults
  Timeout handshake_timeout = std::chrono::seconds(10);
  // read_line/read_until on an accepted socket give up (TLSError) past this many buffered
  // bytes without a match: a client sending an endless line costs at most this much memory.
  std::size_t max_buffered_bytes = 4 * 1024 * 1024;
  std::optional<std::filesystem::path> key_log_file{};  // NSS key log (also $SSLKEYLOGFILE)
};

class ServerTLS;

// A listening TCP socket whose accept() returns server-role TLSSockets with the handshake
// done. Handshakes run concurrently inside accept(): a client that stalls holds up nobody,
// and is dropped after the server's handshake_timeout.
class TLSListener {
 public:
  // address: "127.0.0.1", "::1", "0.0.0.0", ...; port 0 picks a free one (see port()).
  TLSListener(std::string_view address, std::uint16_t port, std::shared_ptr<const ServerTLS> server);
  TLSListener(TLSListener&&) noexcept;
  TLSListener& operator=(TLSListener&&) noexcept;
  ~TLSListener();

  // The next client whose handshake succeeded; tlsock::TimeoutError past timeout. Clients
  // whose handshake fails are dropped (see on_handshake_error).
  [[nodiscard]] TLSSocket accept(Timeout timeout = std::nullopt);
  // Called with each failed handshake's error (default: none).
  void on_handshake_error(std::function<void(const std::exception& error)> handler);
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] NativeSocket socket() const noexcept;
  // Stops listening and drops handshakes in progress. May be called from another thread while
  // accept() waits: that accept() then ends at once with TLSDisconnectError("accept on
  // ADDRESS:PORT ended: the listener was closed"), and close() returns once it has.
  void close() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock
