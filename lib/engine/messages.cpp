// The message factory (see messages.hpp).
#include "engine/messages.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "net/net.hpp"

namespace tlsock::messages {
namespace {

std::string prefix(Peer peer) {
  return peer == Peer::server ? "Server certificate verification failed" : "Client certificate verification failed";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::string timed_out(std::string_view operation, std::string_view peer) {
  return std::string(operation) + " " + std::string(peer) + " timed out";
}

TLSVerificationError hostname_mismatch(const Certificate& certificate, std::string_view host) {
  std::string message = prefix(Peer::server);
  message += net::is_ip_literal(host) ? " - IP address " : " - domain name ";
  message += std::string(host) + " does not match";
  std::string domains = join(certificate.valid_domains());
  std::string ips = join(certificate.valid_ips());
  if (!domains.empty()) message += " valid domains: " + domains;
  if (!domains.empty() && !ips.empty()) message += " or";
  if (!ips.empty()) message += " valid IP addresses: " + ips;
  return {message, certificate};
}

TLSVerificationError expired_or_not_yet_valid(const Certificate& certificate, Peer peer) {
  auto now = std::chrono::system_clock::now();
  if (certificate.not_before() > now)
    return {prefix(peer) + " - certificate not valid until " + format_utc(certificate.not_before()), certificate};
  return {prefix(peer) + " - certificate expired " + format_utc(certificate.not_after()), certificate};
}

TLSVerificationError self_signed(const Certificate& certificate, Peer peer) {
  return {prefix(peer) + " - certificate is self-signed", certificate};
}

TLSVerificationError no_issuer(const Certificate& certificate, Peer peer) {
  return {prefix(peer) + " - certificate issuer not found in trusted root certificate store", certificate};
}

TLSVerificationError weak_signature(const Certificate& certificate, Peer peer) {
  return {prefix(peer) + " - weak certificate signature algorithm", certificate};
}

TLSVerificationError verification_failed(std::optional<Certificate> certificate, Peer peer) {
  return {prefix(peer), std::move(certificate)};
}

std::string protocol_error(std::string_view other_protocol) {
  if (other_protocol.empty()) return "TLS protocol error - server responded using a different protocol";
  return "TLS protocol error - server responded using " + std::string(other_protocol);
}

std::string client_protocol_error(std::string_view client_bytes) {
  for (std::string_view method : {"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "CONNECT ", "PATCH "})
    if (client_bytes.substr(0, method.size()) == method) return "TLS protocol error - client sent an HTTP request";
  return "TLS protocol error - client sent data that is not TLS";
}

std::string client_sent_forbidden(std::string_view what) {
  return std::string(handshake_failed) + " - the client sent " + std::string(what);
}

std::string connection_failed(std::string_view detail) { return "TLS connection failed - " + std::string(detail); }

std::string key_update_unsupported(std::string_view backend) {
  return connection_failed("the peer updated its keys (TLS 1.3 KeyUpdate), which the linked " + std::string(backend) +
                           " does not support");
}

std::string detect_other_protocol(std::string_view bytes) {
  auto starts = [&](std::string_view prefix) { return bytes.substr(0, prefix.size()) == prefix; };
  if (starts("HTTP/")) return "HTTP";
  if (starts("220 ")) {
    std::string_view line = bytes.substr(0, bytes.find_first_of("\r\n"));
    std::string lowered(line);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
    return lowered.find("ftp") != std::string::npos ? "FTP" : "SMTP";
  }
  if (starts("220-")) return "FTP";
  if (starts("+OK ")) return "POP3";
  if (starts("* OK") || starts("* PREAUTH")) return "IMAP";
  return {};
}

}  // namespace tlsock::messages
