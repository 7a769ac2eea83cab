// The command line's operating-system bits (see platform.hpp): POSIX, then Windows.
#include "cli/platform.hpp"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <share.h>
#include <stdlib.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif
#endif

#include <cerrno>
#include <charconv>
#include <csignal>
#include <filesystem>
#include <string_view>

namespace tlsock::cli::platform {

#ifndef _WIN32

bool is_terminal(int fd) noexcept { return ::isatty(fd) != 0; }

int terminal_columns(int fd) noexcept {
  winsize size{};
  return ::ioctl(fd, TIOCGWINSZ, &size) == 0 ? size.ws_col : 0;
}

int link_status(const char* path, struct stat& info) noexcept { return ::lstat(path, &info); }
bool is_symlink(const struct stat& info) noexcept { return S_ISLNK(info.st_mode); }
bool is_socket(const struct stat& info) noexcept { return S_ISSOCK(info.st_mode); }

// Those lead to open files, pipes and sockets whose names cannot be followed as text: only
// opening the link itself reaches what it stands for.
bool on_procfs(const std::string& link) noexcept {
#ifdef __linux__
  struct statfs info {};
  std::filesystem::path path(link);
  std::string dir = path.parent_path().empty() ? "." : path.parent_path().string();
  return ::statfs(dir.c_str(), &info) == 0 && info.f_type == PROC_SUPER_MAGIC;
#else
  return link.starts_with("/proc/");
#endif
}

// These are written through the descriptor the process already has: following the link would
// reach a file the shell opened (and truncated or opened for appending) for us, and replacing
// that file would lose what others wrote to it.
int descriptor_alias(const std::string& path) noexcept {
  if (path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (!path.starts_with(prefix) || path.size() == prefix.size()) continue;
    const char* first = path.data() + prefix.size();
    const char* last = path.data() + path.size();
    int fd = -1;
    auto [end, error] = std::from_chars(first, last, fd);
    if (error == std::errc() && end == last && fd >= 0) return fd;
  }
  return -1;
}

int create_temporary(std::string& pattern) noexcept {
  int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd < 0) return -1;
  // mkstemp makes the file 0600; a new file should look like any file the user creates.
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) {
    int error = errno;
    ::close(fd);
    ::unlink(pattern.c_str());
    errno = error;
    return -1;
  }
  return fd;
}

// Set-ID bits only if the owner and group were kept, so they never apply to someone else.
int keep_metadata(int fd, const struct stat& replaced) noexcept {
  if (::fchown(fd, replaced.st_uid, replaced.st_gid) != 0 &&
      ::fchown(fd, static_cast<uid_t>(-1), replaced.st_gid) != 0) {
    // neither: the file becomes the user's own, as any file they write
  }
  struct stat made {};
  if (::fstat(fd, &made) != 0) return -1;
  mode_t mode = replaced.st_mode & 07777;
  if (made.st_uid != replaced.st_uid || made.st_gid != replaced.st_gid) mode &= ~mode_t{S_ISUID | S_ISGID};
  return ::fchmod(fd, mode);
}

int open_existing(const char* path, bool append) noexcept {
  return ::open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (append ? O_APPEND : 0));
}

int duplicate_for_writing(int fd) noexcept {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return -1;
  if ((flags & O_ACCMODE) == O_RDONLY) {
    errno = EACCES;
    return -1;
  }
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // a copy: its close leaves the original open
}

long write_some(int fd, const char* data, std::size_t size) noexcept {
  for (;;) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a descriptor someone else made non-blocking
      pollfd ready{fd, POLLOUT, 0};
      ::poll(&ready, 1, -1);
      continue;
    }
    return static_cast<long>(n);
  }
}

int sync_and_close(int fd) noexcept {
  if (::fsync(fd) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return ::close(fd);
}

int close_file(int fd) noexcept { return ::close(fd); }
int replace_file(const char* from, const char* to) noexcept { return ::rename(from, to); }
int remove_file(const char* path) noexcept { return ::unlink(path); }
bool writable(const char* path) noexcept { return ::access(path, W_OK) == 0; }

void on_interrupt(void (*handler)(int)) noexcept {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, handler);
}

#else  // _WIN32

namespace {
// stdout carries response bodies byte for byte: no text mode (\n to \r\n, ^Z) on Windows.
[[maybe_unused]] const int binary_stdout = ::_setmode(stdout_fd, _O_BINARY);
}  // namespace

bool is_terminal(int fd) noexcept { return ::_isatty(fd) != 0; }

int terminal_columns(int fd) noexcept {
  HANDLE handle = ::GetStdHandle(fd == stdout_fd ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE);
  CONSOLE_SCREEN_BUFFER_INFO info{};
  if (handle == INVALID_HANDLE_VALUE || ::GetConsoleScreenBufferInfo(handle, &info) == 0) return 0;
  return info.srWindow.Right - info.srWindow.Left + 1;
}

int link_status(const char* path, struct stat& info) noexcept { return ::stat(path, &info); }
bool is_symlink(const struct stat&) noexcept { return false; }
bool is_socket(const struct stat&) noexcept { return false; }
bool on_procfs(const std::string&) noexcept { return false; }
int descriptor_alias(const std::string&) noexcept { return -1; }

int create_temporary(std::string& pattern) noexcept {
  // _mktemp_s picks a name nobody has now; _O_EXCL makes sure nobody took it since.
  std::string name;
  for (int attempt = 0; attempt < 16; ++attempt) {
    name = pattern;
    if (::_mktemp_s(name.data(), name.size() + 1) != 0) return -1;
    int fd = -1;
    errno_t error = ::_sopen_s(&fd, name.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY | _O_NOINHERIT, _SH_DENYNO,
                               _S_IREAD | _S_IWRITE);
    if (error == 0) {
      pattern = name;
      return fd;
    }
    if (error != EEXIST) return -1;
  }
  errno = EEXIST;
  return -1;
}

int keep_metadata(int, const struct stat&) noexcept { return 0; }

int open_existing(const char* path, bool append) noexcept {
  int fd = -1;
  errno_t error = ::_sopen_s(&fd, path, _O_WRONLY | _O_BINARY | _O_NOINHERIT | (append ? _O_APPEND : 0), _SH_DENYNO, 0);
  return error == 0 ? fd : -1;
}

int duplicate_for_writing(int fd) noexcept { return ::_dup(fd); }

long write_some(int fd, const char* data, std::size_t size) noexcept {
  constexpr std::size_t most = 1 << 30;  // _write takes an unsigned int
  return ::_write(fd, data, static_cast<unsigned>(size < most ? size : most));
}

int sync_and_close(int fd) noexcept {
  if (::_commit(fd) != 0) {
    int error = errno;
    ::_close(fd);
    errno = error;
    return -1;
  }
  return ::_close(fd);
}

int close_file(int fd) noexcept { return ::_close(fd); }

// rename() on Windows refuses an existing target; MoveFileEx replaces it.
int replace_file(const char* from, const char* to) noexcept {
  if (::MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0) return 0;
  errno = ::GetLastError() == ERROR_ACCESS_DENIED ? EACCES : EIO;
  return -1;
}

int remove_file(const char* path) noexcept { return ::_unlink(path); }
bool writable(const char* path) noexcept { return ::_access(path, 2) == 0; }

void on_interrupt(void (*handler)(int)) noexcept {
  for (int signal_number : {SIGINT, SIGTERM}) std::signal(signal_number, handler);
}

#endif

}  // namespace tlsock::cli::platform
