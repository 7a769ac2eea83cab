// Includes Catch2 whichever major version the machine has (v3 splits the single header into
// catch_all.hpp; v2 ships catch.hpp), so test files include only this one.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

// Skips the rest of a test case when a precondition outside our control is missing (a peer
// program, a generated certificate). Catch2 v3.3 reports it as skipped; older versions have no
// skip, so the reason is printed as a warning and the test case returns early, passing.
#ifdef SKIP
#define TLSOCK_SKIP(message) SKIP(message)
#else
#define TLSOCK_SKIP(message) \
  do {                       \
    WARN(message);           \
    return;                  \
  } while (false)
#endif
