// Private temporary directories (mkdtemp: a fresh name, mode 0700, created atomically), so a
// directory another user planted under a predictable name is never reused, cleaned or run.
#pragma once

#include <filesystem>
#include <string>

namespace bitlens::io {

// Creates a new directory `parent`/`prefix`XXXXXX. Throws ModelError naming `parent`.
std::filesystem::path make_temp_dir(const std::filesystem::path& parent, const std::string& prefix);

// A make_temp_dir under $TMPDIR (or /tmp) removed with everything in it when destroyed,
// unless release() was called.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  TempDir(const std::filesystem::path& parent, const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

}  // namespace bitlens::io
