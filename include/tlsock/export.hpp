// TLSOCK_API marks what the shared library exports: the public classes and free functions.
// The library is built with hidden symbol visibility, so everything else (the engine, the
// backend, the platform code) stays inside it and its ABI is what the public headers say.
//
// ELF and Mach-O: default visibility. Windows: __declspec(dllexport) while building the DLL,
// dllimport for its users; define TLSOCK_STATIC when building or using tlsock as a static
// library (the pkg-config file and the Meson dependency of a static build do that).
#pragma once

#if defined(TLSOCK_STATIC)
#define TLSOCK_API
#elif defined(_WIN32)
#if defined(TLSOCK_BUILDING_LIBRARY)
#define TLSOCK_API __declspec(dllexport)
#else
#define TLSOCK_API __declspec(dllimport)
#endif
#else
#define TLSOCK_API __attribute__((visibility("default")))
#endif

// TLSOCK_HIDDEN keeps a private member of an exported class inside the library: the hidden
// Impl (a nested class takes its enclosing class's visibility) and constructors taking one.
#if defined(_WIN32) || defined(TLSOCK_STATIC)
#define TLSOCK_HIDDEN
#else
#define TLSOCK_HIDDEN __attribute__((visibility("hidden")))
#endif
