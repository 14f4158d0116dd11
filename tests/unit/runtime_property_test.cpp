// Property test: random layer configurations compiled and run by the kernels engine equal the
// reference interpreter — bit for bit where the engine uses integer accumulators and thresholds
// (binary layers and everything downstream of their bits), within 1e-5 relative elsewhere.
// Seeded and reproducible; a failure prints the configuration.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;

namespace {

struct Config {
  int h, w, cin, cout, k, stride, dil;
  std::string padding;
  double pad;
  bool binary_input;   // input_quantizer ste_sign (else null: binary-weights kernel)
  bool depthwise;
  int tail;            // 0: float model output; 1: BN + sign consumer; 2: + MaxPool; 3: ReLU inside + BN;
                       // 4: ReLU inside, then BN as the float model output (QuickNet's block)
  std::string str() const {
    std::ostringstream o;
    o << "in " << h << "x" << w << "x" << cin << " -> " << cout << (depthwise ? " depthwise" : " conv") << " k" << k
      << " s" << stride << " d" << dil << " " << padding << " pad_values=" << pad
      << (binary_input ? " binary input" : " float input") << " tail=" << tail;
    return o.str();
  }
};

Model build(const Config& c, uint64_t seed) {
  kb::ModelBuilder b("prop", kb::Style::functional, seed);
  auto x = b.input({c.h, c.w, c.cin});
  if (c.depthwise) {
    kb::DepthwiseOptions o;
    o.kernel_size = {c.k, c.k};
    o.strides = {c.stride, c.stride};
    o.dilation_rate = {c.dil, c.dil};
    o.padding = c.padding;
    o.pad_values = c.pad;
    o.depth_multiplier = 1 + c.cout % 2;
    o.use_bias = c.tail == 0;
    o.input_quantizer = c.binary_input ? "ste_sign" : "";
    o.depthwise_quantizer = "ste_sign";
    if (c.tail == 3 || c.tail == 4) o.activation = "relu";
    x = b.quant_depthwise_conv2d(x, o);
  } else {
    kb::ConvOptions o;
    o.filters = c.cout;
    o.kernel_size = {c.k, c.k};
    o.strides = {c.stride, c.stride};
    o.dilation_rate = {c.dil, c.dil};
    o.padding = c.padding;
    o.pad_values = c.pad;
    o.use_bias = c.tail == 0 || c.tail == 3 || (c.tail == 4 && c.cout % 2 == 0);
    o.input_quantizer = c.binary_input ? "ste_sign" : "";
    o.kernel_quantizer = "ste_sign";
    if (c.tail == 3 || c.tail == 4) o.activation = "relu";
    x = b.quant_conv2d(x, o);
  }
  if (c.tail == 4) {
    x = b.batch_norm(x);
  } else if (c.tail >= 1) {
    if (c.tail == 2 && x.shape[0] >= 2 && x.shape[1] >= 2) x = b.max_pool2d(x);
    x = b.batch_norm(x);
    // The sign consumer: a binary 1x1 conv with float output, so every bit of the tested layer's
    // output reaches the model output as an exact integer.
    kb::ConvOptions o;
    o.filters = 3;
    o.kernel_size = {1, 1};
    o.use_bias = false;
    o.input_quantizer = "ste_sign";
    o.kernel_quantizer = "ste_sign";
    x = b.quant_conv2d(x, o);
  }
  return b.build();
}

}  // namespace

