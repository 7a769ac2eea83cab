// The tlsock client and the mbedTLS reference behind the bench's Client interface.
#include "contenders.hpp"

#include <chrono>

#include "line_reader.hpp"
#include "reference/reference.hpp"  // tools/bench/reference: the raw mbedTLS loops, behind an mbedTLS-free interface
#include "tlsock/tlsock.hpp"

namespace tlsock::bench {
namespace {

// tlsock as its documentation shows it: a shared TLSSession, TLSSocket::wrap over a socket
// connected to 127.0.0.1 (the name "localhost" is checked and sent as SNI), the public calls.
class TlsockConnection final : public ContenderConnection {
 public:
  explicit TlsockConnection(TLSSocket socket) : socket_(std::move(socket)) {}
  void write(std::string_view data) override { socket_.write(data); }
  std::string_view read(std::size_t max) override {
    last_ = socket_.read(max);
    return last_;
  }
  std::string read_line() override { return socket_.read_line(); }
  std::string read_until(std::string_view marker) override { return socket_.read_until(marker); }
  void close() override { socket_.close(); }

 private:
  TLSSocket socket_;
  std::string last_;
};

class TlsockClient final : public Client {
 public:
  TlsockClient(const ClientSetup& setup, bool resume) : hostname_(setup.hostname) {
    TLSSession::Options options;
    options.protocols = {setup.protocol};
    // The same root files as the other clients, and only those: the OS bundle comes from
    // setup.ca_files, not from tlsock's own search (which SSL_CERT_FILE/SSL_CERT_DIR steer).
    options.use_os_trust_roots = false;
    options.extra_trust_roots.assign(setup.ca_files.begin(), setup.ca_files.end());
    options.cipher_suites = {setup.cipher_suite};
    options.session_cache = resume;
    session_ = std::make_shared<TLSSession>(std::move(options));
  }
  std::unique_ptr<ContenderConnection> connect(std::uint16_t port) override {
    NativeSocket fd = connect_tcp("127.0.0.1", port);
    return std::make_unique<TlsockConnection>(TLSSocket::wrap(fd, hostname_, session_, timeout_));
  }

 private:
  std::string hostname_;
  std::shared_ptr<TLSSession> session_;
  Timeout timeout_ = std::chrono::seconds(30);
};

class MbedtlsConnection final : public ContenderConnection {
 public:
  explicit MbedtlsConnection(std::unique_ptr<reference::RawConnection> connection)
      : connection_(std::move(connection)),
        reader_([this](char* data, std::size_t size) { return connection_->read(data, size); }) {}
  void write(std::string_view data) override { connection_->write(data); }
  std::string_view read(std::size_t max) override {
    if (scratch_.size() < max) scratch_.resize(max);
    return {scratch_.data(), reader_.read(scratch_.data(), max)};
  }
  std::string read_line() override { return reader_.read_line(); }
  std::string read_until(std::string_view marker) override { return reader_.read_until(marker); }
  void close() override { connection_->close(); }

 private:
  std::unique_ptr<reference::RawConnection> connection_;
  LineReader<std::function<std::size_t(char*, std::size_t)>> reader_;
  std::string scratch_;
};

class MbedtlsClient final : public Client {
 public:
  MbedtlsClient(const ClientSetup& setup, bool resume)
      : client_({.ca_files = setup.ca_files,
                 .hostname = setup.hostname,
                 .cipher_suite = setup.cipher_suite,
                 .protocol = setup.protocol,
                 .session_tickets = resume}),
        resume_(resume) {}
  std::unique_ptr<ContenderConnection> connect(std::uint16_t port) override {
    return std::make_unique<MbedtlsConnection>(client_.connect(port, resume_));
  }

 private:
  reference::RawClient client_;
  bool resume_;
};

}  // namespace

Contender tlsock_contender(const ClientSetup& setup) {
  return {"tlsock", std::string(version()),
          [setup](bool resume) { return std::unique_ptr<Client>(new TlsockClient(setup, resume)); }};
}

Contender mbedtls_contender(const ClientSetup& setup) {
  return {"mbedtls", reference::mbedtls_version(),
          [setup](bool resume) { return std::unique_ptr<Client>(new MbedtlsClient(setup, resume)); }};
}

std::vector<Contender> all_contenders(const ClientSetup& setup) {
  std::vector<Contender> out{tlsock_contender(setup), mbedtls_contender(setup)};
  for (Contender& c : openssl_contenders(setup)) out.push_back(std::move(c));
  return out;
}

}  // namespace tlsock::bench
