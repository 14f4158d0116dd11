// Kernel choice, reasons, folding and costs on the forum's models, the MNIST tutorial network
// and targeted configurations, built in memory exactly as tf.keras + larq serialize them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/report.hpp"
#include "bitlens/runtime.hpp"
#include "passes/passes.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;

namespace {

Model forum(int layers, double pad) {
  kb::ModelBuilder b("test");
  auto x = b.input({32, 32, 1}, "input_1");
  for (int i = 0; i < layers; ++i) {
    kb::ConvOptions o;
    o.filters = 16;
    o.padding = "same";
    o.use_bias = false;
    o.input_quantizer = "ste_sign";
    o.kernel_quantizer = "ste_sign";
    o.pad_values = pad;
    x = b.quant_conv2d(x, o);
  }
  return b.build();
}

Model mnist() {
  kb::ModelBuilder b("mnist_tutorial", kb::Style::sequential);
  auto x = b.input({28, 28, 1});
  kb::ConvOptions c;
  c.filters = 32;
  c.use_bias = false;
  c.kernel_quantizer = "ste_sign";
  c.kernel_clip = true;
  x = b.quant_conv2d(x, c);
  x = b.max_pool2d(x);
  kb::BatchNormOptions bn;
  bn.scale = false;
  x = b.batch_norm(x, bn);
  c.filters = 64;
  c.input_quantizer = "ste_sign";
  x = b.quant_conv2d(x, c);
  x = b.max_pool2d(x);
  x = b.batch_norm(x, bn);
  x = b.quant_conv2d(x, c);
  x = b.batch_norm(x, bn);
  x = b.flatten(x);
  kb::DenseOptions d;
  d.units = 64;
  d.use_bias = false;
  d.input_quantizer = "ste_sign";
  d.kernel_quantizer = "ste_sign";
  d.kernel_clip = true;
  x = b.quant_dense(x, d);
  x = b.batch_norm(x, bn);
  d.units = 10;
  x = b.quant_dense(x, d);
  x = b.batch_norm(x, bn);
  x = b.activation(x, "softmax");
  return b.build();
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

bool has_reason(const Node& n, const std::string& code) {
  for (const auto& r : n.decision.reasons)
    if (r.code == code) return true;
  return false;
}

}  // namespace

class ForumModels : public ::testing::TestWithParam<double> {};

TEST_P(ForumModels, OneLayerIsBinaryWithinStBudget) {
  const double pad = GetParam();
  CompileResult r = compile(forum(1, pad));
  const Node& conv = node(r, "quant_conv2d");
  EXPECT_EQ(conv.decision.kernel, KernelClass::Binary);
  EXPECT_EQ(conv.decision.op_type, "sxor_s1_s1");
  EXPECT_FALSE(conv.epi.bits) << "the model output stays float";
  // 16 filters x one word of 9 bits: 64 B (ST: 640 B as float).
  EXPECT_EQ(conv.rom_bytes, 64);
  EXPECT_LE(r.totals.rom_bytes, 256);
  EXPECT_LE(r.totals.ram_bytes, 69668);
  EXPECT_EQ(conv.macc, 32 * 32 * 16 * 9);
  EXPECT_EQ(r.totals.op_types.at("sxor_s1_s1"), 147456);
  if (pad == 0.0)
    EXPECT_TRUE(has_reason(conv, "PAD_ZERO_EXACT"));
  else
    EXPECT_TRUE(has_reason(conv, "PAD_ONE"));
  // One input channel: the bit-sliced variant, with its reason instead of the patch packing one.
  EXPECT_EQ(conv.decision.kernel_name, "bl_bconv2d_bitsliced");
  EXPECT_TRUE(has_reason(conv, "BCONV_BITSLICED"));
  EXPECT_FALSE(has_reason(conv, "CHANNELS_NOT_MULTIPLE_OF_32"));
}

TEST_P(ForumModels, TwoLayersBothBinaryFirstOutputsBits) {
  const double pad = GetParam();
  CompileResult r = compile(forum(2, pad));
  const Node& c1 = node(r, "quant_conv2d");
  const Node& c2 = node(r, "quant_conv2d_1");
  EXPECT_EQ(c1.decision.kernel, KernelClass::Binary);
  EXPECT_EQ(c2.decision.kernel, KernelClass::Binary);
  EXPECT_TRUE(c1.epi.bits);
  EXPECT_TRUE(has_reason(c1, "OUTPUT_BITS"));
  EXPECT_EQ(r.graph.tensors[c1.outputs[0]].format, Format::S1);
  EXPECT_EQ(r.graph.tensors[c1.outputs[0]].bytes(), 32 * 32 * 16 / 8);
  EXPECT_LE(r.totals.rom_bytes, 1024);  // ST: 9,920 B
  // ST's 70,400 B, plus the bit-sliced kernels' scratch (at most one layer's at a time): the
  // second layer's is about 9 KB (planes, lookup table) and buys 2-5x fewer instructions
  // (docs/performance.md); everything else fits ST's budget, and the arena is at its bound.
  EXPECT_EQ(c1.decision.kernel_name, "bl_bconv2d_bitsliced");
  EXPECT_EQ(c2.decision.kernel_name, "bl_bconv2d_bitsliced");
  EXPECT_GT(c2.scratch_bytes, 0);
  EXPECT_LE(r.totals.ram_bytes, 70400 + std::max(c1.scratch_bytes, c2.scratch_bytes));
  EXPECT_EQ(r.totals.ram_bytes, r.totals.ram_lower_bound_bytes);
}

// --prefer-ram: the patch kernel instead of the bit-sliced one, and ST's RAM budget again.
TEST_P(ForumModels, PreferRamKeepsStsBudget) {
  CompileOptions o;
  o.prefer_ram = true;
  CompileResult r = compile(forum(2, GetParam()), o);
  for (const char* name : {"quant_conv2d", "quant_conv2d_1"}) {
    const Node& c = node(r, name);
    EXPECT_EQ(c.decision.kernel_name, "bl_bconv2d") << name;
    ASSERT_FALSE(c.decision.rejected.empty()) << name;
    EXPECT_EQ(c.decision.rejected[0].kernel, "bl_bconv2d_bitsliced");
    EXPECT_NE(c.decision.rejected[0].why.find("--prefer-ram: the bit-sliced kernel would need "), std::string::npos)
        << c.decision.rejected[0].why;
    EXPECT_TRUE(has_reason(c, "CHANNELS_NOT_MULTIPLE_OF_32"));
  }
  EXPECT_LE(r.totals.ram_bytes, 70400);
  EXPECT_LT(r.totals.ram_bytes, compile(forum(2, GetParam())).totals.ram_bytes);
}

INSTANTIATE_TEST_SUITE_P(PadValues, ForumModels, ::testing::Values(-1.0, 0.0, 1.0));

TEST(Decisions, MnistTutorialNetwork) {
  CompileResult r = compile(mnist());
  const Node& c1 = node(r, "quant_conv2d");
  EXPECT_EQ(c1.decision.kernel, KernelClass::BinaryWeights);
  EXPECT_TRUE(has_reason(c1, "INPUT_NOT_QUANTIZED"));
  EXPECT_TRUE(c1.epi.bits) << "conv -> maxpool -> BN -> sign folds into the float-input kernel's output";
  for (const char* n : {"quant_conv2d_1", "quant_conv2d_2", "quant_dense", "quant_dense_1"})
    EXPECT_EQ(node(r, n).decision.kernel, KernelClass::Binary) << n;
  for (const char* n : {"batch_normalization", "batch_normalization_1", "batch_normalization_2",
                        "batch_normalization_3", "batch_normalization_4"})
    EXPECT_EQ(node(r, n).decision.kernel, KernelClass::Fused) << n;
  EXPECT_EQ(node(r, "max_pooling2d").decision.kernel, KernelClass::Binary);
  EXPECT_EQ(node(r, "max_pooling2d_1").decision.kernel, KernelClass::Binary);
  EXPECT_TRUE(has_reason(node(r, "max_pooling2d_1"), "MAXPOOL_ON_BITS"));
  EXPECT_EQ(node(r, "flatten").decision.kernel, KernelClass::None);
  EXPECT_EQ(node(r, "quant_dense_1").epi.bits, false);
}

TEST(Decisions, NonBinaryPadValueFallsBackToBinaryWeights) {
  CompileResult r = compile(forum(2, 0.5));
  const Node& c2 = node(r, "quant_conv2d_1");
  EXPECT_EQ(c2.decision.kernel, KernelClass::BinaryWeights);
  ASSERT_TRUE(has_reason(c2, "PAD_VALUE_NOT_BINARY"));
  for (const auto& re : c2.decision.reasons)
    if (re.code == "PAD_VALUE_NOT_BINARY") {
      EXPECT_NE(re.message.find("pad_values=0.5"), std::string::npos) << re.message;
      EXPECT_NE(re.fix.find("quant_conv2d_1"), std::string::npos) << re.fix;
    }
}

// Selection walks the registry's candidates for the op (binary, binary-weights, float) and keeps
// the ones it passed over with the reason, for the app's tooltip and details panel.
TEST(Decisions, RejectedCandidatesAreRecordedInPriorityOrder) {
  {
    CompileResult r = compile(mnist());
    const Node& c1 = node(r, "quant_conv2d");  // float input, sign weights
    ASSERT_EQ(c1.decision.rejected.size(), 1u);
    EXPECT_EQ(c1.decision.rejected[0].kernel, "bl_bconv2d");
    EXPECT_EQ(c1.decision.rejected[0].why, "input_quantizer null does not binarize the input");
    // 32 input channels: the bit-sliced variant passes it to the patch kernel.
    const auto& c2 = node(r, "quant_conv2d_1").decision;
    EXPECT_EQ(c2.kernel_name, "bl_bconv2d");
    ASSERT_EQ(c2.rejected.size(), 1u);
    EXPECT_EQ(c2.rejected[0].kernel, "bl_bconv2d_bitsliced");
    EXPECT_EQ(c2.rejected[0].why,
              "32 input channels fill whole words: the patch kernel needs no scratch, where the bit-sliced one would hold "
              "the input again for at most a third fewer instructions");
  }
  {
    CompileResult r = compile(forum(2, 0.5));
    const auto& rj = node(r, "quant_conv2d_1").decision.rejected;
    ASSERT_EQ(rj.size(), 1u);
    EXPECT_EQ(rj[0].kernel, "bl_bconv2d");
    EXPECT_EQ(rj[0].why, "pad_values=0.5 is neither 0 nor +-1, so a padded tap is not a bit");
  }
  {
    kb::ModelBuilder b("plain");
    auto x = b.input({4, 4, 3});
    x = b.conv2d(x, {.filters = 2, .name = "conv"});
    x = b.flatten(x);
    b.quant_dense(x, {.units = 2, .input_quantizer = "ste_sign", .kernel_quantizer = "", .name = "fc"});
    CompileResult r = compile(b.build());
    const auto& conv = node(r, "conv").decision;
    EXPECT_EQ(conv.kernel_name, "bl_conv2d");
    ASSERT_EQ(conv.rejected.size(), 3u);
    EXPECT_EQ(conv.rejected[0].kernel, "bl_bconv2d");
    EXPECT_EQ(conv.rejected[0].why, "input_quantizer null does not binarize the input");
    EXPECT_EQ(conv.rejected[1].kernel, "bl_bwconv2d");
    EXPECT_EQ(conv.rejected[1].why, "kernel_quantizer null does not binarize the weights");
    EXPECT_EQ(conv.rejected[2].kernel, "bl_conv2d_s8");
    EXPECT_EQ(conv.rejected[2].why,
              "input_quantizer null is not a DoReFa/STCustomDoReFa activations quantizer of at most 8 bits");
    const auto& fc = node(r, "fc").decision;
    EXPECT_EQ(fc.kernel_name, "bl_dense");
    ASSERT_EQ(fc.rejected.size(), 3u);
    EXPECT_EQ(fc.rejected[0].why, "kernel_quantizer null does not binarize the weights");
    EXPECT_EQ(fc.rejected[2].kernel, "bl_dense_s8");
    EXPECT_EQ(fc.rejected[2].why,
              "input_quantizer \"SteSign\" is not a DoReFa/STCustomDoReFa activations quantizer of at most 8 bits");
  }
  {
    // Max pooling: on bits when its producer binarizes for it, else float with the bit kernel
    // recorded as rejected.
    kb::ModelBuilder b("pools");
    auto x = b.input({8, 8, 32});
    const kb::ConvOptions q{.filters = 32, .kernel_size = {3, 3}, .padding = "same", .use_bias = false,
                            .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"};
    auto y = b.max_pool2d(b.quant_conv2d(x, q), {.name = "pool_bits"});
    y = b.quant_conv2d(y, q);
    b.max_pool2d(y, {.name = "pool_float"});
    CompileResult r = compile(b.build());
    const auto& bits = node(r, "pool_bits").decision;
    EXPECT_EQ(bits.kernel_name, "bl_maxpool_s1");
    EXPECT_TRUE(bits.rejected.empty());
    const auto& flt = node(r, "pool_float").decision;
    EXPECT_EQ(flt.kernel_name, "bl_maxpool_f32");
    ASSERT_EQ(flt.rejected.size(), 1u);
    EXPECT_EQ(flt.rejected[0].kernel, "bl_maxpool_s1");
    EXPECT_EQ(flt.rejected[0].why, "its producer does not binarize for it");
  }
}

TEST(Decisions, OverridesChangePadValues) {
  CompileOptions o;
  o.pad_values = 1.0f;
  CompileResult r = compile(forum(2, 0.0), o);
  EXPECT_TRUE(has_reason(node(r, "quant_conv2d_1"), "PAD_ONE"));
  CompileOptions s;
  s.sets.push_back(parse_set_option("quant_conv2d_1.pad_values=0.5"));
  CompileResult r2 = compile(forum(2, 0.0), s);
  EXPECT_EQ(node(r2, "quant_conv2d").decision.kernel, KernelClass::Binary);
  EXPECT_EQ(node(r2, "quant_conv2d_1").decision.kernel, KernelClass::BinaryWeights);
  CompileOptions bad;
  bad.sets.push_back(parse_set_option("nope.pad_values=1"));
  EXPECT_THROW(compile(forum(1, 0.0), bad), ModelError);
  EXPECT_THROW(parse_set_option("pad_values"), ModelError);
}

// The op added by following docs/adding-an-op.md: Cropping1D/2D import with Keras' spellings
// of `cropping`, run on bl_crop_f32 equal to the reference, and refuse what Keras refuses.
TEST(Decisions, CroppingRunsOnTheCropKernelAsTheReference) {
  kb::ModelBuilder b("crop");
  auto x = b.input({7, 6, 3});
  x = b.layer("Cropping2D", {x}, {{"name", "crop2d"}, {"cropping", json::array({json::array({1, 2}), json::array({0, 3})})}},
              {4, 3, 3});
  x = b.layer("Cropping2D", {x}, {{"name", "crop_sym"}, {"cropping", json::array({1, 1})}}, {2, 1, 3});
  x = b.reshape(x, {2, 3});
  b.layer("Cropping1D", {x}, {{"name", "crop1d"}, {"cropping", json::array({1, 0})}}, {1, 3});
  const Model m = b.build();
  const CompileResult r = compile(Model(m));
  for (const char* name : {"crop2d", "crop_sym", "crop1d"}) {
    const Node& n = node(r, name);
    EXPECT_EQ(n.decision.kernel_name, "bl_crop_f32") << name;
    ASSERT_EQ(n.decision.reasons.size(), 1u) << name;
    EXPECT_EQ(n.decision.reasons[0].code, "FLOAT_OP");
    EXPECT_NE(n.decision.reasons[0].message.find("Cropping"), std::string::npos);
  }
  EXPECT_EQ(r.graph.tensors[node(r, "crop2d").outputs[0]].shape, (std::vector<int64_t>{4, 3, 3}));
  EXPECT_EQ(r.graph.tensors[node(r, "crop_sym").outputs[0]].shape, (std::vector<int64_t>{2, 1, 3}));
  EXPECT_EQ(r.graph.tensors[node(r, "crop1d").outputs[0]].shape, (std::vector<int64_t>{1, 3}));

  Array in{{2, 7, 6, 3}, {}};
  for (int i = 0; i < 2 * 7 * 6 * 3; ++i) in.data.push_back(static_cast<float>(i));
  Executor e(r);
  const std::vector<Array> got = e.run({in});
  const std::vector<Array> want = reference_run(m, {in});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].shape, want[0].shape);
  EXPECT_EQ(got[0].data, want[0].data);
  // By hand: the two crops keep input rows 2..3 and column 1; the reshape makes them steps 0..1
  // and Cropping1D drops step 0, so sample s keeps pixel (3, 1): ((s * 7 + 3) * 6 + 1) * 3 + c.
  EXPECT_EQ(got[0].data, (std::vector<float>{57, 58, 59, 183, 184, 185}));

