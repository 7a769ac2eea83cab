// What fetch --json prints for one URL (see json.hpp).
#include "fetch/json.hpp"

#include <algorithm>
#include <cctype>

namespace tlsock::cli {
namespace {

using Json = nlohmann::ordered_json;

Json reuse_json(const std::optional<SessionReuse>& reuse) {
  std::optional<std::string> text = reuse_text(reuse);
  return text ? Json(*text) : Json(nullptr);
}

Json fields_json(const http::Fields& fields) {
  // Lower-case names; repeated fields joined with ", " (RFC 9110 section 5.3).
  Json object = Json::object();
  for (const http::Field& field : fields) {
    std::string name = field.name;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (object.contains(name)) {
      object[name] = object[name].get<std::string>() + ", " + field.value;
    } else {
      object[name] = field.value;
    }
  }
  return object;
}

}  // namespace

nlohmann::ordered_json exchange_json(const std::string& url, const http::Url& effective, int redirects,
                                     const Exchange& exchange, const std::string& output) {
  const ConnectionFacts& facts = exchange.connection;
  Json certificate = nullptr;
  if (const Certificate* leaf = facts.certificate()) {
    certificate = {{"subject", leaf->subject()},
                   {"issuer", leaf->issuer()},
                   {"not_after", format_utc(leaf->not_after())},
                   {"sha256", leaf->sha256_fingerprint()}};
  }
  Json connection = {{"address", facts.address},
                     {"reused", exchange.reused_connection},
                     {"protocol", facts.protocol},
                     {"cipher_suite", facts.cipher_suite},
                     {"alpn", facts.alpn.empty() ? Json(nullptr) : Json(facts.alpn)},
                     {"session_id", reuse_json(facts.session_id)},
                     {"session_ticket", reuse_json(facts.session_ticket)},
                     {"certificate", certificate}};
  const http::Response& response = exchange.response;
  return {{"url", url},
          {"effective_url", effective.str()},
          {"redirects", redirects},
          {"http_version", response.version_text()},
          {"status", response.status},
          {"reason", response.reason},
          {"headers", fields_json(response.headers)},
          {"trailers", fields_json(response.trailers)},
          {"content_length", exchange.content_length ? Json(*exchange.content_length) : Json(nullptr)},
          {"body_bytes", exchange.body_bytes},
          {"output", output.empty() ? Json(nullptr) : Json(output)},
          {"connection", connection}};
}

}  // namespace tlsock::cli
