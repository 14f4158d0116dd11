// Activations are never dropped: every activation function Keras 2.x/3 and Larq ship, as a
// conv/dense layer's own `activation`, as an Activation layer and as the ReLU / LeakyReLU / ELU /
// PReLU layers, runs on the kernels engine with the reference interpreter's results; anything
// else (a custom function, a quantizer object, a made-up name) makes the layer `unsupported`
// with a reason naming it — never linear.
#include <gtest/gtest.h>

#include <cmath>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;

namespace {

bool has_reason(const Node& n, const std::string& code, std::string* message = nullptr) {
  for (const auto& r : n.decision.reasons)
    if (r.code == code) {
      if (message) *message = r.message;
      return true;
    }
  return false;
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

// Both engines on the same random inputs: element-wise within `rel` relative (plus a tiny
// absolute floor for results near 0), and returns the largest output magnitude seen.
float compare_engines(const CompileResult& r, uint64_t seed, float rel = 2e-5f) {
  const auto x = random_inputs(r, seed, 3);
  Executor ex(r);
  const auto got = ex.run(x);
  const auto want = reference_run(r.model, x);
  float peak = 0;
  for (size_t o = 0; o < got.size(); ++o) {
    EXPECT_EQ(got[o].data.size(), want[o].data.size());
    for (size_t k = 0; k < got[o].data.size(); ++k) {
      const float a = got[o].data[k], b = want[o].data[k];
      peak = std::max(peak, std::fabs(a));
      if (a == b) continue;  // also equal infinities (exponential)
      if (!(std::fabs(a - b) <= rel * std::fabs(b) + 1e-6f)) {
        ADD_FAILURE() << "output " << o << " element " << k << ": kernels " << a << ", reference " << b;
        return peak;
      }
    }
  }
  return peak;
}

kb::ConvOptions binary_conv(int filters, std::string activation) {
  kb::ConvOptions o;
  o.filters = filters;
  o.kernel_size = {3, 3};
  o.input_quantizer = "ste_sign";
  o.kernel_quantizer = "ste_sign";
  o.activation = std::move(activation);
  return o;
}

}  // namespace

// The reproduction: hard_tanh on a binary conv ran as linear (outputs up to 26).
TEST(Activations, HardTanhOnABinaryConvIsClampedOnBothEngines) {
  kb::ModelBuilder b("ht", kb::Style::functional, 3);
  auto x = b.input({6, 6, 16});
  x = b.quant_conv2d(x, binary_conv(4, "hard_tanh"));
  CompileResult r = compile(b.build());
  const Node& conv = node(r, r.model.layers.back().name);
  EXPECT_EQ(conv.decision.kernel, KernelClass::Binary);
  EXPECT_EQ(conv.epi.act_min, -1.0f);
  EXPECT_EQ(conv.epi.act_max, 1.0f);
  const float peak = compare_engines(r, 1);
  EXPECT_LE(peak, 1.0f);
  EXPECT_EQ(peak, 1.0f) << "the clamp should be reached on 144-term dot products";
}

// Every name in the one activation list, as a Dense layer's activation and as an Activation
// layer after a binary conv; the kernels engine equals the reference.
TEST(Activations, EveryNamedActivationRunsOnBothEngines) {
  int n = 0;
  for (const auto& e : sem::kActivationNames) {
    const std::string name(e.name);
    for (const bool keras3 : {false, true}) {
      SCOPED_TRACE(name + (keras3 ? " (Keras 3 file)" : " (tf.keras 2 file)"));
      kb::ModelBuilder b("act", kb::Style::functional, static_cast<uint64_t>(++n));
      auto x = b.input({5, 5, 8});
      x = b.quant_conv2d(x, binary_conv(6, "linear"));
      x = b.activation(x, name);
      x = b.flatten(x);
      kb::DenseOptions d;
      d.units = 7;
      d.activation = name;
      x = b.dense(x, d);
      Model m = b.build();
      if (keras3) m.keras_version = "3.10.0";  // what a Keras 3 file's attribute says
      CompileResult r = compile(std::move(m));
      for (const auto& nd : r.graph.nodes) {
        if (nd.removed) continue;
        EXPECT_NE(nd.decision.kernel, KernelClass::Unsupported) << nd.name;
      }
      const Node& act = node(r, r.model.layers[2].name);
      if (!act.removed) {
        EXPECT_EQ(act.activation, name);
      }
      compare_engines(r, static_cast<uint64_t>(n), name == "exponential" ? 1e-4f : 2e-5f);
    }
  }
}

// Keras 3's hard_sigmoid is relu6(x + 3) / 6, tf.keras 2's clip(0.2 x + 0.5, 0, 1): at x = 2
// they give 5/6 and 0.9. The file's keras_version decides, on both engines.
TEST(Activations, HardSigmoidFollowsTheFilesKerasVersion) {
  for (const bool keras3 : {false, true}) {
    kb::ModelBuilder b("hs", kb::Style::functional, 1);
    auto x = b.input({4});
    x = b.activation(x, "hard_sigmoid");
    Model m = b.build();
    if (keras3) m.keras_version = "3.10.0";
    CompileResult r = compile(std::move(m));
    Array in{{1, 4}, {2.0f, -1.0f, 0.0f, 3.0f}};
    const auto got = Executor(r).run({in});
    const auto want = reference_run(r.model, {in});
    const float at2 = keras3 ? 5.0f / 6.0f : 0.9f;
    EXPECT_NEAR(got[0].data[0], at2, 1e-6f);
    EXPECT_EQ(got[0].data, want[0].data);
  }
}

// Keras 3 serializes a built-in activation as a function object.
TEST(Activations, Keras3FunctionObjectsAreRead) {
  kb::ModelBuilder b("k3", kb::Style::functional, 2);
  auto x = b.input({3, 3, 4});
  x = b.layer("Activation", {x},
              {{"activation", {{"module", "keras.activations"}, {"class_name", "function"}, {"config", "gelu"},
                               {"registered_name", "gelu"}}}},
              {3, 3, 4});
  CompileResult r = compile(b.build());
  const Node& act = node(r, r.model.layers.back().name);
  EXPECT_EQ(act.activation, "gelu");
  EXPECT_EQ(act.decision.kernel, KernelClass::Float);
  compare_engines(r, 4);
}

// A custom function saved by name, a made-up name and quantizer objects BitLens does not run as
// a step (a sign quantizer; STCustomDoReFa in weights mode, whose maximum spans the whole
// tensor; "activations" mode runs: compiler_kbit_test): the file loads, the layer is
// unsupported with a reason that names the activation, and nothing runs it as linear.
TEST(Activations, UnknownActivationsAreUnsupportedByName) {
  const json st_dorefa = {{"class_name", "STCustomDoReFa"},
                          {"config", {{"name", "st_custom_do_re_fa_7"}, {"k_bit", 8}, {"mode", "weights"}}}};
  struct Case {
    json activation;
    std::string named;
  } cases[] = {{"binary_tanh", "binary_tanh"}, {"not_an_activation", "not_an_activation"},
               {st_dorefa, "STCustomDoReFa"}, {"ste_sign", "ste_sign"}};
  int seed = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.activation.dump());
    // As an Activation layer.
    {
      kb::ModelBuilder b("u", kb::Style::functional, static_cast<uint64_t>(++seed));
      auto x = b.input({4, 4, 3});
      x = b.layer("Activation", {x}, {{"activation", c.activation}}, {4, 4, 3});
      CompileResult r = compile(b.build());
      const Node& act = node(r, r.model.layers.back().name);
      std::string msg;
      EXPECT_EQ(act.decision.kernel, KernelClass::Unsupported);
      EXPECT_TRUE(has_reason(act, "ACTIVATION", &msg));
      EXPECT_NE(msg.find(c.named), std::string::npos) << msg;
      EXPECT_THROW(Executor{r}, ModelError);
    }
    // As a conv layer's own activation (strings only: Keras writes objects only for functions).
    if (c.activation.is_string()) {
      kb::ModelBuilder b("u", kb::Style::functional, static_cast<uint64_t>(++seed));
      auto x = b.input({6, 6, 16});
      x = b.quant_conv2d(x, binary_conv(4, c.activation.get<std::string>()));
      CompileResult r = compile(b.build());
      const Node& conv = node(r, r.model.layers.back().name);
      std::string msg;
      EXPECT_EQ(conv.decision.kernel, KernelClass::Unsupported);
      EXPECT_TRUE(has_reason(conv, "ACTIVATION", &msg));
      EXPECT_NE(msg.find(c.named), std::string::npos) << msg;
    }
  }
}

