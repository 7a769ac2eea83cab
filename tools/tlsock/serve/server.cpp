// tlsock serve: a static HTTPS file server (GET and HEAD, keep-alive) or a line echo server.
//
// Requests are read into a per-connection buffer with hard limits (request line, header
// block, header count) and parsed as RFC 9112 says a server must: one Host for HTTP/1.1,
// no whitespace before a colon, no obs-fold, no Transfer-Encoding it does not understand.
// Anything it rejects ends the connection after the error response, since the rest of the
// stream can no longer be framed.
#include "serve/server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "http/http.hpp"
#include "serve/files.hpp"

namespace tlsock::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Limits. A request line longer than max_request_line gets 414, a header block larger than
// max_head or with more than max_header_fields fields 431 (RFC 6585).
constexpr std::size_t max_request_line = 8 * 1024;
constexpr std::size_t max_head = 32 * 1024;
constexpr std::size_t max_header_fields = 100;
// A GET or HEAD may carry a small body (pointless, but allowed); it is read and dropped.
constexpr std::size_t max_ignored_body = 64 * 1024;
constexpr std::size_t max_echo_line = 64 * 1024;
constexpr std::size_t file_chunk = 64 * 1024;

// How long an echo connection may stay silent; how long each write may take. (The header
// and idle deadlines of HTTP are ServeConfig's.)
constexpr auto echo_idle_timeout = 300s;
constexpr auto io_timeout = 10s;
// How long a connection refused at the cap gets to take its 503.
constexpr auto refusal_timeout = 200ms;
// After stop(), a request that has started arriving gets this long to finish arriving.
constexpr auto stop_grace = 1s;
// After a failed accept (say EMFILE), how long the accept loop lets the workers free descriptors.
constexpr auto accept_backoff = 100ms;

std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// Text from the network, made safe for one log line: quotes, backslashes and control or
// non-ASCII bytes escaped, length capped.
std::string printable(std::string_view text, std::size_t limit = 512) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, limit)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string format_time(std::time_t time, const char* format) {
  std::tm tm{};
  ::gmtime_r(&time, &tm);
  char text[64];
  std::size_t n = std::strftime(text, sizeof text, format, &tm);
  return std::string(text, n);
}

// "127.0.0.1" of "127.0.0.1:443", "::1" of "[::1]:443"; "-" if unknown (access log style).
std::string host_of(const std::string& address) {
  std::size_t colon = address.rfind(':');
  if (address.empty() || colon == std::string::npos) return "-";
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

// Lines from many threads, each written whole.
class AccessLog {
 public:
  explicit AccessLog(std::function<void(const std::string&)> sink) : sink_(std::move(sink)) {}
  void write(const std::string& line) {
    std::lock_guard lock(mutex_);
    try {
      if (sink_) {
        sink_(line);
      } else {
        std::string text = line + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
      }
    } catch (...) {
      // A log that cannot be written must not take a connection down.
    }
  }

 private:
  std::mutex mutex_;
  std::function<void(const std::string&)> sink_;
};

// Who is on the other end of a connection, for the log.
struct Peer {
  std::string address;
  std::string server_name;  // SNI, "" if none
  std::string client;       // the client certificate's subject, "" if none

  explicit Peer(const TLSSocket& socket) : address(host_of(socket.peer_address())), server_name(socket.server_name()) {
    try {
      client = socket.certificate().subject();
    } catch (const std::exception&) {
    }
  }

  // 127.0.0.1 - - [22/Nov/2026:06:27:49 +0000] "GET / HTTP/1.1" 200 312 sni=localhost client="CN=..."
  [[nodiscard]] std::string log_line(std::string_view request, std::string_view status, std::size_t bytes) const {
    std::string line = address + " - - [" + format_time(std::time(nullptr), "%d/%b/%Y:%H:%M:%S +0000") + "] \"" +
                       printable(request) + "\" " + std::string(status) + " " + std::to_string(bytes) +
                       " sni=" + (server_name.empty() ? "-" : printable(server_name));
    if (!client.empty()) line += " client=\"" + printable(client) + "\"";
    return line;
  }
};

}  // namespace

