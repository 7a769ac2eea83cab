// tlsock serve: a static HTTPS file server (GET and HEAD, keep-alive) or a line echo server.
//
// Requests are read into a per-connection buffer with hard limits (request line, header
// block, header count) and parsed as RFC 9112 says a server must: one Host for HTTP/1.1,
// no whitespace before a colon, no obs-fold, no Transfer-Encoding it does not understand.
// Anything it rejects ends the connection after the error response, since the rest of the
// stream can no longer be framed.
#include "serve/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
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

// How long an idle keep-alive connection keeps its worker; how long a request may take to
// arrive once its first byte has; how long each write may take.
constexpr auto idle_timeout = 15s;
constexpr auto echo_idle_timeout = 300s;
constexpr auto request_timeout = 10s;
constexpr auto io_timeout = 10s;
// While others wait in the queue, a connection idle this long gives its worker up.
constexpr auto idle_yield = 1s;
// After stop(), a request that has started arriving gets this long to finish arriving.
constexpr auto stop_grace = 1s;
// How often blocked loops look at the stop flag.
constexpr auto poll_slice = 100ms;

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// RFC 9110 tchar: the characters of methods and header names.
bool is_tchar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return is_tchar(c); });
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
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

std::string http_date(std::time_t time) { return format_time(time, "%a, %d %b %Y %H:%M:%S GMT"); }

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

// Accepted connections on their way to the workers. Bounded: when it is full the accept
// loop waits, and new clients wait in the kernel's backlog.
class WorkQueue {
 public:
  explicit WorkQueue(std::size_t capacity) : capacity_(capacity) {}

  // false when the queue was closed meanwhile (the socket is then closed here).
  bool push(TLSSocket socket, const std::atomic<bool>& stopping) {
    std::unique_lock lock(mutex_);
    while (items_.size() >= capacity_ && !closed_) {
      if (stopping) return false;
      not_full_.wait_for(lock, poll_slice);
    }
    if (closed_) return false;
    items_.push_back(std::move(socket));
    not_empty_.notify_one();
    return true;
  }

  // The next connection; std::nullopt once closed.
  std::optional<TLSSocket> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (closed_) return std::nullopt;
    TLSSocket socket = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return socket;
  }

  [[nodiscard]] bool has_waiting() {
    std::lock_guard lock(mutex_);
    return !items_.empty();
  }

  // Wakes every worker; connections still queued are closed (close_notify) unserved.
  void close() {
    std::deque<TLSSocket> left;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      left.swap(items_);
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (TLSSocket& socket : left) {
      try {
        socket.set_timeout(200ms);
        socket.close();
      } catch (const std::exception&) {
      }
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<TLSSocket> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

struct Request {
  std::string line;  // the request line, for the log
  std::string method, target;
  int minor = 1;                                             // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case

  [[nodiscard]] std::vector<std::string_view> all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const auto& [key, value] : headers)
      if (key == name) values.emplace_back(value);
    return values;
  }
  // Whether a comma-separated header (Connection) lists token.
  [[nodiscard]] bool lists(std::string_view name, std::string_view token) const {
    for (std::string_view value : all(name)) {
      while (!value.empty()) {
        std::size_t comma = value.find(',');
        if (lower(trim_ows(value.substr(0, comma))) == token) return true;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
    }
    return false;
  }
};

// Parses a request head (request line and header lines, each ending in "\n" or "\r\n",
// without the blank line). 0 when it is well-formed, else the status to answer with.
int parse_request(std::string_view head, Request& request) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    std::size_t newline = head.find('\n');
    std::string_view line = head.substr(0, newline);
    head.remove_prefix(newline == std::string_view::npos ? head.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return 400;  // a bare CR
    lines.push_back(line);
  }
  if (lines.empty()) return 400;
  request.line = std::string(lines[0]);

  // method SP request-target SP HTTP-version, single spaces.
  std::string_view line = lines[0];
  std::size_t first = line.find(' ');
  std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) return 400;
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (!is_token(method) || target.empty()) return 400;
  if (!std::all_of(target.begin(), target.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; })) return 400;
  if (version.size() != 8 || !version.starts_with("HTTP/") || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7])))
    return 400;
  if (version[5] != '1') return 505;
  request.method = std::string(method);
  request.target = std::string(target);
  request.minor = version[7] - '0';

  if (lines.size() - 1 > max_header_fields) return 431;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view field = lines[i];
    if (field.empty() || field.front() == ' ' || field.front() == '\t') return 400;  // obs-fold
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) return 400;
    std::string_view value = trim_ows(field.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }))
      return 400;
    request.headers.emplace_back(lower(field.substr(0, colon)), std::string(value));
  }
  std::size_t hosts = request.all("host").size();
  if (hosts > 1 || (request.minor >= 1 && hosts == 0)) return 400;
  return 0;
}

