// The socket-level and sans-IO headers do not pull in <regex> (only tlsock/regex.hpp does):
// this file fails to compile if one of them brings it back. It compiles against the public
// include directory alone, like public_header.cpp.
#include "tlsock/connection.hpp"
#include "tlsock/info.hpp"
#include "tlsock/listener.hpp"
#include "tlsock/server.hpp"
#include "tlsock/session.hpp"
#include "tlsock/socket.hpp"

// <regex>'s include guard in libstdc++, libc++ and Microsoft's library.
#if defined(_GLIBCXX_REGEX) || defined(_LIBCPP_REGEX) || defined(_REGEX_)
#error "<regex> is included by a tlsock header other than tlsock/regex.hpp"
#endif

#include "tlsock/regex.hpp"

// The check above can fail: with regex.hpp, the guard is there.
#if !(defined(_GLIBCXX_REGEX) || defined(_LIBCPP_REGEX) || defined(_REGEX_))
#error "this standard library's <regex> include guard is unknown: teach this test its name"
#endif

int main() { return 0; }
