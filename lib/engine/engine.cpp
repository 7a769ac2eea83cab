// The sans-IO client engine (see engine.hpp).
#include "engine/engine.hpp"

#include <algorithm>

#include "engine/hostname.hpp"
#include "engine/messages.hpp"
#include "engine/session_impl.hpp"

namespace tlsock::engine {
namespace {

// Wire bytes buffered ahead of mbedTLS: enough for a few full records, never more.
constexpr std::size_t max_input_buffered = 64 * 1024;
constexpr std::size_t receive_chunk = 17 * 1024;
// The largest plaintext fragment of one record.
constexpr std::size_t max_fragment = 16 * 1024;

constexpr std::uint8_t alert_protocol_version = 70;
constexpr std::uint8_t alert_certificate_required = 116;

const char* alert_name(std::uint8_t alert) {
  switch (alert) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown";
  }
}

std::string describe(const mbed::TlsError& error) {
  if (error.failure == mbed::Failure::alert)
    return "received fatal alert " + std::string(alert_name(error.alert)) + " (" + std::to_string(error.alert) + ")";
  return error.text();
}

}  // namespace

ClientEngine::ClientEngine(std::shared_ptr<TLSSession> session, std::string hostname, std::uint16_t port)
    : session_(std::move(session)),
      hostname_(std::move(hostname)),
      cache_key_(hostname_ + ":" + std::to_string(port)),
      tls_(session_->impl().config, is_ip_address(hostname_) ? std::string() : hostname_,
           [this](const Certificate& leaf) { return certificate_matches(leaf, hostname_); }) {
  if (session_->options().session_cache) {
    offered_ = session_->impl().cache.find(cache_key_);
    if (offered_ && !tls_.load_session(offered_->blob)) offered_.reset();
  }
}

std::span<char> ClientEngine::receive_space() {
  std::size_t buffered = tls_.input_buffered();
  if (buffered >= max_input_buffered) return {};
  std::span<char> space = tls_.input_space(receive_chunk);
  space = space.first(std::min(space.size(), max_input_buffered - buffered));
  receive_at_ = space.data();
  return space;
}

void ClientEngine::received(std::size_t size) {
  if (!complete_ && size > 0) transcript_.server_bytes(std::string_view(receive_at_, size), mbed::suite_uses_dhe);
  tls_.commit_input(size);
}

void ClientEngine::receive_eof() {
  eof_ = true;
  tls_.input_eof();
}

void ClientEngine::sent(std::size_t size) noexcept {
  outgoing_sniffed_ -= std::min(size, outgoing_sniffed_);
  tls_.consume_output(size);
}

void ClientEngine::sniff_outgoing() {
  std::string_view out = tls_.output();
  if (out.size() > outgoing_sniffed_) transcript_.client_bytes(out.substr(outgoing_sniffed_));
  outgoing_sniffed_ = out.size();
}

void ClientEngine::rethrow_if_failed() const {
  if (error_) std::rethrow_exception(error_);
}

void ClientEngine::fail(std::exception_ptr error) {
  error_ = std::move(error);
  std::rethrow_exception(error_);
}

bool ClientEngine::handshake() {
  rethrow_if_failed();
  if (complete_) return true;
  mbed::Status status = tls_.handshake();
  sniff_outgoing();
  if (status == mbed::Status::want_read) return false;
  if (status != mbed::Status::ok) handshake_failed(status);
  complete_ = true;
  capture_info();
  return true;
}

void ClientEngine::handshake_failed(mbed::Status status) {
  const HandshakeFacts& facts = transcript_.facts();
  const mbed::TlsError& error = tls_.error();
  bool failed = status == mbed::Status::failed;
  std::string other = messages::detect_other_protocol(transcript_.server_first_bytes());
  if (!transcript_.server_looks_like_tls() || !other.empty())
    fail(std::make_exception_ptr(messages::protocol_error(other)));
  if (failed && error.failure == mbed::Failure::verification) fail(verification_error());
  if (facts.certificate_request || (failed && error.failure == mbed::Failure::alert &&
                                    error.alert == alert_certificate_required))
    fail(std::make_exception_ptr(messages::client_auth_required()));
  if (facts.dh_prime_bits && *facts.dh_prime_bits < session_->options().minimum_dh_bits)
    fail(std::make_exception_ptr(messages::weak_dh_parameters()));
  if (failed && (error.failure == mbed::Failure::protocol_version ||
                 (error.failure == mbed::Failure::alert && error.alert == alert_protocol_version)))
    fail(std::make_exception_ptr(messages::protocol_version()));
  if (!failed) fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
  fail(std::make_exception_ptr(messages::handshake_failed()));
}