  kb::ModelBuilder big("crop_all");
  auto y = big.input({4, 4, 1});
  big.layer("Cropping2D", {y}, {{"name", "too_much"}, {"cropping", json::array({2, 0})}}, {0, 4, 1});
  try {
    compile(big.build());
    FAIL() << "cropping all rows was accepted";
  } catch (const ModelError& err) {
    EXPECT_EQ(std::string(err.what()),
              "layer 'too_much' (Cropping2D): config 'cropping' [2,0] removes all of its (4, 4, 1) input; Keras cannot "
              "build such a layer: fix 'cropping' and re-save");
  }
  kb::ModelBuilder cf("crop_cf");
  auto z = cf.input({4, 4, 1});
  cf.layer("Cropping2D", {z}, {{"name", "cf"}, {"cropping", 1}, {"data_format", "channels_first"}}, {4, 2, 2});
  EXPECT_EQ(node(compile(cf.build()), "cf").decision.reasons.at(0).code, "CHANNELS_FIRST");
}

TEST(Decisions, UnknownLayerIsUnsupportedAndRestIsAnalysed) {
  kb::ModelBuilder b("m");
  auto x = b.input({8, 8, 4});
  x = b.layer("MyCustomLayer", {x}, json{{"name", "custom"}, {"trainable", true}}, {8, 8, 4});
  kb::ConvOptions c;
  c.filters = 8;
  c.padding = "same";
  c.input_quantizer = "ste_sign";
  c.kernel_quantizer = "ste_sign";
  c.pad_values = 1.0;
  x = b.quant_conv2d(x, c);
  CompileResult r = compile(b.build());
  const Node& u = node(r, "custom");
  EXPECT_EQ(u.decision.kernel, KernelClass::Unsupported);
  ASSERT_FALSE(u.decision.reasons.empty());
  EXPECT_EQ(u.decision.reasons[0].code, "UNKNOWN_LAYER");
  EXPECT_NE(u.decision.reasons[0].message.find("MyCustomLayer"), std::string::npos);
  // The custom layer's output shape is unknown (it is not assumed equal to its input's), so
  // the conv after it is listed as such rather than analysed on a guessed shape.
  const Node& after = node(r, "quant_conv2d");
  EXPECT_EQ(after.decision.kernel, KernelClass::Unsupported);
  ASSERT_FALSE(after.decision.reasons.empty());
  EXPECT_EQ(after.decision.reasons[0].code, "SHAPE_UNKNOWN");
  EXPECT_NE(after.decision.reasons[0].message.find("'custom' (MyCustomLayer) is not supported"), std::string::npos);
}

