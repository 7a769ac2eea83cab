// Shared pieces of the command line (see cli.hpp).
#include "cli/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <utility>

#include "cli/failure.hpp"
#include "cli/policy.hpp"
#include "http/http.hpp"

namespace tlsock::cli {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// Splits "a:b:[::1]:d" honouring brackets around IPv6 addresses.
std::vector<std::string> split_address_list(const std::string& text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ':' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  parts.push_back(current);
  return parts;
}

std::uint16_t parse_port(const std::string& text, const std::string& what) {
  try {
    std::size_t used = 0;
    int port = std::stoi(text, &used);
    if (used == text.size() && port > 0 && port < 65536) return static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(what + ": bad port \"" + text + "\"");
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const char* env(const char* upper, const char* lower_name) {
  if (const char* v = std::getenv(upper); v != nullptr && *v != '\0') return v;
  if (const char* v = std::getenv(lower_name); v != nullptr && *v != '\0') return v;
  return nullptr;
}

bool bypasses_proxy(const std::string& host) {
  const char* list = env("NO_PROXY", "no_proxy");
  if (list == nullptr) return false;
  std::string name = lower(host);
  for (std::string entry : split(list, ',')) {
    entry.erase(std::remove_if(entry.begin(), entry.end(), [](unsigned char c) { return std::isspace(c); }),
                entry.end());
    entry = lower(entry);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.front() == '.') entry.erase(0, 1);
    if (name == entry || (name.size() > entry.size() && name.ends_with("." + entry))) return true;
  }
  return false;
}

}  // namespace

// Proxy-Authorization: Basic for "user:password" (RFC 7617); fetch's -u too.
std::string basic_credentials(std::string_view credentials) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  std::size_t i = 0;
  auto byte = [&](std::size_t at) { return static_cast<unsigned>(static_cast<unsigned char>(credentials[at])); };
  for (; i + 2 < credentials.size(); i += 3) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    b64 += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i < credentials.size()) {
    unsigned v = byte(i) << 16 | (i + 1 < credentials.size() ? byte(i + 1) << 8 : 0);
    b64 += {table[v >> 18], table[(v >> 12) & 63], i + 1 < credentials.size() ? table[(v >> 6) & 63] : '=', '='};
  }
  return b64;
}

namespace {

// The largest answer to CONNECT accepted (status line and header section).
constexpr std::size_t max_proxy_answer = 16384;

// An HTTP CONNECT tunnel through proxy_url ("http://[user:pass@]host:port").
TCPStream tunnel(const std::string& proxy_url, const std::string& host, std::uint16_t port, double timeout) {
  std::string rest = proxy_url;
  if (rest.rfind("http://", 0) == 0)
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos)
    throw std::invalid_argument("HTTPS_PROXY: only http:// proxies are supported, not " + proxy_url);
  rest = rest.substr(0, rest.find('/'));
  std::string credentials;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::uint16_t proxy_port = 8080;
  std::string proxy_host = rest;
  if (auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
    proxy_host = rest.substr(0, colon);
    proxy_port = parse_port(rest.substr(colon + 1), "HTTPS_PROXY");
  }
  TCPStream stream = TCPStream::connect(proxy_host, proxy_port, timeout);
  std::string target = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!credentials.empty()) request += "Proxy-Authorization: Basic " + basic_credentials(credentials) + "\r\n";
  stream.write(request + "\r\n");
  // The answer, line by line through the HTTP parser (a 2xx answer to CONNECT has no body). A
  // proxy sends nothing of the tunnel before our ClientHello, so the stream holds nothing more
  // after it (TLSSocket::wrap would refuse what it did hold).
  http::ResponseParser parser(/*head_request=*/true, max_proxy_answer);
  stream.set_max_buffered_bytes(max_proxy_answer);
  std::string ignored;
  try {
    while (!parser.complete()) (void)parser.feed(stream.read_line(), ignored);
  } catch (const http::ProtocolError& error) {
    throw Failure(
        network, "proxy " + proxy_host + " answered CONNECT " + target + " with a malformed response: " + error.what());
  } catch (const TLSDisconnectError&) {
    throw std::runtime_error("proxy " + proxy_host + " closed the connection during CONNECT");
  }
  const http::Response& answer = parser.response();
  if (answer.status != 200)
    throw Failure(network, "proxy " + proxy_host + " refused CONNECT " + target + ": " + answer.version_text() + " " +
                               std::to_string(answer.status) + (answer.reason.empty() ? "" : " " + answer.reason));
  return stream;
}

constexpr const char* cacert_help =
    "Trust only these CA certificates (PEM or DER file; repeatable): as curl, they replace the OS trust store. "
    "To add to it instead, use --cacert-add";
constexpr const char* cacert_add_help =
    "Trust these CA certificates as well as the OS trust store (PEM or DER file; repeatable). With --cacert: "
    "trusted with its files, still without the OS store";

// --session-file: the sessions of an earlier run. A file that is not there yet is the first
// run; one that cannot be used (damaged, from another mbedTLS, made with other trust
// settings) is a warning, as curl does, and the run starts without it (and replaces it).
void load_session_file(const ConnectOptions& options, TLSSession& session) {
  if (options.session_file.empty()) return;
  std::error_code missing;
  if (!std::filesystem::exists(options.session_file, missing)) return;
  try {
    (void)session.load_sessions(options.session_file);
  } catch (const std::exception& error) {
    warn("--session-file: " + std::string(error.what()) + "; starting without saved sessions");
  }
}

}  // namespace

