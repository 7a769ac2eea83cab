// Tls: one mbedTLS connection over memory buffers. The engine moves bytes between these
// buffers and the wire; nothing here does I/O.
#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#include "mbedtls/config_impl.hpp"

#include <mbedtls/net_sockets.h>

namespace tlsock::backend {
namespace {

constexpr std::size_t record_header = 5;
// The longest record body a peer may send (RFC 8446 5.2: 2^14 + 256).
constexpr std::size_t max_record_length = 16384 + 256;
// What a read given a source receives into our buffer when mbedTLS asks for a record header:
// as much as the engine's receive_space() offers.
constexpr std::size_t source_chunk = 17 * 1024;

unsigned problems_from(uint32_t flags) {
  unsigned out = 0;
  if (flags & MBEDTLS_X509_BADCERT_EXPIRED) out |= expired;
  if (flags & MBEDTLS_X509_BADCERT_FUTURE) out |= not_yet_valid;
  if (flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_MISSING)) out |= not_trusted;
  if (flags & MBEDTLS_X509_BADCERT_BAD_MD) out |= weak_signature;
  if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
    out |= bad_key_usage;
  if (flags & (MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_PK)) out |= weak_key;
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) out |= revoked;
  uint32_t known = MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_NOT_TRUSTED |
                   MBEDTLS_X509_BADCERT_MISSING | MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_KEY_USAGE |
                   MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE |
                   MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_REVOKED |
                   MBEDTLS_X509_BADCERT_CN_MISMATCH;
  if (flags & ~known) out |= other_problem;
  return out;
}

Failure classify(int code) {
  switch (code) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
      return Failure::verification;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
      return Failure::alert;
#if defined(MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION)
    case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
      return Failure::protocol_version;
#endif
#if defined(MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION)
    case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
      return Failure::protocol_version;
#endif
#if defined(MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE)
    case MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE:
      return Failure::bad_key_exchange;
#endif
#if defined(MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
      return Failure::no_client_certificate;
#endif
    case MBEDTLS_ERR_SSL_INVALID_MAC:
#if defined(MBEDTLS_ERR_SSL_DECODE_ERROR)
    case MBEDTLS_ERR_SSL_DECODE_ERROR:
#endif
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
    case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE:
      return Failure::bad_record;
    default:
      return Failure::other;
  }
}

}  // namespace

std::string TlsError::text() const { return error_text(code); }

