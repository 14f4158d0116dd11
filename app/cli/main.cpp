// The `bitlens` command line: thin layer over the core (parse options, print, exit codes).
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--version") {
    std::printf("bitlens %s\n", BITLENS_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: bitlens --version\n");
  return 2;
}
