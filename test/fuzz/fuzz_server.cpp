// libFuzzer target: a server connection (ServerTLS::start) fed arbitrary "client" bytes, in
// chunks chosen by the input's header (fuzz_common.hpp). Byte 0 picks the server
// configuration (fuzz_configs.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_configs.hpp"
#include "fuzz_connection.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tlsock;
  static const std::vector<std::shared_ptr<ServerTLS>> servers = fuzz::make_servers();
  fuzz::FuzzInput input(data, size);
  const ServerTLS& server = *servers[input.variant() % servers.size()];
  Connection connection = server.start([](std::string_view) {}, {},
                                       [](const std::vector<Certificate>& chain, const Connection&) {
                                         for (const Certificate& c : chain) fuzz::inspect(c);
                                       });
  fuzz::drive(connection, input);
  return 0;
}
