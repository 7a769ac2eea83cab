// tlsock fetch: HTTP/1.1 over TLS from the command line, curl-like and predictable.
//
// One Client per connection target (host:port) keeps its TLS connection open between
// requests while the server allows (keep-alive); every connection shares one TLSSession,
// so a new connection resumes the TLS session. A Fetcher walks the URLs (and, with -L, the
// redirects), builds each request (http.hpp), hands each response to an Output (stdout,
// the -o file (output_file.hpp), or nothing with --json) and prints --json records.
//
// Exit codes (cli.hpp): 2 usage (bad URL, http://, -o with several URLs), 3 network (connect,
// timeout, a connection cut short), 4 TLS, and also a malformed HTTP response (a protocol
// error like a TLS one), 5 verification, 6 an HTTP status >= 400 (without -o the body is still
// written to stdout; -o gets none of it; later URLs are still fetched), 7 file I/O, 1 too many
// redirects or a redirect to a URL tlsock cannot fetch.
#include <unistd.h>  // isatty

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "cli/facts.hpp"
#include "cli/failure.hpp"
#include "cli/output_file.hpp"
#include "http/http.hpp"

namespace tlsock::cli {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

constexpr std::size_t read_size = 64 * 1024;

struct FetchOptions {
  std::vector<std::string> urls;
  std::string method;                // -X; default GET, or POST with --data
  std::optional<std::string> data;   // --data DATA or @FILE
  std::vector<std::string> headers;  // -H
  std::string output;                // -o
  bool include = false;              // -i
  bool location = false;             // -L
  int max_redirs = 10;
  bool json = false;
  bool no_progress = false;
  ConnectOptions connect;
};

std::string errno_text(int error) { return std::strerror(error); }

// --- output -----------------------------------------------------------------------------

void write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size())
    throw Failure(file_io, "writing to stdout: " + errno_text(errno));
}

// Where response bytes go: the -o file, stdout, or nowhere (--json without -o).
//
// The -o file gets bytes only once the final response's status is known to be a success:
// until then (the headers of redirects, with -i) they wait here, and an error status drops
// them. A replaced file then stays as it was, and what is written in place (a FIFO, a device,
// a pipe) receives nothing: its reader sees an empty stream once the command ends.
class Output {
 public:
  Output(OutputFile* file, bool to_stdout) : file_(file), to_stdout_(to_stdout) {}

  // Called with the status of the response whose body is the download (after the redirects).
  void final_status(int status) {
    status_known_ = true;
    accepted_ = status < 400;
    if (file_ != nullptr && accepted_) file_->write(held_);
    held_.clear();
  }

  void write(std::string_view data) {
    if (file_ == nullptr) {
      if (to_stdout_) write_stdout(data);
    } else if (!status_known_) {
      held_.append(data);
    } else if (accepted_) {
      file_->write(data);
    }
  }

  [[nodiscard]] bool to_stdout() const { return file_ == nullptr && to_stdout_; }

 private:
  OutputFile* file_;
  bool to_stdout_;
  bool status_known_ = false;
  bool accepted_ = false;
  std::string held_;
};

// "12.3 MiB"
std::string human_size(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

// A one-line progress bar on stderr (size, rate, ETA), only for a terminal, and only once a
// download has taken more than a second: short transfers and scripts see nothing.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void start(std::optional<std::uint64_t> total) {
    total_ = total;
    bytes_ = 0;
    start_ = Clock::now();
    last_draw_ = start_;
  }

  void advance(std::size_t bytes) {
    bytes_ += bytes;
    if (!enabled_) return;
    auto now = Clock::now();
    if (now - start_ < std::chrono::seconds(1) || now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    draw(std::chrono::duration<double>(now - start_).count());
  }

  // Erases the bar, so what follows (an error) starts on a clean line.
  void finish() {
    if (width_ == 0) return;
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(width_), "");
    std::fflush(stderr);
    width_ = 0;
  }

 private:
  void draw(double seconds) {
    double rate = static_cast<double>(bytes_) / seconds;
    std::string line = "  " + human_size(static_cast<double>(bytes_));
    if (total_ && *total_ > 0) {
      line += " / " + human_size(static_cast<double>(*total_));
      line += "  " + std::to_string(bytes_ * 100 / *total_) + "%";
    }
    line += "  " + human_size(rate) + "/s";
    if (total_ && rate > 0 && *total_ > bytes_) {
      auto eta = static_cast<long long>(static_cast<double>(*total_ - bytes_) / rate);
      char text[32];
      std::snprintf(text, sizeof text, "  ETA %lld:%02lld", eta / 60, eta % 60);
      line += text;
    }
    std::size_t shown = line.size();
    if (line.size() < width_) line.append(width_ - line.size(), ' ');
    std::fprintf(stderr, "\r%s", line.c_str());
    std::fflush(stderr);
    width_ = std::max(width_, shown);
  }

  bool enabled_;
  std::optional<std::uint64_t> total_;
  std::uint64_t bytes_ = 0;
  Clock::time_point start_{}, last_draw_{};
  std::size_t width_ = 0;  // of the bar on screen; 0 when none is drawn
};

