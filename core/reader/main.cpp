// bitlens-h5-reader: the isolated HDF5 reader the loader starts for every .h5/.keras file
// (core/io/sandbox.hpp). It limits itself, reads the file with libhdf5, answers with one framed
// message on stdout and exits. A crash or hang here costs only this process.
//
// usage: bitlens-h5-reader PROTOCOL MODE FILE MAX_ELEMENTS_PER_ARRAY MAX_TOTAL_ELEMENTS
//                          MAX_JSON_BYTES MAX_LAYERS [OUT CHANGES_FILE MAX_OUT_BYTES]
// MODE h5 / keras: answer the snapshot of FILE. MODE copy-h5: write OUT as a copy of FILE with
// the JSON Patch in CHANGES_FILE applied to model_config (bitlens variant), answer nothing.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>
#include <string>

#include "bitlens/model.hpp"
#include "frontend/snapshot.hpp"
#include "io/sandbox.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define BITLENS_READER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BITLENS_READER_ASAN 1
#endif
#endif

namespace {

[[noreturn]] void answer(char status, const std::string& text) {
  const bool ok = bitlens::io::write_reader_answer(STDOUT_FILENO, status, text);
  // _exit: no destructors and no leak check of a disposable process (libhdf5 leaks on some
  // damaged files; that is not an error of the read).
  ::_exit(ok ? 0 : 3);
}

bool number(const char* s, int64_t& v) {
  char* end = nullptr;
  const long long x = std::strtoll(s, &end, 10);
  if (!*s || *end || x < 0) return false;
  v = x;
  return true;
}

void limit(int resource, rlim_t value) {
  rlimit r{value, value};
  ::setrlimit(resource, &r);
}

}  // namespace

int main(int argc, char** argv) {
  // A crash must end this process with its signal (the parent reports it), not in a
  // sanitizer's handler that exits with a code.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
  const bool copy = argc > 2 && std::string(argv[2]) == "copy-h5";
  if (argc != (copy ? 11 : 8))
    answer('e', "internal: bitlens-h5-reader called with " + std::to_string(argc - 1) + " arguments");
  int64_t protocol = 0;
  bitlens::LoadLimits limits;
  int64_t layers = 0;
  if (!number(argv[1], protocol) || !number(argv[4], limits.max_elements_per_array) ||
      !number(argv[5], limits.max_total_elements) || !number(argv[6], limits.max_json_bytes) ||
      !number(argv[7], layers) || layers > INT32_MAX)
    answer('e', "internal: bitlens-h5-reader called with bad arguments");
  int64_t max_out_bytes = 0;
  if (copy && !number(argv[10], max_out_bytes)) answer('e', "internal: bitlens-h5-reader called with bad arguments");
  limits.max_layers = static_cast<int>(layers);
  limits.isolate_hdf5 = false;
  if (protocol != bitlens::io::kReaderProtocol)
    answer('e', "the isolated HDF5 reader speaks protocol " + std::to_string(bitlens::io::kReaderProtocol) +
                    ", BitLens asked for " + std::to_string(protocol) + "; reinstall BitLens");

  // What one read may use: the weights twice (read + serialized) and libhdf5's own needs;
  // no files written, no core dumps; CPU time well beyond any valid file (the parent's
  // deadline ends a hang first, this ends a spin the deadline cannot see).
  const int64_t memory = limits.max_total_elements * 4 * 2 + limits.max_json_bytes * 4 + (int64_t{1} << 30);
#ifndef BITLENS_READER_ASAN
  limit(RLIMIT_AS, static_cast<rlim_t>(memory));
#endif
  // Reading writes nothing; a copy writes one file of bounded size.
  limit(RLIMIT_FSIZE, static_cast<rlim_t>(max_out_bytes));
  limit(RLIMIT_CORE, 0);
  limit(RLIMIT_CPU, 600);
  ::signal(SIGXFSZ, SIG_IGN);  // a write attempt fails with EFBIG instead of killing

  try {
    if (copy) {
      std::ifstream in(argv[9], std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), {});
      const bitlens::json changes = bitlens::json::parse(text, nullptr, false);
      if (!in || changes.is_discarded()) answer('e', "internal: cannot read the config changes");
      bitlens::frontend::copy_h5_with_changes(argv[3], argv[8], changes);
      answer('o', "");
    }
    answer('o', bitlens::frontend::hdf5_snapshot_bytes(argv[2], argv[3], limits));
  } catch (const bitlens::ModelError& e) {
    answer('e', e.what());
  } catch (const std::bad_alloc&) {
    answer('e', "reading the file needs more than the " + std::to_string(memory >> 20) +
                    " MiB the isolated HDF5 reader may use; the file is damaged or too large");
  } catch (const std::exception& e) {
    answer('e', std::string("cannot read the file: ") + e.what());
  }
}
