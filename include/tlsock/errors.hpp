// The exception hierarchy of tlsock: oscrypto's classes (and PyTLS's, for the sans-IO API),
// so code ported from oscrypto keeps catching and matching the same things.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "tlsock/certificate.hpp"

namespace tlsock {

// Any TLS failure: handshake, protocol, verification, disconnection.
class TLSError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The connection failed or broke after it was established.
class TLSConnectionError : public TLSError {
 public:
  using TLSError::TLSError;
};

// The peer closed the connection ("The remote end closed the connection"), or the
// application used a connection it had closed ("The connection was already closed").
class TLSDisconnectError : public TLSConnectionError {
 public:
  using TLSConnectionError::TLSConnectionError;
};

// The peer sent close_notify: an orderly end, after all of its data was read.
class TLSGracefulDisconnectError : public TLSDisconnectError {
 public:
  using TLSDisconnectError::TLSDisconnectError;
};

// The server's certificate failed verification; certificate() is the offending one.
class TLSVerificationError : public TLSError {
 public:
  TLSVerificationError(const std::string& message, std::optional<Certificate> certificate)
      : TLSError(message), certificate_(std::move(certificate)) {}
  // The certificate that failed (the leaf unless an intermediate was the problem);
  // empty only when the peer sent none.
  [[nodiscard]] const std::optional<Certificate>& certificate() const noexcept { return certificate_; }

 private:
  std::optional<Certificate> certificate_;
};

// A whole public call (connect, handshake, read, write) did not finish within its timeout.
class TimeoutError : public std::system_error {
 public:
  explicit TimeoutError(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

}  // namespace tlsock
