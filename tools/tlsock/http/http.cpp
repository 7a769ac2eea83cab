// URLs, request bytes and the incremental HTTP/1.1 response parser (see http.hpp).
#include "http/http.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

namespace tlsock::http {
namespace {

// Bodies and chunks larger than this are refused as nonsense (4 EiB): it keeps every size
// well inside 64-bit arithmetic.
constexpr std::uint64_t max_body_size = std::uint64_t{1} << 62;
// A chunk-size line is a few hex digits plus extensions that nobody uses; more is an attack.
constexpr std::size_t max_chunk_line_bytes = 4096;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

// A control character that a field value or reason phrase must not hold (HTAB is allowed).
bool is_forbidden_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> items;
  for (;;) {
    std::size_t comma = text.find(',');
    items.push_back(trim_ows(text.substr(0, comma)));
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

// Text from the wire made safe for a one-line error message: non-printable bytes as \xNN,
// cut after 60 characters.
std::string quote(std::string_view text) {
  std::string out = "\"";
  std::size_t shown = std::min<std::size_t>(text.size(), 60);
  for (std::size_t i = 0; i < shown; ++i) {
    auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\') {
      out += text[i];
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  out += text.size() > shown ? "\"..." : "\"";
  return out;
}

std::string hex_byte(char c) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(c));
  return hex;
}

// --- URLs -------------------------------------------------------------------------------

// Characters a URL may hold as they are: printable ASCII but space. The rest must be
// percent-encoded, and a URL from a command line or a Location header that holds them
// is a mistake worth stopping at.
void check_url_characters(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f)
      throw std::invalid_argument("URL " + quote(text) + ": contains a space, a control or a non-ASCII character (" +
                                  hex_byte(c) + "); percent-encode it");
  }
}

// The "scheme" of "scheme:rest", if the text starts with one (RFC 3986 section 3.1).
std::optional<std::string> scheme_of(std::string_view text) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(text[0])) return std::nullopt;
  for (std::size_t i = 1; i < colon; ++i) {
    char c = text[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return std::nullopt;
  }
  return lower(text.substr(0, colon));
}

// what: how errors name the text parsed ("URL \"https://...\"").
std::uint16_t parse_port(std::string_view text, const std::string& what) {
  unsigned long port = 0;
  for (char c : text) {
    if (!is_digit(c) || port > 65535) throw std::invalid_argument(what + ": bad port " + quote(text));
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port == 0 || port > 65535) throw std::invalid_argument(what + ": bad port " + quote(text));
  return static_cast<std::uint16_t>(port);
}

std::string parse_host(std::string_view text, const std::string& what) {
  if (text.empty()) throw std::invalid_argument(what + ": no host");
  if (text.front() == '[') {
    if (text.back() != ']' || text.size() < 4) throw std::invalid_argument(what + ": bad IPv6 address " + quote(text));
    std::string_view inside = text.substr(1, text.size() - 2);
    bool ok = inside.find(':') != std::string_view::npos &&
              std::all_of(inside.begin(), inside.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; });
    if (!ok) throw std::invalid_argument(what + ": bad IPv6 address " + quote(text));
    return lower(inside);
  }
  for (char c : text) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
      throw std::invalid_argument(what + ": bad host name " + quote(text));
  }
  return lower(text);
}

// "/a/b/../c/./d" -> "/a/c/d" (RFC 3986 section 5.2.4).
std::string remove_dot_segments(std::string_view input) {
  std::string output;
  while (!input.empty()) {
    if (input.starts_with("../")) {
      input.remove_prefix(3);
    } else if (input.starts_with("./") || input.starts_with("/./")) {
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.starts_with("/../") || input == "/..") {
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      std::size_t slash = output.rfind('/');
      output.erase(slash == std::string::npos ? 0 : slash);
    } else if (input == "." || input == "..") {
      input = {};
    } else {
      std::size_t next = input.find('/', input.front() == '/' ? 1 : 0);
      if (next == std::string_view::npos) next = input.size();
      output.append(input.substr(0, next));
      input.remove_prefix(next);
    }
  }
  return output;
}

// Splits "path?query#fragment" into path and "?query" (empty when there is none).
std::pair<std::string_view, std::string_view> split_target(std::string_view text) {
  text = text.substr(0, text.find('#'));
  std::size_t question = text.find('?');
  if (question == std::string_view::npos) return {text, {}};
  return {text.substr(0, question), text.substr(question)};
}

}  // namespace

