// SavedSession: a client session kept for resumption, and its serialized form (mbedTLS's own,
// mbedtls_ssl_session_save/_load), which the engine wraps in tlsock's session export.
#include <cstdio>
#include <stdexcept>

#include "mbedtls/shared.hpp"

namespace tlsock::backend {

SavedSession::SavedSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SavedSession::~SavedSession() = default;

std::string SavedSession::serialize() const {
  std::size_t size = 0;
  int rc = mbedtls_ssl_session_save(&impl_->session, nullptr, 0, &size);
  if (rc != MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL && rc != 0)
    throw std::runtime_error("saving a session: " + error_text(rc));
  std::string bytes(size, '\0');
  rc = mbedtls_ssl_session_save(&impl_->session, reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), &size);
  if (rc != 0) throw std::runtime_error("saving a session: " + error_text(rc));
  bytes.resize(size);
  return bytes;
}

std::shared_ptr<const SavedSession> SavedSession::parse(std::string_view bytes) {
  if (!compat::serialized_hostname_terminated(bytes))
    throw std::invalid_argument("not a valid mbedTLS session (its host name is not terminated)");
  auto impl = std::make_unique<Impl>();
  // On failure mbedtls_ssl_session_load frees what it had filled in; Impl frees the rest.
  int rc = mbedtls_ssl_session_load(&impl->session, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  if (rc == MBEDTLS_ERR_SSL_VERSION_MISMATCH)
    throw std::invalid_argument("the session was saved by another mbedTLS version or build configuration");
  if (rc == MBEDTLS_ERR_SSL_BAD_INPUT_DATA) throw std::invalid_argument("not a valid mbedTLS session");
  if (rc != 0) throw std::invalid_argument("mbedTLS cannot load the session: " + error_text(rc));
  return std::make_shared<const SavedSession>(std::move(impl));
}

std::optional<std::chrono::seconds> SavedSession::ticket_lifetime() const {
  std::uint32_t seconds = compat::ticket_lifetime(impl_->session);
  if (seconds == 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

std::uint32_t session_format() { return compat::version_number(); }

std::string session_format_text(std::uint32_t format) {
  char text[48];
  std::snprintf(text, sizeof text, "mbedTLS %u.%u.%u", format >> 24, (format >> 16) & 0xff, (format >> 8) & 0xff);
  return text;
}

std::string sha256(std::string_view bytes) {
  std::string digest(32, '\0');
  int rc = compat::sha256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                          reinterpret_cast<unsigned char*>(digest.data()));
  if (rc != 0) throw std::runtime_error("SHA-256: " + error_text(rc));
  return digest;
}

}  // namespace tlsock::backend
