// What the CLI tests that run against `openssl s_server` share: whether openssl is there, and
// the test PKI's root (certs/root-ca.pem), which the servers' chains lead to.
#pragma once

#include <string>

#include "support/process.hpp"

namespace tlsock::testing {

inline bool have_openssl() { return !find_program("openssl").empty(); }

inline std::string root_ca() { return (certs_dir() / "root-ca.pem").string(); }

}  // namespace tlsock::testing
