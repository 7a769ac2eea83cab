// The exception hierarchy of tlsock: oscrypto's classes (and PyTLS's, for the sans-IO API),
// so code ported from oscrypto keeps catching and matching the same things.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "tlsock/alert.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/export.hpp"

namespace tlsock {

/// Any TLS failure: handshake, protocol, verification, disconnection.
class TLSOCK_API TLSError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The connection failed or broke after it was established.
class TLSOCK_API TLSConnectionError : public TLSError {
 public:
  using TLSError::TLSError;
};

/// The peer closed the connection ("The remote end closed the connection"), or the
/// application used a connection it had closed ("The connection was already closed").
class TLSOCK_API TLSDisconnectError : public TLSConnectionError {
 public:
  using TLSConnectionError::TLSConnectionError;
};

/// The peer sent close_notify: an orderly end, after all of its data was read.
class TLSOCK_API TLSGracefulDisconnectError : public TLSDisconnectError {
 public:
  using TLSDisconnectError::TLSDisconnectError;
};

/// The server's certificate failed verification; certificate() is the offending one.
class TLSOCK_API TLSVerificationError : public TLSError {
 public:
  /// message, and the certificate that failed verification when there is one.
  TLSVerificationError(const std::string& message, std::optional<Certificate> certificate)
      : TLSError(message), certificate_(std::move(certificate)) {}
  /// The certificate that failed (the leaf unless an intermediate was the problem);
  /// empty only when the peer sent none.
  [[nodiscard]] const std::optional<Certificate>& certificate() const noexcept { return certificate_; }

 private:
  std::optional<Certificate> certificate_;
};

// PyTLS's errors, for the sans-IO API (and raised by TLSSocket where they apply).

/// The peer sent a fatal alert. The message is oscrypto's where one applies (e.g. "TLS
/// handshake failed - protocol version error"), else names the alert.
class TLSOCK_API TLSAlertError : public TLSError {
 public:
  /// message and the alert as received or sent.
  TLSAlertError(const std::string& message, Alert alert, AlertLevel level)
      : TLSError(message), alert_(alert), level_(level) {}
  /// The alert's description (its wire value).
  [[nodiscard]] Alert alert_code() const noexcept { return alert_; }
  /// The alert's level (warning or fatal).
  [[nodiscard]] AlertLevel alert_level() const noexcept { return level_; }

 private:
  Alert alert_;
  AlertLevel level_;
};

/// What a server asked for when it required a client certificate and the client had none to
/// send. The error a client raises then ("TLS handshake failed - client authentication
/// required") is of its usual class, TLSAlertError when the server refused with an alert, else
/// TLSError, and also a ClientAuthRequest: client_auth_request() finds it.
class TLSOCK_API ClientAuthRequest {
 public:
  /// names: see acceptable_ca_names().
  explicit ClientAuthRequest(std::optional<std::vector<std::string>> names)
      : names_(std::make_shared<const std::optional<std::vector<std::string>>>(std::move(names))) {}
  /// Copies share the names (a copy cannot throw, as an exception's must not).
  ClientAuthRequest(const ClientAuthRequest&) noexcept = default;
  /// As the copy constructor.
  ClientAuthRequest& operator=(const ClientAuthRequest&) noexcept = default;
  virtual ~ClientAuthRequest();
  /// The certificate authorities the server's CertificateRequest named, in its order, as text
  /// in Certificate::subject()'s format ("C=NL, O=Example, CN=Example Root CA"): a client
  /// certificate issued under one of them may be accepted. An empty list: the server named
  /// none, any certificate might do. std::nullopt: not known; TLS 1.3 encrypts the request,
  /// and its names are not available.
  [[nodiscard]] const std::optional<std::vector<std::string>>& acceptable_ca_names() const noexcept { return *names_; }

 private:
  std::shared_ptr<const std::optional<std::vector<std::string>>> names_;  // shared: copies cannot throw
};

/// The ClientAuthRequest that error is also, or nullptr when it is none (it is not a client's
/// "client authentication required" error).
[[nodiscard]] TLSOCK_API const ClientAuthRequest* client_auth_request(const std::exception& error) noexcept;

/// The peer sent bytes that are not valid TLS; an alert was written to it before this was raised.
class TLSOCK_API BadTLSDataError : public TLSError {
 public:
  using TLSError::TLSError;
};

/// A client sent clear text (its first byte an ASCII letter: "GET / HTTP/1.1", say) where a
/// TLS handshake was due; TLSListener reports it (see TLSListener::on_plaintext).
class TLSOCK_API PlaintextRequestError : public TLSError {
 public:
  using TLSError::TLSError;
};

/// A fatal error invalidated the connection earlier; cause() is that first error.
class TLSOCK_API InvalidatedError : public TLSError {
 public:
  /// message, and the error that invalidated the object.
  InvalidatedError(const std::string& message, std::exception_ptr cause)
      : TLSError(message), cause_(std::move(cause)) {}
  /// The error that invalidated the object.
  [[nodiscard]] const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  std::exception_ptr cause_;
};

/// send_alert() was given a level the specification does not allow for that alert, or none
/// where the alert has no prescribed level.
class TLSOCK_API InvalidAlertLevel : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Misuse of the certificate-chain factories (PyTLS's names).
class TLSOCK_API CertificateChainError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};
class TLSOCK_API LeafCertificateHasNoPrivateKeyError : public CertificateChainError {
 public:
  using CertificateChainError::CertificateChainError;
};
class TLSOCK_API MoreThanOneLeafCertificateError : public CertificateChainError {
 public:
  using CertificateChainError::CertificateChainError;
};
class TLSOCK_API NoLeafCertificateError : public CertificateChainError {
 public:
  using CertificateChainError::CertificateChainError;
};
class TLSOCK_API NoCertificateChainError : public CertificateChainError {
 public:
  using CertificateChainError::CertificateChainError;
};
class TLSOCK_API ExtraneousPrivateKeyError : public CertificateChainError {
 public:
  using CertificateChainError::CertificateChainError;
};

/// A whole public call (connect, handshake, read, write) did not finish within its timeout.
class TLSOCK_API TimeoutError : public std::system_error {
 public:
  /// what: the timeout's message.
  explicit TimeoutError(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

}  // namespace tlsock
