// The one place that knows which mbedTLS line is linked. Every MBEDTLS_VERSION_NUMBER
// test of the project lives here; the rest of lib/mbedtls tests the capability macros.
#pragma once

#include "internal.hpp"

#include <mbedtls/version.h>

#include <vector>

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#include <mbedtls/config.h>
#else
#include <mbedtls/build_info.h>
#endif

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TLSOCK_MBEDTLS_3 1
#include <psa/crypto.h>
#define TLSOCK_PRIVATE(member) MBEDTLS_PRIVATE(member)
#else
#define TLSOCK_MBEDTLS_3 0
#define TLSOCK_PRIVATE(member) member
#endif

#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLSOCK_HAS_TLS13 1
#else
#define TLSOCK_HAS_TLS13 0
#endif

#if !TLSOCK_MBEDTLS_3 && defined(MBEDTLS_SSL_PROTO_TLS1)
#define TLSOCK_HAS_TLS10 1
#else
#define TLSOCK_HAS_TLS10 0
#endif

#if !TLSOCK_MBEDTLS_3 && defined(MBEDTLS_SSL_PROTO_TLS1_1)
#define TLSOCK_HAS_TLS11 1
#else
#define TLSOCK_HAS_TLS11 0
#endif

#if defined(MBEDTLS_SSL_SESSION_TICKETS)
#define TLSOCK_HAS_SESSION_TICKETS 1
#else
#define TLSOCK_HAS_SESSION_TICKETS 0
#endif

namespace tlsock::backend::compat {

// Accessors for fields that mbedTLS 3 made private.
inline const mbedtls_x509_buf& raw(const mbedtls_x509_crt& crt) { return crt.raw; }
inline mbedtls_md_type_t sig_md(const mbedtls_x509_crt& crt) { return crt.TLSOCK_PRIVATE(sig_md); }
inline const mbedtls_x509_time& valid_from(const mbedtls_x509_crt& crt) { return crt.valid_from; }
inline const mbedtls_x509_time& valid_to(const mbedtls_x509_crt& crt) { return crt.valid_to; }
// A Name's attribute is followed by another of the same RDN (mbedtls_x509_dn_gets joins them with " + ").
inline void set_next_merged(mbedtls_x509_name& attribute, bool merged) {
  attribute.TLSOCK_PRIVATE(next_merged) = merged ? 1 : 0;
}

// The alert description of the fatal alert that ended the connection.
inline unsigned char received_alert(const mbedtls_ssl_context& ssl) { return ssl.TLSOCK_PRIVATE(in_msg)[1]; }

// The header of the record mbedTLS read last (type, version, length): what a record it
// refused as invalid looked like.
inline const unsigned char* record_header(const mbedtls_ssl_context& ssl) { return ssl.TLSOCK_PRIVATE(in_hdr); }

// True while mbedTLS writes an alert record (its send callback runs inside the write).
inline bool writing_alert(const mbedtls_ssl_context& ssl) {
  return ssl.TLSOCK_PRIVATE(out_msgtype) == MBEDTLS_SSL_MSG_ALERT;
}

// The type of the handshake message mbedTLS read last, -1 if the last record it read held none.
// After mbedtls_ssl_read refused a post-handshake message, it names the message.
inline int handshake_message_type(const mbedtls_ssl_context& ssl) {
  if (ssl.TLSOCK_PRIVATE(in_msgtype) != MBEDTLS_SSL_MSG_HANDSHAKE || ssl.TLSOCK_PRIVATE(in_msg) == nullptr ||
      ssl.TLSOCK_PRIVATE(in_msglen) == 0)
    return -1;
  return ssl.TLSOCK_PRIVATE(in_msg)[0];
}

// mbedTLS 2.28's server writes its records with version 0.0 until it has read a ClientHello,
// so the alert it sends a client that spoke another protocol would not even look like TLS.
// Such a record gets 3.1, what a server that has not chosen a version yet writes (3.6 does so
// itself). Only for an alert that ends the connection: nothing is written after it.
inline void record_version_for_final_alert([[maybe_unused]] mbedtls_ssl_context& ssl) {
#if !TLSOCK_MBEDTLS_3
  if (ssl.major_ver == 0) {
    ssl.major_ver = MBEDTLS_SSL_MAJOR_VERSION_3;
    ssl.minor_ver = MBEDTLS_SSL_MINOR_VERSION_1;
  }
#endif
}

// The handshake message type of a TLS 1.3 KeyUpdate (RFC 8446 4.6.3), which mbedTLS 3.6
// refuses as an unexpected message (it has no code to process one).
inline constexpr int key_update_message = 24;

// True for a TLS 1.3 connection whose handshake is over.
inline bool tls13_established([[maybe_unused]] mbedtls_ssl_context& ssl) {
#if TLSOCK_HAS_TLS13
  return mbedtls_ssl_is_handshake_over(&ssl) && mbedtls_ssl_get_version_number(&ssl) == MBEDTLS_SSL_VERSION_TLS1_3;
#else
  return false;
#endif
}

// The context given to mbedtls_ssl_set_bio: our per-connection state.
inline void* bio_context(const mbedtls_ssl_context& ssl) { return ssl.TLSOCK_PRIVATE(p_bio); }

inline int parse_key(mbedtls_pk_context* pk, const unsigned char* key, std::size_t size, const unsigned char* password,
                     std::size_t password_size, int (*f_rng)(void*, unsigned char*, std::size_t), void* p_rng) {
#if TLSOCK_MBEDTLS_3
  return mbedtls_pk_parse_key(pk, key, size, password, password_size, f_rng, p_rng);
#else
  (void)f_rng;
  (void)p_rng;
  return mbedtls_pk_parse_key(pk, key, size, password, password_size);
#endif
}

// 0 when prv is the private half of pub's public key (3.x wants an RNG for the check).
inline int check_pair(const mbedtls_pk_context* pub, const mbedtls_pk_context* prv,
                      int (*f_rng)(void*, unsigned char*, std::size_t), void* p_rng) {
#if TLSOCK_MBEDTLS_3
  return mbedtls_pk_check_pair(pub, prv, f_rng, p_rng);
#else
  (void)f_rng;
  (void)p_rng;
  return mbedtls_pk_check_pair(pub, prv);
#endif
}

inline int sha256(const unsigned char* data, std::size_t size, unsigned char out[32]) {
#if TLSOCK_MBEDTLS_3
  return mbedtls_sha256(data, size, out, 0);
#else
  return mbedtls_sha256_ret(data, size, out, 0);
#endif
}

// Protocol bounds as (major 3, minor 1..4): TLS 1.0 = 1 ... TLS 1.3 = 4.
inline void set_version_bounds(mbedtls_ssl_config* conf, int min_minor, int max_minor) {
#if TLSOCK_MBEDTLS_3
  mbedtls_ssl_conf_min_tls_version(conf, static_cast<mbedtls_ssl_protocol_version>(0x0300 | min_minor));
  mbedtls_ssl_conf_max_tls_version(conf, static_cast<mbedtls_ssl_protocol_version>(0x0300 | max_minor));
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, min_minor);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, max_minor);
#endif
}

