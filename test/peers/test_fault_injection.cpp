// Fault injection between real peers: a FaultProxy (test/support/fault_proxy.hpp) relays each
// connection and cuts it at a byte offset or flips one byte. Our client talks to
// `openssl s_server -WWW`; our server (a TLSListener) is talked to by our client and by
// `openssl s_client`. The handshakes are first recorded through the proxy, then replayed with
// a cut at every byte offset of each direction (TLS 1.2, and TLS 1.3 where the linked mbedTLS
// has it), and with flips at the offsets that matter: record headers, handshake bodies,
// Finished, application data and the authentication tags.
//
// What must hold, every run: it ends within the timeout, in a TLSError subclass that fits the
// fault; a cut is a TLSDisconnectError (never the graceful kind, never another class); tampered
// data is never accepted (no handshake + exchange that succeeds, no byte read that the peer did
// not send).
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "loopback/loopback_fixture.hpp"
#include "peers/peer_server.hpp"
#include "support/catch.hpp"
#include "support/fault_proxy.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

using namespace tlsock;
using namespace std::chrono_literals;
namespace ts = tlsock::testing;
namespace lb = tlsock::loopback;
using ts::Fault;
using ts::FaultProxy;
using ts::Flow;

namespace {

// Long enough for a handshake on a loaded 2-core machine, short enough that a hang shows.
constexpr auto run_timeout = 5s;

const std::string abrupt_end = "TLSDisconnectError: The remote end closed the connection";
const std::string graceful_end = "TLSGracefulDisconnectError: The remote end closed the connection";

// The file s_server -WWW serves, and its whole answer (s_server adds no Content-Length and
// ends the body with close_notify).
constexpr std::string_view page = "pong\n";
const std::string www_request = "GET /pong.txt HTTP/1.0\r\n\r\n";
const std::string www_response = "HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n" + std::string(page);

bool have_openssl() { return !ts::find_program("openssl").empty(); }

// The protocol versions to sweep: TLS 1.2 always, TLS 1.3 where the linked mbedTLS has it.
std::vector<Protocol> protocols_to_sweep() {
  std::vector<Protocol> out{Protocol::TLSv1_2};
  if (supported_protocols().contains(Protocol::TLSv1_3)) out.push_back(Protocol::TLSv1_3);
  return out;
}

// A client policy for one version, with no session cache: every run is a full handshake.
std::shared_ptr<TLSSession> sweep_session(Protocol protocol) {
  TLSSession::Options options = lb::trusted_options();
  options.protocols = {protocol};
  options.session_cache = false;
  return lb::trusted_session(options);
}

// How one client run ended: the bytes it read and the error that ended it (describe()).
struct Outcome {
  std::string data;
  std::string end;
  bool handshake_complete = false;
};

// Connects through port, sends request and reads until the connection ends.
Outcome exchange(std::uint16_t port, const std::shared_ptr<TLSSession>& session, std::string_view request,
                 Timeout timeout = run_timeout) {
  Outcome out;
  try {
    TLSSocket socket = lb::connect_tls(port, "localhost", session, timeout);
    out.handshake_complete = true;
    socket.write(request);
    out.end = lb::read_to_end(socket, &out.data);
  } catch (const std::exception& e) {
    out.end = lb::describe(e);
  }
  return out;
}

// s_server -WWW serving pong.txt from a temporary directory, for many sequential connections.
struct WwwPeer {
  ts::TempDir dir;
  ts::ServerProcess server;

  WwwPeer() : server(make(dir)) {}

  static ts::ServerProcess make(const ts::TempDir& dir) {
    std::ofstream(dir.path() / "pong.txt", std::ios::binary) << page;
    return ts::www_server(dir.path());
  }
};

// One FaultProxy for a whole sweep, and what every sweep does: set each fault, let the run
// make its connection through port(), and report every run that went wrong, with its fault.
class Sweep {
 public:
  explicit Sweep(std::uint16_t upstream_port) : proxy_(upstream_port) {}

  [[nodiscard]] std::uint16_t port() const noexcept { return proxy_.port(); }

