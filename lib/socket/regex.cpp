// read_until with a regular expression (tlsock/regex.hpp): kept out of TLSSocket's own
// header and file so that only its users pay for <regex>.
#include "tlsock/regex.hpp"

#include "access.hpp"
#include "arguments.hpp"
#include "socket/socket_impl.hpp"

namespace tlsock {

std::string read_until(TLSSocket& socket, const std::regex& marker) {
  auto& impl = detail::Access::impl_ptr(socket);
  if (!impl) throw TLSDisconnectError(std::string(messages::already_closed));
  auto& s = *impl;
  if (std::regex_search("", marker)) arguments::reject("marker", "the regular expression matches the empty string");
  // A regex can match anywhere, so each new chunk rescans the buffer; the buffer cap
  // bounds that work.
  return s.read_until_match(
      [&](bool) -> std::optional<std::size_t> {
        std::string_view data = s.buffer.view();
        std::cmatch match;
        if (!std::regex_search(data.data(), data.data() + data.size(), match, marker)) return std::nullopt;
        return static_cast<std::size_t>(match.position(0) + match.length(0));
      },
      "read_until");
}

}  // namespace tlsock