TEST(EngineVsReference, RandomLayerConfigurations) {
#if defined(__SANITIZE_ADDRESS__)
  const int count = 150;
#else
  const int count = 600;
#endif
  std::mt19937 rng(7);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int run = 0, bits_layers = 0, mid_clamped = 0;
  for (int i = 0; run < count && i < count * 4; ++i) {
    Config c;
    c.h = uni(1, 20);
    c.w = uni(1, 20);
    c.cin = uni(1, 100);
    c.cout = uni(1, 70);
    c.k = uni(1, 5);
    c.stride = uni(1, 3);
    c.dil = c.stride > 1 ? 1 : uni(1, 2);  // Keras forbids stride > 1 with dilation > 1
    c.padding = uni(0, 2) ? "same" : "valid";
    const double pads[] = {-1.0, 0.0, 1.0};
    c.pad = pads[uni(0, 2)];
    c.binary_input = uni(0, 3) != 0;
    c.depthwise = uni(0, 4) == 0;
    c.tail = uni(0, 4);
    const int eff = (c.k - 1) * c.dil + 1;
    if (c.padding == "valid" && (c.h < eff || c.w < eff)) continue;
    // Keep the reference interpreter's work bounded.
    if (int64_t{c.h} * c.w * c.cin * (c.depthwise ? 2 : c.cout) * c.k * c.k > 6'000'000) continue;
    ++run;
    SCOPED_TRACE("configuration #" + std::to_string(i) + ": " + c.str());
    CompileResult r = compile(build(c, static_cast<uint64_t>(i) + 1));
    const Node& layer = r.graph.nodes.at(1);
    ASSERT_NE(layer.decision.kernel, KernelClass::Unsupported);
    bits_layers += layer.epi.bits;
    const auto x = random_inputs(r, static_cast<uint64_t>(i), 2);
    Executor ex(r);
    const auto got = ex.run(x);
    const auto want = reference_run(r.model, x);
    // Tail 4 on a binary conv: ReLU then BatchNorm folded into the float output stage (the mid
    // clamp), Keras' own float32 operations, so bit for bit too.
    if (c.tail == 4 && !c.depthwise && c.binary_input && layer.decision.kernel == KernelClass::Binary) {
      EXPECT_TRUE(layer.epi.mid_clamp);
      ++mid_clamped;
    }
    const bool exact = layer.decision.kernel == KernelClass::Binary || (c.tail > 0 && c.tail < 4);
    for (size_t k = 0; k < got[0].data.size(); ++k) {
      const float a = got[0].data[k], b = want[0].data[k];
      if (exact) {
        ASSERT_EQ(a, b) << "element " << k;
      } else {
        ASSERT_LE(std::fabs(a - b), 1e-5f * (1.0f + std::fabs(b))) << "element " << k;
      }
    }
  }
  EXPECT_EQ(run, count);
  EXPECT_GT(bits_layers, count / 4) << "too few configurations exercised bit-packed outputs";
  EXPECT_GT(mid_clamped, count / 20) << "too few configurations folded ReLU then BatchNorm";
}

TEST(EngineVsReference, SeparableConvolutionsLowerToDepthwisePlusPointwise) {
  int k = 0;
  for (const bool quant : {true, false})
    for (const double pad : {-1.0, 0.0, 1.0})
      for (const int mult : {1, 2}) {
        SCOPED_TRACE(std::string(quant ? "QuantSeparableConv2D" : "SeparableConv2D") + " pad_values=" +
                     std::to_string(pad) + " depth_multiplier=" + std::to_string(mult));
        kb::ModelBuilder b("sep", kb::Style::functional, static_cast<uint64_t>(++k));
        auto x = b.input({9, 7, 5});
        kb::SeparableOptions o;
        o.filters = 6;
        o.padding = "same";
        o.pad_values = pad;
        o.depth_multiplier = mult;
        if (quant) {
          o.input_quantizer = "ste_sign";
          o.depthwise_quantizer = "ste_sign";
          o.pointwise_quantizer = "ste_sign";
          x = b.quant_separable_conv2d(x, o);
        } else {
          x = b.separable_conv2d(x, o);
        }
        CompileResult r = compile(b.build());
        const Node* dw = r.graph.find_node(r.model.layers.back().name + "/depthwise");
        const Node* pw = r.graph.find_node(r.model.layers.back().name);
        ASSERT_TRUE(dw && pw);
        EXPECT_EQ(dw->decision.kernel, quant ? KernelClass::Binary : KernelClass::Float);
        EXPECT_EQ(pw->decision.kernel, quant ? KernelClass::BinaryWeights : KernelClass::Float);
        const auto xs = random_inputs(r, static_cast<uint64_t>(k), 3);
        Executor ex(r);
        const auto got = ex.run(xs);
        const auto want = reference_run(r.model, xs);
        for (size_t i = 0; i < got[0].data.size(); ++i)
          ASSERT_NEAR(got[0].data[i], want[0].data[i], quant ? 0.0f : 1e-5f * (1.0f + std::fabs(want[0].data[i])))
              << "element " << i;
      }
}

