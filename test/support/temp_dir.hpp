// A fresh directory under the system's temporary directory, removed with everything in it
// when the object goes away. Shared by every test that writes files.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tlsock::testing {

class TempDir {
 public:
  TempDir() {
#ifdef _WIN32
    // No mkdtemp on Windows: a random name, created only if nobody has it (create_directory
    // is false for an existing one), a few tries.
    std::random_device random;
    for (int attempt = 0; attempt < 16 && path_.empty(); ++attempt) {
      auto candidate = std::filesystem::temp_directory_path() / ("tlsock-test-" + std::to_string(random()));
      if (std::filesystem::create_directory(candidate)) path_ = candidate;
    }
    if (path_.empty()) throw std::runtime_error("TempDir: no fresh directory under the temporary directory");
#else
    std::string pattern = (std::filesystem::temp_directory_path() / "tlsock-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    path_ = pattern;
#endif
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // The path of a file inside, as a string (for argv and the library's path parameters).
  [[nodiscard]] std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace tlsock::testing
