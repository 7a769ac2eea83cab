// libFuzzer target: a client connection (ClientTLS::start, so a real ClientHello went out)
// fed arbitrary "server" bytes, in chunks chosen by the input's header (fuzz_common.hpp).
// Byte 0 picks the client configuration (fuzz_configs.hpp).
#include <cstdint>
#include <vector>

#include "fuzz_configs.hpp"
#include "fuzz_connection.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tlsock;
  static const std::vector<ClientTLS> clients = fuzz::make_clients();
  fuzz::FuzzInput input(data, size);
  const ClientTLS& client = clients[input.variant() % clients.size()];
  Connection connection = client.start([](std::string_view) {}, [](bool) {},
                                       [](const std::vector<Certificate>& chain, const Connection&) {
                                         for (const Certificate& c : chain) fuzz::inspect(c);
                                       });
  fuzz::drive(connection, input);
  return 0;
}
