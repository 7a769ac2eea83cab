// The read buffer behind read_line and read_until.
#include <string>

#include "socket/read_buffer.hpp"
#include "support/catch.hpp"

namespace {

void append(tlsock::ReadBuffer& buffer, std::string_view bytes) {
  auto space = buffer.prepare(bytes.size());
  bytes.copy(space.data(), bytes.size());
  buffer.commit(bytes.size());
}

// Feeds `input` in chunks of `chunk` bytes and takes every line as it appears.
std::vector<std::string> lines_of(std::string_view input, std::size_t chunk) {
  tlsock::ReadBuffer buffer;
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    append(buffer, input.substr(pos, chunk));
    while (auto end = buffer.find_line_end()) lines.push_back(buffer.take(*end));
  }
  if (auto end = buffer.find_line_end(true)) lines.push_back(buffer.take(*end));
  if (!buffer.empty()) lines.push_back(buffer.take(buffer.size()));
  return lines;
}

}  // namespace

TEST_CASE("line endings: LF, CRLF and lone CR, in any chunking", "[read_buffer]") {
  std::string input = "one\ntwo\r\nthree\rfour\r\n\r\nfive\n\nsix\r";
  std::vector<std::string> expected{"one\n", "two\r\n", "three\r", "four\r\n", "\r\n", "five\n", "\n", "six\r"};
  for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
    INFO("chunk size " << chunk);
    CHECK(lines_of(input, chunk) == expected);
  }
}

TEST_CASE("a CR at the end of the buffer waits for the next byte", "[read_buffer]") {
  tlsock::ReadBuffer buffer;
  append(buffer, "abc\r");
  CHECK_FALSE(buffer.find_line_end());
  append(buffer, "\nrest");
  auto end = buffer.find_line_end();
  REQUIRE(end);
  CHECK(buffer.take(*end) == "abc\r\n");
  CHECK(buffer.view() == "rest");
}

TEST_CASE("markers split across chunks are found", "[read_buffer]") {
  std::string input = "xxxxxxxx--MARKER--yyyy--MARKER--";
  for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
    INFO("chunk size " << chunk);
    tlsock::ReadBuffer buffer;
    std::vector<std::string> pieces;
    for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
      append(buffer, std::string_view(input).substr(pos, chunk));
      while (auto end = buffer.find("--MARKER--")) pieces.push_back(buffer.take(*end));
    }
    CHECK(pieces == std::vector<std::string>{"xxxxxxxx--MARKER--", "yyyy--MARKER--"});
    CHECK(buffer.empty());
  }
}

TEST_CASE("marker search resumes instead of rescanning", "[read_buffer]") {
  // Overlapping prefixes: the search must back up by marker.size() - 1 and no more.
  tlsock::ReadBuffer buffer;
  append(buffer, "ababa");
  CHECK_FALSE(buffer.find("abac"));
  append(buffer, "c");
  auto end = buffer.find("abac");
  REQUIRE(end);
  CHECK(*end == 6);
}

TEST_CASE("take and prepare keep bytes in order across growth", "[read_buffer]") {
  tlsock::ReadBuffer buffer;
  std::string all;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = std::to_string(i) + ",";
    append(buffer, piece);
    all += piece;
    if (i % 7 == 0) {
      std::string taken = buffer.take(buffer.size() / 2);
      CHECK(all.substr(0, taken.size()) == taken);
      all.erase(0, taken.size());
    }
  }
  CHECK(buffer.view() == all);
}

TEST_CASE("line endings stay right while the buffer slides, grows and empties", "[read_buffer]") {
  // find_line_end remembers where the next '\r' is; bytes that move (prepare slides them to
  // the front) or are replaced (an emptied buffer starts again at 0) must not fool it.
  std::string input;
  std::vector<std::string> expected;
  const char* endings[] = {"\n", "\n", "\n", "\r\n", "\r"};
  for (unsigned i = 0; i < 3000; ++i) {
    std::string line = std::string(1 + (i * 7919U) % 61, static_cast<char>('a' + i % 26)) + endings[(i * 31U) % 5];
    input += line;
    expected.push_back(line);
  }
  for (std::size_t chunk : {1, 5, 64, 1000, 20000, 200000}) {
    INFO("chunk size " << chunk);
    CHECK(lines_of(input, chunk) == expected);
  }
}