// Where the head ends in buffer: the head's length (through the '\n' ending its last line)
// and the length with the blank line. std::nullopt while incomplete.
std::optional<std::pair<std::size_t, std::size_t>> find_head_end(std::string_view buffer) {
  for (std::size_t at = buffer.find('\n'); at != std::string_view::npos; at = buffer.find('\n', at + 1)) {
    if (at + 1 < buffer.size() && buffer[at + 1] == '\n') return std::pair(at + 1, at + 2);
    if (at + 2 < buffer.size() && buffer[at + 1] == '\r' && buffer[at + 2] == '\n') return std::pair(at + 1, at + 3);
  }
  return std::nullopt;
}

}  // namespace

struct HttpsServer::Impl {
  ServeConfig config;
  fs::path root;
  std::optional<TLSListener> listener;
  std::atomic<bool> stopping{false};
  AccessLog log;
  WorkQueue queue;

  explicit Impl(ServeConfig c)
      : config(std::move(c)), log(config.log), queue(std::max<std::size_t>(16, std::size_t(config.workers) * 2)) {}

  enum class Wait { ready, closed, stopping };
  enum class Head { ok, closed, stopping, timed_out, line_too_long, too_large };

  // Waits for the first byte of the next request (or echo line) on an idle connection.
  Wait wait_idle(TLSSocket& socket, std::chrono::seconds limit) {
    auto start = Clock::now();
    for (;;) {
      if (stopping) return Wait::stopping;
      if (socket.select_read(poll_slice)) return Wait::ready;
      auto idle = Clock::now() - start;
      if (idle >= limit) return Wait::closed;
      // Keep-alive must not starve clients waiting for a worker.
      if (idle >= idle_yield && queue.has_waiting()) return Wait::closed;
    }
  }

  // Reads more bytes into buffer before deadline, looking at the stop flag meanwhile. false
  // on timeout; throws on disconnect.
  bool read_more(TLSSocket& socket, std::string& buffer, Clock::time_point& deadline) {
    bool stop_seen = false;
    for (;;) {
      if (stopping && !stop_seen) {
        stop_seen = true;
        deadline = std::min(deadline, Clock::now() + stop_grace);
      }
      auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      if (!socket.select_read(std::min<std::chrono::duration<double>>(left, poll_slice))) continue;
      socket.set_timeout(std::max<std::chrono::duration<double>>(deadline - Clock::now(), 0s) + 10ms);
      buffer += socket.read(16 * 1024);
      socket.set_timeout(io_timeout);
      return true;
    }
  }

