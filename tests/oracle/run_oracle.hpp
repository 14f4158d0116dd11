// Test support: starting the numpy oracle (tests/oracle/keras_oracle.py) and other programs.
// Tests that use it define BITLENS_PYTHON and BITLENS_SOURCE_DIR (tests/CMakeLists.txt).
#pragma once

#include <cstdio>
#include <string>

namespace oracle_run {

// The oracle's command line, without arguments.
inline std::string command() {
  return std::string(BITLENS_PYTHON) + " " + BITLENS_SOURCE_DIR + "/tests/oracle/keras_oracle.py";
}

// Runs `cmd` through the shell; returns its stdout and stderr, plus the exit status if not 0.
inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  if (st != 0) out += "\n(exit status " + std::to_string(st) + ")";
  return out;
}

}  // namespace oracle_run
