// The HTTP/1.1 side of `tlsock fetch`, without any I/O: https:// URLs and their resolution
// (RFC 3986), request bytes, and an incremental response parser (RFC 9112) that is fed
// whatever the socket returned and hands back the decoded body.
//
//   http::ResponseParser parser(head_request);
//   std::string body;
//   std::size_t used = parser.feed(bytes, body);   // body: decoded bytes, any framing
//   if (parser.headers_complete()) ... parser.response().status ...
//   if (parser.complete()) ... bytes past `used` belong to no response of ours
//   parser.finish();                               // on close_notify: ends a close-delimited body
//
// The parser is strict where RFC 9112 lets a recipient reject (and where leniency is what
// request smuggling and response splitting feed on): it throws ProtocolError for a bad
// status line, obs-fold, an invalid field name or value, Content-Length together with
// Transfer-Encoding, conflicting or malformed Content-Length, a transfer coding other than
// one "chunked", a bad chunk size, and a header section over its limit. It accepts a bare
// LF as a line ending (RFC 9112 section 2.2 allows that), never a bare CR.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tlsock::http {

// The response breaks HTTP/1.1's rules or the parser's limits.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The connection ended before the response did.
class TruncatedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An absolute https:// URL, split the way a request needs it.
struct Url {
  std::string host;  // lower-case; an IPv6 literal without its brackets
  std::uint16_t port = 443;
  std::string target = "/";  // path and query: the request-target (origin-form)
  bool secure = true;        // https://; false: http:// (only from parse_url(text, true))
  std::string userinfo;      // "user:password" as the URL has it (only from parse_url(text, true))

  // host[:port] for the Host header: brackets around IPv6, no port when it is the scheme's
  // default (443, or 80 for http://).
  [[nodiscard]] std::string authority() const;
  // "https://" (or "http://") + authority() + target: never the userinfo.
  [[nodiscard]] std::string str() const;
};

// host[:port] as a URL's authority has it: "example.com", "example.com:8443", "[::1]:443".
struct Authority {
  std::string host;  // lower-case; an IPv6 literal without its brackets
  std::optional<std::uint16_t> port;
};
// Throws std::invalid_argument "<what>: bad port ..." (or bad host name, bad IPv6 address).
[[nodiscard]] Authority parse_authority(std::string_view text, const std::string& what);

// Parses an absolute https:// URL. Throws std::invalid_argument saying what is wrong
// (http:// and other schemes, userinfo, a bad port or host, spaces or control characters).
// The fragment is dropped; an empty path becomes "/". fetch_forms: http:// URLs (port 80 by
// default) and userinfo ("user:password@") are accepted too, as `tlsock fetch` takes them.
[[nodiscard]] Url parse_url(std::string_view text, bool fetch_forms = false);

// Resolves a reference (a Location value) against base as RFC 3986 section 5.2 does:
// absolute URLs, "//host/path", "/path", "relative/path", "../path", "?query".
// Throws std::invalid_argument as parse_url does (a redirect to http:// included, unless
// fetch_forms: then the result says whether it is secure; its userinfo is always dropped).
[[nodiscard]] Url resolve(const Url& base, std::string_view reference, bool fetch_forms = false);

struct Field {
  std::string name;
  std::string value;
};
using Fields = std::vector<Field>;

// The value of the first field called name (case-insensitive).
[[nodiscard]] std::optional<std::string_view> find(const Fields& fields, std::string_view name);
// Whether a comma-separated list field (Connection, ...) holds token (case-insensitive).
[[nodiscard]] bool has_token(const Fields& fields, std::string_view name, std::string_view token);
// Whether name is a token (RFC 9110 section 5.6.2): what a field name or a method must be.
[[nodiscard]] bool is_token(std::string_view name);

struct Request {
  std::string method = "GET";
  Url url;
  // Sent after tlsock's own (Host, User-Agent, Accept, Connection, Content-Type,
  // Content-Length); one with the same name replaces tlsock's, one with an empty value
  // removes it (as curl's -H does).
  Fields headers;
  std::optional<std::string> body;  // sent with Content-Length
};

// Parses a -H argument, "Name: value". Throws std::invalid_argument for a missing colon,
// an invalid name, a CR, LF or NUL in the value, or a framing header (Content-Length,
// Transfer-Encoding) that tlsock sets itself.
[[nodiscard]] Field parse_header_argument(std::string_view text);

// The request's bytes: request line, header section, body.
[[nodiscard]] std::string build_request(const Request& request, std::string_view user_agent);

// --- the server side (tlsock serve) ---------------------------------------------------------

// A request head as a server reads it (RFC 9112): request line and header fields.
struct RequestHead {
  std::string line;  // the request line, for the log
  std::string method, target;
  int minor = 1;  // HTTP/1.<minor>
  Fields headers;

  // The values of every field called name (case-insensitive), in order.
  [[nodiscard]] std::vector<std::string_view> all(std::string_view name) const;
};

// Where a request head ends in buffer: the head's length (through the '\n' ending its last
// line) and the length with the blank line after it. std::nullopt while incomplete.
[[nodiscard]] std::optional<std::pair<std::size_t, std::size_t>> find_head_end(std::string_view buffer);

