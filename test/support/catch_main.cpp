// Catch2's main() for builds that have Catch2 v2's single header but no Catch2WithMain library
// built for them: the Windows cross build (test/meson.build), where Debian's library is Linux's.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