struct HttpsServer::Impl {
  ServeConfig config;
  fs::path root;
  std::optional<TLSListener> listener;
  std::atomic<bool> stopping{false};

  // What each connection being served is doing, so that stopping ends the waits that would
  // outlast it without anyone polling a flag: stop() shuts idle connections down at once
  // (their blocked read ends), run() those whose request is still arriving after stop_grace.
  // A response being sent is never cut.
  enum class Phase { idle, reading, responding };
  struct Active {
    NativeSocket fd;
    Phase phase;
  };
  std::mutex active_mutex;
  std::condition_variable active_changed;
  std::list<Active> active;  // guarded by active_mutex, as is cut_off
  bool cut_off = false;      // stop_grace is over: no request may start arriving any more

  // Moves a connection to phase; false when stopping has ended it instead (its socket is then
  // shut down, and the caller's next read ends).
  bool enter(std::list<Active>::iterator at, Phase phase) {
    std::lock_guard lock(active_mutex);
    at->phase = phase;
    active_changed.notify_all();
    if ((phase == Phase::idle && stopping) || (phase == Phase::reading && cut_off)) {
      shutdown_socket(at->fd);
      return false;
    }
    return true;
  }
  AccessLog log;
  // Connection threads still running (guarded by active_mutex; run() waits for none).
  std::size_t threads = 0;

  explicit Impl(ServeConfig c) : config(std::move(c)), log(config.log) {}

  enum class Wait { ready, closed, stopping };
  enum class Head { ok, closed, stopping, timed_out, line_too_long, too_large };

  // Waits for the first byte of the next request (or echo line) on an idle connection.
  Wait wait_idle(TLSSocket& socket, std::list<Active>::iterator self, Clock::duration limit) {
    if (!enter(self, Phase::idle)) return Wait::stopping;
    bool ready = socket.select_read(limit);
    if (stopping) return Wait::stopping;  // stop() ended the wait, or came as it ended
    if (!ready) return Wait::closed;
    return enter(self, Phase::reading) ? Wait::ready : Wait::stopping;
  }

  // Reads more bytes into buffer before deadline. false on timeout; throws on disconnect (also
  // when stopping cut the request off).
  static bool read_more(TLSSocket& socket, std::string& buffer, Clock::time_point deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return false;
    socket.set_timeout(left);
    try {
      buffer += socket.read(16 * 1024);
    } catch (const TimeoutError&) {
      return false;
    }
    socket.set_timeout(io_timeout);
    return true;
  }

  // Reads one request head into head, leaving what follows it in buffer.
  Head read_head(TLSSocket& socket, std::list<Active>::iterator self, std::string& buffer, std::string& head) {
    // RFC 9112 2.2: empty lines before a request line are ignored.
    auto skip_blank_lines = [&] {
      std::size_t n = 0;
      while (n < buffer.size() && (buffer[n] == '\r' || buffer[n] == '\n')) ++n;
      buffer.erase(0, n);
    };
    skip_blank_lines();
    if (buffer.empty()) {
      Wait waited = wait_idle(socket, self, config.idle_timeout);
      if (waited != Wait::ready) return waited == Wait::stopping ? Head::stopping : Head::closed;
    }
    // The whole head must arrive within header_timeout of its first byte, however it is
    // dribbled: a slow client costs its own thread, never anyone else's wait.
    auto deadline = Clock::now() + config.header_timeout;
    if (!enter(self, Phase::reading)) return Head::stopping;
    for (;;) {
      skip_blank_lines();
      std::size_t line_end = buffer.find('\n');
      if (line_end == std::string::npos ? buffer.size() > max_request_line : line_end > max_request_line + 1)
        return Head::line_too_long;
      if (auto end = http::find_head_end(buffer)) {
        if (end->first > max_head) return Head::too_large;
        head = buffer.substr(0, end->first);
        buffer.erase(0, end->second);
        return Head::ok;
      }
      if (buffer.size() > max_head) return Head::too_large;
      try {
        if (!read_more(socket, buffer, deadline)) return Head::timed_out;
      } catch (const TLSDisconnectError&) {
        return Head::closed;  // the client left, perhaps mid-request: nobody to answer
      }
    }
  }

