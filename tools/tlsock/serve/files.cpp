// Request targets to files under a root, and Content-Types (see server_files.hpp).
#include "serve/files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <system_error>
#include <utility>

namespace tlsock::cli::files {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether path (canonical) is root (canonical) or lies below it, compared component by
// component so that "/srv/www-old" is not taken to be inside "/srv/www".
bool inside(const fs::path& root, const fs::path& path) {
  auto [root_end, path_at] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  (void)path_at;
  return root_end == root.end();
}

// The path part of an absolute-form target ("https://host:8443/a?b" -> "/a?b").
std::string_view origin_form(std::string_view target) {
  std::string prefix = lower(target.substr(0, 8));
  std::size_t scheme = prefix.starts_with("https://") ? 8 : prefix.starts_with("http://") ? 7 : 0;
  if (scheme == 0) return target;
  std::string_view rest = target.substr(scheme);
  std::size_t slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
}

// Follows symlinks: a path that leaves the root through one is refused (403), one that
// stays inside is fine.
Resolution file_or_status(const fs::path& root, const fs::path& path) {
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) return {404, {}, {}};
  fs::path real = fs::canonical(path, error);
  if (error) return {404, {}, {}};
  if (!inside(root, real)) return {403, {}, {}};
  if (fs::is_directory(status)) return {0, real, {}};      // the caller decides
  if (!fs::is_regular_file(status)) return {404, {}, {}};  // FIFOs, devices, sockets
  return {200, real, {}};
}

}  // namespace

std::string_view content_type(const fs::path& path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> types{{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".svg", "image/svg+xml"},
      {".ico", "image/vnd.microsoft.icon"},
      {".pdf", "application/pdf"},
      {".wasm", "application/wasm"},
      {".woff2", "font/woff2"},
      {".csv", "text/csv; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
  }};
  std::string extension = lower(path.extension().string());
  for (const auto& [suffix, type] : types)
    if (suffix == extension) return type;
  return "application/octet-stream";
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = hex_value(text[i + 1]);
    int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    char c = static_cast<char>(high * 16 + low);
    if (c == '\0') return std::nullopt;
    out.push_back(c);
    i += 2;
  }
  return out;
}

Resolution resolve(const fs::path& root, std::string_view target) {
  std::string_view path = origin_form(target);
  if (path.empty() || path.front() != '/') return {400, {}, {}};
  path = path.substr(0, path.find_first_of("?#"));
  std::optional<std::string> decoded = percent_decode(path);
  if (!decoded || decoded->find('\0') != std::string::npos) return {400, {}, {}};

  // Segment by segment: "." and empty segments are dropped, ".." is refused outright
  // (never resolved), whether it was sent as ".." or as "%2e%2e".
  fs::path relative;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") return {400, {}, {}};
    relative /= fs::path(std::string(segment));
  }

  Resolution found = file_or_status(root, root / relative);
  if (found.status == 200 && decoded->back() == '/') return {404, {}, {}};  // "/file.txt/"
  if (found.status != 0) return found;
  // A directory: its index.html, reached with a trailing '/'.
  if (decoded->back() != '/') return {301, {}, std::string(path) + "/"};
  Resolution index = file_or_status(root, found.file / "index.html");
  if (index.status == 0) return {404, {}, {}};  // a directory named index.html
  return index;
}

}  // namespace tlsock::cli::files