// "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n", as -i shows it.
std::string header_block(const http::Response& response) {
  std::string out = response.version_text() + " " + std::to_string(response.status);
  if (!response.reason.empty()) out += " " + response.reason;
  out += "\r\n";
  for (const http::Field& field : response.headers) out += field.name + ": " + field.value + "\r\n";
  return out + "\r\n";
}

// --- connections ------------------------------------------------------------------------

// What --json reports about the TLS connection a response came over.
// One request and its response, as the Fetcher needs them afterwards.
struct Exchange {
  http::Response response;
  std::uint64_t body_bytes = 0;
  std::optional<std::uint64_t> content_length;
  ConnectionFacts connection;
  bool reused_connection = false;
};

// Called with the final response's headers (before any of its body), then with its body.
struct ResponseHandlers {
  std::function<void(const http::ResponseParser& parser)> headers;
  std::function<void(std::string_view bytes)> body;
};

// One connection target, host:port. Keeps the TLS connection between requests while the
// server allows it; opens a new one (resuming the TLS session) when it does not.
class Client {
 public:
  Client(const ConnectOptions& options, std::shared_ptr<TLSSession> session, std::string host, std::uint16_t port)
      : options_(options), session_(std::move(session)), host_(std::move(host)), port_(port) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() { disconnect(); }

  [[nodiscard]] bool serves(const http::Url& url) const { return url.host == host_ && url.port == port_; }

  // Sends request (the whole message) and reads its response through handlers. A kept
  // connection that the server closed meanwhile is replaced once, before any response
  // byte arrived; any failure after that propagates. close_after: the request said
  // "Connection: close".
  Exchange exchange(const std::string& request, bool head_request, const ResponseHandlers& handlers, bool close_after) {
    for (;;) {
      bool reused = connect();  // a new connection is never retried: attempt() returns or throws
      try {
        if (auto result = attempt(request, head_request, handlers, reused)) {
          if (close_after) disconnect();
          return *result;
        }
      } catch (...) {
        disconnect();
        throw;
      }
      disconnect();  // the kept connection was stale: once more on a new one
    }
  }

 private:
  // True when the kept connection is used, false for a new one.
  bool connect() {
    if (socket_) {
      bool stale = true;
      try {
        // Anything readable now, before the request, is the server's EOF or garbage.
        stale = socket_->select_read(std::chrono::duration<double>(0));
      } catch (const std::exception&) {
      }
      if (!stale) return true;
      disconnect();
    }
    socket_.emplace(cli::connect(options_, session_, host_, port_));
    facts_ = facts_of(*socket_);
    return false;
  }

  void disconnect() noexcept {
    if (!socket_) return;
    try {
      socket_->close();
    } catch (const std::exception&) {
    }
    socket_.reset();
  }