int report(const std::exception& error) {
  std::cerr << "tlsock: " << error.what() << "\n";
  if (const auto* failure = dynamic_cast<const Failure*>(&error)) return failure->code();
  if (dynamic_cast<const TLSVerificationError*>(&error)) return verification;
  if (dynamic_cast<const TLSDisconnectError*>(&error)) return network;
  if (dynamic_cast<const TLSError*>(&error)) return tls;
  if (dynamic_cast<const std::filesystem::filesystem_error*>(&error)) return file_io;
  if (dynamic_cast<const TimeoutError*>(&error)) return network;
  if (dynamic_cast<const std::system_error*>(&error)) return network;
  if (dynamic_cast<const std::invalid_argument*>(&error)) return usage;
  return failure;
}

CLI::Validator seconds_check(double max_seconds) {
  auto limit = std::to_string(static_cast<long long>(max_seconds));
  return CLI::Validator(
      [max_seconds, limit](std::string& text) -> std::string {
        double value = 0;
        try {
          std::size_t used = 0;
          value = std::stod(text, &used);
          if (used != text.size()) value = -1;
        } catch (const std::exception&) {
          value = -1;
        }
        if (value > 0 && value <= max_seconds) return {};
        return "must be a number of seconds above 0 and at most " + limit + ", not " + text;
      },
      "SECONDS");
}

void warn(const std::string& message) { std::cerr << "tlsock: warning: " << message << "\n"; }

void add_connect_options(CLI::App& command, ConnectOptions& options) {
  // Repeatable options take one value each: CLI11 would otherwise swallow the URLs after them.
  command.add_option("--cacert", options.cacert, cacert_help)->allow_extra_args(false);
  command.add_option("--cacert-add", options.cacert_add, cacert_add_help)->allow_extra_args(false);
  command.add_flag("-k,--insecure", options.insecure, "Do not verify the server's certificate (prints a warning)");
  command.add_option("--tls-version", options.tls_version,
                     "Use exactly this protocol: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3");
  command.add_option("--tls-min", options.tls_min, "Accept this protocol version and newer");
  command
      .add_option("--connect-to", options.connect_to,
                  "HOST:PORT:ADDR:PORT2 - connect to ADDR:PORT2 instead of HOST:PORT (as curl; repeatable)")
      ->allow_extra_args(false);
  command.add_option("--resolve", options.resolve, "HOST:PORT:ADDR - use ADDR for HOST:PORT (as curl; repeatable)")
      ->allow_extra_args(false);
  command.add_option("--timeout", options.timeout, "Seconds allowed for each connect, read or write (default 30)")
      ->check(seconds_check());
  command.add_option("--cert", options.cert, "Client certificate chain (PEM), for servers that ask for one");
  command.add_option("--key", options.key, "Private key of --cert (PEM or DER)");
  command.add_flag("--noproxy-all", options.no_proxy, "Ignore HTTPS_PROXY (and fetch's -x)");
  command.add_option("--session-file", options.session_file,
                     "Resume TLS sessions saved in FILE by an earlier run and save this run's there "
                     "(like curl's --ssl-sessions; written 0600, atomically; an unusable FILE is a warning)");
}

std::shared_ptr<TLSSession> make_session(const ConnectOptions& options) {
  auto made = std::make_shared<TLSSession>(session_options(options));
  load_session_file(options, *made);
  return made;
}

void save_session_file(const ConnectOptions& options, const TLSSession& session) {
  if (options.session_file.empty()) return;
  try {
    session.save_sessions(options.session_file);
  } catch (const std::exception& error) {
    warn("--session-file: " + std::string(error.what()) + "; this run's sessions were not saved");
  }
}

Target route(const ConnectOptions& options, const std::string& host, std::uint16_t port) {
  for (const std::string& rule : options.connect_to) {
    auto parts = split_address_list(rule);
    if (parts.size() != 4) throw Failure(usage, "--connect-to " + rule + ": expected HOST:PORT:ADDR:PORT");
    bool host_matches = parts[0].empty() || lower(parts[0]) == lower(host);
    bool port_matches = parts[1].empty() || parse_port(parts[1], "--connect-to") == port;
    if (host_matches && port_matches)
      return {parts[2].empty() ? host : parts[2], parts[3].empty() ? port : parse_port(parts[3], "--connect-to")};
  }
  for (const std::string& rule : options.resolve) {
    auto parts = split_address_list(rule);
    if (parts.size() != 3) throw Failure(usage, "--resolve " + rule + ": expected HOST:PORT:ADDR");
    if (lower(parts[0]) == lower(host) && parse_port(parts[1], "--resolve") == port) return {parts[2], port};
  }
  return {host, port};
}

TCPStream open_tcp(const ConnectOptions& options, const std::string& host, std::uint16_t port) {
  Target target = route(options, host, port);
  if (!options.no_proxy && !bypasses_proxy(host)) {
    if (!options.proxy.empty()) return tunnel(options.proxy, target.address, target.port, options.timeout);
    if (const char* proxy = env("HTTPS_PROXY", "https_proxy"); proxy != nullptr)
      return tunnel(proxy, target.address, target.port, options.timeout);
  }
  return TCPStream::connect(target.address, target.port, options.timeout);
}

TLSSocket connect(const ConnectOptions& options, const std::shared_ptr<TLSSession>& session, const std::string& host,
                  std::uint16_t port) {
  return TLSSocket::wrap(open_tcp(options, host, port), host, session, options.timeout);
}

}  // namespace tlsock::cli
