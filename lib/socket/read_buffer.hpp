// The plaintext buffer behind read_line/read_until: bytes the application has not taken
// yet, searched for markers in time linear in the bytes added (each search resumes where
// the last one stopped, overlapping by the marker's length so split markers are found).
#pragma once

#include "internal.hpp"

#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace tlsock {

class ReadBuffer {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  [[nodiscard]] bool empty() const noexcept { return begin_ == end_; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_.data() + begin_, size()}; }

  // Room to append at least `at_least` bytes; commit() what was written.
  [[nodiscard]] std::span<char> prepare(std::size_t at_least);
  void commit(std::size_t size) noexcept { end_ += size; }

  // Removes and returns the first n bytes (n <= size()).
  [[nodiscard]] std::string take(std::size_t n);
  // Moves the first min(out.size(), size()) bytes into out; returns how many.
  [[nodiscard]] std::size_t take_into(std::span<char> out) noexcept;

  // Searches for marker in the bytes not yet searched; returns the length up to and
  // including the marker. A later call continues where this one stopped.
  [[nodiscard]] std::optional<std::size_t> find(std::string_view marker);
  // The end of the first line ("\r\n", "\n", or "\r" followed by anything else). A final
  // "\r" waits for the next byte unless at_eof.
  // Inline: read_line calls it once per line.
  [[nodiscard]] std::optional<std::size_t> find_line_end(bool at_eof = false) {
    // One memchr for '\n' per line, not find_first_of("\r\n"), which tests each byte against
    // both; the '\r' search spans everything buffered and is remembered (first_cr), so text
    // without '\r' (most of it) costs one memchr per line, and one more per buffer fill.
    const char* data = data_.data() + begin_;
    const std::size_t size = end_ - begin_;
    const auto* lf = static_cast<const char*>(std::memchr(data + scanned_, '\n', size - scanned_));
    const std::size_t limit = lf != nullptr ? static_cast<std::size_t>(lf - data) : size;
    const std::size_t i = first_cr(begin_ + scanned_, begin_ + limit) - begin_;
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
  // Starts a new search from the first byte: call it when the marker changes (a
  // read_line after a read_until that gave up must not skip what that one scanned).
  void restart_search() noexcept { scanned_ = 0; }

 private:
  // The position of the first '\r' in [from, to) (absolute offsets in data_), `to` if none.
  [[nodiscard]] std::size_t first_cr(std::size_t from, std::size_t to) noexcept {
    // The last search answers unless it started after `from`, or found no '\r' and stopped
    // before `to`.
    if (from < cr_from_ || from > cr_at_ || (cr_at_ == cr_to_ && to > cr_to_)) search_cr(from);
    return cr_at_ < to ? cr_at_ : to;
  }
  // Searches [from, end_) for '\r' and remembers the answer.
  void search_cr(std::size_t from) noexcept;
  // Bytes moved or were replaced: what first_cr remembers no longer holds.
  void forget_cr() noexcept { cr_from_ = cr_at_ = cr_to_ = 0; }

  std::string data_;
  std::size_t begin_ = 0, end_ = 0;
  std::size_t scanned_ = 0;  // bytes from begin_ already searched without a match
  // first_cr's last search, over [cr_from_, cr_to_): no '\r' in [cr_from_, cr_at_), and one
  // at cr_at_ unless cr_at_ == cr_to_.
  std::size_t cr_from_ = 0, cr_at_ = 0, cr_to_ = 0;
};

// The read_line/read_until loop of TLSSocket and TCPStream: searches what is buffered, then
// fills the buffer and searches again, until find reports a match length or max_buffered
// bytes hold none. The two differ only in their hooks:
// - find(bool at_end): the match length, if any; at_end: the stream ended in order, so a
//   final "\r" ends a line.
// - fill(std::size_t limit): appends 1 to limit bytes (waiting as its owner's deadline
//   allows), or throws at the end of the stream.
// - overflow(const std::string& message): throws the owner's error class for a full buffer.
// - EndOfStream: the exception of an orderly end, after which find(true) settles a final
//   "\r" before it propagates (not after an abrupt end, where data may be truncated); void:
//   no such end (a plain TCP stream reports every end alike).
template <typename EndOfStream, typename Find, typename Fill, typename Overflow>
std::string read_until_match(ReadBuffer& buffer, std::size_t max_buffered, std::string_view what,
                             std::string_view limit_setting, Find&& find, Fill&& fill, Overflow&& overflow) {
  // Each call may look for another marker than the last one (which may have given up).
  buffer.restart_search();
  for (;;) {
    if (std::optional<std::size_t> end = find(false)) return buffer.take(*end);
    if (buffer.size() >= max_buffered)
      overflow(std::string(what) + ": no match within the first " + std::to_string(max_buffered) +
               " bytes (the read buffer limit, " + std::string(limit_setting) + ")");
    if constexpr (std::is_void_v<EndOfStream>) {
      fill(max_buffered - buffer.size());
    } else {
      try {
        fill(max_buffered - buffer.size());
      } catch (const EndOfStream&) {
        if (std::optional<std::size_t> end = find(true)) return buffer.take(*end);
        throw;
      }
    }
  }
}

}  // namespace tlsock
