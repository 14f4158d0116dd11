// Host benchmark of the fixed layer suite (docs/performance.md): the same five layers as the
// Cortex-M suite in kernels/bench/, plus end-to-end runs of the forum two-layer model and the
// MNIST tutorial network through the executor. Prints ns per call and MACs per ns.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "bitlens/bl_kernels.h"
#include "bitlens/compiler.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;

namespace {

std::mt19937 rng(1);

std::vector<uint32_t> random_words(size_t n) {
  std::vector<uint32_t> v(n);
  for (auto& w : v) w = static_cast<uint32_t>(rng());
  return v;
}

std::vector<float> random_floats(size_t n) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

bl_conv_geom geom(int hw, int cin, int cout) {
  bl_conv_geom g{};
  g.in_h = g.in_w = g.out_h = g.out_w = hw;
  g.in_c = cin;
  g.out_c = cout;
  g.k_h = g.k_w = 3;
  g.stride_h = g.stride_w = g.dil_h = g.dil_w = 1;
  g.pad_top = g.pad_left = 1;
  return g;
}

void set_macs(benchmark::State& state, double macs) {
  state.counters["MACs"] = macs;
  // Rate over CPU time: MACs per nanosecond, printed by Google Benchmark as "G/s".
  state.counters["MAC_rate"] = benchmark::Counter(macs * static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}

void BM_BConv(benchmark::State& state, bl_bpad pad) {
  bl_bconv2d_params p{};
  p.g = geom(32, 64, 64);
  p.pad = pad;
  const auto w = random_words(bl_bconv2d_weight_words(3, 3, 64, 64));
  std::vector<int32_t> thr(64, 0);
  p.weights = w.data();
  p.out.kind = BL_OUT_BITS;
  p.out.threshold = thr.data();
  p.out.act_min = -INFINITY;
  p.out.act_max = INFINITY;
  const auto in = random_words(32 * 32 * 64 / 32);
  std::vector<uint32_t> out(32 * 32 * 64 / 32), scratch(bl_bconv2d_scratch_size(&p) / 4 + 1);
  for (auto _ : state) {
    bl_bconv2d(&p, in.data(), out.data(), scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_macs(state, 32.0 * 32 * 64 * 9 * 64);
}

void BM_FConv(benchmark::State& state) {
  bl_conv2d_params p{};
  p.g = geom(32, 64, 64);
  const auto w = random_floats(9 * 64 * 64);
  p.weights = w.data();
  p.out.kind = BL_OUT_F32;
  p.out.act_min = -INFINITY;
  p.out.act_max = INFINITY;
  const auto in = random_floats(32 * 32 * 64);
  std::vector<float> out(32 * 32 * 64);
  for (auto _ : state) {
    bl_conv2d(&p, in.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_macs(state, 32.0 * 32 * 64 * 9 * 64);
}

void BM_BWConv(benchmark::State& state) {
  bl_bwconv2d_params p{};
  p.g = geom(32, 3, 64);
  const auto w = random_words(bl_bconv2d_weight_words(3, 3, 3, 64));
  p.weights = w.data();
  p.out.kind = BL_OUT_F32;
  p.out.act_min = -INFINITY;
  p.out.act_max = INFINITY;
  const auto in = random_floats(32 * 32 * 3);
  std::vector<float> out(32 * 32 * 64), scratch(bl_bwconv2d_scratch_size(&p) / 4 + 1);
  for (auto _ : state) {
    bl_bwconv2d(&p, in.data(), out.data(), scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_macs(state, 32.0 * 32 * 3 * 9 * 64);
}

void BM_BDense(benchmark::State& state) {
  bl_bdense_params p{};
  p.n_in = 1024;
  p.n_out = 512;
  const auto w = random_words(512 * 32);
  std::vector<int32_t> thr(512, 0);
  p.weights = w.data();
  p.out.kind = BL_OUT_BITS;
  p.out.threshold = thr.data();
  const auto in = random_words(32);
  std::vector<uint32_t> out(16);
  for (auto _ : state) {
    bl_bdense(&p, in.data(), out.data(), nullptr);
    benchmark::DoNotOptimize(out.data());
  }
  set_macs(state, 1024.0 * 512);
}

void BM_Model(benchmark::State& state, const std::string& file) {
  CompileResult c = compile(load_model(std::string(BITLENS_MODELS_DIR) + "/" + file));
  Executor ex(c);
  const auto x = random_inputs(c, 1, 1);
  for (auto _ : state) {
    auto y = ex.run(x);
    benchmark::DoNotOptimize(y);
  }
  set_macs(state, static_cast<double>(c.totals.macc));
}

}  // namespace

BENCHMARK_CAPTURE(BM_BConv, 1_bconv2d_3x3_32x32x64_pad_plus1_bits, BL_PAD_PLUS_ONE)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_BConv, 2_bconv2d_3x3_32x32x64_pad_0_bits, BL_PAD_ZERO)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FConv)->Name("3_conv2d_f32_3x3_32x32x64")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BWConv)->Name("4_bwconv2d_3x3_32x32x3_to_64")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BDense)->Name("5_bdense_1024_to_512_bits")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Model, 6_forum_2layer_pad0, std::string("forum_2layer_pad0.h5"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Model, 6_mnist_tutorial, std::string("mnist_tutorial.h5"))->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
