// Config::Impl, shared by config.cpp and tls.cpp.
#pragma once

#include "backend/backend.hpp"
#include "mbedtls/shared.hpp"

#include <mbedtls/dhm.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>

#include <memory>
#include <string>
#include <vector>

#include "tlsock/server.hpp"

namespace tlsock::backend {

struct Config::Impl {
  mbedtls_ssl_config conf{};
  // The session's extra roots, with the process-wide OS roots linked after them (not copied)
  // unless the session trusts its extra roots alone.
  mbedtls_x509_crt extra_roots{};
  mbedtls_x509_crt* linked_tail = nullptr;
  std::vector<int> suites;        // referenced by conf
  std::vector<std::string> alpn;  // referenced by conf through alpn_pointers
  std::vector<const char*> alpn_pointers;
  bool server = false;
  std::string key_log_file;  // NSS key log; empty: off
  // Server side.
  std::shared_ptr<const ServerCertificates> certificates;
  std::optional<CertificateChain> own_chain;  // client certificate, or the server's no-SNI chain
  mbedtls_ssl_cache_context cache{};
  mbedtls_ssl_ticket_context tickets{};
  mbedtls_dhm_context dhm{};

  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&extra_roots);
    mbedtls_ssl_cache_init(&cache);
    mbedtls_ssl_ticket_init(&tickets);
    mbedtls_dhm_init(&dhm);
  }
  ~Impl() {
    if (linked_tail != nullptr) linked_tail->next = nullptr;  // the OS roots are not ours to free
    mbedtls_ssl_config_free(&conf);
    mbedtls_dhm_free(&dhm);
    mbedtls_ssl_ticket_free(&tickets);
    mbedtls_ssl_cache_free(&cache);
    mbedtls_x509_crt_free(&extra_roots);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

// The server's SNI callback (tls.cpp): records the name on the connection and installs the
// chain that the ServerCertificates select for it.
int on_server_name(void* config, mbedtls_ssl_context* ssl, const unsigned char* name, std::size_t size);

// The server's session cache and ticket callbacks (tls.cpp): mbedTLS's own, with RFC 7627
// 5.3 in front (see Tls::client_lacks_extended_master_secret).
void guard_session_cache(mbedtls_ssl_config& conf, mbedtls_ssl_cache_context& cache);
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C)
int guarded_ticket_write(void* tickets, const mbedtls_ssl_session* session, unsigned char* start,
                         const unsigned char* end, std::size_t* size, std::uint32_t* lifetime);
int guarded_ticket_parse(void* tickets, mbedtls_ssl_session* session, unsigned char* buffer, std::size_t size);
#endif

// NSS key logging (keylog.cpp). Config-wide on mbedTLS 2.28, per connection on 3.x: both
// calls exist and each does nothing where the other applies.
void key_log_config(Config::Impl& config);
void key_log_connection(const Config::Impl& config, mbedtls_ssl_context& ssl);

}  // namespace tlsock::backend
