// tlsock probe HOST[:PORT]: what a TLS server offers, as `openssl s_client` would show it
// but in oscrypto's words: the connection, the chain as sent, the verification verdict,
// whether a second connection resumes, and which protocol versions the server accepts.
//
// It opens several connections, one after the other (servers such as `openssl s_server
// -www` serve one at a time): the verified one; a second without verification when the
// first failed it, to show the chain anyway; one to test resumption with the same
// TLSSession; one per protocol version the linked mbedTLS supports, pinned to it and without
// verification. With --starttls every one of them runs the plain-text dialogue first.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "cli/facts.hpp"
#include "cli/failure.hpp"
#include "cli/json.hpp"
#include "http/http.hpp"
#include "probe/starttls.hpp"

namespace tlsock::cli {
namespace {

constexpr const char* probe_help =
    R"HELP(Connects to TARGET: HOST, HOST:PORT, [IPv6]:PORT, a bare IPv6 address or an https:// URL
(default port 443, or the --starttls protocol's port)
and shows the protocol, cipher suite, ALPN, compression, the certificate chain as the server
sent it, the verification verdict, whether a second connection resumed the session, and which
protocol versions the server accepts (each tried alone, without verification).

--starttls PROTOCOL talks plain text first, as `openssl s_client -starttls`:
  smtp (port 25: EHLO, STARTTLS), imap (143: a001 STARTTLS), pop3 (110: STLS),
  ftp (21: AUTH TLS), xmpp (5222: <starttls/>), postgres (5432: SSLRequest).
The dialogue runs again for every connection and is bounded by --timeout as a whole.

--expect-protocol V, --expect-resumption, --expect-valid-days N and --expect-name HOST
(repeatable) are checked after the probe, all of them: the text and the JSON say which failed
and why, each failure is also a line on stderr, and the exit code is 8 unless a worse one
(3, 4, 5) applies. --expect-protocol compares the version the default handshake negotiates;
--expect-resumption wants the second connection to resume; --expect-valid-days wants the
leaf's not_after at least N days (of 24 hours) from now; --expect-name matches the leaf's
SANs as verification does (wildcards only as a whole left-most label; IPs against IP SANs).

--json prints one object (the keys fetch --json shares are marked *):
  host, port, starttls (null or the protocol), alpn_offered (list),
  connection* (null when no TLS handshake happened): {address ("127.0.0.1:443", "[::1]:443"),
    protocol ("TLSv1.2"), cipher_suite (IANA name), alpn (null or the protocol chosen),
    compression (bool), session_id and session_ticket ("new", "reused" or null),
    certificate (the leaf, or null), chain: [certificate, ...] leaf first, as sent},
    a certificate* being {subject, issuer, serial_number, not_before, not_after (RFC 3339),
    valid_domains, valid_ips, key_algorithm, key_bits, signature_hash, sha256_fingerprint
    (64 hex digits), is_ca, self_signed},
  handshake_completed (bool: false when the server ended it after asking for a client
  certificate), client_certificate_required (bool), acceptable_ca_names (when it was
  required: the CA names of the server's CertificateRequest, [] when it named none; else, or
  when not known, null: TLS 1.3 encrypts the request), acceptable_ca_names_from (null, or the
  version of the probe whose request named them, "TLSv1.2", when the handshake was TLS 1.3),
  verified (bool, never true when the handshake did not complete), verdict ("OK", oscrypto's
  verification error, "not verified (--insecure)", "handshake not completed: ..." or null),
  resumption: {session_id, session_ticket, resumed (bool), error (null or why the second
  connection failed)} or null,
  protocols: {"TLSv1": ..., "TLSv1.1": ..., "TLSv1.2": ..., "TLSv1.3": ...} each "accepted",
             "refused", "error" (not a TLS answer: network, STARTTLS) or "not supported" (by
             the mbedTLS tlsock was built with); protocol_errors: {version: message} for the
             refused and failed ones,
  expectations: [{expectation ("protocol", "resumption", "valid_days", "name"), expected,
             actual (what the server showed, or null), passed (bool), reason (null or why)}],
  error*: null or {class ("usage", "network", "tls", "verification", "expectation", ...),
          message, exit_code}, exit_code*.
When no TLS connection was possible the keys are the same: connection and resumption null.

Exit codes: 0 handshake and verification succeeded (or --insecure), 5 verification failed
(everything is still shown), 4 no TLS handshake was possible or it did not complete (a server
that requires a client certificate: what it sent is still shown; also: the server does not offer
or refuses STARTTLS, or breaks its dialogue), 3 network/DNS/timeout (also during STARTTLS),
8 an --expect-* check failed, 2 usage.)HELP";

struct ProbeOptions {
  std::string target;
  std::string starttls;
  bool json = false;
  bool no_alpn = false;
  ConnectOptions connect;
  // --expect-*: checked after the probe; any that fails makes the exit code 8 (expectation).
  std::string expect_protocol;
  bool expect_resumption = false;
  std::optional<int> expect_valid_days;
  std::vector<std::string> expect_names;
};

// One --expect-* check and how it went.
struct Expectation {
  Expectation(std::string kind_, std::string option_, Json expected_)
      : kind(std::move(kind_)), option(std::move(option_)), expected(std::move(expected_)) {}
  std::string kind;    // "protocol", "resumption", "valid_days", "name"
  std::string option;  // "--expect-protocol TLSv1.3", as typed
  Json expected;       // "TLSv1.3", true, 21, "example.com"
  Json actual;         // what the server showed, or null
  bool passed = false;
  std::string reason;  // why it failed
};

// "host", "host:port", "[v6]", "[v6]:port", a bare IPv6 address, or an https:// URL (its
// host and port; the path is ignored), parsed as the URLs of fetch are. A bare IPv6 address
// ending in what could be a port ("::1:9443") is refused as ambiguous.
std::pair<std::string, std::optional<std::uint16_t>> split_target(const std::string& target) {
  const std::string what = "target " + target;
  try {
    if (target.find("://") != std::string::npos) {
      http::Url url = http::parse_url(target);
      return {url.host, url.port};
    }
    std::string authority = target;
    if (!target.starts_with("[") && std::count(target.begin(), target.end(), ':') > 1) {
      // A bare IPv6 address. "::1:9443" is both the address ::1:9443 and ::1 port 9443.
      std::string before_last = target.substr(0, target.rfind(':'));
      if (before_last.find("::") != std::string::npos && !before_last.ends_with(":"))
        throw Failure(usage, what + ": ambiguous, write [" + before_last + "]:" + target.substr(target.rfind(':') + 1) +
                                 " for a port, or [" + target + "] for the address");
      authority = "[" + target + "]";
    }
    http::Authority parsed = http::parse_authority(authority, what);
    return {parsed.host, parsed.port};
  } catch (const std::invalid_argument& error) {
    throw Failure(usage, error.what());
  }
}

// The library's words when a server ends the handshake for want of a client certificate.
bool refusal_text(const std::string& message) {
  return message.find("client authentication required") != std::string::npos;
}
bool requires_client_certificate(const TLSError& error) { return refusal_text(error.what()); }

enum class VersionResult { accepted, refused, error, unsupported };

std::string_view to_string(VersionResult result) {
  switch (result) {
    case VersionResult::accepted:
      return "accepted";
    case VersionResult::refused:
      return "refused";
    case VersionResult::error:
      return "error";
    case VersionResult::unsupported:
      return "not supported";
  }
  return "error";
}

struct VersionProbe {
  Protocol protocol;
  VersionResult result;
  std::string detail;  // why it was refused or failed
  // When the server required a client certificate: the CA names its CertificateRequest
  // named (unknown for TLS 1.3, which encrypts it).
  std::optional<std::vector<std::string>> ca_names = std::nullopt;
};

// The CA names a "client authentication required" error carries, if known.
std::optional<std::vector<std::string>> ca_names_of(const TLSError& error) {
  const ClientAuthRequest* request = client_auth_request(error);
  return request != nullptr ? request->acceptable_ca_names() : std::nullopt;
}

struct Findings {
  std::string host;
  std::uint16_t port = 0;
  std::optional<StartTLS> starttls;
  std::vector<std::string> alpn_offered;
  ConnectionFacts connection;
  bool handshake_completed = true;           // false: the server ended it (see below)
  bool client_certificate_required = false;  // the server ended the handshake for want of one
  // The CA names of the server's CertificateRequest (not known: TLS 1.3 encrypts it), and the
  // version of the probe they came from ("" when from the handshake above).
  std::optional<std::vector<std::string>> acceptable_ca_names;
  std::string acceptable_ca_names_from;
  bool verified = false;  // never true when the handshake did not complete
  std::string verdict;
  std::optional<ConnectionFacts> resumption;
  std::string resumption_error;
  std::vector<VersionProbe> versions;
  std::vector<Expectation> expectations;
  bool connected = false;  // a TLS connection (or the client's side of its handshake) was made
  std::string error;       // what went wrong when exit_code is not success
  int exit_code = success;
};

class Prober {
 public:
  Prober(const ProbeOptions& options, std::string host, std::uint16_t port, std::optional<StartTLS> starttls)
      : options_(options), host_(std::move(host)), port_(port), starttls_(starttls) {}