  // std::nullopt: the kept connection (kept: true) turned out closed before the response
  // started, so the request can be sent again on a new one.
  std::optional<Exchange> attempt(const std::string& request, bool head_request, const ResponseHandlers& handlers,
                                  bool kept) {
    http::ResponseParser parser(head_request);
    try {
      socket_->write(request);
    } catch (const TLSDisconnectError&) {
      if (kept) return std::nullopt;
      throw;
    }
    bool headers_seen = false;
    bool leftover = false;
    std::string body;
    while (!parser.complete()) {
      std::string data;
      try {
        data = socket_->read(read_size);
      } catch (const TLSGracefulDisconnectError&) {
        if (!parser.started() && kept) return std::nullopt;
        end_of_response(parser);
        break;
      } catch (const TLSDisconnectError& error) {
        if (!parser.started() && kept) return std::nullopt;
        throw cut_short(error, parser);
      }
      body.clear();
      std::size_t used = feed(parser, data, body);
      leftover = used < data.size();
      if (!headers_seen && parser.headers_complete()) {
        headers_seen = true;
        handlers.headers(parser);
      }
      if (!body.empty()) handlers.body(body);
    }
    // A TLS 1.3 server's tickets arrive after the handshake: the session facts are final
    // only now.
    if (socket_) {
      facts_.session_id = socket_->session_id();
      facts_.session_ticket = socket_->session_ticket();
    }
    // A response the server means to close after, one that ended with the connection, or
    // bytes past its end (nothing we asked for): the connection is not kept.
    if (!parser.reusable() || leftover) disconnect();
    return Exchange{parser.response(), parser.body_bytes(), parser.content_length(), facts_, kept};
  }

  std::size_t feed(http::ResponseParser& parser, std::string_view data, std::string& body) const {
    try {
      return parser.feed(data, body);
    } catch (const http::ProtocolError& error) {
      throw Failure(tls, "invalid HTTP response from " + where() + ": " + error.what());
    }
  }

  // The server sent close_notify: the end of a close-delimited body, or a truncation.
  void end_of_response(http::ResponseParser& parser) const {
    try {
      parser.finish();
    } catch (const http::TruncatedError& error) {
      throw Failure(network, "the response from " + where() + " was cut short: " + error.what());
    }
  }

  // The connection ended without close_notify: always a truncation, even of a
  // close-delimited body, which could otherwise be silently short.
  Failure cut_short(const TLSDisconnectError& error, const http::ResponseParser& parser) const {
    std::string message = std::string(error.what()) + " (" + where() + ") ";
    if (!parser.started()) return Failure(network, message + "before sending a response");
    if (parser.framing() == http::Framing::until_close && parser.headers_complete())
      return Failure(network, message + parser.progress() + " without close_notify: the body may be truncated");
    return Failure(network, message + parser.progress());
  }

  [[nodiscard]] std::string where() const { return http::Url{host_, port_, "/"}.authority(); }

  const ConnectOptions& options_;
  std::shared_ptr<TLSSession> session_;
  std::string host_;
  std::uint16_t port_;
  std::optional<TLSSocket> socket_;
  ConnectionFacts facts_;
};

// --- requests ---------------------------------------------------------------------------

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
    return http::parse_url(text);
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

Json reuse_json(const std::optional<SessionReuse>& reuse) {
  std::optional<std::string> text = reuse_text(reuse);
  return text ? Json(*text) : Json(nullptr);
}

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

Json exchange_json(const std::string& url, const http::Url& effective, int redirects, const Exchange& exchange,
                   const std::string& output) {
  const ConnectionFacts& facts = exchange.connection;
  Json certificate = nullptr;
  if (const Certificate* leaf = facts.certificate()) {
    certificate = {{"subject", leaf->subject()},
                   {"issuer", leaf->issuer()},
                   {"not_after", format_utc(leaf->not_after())},
                   {"sha256", leaf->sha256_fingerprint()}};
  }
  Json connection = {{"address", facts.address},
                     {"reused", exchange.reused_connection},
                     {"protocol", facts.protocol},
                     {"cipher_suite", facts.cipher_suite},
                     {"alpn", facts.alpn.empty() ? Json(nullptr) : Json(facts.alpn)},
                     {"session_id", reuse_json(facts.session_id)},
                     {"session_ticket", reuse_json(facts.session_ticket)},
                     {"certificate", certificate}};
  const http::Response& response = exchange.response;
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
          {"connection", connection}};
}

// --- the command ------------------------------------------------------------------------

// Fetches each URL in turn, reusing the connection while the target stays the same.
class Fetcher {
 public:
  explicit Fetcher(FetchOptions options) : options_(std::move(options)) {}

