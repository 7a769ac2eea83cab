// PrivateKey and CertificateChain: parsing keys (PEM, DER, encrypted), matching them to
// certificates, chain validation, PyTLS's from_pieces and the list handed to mbedTLS.
#include <stdlib.h>

#include <fstream>
#include <functional>
#include <system_error>
#include <typeinfo>

#include "access.hpp"
#include "backend/backend.hpp"
#include "support/catch.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/errors.hpp"

using tlsock::Certificate;
using tlsock::CertificateChain;
using tlsock::PrivateKey;
using tlsock::detail::Access;
namespace fs = std::filesystem;

namespace {

fs::path certs() { return tlsock::testing::certs_dir(); }

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Certificate cert(const std::string& name) { return Certificate::load(certs() / (name + ".pem")).front(); }
PrivateKey key(const std::string& name) { return PrivateKey::load(certs() / (name + ".key")); }

// Runs f and checks that it throws exactly E (not a subclass) with exactly this message.
template <typename E>
void check_throws_exactly(const std::function<void()>& f, const std::string& message) {
  INFO("expected " << typeid(E).name() << ": " << message);
  bool thrown = false;
  try {
    f();
  } catch (const std::exception& e) {
    thrown = true;
    CHECK(std::string(typeid(e).name()) == typeid(E).name());
    CHECK(std::string(e.what()) == message);
  }
  CHECK(thrown);
}

// The message of the std::invalid_argument f throws ("" if it throws none).
std::string invalid_argument_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

using tlsock::testing::TempDir;

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto result = tlsock::testing::run_program(args, std::chrono::seconds(30));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
}

}  // namespace

// ---- PrivateKey ---------------------------------------------------------------------------

TEST_CASE("unencrypted keys load from PEM and DER", "[keys]") {
  auto rsa = PrivateKey::load(certs() / "localhost.key");
  CHECK(rsa.key_algorithm() == "rsa");
  CHECK(rsa.key_bits() == 2048);

  auto der = PrivateKey::load(certs() / "localhost.key.der");
  CHECK(der.key_algorithm() == "rsa");
  CHECK(der.matches(cert("localhost")));

  auto ec = PrivateKey::load(certs() / "localhost-ecdsa.key");
  CHECK(ec.key_algorithm() == "ec");
  CHECK(ec.key_bits() == 256);

  CHECK(PrivateKey::from_pem(slurp(certs() / "localhost.key")).matches(cert("localhost")));
  CHECK(PrivateKey::from_der(slurp(certs() / "localhost.key.der")).matches(cert("localhost")));
  // A password for a key that needs none is ignored.
  CHECK(PrivateKey::load(certs() / "localhost.key", "unused").matches(cert("localhost")));
}

TEST_CASE("PKCS#1 and SEC1 keys load", "[keys]") {
  TempDir dir;
  openssl({"pkey", "-in", (certs() / "localhost.key").string(), "-traditional", "-out", dir / "rsa.pem"});
  openssl({"pkey", "-in", (certs() / "localhost-ecdsa.key").string(), "-traditional", "-out", dir / "ec.pem"});
  REQUIRE(starts_with(slurp(dir / "rsa.pem"), "-----BEGIN RSA PRIVATE KEY-----"));
  REQUIRE(starts_with(slurp(dir / "ec.pem"), "-----BEGIN EC PRIVATE KEY-----"));
  CHECK(PrivateKey::load(dir / "rsa.pem").matches(cert("localhost")));
  CHECK(PrivateKey::load(dir / "ec.pem").matches(cert("localhost-ecdsa")));
}

TEST_CASE("the encrypted client key (PKCS#8, PBES2, 3DES)", "[keys]") {
  fs::path path = certs() / "client-encrypted.key";
  auto k = PrivateKey::load(path, "tlsock");
  CHECK(k.key_algorithm() == "rsa");
  CHECK(k.matches(cert("client")));
  CHECK(PrivateKey::from_pem(slurp(path), "tlsock").matches(cert("client")));

  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::load(path, "wrong"); },
                                              "password: wrong password for the private key " + path.string());
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::load(path); },
                                              "password: the private key is encrypted and no password was given");
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::from_pem(slurp(path), "wrong"); },
                                              "password: wrong password for the private key");
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::from_pem(slurp(path)); },
                                              "password: the private key is encrypted and no password was given");
}

