// Unit tests of lib/trust: how SSL_CERT_FILE and SSL_CERT_DIR steer the search, the
// default on this machine, and which files in a certificate directory count.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include "support/catch.hpp"
#include "support/temp_dir.hpp"
#include "trust/trust.hpp"

#ifndef _WIN32
#include <unistd.h>

namespace fs = std::filesystem;
namespace trust = tlsock::trust;
using Kind = trust::TrustSource::Kind;

namespace {

// Catch2 v3 renamed the substring matcher; the shim may bring in either version.
auto contains(const std::string& text) {
#if CATCH_VERSION_MAJOR >= 3
  return Catch::Matchers::ContainsSubstring(text);
#else
  return Catch::Matchers::Contains(text);
#endif
}

// Sets (or, with std::nullopt, unsets) an environment variable for one scope, so a test
// cannot leak its setting into the next one.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (previous_)
      ::setenv(name_, previous_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

using tlsock::testing::TempDir;

void write_file(const fs::path& path, const std::string& content = "not parsed here\n") {
  std::ofstream out(path, std::ios::binary);
  out << content;
  REQUIRE(out.good());
}

const fs::path debian_bundle = "/etc/ssl/certs/ca-certificates.crt";

std::vector<std::string> file_names(const std::vector<fs::path>& paths) {
  std::vector<std::string> names;
  names.reserve(paths.size());
  for (const auto& path : paths) names.push_back(path.filename().string());
  return names;
}

}  // namespace

#ifndef __APPLE__

TEST_CASE("SSL_CERT_FILE alone replaces every default", "[trust]") {
  const TempDir temp;
  const fs::path bundle = temp.path() / "bundle.pem";
  write_file(bundle);
  const ScopedEnv file("SSL_CERT_FILE", bundle.string());
  const ScopedEnv dir("SSL_CERT_DIR", std::nullopt);

  const auto sources = trust::os_trust_sources();
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].kind == Kind::pem_bundle);
  CHECK(sources[0].path == bundle);
  CHECK(sources[0].der.empty());
}

TEST_CASE("SSL_CERT_FILE naming a missing file is still returned, for the loader to report", "[trust]") {
  const TempDir temp;
  const ScopedEnv file("SSL_CERT_FILE", (temp.path() / "missing.pem").string());
  const ScopedEnv dir("SSL_CERT_DIR", std::nullopt);

  const auto sources = trust::os_trust_sources();
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].path == temp.path() / "missing.pem");
}

TEST_CASE("SSL_CERT_FILE and SSL_CERT_DIR together: the file, then each existing directory", "[trust]") {
  const TempDir temp;
  const fs::path bundle = temp.path() / "bundle.pem";
  write_file(bundle);
  const fs::path one = temp.path() / "one", two = temp.path() / "two";
  fs::create_directory(one);
  fs::create_directory(two);
  const ScopedEnv file("SSL_CERT_FILE", bundle.string());
  const ScopedEnv dir("SSL_CERT_DIR",
                      one.string() + "::" + (temp.path() / "missing").string() + ":" + two.string() + ":");

  const auto sources = trust::os_trust_sources();
  REQUIRE(sources.size() == 3);
  CHECK(sources[0].kind == Kind::pem_bundle);
  CHECK(sources[0].path == bundle);
  CHECK(sources[1].kind == Kind::directory);
  CHECK(sources[1].path == one);
  CHECK(sources[2].kind == Kind::directory);
  CHECK(sources[2].path == two);
}

TEST_CASE("SSL_CERT_DIR alone replaces the default directory, not the bundle", "[trust]") {
  const TempDir temp;
  const ScopedEnv file("SSL_CERT_FILE", std::nullopt);
  const ScopedEnv dir("SSL_CERT_DIR", temp.path().string());

  const auto sources = trust::os_trust_sources();
  REQUIRE_FALSE(sources.empty());
  CHECK(sources.back().kind == Kind::directory);
  CHECK(sources.back().path == temp.path());
  if (fs::exists(debian_bundle)) {
    REQUIRE(sources.size() == 2);
    CHECK(sources[0].kind == Kind::pem_bundle);
    CHECK(sources[0].path == debian_bundle);
  }
}

