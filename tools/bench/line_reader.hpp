// The hand-written buffered reader the reference clients use for read_line and read_until:
// what a program on raw mbedTLS or OpenSSL would write, 16 KiB at a time, each search
// resuming where the last one stopped. The yardstick for TLSSocket's own.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace tlsock::bench {

// Source: std::size_t(char* data, std::size_t size), returning 1 to size bytes or throwing.
template <typename Source>
class LineReader {
 public:
  explicit LineReader(Source source) : source_(std::move(source)) {}

  // Up to and including the next '\n'.
  std::string read_line() {
    return read_until_match(
        [](std::string_view data, std::size_t from) {
          std::size_t at = data.find('\n', from);
          return at == std::string_view::npos ? at : at + 1;
        },
        1);
  }

  // Up to and including the next marker.
  std::string read_until(std::string_view marker) {
    return read_until_match(
        [marker](std::string_view data, std::size_t from) {
          std::size_t at = data.find(marker, from);
          return at == std::string_view::npos ? at : at + marker.size();
        },
        marker.size());
  }

  // Buffered bytes first, then straight from the source.
  std::size_t read(char* data, std::size_t size) {
    if (begin_ == end_) return source_(data, size);
    std::size_t n = std::min(size, end_ - begin_);
    std::memcpy(data, buffer_.data() + begin_, n);
    begin_ += n;
    return n;
  }

 private:
  static constexpr std::size_t chunk = 16 * 1024;

  template <typename Find>
  std::string read_until_match(Find find, std::size_t marker_size) {
    std::size_t scanned = 0;
    for (;;) {
      std::string_view data(buffer_.data() + begin_, end_ - begin_);
      std::size_t from = scanned >= marker_size ? scanned - (marker_size - 1) : 0;
      if (std::size_t end = find(data, from); end != std::string_view::npos) {
        std::string out(data.substr(0, end));
        begin_ += end;
        return out;
      }
      scanned = data.size();
      fill();
    }
  }

  void fill() {
    if (buffer_.size() - end_ < chunk) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      if (buffer_.size() - end_ < chunk) buffer_.resize(std::max(end_ + chunk, buffer_.size() * 2));
    }
    end_ += source_(buffer_.data() + end_, buffer_.size() - end_);
  }

  Source source_;
  std::string buffer_;
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace tlsock::bench