std::string Url::authority() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (secure ? 443 : 80)) out += ":" + std::to_string(port);
  return out;
}

std::string Url::str() const { return (secure ? "https://" : "http://") + authority() + target; }

Authority parse_authority(std::string_view text, const std::string& what) {
  // The port's colon is the last one outside brackets; an empty port is no port (RFC 3986).
  std::size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(']', colon) != std::string_view::npos)
    colon = std::string_view::npos;
  Authority authority;
  authority.host = parse_host(text.substr(0, colon), what);
  if (colon != std::string_view::npos && colon + 1 < text.size())
    authority.port = parse_port(text.substr(colon + 1), what);
  return authority;
}

Url parse_url(std::string_view text, bool fetch_forms) {
  check_url_characters(text);
  std::optional<std::string> scheme = scheme_of(text);
  if (!scheme || text.substr(scheme->size(), 3) != "://")
    throw std::invalid_argument("URL " + quote(text) + ": not an absolute URL (expected https://HOST[:PORT][/PATH])");
  bool plain = fetch_forms && *scheme == "http";
  if (*scheme == "http" && !plain)
    throw std::invalid_argument("URL " + quote(text) +
                                ": http:// is not supported, tlsock fetch speaks HTTPS only (use https://)");
  if (*scheme != "https" && !plain)
    throw std::invalid_argument(
        "URL " + quote(text) + ": unsupported scheme \"" + *scheme +
        (fetch_forms ? "\", tlsock fetch speaks https:// and http:// only" : "\", tlsock fetch speaks https:// only"));
  std::string_view rest = text.substr(scheme->size() + 3);
  std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  Url url;
  url.secure = !plain;
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (!fetch_forms)
      throw std::invalid_argument("URL " + quote(text) +
                                  ": user names in URLs are not supported (send -H 'Authorization: ...' instead)");
    url.userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
  }
  Authority parsed = parse_authority(authority, "URL " + quote(text));
  url.host = std::move(parsed.host);
  url.port = parsed.port.value_or(plain ? 80 : 443);
  auto [path, query] = split_target(rest.substr(end));
  url.target = (path.empty() ? std::string("/") : std::string(path)) + std::string(query);
  return url;
}

Url resolve(const Url& base, std::string_view reference, bool fetch_forms) {
  check_url_characters(reference);
  auto absolute = [fetch_forms](std::string_view text) {
    Url url = parse_url(text, fetch_forms);
    url.userinfo.clear();
    return url;
  };
  if (scheme_of(reference)) return absolute(reference);
  if (reference.starts_with("//")) return absolute((base.secure ? "https:" : "http:") + std::string(reference));
  auto [base_path, base_query] = split_target(base.target);
  auto [path, query] = split_target(reference);
  bool has_query = reference.substr(0, reference.find('#')).find('?') != std::string_view::npos;
  Url url = base;
  url.userinfo.clear();
  std::string new_path;
  if (path.empty()) {
    new_path = base_path;
    if (!has_query) query = base_query;
  } else if (path.front() == '/') {
    new_path = remove_dot_segments(path);
  } else {
    std::string merged(base_path.substr(0, base_path.rfind('/') + 1));
    merged += path;
    new_path = remove_dot_segments(merged);
  }
  if (new_path.empty() || new_path.front() != '/') new_path.insert(0, "/");
  url.target = new_path + std::string(query);
  return url;
}

// --- fields and requests ----------------------------------------------------------------

std::optional<std::string_view> find(const Fields& fields, std::string_view name) {
  for (const Field& field : fields)
    if (iequals(field.name, name)) return std::string_view(field.value);
  return std::nullopt;
}

bool has_token(const Fields& fields, std::string_view name, std::string_view token) {
  for (const Field& field : fields) {
    if (!iequals(field.name, name)) continue;
    for (std::string_view item : split_list(field.value))
      if (iequals(item, token)) return true;
  }
  return false;
}

bool is_token(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// --- request heads (the server side) ---------------------------------------------------------

std::vector<std::string_view> RequestHead::all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const Field& field : headers)
    if (iequals(field.name, name)) values.emplace_back(field.value);
  return values;
}

std::optional<std::pair<std::size_t, std::size_t>> find_head_end(std::string_view buffer) {
  for (std::size_t at = buffer.find('\n'); at != std::string_view::npos; at = buffer.find('\n', at + 1)) {
    if (at + 1 < buffer.size() && buffer[at + 1] == '\n') return std::pair(at + 1, at + 2);
    if (at + 2 < buffer.size() && buffer[at + 1] == '\r' && buffer[at + 2] == '\n') return std::pair(at + 1, at + 3);
  }
  return std::nullopt;
}

