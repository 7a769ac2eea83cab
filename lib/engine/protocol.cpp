// Protocol names and sets, and the library version.
#include <stdexcept>

#include "arguments.hpp"
#include "backend/backend.hpp"
#include "tlsock/info.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/version.hpp"

namespace tlsock {

std::string_view to_string(Protocol protocol) {
  switch (protocol) {
    case Protocol::TLSv1:
      return "TLSv1";
    case Protocol::TLSv1_1:
      return "TLSv1.1";
    case Protocol::TLSv1_2:
      return "TLSv1.2";
    case Protocol::TLSv1_3:
      return "TLSv1.3";
  }
  return "unknown";
}

Protocol parse_protocol(std::string_view name) {
  for (Protocol p : {Protocol::TLSv1, Protocol::TLSv1_1, Protocol::TLSv1_2, Protocol::TLSv1_3})
    if (name == to_string(p)) return p;
  if (name == "SSLv3" || name == "SSLv2")
    arguments::reject("protocol", std::string(name) + " is not supported (it is insecure and was removed)");
  arguments::reject("protocol",
                    "unknown protocol " + arguments::quoted(name) + " (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)");
}

ProtocolSet supported_protocols() { return backend::supported_protocols(); }

ProtocolSet default_protocols() {
  ProtocolSet out;
  for (Protocol p : backend::supported_protocols())
    if (p == Protocol::TLSv1_2 || p == Protocol::TLSv1_3) out.insert(p);
  return out;
}

std::string_view to_string(SessionReuse reuse) { return reuse == SessionReuse::reused ? "reused" : "new"; }

std::string_view version() noexcept { return TLSOCK_VERSION; }
std::string_view backend_version() noexcept { return backend::version_text(); }

}  // namespace tlsock