TEST_CASE("encrypted DER and traditional encrypted PEM keys", "[keys]") {
  TempDir dir;
  fs::path encrypted = certs() / "client-encrypted.key";
  openssl({"pkcs8", "-in", encrypted.string(), "-passin", "pass:tlsock", "-topk8", "-v2", "des3", "-v2prf",
           "hmacWithSHA256", "-passout", "pass:tlsock", "-outform", "DER", "-out", dir / "key.p8.der"});
  openssl({"pkey", "-in", encrypted.string(), "-passin", "pass:tlsock", "-traditional", "-des3", "-passout",
           "pass:tlsock", "-out", dir / "traditional.pem"});
  REQUIRE(slurp(dir / "traditional.pem").find("Proc-Type: 4,ENCRYPTED") != std::string::npos);

  std::string der = slurp(dir / "key.p8.der");
  CHECK(PrivateKey::from_der(der, "tlsock").matches(cert("client")));
  CHECK(PrivateKey::load(dir / "key.p8.der", "tlsock").matches(cert("client")));
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::from_der(der, "wrong"); },
                                              "password: wrong password for the private key");
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::from_der(der); },
                                              "password: the private key is encrypted and no password was given");

  fs::path traditional = dir / "traditional.pem";
  CHECK(PrivateKey::load(traditional, "tlsock").matches(cert("client")));
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::load(traditional, "wrong"); },
                                              "password: wrong password for the private key " + traditional.string());
  check_throws_exactly<std::invalid_argument>([&] { (void)PrivateKey::load(traditional); },
                                              "password: the private key is encrypted and no password was given");
}

TEST_CASE("wrong passwords are reported as such, whatever the decryption turns out", "[keys]") {
  // About one wrong password in 250 decrypts to bytes whose padding checks out; mbedTLS then
  // fails later, in the key's ASN.1, with a format error. Guess until that case came up.
  std::string pem = slurp(certs() / "client-encrypted.key");
  int garbage = 0;
  for (int i = 0; i < 5000 && garbage < 2; ++i) {
    std::string password = "guess" + std::to_string(i);
    const tlsock::backend::RawKeyParse raw = tlsock::backend::raw_parse_key(pem, password);
    if (!raw.wrong_password) ++garbage;
    INFO("password " << password << ", mbedTLS says " << raw.error);
    REQUIRE(invalid_argument_of([&] { (void)PrivateKey::from_pem(pem, password); }) ==
            "password: wrong password for the private key");
  }
  CHECK(garbage > 0);
}

TEST_CASE("an AES-encrypted PKCS#8 key loads or says why it cannot", "[keys]") {
  // mbedTLS 2.28 has no AES in PBES2 (3.5 added it): the message must say so, not blame the
  // password or call the key garbage.
  TempDir dir;
  openssl({"pkcs8", "-in", (certs() / "client.key").string(), "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:tlsock",
           "-out", dir / "aes.pem"});
  for (std::string_view password : {"tlsock", "wrong"}) {
    std::string message = invalid_argument_of([&] { (void)PrivateKey::load(dir / "aes.pem", password); });
    INFO(message);
    if (message.empty()) {
      CHECK(password == "tlsock");
      CHECK(PrivateKey::load(dir / "aes.pem", password).matches(cert("client")));
    } else if (password == "tlsock") {
      CHECK(starts_with(message, "key: the private key is encrypted with a scheme this mbedTLS cannot decrypt: "));
    }
  }
}

