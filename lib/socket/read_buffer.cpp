// ReadBuffer (see read_buffer.hpp).
#include "socket/read_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace tlsock {

std::span<char> ReadBuffer::prepare(std::size_t at_least) {
  if (data_.size() - end_ < at_least) {
    if (begin_ > 0) {
      // Slide the unread bytes to the front before growing.
      std::memmove(data_.data(), data_.data() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
      forget_cr();
    }
    if (data_.size() - end_ < at_least) data_.resize(std::max(end_ + at_least, data_.size() * 2));
  }
  return {data_.data() + end_, data_.size() - end_};
}

std::string ReadBuffer::take(std::size_t n) {
  std::string out(data_.data() + begin_, n);
  begin_ += n;
  scanned_ = 0;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    forget_cr();
  }
  return out;
}

std::size_t ReadBuffer::take_into(std::span<char> out) noexcept {
  std::size_t n = std::min(out.size(), size());
  std::memcpy(out.data(), data_.data() + begin_, n);
  begin_ += n;
  scanned_ = 0;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    forget_cr();
  }
  return n;
}

std::optional<std::size_t> ReadBuffer::find(std::string_view marker) {
  std::string_view data = view();
  std::size_t from = scanned_ >= marker.size() ? scanned_ - (marker.size() - 1) : 0;
  std::size_t at = data.find(marker, from);
  if (at == std::string_view::npos) {
    scanned_ = data.size();
    return std::nullopt;
  }
  return at + marker.size();
}

void ReadBuffer::search_cr(std::size_t from) noexcept {
  const auto* cr = static_cast<const char*>(std::memchr(data_.data() + from, '\r', end_ - from));
  cr_from_ = from;
  cr_to_ = end_;
  cr_at_ = cr != nullptr ? static_cast<std::size_t>(cr - data_.data()) : end_;
}

}  // namespace tlsock