  // A TLS connection through the plain-text dialogue if there is one.
  TLSSocket open(const std::shared_ptr<TLSSession>& session) const {
    std::chrono::duration<double> timeout(options_.connect.timeout);
    TCPStream stream = open_tcp(options_.connect, host_, port_);
    if (starttls_) starttls_upgrade(stream, *starttls_, host_, timeout);
    return TLSSocket::wrap(std::move(stream), host_, session, timeout);
  }

  Findings run() const {
    Findings findings;
    findings.host = host_;
    findings.port = port_;
    findings.starttls = starttls_;
    findings.alpn_offered = options_.connect.alpn;

    std::shared_ptr<TLSSession> session = make_session(options_.connect);
    const std::shared_ptr<TLSSession> asked_for = session;  // without the fallback below
    std::optional<TLSSocket> socket;
    std::optional<std::string> refusal;  // the server ended the handshake for want of a client certificate
    try {
      socket.emplace(open(session));
      findings.verified = !session->manual_validation();
      findings.verdict = findings.verified ? "OK" : "not verified (--insecure)";
    } catch (const TLSVerificationError& error) {
      findings.verdict = error.what();
      findings.exit_code = verification;
      // Again without verification, to show what the server sent.
      TLSSession::Options manual = session->options();
      manual.manual_validation = true;
      session = std::make_shared<TLSSession>(std::move(manual));
      try {
        socket.emplace(open(session));
      } catch (const TLSError& again) {
        if (!requires_client_certificate(again)) throw;
        refusal = again.what();
        findings.acceptable_ca_names = ca_names_of(again);
      }
    } catch (const TLSError& error) {
      if (!requires_client_certificate(error)) throw;
      refusal = error.what();  // TLS 1.2: during the handshake, before the chain can be shown
      findings.acceptable_ca_names = ca_names_of(error);
    }
    if (socket) {
      findings.connected = true;
      findings.connection = facts_of(*socket);
      // A TLS 1.3 server refuses a missing client certificate after the client's side of the
      // handshake is done; its tickets come after that (a ticket makes session_ticket "new").
      if (std::optional<std::string> error = await_tickets(*socket); error && refusal_text(*error))
        refusal = error;
      else
        findings.connection = facts_of(*socket);
      close_quietly(*socket);
    }
    if (refusal) {
      // The handshake did not complete: nothing was verified, whatever the chain looked like.
      findings.handshake_completed = false;
      findings.client_certificate_required = true;
      findings.verified = false;
      findings.verdict = "handshake not completed: " + *refusal;
      findings.exit_code = tls;
    }

    if (refusal)
      findings.resumption_error = "not tried: the first handshake did not complete";
    else
      try_resumption(session, findings);
    // Only sessions made with the trust settings asked for: never the unverified fallback's.
    save_session_file(options_.connect, *asked_for);

    ProtocolSet supported = supported_protocols();
    for (Protocol protocol : {Protocol::TLSv1, Protocol::TLSv1_1, Protocol::TLSv1_2, Protocol::TLSv1_3}) {
      if (!supported.contains(protocol)) {
        findings.versions.push_back({protocol, VersionResult::unsupported, ""});
        continue;
      }
      TLSSession::Options pinned = session->options();
      pinned.protocols = {protocol};
      pinned.manual_validation = true;
      pinned.session_cache = false;
      try {
        TLSSocket probe = open(std::make_shared<TLSSession>(std::move(pinned)));
        close_quietly(probe);
        findings.versions.push_back({protocol, VersionResult::accepted, ""});
      } catch (const TLSError& error) {
        // Asking for a client certificate, the server has accepted the version.
        if (requires_client_certificate(error))
          findings.versions.push_back(
              {protocol, VersionResult::accepted, "client certificate required", ca_names_of(error)});
        else
          findings.versions.push_back({protocol, VersionResult::refused, error.what()});
      } catch (const std::exception& error) {
        findings.versions.push_back({protocol, VersionResult::error, error.what()});
      }
    }
    // TLS 1.3 encrypts the CertificateRequest: then the names come from an older version's.
    for (auto v = findings.versions.rbegin(); refusal && v != findings.versions.rend(); ++v) {
      if (!v->ca_names) continue;
      findings.acceptable_ca_names = v->ca_names;
      findings.acceptable_ca_names_from = std::string(to_string(v->protocol));
      break;
    }
    return findings;
  }

