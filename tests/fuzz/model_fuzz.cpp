// libFuzzer target for the whole model pipeline: arbitrary bytes go through load_model with
// the HDF5 reading in this process (no isolated child, so the fuzzer sees BitLens' own HDF5
// code, its coverage and its crashes), then compile() (import, passes, costs, memory plan) and
// the host limits. Only ModelError may escape. Crashes whose stack is inside libhdf5 itself are
// classified by run_fuzz.cmake (known library bugs, regressions/README.md), not hidden here.
// With BITLENS_FUZZ_WRITE_SEEDS=DIR set, writes a seed corpus of small models and exits.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/model.hpp"

namespace {

namespace k = bitlens::keras;

void write_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  k::ModelBuilder b("seed", k::Style::functional, 1);
  auto x = b.input({6, 6, 2});
  auto c = b.quant_conv2d(x, {.filters = 2, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                              .pad_values = 1.0});
  auto n = b.batch_norm(c);
  auto s = b.add({c, n});
  auto t = b.tf_add_constant(s, 0.5);
  auto f = b.flatten(t);
  b.dense(f, {.units = 2});
  auto m = b.build();
  bitlens::write_model_h5(m, dir / "functional.h5");
  bitlens::H5WriteOptions fixed;
  fixed.fixed_length_strings = true;
  fixed.chunk_name_lists_over = 64;
  bitlens::write_model_h5(m, dir / "fixed_chunked.h5", fixed);
  bitlens::H5WriteOptions k3;
  k3.keras3_legacy = true;
  k3.keras_version = "3.10.0";
  bitlens::write_model_h5(m, dir / "keras3_legacy.h5", k3);
  bitlens::H5WriteOptions wo;
  wo.weights_only = true;
  bitlens::write_model_h5(m, dir / "weights_only.h5", wo);
  bitlens::write_model_keras(m, dir / "model.keras");

  k::ModelBuilder inner("inner", k::Style::sequential, 2);
  auto i = inner.input({4}, "inner_in");
  inner.dense(i, {.units = 3, .name = "inner_dense"});
  k::ModelBuilder outer("outer", k::Style::sequential, 3);
  auto o = outer.input({4});
  o = outer.nested(inner, {o});
  outer.batch_norm(o, {.scale = false});
  k::BuildOptions bare;
  bare.sequential_input_layer = false;
  bitlens::write_model_h5(outer.build(bare), dir / "nested_sequential.h5");
}

std::filesystem::path scratch() {
  return std::filesystem::temp_directory_path() /
         ("bitlens_model_fuzz_" + std::to_string(::getpid()) + ".bin");
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
  static const std::filesystem::path path = scratch();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  bitlens::LoadLimits limits;
  limits.isolate_hdf5 = false;
  try {
    bitlens::CompileResult c = bitlens::compile(bitlens::load_model(path, limits));
    (void)bitlens::host_limit_violation(c, 64, bitlens::RunKind::Compare);
  } catch (const bitlens::ModelError&) {
    // The documented outcome for a bad file.
  }
  return 0;
}
