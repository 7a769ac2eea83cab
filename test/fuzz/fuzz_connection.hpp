// Drives a sans-IO Connection with a fuzz input as the peer's bytes and checks the contract
// of connection.hpp on the way: only TLSError subclasses come out of it, no fuzzed peer
// completes a handshake, and a failure is sticky.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include <tlsock/tlsock.hpp>

#include "fuzz_common.hpp"

namespace tlsock::fuzz {

// Inspects a certificate the way an application would: every accessor must work on any
// certificate the library hands out.
inline void inspect(const Certificate& certificate) {
  (void)certificate.der();
  (void)certificate.pem();
  (void)certificate.subject();
  (void)certificate.issuer();
  (void)certificate.serial_number();
  (void)format_utc(certificate.not_before());
  (void)format_utc(certificate.not_after());
  (void)certificate.valid_domains();
  (void)certificate.valid_ips();
  (void)certificate.self_signed();
  (void)certificate.is_ca();
  (void)certificate.hash_algorithm();
  (void)certificate.key_algorithm();
  (void)certificate.key_bits();
  (void)certificate.sha256_fingerprint();
}

[[noreturn]] inline void unexpected_exception(std::string_view call, const std::exception& e) {
  contract_violation(std::string(call) + " raised " + typeid(e).name() + " (not a tlsock::TLSError): " + e.what());
}

inline void drive(Connection& connection, const FuzzInput& input) {
  bool failed = false;
  try {
    connection.data_from_application("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");  // queued: no handshake yet
    input.for_each_chunk([&](std::string_view chunk) {
      (void)connection.data_from_wire(chunk);
      return true;
    });
    connection.wire_eof();
  } catch (const TLSError&) {
    failed = true;
  } catch (const std::exception& e) {
    unexpected_exception("data_from_wire/wire_eof", e);
  }

  if (connection.is_handshake_complete()) contract_violation("the handshake completed with a fuzzed peer");
  if (!failed) return;
  if (!connection.is_closed_for_reading()) contract_violation("failed, yet not closed for reading");
  try {
    (void)connection.data_from_wire(std::string_view("\x16\x03\x03\x00\x00", 5));
    contract_violation("data_from_wire succeeded after a failure (errors must be sticky)");
  } catch (const TLSError&) {
  } catch (const std::exception& e) {
    unexpected_exception("data_from_wire after a failure", e);
  }
  // The peer's connection info stays readable after a failure.
  const ConnectionInfo& info = connection.info();
  (void)info.protocol;
  (void)info.cipher_suite.size();
  (void)info.alpn_protocol.size();
  (void)info.server_name.size();
  if (connection.info().certificate) inspect(*connection.info().certificate);
}

}  // namespace tlsock::fuzz
