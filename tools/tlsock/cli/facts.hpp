// What fetch and probe report about a TLS connection, taken from the socket in one place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tlsock/tlsock.hpp"

namespace tlsock::cli {

struct ConnectionFacts {
  std::string address;  // the peer's IP and port (the proxy's, through HTTPS_PROXY)
  std::string protocol;
  std::string cipher_suite;
  std::string alpn;
  bool compression = false;
  std::optional<SessionReuse> session_id;
  std::optional<SessionReuse> session_ticket;
  std::vector<Certificate> chain;  // as sent, leaf first; empty when the peer sent none

  // The leaf certificate, if any.
  [[nodiscard]] const Certificate* certificate() const noexcept { return chain.empty() ? nullptr : &chain.front(); }
};

[[nodiscard]] inline ConnectionFacts facts_of(const TLSSocket& socket) {
  ConnectionFacts facts;
  facts.address = socket.peer_address();
  facts.protocol = socket.protocol();
  facts.cipher_suite = socket.cipher_suite();
  facts.alpn = socket.alpn_protocol();
  facts.compression = socket.compression();
  facts.session_id = socket.session_id();
  facts.session_ticket = socket.session_ticket();
  try {
    facts.chain.push_back(socket.certificate());
    facts.chain.insert(facts.chain.end(), socket.intermediates().begin(), socket.intermediates().end());
  } catch (const TLSError&) {
    // The peer sent no certificate.
  }
  return facts;
}

// "new" or "reused"; std::nullopt when the mechanism was not used.
[[nodiscard]] inline std::optional<std::string> reuse_text(const std::optional<SessionReuse>& reuse) {
  if (!reuse) return std::nullopt;
  return std::string(to_string(*reuse));
}

}  // namespace tlsock::cli
