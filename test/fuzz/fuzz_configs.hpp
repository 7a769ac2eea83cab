// The client and server configurations the connection targets run, by variant (byte 0 of an
// input), shared with the seed generator so recorded seeds carry the variant they were
// recorded against. Built once per process: loading keys and certificates is slow.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tlsock/tlsock.hpp>

#include "fuzz_common.hpp"

namespace tlsock::fuzz {

inline CertificateChain load_chain(std::string_view name) {
  return CertificateChain::load(cert_path(std::string(name) + "-chain.pem"), cert_path(std::string(name) + ".key"));
}

inline ProtocolSet up_to_tls12() {
  ProtocolSet protocols;
  for (Protocol p : {Protocol::TLSv1, Protocol::TLSv1_1, Protocol::TLSv1_2})
    if (supported_protocols().count(p) != 0) protocols.insert(p);
  return protocols;
}

// Client variants (fuzz_client):
//   0  manual validation, default protocols and suites
//   1  full verification against certs/root-ca.pem for "localhost" (reaches the verification
//      error paths with whatever certificates the fuzzer sends)
//   2  manual validation, ALPN offered and a client certificate (CertificateRequest paths)
//   3  manual validation, TLS 1.0 to 1.2, to "127.0.0.1" (no SNI), weak-DH limit 2048 bits
// Static RSA suites are in every variant's list, so a recorded ServerHello, Certificate,
// ServerHelloDone flight does not depend on the client random and replays in every run.
enum ClientVariant { client_manual, client_verifying, client_mutual, client_old, client_variants };

inline std::vector<ClientTLS> make_clients() {
  std::vector<ClientTLS> clients;

  TLSSession::Options manual;
  manual.manual_validation = true;
  clients.emplace_back("localhost", std::make_shared<TLSSession>(manual));

  TLSSession::Options verifying;
  verifying.extra_trust_roots = {TrustRoot(cert_path("root-ca.pem"))};
  clients.emplace_back("localhost", std::make_shared<TLSSession>(verifying));

  TLSSession::Options mutual = manual;
  mutual.alpn_protocols = {"h2", "http/1.1"};
  mutual.client_certificate = load_chain("client");
  clients.emplace_back("localhost", std::make_shared<TLSSession>(mutual));

  TLSSession::Options old = manual;
  old.protocols = up_to_tls12();
  old.minimum_dh_bits = 2048;
  clients.emplace_back("127.0.0.1", std::make_shared<TLSSession>(old));
  return clients;
}

// Server variants (fuzz_server):
//   0  certs/localhost-chain.pem with its RSA key, default options
//   1  the same, client certificates optional (trusting certs/root-ca.pem), ALPN http/1.1
//   2  the RSA chain with DHE parameters from certs/dh2048.pem, TLS 1.0 to 1.2
//   3  SNI: localhost (ECDSA), *.example.test, and wrong-host as the default chain; client
//      certificates required; no session cache, no tickets
enum ServerVariant { server_default, server_optional_auth, server_old, server_sni, server_variants };

inline std::vector<std::shared_ptr<ServerTLS>> make_servers() {
  std::vector<std::shared_ptr<ServerTLS>> servers;
  auto localhost = std::make_shared<ServerCertificateChain>(load_chain("localhost"));

  servers.push_back(std::make_shared<ServerTLS>(localhost));

  ServerOptions optional_auth;
  optional_auth.client_auth = ClientAuth::optional;
  optional_auth.client_trust_roots = {TrustRoot(cert_path("root-ca.pem"))};
  optional_auth.alpn_protocols = {"http/1.1"};
  servers.push_back(std::make_shared<ServerTLS>(localhost, optional_auth));

  ServerOptions old;
  old.protocols = up_to_tls12();
  old.dh_parameters = cert_path("dh2048.pem");
  servers.push_back(std::make_shared<ServerTLS>(localhost, old));

  ServerOptions required_auth;
  required_auth.client_auth = ClientAuth::required;
  required_auth.client_trust_roots = {TrustRoot(cert_path("root-ca.pem"))};
  required_auth.session_cache = false;
  required_auth.session_tickets = false;
  auto sni = std::make_shared<SNIServerCertificates>(
      std::vector<CertificateChain>{load_chain("localhost-ecdsa"), load_chain("wildcard")}, load_chain("wrong-host"));
  servers.push_back(std::make_shared<ServerTLS>(sni, required_auth));
  return servers;
}

}  // namespace tlsock::fuzz
