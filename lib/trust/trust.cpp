// Finding the OS trust roots: files and environment variables on Linux and the BSDs, the
// Security framework on macOS, the system "ROOT" store on Windows.
#include "trust/trust.hpp"

#include "arguments.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#endif
#if defined(__APPLE__)
#include <Security/Security.h>
#elif defined(_WIN32)
#include <windows.h>
// wincrypt.h needs windows.h first.
#include <wincrypt.h>
#endif

namespace tlsock::trust {
namespace fs = std::filesystem;

namespace {

bool ends_with_ignoring_case(std::string_view name, std::string_view suffix) {
  if (name.size() <= suffix.size()) return false;  // ".pem" alone is a hidden file, not a certificate
  const auto tail = name.substr(name.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

// c_rehash / openssl rehash names: the subject hash in 8 hex digits, ".", a counter.
// CRL links ("5ad8a5d6.r0") do not match, and are not certificates.
bool is_hash_link_name(std::string_view name) {
  if (name.size() < 10 || name[8] != '.') return false;
  const auto is_hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  const auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  return std::all_of(name.begin(), name.begin() + 8, is_hex) && std::all_of(name.begin() + 9, name.end(), is_digit);
}

bool is_certificate_file_name(std::string_view name) {
  return ends_with_ignoring_case(name, ".pem") || ends_with_ignoring_case(name, ".crt") ||
         ends_with_ignoring_case(name, ".cer") || is_hash_link_name(name);
}

#if defined(__APPLE__)

void append_der(CFArrayRef certificates, std::vector<std::string>& der, SecTrustSettingsDomain domain, bool check) {
  for (CFIndex i = 0, count = CFArrayGetCount(certificates); i < count; ++i) {
    auto certificate = static_cast<SecCertificateRef>(const_cast<void*>(CFArrayGetValueAtIndex(certificates, i)));
    if (check) {
      // Only certificates trusted unconditionally (an empty settings array): anything
      // else may be a deliberate "never trust", which must not become an anchor.
      CFArrayRef settings = nullptr;
      if (SecTrustSettingsCopyTrustSettings(certificate, domain, &settings) != errSecSuccess) continue;
      const bool unconditional = CFArrayGetCount(settings) == 0;
      CFRelease(settings);
      if (!unconditional) continue;
    }
    CFDataRef data = SecCertificateCopyData(certificate);
    if (data == nullptr) continue;
    der.emplace_back(reinterpret_cast<const char*>(CFDataGetBytePtr(data)),
                     static_cast<std::size_t>(CFDataGetLength(data)));
    CFRelease(data);
  }
}

std::vector<TrustSource> platform_trust_sources() {
  TrustSource source{TrustSource::Kind::der_blobs, {}, {}};
  CFArrayRef anchors = nullptr;
  if (SecTrustCopyAnchorCertificates(&anchors) == errSecSuccess) {
    append_der(anchors, source.der, kSecTrustSettingsDomainSystem, false);
    CFRelease(anchors);
  }
  for (const auto domain : {kSecTrustSettingsDomainAdmin, kSecTrustSettingsDomainUser}) {
    CFArrayRef certificates = nullptr;
    if (SecTrustSettingsCopyCertificates(domain, &certificates) != errSecSuccess) continue;
    append_der(certificates, source.der, domain, true);
    CFRelease(certificates);
  }
  if (source.der.empty()) return {};
  return {std::move(source)};
}

#elif defined(_WIN32)

// Windows fetches some roots only when a chain needs them (automatic root update), so
// a rarely used root may be missing here until Windows itself has used it once.
std::vector<TrustSource> platform_trust_sources() {
  HCERTSTORE store = CertOpenSystemStoreW(0, L"ROOT");
  if (store == nullptr) return {};
  TrustSource source{TrustSource::Kind::der_blobs, {}, {}};
  for (PCCERT_CONTEXT certificate = CertEnumCertificatesInStore(store, nullptr); certificate != nullptr;
       certificate = CertEnumCertificatesInStore(store, certificate)) {
    if ((certificate->dwCertEncodingType & X509_ASN_ENCODING) == 0) continue;
    source.der.emplace_back(reinterpret_cast<const char*>(certificate->pbCertEncoded), certificate->cbCertEncoded);
  }
  CertCloseStore(store, 0);
  if (source.der.empty()) return {};
  return {std::move(source)};
}

#else

// Where distributions put the bundle; the first one that exists wins.
constexpr std::string_view known_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Gentoo, Arch, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL 6
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7+
    "/etc/ssl/ca-bundle.pem",                             // openSUSE
    "/etc/ssl/cert.pem",                                  // Alpine, OpenBSD, macOS (OpenSSL)
    "/usr/local/share/certs/ca-root-nss.crt",             // FreeBSD
};
constexpr std::string_view default_directory = "/etc/ssl/certs";

// An unset and an empty variable mean the same: shells make the two hard to tell apart.
const char* environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

bool is_existing_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

bool is_existing_directory(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

std::vector<TrustSource> platform_trust_sources() {
  std::vector<TrustSource> sources;

  if (const char* file = environment("SSL_CERT_FILE")) {
    sources.push_back({TrustSource::Kind::pem_bundle, file, {}});
  } else {
    const auto found = std::find_if(std::begin(known_bundles), std::end(known_bundles),
                                    [](std::string_view path) { return is_existing_file(path); });
    if (found != std::end(known_bundles)) sources.push_back({TrustSource::Kind::pem_bundle, *found, {}});
  }

  if (const char* directories = environment("SSL_CERT_DIR")) {
    std::string_view rest = directories;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const fs::path directory(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      if (!directory.empty() && is_existing_directory(directory))
        sources.push_back({TrustSource::Kind::directory, directory, {}});
    }
  } else if (sources.empty() && is_existing_directory(default_directory)) {
    sources.push_back({TrustSource::Kind::directory, default_directory, {}});
  }
  return sources;
}

#endif

}  // namespace

std::vector<TrustSource> os_trust_sources() { return platform_trust_sources(); }

std::vector<fs::path> certificate_files_in(const fs::path& directory) {
  std::vector<fs::path> candidates;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (is_certificate_file_name(entry.path().filename().string())) candidates.push_back(entry.path());
  }
  // Sorted before removing duplicates, so which of two links to one file is kept does
  // not depend on the order the directory happens to list them in.
  std::sort(candidates.begin(), candidates.end());

  std::vector<fs::path> files;
#ifdef _WIN32
  std::set<fs::path> seen;
  for (auto& path : candidates) {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) continue;  // broken links, subdirectories, sockets
    const fs::path target = fs::canonical(path, error);
    if (error || !seen.insert(target).second) continue;
    files.push_back(std::move(path));
  }
#else
  // A file is known by its device and inode: one stat() per entry, where fs::canonical
  // resolves every component of every link (OpenSSL-style directories hold ~300 of them,
  // and this runs before a process's first verified connection).
  std::set<std::pair<dev_t, ino_t> > seen;
  for (auto& path : candidates) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;  // broken links, subdirectories
    if (!seen.insert({info.st_dev, info.st_ino}).second) continue;
    files.push_back(std::move(path));
  }
#endif
  return files;
}

