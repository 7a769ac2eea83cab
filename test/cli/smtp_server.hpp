// A small STARTTLS server for tests of `tlsock probe --starttls`: a PlainServer on 127.0.0.1
// whose handler speaks a scripted plain-text dialogue (SMTP, or IMAP, POP3, FTP, XMPP,
// PostgreSQL) and then, if the script says so, upgrades the accepted socket with the
// library's server side (TLSSocket::wrap_server) using the localhost identity of certs/.
// It serves any number of connections one after another (probe opens several) and is
// stopped and joined by its destructor. Header-only, public API only.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "support/loopback.hpp"
#include "support/plain_server.hpp"
#include "support/process.hpp"
#include "tlsock/tlsock.hpp"

namespace tlsock::testing {

// The plain-text side of one accepted connection, for the scripts.
class PlainPeer {
 public:
  explicit PlainPeer(int fd) : fd_(fd) {}

  void send(std::string_view text) { send_all(fd_, text, std::chrono::seconds(5)); }

  // One line with its ending, or what came before EOF ("" when the client closed at once).
  // Throws std::runtime_error after 5 s without a complete line.
  std::string line() { return read_until_byte('\n'); }

  // Everything up to and including the next '>' (XMPP), or what came before EOF.
  std::string element() { return read_until_byte('>'); }

  // Exactly n bytes, or fewer at EOF.
  std::string bytes(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      char c = 0;
      if (!next(c)) break;
      out.push_back(c);
    }
    return out;
  }

  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  std::string read_until_byte(char end) {
    std::string out;
    char c = 0;
    while (out.size() < 65536 && next(c)) {
      out.push_back(c);
      if (c == end) break;
    }
    return out;
  }

  // One byte at a time: nothing past the client's last plain-text message may be consumed,
  // or the ClientHello that follows would be lost to TLS.
  bool next(char& c) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT);
      if (n == 1) return true;
      if (n == 0) return false;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait_fd(fd_, POLLIN, deadline)) throw std::runtime_error("the client sent nothing for 5 s");
    }
  }

  int fd_;
};

class StartTLSServer {
 public:
  // Runs on the server's thread for each connection; returns true to upgrade to TLS.
  using Dialogue = std::function<bool(PlainPeer& peer)>;
  // Runs after a successful handshake, before the server reads until the client closes.
  using AfterTLS = std::function<void(TLSSocket& tls)>;

  explicit StartTLSServer(Dialogue dialogue, AfterTLS after_tls = {})
      : dialogue_(std::move(dialogue)),
        after_tls_(std::move(after_tls)),
        tls_(make_server()),
        plain_([this](int fd) { serve(fd); }) {}

  [[nodiscard]] std::uint16_t port() const noexcept { return plain_.port(); }
  [[nodiscard]] std::size_t connections() const noexcept { return plain_.connections(); }
  [[nodiscard]] int handshakes() const noexcept { return handshakes_.load(); }
  [[nodiscard]] int failed_handshakes() const noexcept { return failed_handshakes_.load(); }
  [[nodiscard]] std::string handler_error() const { return plain_.handler_error(); }

  // Waits up to 5 s for the counters to reach at least these values (the server's side of a
  // connection may finish a moment after the client has exited).
  bool wait_for(int handshakes, int failed_handshakes) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (handshakes_.load() < handshakes || failed_handshakes_.load() < failed_handshakes) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

 private:
  static std::shared_ptr<const ServerTLS> make_server() {
    auto chain = CertificateChain::load(certs_dir() / "localhost-chain.pem", certs_dir() / "localhost.key");
    ServerOptions options;
    options.handshake_timeout = std::chrono::seconds(5);
    return std::make_shared<const ServerTLS>(std::make_shared<ServerCertificateChain>(std::move(chain)), options);
  }

  void serve(int fd) {
    PlainPeer peer(fd);
    if (!dialogue_(peer)) return;
    // wrap_server owns what it is given; PlainServer keeps (and closes) fd, so TLS gets a
    // duplicate of it. Shutting fd down on destruction reaches the duplicate too.
    int tls_fd = ::dup(fd);
    if (tls_fd < 0) throw std::runtime_error("dup failed");
    try {
      TLSSocket tls = TLSSocket::wrap_server(tls_fd, tls_, true, std::chrono::seconds(5));
      ++handshakes_;
      try {
        if (after_tls_) after_tls_(tls);
        for (;;) (void)tls.read(4096);  // until the client closes
      } catch (const std::exception&) {
      }
    } catch (const std::exception&) {
      ++failed_handshakes_;  // a probe of a protocol version this server refuses
    }
  }

  Dialogue dialogue_;
  AfterTLS after_tls_;
  std::shared_ptr<const ServerTLS> tls_;
  std::atomic<int> handshakes_{0};
  std::atomic<int> failed_handshakes_{0};
  PlainServer plain_;  // last: its thread starts once everything above is ready
};

// RFC 3207's dialogue: a multi-line greeting, EHLO answered with several lines (STARTTLS
// among them if offer_starttls), STARTTLS, 220.
inline StartTLSServer::Dialogue smtp_dialogue(bool offer_starttls) {
  return [offer_starttls](PlainPeer& peer) {
    peer.send("220-localhost ESMTP tlsock test server\r\n220 no UCE\r\n");
    std::string ehlo = peer.line();
    if (ehlo.rfind("EHLO ", 0) != 0) throw std::runtime_error("expected EHLO, got \"" + ehlo + "\"");
    peer.send(std::string("250-localhost greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n") +
              (offer_starttls ? "250-STARTTLS\r\n" : "") + "250 8BITMIME\r\n");
    for (;;) {
      std::string command = peer.line();
      if (command.empty()) return false;  // the client gave up
      if (command == "STARTTLS\r\n") {
        if (!offer_starttls) {
          peer.send("502 5.5.1 STARTTLS not available\r\n");
          continue;
        }
        peer.send("220 2.0.0 Ready to start TLS\r\n");
        return true;
      }
      if (command == "QUIT\r\n") {
        peer.send("221 2.0.0 Bye\r\n");
        return false;
      }
      peer.send("500 5.5.2 command not recognized\r\n");
    }
  };
}

}  // namespace tlsock::testing
