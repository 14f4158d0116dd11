// Test support: a directory under the system temp dir, unique per process and tag, removed with
// everything in it when the object goes.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

struct TempDir {
  std::filesystem::path dir;
  TempDir(const std::string& prefix, const std::string& tag)
      : dir(std::filesystem::temp_directory_path() /
            ("bitlens_" + prefix + "_" + std::to_string(::getpid()) + "_" + tag)) {
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
