// Many threads at once over 127.0.0.1, our client against our server (suites 'loopback' and
// 'threads': ./run also runs this file under ThreadSanitizer): one TLSSession shared by 8
// threads making 200 connections each, resuming sessions; one TLSListener serving 64 clients
// at once with 1,000 request/response round trips each.
//
// The server is a ServerThread (its thread accepts, and runs every handshake side by side
// inside TLSListener::accept) whose handler hands each socket to a pool of worker threads, so
// the connections are also served side by side. Catch2 assertions run on the test's thread
// only: the other threads record failures, checked once they are joined.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "support/catch.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace tlsock::loopback;
using namespace std::chrono_literals;

namespace {

const std::string graceful_end = "TLSGracefulDisconnectError: The remote end closed the connection";

// A generous bound for each call: hundreds of threads share two cores, slower still under
// the sanitizers. It only turns a hang into a failure.
constexpr auto call_timeout = 120s;

// The Windows build's run under Wine divides the connections and round trips per thread by
// this (test/meson.build sets it): Wine's threads and Winsock are many times slower than
// Windows' or Linux's. The threads are as many, so the same paths run at once, fewer times.
#ifndef TLSOCK_CONCURRENCY_DIVISOR
#define TLSOCK_CONCURRENCY_DIVISOR 1
#endif
constexpr int divisor = TLSOCK_CONCURRENCY_DIVISOR;

// Server sockets handed over by a ServerThread's handler, each served to its end by one of a
// fixed number of worker threads, which then close it.
class Workers {
 public:
  using Serve = std::function<void(TLSSocket& socket)>;

  Workers(std::size_t count, Serve serve) : serve_(std::move(serve)) {
    for (std::size_t i = 0; i < count; ++i) threads_.emplace_back([this] { run(); });
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { join(); }

  // A ServerThread handler that hands the accepted socket over.
  [[nodiscard]] ServerThread::Handler handler() {
    return [this](TLSSocket& socket) {
      socket.set_timeout(call_timeout);
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(socket));
      }
      changed_.notify_one();
    };
  }

  // Serves what is queued, then joins the threads. Idempotent.
  void join() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
    for (std::thread& thread : threads_)
      if (thread.joinable()) thread.join();
  }

  // What escaped serve, as describe() renders it.
  [[nodiscard]] const Log& errors() const noexcept { return errors_; }

 private:
  void run() noexcept {
    for (;;) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;
      TLSSocket socket = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        serve_(socket);
      } catch (const std::exception& e) {
        errors_.add(describe(e));
      }
    }
  }

  Serve serve_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<TLSSocket> queue_;
  bool closing_ = false;
  Log errors_;
  std::vector<std::thread> threads_;
};

// Answers each line with "ok " and the line until the client ends the connection, which must
// be with close_notify.
void echo_lines(TLSSocket& socket) {
  try {
    for (;;) socket.write("ok " + socket.read_line());
  } catch (const std::exception& e) {
    if (describe(e) != graceful_end) throw;
  }
}

// Runs body(index) on `count` threads at once, joins them all, and returns what each body
// threw ("thread 3: Class: message"); a body stops at its first failure.
std::vector<std::string> run_threads(int count, const std::function<void(int index)>& body) {
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int index = 0; index < count; ++index) {
    threads.emplace_back([&, index] {
      try {
        body(index);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures.push_back("thread " + std::to_string(index) + ": " + describe(e));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return failures;
}

void check_no_failures(const std::vector<std::string>& failures, const Workers& workers, const ServerThread& server) {
  for (const std::string& failure : failures) UNSCOPED_INFO(failure);
  CHECK(failures.empty());
  CHECK(workers.errors().lines() == std::vector<std::string>{});
  CHECK(server.handshake_errors().lines() == std::vector<std::string>{});
  CHECK(server.errors().lines() == std::vector<std::string>{});
}

}  // namespace

TEST_CASE("8 threads x 200 connections share one TLSSession and resume its sessions", "[concurrency]") {
  const int threads = 8;
  const int per_thread = 200 / divisor;
  Workers workers(threads, echo_lines);
  ServerThread server(make_server(), workers.handler());
  auto session = trusted_session();
  const bool tls13 = default_protocol() == "TLSv1.3";

  std::atomic<int> completed{0};
  std::atomic<int> resumed{0};
  std::vector<std::string> failures = run_threads(threads, [&](int t) {
    for (int i = 0; i < per_thread; ++i) {
      TLSSocket socket = connect_tls(server.port(), "localhost", session, call_timeout);
      const std::string request = "thread " + std::to_string(t) + " connection " + std::to_string(i) + "\n";
      socket.write(request);
      const std::string response = socket.read_line();
      if (response != "ok " + request) throw std::runtime_error("wrong response: " + response);
      // Resumption by ticket (and, in TLS 1.2, by session ID when the ticket was not used).
      if (socket.session_ticket() == SessionReuse::reused || socket.session_id() == SessionReuse::reused) ++resumed;
      socket.close();
      ++completed;
    }
  });
  workers.join();
  server.stop();

  check_no_failures(failures, workers, server);
  CHECK(completed == threads * per_thread);
  if (!tls13) {
    // TLS 1.2: a cached session stays in the cache, and every connection stores one. A
    // thread's connections after its first start with its own (or a newer) session offered.
    CHECK(resumed >= threads * (per_thread - 1));
  } else {
    // TLS 1.3: tickets are single-use (taken from the cache when offered), and each
    // connection stores the one it receives with the response. A thread's next connection
    // finds that ticket unless another thread took it first (and resumed with it): a ticket
    // stored and not yet taken is taken by the next connection to start, and one taking can
    // be the next after at most one store per thread. So at least one resumption per round.
    CHECK(resumed >= per_thread - 1);
  }
}

TEST_CASE("a TLSListener serves 64 clients at once, 1,000 round trips each", "[concurrency]") {
  const int clients = 64;
  const int round_trips = 1000 / divisor;
  Workers workers(clients, echo_lines);
  ServerThread server(make_server(), workers.handler());
  auto session = trusted_session();

  std::atomic<int> answered{0};
  std::vector<std::string> failures = run_threads(clients, [&](int c) {
    TLSSocket socket = connect_tls(server.port(), "localhost", session, call_timeout);
    for (int i = 0; i < round_trips; ++i) {
      const std::string request = "client " + std::to_string(c) + " request " + std::to_string(i) + "\n";
      socket.write(request);
      const std::string response = socket.read_line();
      if (response != "ok " + request) throw std::runtime_error("wrong response to " + request + ": " += response);
      ++answered;
    }
    socket.close();
  });
  workers.join();
  server.stop();

  check_no_failures(failures, workers, server);
  CHECK(server.accepted() == static_cast<std::size_t>(clients));
  CHECK(answered == clients * round_trips);
}
