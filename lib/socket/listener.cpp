// TLSListener: accepts TCP connections and runs their handshakes side by side, so that a
// slow or silent client never blocks the others.
#include <algorithm>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "arguments.hpp"
#include "socket/socket_impl.hpp"
#include "tlsock/listener.hpp"
#include "tlsock/server.hpp"

namespace tlsock {
namespace {
using SocketImpl = detail::Access::Impl<TLSSocket>;
}  // namespace

struct TLSListener::Impl {
  struct Pending {
    std::unique_ptr<SocketImpl> socket;
    net::Deadline deadline;
    bool first_bytes_seen = false;  // checked for clear text (see plaintext())
  };

  net::Socket listener;
  std::shared_ptr<const ServerTLS> server;
  std::uint16_t port = 0;
  std::string address;
  std::list<Pending> pending;
  std::function<void(const std::exception&)> on_error;
  std::function<std::string(std::string_view)> plaintext_reply;
  // close() from another thread wakes an accept() blocked in wait_many, then waits until it
  // has left (guarded by mutex) before closing what accept() uses.
  net::Wakeup wakeup;
  std::mutex mutex;
  std::condition_variable left;
  bool accepting = false;
  std::thread::id accepting_thread;  // close() from a handshake-error handler must not wait for itself

  void report(const std::exception& error) {
    if (on_error) on_error(error);
  }

  void accept_waiting() {
    while (std::optional<net::Socket> client = net::accept_some(listener.get())) {
      // Later calls on the accepted socket get the TLSSocket default timeout.
      std::string peer = net::peer_address(client->get());
      auto socket = std::make_unique<SocketImpl>(std::move(*client), std::move(peer), detail::Access::impl_ptr(*server),
                                                 Timeout(std::chrono::seconds(10)));
      pending.push_back({std::move(socket), net::deadline_after(server->options().handshake_timeout)});
    }
  }

  // With an on_plaintext handler: whether the client's first bytes are clear text rather than
  // a TLS record (whose first byte, a content type, is never a letter). If so it gets the
  // handler's answer and is reported; the caller drops it. Checked once per client, before the
  // handshake reads. Without a handler the engine refuses it as any other bad record.
  bool plaintext(Pending& p) {
    if (p.first_bytes_seen || !plaintext_reply) return false;
    char first[512];
    NativeSocket fd = p.socket->sock.get();
    std::optional<std::size_t> n = net::peek_some(fd, first, sizeof first);
    if (!n) return false;  // nothing yet
    p.first_bytes_seen = true;
    if (*n == 0 || !((first[0] >= 'A' && first[0] <= 'Z') || (first[0] >= 'a' && first[0] <= 'z'))) return false;
    try {
      std::string reply = plaintext_reply(std::string_view(first, *n));
      (void)net::send_some(fd, reply.data(), reply.size());
      // Closing with unread bytes would reset the connection, which can destroy the reply
      // before the client reads it: take in what has arrived after saying we are done
      // (bounded: a client that keeps sending does not keep the listener here).
      net::shutdown_write(fd);
      char drop[4096];
      for (int turns = 0; turns < 16 && net::recv_some(fd, drop, sizeof drop).value_or(0) > 0; ++turns) {
      }
    } catch (const std::exception&) {
      // The client left already; it is reported below anyway.
    }
    report(PlaintextRequestError(std::string(messages::handshake_with) + " " + p.socket->address() +
                                 " failed: the client sent clear text (plain HTTP?), not a TLS ClientHello"));
    return true;
  }

