// A TCP relay on 127.0.0.1 that stands between a TLS client and a real server and injects one
// fault into each connection it relays: the stream cut after N bytes in one direction (both
// peers then see a TCP close and never a close_notify), or one byte of one direction XORed.
// Without a fault it passes everything through and records what each direction carried, which
// is how a test finds the offsets to sweep. parse_records() splits a recorded stream into TLS
// records, so a test can aim at record headers, handshake bodies and authentication tags.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/plain_server.hpp"

namespace tlsock::testing {

// The two directions of a relayed connection (also the index into Relayed::delivered).
enum class Flow { client_to_server = 0, server_to_client = 1 };

[[nodiscard]] std::string_view to_string(Flow flow);  // "client->server", "server->client"

// What the proxy does to a connection.
struct Fault {
  enum class Kind { pass, cut, flip };
  Kind kind = Kind::pass;
  Flow flow = Flow::client_to_server;
  // cut: how many bytes of flow are delivered; the connection is cut when byte `offset` shows
  // up, and nothing more is delivered in either direction. flip: the index of the byte in flow.
  std::size_t offset = 0;
  std::uint8_t mask = 0xff;  // flip: XORed into the byte

  [[nodiscard]] static Fault pass() { return {}; }
  [[nodiscard]] static Fault cut(Flow flow, std::size_t after) { return {Kind::cut, flow, after, 0}; }
  [[nodiscard]] static Fault flip(Flow flow, std::size_t at, std::uint8_t mask = 0xff) {
    return {Kind::flip, flow, at, mask};
  }
};

// "pass through", "cut server->client after 517 bytes", "flip client->server byte 12 (^ 0xff)".
[[nodiscard]] std::string describe(const Fault& fault);

// One connection the proxy relayed to its end.
struct Relayed {
  // The bytes each peer received, indexed by Flow: after the fault (cut short, or with the
  // flipped byte).
  std::array<std::string, 2> delivered;
  // The stream reached the fault's offset, so the fault happened (always false for pass).
  bool fault_applied = false;

  [[nodiscard]] const std::string& of(Flow flow) const { return delivered[static_cast<std::size_t>(flow)]; }
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (an ephemeral port) and relays each connection, one at a time in the
  // order they arrive, to 127.0.0.1:upstream_port, with the fault set when it was accepted.
  // After a cut, or once one side has closed, the other side gets linger to close before the
  // proxy closes it; a connection never lasts longer than max_duration.
  explicit FaultProxy(std::uint16_t upstream_port, std::chrono::milliseconds linger = std::chrono::seconds(2),
                      std::chrono::milliseconds max_duration = std::chrono::seconds(30));
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  ~FaultProxy() = default;  // stops the relay (see PlainServer)

  [[nodiscard]] std::uint16_t port() const noexcept { return server_.port(); }

  // The fault for connections accepted from now on (pass-through at first).
  void set_fault(Fault fault);

  // Waits until count connections have been relayed to their end and returns the last one.
  // Throws std::runtime_error if that takes longer than timeout.
  [[nodiscard]] Relayed wait_relayed(std::size_t count,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  [[nodiscard]] std::size_t relayed() const;
  // The first failure of the relay itself (say the upstream refused), "" if none.
  [[nodiscard]] std::string error() const { return server_.handler_error(); }

  struct State;

 private:
  std::shared_ptr<State> state_;
  PlainServer server_;  // last: its thread uses state_
};

// One TLS record in a recorded stream.
struct TlsRecord {
  std::size_t offset = 0;  // of its 5-byte header in the stream
  std::uint8_t type = 0;   // 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data
  std::size_t length = 0;  // of its body
  [[nodiscard]] std::size_t body() const noexcept { return offset + 5; }
  [[nodiscard]] std::size_t end() const noexcept { return offset + 5 + length; }
};

// The complete records at the start of stream, in order; a partial one at the end is left out.
[[nodiscard]] std::vector<TlsRecord> parse_records(std::string_view stream);

}  // namespace tlsock::testing
