// TLSSocket::read_until with a regular expression as the marker. A header of its own, so that
// only code that uses it pays for <regex>.
#pragma once

#include <regex>
#include <string>

#include "tlsock/export.hpp"
#include "tlsock/socket.hpp"

namespace tlsock {

/// Everything up to and including the first match of marker (which must not match the empty
/// string), within the socket's read buffer limit; otherwise as socket.read_until(marker).
[[nodiscard]] TLSOCK_API std::string read_until(TLSSocket& socket, const std::regex& marker);

}  // namespace tlsock
