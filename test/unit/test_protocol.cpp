// Protocol names, sets and IANA cipher-suite names.
#include <stdexcept>

#include "backend/backend.hpp"
#include "support/catch.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/session.hpp"

using tlsock::Protocol;

TEST_CASE("protocol names round-trip", "[protocol]") {
  for (Protocol p : {Protocol::TLSv1, Protocol::TLSv1_1, Protocol::TLSv1_2, Protocol::TLSv1_3})
    CHECK(tlsock::parse_protocol(tlsock::to_string(p)) == p);
  CHECK(tlsock::to_string(Protocol::TLSv1) == "TLSv1");
  CHECK(tlsock::to_string(Protocol::TLSv1_1) == "TLSv1.1");
  CHECK(tlsock::to_string(Protocol::TLSv1_2) == "TLSv1.2");
  CHECK(tlsock::to_string(Protocol::TLSv1_3) == "TLSv1.3");
}

TEST_CASE("SSLv3 and unknown names are refused clearly", "[protocol]") {
  REQUIRE_THROWS_WITH(tlsock::parse_protocol("SSLv3"),
                      "protocol: SSLv3 is not supported (it is insecure and was removed)");
  REQUIRE_THROWS_AS(tlsock::parse_protocol("SSLv3"), std::invalid_argument);
  REQUIRE_THROWS_WITH(tlsock::parse_protocol("TLSv1.4"),
                      "protocol: unknown protocol \"TLSv1.4\" (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)");
}

TEST_CASE("defaults are TLS 1.2 and 1.3 where supported", "[protocol]") {
  auto supported = tlsock::supported_protocols();
  auto defaults = tlsock::default_protocols();
  CHECK(defaults.contains(Protocol::TLSv1_2));
  CHECK_FALSE(defaults.contains(Protocol::TLSv1));
  CHECK_FALSE(defaults.contains(Protocol::TLSv1_1));
  CHECK(defaults.contains(Protocol::TLSv1_3) == supported.contains(Protocol::TLSv1_3));
}

TEST_CASE("a session refuses protocols the backend lacks and sets with holes", "[protocol]") {
  if (!tlsock::supported_protocols().contains(Protocol::TLSv1_3)) {
    REQUIRE_THROWS_AS(tlsock::TLSSession(tlsock::ProtocolSet{Protocol::TLSv1_3}), std::invalid_argument);
    REQUIRE_THROWS_WITH(tlsock::TLSSession(tlsock::ProtocolSet{Protocol::TLSv1_3}),
                        Catch::Matchers::StartsWith("protocols: TLSv1.3 is not supported by the linked "));
  }
  REQUIRE_THROWS_WITH(tlsock::TLSSession(tlsock::ProtocolSet{}), "protocols: at least one protocol is required");
  if (tlsock::supported_protocols().contains(Protocol::TLSv1)) {
    REQUIRE_THROWS_WITH(tlsock::TLSSession(tlsock::ProtocolSet{Protocol::TLSv1, Protocol::TLSv1_2}),
                        "protocols: TLSv1, TLSv1.2 is not a contiguous range of versions");
  }
}

TEST_CASE("cipher-suite options are validated", "[protocol]") {
  tlsock::TLSSession::Options options;
  options.cipher_suites = {"TLS_RSA_WITH_RC4_128_SHA"};
  REQUIRE_THROWS_WITH(tlsock::TLSSession(options),
                      "cipher_suites: TLS_RSA_WITH_RC4_128_SHA is insecure and not allowed");
  options.cipher_suites = {"TLS_RSA_WITH_3DES_EDE_CBC_SHA"};
  REQUIRE_THROWS_AS(tlsock::TLSSession(options), std::invalid_argument);
  options.cipher_suites = {"TLS_NO_SUCH_SUITE"};
  REQUIRE_THROWS_WITH(tlsock::TLSSession(options),
                      Catch::Matchers::StartsWith("cipher_suites: TLS_NO_SUCH_SUITE is not a cipher suite"));
  options.cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
  REQUIRE_NOTHROW(tlsock::TLSSession(options));
}

TEST_CASE("other options are validated", "[protocol]") {
  tlsock::TLSSession::Options options;
  options.minimum_dh_bits = 100;
  REQUIRE_THROWS_WITH(tlsock::TLSSession(options), "minimum_dh_bits: must be between 512 and 16384, not 100");
  options = {};
  options.alpn_protocols = {""};
  REQUIRE_THROWS_WITH(tlsock::TLSSession(options), "alpn_protocols: each name must be 1 to 255 bytes, not \"\"");
  options = {};
  options.max_buffered_bytes = 0;
  REQUIRE_THROWS_WITH(tlsock::TLSSession(options), "max_buffered_bytes: must be at least 1, not 0");
}

TEST_CASE("IANA cipher-suite names from mbedTLS names and wire ids", "[protocol]") {
  CHECK(tlsock::backend::iana_suite_name("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256") ==
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(tlsock::backend::iana_suite_name("TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256") ==
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
  CHECK(tlsock::backend::iana_suite_name("TLS1-3-AES-128-GCM-SHA256") == "TLS_AES_128_GCM_SHA256");
  CHECK(tlsock::backend::suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(tlsock::backend::suite_name(0x009E) == "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256");
  CHECK(tlsock::backend::suite_name(0xFFFF).empty());
  CHECK(tlsock::backend::suite_uses_dhe(0x009E));
  CHECK_FALSE(tlsock::backend::suite_uses_dhe(0xC02F));
}
