// fetch --compressed: gzip and deflate bodies through zlib (see decoder.hpp).
#include "fetch/decoder.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "cli/cli.hpp"
#include "cli/failure.hpp"

namespace tlsock::cli {
namespace {

constexpr std::size_t chunk = 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

struct Decoder::Stream {
  z_stream z{};
  bool open = false;

  explicit Stream(int window_bits) {
    if (inflateInit2(&z, window_bits) != Z_OK) throw Failure(failure, "--compressed: zlib could not start");
    open = true;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (open) inflateEnd(&z);
  }
};

bool Decoder::supports(std::string_view encoding) {
  std::string name = lower(encoding);
  return name == "gzip" || name == "x-gzip" || name == "deflate";
}

Decoder::Decoder(const std::string& encoding, Sink sink) : encoding_(lower(encoding)), sink_(std::move(sink)) {
  if (!supports(encoding_))
    throw Failure(tls, "the response's Content-Encoding \"" + encoding + "\" is not gzip or deflate");
  // gzip: a gzip header; deflate: a zlib header (32: either, detected).
  stream_ = std::make_unique<Stream>(encoding_ == "deflate" ? 15 + 32 : 16 + 15);
}

Decoder::~Decoder() = default;

void Decoder::restart_raw() {
  stream_ = std::make_unique<Stream>(-15);
  raw_ = true;
  std::string replay = std::move(first_);
  first_.clear();
  feed(replay);
}

void Decoder::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  if (ended_) throw Failure(tls, "the " + encoding_ + " body goes on after the end of its compressed data");
  bool probing = encoding_ == "deflate" && !raw_ && stream_->z.total_out == 0;
  if (probing) first_.append(bytes);
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  std::array<char, chunk> out{};
  while (!ended_) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int result = inflate(&z, Z_NO_FLUSH);
    if (result == Z_DATA_ERROR && probing) return restart_raw();  // "deflate" sent without zlib's wrapper
    if (result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR)
      throw Failure(tls, "the " + encoding_ + " body is corrupt: " + (z.msg != nullptr ? z.msg : "zlib error"));
    std::size_t produced = out.size() - z.avail_out;
    if (produced > 0) {
      first_.clear();
      probing = false;
      sink_(std::string_view(out.data(), produced));
    }
    if (result == Z_STREAM_END) ended_ = true;
    // Input used up, and the output had room to spare: nothing more is pending.
    if ((z.avail_in == 0 && z.avail_out > 0) || (result == Z_BUF_ERROR && produced == 0)) break;
  }
  if (ended_ && z.avail_in > 0)
    throw Failure(tls, "the " + encoding_ + " body goes on after the end of its compressed data");
}

void Decoder::finish() {
  if (!ended_) throw Failure(network, "the " + encoding_ + " body ended before its compressed data did (truncated)");
}

}  // namespace tlsock::cli
