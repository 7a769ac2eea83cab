// tlsock: a TLS socket as easy to use as a plain one. Include this for the whole public API.
#pragma once

#include "tlsock/alert.hpp"
#include "tlsock/certificate.hpp"
#include "tlsock/connection.hpp"
#include "tlsock/errors.hpp"
#include "tlsock/info.hpp"
#include "tlsock/listener.hpp"
#include "tlsock/protocol.hpp"
#include "tlsock/regex.hpp"
#include "tlsock/server.hpp"
#include "tlsock/session.hpp"
#include "tlsock/socket.hpp"
#include "tlsock/tcp.hpp"
#include "tlsock/types.hpp"
#include "tlsock/version.hpp"