 private:
  // A second connection with the same TLSSession: did it resume?
  void try_resumption(const std::shared_ptr<TLSSession>& session, Findings& findings) const {
    try {
      TLSSocket second = open(session);
      findings.resumption = facts_of(second);
      // The session file keeps the newest session: with TLS 1.3 that is a ticket of this
      // connection (the first one's was used up).
      if (!options_.connect.session_file.empty()) (void)await_tickets(second);
      close_quietly(second);
    } catch (const std::exception& error) {
      findings.resumption_error = error.what();
    }
  }

  // A TLS 1.3 server sends its tickets after the handshake (RFC 8446 4.6.1): reading for a
  // moment lets them arrive before the connection closes, so the second connection has
  // something to resume. TLS 1.2 tickets are part of the handshake.
  // Returns the TLS error reading met (a refusal the server sent after the handshake).
  static std::optional<std::string> await_tickets(TLSSocket& socket) noexcept {
    try {
      if (socket.protocol() != "TLSv1.3") return std::nullopt;
      socket.set_timeout(std::chrono::milliseconds(500));
      if (socket.select_read(std::chrono::milliseconds(500))) (void)socket.read(1);
    } catch (const TLSError& error) {
      return error.what();
    } catch (...) {
    }
    return std::nullopt;
  }

