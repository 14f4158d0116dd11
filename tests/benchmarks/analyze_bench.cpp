// Benchmark: `bitlens analyze` work (load + compile + text and JSON reports) on a ~4 MB model and
// on the bundled examples. Prints numbers; target: < 0.3 s for the 4 MB model.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/report.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;

namespace {

// A QuickNet-like network whose file holds ~4 MB of latent weights.
std::string four_mb_model() {
  static std::string path;
  if (!path.empty()) return path;
  kb::ModelBuilder b("bench_4mb");
  auto x = b.input({32, 32, 3});
  kb::ConvOptions stem;
  stem.filters = 64;
  stem.padding = "same";
  x = b.conv2d(x, stem);
  x = b.batch_norm(x);
  for (int i = 0; i < 8; ++i) {
    kb::ConvOptions c;
    c.filters = 128 + (i % 2) * 0;
    c.padding = "same";
    c.pad_values = 1.0;
    c.use_bias = false;
    c.input_quantizer = "ste_sign";
    c.kernel_quantizer = "ste_sign";
    x = b.quant_conv2d(x, c);
    x = b.batch_norm(x);
    if (i % 3 == 2) x = b.max_pool2d(x);
  }
  x = b.global_average_pool2d(x);
  kb::DenseOptions d;
  d.units = 10;
  d.activation = "softmax";
  x = b.dense(x, d);
  path = (std::filesystem::temp_directory_path() / "bitlens_bench_4mb.h5").string();
  write_model_h5(b.build(), path);
  return path;
}

void BM_Analyze(benchmark::State& state, const std::string& file) {
  for (auto _ : state) {
    CompileResult r = compile(load_model(file));
    std::string t = text_report(r);
    std::string j = json_report(r).dump();
    benchmark::DoNotOptimize(t);
    benchmark::DoNotOptimize(j);
  }
  state.counters["file_MB"] = static_cast<double>(std::filesystem::file_size(file)) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("analyze/4MB_quicknet_like", BM_Analyze, four_mb_model())->Unit(benchmark::kMillisecond);
  for (const char* m : {"forum_2layer_pad0.h5", "mnist_tutorial.h5", "quicknet_style.h5", "large_binary.h5"})
    benchmark::RegisterBenchmark((std::string("analyze/") + m).c_str(), BM_Analyze,
                                 std::string(BITLENS_MODELS_DIR) + "/" + m)
        ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
