// Shared helper for the tests that drive the `bitlens` binary (cli_*_test.cpp).
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>

namespace cli_test {

struct Result {
  int status;
  std::string out, err;
};

// Runs `env bitlens ARGS` through the shell and captures stdout, stderr (via a file in `dir`)
// and the exit status (-1 when it did not exit normally).
inline Result run_cli(const std::string& args, const std::filesystem::path& dir, const std::string& env = "") {
  const std::string err_file = (dir / "stderr.txt").string();
  const std::string cmd = (env.empty() ? "" : env + " ") + std::string(BITLENS_CLI) + " " + args + " 2>" + err_file;
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

}  // namespace cli_test
