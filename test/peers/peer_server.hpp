// Helpers shared by the peer tests (test/peers/): a trusted TLSSession for the test PKI, a
// temporary directory served by `openssl s_server -WWW`, reading a socket to its end, and a
// small SHA-256 so large transfers can be compared without keeping both copies in memory.
// Header-only, public API only: the tests must not see mbedTLS.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/tlsock.hpp"

namespace tlsock::testing {

// A session that trusts the test PKI's root, as every "good" peer test needs.
[[nodiscard]] inline TLSSession::Options trusted_options() {
  TLSSession::Options options;
  options.extra_trust_roots = {certs_dir() / "root-ca.pem"};
  return options;
}

[[nodiscard]] inline std::shared_ptr<TLSSession> trusted_session(TLSSession::Options options = trusted_options()) {
  return std::make_shared<TLSSession>(std::move(options));
}

// The version a peer that speaks TLS 1.2 and 1.3 (OpenSSL 3, GnuTLS 3.7) agrees on with our
// defaults: TLS 1.3 where the linked mbedTLS has it, else TLS 1.2 (mbedTLS 2.28).
[[nodiscard]] inline std::string_view expected_protocol() {
  return default_protocols().contains(Protocol::TLSv1_3) ? "TLSv1.3" : "TLSv1.2";
}

// `openssl s_server -WWW` serving the files of dir: `GET /name HTTP/1.0` answers
// "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n" and the file's bytes (no
// Content-Length), then close_notify. s_server resolves request paths against its current
// directory and has no option to choose it, hence the `sh -c 'cd ...'`; the shell execs
// s_server, and ServerProcess stops the whole process group in any case.
[[nodiscard]] inline ServerProcess www_server(const std::filesystem::path& dir, std::uint16_t port = free_port()) {
  std::string openssl = find_program("openssl");
  if (openssl.empty()) throw std::runtime_error("openssl is not installed");
  std::filesystem::path certs = certs_dir();
  ServerProcessOptions options;
  options.keep_stdin = true;
  options.ready_check = ReadyCheck::connect;  // one more HTTP client to s_server -WWW
  return ServerProcess::start(
      {"sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir.string(), openssl, "s_server", "-accept",
       "127.0.0.1:" + std::to_string(port), "-cert", (certs / "localhost.pem").string(), "-key",
       (certs / "localhost.key").string(), "-cert_chain", (certs / "intermediate-ca.pem").string(), "-quiet", "-WWW"},
      port, options);
}

// How a read loop ended.
enum class End { graceful, abrupt };

// Reads with read(chunk) until the connection ends, passing each piece to sink. Returns
// which disconnect error ended it; any other exception propagates.
template <typename Sink>
End read_to_end(TLSSocket& socket, Sink&& sink, std::size_t chunk = 65536) {
  try {
    for (;;) sink(socket.read(chunk));
  } catch (const TLSGracefulDisconnectError&) {
    return End::graceful;
  } catch (const TLSDisconnectError&) {
    return End::abrupt;
  }
}

// What f throws, as "Class: message" with the most derived tlsock class (or a standard one),
// so one comparison checks both the class and the exact message; "no exception" otherwise.
template <typename F>
[[nodiscard]] std::string error_of(F&& f) {
  try {
    f();
  } catch (const TLSGracefulDisconnectError& e) {
    return std::string("TLSGracefulDisconnectError: ") + e.what();
  } catch (const TLSDisconnectError& e) {
    return std::string("TLSDisconnectError: ") + e.what();
  } catch (const TLSConnectionError& e) {
    return std::string("TLSConnectionError: ") + e.what();
  } catch (const TLSVerificationError& e) {
    return std::string("TLSVerificationError: ") + e.what();
  } catch (const TLSError& e) {
    return std::string("TLSError: ") + e.what();
  } catch (const TimeoutError& e) {
    return std::string("TimeoutError: ") + e.what();
  } catch (const std::system_error& e) {
    return std::string("std::system_error: ") + e.what();
  } catch (const std::invalid_argument& e) {
    return std::string("std::invalid_argument: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("std::exception: ") + e.what();
  }
  return "no exception";
}

// "new", "reused" or "none", for readable comparisons of session_id()/session_ticket().
[[nodiscard]] inline std::string reuse_of(const std::optional<SessionReuse>& reuse) {
  return reuse ? std::string(to_string(*reuse)) : std::string("none");
}

// FIPS 180-4 SHA-256, incremental. The digest of a transfer is checked against
// `sha256sum`, which also checks this implementation.
class Sha256 {
 public:
  void update(std::string_view data) {
    length_ += data.size();
    while (!data.empty()) {
      std::size_t n = std::min(data.size(), block_.size() - used_);
      std::memcpy(block_.data() + used_, data.data(), n);
      used_ += n;
      data.remove_prefix(n);
      if (used_ == block_.size()) {
        compress();
        used_ = 0;
      }
    }
  }

  // Lower-case hex, as sha256sum prints it. Ends the computation.
  [[nodiscard]] std::string hex_digest() {
    std::uint64_t bits = length_ * 8;
    block_[used_++] = 0x80;
    if (used_ > 56) {
      std::fill(block_.begin() + static_cast<std::ptrdiff_t>(used_), block_.end(), 0);
      compress();
      used_ = 0;
    }
    std::fill(block_.begin() + static_cast<std::ptrdiff_t>(used_), block_.begin() + 56, 0);
    for (int i = 0; i < 8; ++i) block_[56 + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    compress();
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::uint32_t word : h_)
      for (int shift = 28; shift >= 0; shift -= 4) out += digits[(word >> shift) & 0xf];
    return out;
  }

 private:
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress() {
    static constexpr std::array<std::uint32_t, 64> k = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::array<std::uint32_t, 64> w{};
    for (int i = 0; i < 16; ++i)
      w[i] = (std::uint32_t{block_[4 * i]} << 24) | (std::uint32_t{block_[4 * i + 1]} << 16) |
             (std::uint32_t{block_[4 * i + 2]} << 8) | std::uint32_t{block_[4 * i + 3]};
    for (int i = 16; i < 64; ++i) {
      std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::array<std::uint32_t, 8> v = h_;
    for (int i = 0; i < 64; ++i) {
      std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      std::uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      std::uint32_t t1 = v[7] + s1 + ch + k[i] + w[i];
      std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      std::uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      std::uint32_t t2 = s0 + maj;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (int i = 0; i < 8; ++i) h_[i] += v[i];
  }

  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<unsigned char, 64> block_{};
  std::size_t used_ = 0;
  std::uint64_t length_ = 0;
};

// The digest `sha256sum` reports for a file.
[[nodiscard]] inline std::string sha256sum_of(const std::filesystem::path& file) {
  ProgramResult result = run_program({"sha256sum", "-b", file.string()}, std::chrono::seconds(30));
  if (result.exit_code != 0) throw std::runtime_error("sha256sum failed:\n" + result.output);
  return result.output.substr(0, result.output.find(' '));
}

}  // namespace tlsock::testing
