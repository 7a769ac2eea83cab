// What `tlsock serve` needs to answer a GET from a directory safely: the request target
// mapped to a file under the root (percent-decoding, no ".." segments, no symlinks out of
// the root, index.html for directories) and the Content-Type for a file name.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tlsock::cli::files {

// The Content-Type for a file name, by its extension (case-insensitive);
// "application/octet-stream" when the extension is unknown.
[[nodiscard]] std::string_view content_type(const std::filesystem::path& path);

// Decodes %XX escapes. std::nullopt for a malformed escape ("%4", "%zz") or an encoded NUL.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text);

// Where a request target leads.
struct Resolution {
  int status = 404;            // 200 (file is set), 301 (location is set), 400, 403 or 404
  std::filesystem::path file;  // the regular file to send (canonical, inside the root)
  std::string location;        // for 301: the directory's path with a trailing '/'
};

// root must be canonical (std::filesystem::canonical). target is the request-target as
// received: origin-form ("/a/b?q") or absolute-form ("https://host/a/b").
//   400: not a path, malformed escapes, NUL, a ".." segment (before or after decoding)
//   403: the path leaves the root through a symlink
//   404: nothing there, not a regular file, or a directory without index.html
//   301: a directory named without its trailing '/', so relative links work
[[nodiscard]] Resolution resolve(const std::filesystem::path& root, std::string_view target);

}  // namespace tlsock::cli::files