  int run() {
    validate();
    options_.connect.alpn = {"http/1.1"};
    session_ = make_session(options_.connect);
    int result = success;
    try {
      for (const std::string& url : options_.urls) {
        int code = fetch(url);
        if (result == success) result = code;
      }
    } catch (...) {
      save_sessions();
      throw;
    }
    save_sessions();
    return result;
  }

 private:
  void validate() {
    if (options_.urls.size() > 1 && !options_.output.empty() && options_.output != "-")
      throw Failure(usage, "-o FILE takes one URL, not " + std::to_string(options_.urls.size()));
    if (options_.max_redirs < 0) throw Failure(usage, "--max-redirs must be 0 or more");
    if (!options_.method.empty() && !http::is_token(options_.method))
      throw Failure(usage, "-X " + options_.method + ": not a valid method name");
    for (const std::string& url : options_.urls) (void)parse_url_argument(url);  // all bad URLs before any I/O
    for (const std::string& header : options_.headers) {
      try {
        headers_.push_back(http::parse_header_argument(header));
      } catch (const std::invalid_argument& error) {
        throw Failure(usage, error.what());
      }
    }
    if (options_.data) body_ = read_data_argument(*options_.data);
  }

  // One URL, with its redirects. Returns success or http_status; throws for anything else.
  int fetch(const std::string& text) {
    http::Request request;
    request.url = parse_url_argument(text);
    request.method = !options_.method.empty() ? options_.method : body_ ? "POST" : "GET";
    request.headers = headers_;
    request.body = body_;

    std::optional<OutputFile> file;
    if (!options_.output.empty() && options_.output != "-") file.emplace(options_.output);
    Output output{file ? &*file : nullptr, !options_.json};
    bool body_on_terminal = (output.to_stdout() && ::isatty(STDOUT_FILENO)) || (file && file->is_terminal());
    Progress progress(!options_.no_progress && ::isatty(STDERR_FILENO) && !body_on_terminal);

    for (int redirects = 0;; ++redirects) {
      bool follow = false;
      ResponseHandlers handlers;
      handlers.headers = [&](const http::ResponseParser& parser) {
        const http::Response& response = parser.response();
        follow = options_.location && is_redirect(response.status) && http::find(response.headers, "Location");
        if (!follow) output.final_status(response.status);
        if (options_.include) output.write(header_block(response));
        if (!follow) progress.start(parser.content_length());
      };
      handlers.body = [&](std::string_view bytes) {
        if (follow) return;  // a redirect's body is read (to keep the connection) and dropped
        output.write(bytes);
        progress.advance(bytes.size());
      };
      Exchange exchange = client_for(request.url)
                              .exchange(http::build_request(request, user_agent()), request.method == "HEAD", handlers,
                                        closes(request));
      progress.finish();
      if (follow) {
        if (redirects >= options_.max_redirs)
          throw Failure(failure, "more than " + std::to_string(options_.max_redirs) + " redirects, the last from " +
                                     request.url.str());
        http::Url next = location(exchange, request.url);
        request = redirected(std::move(request), exchange.response.status, next);
        continue;
      }
      return finish(text, request.url, redirects, exchange, file);
    }
  }

  // Commits -o, prints --json, and says whether the status was an error.
  int finish(const std::string& text, const http::Url& url, int redirects, const Exchange& exchange,
             std::optional<OutputFile>& file) {
    const http::Response& response = exchange.response;
    bool error_status = response.status >= 400;
    if (file && !error_status) file->commit();
    if (options_.json)
      write_stdout(exchange_json(text, url, redirects, exchange, file ? options_.output : "").dump() + "\n");
    if (std::fflush(stdout) != 0) throw Failure(file_io, "writing to stdout: " + errno_text(errno));
    if (!error_status) return success;
    std::cerr << "tlsock: HTTP error status " << response.status << (response.reason.empty() ? "" : " ")
              << response.reason << " (" << url.str() << ")\n";
    return http_status;
  }