  // length: the Content-Length (none for 304).
  std::string response_head(int status, bool keep_alive, std::optional<std::uint64_t> length, std::string_view type,
                            const std::string& extra = {}) const {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) +
                       "\r\nServer: tlsock/" + std::string(version()) +
                       "\r\nDate: " + http::format_http_date(std::time(nullptr)) + "\r\n";
    if (!type.empty()) head += "Content-Type: " + std::string(type) + "\r\n";
    if (length) head += "Content-Length: " + std::to_string(*length) + "\r\n";
    head += extra;
    head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    return head + "\r\n";
  }

  // A short text/plain answer. Returns the body bytes sent.
  std::size_t send_status(TLSSocket& socket, int status, bool head_only, bool keep_alive,
                          const std::string& extra = {}) const {
    std::string body = std::to_string(status) + " " + std::string(reason(status)) + "\n";
    std::string out = response_head(status, keep_alive, body.size(), "text/plain; charset=utf-8", extra);
    if (!head_only) out += body;
    socket.write(out);
    return head_only ? 0 : body.size();
  }

  // Sends the file, or the part of it a Range asks for, or 304 when the client's copy is
  // current; returns the status and body bytes sent. Throws when the connection breaks or
  // the file changes size under us (the client then sees a short body).
  std::pair<int, std::size_t> send_file(TLSSocket& socket, const fs::path& path, const http::RequestHead& request,
                                        bool head_only, bool keep_alive) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      int status = errno == EACCES ? 403 : 404;
      return {status, send_status(socket, status, head_only, keep_alive)};
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode))
      return {404, send_status(socket, 404, head_only, keep_alive)};
    auto size = static_cast<std::uint64_t>(info.st_size);
    // A strong validator from what changes when the file does: size and modification time.
    char etag_text[64];
    std::snprintf(etag_text, sizeof etag_text, "\"%llx-%llx%08lx\"", static_cast<unsigned long long>(size),
                  static_cast<unsigned long long>(info.st_mtim.tv_sec), static_cast<long>(info.st_mtim.tv_nsec));
    std::string etag = etag_text, last_modified = http::format_http_date(info.st_mtime);
    std::string validators = "ETag: " + etag + "\r\nLast-Modified: " + last_modified + "\r\n";

    // RFC 9110 section 13.2.2: If-None-Match wins over If-Modified-Since.
    std::vector<std::string_view> none_match = request.all("if-none-match");
    bool not_modified = false;
    if (!none_match.empty()) {
      not_modified = std::any_of(none_match.begin(), none_match.end(),
                                 [&](std::string_view value) { return http::etag_matches(value, etag); });
    } else if (auto since = http::find(request.headers, "if-modified-since")) {
      std::optional<std::int64_t> time = http::parse_http_date(*since);
      not_modified = time && static_cast<std::int64_t>(info.st_mtime) <= *time;
    }
    if (not_modified) {
      socket.write(response_head(304, keep_alive, std::nullopt, {}, validators));
      return {304, 0};
    }

    http::ByteRange range;
    if (auto value = http::find(request.headers, "range")) {
      // If-Range: the range only if the client's copy is this one (else the whole file).
      auto if_range = http::find(request.headers, "if-range");
      if (!if_range || *if_range == etag || *if_range == last_modified) range = http::parse_range(*value, size);
    }
    std::string type(files::content_type(path));
    if (range.kind == http::ByteRange::Kind::unsatisfiable) {
      std::string body = "416 Range Not Satisfiable\n";
      std::string out = response_head(416, keep_alive, body.size(), "text/plain; charset=utf-8",
                                      "Content-Range: bytes */" + std::to_string(size) + "\r\n");
      if (!head_only) out += body;
      socket.write(out);
      return {416, head_only ? 0 : body.size()};
    }
    int status = 200;
    std::uint64_t first = 0, length = size;
    std::string extra = validators + "Accept-Ranges: bytes\r\nX-Content-Type-Options: nosniff\r\n";
    if (range.kind == http::ByteRange::Kind::single) {
      status = 206;
      first = range.first;
      length = range.last - range.first + 1;
      extra += "Content-Range: bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
               std::to_string(size) + "\r\n";
    }
    std::string out = response_head(status, keep_alive, length, type, extra);
    if (head_only) {
      socket.write(out);
      return {status, 0};
    }
    std::uint64_t sent = 0;
    std::string chunk(file_chunk, '\0');
    // The head goes with the first chunk: small files take one write.
    while (sent < length) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(file_chunk, length - sent));
      ssize_t n = ::pread(fd, chunk.data(), want, static_cast<off_t>(first + sent));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(path.string() + " shrank while being sent");
      out.append(chunk.data(), static_cast<std::size_t>(n));
      socket.write(out);
      out.clear();
      sent += static_cast<std::uint64_t>(n);
    }
    if (!out.empty()) socket.write(out);  // an empty file
    return {status, static_cast<std::size_t>(sent)};
  }

  // Reads and drops a small request body so the connection stays usable. false: too large
  // or malformed (status set).
  bool skip_body(TLSSocket& socket, std::string& buffer, const http::RequestHead& request, int& status) const {
    std::vector<std::string_view> lengths = request.all("content-length");
    if (lengths.empty()) return true;
    for (std::string_view value : lengths) {
      if (value != lengths.front() || value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
        status = 400;
        return false;
      }
    }
    std::size_t length = std::stoull(std::string(lengths.front()));
    if (length > max_ignored_body) {
      status = 413;
      return false;
    }
    auto deadline = Clock::now() + config.header_timeout;
    while (buffer.size() < length)
      if (!read_more(socket, buffer, deadline)) {
        status = 408;
        return false;
      }
    buffer.erase(0, length);
    return true;
  }

  // Serves requests until the connection ends; true when it ends with an error response,
  // after which the client may still be sending (see linger()).
  bool serve_http(TLSSocket& socket, std::list<Active>::iterator self, const Peer& peer) {
    std::string buffer;
    for (;;) {
      std::string head;
      Head got = read_head(socket, self, buffer, head);
      if (got == Head::closed || got == Head::stopping) return false;
      if (got != Head::ok) {
        int status = got == Head::timed_out ? 408 : got == Head::line_too_long ? 414 : 431;
        std::string shown = buffer.substr(0, std::min<std::size_t>(buffer.find_first_of("\r\n"), 100));
        std::size_t bytes = send_status(socket, status, false, false);
        log.write(peer.log_line(shown, std::to_string(status), bytes));
        return true;
      }

      http::RequestHead request;
      int status = http::parse_request_head(head, request, max_header_fields);
      bool head_only = request.method == "HEAD";
      if (status == 0 && request.method != "GET" && !head_only) status = 405;
      if (status == 0 && !request.all("transfer-encoding").empty()) status = 501;
      if (status == 0) skip_body(socket, buffer, request, status);
      (void)enter(self, Phase::responding);
      if (status != 0) {
        std::string extra = status == 405 ? "Allow: GET, HEAD\r\n" : "";
        std::size_t bytes = send_status(socket, status, head_only, false, extra);
        std::string shown = request.line.empty() ? head.substr(0, head.find_first_of("\r\n")) : request.line;
        log.write(peer.log_line(shown, std::to_string(status), bytes));
        return true;
      }

      bool keep_alive = request.minor >= 1 ? !http::has_token(request.headers, "connection", "close")
                                           : http::has_token(request.headers, "connection", "keep-alive");
      if (stopping) keep_alive = false;
      files::Resolution found = files::resolve(root, request.target);
      std::pair<int, std::size_t> result;
      if (found.listing) {
        std::string page = files::directory_index(root, found.file, found.location);
        socket.write(response_head(200, keep_alive, page.size(), "text/html; charset=utf-8") + (head_only ? "" : page));
        result = {200, head_only ? 0 : page.size()};
      } else if (found.status == 200) {
        result = send_file(socket, found.file, request, head_only, keep_alive);
      } else if (found.status == 301) {
        result = {301, send_status(socket, 301, head_only, keep_alive, "Location: " + found.location + "\r\n")};
      } else {
        // A malformed target is a bad request: the stream is fine, but be strict anyway.
        if (found.status == 400) keep_alive = false;
        result = {found.status, send_status(socket, found.status, head_only, keep_alive)};
      }
      log.write(peer.log_line(request.line, std::to_string(result.first), result.second));
      if (!keep_alive) return found.status == 400;
    }
  }

  // After an error response the client may still be sending (the rest of an oversized
  // head, a body). Closing with unread bytes makes the kernel send a reset, which can destroy
  // the response before the client reads it; so say close_notify, stop writing, and drop
  // what still comes for a moment first (Apache's "lingering close").
  static void linger(TLSSocket& socket) {
    socket.shutdown();
    auto deadline = Clock::now() + 1s;
    std::size_t dropped = 0;
    try {
      while (dropped < 1024 * 1024) {
        auto left = deadline - Clock::now();
        if (left <= Clock::duration::zero() || !socket.select_read(left)) return;
        socket.set_timeout(left);
        dropped += socket.read(16 * 1024).size();
      }
    } catch (const std::exception&) {
      // The client closed (or sent nonsense): nothing left to drop.
    }
  }

  void serve_echo(TLSSocket& socket, std::list<Active>::iterator self, const Peer& peer) {
    std::string buffer;
    std::size_t lines = 0, bytes = 0;
    auto finish = [&] { log.write(peer.log_line("ECHO " + std::to_string(lines) + " lines", "-", bytes)); };
    try {
      while (wait_idle(socket, self, echo_idle_timeout) == Wait::ready) {
        try {
          buffer += socket.read(16 * 1024);
        } catch (const TLSGracefulDisconnectError&) {
          socket.write(buffer);  // the last line, without its newline
          bytes += buffer.size();
          break;
        }
        // Whole lines back; a line longer than the limit goes back in pieces.
        std::size_t end = buffer.rfind('\n');
        std::size_t take = end != std::string::npos ? end + 1 : buffer.size() >= max_echo_line ? buffer.size() : 0;
        if (take == 0) continue;
        socket.write(std::string_view(buffer).substr(0, take));
        lines += static_cast<std::size_t>(
            std::count(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(take), '\n'));
        bytes += take;
        buffer.erase(0, take);
      }
    } catch (...) {
      finish();
      throw;
    }
    finish();
  }

  void serve_connection(TLSSocket socket) {
    std::list<Active>::iterator self;
    {
      std::lock_guard lock(active_mutex);
      self = active.insert(active.end(), Active{socket.socket(), Phase::reading});
    }
    // Unregistered before the socket closes: stop() never shuts down a reused descriptor.
    struct Leave {
      Impl& s;
      std::list<Active>::iterator self;
      ~Leave() {
        std::lock_guard lock(s.active_mutex);
        s.active.erase(self);
        s.active_changed.notify_all();
      }
    } leave{*this, self};
    try {
      socket.set_timeout(io_timeout);
      Peer peer(socket);
      bool error_response = false;
      if (config.echo)
        serve_echo(socket, self, peer);
      else
        error_response = serve_http(socket, self, peer);
      socket.set_timeout(1s);  // the close_notify: a peer that stopped reading cannot hold us
      if (error_response && !stopping) linger(socket);
      socket.close();
    } catch (const TLSDisconnectError&) {
      // The client went away; nothing to report.
    } catch (const std::exception& error) {
      log.write(std::string("tlsock: connection error: ") + error.what());
    }
  }

  // At the cap: a quick 503 instead of a queue that stalls.
  void refuse(TLSSocket& socket) {
    try {
      Peer peer(socket);
      socket.set_timeout(refusal_timeout);
      std::size_t bytes = send_status(socket, 503, false, false, "Retry-After: 1\r\n");
      log.write(peer.log_line("-", "503", bytes) + " (--max-connections " + std::to_string(config.max_connections) +
                " reached)");
      socket.close();
    } catch (const std::exception&) {
      // A client that does not take its refusal at once gets nothing more.
    }
  }

  // Serves socket on a thread of its own, or refuses it at the cap.
  void dispatch(TLSSocket socket) {
    bool room = false;
    {
      std::lock_guard lock(active_mutex);
      room = threads < config.max_connections;
      if (room) ++threads;
    }
    if (!room) {
      refuse(socket);
      return;
    }
    try {
      std::thread([this, socket = std::move(socket)]() mutable {
        serve_connection(std::move(socket));
        std::lock_guard lock(active_mutex);
        --threads;
        active_changed.notify_all();  // under the lock: run() may destroy us once it sees 0
      }).detach();
    } catch (const std::system_error& error) {  // no thread to be had (EAGAIN): the client is dropped
      std::lock_guard lock(active_mutex);
      --threads;
      log.write(std::string("tlsock: cannot start a thread: ") + error.what());
    }
  }
};