TEST(Decisions, FloatLayersExplainThemselves) {
  kb::ModelBuilder b("m");
  auto x = b.input({8, 8, 3});
  kb::ConvOptions c;
  c.filters = 4;
  x = b.conv2d(x, c);
  x = b.batch_norm(x);
  x = b.activation(x, "relu");
  x = b.flatten(x);
  kb::DenseOptions d;
  d.units = 3;
  d.activation = "softmax";
  x = b.dense(x, d);
  CompileResult r = compile(b.build());
  const Node& conv = node(r, "conv2d");
  EXPECT_EQ(conv.decision.kernel, KernelClass::Float);
  EXPECT_TRUE(has_reason(conv, "FLOAT_LAYER"));
  EXPECT_EQ(node(r, "batch_normalization").decision.kernel, KernelClass::Fused);
  EXPECT_EQ(node(r, "activation").decision.kernel, KernelClass::Fused);
  EXPECT_EQ(conv.epi.act_min, 0.0f);
}

TEST(Decisions, TrainingOnlyLayersAreRemoved) {
  kb::ModelBuilder b("m");
  auto x = b.input({16});
  x = b.dropout(x);
  kb::DenseOptions d;
  d.units = 4;
  d.input_quantizer = "ste_sign";
  d.kernel_quantizer = "ste_sign";
  x = b.quant_dense(x, d);
  CompileResult r = compile(b.build());
  EXPECT_EQ(node(r, "dropout").decision.kernel, KernelClass::None);
  EXPECT_TRUE(node(r, "dropout").removed);
  EXPECT_EQ(node(r, "quant_dense").decision.kernel, KernelClass::Binary);
}