  static http::Url location(const Exchange& exchange, const http::Url& base) {
    std::string_view value = *http::find(exchange.response.headers, "Location");
    try {
      return http::resolve(base, value);
    } catch (const std::invalid_argument& error) {
      throw Failure(failure, "cannot follow the redirect from " + base.str() + ": " + error.what());
    }
  }

  static bool closes(const http::Request& request) { return http::has_token(request.headers, "Connection", "close"); }

  Client& client_for(const http::Url& url) {
    if (!client_ || !client_->serves(url)) {
      client_.reset();  // one connection at a time: the old target's closes first
      client_.emplace(options_.connect, session_, url.host, url.port);
    }
    return *client_;
  }

  // --session-file, once the last connection is closed (closing takes in what the server
  // sent after the handshake, such as TLS 1.3 tickets).
  void save_sessions() noexcept {
    client_.reset();
    save_session_file(options_.connect, *session_);
  }

  static std::string user_agent() { return "tlsock/" + std::string(version()); }

  FetchOptions options_;
  http::Fields headers_;
  std::optional<std::string> body_;
  std::shared_ptr<TLSSession> session_;
  std::optional<Client> client_;
};

constexpr const char* fetch_description =
    "Fetch https:// URLs with HTTP/1.1, like curl: the body goes to stdout (or -o FILE), errors to stderr.\n"
    "Several URLs to the same host share one connection (keep-alive); new connections resume the TLS session.";

constexpr const char* fetch_footer =
    "--json prints one JSON object per URL instead of the body (the body still goes to -o FILE): url,\n"
    "effective_url, redirects, http_version, status, reason, headers and trailers (lower-case names), content_length,\n"
    "body_bytes, output, and connection: address, reused, protocol, cipher_suite, alpn, session_id and\n"
    "session_ticket (\"new\", \"reused\" or null), certificate (subject, issuer, not_after, sha256).\n"
    "-o FILE replaces a regular file atomically (a temporary file renamed over it, keeping its mode) or creates it;\n"
    "symbolic links are followed and stay links; a FIFO, a device, /dev/stdout or /dev/fd/N (a shell's >(cmd)) is\n"
    "written in place, never replaced; -o - is stdout.\n"
    "A status >= 400 still prints the body on stdout, but -o gets nothing (a file is left as it was, a FIFO or\n"
    "device receives no bytes and is closed), and exits 6 after the remaining URLs.\n"
    "A malformed HTTP response exits 4, like a TLS protocol error; a connection cut short exits 3.\n"
    "Honours SSL_CERT_FILE, SSL_CERT_DIR, SSLKEYLOGFILE, HTTPS_PROXY and NO_PROXY.\n";

}  // namespace

void add_fetch(CLI::App& app, int& result) {
  auto options = std::make_shared<FetchOptions>();
  auto* command = app.add_subcommand("fetch", fetch_description);
  command->add_option("url", options->urls, "https:// URLs to fetch, in order")->required();
  command->add_option("-X,--request", options->method, "Request method (default GET, or POST with --data)");
  command->add_option("-d,--data", options->data, "Send DATA as the request body, or the bytes of FILE with @FILE");
  command
      ->add_option("-H,--header", options->headers,
                   "Add a request header \"Name: value\" (repeatable; an empty "
                   "value removes one of tlsock's)")
      ->allow_extra_args(false);
  command->add_option("-o,--output", options->output, "Write the body to FILE (see below; - is stdout; one URL only)")
      ->type_name("FILE");
  command->add_flag("-i,--include", options->include, "Show the status line and headers before the body");
  command->add_flag("-L,--location", options->location, "Follow redirects (301, 302, 303, 307, 308)");
  command->add_option("--max-redirs", options->max_redirs, "Follow at most N redirects (default 10)");
  command->add_flag("--json", options->json, "Print connection and response facts as JSON instead of the body");
  command->add_flag("--no-progress", options->no_progress, "Never show the progress bar");
  add_connect_options(*command, options->connect);
  command->footer(std::string(fetch_footer) + exit_code_help);
  command->callback([options, &result] {
    result = guarded([&] {
      try {
        return Fetcher(*options).run();
      } catch (...) {
        std::fflush(stdout);  // what arrived of the body comes before the error line
        throw;
      }
    });
  });
}

}  // namespace tlsock::cli
