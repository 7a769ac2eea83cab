// libFuzzer target: importing saved sessions (TLSSession::import_sessions and the export's
// parser, lib/engine/session_export.cpp, with mbedTLS's session loader behind it).
//
// Byte 0 picks the variant (taken modulo 3); bytes 1 to 3 are unused; the payload follows
// (fuzz_common.hpp's layout):
//   0  import_sessions(payload) into a manual_validation TLSSession (what the seeds are made
//      with): the public path, digest check included
//   1  decode(payload) without the digest check, so mutations reach the entry parsers and
//      mbedtls_ssl_session_load; what decodes is re-encoded for this process (its mbedTLS
//      version and the TLSSession's trust, unexpired) and must import, round-trip and be
//      offered in a ClientHello
//   2  import_sessions(payload) into a verifying TLSSession: a manual_validation export is
//      refused
// Checks: only std::invalid_argument ("sessions: ...") comes out of an import, and a refused
// import adds nothing; decode(encode(x)) has x's entries, and each session serializes to the
// same bytes again.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend/backend.hpp"
#include "engine/session_export.hpp"
#include "fuzz_common.hpp"
#include "tlsock/tlsock.hpp"

namespace {

using namespace tlsock;
using fuzz::contract_violation;

std::shared_ptr<TLSSession> manual_session() {
  TLSSession::Options options;
  options.manual_validation = true;
  return std::make_shared<TLSSession>(std::move(options));
}

std::shared_ptr<TLSSession> verifying_session() {
  TLSSession::Options options;
  options.extra_trust_roots = {fuzz::cert_path("root-ca.pem")};
  return std::make_shared<TLSSession>(std::move(options));
}

// import_sessions must add all or nothing and refuse only with std::invalid_argument.
void import(const std::shared_ptr<TLSSession>& prototype, std::string_view bytes) {
  TLSSession session(prototype->options());
  const std::string empty = session.export_sessions();
  try {
    (void)session.import_sessions(bytes);
  } catch (const std::invalid_argument& error) {
    if (!std::string_view(error.what()).starts_with("sessions: "))
      contract_violation("a refusal without \"sessions: \"");
    if (session.export_sessions() != empty) contract_violation("a refused import added sessions");
  }
}

void same_entries(const engine::SessionExport& a, const engine::SessionExport& b) {
  if (a.sessions.size() != b.sessions.size()) contract_violation("re-encoding changed the number of entries");
  for (std::size_t i = 0; i < a.sessions.size(); ++i) {
    const auto& x = a.sessions[i];
    const auto& y = b.sessions[i];
    if (x.key != y.key || x.session.single_use != y.session.single_use || x.session.chain != y.session.chain)
      contract_violation("re-encoding changed an entry");
    if (x.session.saved->serialize() != y.session.saved->serialize())
      contract_violation("a session serializes to other bytes after a round trip");
  }
}

// Variant 1: the parsers behind the digest, then the sessions in use.
void decoded(const std::shared_ptr<TLSSession>& prototype, std::string payload) {
  // Seeds from another mbedTLS version still reach mbedTLS's own header check.
  if (payload.size() >= 14) {
    std::uint32_t format = backend::session_format();
    for (int i = 0; i < 4; ++i) payload[10 + static_cast<std::size_t>(i)] = static_cast<char>(format >> (24 - 8 * i));
  }
  engine::SessionExport parsed;
  try {
    parsed = engine::decode(payload, false);
  } catch (const std::invalid_argument&) {
    return;
  }
  // This process's header and expiries, so the entries import whatever the seed's age.
  engine::SessionExport mine = engine::decode(prototype->export_sessions());
  mine.sessions = std::move(parsed.sessions);
  const auto later = engine::SessionCache::Clock::now() + std::chrono::hours(1);
  for (auto& entry : mine.sessions) entry.expires = later;
  const std::string bytes = engine::encode(mine);
  same_entries(mine, engine::decode(bytes));

  auto session = std::make_shared<TLSSession>(prototype->options());
  if (session->import_sessions(bytes) != mine.sessions.size()) contract_violation("unexpired entries were skipped");
  // Offer a few of them: mbedTLS writes a ClientHello from each loaded session.
  std::size_t offered = 0;
  for (const auto& entry : mine.sessions) {
    if (++offered > 4) break;
    std::size_t colon = entry.key.rfind(':');
    auto port = static_cast<std::uint16_t>(std::stoul(entry.key.substr(colon + 1)));
    try {
      ClientTLS client(entry.key.substr(0, colon), session, port);
      std::string hello;
      Connection connection = client.start([&](std::string_view b) { hello.append(b); }, [](bool) {});
      if (hello.empty()) contract_violation("no ClientHello went out");
    } catch (const TLSError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::shared_ptr<TLSSession> manual = manual_session();
  static const std::shared_ptr<TLSSession> verifying = verifying_session();
  fuzz::FuzzInput input(data, size);
  switch (input.variant() % 3) {
    case 0:
      import(manual, input.payload());
      break;
    case 1:
      decoded(manual, std::string(input.payload()));
      break;
    default:
      import(verifying, input.payload());
      break;
  }
  return 0;
}
