// NSS key log lines ("CLIENT_RANDOM <client random> <master secret>"), so that captures of
// tlsock's connections can be decrypted in Wireshark. Off unless a file is configured
// (SSLKEYLOGFILE or the options).
#include <cstdio>
#include <mutex>
#include <string>

#include "mbedtls/config_impl.hpp"

namespace tlsock::backend {
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

// Appends one line; lines from concurrent connections never interleave.
void append_line(const std::string& path, const std::string& line) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (std::FILE* f = std::fopen(path.c_str(), "a"); f != nullptr) {
    std::fputs(line.c_str(), f);
    std::fclose(f);
  }
}

#if !TLSOCK_MBEDTLS_3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
int export_keys(void* context, const unsigned char* master_secret, const unsigned char*, std::size_t, std::size_t,
                std::size_t, const unsigned char client_random[32], const unsigned char[32], mbedtls_tls_prf_types) {
  const auto& config = *static_cast<const Config::Impl*>(context);
  append_line(config.key_log_file, "CLIENT_RANDOM " + hex(client_random, 32) + " " + hex(master_secret, 48) + "\n");
  return 0;
}
#endif

#if TLSOCK_MBEDTLS_3
void export_keys(void* context, mbedtls_ssl_key_export_type type, const unsigned char* secret, std::size_t size,
                 const unsigned char client_random[32], const unsigned char[32], mbedtls_tls_prf_types) {
  const auto& config = *static_cast<const Config::Impl*>(context);
  const char* label = nullptr;
  switch (type) {
    case MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET:
      label = "CLIENT_RANDOM";
      break;
#if TLSOCK_HAS_TLS13
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_EARLY_SECRET:
      label = "CLIENT_EARLY_TRAFFIC_SECRET";
      break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_HANDSHAKE_TRAFFIC_SECRET:
      label = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
      break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_HANDSHAKE_TRAFFIC_SECRET:
      label = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
      break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_APPLICATION_TRAFFIC_SECRET:
      label = "CLIENT_TRAFFIC_SECRET_0";
      break;
    case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_APPLICATION_TRAFFIC_SECRET:
      label = "SERVER_TRAFFIC_SECRET_0";
      break;
#endif
    default:
      return;
  }
  append_line(config.key_log_file, std::string(label) + " " + hex(client_random, 32) + " " + hex(secret, size) + "\n");
}
#endif

}  // namespace

void key_log_config([[maybe_unused]] Config::Impl& config) {
#if !TLSOCK_MBEDTLS_3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
  mbedtls_ssl_conf_export_keys_ext_cb(&config.conf, export_keys, &config);
#endif
}

void key_log_connection([[maybe_unused]] const Config::Impl& config, [[maybe_unused]] mbedtls_ssl_context& ssl) {
#if TLSOCK_MBEDTLS_3
  if (!config.key_log_file.empty())
    mbedtls_ssl_set_export_keys_cb(&ssl, export_keys, const_cast<Config::Impl*>(&config));
#endif
}

}  // namespace tlsock::backend
