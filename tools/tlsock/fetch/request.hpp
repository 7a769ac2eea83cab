// fetch's requests: the --data argument, URL arguments and the redirect policy of -L.
#pragma once

#include <string>

#include "http/http.hpp"

namespace tlsock::cli {

// --data's body: DATA itself, the bytes of FILE for @FILE, stdin for @-.
std::string read_data_argument(const std::string& data);

// A URL given on the command line (a bad one: Failure usage).
http::Url parse_url_argument(const std::string& text);

// 301, 302, 303, 307, 308: what -L follows.
bool is_redirect(int status);

// The request -L sends after a redirect (RFC 9110 section 15.4): 303 turns into GET (HEAD
// stays HEAD); 301 and 302 turn POST into GET, as curl and browsers do; 307 and 308 keep
// the method and body. Credentials stay with the origin they were meant for.
http::Request redirected(http::Request request, int status, const http::Url& next);

}  // namespace tlsock::cli