struct Tls::Impl {
  std::shared_ptr<const Config> config;
  mbedtls_ssl_context ssl{};
  std::unique_ptr<char[]> in;
  std::size_t in_capacity = 0, in_begin = 0, in_end = 0;
  bool in_eof = false;
  Source* source = nullptr;         // during a read() given one: where input goes on
  std::exception_ptr source_error;  // what it threw, for read() to rethrow
  std::string out;
  std::size_t out_begin = 0;
  TlsError error;
  bool alert_in_call = false;  // the current call into mbedTLS wrote an alert record
  bool fatal_alert = false;    // a fatal alert went out (see Tls::fatal_alert_sent)
  std::vector<CertificateVerdict> verdicts;
  std::optional<Certificate> leaf;  // parsed once during verification, reused by peer_chain()
  std::function<bool(const Certificate&)> check_hostname;
  std::string server_name;          // server: what the client asked for with SNI
  bool client_lacks_ems = false;    // server: see Tls::client_lacks_extended_master_secret
  bool resumption_refused = false;  // server: see Tls::resumption_refused

  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }

  static int send(void* context, const unsigned char* data, std::size_t size) {
    auto* self = static_cast<Impl*>(context);
    if (self->out_begin == self->out.size()) {
      self->out.clear();
      self->out_begin = 0;
    }
    self->out.append(reinterpret_cast<const char*>(data), size);
    if (compat::writing_alert(self->ssl)) self->alert_in_call = true;
    return static_cast<int>(size);
  }

  static int receive(void* context, unsigned char* data, std::size_t size) {
    auto* self = static_cast<Impl*>(context);
    if (self->in_begin == self->in_end && !self->in_eof && self->source != nullptr) {
      int n = pull(self, data, size);
      if (size > record_header || n <= 0) return n;  // else the bytes wait in our buffer
    }
    std::size_t available = self->in_end - self->in_begin;
    if (available == 0) return self->in_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    std::size_t n = std::min(size, available);
    std::memcpy(data, self->in.get() + self->in_begin, n);
    self->in_begin += n;
    if (self->in_begin == self->in_end) self->release_input();
    return static_cast<int>(n);
  }

  // Receives from the source, as the receive callback answers. A record's body goes straight
  // into mbedTLS's buffer (data). Its header (mbedTLS asks for the 5 bytes alone) goes into
  // ours with all the source has: one receive for a run of short records, as without a source.
  // A C callback: what the source throws waits in source_error, and mbedTLS sees a failed
  // receive.
  static int pull(Impl* self, unsigned char* data, std::size_t size) {
    try {
      const bool direct = size > record_header;
      std::span<char> space =
          direct ? std::span<char>(reinterpret_cast<char*>(data), size) : self->input_space(source_chunk);
      std::optional<std::size_t> n =
          self->source->receive(space.first(std::min<std::size_t>(space.size(), std::numeric_limits<int>::max())));
      if (!n) return MBEDTLS_ERR_SSL_WANT_READ;
      if (*n == 0) self->in_eof = true;
      if (!direct) self->in_end += *n;
      return static_cast<int>(*n);
    } catch (...) {
      self->source_error = std::current_exception();
      return MBEDTLS_ERR_NET_RECV_FAILED;
    }
  }

  // Room for at least at_least more wire bytes after those buffered (see Tls::input_space).
  std::span<char> input_space(std::size_t at_least) {
    if (in_capacity - in_end < at_least) {
      std::size_t used = in_end - in_begin;
      if (in_capacity - used >= at_least) {
        std::memmove(in.get(), in.get() + in_begin, used);
      } else {
        std::size_t capacity = std::max(used + at_least, in_capacity * 2);
        auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
        if (used > 0) std::memcpy(bigger.get(), in.get() + in_begin, used);
        in = std::move(bigger);
        in_capacity = capacity;
      }
      in_begin = 0;
      in_end = used;
    }
    return {in.get() + in_end, in_capacity - in_end};
  }

  // Drained input gives its memory back: an idle connection holds no wire buffer of ours
  // (mbedTLS keeps its own record buffers), and the next receive takes a fresh one.
  void release_input() noexcept {
    in.reset();
    in_capacity = in_begin = in_end = 0;
  }

  static int verify(void* context, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    // A C callback: nothing may escape it. A certificate we cannot hold (mbedTLS passes an
    // empty one when it could parse none of the chain) fails the handshake.
    try {
      return verify_certificate(static_cast<Impl*>(context), crt, depth, flags);
    } catch (...) {
      return MBEDTLS_ERR_X509_FATAL_ERROR;
    }
  }

  static int verify_certificate(Impl* self, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    if (crt == nullptr || crt->raw.p == nullptr || crt->raw.len == 0) return MBEDTLS_ERR_X509_FATAL_ERROR;
    // Hostnames are matched by our own rules (IP SANs, RFC 6125 wildcards), not mbedTLS's.
    *flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
    unsigned problems = problems_from(*flags);
    if (depth == 0) {
      self->leaf = certificate_from(*crt);
      if (self->check_hostname && !self->check_hostname(*self->leaf)) {
        problems |= hostname_mismatch;
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
      }
    }
    if (problems != 0) self->verdicts.push_back({depth, depth == 0 ? *self->leaf : certificate_from(*crt), problems});
    return 0;
  }

  // For calls that process the peer's records (handshake, read). mbedTLS answers a record
  // header announcing more than its input buffer holds with BAD_INPUT_DATA ("requesting more
  // data than fits", in mbedtls_ssl_fetch_input) and no alert, as if we had passed a bad
  // argument; we never do, so it is the peer's invalid record: say so, and tell the peer.
  Status status_of_wire(int rc) {
    if (rc == MBEDTLS_ERR_SSL_BAD_INPUT_DATA) {
      (void)mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW);
      rc = MBEDTLS_ERR_SSL_INVALID_RECORD;
    }
    return status_of(rc);
  }

  Status status_of(int rc) {
    if (rc >= 0) return Status::ok;
    switch (rc) {
      case MBEDTLS_ERR_SSL_WANT_READ:
      case MBEDTLS_ERR_SSL_WANT_WRITE:
        return Status::want_read;
      case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return Status::closed;
      case compat::received_new_session_ticket:
        return Status::new_ticket;
      case MBEDTLS_ERR_SSL_CONN_EOF:
        return Status::eof;
      default:
        break;
    }
    error.code = rc;
    error.failure = classify(rc);
    error.handshake_message = compat::handshake_message_type(ssl);
    // A call that failed and wrote an alert wrote the fatal one that ends the connection.
    if (alert_in_call) fatal_alert = true;
    // mbedTLS 3.6 refuses every post-handshake message but NewSessionTicket as unexpected; a
    // KeyUpdate is the peer's right, and deserves its own name.
    if (rc == MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE && compat::tls13_established(ssl) &&
        compat::handshake_message_type(ssl) == compat::key_update_message)
      error.failure = Failure::key_update;
    // mbedTLS checks key usage after the chain, outside the verify callback: report it as
    // the verification failure it is.
    constexpr uint32_t usage =
        MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE | MBEDTLS_X509_BADCERT_NS_CERT_TYPE;
    if (rc == compat::bad_certificate && (mbedtls_ssl_get_verify_result(&ssl) & usage) != 0 && leaf) {
      error.failure = Failure::verification;
      verdicts.push_back({0, *leaf, bad_key_usage});
    }
    if (error.failure == Failure::alert) error.alert = compat::received_alert(ssl);
    return Status::failed;
  }
};

