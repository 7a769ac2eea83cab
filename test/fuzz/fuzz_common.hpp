// Shared by the libFuzzer targets: how an input is split into a variant, a chunking pattern
// and a payload, the contract checks a target can fail on, and the certificate paths.
//
// Input layout (targets that take a header):
//   byte 0      variant: which configuration to run (taken modulo the target's count)
//   bytes 1..3  chunk pattern: the payload is fed in chunks of p[0]+1, p[1]+1, p[2]+1, p[0]+1, ...
//               bytes; 0xff means "all the rest at once"
//   bytes 4..   payload
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#ifndef TLSOCK_CERTS_DIR
#error "TLSOCK_CERTS_DIR must name the certs/ directory"
#endif

namespace tlsock::fuzz {

inline std::string cert_path(std::string_view name) { return std::string(TLSOCK_CERTS_DIR) + "/" + std::string(name); }

// A broken contract: libFuzzer records the input as a crash.
[[noreturn]] inline void contract_violation(std::string_view what) {
  std::fprintf(stderr, "CONTRACT VIOLATION: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

class FuzzInput {
 public:
  static constexpr std::size_t header_size = 4;

  FuzzInput(const std::uint8_t* data, std::size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    for (std::size_t i = 0; i < header_size && i < all.size(); ++i) header_[i] = static_cast<std::uint8_t>(all[i]);
    payload_ = all.size() > header_size ? all.substr(header_size) : std::string_view();
  }

  [[nodiscard]] std::uint8_t variant() const noexcept { return header_[0]; }
  [[nodiscard]] std::string_view payload() const noexcept { return payload_; }

  // Calls f(chunk) for consecutive non-empty chunks of the payload; stops early if f returns false.
  template <typename F>
  void for_each_chunk(F&& f) const {
    std::string_view rest = payload_;
    for (std::size_t i = 0; !rest.empty(); ++i) {
      std::uint8_t p = header_[1 + i % 3];
      std::size_t n = p == 0xff ? rest.size() : std::min<std::size_t>(rest.size(), p + 1u);
      if (!f(rest.substr(0, n))) return;
      rest.remove_prefix(n);
    }
  }

 private:
  std::array<std::uint8_t, header_size> header_{0, 0xff, 0xff, 0xff};
  std::string_view payload_;
};

}  // namespace tlsock::fuzz
