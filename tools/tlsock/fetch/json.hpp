// What fetch --json prints for one URL: the response and the TLS connection it came over.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "fetch/client.hpp"
#include "http/http.hpp"

namespace tlsock::cli {

nlohmann::ordered_json exchange_json(const std::string& url, const http::Url& effective, int redirects,
                                     const Exchange& exchange, const std::string& output);

}  // namespace tlsock::cli