HttpsServer::HttpsServer(ServeConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  Impl& s = *impl_;
  if (!s.config.tls) throw std::invalid_argument("ServeConfig::tls: must not be null");
  if (s.config.max_connections == 0) throw std::invalid_argument("--max-connections: must be at least 1");
  if (s.config.header_timeout <= Clock::duration::zero())
    throw std::invalid_argument("--header-timeout: must be positive");
  if (s.config.idle_timeout <= Clock::duration::zero()) throw std::invalid_argument("--idle-timeout: must be positive");
  if (!s.config.echo) {
    std::error_code error;
    s.root = fs::canonical(s.config.root, error);
    if (error || !fs::is_directory(s.root))
      throw Failure(file_io, "cannot serve " + s.config.root.string() + ": " +
                                 (error ? error.message() : std::string("not a directory")));
  }
  s.listener.emplace(s.config.address, s.config.port, s.config.tls);
  s.listener->on_handshake_error(
      [&s](const std::exception& error) { s.log.write(std::string("tlsock: dropped a client: ") + error.what()); });
  // Plain HTTP on the TLS port: say so, as nginx does, instead of a TLS alert a browser
  // or curl shows as gibberish.
  if (!s.config.echo)
    s.listener->on_plaintext([&s](std::string_view) {
      std::string body = "400 Bad Request: the plain HTTP request was sent to an HTTPS port; use https://\n";
      return s.response_head(400, false, body.size(), "text/plain; charset=utf-8") + body;
    });
}