  // The connection just made through port(), once the proxy has relayed it to its end.
  [[nodiscard]] ts::Relayed relayed() {
    last_ = proxy_.wait_relayed(++connections_);
    return last_;
  }

  // For each fault, run_one(fault) makes one connection, calls relayed() and returns what went
  // wrong ("" for nothing). Every fault must also have been reached by its stream.
  template <typename Run>
  void run(const std::vector<Fault>& faults, Run&& run_one) {
    std::vector<std::string> failed;
    std::size_t failures = 0;
    for (const Fault& fault : faults) {
      proxy_.set_fault(fault);
      std::vector<std::string> problems = run_one(fault);
      if (!last_.fault_applied) problems.emplace_back("the stream never reached the offset");
      for (const std::string& problem : problems) {
        if (problem.empty()) continue;
        if (++failures <= 60) failed.push_back(ts::describe(fault) + ": " + problem);
      }
    }
    proxy_.set_fault(Fault::pass());
    std::string report;
    for (const auto& line : failed) report += line + "\n";
    INFO(faults.size() << " runs, " << failures << " went wrong:\n" << report);
    CHECK(failures == 0);
    CHECK(proxy_.error().empty());
  }

 private:
  FaultProxy proxy_;
  std::size_t connections_ = 0;
  ts::Relayed last_;
};

// The client's side of a recorded exchange, and where its request ends: everything up to
// there must arrive before a server may answer. The client's close_notify, its last record,
// comes after the server's answer and close_notify, so cutting it changes nothing.
struct Recording {
  ts::Relayed relayed;
  std::vector<ts::TlsRecord> client_records, server_records;
  std::size_t request_end = 0;

  explicit Recording(ts::Relayed recorded)
      : relayed(std::move(recorded)),
        client_records(ts::parse_records(relayed.of(Flow::client_to_server))),
        server_records(ts::parse_records(relayed.of(Flow::server_to_client))) {
    if (client_records.size() < 2 || client_records.back().end() != relayed.of(Flow::client_to_server).size() ||
        server_records.empty() || server_records.back().end() != relayed.of(Flow::server_to_client).size())
      throw std::runtime_error("the recorded exchange is not whole TLS records: " + summary());
    request_end = client_records.back().offset;
  }

  [[nodiscard]] const std::vector<ts::TlsRecord>& records(Flow flow) const {
    return flow == Flow::client_to_server ? client_records : server_records;
  }
  // The offsets a fault in flow can meaningfully hit: all of the server's bytes, the client's
  // up to the end of its request.
  [[nodiscard]] std::size_t sweep_end(Flow flow) const {
    return flow == Flow::client_to_server ? request_end : relayed.of(flow).size();
  }
  [[nodiscard]] std::string summary() const {
    return "client->server " + std::to_string(relayed.of(Flow::client_to_server).size()) + " bytes in " +
           std::to_string(client_records.size()) + " records, server->client " +
           std::to_string(relayed.of(Flow::server_to_client).size()) + " bytes in " +
           std::to_string(server_records.size()) + " records";
  }
};

constexpr std::array<Flow, 2> both_flows{Flow::client_to_server, Flow::server_to_client};

// Every offset of both directions.
std::vector<Fault> every_cut(const Recording& recording) {
  std::vector<Fault> faults;
  for (Flow flow : both_flows)
    for (std::size_t offset = 0; offset < recording.sweep_end(flow); ++offset)
      faults.push_back(Fault::cut(flow, offset));
  return faults;
}

// Cuts at the edges of each record (its start, inside its header, its first and last body
// byte), for peers too slow to start thousands of times.
std::vector<Fault> record_edge_cuts(const Recording& recording) {
  std::vector<Fault> faults;
  for (Flow flow : both_flows) {
    std::set<std::size_t> offsets;
    for (const auto& r : recording.records(flow))
      for (std::size_t at : {r.offset, r.offset + 3, r.body(), r.end() - 1})
        if (at < recording.sweep_end(flow)) offsets.insert(at);
    for (std::size_t offset : offsets) faults.push_back(Fault::cut(flow, offset));
  }
  return faults;
}

// Our server (a TLSListener on a thread) answering one line with "pong\n", recording how each
// connection ended for it: "served <line>", the error of its handler, or "handshake: " and the
// error its handshake failed with.
class PongServer {
 public:
  PongServer()
      : thread_(lb::make_server(options()), [this](TLSSocket& socket) {
          try {
            std::string line = socket.read_line();
            socket.write("pong\n");
            ends_.add("served " + line);
          } catch (const std::exception& e) {
            ends_.add(lb::describe(e));
          }
        }) {}

