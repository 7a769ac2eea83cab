// What `tlsock serve` needs to answer a GET from a directory safely: the request target
// mapped to a file under the root (percent-decoding, no ".." segments, no symlinks out of
// the root, index.html for directories, else a listing) and the Content-Type for a file name.
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
  std::string location;        // for 301: the directory's path with a trailing '/'; for a listing: its decoded path
  bool listing = false;        // 200 for a directory without index.html: file is the directory
};

// root must be canonical (std::filesystem::canonical). target is the request-target as
// received: origin-form ("/a/b?q") or absolute-form ("https://host/a/b").
//   400: not a path, malformed escapes, NUL, a ".." segment (before or after decoding)
//   403: the path leaves the root through a symlink
//   404: nothing there, or not a regular file or directory
//   200 with listing: a directory (with its trailing '/') that has no index.html
//   301: a directory named without its trailing '/', so relative links work
[[nodiscard]] Resolution resolve(const std::filesystem::path& root, std::string_view target);

// text with &, <, >, " and ' as HTML character references.
[[nodiscard]] std::string html_escape(std::string_view text);
// text with every byte but RFC 3986's unreserved characters percent-encoded (a path segment).
[[nodiscard]] std::string percent_encode(std::string_view text);

// An HTML page listing directory (canonical, inside root), whose decoded URL path is
// url_path: its entries sorted by name, directories with a trailing '/', names escaped for
// HTML and, in links, for URLs; entries that lead out of root (symlinks) are left out.
[[nodiscard]] std::string directory_index(const std::filesystem::path& root, const std::filesystem::path& directory,
                                          std::string_view url_path);

}  // namespace tlsock::cli::files
