// tlsock fetch: HTTP/1.1 over TLS from the command line, curl-like and predictable.
//
// One Client per connection target (host:port) keeps its TLS connection open between
// requests while the server allows (keep-alive); every connection shares one TLSSession,
// so a new connection resumes the TLS session. A Fetcher walks the URLs (and, with -L, the
// redirects), builds each request (request.hpp), reads each response through a Client
// (client.hpp), hands its bytes to an Output (output.hpp: stdout, the -o file, or nothing with
// --json) and prints --json records (json.hpp).
//
// Exit codes (cli.hpp): 2 usage (bad URL, -o with several URLs), 3 network (connect,
// timeout, -m, a connection cut short), 4 TLS, and also a malformed HTTP response (a protocol
// error like a TLS one), 5 verification, 6 an HTTP status >= 400 (without -o the body is still
// written to stdout; -o gets none of it; later URLs are still fetched), 7 file I/O, 1 too many
// redirects or a redirect to a URL tlsock cannot fetch (https:// to http:// included), or a -C
// answer that does not continue the file.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "cli/output_file.hpp"
#include "cli/platform.hpp"
#include "fetch/client.hpp"
#include "fetch/decoder.hpp"
#include "fetch/json.hpp"
#include "fetch/output.hpp"
#include "fetch/request.hpp"
#include "http/http.hpp"

namespace tlsock::cli {
namespace {

struct FetchOptions {
  std::vector<std::string> urls;
  std::string method;                // -X; default GET, or POST with --data
  std::optional<std::string> data;   // --data DATA or @FILE
  std::vector<std::string> headers;  // -H
  std::string output;                // -o
  bool include = false;              // -i
  bool head = false;                 // -I: HEAD, headers shown
  bool fail = false;                 // -f: the default, accepted as curl users type it
  bool no_fail = false;              // --no-fail: an HTTP error status is a success
  bool location = false;             // -L
  int max_redirs = 10;
  bool json = false;
  bool no_progress = false;
  bool remote_name = false;  // -O: -o the last segment of the URL's path
  std::string user;          // -u USER:PASSWORD (Basic)
  std::string continue_at;   // -C -: resume the -o file
  bool compressed = false;   // --compressed: ask for gzip or deflate and undo it
  TransferOptions transfer;  // -v, -m
  ConnectOptions connect;
};

// "a%20b" -> "a b" (userinfo in URLs is percent-encoded).
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// -O: the last segment of the URL's path, which must be a plain file name.
std::string remote_file_name(const http::Url& url) {
  std::string path = url.target.substr(0, url.target.find('?'));
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.empty() || name == "." || name == ".." || name.find('\\') != std::string::npos)
    throw Failure(usage, "-O: " + url.str() + " has no file name at the end of its path (use -o FILE)");
  return name;
}

// "bytes 100-199/200" -> 100 (the first byte a 206 answer carries); nullopt if malformed.
std::optional<std::uint64_t> range_start(std::string_view content_range) {
  if (!content_range.starts_with("bytes ")) return std::nullopt;
  content_range.remove_prefix(6);
  std::uint64_t start = 0;
  std::size_t i = 0;
  for (; i < content_range.size() && std::isdigit(static_cast<unsigned char>(content_range[i])) != 0; ++i)
    start = start * 10 + static_cast<std::uint64_t>(content_range[i] - '0');
  if (i == 0 || i >= content_range.size() || content_range[i] != '-') return std::nullopt;
  return start;
}

// Fetches each URL in turn, reusing the connection while the target stays the same.
class Fetcher {
 public:
  explicit Fetcher(FetchOptions options) : options_(std::move(options)) {}