// QuickNet's shortcut: binary conv (ReLU inside, optionally a BatchNorm) -> Add with another
// float tensor of its shape. Where the patch or the bit-sliced kernel runs the conv, the Add
// folds into its float output stage (RESIDUAL_ADD, the Add FUSED, the other operand an input of
// the conv) and the
// result is bit for bit the reference's, operands in either order. A shortcut computed by a
// layer listed after the conv is not ready when the conv runs: that Add stays a pass.
TEST(EngineVsReference, ResidualAddFoldsIntoTheBinaryConvStage) {
#if defined(__SANITIZE_ADDRESS__)
  const int count = 60;
#else
  const int count = 200;
#endif
  std::mt19937 rng(11);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int folded = 0, late = 0, sliced = 0, quantized_sums = 0;
  for (int i = 0; i < count; ++i) {
    const int h = uni(1, 12), w = uni(1, 12), cin = uni(1, 80), cout = uni(1, 70), k = uni(1, 3), stride = uni(1, 2);
    const bool same = uni(0, 2) != 0, bn = uni(0, 3) != 0, first = uni(0, 1) != 0, after = uni(0, 3) == 0;
    // ST's hybrid blocks quantize the sum (an int8 tensor): that quantizer must not fold into the
    // conv's stage, which would round before the residual is added.
    const bool quantized = uni(0, 3) == 0;
    const double pads[] = {-1.0, 0.0, 1.0};
    const double pad = pads[uni(0, 2)];
    if (!same && (h < k || w < k)) continue;
    const int oh = same ? (h + stride - 1) / stride : (h - k) / stride + 1;
    const int ow = same ? (w + stride - 1) / stride : (w - k) / stride + 1;
    std::ostringstream d;
    d << "in " << h << "x" << w << "x" << cin << " -> " << cout << " k" << k << " s" << stride << (same ? " same" : " valid")
      << " pad_values=" << pad << (bn ? " bn" : "") << (first ? " shortcut first" : " conv first")
      << (after ? " shortcut after the conv" : "") << (quantized ? " STCustomDoReFa after the sum" : "");
    SCOPED_TRACE("configuration #" + std::to_string(i) + ": " + d.str());
    kb::ModelBuilder b("res", kb::Style::functional, static_cast<uint64_t>(i) + 1);
    auto x = b.input({h, w, cin});
    auto s = b.input({oh, ow, cout});
    kb::ConvOptions o;
    o.filters = cout;
    o.kernel_size = {k, k};
    o.strides = {stride, stride};
    o.padding = same ? "same" : "valid";
    o.pad_values = pad;
    o.use_bias = uni(0, 1) != 0;
    o.activation = "relu";
    o.input_quantizer = "ste_sign";
    o.kernel_quantizer = "ste_sign";
    auto y = b.quant_conv2d(x, o);
    const std::string conv = y.layer;
    if (bn) y = b.batch_norm(y);
    if (after) s = b.relu(s);
    const auto sum = first ? b.add({s, y}) : b.add({y, s});
    if (quantized) b.relu(b.activation(sum, "STCustomDoReFa(k_bit=8,mode=activations)"));
    CompileResult r = compile(b.build());
    const Node* c = r.graph.find_node(conv);
    const Node* a = r.graph.find_node(sum.layer);
    ASSERT_TRUE(c && a);
    const bool patch = c->decision.kernel_name == "bl_bconv2d" || c->decision.kernel_name == "bl_bconv2d_bitsliced";
    sliced += patch && c->decision.kernel_name == "bl_bconv2d_bitsliced" && !after;
    if (patch && !after) {
      EXPECT_EQ(c->epi.residual, 1);
      EXPECT_EQ(a->decision.kernel, KernelClass::Fused);
      EXPECT_EQ(a->decision.fused_into, conv);
      EXPECT_FALSE(c->epi.s8);
      ++folded;
      quantized_sums += quantized;
    } else {
      EXPECT_EQ(c->epi.residual, -1);
      EXPECT_EQ(a->decision.kernel_name, "bl_add_f32");
      late += after && patch;
    }
    const auto xs = random_inputs(r, static_cast<uint64_t>(i), 2);
    Executor ex(r);
    const auto got = ex.run(xs);
    const auto want = reference_run(r.model, xs);
    ASSERT_EQ(got[0].data.size(), want[0].data.size());
    for (size_t e = 0; e < got[0].data.size(); ++e) ASSERT_EQ(got[0].data[e], want[0].data[e]) << "element " << e;
  }
  EXPECT_GT(folded, count / 4);
  EXPECT_GT(sliced, 0);
  EXPECT_GT(quantized_sums, 0);
  EXPECT_GT(late, 0);
}