  // Reads one request head into head, leaving what follows it in buffer.
  Head read_head(TLSSocket& socket, std::string& buffer, std::string& head) {
    // RFC 9112 2.2: empty lines before a request line are ignored.
    auto skip_blank_lines = [&] {
      std::size_t n = 0;
      while (n < buffer.size() && (buffer[n] == '\r' || buffer[n] == '\n')) ++n;
      buffer.erase(0, n);
    };
    skip_blank_lines();
    if (buffer.empty()) {
      Wait waited = wait_idle(socket, idle_timeout);
      if (waited != Wait::ready) return waited == Wait::stopping ? Head::stopping : Head::closed;
    }
    auto deadline = Clock::now() + request_timeout;
    for (;;) {
      skip_blank_lines();
      std::size_t line_end = buffer.find('\n');
      if (line_end == std::string::npos ? buffer.size() > max_request_line : line_end > max_request_line + 1)
        return Head::line_too_long;
      if (auto end = find_head_end(buffer)) {
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

  std::string response_head(int status, bool keep_alive, std::uint64_t length, std::string_view type,
                            const std::string& extra = {}) const {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) +
                       "\r\nServer: tlsock/" + std::string(version()) + "\r\nDate: " + http_date(std::time(nullptr)) +
                       "\r\n";
    if (!type.empty()) head += "Content-Type: " + std::string(type) + "\r\n";
    head += "Content-Length: " + std::to_string(length) + "\r\n" + extra;
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

  // Sends the file; returns the status and body bytes sent. Throws when the connection
  // breaks or the file changes size under us (the client then sees a short body).
  std::pair<int, std::size_t> send_file(TLSSocket& socket, const fs::path& path, bool head_only, bool keep_alive) {
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
    std::string out =
        response_head(200, keep_alive, size, files::content_type(path),
                      "Last-Modified: " + http_date(info.st_mtime) + "\r\nX-Content-Type-Options: nosniff\r\n");
    if (head_only) {
      socket.write(out);
      return {200, 0};
    }
    std::uint64_t sent = 0;
    std::string chunk(file_chunk, '\0');
    // The head goes with the first chunk: small files take one write.
    while (sent < size) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(file_chunk, size - sent));
      ssize_t n = ::read(fd, chunk.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error(path.string() + " shrank while being sent");
      out.append(chunk.data(), static_cast<std::size_t>(n));
      socket.write(out);
      out.clear();
      sent += static_cast<std::uint64_t>(n);
    }
    if (!out.empty()) socket.write(out);  // an empty file
    return {200, static_cast<std::size_t>(sent)};
  }

  // Reads and drops a small request body so the connection stays usable. false: too large
  // or malformed (status set).
  bool skip_body(TLSSocket& socket, std::string& buffer, const Request& request, int& status) {
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
    auto deadline = Clock::now() + request_timeout;
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
  bool serve_http(TLSSocket& socket, const Peer& peer) {
    std::string buffer;
    for (;;) {
      std::string head;
      Head got = read_head(socket, buffer, head);
      if (got == Head::closed || got == Head::stopping) return false;
      if (got != Head::ok) {
        int status = got == Head::timed_out ? 408 : got == Head::line_too_long ? 414 : 431;
        std::string shown = buffer.substr(0, std::min<std::size_t>(buffer.find_first_of("\r\n"), 100));
        std::size_t bytes = send_status(socket, status, false, false);
        log.write(peer.log_line(shown, std::to_string(status), bytes));
        return true;
      }

      Request request;
      int status = parse_request(head, request);
      bool head_only = request.method == "HEAD";
      if (status == 0 && request.method != "GET" && !head_only) status = 405;
      if (status == 0 && !request.all("transfer-encoding").empty()) status = 501;
      if (status == 0) skip_body(socket, buffer, request, status);
      if (status != 0) {
        std::string extra = status == 405 ? "Allow: GET, HEAD\r\n" : "";
        std::size_t bytes = send_status(socket, status, head_only, false, extra);
        std::string shown = request.line.empty() ? head.substr(0, head.find_first_of("\r\n")) : request.line;
        log.write(peer.log_line(shown, std::to_string(status), bytes));
        return true;
      }

      bool keep_alive =
          request.minor >= 1 ? !request.lists("connection", "close") : request.lists("connection", "keep-alive");
      if (stopping) keep_alive = false;
      files::Resolution found = files::resolve(root, request.target);
      std::pair<int, std::size_t> result;
      if (found.status == 200) {
        result = send_file(socket, found.file, head_only, keep_alive);
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
    char scratch[16 * 1024];
    while (dropped < 1024 * 1024) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd entry{socket.socket(), POLLIN, 0};
      if (left <= 0 || ::poll(&entry, 1, static_cast<int>(left)) <= 0) return;
      ssize_t n = ::recv(socket.socket(), scratch, sizeof scratch, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
      if (n > 0) dropped += static_cast<std::size_t>(n);
    }
  }

  void serve_echo(TLSSocket& socket, const Peer& peer) {
    std::string buffer;
    std::size_t lines = 0, bytes = 0;
    auto finish = [&] { log.write(peer.log_line("ECHO " + std::to_string(lines) + " lines", "-", bytes)); };
    try {
      while (wait_idle(socket, echo_idle_timeout) == Wait::ready) {
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
    try {
      socket.set_timeout(io_timeout);
      Peer peer(socket);
      bool error_response = false;
      if (config.echo)
        serve_echo(socket, peer);
      else
        error_response = serve_http(socket, peer);
      socket.set_timeout(1s);  // the close_notify: a peer that stopped reading cannot hold us
      if (error_response && !stopping) linger(socket);
      socket.close();
    } catch (const TLSDisconnectError&) {
      // The client went away; nothing to report.
    } catch (const std::exception& error) {
      log.write(std::string("tlsock: connection error: ") + error.what());
    }
  }

  void worker() {
    while (std::optional<TLSSocket> socket = queue.pop()) serve_connection(std::move(*socket));
  }
};

HttpsServer::HttpsServer(ServeConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  Impl& s = *impl_;
  if (!s.config.tls) throw std::invalid_argument("ServeConfig::tls: must not be null");
  if (s.config.workers == 0) throw std::invalid_argument("--workers: must be at least 1");
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
}

HttpsServer::~HttpsServer() = default;

std::uint16_t HttpsServer::port() const noexcept { return impl_->listener ? impl_->listener->port() : 0; }

std::string HttpsServer::url() const {
  const std::string& address = impl_->config.address;
  std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return "https://" + host + ":" + std::to_string(port()) + "/";
}

void HttpsServer::stop() noexcept { impl_->stopping = true; }

void HttpsServer::run(const std::function<bool()>& should_stop) {
  Impl& s = *impl_;
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < s.config.workers; ++i) workers.emplace_back([&s] { s.worker(); });
  while (!s.stopping) {
    if (should_stop && should_stop()) {
      s.stopping = true;
      break;
    }
    try {
      TLSSocket socket = s.listener->accept(poll_slice);
      s.queue.push(std::move(socket), s.stopping);
    } catch (const TimeoutError&) {
    } catch (const std::exception& error) {
      // e.g. EMFILE: say so, let the workers free descriptors, go on.
      s.log.write(std::string("tlsock: accept failed: ") + error.what());
      std::this_thread::sleep_for(poll_slice);
    }
  }
  s.listener->close();
  s.queue.close();
  for (std::thread& worker : workers) worker.join();
}

fs::path default_certs_dir() {
#ifdef TLSOCK_DEFAULT_CERTS
  fs::path dir = TLSOCK_DEFAULT_CERTS;
#else
  fs::path dir = "certs";
#endif
  if (!fs::exists(dir / "localhost-chain.pem"))
    throw Failure(file_io, "the test certificates are not in " + dir.string() +
                               " (this tlsock was built elsewhere): pass --cert FILE --key FILE");
  return dir;
}

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8443;
  std::string directory = ".";
  bool echo = false;
  std::vector<std::string> certs, keys;
  std::string client_auth = "none";
  std::vector<std::string> client_ca;
  unsigned workers = 8;
  double handshake_timeout = 10;
};

fs::path existing(const std::string& path, const std::string& option) {
  if (!fs::exists(path)) throw Failure(file_io, option + " " + path + ": no such file");
  return path;
}

CertificateChain load_chain(const std::string& cert, const std::string& key) {
  fs::path cert_path = existing(cert, "--cert"), key_path = existing(key, "--key");
  try {
    return CertificateChain::load(cert_path, key_path);
  } catch (const std::exception& error) {
    throw Failure(usage, "--cert " + cert + " --key " + key + ": " + error.what());
  }
}

std::shared_ptr<const ServerTLS> make_server_tls(const ServeOptions& options) {
  std::vector<CertificateChain> chains;
  if (options.certs.size() != options.keys.size())
    throw Failure(usage, "--cert and --key go in pairs: each --cert needs its --key");
  if (options.certs.empty()) {
    fs::path certs = default_certs_dir();
    chains.push_back(load_chain((certs / "localhost-chain.pem").string(), (certs / "localhost.key").string()));
  }
  for (std::size_t i = 0; i < options.certs.size(); ++i)
    chains.push_back(load_chain(options.certs[i], options.keys[i]));

  std::shared_ptr<const ServerCertificates> certificates;
  if (chains.size() == 1)
    certificates = std::make_shared<ServerCertificateChain>(chains.front());
  else
    certificates = std::make_shared<SNIServerCertificates>(chains, chains.front());  // the first is the default

  ServerOptions server;
  server.client_auth = options.client_auth == "required"   ? ClientAuth::required
                       : options.client_auth == "optional" ? ClientAuth::optional
                                                           : ClientAuth::none;
  if (server.client_auth != ClientAuth::none && options.client_ca.empty())
    throw Failure(
        usage, "--client-auth " + options.client_auth + " needs --client-ca FILE (who may sign client certificates)");
  for (const std::string& ca : options.client_ca) server.client_trust_roots.emplace_back(existing(ca, "--client-ca"));
  server.handshake_timeout = std::chrono::duration<double>(options.handshake_timeout);
  return std::make_shared<ServerTLS>(std::move(certificates), std::move(server));
}

int serve(const ServeOptions& options) {
  ServeConfig config;
  config.address = options.listen;
  config.port = static_cast<std::uint16_t>(options.port);
  config.root = options.directory;
  config.echo = options.echo;
  config.workers = options.workers;
  config.tls = make_server_tls(options);

  // SIGINT and SIGTERM stay pending (blocked in every thread, workers included, since they
  // inherit the mask) until the accept loop collects them: no handler, no EINTR anywhere.
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  std::signal(SIGPIPE, SIG_IGN);  // stdout may be a pipe that closes before we print "stopped"
  struct RestoreMask {
    sigset_t mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old_mask};

  HttpsServer server(std::move(config));
  std::cout << "listening on " << server.url() << std::endl;
  if (options.echo)
    std::cout << "echoing lines back; Ctrl-C stops" << std::endl;
  else
    std::cout << "serving " << fs::canonical(options.directory).string() << "; Ctrl-C stops" << std::endl;
  server.run([&stop_signals] {
    timespec now{};
    return sigtimedwait(&stop_signals, nullptr, &now) > 0;
  });
  std::cout << "stopped" << std::endl;
  return success;
}

}  // namespace

void add_serve(CLI::App& app, int& result) {
  auto options = std::make_shared<ServeOptions>();
  auto* command = app.add_subcommand("serve", "Serve a directory over HTTPS (GET and HEAD), or echo lines back");
  command->add_option("DIRECTORY", options->directory, "The directory to serve (default: the current one)");
  command->add_option("--listen", options->listen, "Address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)");
  command->add_option("--port", options->port, "Port (default 8443; 0 picks a free one, printed on the first line)")
      ->check(CLI::Range(0, 65535));
  command->add_flag("--echo", options->echo, "Echo each line a client sends instead of serving files")
      ->excludes("DIRECTORY");
  command
      ->add_option("--cert", options->certs,
                   "Certificate chain (PEM, leaf first); repeat with --key for several names (SNI; the first is "
                   "the default). Default: the test identity certs/localhost-chain.pem")
      ->allow_extra_args(false);  // one file per --cert: a DIRECTORY after it stays positional
  command->add_option("--key", options->keys, "Private key of the --cert in the same position (PEM or DER)")
      ->allow_extra_args(false);
  command->add_option("--client-auth", options->client_auth, "Ask clients for a certificate: none, optional, required")
      ->check(CLI::IsMember({"none", "optional", "required"}));
  command
      ->add_option("--client-ca", options->client_ca,
                   "CA certificates that may sign client certificates (PEM or DER; repeatable)")
      ->allow_extra_args(false);
  command->add_option("--workers", options->workers, "Connections served at once (default 8)")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--handshake-timeout", options->handshake_timeout,
                   "Seconds a client gets to finish the TLS handshake (default 10)")
      ->check(CLI::PositiveNumber);
  command->footer(
      "Logs one line per request on stderr: peer, time, request line, status, body bytes, SNI name.\n"
      "SIGINT or SIGTERM stops it: requests in progress finish, then it prints \"stopped\" and exits 0.\n" +
      std::string(exit_code_help));
  command->callback([options, &result] { result = guarded([&] { return serve(*options); }); });
}

}  // namespace tlsock::cli
