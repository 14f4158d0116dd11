// Grouped convolution (Keras/Larq groups > 1) end to end: networks written with the project's
// writer, saved to .h5 and loaded back, compiled, then run by the kernels engine (Executor), the
// reference interpreter and the independent numpy oracle (tests/oracle/keras_oracle.py, which
// reads the .h5 itself). A BinaryFaceNet-like binary chain with QuantConv2D(groups=4) + BN,
// float grouped Conv2D, a binary-weights grouped first layer, pad_values -1/0/+1 and a
// non-binary one, strides, dilation, and grouped (Quant)Conv1D with same/valid/causal padding.
// Kernels vs reference: bit for bit where the outputs are integer dot products, else within
// 1e-4 relative; reference vs oracle within the differential test's 2e-3 (float64 sums there).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "oracle/run_oracle.hpp"
#include "unit/one_d_util.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;
namespace fs = std::filesystem;

namespace {

struct Written {
  fs::path dir, h5;
  CompileResult r;
  ~Written() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// Writes the model to .h5, loads it back (the real file layout) and compiles it.
std::unique_ptr<Written> through_file(const kb::ModelBuilder& b, const std::string& name) {
  auto w = std::make_unique<Written>();
  w->dir = fs::temp_directory_path() / ("bitlens_grouped_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(w->dir);
  w->h5 = w->dir / (name + ".h5");
  write_model_h5(b.build(), w->h5);
  w->r = compile(load_model(w->h5));
  return w;
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

bool has_reason(const Node& n, const std::string& code) {
  for (const auto& re : n.decision.reasons)
    if (re.code == code) return true;
  return false;
}

// The grouped layer runs on `kernel` with its own groups (no graph split, no fallback).
void expect_grouped(const CompileResult& r, const std::string& name, int groups, KernelClass kernel) {
  const Node& n = node(r, name);
  EXPECT_EQ(n.conv.groups, groups) << name;
  EXPECT_EQ(n.decision.kernel, kernel) << name;
  EXPECT_TRUE(has_reason(n, "GROUPED")) << name;
  // MACC = oh*ow*filters*kh*kw*C/groups (+ bias).
  const Tensor& in = r.graph.tensors[n.inputs[0]];
  const Tensor& out = r.graph.tensors[n.outputs[0]];
  bool bias = false;
  for (const auto& p : n.epi.chain) bias = bias || (p.kind == PostOp::Kind::Bias && p.from_layer == name);
  EXPECT_GE(n.macc, out.elements() * n.conv.kh * n.conv.kw * (in.shape.back() / groups)) << name;
  EXPECT_LE(n.macc, out.elements() * n.conv.kh * n.conv.kw * (in.shape.back() / groups) + (bias ? out.shape.back() : 0))
      << name;
}


// Kernels engine vs reference (exact: bit for bit), then reference vs the numpy oracle.
void expect_all_agree(const Written& w, bool exact, uint64_t seed = 3) {
  const CompileResult& r = w.r;
  for (const auto& n : r.graph.nodes)
    if (!n.removed) {
      ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
    }
  const auto x = random_inputs(r, seed, 2);
  const auto got = Executor(r).run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].shape, want[o].shape);
    float big = 0.0f;
    for (float v : want[o].data) big = std::max(big, std::fabs(v));
    for (size_t k = 0; k < got[o].data.size(); ++k) {
      const float a = got[o].data[k], b = want[o].data[k];
      if (exact) {
        ASSERT_EQ(a, b) << "kernels vs reference, output " << o << " element " << k;
        ASSERT_EQ(b, std::round(b)) << "expected an integer output, element " << k;
      } else {
        ASSERT_LE(std::fabs(a - b), 1e-4f * (1.0f + big)) << "kernels vs reference, output " << o << " element " << k;
      }
    }
  }

