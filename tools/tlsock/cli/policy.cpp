// How command-line options become tlsock policy (see policy.hpp).
#include "cli/policy.hpp"

#include <utility>

#include "cli/failure.hpp"

namespace tlsock::cli {

namespace fs = std::filesystem;

namespace {

fs::path existing(const std::string& path, const std::string& option) {
  if (!fs::exists(path)) throw Failure(file_io, option + " " + path + ": no such file");
  return path;
}

CertificateChain load_chain(const std::string& cert, const std::string& key) {
  fs::path cert_path = existing(cert, "--cert"), key_path = existing(key, "--key");
  try {
    return CertificateChain::load(cert_path, key_path);
  } catch (const std::exception& error) {
    throw Failure(usage, "--cert " + cert + " --key " + key + ": " + error.what());
  }
}

}  // namespace

TLSSession::Options session_options(const ConnectOptions& options) {
  TLSSession::Options session;
  if (!options.tls_version.empty() && !options.tls_min.empty())
    throw Failure(usage, "--tls-version and --tls-min cannot be combined");
  if (!options.tls_version.empty()) session.protocols = {parse_protocol(options.tls_version)};
  if (!options.tls_min.empty()) {
    Protocol minimum = parse_protocol(options.tls_min);
    session.protocols.clear();
    for (Protocol p : supported_protocols())
      if (p >= minimum) session.protocols.insert(p);
  }
  for (const auto& [flag, paths] :
       {std::pair{"--cacert", &options.cacert}, std::pair{"--cacert-add", &options.cacert_add}})
    for (const std::string& path : *paths) session.extra_trust_roots.emplace_back(existing(path, flag));
  session.use_os_trust_roots = options.cacert.empty();
  if (options.insecure) {
    warn("--insecure: the server's certificate is not verified; the connection can be intercepted");
    session.manual_validation = true;
  }
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw Failure(usage, "--cert and --key go together");
    try {
      session.client_certificate = CertificateChain::load(*options.cert, *options.key, options.key_password);
    } catch (const std::invalid_argument& error) {
      throw Failure(usage, "--cert " + *options.cert + " --key " + *options.key + ": " + error.what());
    }
  }
  session.alpn_protocols = options.alpn;
  return session;
}

std::shared_ptr<const ServerTLS> make_server_tls(const ServerTLSOptions& options) {
  std::vector<CertificateChain> chains;
  if (options.certs.size() != options.keys.size())
    throw Failure(usage, "--cert and --key go in pairs: each --cert needs its --key");
  if (options.certs.empty()) {
    if (!options.identity) throw Failure(usage, "--cert FILE --key FILE: the server needs an identity");
    chains.push_back(*options.identity);
  }
  for (std::size_t i = 0; i < options.certs.size(); ++i)
    chains.push_back(load_chain(options.certs[i], options.keys[i]));

  std::shared_ptr<const ServerCertificates> certificates;
  if (chains.size() == 1)
    certificates = std::make_shared<ServerCertificateChain>(chains.front());
  else
    certificates = std::make_shared<SNIServerCertificates>(chains, chains.front());  // the first is the default

  ServerOptions server;
  server.client_auth = options.client_auth == "required"   ? ClientAuth::required
                       : options.client_auth == "optional" ? ClientAuth::optional
                                                           : ClientAuth::none;
  if (server.client_auth != ClientAuth::none && options.client_ca.empty())
    throw Failure(
        usage, "--client-auth " + options.client_auth + " needs --client-ca FILE (who may sign client certificates)");
  for (const std::string& ca : options.client_ca) server.client_trust_roots.emplace_back(existing(ca, "--client-ca"));
  server.handshake_timeout = std::chrono::duration<double>(options.handshake_timeout);
  server.alpn_protocols = options.alpn;
  server.cipher_suites = options.cipher_suites;
  try {
    return std::make_shared<ServerTLS>(std::move(certificates), std::move(server));
  } catch (const std::invalid_argument& error) {
    std::string what = error.what();
    if (!what.starts_with("cipher_suites: ")) throw;
    throw Failure(usage, "--cipher-suites: " + what.substr(15));  // an unknown or insecure name
  }
}

fs::path default_certs_dir() {
#ifdef TLSOCK_DEFAULT_CERTS
  fs::path dir = TLSOCK_DEFAULT_CERTS;
#else
  fs::path dir = "certs";
#endif
  if (!fs::exists(dir / "localhost-chain.pem"))
    throw Failure(file_io, "the test certificates are not in " + dir.string() +
                               " (this tlsock was built elsewhere): pass --cert FILE --key FILE");
  return dir;
}

}  // namespace tlsock::cli
