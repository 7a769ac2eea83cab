// Certificate parsing and accessors, on the test PKI.
#include <fstream>

#include "support/catch.hpp"
#include "support/process.hpp"
#include "tlsock/certificate.hpp"

using tlsock::Certificate;

namespace {
std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("the localhost leaf", "[certificate]") {
  auto dir = tlsock::testing::certs_dir();
  auto all = Certificate::load(dir / "localhost.pem");
  REQUIRE(all.size() == 1);
  const Certificate& c = all.front();
  CHECK(c.subject() == "CN=localhost");
  CHECK(c.issuer() == "CN=tlsock Test Intermediate CA");
  CHECK(c.valid_domains() == std::vector<std::string>{"localhost"});
  CHECK(c.valid_ips() == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK_FALSE(c.self_signed());
  CHECK_FALSE(c.is_ca());
  CHECK(c.hash_algorithm() == "sha256");
  CHECK(c.key_algorithm() == "rsa");
  CHECK(c.key_bits() == 2048);
  CHECK(tlsock::format_utc(c.not_after()) == "2099-12-31 23:59:59Z");
  CHECK(c.sha256_fingerprint().size() == 64);
  CHECK_FALSE(c.serial_number().empty());
}

TEST_CASE("DER and PEM forms are the same certificate", "[certificate]") {
  auto dir = tlsock::testing::certs_dir();
  auto pem = Certificate::load(dir / "localhost.pem").front();
  auto der = Certificate::load(dir / "localhost.der").front();
  CHECK(pem == der);
  CHECK(Certificate::from_der(der.der()) == pem);
  CHECK(Certificate::from_pem(pem.pem()) == pem);
  CHECK(pem.pem() == slurp(dir / "localhost.pem"));
}

TEST_CASE("bundles load in order", "[certificate]") {
  auto chain = Certificate::load(tlsock::testing::certs_dir() / "localhost-chain.pem");
  REQUIRE(chain.size() == 2);
  CHECK(chain[0].subject() == "CN=localhost");
  CHECK(chain[1].subject() == "CN=tlsock Test Intermediate CA");
  CHECK(chain[1].is_ca());
}

TEST_CASE("special certificates of the test PKI", "[certificate]") {
  auto dir = tlsock::testing::certs_dir();
  CHECK(Certificate::load(dir / "self-signed.pem").front().self_signed());
  CHECK(Certificate::load(dir / "root-ca.pem").front().self_signed());
  CHECK(Certificate::load(dir / "sha1.pem").front().hash_algorithm() == "sha1");
  CHECK(Certificate::load(dir / "localhost-ecdsa.pem").front().key_algorithm() == "ec");
  CHECK(tlsock::format_utc(Certificate::load(dir / "expired.pem").front().not_after()) == "2001-01-02 00:00:00Z");
  CHECK(tlsock::format_utc(Certificate::load(dir / "not-yet-valid.pem").front().not_before()) ==
        "2090-01-01 00:00:00Z");
  auto wildcard = Certificate::load(dir / "wildcard.pem").front();
  CHECK(wildcard.valid_domains() == std::vector<std::string>{"*.example.test", "example.test"});
  CHECK(wildcard.valid_ips().empty());
}

TEST_CASE("valid_for matches host names and IP literals as verification does", "[certificate]") {
  auto dir = tlsock::testing::certs_dir();
  auto localhost = Certificate::load(dir / "localhost.pem").front();
  CHECK(localhost.valid_for("localhost"));
  CHECK(localhost.valid_for("LOCALHOST."));
  CHECK(localhost.valid_for("127.0.0.1"));
  CHECK(localhost.valid_for("0:0::1"));
  CHECK_FALSE(localhost.valid_for("example.test"));
  CHECK_FALSE(localhost.valid_for("127.0.0.2"));
  auto wildcard = Certificate::load(dir / "wildcard.pem").front();
  CHECK(wildcard.valid_for("www.example.test"));
  CHECK(wildcard.valid_for("example.test"));
  CHECK_FALSE(wildcard.valid_for("a.b.example.test"));
  REQUIRE_THROWS_AS(localhost.valid_for(""), std::invalid_argument);
  REQUIRE_THROWS_WITH(localhost.valid_for(""), "host: must not be empty");
}

TEST_CASE("bad input is refused with a clear error", "[certificate]") {
  REQUIRE_THROWS_AS(Certificate::from_der(""), std::invalid_argument);
  REQUIRE_THROWS_WITH(Certificate::from_der(""), "der: empty certificate");
  REQUIRE_THROWS_AS(Certificate::from_der("not a certificate"), std::invalid_argument);
  REQUIRE_THROWS_WITH(Certificate::from_pem("hello"), "pem: no CERTIFICATE block found");
  REQUIRE_THROWS_AS(Certificate::from_pem("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(Certificate::load("/nonexistent/file.pem"), std::system_error);
  auto der = Certificate::load(tlsock::testing::certs_dir() / "localhost.der").front().der();
  REQUIRE_THROWS_WITH(Certificate::from_der(der + "x"), "certificate: trailing bytes after the DER certificate");
  REQUIRE_THROWS_AS(Certificate::from_der(der.substr(0, der.size() / 2)), std::invalid_argument);
}
