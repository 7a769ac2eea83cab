// Where fetch's response bytes go: stdout, the -o file or nowhere (see output.hpp).
#include "fetch/output.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "cli/platform.hpp"

namespace tlsock::cli {
namespace {

using Clock = std::chrono::steady_clock;

// "12.3 MiB"
std::string human_size(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

// A one-line progress bar on stderr (size, rate, ETA), only for a terminal, and only once a

// The width of the terminal on stderr (80 when it cannot be told).
std::size_t terminal_columns() {
  int columns = platform::terminal_columns(platform::stderr_fd);
  return columns >= 10 ? static_cast<std::size_t>(columns) : 80;
}

}  // namespace

std::string errno_text(int error) { return std::strerror(error); }

void write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size())
    throw Failure(file_io, "writing to stdout: " + errno_text(errno));
}

void Output::final_status(bool accepted) {
  status_known_ = true;
  accepted_ = accepted;
  if (file_ != nullptr && accepted_) file_->write(held_);
  held_.clear();
}

void Output::write(std::string_view data) {
  if (file_ == nullptr) {
    if (!to_stdout_) return;
    // curl's rule: a body with a NUL byte is binary, and binary bytes can put a terminal in
    // a state its user cannot get out of.
    if (guard_terminal_ && data.find('\0') != std::string_view::npos)
      throw Failure(file_io,
                    "the body is binary and stdout is a terminal: not shown (use -o FILE, or -o - to show it anyway)");
    write_stdout(data);
  } else if (!status_known_) {
    held_.append(data);
  } else if (accepted_) {
    file_->write(data);
  }
}

void Progress::start(std::optional<std::uint64_t> total) {
  total_ = total;
  bytes_ = 0;
  start_ = Clock::now();
  last_draw_ = start_;
}

void Progress::advance(std::size_t bytes) {
  bytes_ += bytes;
  if (!enabled_) return;
  auto now = Clock::now();
  if (now - start_ < std::chrono::seconds(1) || now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  draw(std::chrono::duration<double>(now - start_).count());
}

void Progress::finish() {
  if (width_ == 0) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(width_), "");
  std::fflush(stderr);
  width_ = 0;
}

void Progress::done() {
  bool drawn = width_ != 0;
  finish();
  if (!drawn) return;  // short transfers leave nothing behind
  double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.1f s", seconds);
  std::string line = fit({"  " + human_size(static_cast<double>(bytes_)), std::string(" in ") + time,
                          ", " + human_size(static_cast<double>(bytes_) / seconds) + "/s"});
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string Progress::fit(const std::vector<std::string>& parts) const {
  // The parts in order of importance; those that do not fit are left out (the first is
  // cut), so the line never wraps: a wrapped line would leave one line per update.
  std::size_t room = terminal_columns() - 1;
  std::string line;
  for (const std::string& part : parts)
    if (line.size() + part.size() <= room) line += part;
  if (line.size() > room) line.resize(room);
  if (line.empty() && !parts.empty()) line = parts.front().substr(0, room);
  return line;
}

void Progress::draw(double seconds) {
  double rate = static_cast<double>(bytes_) / seconds;
  std::vector<std::string> parts = {"  " + human_size(static_cast<double>(bytes_))};
  if (total_ && *total_ > 0) {
    parts.push_back(" / " + human_size(static_cast<double>(*total_)));
    parts.push_back("  " + std::to_string(bytes_ * 100 / *total_) + "%");
  }
  parts.push_back("  " + human_size(rate) + "/s");
  if (total_ && rate > 0 && *total_ > bytes_) {
    auto eta = static_cast<long long>(static_cast<double>(*total_ - bytes_) / rate);
    char text[32];
    std::snprintf(text, sizeof text, "  ETA %lld:%02lld", eta / 60, eta % 60);
    parts.emplace_back(text);
  }
  std::string line = fit(parts);
  std::size_t shown = line.size();
  if (line.size() < width_) line.append(width_ - line.size(), ' ');
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  width_ = std::max(width_, shown);
}

// "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n", as -i shows it.
std::string header_block(const http::Response& response) {
  std::string out = response.version_text() + " " + std::to_string(response.status);
  if (!response.reason.empty()) out += " " + response.reason;
  out += "\r\n";
  for (const http::Field& field : response.headers) out += field.name + ": " + field.value + "\r\n";
  return out + "\r\n";
}

}  // namespace tlsock::cli
