// The bench's line protocol, spoken by its server (server.cpp) and every client:
//
//   ping\n     -> 1 byte: 'R' if this connection's handshake resumed a session, else 'F'
//   bulk N\n   -> N bytes
//   sink N\n   <- N bytes from the client, then 1 byte 'k'
//   lines N\n  -> N lines, line(i) for i in [0, N)
//   until N\n  -> N messages, message(i), each ending with marker
//
// The bodies are deterministic, so clients can check what they received.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tlsock::bench {

inline constexpr std::string_view filler =
    "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz";
// A multi-byte marker, as at the end of an HTTP header block.
inline constexpr std::string_view marker = "\r\n\r\n";

// Line i: 20 to 60 bytes with its "\n" (40 on average).
inline void append_line(std::string& out, std::size_t i) {
  out.append(filler.substr(0, 19 + i % 41));
  out.push_back('\n');
}

// Message i: 100 to 299 bytes, then the marker.
inline void append_message(std::string& out, std::size_t i) {
  for (std::size_t left = 100 + i % 200; left > 0;) {
    std::size_t n = std::min(left, filler.size());
    out.append(filler.substr(0, n));
    left -= n;
  }
  out.append(marker);
}

}  // namespace tlsock::bench
