// The backend's interface to the rest of the library, implemented in lib/mbedtls/. It names
// no mbedTLS type: the engine above it compiles against this header alone.
//
// Config is the immutable, shared part (mbedtls_ssl_config, trust roots, suites); Tls is one
// connection's mbedTLS context running over memory buffers (bytes in, bytes out).
#pragma once

#include "internal.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tlsock/alert.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/protocol.hpp"

namespace tlsock {
// From tlsock/server.hpp, which the backend needs only by name (it would bring in the
// sans-IO Connection too).
class ServerCertificates;
enum class ClientAuth;
}  // namespace tlsock

namespace tlsock::backend {

[[nodiscard]] ProtocolSet supported_protocols();
[[nodiscard]] std::string_view version_text();

// IANA name of a cipher suite ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") from its wire id;
// empty when mbedTLS does not know it.
[[nodiscard]] std::string suite_name(std::uint16_t id);
// The same from mbedTLS's own name ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256").
[[nodiscard]] std::string iana_suite_name(std::string_view mbedtls_name);
// True for finite-field Diffie-Hellman suites (their ServerKeyExchange carries p).
[[nodiscard]] bool suite_uses_dhe(std::uint16_t id);

// What the client asks of every connection made with one TLSSession.
struct ClientPolicy {
  ProtocolSet protocols;
  bool manual_validation = false;
  std::vector<Certificate> extra_roots;
  bool os_roots = true;  // false: extra_roots alone
  std::vector<std::string> alpn;
  unsigned minimum_dh_bits = 1024;
  std::vector<std::string> cipher_suites;  // IANA names; empty: defaults
  bool session_cache = true;               // TLSSession::Options::session_cache: keep sessions (IDs and tickets)
  std::optional<CertificateChain> client_certificate;
  std::string key_log_file;  // empty: none
};

// What a server asks of every connection it accepts.
struct ServerPolicy {
  ProtocolSet protocols;
  std::shared_ptr<const ServerCertificates> certificates;
  ClientAuth client_auth{};  // ClientAuth::none (checked where ClientAuth is defined)
  std::vector<Certificate> client_roots;
  bool session_cache = true;
  bool session_tickets = true;
  std::chrono::seconds ticket_lifetime{43200};
  std::optional<std::filesystem::path> dh_parameters;
  std::vector<std::string> alpn;
  std::vector<std::string> cipher_suites;
  std::string key_log_file;
};

class Config {
 public:
  // Validates the policy (std::invalid_argument naming the bad option) and builds the config.
  // The OS trust roots are parsed once per process, only when a verifying config needs them.
  [[nodiscard]] static std::shared_ptr<const Config> client(const ClientPolicy& policy);
  [[nodiscard]] static std::shared_ptr<const Config> server(const ServerPolicy& policy);
  ~Config();
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;

