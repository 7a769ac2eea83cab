// The JSON schema fetch --json and probe --json share: the same keys for the same facts, on
// success and on failure, dates in RFC 3339 ("2031-01-02T00:00:00Z"). README ("--json")
// has the table of keys.
//
//   connection   {address, protocol, cipher_suite, alpn, compression, session_id,
//                 session_ticket, certificate, chain}; null when no TLS connection was made
//   certificate  {subject, issuer, serial_number, not_before, not_after, valid_domains,
//                 valid_ips, key_algorithm, key_bits, signature_hash, sha256_fingerprint,
//                 is_ca, self_signed}
//   error        null, or {class, message, exit_code}; class names the exit code's kind
//                ("usage", "network", "tls", "verification", "http_status", "file_io",
//                "expectation", "failure")
//   exit_code    what the run (probe) or this URL (fetch) exits with
#pragma once

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "cli/facts.hpp"

namespace tlsock::cli {

using Json = nlohmann::ordered_json;

// RFC 3339 in UTC: "2031-01-02T00:00:00Z".
[[nodiscard]] std::string rfc3339(std::chrono::system_clock::time_point time);

// "new", "reused" or null.
[[nodiscard]] Json reuse_json(const std::optional<SessionReuse>& reuse);

[[nodiscard]] Json certificate_json(const Certificate& certificate);

// The connection's facts; chain is the certificates as sent (leaf first), certificate the leaf
// (null when the server sent none).
[[nodiscard]] Json connection_json(const ConnectionFacts& facts);

// The kind of an exit code, as error.class says it: "tls" for 4.
[[nodiscard]] std::string_view exit_code_class(int exit_code);

// {class, message, exit_code}; null for success.
[[nodiscard]] Json error_json(int exit_code, const std::string& message);

}  // namespace tlsock::cli
