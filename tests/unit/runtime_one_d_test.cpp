// 1-D networks: Conv1D / QuantConv1D (same, valid, causal; strides, dilation, pad_values), the
// 1-D pools and padding, UpSampling1D, BatchNormalization(axis=[2]) on rank-3 tensors and Dense
// on rank-3 inputs. Each model is written with the project's writer in tf.keras' layout
// (kernel (k, cin, cout), "kernel_size": [k], "axis": [2]), saved to .h5 and loaded back, then
// run by both engines: bit for bit where the kernels are binary, within 1e-5 relative elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/report.hpp"
#include "bitlens/runtime.hpp"
#include "unit/one_d_util.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;
namespace fs = std::filesystem;

using namespace one_d;

namespace {

// Writes, reloads (the real .h5 layout) and compiles.
CompileResult through_file(const Model& model, const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("bitlens_one_d_" + std::to_string(::getpid()) + "_" + name + ".h5");
  write_model_h5(model, p);
  Model m = load_model(p);
  fs::remove(p);
  return compile(std::move(m));
}
CompileResult through_file(const kb::ModelBuilder& b, const std::string& name) { return through_file(b.build(), name); }

// Kernels engine vs reference; `exact` demands equal bits.
void expect_engines_agree(const CompileResult& r, bool exact, uint64_t seed = 1) {
  for (const auto& n : r.graph.nodes) {
    if (!n.removed) {
      ASSERT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
    }
  }
  const auto x = random_inputs(r, seed, 2);
  const auto got = Executor(r).run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].shape, want[o].shape);
    for (size_t k = 0; k < got[o].data.size(); ++k) {
      const float a = got[o].data[k], b = want[o].data[k];
      if (exact) {
        ASSERT_EQ(a, b) << "output " << o << " element " << k;
      } else {
        ASSERT_LE(std::fabs(a - b), 1e-5f * (1.0f + std::fabs(b))) << "output " << o << " element " << k;
      }
    }
  }
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

}  // namespace

// A plain Conv1D CNN on 48,000 audio samples (1 channel), as in keyword spotting.
TEST(OneD, Conv1DCnnOnRawAudio) {
  kb::ModelBuilder b("audio_cnn", kb::Style::functional, 1);
  auto x = b.input({48000, 1});
  x = conv1d(b, x, {.filters = 8, .k = 9, .padding = "valid", .strides = 4, .activation = "relu"}, 1);
  x = b.layer("MaxPooling1D", {x}, {{"pool_size", {4}}, {"strides", {4}}, {"padding", "valid"}, {"data_format", "channels_last"}},
              {2997, 8});
  x = conv1d(b, x, {.filters = 16, .k = 5, .padding = "same", .strides = 2, .activation = "relu"}, 2);
  x = b.layer("AveragePooling1D", {x}, {{"pool_size", {3}}, {"strides", {2}}, {"padding", "same"}, {"data_format", "channels_last"}},
              {750, 16});
  x = b.layer("GlobalAveragePooling1D", {x}, {{"data_format", "channels_last"}, {"keepdims", false}}, {16});
  kb::DenseOptions d;
  d.units = 10;
  d.activation = "softmax";
  b.dense(x, d);
  const CompileResult r = through_file(b, "audio");
  EXPECT_EQ(r.graph.tensors[node(r, r.model.layers[1].name).outputs[0]].shape, (std::vector<int64_t>{11998, 8}));
  expect_engines_agree(r, false);
}

// A Larq audio BNN: three QuantConv1D with ste_sign, every pad_values, a causal and a dilated
// one, BatchNormalization(axis=[2]) folded into thresholds, a bit max-pool, GlobalMaxPooling1D.
TEST(OneD, QuantConv1DBnnIsBinaryAndExact) {
  for (const double pad : {-1.0, 0.0, 1.0}) {
    SCOPED_TRACE("pad_values=" + std::to_string(pad));
    kb::ModelBuilder b("bnn1d", kb::Style::functional, 3);
    auto x = b.input({100, 6});
    x = conv1d(b, x, {.filters = 32, .k = 5, .padding = "same", .quant = false}, 3);
    x = b.batch_norm(x);
    x = conv1d(b, x, {.filters = 40, .k = 3, .padding = "same", .quant = true, .pad_values = pad, .use_bias = false}, 4);
    x = b.batch_norm(x);
    x = b.layer("MaxPooling1D", {x}, {{"pool_size", 2}, {"strides", nullptr}, {"padding", "valid"}}, {50, 40});
    x = conv1d(b, x, {.filters = 24, .k = 3, .padding = "causal", .dilation = 2, .quant = true, .use_bias = false}, 5);
    x = b.batch_norm(x);
    x = conv1d(b, x, {.filters = 16, .k = 4, .padding = "valid", .strides = 3, .quant = true, .use_bias = false}, 6);
    x = b.layer("GlobalMaxPooling1D", {x}, {{"data_format", "channels_last"}, {"keepdims", false}}, {16});
    const CompileResult r = through_file(b, "bnn" + std::to_string(int(pad)));
    int binary = 0;
    for (const auto& n : r.graph.nodes)
      if (!n.removed && n.class_name == "QuantConv1D") {
        EXPECT_EQ(n.decision.kernel, KernelClass::Binary) << n.name;
        ++binary;
      }
    EXPECT_EQ(binary, 3);
    EXPECT_TRUE(node(r, r.model.layers[3].name).epi.bits) << "BN should fold into the first QuantConv1D's thresholds";
    expect_engines_agree(r, true);
  }
}