  int run() {
    validate();
    options_.transfer.start();
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

  // The URL being fetched when run() threw (empty before the first).
  [[nodiscard]] const std::string& current_url() const noexcept { return current_url_; }

 private:
  void validate() {
    if (options_.urls.size() > 1 && !options_.output.empty() && options_.output != "-")
      throw Failure(usage, "-o FILE takes one URL, not " + std::to_string(options_.urls.size()));
    if (options_.max_redirs < 0) throw Failure(usage, "--max-redirs must be 0 or more");
    if (options_.head && (options_.data || !options_.method.empty()))
      throw Failure(usage, "-I sends HEAD: it cannot be combined with -X or --data");
    if (options_.fail && options_.no_fail) throw Failure(usage, "-f and --no-fail cannot be combined");
    if (options_.remote_name && !options_.output.empty()) throw Failure(usage, "-O and -o cannot be combined");
    if (!options_.user.empty() && options_.user.find(':') == std::string::npos)
      throw Failure(usage, "-u " + options_.user + ": expected USER:PASSWORD (tlsock does not prompt)");
    if (!options_.continue_at.empty()) {
      if (options_.continue_at != "-")
        throw Failure(usage,
                      "-C " + options_.continue_at + ": only -C - (continue where the -o file ends) is supported");
      if (!options_.remote_name && (options_.output.empty() || options_.output == "-"))
        throw Failure(usage, "-C - continues a file: it needs -o FILE or -O");
      if (options_.include || options_.head || options_.json)
        throw Failure(usage, "-C - cannot be combined with -i, -I or --json");
    }
    if (options_.head) {
      options_.method = "HEAD";
      options_.include = true;
    }
    if (!options_.method.empty() && !http::is_token(options_.method))
      throw Failure(usage, "-X " + options_.method + ": not a valid method name");
    for (const std::string& text : options_.urls) {  // all bad URLs before any I/O
      http::Url url = parse_url_argument(text);
      if (options_.remote_name) (void)remote_file_name(url);
      if (!url.userinfo.empty() && options_.user.empty())
        warn("credentials in a URL are visible to other users (the process list) and kept in shell history");
      if (!url.secure && (!url.userinfo.empty() || !options_.user.empty()))
        warn(url.str() + ": Basic credentials over http:// are sent unencrypted");
    }
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
    current_url_ = text;
    http::Request request;
    request.url = parse_url_argument(text);
    request.method = !options_.method.empty() ? options_.method : body_ ? "POST" : "GET";
    request.headers = headers_;
    request.body = body_;
    add_credentials(request);
    if (options_.compressed) add_header(request, "Accept-Encoding", "gzip, deflate");

    std::string path = options_.remote_name ? remote_file_name(request.url) : options_.output;
    std::optional<OutputFile> file;
    if (!path.empty() && path != "-") file.emplace(path);
    std::uint64_t resume_from = 0;
    if (!options_.continue_at.empty()) {
      if (!file->replaces()) throw Failure(usage, "-C -: " + path + " is not a regular file");
      std::error_code missing;
      resume_from = std::filesystem::file_size(path, missing);
      if (missing) resume_from = 0;
      if (resume_from > 0) add_header(request, "Range", "bytes=" + std::to_string(resume_from) + "-");
    }
    bool stdout_terminal = platform::is_terminal(platform::stdout_fd);
    Output output{file ? &*file : nullptr, !options_.json, stdout_terminal && options_.output != "-"};
    bool body_on_terminal = (output.to_stdout() && stdout_terminal) || (file && file->is_terminal());
    Progress progress(!options_.no_progress && platform::is_terminal(platform::stderr_fd) && !body_on_terminal);

    for (int redirects = 0;; ++redirects) {
      bool follow = false;
      std::optional<std::string> encoding;  // --compressed: of the final response
      std::unique_ptr<Decoder> decoder;
      ResponseHandlers handlers;
      handlers.headers = [&](const http::ResponseParser& parser) {
        const http::Response& response = parser.response();
        options_.transfer.say_lines("< ", header_block(response));
        follow = options_.location && is_redirect(response.status) && http::find(response.headers, "Location");
        if (!follow && resume_from > 0) resume(response, resume_from, path, *file);
        if (!follow) output.final_status(!is_error(response.status));
        if (options_.include) output.write(header_block(response));
        if (!follow) progress.start(parser.content_length());
        if (auto value = http::find(response.headers, "Content-Encoding");
            !follow && options_.compressed && value && *value != "identity")
          encoding = std::string(*value);
      };
      handlers.body = [&](std::string_view bytes) {
        if (follow) return;  // a redirect's body is read (to keep the connection) and dropped
        progress.advance(bytes.size());
        if (!encoding) return output.write(bytes);
        if (!decoder)
          decoder = std::make_unique<Decoder>(*encoding, [&output](std::string_view out) { output.write(out); });
        decoder->feed(bytes);
      };
      std::string message = http::build_request(request, user_agent());
      Exchange exchange =
          client_for(request.url).exchange(message, request.method == "HEAD", handlers, closes(request));
      if (decoder) decoder->finish();
      if (follow) {
        progress.finish();
        if (redirects >= options_.max_redirs)
          throw Failure(failure, "more than " + std::to_string(options_.max_redirs) + " redirects, the last from " +
                                     request.url.str());
        http::Url next = location(exchange, request.url);
        request = redirected(std::move(request), exchange.response.status, next);
        continue;
      }
      progress.done();
      return finish(text, request.url, redirects, exchange, file);
    }
  }

  // Commits -o, prints --json, and says whether the status was an error.
  int finish(const std::string& text, const http::Url& url, int redirects, const Exchange& exchange,
             std::optional<OutputFile>& file) {
    const http::Response& response = exchange.response;
    bool error_status = is_error(response.status);
    if (file && !error_status) file->commit();
    if (options_.json)
      write_stdout(exchange_json(text, url, redirects, exchange, file ? options_.output : "",
                                 error_status ? http_status : success)
                       .dump() +
                   "\n");
    if (std::fflush(stdout) != 0) throw Failure(file_io, "writing to stdout: " + errno_text(errno));
    if (!error_status) return success;
    std::cerr << "tlsock: HTTP error status " << response.status << (response.reason.empty() ? "" : " ")
              << response.reason << " (" << url.str() << ")\n";
    return http_status;
  }

  static http::Url location(const Exchange& exchange, const http::Url& base) {
    std::string_view value = *http::find(exchange.response.headers, "Location");
    http::Url next;
    try {
      next = http::resolve(base, value, /*fetch_forms=*/true);
    } catch (const std::invalid_argument& error) {
      throw Failure(failure, "cannot follow the redirect from " + base.str() + ": " + error.what());
    }
    if (base.secure && !next.secure)
      throw Failure(failure, "refusing the redirect from " + base.str() + " to " + next.str() +
                                 ": https:// to http:// would send the request unencrypted");
    return next;
  }

  // -C -: a 206 must continue the file where it ends; its bytes are then appended to a copy
  // of the partial file (renamed over it once complete, so a failure leaves it as it was). A
  // 200 is the whole file again: safe to take, since the partial file is replaced only once
  // the whole new body has arrived.
  static void resume(const http::Response& response, std::uint64_t from, const std::string& path, OutputFile& file) {
    if (response.status == 200) {
      warn("-C -: the server sent the whole file (200), not the rest: " + path + " is replaced once it has arrived");
      return;
    }
    if (response.status != 206) return;  // an error status: handled as any other
    auto range = http::find(response.headers, "Content-Range");
    std::optional<std::uint64_t> start = range ? range_start(*range) : std::nullopt;
    if (start != from)
      throw Failure(failure, "-C -: asked for bytes from " + std::to_string(from) +
                                 " on, the server answered 206 with " +
                                 (range ? "Content-Range: " + std::string(*range) : std::string("no Content-Range")) +
                                 "; " + path + " is left as it was");
    std::ifstream partial(path, std::ios::binary);
    std::string chunk(1024 * 1024, '\0');
    std::uint64_t copied = 0;
    while (copied < from && partial) {
      partial.read(chunk.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(chunk.size(), from - copied)));
      auto got = static_cast<std::size_t>(partial.gcount());
      if (got == 0) break;
      file.write(std::string_view(chunk.data(), got));
      copied += got;
    }
    if (copied != from) throw Failure(file_io, "-C -: cannot read " + path + " to continue it");
  }