// TLS 1.3 clients of mbedTLS 3.6.1+ drop NewSessionTicket messages unless asked to report
// them (as MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET from mbedtls_ssl_read).
inline void signal_new_session_tickets([[maybe_unused]] mbedtls_ssl_config* conf) {
#if TLSOCK_HAS_TLS13 && defined(MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED) && \
    defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
}

// The handshake error for a peer certificate that passed the chain checks but failed the
// later ones (key usage, extended key usage): renamed in mbedTLS 3.
#if defined(MBEDTLS_ERR_SSL_BAD_CERTIFICATE)
inline constexpr int bad_certificate = MBEDTLS_ERR_SSL_BAD_CERTIFICATE;
#else
inline constexpr int bad_certificate = MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE;
#endif

// A TLS 1.3 server sends no NewSessionTicket: mbedTLS 3.6 keeps no client certificate in a
// TLS 1.3 ticket, so a resumed connection would lose the client's identity.
inline void no_tls13_tickets([[maybe_unused]] mbedtls_ssl_config* conf) {
#if TLSOCK_HAS_TLS13 && defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C)
  mbedtls_ssl_conf_new_session_tickets(conf, 0);
#endif
}

// A client that offers TLS 1.2 and 1.3: RSA PKCS#1 v1.5 signatures before RSA-PSS. mbedTLS
// 3.6 offers rsa_pss_rsae_* (TLS 1.3 needs them) but refuses a TLS 1.2 ServerKeyExchange
// signed with them (Mbed-TLS/mbedtls#10668), and OpenSSL and GnuTLS pick the first scheme of
// the client's list that they can do. TLS 1.3 does not allow PKCS#1 v1.5 for handshake
// signatures, so TLS 1.3 servers still use PSS. Schemes this build lacks are not sent.
inline void rsa_pkcs1_before_pss([[maybe_unused]] mbedtls_ssl_config* conf) {
#if TLSOCK_HAS_TLS13
  static const uint16_t schemes[] = {
      MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256, MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
      MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512, MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
      MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,       MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
      MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
      MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,    MBEDTLS_TLS1_3_SIG_NONE};
  mbedtls_ssl_conf_sig_algs(conf, schemes);
#endif
}

