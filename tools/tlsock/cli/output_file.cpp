// tlsock fetch -o PATH (see output_file.hpp): what PATH names, and how each kind is written.
#include "cli/output_file.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>
#include <utility>

#include "cli/cli.hpp"
#include "cli/failure.hpp"
#include "cli/platform.hpp"

namespace tlsock::cli {
namespace {

// As many links as Linux follows in one path (MAXSYMLINKS) before it says ELOOP.
constexpr int max_links = 40;

// The temporary file of the replacement in progress, for the signal handler: an interrupted
// download must not leave it behind either.
char pending_temp[4096];
volatile std::sig_atomic_t has_pending_temp = 0;

extern "C" void remove_pending_temp(int signal_number) {
  if (has_pending_temp != 0) (void)platform::remove_file(pending_temp);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
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
    if (int fd = platform::descriptor_alias(current.string()); fd >= 0) return use_descriptor(fd);
    struct stat info {};
    if (platform::link_status(current.string().c_str(), info) != 0) {
      if (errno != ENOENT) fail("", errno);
      if (!current.has_filename()) fail("no such directory", 0);
      return open_replacement(current);  // a new file (for a dangling link: its target)
    }
    if (platform::is_symlink(info)) {
      if (platform::on_procfs(current.string())) return open_in_place(current);
      if (links == max_links) fail("", ELOOP);
      std::error_code error;
      std::filesystem::path next = std::filesystem::read_symlink(current, error);
      if (error) fail("", error.value());
      current = current.parent_path() / next;  // an absolute target replaces the whole path
      continue;
    }
    if (S_ISDIR(info.st_mode)) fail("is a directory", 0);
    if (platform::is_socket(info)) fail("is a socket, which cannot be opened as a file", 0);
    if (!S_ISREG(info.st_mode)) return open_in_place(current);
    // A file the user may not write is not replaced either, even in a directory they may write.
    if (!platform::writable(current.string().c_str())) fail("", errno);
    open_replacement(current);
    keep_metadata(info);
    return;
  }
}

void OutputFile::discard() noexcept {
  if (fd_ >= 0) (void)platform::close_file(std::exchange(fd_, -1));
  if (!temp_.empty()) {
    has_pending_temp = 0;
    (void)platform::remove_file(temp_.string().c_str());
  }
}

void OutputFile::open_replacement(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  // The temporary name stays within NAME_MAX however long the target's name is.
  std::string pattern = (dir / ("." + target.filename().string().substr(0, 200) + ".tlsock-XXXXXX")).string();
  fd_ = platform::create_temporary(pattern);
  if (fd_ < 0) fail("cannot create a file in " + dir.string(), errno);
  target_ = target;
  temp_ = pattern;
  if (pattern.size() < sizeof pending_temp) {
    std::strcpy(pending_temp, pattern.c_str());
    has_pending_temp = 1;
    platform::on_interrupt(remove_pending_temp);
  }
}

// The replacement takes the replaced file's owner and group where the process may give them
// (as root; a member of the file's group can at least keep the group), and its mode; set-ID
// bits only if the owner and group were kept, so they never apply to someone else.
void OutputFile::keep_metadata(const struct stat& replaced) {
  if (platform::keep_metadata(fd_, replaced) != 0) fail("cannot set the mode of " + temp_.string(), errno);
}

void OutputFile::open_in_place(const std::filesystem::path& target) {
  // A regular file reached through /proc/PID/fd/N is another process's open file: add to it,
  // as that process's own writes would, rather than overwrite its start.
  struct stat info {};
  bool append = ::stat(target.string().c_str(), &info) == 0 && S_ISREG(info.st_mode);
  fd_ = platform::open_existing(target.string().c_str(), append);
  if (fd_ < 0) fail("", errno);
}

void OutputFile::use_descriptor(int fd) {
  fd_ = platform::duplicate_for_writing(fd);
  if (fd_ < 0 && errno == EACCES) fail("descriptor " + std::to_string(fd) + " is not open for writing", 0);
  if (fd_ < 0) fail("", errno);
}

bool OutputFile::is_terminal() const noexcept { return fd_ >= 0 && platform::is_terminal(fd_); }

void OutputFile::write(std::string_view data) {
  while (!data.empty()) {
    long n = platform::write_some(fd_, data.data(), data.size());
    if (n < 0) fail("cannot write", errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void OutputFile::commit() {
  if (!replaces()) {
    if (platform::close_file(std::exchange(fd_, -1)) != 0) fail("cannot write", errno);
    committed_ = true;
    return;
  }
  if (platform::sync_and_close(std::exchange(fd_, -1)) != 0) fail("cannot write", errno);
  if (platform::replace_file(temp_.string().c_str(), target_.string().c_str()) != 0) {
    fail("cannot rename the download into place", errno);
  }
  committed_ = true;
  has_pending_temp = 0;
}

void OutputFile::fail(const std::string& what, int error) const {
  std::string message = "-o " + path_ + ": " + what;
  if (error != 0) message += (what.empty() ? "" : ": ") + std::string(std::strerror(error));
  throw Failure(file_io, message);
}

}  // namespace tlsock::cli
