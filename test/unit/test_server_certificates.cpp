// Which chain a server presents: ServerCertificateChain and SNIServerCertificates.
#include <string>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/server.hpp"

using tlsock::CertificateChain;
using tlsock::ServerCertificateChain;
using tlsock::SNIServerCertificates;

namespace {

CertificateChain chain(const std::string& name) {
  auto dir = tlsock::testing::certs_dir();
  return CertificateChain::load(dir / (name + "-chain.pem"), dir / (name + ".key"));
}

// The leaf's subject of the chain select() chose, or "none".
std::string chosen(const tlsock::ServerCertificates& certificates, std::string_view name) {
  const CertificateChain* selected = certificates.select(name);
  return selected != nullptr ? selected->leaf().subject() : "none";
}

}  // namespace

TEST_CASE("ServerCertificateChain presents its chain to everybody", "[server_certificates]") {
  ServerCertificateChain one(chain("localhost"));
  for (std::string_view name : {"localhost", "other.example", "127.0.0.1", ""}) CHECK(one.select(name) == &one.chain());
  CHECK(one.chain().leaf().subject() == "CN=localhost");
}

TEST_CASE("SNIServerCertificates: exact names, then wildcards, then the default", "[server_certificates]") {
  SNIServerCertificates sni({chain("localhost"), chain("wildcard")}, chain("wrong-host"));
  CHECK(chosen(sni, "localhost") == "CN=localhost");
  CHECK(chosen(sni, "LOCALHOST") == "CN=localhost");
  CHECK(chosen(sni, "localhost.") == "CN=localhost");
  CHECK(chosen(sni, "a.example.test") == "CN=*.example.test");
  CHECK(chosen(sni, "A.Example.TEST") == "CN=*.example.test");
  CHECK(chosen(sni, "example.test") == "CN=*.example.test");
  CHECK(chosen(sni, "a.b.example.test") == "CN=wrong.example");
  CHECK(chosen(sni, "other.example") == "CN=wrong.example");
  CHECK(chosen(sni, "unknown.example") == "CN=wrong.example");
  CHECK(chosen(sni, "127.0.0.1") == "CN=wrong.example");
  CHECK(chosen(sni, "::1") == "CN=wrong.example");
  CHECK(chosen(sni, "") == "CN=wrong.example");
}

TEST_CASE("SNIServerCertificates without a default refuses unknown names", "[server_certificates]") {
  SNIServerCertificates sni({chain("localhost"), chain("wildcard")});
  CHECK(chosen(sni, "localhost") == "CN=localhost");
  CHECK(chosen(sni, "a.example.test") == "CN=*.example.test");
  CHECK(sni.select("a.b.example.test") == nullptr);
  CHECK(sni.select("127.0.0.1") == nullptr);
  CHECK(sni.select("") == nullptr);
  CHECK(sni.select(".") == nullptr);
}

TEST_CASE("SNIServerCertificates: an exact name beats a wildcard, the first chain wins a tie",
          "[server_certificates]") {
  // wildcard (*.example.test) and then a second chain for the same names: the first wins.
  SNIServerCertificates twice({chain("wildcard"), chain("localhost"), chain("wildcard")});
  const CertificateChain* first = twice.select("a.example.test");
  REQUIRE(first != nullptr);
  CHECK(first == twice.select("example.test"));
  CHECK(first->leaf().subject() == "CN=*.example.test");

  // The default chain's own exact names count before another chain's wildcard.
  SNIServerCertificates with_default({chain("wildcard")}, chain("localhost"));
  CHECK(chosen(with_default, "localhost") == "CN=localhost");
  CHECK(chosen(with_default, "x.example.test") == "CN=*.example.test");
}

TEST_CASE("SNIServerCertificates with only a default, or nothing", "[server_certificates]") {
  SNIServerCertificates only_default({}, chain("localhost"));
  CHECK(chosen(only_default, "anything.example") == "CN=localhost");
  CHECK(chosen(only_default, "") == "CN=localhost");

  bool thrown = false;
  try {
    SNIServerCertificates nothing({});
  } catch (const tlsock::NoCertificateChainError& e) {
    thrown = true;
    CHECK(std::string(e.what()) == "chains: no certificate chains and no default chain given");
  }
  CHECK(thrown);
}

TEST_CASE("copies and moves of SNIServerCertificates select their own chains", "[server_certificates]") {
  SNIServerCertificates original({chain("localhost"), chain("wildcard")}, chain("wrong-host"));
  SNIServerCertificates copy = original;
  const CertificateChain* mine = copy.select("localhost");
  CHECK(mine != original.select("localhost"));
  CHECK(mine->leaf().subject() == "CN=localhost");
  SNIServerCertificates moved = std::move(copy);
  CHECK(chosen(moved, "a.example.test") == "CN=*.example.test");
  CHECK(chosen(moved, "nothing.example") == "CN=wrong.example");
}