  struct Impl;
  explicit Config(std::unique_ptr<Impl> impl);
  [[nodiscard]] const Impl& impl() const noexcept { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Verification problems, one set per certificate of the chain.
enum VerifyProblem : unsigned {
  expired = 1u << 0,
  not_yet_valid = 1u << 1,
  not_trusted = 1u << 2,        // no path to a trusted root
  weak_signature = 1u << 3,     // signed with a hash the profile refuses (MD5, SHA-1)
  bad_key_usage = 1u << 4,      // key usage / extended key usage unfit for a TLS server
  hostname_mismatch = 1u << 5,  // the leaf is not valid for the name we connected to
  weak_key = 1u << 6,
  revoked = 1u << 7,
  other_problem = 1u << 8,
};

struct CertificateVerdict {
  int depth = 0;            // 0 = leaf
  Certificate certificate;  // as mbedTLS saw it in the chain it built
  unsigned problems = 0;    // VerifyProblem bits
};

// How a call into the TLS context ended.
enum class Status {
  ok,          // done (handshake finished, bytes read/written)
  want_read,   // needs more bytes from the wire
  new_ticket,  // a TLS 1.3 NewSessionTicket arrived (save_session() now holds it)
  closed,      // the peer sent close_notify
  eof,         // the wire ended without close_notify
  failed,      // fatal: see Tls::error()
};

// Why a call failed, in backend-neutral terms.
enum class Failure {
  none,
  verification,           // the certificate chain failed verification (see verdicts())
  alert,                  // the peer sent a fatal alert (see alert())
  protocol_version,       // the peer chose a version we did not offer
  bad_record,             // the bytes are not TLS records
  bad_key_exchange,       // a ServerKeyExchange we refused (e.g. a DH group below the minimum)
  no_client_certificate,  // server: the client sent no certificate but one is required
  key_update,             // a TLS 1.3 KeyUpdate arrived, which the linked mbedTLS cannot process
  other,
};

struct TlsError {
  Failure failure = Failure::none;
  int code = 0;                            // mbedTLS's error code, for the text
  std::uint8_t alert = 0;                  // when failure == alert
  int handshake_message = -1;              // the handshake message mbedTLS was reading (its type), or -1
  [[nodiscard]] std::string text() const;  // "SSL - ... (-0x7780)"
};

// A session saved for resumption, kept in the backend's own parsed form: offering it again
// costs one copy, not a parse of a serialized blob and then a copy. Immutable once made.
class SavedSession {
 public:
  struct Impl;
  explicit SavedSession(std::unique_ptr<Impl> impl);
  ~SavedSession();
  SavedSession(const SavedSession&) = delete;
  SavedSession& operator=(const SavedSession&) = delete;
  [[nodiscard]] const Impl& impl() const noexcept { return *impl_; }

  // mbedTLS's own serialization (mbedtls_ssl_session_save). It holds the session's secrets
  // and is bound to the mbedTLS version and build configuration that wrote it
  // (session_format()).
  [[nodiscard]] std::string serialize() const;
  // The session serialize() wrote. Throws std::invalid_argument with the reason (no argument
  // name: the caller adds its own) for anything else: bytes that are not a session, a
  // session from another mbedTLS version or configuration, a server's session.
  [[nodiscard]] static std::shared_ptr<const SavedSession> parse(std::string_view bytes);
  // The lifetime the server gave the session's ticket; none for a session ID or a ticket
  // without a lifetime hint.
  [[nodiscard]] std::optional<std::chrono::seconds> ticket_lifetime() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// What serialize()'s bytes are bound to: the running mbedTLS's version number (0x03060600).
[[nodiscard]] std::uint32_t session_format();
// The mbedTLS version a session_format() number stands for, as text ("mbedTLS 3.6.6").
[[nodiscard]] std::string session_format_text(std::uint32_t format);
// SHA-256 of bytes: 32 raw bytes.
[[nodiscard]] std::string sha256(std::string_view bytes);
// A DER Name (an X.509 DistinguishedName, as in a CertificateRequest) as text in
// Certificate::subject()'s format ("C=NL, O=Example, CN=Example Root CA"); for bytes that are
// not one valid Name, a text in parentheses that says so.
[[nodiscard]] std::string distinguished_name_text(std::string_view der);

// What the backend made of a chain for the handshake (for tests): the DER of each certificate
// of its own list, leaf first, and whether that list's leaf and the chain's key are a pair.
[[nodiscard]] std::vector<std::string> prepared_chain(const CertificateChain& chain);
[[nodiscard]] bool prepared_key_matches(const CertificateChain& chain);

// The backend's own key parser on a PEM key and a password, before tlsock maps its errors
// (for tests that hold the messages against the parser's many ways of failing).
struct RawKeyParse {
  bool parsed = false;
  bool wrong_password = false;  // the parser's own "wrong password" error
  std::string error;            // its error text, "" when parsed
};
[[nodiscard]] RawKeyParse raw_parse_key(std::string_view pem, std::string_view password);

// Wire bytes that a read may take straight into the backend's own record buffer, saving the
// copy through input_space() (the driver's transport, see Tls::read).
class Source {
 public:
  // Receives into space: the count, 0 at EOF, nullopt when nothing is there now. May throw.
  virtual std::optional<std::size_t> receive(std::span<char> space) = 0;

 protected:
  Source() = default;
  Source(const Source&) = default;
  Source& operator=(const Source&) = default;
  ~Source() = default;
};

class Tls {
 public:
  // Client: hostname is sent as SNI (empty: no SNI); check_hostname is our matcher for the
  // leaf, run during verification so a mismatch aborts the handshake like any other problem.
  // Server: both empty.
  Tls(std::shared_ptr<const Config> config, const std::string& hostname,
      std::function<bool(const Certificate&)> check_hostname);
  ~Tls();
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;

  // Offers a saved session (from save_session) for resumption; false if it cannot be used.
  bool load_session(const SavedSession& session);
  // The session of the finished handshake; nullptr if there is none to save.
  [[nodiscard]] std::shared_ptr<const SavedSession> save_session() const;

  // Wire input: the caller writes up to span.size() bytes into the span, then commits.
  [[nodiscard]] std::span<char> input_space(std::size_t at_least);
  void commit_input(std::size_t size);
  void input_eof() noexcept;
  [[nodiscard]] std::size_t input_buffered() const noexcept;
  // True when a complete record waits (unprocessed) or decrypted bytes wait inside mbedTLS.
  [[nodiscard]] bool readable_without_wire() const noexcept;

  // Wire output: bytes to send, and how many were sent.
  [[nodiscard]] std::string_view output() const noexcept;
  void consume_output(std::size_t size) noexcept;

  [[nodiscard]] Status handshake();
  // source (optional): asked for wire bytes once those committed through input_space() are
  // used up, for this call only. Its 0 is EOF, as input_eof() then; what it throws is
  // rethrown here, after mbedTLS returned (mbedTLS saw a failed receive, which leaves it
  // able to go on).
  [[nodiscard]] Status read(char* data, std::size_t size, std::size_t& got, Source* source = nullptr);
  [[nodiscard]] Status write(const char* data, std::size_t size, std::size_t& written);
  [[nodiscard]] Status close_notify();

  [[nodiscard]] const TlsError& error() const noexcept;
  [[nodiscard]] const std::vector<CertificateVerdict>& verdicts() const noexcept;
  // The peer's leaf as verification saw it (also during a failed handshake).
  [[nodiscard]] const std::optional<Certificate>& leaf() const noexcept;

  // Facts of the finished handshake.
  [[nodiscard]] Protocol protocol() const;
  [[nodiscard]] std::string cipher_suite() const;  // IANA
  [[nodiscard]] std::vector<Certificate> peer_chain() const;
  [[nodiscard]] std::string alpn() const;
  // Server: the name the client asked for with SNI ("" if none).
  [[nodiscard]] const std::string& server_name() const noexcept;
  // Queues an alert (after which a fatal one ends the connection).
  void send_alert(AlertLevel level, Alert description);
  // True once a fatal alert was queued: ours, or the one mbedTLS sent as a call failed.
  [[nodiscard]] bool fatal_alert_sent() const noexcept;
  // The alert description that answers the last failure when the peer's bytes were at fault
  // (Failure::bad_record): unexpected_message for an unknown record type or message,
  // protocol_version for a record version that is not TLS, record_overflow for a record too
  // long, decode_error for the rest.
  [[nodiscard]] std::uint8_t bad_data_alert() const noexcept;
  // Server, during the handshake: verify the client's certificate without failing the
  // handshake (as ClientAuth::optional); the engine refuses afterwards. False if the linked
  // mbedTLS cannot change the mode of one handshake.
  bool verify_client_optionally();
  // Server: the ClientHello has no extended_master_secret extension (RFC 7627). Sessions are
  // then never stored (so every resumable TLS 1.2 session has one), and an attempt to resume
  // one by session ID or ticket is noted, not honoured: see resumption_refused().
  void client_lacks_extended_master_secret() noexcept;
  // True when the last handshake() met such an attempt. mbedTLS went on with a full handshake;
  // the caller discards its output (truncate_output) and aborts with handshake_failure.
  [[nodiscard]] bool resumption_refused() const noexcept;
  // Drops output queued past the first keep bytes (not yet sent).
  void truncate_output(std::size_t keep) noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tlsock::backend
