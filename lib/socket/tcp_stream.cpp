// TCPStream: plain TCP over lib/net with TLSSocket's deadlines, read buffer and messages.
#include "tlsock/tcp.hpp"

#include <algorithm>
#include <stdexcept>

#include "access.hpp"
#include "arguments.hpp"
#include "engine/messages.hpp"
#include "net/net.hpp"
#include "socket/read_buffer.hpp"
#include "tlsock/errors.hpp"

namespace tlsock {
namespace {

constexpr std::size_t read_chunk = 16 * 1024;

// "[::1]" (as in URLs) is the address ::1.
std::string_view strip_brackets(std::string_view address) {
  if (address.size() > 2 && address.front() == '[' && address.back() == ']')
    return address.substr(1, address.size() - 2);
  return address;
}

}  // namespace

struct TCPStream::Impl {
  net::Socket sock;
  Timeout timeout;
  ReadBuffer buffer;
  std::size_t max_buffered = 4 * 1024 * 1024;
  std::string address;  // for messages

  [[nodiscard]] net::Deadline deadline() const { return net::deadline_after(timeout); }

  void await(net::Direction direction, net::Deadline deadline, std::string_view what) const {
    if (!net::wait(sock.get(), direction, deadline)) throw TimeoutError(messages::timed_out(what, address));
  }

  // Receives into data (size > 0), waiting until the deadline; at least one byte.
  std::size_t receive(char* data, std::size_t size, net::Deadline deadline) {
    for (;;) {
      std::optional<std::size_t> n = net::recv_some(sock.get(), data, size);
      if (!n) {
        await(net::Direction::read, deadline, "read from");
        continue;
      }
      if (*n == 0) throw TLSDisconnectError(std::string(messages::remote_closed));
      return *n;
    }
  }

  void fill_buffer(std::size_t limit, net::Deadline deadline) {
    std::span<char> space = buffer.prepare(std::min(read_chunk, limit));
    buffer.commit(receive(space.data(), std::min(space.size(), limit), deadline));
  }