TEST_CASE("things that are not keys", "[keys]") {
  for (const auto& f : std::vector<std::function<void()>>{
           [] { (void)PrivateKey::load(certs() / "localhost.pem"); },
           [] { (void)PrivateKey::load(certs() / "localhost.der"); }, [] { (void)PrivateKey::from_pem("hello"); },
           [] { (void)PrivateKey::from_pem(""); }, [] { (void)PrivateKey::from_der("\x30\x03\x02\x01\x00"); },
           [] { (void)PrivateKey::from_der(slurp(certs() / "localhost.key")); },  // PEM is not DER
       }) {
    std::string message = invalid_argument_of(f);
    INFO(message);
    CHECK(starts_with(message, "key: not a PEM or DER private key: "));
    CHECK(message.find("(-0x") != std::string::npos);
  }
  CHECK_THROWS_AS(PrivateKey::from_der(""), std::invalid_argument);
  CHECK_THROWS_AS(PrivateKey::load(certs() / "no-such.key"), std::system_error);
}

TEST_CASE("a key matches its own certificate only", "[keys]") {
  auto localhost = key("localhost");
  CHECK(localhost.matches(cert("localhost")));
  CHECK_FALSE(localhost.matches(cert("wrong-host")));
  CHECK_FALSE(localhost.matches(cert("localhost-ecdsa")));
  CHECK(key("localhost-ecdsa").matches(cert("localhost-ecdsa")));
  CHECK_FALSE(key("localhost-ecdsa").matches(cert("localhost")));
  CHECK(key("wrong-host").matches(cert("wrong-host")));
}

TEST_CASE("copies of a key share the parsed key", "[keys]") {
  auto k = key("localhost");
  PrivateKey copy = k;  // NOLINT(performance-unnecessary-copy-initialization): the copy is what is tested
  CHECK(&Access::impl(copy) == &Access::impl(k));
}

// ---- CertificateChain ---------------------------------------------------------------------

TEST_CASE("every *-chain.pem of the test PKI loads with its key", "[chain]") {
  for (std::string name : {"localhost", "localhost-ecdsa", "expired", "not-yet-valid", "wrong-host", "wildcard", "sha1",
                           "bad-key-usage", "client"}) {
    INFO(name);
    auto chain = CertificateChain::load(certs() / (name + "-chain.pem"), certs() / (name + ".key"));
    REQUIRE(chain.certificates().size() == 2);
    CHECK(chain.leaf() == cert(name));
    CHECK(chain.certificates()[1] == cert("intermediate-ca"));
    CHECK(chain.key().matches(chain.leaf()));
  }
  auto untrusted = CertificateChain::load(certs() / "untrusted-chain.pem", certs() / "untrusted.key");
  CHECK(untrusted.certificates().size() == 1);
  auto client = CertificateChain::load(certs() / "client-chain.pem", certs() / "client-encrypted.key", "tlsock");
  CHECK(client.leaf().subject() == "CN=tlsock Test Client");
}

TEST_CASE("the chain is ready for mbedTLS and outlives the object it came from", "[chain]") {
  std::optional<CertificateChain> copy;
  {
    auto original = CertificateChain({cert("localhost"), cert("intermediate-ca"), cert("root-ca")}, key("localhost"));
    copy = original;
    CHECK(&Access::impl(*copy) == &Access::impl(original));
  }
  const std::vector<std::string> prepared = tlsock::backend::prepared_chain(*copy);
  REQUIRE(prepared.size() == 3);
  for (std::size_t n = 0; n < prepared.size(); ++n) CHECK(prepared[n] == copy->certificates()[n].der());
  CHECK(tlsock::backend::prepared_key_matches(*copy));
}

