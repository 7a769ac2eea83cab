// libFuzzer target: certificate and private-key parsing, then every accessor of what parsed.
//
// Byte 0 picks the parser (modulo 6), the rest is its input:
//   0  Certificate::from_der       3  PrivateKey::from_pem (password "tlsock", the test key's)
//   1  Certificate::from_pem       4  TrustRoot::der
//   2  PrivateKey::from_der        5  CertificateChain::from_der: the first 2 bytes (big-endian)
//                                     give the certificate's length, the rest is the key
// Parsers may only throw std::invalid_argument (their documented error); accessors of a
// parsed object may not throw at all, and der() and pem() must parse back to an equal object.
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include <tlsock/tlsock.hpp>

#include "fuzz_common.hpp"
#include "fuzz_connection.hpp"

namespace {

using namespace tlsock;

const Certificate& localhost() {
  static const Certificate certificate = Certificate::load(fuzz::cert_path("localhost.pem")).front();
  return certificate;
}

void check_certificate(const Certificate& certificate) {
  try {
    fuzz::inspect(certificate);
  } catch (const std::exception& e) {
    fuzz::contract_violation(std::string("a Certificate accessor raised ") + typeid(e).name() + ": " + e.what());
  }
  try {
    if (!(Certificate::from_der(certificate.der()) == certificate)) fuzz::contract_violation("der() round trip");
    if (!(Certificate::from_pem(certificate.pem()) == certificate)) fuzz::contract_violation("pem() round trip");
  } catch (const std::exception& e) {
    fuzz::contract_violation(std::string("re-parsing der()/pem() raised: ") + e.what());
  }
}

void check_key(const PrivateKey& key) {
  try {
    (void)key.key_algorithm();
    (void)key.key_bits();
    (void)key.matches(localhost());
  } catch (const std::exception& e) {
    fuzz::contract_violation(std::string("a PrivateKey accessor raised ") + typeid(e).name() + ": " + e.what());
  }
}

void run(std::uint8_t mode, std::string_view in) {
  switch (mode % 6) {
    case 0:
      check_certificate(Certificate::from_der(in));
      break;
    case 1:
      check_certificate(Certificate::from_pem(in));
      break;
    case 2:
      check_key(PrivateKey::from_der(in));
      break;
    case 3:
      check_key(PrivateKey::from_pem(in, "tlsock"));
      break;
    case 4: {
      TrustRoot root = TrustRoot::der(in);
      for (const Certificate& certificate : root.certificates()) check_certificate(certificate);
      break;
    }
    default: {
      if (in.size() < 2) return;
      std::size_t length = (static_cast<unsigned char>(in[0]) << 8) | static_cast<unsigned char>(in[1]);
      in.remove_prefix(2);
      length = std::min(length, in.size());
      CertificateChain chain = CertificateChain::from_der(in.substr(0, length), in.substr(length));
      check_certificate(chain.leaf());
      check_key(chain.key());
      if (!chain.key().matches(chain.leaf())) fuzz::contract_violation("a chain whose key does not match its leaf");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  try {
    run(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  } catch (const std::invalid_argument&) {
    // the documented failure (CertificateChainError is one too)
  } catch (const std::exception& e) {
    fuzz::contract_violation(std::string("parsing raised ") + typeid(e).name() +
                             " (not std::invalid_argument): " + e.what());
  }
  return 0;
}
