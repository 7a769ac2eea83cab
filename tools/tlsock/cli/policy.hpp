// How command-line options become tlsock policy, in one place: the client side's
// TLSSession::Options (fetch, probe and demo, from ConnectOptions) and the server side's
// ServerTLS (serve and demo, from ServerTLSOptions).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "tlsock/tlsock.hpp"

namespace tlsock::cli {

// --tls-version/--tls-min, --cacert/--cacert-add, --insecure (warns on stderr), --cert/--key
// and the ALPN list as TLSSession options. Throws Failure (usage, file_io) for bad ones.
TLSSession::Options session_options(const ConnectOptions& options);

// The options of `serve` that describe its TLS side.
struct ServerTLSOptions {
  std::vector<std::string> certs, keys;      // --cert/--key pairs; none: identity
  std::optional<CertificateChain> identity;  // presented when there is no --cert (required then)
  std::vector<std::string> alpn;             // offered, in order of preference
  std::vector<std::string> cipher_suites;    // --cipher-suites (IANA names); empty: the defaults
  std::string client_auth = "none";          // none, optional, required
  std::vector<std::string> client_ca;        // --client-ca
  double handshake_timeout = 10;             // seconds
};

// The ServerTLS the options describe: one certificate chain, or several chosen by SNI (the
// first is the default). Throws Failure (usage, file_io) for bad ones.
std::shared_ptr<const ServerTLS> make_server_tls(const ServerTLSOptions& options);

// The test PKI (certs/ in the source tree): `serve` and `demo` present its localhost
// identity unless told otherwise. Throws Failure (file I/O) when it is missing.
[[nodiscard]] std::filesystem::path default_certs_dir();

}  // namespace tlsock::cli
