// The command line's few operating-system bits, POSIX or Windows, in this one place (platform.cpp):
// terminals, the calls OutputFile (output_file.cpp) makes on files, and the signals an interrupted
// download listens to. Everything else in tools/tlsock is portable C++ over the library.
//
// Functions that stand for a system call return what it does (0, or -1 with errno set), so the
// callers' error handling is the same on both systems.
#pragma once

#include <sys/stat.h>

#include <string>

namespace tlsock::cli::platform {

inline constexpr int stdout_fd = 1;
inline constexpr int stderr_fd = 2;

// Whether fd is a terminal (a console on Windows).
[[nodiscard]] bool is_terminal(int fd) noexcept;
// The width of the terminal on fd in columns; 0 when it cannot be told.
[[nodiscard]] int terminal_columns(int fd) noexcept;

// What a path names, the final symbolic link not followed (lstat; stat on Windows, where the
// C runtime sees no links).
[[nodiscard]] int link_status(const char* path, struct stat& info) noexcept;
[[nodiscard]] bool is_symlink(const struct stat& info) noexcept;
[[nodiscard]] bool is_socket(const struct stat& info) noexcept;
// Whether a symbolic link is one of /proc's (/proc/PID/fd/N); never on Windows.
[[nodiscard]] bool on_procfs(const std::string& link) noexcept;
// The descriptor /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N names, or -1 (always -1
// on Windows, which has no such names).
[[nodiscard]] int descriptor_alias(const std::string& path) noexcept;

// Creates and opens (write-only) a new file from pattern, whose last six characters are
// XXXXXX and are replaced by the name chosen; the file gets mode 0666 minus the umask (POSIX).
[[nodiscard]] int create_temporary(std::string& pattern) noexcept;
// Gives the replacement fd the owner, group and mode of the file it replaces, where the process
// may (POSIX; nothing on Windows, where a replacement takes the directory's permissions).
[[nodiscard]] int keep_metadata(int fd, const struct stat& replaced) noexcept;
// Opens an existing file for writing without creating or truncating it (appending to a regular file).
[[nodiscard]] int open_existing(const char* path, bool append) noexcept;
// A close-on-exec copy of fd, which must be open for writing (EACCES otherwise).
[[nodiscard]] int duplicate_for_writing(int fd) noexcept;
// Writes what the descriptor takes now; waits for a non-blocking descriptor to take more.
[[nodiscard]] long write_some(int fd, const char* data, std::size_t size) noexcept;
// Flushes fd to the disk, then closes it.
[[nodiscard]] int sync_and_close(int fd) noexcept;
[[nodiscard]] int close_file(int fd) noexcept;
// Renames from over to (replacing it as one step).
[[nodiscard]] int replace_file(const char* from, const char* to) noexcept;
[[nodiscard]] int remove_file(const char* path) noexcept;
// Whether the user may write path.
[[nodiscard]] bool writable(const char* path) noexcept;

// Runs handler(signal) on an interrupt (SIGINT, SIGTERM, and SIGHUP where it exists).
void on_interrupt(void (*handler)(int)) noexcept;

}  // namespace tlsock::cli::platform
