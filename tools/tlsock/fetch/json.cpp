// What fetch --json prints for one URL (see json.hpp).
#include "fetch/json.hpp"

#include <algorithm>
#include <cctype>

namespace tlsock::cli {
namespace {

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

Json exchange_json(const std::string& url, const http::Url& effective, int redirects, const Exchange& exchange,
                   const std::string& output, int exit_code) {
  Json connection = connection_json(exchange.connection);
  connection["reused"] = exchange.reused_connection;
  const http::Response& response = exchange.response;
  std::string message;
  if (exit_code != success)
    message = "HTTP error status " + std::to_string(response.status) + (response.reason.empty() ? "" : " ") +
              response.reason + " (" + effective.str() + ")";
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
          {"connection", connection},
          {"error", error_json(exit_code, message)},
          {"exit_code", exit_code}};
}

Json failure_json(const std::string& url, int exit_code, const std::string& message) {
  Json out = {{"url", url.empty() ? Json(nullptr) : Json(url)}};
  for (const char* key : {"effective_url", "redirects", "http_version", "status", "reason", "headers", "trailers",
                          "content_length", "body_bytes", "output", "connection"})
    out[key] = nullptr;
  out["error"] = error_json(exit_code, message);
  out["exit_code"] = exit_code;
  return out;
}

}  // namespace tlsock::cli
