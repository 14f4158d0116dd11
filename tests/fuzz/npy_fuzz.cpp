// libFuzzer target for the .npy reader (run --input, validate --input): arbitrary bytes must
// give an Array or a ModelError, never a crash or an allocation beyond the limits.
// With BITLENS_FUZZ_WRITE_SEEDS=DIR set, writes a seed corpus (several dtypes, byte orders and
// format versions) and exits.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "bitlens/npy.hpp"

namespace {

// A .npy with the given header dictionary and payload, as NumPy lays it out.
std::string npy(int major, const std::string& dict, const std::string& payload) {
  std::string h = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string r = "\x93NUMPY";
  r += static_cast<char>(major);
  r += '\0';
  const uint32_t n = static_cast<uint32_t>(h.size());
  r += static_cast<char>(n & 0xff);
  r += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    r += static_cast<char>((n >> 16) & 0xff);
    r += static_cast<char>((n >> 24) & 0xff);
  }
  return r + h + payload;
}

void write_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  bitlens::Array a;
  a.shape = {2, 3};
  a.data = {0.5f, -1.0f, 2.0f, 3.25f, -0.0f, 1e-3f};
  auto put = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
  };
  put("f4.npy", bitlens::npy_bytes(a));
  put("u1.npy", npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", std::string("\x01\x02\x03\xff", 4)));
  put("i2_be.npy", npy(1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", std::string("\x00\x01\xff\xfe", 4)));
  put("f8_v2.npy", npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')));
  put("b1_v3.npy", npy(3, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", std::string(1, '\1')));
  put("f2.npy", npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 1), }", std::string("\x00\x3c", 2)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("BITLENS_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bitlens::LoadLimits limits;
  limits.max_elements_per_array = int64_t{1} << 24;  // keeps each run fast; the check is what is fuzzed
  try {
    bitlens::NpyHeader h;
    const bitlens::Array a =
        bitlens::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy", limits, &h);
    // What the reader returns must be what its header promised.
    if (static_cast<int64_t>(a.data.size()) != h.elements) __builtin_trap();
  } catch (const bitlens::ModelError&) {
  }
  return 0;
}
