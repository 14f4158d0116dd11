// Zip access (libzip) for Keras 3 .keras archives: list and read members with size limits,
// and write small archives (used by the .keras writer and by tests).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bitlens::io {

// True when the file starts with a zip local-file or end-of-central-directory signature.
bool has_zip_signature(const std::filesystem::path& path);

class ZipReader {
 public:
  // Throws ModelError when the archive cannot be opened.
  explicit ZipReader(const std::filesystem::path& path);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Reads a member; refuses members whose declared size exceeds `max_bytes` before reading.
  std::string read(const std::string& name, int64_t max_bytes) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes an archive with the given members (name, bytes), in order, deflate-compressed,
// with a fixed timestamp so the output is deterministic. Throws ModelError.
void write_zip(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace bitlens::io