namespace {

// The server connection whose handshake runs on this thread: mbedTLS's session-cache and
// ticket callbacks get only the config's context, and they need the connection's ClientHello.
thread_local Tls::Impl* handshaking = nullptr;

// RFC 7627 5.3, server side. Every TLS 1.2 session stored has an extended master secret
// (may_store), so a ClientHello without one that names a stored session is refused
// (may_resume notes it; the engine aborts). TLS 1.3 has no such secret: its sessions pass.
bool lacks_ems(const mbedtls_ssl_session& session) {
  return handshaking != nullptr && handshaking->client_lacks_ems && !compat::session_is_tls13(session);
}
bool may_resume(const mbedtls_ssl_session& session) {
  if (!lacks_ems(session)) return true;
  handshaking->resumption_refused = true;
  return false;
}
bool may_store(const mbedtls_ssl_session& session) { return !lacks_ems(session); }

}  // namespace

void guard_session_cache(mbedtls_ssl_config& conf, mbedtls_ssl_cache_context& cache) {
  using Cache = compat::GuardedCache<may_resume, may_store>;
  mbedtls_ssl_conf_session_cache(&conf, &cache, Cache::get, Cache::set);
}

#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C)
int guarded_ticket_write(void* tickets, const mbedtls_ssl_session* session, unsigned char* start,
                         const unsigned char* end, std::size_t* size, std::uint32_t* lifetime) {
  // An error makes mbedTLS send an empty ticket: the client learns it has none.
  if (!may_store(*session)) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  return mbedtls_ssl_ticket_write(tickets, session, start, end, size, lifetime);
}

int guarded_ticket_parse(void* tickets, mbedtls_ssl_session* session, unsigned char* buffer, std::size_t size) {
  int rc = mbedtls_ssl_ticket_parse(tickets, session, buffer, size);
  // INVALID_MAC: mbedTLS drops the ticket and goes on with a full handshake.
  return rc == 0 && !may_resume(*session) ? MBEDTLS_ERR_SSL_INVALID_MAC : rc;
}
#endif

int on_server_name(void* config, mbedtls_ssl_context* ssl, const unsigned char* name, std::size_t size) {
  // A C callback: nothing may escape it.
  try {
    const auto& impl = *static_cast<const Config::Impl*>(config);
    std::string_view requested(reinterpret_cast<const char*>(name), size);
    if (auto* connection = static_cast<Tls::Impl*>(compat::bio_context(*ssl)); connection != nullptr)
      connection->server_name = std::string(requested);
    const CertificateChain* chain = impl.certificates->select(requested);
    if (chain == nullptr) return -1;  // mbedTLS answers with an unrecognized_name alert
    return mbedtls_ssl_set_hs_own_cert(ssl, const_cast<mbedtls_x509_crt*>(&detail::Access::impl(*chain).crt),
                                       const_cast<mbedtls_pk_context*>(&detail::Access::impl(chain->key()).pk));
  } catch (...) {
    return -1;
  }
}

