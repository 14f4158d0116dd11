// What the compiler, the reports and both engines make of files the loader used to refuse
// (issue 10, items 5 and 6): layers whose output shape BitLens cannot know and everything
// downstream of them, never-called layers, grouped convolutions, and BatchNormalization
// parameters that make Keras compute NaN — plus zero/negative gamma folded into thresholds,
// with the kernels engine equal to the reference. Every model is written with the project's
// writer and read back, as a user's file would be.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/report.hpp"
#include "bitlens/runtime.hpp"
#include "cli_test_util.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("bitlens_breadth_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Writes the model with the project's writer and reads it back like a user's file.
Model through_file(const Model& m, const TempDir& dir, const std::string& name = "m.h5") {
  write_model_h5(m, dir / name);
  return load_model(dir / name);
}

const Node& node(const CompileResult& r, const std::string& name) {
  const Node* n = r.graph.find_node(name);
  if (!n) throw std::runtime_error("no node " + name);
  return *n;
}

const Tensor& out(const CompileResult& r, const std::string& name) {
  return r.graph.tensors[node(r, name).outputs.at(0)];
}

const Reason* reason(const Node& n, const std::string& code) {
  for (const auto& re : n.decision.reasons)
    if (re.code == code) return &re;
  return nullptr;
}

std::string run_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ModelError";
  return "";
}

// ---- unknown output shapes ----

// A float stem, then a custom layer that changes the shape (16x16x4 -> 1x1x576, what a
// backbone does), then layers whose weights only fit the custom layer's real output. Assuming
// the custom layer passes its input shape through made the dense kernel (576, 10) look
// inconsistent and the whole file was refused.
Model custom_backbone() {
  kb::ModelBuilder b("custom_backbone", kb::Style::functional, 51);
  auto x = b.input({16, 16, 3});
  auto s = b.conv2d(x, {.filters = 4, .padding = "same", .activation = "relu", .name = "stem"});
  auto y = b.layer("MobileNetV3Backbone", {s}, json{{"name", "backbone"}}, {1, 1, 576},
                   {{"conv1/kernel", Array{{1, 1, 4, 8}, std::vector<float>(32, 0.5f)}},
                    {"conv2/kernel", Array{{1, 1, 8, 8}, std::vector<float>(64, 0.25f)}}});
  y = b.batch_norm(y);
  y = b.flatten(y);
  y = b.dropout(y);
  b.dense(y, {.units = 10, .activation = "softmax", .name = "head"});
  return b.build();
}

