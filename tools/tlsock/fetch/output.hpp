// fetch's output side: where response bytes go (stdout, the -o file, or nowhere with --json),
// the progress bar on stderr, and the header block -i shows.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/output_file.hpp"
#include "http/http.hpp"

namespace tlsock::cli {

// strerror's text for an errno value.
std::string errno_text(int error);

// Writes all of data to stdout (Failure file_io if it cannot).
void write_stdout(std::string_view data);

// Where response bytes go: the -o file, stdout, or nowhere (--json without -o). A body with a
// NUL byte is not written to a terminal unless the user asked with -o - (as curl does).
//
// The -o file gets bytes only once the final response's status is known to be a success:
// until then (the headers of redirects, with -i) they wait here, and an error status drops
// them. A replaced file then stays as it was, and what is written in place (a FIFO, a device,
// a pipe) receives nothing: its reader sees an empty stream once the command ends.
class Output {
 public:
  // guard_terminal: stdout is a terminal the user did not ask for binary bytes on (-o -).
  Output(OutputFile* file, bool to_stdout, bool guard_terminal = false)
      : file_(file), to_stdout_(to_stdout), guard_terminal_(guard_terminal) {}

  // Called once the status of the response whose body is the download (after the redirects)
  // is known: accepted, a success; else its bytes are dropped.
  void final_status(bool accepted);
  void write(std::string_view data);
  [[nodiscard]] bool to_stdout() const { return file_ == nullptr && to_stdout_; }

 private:
  OutputFile* file_;
  bool to_stdout_;
  bool guard_terminal_;
  bool status_known_ = false;
  bool accepted_ = false;
  std::string held_;
};

// A one-line progress bar on stderr (size, rate, ETA), only for a terminal, and only once a
// download has taken more than a second: short transfers and scripts see nothing.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { finish(); }

  void start(std::optional<std::uint64_t> total);
  void advance(std::size_t bytes);
  // Erases the bar, so what follows (an error) starts on a clean line.
  void finish();
  // The transfer succeeded: the bar, if one was drawn, gives way to a one-line summary.
  void done();

 private:
  void draw(double seconds);
  // The parts that fit the terminal's width, most important first.
  [[nodiscard]] std::string fit(const std::vector<std::string>& parts) const;

  bool enabled_;
  std::optional<std::uint64_t> total_;
  std::uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point start_{}, last_draw_{};
  std::size_t width_ = 0;  // of the bar on screen; 0 when none is drawn
};

// "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n", as -i shows it.
std::string header_block(const http::Response& response);

}  // namespace tlsock::cli