// Parses a request head (request line and field lines, each ending in "\n" or "\r\n", without
// the blank line) as RFC 9112 says a server must: single spaces in the request line, a token
// method, a target of visible ASCII, HTTP/1.x, no obs-fold, no whitespace before a colon, no
// control characters in values, exactly one Host in HTTP/1.1. Returns 0 when it is well-formed,
// else the status to answer with: 400, 431 (more than max_fields fields) or 505 (not HTTP/1.x).
// head.line is set as soon as the request line is known.
[[nodiscard]] int parse_request_head(std::string_view text, RequestHead& head, std::size_t max_fields);

// A Range header (RFC 9110 section 14.2) against a representation of size bytes. Only one
// byte range is served: several ranges, another unit or a malformed value give whole (the
// field is then ignored, as the RFC allows); a range that starts past the end (or a suffix
// range of 0 bytes, or any range of an empty file) gives unsatisfiable.
struct ByteRange {
  enum class Kind { whole, single, unsatisfiable } kind = Kind::whole;
  std::uint64_t first = 0, last = 0;  // for single: the bytes first..last, inclusive
};
[[nodiscard]] ByteRange parse_range(std::string_view value, std::uint64_t size);

// An HTTP-date (RFC 9110 section 5.6.7) in its preferred form, "Sun, 06 Nov 1994 08:49:37 GMT",
// as seconds since the epoch; std::nullopt for anything else (the obsolete forms included).
[[nodiscard]] std::optional<std::int64_t> parse_http_date(std::string_view text);
// time (seconds since the epoch) as an HTTP-date.
[[nodiscard]] std::string format_http_date(std::int64_t time);

// Whether an If-None-Match value ("*" or a list of entity-tags) matches etag, with the weak
// comparison RFC 9110 section 13.1.2 prescribes (W/ ignored).
[[nodiscard]] bool etag_matches(std::string_view if_none_match, std::string_view etag);

struct Response {
  int version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1 (and later 1.x)
  int status = 0;
  std::string reason;
  Fields headers;
  Fields trailers;  // from a chunked body

  // "HTTP/1.1"
  [[nodiscard]] std::string version_text() const;
  // Whether the server lets the connection stay open after this response (framing aside).
  [[nodiscard]] bool keep_alive() const;
};

// How the end of the body is found (RFC 9112 section 6.3).
enum class Framing {
  none,  // HEAD, 1xx, 204, 304, or Content-Length: 0
  content_length,
  chunked,
  until_close,  // read until the server closes (with close_notify)
};

class ResponseParser {
 public:
  static constexpr std::size_t default_max_header_bytes = 64 * 1024;

  // head_request: the response has no body whatever its headers say. max_header_bytes
  // bounds the header section (status line included, interim 1xx responses too) and,
  // separately, the trailer section.
  explicit ResponseParser(bool head_request = false, std::size_t max_header_bytes = default_max_header_bytes);

  // Consumes response bytes and appends the decoded body bytes they hold to body. Returns
  // how many bytes of data it used: all of them, unless the response ended inside data.
  // Throws ProtocolError; the parser is unusable after that.
  std::size_t feed(std::string_view data, std::string& body);
  // The server closed the connection cleanly (TLS close_notify): that ends a close-delimited
  // body. Throws TruncatedError, saying where, if the response was not complete.
  void finish();

  [[nodiscard]] bool started() const noexcept { return started_; }  // any byte fed
  [[nodiscard]] bool headers_complete() const noexcept;
  [[nodiscard]] bool complete() const noexcept;
  // The final (non-1xx) response; its headers are valid once headers_complete(), its
  // trailers once complete().
  [[nodiscard]] const Response& response() const noexcept { return response_; }
  [[nodiscard]] Framing framing() const noexcept { return framing_; }
  [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
  [[nodiscard]] std::uint64_t body_bytes() const noexcept { return body_bytes_; }
  // Interim responses (100 Continue, 103 Early Hints) skipped before the final one.
  [[nodiscard]] std::size_t interim_responses() const noexcept { return interim_; }
  // Complete, and both sides may keep the connection for another request.
  [[nodiscard]] bool reusable() const noexcept;
  // Where the response stopped, for a truncation message: "after 10 of 20 body bytes".
  [[nodiscard]] std::string progress() const;

 private:
  enum class State {
    status_line,
    header_line,
    body_length,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailer_line,
    until_close,
    done,
    failed,
  };

  // Appends up to the next LF to line_; true when the line is complete (line_ then holds it
  // without its ending). limit bounds line_ and counts against *section_bytes.
  bool take_line(std::string_view& data, std::size_t& section_bytes, std::size_t limit, const char* what);
  void on_status_line();
  void on_field_line(Fields& fields);
  void on_headers_end();
  void on_chunk_size_line();
  void choose_framing();
  [[noreturn]] void fail(const std::string& message);

  bool head_request_;
  std::size_t max_header_bytes_;
  State state_ = State::status_line;
  bool started_ = false;
  std::string line_;
  std::size_t header_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  Response response_;
  Framing framing_ = Framing::none;
  std::optional<std::uint64_t> content_length_;
  std::uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  std::uint64_t body_bytes_ = 0;
  std::size_t interim_ = 0;
};

}  // namespace tlsock::http