TEST(LoaderBreadth, UnknownLayerShapeIsUnknownAndEveryLayerDownstreamIsListed) {
  TempDir dir;
  const CompileResult r = compile(through_file(custom_backbone(), dir));

  const Node& u = node(r, "backbone");
  EXPECT_EQ(u.decision.kernel, KernelClass::Unsupported);
  ASSERT_NE(reason(u, "UNKNOWN_LAYER"), nullptr);
  EXPECT_TRUE(contains(reason(u, "UNKNOWN_LAYER")->message, "output shape is unknown"));
  EXPECT_FALSE(out(r, "backbone").shape_known);
  EXPECT_TRUE(out(r, "backbone").shape.empty());

  for (const char* name : {"batch_normalization", "flatten", "dropout", "head"}) {
    SCOPED_TRACE(name);
    const Node& n = node(r, name);
    EXPECT_EQ(n.decision.kernel, KernelClass::Unsupported);
    const Reason* re = reason(n, "SHAPE_UNKNOWN");
    ASSERT_NE(re, nullptr);
    EXPECT_TRUE(contains(re->message, "input shape unknown because 'backbone' (MobileNetV3Backbone) is not supported"))
        << re->message;
    EXPECT_TRUE(contains(re->message, "'" + std::string(name) + "'")) << re->message;
    EXPECT_FALSE(out(r, name).shape_known);
    EXPECT_EQ(n.macc, 0);
    EXPECT_EQ(n.rom_bytes, 0);
  }
  // Upstream is analysed as usual, and is all the totals hold.
  const Node& stem = node(r, "stem");
  EXPECT_EQ(stem.decision.kernel, KernelClass::Float);
  EXPECT_EQ(stem.macc, 16 * 16 * 4 * (3 * 3 * 3) + 4);
  EXPECT_EQ(r.totals.macc, stem.macc);
  EXPECT_EQ(r.schedule, (std::vector<int>{stem.id}));
  // No buffer is sized from an unknown shape (the model output included).
  for (const auto& b : r.plan.buffers) {
    if (b.tensor >= 0) {
      EXPECT_TRUE(r.graph.tensors[b.tensor].shape_known) << b.name;
    }
  }
  EXPECT_GE(r.plan.arena_bytes, 16 * 16 * 3 * 4 + 16 * 16 * 4 * 4);  // input + stem output

  // Reports print the unknown shape as unknown and say what the totals leave out.
  const std::string text = text_report(r, {.width = 160});
  EXPECT_TRUE(contains(text, "not in totals")) << text;
  EXPECT_TRUE(contains(text, "5 unsupported layer(s), 5 of them with an unknown output shape (?)")) << text;
  EXPECT_TRUE(contains(text, "f32(?), size unknown")) << text;  // the model output
  bool row = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (contains(line, "head (Dense)")) {
      row = true;
      EXPECT_TRUE(contains(line, " ? ")) << line;
      EXPECT_TRUE(contains(line, "SHAPE_UNKNOWN")) << line;
    }
  EXPECT_TRUE(row) << text;
  const json j = json_report(r);
  bool seen = false;
  for (const auto& l : j["layers"])
    if (l["name"] == "head") {
      seen = true;
      EXPECT_TRUE(l["output_shape"].is_null());
    } else if (l["name"] == "stem") {
      EXPECT_EQ(l["output_shape"], json({16, 16, 4}));
    }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(j["model"]["outputs"][0]["shape"].is_null());
  EXPECT_TRUE(j["model"]["outputs"][0]["bytes"].is_null());
  EXPECT_EQ(j["totals"]["not_counted"],
            json({"backbone", "batch_normalization", "flatten", "dropout", "head"}));

  // Running is refused with one line naming the layer (the reference cannot run it either).
  const std::string e = run_error([&] { Executor ex(r); ex.run(random_inputs(r, 1, 1)); });
  EXPECT_TRUE(contains(e, "'backbone'")) << e;
}

TEST(LoaderBreadth, OnlyTheBranchAfterAnUnknownShapeIsUnknown) {
  kb::ModelBuilder b("branches", kb::Style::functional, 52);
  auto x = b.input({8, 8, 4});
  auto a = b.conv2d(x, {.filters = 4, .padding = "same", .name = "known_branch"});
  auto u = b.layer("SqueezeExcite", {x}, json{{"name", "se"}}, {8, 8, 4});
  auto s = b.add({a, u});
  b.global_average_pool2d(s);
  TempDir dir;
  const CompileResult r = compile(through_file(b.build(), dir));
  EXPECT_EQ(node(r, "known_branch").decision.kernel, KernelClass::Float);
  EXPECT_EQ(out(r, "known_branch").shape, (std::vector<int64_t>{8, 8, 4}));
  EXPECT_NE(reason(node(r, "add"), "SHAPE_UNKNOWN"), nullptr);
  EXPECT_TRUE(contains(reason(node(r, "add"), "SHAPE_UNKNOWN")->message, "'se' (SqueezeExcite)"));
  EXPECT_NE(reason(node(r, "global_average_pooling2d"), "SHAPE_UNKNOWN"), nullptr);
  EXPECT_GT(node(r, "known_branch").macc, 0);
  EXPECT_EQ(r.totals.macc, node(r, "known_branch").macc);
}