// ReLU with each of its parameters, standalone (not foldable) and after a conv; LeakyReLU in
// both spellings; ELU with alpha; PReLU with and without shared axes.
TEST(Activations, ParametrizedActivationLayersRunOnBothEngines) {
  struct Case {
    std::string cls;
    json config;
    std::vector<std::pair<std::string, Array>> weights;
  };
  Array slopes_c{{1, 1, 5}, {0.1f, -0.5f, 0.0f, 2.0f, 0.25f}};
  Array slopes_full{{4, 4, 5}, {}};
  for (int i = 0; i < 80; ++i) slopes_full.data.push_back(0.01f * static_cast<float>(i) - 0.3f);
  Array slopes_w{{1, 4, 1}, {0.5f, 1.5f, -1.0f, 0.0f}};
  const Case cases[] = {
      {"ReLU", {{"max_value", 2.5}, {"negative_slope", 0.0}, {"threshold", 0.0}}, {}},
      {"ReLU", {{"max_value", nullptr}, {"negative_slope", 0.1}, {"threshold", 0.0}}, {}},
      {"ReLU", {{"max_value", 3.0}, {"negative_slope", 0.2}, {"threshold", 0.5}}, {}},
      {"ReLU", {{"max_value", 6.0}, {"negative_slope", 0.3}, {"threshold", 0.0}}, {}},
      {"ReLU", {{"max_value", nullptr}, {"negative_slope", 0.0}, {"threshold", -0.5}}, {}},
      {"LeakyReLU", {{"alpha", 0.1}}, {}},
      {"LeakyReLU", {{"negative_slope", 0.02}}, {}},
      {"LeakyReLU", json::object(), {}},
      {"ELU", {{"alpha", 0.5}}, {}},
      {"PReLU", {{"shared_axes", {1, 2}}}, {{"alpha", slopes_c}}},
      {"PReLU", {{"shared_axes", nullptr}}, {{"alpha", slopes_full}}},
      {"PReLU", {{"shared_axes", {1, 3}}}, {{"alpha", slopes_w}}},
  };
  int seed = 0;
  for (const auto& c : cases) {
    for (const bool after_add : {false, true}) {
      SCOPED_TRACE(c.cls + " " + c.config.dump() + (after_add ? " after Add" : " after a conv"));
      kb::ModelBuilder b("p", kb::Style::functional, static_cast<uint64_t>(++seed));
      auto in = b.input({4, 4, 3});
      kb::ConvOptions o;
      o.filters = 5;
      o.padding = "same";
      auto x = b.conv2d(in, o);
      if (after_add) x = b.add({x, x});
      x = b.layer(c.cls, {x}, c.config, {4, 4, 5}, c.weights);
      CompileResult r = compile(b.build());
      const Node& act = node(r, r.model.layers.back().name);
      EXPECT_NE(act.decision.kernel, KernelClass::Unsupported);
      compare_engines(r, static_cast<uint64_t>(seed));
    }
  }
}

// hard_tanh and a capped ReLU before a binary layer fold into the thresholds (a clamp), so the
// bit-packed path stays exact.
TEST(Activations, ClampActivationsBeforeABinaryLayerStayExact) {
  for (const std::string act : {"hard_tanh", "relu6", "relu"}) {
    SCOPED_TRACE(act);
    kb::ModelBuilder b("c", kb::Style::functional, 9);
    auto x = b.input({7, 7, 8});
    kb::ConvOptions o = binary_conv(32, "linear");
    o.padding = "same";
    o.use_bias = true;
    x = b.quant_conv2d(x, o);
    x = b.batch_norm(x);
    x = b.activation(x, act);
    x = b.quant_conv2d(x, binary_conv(3, "linear"));
    CompileResult r = compile(b.build());
    const Node& first = node(r, r.model.layers[1].name);
    EXPECT_TRUE(first.epi.bits) << "the first conv should produce bits";
    const auto xin = random_inputs(r, 5, 2);
    const auto got = Executor(r).run(xin);
    const auto want = reference_run(r.model, xin);
    EXPECT_EQ(got[0].data, want[0].data);
  }
}