int parse_request_head(std::string_view text, RequestHead& head, std::size_t max_fields) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return 400;  // a bare CR
    lines.push_back(line);
  }
  if (lines.empty()) return 400;
  head.line = std::string(lines[0]);

  // method SP request-target SP HTTP-version, single spaces.
  std::string_view line = lines[0];
  std::size_t first = line.find(' ');
  std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) return 400;
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (!is_token(method) || target.empty()) return 400;
  if (!std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) return 400;
  if (version.size() != 8 || !version.starts_with("HTTP/") || !is_digit(version[5]) || version[6] != '.' ||
      !is_digit(version[7]))
    return 400;
  if (version[5] != '1') return 505;
  head.method = std::string(method);
  head.target = std::string(target);
  head.minor = version[7] - '0';

  if (lines.size() - 1 > max_fields) return 431;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view field = lines[i];
    if (field.empty() || field.front() == ' ' || field.front() == '\t') return 400;  // obs-fold
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) return 400;
    std::string_view value = trim_ows(field.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), is_forbidden_control)) return 400;
    head.headers.push_back({lower(field.substr(0, colon)), std::string(value)});
  }
  std::size_t hosts = head.all("host").size();
  if (hosts > 1 || (head.minor >= 1 && hosts == 0)) return 400;
  return 0;
}

Field parse_header_argument(std::string_view text) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) throw std::invalid_argument("-H " + quote(text) + ": expected \"Name: value\"");
  std::string_view name = text.substr(0, colon);
  if (!is_token(name)) throw std::invalid_argument("-H " + quote(text) + ": invalid header name " + quote(name));
  std::string_view value = trim_ows(text.substr(colon + 1));
  for (char c : value)
    if (is_forbidden_control(c))
      throw std::invalid_argument("-H " + quote(text) + ": the value holds a control character (" + hex_byte(c) + ")");
  if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding"))
    throw std::invalid_argument("-H " + std::string(name) + ": tlsock sets the message framing itself (from --data)");
  return {std::string(name), std::string(value)};
}

std::string build_request(const Request& request, std::string_view user_agent) {
  Fields ours = {{"Host", request.url.authority()},
                 {"User-Agent", std::string(user_agent)},
                 {"Accept", "*/*"},
                 {"Connection", "keep-alive"}};
  if (request.body) {
    ours.push_back({"Content-Type", "application/x-www-form-urlencoded"});
    ours.push_back({"Content-Length", std::to_string(request.body->size())});
  }
  std::string out = request.method + " " + request.url.target + " HTTP/1.1\r\n";
  auto emit = [&out](const Field& field) {
    if (!field.value.empty()) out += field.name + ": " + field.value + "\r\n";
  };
  auto user_sets = [&request](std::string_view name) {
    return std::any_of(request.headers.begin(), request.headers.end(),
                       [name](const Field& field) { return iequals(field.name, name); });
  };
  // Ours first, each replaced in place by the user's of the same name; then the user's others.
  std::vector<bool> used(request.headers.size(), false);
  for (const Field& field : ours) {
    if (!user_sets(field.name) || field.name == "Content-Length") {
      emit(field);
      continue;
    }
    for (std::size_t i = 0; i < request.headers.size(); ++i) {
      if (!iequals(request.headers[i].name, field.name)) continue;
      emit(request.headers[i]);
      used[i] = true;
    }
  }
  for (std::size_t i = 0; i < request.headers.size(); ++i)
    if (!used[i]) emit(request.headers[i]);
  out += "\r\n";
  if (request.body) out += *request.body;
  return out;
}

// --- responses --------------------------------------------------------------------------

std::string Response::version_text() const { return version == 10 ? "HTTP/1.0" : "HTTP/1.1"; }

bool Response::keep_alive() const {
  if (has_token(headers, "Connection", "close")) return false;
  return version >= 11 || has_token(headers, "Connection", "keep-alive");
}

ResponseParser::ResponseParser(bool head_request, std::size_t max_header_bytes)
    : head_request_(head_request), max_header_bytes_(max_header_bytes) {}

bool ResponseParser::headers_complete() const noexcept {
  return state_ != State::status_line && state_ != State::header_line && state_ != State::failed;
}

bool ResponseParser::complete() const noexcept { return state_ == State::done; }