TEST(LoaderBreadth, UnsupportedTfOperationHasAnUnknownShapeToo) {
  // tf.reshape / tf.transpose ... change the shape; the dense kernel below only fits the real one.
  kb::ModelBuilder b("tfop", kb::Style::functional, 53);
  auto x = b.input({4, 4, 2});
  auto y = b.layer("TFOpLambda", {x}, json{{"name", "tf.reshape"}, {"function", "reshape"}}, {2, 16});
  b.dense(y, {.units = 3, .name = "after"});
  TempDir dir;
  const CompileResult r = compile(through_file(b.build(), dir));
  EXPECT_NE(reason(node(r, "tf.reshape"), "TFOP"), nullptr);
  const Reason* re = reason(node(r, "after"), "SHAPE_UNKNOWN");
  ASSERT_NE(re, nullptr);
  EXPECT_TRUE(contains(re->message, "'tf.reshape' (TFOpLambda reshape) is not supported")) << re->message;
}

TEST(LoaderBreadth, AnalyzeOfAFileWithACustomLayerSucceedsOnTheCommandLine) {
  TempDir dir;
  write_model_h5(custom_backbone(), dir / "m.h5");
  auto res = cli_test::run_cli("analyze " + (dir / "m.h5").string() + " --width 160", dir.path());
  EXPECT_EQ(res.status, 0) << res.err;
  EXPECT_TRUE(res.err.empty()) << res.err;
  EXPECT_TRUE(contains(res.out, "SHAPE_UNKNOWN: input shape unknown because 'backbone' (MobileNetV3Backbone)")) << res.out;
  auto js = cli_test::run_cli("analyze " + (dir / "m.h5").string() + " --json", dir.path());
  EXPECT_EQ(js.status, 0) << js.err;
  EXPECT_TRUE(json::parse(js.out)["totals"].contains("not_counted"));
}

// ---- never-called layers ----

