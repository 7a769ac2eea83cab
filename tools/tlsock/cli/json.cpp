// The JSON schema of fetch and probe (see json.hpp).
#include "cli/json.hpp"

#include "cli/cli.hpp"

namespace tlsock::cli {

std::string rfc3339(std::chrono::system_clock::time_point time) {
  std::string text = format_utc(time);  // "2031-01-02 00:00:00Z"
  if (auto space = text.find(' '); space != std::string::npos) text[space] = 'T';
  return text;
}

Json reuse_json(const std::optional<SessionReuse>& reuse) {
  std::optional<std::string> text = reuse_text(reuse);
  return text ? Json(*text) : Json(nullptr);
}

Json certificate_json(const Certificate& certificate) {
  return {{"subject", certificate.subject()},
          {"issuer", certificate.issuer()},
          {"serial_number", certificate.serial_number()},
          {"not_before", rfc3339(certificate.not_before())},
          {"not_after", rfc3339(certificate.not_after())},
          {"valid_domains", certificate.valid_domains()},
          {"valid_ips", certificate.valid_ips()},
          {"key_algorithm", certificate.key_algorithm()},
          {"key_bits", certificate.key_bits()},
          {"signature_hash", certificate.hash_algorithm()},
          {"sha256_fingerprint", certificate.sha256_fingerprint()},
          {"is_ca", certificate.is_ca()},
          {"self_signed", certificate.self_signed()}};
}

Json connection_json(const ConnectionFacts& facts) {
  Json chain = Json::array();
  for (const Certificate& certificate : facts.chain) chain.push_back(certificate_json(certificate));
  return {{"address", facts.address},
          {"protocol", facts.protocol},
          {"cipher_suite", facts.cipher_suite},
          {"alpn", facts.alpn.empty() ? Json(nullptr) : Json(facts.alpn)},
          {"compression", facts.compression},
          {"session_id", reuse_json(facts.session_id)},
          {"session_ticket", reuse_json(facts.session_ticket)},
          {"certificate", chain.empty() ? Json(nullptr) : chain.front()},
          {"chain", chain}};
}

std::string_view exit_code_class(int exit_code) {
  switch (exit_code) {
    case success:
      return "success";
    case usage:
      return "usage";
    case network:
      return "network";
    case tls:
      return "tls";
    case verification:
      return "verification";
    case http_status:
      return "http_status";
    case file_io:
      return "file_io";
    case expectation:
      return "expectation";
    default:
      return "failure";
  }
}

Json error_json(int exit_code, const std::string& message) {
  if (exit_code == success) return nullptr;
  return {{"class", exit_code_class(exit_code)}, {"message", message}, {"exit_code", exit_code}};
}

}  // namespace tlsock::cli