TEST_CASE("CertificateChain checks what it is given", "[chain]") {
  check_throws_exactly<tlsock::NoCertificateChainError>([] { CertificateChain({}, key("localhost")); },
                                                        "chain: no certificates given");
  check_throws_exactly<tlsock::LeafCertificateHasNoPrivateKeyError>(
      [] {
        CertificateChain({cert("localhost"), cert("intermediate-ca")}, key("wrong-host"));
      },
      "key: the private key does not match the leaf certificate CN=localhost");
  check_throws_exactly<tlsock::CertificateChainError>(
      [] {
        CertificateChain({cert("intermediate-ca"), cert("localhost")}, key("intermediate-ca"));
      },
      "chain: certificate 2 (CN=localhost) did not issue certificate 1 (CN=tlsock Test Intermediate CA)");
  check_throws_exactly<tlsock::CertificateChainError>(
      [] {
        CertificateChain({cert("localhost"), cert("root-ca")}, key("localhost"));
      },
      "chain: certificate 2 (CN=tlsock Test Root CA) did not issue certificate 1 (CN=localhost)");
  check_throws_exactly<tlsock::CertificateChainError>(
      [] {
        CertificateChain({cert("localhost"), cert("intermediate-ca"), cert("untrusted-root-ca")}, key("localhost"));
      },
      "chain: certificate 3 (CN=tlsock Untrusted Root CA) did not issue certificate 2 (CN=tlsock Test Intermediate "
      "CA)");

  // A leaf alone, a self-signed leaf, and a chain that ends with its self-signed root are fine.
  CHECK(CertificateChain({cert("localhost")}, key("localhost")).certificates().size() == 1);
  CHECK(CertificateChain({cert("self-signed")}, key("self-signed")).certificates().size() == 1);
  CHECK(CertificateChain({cert("localhost"), cert("intermediate-ca"), cert("root-ca")}, key("localhost"))
            .certificates()
            .size() == 3);
}

TEST_CASE("CertificateChain::load and from_der report their inputs' errors", "[chain]") {
  CHECK_THROWS_AS(CertificateChain::load(certs() / "no-such-chain.pem", certs() / "localhost.key"), std::system_error);
  CHECK_THROWS_AS(CertificateChain::load(certs() / "localhost-chain.pem", certs() / "no-such.key"), std::system_error);
  check_throws_exactly<std::invalid_argument>(
      [] { (void)CertificateChain::load(certs() / "client-chain.pem", certs() / "client-encrypted.key", "nope"); },
      "password: wrong password for the private key " + (certs() / "client-encrypted.key").string());
  check_throws_exactly<tlsock::LeafCertificateHasNoPrivateKeyError>(
      [] { (void)CertificateChain::load(certs() / "localhost-chain.pem", certs() / "wildcard.key"); },
      "key: the private key does not match the leaf certificate CN=localhost");

  TempDir dir;
  openssl({"pkey", "-in", (certs() / "wrong-host.key").string(), "-outform", "DER", "-out", dir / "wrong-host.der"});
  check_throws_exactly<tlsock::LeafCertificateHasNoPrivateKeyError>(
      [&] { (void)CertificateChain::from_der(slurp(certs() / "localhost.der"), slurp(dir / "wrong-host.der")); },
      "key: the private key does not match the leaf certificate CN=localhost");
  check_throws_exactly<std::invalid_argument>(
      [] { (void)CertificateChain::from_der(slurp(certs() / "localhost.der"), ""); }, "key: empty DER private key");
  CHECK_THROWS_AS(CertificateChain::from_der(slurp(certs() / "localhost.pem"), slurp(certs() / "localhost.key.der")),
                  std::invalid_argument);
}

TEST_CASE("CertificateChain::from_der takes one certificate and its key in memory", "[chain]") {
  auto chain = CertificateChain::from_der(slurp(certs() / "localhost.der"), slurp(certs() / "localhost.key.der"));
  CHECK(chain.certificates().size() == 1);
  CHECK(chain.leaf() == cert("localhost"));
  CHECK(chain.key().matches(cert("localhost")));
  CHECK(tlsock::backend::prepared_chain(chain).size() == 1);
}

TEST_CASE("from_pieces orders shuffled certificates and drops duplicates", "[chain]") {
  auto chain =
      CertificateChain::from_pieces({cert("intermediate-ca"), cert("root-ca"), cert("localhost")}, {key("localhost")});
  REQUIRE(chain.certificates().size() == 3);
  CHECK(chain.certificates()[0].subject() == "CN=localhost");
  CHECK(chain.certificates()[1].subject() == "CN=tlsock Test Intermediate CA");
  CHECK(chain.certificates()[2].subject() == "CN=tlsock Test Root CA");

  auto twice = CertificateChain::from_pieces(
      {cert("intermediate-ca"), cert("localhost"), cert("intermediate-ca"), cert("localhost")}, {key("localhost")});
  REQUIRE(twice.certificates().size() == 2);
  CHECK(twice.leaf() == cert("localhost"));

  auto alone = CertificateChain::from_pieces({cert("self-signed")}, {key("self-signed")});
  CHECK(alone.certificates().size() == 1);
}