// Key exchange groups, fastest strong ones first. mbedTLS 2.28's default is every curve it
// has, largest first: secp521r1 leads (a handshake costs several times an X25519 one, and
// peers that honour the client's order pick it) and 192- and 224-bit curves are offered.
// mbedTLS 3.6's default already starts X25519, secp256r1, secp384r1 and has no weak curve.
inline void prefer_fast_groups([[maybe_unused]] mbedtls_ssl_config* conf) {
#if !TLSOCK_MBEDTLS_3 && defined(MBEDTLS_ECP_C)
  static const std::vector<mbedtls_ecp_group_id> groups = [] {
    std::vector<mbedtls_ecp_group_id> list;
    for (mbedtls_ecp_group_id id :
         {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_CURVE448,
          MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_BP256R1, MBEDTLS_ECP_DP_BP384R1, MBEDTLS_ECP_DP_BP512R1})
      if (mbedtls_ecp_curve_info_from_grp_id(id) != nullptr) list.push_back(id);
    list.push_back(MBEDTLS_ECP_DP_NONE);
    return list;
  }();
  mbedtls_ssl_conf_curves(conf, groups.data());
#endif
}

#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
inline constexpr int received_new_session_ticket = MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET;
#else
inline constexpr int received_new_session_ticket = 1;  // never an error code
#endif

// Once per process, before any handshake (mbedTLS 3 with PSA).
inline void init_crypto() {
#if TLSOCK_MBEDTLS_3 && defined(MBEDTLS_PSA_CRYPTO_C)
  psa_crypto_init();
#endif
}

// The mbedTLS the process runs with ("Mbed TLS 3.6.6"): the loaded library's own answer where
// it has one (MBEDTLS_VERSION_C), so a shared library updated since tlsock was built shows its
// own version; else the version of the headers tlsock was compiled with.
inline const char* version_text() {
#if defined(MBEDTLS_VERSION_C)
  static const std::string text = [] {
    char buffer[64] = {};  // mbedtls_version_get_string_full writes at most 18 bytes
    mbedtls_version_get_string_full(buffer);
    return std::string(buffer);
  }();
  return text.c_str();
#else
  return MBEDTLS_VERSION_STRING_FULL;
#endif
}

// The running library's version number (0x03060600): saved sessions are bound to it, since
// mbedtls_ssl_session_load refuses data from another version or configuration.
inline std::uint32_t version_number() {
#if defined(MBEDTLS_VERSION_C)
  return mbedtls_version_get_number();
#else
  return MBEDTLS_VERSION_NUMBER;
#endif
}

// mbedtls_ssl_session_load (3.6) copies a TLS 1.3 client session's host name as the bytes
// give it, and later code runs strlen and strcmp on it (mbedtls_ssl_session_save, the name
// check before a ticket is offered): a name without its terminating NUL is read past its end
// (found by fuzz-sessions). False when the serialized session (mbedTLS 3.6's layout: version
// header, TLS version, endpoint, suite, then for TLS 1.3 ticket_age_add, flags, the
// resumption key, the optional early-data and record-size fields, and a client's host name
// as a 16-bit length and bytes) has a host name whose last byte is not NUL. Anything it
// cannot follow is left to mbedtls_ssl_session_load, which refuses short data itself.
inline bool serialized_hostname_terminated([[maybe_unused]] std::string_view data) {
#if TLSOCK_HAS_TLS13 && defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) && defined(MBEDTLS_SSL_CLI_C)
  constexpr std::size_t header = 5;  // major, minor, patch, two bytes of configuration flags
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(data[at]); };
  if (data.size() < header + 4) return true;
  if (byte(header) != (MBEDTLS_SSL_VERSION_TLS1_3 & 0xff) || byte(header + 1) != MBEDTLS_SSL_IS_CLIENT) return true;
  std::size_t at = header + 4;
  if (data.size() < at + 6) return true;
  at += 6 + byte(at + 5);  // ticket_age_add (4), ticket_flags (1), resumption_key_len (1), the key
#if defined(MBEDTLS_SSL_EARLY_DATA)
  at += 4;  // max_early_data_size
#endif
#if defined(MBEDTLS_SSL_RECORD_SIZE_LIMIT)
  at += 2;  // record_size_limit