  // The facts are read; how the connection ends does not matter to the probe.
  static void close_quietly(TLSSocket& socket) noexcept {
    try {
      socket.close();
    } catch (...) {
    }
  }

  const ProbeOptions& options_;
  std::string host_;
  std::uint16_t port_;
  std::optional<StartTLS> starttls_;
};

std::string reuse_words(const std::optional<SessionReuse>& id, const std::optional<SessionReuse>& ticket) {
  return "session ID " + reuse_text(id).value_or("none") + ", ticket " + reuse_text(ticket).value_or("none");
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// The --expect-* options, checked before any connection: a bad value is a usage error.
void validate_expectations(const ProbeOptions& options) {
  if (!options.expect_protocol.empty()) {
    try {
      (void)parse_protocol(options.expect_protocol);
    } catch (const std::invalid_argument& error) {
      throw Failure(usage, std::string("--expect-protocol: ") + error.what());
    }
  }
  if (options.expect_valid_days && (*options.expect_valid_days < 0 || *options.expect_valid_days > 36500))
    throw Failure(usage, "--expect-valid-days: must be a number of days from 0 to 36500, not " +
                             std::to_string(*options.expect_valid_days));
  for (const std::string& name : options.expect_names)
    if (name.empty()) throw Failure(usage, "--expect-name: must not be empty");
}

// Checks every --expect-* option against what the probe found; any failure that is not already
// a worse one (3, 4, 5) makes the exit code 8.
void check_expectations(const ProbeOptions& options, Findings& f) {
  const Certificate* leaf = f.connection.certificate();
  if (!options.expect_protocol.empty()) {
    Expectation e{"protocol", "--expect-protocol " + options.expect_protocol, options.expect_protocol};
    e.actual = f.connection.protocol.empty() ? Json(nullptr) : Json(f.connection.protocol);
    e.passed = f.connection.protocol == options.expect_protocol && f.handshake_completed;
    if (f.connection.protocol.empty())
      e.reason = "no TLS connection";
    else if (!f.handshake_completed)
      e.reason = "the handshake did not complete";
    else if (!e.passed)
      e.reason = "the server chose " + f.connection.protocol;
    f.expectations.push_back(std::move(e));
  }
  if (options.expect_resumption) {
    Expectation e{"resumption", "--expect-resumption", true};
    bool resumed = f.resumption && (f.resumption->session_id == SessionReuse::reused ||
                                    f.resumption->session_ticket == SessionReuse::reused);
    e.actual = resumed;
    e.passed = resumed;
    if (!f.resumption)
      e.reason =
          f.resumption_error.empty() ? "no TLS connection" : "the second connection failed: " + f.resumption_error;
    else if (!resumed)
      e.reason = "the second connection made a new session (" +
                 reuse_words(f.resumption->session_id, f.resumption->session_ticket) + ")";
    f.expectations.push_back(std::move(e));
  }
  if (options.expect_valid_days) {
    int days = *options.expect_valid_days;
    Expectation e{"valid_days", "--expect-valid-days " + std::to_string(days), days};
    if (leaf == nullptr) {
      e.reason = "the server sent no certificate";
    } else {
      auto now = std::chrono::system_clock::now();
      auto left = std::chrono::duration_cast<std::chrono::hours>(leaf->not_after() - now).count() / 24;
      e.actual = rfc3339(leaf->not_after());
      e.passed = leaf->not_after() >= now + std::chrono::hours(24) * days;
      if (!e.passed)
        e.reason = leaf->not_after() < now ? "the certificate expired on " + rfc3339(leaf->not_after())
                                           : "the certificate expires on " + rfc3339(leaf->not_after()) + ", in " +
                                                 std::to_string(left) + " days, less than " + std::to_string(days);
    }
    f.expectations.push_back(std::move(e));
  }
  for (const std::string& name : options.expect_names) {
    Expectation e{"name", "--expect-name " + name, name};
    if (leaf == nullptr) {
      e.reason = "the server sent no certificate";
    } else {
      std::vector<std::string> names = leaf->valid_domains();
      for (const std::string& ip : leaf->valid_ips()) names.push_back(ip);
      e.actual = names;
      try {
        e.passed = leaf->valid_for(name);  // the library's matching, as verification does it
      } catch (const std::invalid_argument& error) {
        throw Failure(usage, "--expect-name " + name + ": " + error.what());
      }
      if (!e.passed) e.reason = "the certificate covers " + (names.empty() ? "no name" : join(names)) + ", not " + name;
    }
    f.expectations.push_back(std::move(e));
  }
  std::vector<std::string> failed;
  for (const Expectation& e : f.expectations)
    if (!e.passed) failed.push_back(e.option + ": " + e.reason);
  if (failed.empty() || f.exit_code != success) return;
  f.exit_code = expectation;
  f.error = "expectation failed: " + join(failed, "; ");
}

Json findings_json(const Findings& f) {
  Json out;
  out["host"] = f.host.empty() ? Json(nullptr) : Json(f.host);
  out["port"] = f.port == 0 ? Json(nullptr) : Json(f.port);
  out["starttls"] = f.starttls ? Json(std::string(to_string(*f.starttls))) : nullptr;
  out["alpn_offered"] = f.alpn_offered;
  out["connection"] = f.connected ? connection_json(f.connection) : Json(nullptr);
  out["handshake_completed"] = f.connected && f.handshake_completed;
  out["client_certificate_required"] = f.client_certificate_required;
  out["acceptable_ca_names"] = f.acceptable_ca_names ? Json(*f.acceptable_ca_names) : Json(nullptr);
  out["acceptable_ca_names_from"] =
      f.acceptable_ca_names_from.empty() ? Json(nullptr) : Json(f.acceptable_ca_names_from);
  out["verified"] = f.verified;
  out["verdict"] = f.verdict.empty() ? Json(nullptr) : Json(f.verdict);
  Json resumption = nullptr;
  // Also when the first handshake ended early (TLS 1.2 refusing a missing client certificate
  // never connects): the error says why resumption was not tried.
  if (f.connected || !f.resumption_error.empty()) {
    std::optional<SessionReuse> id = f.resumption ? f.resumption->session_id : std::nullopt;
    std::optional<SessionReuse> ticket = f.resumption ? f.resumption->session_ticket : std::nullopt;
    resumption = {{"session_id", reuse_json(id)},
                  {"session_ticket", reuse_json(ticket)},
                  {"resumed", id == SessionReuse::reused || ticket == SessionReuse::reused},
                  {"error", f.resumption ? Json(nullptr) : Json(f.resumption_error)}};
  }
  out["resumption"] = resumption;
  out["protocols"] = Json::object();
  out["protocol_errors"] = Json::object();
  for (const VersionProbe& v : f.versions) {
    std::string name(to_string(v.protocol));
    out["protocols"][name] = std::string(to_string(v.result));
    if (!v.detail.empty()) out["protocol_errors"][name] = v.detail;
  }
  out["expectations"] = Json::array();
  for (const Expectation& e : f.expectations)
    out["expectations"].push_back({{"expectation", e.kind},
                                   {"expected", e.expected},
                                   {"actual", e.actual},
                                   {"passed", e.passed},
                                   {"reason", e.passed ? Json(nullptr) : Json(e.reason)}});
  out["error"] = error_json(f.exit_code, f.error);
  out["exit_code"] = f.exit_code;
  return out;
}

// The CA names the server's CertificateRequest named, a line each.
void print_ca_names(const Findings& f, std::ostream& out) {
  if (!f.acceptable_ca_names) {
    out << "Acceptable CAs: not known (TLS 1.3 encrypts the server's CertificateRequest, and the server "
           "did not ask with an older version)\n";
    return;
  }
  std::string from = f.acceptable_ca_names_from.empty() ? "" : f.acceptable_ca_names_from + " ";
  if (f.acceptable_ca_names->empty()) {
    out << "Acceptable CAs: none named by the " << from << "CertificateRequest (any certificate might do)\n";
    return;
  }
  out << "Acceptable CAs (from the " << from << "CertificateRequest):\n";
  for (const std::string& name : *f.acceptable_ca_names) out << "  " << name << "\n";
}

void print_text(const Findings& f, std::ostream& out) {
  auto line = [&out](const std::string& label, const std::string& value) {
    out << std::left << std::setw(16) << (label + ":") << value << "\n";
  };
  line("Host", f.host + " port " + std::to_string(f.port));
  if (f.starttls) line("STARTTLS", std::string(to_string(*f.starttls)));
  auto or_none = [](const std::string& value) { return value.empty() ? std::string("none") : value; };
  line("Address", or_none(f.connection.address));
  line("Protocol", or_none(f.connection.protocol));
  line("Cipher suite", or_none(f.connection.cipher_suite));
  std::string offered = f.alpn_offered.empty() ? "none offered" : "offered " + join(f.alpn_offered);
  line("ALPN", (f.connection.alpn.empty() ? std::string("none") : f.connection.alpn) + " (" + offered + ")");
  line("Compression", f.connection.compression ? "yes" : "no");
  line("Session", reuse_words(f.connection.session_id, f.connection.session_ticket));
  line("Verification", f.verdict);
  if (f.client_certificate_required) {
    line("Client cert", "required by the server, none sent (pass --cert and --key)");
    print_ca_names(f, out);
  }
  if (f.resumption) {
    bool resumed =
        f.resumption->session_id == SessionReuse::reused || f.resumption->session_ticket == SessionReuse::reused;
    line("Resumption", std::string(resumed ? "reused" : "not resumed") + " (" +
                           reuse_words(f.resumption->session_id, f.resumption->session_ticket) + ")");
  } else {
    line("Resumption", "failed: " + f.resumption_error);
  }
  if (f.connection.chain.empty() && !f.handshake_completed)
    out << "Certificate chain: not available (the handshake ended before it could be shown; TLS 1.3 shows it)\n";
  else
    out << "Certificate chain (as sent by the server):\n";
  for (std::size_t i = 0; i < f.connection.chain.size(); ++i) {
    const Certificate& c = f.connection.chain[i];
    auto field = [&out](const std::string& label, const std::string& value) {
      out << "      " << std::left << std::setw(14) << (label + ":") << value << "\n";
    };
    out << "  " << std::left << std::setw(4) << ("[" + std::to_string(i) + "]") << c.subject() << "\n";
    field("issuer", c.issuer());
    field("valid", format_utc(c.not_before()) + " to " + format_utc(c.not_after()));
    if (!c.valid_domains().empty()) field("DNS names", join(c.valid_domains()));
    if (!c.valid_ips().empty()) field("IP addresses", join(c.valid_ips()));
    field("key", c.key_algorithm() + " " + std::to_string(c.key_bits()) + " bits");
    field("signature", c.hash_algorithm());
    field("SHA-256", c.sha256_fingerprint());
  }
  out << "Protocol versions:\n";
  for (const VersionProbe& v : f.versions) {
    std::string result(to_string(v.result));
    if (v.result == VersionResult::unsupported) result += " by this build (" + std::string(backend_version()) + ")";
    if (!v.detail.empty()) result += " (" + v.detail + ")";
    out << "  " << std::left << std::setw(10) << to_string(v.protocol) << result << "\n";
  }
  if (!f.expectations.empty()) out << "Expectations:\n";
  for (const Expectation& e : f.expectations)
    out << "  " << e.option << ": " << (e.passed ? std::string("passed") : "FAILED: " + e.reason) << "\n";
}

// What probe offers unless --alpn or --no-alpn says otherwise.
std::vector<std::string> default_alpn() { return {"h2", "http/1.1"}; }

// What is known about the server before anything can fail on the network.
struct Endpoint {
  std::string host;
  std::optional<std::uint16_t> port;
  std::optional<StartTLS> starttls;
};

int probe(ProbeOptions options, Endpoint& endpoint) {
  if (!options.starttls.empty()) {
    endpoint.starttls = parse_starttls(options.starttls);
    if (!endpoint.starttls) throw Failure(usage, "--starttls: unknown protocol " + options.starttls);
  }
  auto [host, port] = split_target(options.target);
  endpoint.host = host;
  endpoint.port = port.value_or(endpoint.starttls ? default_port(*endpoint.starttls) : 443);
  if (options.no_alpn)
    options.connect.alpn.clear();
  else if (options.connect.alpn.empty())
    options.connect.alpn = default_alpn();
  validate_expectations(options);
  Prober prober(options, endpoint.host, *endpoint.port, endpoint.starttls);
  Findings findings = prober.run();
  if (findings.exit_code != success) findings.error = findings.verdict;
  check_expectations(options, findings);
  if (findings.exit_code == verification) std::cerr << "tlsock: " << findings.verdict << "\n";
  for (const Expectation& e : findings.expectations)
    if (!e.passed) std::cerr << "tlsock: expectation failed: " << e.option << ": " << e.reason << "\n";
  if (options.json)
    std::cout << findings_json(findings).dump(2) << "\n";
  else
    print_text(findings, std::cout);
  return findings.exit_code;
}

// With --json a failure is an object on stdout too (report() has said it on stderr).
// The same keys as a probe that connected, null or empty where nothing is known.
void print_failure_json(const Endpoint& endpoint, const ProbeOptions& options, const std::exception& error, int code) {
  Findings findings;
  findings.host = endpoint.host;
  findings.port = endpoint.port.value_or(0);
  findings.starttls = endpoint.starttls;
  findings.alpn_offered = options.no_alpn ? std::vector<std::string>{} : options.connect.alpn;
  if (!options.no_alpn && findings.alpn_offered.empty()) findings.alpn_offered = default_alpn();
  findings.error = error.what();
  findings.exit_code = code;
  std::cout << findings_json(findings).dump(2) << "\n";
}

}  // namespace

void add_probe(CLI::App& app, int& result) {
  auto options = std::make_shared<ProbeOptions>();
  auto* command = app.add_subcommand("probe",
                                     "Show what a TLS server offers: protocol, suite, chain, verdict, "
                                     "resumption, protocol versions");
  command
      ->add_option("target", options->target,
                   "HOST[:PORT], [IPv6]:PORT, IPv6 or https://HOST[:PORT]/ (default port 443)")
      ->required();
  command->add_option("--starttls", options->starttls,
                      "Upgrade a plain connection first: smtp, imap, pop3, ftp, xmpp or postgres");
  command->add_flag("--json", options->json, "Print one JSON object (fields below)");
  command->add_option("--alpn", options->connect.alpn, "ALPN protocols to offer, comma-separated (default h2,http/1.1)")
      ->delimiter(',');
  command->add_flag("--no-alpn", options->no_alpn, "Offer no ALPN protocol");
  command->add_option("--expect-protocol", options->expect_protocol,
                      "Exit 8 unless the handshake negotiates this version (TLSv1.2, TLSv1.3)");
  command->add_flag("--expect-resumption", options->expect_resumption,
                    "Exit 8 unless the second connection resumes the first one's session");
  command
      ->add_option("--expect-valid-days", options->expect_valid_days,
                   "Exit 8 unless the server's certificate is still valid N days from now")
      ->type_name("N");
  command
      ->add_option("--expect-name", options->expect_names,
                   "Exit 8 unless the server's certificate covers HOST (SAN, as verification matches; repeatable)")
      ->type_name("HOST")
      ->allow_extra_args(false);
  add_connect_options(*command, options->connect);
  command->footer(probe_help);
  command->callback([options, &result] {
    Endpoint endpoint;
    try {
      result = probe(*options, endpoint);
    } catch (const std::exception& error) {
      result = report(error);
      if (options->json) print_failure_json(endpoint, *options, error, result);
    }
  });
}

}  // namespace tlsock::cli
