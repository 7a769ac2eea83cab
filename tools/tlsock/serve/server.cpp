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
#include <deque>
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
// After a failed accept (say EMFILE), how long the accept loop lets the workers free descriptors.
constexpr auto accept_backoff = 100ms;

std::string_view reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
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
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
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
  bool push(TLSSocket socket) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
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
  WorkQueue queue;

  explicit Impl(ServeConfig c)
      : config(std::move(c)), log(config.log), queue(std::max<std::size_t>(16, std::size_t(config.workers) * 2)) {}

  enum class Wait { ready, closed, stopping };
  enum class Head { ok, closed, stopping, timed_out, line_too_long, too_large };

  // Waits for the first byte of the next request (or echo line) on an idle connection.
  Wait wait_idle(TLSSocket& socket, std::list<Active>::iterator self, std::chrono::seconds limit) {
    if (!enter(self, Phase::idle)) return Wait::stopping;
    bool ready = socket.select_read(std::min<std::chrono::seconds>(limit, idle_yield));
    // Keep-alive must not starve clients waiting for a worker.
    if (!ready && limit > idle_yield && !queue.has_waiting()) ready = socket.select_read(limit - idle_yield);
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
      Wait waited = wait_idle(socket, self, idle_timeout);
      if (waited != Wait::ready) return waited == Wait::stopping ? Head::stopping : Head::closed;
    }
    auto deadline = Clock::now() + request_timeout;
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
  static bool skip_body(TLSSocket& socket, std::string& buffer, const http::RequestHead& request, int& status) {
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

void HttpsServer::stop() noexcept {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.active_mutex);
    s.stopping = true;
    for (const Impl::Active& a : s.active)
      if (a.phase == Impl::Phase::idle) shutdown_socket(a.fd);
  }
  s.listener->close();  // ends run()'s accept
  s.queue.close();      // ends a push waiting for room; queued connections are closed unserved
}

void HttpsServer::run() {
  Impl& s = *impl_;
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < s.config.workers; ++i) workers.emplace_back([&s] { s.worker(); });
  while (!s.stopping) {
    try {
      TLSSocket socket = s.listener->accept();
      s.queue.push(std::move(socket));
    } catch (const std::exception& error) {
      if (s.stopping) break;  // stop() closed the listener under accept() (or just before it)
      // e.g. EMFILE: say so, let the workers free descriptors, go on.
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
  }
  s.listener->close();
  s.queue.close();
  for (std::thread& worker : workers) worker.join();
}

}  // namespace tlsock::cli
