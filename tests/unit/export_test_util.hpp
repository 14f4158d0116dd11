// Helpers shared by the export_* tests: bundled model paths, shell commands with captured
// output, fresh temporary directories, tool detection.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "bitlens/compiler.hpp"

namespace export_test {

namespace fs = std::filesystem;

inline std::string model(const std::string& name) { return std::string(BITLENS_MODELS_DIR) + "/" + name; }

inline bitlens::CompileResult compiled(const std::string& name) { return bitlens::compile(bitlens::load_model(model(name))); }

struct Cmd {
  int status = -1;
  std::string out;
};

// Runs `cmd` through the shell, stdout and stderr together.
inline Cmd sh(const std::string& cmd) {
  Cmd r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 8192> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool have(const std::string& tool) { return sh("command -v " + tool).status == 0; }

inline bool have_cross_tools() { return have("arm-none-eabi-gcc") && have("qemu-system-arm") && have("make"); }

// A new empty directory under the system temp dir, unique per test process and name.
inline fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("bitlens_export_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace export_test
