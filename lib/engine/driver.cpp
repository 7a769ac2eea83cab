// The engine's one driver (see driver.hpp).
#include "engine/driver.hpp"

namespace tlsock::engine {
namespace {
// How long a blocking transport may take to send the alert a failure queued.
constexpr std::chrono::milliseconds alert_flush_limit{200};
}  // namespace

bool Driver::flush(Wait wait, Operation operation) {
  for (std::string_view out = engine_.outgoing(); !out.empty(); out = engine_.outgoing()) {
    std::size_t n = transport_.send(out);
    if (n > 0) {
      engine_.sent(n);
      reply_expected_ = true;
      continue;
    }
    if (!wait.allowed) return false;
    transport_.wait(Direction::write, wait.deadline, operation);
  }
  transport_.flushed();
  return true;
}

void Driver::flush_quietly() noexcept {
  try {
    (void)flush(Wait::until(std::chrono::steady_clock::now() + alert_flush_limit));
  } catch (...) {
  }
}

Driver::Intake Driver::take_in(Wait wait, Operation operation) {
  std::span<char> space = engine_.receive_space();
  if (space.empty()) return Intake::enough;
  // Bytes just went out: the peer's answer is a round trip away, so a receive now would come
  // back empty. Waiting first saves that system call on every flight of a blocking transport.
  if (std::exchange(reply_expected_, false) && wait.allowed) transport_.wait(Direction::read, wait.deadline, operation);
  for (;;) {
    std::optional<std::size_t> n = transport_.receive(space);
    if (n) {
      if (*n == 0) {
        engine_.receive_eof();
        return Intake::eof;
      }
      engine_.received(*n);
      return Intake::received;
    }
    if (!wait.allowed) return Intake::nothing;
    transport_.wait(Direction::read, wait.deadline, operation);
  }
}

bool Driver::handshake(Wait wait) {
  for (;;) {
    bool done = engine_.handshake();
    if (!flush(wait, Operation::handshake)) return false;
    if (done) return true;
    if (take_in(wait, Operation::handshake) == Intake::nothing) return false;
  }
}

// The transport as the source of a read after the handshake: records go from the socket
// straight into the backend's buffer, without the copy through receive_space(). Like
// take_in(), it receives nothing right after a flush when the call may wait (the answer is a
// round trip away): the read then waits for it.
class Driver::Pull final : public backend::Source {
 public:
  Pull(Transport& transport, bool& reply_expected, bool may_wait) noexcept
      : transport_(transport), reply_expected_(reply_expected), may_wait_(may_wait) {}
  std::optional<std::size_t> receive(std::span<char> space) override {
    std::optional<std::size_t> n;
    if (!(std::exchange(reply_expected_, false) && may_wait_)) n = transport_.receive(space);
    starved_ = !n;
    return n;
  }
  // The last receive had nothing now.
  [[nodiscard]] bool starved() const noexcept { return starved_; }

 private:
  Transport& transport_;
  bool& reply_expected_;
  bool may_wait_;
  bool starved_ = false;
};

std::size_t Driver::read(char* data, std::size_t size, Wait wait) {
  for (;;) {
    // Before the handshake completes the engine ignores the source: its bytes go through
    // take_in() below, where the handshake's transcript sees them.
    Pull pull(transport_, reply_expected_, wait.allowed);
    if (std::size_t n = engine_.read(data, size, &pull); n > 0) return n;
    if (!flush(wait, Operation::read)) return 0;  // e.g. a post-handshake message that needs an answer
    if (pull.starved()) {
      if (!wait.allowed) return 0;
      transport_.wait(Direction::read, wait.deadline, Operation::read);
    } else if (take_in(wait, Operation::read) == Intake::nothing) {
      return 0;
    }
  }
}

bool Driver::write(std::string_view data, Wait wait) {
  while (!data.empty()) {
    std::size_t n = engine_.write(data);
    data.remove_prefix(n);
    if (!flush(wait, Operation::write)) return false;
    // Nothing taken: a deferred handshake needs the peer first.
    if (n == 0 && take_in(wait, Operation::write) == Intake::nothing) return false;
  }
  return true;
}

void Driver::check_valid(bool closing) const {
  if (errors_ == Errors::sticky) return;  // the engine rethrows its first error itself
  if (!engine_.failed() || !error_reported_) return;
  if (closing && engine_.peer_closed()) return;
  if (engine_.peer_closed()) std::rethrow_exception(engine_.error());
  std::string cause = "an earlier error";
  try {
    std::rethrow_exception(engine_.error());
  } catch (const std::exception& e) {
    cause = e.what();
  } catch (...) {
    // Not a std::exception (a verify callback may throw anything): no text to quote.
  }
  throw InvalidatedError("The connection was invalidated by an earlier error: " + cause, engine_.error());
}

void Driver::after_failure(bool orderly) {
  if (errors_ == Errors::sticky) {
    // The peer's close_notify queued nothing to send; anything else may have queued an alert.
    if (!orderly && engine_.failed()) flush_quietly();
    return;
  }
  error_reported_ = true;
  flush_quietly();
  transport_.failed(orderly);
}

}  // namespace tlsock::engine