Tls::Tls(std::shared_ptr<const Config> config, const std::string& hostname,
         std::function<bool(const Certificate&)> check_hostname)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->check_hostname = std::move(check_hostname);
  check(mbedtls_ssl_setup(&impl_->ssl, &impl_->config->impl().conf), "TLS context");
  mbedtls_ssl_set_bio(&impl_->ssl, impl_.get(), Impl::send, Impl::receive, nullptr);
  mbedtls_ssl_set_verify(&impl_->ssl, Impl::verify, impl_.get());
  // A client always sets a name: an empty one (IP literals) means "no SNI, we check the
  // certificate's name ourselves", which mbedTLS 3.6 wants said explicitly.
  if (!impl_->config->impl().server)
    check(mbedtls_ssl_set_hostname(&impl_->ssl, hostname.empty() ? nullptr : hostname.c_str()), "hostname");
  key_log_connection(impl_->config->impl(), impl_->ssl);
}

Tls::~Tls() = default;

bool Tls::load_session(const SavedSession& saved) {
  // mbedtls_ssl_set_session copies the session and only reads the saved one, so one saved
  // session can be offered by several connections at once.
  return mbedtls_ssl_set_session(&impl_->ssl, &saved.impl().session) == 0;
}

std::shared_ptr<const SavedSession> Tls::save_session() const {
  auto saved = std::make_unique<SavedSession::Impl>();
  if (mbedtls_ssl_get_session(&impl_->ssl, &saved->session) != 0) return nullptr;
  return std::make_shared<const SavedSession>(std::move(saved));
}

std::span<char> Tls::input_space(std::size_t at_least) { return impl_->input_space(at_least); }

void Tls::commit_input(std::size_t size) { impl_->in_end += size; }
void Tls::input_eof() noexcept { impl_->in_eof = true; }
std::size_t Tls::input_buffered() const noexcept { return impl_->in_end - impl_->in_begin; }

bool Tls::readable_without_wire() const noexcept {
  const Impl& s = *impl_;
  if (mbedtls_ssl_get_bytes_avail(&s.ssl) > 0 || mbedtls_ssl_check_pending(&s.ssl)) return true;
  std::size_t available = s.in_end - s.in_begin;
  if (available < record_header) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.in.get() + s.in_begin);
  return available >= record_header + ((std::size_t{p[3]} << 8) | p[4]);
}

std::string_view Tls::output() const noexcept { return std::string_view(impl_->out).substr(impl_->out_begin); }

void Tls::consume_output(std::size_t size) noexcept {
  impl_->out_begin += size;
  if (impl_->out_begin >= impl_->out.size()) {
    impl_->out.clear();
    impl_->out_begin = 0;
  }
}

Status Tls::handshake() {
  impl_->alert_in_call = false;
  impl_->resumption_refused = false;
  struct Handshaking {
    explicit Handshaking(Impl* impl) { handshaking = impl; }
    ~Handshaking() { handshaking = nullptr; }
    Handshaking(const Handshaking&) = delete;
    Handshaking& operator=(const Handshaking&) = delete;
  } scope(impl_.get());
  return impl_->status_of_wire(mbedtls_ssl_handshake(&impl_->ssl));
}

void Tls::client_lacks_extended_master_secret() noexcept { impl_->client_lacks_ems = true; }
bool Tls::resumption_refused() const noexcept { return impl_->resumption_refused; }

void Tls::truncate_output(std::size_t keep) noexcept {
  if (impl_->out.size() - impl_->out_begin > keep) impl_->out.resize(impl_->out_begin + keep);
}

Status Tls::read(char* data, std::size_t size, std::size_t& got, Source* source) {
  got = 0;
  impl_->alert_in_call = false;
  impl_->source = source;
  int rc = mbedtls_ssl_read(&impl_->ssl, reinterpret_cast<unsigned char*>(data), size);
  impl_->source = nullptr;
  if (impl_->source_error) std::rethrow_exception(std::exchange(impl_->source_error, nullptr));
  if (rc == 0) return Status::eof;  // the transport ended without close_notify
  Status status = impl_->status_of_wire(rc);
  if (status == Status::ok) got = static_cast<std::size_t>(rc);
  return status;
}