  // Reads until find() reports a match length (see tlsock::read_until_match): every end of
  // the stream is alike (a final "\r" waits), a full buffer is a std::runtime_error.
  template <typename Find>
  std::string read_until_match(Find find, std::string_view what) {
    std::optional<net::Deadline> deadline;  // from the first wait on the wire, as TLSSocket's
    return tlsock::read_until_match<void>(
        buffer, max_buffered, what, "TCPStream::set_max_buffered_bytes", [&](bool) { return find(); },
        [&](std::size_t limit) {
          if (!deadline) deadline = this->deadline();
          fill_buffer(limit, *deadline);
        },
        [](const std::string& message) { throw std::runtime_error(message); });
  }
};

namespace {
detail::Access::Impl<TCPStream>& open_impl(const std::unique_ptr<detail::Access::Impl<TCPStream>>& impl) {
  if (!impl || !impl->sock.valid()) throw TLSDisconnectError(std::string(messages::already_closed));
  return *impl;
}
}  // namespace

TCPStream::TCPStream(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
TCPStream::TCPStream(TCPStream&&) noexcept = default;
TCPStream& TCPStream::operator=(TCPStream&&) noexcept = default;
TCPStream::~TCPStream() = default;

TCPStream TCPStream::connect(std::string_view address, std::uint16_t port, Timeout timeout) {
  arguments::check_host("address", address);
  arguments::check_port("port", port);
  net::Deadline deadline = net::deadline_after(timeout);
  auto impl = std::make_unique<Impl>();
  impl->sock = net::connect(strip_brackets(address), port, deadline);
  impl->timeout = timeout;
  impl->address = net::peer_address(impl->sock.get());
  return TCPStream(std::move(impl));
}

TCPStream TCPStream::adopt(NativeSocket socket, Timeout timeout) {
  net::Socket owned(socket);  // owned from the first line: a failure below closes it
  arguments::check_timeout("timeout", timeout);
  net::Peer peer = net::adopt(socket);
  auto impl = std::make_unique<Impl>();
  impl->sock = std::move(owned);
  impl->timeout = timeout;
  impl->address = std::move(peer.address);
  return TCPStream(std::move(impl));
}

std::string TCPStream::read(std::size_t max_length) {
  Impl& s = open_impl(impl_);
  if (max_length == 0) arguments::reject("max_length", "must be at least 1, not 0");
  if (!s.buffer.empty()) return s.buffer.take(std::min(max_length, s.buffer.size()));
  std::string out(std::min(max_length, read_chunk), '\0');
  out.resize(s.receive(out.data(), out.size(), s.deadline()));
  return out;
}

std::size_t TCPStream::read_into(std::span<char> buffer) {
  Impl& s = open_impl(impl_);
  if (buffer.empty()) arguments::reject("buffer", "must not be empty");
  if (!s.buffer.empty()) {
    std::size_t n = std::min(buffer.size(), s.buffer.size());
    std::copy_n(s.buffer.view().data(), n, buffer.data());
    (void)s.buffer.take(n);
    return n;
  }
  return s.receive(buffer.data(), buffer.size(), s.deadline());
}

std::string TCPStream::read_line() {
  Impl& s = open_impl(impl_);
  // A final "\r" waits for the next byte: it may be the start of "\r\n".
  return s.read_until_match([&] { return s.buffer.find_line_end(false); }, "read_line");
}

std::string TCPStream::read_until(std::string_view marker) {
  Impl& s = open_impl(impl_);
  if (marker.empty()) arguments::reject("marker", "must not be empty");
  return s.read_until_match([&] { return s.buffer.find(marker); }, "read_until");
}

std::string TCPStream::read_exactly(std::size_t num_bytes) {
  Impl& s = open_impl(impl_);
  net::Deadline deadline = s.deadline();
  while (s.buffer.size() < num_bytes) s.fill_buffer(num_bytes - s.buffer.size(), deadline);
  return s.buffer.take(num_bytes);
}

bool TCPStream::select_read(Timeout timeout) {
  Impl& s = open_impl(impl_);
  if (!s.buffer.empty()) return true;
  return net::wait(s.sock.get(), net::Direction::read, net::deadline_after(timeout));
}

void TCPStream::write(std::string_view data) {
  Impl& s = open_impl(impl_);
  net::Deadline deadline = s.deadline();
  while (!data.empty()) {
    std::size_t n = 0;
    try {
      n = net::send_some(s.sock.get(), data.data(), data.size());
    } catch (const std::system_error& e) {
      if (e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset)
        throw TLSDisconnectError(std::string(messages::remote_closed));
      throw;
    }
    if (n == 0)
      s.await(net::Direction::write, deadline, "write to");
    else
      data.remove_prefix(n);
  }
}

bool TCPStream::select_write(Timeout timeout) {
  Impl& s = open_impl(impl_);
  return net::wait(s.sock.get(), net::Direction::write, net::deadline_after(timeout));
}

void TCPStream::shutdown() { net::shutdown_write(open_impl(impl_).sock.get()); }

void TCPStream::close() noexcept {
  if (impl_) impl_->sock.close();
}

NativeSocket TCPStream::release() {
  Impl& s = open_impl(impl_);
  if (!s.buffer.empty())
    throw std::logic_error("TCPStream::release: " + std::to_string(s.buffer.size()) +
                           " bytes read ahead are still buffered and would be lost");
  return s.sock.release();
}

void TCPStream::set_timeout(Timeout timeout) {
  Impl& s = open_impl(impl_);
  arguments::check_timeout("timeout", timeout);
  s.timeout = timeout;
}

Timeout TCPStream::timeout() const noexcept { return impl_ ? impl_->timeout : Timeout{}; }

void TCPStream::set_max_buffered_bytes(std::size_t limit) {
  Impl& s = open_impl(impl_);
  if (limit == 0) arguments::reject("limit", "must be at least 1, not 0");
  s.max_buffered = limit;
}

std::size_t TCPStream::buffered() const noexcept { return impl_ ? impl_->buffer.size() : 0; }

const std::string& TCPStream::peer_address() const noexcept {
  static const std::string none;
  return impl_ ? impl_->address : none;
}

NativeSocket TCPStream::socket() const noexcept { return impl_ ? impl_->sock.get() : net::invalid_socket; }

void shutdown_socket(NativeSocket socket) noexcept { net::shutdown_both(socket); }

}  // namespace tlsock