TEST(Decisions, EveryReasonCodeIsDocumented) {
  std::ifstream f(std::string(BITLENS_SOURCE_DIR) + "/docs/decisions.md");
  ASSERT_TRUE(f) << "docs/decisions.md is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  for (const auto& r : passes::reason_table())
    EXPECT_NE(doc.find(std::string("`") + r.code + "`"), std::string::npos) << r.code << " is not in docs/decisions.md";
}

TEST(Memory, PlanIsConsistent) {
  CompileResult r = compile(mnist());
  const auto& p = r.plan;
  EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    EXPECT_EQ(p.buffers[i].offset % 4, 0);
    EXPECT_LE(p.buffers[i].offset + p.buffers[i].size, p.arena_bytes);
    for (size_t j = i + 1; j < p.buffers.size(); ++j) {
      const auto &a = p.buffers[i], &b = p.buffers[j];
      const bool time = !(a.last_step < b.first_step || b.last_step < a.first_step);
      const bool space = !(a.offset + a.size <= b.offset || b.offset + b.size <= a.offset);
      EXPECT_FALSE(time && space) << a.name << " overlaps " << b.name;
    }
  }
}

TEST(Decisions, ReluMaxValueFoldsOrRunsStandalone) {
  kb::ModelBuilder b("m");
  auto x = b.input({6, 6, 2});
  kb::ConvOptions c;
  c.filters = 2;
  x = b.conv2d(x, c);
  kb::ReLUOptions capped;
  capped.max_value = 4.0;
  x = b.relu(x, capped);
  auto y = b.add({x, x});
  y = b.relu(y, capped);
  CompileResult r = compile(b.build());
  EXPECT_EQ(node(r, "re_lu").decision.kernel, KernelClass::Fused);
  EXPECT_EQ(node(r, "conv2d").epi.act_max, 4.0f);
  // Not after a conv/dense: the activation kernel applies the cap itself (Keras' relu with
  // max_value), no longer refused.
  const Node& standalone = node(r, "re_lu_1");
  EXPECT_EQ(standalone.decision.kernel, KernelClass::Float);
  EXPECT_EQ(standalone.decision.kernel_name, "bl_activate_f32");
  EXPECT_EQ(standalone.act.max_value, 4.0f);
}

