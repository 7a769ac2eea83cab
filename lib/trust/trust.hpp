// Where the operating system keeps its trusted root certificates. This layer only finds
// them and reads bytes (and writes the private files the library keeps, such as saved
// sessions); parsing is the mbedTLS layer's job, so nothing here knows X.509.
#pragma once

#ifndef TLSOCK_BUILDING_LIBRARY
#error "internal header: not part of tlsock's public API"
#endif

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tlsock::trust {

// One place trust roots come from.
struct TrustSource {
  enum class Kind {
    pem_bundle,  // path: a file of concatenated PEM certificates
    directory,   // path: a directory of certificate files (see certificate_files_in)
    der_blobs,   // der: certificates already read from an OS store (macOS, Windows)
  };
  Kind kind;
  std::filesystem::path path;
  std::vector<std::string> der;
};

// The OS trust roots, in the order to load them.
//
// Linux and the BSDs follow OpenSSL's convention, each variable replacing its own half:
// - the bundle: $SSL_CERT_FILE if set (even if missing, so the loader can say so), else
//   the first existing of the distributions' known bundle files;
// - directories: $SSL_CERT_DIR if set (colon-separated; entries that are not existing
//   directories skipped), else /etc/ssl/certs but only when no bundle was found (the
//   bundle is that directory's contents, and loading both would double the work).
// macOS: the Security framework's anchors and trust-settings certificates, as DER.
// Windows: the "ROOT" system store, as DER.
[[nodiscard]] std::vector<TrustSource> os_trust_sources();

// The certificate files in a directory: regular files (symlinks followed) named *.pem,
// *.crt, *.cer or like an OpenSSL hash link ("5ad8a5d6.0"), each target once; sorted.
// Throws std::filesystem::filesystem_error if the directory cannot be listed.
[[nodiscard]] std::vector<std::filesystem::path> certificate_files_in(const std::filesystem::path& directory);

// The whole content of a file, as bytes. Throws std::system_error naming the path.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

// Replaces the content of a file atomically with bytes readable by the owner only (0600 on
// POSIX): a temporary file in the same directory, synced, then renamed over path, so a
// reader sees the old content or the new, never a part. A symbolic link is written through
// (its target is replaced). Throws std::invalid_argument when path names something that is
// not a regular file (a directory, a FIFO, a device), std::system_error naming the path
// when writing fails (the temporary file is then removed).
void write_private_file(const std::filesystem::path& path, std::string_view bytes);

}  // namespace tlsock::trust
