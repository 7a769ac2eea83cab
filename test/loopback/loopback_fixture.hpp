// Helpers for tests that run our own server and our own client in one process over
// 127.0.0.1: the test PKI, a TLSListener served by one background thread, a plain listening
// socket, and error descriptions that name the exact class. Header-only, public API only.
//
// Threads: Catch2 assertions are made on the test's main thread only. The server thread
// records what it saw (handler results, handshake errors) in a Log, which the test reads
// after a synchronisation point (the client received the server's answer, or Log::wait_for).
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "support/loopback.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/tlsock.hpp"

namespace tlsock::loopback {

using namespace std::chrono_literals;

constexpr std::string_view remote_closed = "The remote end closed the connection";

[[nodiscard]] inline std::filesystem::path cert_path(std::string_view name) {
  return testing::certs_dir() / std::string(name);
}

// "localhost" (RSA), "localhost-ecdsa", "wildcard", "client", ...: <name>-chain.pem with <name>.key.
[[nodiscard]] inline CertificateChain pki_chain(std::string_view name) {
  return CertificateChain::load(cert_path(std::string(name) + "-chain.pem"), cert_path(std::string(name) + ".key"));
}

[[nodiscard]] inline std::shared_ptr<ServerTLS> make_server(ServerOptions options = {},
                                                            std::string_view chain = "localhost") {
  return std::make_shared<ServerTLS>(std::make_shared<ServerCertificateChain>(pki_chain(chain)), std::move(options));
}

// A client policy that trusts the test PKI's root.
[[nodiscard]] inline TLSSession::Options trusted_options() {
  TLSSession::Options options;
  options.extra_trust_roots = {cert_path("root-ca.pem")};
  return options;
}

[[nodiscard]] inline std::shared_ptr<TLSSession> trusted_session(TLSSession::Options options = trusted_options()) {
  return std::make_shared<TLSSession>(std::move(options));
}

// A client policy pinned to TLS 1.2, for tests of TLS 1.2 mechanisms (session IDs and tickets,
// CLIENT_RANDOM key log lines, a plaintext server flight). mbedTLS 2.28 speaks nothing newer.
[[nodiscard]] inline std::shared_ptr<TLSSession> tls12_session(TLSSession::Options options = trusted_options()) {
  options.protocols = {Protocol::TLSv1_2};
  return trusted_session(std::move(options));
}

// The version our server and client agree on with their defaults: TLS 1.3 where the linked
// mbedTLS has it, else TLS 1.2.
[[nodiscard]] inline std::string default_protocol() {
  return default_protocols().contains(Protocol::TLSv1_3) ? "TLSv1.3" : "TLSv1.2";
}

// Connects to 127.0.0.1:port by TCP and starts TLS as a client of `hostname` (SNI and the name
// verified). Never resolves a name, so the test stays on the IPv4 loopback.
[[nodiscard]] inline TLSSocket connect_tls(std::uint16_t port, std::string_view hostname,
                                           std::shared_ptr<TLSSession> session, Timeout timeout = 10s) {
  testing::UniqueFd fd = testing::connect_loopback(port);
  return TLSSocket::wrap(fd.release(), hostname, std::move(session), timeout);
}

// "Class: message" with the most derived class tlsock defines (or a standard one), so that one
// comparison checks the class and the exact message.
[[nodiscard]] inline std::string describe(const std::exception& e) {
  auto named = [&](const char* name) { return std::string(name) + ": " + e.what(); };
  if (dynamic_cast<const TLSGracefulDisconnectError*>(&e) != nullptr) return named("TLSGracefulDisconnectError");
  if (dynamic_cast<const TLSDisconnectError*>(&e) != nullptr) return named("TLSDisconnectError");
  if (dynamic_cast<const TLSConnectionError*>(&e) != nullptr) return named("TLSConnectionError");
  if (dynamic_cast<const TLSVerificationError*>(&e) != nullptr) return named("TLSVerificationError");
  if (const auto* alert = dynamic_cast<const TLSAlertError*>(&e); alert != nullptr)
    return named("TLSAlertError") + " [" + std::string(to_string(alert->alert_code())) + ", " +
           std::string(to_string(alert->alert_level())) + "]";
  if (dynamic_cast<const BadTLSDataError*>(&e) != nullptr) return named("BadTLSDataError");
  if (dynamic_cast<const InvalidatedError*>(&e) != nullptr) return named("InvalidatedError");
  if (dynamic_cast<const TLSError*>(&e) != nullptr) return named("TLSError");
  if (dynamic_cast<const TimeoutError*>(&e) != nullptr) return named("TimeoutError");
  if (dynamic_cast<const std::system_error*>(&e) != nullptr) return named("std::system_error");
  if (dynamic_cast<const std::invalid_argument*>(&e) != nullptr) return named("std::invalid_argument");
  if (dynamic_cast<const std::logic_error*>(&e) != nullptr) return named("std::logic_error");
  return named("std::exception");
}

// What f throws, described as above; "no exception" otherwise.
template <typename F>
[[nodiscard]] std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return describe(e);
  }
  return "no exception";
}