  [[nodiscard]] std::uint16_t port() const noexcept { return thread_.port(); }

  // How the next connection ended for the server; "no end within the timeout" if it did not.
  [[nodiscard]] std::string next_end() {
    auto deadline = std::chrono::steady_clock::now() + 2 * run_timeout;
    while (ends_.size() + thread_.handshake_errors().size() <= seen_) {
      if (std::chrono::steady_clock::now() >= deadline) return "no end within the timeout";
      std::this_thread::sleep_for(1ms);
    }
    ++seen_;
    std::size_t handshakes = thread_.handshake_errors().size();
    if (handshakes > seen_handshakes_) return "handshake: " + thread_.handshake_errors().lines()[seen_handshakes_++];
    return ends_.lines()[seen_ends_++];
  }

 private:
  static ServerOptions options() {
    ServerOptions options;
    options.handshake_timeout = run_timeout;
    return options;
  }

  lb::Log ends_;
  lb::ServerThread thread_;
  std::size_t seen_ = 0, seen_handshakes_ = 0, seen_ends_ = 0;
};

// What our server may say about a cut connection: the cut, or that it answered a request that
// arrived whole before the cut.
std::string check_server_end(const std::string& end, const ts::Relayed& relayed, const Recording& recording) {
  if (end == abrupt_end || end == "handshake: " + abrupt_end) return {};
  if (end == "served ping\n" && relayed.of(Flow::client_to_server).size() >= recording.request_end) return {};
  return "our server ended in " + end;
}

// `printf 'ping\n' | openssl s_client -quiet` through port, verifying our server as localhost.
ts::ProgramResult s_client(std::uint16_t port, Protocol protocol) {
  return ts::run_program({"sh", "-c", "printf 'ping\\n' | exec \"$@\"", "sh", ts::find_program("openssl"), "s_client",
                          "-connect", "127.0.0.1:" + std::to_string(port), "-servername", "localhost", "-CAfile",
                          lb::cert_path("root-ca.pem").string(), "-verify_return_error", "-quiet",
                          protocol == Protocol::TLSv1_3 ? "-tls1_3" : "-tls1_2"},
                         30s);
}

// The bytes of each record worth flipping: its type and length (header), the first two body
// bytes (a handshake message's type and length, or an explicit nonce), the middle of the body,
// its last byte (the end of a MAC or AEAD tag in an encrypted record), and the version of an
// encrypted record (authenticated as part of its header). The version of a plaintext record is
// left out: nothing authenticates it, RFC 8446 (5.1) tells receivers to ignore it, and mbedTLS's
// server takes any ClientHello record version from 3.0 up (even 0xfc.0x03 is served).
std::vector<Fault> chosen_flips(const Recording& recording) {
  std::vector<Fault> faults;
  for (Flow flow : both_flows) {
    std::set<std::size_t> offsets;
    bool encrypted = false;  // after change_cipher_spec, or application_data (all of TLS 1.3's)
    for (const auto& r : recording.records(flow)) {
      encrypted = encrypted || r.type == 23;
      for (std::size_t at : {r.offset, r.offset + 3, r.body(), r.body() + 1, r.body() + r.length / 2, r.end() - 1})
        if (at < r.end() && at < recording.sweep_end(flow)) offsets.insert(at);
      if (encrypted && r.offset + 1 < recording.sweep_end(flow)) offsets.insert(r.offset + 1);
      encrypted = encrypted || r.type == 20;
    }
    for (std::size_t offset : offsets) faults.push_back(Fault::flip(flow, offset));
  }
  return faults;
}

// Whether a flip hits the length of a plaintext handshake message (the three bytes after its
// type at the start of a record). A larger length announces bytes that never come: mbedTLS 3.6,
// which reassembles handshake messages split across records, waits for them as it should,
// and so does the peer for an answer, until a timeout ends the handshake. mbedTLS 2.28 refuses
// such a message at once.
bool announces_length(const Recording& recording, const Fault& fault) {
  if (fault.kind != Fault::Kind::flip) return false;
  bool encrypted = false;
  for (const auto& r : recording.records(fault.flow)) {
    encrypted = encrypted || r.type == 20 || r.type == 23;
    if (!encrypted && r.type == 22 && fault.offset > r.body() && fault.offset < r.body() + 4) return true;
  }
  return false;
}

// A run that may have to wait for its timeout gets a short one: the wait is the expected end.
Timeout timeout_for(const Recording& recording, const Fault& fault) {
  return announces_length(recording, fault) ? Timeout(1s) : Timeout(run_timeout);
}

bool is_handshake_timeout(std::string_view end) {
  return end.starts_with("TimeoutError: TLS handshake with 127.0.0.1:") &&
         end.ends_with(" timed out: Connection timed out");
}

// What our client may end in after one byte of the exchange was flipped: an alert from the
// peer, BadTLSDataError for what it detected itself, or the peer hanging up without an alert;
// a certificate that fails verification only where the server's certificate travels in
// plaintext (TLS 1.2); the handshake's timeout only for a flipped handshake length (see
// announces_length); never a success, a graceful end, or a class outside this list.
std::string check_client_flip(const Outcome& out, const Fault& fault, const Recording& recording,
                              std::string_view response) {
  if (!response.starts_with(out.data)) return "our client read bytes the server did not send";
  auto is = [&](std::string_view prefix) { return out.end.starts_with(prefix); };
  if (is("TLSAlertError: ") || is("BadTLSDataError: ") || out.end == abrupt_end) return {};
  if (out.handshake_complete) return "our client ended in " + out.end;
  // mbedTLS 2.28 reports a malformed handshake message with no more detail than this.
  if (out.end == "TLSError: TLS handshake failed") return {};
  if (is("TLSVerificationError: ") && fault.flow == Flow::server_to_client) return {};
  if (is_handshake_timeout(out.end) && announces_length(recording, fault)) return {};
  return "our client ended its handshake in " + out.end;
}

// What our server may end in after a flip: as for the client; "served" only if the flip was in
// the server's bytes (the client's request arrived intact), and then with the right line.
std::string check_server_flip(std::string end, const Fault& fault, const Recording& recording) {
  if (end == "served ping\n" && fault.flow == Flow::server_to_client) return {};
  bool in_handshake = end.starts_with("handshake: ");
  if (in_handshake) end.erase(0, 11);
  auto is = [&](std::string_view prefix) { return end.starts_with(prefix); };
  if (is("TLSAlertError: ") || is("BadTLSDataError: ") || end == abrupt_end) return {};
  if (in_handshake && end == "TLSError: TLS handshake failed") return {};
  if (in_handshake && is_handshake_timeout(end) && announces_length(recording, fault)) return {};
  return std::string("our server ended ") + (in_handshake ? "its handshake " : "") + "in " + end;
}

// What our client may end in after a cut: the abrupt disconnect, having read only bytes the
// server sent.
std::string check_client_cut(const Outcome& out, std::string_view response) {
  if (!response.starts_with(out.data)) return "our client read bytes the server did not send";
  return out.end == abrupt_end ? "" : "our client ended in " + out.end;
}

// Our client against s_server -WWW: for each protocol version, one exchange recorded, then one
// run per fault of faults_of(recording), each checked by check(outcome, fault, recording).
template <typename Faults, typename Check>
void sweep_client_against_www(Faults faults_of, Check check) {
  WwwPeer peer;
  Sweep sweep(peer.server.port());
  for (Protocol protocol : protocols_to_sweep()) {
    DYNAMIC_SECTION(to_string(protocol)) {
      auto session = sweep_session(protocol);
      Outcome clean = exchange(sweep.port(), session, www_request);
      REQUIRE(clean.end == graceful_end);
      REQUIRE(clean.data == www_response);
      Recording recording(sweep.relayed());
      INFO(to_string(protocol) << ": " << recording.summary());
      sweep.run(faults_of(recording), [&](const Fault& fault) {
        Outcome out = exchange(sweep.port(), session, www_request, timeout_for(recording, fault));
        (void)sweep.relayed();
        return std::vector<std::string>{check(out, fault, recording)};
      });
    }
  }
}

// Our client against our server, the same way; check(outcome, server's end, relayed, recording,
// fault) returns what went wrong.
template <typename Faults, typename Check>
void sweep_client_against_ours(Faults faults_of, Check check) {
  PongServer server;
  Sweep sweep(server.port());
  for (Protocol protocol : protocols_to_sweep()) {
    DYNAMIC_SECTION(to_string(protocol)) {
      auto session = sweep_session(protocol);
      Outcome clean = exchange(sweep.port(), session, "ping\n");
      REQUIRE(clean.end == graceful_end);
      REQUIRE(clean.data == "pong\n");
      REQUIRE(server.next_end() == "served ping\n");
      Recording recording(sweep.relayed());
      INFO(to_string(protocol) << ": " << recording.summary());
      sweep.run(faults_of(recording), [&](const Fault& fault) {
        Outcome out = exchange(sweep.port(), session, "ping\n", timeout_for(recording, fault));
        ts::Relayed relayed = sweep.relayed();
        return check(out, server.next_end(), relayed, recording, fault);
      });
    }
  }
}

}  // namespace

