#include "support/fault_proxy.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "support/loopback.hpp"

namespace tlsock::testing {

using Clock = std::chrono::steady_clock;

struct FaultProxy::State {
  std::uint16_t upstream_port = 0;
  std::chrono::milliseconds linger{};
  std::chrono::milliseconds max_duration{};

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  Fault fault;
  std::size_t relayed = 0;
  Relayed last;

  void relay(int client_fd);
};

namespace {

// One direction of a connection: where its bytes come from and go to.
struct Pipe {
  int from = -1;
  int to = -1;
  bool open = true;      // from has not reached EOF (or failed)
  std::size_t seen = 0;  // bytes read from `from` so far
};

}  // namespace

void FaultProxy::State::relay(int client_fd) {
  Fault fault_now;
  {
    std::lock_guard lock(mutex);
    fault_now = fault;
  }
  UniqueFd upstream = connect_loopback(upstream_port);
  Relayed result;
  std::array<Pipe, 2> pipes{Pipe{client_fd, upstream.get()}, Pipe{upstream.get(), client_fd}};
  bool cut = false;
  auto give_up = Clock::now() + max_duration;
  std::optional<Clock::time_point> linger_until;
  auto start_lingering = [&] {
    if (!linger_until) linger_until = Clock::now() + linger;
  };

  std::array<char, 16384> buffer{};
  while (pipes[0].open || pipes[1].open) {
    auto deadline = linger_until ? std::min(give_up, *linger_until) : give_up;
    std::array<pollfd, 2> watch{};
    for (std::size_t i = 0; i < 2; ++i) watch[i] = {pipes[i].open ? pipes[i].from : -1, POLLIN, 0};
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    int ready = ::poll(watch.data(), 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (std::size_t i = 0; i < 2; ++i) {
      Pipe& pipe = pipes[i];
      if (!pipe.open || watch[i].revents == 0) continue;
      ssize_t n = ::recv(pipe.from, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) {
        // EOF or a reset: pass the end on (unless the cut already did) and wait for the other side.
        pipe.open = false;
        if (!cut) ::shutdown(pipe.to, SHUT_WR);
        start_lingering();
        continue;
      }
      if (cut) continue;  // after a cut, whatever arrives is dropped
      auto size = static_cast<std::size_t>(n);
      auto flow = static_cast<Flow>(i);
      std::size_t deliver = size;
      if (fault_now.flow == flow && fault_now.offset >= pipe.seen && fault_now.offset < pipe.seen + size) {
        if (fault_now.kind == Fault::Kind::cut) {
          deliver = fault_now.offset - pipe.seen;
          cut = true;
          result.fault_applied = true;
        } else if (fault_now.kind == Fault::Kind::flip) {
          buffer[fault_now.offset - pipe.seen] =
              static_cast<char>(buffer[fault_now.offset - pipe.seen] ^ fault_now.mask);
          result.fault_applied = true;
        }
      }
      pipe.seen += size;
      std::string_view out(buffer.data(), deliver);
      try {
        send_all(pipe.to, out);
        result.delivered[i].append(out);
      } catch (const std::exception&) {
        // The receiver is gone; drop the rest of this direction.
        pipe.open = false;
        ::shutdown(pipe.from, SHUT_RD);
        start_lingering();
      }
      if (cut) {
        // Both peers see a TCP end, never a close_notify. Their sockets are not closed yet: a
        // close with unread bytes would send a reset, which may discard what was delivered.
        ::shutdown(client_fd, SHUT_WR);
        ::shutdown(upstream.get(), SHUT_WR);
        start_lingering();
      }
    }
  }
  {
    std::lock_guard lock(mutex);
    ++relayed;
    last = std::move(result);
  }
  changed.notify_all();
}

FaultProxy::FaultProxy(std::uint16_t upstream_port, std::chrono::milliseconds linger,
                       std::chrono::milliseconds max_duration)
    : state_(std::make_shared<State>()), server_([state = state_](int fd) {
        try {
          state->relay(fd);
        } catch (...) {
          {
            std::lock_guard lock(state->mutex);
            ++state->relayed;
            state->last = Relayed{};
          }
          state->changed.notify_all();
          throw;  // PlainServer records it (see error())
        }
      }) {
  state_->upstream_port = upstream_port;
  state_->linger = linger;
  state_->max_duration = max_duration;
}

void FaultProxy::set_fault(Fault fault) {
  std::lock_guard lock(state_->mutex);
  state_->fault = fault;
}

Relayed FaultProxy::wait_relayed(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  if (!state_->changed.wait_for(lock, timeout, [&] { return state_->relayed >= count; }))
    throw std::runtime_error("FaultProxy: " + std::to_string(state_->relayed) + " connections relayed after " +
                             std::to_string(timeout.count()) + " ms, waiting for " + std::to_string(count));
  return state_->last;
}

std::size_t FaultProxy::relayed() const {
  std::lock_guard lock(state_->mutex);
  return state_->relayed;
}

std::string_view to_string(Flow flow) { return flow == Flow::client_to_server ? "client->server" : "server->client"; }

std::string describe(const Fault& fault) {
  switch (fault.kind) {
    case Fault::Kind::pass:
      return "pass through";
    case Fault::Kind::cut:
      return "cut " + std::string(to_string(fault.flow)) + " after " + std::to_string(fault.offset) + " bytes";
    case Fault::Kind::flip: {
      char mask[8];
      std::snprintf(mask, sizeof mask, "0x%02x", fault.mask);
      return "flip " + std::string(to_string(fault.flow)) + " byte " + std::to_string(fault.offset) + " (^ " + mask +
             ")";
    }
  }
  return "?";
}

std::vector<TlsRecord> parse_records(std::string_view stream) {
  std::vector<TlsRecord> records;
  std::size_t at = 0;
  while (stream.size() - at >= 5) {
    auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(stream[at + i]); };
    TlsRecord record{at, byte(0), static_cast<std::size_t>(byte(3)) << 8 | byte(4)};
    if (record.end() > stream.size()) break;
    records.push_back(record);
    at = record.end();
  }
  return records;
}

}  // namespace tlsock::testing