TEST_CASE("without the variables, the distribution's bundle is found", "[trust]") {
  const ScopedEnv file("SSL_CERT_FILE", std::nullopt);
  const ScopedEnv dir("SSL_CERT_DIR", std::nullopt);
  if (!fs::exists(debian_bundle)) {
    TLSOCK_SKIP(debian_bundle.string() + " does not exist on this machine (not Debian or Ubuntu?)");
  }
  const auto sources = trust::os_trust_sources();
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].kind == Kind::pem_bundle);
  CHECK(sources[0].path == debian_bundle);
}

TEST_CASE("empty variables count as unset", "[trust]") {
  const ScopedEnv file("SSL_CERT_FILE", std::string());
  const ScopedEnv dir("SSL_CERT_DIR", std::string());
  const auto sources = trust::os_trust_sources();
  for (const auto& source : sources) CHECK_FALSE(source.path.empty());
  if (fs::exists(debian_bundle)) {
    REQUIRE(sources.size() == 1);
    CHECK(sources[0].path == debian_bundle);
  }
}

#endif  // __APPLE__

TEST_CASE("certificate_files_in keeps certificate names, each file once, sorted", "[trust]") {
  const TempDir temp;
  const fs::path dir = temp.path() / "certs";
  fs::create_directory(dir);
  for (const char* name : {"a.pem", "b.crt", "c.cer", "D.PEM", "5ad8a5d6.0", "5ad8a5d6.10",
                           // not certificates by name:
                           "5ad8a5d6.r0", "5ad8a5dg.0", "1234567.0", "5ad8a5d6.", "notes.txt", ".pem", "a.pem.bak"})
    write_file(dir / name);
  fs::create_directory(dir / "subdir.pem");               // not a regular file
  fs::create_symlink("a.pem", dir / "link.pem");          // same file as a.pem
  fs::create_symlink("b.crt", dir / "11111111.0");        // hash link, sorts before b.crt
  fs::create_symlink("nowhere.pem", dir / "broken.pem");  // dangling
  write_file(temp.path() / "outside.txt");
  fs::create_symlink(temp.path() / "outside.txt", dir / "external.crt");  // a file elsewhere

  const auto files = trust::certificate_files_in(dir);
  CHECK(file_names(files) ==
        std::vector<std::string>{"11111111.0", "5ad8a5d6.0", "5ad8a5d6.10", "D.PEM", "a.pem", "c.cer", "external.crt"});
  for (const auto& file : files) CHECK(file.parent_path() == dir);
}

TEST_CASE("certificate_files_in on a missing directory throws", "[trust]") {
  const TempDir temp;
  CHECK_THROWS_AS(trust::certificate_files_in(temp.path() / "missing"), fs::filesystem_error);
}

TEST_CASE("certificate_files_in on this machine's /etc/ssl/certs", "[trust]") {
  const fs::path system_dir = "/etc/ssl/certs";
  if (!fs::is_directory(system_dir)) {
    TLSOCK_SKIP("no /etc/ssl/certs on this machine");
  }
  const auto files = trust::certificate_files_in(system_dir);
  CHECK_FALSE(files.empty());
  CHECK(std::is_sorted(files.begin(), files.end()));
}

TEST_CASE("read_file returns the bytes, or an error naming the path", "[trust]") {
  const TempDir temp;
  const std::string bytes("\x30\x82\x00\x01\xff\n-----BEGIN", 16);
  write_file(temp.path() / "blob.der", bytes);
  CHECK(trust::read_file(temp.path() / "blob.der") == bytes);

  write_file(temp.path() / "empty.pem", "");
  CHECK(trust::read_file(temp.path() / "empty.pem").empty());

  const fs::path missing = temp.path() / "missing.pem";
  try {
    (void)trust::read_file(missing);
    FAIL("read_file of a missing file did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK_THAT(e.what(), contains(missing.string()));
  }
  try {
    (void)trust::read_file(temp.path());
    FAIL("read_file of a directory did not throw");
  } catch (const std::system_error& e) {
    CHECK_THAT(e.what(), contains("cannot read " + temp.path().string()));
  }
}

#endif  // _WIN32
