// libFuzzer target: ReadBuffer (the buffer behind read_line and read_until) under arbitrary
// appends, searches and takes, checked against a reference that rescans a plain string.
//
// The input is a program of operations, one opcode byte each (low 2 bits), with operands
// taken from the bytes that follow:
//   0 append n    n = next byte; the following n bytes are appended (prepare may be asked
//                 for more than is then committed: bit 2 of the opcode)
//   1 line        find_line_end(at_eof = bit 2 of the opcode); a match is taken
//   2 marker      find(marker): marker length 1..8 from the next byte, then its bytes; a
//                 match is taken
//   3 take n      take(n % (size() + 1))
// ReadBuffer's contract: a search resumes where the previous one stopped, so between two
// takes the caller repeats the same search (TLSSocket's read_until_match loop does). By
// default the program keeps to that: the first search after a take fixes which search runs
// until the next take. TLSOCK_FUZZ_MIXED_SEARCHES=1 lets the program switch searches in
// between (what TLSSocket does when a read_until/read_line call raised, e.g. on a timeout,
// and the application then calls another one): see test/fuzz/README.md, finding 1.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "socket/read_buffer.hpp"

namespace {

using tlsock::fuzz::contract_violation;

std::optional<std::size_t> reference_line_end(std::string_view data, bool at_eof) {
  std::size_t i = data.find_first_of("\r\n");
  if (i == std::string_view::npos) return std::nullopt;
  if (data[i] == '\n') return i + 1;
  if (i + 1 < data.size()) return data[i + 1] == '\n' ? i + 2 : i + 1;
  if (at_eof) return i + 1;
  return std::nullopt;
}

std::optional<std::size_t> reference_find(std::string_view data, std::string_view marker) {
  std::size_t at = data.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  return at + marker.size();
}

bool mixed_searches() {
  static const bool mixed = [] {
    const char* env = std::getenv("TLSOCK_FUZZ_MIXED_SEARCHES");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return mixed;
}

class Program {
 public:
  Program(const std::uint8_t* data, std::size_t size) : in_(reinterpret_cast<const char*>(data), size) {}

  void run() {
    while (!in_.empty()) {
      auto op = static_cast<std::uint8_t>(next_byte());
      switch (op & 3) {
        case 0:
          append(next_byte(), (op & 4) != 0);
          break;
        case 1:
          search(Search{true, (op & 4) != 0, {}});
          break;
        case 2: {
          std::size_t length = 1 + next_byte() % 8;
          std::string marker(in_.substr(0, length));
          in_.remove_prefix(marker.size());
          if (marker.empty()) return;
          search(Search{false, false, marker});
          break;
        }
        default:
          take(next_byte() % (buffer_.size() + 1));
          break;
      }
      check_state();
    }
  }

 private:
  struct Search {
    bool line;
    bool at_eof;
    std::string marker;
  };

  unsigned char next_byte() {
    if (in_.empty()) return 0;
    auto c = static_cast<unsigned char>(in_[0]);
    in_.remove_prefix(1);
    return c;
  }

  void append(std::size_t n, bool over_prepare) {
    std::string_view bytes = in_.substr(0, n);
    in_.remove_prefix(bytes.size());
    std::span<char> space = buffer_.prepare(over_prepare ? bytes.size() + 100 : bytes.size());
    if (space.size() < bytes.size()) contract_violation("prepare() gave less room than asked for");
    std::memcpy(space.data(), bytes.data(), bytes.size());
    buffer_.commit(bytes.size());
    reference_.append(bytes);
  }

  void search(Search wanted) {
    // Within one take cycle the first search sticks, unless mixing is allowed; switching to
    // another search restarts it (the contract TLSSocket follows: restart_search() per call).
    if (mixed_searches() && current_ && (current_->line != wanted.line || current_->marker != wanted.marker))
      buffer_.restart_search();
    if (!current_ || mixed_searches()) current_ = wanted;
    if (!mixed_searches()) current_->at_eof = wanted.at_eof;  // at_eof may change: read_until_match does
    const Search& s = *current_;
    std::optional<std::size_t> got = s.line ? buffer_.find_line_end(s.at_eof) : buffer_.find(s.marker);
    std::optional<std::size_t> want =
        s.line ? reference_line_end(reference_, s.at_eof) : reference_find(reference_, s.marker);
    if (got != want) {
      std::string what =
          s.line ? "find_line_end(" + std::string(s.at_eof ? "true" : "false") + ")" : "find(\"" + s.marker + "\")";
      contract_violation(what + " returned " + (got ? std::to_string(*got) : "nullopt") + ", the reference " +
                         (want ? std::to_string(*want) : "nullopt") + " on " + std::to_string(reference_.size()) +
                         " buffered bytes");
    }
    if (got) take(*got);
  }

  void take(std::size_t n) {
    std::string taken = buffer_.take(n);
    if (taken != std::string_view(reference_).substr(0, n)) contract_violation("take() returned other bytes");
    reference_.erase(0, n);
    current_.reset();
  }

  void check_state() const {
    if (buffer_.size() != reference_.size()) contract_violation("size() differs from the bytes appended minus taken");
    if (buffer_.empty() != reference_.empty()) contract_violation("empty() is wrong");
    if (buffer_.view() != reference_) contract_violation("view() differs from the reference");
  }

  std::string_view in_;
  tlsock::ReadBuffer buffer_;
  std::string reference_;
  std::optional<Search> current_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Program(data, size).run();
  return 0;
}