// small model + a custom loss layer with "inbound_nodes": [] (created, never called), written
// by the project's writer from the model as loaded.
Model with_unconnected_layer() {
  kb::ModelBuilder b("with_loss", kb::Style::functional, 54);
  auto x = b.input({6, 6, 2});
  auto c = b.quant_conv2d(x, {.filters = 4, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                              .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  auto n = b.batch_norm(c);
  auto f = b.flatten(n);
  b.quant_dense(f, {.units = 3, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"});
  Model m = b.build();
  Layer loss;
  loss.name = "focal_loss";
  loss.class_name = "CategoricalFocalLossLayer";
  loss.config = {{"name", "focal_loss"}, {"trainable", true}, {"dtype", "float32"}, {"gamma", 2.0}};
  loss.unconnected = true;
  m.layers.push_back(loss);
  m.raw_config["config"]["layers"].push_back(
      {{"class_name", loss.class_name}, {"config", loss.config}, {"name", loss.name}, {"inbound_nodes", json::array()}});
  return m;
}

TEST(LoaderBreadth, UnconnectedLayerIsIgnoredWithANoteAndTheModelRuns) {
  TempDir dir;
  const Model m = through_file(with_unconnected_layer(), dir);
  ASSERT_TRUE(m.find("focal_loss") && m.find("focal_loss")->unconnected);
  const CompileResult r = compile(m);
  const Node& n = node(r, "focal_loss");
  EXPECT_EQ(n.decision.kernel, KernelClass::None);
  EXPECT_TRUE(n.removed);
  EXPECT_TRUE(n.outputs.empty());
  const Reason* re = reason(n, "UNCONNECTED");
  ASSERT_NE(re, nullptr);
  EXPECT_EQ(re->severity, Reason::Severity::Info);
  EXPECT_TRUE(contains(re->message, "CategoricalFocalLossLayer 'focal_loss' is not connected to the model")) << re->message;
  EXPECT_TRUE(contains(re->message, "ignored")) << re->message;
  // The rest is exactly what it is without the layer.
  EXPECT_EQ(node(r, "quant_conv2d").decision.kernel, KernelClass::Binary);
  EXPECT_EQ(node(r, "quant_dense").decision.kernel, KernelClass::Binary);
  Model without = m;
  without.layers.erase(std::remove_if(without.layers.begin(), without.layers.end(),
                                      [](const Layer& l) { return l.unconnected; }),
                       without.layers.end());
  const CompileResult plain = compile(without);
  EXPECT_EQ(r.totals.macc, plain.totals.macc);
  EXPECT_EQ(r.totals.rom_bytes, plain.totals.rom_bytes);
  EXPECT_EQ(r.plan.arena_bytes, plain.plan.arena_bytes);
  // The note is in the report's decisions, not only in the table.
  const std::string text = text_report(r, {});
  EXPECT_TRUE(contains(text, "- focal_loss [none]")) << text;
  EXPECT_TRUE(contains(text, "UNCONNECTED (note): CategoricalFocalLossLayer 'focal_loss'")) << text;
  // Both engines run the model.
  const auto x = random_inputs(r, 5, 3);
  Executor ex(r);
  const auto got = ex.run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, want[0].data);
}

// ---- grouped convolution (BinaryFaceNet: QuantConv2D(groups=4)) ----

Model grouped(int groups, int64_t cin_per_group) {
  kb::ModelBuilder b("binary_facenet_like", kb::Style::functional, 55);
  auto x = b.input({6, 6, 8});
  auto c = b.quant_conv2d(x, {.filters = 8, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                              .kernel_quantizer = "ste_sign", .pad_values = 1.0, .name = "grouped"});
  auto n = b.batch_norm(c);
  auto p = b.global_average_pool2d(n);
  b.dense(p, {.units = 2});
  Model m = b.build();
  Layer& l = *m.find("grouped");
  l.config["groups"] = groups;
  // The kernel as Keras stores a grouped convolution's: (kh, kw, cin / groups, filters).
  Array k{{3, 3, cin_per_group, 8}, {}};
  for (int64_t i = 0; i < k.size(); ++i) k.data.push_back(i % 3 == 0 ? -0.5f : 0.25f);
  l.weights["kernel"] = k;
  return m;
}

TEST(LoaderBreadth, GroupedConvolutionRunsOnTheBinaryKernel) {
  TempDir dir;
  const Model m = through_file(grouped(4, 2), dir);
  EXPECT_EQ(m.find("grouped")->weights.at("kernel").shape, (std::vector<int64_t>{3, 3, 2, 8}));
  const CompileResult r = compile(m);
  const Node& g = node(r, "grouped");
  EXPECT_EQ(g.decision.kernel, KernelClass::Binary);
  EXPECT_EQ(g.conv.groups, 4);
  const Reason* re = reason(g, "GROUPED");
  ASSERT_NE(re, nullptr);
  EXPECT_TRUE(contains(re->message, "groups=4")) << re->message;
  EXPECT_TRUE(contains(re->message, "its group's 2 of the 8 input channels")) << re->message;
  // Each filter is 3x3x2 = 18 bits (one word), and multiplies 18 inputs per output.
  EXPECT_EQ(g.weight_bits.size(), 8u);
  EXPECT_EQ(g.macc, 6 * 6 * 8 * 3 * 3 * 2);
  EXPECT_EQ(out(r, "grouped").shape, (std::vector<int64_t>{6, 6, 8}));
  // The reports say so: the GROUPED note and the grouped MACC.
  const std::string text = text_report(r, {.width = 200});
  EXPECT_TRUE(contains(text, "GROUPED")) << text;
  EXPECT_FALSE(contains(text, "GROUPED_CONV")) << text;
  const json j = json_report(r);
  bool seen = false;
  for (const auto& l : j["layers"])
    if (l["name"] == "grouped") {
      seen = true;
      EXPECT_TRUE(contains(l.dump(), "\"GROUPED\"")) << l.dump();
      EXPECT_TRUE(contains(l.dump(), "5184")) << l.dump();  // MACC 6*6*8*3*3*2
    }
  EXPECT_TRUE(seen);
  // Both engines agree on the whole model.
  const auto x = random_inputs(r, 7, 3);
  const auto got = Executor(r).run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].data.size(), want[0].data.size());
  for (size_t k = 0; k < got[0].data.size(); ++k)
    EXPECT_NEAR(got[0].data[k], want[0].data[k], 1e-4 * (1.0 + std::fabs(want[0].data[k]))) << k;
}

TEST(LoaderBreadth, GroupsThatDoNotDivideTheChannelsAreRefusedWithTheValues) {
  TempDir dir;
  // 8 channels, groups=3: Keras cannot build this layer; the kernel claims 8/3 -> 2 per group.
  const Model m = through_file(grouped(3, 2), dir);
  std::string msg = run_error([&] { compile(m); });
  EXPECT_TRUE(contains(msg, "layer 'grouped' (QuantConv2D): groups=3 does not divide its 8 input channels")) << msg;
  EXPECT_TRUE(contains(msg, "fix 'groups'")) << msg;
}

// ---- BatchNormalization parameters ----

// A binary conv, a BatchNormalization, another binary conv: with valid parameters the BN
// folds into the first conv's integer thresholds (bit-packed output).
kb::ModelBuilder bn_model(double epsilon) {
  kb::ModelBuilder b("bn_params", kb::Style::functional, 56);
  auto x = b.input({6, 6, 3});
  auto c = b.quant_conv2d(x, {.filters = 8, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                              .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  auto n = b.batch_norm(c, {.epsilon = epsilon});
  auto c2 = b.quant_conv2d(n, {.filters = 4, .use_bias = false, .input_quantizer = "ste_sign",
                               .kernel_quantizer = "ste_sign"});
  b.flatten(c2);
  return b;
}

TEST(LoaderBreadth, BatchNormParametersThatGiveNaNAreReportedForTheLayer) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Case {
    const char* what;
    double epsilon;
    const char* weight;  // nullptr: none changed
    int channel;
    float value;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"epsilon 0, a variance 0", 0.0, "moving_variance", 4, 0.0f,
       "moving_variance[4] + epsilon = 0 + 0 = 0 in float32, so 1/sqrt(moving_variance + epsilon) divides by zero"},
      {"epsilon rounds to 0 in float32", 1e-50, "moving_variance", 2, 0.0f, "moving_variance[2] + epsilon = 0 + 0 = 0"},
      {"epsilon negative", -1e-3, nullptr, 0, 0, "epsilon = -0.001 is negative"},
      {"epsilon beyond float32", 1e300, nullptr, 0, 0, "epsilon = 1e+300 is not a finite number"},
      {"negative variance", 1e-3, "moving_variance", 2, -0.5f, "moving_variance[2] = -0.5 is negative"},
      {"variance = -epsilon", 1e-3, "moving_variance", 1, -1e-3f, "moving_variance[1] = -0.00100000005 is negative"},
      {"NaN gamma", 1e-3, "gamma", 1, nan, "gamma[1] = NaN, not a finite number"},
      {"Inf beta", 1e-3, "beta", 3, inf, "beta[3] = +Inf, not a finite number"},
      {"-Inf mean", 1e-3, "moving_mean", 0, -inf, "moving_mean[0] = -Inf, not a finite number"},
      {"NaN variance", 1e-3, "moving_variance", 7, nan, "moving_variance[7] = NaN, not a finite number"},
      {"overflow", 1e-45, "gamma", 5, 1e20f, "channel 5: gamma/sqrt(moving_variance + epsilon) = +Inf"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto b = bn_model(c.epsilon);
    Model built = b.build();  // Keras loads such a file: so does BitLens
    Layer& bn = *built.find("batch_normalization");
    if (std::string(c.what) == "overflow") bn.weights["moving_variance"].data[5] = 0.0f;
    if (c.weight) bn.weights[c.weight].data[static_cast<size_t>(c.channel)] = c.value;
    TempDir dir;
    const Model m = through_file(built, dir);
    const CompileResult r = compile(m);
    const Node& n = node(r, "batch_normalization");
    EXPECT_EQ(n.decision.kernel, KernelClass::Unsupported);
    const Reason* re = reason(n, "BN_PARAMS");
    ASSERT_NE(re, nullptr);
    EXPECT_TRUE(contains(re->message, "BatchNormalization 'batch_normalization' would output NaN or Inf: ")) << re->message;
    EXPECT_TRUE(contains(re->message, c.expect)) << re->message;
    EXPECT_TRUE(contains(re->fix, "epsilon must not be negative")) << re->fix;
    // The rest of the model is analysed: the convolutions around it stay binary.
    EXPECT_EQ(node(r, "quant_conv2d").decision.kernel, KernelClass::Binary);
    EXPECT_EQ(node(r, "quant_conv2d_1").decision.kernel, KernelClass::Binary);
    EXPECT_FALSE(node(r, "quant_conv2d").epi.bits);  // nothing was folded from the bad layer
    // Neither engine runs it into NaN: both refuse with the layer, the parameter and the value.
    const auto x = random_inputs(r, 3, 1);
    const std::string ek = run_error([&] { Executor ex(r); ex.run(x); });
    EXPECT_TRUE(contains(ek, "'batch_normalization'") && contains(ek, c.expect)) << ek;
    const std::string er = run_error([&] { reference_run(m, x); });
    EXPECT_TRUE(contains(er, "'batch_normalization'") && contains(er, c.expect)) << er;
  }
}

TEST(LoaderBreadth, BatchNormWithEpsilonZeroAndPositiveVariancesStillFolds) {
  // 1/sqrt(moving_variance + 0) is finite for every channel: nothing to report.
  TempDir dir;
  const CompileResult r = compile(through_file(bn_model(0.0).build(), dir));
  EXPECT_EQ(node(r, "batch_normalization").decision.kernel, KernelClass::Fused);
  EXPECT_TRUE(node(r, "quant_conv2d").epi.bits);
}

TEST(LoaderBreadth, BatchNormParameterErrorIsOneLineOnTheCommandLine) {
  auto b = bn_model(1e-3);
  b.set_weight("batch_normalization", "moving_variance", {{8}, {1, 1, -0.5f, 1, 1, 1, 1, 1}});
  TempDir dir;
  write_model_h5(b.build(), dir / "m.h5");
  const std::string file = (dir / "m.h5").string();
  auto a = cli_test::run_cli("analyze " + file + " --width 200", dir.path());
  EXPECT_EQ(a.status, 0) << a.err;
  EXPECT_TRUE(contains(a.out, "BN_PARAMS: BatchNormalization 'batch_normalization' would output NaN or Inf: "
                              "moving_variance[2] = -0.5 is negative")) << a.out;
  for (const char* engine : {"kernels", "reference"}) {
    SCOPED_TRACE(engine);
    auto res = cli_test::run_cli("run " + file + " --random 1 --engine " + engine, dir.path());
    EXPECT_EQ(res.status, 2);
    EXPECT_EQ(std::count(res.err.begin(), res.err.end(), '\n'), 1) << res.err;
    EXPECT_TRUE(contains(res.err, "bitlens: error: " + file + ": ")) << res.err;
    EXPECT_TRUE(contains(res.err, "batch_normalization")) << res.err;
    EXPECT_TRUE(contains(res.err, "moving_variance[2] = -0.5 is negative")) << res.err;
  }
}

// ---- zero and negative gamma ----

// gamma = 0 makes a channel constant (beta), negative gamma flips its comparisons, and a bit
// max-pool after it has to pool such channels with OR. Folded into the first conv's integer
// thresholds (bit-packed output, through a bit max-pool), and into the second conv's float
// output stage.
Model zero_gamma_model() {
  kb::ModelBuilder b("zero_gamma", kb::Style::functional, 57);
  auto x = b.input({8, 8, 3});
  auto c = b.quant_conv2d(x, {.filters = 8, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                              .kernel_quantizer = "ste_sign", .pad_values = 1.0, .name = "conv_bits"});
  auto n = b.batch_norm(c, {.name = "bn_bits"});
  auto p = b.max_pool2d(n);
  auto c2 = b.quant_conv2d(p, {.filters = 6, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                               .kernel_quantizer = "ste_sign", .pad_values = 1.0, .name = "conv_float"});
  b.batch_norm(c2, {.name = "bn_float"});
  // Channels: gamma 0 with beta > 0, < 0 and exactly 0 (sign(0) = +1 in ste_sign), negative
  // gamma, and ordinary ones.
  b.set_weight("bn_bits", "gamma", {{8}, {0.0f, 0.0f, 0.0f, -1.5f, 0.7f, -0.0f, 1.0f, -0.3f}});
  b.set_weight("bn_bits", "beta", {{8}, {0.25f, -0.25f, 0.0f, 0.1f, -0.2f, 0.0f, 0.3f, -0.1f}});
  b.set_weight("bn_float", "gamma", {{6}, {0.0f, -2.0f, 0.5f, 0.0f, -0.0f, 1.25f}});
  b.set_weight("bn_float", "beta", {{6}, {0.5f, 0.0f, -1.0f, -0.75f, 0.0f, 0.2f}});
  return b.build();
}

TEST(LoaderBreadth, ZeroAndNegativeGammaFoldedIntoThresholdsMatchTheReference) {
  TempDir dir;
  const Model m = through_file(zero_gamma_model(), dir);
  const CompileResult r = compile(m);
  const Node& c = node(r, "conv_bits");
  ASSERT_EQ(c.decision.kernel, KernelClass::Binary);
  ASSERT_TRUE(c.epi.bits) << "the BatchNormalization must fold into integer thresholds";
  EXPECT_EQ(node(r, "bn_bits").decision.fused_into, "conv_bits");
  EXPECT_EQ(node(r, "max_pooling2d").decision.kernel_name, "bl_maxpool_s1");
  EXPECT_EQ(node(r, "bn_float").decision.fused_into, "conv_float");
  ASSERT_EQ(c.epi.threshold.size(), 8u);

  const auto x = random_inputs(r, 20261206, 16);
  Executor ex(r);
  const auto got = ex.run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].shape, want[0].shape);
  for (size_t i = 0; i < got[0].data.size(); ++i) ASSERT_EQ(got[0].data[i], want[0].data[i]) << "element " << i;
  // gamma = 0 channels of the float output are the constant beta for every input.
  const size_t ch = 6;
  for (size_t i = 0; i < want[0].data.size(); i += ch) {
    EXPECT_EQ(want[0].data[i + 0], 0.5f);
    EXPECT_EQ(want[0].data[i + 3], -0.75f);
  }
}

TEST(LoaderBreadth, ZeroGammaBothEnginesAgreeOnTheCommandLine) {
  TempDir dir;
  write_model_h5(zero_gamma_model(), dir / "m.h5");
  const std::string file = (dir / "m.h5").string();
  Array y[2];
  int i = 0;
  for (const char* engine : {"kernels", "reference"}) {
    const fs::path o = dir / (std::string("y_") + engine + ".npy");
    auto res = cli_test::run_cli("run " + file + " --random 7 --batch 8 --engine " + engine + " --output " + o.string(),
                                 dir.path());
    ASSERT_EQ(res.status, 0) << engine << ": " << res.err;
    y[i++] = read_npy(o);
  }
  ASSERT_EQ(y[0].shape, (std::vector<int64_t>{8, 4, 4, 6}));
  EXPECT_EQ(y[0].shape, y[1].shape);
  EXPECT_EQ(y[0].data, y[1].data);
}

}  // namespace