bool ResponseParser::reusable() const noexcept {
  return complete() && framing_ != Framing::until_close && response_.keep_alive();
}

void ResponseParser::fail(const std::string& message) {
  state_ = State::failed;
  throw ProtocolError(message);
}

bool ResponseParser::take_line(std::string_view& data, std::size_t& section_bytes, std::size_t limit,
                               const char* what) {
  std::size_t lf = data.find('\n');
  std::size_t taken = lf == std::string_view::npos ? data.size() : lf + 1;
  section_bytes += taken;
  if (section_bytes > limit) fail(std::string(what) + " larger than " + std::to_string(limit) + " bytes");
  line_.append(data.data(), lf == std::string_view::npos ? taken : lf);
  data.remove_prefix(taken);
  if (lf == std::string_view::npos) return false;
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

std::size_t ResponseParser::feed(std::string_view data, std::string& body) {
  if (state_ == State::failed) throw ProtocolError("the response was already found malformed");
  const std::size_t size = data.size();
  if (!data.empty()) started_ = true;
  while (!data.empty() && state_ != State::done) {
    switch (state_) {
      case State::status_line:
        if (take_line(data, header_bytes_, max_header_bytes_, "header section")) {
          on_status_line();
          line_.clear();
        } else if (!std::string_view("HTTP/").starts_with(std::string_view(line_).substr(0, 5))) {
          fail("bad status line " + quote(line_) + " (not an HTTP/1.x response)");  // no need to wait for a LF
        }
        break;
      case State::header_line:
        if (take_line(data, header_bytes_, max_header_bytes_, "header section")) {
          if (line_.empty()) {
            on_headers_end();
          } else {
            on_field_line(response_.headers);
          }
          line_.clear();
        }
        break;
      case State::body_length:
      case State::chunk_data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        body.append(data.data(), n);
        data.remove_prefix(n);
        body_bytes_ += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::body_length ? State::done : State::chunk_data_end;
        break;
      }
      case State::chunk_size: {
        std::size_t line_bytes = line_.size();
        if (take_line(data, line_bytes, max_chunk_line_bytes, "chunk size line")) {
          on_chunk_size_line();
          line_.clear();
        }
        break;
      }
      case State::chunk_data_end:
        // CRLF (or a bare LF) and nothing else after each chunk's data.
        if (data.front() == '\n') {
          data.remove_prefix(1);
          line_.clear();
          state_ = State::chunk_size;
        } else if (data.front() == '\r' && line_.empty()) {
          data.remove_prefix(1);
          line_ = "\r";
        } else {
          fail("chunk data not followed by CRLF (the chunk is longer than its size says)");
        }
        break;
      case State::trailer_line:
        if (take_line(data, trailer_bytes_, max_header_bytes_, "trailer section")) {
          if (line_.empty()) {
            state_ = State::done;
          } else {
            on_field_line(response_.trailers);
          }
          line_.clear();
        }
        break;
      case State::until_close:
        body.append(data);
        body_bytes_ += data.size();
        data = {};
        break;
      case State::done:
      case State::failed:
        break;
    }
  }
  return size - data.size();
}

void ResponseParser::on_status_line() {
  std::string_view line = line_;
  // HTTP-version SP status-code SP reason-phrase, the reason possibly empty. "HTTP/1.1 200"
  // without the second SP is tolerated, as most clients do.
  bool shaped = line.size() >= 12 && line.starts_with("HTTP/") && is_digit(line[5]) && line[6] == '.' &&
                is_digit(line[7]) && line[8] == ' ' && is_digit(line[9]) && is_digit(line[10]) && is_digit(line[11]) &&
                (line.size() == 12 || line[12] == ' ');
  if (!shaped) fail("bad status line " + quote(line));
  if (line[5] != '1') fail("unsupported version " + std::string(line.substr(0, 8)) + " (tlsock fetch speaks HTTP/1.1)");
  int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100 || status > 599) fail("bad status code " + std::string(line.substr(9, 3)));
  std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view();
  for (char c : reason)
    if (is_forbidden_control(c)) fail("control character " + hex_byte(c) + " in the status line " + quote(line));
  response_.version = line[7] == '0' ? 10 : 11;
  response_.status = status;
  response_.reason = std::string(reason);
  state_ = State::header_line;
}

