// How the library rejects a bad argument: one check per concern (host names, ports, timeouts,
// file paths), used by every public entry point that takes one, so each concern has one rule
// and one message. Every message is "<argument>: <what is wrong>", with the value where it
// helps, as std::invalid_argument.
#pragma once

#include "internal.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "tlsock/types.hpp"

namespace tlsock::arguments {

// The value as messages show it: in double quotes, NUL bytes as \0, cut after 64 characters.
[[nodiscard]] std::string quoted(std::string_view value);

// Throws std::invalid_argument("<name>: <problem>").
[[noreturn]] void reject(std::string_view name, std::string_view problem);

// A host name or IP literal: not empty, at most 253 characters, no dot-separated label longer
// than 63 (RFC 1035), no NUL byte (C APIs would end the name there).
void check_host(std::string_view name, std::string_view host);

// 1 to 65535: port 0 cannot be connected to.
void check_port(std::string_view name, std::uint16_t port);

// std::nullopt (no limit) or a number of seconds that is not negative and not NaN.
void check_timeout(std::string_view name, const Timeout& timeout);

// A file name without NUL bytes, which the C file APIs would silently cut the name at.
void check_path(std::string_view name, const std::filesystem::path& path);

}  // namespace tlsock::arguments
