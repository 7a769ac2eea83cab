// fetch's requests: the --data argument, URL arguments and the redirect policy of -L.
#include "fetch/request.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "fetch/output.hpp"

namespace tlsock::cli {

std::string read_data_argument(const std::string& data) {
  if (!data.starts_with("@")) return data;
  std::string path = data.substr(1);
  if (path == "-") return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(file_io, "--data @" + path + ": cannot read: " + errno_text(errno));
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw Failure(file_io, "--data @" + path + ": read failed");
  return content;
}

http::Url parse_url_argument(const std::string& text) {
  try {
    return http::parse_url(text, /*fetch_forms=*/true);
  } catch (const std::invalid_argument& error) {
    throw Failure(usage, error.what());
  }
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The request -L sends after a redirect (RFC 9110 section 15.4): 303 turns into GET (HEAD
// stays HEAD); 301 and 302 turn POST into GET, as curl and browsers do; 307 and 308 keep
// the method and body. Credentials stay with the origin they were meant for.
http::Request redirected(http::Request request, int status, const http::Url& next) {
  bool to_get =
      (status == 303 && request.method != "HEAD") || ((status == 301 || status == 302) && request.method == "POST");
  if (to_get) {
    request.method = "GET";
    request.body.reset();
  }
  if (next.host != request.url.host || next.port != request.url.port) {
    std::erase_if(request.headers, [](const http::Field& field) {
      std::string name = field.name;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      return name == "authorization" || name == "cookie" || name == "host";
    });
  }
  request.url = next;
  return request;
}

}  // namespace tlsock::cli