std::exception_ptr ClientEngine::verification_error() const {
  const auto& verdicts = tls_.verdicts();  // reported root first, leaf last
  auto find = [&](unsigned problems) -> const mbed::CertificateVerdict* {
    const mbed::CertificateVerdict* found = nullptr;
    for (const auto& v : verdicts)
      if (v.problems & problems) found = &v;  // keep the one closest to the leaf
    return found;
  };
  if (const auto* v = find(mbed::expired | mbed::not_yet_valid))
    return std::make_exception_ptr(messages::expired_or_not_yet_valid(v->certificate));
  if (const auto* v = find(mbed::not_trusted)) {
    if (v->depth == 0 && v->certificate.self_signed())
      return std::make_exception_ptr(messages::self_signed(v->certificate));
    return std::make_exception_ptr(messages::no_issuer(v->certificate));
  }
  if (const auto* v = find(mbed::weak_signature))
    return std::make_exception_ptr(messages::weak_signature(v->certificate));
  if (const auto* v = find(mbed::hostname_mismatch))
    return std::make_exception_ptr(messages::hostname_mismatch(v->certificate, hostname_));
  if (!verdicts.empty()) return std::make_exception_ptr(messages::verification_failed(verdicts.back().certificate));
  return std::make_exception_ptr(messages::verification_failed(std::nullopt));
}

void ClientEngine::capture_info() {
  const HandshakeFacts& facts = transcript_.facts();
  info_.protocol = tls_.protocol();
  info_.cipher_suite = tls_.cipher_suite();
  info_.compression = facts.compression != 0;
  info_.alpn = tls_.alpn();
  bool resumed = transcript_.resumed();
  std::vector<Certificate> chain = resumed && offered_ ? offered_->chain : tls_.peer_chain();
  if (!chain.empty()) {
    info_.certificate = chain.front();
    info_.intermediates.assign(chain.begin() + 1, chain.end());
  }
  if (resumed) {
    if (facts.ticket_offered)
      info_.session_ticket = SessionReuse::reused;
    else
      info_.session_id = SessionReuse::reused;
  } else {
    if (!facts.server_session_id.empty() && info_.protocol != Protocol::TLSv1_3)
      info_.session_id = SessionReuse::new_session;
    if (facts.new_session_ticket || facts.server_ticket_extension) info_.session_ticket = SessionReuse::new_session;
  }
  if (session_->options().session_cache) {
    std::string blob = tls_.save_session();
    if (!blob.empty()) session_->impl().cache.store(cache_key_, CachedSession{std::move(blob), std::move(chain)});
  }
  offered_.reset();
}

std::size_t ClientEngine::read(char* data, std::size_t size) {
  rethrow_if_failed();
  if (!complete_ && !handshake()) return 0;
  std::size_t got = 0;
  switch (tls_.read(data, size, got)) {
    case mbed::Status::ok: return got;
    case mbed::Status::want_read: return 0;
    case mbed::Status::closed:
      peer_closed_ = true;
      fail(std::make_exception_ptr(TLSGracefulDisconnectError(std::string(messages::remote_closed))));
    case mbed::Status::eof:
      fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
    case mbed::Status::failed: break;
  }
  fail(std::make_exception_ptr(TLSConnectionError("TLS connection failed - " + describe(tls_.error()))));
}

std::size_t ClientEngine::write(std::string_view data) {
  rethrow_if_failed();
  if (!complete_ && !handshake()) return 0;
  std::size_t written = 0;
  switch (tls_.write(data.data(), std::min(data.size(), max_fragment), written)) {
    case mbed::Status::ok: return written;
    case mbed::Status::want_read: return 0;
    case mbed::Status::closed:
    case mbed::Status::eof:
      fail(std::make_exception_ptr(TLSDisconnectError(std::string(messages::remote_closed))));
    case mbed::Status::failed: break;
  }
  fail(std::make_exception_ptr(TLSConnectionError("TLS connection failed - " + describe(tls_.error()))));
}

void ClientEngine::close_notify() {
  // After a fatal error the alert already said goodbye; after the peer's close_notify ours
  // is still due.
  if (error_ && !peer_closed_) return;
  if (!complete_) return;
  (void)tls_.close_notify();
}

bool ClientEngine::readable_without_wire() const noexcept { return tls_.readable_without_wire(); }

}  // namespace tlsock::engine
