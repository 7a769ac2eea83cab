// What fetch --json prints for one URL: the response and the TLS connection it came over, or,
// when the URL failed, the same keys with null for what is not known and the error (the
// shared keys are cli/json.hpp's).
#pragma once

#include <string>

#include "cli/json.hpp"
#include "fetch/client.hpp"
#include "http/http.hpp"

namespace tlsock::cli {

// exit_code: success, or http_status for an HTTP error status that fails the URL.
Json exchange_json(const std::string& url, const http::Url& effective, int redirects, const Exchange& exchange,
                   const std::string& output, int exit_code = success);

// The record of a URL that failed before it had a response (TLS, network, usage...).
Json failure_json(const std::string& url, int exit_code, const std::string& message);

}  // namespace tlsock::cli
