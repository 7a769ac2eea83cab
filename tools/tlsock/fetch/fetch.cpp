// tlsock fetch: HTTP/1.1 over TLS from the command line, curl-like and predictable.
//
// One Client per connection target (host:port) keeps its TLS connection open between
// requests while the server allows (keep-alive); every connection shares one TLSSession,
// so a new connection resumes the TLS session. A Fetcher walks the URLs (and, with -L, the
// redirects), builds each request (request.hpp), reads each response through a Client
// (client.hpp), hands its bytes to an Output (output.hpp: stdout, the -o file, or nothing with
// --json) and prints --json records (json.hpp).
//
// Exit codes (cli.hpp): 2 usage (bad URL, http://, -o with several URLs), 3 network (connect,
// timeout, a connection cut short), 4 TLS, and also a malformed HTTP response (a protocol
// error like a TLS one), 5 verification, 6 an HTTP status >= 400 (without -o the body is still
// written to stdout; -o gets none of it; later URLs are still fetched), 7 file I/O, 1 too many
// redirects or a redirect to a URL tlsock cannot fetch.
#include <cerrno>
#include <cstdio>
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
  ConnectOptions connect;
};

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
    if (options_.head && (options_.data || !options_.method.empty()))
      throw Failure(usage, "-I sends HEAD: it cannot be combined with -X or --data");
    if (options_.fail && options_.no_fail) throw Failure(usage, "-f and --no-fail cannot be combined");
    if (options_.head) {
      options_.method = "HEAD";
      options_.include = true;
    }
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
    bool stdout_terminal = platform::is_terminal(platform::stdout_fd);
    Output output{file ? &*file : nullptr, !options_.json, stdout_terminal && options_.output != "-"};
    bool body_on_terminal = (output.to_stdout() && stdout_terminal) || (file && file->is_terminal());
    Progress progress(!options_.no_progress && platform::is_terminal(platform::stderr_fd) && !body_on_terminal);

    for (int redirects = 0;; ++redirects) {
      bool follow = false;
      ResponseHandlers handlers;
      handlers.headers = [&](const http::ResponseParser& parser) {
        const http::Response& response = parser.response();
        follow = options_.location && is_redirect(response.status) && http::find(response.headers, "Location");
        if (!follow) output.final_status(!is_error(response.status));
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

  // An HTTP error status (>= 400) fails the URL unless --no-fail.
  [[nodiscard]] bool is_error(int status) const { return status >= 400 && !options_.no_fail; }

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
    "A body with a NUL byte is not written to a terminal (exit 7, as curl refuses) unless -o - asks for it.\n"
    "A status >= 400 still prints the body on stdout, but -o gets nothing (a file is left as it was, a FIFO or\n"
    "device receives no bytes and is closed), and exits 6 after the remaining URLs (-f says so too; --no-fail\n"
    "treats it as any other response).\n"
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