TEST_CASE("from_pieces refuses what is not one chain with one key", "[chain]") {
  check_throws_exactly<tlsock::NoCertificateChainError>(
      [] { (void)CertificateChain::from_pieces({}, {key("localhost")}); }, "chain: no certificates given");
  // A stray root is a leaf of its own.
  check_throws_exactly<tlsock::MoreThanOneLeafCertificateError>(
      [] {
        (void)CertificateChain::from_pieces({cert("localhost"), cert("intermediate-ca"), cert("untrusted-root-ca")},
                                            {key("localhost")});
      },
      "certificates: more than one leaf certificate: CN=localhost, CN=tlsock Untrusted Root CA");
  check_throws_exactly<tlsock::MoreThanOneLeafCertificateError>(
      [] {
        (void)CertificateChain::from_pieces({cert("localhost"), cert("intermediate-ca"), cert("wildcard")},
                                            {key("localhost")});
      },
      "certificates: more than one leaf certificate: CN=localhost, CN=*.example.test");
  check_throws_exactly<tlsock::LeafCertificateHasNoPrivateKeyError>(
      [] {
        (void)CertificateChain::from_pieces({cert("intermediate-ca"), cert("localhost")}, {});
      },
      "keys: no private key for the leaf certificate CN=localhost");
  check_throws_exactly<tlsock::LeafCertificateHasNoPrivateKeyError>(
      [] {
        (void)CertificateChain::from_pieces({cert("intermediate-ca"), cert("localhost")}, {key("wrong-host")});
      },
      "key: the private key does not match the leaf certificate CN=localhost");
  check_throws_exactly<tlsock::ExtraneousPrivateKeyError>(
      [] {
        (void)CertificateChain::from_pieces({cert("intermediate-ca"), cert("localhost")},
                                            {key("localhost"), key("wrong-host")});
      },
      "keys: 2 private keys given, the leaf needs exactly one");
}

TEST_CASE("from_pieces with certificates that issued each other", "[chain]") {
  // A (issued by B) and B (issued by A): every certificate issued another one.
  TempDir dir;
  for (std::string name : {"a", "b"})
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir / (name + ".key")});
  openssl({"req", "-x509", "-new", "-key", dir / "b.key", "-subj", "/CN=B", "-days", "2", "-out", dir / "b0.pem"});
  openssl({"req", "-new", "-key", dir / "a.key", "-subj", "/CN=A", "-out", dir / "a.csr"});
  openssl({"x509", "-req", "-in", dir / "a.csr", "-CA", dir / "b0.pem", "-CAkey", dir / "b.key", "-set_serial", "1",
           "-days", "2", "-out", dir / "a.pem"});
  openssl({"req", "-new", "-key", dir / "b.key", "-subj", "/CN=B", "-out", dir / "b.csr"});
  openssl({"x509", "-req", "-in", dir / "b.csr", "-CA", dir / "a.pem", "-CAkey", dir / "a.key", "-set_serial", "2",
           "-days", "2", "-out", dir / "b.pem"});
  Certificate a = Certificate::load(dir / "a.pem").front();
  Certificate b = Certificate::load(dir / "b.pem").front();
  REQUIRE(a.issuer() == "CN=B");
  REQUIRE(b.issuer() == "CN=A");

  check_throws_exactly<tlsock::NoLeafCertificateError>(
      [&] {
        (void)CertificateChain::from_pieces({a, b}, {PrivateKey::load(dir / "a.key")});
      },
      "certificates: no leaf certificate (every certificate issued another one)");
  // Beside a real chain, the pair is stray: listed after the leaf.
  check_throws_exactly<tlsock::MoreThanOneLeafCertificateError>(
      [&] {
        (void)CertificateChain::from_pieces({cert("localhost"), a, cert("intermediate-ca"), b}, {key("localhost")});
      },
      "certificates: more than one leaf certificate: CN=localhost, CN=A, CN=B");
}