// Found by the differential test: a MagnitudeAwareSign *input* quantizer was taken for "no
// quantizer" and the kernels convolved the raw input. It is refused by name now.
TEST(Decisions, MagnitudeAwareSignInputQuantizerIsUnsupportedNotIgnored) {
  kb::ModelBuilder b("mas");
  auto x = b.input({6, 6, 4});
  kb::ConvOptions c;
  c.filters = 3;
  c.input_quantizer = "magnitude_aware_sign";
  c.kernel_quantizer = "ste_sign";
  x = b.quant_conv2d(x, c);
  CompileResult r = compile(b.build());
  const Node& conv = node(r, "quant_conv2d");
  EXPECT_EQ(conv.decision.kernel, KernelClass::Unsupported);
  EXPECT_TRUE(has_reason(conv, "INPUT_QUANTIZER_UNSUPPORTED"));
  EXPECT_FALSE(has_reason(conv, "INPUT_NOT_QUANTIZED"));
}

// docs/decisions.md lists every class's config keys between two markers, generated from the
// layer table; BITLENS_UPDATE_DOCS=1 rewrites the section after a change to the table.
TEST(Decisions, ConfigKeysSectionIsGeneratedFromTheLayerTable) {
  const std::string path = std::string(BITLENS_SOURCE_DIR) + "/docs/decisions.md";
  std::string doc;
  {
    std::ifstream f(path);
    ASSERT_TRUE(f) << "docs/decisions.md is missing";
    std::stringstream ss;
    ss << f.rdbuf();
    doc = ss.str();
  }
  const std::string begin = "<!-- config-keys:begin -->\n", end = "<!-- config-keys:end -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "the config-keys markers are missing from docs/decisions.md";
  ASSERT_NE(e, std::string::npos);
  const std::string want = config_keys_markdown();
  const std::string have = doc.substr(b + begin.size(), e - b - begin.size());
  if (have != want && std::getenv("BITLENS_UPDATE_DOCS")) {
    std::ofstream(path) << doc.substr(0, b + begin.size()) + want + doc.substr(e);
    return;
  }
  EXPECT_EQ(have, want) << "docs/decisions.md is out of date: run BITLENS_UPDATE_DOCS=1 " << ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// A key no Keras version BitLens knows writes (here: a made-up one, as a newer Keras might add)
// and a mixed-precision dtype make only their layer unsupported, with the key and value named;
// the other layers are still analysed.
TEST(Decisions, UnknownConfigKeysAndMixedPrecisionAreUnsupportedByName) {
  Model m = mnist();
  Layer* conv = nullptr;
  Layer* dense = nullptr;
  for (auto& l : m.layers) {
    if (l.class_name == "QuantConv2D" && !conv) conv = &l;
    if (l.class_name == "QuantDense" && !dense) dense = &l;
  }
  ASSERT_TRUE(conv && dense);
  conv->config["output_rounding"] = "stochastic";
  dense->config["dtype"] = {{"class_name", "Policy"}, {"config", {{"name", "mixed_float16"}}}};
  CompileResult r = compile(m);
  const Node& c = node(r, conv->name);
  EXPECT_EQ(c.decision.kernel, KernelClass::Unsupported);
  ASSERT_TRUE(has_reason(c, "CONFIG_KEY"));
  EXPECT_NE(c.decision.reasons.back().message.find("'output_rounding' = \"stochastic\""), std::string::npos)
      << c.decision.reasons.back().message;
  const Node& d = node(r, dense->name);
  EXPECT_EQ(d.decision.kernel, KernelClass::Unsupported);
  ASSERT_TRUE(has_reason(d, "CONFIG_VALUE"));
  EXPECT_NE(d.decision.reasons.back().message.find("mixed_float16"), std::string::npos);
  int analysed = 0;
  for (const Node& n : r.graph.nodes) analysed += n.decision.kernel == KernelClass::Binary;
  EXPECT_GE(analysed, 2);
  // The same keys with values that change nothing: a float32 policy object (Keras 3) and an
  // initializer are accepted.
  Model ok = mnist();
  for (auto& l : ok.layers)
    if (l.class_name == "QuantConv2D") {
      l.config["dtype"] = {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}};
      l.config["kernel_initializer"] = {{"class_name", "GlorotUniform"}, {"config", {{"seed", 3}}}};
    }
  for (const Node& n : compile(ok).graph.nodes) EXPECT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
}

