// tlsock fetch -o PATH: writes a download to what PATH names, and never destroys what is there.
//
// What PATH names decides how it is written (symbolic links are followed to the end of the
// chain first; the links themselves stay as they are):
// - a regular file, or nothing yet (a dangling link: its target): a temporary file in the same
//   directory, renamed over the file by commit() and removed otherwise, so the file is either
//   the complete download or untouched. A file replaced keeps its mode and, where the process
//   may set it (root), its owner and group; a new file gets 0666 minus the umask.
// - /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (bash's and zsh's `>(cmd)`): the open
//   descriptor itself, written at its own offset (a shell's `>>` or `>` is respected).
// - anything else (a FIFO, a character or block device, /proc/PID/fd/N): opened for writing
//   without O_CREAT or O_TRUNC and written in place, as curl does; never removed, renamed over
//   or truncated. A FIFO is opened at once, so the command waits there for its reader.
//
// Every failure is a Failure(file_io) whose message starts with "-o PATH: " (PATH as given):
// a directory, a missing directory, a file the user may not write, a symbolic link loop, a
// socket (it cannot be opened as a file), a descriptor not open for writing.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace tlsock::cli {

class OutputFile {
 public:
  // Opens PATH as described above: the temporary file, the descriptor or the file itself.
  explicit OutputFile(std::string path);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Without commit(): removes the temporary file; a file written in place is closed as it is.
  ~OutputFile();

  void write(std::string_view data);
  // The download is complete: renames the temporary file into place, or closes the file
  // written in place, reporting any write error the close brings.
  void commit();

  // True when the download goes to a temporary file renamed into place.
  [[nodiscard]] bool replaces() const noexcept { return !temp_.empty(); }
  // True when the download goes to a terminal (-o /dev/tty, -o /dev/stdout on one).
  [[nodiscard]] bool is_terminal() const noexcept;

 private:
  void open();
  void open_replacement(const std::filesystem::path& target);
  void keep_metadata(const struct stat& replaced);
  void open_in_place(const std::filesystem::path& target);
  void use_descriptor(int fd);
  void discard() noexcept;
  [[noreturn]] void fail(const std::string& what, int error) const;

  std::string path_;              // as given, for messages
  std::filesystem::path target_;  // the file a replacement is renamed over
  std::filesystem::path temp_;    // the temporary file; empty when writing in place
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace tlsock::cli