#endif
  if (data.size() < at + 2) return true;
  std::size_t length = (std::size_t{byte(at)} << 8) | byte(at + 1);
  if (length == 0 || data.size() < at + 2 + length) return true;
  return byte(at + 2 + length - 1) == 0;
#else
  return true;
#endif
}

// The lifetime in seconds the server gave a session's ticket (RFC 5077 hint, RFC 8446
// ticket_lifetime); 0 when it gave none or the session was not resumed by ticket.
inline std::uint32_t ticket_lifetime([[maybe_unused]] const mbedtls_ssl_session& session) {
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
  return session.TLSOCK_PRIVATE(ticket) != nullptr ? session.TLSOCK_PRIVATE(ticket_lifetime) : 0;
#else
  return 0;
#endif
}

// Whether a session is a TLS 1.3 one (2.28 has none).
inline bool session_is_tls13([[maybe_unused]] const mbedtls_ssl_session& session) {
#if TLSOCK_HAS_TLS13
  return session.TLSOCK_PRIVATE(tls_version) == MBEDTLS_SSL_VERSION_TLS1_3;
#else
  return false;
#endif
}

// The server's session-cache callbacks for mbedtls_ssl_conf_session_cache, mbedtls_ssl_cache_get
// and _set behind two questions: may this session be resumed now, may it be stored. 2.28
// reads the session ID from the session; 3.x passes it apart.
template <bool (*may_resume)(const mbedtls_ssl_session&), bool (*may_store)(const mbedtls_ssl_session&)>
struct GuardedCache {
#if TLSOCK_MBEDTLS_3
  static int get(void* cache, const unsigned char* id, std::size_t size, mbedtls_ssl_session* session) {
    int rc = mbedtls_ssl_cache_get(cache, id, size, session);
    return rc == 0 && !may_resume(*session) ? MBEDTLS_ERR_SSL_CACHE_ENTRY_NOT_FOUND : rc;
  }
  static int set(void* cache, const unsigned char* id, std::size_t size, const mbedtls_ssl_session* session) {
    return may_store(*session) ? mbedtls_ssl_cache_set(cache, id, size, session) : 0;
  }
#else
  static int get(void* cache, mbedtls_ssl_session* session) {
    int rc = mbedtls_ssl_cache_get(cache, session);
    return rc == 0 && !may_resume(*session) ? 1 : rc;
  }
  static int set(void* cache, const mbedtls_ssl_session* session) {
    return may_store(*session) ? mbedtls_ssl_cache_set(cache, session) : 0;
  }
#endif
};

// mbedTLS's id of an IANA cipher-suite name, 0 when the linked build does not know it.
// mbedTLS spells names with dashes, and 3.x its TLS 1.3 suites as "TLS1-3-...".
inline int suite_id(std::string_view iana) {
  std::string name(iana);
  std::replace(name.begin(), name.end(), '_', '-');
  int id = mbedtls_ssl_get_ciphersuite_id(name.c_str());
  if (id == 0 && name.rfind("TLS-", 0) == 0) id = mbedtls_ssl_get_ciphersuite_id(("TLS1-3-" + name.substr(4)).c_str());
  return id;
}

// Signs hash with key (3.x also wants the signature buffer's size).
inline int pk_sign(mbedtls_pk_context* key, mbedtls_md_type_t md, const unsigned char* hash, std::size_t hash_size,
                   unsigned char* signature, std::size_t signature_size, std::size_t* signature_length,
                   int (*f_rng)(void*, unsigned char*, std::size_t), void* p_rng) {
#if TLSOCK_MBEDTLS_3
  return mbedtls_pk_sign(key, md, hash, hash_size, signature, signature_size, signature_length, f_rng, p_rng);
#else
  (void)signature_size;
  return mbedtls_pk_sign(key, md, hash, hash_size, signature, signature_length, f_rng, p_rng);
#endif
}

// Sets a certificate's serial number from its big-endian bytes (3.x: raw bytes; 2.28: an MPI).
inline int set_serial(mbedtls_x509write_cert* cert, unsigned char* serial, std::size_t size) {
#if TLSOCK_MBEDTLS_3
  return mbedtls_x509write_crt_set_serial_raw(cert, serial, size);
#else
  mbedtls_mpi number;
  mbedtls_mpi_init(&number);
  int ret = mbedtls_mpi_read_binary(&number, serial, size);
  if (ret == 0) ret = mbedtls_x509write_crt_set_serial(cert, &number);
  mbedtls_mpi_free(&number);
  return ret;
#endif
}

}  // namespace tlsock::backend::compat