void ResponseParser::on_field_line(Fields& fields) {
  std::string_view line = line_;
  if (line.front() == ' ' || line.front() == '\t')
    fail("obsolete line folding (a field line starting with whitespace) is refused: " + quote(line));
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) fail("field line without a colon: " + quote(line));
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) fail("invalid field name " + quote(name));
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value)
    if (is_forbidden_control(c)) fail("control character " + hex_byte(c) + " in the value of " + std::string(name));
  fields.push_back({std::string(name), std::string(value)});
}

void ResponseParser::on_headers_end() {
  if (response_.status < 200) {
    if (response_.status == 101) fail("unexpected 101 Switching Protocols (tlsock asked for no upgrade)");
    ++interim_;  // 100 Continue, 103 Early Hints...: the real response follows
    response_ = Response{};
    state_ = State::status_line;
    return;
  }
  choose_framing();
}

void ResponseParser::choose_framing() {
  std::vector<std::string> codings;
  bool has_transfer_encoding = false;
  std::optional<std::uint64_t> length;
  for (const Field& field : response_.headers) {
    if (iequals(field.name, "Transfer-Encoding")) {
      has_transfer_encoding = true;
      for (std::string_view coding : split_list(field.value))
        if (!coding.empty()) codings.push_back(lower(coding));
    } else if (iequals(field.name, "Content-Length")) {
      // "42" or the list "42, 42"; every value must be the same number (RFC 9110 section 8.6).
      for (std::string_view item : split_list(field.value)) {
        if (item.empty() || !std::all_of(item.begin(), item.end(), is_digit))
          fail("bad Content-Length " + quote(field.value));
        std::uint64_t value = 0;
        for (char c : item) {
          auto digit = static_cast<std::uint64_t>(c - '0');
          if (value > (max_body_size - digit) / 10) fail("Content-Length " + quote(field.value) + " is too large");
          value = value * 10 + digit;
        }
        if (length && *length != value)
          fail("conflicting Content-Length values (" + std::to_string(*length) + " and " + std::to_string(value) + ")");
        length = value;
      }
    }
  }
  if (has_transfer_encoding && length)
    fail("both Transfer-Encoding and Content-Length (RFC 9112 section 6.3: a smuggling signal)");
  if (has_transfer_encoding) {
    if (response_.version == 10) fail("Transfer-Encoding in an HTTP/1.0 response");
    if (codings.empty()) fail("empty Transfer-Encoding");
    for (const std::string& coding : codings)
      if (coding != "chunked") fail("unsupported transfer coding \"" + coding + "\" (tlsock asked for none)");
    if (codings.size() > 1) fail("the chunked transfer coding is applied more than once");
  }
  content_length_ = length;
  if (head_request_ || response_.status == 204 || response_.status == 304) {
    framing_ = Framing::none;
    state_ = State::done;
  } else if (has_transfer_encoding) {
    framing_ = Framing::chunked;
    state_ = State::chunk_size;
  } else if (length) {
    framing_ = *length == 0 ? Framing::none : Framing::content_length;
    remaining_ = *length;
    state_ = *length == 0 ? State::done : State::body_length;
  } else {
    framing_ = Framing::until_close;
    state_ = State::until_close;
  }
}

void ResponseParser::on_chunk_size_line() {
  std::string_view line = line_;
  std::size_t i = 0;
  std::uint64_t size = 0;
  for (; i < line.size() && is_hex(line[i]); ++i) {
    if (size > max_body_size / 16) fail("chunk size " + quote(line) + " is too large");
    size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
  }
  if (i == 0) fail("bad chunk size line " + quote(line));
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i < line.size()) {
    if (line[i] != ';') fail("bad chunk size line " + quote(line));
    for (char c : line.substr(i))
      if (is_forbidden_control(c)) fail("control character " + hex_byte(c) + " in a chunk extension");
  }
  if (size == 0) {
    state_ = State::trailer_line;
  } else {
    remaining_ = size;
    state_ = State::chunk_data;
  }
}

void ResponseParser::finish() {
  if (state_ == State::until_close) state_ = State::done;
  if (state_ == State::done) return;
  if (!started_) throw TruncatedError("the connection closed before a response arrived");
  throw TruncatedError("the connection closed " + progress());
}

std::string ResponseParser::progress() const {
  switch (state_) {
    case State::status_line:
    case State::header_line:
      return "in the middle of the response headers";
    case State::body_length:
      return "after " + std::to_string(body_bytes_) + " of " + std::to_string(content_length_.value_or(0)) +
             " body bytes";
    case State::chunk_size:
    case State::chunk_data:
    case State::chunk_data_end:
      return "in the middle of the chunked body, after " + std::to_string(body_bytes_) + " bytes";
    case State::trailer_line:
      return "in the middle of the trailer section";
    case State::until_close:
      return "after " + std::to_string(body_bytes_) + " body bytes";
    case State::done:
      return "after the complete response";
    case State::failed:
      break;
  }
  return "after a malformed response";
}