  void drop_expired() {
    auto now = net::Clock::now();
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->deadline && *it->deadline <= now) {
        report(TimeoutError(messages::timed_out(messages::handshake_with, it->socket->address())));
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }
};

TLSListener::TLSListener(std::string_view address, std::uint16_t port, std::shared_ptr<const ServerTLS> server)
    : impl_(std::make_unique<Impl>()) {
  if (!server) arguments::reject("server", "must not be null");
  impl_->listener = net::listen(address, port);
  impl_->server = std::move(server);
  impl_->port = net::local_port(impl_->listener.get());
  impl_->address = std::string(address) + ":" + std::to_string(impl_->port);
}

TLSListener::TLSListener(TLSListener&&) noexcept = default;
TLSListener& TLSListener::operator=(TLSListener&&) noexcept = default;
TLSListener::~TLSListener() = default;

TLSSocket TLSListener::accept(Timeout timeout) {
  if (!impl_) throw std::logic_error("accept on a closed TLSListener");
  Impl& s = *impl_;
  net::Deadline deadline = net::deadline_after(timeout);
  {
    std::lock_guard lock(s.mutex);
    if (!s.listener.valid()) throw std::logic_error("accept on a closed TLSListener");
    if (s.accepting) throw std::logic_error("accept: another thread is in accept on this TLSListener");
    s.accepting = true;
    s.accepting_thread = std::this_thread::get_id();
  }
  struct Leave {
    Impl& s;
    ~Leave() {
      std::lock_guard lock(s.mutex);
      s.accepting = false;
      s.left.notify_all();
    }
  } leave{s};
  constexpr std::size_t first_pending = 2;  // watches: the listener, the wake-up, the handshakes
  std::vector<net::Watch> watches;
  for (;;) {
    watches.clear();
    watches.push_back({s.listener.get(), net::Direction::read});
    watches.push_back({s.wakeup.fd(), net::Direction::read});
    net::Deadline wake = deadline;
    for (const Impl::Pending& p : s.pending) {
      bool sending = !p.socket->engine.outgoing().empty();
      watches.push_back({p.socket->sock.get(), sending ? net::Direction::write : net::Direction::read});
      if (p.deadline && (!wake || *p.deadline < *wake)) wake = p.deadline;
    }
    if (!net::wait_many(watches, wake)) {
      s.drop_expired();
      if (deadline && net::Clock::now() >= *deadline) throw TimeoutError(messages::timed_out("accept on", s.address));
      continue;
    }
    if (watches[1].ready) {
      std::lock_guard lock(s.mutex);
      s.pending.clear();
      s.listener.close();
      throw TLSDisconnectError("accept on " + s.address + " ended: the listener was closed");
    }
    // Pending handshakes first: they are older than anyone still in the backlog.
    auto it = s.pending.begin();
    for (std::size_t i = first_pending; i < watches.size(); ++i) {
      auto current = it++;
      if (!watches[i].ready) continue;
      try {
        if (s.plaintext(*current)) {
          s.pending.erase(current);
          continue;
        }
        if (current->socket->handshake_step()) {
          std::unique_ptr<SocketImpl> done = std::move(current->socket);
          s.pending.erase(current);
          return detail::Access::make<TLSSocket>(std::move(done));
        }
      } catch (const std::exception& error) {
        s.report(error);  // the alert it queued went out (see engine::Driver::guarded)
        s.pending.erase(current);
      }
    }
    if (watches[0].ready) s.accept_waiting();
    s.drop_expired();
  }
}

void TLSListener::on_handshake_error(std::function<void(const std::exception&)> handler) {
  if (impl_) impl_->on_error = std::move(handler);
}

void TLSListener::on_plaintext(std::function<std::string(std::string_view first_bytes)> reply) {
  if (impl_) impl_->plaintext_reply = std::move(reply);
}

std::uint16_t TLSListener::port() const noexcept { return impl_ ? impl_->port : 0; }
NativeSocket TLSListener::socket() const noexcept { return impl_ ? impl_->listener.get() : net::invalid_socket; }

void TLSListener::close() noexcept {
  if (!impl_) return;
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  if (s.accepting) {
    s.wakeup.signal();
    if (s.accepting_thread == std::this_thread::get_id()) return;  // accept() closes when it wakes
    s.left.wait(lock, [&s] { return !s.accepting; });
  }
  s.pending.clear();
  s.listener.close();
}

}  // namespace tlsock