std::string read_file(const fs::path& path) {
  arguments::check_path("path", path);
  // stdio rather than iostreams: it keeps errno, so the message can say why, and it
  // reports a read error (say, of a directory) instead of throwing from deep inside.
  const auto fail = [&path](int error) {
    return std::system_error(error != 0 ? error : EIO, std::generic_category(), "cannot read " + path.string());
  };
  errno = 0;
#ifdef _WIN32
  std::FILE* opened = ::_wfopen(path.c_str(), L"rb");
#else
  std::FILE* opened = std::fopen(path.c_str(), "rb");
#endif
  if (opened == nullptr) throw fail(errno);
  // Opened for reading only, so a failing fclose loses nothing.
  const auto close = [](std::FILE* stream) { (void)std::fclose(stream); };
  const std::unique_ptr<std::FILE, decltype(close)> file(opened, close);

  std::string bytes;
  char buffer[64 * 1024];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, count);
  if (std::ferror(file.get()) != 0) throw fail(errno);
  return bytes;
}

namespace {

// Where write_private_file writes: path, or the file a symbolic link at path leads to.
fs::path write_target(const fs::path& path) {
  std::error_code error;
  fs::path target = fs::is_symlink(path, error) ? fs::weakly_canonical(path) : path;
  const fs::file_status status = fs::status(target, error);
  if (!error && fs::exists(status) && !fs::is_regular_file(status))
    arguments::reject("path", arguments::quoted(path.string()) + " is not a regular file");
  return target;
}

}  // namespace

void write_private_file(const fs::path& path, std::string_view bytes) {
  arguments::check_path("path", path);
  const fs::path target = write_target(path);
  const auto fail = [&path](int error, const char* step) {
    return std::system_error(error != 0 ? error : EIO, std::generic_category(),
                             "cannot write " + path.string() + " (" + step + ")");
  };
#ifdef _WIN32
  fs::path temp = target;
  temp += L"." + std::to_wstring(::GetCurrentProcessId()) + L".tmp";
  int fd = ::_wopen(temp.c_str(), _O_CREAT | _O_EXCL | _O_WRONLY | _O_BINARY, _S_IREAD | _S_IWRITE);
  if (fd < 0) throw fail(errno, "creating a temporary file");
  const auto abandon = [&](int error, const char* step) {
    (void)::_close(fd);
    (void)::_wunlink(temp.c_str());
    return fail(error, step);
  };
  for (std::string_view rest = bytes; !rest.empty();) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(rest.size(), 1u << 20));
    const int n = ::_write(fd, rest.data(), chunk);
    if (n <= 0) throw abandon(errno, "writing");
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::_commit(fd) != 0) throw abandon(errno, "syncing");
  if (::_close(fd) != 0) {
    (void)::_wunlink(temp.c_str());
    throw fail(errno, "closing");
  }
  if (!::MoveFileExW(temp.c_str(), target.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    (void)::_wunlink(temp.c_str());
    throw fail(EIO, "renaming into place");
  }
#else
  fs::path directory = target.parent_path();
  if (directory.empty()) directory = ".";
  // mkstemp makes the file 0600 in the target's directory, so rename() stays on one file system.
  std::string temp = (directory / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) throw fail(errno, "creating a temporary file");
  const auto abandon = [&](int error, const char* step) {
    (void)::close(fd);
    (void)::unlink(temp.c_str());
    return fail(error, step);
  };
  // Exactly 0600, whatever the umask took away.
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) throw abandon(errno, "setting its mode");
  for (std::string_view rest = bytes; !rest.empty();) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw abandon(errno, "writing");
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) throw abandon(errno, "syncing");
  if (::close(fd) != 0) {
    const int error = errno;
    (void)::unlink(temp.c_str());
    throw fail(error, "closing");
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int error = errno;
    (void)::unlink(temp.c_str());
    throw fail(error, "renaming into place");
  }
#endif
}

}  // namespace tlsock::trust