TEST_CASE("our client, cut at every offset of each direction, against s_server", "[faults][cut][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  sweep_client_against_www(every_cut, [](const Outcome& out, const Fault&, const Recording&) {
    return check_client_cut(out, www_response);
  });
}

TEST_CASE("our server, cut at every offset of each direction, with our client", "[faults][cut][server]") {
  sweep_client_against_ours(every_cut, [](const Outcome& out, const std::string& server_end, const ts::Relayed& relayed,
                                          const Recording& recording, const Fault&) {
    return std::vector<std::string>{check_client_cut(out, "pong\n"), check_server_end(server_end, relayed, recording)};
  });
}

TEST_CASE("our server, cut at the edges of every record, with openssl s_client", "[faults][cut][server][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  PongServer server;
  Sweep sweep(server.port());
  for (Protocol protocol : protocols_to_sweep()) {
    DYNAMIC_SECTION(to_string(protocol)) {
      ts::ProgramResult clean = s_client(sweep.port(), protocol);
      INFO(clean.output);
      REQUIRE(clean.output.find("pong\n") != std::string::npos);
      REQUIRE(server.next_end() == "served ping\n");
      Recording recording(sweep.relayed());
      INFO(to_string(protocol) << ": " << recording.summary());
      sweep.run(record_edge_cuts(recording), [&](const Fault&) {
        (void)s_client(sweep.port(), protocol);
        ts::Relayed relayed = sweep.relayed();
        return std::vector<std::string>{check_server_end(server.next_end(), relayed, recording)};
      });
    }
  }
}

TEST_CASE("our client, one byte flipped, against s_server", "[faults][flip][openssl]") {
  if (!have_openssl()) TLSOCK_SKIP("openssl is not installed");
  sweep_client_against_www(chosen_flips, [](const Outcome& out, const Fault& fault, const Recording& recording) {
    return check_client_flip(out, fault, recording, www_response);
  });
}

TEST_CASE("our server and our client, one byte flipped", "[faults][flip][server]") {
  sweep_client_against_ours(chosen_flips, [](const Outcome& out, const std::string& server_end, const ts::Relayed&,
                                             const Recording& recording, const Fault& fault) {
    return std::vector<std::string>{check_client_flip(out, fault, recording, "pong\n"),
                                    check_server_flip(server_end, fault, recording)};
  });
}