  // The oracle reads the .h5 and the inputs itself.
  std::string cmd = oracle_run::command() + " " +
                    w.h5.string();
  for (size_t i = 0; i < x.size(); ++i) {
    const fs::path p = w.dir / ("in" + std::to_string(i) + ".npy");
    write_npy(p, x[i]);
    cmd += " --input " + p.string();
  }
  for (size_t o = 0; o < want.size(); ++o) cmd += " --output " + (w.dir / ("out" + std::to_string(o) + ".npy")).string();
  const std::string log = oracle_run::run_capture(cmd);
  for (size_t o = 0; o < want.size(); ++o) {
    const fs::path p = w.dir / ("out" + std::to_string(o) + ".npy");
    ASSERT_TRUE(fs::exists(p)) << "the oracle wrote no output: " << log;
    const Array oracle = read_npy(p);
    ASSERT_EQ(oracle.shape, want[o].shape) << log;
    float big = 0.0f;
    for (float v : oracle.data) big = std::max(big, std::fabs(v));
    for (size_t k = 0; k < oracle.data.size(); ++k)
      ASSERT_LE(std::fabs(oracle.data[k] - want[o].data[k]), 2e-3f * (1.0f + big))
          << "reference vs oracle, output " << o << " element " << k << ": oracle " << oracle.data[k]
          << ", reference " << want[o].data[k];
  }
}

kb::ConvOptions qconv(int filters, int k, int groups, double pad_values, std::string name, int stride = 1,
                      int dil = 1, std::string padding = "same") {
  kb::ConvOptions c;
  c.filters = filters;
  c.kernel_size = {k, k};
  c.strides = {stride, stride};
  c.padding = std::move(padding);
  c.dilation_rate = {dil, dil};
  c.groups = groups;
  c.use_bias = false;
  c.input_quantizer = "ste_sign";
  c.kernel_quantizer = "ste_sign";
  c.pad_values = pad_values;
  c.name = std::move(name);
  return c;
}

// BinaryFaceNet-like: a binary-weights stem, then QuantConv2D(groups=4/2) + BatchNorm blocks
// on bits: 8 channels per group (bit copies), 32 per group (whole words), exact zero and +-1
// padding, a max-pool on bits, a stride-2 layer; the last grouped layer has no epilogue, so the
// model output is its integer dot products (or, with `float_head`, a BN + pooling + Dense head).
kb::ModelBuilder facenet_like(bool float_head) {
  kb::ModelBuilder b(float_head ? "facenet_head" : "facenet_ints", kb::Style::functional, 404);
  auto x = b.input({10, 10, 3});
  kb::ConvOptions stem = qconv(32, 3, 1, 0.0, "stem");
  stem.input_quantizer.clear();
  x = b.batch_norm(b.quant_conv2d(x, stem));
  x = b.batch_norm(b.quant_conv2d(x, qconv(64, 3, 4, 1.0, "g4_cg8")));
  x = b.max_pool2d(x);
  x = b.batch_norm(b.quant_conv2d(x, qconv(128, 3, 2, 0.0, "g2_cg32_zero")));
  x = b.batch_norm(b.quant_conv2d(x, qconv(128, 3, 4, -1.0, "g4_cg32_stride2", 2)));
  x = b.quant_conv2d(x, qconv(96, 1, 4, 0.0, "g4_pointwise", 1, 1, "valid"));
  if (float_head) {
    x = b.batch_norm(x);
    x = b.global_average_pool2d(x);
    kb::DenseOptions d;
    d.units = 10;
    x = b.dense(x, d);
  } else {
    x = b.flatten(x);
  }
  return b;
}

}  // namespace

TEST(GroupedConv, BinaryFaceNetLikeChainBitForBit) {
  const auto w = through_file(facenet_like(false), "facenet_ints");
  const CompileResult& r = w->r;
  expect_grouped(r, "g4_cg8", 4, KernelClass::Binary);
  expect_grouped(r, "g2_cg32_zero", 2, KernelClass::Binary);
  expect_grouped(r, "g4_cg32_stride2", 4, KernelClass::Binary);
  expect_grouped(r, "g4_pointwise", 4, KernelClass::Binary);
  // BatchNorm folds into integer thresholds and the grouped layers' outputs stay bits.
  EXPECT_TRUE(node(r, "g4_cg8").epi.bits);
  EXPECT_TRUE(node(r, "g2_cg32_zero").epi.bits);
  EXPECT_TRUE(node(r, "g4_cg32_stride2").epi.bits);
  EXPECT_FALSE(node(r, "g4_pointwise").epi.bits);
  EXPECT_TRUE(has_reason(node(r, "g2_cg32_zero"), "PAD_ZERO_EXACT"));
  EXPECT_TRUE(has_reason(node(r, "g4_cg8"), "CHANNELS_NOT_MULTIPLE_OF_32"));
  EXPECT_FALSE(has_reason(node(r, "g2_cg32_zero"), "CHANNELS_NOT_MULTIPLE_OF_32"));
  // A 3x3 filter over 8 channels of its group is 72 bits (3 words), over 32 channels 9 words.
  EXPECT_EQ(node(r, "g4_cg8").weight_bits.size(), 64u * 3u);
  EXPECT_EQ(node(r, "g2_cg32_zero").weight_bits.size(), 128u * 9u);
  expect_all_agree(*w, true);
}

TEST(GroupedConv, BinaryFaceNetLikeWithFloatHead) {
  const auto w = through_file(facenet_like(true), "facenet_head");
  expect_grouped(w->r, "g4_pointwise", 4, KernelClass::Binary);
  expect_all_agree(*w, false, 5);
}