// BN_NOT_FOLDED names what blocks the fold and gives the fix for that case; no fix contradicts
// its message (issue 13: "applies a ReLU first" used to come with "place it before any non-ReLU
// activation").
TEST(Decisions, BnNotFoldedFixMatchesWhatBlocksTheFold) {
  auto fix_of = [](const CompileResult& r, const std::string& bn) {
    for (const auto& re : node(r, bn).decision.reasons)
      if (re.code == "BN_NOT_FOLDED") return re.message + " | " + re.fix;
    return std::string("(no BN_NOT_FOLDED)");
  };
  auto conv = [](kb::ModelBuilder& b, const kb::Tensor& x, const std::string& act, const std::string& name) {
    return b.conv2d(x, {.filters = 4, .padding = "same", .activation = act, .name = name});
  };
  {  // after the input
    kb::ModelBuilder b("bn_input", kb::Style::functional, 1);
    auto x = b.input({6, 6, 2});
    auto n = b.batch_norm(x, {.name = "bn"});
    b.flatten(conv(b, n, "linear", "c"));
    const std::string f = fix_of(compile(b.build()), "bn");
    EXPECT_NE(f.find("(it follows InputLayer"), std::string::npos) << f;
  }
  {  // after a non-clamp activation
    kb::ModelBuilder b("bn_tanh", kb::Style::functional, 1);
    auto x = b.input({6, 6, 2});
    b.flatten(b.batch_norm(conv(b, x, "tanh", "c"), {.name = "bn"}));
    const std::string f = fix_of(compile(b.build()), "bn");
    EXPECT_NE(f.find("applies activation 'tanh' first"), std::string::npos) << f;
    EXPECT_NE(f.find("give 'c' activation=None, apply 'tanh' after the BatchNormalization"), std::string::npos) << f;
  }
  {  // after a ReLU, output not binarized
    kb::ModelBuilder b("bn_relu", kb::Style::functional, 1);
    auto x = b.input({6, 6, 2});
    b.flatten(b.batch_norm(conv(b, x, "relu", "c"), {.name = "bn"}));
    const std::string f = fix_of(compile(b.build()), "bn");
    EXPECT_NE(f.find("applies a ReLU first"), std::string::npos) << f;
    EXPECT_NE(f.find("Nothing to change for correctness (ReLU then BatchNormalization"), std::string::npos) << f;
    EXPECT_EQ(f.find("non-ReLU"), std::string::npos) << f;
  }
  {  // two BatchNorms after a conv with bias: the second would be a third affine step
    kb::ModelBuilder b("bn_twice", kb::Style::functional, 1);
    auto x = b.input({6, 6, 2});
    b.flatten(b.batch_norm(b.batch_norm(conv(b, x, "linear", "c"), {.name = "bn1"}), {.name = "bn2"}));
    const std::string f = fix_of(compile(b.build()), "bn2");
    EXPECT_NE(f.find("merge the consecutive normalizations after 'c'"), std::string::npos) << f;
  }
  {  // the conv output also feeds another layer
    kb::ModelBuilder b("bn_branch", kb::Style::functional, 1);
    auto x = b.input({6, 6, 2});
    auto c = conv(b, x, "linear", "c");
    auto n = b.batch_norm(c, {.name = "bn"});
    b.flatten(b.add({c, n}));
    const std::string f = fix_of(compile(b.build()), "bn");
    EXPECT_NE(f.find("'c' output has other consumers"), std::string::npos) << f;
    EXPECT_NE(f.find("read its output before this BatchNormalization"), std::string::npos) << f;
  }
}
