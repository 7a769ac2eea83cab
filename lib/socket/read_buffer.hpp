// The plaintext buffer behind read_line/read_until: bytes the application has not taken
// yet, searched for markers in time linear in the bytes added (each search resumes where
// the last one stopped, overlapping by the marker's length so split markers are found).
#pragma once

#include "internal.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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
  [[nodiscard]] std::optional<std::size_t> find_line_end(bool at_eof = false);
  // Starts a new search from the first byte: call it when the marker changes (a
  // read_line after a read_until that gave up must not skip what that one scanned).
  void restart_search() noexcept { scanned_ = 0; }

 private:
  std::string data_;
  std::size_t begin_ = 0, end_ = 0;
  std::size_t scanned_ = 0;  // bytes from begin_ already searched without a match
};

}  // namespace tlsock
