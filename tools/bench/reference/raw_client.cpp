// The reference client loop: what a careful program written directly on mbedTLS does.
// Bench code, not the library: the one deliberate exception to "mbedTLS headers only in
// lib/mbedtls/" (it is what tlsock is measured against, so it calls mbedTLS directly; it borrows
// lib/mbedtls/compat.hpp for the 2.28-vs-3.6 differences and is linked by tools/bench only).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <mbedtls/net_sockets.h>

#include <cstdio>
#include <stdexcept>

#include "mbedtls/compat.hpp"
#include "reference/reference.hpp"

namespace tlsock::reference {
namespace {

namespace compat = backend::compat;

std::string text(int code) {
  char buffer[200];
  mbedtls_strerror(code, buffer, sizeof buffer);
  char hex[16];
  std::snprintf(hex, sizeof hex, " (-0x%04X)", static_cast<unsigned>(-code));
  return std::string(buffer) + hex;
}

void check(int code, std::string_view what) {
  if (code != 0) throw std::runtime_error(std::string(what) + ": " + text(code));
}

int suite_id(std::string_view iana) {
  int id = compat::suite_id(iana);
  if (id == 0) throw std::invalid_argument("cipher suite unknown to the linked mbedTLS: " + std::string(iana));
  return id;
}

int minor_of(Protocol protocol) { return 1 + static_cast<int>(protocol) - static_cast<int>(Protocol::TLSv1); }

}  // namespace

std::string mbedtls_version() { return compat::version_text(); }

struct RawClient::Impl {
  mbedtls_entropy_context entropy{};
  mbedtls_ctr_drbg_context drbg{};
  mbedtls_x509_crt roots{};
  mbedtls_ssl_config conf{};
  int suites[2] = {0, 0};
  std::string hostname;
  mbedtls_ssl_session saved{};
  bool have_saved = false;

  Impl() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&roots);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_session_init(&saved);
  }
  ~Impl() {
    mbedtls_ssl_session_free(&saved);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&roots);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void save(const mbedtls_ssl_context& ssl) {
    mbedtls_ssl_session_free(&saved);
    mbedtls_ssl_session_init(&saved);
    have_saved = mbedtls_ssl_get_session(&ssl, &saved) == 0;
  }
};

struct RawConnection::Impl {
  RawClient::Impl* client = nullptr;
  bool resume = false;
  mbedtls_net_context net{};
  mbedtls_ssl_context ssl{};
  bool closed = false;

  Impl() {
    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_net_free(&net);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

RawClient::RawClient(const RawOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  compat::init_crypto();
  static constexpr unsigned char personalization[] = "tlsock-reference";
  check(mbedtls_ctr_drbg_seed(&s.drbg, mbedtls_entropy_func, &s.entropy, personalization, sizeof personalization - 1),
        "seeding the DRBG");
  for (const auto& file : options.ca_files) {
    int rc = mbedtls_x509_crt_parse_file(&s.roots, file.string().c_str());
    if (rc < 0) check(rc, "parsing " + file.string());
  }
  check(mbedtls_ssl_config_defaults(&s.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT),
        "TLS configuration");
  mbedtls_ssl_conf_rng(&s.conf, mbedtls_ctr_drbg_random, &s.drbg);
  int minor = minor_of(options.protocol);
  compat::set_version_bounds(&s.conf, minor, minor);
  compat::prefer_fast_groups(&s.conf);  // the key exchange groups tlsock offers: same group, same cost
  if (!options.cipher_suite.empty()) {
    s.suites[0] = suite_id(options.cipher_suite);
    mbedtls_ssl_conf_ciphersuites(&s.conf, s.suites);
  }
  mbedtls_ssl_conf_authmode(&s.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&s.conf, &s.roots, nullptr);
#if TLSOCK_HAS_SESSION_TICKETS
  mbedtls_ssl_conf_session_tickets(
      &s.conf, options.session_tickets ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  if (options.session_tickets) compat::signal_new_session_tickets(&s.conf);
#endif
  s.hostname = options.hostname;
}

RawClient::~RawClient() = default;

std::unique_ptr<RawConnection> RawClient::connect(std::uint16_t port, bool resume) {
  auto c = std::make_unique<RawConnection::Impl>();
  c->client = impl_.get();
  c->resume = resume;
  check(mbedtls_net_connect(&c->net, "127.0.0.1", std::to_string(port).c_str(), MBEDTLS_NET_PROTO_TCP), "connect");
  int one = 1;
  ::setsockopt(c->net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  check(mbedtls_ssl_setup(&c->ssl, &impl_->conf), "TLS context");
  check(mbedtls_ssl_set_hostname(&c->ssl, impl_->hostname.c_str()), "hostname");
  mbedtls_ssl_set_bio(&c->ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, nullptr);
  if (resume && impl_->have_saved) check(mbedtls_ssl_set_session(&c->ssl, &impl_->saved), "offering the session");
  for (;;) {
    int rc = mbedtls_ssl_handshake(&c->ssl);
    if (rc == 0) break;
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) check(rc, "handshake");
  }
  if (resume) impl_->save(c->ssl);
  return std::make_unique<RawConnection>(std::move(c));
}

RawConnection::RawConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RawConnection::~RawConnection() {
  try {
    close();
  } catch (...) {
  }
}

void RawConnection::write(std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t left = data.size();
  while (left > 0) {
    int rc = mbedtls_ssl_write(&impl_->ssl, p, left);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc < 0) check(rc, "write");
    p += rc;
    left -= static_cast<std::size_t>(rc);
  }
}

std::size_t RawConnection::read(char* data, std::size_t size) {
  for (;;) {
    int rc = mbedtls_ssl_read(&impl_->ssl, reinterpret_cast<unsigned char*>(data), size);
    if (rc > 0) return static_cast<std::size_t>(rc);
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) throw std::runtime_error("read: the connection ended");
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc == compat::received_new_session_ticket) {  // TLS 1.3: the session to resume arrives now
      if (impl_->resume) impl_->client->save(impl_->ssl);
      continue;
    }
    check(rc, "read");
  }
}

void RawConnection::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  int rc;
  do rc = mbedtls_ssl_close_notify(&impl_->ssl);
  while (rc == MBEDTLS_ERR_SSL_WANT_WRITE);
  mbedtls_net_free(&impl_->net);
}

}  // namespace tlsock::reference
