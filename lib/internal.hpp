// Included first by every internal header: internal headers are not part of the public API.
#pragma once

#ifndef TLSOCK_BUILDING_LIBRARY
#error "internal header: not part of tlsock's public API"
#endif
