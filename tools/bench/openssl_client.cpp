// The OpenSSL reference client (built when libssl-dev is present): blocking sockets with
// TCP_NODELAY, one SSL_CTX, verification with SSL_set1_host, the same suite and version.
#include "contenders.hpp"

#if TLSOCK_BENCH_OPENSSL

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

#include "line_reader.hpp"

namespace tlsock::bench {
namespace {

[[noreturn]] void fail(std::string_view what) {
  char text[256] = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  throw std::runtime_error("OpenSSL " + std::string(what) + ": " + text);
}

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

class OpensslConnection final : public ContenderConnection {
 public:
  OpensslConnection(SSL* ssl, int fd)
      : ssl_(ssl), fd_(fd), reader_([this](char* data, std::size_t size) { return read_some(data, size); }) {}
  ~OpensslConnection() override {
    close();
    SSL_free(ssl_);
  }
  OpensslConnection(const OpensslConnection&) = delete;
  OpensslConnection& operator=(const OpensslConnection&) = delete;

  void write(std::string_view data) override {
    while (!data.empty()) {
      std::size_t written = 0;
      if (SSL_write_ex(ssl_, data.data(), data.size(), &written) != 1) fail("write");
      data.remove_prefix(written);
    }
  }
  std::string_view read(std::size_t max) override {
    if (scratch_.size() < max) scratch_.resize(max);
    return {scratch_.data(), reader_.read(scratch_.data(), max)};
  }
  std::string read_line() override { return reader_.read_line(); }
  std::string read_until(std::string_view marker) override { return reader_.read_until(marker); }
  void close() override {
    if (fd_ < 0) return;
    SSL_shutdown(ssl_);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  std::size_t read_some(char* data, std::size_t size) {
    std::size_t got = 0;
    if (SSL_read_ex(ssl_, data, size, &got) != 1) fail("read");
    return got;
  }

  SSL* ssl_;
  int fd_;
  LineReader<std::function<std::size_t(char*, std::size_t)>> reader_;
  std::string scratch_;
};

class OpensslClient final : public Client {
 public:
  OpensslClient(const ClientSetup& setup, bool resume) : hostname_(setup.hostname), resume_(resume) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) fail("SSL_CTX_new");
    int version = setup.protocol == Protocol::TLSv1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx_, version);
    SSL_CTX_set_max_proto_version(ctx_, version);
    if (setup.protocol == Protocol::TLSv1_3) {
      if (SSL_CTX_set_ciphersuites(ctx_, setup.cipher_suite.c_str()) != 1) fail("SSL_CTX_set_ciphersuites");
    } else if (SSL_CTX_set_cipher_list(ctx_, openssl_name(setup.cipher_suite).c_str()) != 1) {
      fail("SSL_CTX_set_cipher_list");
    }
    for (const auto& file : setup.ca_files)
      if (SSL_CTX_load_verify_locations(ctx_, file.c_str(), nullptr) != 1) fail("loading " + file.string());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!resume) SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
  }
  ~OpensslClient() override {
    if (saved_ != nullptr) SSL_SESSION_free(saved_);
    SSL_CTX_free(ctx_);
  }
  OpensslClient(const OpensslClient&) = delete;
  OpensslClient& operator=(const OpensslClient&) = delete;

  std::unique_ptr<ContenderConnection> connect(std::uint16_t port) override {
    int fd = connect_loopback(port);
    SSL* ssl = SSL_new(ctx_);
    if (ssl == nullptr) {
      ::close(fd);
      fail("SSL_new");
    }
    auto connection = std::make_unique<OpensslConnection>(ssl, fd);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, hostname_.c_str());
    SSL_set1_host(ssl, hostname_.c_str());
    if (resume_ && saved_ != nullptr) SSL_set_session(ssl, saved_);
    if (SSL_connect(ssl) != 1) fail("handshake");
    if (resume_) {
      if (saved_ != nullptr) SSL_SESSION_free(saved_);
      saved_ = SSL_get1_session(ssl);
    }
    return connection;
  }

 private:
  // OpenSSL's own name of an IANA suite ("ECDHE-ECDSA-AES128-GCM-SHA256").
  std::string openssl_name(const std::string& iana) {
    SSL* ssl = SSL_new(ctx_);
    std::string name;
    STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl);
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
      const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
      if (const char* standard = SSL_CIPHER_standard_name(cipher); standard != nullptr && iana == standard)
        name = SSL_CIPHER_get_name(cipher);
    }
    SSL_free(ssl);
    if (name.empty()) throw std::invalid_argument("OpenSSL does not know the cipher suite " + iana);
    return name;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL_SESSION* saved_ = nullptr;
  std::string hostname_;
  bool resume_;
};

}  // namespace

std::vector<Contender> openssl_contenders(const ClientSetup& setup) {
  return {{"openssl", OpenSSL_version(OPENSSL_VERSION),
           [setup](bool resume) { return std::unique_ptr<Client>(new OpensslClient(setup, resume)); }}};
}

}  // namespace tlsock::bench

#else

namespace tlsock::bench {
std::vector<Contender> openssl_contenders(const ClientSetup&) { return {}; }
}  // namespace tlsock::bench

#endif
