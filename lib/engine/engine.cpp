// The sans-IO engine (see engine.hpp).
#include "engine/engine.hpp"

#include <algorithm>
#include <cstring>

#include "engine/hostname.hpp"
#include "engine/messages.hpp"
#include "engine/session_impl.hpp"
#include "net/net.hpp"

namespace tlsock::engine {
namespace {

// Wire bytes buffered ahead of mbedTLS: enough for a few full records, never more.
constexpr std::size_t max_input_buffered = 64 * 1024;
constexpr std::size_t receive_chunk = 17 * 1024;
// The largest plaintext fragment of one record.
constexpr std::size_t max_fragment = 16 * 1024;

// A protocol's version on the wire (ProtocolVersion).
std::uint16_t wire_version(Protocol protocol) {
  return static_cast<std::uint16_t>(wire::tls1_0 + static_cast<int>(protocol) - static_cast<int>(Protocol::TLSv1));
}

std::string describe(const backend::TlsError& error) {
  if (error.failure == backend::Failure::alert) {
    auto alert = static_cast<Alert>(error.alert);
    return "received fatal alert " + std::string(to_string(alert)) + " (" + std::to_string(error.alert) + ")";
  }
  return error.text();
}

// The alert for a peer whose first bytes are not TLS records (RFC 8446 5: an unknown record
// type is an unexpected_message; a record version that is not 3.x, a protocol_version error).
Alert alert_for_first_bytes(std::string_view bytes) {
  const unsigned type = bytes.empty() ? 0U : static_cast<unsigned char>(bytes[0]);
  if (type < wire::change_cipher_spec || type > wire::application_data) return Alert::unexpected_message;
  return Alert::protocol_version;
}

// A client's "client authentication required" error: the class make_error would pick, and a
// ClientAuthRequest with what the server's CertificateRequest named.
template <typename Base>
class ClientAuthError final : public Base, public ClientAuthRequest {
 public:
  ClientAuthError(Base base, std::optional<std::vector<std::string>> names)
      : Base(std::move(base)), ClientAuthRequest(std::move(names)) {}
};

template <typename Base>
std::exception_ptr client_auth_error(Base base, std::optional<std::vector<std::string>> names) {
  return std::make_exception_ptr(ClientAuthError<Base>(std::move(base), std::move(names)));
}

}  // namespace

std::shared_ptr<const backend::Config> Engine::config_of(const std::shared_ptr<TLSSession>& session) {
  return detail::Access::impl(*session).config;
}

Engine::Engine(std::shared_ptr<TLSSession> session, std::string hostname, std::uint16_t port)
    : role_(Role::client),
      session_(std::move(session)),
      hostname_(std::move(hostname)),
      cache_key_(hostname_ + ":" + std::to_string(port)),
      tls_(config_of(session_), net::is_ip_literal(hostname_) ? std::string() : hostname_,
           [this](const Certificate& leaf) { return certificate_matches(leaf, hostname_); }),
      verify_callback_(session_->options().verify_callback) {
  if (session_->options().session_cache) {
    offered_ = detail::Access::impl(*session_).cache.take(cache_key_);
    if (offered_ && !tls_.load_session(*offered_->saved)) offered_.reset();
  }
}

Engine::Engine(std::shared_ptr<const ServerContext> server)
    : role_(Role::server), server_(std::move(server)), tls_(server_->config, std::string(), {}) {}

std::span<char> Engine::receive_space() {
  std::size_t buffered = tls_.input_buffered();
  if (buffered >= max_input_buffered) return {};
  std::span<char> space = tls_.input_space(receive_chunk);
  space = space.first(std::min(space.size(), max_input_buffered - buffered));
  receive_at_ = space.data();
  return space;
}

void Engine::received(std::size_t size) {
  if (!complete_ && size > 0) {
    std::string_view bytes(receive_at_, size);
    if (role_ == Role::client)
      transcript_.server_bytes(bytes, backend::suite_uses_dhe);
    else
      transcript_.client_bytes(bytes);
  }
  if (role_ == Role::server && holding_ && !complete_) {
    hold_handshake(std::string_view(receive_at_, size));
    return;
  }
  given_total_ += size;
  tls_.commit_input(size);
}

void Engine::receive(std::string_view bytes) {
  // Unlike receive_space(), this takes everything: the caller already holds the bytes.
  while (!bytes.empty()) {
    std::span<char> space = tls_.input_space(bytes.size());
    receive_at_ = space.data();
    std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    received(n);
    bytes.remove_prefix(n);
  }
}

void Engine::receive_eof() {
  eof_ = true;
  tls_.input_eof();
}

void Engine::finish_eof() {
  receive_eof();
  rethrow_if_failed();
  if (peer_closed_) return;
  if (!complete_) (void)handshake();  // reports what the peer did before leaving
  fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
}

void Engine::sent(std::size_t size) noexcept {
  outgoing_sniffed_ -= std::min(size, outgoing_sniffed_);
  tls_.consume_output(size);
}

void Engine::sniff_outgoing() {
  std::string_view out = tls_.output();
  if (out.size() > outgoing_sniffed_) {
    std::string_view fresh = out.substr(outgoing_sniffed_);
    if (role_ == Role::client)
      transcript_.client_bytes(fresh);
    else
      transcript_.server_bytes(fresh, backend::suite_uses_dhe);
  }
  outgoing_sniffed_ = out.size();
}

void Engine::rethrow_if_failed() const {
  if (error_) std::rethrow_exception(error_);
}

void Engine::fail(std::exception_ptr error) {
  error_ = std::move(error);
  std::rethrow_exception(error_);
}

bool Engine::handshake() {
  rethrow_if_failed();
  if (complete_) return true;
  std::size_t queued = tls_.output().size();
  if (role_ == Role::server) {
    refuse_forbidden_input();
    refuse_inappropriate_fallback();
    refuse_unsupported_versions();
    if (transcript_.facts().client_hello && !transcript_.facts().ems_offered)
      tls_.client_lacks_extended_master_secret();
  }
  backend::Status status = tls_.handshake();
  if (tls_.resumption_refused()) refuse_resumption_without_ems(queued);
  sniff_outgoing();
  if (role_ == Role::server) refuse_forbidden_input();
  // mbedTLS 3.6's TLS 1.3 server refuses a client's certificate while it still encrypts with
  // its handshake keys, which the client (already past the server's Finished) cannot read
  // (Mbed-TLS/mbedtls#10877). So mbedTLS checks it as optional once our ServerHello said TLS
  // 1.3, and finish_handshake refuses it under the application keys. (A server that asks for
  // client certificates issues no TLS 1.3 tickets, so the refused client gets none.)
  if (role_ == Role::server && !client_refused_after_handshake_ &&
      server_->options.client_auth == ClientAuth::required && transcript_.facts().server_version == wire::tls1_3)
    client_refused_after_handshake_ = tls_.verify_client_optionally();
  if (status == backend::Status::want_read || status == backend::Status::new_ticket) return false;
  if (status != backend::Status::ok) handshake_failed(status, queued);
  finish_handshake();
  return true;
}

// RFC 7507 3: a ClientHello with TLS_FALLBACK_SCSV whose highest version is below ours is a
// client's retry at a lower version, which an attacker may have forced: inappropriate_fallback,
// whether or not we speak the lower version (mbedTLS answers protocol_version to one it does not).
void Engine::refuse_inappropriate_fallback() {
  const HandshakeFacts& facts = transcript_.facts();
  if (!facts.client_hello || !facts.fallback_scsv) return;
  std::uint16_t theirs = facts.client_legacy_version;
  if (!facts.client_versions.empty())
    theirs = *std::max_element(facts.client_versions.begin(), facts.client_versions.end());
  std::uint16_t ours = 0;
  for (Protocol p : server_->options.protocols) ours = std::max(ours, wire_version(p));
  if (theirs >= ours) return;
  fail(bad_data(messages::client_sent_forbidden(messages::inappropriate_fallback), Alert::inappropriate_fallback));
}

// A client that lists its versions (supported_versions) and none of ours is refused with
// protocol_version before mbedTLS sees its ClientHello: mbedTLS's TLS 1.2 server ignores the
// extension and fails on the cipher suites instead (handshake_failure), so a TLS 1.3-only
// client would never learn that the versions were the problem.
void Engine::refuse_unsupported_versions() {
  const HandshakeFacts& facts = transcript_.facts();
  if (!facts.client_hello || facts.client_versions.empty()) return;
  for (Protocol p : server_->options.protocols) {
    for (std::uint16_t offered : facts.client_versions)
      if (offered == wire_version(p)) return;
  }
  tls_.send_alert(AlertLevel::fatal, Alert::protocol_version);
  sniff_outgoing();
  fail(make_error(std::string(messages::protocol_version)));
}

// What the client sent that the RFCs forbid and mbedTLS lets through or answers with another
// alert (see Transcript::client_forbidden) is refused with the RFCs' alert once mbedTLS has
// read up to it: a forbidden ClientHello before mbedTLS sees it, a heartbeat after mbedTLS
// answered the ClientHello before it (the order tlsfuzzer expects).
void Engine::refuse_forbidden_input() {
  const std::optional<Forbidden>& forbidden = transcript_.client_forbidden();
  if (!forbidden || client_bytes_read() < forbidden->offset) return;
  fail(bad_data(messages::client_sent_forbidden(forbidden->what), forbidden->alert));
}

// How many of the client's wire bytes mbedTLS has read, counted as the client sent them.
std::size_t Engine::client_bytes_read() const noexcept {
  std::size_t read = given_total_ - std::min(given_total_, tls_.input_buffered());
  if (read == 0) return 0;
  return reframed_ >= 0 ? read + static_cast<std::size_t>(reframed_)
                        : read - std::min(read, static_cast<std::size_t>(-reframed_));
}

// RFC 5246 6.2.1 and RFC 8446 5.1 let a client split its handshake messages over records in
// any way, down to a byte a record. mbedTLS takes less: its server reads a ClientHello from one
// record, 3.6 wants a message's 4-byte header in the message's first record, and 2.28 joins no
// fragments at all. So while the client's handshake is in plaintext, the server parses its
// records and gives mbedTLS each run of whole handshake messages as one record. The first other
// record (ChangeCipherSpec, an alert, TLS 1.3's encrypted records), a malformed record or a
// message too large for one record ends this: from there everything goes through as it came,
// for mbedTLS to take or refuse. What is held is bounded by one message and one record.
void Engine::hold_handshake(std::string_view bytes) {
  held_.append(bytes);
  std::string ready;
  std::size_t at = 0;
  while (held_.size() - at >= wire::record_header) {
    std::size_t length = wire::record_length(held_, at);
    // RFC 5246 6.2.1 and RFC 8446 5.1 forbid empty handshake records; mbedTLS refuses them.
    if (static_cast<unsigned char>(held_[at]) != wire::handshake || held_[at + 1] != 3 || length == 0 ||
        length > max_fragment) {
      holding_ = false;
      break;
    }
    if (held_.size() - at < wire::record_header + length) break;  // the rest is on its way
    if (pending_.empty()) pending_head_.assign(held_, at, 3);
    pending_.append(held_, at + wire::record_header, length);
    reframed_ += static_cast<std::ptrdiff_t>(wire::record_header);
    at += wire::record_header + length;
    // The whole messages at the front go out, as few records as fit.
    std::size_t whole = 0;
    while (pending_.size() - whole >= wire::handshake_header) {
      std::size_t size = wire::message_size(pending_, whole);
      if (size > max_fragment) break;
      if (pending_.size() - whole < size) break;
      if (whole + size > max_fragment) {
        give_pending(ready, whole);
        whole = 0;
        continue;
      }
      whole += size;
    }
    if (whole > 0) give_pending(ready, whole);
    if (pending_.size() >= wire::handshake_header && wire::message_size(pending_, 0) > max_fragment) {
      holding_ = false;  // larger than a record: mbedTLS 3.6 joins its fragments itself, 2.28 cannot
      break;
    }
  }
  if (holding_) {
    held_.erase(0, at);
  } else {
    // A message cut short goes as it came in one record, and the rest as it came.
    if (!pending_.empty()) give_pending(ready, pending_.size());
    ready.append(held_, at);
    std::string().swap(held_);
    std::string().swap(pending_);
  }
  if (!ready.empty()) give_to_backend(ready);
}

// The first `size` bytes of pending_ go to `ready` as one handshake record (as few as hold
// them: a message cut short may be larger than one).
void Engine::give_pending(std::string& ready, std::size_t size) {
  std::string head = pending_head_;
  // RFC 5246 E.1: a server accepts any {03,XX} as a ClientHello's record version (RFC 8446 5.1:
  // it is ignored); mbedTLS refuses a minor version above TLS 1.2's.
  if (static_cast<unsigned char>(pending_[0]) == wire::client_hello)
    head[2] = static_cast<char>(std::min<unsigned char>(static_cast<unsigned char>(head[2]), 3));
  for (std::size_t at = 0; at < size; at += max_fragment) {
    const std::size_t part = std::min(max_fragment, size - at);
    ready += head;
    ready += static_cast<char>(part >> 8);
    ready += static_cast<char>(part & 0xff);
    ready.append(pending_, at, part);
    reframed_ -= static_cast<std::ptrdiff_t>(wire::record_header);
  }
  pending_.erase(0, size);
}

void Engine::give_to_backend(std::string_view bytes) {
  given_total_ += bytes.size();
  std::span<char> space = tls_.input_space(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  tls_.commit_input(bytes.size());
}

// RFC 7627 5.3: a session made with an extended master secret is not resumed by a ClientHello
// without one; the server aborts with handshake_failure. mbedTLS, told by the backend not to
// resume, has already answered with a full handshake's first flight: it is dropped unsent.
void Engine::refuse_resumption_without_ems(std::size_t queued) {
  tls_.truncate_output(queued);
  tls_.send_alert(AlertLevel::fatal, Alert::handshake_failure);
  sniff_outgoing();
  fail(make_error(std::string(messages::resumption_without_ems)));
}

void Engine::finish_handshake() {
  if (client_refused_after_handshake_) {
    if (tls_.peer_chain().empty()) {
      tls_.send_alert(AlertLevel::fatal, Alert::certificate_required);
      sniff_outgoing();
      fail(make_error(std::string(messages::client_auth_required)));
    }
    if (!tls_.verdicts().empty()) {
      // The alert mbedTLS itself sends for a required certificate.
      unsigned problems = 0;
      for (const auto& verdict : tls_.verdicts()) problems |= verdict.problems;
      Alert alert = Alert::certificate_unknown;
      if (problems & backend::other_problem)
        alert = Alert::access_denied;
      else if (problems & (backend::bad_key_usage | backend::weak_key))
        alert = Alert::unsupported_certificate;
      else if (problems & (backend::expired | backend::not_yet_valid))
        alert = Alert::certificate_expired;
      else if (problems & backend::revoked)
        alert = Alert::certificate_revoked;
      else if (problems & backend::not_trusted)
        alert = Alert::unknown_ca;
      tls_.send_alert(AlertLevel::fatal, alert);
      sniff_outgoing();
      fail(verification_error());
    }
  }
  // A server that accepted a client certificate only optionally still refuses a bad one.
  if (role_ == Role::server && !tls_.verdicts().empty()) {
    tls_.send_alert(AlertLevel::fatal, Alert::bad_certificate);
    sniff_outgoing();
    fail(verification_error());
  }
  capture_info();
  complete_ = true;
  transcript_.release();  // an idle connection keeps no handshake bytes
  if (verify_callback_) {
    std::vector<Certificate> chain;
    if (info_.certificate) chain.push_back(*info_.certificate);
    chain.insert(chain.end(), info_.intermediates.begin(), info_.intermediates.end());
    try {
      verify_callback_(chain);
    } catch (...) {
      // Whatever it threw (a TLSError, any other exception, an int) is the handshake's error,
      // and the peer hears bad_certificate, unless the callback sent its own fatal alert.
      fatal_alert_once(Alert::bad_certificate);
      fail(std::current_exception());
    }
    rethrow_if_failed();  // the callback refused by sending a fatal alert and returned
  }
}

std::exception_ptr Engine::make_error(const std::string& message) {
  const backend::TlsError& error = tls_.error();
  if (error.failure == backend::Failure::alert)
    return std::make_exception_ptr(TLSAlertError(message, static_cast<Alert>(error.alert), AlertLevel::fatal));
  if (error.failure == backend::Failure::bad_record)
    return bad_data(message, static_cast<Alert>(tls_.bad_data_alert()));
  return std::make_exception_ptr(TLSError(message));
}

std::exception_ptr Engine::client_auth_required() {
  // Only a plaintext (TLS 1.0 to 1.2) CertificateRequest shows its names; TLS 1.3 encrypts it.
  // After a completed handshake (TLS 1.3's refusal comes then) the transcript has let them go.
  std::optional<std::vector<std::string>> names;
  const HandshakeFacts& facts = transcript_.facts();
  if (facts.certificate_request && !complete_) {
    names.emplace();
    for (const std::string& der : facts.acceptable_ca_names_der)
      names->push_back(backend::distinguished_name_text(der));
  }
  const std::string message(messages::client_auth_required);
  const backend::TlsError& error = tls_.error();
  if (error.failure == backend::Failure::alert)
    return client_auth_error(TLSAlertError(message, static_cast<Alert>(error.alert), AlertLevel::fatal),
                             std::move(names));
  if (error.failure == backend::Failure::bad_record) {
    fatal_alert_once(static_cast<Alert>(tls_.bad_data_alert()));
    return client_auth_error(BadTLSDataError(message), std::move(names));
  }
  return client_auth_error(TLSError(message), std::move(names));
}

std::exception_ptr Engine::bad_data(const std::string& message, Alert alert) {
  // The peer learns why we hang up: mbedTLS sends an alert for some bad data (a bad MAC) and
  // none for other (an unknown record type or version), so ours goes out unless one did.
  fatal_alert_once(alert);
  return std::make_exception_ptr(BadTLSDataError(message));
}

void Engine::fatal_alert_once(Alert alert) {
  if (!tls_.fatal_alert_sent()) tls_.send_alert(AlertLevel::fatal, alert);
  sniff_outgoing();
}

// queued: how much output was waiting before this step (what mbedTLS wrote in it comes after).
void Engine::handshake_failed(backend::Status status, std::size_t queued) {
  const HandshakeFacts& facts = transcript_.facts();
  const backend::TlsError& error = tls_.error();
  bool failed = status == backend::Status::failed;
  bool alert = failed && error.failure == backend::Failure::alert;
  if (failed && error.failure == backend::Failure::verification) fail(verification_error());
  if (role_ == Role::client) {
    std::string other = messages::detect_other_protocol(transcript_.server_first_bytes());
    if (!transcript_.server_looks_like_tls() || !other.empty())
      fail(bad_data(messages::protocol_error(other), alert_for_first_bytes(transcript_.server_first_bytes())));
    if (facts.dh_prime_bits && *facts.dh_prime_bits < session_->options().minimum_dh_bits)
      fail(make_error(std::string(messages::weak_dh_parameters)));
    // Only the server's refusal after its request means it wanted a certificate; a failure
    // we detected ourselves has another cause even if the server also asked.
    bool refused = (alert && (error.alert == static_cast<std::uint8_t>(Alert::handshake_failure) ||
                              error.alert == static_cast<std::uint8_t>(Alert::bad_certificate))) ||
                   !failed;
    bool has_certificate = session_->options().client_certificate.has_value();
    if ((facts.certificate_request && !has_certificate && refused) ||
        (alert && error.alert == static_cast<std::uint8_t>(Alert::certificate_required)))
      fail(client_auth_required());
  } else {
    refuse_forbidden_input();
    if (failed && error.failure == backend::Failure::bad_record) {
      if (std::optional<std::uint8_t> sent = transcript_.client_plaintext_alert()) {
        // mbedTLS took the alert for an encrypted record and answered bad_record_mac, under
        // keys the client may not have yet. A fatal alert ends the connection without an
        // answer (RFC 8446 6, RFC 5246 7.2), so its answer is dropped unsent.
        tls_.truncate_output(queued);
        auto alert_sent = static_cast<Alert>(*sent);
        fail(std::make_exception_ptr(TLSAlertError(std::string(messages::handshake_failed) +
                                                       " - received fatal alert " + std::string(to_string(alert_sent)) +
                                                       " (" + std::to_string(*sent) + ")",
                                                   alert_sent, AlertLevel::fatal)));
      }
    }
    if (!transcript_.client_looks_like_tls())
      fail(bad_data(messages::client_protocol_error(transcript_.client_first_bytes()),
                    alert_for_first_bytes(transcript_.client_first_bytes())));
    // mbedTLS refuses an ECDHE key share that is no point on the curve with decode_error (3.6)
    // or no alert (2.28), and a malformed one without an alert on 2.28. RFC 8422 5.11 wants the
    // point checked; the alerts are those of RFC 5246 7.2.2.
    if (failed && error.handshake_message == static_cast<int>(wire::client_key_exchange) &&
        facts.client_key_share_well_formed) {
      if (*facts.client_key_share_well_formed)
        fail(bad_data(messages::client_sent_forbidden(messages::invalid_key_share), Alert::illegal_parameter));
      fail(bad_data(messages::client_sent_forbidden(messages::malformed_key_exchange), Alert::decode_error));
    }
    if (failed && error.failure == backend::Failure::no_client_certificate) {
      // mbedTLS refuses silently; the client deserves to know why (RFC 5246 7.4.6, RFC 8446 4.4.2.4).
      bool tls13 = transcript_.facts().server_version == wire::tls1_3;
      tls_.send_alert(AlertLevel::fatal, tls13 ? Alert::certificate_required : Alert::handshake_failure);
      sniff_outgoing();
      fail(make_error(std::string(messages::client_auth_required)));
    }
  }
  if (failed && (error.failure == backend::Failure::protocol_version ||
                 (alert && error.alert == static_cast<std::uint8_t>(Alert::protocol_version))))
    fail(make_error(std::string(messages::protocol_version)));
  if (!failed) fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
  if (alert) fail(make_error(std::string(messages::handshake_failed) + " - " + describe(error)));
  fail(make_error(std::string(messages::handshake_failed)));
}

std::exception_ptr Engine::verification_error() const {
  using messages::Peer;
  Peer peer = role_ == Role::client ? Peer::server : Peer::client;
  const auto& verdicts = tls_.verdicts();  // reported root first, leaf last
  auto find = [&](unsigned problems) -> const backend::CertificateVerdict* {
    const backend::CertificateVerdict* found = nullptr;
    for (const auto& v : verdicts)
      if (v.problems & problems) found = &v;  // keep the one closest to the leaf
    return found;
  };
  if (const auto* v = find(backend::expired | backend::not_yet_valid))
    return std::make_exception_ptr(messages::expired_or_not_yet_valid(v->certificate, peer));
  if (const auto* v = find(backend::not_trusted)) {
    if (v->depth == 0 && v->certificate.self_signed())
      return std::make_exception_ptr(messages::self_signed(v->certificate, peer));
    // As oscrypto: the error carries the leaf, whichever certificate lacked an issuer.
    return std::make_exception_ptr(messages::no_issuer(tls_.leaf().value_or(v->certificate), peer));
  }
  if (const auto* v = find(backend::weak_signature))
    return std::make_exception_ptr(messages::weak_signature(v->certificate, peer));
  if (const auto* v = find(backend::hostname_mismatch))
    return std::make_exception_ptr(messages::hostname_mismatch(v->certificate, hostname_));
  if (!verdicts.empty())
    return std::make_exception_ptr(messages::verification_failed(verdicts.back().certificate, peer));
  return std::make_exception_ptr(messages::verification_failed(std::nullopt, peer));
}

void Engine::capture_info() {
  const HandshakeFacts& facts = transcript_.facts();
  info_.protocol = tls_.protocol();
  info_.cipher_suite = tls_.cipher_suite();
  info_.compression = facts.compression != 0;
  info_.alpn_protocol = tls_.alpn();
  info_.server_name = tls_.server_name();
  bool resumed = transcript_.resumed();
  std::vector<Certificate> chain = resumed && offered_ ? offered_->chain : tls_.peer_chain();
  if (!chain.empty()) {
    info_.certificate = chain.front();
    info_.intermediates.assign(chain.begin() + 1, chain.end());
  }
  if (resumed) {
    // TLS 1.3 resumes only with tickets (a PSK from a NewSessionTicket).
    if (facts.ticket_offered || info_.protocol == Protocol::TLSv1_3)
      info_.session_ticket = SessionReuse::reused;
    else
      info_.session_id = SessionReuse::reused;
  } else {
    if (!facts.server_session_id.empty() && info_.protocol != Protocol::TLSv1_3)
      info_.session_id = SessionReuse::new_session;
    if (facts.new_session_ticket || facts.server_ticket_extension) info_.session_ticket = SessionReuse::new_session;
    // A TLS 1.3 server sends its (encrypted) tickets as part of finishing the handshake.
    if (role_ == Role::server && info_.protocol == Protocol::TLSv1_3 && server_->options.session_tickets &&
        server_->options.client_auth == ClientAuth::none)
      info_.session_ticket = SessionReuse::new_session;
  }
  peer_chain_ = std::move(chain);
  // TLS 1.3 sessions become resumable only with a NewSessionTicket (see on_new_ticket).
  if (info_.protocol != Protocol::TLSv1_3) store_session(false);
  offered_.reset();
}

void Engine::store_session(bool single_use) {
  if (role_ != Role::client || !session_->options().session_cache) return;
  if (auto saved = tls_.save_session())
    detail::Access::impl(*session_).cache.store(cache_key_, CachedSession{std::move(saved), peer_chain_, single_use});
}

void Engine::on_new_ticket() {
  ticket_received_ = true;
  if (info_.session_ticket != SessionReuse::reused) info_.session_ticket = SessionReuse::new_session;
  store_session(true);
}

std::size_t Engine::read(char* data, std::size_t size, backend::Source* source) {
  rethrow_if_failed();
  if (!complete_ && !handshake()) return 0;
  std::size_t got = 0;
  backend::Status status = tls_.read(data, size, got, source);
  // Records that carry no application data (a TLS 1.3 NewSessionTicket) end a call early;
  // go on while whole records are already here, so the caller only waits on the wire
  // when there is nothing left to decrypt. Bounded: each turn consumes a record.
  for (int turns = 0; turns < 1024; ++turns) {
    if (status == backend::Status::new_ticket)
      on_new_ticket();
    else if (status != backend::Status::want_read || !tls_.readable_without_wire())
      break;
    status = tls_.read(data, size, got, source);
  }
  switch (status) {
    case backend::Status::ok:
      if (got > 0) data_received_ = true;
      return got;
    case backend::Status::want_read:
    case backend::Status::new_ticket:
      return 0;
    case backend::Status::closed:
      peer_closed_ = true;
      fail(std::make_exception_ptr(TLSGracefulDisconnectError(std::string(messages::remote_closed))));
    case backend::Status::eof:
      receive_eof();  // the source's EOF, if it was the one to see it
      fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
    case backend::Status::failed:
      break;
  }
  // TLS 1.3 servers refuse a missing client certificate only after our handshake finished.
  const backend::TlsError& error = tls_.error();
  if (error.failure == backend::Failure::alert && error.alert == static_cast<std::uint8_t>(Alert::certificate_required))
    fail(client_auth_required());
  if (error.failure == backend::Failure::key_update) {
    // RFC 8446 4: a handshake message an implementation cannot take in its state is an
    // unexpected_message. internal_error would tell the peer nothing about what it did to end
    // the connection; this names its message as the one we could not take.
    fatal_alert_once(Alert::unexpected_message);
    fail(std::make_exception_ptr(TLSError(messages::key_update_unsupported(backend::version_text()))));
  }
  fail(make_error(messages::connection_failed(describe(error))));
}

std::size_t Engine::write(std::string_view data) {
  rethrow_if_failed();
  if (!complete_ && !handshake()) return 0;
  std::size_t written = 0;
  switch (tls_.write(data.data(), std::min(data.size(), max_fragment), written)) {
    case backend::Status::ok:
      return written;
    case backend::Status::want_read:
    case backend::Status::new_ticket:
      return 0;
    case backend::Status::closed:
    case backend::Status::eof:
      fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
    case backend::Status::failed:
      break;
  }
  fail(make_error(messages::connection_failed(describe(tls_.error()))));
}

void Engine::close_notify() {
  // After a fatal error the alert already said goodbye; after the peer's close_notify ours
  // is still due.
  if ((error_ && !peer_closed_) || !complete_ || close_notify_sent_) return;
  close_notify_sent_ = true;
  (void)tls_.close_notify();
}

void Engine::send_alert(Alert alert, AlertLevel level) {
  if (alert == Alert::close_notify) {
    close_notify();
    return;
  }
  if (error_ && !peer_closed_) return;
  tls_.send_alert(level, alert);
  if (level == AlertLevel::fatal && !error_)
    error_ = std::make_exception_ptr(
        TLSError("TLS connection closed - this side sent the fatal alert " + std::string(to_string(alert))));
}

bool Engine::readable_without_wire() const noexcept { return tls_.readable_without_wire(); }

bool Engine::awaiting_ticket() const noexcept {
  return role_ == Role::client && complete_ && !error_ && !eof_ && !ticket_received_ && !data_received_ &&
         info_.protocol == Protocol::TLSv1_3 && session_->options().session_cache;
}

}  // namespace tlsock::engine

namespace tlsock {

ClientAuthRequest::~ClientAuthRequest() = default;

const ClientAuthRequest* client_auth_request(const std::exception& error) noexcept {
  return dynamic_cast<const ClientAuthRequest*>(&error);
}

}  // namespace tlsock