// A TCN as Keras 2.12 saves it: residual blocks as nested functional models, causal dilated
// Conv1D, BatchNormalization(axis=[2]), ReLU, Add; Dense on the rank-3 sequence output.
TEST(OneD, TcnWithNestedBlocksAndSequenceDense) {
  const CompileResult r = through_file(tcn_model(), "tcn");
  const auto& out = r.graph.tensors[r.graph.outputs[0]];
  EXPECT_EQ(out.shape, (std::vector<int64_t>{64, 3}));
  expect_engines_agree(r, false);
}

// ZeroPadding1D, UpSampling1D and a QuantDense on a sequence.
TEST(OneD, PaddingUpsamplingAndSequenceQuantDense) {
  kb::ModelBuilder b("misc1d", kb::Style::functional, 9);
  auto x = b.input({20, 5});
  x = b.layer("ZeroPadding1D", {x}, {{"padding", {2, 3}}}, {25, 5});
  x = b.layer("UpSampling1D", {x}, {{"size", 3}}, {75, 5});
  x = conv1d(b, x, {.filters = 7, .k = 4, .padding = "valid", .strides = 2}, 11);
  kb::DenseOptions d;
  d.units = 6;
  d.input_quantizer = "ste_sign";
  d.kernel_quantizer = "ste_sign";
  d.use_bias = false;
  x = b.quant_dense(x, d);
  const CompileResult r = through_file(b, "misc");
  EXPECT_EQ(node(r, r.model.layers.back().name).decision.kernel, KernelClass::Binary);
  expect_engines_agree(r, false);
}

// Reports print the Keras shapes of 1-D tensors, not the height-1 view the kernels use.
TEST(OneD, ReportsShowSequenceShapes) {
  kb::ModelBuilder b("shapes1d", kb::Style::functional, 5);
  auto x = b.input({30, 4});
  conv1d(b, x, {.filters = 6, .k = 3, .padding = "causal"}, 12);
  const CompileResult r = through_file(b, "shapes");
  const std::string text = text_report(r);
  EXPECT_NE(text.find("30x6"), std::string::npos) << text;
  EXPECT_EQ(text.find("1x30x6"), std::string::npos) << text;
}

// UpSampling2D: nearest runs on both engines; bilinear is refused by name, not run as nearest.
TEST(OneD, UpSampling2DNearestRunsBilinearIsUnsupported) {
  for (const std::string interp : {"nearest", "bilinear"}) {
    SCOPED_TRACE(interp);
    kb::ModelBuilder b("up2d", kb::Style::functional, 4);
    auto x = b.input({3, 4, 2});
    b.layer("UpSampling2D", {x}, {{"size", {2, 3}}, {"data_format", "channels_last"}, {"interpolation", interp}},
            {6, 12, 2});
    const CompileResult r = through_file(b, "up2d_" + interp);
    const Node& up = node(r, r.model.layers.back().name);
    if (interp == "nearest") {
      EXPECT_EQ(up.decision.kernel_name, "bl_upsample_f32");
      expect_engines_agree(r, true);
    } else {
      EXPECT_EQ(up.decision.kernel, KernelClass::Unsupported);
      ASSERT_FALSE(up.decision.reasons.empty());
      EXPECT_EQ(up.decision.reasons[0].code, "UPSAMPLING_INTERPOLATION");
      EXPECT_NE(up.decision.reasons[0].message.find("bilinear"), std::string::npos);
    }
  }
}

// A causal, dilated k-bit QuantConv1D (STCustomDoReFa 8-bit inputs and weights): it runs on the
// int8 kernel, and both engines give identical outputs, the reference keeping the input's levels
// across its causal padding (core/reference/one_d.cpp).
TEST(OneD, CausalKbitConv1DRunsOnTheInt8KernelAndEqualsTheReference) {
  kb::ModelBuilder b("kbit_1d", kb::Style::functional, 3);
  auto x = b.input({20, 6});
  const json act = {{"class_name", "STCustomDoReFa"}, {"config", {{"k_bit", 8}, {"mode", "activations"}}}};
  const json wq = {{"class_name", "STCustomDoReFa"}, {"config", {{"k_bit", 8}, {"mode", "weights"}}}};
  one_d::conv1d(b, x,
                {.filters = 5, .k = 3, .padding = "causal", .dilation = 2, .quant = true, .use_bias = true,
                 .input_quantizer = act, .kernel_quantizer = wq},
                7);
  const CompileResult r = compile(b.build());
  const Node* n = r.graph.find_node("quant_conv1d");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->decision.kernel_name, "bl_conv2d_s8");
  const Array in = one_d::random_array({4, 20, 6}, 9, -1.5f, 1.5f);
  const auto got = Executor(r).run({in});
  const auto want = reference_run(r.model, {in});
  ASSERT_EQ(got[0].shape, want[0].shape);
  for (size_t k = 0; k < got[0].data.size(); ++k) ASSERT_EQ(got[0].data[k], want[0].data[k]) << k;
}
