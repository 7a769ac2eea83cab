// libFuzzer target: the HTTP/1.1 side of `tlsock fetch` (tools/tlsock/http.cpp).
//
// Header as in fuzz_common.hpp; byte 0's bits:
//   bit 2 clear: the payload is a response, fed to ResponseParser in the header's chunks
//                (bit 0: a HEAD request's response; bit 1: a 256-byte header limit). The
//                outcome must not depend on the chunking: it is compared with a parse of
//                the whole payload at once. Only ProtocolError and TruncatedError may come out.
//   bit 2 set:   the payload is "URL\nREFERENCE": parse_url(URL), resolve(url, REFERENCE),
//                and parse_header_argument(REFERENCE) into build_request. Only
//                std::invalid_argument may come out; a parsed URL survives str() and back,
//                and a request head never gets a line ending the parser did not put there.
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include "fuzz_common.hpp"
#include "http/http.hpp"

namespace {

using namespace tlsock;
using fuzz::contract_violation;

struct Outcome {
  bool protocol_error = false;
  bool truncated = false;
  bool complete = false;
  bool headers_complete = false;
  std::size_t used = 0;
  std::string body;
  http::Response response;
  http::Framing framing = http::Framing::none;
  std::optional<std::uint64_t> content_length;
  std::uint64_t body_bytes = 0;
};

bool same_fields(const http::Fields& a, const http::Fields& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  return true;
}

template <typename ForEachChunk>
Outcome parse(bool head, std::size_t limit, ForEachChunk&& for_each_chunk) {
  Outcome out;
  http::ResponseParser parser(head, limit);
  bool stopped = false;
  try {
    for_each_chunk([&](std::string_view chunk) {
      std::size_t used = parser.feed(chunk, out.body);
      if (used > chunk.size()) contract_violation("feed() used more bytes than it was given");
      out.used += used;
      if (used < chunk.size()) {
        if (!parser.complete()) contract_violation("feed() left bytes unused before the response was complete");
        stopped = true;
        return false;
      }
      return true;
    });
    if (!stopped) {
      try {
        parser.finish();
        if (!parser.complete()) contract_violation("finish() returned, yet the response is not complete");
      } catch (const http::TruncatedError&) {
        out.truncated = true;
        if (parser.complete()) contract_violation("finish() raised TruncatedError for a complete response");
      }
    }
  } catch (const http::ProtocolError&) {
    out.protocol_error = true;
  } catch (const std::exception& e) {
    contract_violation(std::string("ResponseParser raised ") + typeid(e).name() + ": " + e.what());
  }
  out.complete = parser.complete();
  out.headers_complete = parser.headers_complete();
  out.response = parser.response();
  out.framing = parser.framing();
  out.content_length = parser.content_length();
  out.body_bytes = parser.body_bytes();
  (void)parser.progress();
  (void)parser.reusable();
  if (out.headers_complete) {
    (void)out.response.version_text();
    (void)out.response.keep_alive();
  }
  return out;
}

void check(const Outcome& o, bool head) {
  if (o.body_bytes != o.body.size()) contract_violation("body_bytes() differs from the body bytes handed out");
  if (!o.complete || o.protocol_error) return;
  if ((head || o.framing == http::Framing::none) && !o.body.empty()) contract_violation("a body where none belongs");
  if (o.framing == http::Framing::content_length && (!o.content_length || *o.content_length != o.body.size()))
    contract_violation("a Content-Length body of another length");
  if (o.response.status < 100 || o.response.status > 999) contract_violation("a status code outside 100..999");
  if (o.response.status < 200) contract_violation("an interim (1xx) response reported as the final one");
}

void compare(const Outcome& a, const Outcome& b) {
  auto differ = [](const char* what) {
    contract_violation(std::string("chunked vs whole parse: ") + what + " differs");
  };
  if (a.protocol_error != b.protocol_error) differ("ProtocolError");
  if (a.protocol_error) return;
  if (a.truncated != b.truncated) differ("TruncatedError");
  if (a.complete != b.complete) differ("complete()");
  if (a.headers_complete != b.headers_complete) differ("headers_complete()");
  if (a.used != b.used) differ("the bytes used");
  if (a.body != b.body) differ("the body");
  if (a.framing != b.framing) differ("framing()");
  if (a.content_length != b.content_length) differ("content_length()");
  if (!a.headers_complete) return;
  if (a.response.status != b.response.status || a.response.version != b.response.version ||
      a.response.reason != b.response.reason)
    differ("the status line");
  if (!same_fields(a.response.headers, b.response.headers)) differ("the header fields");
  if (!same_fields(a.response.trailers, b.response.trailers)) differ("the trailer fields");
}

void check_url(const http::Url& url) {
  if (url.target.empty() || url.target.front() != '/') contract_violation("a target not starting with '/'");
  if (url.target.find_first_of("# \r\n") != std::string::npos) contract_violation("a target with '#', space, CR or LF");
  if (url.host.empty()) contract_violation("an empty host");
  if (url.port == 0) contract_violation("port 0");
  http::Url again;
  try {
    again = http::parse_url(url.str());
  } catch (const std::exception& e) {
    contract_violation("str() of a parsed URL does not parse again: " + url.str() + ": " + e.what());
  }
  if (again.host != url.host || again.port != url.port || again.target != url.target)
    contract_violation("str() of a parsed URL parses to another URL: " + url.str());
}

void check_request(const std::string& request) {
  std::size_t end = request.find("\r\n\r\n");
  if (end == std::string::npos || end + 4 != request.size())
    contract_violation("a request head that ends early or not at all (header injection)");
  for (std::size_t i = 0; i < request.size(); ++i) {
    if (request[i] == '\r' && (i + 1 == request.size() || request[i + 1] != '\n')) contract_violation("a bare CR");
    if (request[i] == '\n' && (i == 0 || request[i - 1] != '\r')) contract_violation("a bare LF");
    if (request[i] == '\0') contract_violation("a NUL byte in a request head");
  }
}

void fuzz_urls(std::string_view payload) {
  std::size_t newline = payload.find('\n');
  std::string_view first = payload.substr(0, newline);
  std::string_view second = newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
  http::Request request;
  request.url = http::parse_url("https://example.com/a/b/c?q");
  try {
    request.url = http::parse_url(first);
    check_url(request.url);
  } catch (const std::invalid_argument&) {
  }
  try {
    check_url(http::resolve(request.url, second));
  } catch (const std::invalid_argument&) {
  }
  try {
    request.headers.push_back(http::parse_header_argument(second));
  } catch (const std::invalid_argument&) {
  }
  check_request(http::build_request(request, "tlsock-fuzz"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::FuzzInput input(data, size);
  std::uint8_t variant = input.variant();
  try {
    if ((variant & 4) != 0) {
      fuzz_urls(input.payload());
      return 0;
    }
  } catch (const std::exception& e) {
    contract_violation(std::string("URL or header parsing raised ") + typeid(e).name() + ": " + e.what());
  }
  bool head = (variant & 1) != 0;
  std::size_t limit = (variant & 2) != 0 ? 256 : http::ResponseParser::default_max_header_bytes;
  Outcome chunked = parse(head, limit, [&](auto&& f) { input.for_each_chunk(f); });
  Outcome whole = parse(head, limit, [&](auto&& f) {
    if (!input.payload().empty()) f(input.payload());
  });
  check(chunked, head);
  check(whole, head);
  compare(chunked, whole);
  return 0;
}