HttpsServer::~HttpsServer() = default;

std::uint16_t HttpsServer::port() const noexcept { return impl_->listener ? impl_->listener->port() : 0; }

std::string HttpsServer::url() const {
  const std::string& address = impl_->config.address;
  std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return "https://" + host + ":" + std::to_string(port()) + "/";
}

std::size_t HttpsServer::connections() const {
  std::lock_guard lock(impl_->active_mutex);
  return impl_->threads;
}

void HttpsServer::stop() noexcept {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.active_mutex);
    s.stopping = true;
    for (const Impl::Active& a : s.active)
      if (a.phase == Impl::Phase::idle) shutdown_socket(a.fd);
  }
  s.listener->close();  // ends run()'s accept
}

void HttpsServer::run() {
  Impl& s = *impl_;
  while (!s.stopping) {
    try {
      s.dispatch(s.listener->accept());
    } catch (const std::exception& error) {
      if (s.stopping) break;  // stop() closed the listener under accept() (or just before it)
      // e.g. EMFILE: say so, let the connections free descriptors, go on.
      s.log.write(std::string("tlsock: accept failed: ") + error.what());
      std::this_thread::sleep_for(accept_backoff);
    }
  }
  {
    // Requests still arriving get stop_grace to arrive; then their reads are ended.
    std::unique_lock lock(s.active_mutex);
    auto arriving = [&s] {
      return std::any_of(s.active.begin(), s.active.end(),
                         [](const Impl::Active& a) { return a.phase == Impl::Phase::reading; });
    };
    s.active_changed.wait_for(lock, stop_grace, [&] { return !arriving(); });
    s.cut_off = true;
    for (const Impl::Active& a : s.active)
      if (a.phase != Impl::Phase::responding) shutdown_socket(a.fd);
    // Responses being sent finish (each write is bounded by io_timeout).
    s.active_changed.wait(lock, [&s] { return s.threads == 0; });
  }
  s.listener->close();
}

}  // namespace tlsock::cli
