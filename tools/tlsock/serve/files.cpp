// Request targets to files under a root, and Content-Types (see server_files.hpp).
#include "serve/files.hpp"

#include <algorithm>
#include <cctype>
#include <system_error>
#include <utility>
#include <vector>

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
  static constexpr std::pair<std::string_view, std::string_view> types[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".csv", "text/csv; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".avif", "image/avif"},
      {".svg", "image/svg+xml"},
      {".ico", "image/vnd.microsoft.icon"},
      {".bmp", "image/bmp"},
      {".tif", "image/tiff"},
      {".tiff", "image/tiff"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
      {".oga", "audio/ogg"},
      {".opus", "audio/ogg"},
      {".wav", "audio/wav"},
      {".flac", "audio/flac"},
      {".m4a", "audio/mp4"},
      {".mp4", "video/mp4"},
      {".m4v", "video/mp4"},
      {".webm", "video/webm"},
      {".ogv", "video/ogg"},
      {".mov", "video/quicktime"},
      {".mkv", "video/x-matroska"},
      {".avi", "video/x-msvideo"},
      {".pdf", "application/pdf"},
      {".wasm", "application/wasm"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".zip", "application/zip"},
      {".gz", "application/gzip"},
      {".tgz", "application/gzip"},
      {".bz2", "application/x-bzip2"},
      {".xz", "application/x-xz"},
      {".zst", "application/zstd"},
      {".tar", "application/x-tar"},
      {".7z", "application/x-7z-compressed"},
      {".rar", "application/vnd.rar"},
      {".deb", "application/vnd.debian.binary-package"},
      {".iso", "application/x-iso9660-image"},
  };
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
  // No index.html (or a directory of that name): a listing.
  if (index.status == 0 || index.status == 404) return {200, found.file, *decoded, true};
  return index;
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    const char* entity = c == '&'    ? "&amp;"
                         : c == '<'  ? "&lt;"
                         : c == '>'  ? "&gt;"
                         : c == '"'  ? "&quot;"
                         : c == '\'' ? "&#39;"
                                     : nullptr;
    if (entity != nullptr)
      out += entity;
    else
      out += c;
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string directory_index(const fs::path& root, const fs::path& directory, std::string_view url_path) {
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    std::error_code ignored;
    fs::path real = fs::canonical(it->path(), ignored);
    if (ignored || !inside(root, real)) continue;  // dangling, or a way out of the root
    entries.emplace_back(it->path().filename().string(), fs::is_directory(real, ignored));
  }
  std::sort(entries.begin(), entries.end());
  std::string title = "Index of " + html_escape(url_path);
  std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                     "</title></head>\n<body><h1>" + title + "</h1>\n<ul>\n";
  if (url_path != "/") page += "<li><a href=\"../\">../</a></li>\n";
  for (const auto& [name, is_directory] : entries) {
    std::string suffix = is_directory ? "/" : "";
    page.append("<li><a href=\"").append(percent_encode(name)).append(suffix).append("\">");
    page.append(html_escape(name)).append(suffix).append("</a></li>\n");
  }
  return page + "</ul>\n</body></html>\n";
}

}  // namespace tlsock::cli::files
