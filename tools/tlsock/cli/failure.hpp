// A command-line failure with the exit code it should end the process with.
#pragma once

#include <stdexcept>
#include <string>

namespace tlsock::cli {

class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace tlsock::cli
