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

std::size_t ReadBuffer::first_cr(std::size_t from, std::size_t to) {
  // The last search answers unless it started after `from`, or found no '\r' and stopped
  // before `to`.
  if (from < cr_from_ || from > cr_at_ || (cr_at_ == cr_to_ && to > cr_to_)) {
    const auto* cr = static_cast<const char*>(std::memchr(data_.data() + from, '\r', end_ - from));
    cr_from_ = from;
    cr_to_ = end_;
    cr_at_ = cr != nullptr ? static_cast<std::size_t>(cr - data_.data()) : end_;
  }
  return std::min(cr_at_, to);
}

std::optional<std::size_t> ReadBuffer::find_line_end(bool at_eof) {
  // One memchr for '\n' per line, not find_first_of("\r\n"), which tests each byte against
  // both; the '\r' search spans everything buffered and is remembered (first_cr), so text
  // without '\r' (most of it) costs one memchr per line, and one more per buffer fill.
  const char* data = data_.data() + begin_;
  std::size_t size = end_ - begin_;
  const auto* lf = static_cast<const char*>(std::memchr(data + scanned_, '\n', size - scanned_));
  std::size_t limit = lf != nullptr ? static_cast<std::size_t>(lf - data) : size;
  std::size_t i = first_cr(begin_ + scanned_, begin_ + limit) - begin_;
  if (i == limit) {  // no '\r' before the '\n' (or the end)
    if (lf != nullptr) return limit + 1;
    scanned_ = size;
    return std::nullopt;
  }
  if (i + 1 < size) return data[i + 1] == '\n' ? i + 2 : i + 1;
  if (at_eof) return i + 1;
  scanned_ = i;  // look at this '\r' again once the next byte is here
  return std::nullopt;
}

}  // namespace tlsock
