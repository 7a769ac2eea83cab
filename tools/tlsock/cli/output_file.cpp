// tlsock fetch -o PATH (see output_file.hpp): what PATH names, and how each kind is written.
#include "cli/output_file.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <system_error>
#include <utility>

#include "cli/cli.hpp"
#include "cli/failure.hpp"

namespace tlsock::cli {
namespace {

// As many links as Linux follows in one path (MAXSYMLINKS) before it says ELOOP.
constexpr int max_links = 40;

// The temporary file of the replacement in progress, for the signal handler: an interrupted
// download must not leave it behind either.
char pending_temp[4096];
volatile std::sig_atomic_t has_pending_temp = 0;

extern "C" void remove_pending_temp(int signal_number) {
  if (has_pending_temp != 0) ::unlink(pending_temp);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// The descriptor /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N names, or -1. These
// are written through the descriptor the process already has: following the link would reach a
// file the shell opened (and truncated or opened for appending) for us, and replacing that file
// would lose what others wrote to it.
int descriptor_alias(const std::string& path) {
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

// Whether a symbolic link is one of /proc's (/proc/PID/fd/N, however the path reaches it).
// Those lead to open files, pipes and sockets whose names cannot be followed as text: only
// opening the link itself reaches what it stands for.
bool on_procfs(const std::filesystem::path& link) {
#ifdef __linux__
  struct statfs info {};
  std::filesystem::path dir = link.parent_path().empty() ? "." : link.parent_path();
  return ::statfs(dir.c_str(), &info) == 0 && info.f_type == PROC_SUPER_MAGIC;
#else
  return link.string().starts_with("/proc/");
#endif
}

}  // namespace

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  try {
    open();
  } catch (...) {
    discard();  // the destructor does not run for an object never made
    throw;
  }
}

OutputFile::~OutputFile() {
  if (!committed_) discard();
}

// Follows PATH's links one at a time (to see each one) and opens what the last one names.
void OutputFile::open() {
  std::filesystem::path current = path_;
  for (int links = 0;; ++links) {
    if (int fd = descriptor_alias(current.string()); fd >= 0) return use_descriptor(fd);
    struct stat info {};
    if (::lstat(current.c_str(), &info) != 0) {
      if (errno != ENOENT) fail("", errno);
      if (!current.has_filename()) fail("no such directory", 0);
      return open_replacement(current);  // a new file (for a dangling link: its target)
    }
    if (S_ISLNK(info.st_mode)) {
      if (on_procfs(current)) return open_in_place(current);
      if (links == max_links) fail("", ELOOP);
      std::error_code error;
      std::filesystem::path next = std::filesystem::read_symlink(current, error);
      if (error) fail("", error.value());
      current = current.parent_path() / next;  // an absolute target replaces the whole path
      continue;
    }
    if (S_ISDIR(info.st_mode)) fail("is a directory", 0);
    if (S_ISSOCK(info.st_mode)) fail("is a socket, which cannot be opened as a file", 0);
    if (!S_ISREG(info.st_mode)) return open_in_place(current);
    // A file the user may not write is not replaced either, even in a directory they may write.
    if (::access(current.c_str(), W_OK) != 0) fail("", errno);
    open_replacement(current);
    keep_metadata(info);
    return;
  }
}

void OutputFile::discard() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!temp_.empty()) {
    has_pending_temp = 0;
    ::unlink(temp_.c_str());
  }
}

void OutputFile::open_replacement(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  // The temporary name stays within NAME_MAX however long the target's name is.
  std::string pattern = (dir / ("." + target.filename().string().substr(0, 200) + ".tlsock-XXXXXX")).string();
  fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd_ < 0) fail("cannot create a file in " + dir.string(), errno);
  target_ = target;
  temp_ = pattern;
  // mkstemp makes the file 0600; a new file should look like any file the user creates.
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd_, 0666 & ~mask) != 0) fail("cannot set the mode of " + temp_.string(), errno);
  if (temp_.string().size() < sizeof pending_temp) {
    std::strcpy(pending_temp, temp_.c_str());
    has_pending_temp = 1;
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, remove_pending_temp);
  }
}

// The replacement takes the replaced file's owner and group where the process may give them
// (as root; a member of the file's group can at least keep the group), and its mode; set-ID
// bits only if the owner and group were kept, so they never apply to someone else.
void OutputFile::keep_metadata(const struct stat& replaced) {
  if (::fchown(fd_, replaced.st_uid, replaced.st_gid) != 0 &&
      ::fchown(fd_, static_cast<uid_t>(-1), replaced.st_gid) != 0) {
    // neither: the file becomes the user's own, as any file they write
  }
  struct stat made {};
  if (::fstat(fd_, &made) != 0) fail("cannot read the mode of " + temp_.string(), errno);
  mode_t mode = replaced.st_mode & 07777;
  if (made.st_uid != replaced.st_uid || made.st_gid != replaced.st_gid) mode &= ~mode_t{S_ISUID | S_ISGID};
  if (::fchmod(fd_, mode) != 0) fail("cannot set the mode of " + temp_.string(), errno);
}

void OutputFile::open_in_place(const std::filesystem::path& target) {
  int flags = O_WRONLY | O_NOCTTY | O_CLOEXEC;
  // A regular file reached through /proc/PID/fd/N is another process's open file: add to it,
  // as that process's own writes would, rather than overwrite its start.
  struct stat info {};
  if (::stat(target.c_str(), &info) == 0 && S_ISREG(info.st_mode)) flags |= O_APPEND;
  fd_ = ::open(target.c_str(), flags);
  if (fd_ < 0) fail("", errno);
}

void OutputFile::use_descriptor(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) fail("", errno);
  if ((flags & O_ACCMODE) == O_RDONLY) fail("descriptor " + std::to_string(fd) + " is not open for writing", 0);
  fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // a copy: commit() closes it, the original stays open
  if (fd_ < 0) fail("", errno);
}

bool OutputFile::is_terminal() const noexcept { return fd_ >= 0 && ::isatty(fd_) != 0; }

void OutputFile::write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {  // a descriptor someone else made non-blocking
      pollfd ready{fd_, POLLOUT, 0};
      ::poll(&ready, 1, -1);
      continue;
    }
    if (n < 0) fail("cannot write", errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void OutputFile::commit() {
  if (!replaces()) {
    if (::close(std::exchange(fd_, -1)) != 0) fail("cannot write", errno);
    committed_ = true;
    return;
  }
  if (::fsync(fd_) != 0 || ::close(std::exchange(fd_, -1)) != 0) fail("cannot write", errno);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot rename the download into place", errno);
  committed_ = true;
  has_pending_temp = 0;
}

void OutputFile::fail(const std::string& what, int error) const {
  std::string message = "-o " + path_ + ": " + what;
  if (error != 0) message += (what.empty() ? "" : ": ") + std::string(std::strerror(error));
  throw Failure(file_io, message);
}

}  // namespace tlsock::cli