Status Tls::write(const char* data, std::size_t size, std::size_t& written) {
  written = 0;
  impl_->alert_in_call = false;
  int rc = mbedtls_ssl_write(&impl_->ssl, reinterpret_cast<const unsigned char*>(data), size);
  Status status = impl_->status_of(rc);
  if (status == Status::ok) written = static_cast<std::size_t>(rc);
  return status;
}

Status Tls::close_notify() {
  impl_->alert_in_call = false;
  return impl_->status_of(mbedtls_ssl_close_notify(&impl_->ssl));
}

const TlsError& Tls::error() const noexcept { return impl_->error; }
const std::vector<CertificateVerdict>& Tls::verdicts() const noexcept { return impl_->verdicts; }
const std::optional<Certificate>& Tls::leaf() const noexcept { return impl_->leaf; }

Protocol Tls::protocol() const {
  std::string_view v = mbedtls_ssl_get_version(&impl_->ssl);
  if (v == "TLSv1.3") return Protocol::TLSv1_3;
  if (v == "TLSv1.1") return Protocol::TLSv1_1;
  if (v == "TLSv1.0" || v == "TLSv1") return Protocol::TLSv1;
  return Protocol::TLSv1_2;
}

std::string Tls::cipher_suite() const { return iana_suite_name(mbedtls_ssl_get_ciphersuite(&impl_->ssl)); }

std::vector<Certificate> Tls::peer_chain() const {
  std::vector<Certificate> chain;
  for (const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&impl_->ssl); crt != nullptr && crt->raw.p != nullptr;
       crt = crt->next) {
    if (chain.empty() && impl_->leaf && impl_->leaf->der().size() == crt->raw.len &&
        std::memcmp(impl_->leaf->der().data(), crt->raw.p, crt->raw.len) == 0)
      chain.push_back(*impl_->leaf);
    else
      chain.push_back(certificate_from(*crt));
  }
  return chain;
}

const std::string& Tls::server_name() const noexcept { return impl_->server_name; }

void Tls::send_alert(AlertLevel level, Alert description) {
  if (level == AlertLevel::fatal) {
    impl_->fatal_alert = true;
    compat::record_version_for_final_alert(impl_->ssl);
  }
  // Both enums hold the wire values, which are mbedTLS's MBEDTLS_SSL_ALERT_* too.
  (void)mbedtls_ssl_send_alert_message(&impl_->ssl, static_cast<unsigned char>(level),
                                       static_cast<unsigned char>(description));
}

bool Tls::fatal_alert_sent() const noexcept { return impl_->fatal_alert; }

std::uint8_t Tls::bad_data_alert() const noexcept {
  const Impl& s = *impl_;
  switch (s.error.code) {
    case MBEDTLS_ERR_SSL_INVALID_RECORD: {
      // Refused by its header (RFC 8446 5, 5.1, 5.2), or by a body mbedTLS could not parse.
      const unsigned char* header = compat::record_header(s.ssl);
      if (header == nullptr) return MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
      if (header[0] < MBEDTLS_SSL_MSG_CHANGE_CIPHER_SPEC || header[0] > MBEDTLS_SSL_MSG_APPLICATION_DATA)
        return MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE;
      if (header[1] != 3 || header[2] > 3) return MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION;
      if (((std::size_t{header[3]} << 8) | header[4]) > max_record_length) return MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW;
      return MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
    }
    case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE:
      return MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE;
    case MBEDTLS_ERR_SSL_INVALID_MAC:
      return MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC;
    default:
      return MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR;
  }
}

bool Tls::verify_client_optionally() {
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION) && defined(MBEDTLS_SSL_SRV_C)
  mbedtls_ssl_set_hs_authmode(&impl_->ssl, MBEDTLS_SSL_VERIFY_OPTIONAL);
  return true;
#else
  return false;
#endif
}

std::string Tls::alpn() const {
  const char* p = mbedtls_ssl_get_alpn_protocol(&impl_->ssl);
  return p == nullptr ? std::string() : std::string(p);
}

}  // namespace tlsock::backend
