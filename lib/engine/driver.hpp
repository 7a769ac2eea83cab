// The one driver of the engine: the loops that move bytes between an Engine and a transport
// (send some bytes, receive some bytes or "nothing now", wait for a direction until a
// deadline), and the one place where the error semantics of the public API are decided.
// TLSSocket (blocking, a deadline per call), TLSListener (non-blocking handshake steps) and
// Connection (bytes pushed in by data_from_wire, pushed out through write_to_wire, never
// waiting) are thin adapters over it. It knows the engine's interface and nothing else: no
// socket, no mbedTLS.
//
// Errors (see Driver::guarded):
// - Errors::sticky (oscrypto, TLSSocket): the first error is rethrown by every later call
//   (the engine keeps it); the fatal alert it queued is flushed, best effort, first.
// - Errors::invalidate (PyTLS, Connection): the first error is raised by the call that met
//   it, after the alert it queued went out; every later call raises InvalidatedError quoting
//   it. After the peer's close_notify (TLSGracefulDisconnectError) the connection is not
//   invalid: sending our own close_notify is still allowed, and other calls rethrow it.
#pragma once

#include "internal.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "engine/engine.hpp"
#include "tlsock/errors.hpp"

namespace tlsock::engine {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;  // nullopt: no limit

// What a driver call is doing when it waits (the transport names it in its timeout message).
enum class Operation { handshake, read, write };
enum class Direction { read, write };

// How long a driver call may wait for the transport.
struct Wait {
  bool allowed = false;
  Deadline deadline;
  [[nodiscard]] static Wait never() noexcept { return {}; }
  [[nodiscard]] static Wait until(Deadline deadline) noexcept { return {true, deadline}; }
};

// A byte transport. The driver never calls back into itself from these.
class Transport {
 public:
  // Takes a prefix of bytes; returns its size, 0 when it takes nothing now.
  virtual std::size_t send(std::string_view bytes) = 0;
  // Receives into space: the count, 0 at EOF, nullopt when nothing is there now.
  virtual std::optional<std::size_t> receive(std::span<char> space) = 0;
  // Returns once the transport may be ready in direction; past deadline it throws its own
  // timeout error. Called only when the driver call was allowed to wait.
  virtual void wait(Direction direction, Deadline deadline, Operation operation) = 0;
  // flush() emptied the engine's output: a transport that collects what send() took hands it
  // on now, and may re-enter the driver from there.
  virtual void flushed() {}
  // A guarded call failed (Errors::invalidate: after the alert went to send()); orderly: the
  // failure is the peer's close_notify.
  virtual void failed(bool orderly) { (void)orderly; }

 protected:
  Transport() = default;
  Transport(const Transport&) = default;
  Transport& operator=(const Transport&) = default;
  ~Transport() = default;
};

enum class Errors { sticky, invalidate };

class Driver {
 public:
  // Builds the engine from engine_args (a client's or a server's).
  template <typename... EngineArgs>
  Driver(Transport& transport, Errors errors, EngineArgs&&... engine_args)
      : engine_(std::forward<EngineArgs>(engine_args)...), transport_(transport), errors_(errors) {}
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  [[nodiscard]] Engine& engine() noexcept { return engine_; }
  [[nodiscard]] const Engine& engine() const noexcept { return engine_; }

  // Sends what the engine has queued; false when output remains (the transport took nothing
  // and the call may not wait).
  bool flush(Wait wait, Operation operation = Operation::write);
  // After a failure the peer should still get the alert it queued: flush() that waits a
  // moment at most and swallows every error.
  void flush_quietly() noexcept;

  enum class Intake { received, eof, enough, nothing };
  // Moves wire bytes straight into the engine's buffer (receive_space/received), waiting for
  // them if allowed. enough: the engine holds enough input to progress without more.
  Intake take_in(Wait wait, Operation operation);
  // Bytes the adapter holds already (Connection::data_from_wire).
  void receive(std::string_view bytes) { engine_.receive(bytes); }

  // Advances the handshake as far as the transport allows; true once it is complete.
  [[nodiscard]] bool handshake(Wait wait);
  // Decrypts into data: at least one byte, or 0 when the transport has nothing now and the
  // call may not wait. After the handshake the transport receives straight into the
  // backend's record buffer (see Pull in driver.cpp).
  [[nodiscard]] std::size_t read(char* data, std::size_t size, Wait wait);
  // Encrypts and sends all of data (a deferred handshake first); false when the call may not
  // wait and the transport needs to.
  bool write(std::string_view data, Wait wait);

  // Runs a public call under the error semantics above. closing: the call sends our
  // close_notify, still allowed after the peer's.
  template <typename F>
  auto guarded(F&& call, bool closing = false) -> decltype(call()) {
    check_valid(closing);
    try {
      return call();
    } catch (const TLSGracefulDisconnectError&) {
      after_failure(true);
      throw;
    } catch (...) {
      after_failure(false);
      throw;
    }
  }
  // Errors::invalidate: true once a failure was raised to the caller (or the application
  // ended the connection with a fatal alert).
  [[nodiscard]] bool error_reported() const noexcept { return error_reported_; }
  void set_error_reported() noexcept { error_reported_ = true; }

 private:
  class Pull;
  void check_valid(bool closing) const;
  void after_failure(bool orderly);

  Engine engine_;
  Transport& transport_;
  Errors errors_;
  bool error_reported_ = false;
  bool reply_expected_ = false;  // flush() sent bytes since the last take_in()
};

}  // namespace tlsock::engine