namespace {

// A decimal number of at most 18 digits (no sign, no spaces); std::nullopt otherwise.
std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  return value;
}

std::string_view without_weak(std::string_view tag) { return tag.starts_with("W/") ? tag.substr(2) : tag; }

}  // namespace

ByteRange parse_range(std::string_view value, std::uint64_t size) {
  value = trim_ows(value);
  if (value.size() < 6 || !iequals(value.substr(0, 6), "bytes=")) return {};
  std::string_view spec = trim_ows(value.substr(6));
  if (spec.find(',') != std::string_view::npos) return {};  // several ranges: the whole file
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view first_text = spec.substr(0, dash), last_text = spec.substr(dash + 1);
  ByteRange unsatisfiable{ByteRange::Kind::unsatisfiable, 0, 0};
  if (first_text.empty()) {  // "-N": the last N bytes
    std::optional<std::uint64_t> suffix = parse_decimal(last_text);
    if (!suffix) return {};
    if (*suffix == 0 || size == 0) return unsatisfiable;
    return {ByteRange::Kind::single, size - std::min(*suffix, size), size - 1};
  }
  std::optional<std::uint64_t> first = parse_decimal(first_text);
  if (!first) return {};
  std::optional<std::uint64_t> last = last_text.empty() ? first : parse_decimal(last_text);  // "N-": to the end
  if (!last || *last < *first) return {};
  if (*first >= size) return unsatisfiable;
  return {ByteRange::Kind::single, *first, last_text.empty() ? size - 1 : std::min(*last, size - 1)};
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  // IMF-fixdate: exactly 29 characters.
  static constexpr std::string_view days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = trim_ows(text);
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT")
    return std::nullopt;
  if (std::find(std::begin(days), std::end(days), text.substr(0, 3)) == std::end(days)) return std::nullopt;
  const auto* month_at = std::find(std::begin(months), std::end(months), text.substr(8, 3));
  if (month_at == std::end(months)) return std::nullopt;
  auto day_value = parse_decimal(text.substr(5, 2)), year_value = parse_decimal(text.substr(12, 4));
  auto hour = parse_decimal(text.substr(17, 2)), minute = parse_decimal(text.substr(20, 2));
  auto second = parse_decimal(text.substr(23, 2));
  if (!day_value || !year_value || !hour || !minute || !second || *day_value < 1 || *day_value > 31 || *hour > 23 ||
      *minute > 59 || *second > 60)
    return std::nullopt;
  namespace chrono = std::chrono;
  chrono::year_month_day date{chrono::year{static_cast<int>(*year_value)},
                              chrono::month{static_cast<unsigned>(month_at - std::begin(months)) + 1},
                              chrono::day{static_cast<unsigned>(*day_value)}};
  if (!date.ok()) return std::nullopt;
  chrono::seconds since_epoch = chrono::sys_days{date}.time_since_epoch() + chrono::hours(*hour) +
                                chrono::minutes(*minute) + chrono::seconds(*second);
  return static_cast<std::int64_t>(since_epoch.count());
}

// Portable (no gmtime_r on Windows): the calendar of <chrono>.
std::string format_http_date(std::int64_t time) {
  namespace chrono = std::chrono;
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  chrono::sys_seconds at{chrono::seconds{time}};
  chrono::sys_days date_days = chrono::floor<chrono::days>(at);
  chrono::year_month_day date{date_days};
  chrono::hh_mm_ss clock{at - date_days};
  char text[64];
  int n = std::snprintf(text, sizeof text, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                        day_names[chrono::weekday{date_days}.c_encoding()], static_cast<unsigned>(date.day()),
                        month_names[static_cast<unsigned>(date.month()) - 1], static_cast<int>(date.year()),
                        static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                        static_cast<int>(clock.seconds().count()));
  return {text, static_cast<std::size_t>(std::max(n, 0))};
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (trim_ows(if_none_match) == "*") return true;
  std::vector<std::string_view> tags = split_list(if_none_match);
  return std::any_of(tags.begin(), tags.end(),
                     [&](std::string_view tag) { return without_weak(tag) == without_weak(etag); });
}

}  // namespace tlsock::http
