// The bench's server (see server.hpp).
#include "server.hpp"

#include <charconv>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "protocol.hpp"
#include "tlsock/tlsock.hpp"

namespace tlsock::bench {
namespace {

constexpr std::size_t write_chunk = 64 * 1024;

// Writes count items made by append(out, i), 64 KiB at a time.
template <typename Append>
void write_items(TLSSocket& socket, std::size_t count, Append append) {
  std::string out;
  out.reserve(write_chunk + 1024);
  for (std::size_t i = 0; i < count; ++i) {
    append(out, i);
    if (out.size() >= write_chunk) {
      socket.write(out);
      out.clear();
    }
  }
  if (!out.empty()) socket.write(out);
}

void serve(TLSSocket socket) {
  try {
    // Idle connections (the heap measurement) wait for their client as long as it takes.
    socket.set_timeout(std::nullopt);
    bool resumed = socket.session_id() == SessionReuse::reused || socket.session_ticket() == SessionReuse::reused;
    static const std::string bulk(write_chunk, 'b');
    for (;;) {
      std::string line = socket.read_line();
      std::string_view command(line);
      std::size_t space = command.find(' ');
      std::size_t n = 0;
      if (space != std::string_view::npos)
        std::from_chars(command.data() + space + 1, command.data() + command.size(), n);
      command = command.substr(0, std::min(space, command.find('\n')));
      if (command == "ping") {
        socket.write(resumed ? "R" : "F");
      } else if (command == "bulk") {
        for (std::size_t left = n; left > 0;) {
          std::size_t chunk = std::min(left, bulk.size());
          socket.write(std::string_view(bulk).substr(0, chunk));
          left -= chunk;
        }
      } else if (command == "sink") {
        for (std::size_t left = n; left > 0;) left -= socket.read(std::min<std::size_t>(left, 16 * 1024)).size();
        socket.write("k");
      } else if (command == "lines") {
        write_items(socket, n, append_line);
      } else if (command == "until") {
        write_items(socket, n, append_message);
      } else {
        std::cerr << "tlsock-bench server: unknown command " << line;
        return;
      }
    }
  } catch (const std::exception&) {
    // The client went away: the usual end of a connection here.
  }
}

void accept_forever(TLSListener& listener) {
  for (;;) {
    try {
      std::thread(serve, listener.accept()).detach();
    } catch (const std::exception& error) {
      std::cerr << "tlsock-bench server: " << error.what() << "\n";
    }
  }
}

}  // namespace

int run_server(const ServerSetup& setup) {
  try {
    auto chain =
        CertificateChain::load(setup.certs_dir / "localhost-ecdsa-chain.pem", setup.certs_dir / "localhost-ecdsa.key");
    auto certificates = std::make_shared<ServerCertificateChain>(chain);
    ServerOptions options;
    options.protocols = {setup.protocol};
    options.cipher_suites = {setup.cipher_suite};
    auto with_tickets = std::make_shared<ServerTLS>(certificates, options);
    options.session_tickets = false;
    auto ids_only = std::make_shared<ServerTLS>(certificates, options);

    TLSListener id_listener("127.0.0.1", setup.id_port, ids_only);
    TLSListener ticket_listener("127.0.0.1", setup.ticket_port, with_tickets);
    for (TLSListener* listener : {&id_listener, &ticket_listener})
      listener->on_handshake_error(
          [](const std::exception& error) { std::cerr << "tlsock-bench server: handshake: " << error.what() << "\n"; });
    std::thread ids([&] { accept_forever(id_listener); });
    accept_forever(ticket_listener);
  } catch (const std::exception& error) {
    std::cerr << "tlsock-bench server: " << error.what() << "\n";
  }
  return 1;
}

}  // namespace tlsock::bench