// Float Conv2D(groups) with strides, dilation, ReLU and a folded BatchNorm; the last float
// grouped layer feeds a binary layer, so it emits bits (the sign of its float result).
TEST(GroupedConv, FloatGroupedConv2D) {
  kb::ModelBuilder b("float_grouped", kb::Style::functional, 405);
  auto x = b.input({9, 9, 6});
  kb::ConvOptions c;
  c.filters = 12; c.kernel_size = {3, 3}; c.strides = {2, 2}; c.padding = "same"; c.groups = 3;
  c.activation = "relu"; c.name = "f_g3_stride2";
  x = b.conv2d(x, c);
  c = {};
  c.filters = 8; c.kernel_size = {3, 2}; c.padding = "same"; c.dilation_rate = {2, 2}; c.groups = 4;
  c.name = "f_g4_dil2";
  x = b.batch_norm(b.conv2d(x, c));
  c = {};
  c.filters = 16; c.kernel_size = {1, 1}; c.groups = 2; c.name = "f_g2_to_bits";
  x = b.batch_norm(b.conv2d(x, c));
  x = b.quant_conv2d(x, qconv(8, 3, 2, 1.0, "b_g2"));
  x = b.flatten(x);
  const auto w = through_file(b, "float_grouped");
  expect_grouped(w->r, "f_g3_stride2", 3, KernelClass::Float);
  expect_grouped(w->r, "f_g4_dil2", 4, KernelClass::Float);
  expect_grouped(w->r, "f_g2_to_bits", 2, KernelClass::Float);
  expect_grouped(w->r, "b_g2", 2, KernelClass::Binary);
  EXPECT_TRUE(node(w->r, "f_g2_to_bits").epi.bits);
  expect_all_agree(*w, false);
}

// A binary-weights grouped first layer (real inputs, +-1 weights, pad_values -1 on the real
// input), and a grouped layer on +-1 inputs whose pad_values 0.5 is not binary (runs on the
// binary-weights kernel with unpacked inputs).
TEST(GroupedConv, BinaryWeightsGroupedLayers) {
  kb::ModelBuilder b("bw_grouped", kb::Style::functional, 406);
  auto x = b.input({8, 8, 6});
  kb::ConvOptions first = qconv(12, 3, 3, -1.0, "bw_first_g3");
  first.input_quantizer.clear();
  first.use_bias = true;
  x = b.batch_norm(b.quant_conv2d(x, first));
  x = b.quant_conv2d(x, qconv(12, 3, 2, 0.5, "bw_pad_half_g2", 1, 2));
  x = b.relu(x);
  x = b.flatten(x);
  kb::DenseOptions d;
  d.units = 5;
  x = b.dense(x, d);
  const auto w = through_file(b, "bw_grouped");
  expect_grouped(w->r, "bw_first_g3", 3, KernelClass::BinaryWeights);
  expect_grouped(w->r, "bw_pad_half_g2", 2, KernelClass::BinaryWeights);
  EXPECT_TRUE(has_reason(node(w->r, "bw_pad_half_g2"), "PAD_VALUE_NOT_BINARY"));
  expect_all_agree(*w, false);
}

// Grouped (Quant)Conv1D: same with pad_values +1, causal with dilation, valid with stride 2 and
// one input channel per group, and a float Conv1D(groups).
TEST(GroupedConv, GroupedConv1D) {
  using one_d::conv1d;
  kb::ModelBuilder b("conv1d_grouped", kb::Style::functional, 407);
  auto x = b.input({40, 8});
  x = conv1d(b, x, {.filters = 16, .k = 3, .padding = "same", .quant = true, .pad_values = 1.0, .groups = 4}, 1);
  x = b.layer("BatchNormalization", {x},
              {{"axis", {2}}, {"momentum", 0.99}, {"epsilon", 0.001}, {"center", true}, {"scale", true}}, x.shape,
              {{"gamma", one_d::random_array({16}, 11, -1.0f, 1.0f)},
               {"beta", one_d::random_array({16}, 12, -0.5f, 0.5f)},
               {"moving_mean", one_d::random_array({16}, 13, -1.0f, 1.0f)},
               {"moving_variance", one_d::random_array({16}, 14, 0.5f, 2.0f)}});
  x = conv1d(b, x, {.filters = 16, .k = 5, .padding = "causal", .dilation = 2, .quant = true, .groups = 2}, 2);
  x = conv1d(b, x, {.filters = 8, .k = 3, .padding = "valid", .strides = 2, .quant = true, .use_bias = false, .groups = 8}, 3);
  x = conv1d(b, x, {.filters = 4, .k = 3, .padding = "same", .groups = 2}, 4);
  const auto w = through_file(b, "conv1d_grouped");
  const CompileResult& r = w->r;
  int grouped = 0;
  for (const auto& n : r.graph.nodes)
    if (!n.removed && n.op == Op::Conv2D) {
      EXPECT_GT(n.conv.groups, 1) << n.name;
      EXPECT_TRUE(has_reason(n, "GROUPED")) << n.name;
      ++grouped;
    }
  EXPECT_EQ(grouped, 4);
  expect_all_agree(*w, false);
}
