// mkdtemp-based temporary directories; see tempdir.hpp.
#include "io/tempdir.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "bitlens/model.hpp"

namespace bitlens::io {

namespace fs = std::filesystem;

fs::path make_temp_dir(const fs::path& parent, const std::string& prefix) {
  std::string tmpl = (parent / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(tmpl.data()))
    throw ModelError("cannot create a temporary directory in " + parent.string() + ": " + std::strerror(errno) +
                     " (set TMPDIR to a writable directory)");
  return fs::path(tmpl);
}

TempDir::TempDir(const std::string& prefix) : TempDir(fs::temp_directory_path(), prefix) {}

TempDir::TempDir(const fs::path& parent, const std::string& prefix) : path_(make_temp_dir(parent, prefix)) {}

TempDir::~TempDir() {
  if (released_) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace bitlens::io
