// The argument checks (see arguments.hpp).
#include "arguments.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace tlsock::arguments {
namespace {

// The longest name DNS can carry in text form (RFC 1035: 255 octets on the wire).
constexpr std::size_t max_host_length = 253;
constexpr std::size_t max_label_length = 63;
constexpr std::size_t max_quoted_length = 64;

}  // namespace

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value.substr(0, max_quoted_length)) {
    if (c == '\0')
      out += "\\0";
    else
      out += c;
  }
  out += '"';
  if (value.size() > max_quoted_length) out += "...";
  return out;
}

void reject(std::string_view name, std::string_view problem) {
  throw std::invalid_argument(std::string(name) + ": " + std::string(problem));
}

void check_host(std::string_view name, std::string_view host) {
  if (host.empty()) reject(name, "must not be empty");
  if (host.size() > max_host_length)
    reject(name, "longer than " + std::to_string(max_host_length) + " characters (" + std::to_string(host.size()) +
                     "): " + arguments::quoted(host));
  if (host.find('\0') != std::string_view::npos) reject(name, "contains a NUL byte: " + arguments::quoted(host));
  for (std::string_view rest = host; !rest.empty();) {
    const std::size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.size() > max_label_length)
      reject(name, "has a label longer than " + std::to_string(max_label_length) + " characters (" +
                       std::to_string(label.size()) + "): " + arguments::quoted(host));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
}

void check_port(std::string_view name, std::uint16_t port) {
  if (port == 0) reject(name, "must be between 1 and 65535, not 0");
}

void check_timeout(std::string_view name, const Timeout& timeout) {
  if (!timeout) return;
  const double seconds = timeout->count();
  if (std::isnan(seconds) || seconds < 0) {
    std::ostringstream value;
    value << seconds;
    reject(name, "must be a non-negative number of seconds (or std::nullopt for no limit), not " + value.str());
  }
}

void check_path(std::string_view name, const std::filesystem::path& path) {
  const std::string text = path.string();
  if (text.find('\0') != std::string::npos) reject(name, "contains a NUL byte: " + arguments::quoted(text));
}

}  // namespace tlsock::arguments