// Lines appended from any thread; read and waited for from the test's thread.
class Log {
 public:
  void add(std::string line) {
    {
      std::lock_guard lock(mutex_);
      lines_.push_back(std::move(line));
    }
    changed_.notify_all();
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
  }
  // Waits until at least count lines were added or timeout passes; true if they were.
  [[nodiscard]] bool wait_for(std::size_t count, std::chrono::milliseconds timeout = 15s) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return lines_.size() >= count; });
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<std::string> lines_;
};

// A TLSListener on 127.0.0.1 (port 0) served by one thread: it accepts clients and runs the
// handler for each in turn, until stop(). accept() is called with a short timeout so that
// stop() is prompt; a handler's own calls are bounded by the socket's timeout (10 s). The
// socket is closed (close_notify) when the handler returns. With thread_per_client, each
// client's handler runs on a thread of its own instead, as in a server that must not let one
// client hold up the others; stop() joins them.
class ServerThread {
 public:
  using Handler = std::function<void(TLSSocket& socket)>;

  ServerThread(std::shared_ptr<const ServerTLS> server, Handler handler, bool thread_per_client = false)
      : listener_("127.0.0.1", 0, std::move(server)),
        handler_(std::move(handler)),
        thread_per_client_(thread_per_client) {
    listener_.on_handshake_error([this](const std::exception& e) { handshake_errors_.add(describe(e)); });
    thread_ = std::thread([this] { run(); });
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;
  ~ServerThread() { stop(); }

  [[nodiscard]] std::uint16_t port() const noexcept { return listener_.port(); }
  // Handshakes the listener dropped, as describe() renders their errors.
  [[nodiscard]] const Log& handshake_errors() const noexcept { return handshake_errors_; }
  // Exceptions that escaped a handler (or accept itself, other than its timeout).
  [[nodiscard]] const Log& errors() const noexcept { return errors_; }
  [[nodiscard]] std::size_t accepted() const noexcept { return accepted_.load(); }

  // Lets the current handler finish, stops accepting and joins the thread. Idempotent.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (std::thread& client : clients_) client.join();
    clients_.clear();
  }

 private:
  void run() noexcept {
    while (!stop_) {
      try {
        TLSSocket socket = listener_.accept(100ms);
        ++accepted_;
        if (thread_per_client_) {
          auto shared = std::make_shared<TLSSocket>(std::move(socket));
          clients_.emplace_back([this, shared] { serve(*shared); });
        } else {
          serve(socket);
        }
      } catch (const TimeoutError&) {
        // Nobody finished a handshake in this round; look at stop_ again.
      } catch (const std::exception& e) {
        errors_.add("accept: " + describe(e));
      }
    }
    listener_.close();
  }

  void serve(TLSSocket& socket) noexcept {
    try {
      handler_(socket);
    } catch (const std::exception& e) {
      errors_.add(describe(e));
    }
  }

  TLSListener listener_;
  Handler handler_;
  bool thread_per_client_;
  std::list<std::thread> clients_;  // run() adds to it until it is joined, then stop() joins them
  Log handshake_errors_;
  Log errors_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread thread_;  // last: starts once everything above exists
};

// Reads until the peer ends the connection and returns how it ended, as describe() renders it
// (say "TLSGracefulDisconnectError: The remote end closed the connection"). Data read on the
// way is appended to *data when given.
inline std::string read_to_end(TLSSocket& socket, std::string* data = nullptr) {
  try {
    for (;;) {
      std::string chunk = socket.read(65536);
      if (data != nullptr) *data += chunk;
    }
  } catch (const std::exception& e) {
    return describe(e);
  }
}

// A plain TCP listening socket on 127.0.0.1 with a bounded accept, for tests that accept
// connections themselves (TLSSocket::wrap_server, sans-IO servers).
class PlainListener {
 public:
  PlainListener() : fd_(testing::listen_loopback()), port_(testing::local_port(fd_.get())) {}

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  // The next connection; std::runtime_error if none arrives within timeout.
  [[nodiscard]] testing::UniqueFd accept(std::chrono::milliseconds timeout = 10s) {
    return testing::accept_within(fd_.get(), timeout);
  }

 private:
  testing::UniqueFd fd_;
  std::uint16_t port_ = 0;
};

using testing::local_port;
using testing::sees_eof;
using testing::TempDir;

[[nodiscard]] inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// "new", "reused" or "none".
[[nodiscard]] inline std::string reuse_of(const std::optional<SessionReuse>& reuse) {
  return reuse ? std::string(to_string(*reuse)) : std::string("none");
}

}  // namespace tlsock::loopback