  // -u, or else the URL's userinfo: Basic credentials for the origin (redirected() drops them
  // on a change of host). A user's own -H Authorization wins.
  void add_credentials(http::Request& request) const {
    std::string credentials = options_.user;
    if (credentials.empty() && !request.url.userinfo.empty()) {
      const std::string& info = request.url.userinfo;
      std::size_t colon = info.find(':');
      credentials = percent_decoded(info.substr(0, colon)) + ":" +
                    (colon == std::string::npos ? "" : percent_decoded(info.substr(colon + 1)));
    }
    if (!credentials.empty()) add_header(request, "Authorization", "Basic " + basic_credentials(credentials));
  }

  // Adds a header unless the user's -H set one of that name.
  static void add_header(http::Request& request, const std::string& name, const std::string& value) {
    if (!http::find(request.headers, name)) request.headers.push_back({name, value});
  }

  // An HTTP error status (>= 400) fails the URL unless --no-fail.
  [[nodiscard]] bool is_error(int status) const { return status >= 400 && !options_.no_fail; }

  static bool closes(const http::Request& request) { return http::has_token(request.headers, "Connection", "close"); }

  Client& client_for(const http::Url& url) {
    if (!client_ || !client_->serves(url)) {
      client_.reset();  // one connection at a time: the old target's closes first
      client_.emplace(options_.connect, options_.transfer, session_, url);
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
  std::string current_url_;
};

constexpr const char* fetch_description =
    "Fetch https:// (and http://) URLs with HTTP/1.1, like curl: the body goes to stdout (or -o FILE), errors to "
    "stderr.\n"
    "Several URLs to the same host share one connection (keep-alive); new connections resume the TLS session.";

constexpr const char* fetch_footer =
    "--json prints one JSON object per URL instead of the body (the body still goes to -o FILE): url,\n"
    "effective_url, redirects, http_version, status, reason, headers and trailers (lower-case names), content_length,\n"
    "body_bytes, output, connection (probe --json's keys, plus reused: address, protocol, cipher_suite, alpn,\n"
    "compression, session_id and session_ticket (\"new\", \"reused\" or null), certificate (the leaf: subject, "
    "issuer,\n"
    "serial_number, not_before, not_after (RFC 3339), ..., sha256_fingerprint) and chain), error (null or {class,\n"
    "message, exit_code}) and exit_code. A URL that fails (TLS, network...) still gets its object: the same keys,\n"
    "null where nothing is known, and the error.\n"
    "-o FILE replaces a regular file atomically (a temporary file renamed over it, keeping its mode) or creates it;\n"
    "symbolic links are followed and stay links; a FIFO, a device, /dev/stdout or /dev/fd/N (a shell's >(cmd)) is\n"
    "written in place, never replaced; -o - is stdout.\n"
    "A body with a NUL byte is not written to a terminal (exit 7, as curl refuses) unless -o - asks for it.\n"
    "A status >= 400 still prints the body on stdout, but -o gets nothing (a file is left as it was, a FIFO or\n"
    "device receives no bytes and is closed), and exits 6 after the remaining URLs (-f says so too; --no-fail\n"
    "treats it as any other response).\n"
    "A malformed HTTP response exits 4, like a TLS protocol error; a connection cut short or -m running out exits 3.\n"
    "http:// URLs are plain HTTP (not encrypted; -x tunnels them too, HTTPS_PROXY does not); -L refuses a redirect\n"
    "from https:// to http:// (exit 1).\n"
    "-C - sends Range: bytes=N- (N: the file's size) and needs a 206 whose Content-Range starts at N (else exit 1,\n"
    "the file as it was); the file is replaced by the joined copy once complete. A 200 is the whole file again: it\n"
    "replaces the file once complete. --compressed output is decompressed in bounded steps (memory does not grow).\n"
    "Honours SSL_CERT_FILE, SSL_CERT_DIR, SSLKEYLOGFILE, HTTPS_PROXY and NO_PROXY.\n";

}  // namespace

void add_fetch(CLI::App& app, int& result) {
  auto options = std::make_shared<FetchOptions>();
  auto* command = app.add_subcommand("fetch", fetch_description);
  command->add_option("url", options->urls, "https:// (or http://) URLs to fetch, in order")->required();
  command->add_option("-X,--request", options->method, "Request method (default GET, or POST with --data)");
  command->add_option("-d,--data", options->data, "Send DATA as the request body, or the bytes of FILE with @FILE");
  command
      ->add_option("-H,--header", options->headers,
                   "Add a request header \"Name: value\" (repeatable; an empty "
                   "value removes one of tlsock's)")
      ->allow_extra_args(false);
  command
      ->add_option(
          "-o,--output", options->output,
          "Write the body to FILE (see below; - is stdout, binary bodies on a terminal included; one URL only)")
      ->type_name("FILE");
  command->add_flag("-i,--include", options->include, "Show the status line and headers before the body");
  command->add_flag("-I,--head", options->head, "Send HEAD and show the status line and headers");
  command->add_flag("-f,--fail", options->fail,
                    "An HTTP error status (>= 400) exits 6 and -o gets no body: the default, as curl -f");
  command->add_flag("--no-fail", options->no_fail,
                    "An HTTP error status is a response like any other: its body is written, exit 0");
  command->add_flag("-L,--location", options->location, "Follow redirects (301, 302, 303, 307, 308)");
  command->add_option("--max-redirs", options->max_redirs, "Follow at most N redirects (default 10)");
  command->add_flag("--json", options->json, "Print connection and response facts as JSON instead of the body");
  command->add_flag("--no-progress", options->no_progress, "Never show the progress bar");
  command->add_flag("-v,--verbose", options->transfer.verbose,
                    "Show the connection (TLS facts, certificate, resumption) and the request and response headers on "
                    "stderr (\"* \", \"> \", \"< \")");
  command
      ->add_option("-m,--max-time", options->transfer.max_time,
                   "Seconds allowed for the whole transfer: connects, handshakes and all reads (--timeout is per "
                   "operation)")
      ->check(seconds_check(7 * 86400));
  command->add_flag("-O,--remote-name", options->remote_name,
                    "Write the body to the file the URL's last path segment names, in the current directory (as -o)");
  command->add_option("-u,--user", options->user,
                      "Send USER:PASSWORD with HTTP Basic authentication (also from "
                      "https://USER:PASSWORD@HOST/; never sent to another host on a redirect)");
  command->add_option("-C,--continue-at", options->continue_at,
                      "- : continue the -o/-O file where it ends (Range: bytes=N-; see below)");
  command->add_flag("--compressed", options->compressed,
                    "Ask for a gzip or deflate body (Accept-Encoding) and decompress it (zlib)");
  command->add_option("-x,--proxy", options->connect.proxy,
                      "Tunnel through this HTTP CONNECT proxy: http://[USER:PASS@]HOST[:PORT] or HOST:PORT (before "
                      "HTTPS_PROXY; NO_PROXY and --noproxy-all apply to it too)");
  command->add_option("--pass", options->connect.key_password, "The password of an encrypted --key")
      ->type_name("PASSPHRASE");
  add_connect_options(*command, options->connect);
  command->footer(std::string(fetch_footer) + exit_code_help);
  command->callback([options, &result] {
    std::optional<Fetcher> fetcher;
    try {
      result = fetcher.emplace(*options).run();
    } catch (const std::exception& error) {
      std::fflush(stdout);  // what arrived of the body comes before the error line
      result = report(error);
      // --json: a failure is a record on stdout too (the same keys, null where unknown).
      if (options->json)
        std::cout << failure_json(fetcher ? fetcher->current_url() : "", result, error.what()).dump() << std::endl;
    }
  });
}

}  // namespace tlsock::cli
