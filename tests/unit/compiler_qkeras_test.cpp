// QKeras models (qkeras/quantizers.py, qconvolutional.py, qlayers.py): the quantizers'
// forward values as TF computes them (against definitions written here from QKeras' source and
// against the independent numpy oracle, tests/oracle/keras_oracle.py), files laid out as QKeras
// 0.9 + tf.keras 2 save them, both engines equal, and every parameter BitLens does not compute
// refused by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>

#include "bitlens/bl_kernels.h"
#include "bitlens/compiler.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/semantics.hpp"
#include "oracle/run_oracle.hpp"
#include "support/keras_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/model_writer.hpp"

using namespace bitlens;
namespace kb = bitlens::keras;
namespace fs = std::filesystem;

namespace {

struct Scratch : TempDir {
  explicit Scratch(const std::string& tag) : TempDir("qkeras", tag) {}
};

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

bool has_reason(const Node& n, const std::string& code) {
  for (const auto& r : n.decision.reasons)
    if (r.code == code) return true;
  return false;
}

Array random_input(std::vector<int64_t> shape, uint32_t seed, float lo, float hi) {
  Array a;
  a.shape = std::move(shape);
  a.data.resize(static_cast<size_t>(a.size()));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (auto& v : a.data) v = u(rng);
  return a;
}

// QConv2D (3x3, stride 1, "same") and QDense configs with every key QKeras 0.9 on tf.keras 2
// writes.
json qconv2d_config(const std::string& name, int filters, bool use_bias, const json& kq, const json& bq) {
  return {{"name", name}, {"filters", filters}, {"kernel_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "same"},
          {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"groups", 1}, {"activation", "linear"},
          {"use_bias", use_bias}, {"kernel_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
          {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
          {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
          {"kernel_constraint", nullptr}, {"bias_constraint", nullptr}, {"kernel_quantizer", kq},
          {"bias_quantizer", bq}, {"kernel_range", nullptr}, {"bias_range", nullptr}};
}
json qdense_config(const std::string& name, int units, const std::string& activation, const json& kq, const json& bq) {
  return {{"name", name}, {"units", units}, {"activation", activation}, {"use_bias", true},
          {"kernel_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
          {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
          {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
          {"kernel_constraint", nullptr}, {"bias_constraint", nullptr}, {"kernel_quantizer", kq},
          {"bias_quantizer", bq}, {"kernel_range", nullptr}, {"bias_range", nullptr}};
}

// The numpy oracle's outputs for `x` (it reads the .h5 itself), against `got`: the largest
// difference, or NaN when the oracle produced nothing (its log in *log).
float oracle_difference(const fs::path& h5, const Array& x, const Array& got, const fs::path& dir, std::string* log) {
  write_npy(dir / "x.npy", x);
  *log = oracle_run::run_capture(oracle_run::command() + " " + h5.string() + " --input " + (dir / "x.npy").string() +
                                 " --output " + (dir / "y.npy").string());
  if (!fs::exists(dir / "y.npy")) return std::numeric_limits<float>::quiet_NaN();
  const Array oracle = read_npy(dir / "y.npy");
  if (oracle.shape != got.shape) return std::numeric_limits<float>::quiet_NaN();
  float worst = 0;
  for (size_t i = 0; i < oracle.data.size(); ++i) worst = std::max(worst, std::fabs(oracle.data[i] - got.data[i]));
  return worst;
}

// Whether the batch's outputs differ across samples (the inputs reached different results).
float output_spread(const Array& y) {
  const size_t per = static_cast<size_t>(y.shape.back());
  float spread = 0;
  for (size_t i = 0; i < y.data.size(); ++i) spread = std::max(spread, std::fabs(y.data[i] - y.data[i % per]));
  return spread;
}

}  // namespace

// A QActivation with an 8-bit unsigned output (stored offset by 128) read twice by a
// concatenation whose reader binarizes: the bits must be the signs of the levels.
TEST(QKerasModels, UnsignedEightBitActivationIntoConcatenationOnBits) {
  kb::ModelBuilder b("qk_concat");
  auto x = b.input({5, 4, 4});
  auto q = b.layer("QActivation", {x}, {{"activation", "quantized_relu(8,0)"}}, {5, 4, 4});
  auto d = b.dropout(q, 0.1);
  auto c = b.concatenate({q, d});
  auto y = b.quant_conv2d(c, {.filters = 3, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                              .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  (void)y;
  Scratch t("concat");
  const fs::path h5 = t.dir / "m.h5";
  write_model_h5(b.build(), h5);
  const CompileResult r = compile(load_model(h5));
  const Array in = random_input({2, 5, 4, 4}, 3, -1.5f, 1.5f);
  const auto got = Executor(r).run({in});
  const auto want = reference_run(r.model, {in});
  ASSERT_EQ(got[0].data.size(), want[0].data.size());
  for (size_t i = 0; i < got[0].data.size(); ++i) ASSERT_TRUE(same_bits(got[0].data[i], want[0].data[i])) << i;
}

namespace {

sem::QuantizerSpec q_of(const std::string& text) { return sem::parse_quantizer(json(text), "test"); }

// The clip-and-levels value, written here from qkeras/quantizers.py without sem:: —
// quantized_bits: m = 2^(bits - keep_negative), m_i = 2^integer,
// xq = m_i * clip(round(x * m / m_i), keep_negative * (-m + symmetric), m - 1) / m, in double.
double bits_level(double x, int bits, int integer, bool symmetric, bool keep_negative) {
  const double m = std::ldexp(1.0, bits - (keep_negative ? 1 : 0)), m_i = std::ldexp(1.0, integer);
  const double lo = keep_negative ? -m + (symmetric ? 1 : 0) : 0.0;
  return m_i * std::min(std::max(std::nearbyint(x * m / m_i), lo), m - 1) / m;
}
double relu_level(double x, int bits, int integer) {
  const double m = std::ldexp(1.0, bits), m_i = std::ldexp(1.0, integer);
  return m_i * std::min(std::max(std::nearbyint(x * m / m_i) / m, 0.0), 1.0 - 1.0 / m);
}

std::vector<float> probe_values(uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v = {0.0f, -0.0f, 1e-30f, -1e-30f, std::numeric_limits<float>::denorm_min(), 0.5f, -0.5f,
                          1.0f, -1.0f, 0.9921875f, 0.99609375f, 127.5f / 128.0f, -128.5f / 128.0f};
  for (int i = 0; i < 20000; ++i) v.push_back(u(rng));
  // Ties between levels of every grid used below, and their float neighbours.
  for (int k = -600; k <= 600; ++k)
    for (float n : {4.0f, 8.0f, 32.0f, 64.0f, 128.0f, 256.0f}) {
      const float t = (static_cast<float>(k) + 0.5f) / n;
      v.insert(v.end(), {t, std::nextafter(t, 1e9f), std::nextafter(t, -1e9f)});
    }
  return v;
}

}  // namespace

// Below the bound sem::qkeras_exact_bound gives, Keras' x + (-x + xq) is the clip-and-levels
// value (what the int8 and float steps compute); at 2^24 it is not, as the QKERAS_STE note says.
TEST(QKerasQuantizers, ValuesAreTheLevelsBelowTheBoundAndKerasOwnSumAbove) {
  struct Case {
    const char* text;
    int bits, integer;
    bool symmetric, keep_negative;
  };
  for (const Case& c : {Case{"quantized_bits(8,0,0,1,alpha=1)", 8, 0, false, true},
                        Case{"quantized_bits(8, 0, symmetric=1)", 8, 0, true, true},
                        Case{"quantized_bits(6,2)", 6, 2, false, true},
                        Case{"quantized_bits(4,0,keep_negative=False,alpha=None)", 4, 0, false, false},
                        Case{"quantized_bits(8,1,keep_negative=0)", 8, 1, false, false},
                        Case{"quantized_bits(16,3,1)", 16, 3, true, true}}) {
    SCOPED_TRACE(c.text);
    const auto q = q_of(c.text);
    ASSERT_EQ(q.kind, sem::QuantizerKind::QkBits);
    EXPECT_EQ(q.bits, c.bits);
    EXPECT_EQ(q.integer, c.integer);
    EXPECT_EQ(q.symmetric, c.symmetric);
    EXPECT_EQ(q.keep_negative, c.keep_negative);
    const double bound = sem::qkeras_exact_bound(q);
    const auto cl = sem::qkeras_clip_levels(q);
    ASSERT_TRUE(cl);
    for (float x : probe_values(7, 12.0f)) {
      if (std::fabs(x) >= bound) continue;
      const float v = sem::qkeras_bits(x, q);
      ASSERT_EQ(static_cast<double>(v), bits_level(x, c.bits, c.integer, c.symmetric, c.keep_negative)) << x;
      // The float step's form: clip, then round(x * n) / n.
      const float clipped = std::min(std::max(x, cl->lo), cl->hi);
      ASSERT_EQ(v, sem::round_half_even(clipped * cl->n) / cl->n) << x;
    }
    // Just below the bound, still the level; at 2^24 Keras' own sum is off the grid.
    const float below = std::nextafter(static_cast<float>(bound), 0.0f);
    EXPECT_EQ(sem::qkeras_bits(below, q), static_cast<float>(bits_level(below, c.bits, c.integer, c.symmetric, c.keep_negative)));
  }
  const auto q8 = q_of("quantized_bits(8,0,alpha=1)");
  EXPECT_EQ(sem::qkeras_exact_bound(q8), 131072.0);
  EXPECT_EQ(sem::qkeras_bits(16777216.0f, q8), 1.0f);  // TF's x + (-x + 127/128) in float32
  EXPECT_EQ(bits_level(16777216.0, 8, 0, false, true), 127.0 / 128.0);

  // quantized_relu: the level for every x whose x * m stays finite.
  for (const char* text : {"quantized_relu(4,0)", "quantized_relu(8)", "quantized_relu(6,2)", "quantized_relu(bits=3, integer=1)"}) {
    SCOPED_TRACE(text);
    const auto q = q_of(text);
    ASSERT_EQ(q.kind, sem::QuantizerKind::QkRelu);
    for (float x : probe_values(8, 1e6f)) ASSERT_EQ(static_cast<double>(sem::qkeras_relu(x, q)), relu_level(x, q.bits, q.integer)) << x;
    for (float x : {1e30f, -1e30f, 3.0e36f}) {
      if (std::fabs(x) >= sem::qkeras_exact_bound(q)) continue;
      EXPECT_EQ(static_cast<double>(sem::qkeras_relu(x, q)), relu_level(x, q.bits, q.integer)) << x;
    }
  }
  // binary / ternary with alpha None: tanh is only the estimator's base, the value is exact.
  const auto bin = q_of("binary"), bin01 = q_of("binary(use_01=True)"), ter = q_of("ternary(threshold=0.5)");
  for (float x : probe_values(9, 1e3f)) {
    ASSERT_EQ(sem::qkeras_binary(x, bin), x < 0 ? -1.0f : 1.0f) << x;
    ASSERT_EQ(sem::qkeras_binary(x, bin01), x < 0 ? 0.0f : 1.0f) << x;
    ASSERT_EQ(sem::qkeras_ternary(x, ter), std::fabs(x) >= 0.5f ? (x < 0 ? -1.0f : 1.0f) : 0.0f) << x;
  }
  EXPECT_EQ(sem::qkeras_ternary(0.33f, q_of("ternary()")), 1.0f);  // threshold None: 0.33
  EXPECT_EQ(sem::qkeras_ternary(0.3299f, q_of("ternary()")), 0.0f);
  EXPECT_EQ(sem::qkeras_binary(0.25f, q_of("binary(alpha=0.5)")), 0.5f);
}

// The threshold step kernel (bl_threshold_f32, from sem::qkeras_threshold_step) gives QKeras'
// binary/ternary value bit for bit: levels, thresholds and their neighbours, -0, NaN, huge values
// where the straight-through sum x + (-x + level) leaves the level; a negative threshold and fitted
// alphas are no threshold step.
TEST(QKerasQuantizers, ThresholdStepKernelEqualsTheQuantizer) {
  std::vector<float> xs = probe_values(11, 4.0f);
  for (float t : {0.0f, 0.2f, 0.33f, 0.5f, 1.0f})
    for (float s : {t, -t}) xs.insert(xs.end(), {s, std::nextafter(s, 1e9f), std::nextafter(s, -1e9f)});
  xs.insert(xs.end(), {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY, 3e38f, -3e38f, 16777216.0f,
                       -33554432.0f, 1e9f});
  int off_level = 0;
  for (const char* text : {"binary(use_01=True)", "binary(alpha=0.3)", "binary(alpha=2, use_01=True)", "ternary()",
                           "ternary(threshold=0)", "ternary(alpha=0.75, threshold=0.2)", "ternary(alpha=1, threshold=1)",
                           "binary", "binary(alpha=1)"}) {
    SCOPED_TRACE(text);
    const auto q = q_of(text);
    const auto step = sem::qkeras_threshold_step(q);
    ASSERT_TRUE(step);
    bl_threshold_params p{};
    p.count = step->count;
    std::copy(step->thr, step->thr + 2, p.thr);
    std::copy(step->val, step->val + 3, p.val);
    p.ste = step->ste;
    std::vector<float> got(xs.size());
    ASSERT_EQ(bl_threshold_f32(xs.size(), &p, xs.data(), got.data()), BL_OK);
    for (size_t i = 0; i < xs.size(); ++i) {
      const float want = sem::qkeras_value(xs[i], q);
      ASSERT_TRUE(same_bits(got[i], want)) << "x " << xs[i] << ": " << got[i] << " vs " << want;
      off_level += step->ste && std::isfinite(want) && want != step->val[0] && want != step->val[1] &&
                   (step->count < 2 || want != step->val[2]);
    }
  }
  EXPECT_GT(off_level, 0) << "the probes never reached Keras' sum off the levels";
  EXPECT_FALSE(sem::qkeras_threshold_step(q_of("ternary(threshold=-0.5)")));
  EXPECT_FALSE(sem::qkeras_threshold_step(q_of("binary(alpha='auto_po2')")));
  EXPECT_FALSE(sem::qkeras_threshold_step(q_of("quantized_bits(4,0)")));
  bl_threshold_params bad{};
  bad.count = 3;
  float v = 0;
  EXPECT_EQ(bl_threshold_f32(1, &bad, &v, &v), BL_ERR_PARAM);
}

// The call form (positional in QKeras' order, keywords, Python literals) and the object form
// read the same; every value BitLens does not compute is refused with its key and value.
TEST(QKerasQuantizers, ConfigsAreReadOrRefusedByName) {
  const auto a = q_of("quantized_bits(6, 2, 1, True, 1)");
  const auto b = sem::parse_quantizer(json::parse(R"({"class_name": "quantized_bits", "config": {"bits": 6,
      "integer": 2, "symmetric": 1, "alpha": 1, "keep_negative": true, "use_stochastic_rounding": false,
      "qnoise_factor": 1.0}})"), "test");
  for (const auto& q : {a, b}) {
    EXPECT_EQ(q.bits, 6);
    EXPECT_EQ(q.integer, 2);
    EXPECT_TRUE(q.symmetric);
    EXPECT_TRUE(q.keep_negative);
    ASSERT_TRUE(q.alpha);
    EXPECT_EQ(*q.alpha, 1.0f);
  }
  EXPECT_EQ(sem::qkeras_text(a), "quantized_bits(6, 2, symmetric=1, keep_negative=1, alpha=1)");
  EXPECT_FALSE(q_of("quantized_bits(4,0,alpha=None)").alpha);
  EXPECT_EQ(q_of("ternary(alpha=1.0, threshold=0.25)").threshold.value_or(0), 0.25f);
  struct Bad {
    const char* text;
    const char* says;
  };
  for (const Bad& c : {Bad{"ternary(alpha='auto_po2')", "alpha=\"auto_po2\""},
                       Bad{"quantized_bits(4,0,1,alpha='fancy')", "alpha=\"fancy\""},
                       Bad{"quantized_bits(4,0,alpha='auto',scale_axis=0)", "scale_axis=0"},
                       Bad{"quantized_bits(4,0,use_stochastic_rounding=True)", "use_stochastic_rounding=true"},
                       Bad{"quantized_bits(4,0,qnoise_factor=0.5)", "qnoise_factor=0.5"},
                       Bad{"quantized_relu(4,0,1)", "use_sigmoid=1"},
                       Bad{"quantized_relu(4,0,negative_slope=0.25)", "negative_slope=0.25"},
                       Bad{"quantized_relu(4,0,is_quantized_clip=False)", "is_quantized_clip=false"},
                       Bad{"quantized_bits(4,-1)", "integer=-1"},
                       Bad{"quantized_bits(40)", "bits=40"},
                       Bad{"quantized_bits(4,0,made_up=1)", "made_up"},
                       Bad{"quantized_bits(4,0", "closing parenthesis"},
                       Bad{"quantized_bits(4,0,1,1,1,0,0,1,None,True,False,7)", "more than 11 arguments"},
                       Bad{"binary(use_stochastic_rounding=True)", "use_stochastic_rounding=true"},
                       Bad{"quantized_bits(bits=4, 0)", "positional argument after a keyword"}}) {
    SCOPED_TRACE(c.text);
    try {
      q_of(c.text);
      ADD_FAILURE() << "accepted";
    } catch (const ModelError& e) {
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

// alpha="auto_po2" as QConv2D/QDense save it for a kernel quantizer given alpha=None: the
// per-channel power-of-two scale QKeras fits (by hand from qkeras/quantizers.py).
TEST(QKerasQuantizers, FittedPowerOfTwoScalesPerChannel) {
  // quantized_bits(4, 0, alpha="auto_po2"), made symmetric: 14 levels, |z| <= 7, m = 8.
  // Channel 0: max 0.9 -> 0.9 * 2 / 14 -> 2^-3; z = 7, -2, 0, 5; the refit mean(x z) / mean(z z)
  // = 2.475 / 19.5 stays at 2^-3, so the values are z / 8. Channel 1 (x / 4): 2^-5, z / 32.
  std::vector<float> w = {0.9f, 0.225f, -0.3f, -0.075f, 0.05f, 0.0125f, 0.6f, 0.15f};
  const auto q = q_of("quantized_bits(4,0,alpha='auto_po2')");
  EXPECT_TRUE(q.symmetric);
  int64_t near = -1;
  sem::quantize_tensor(q, w, 2, 2, &near);
  EXPECT_EQ(near, 0);
  const std::vector<float> want = {0.875f, 7.0f / 32, -0.25f, -2.0f / 32, 0.0f, 0.0f, 0.625f, 5.0f / 32};
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i], want[i]) << i;
  // binary(alpha="auto_po2"): mean |x| per channel, rounded to a power of two: 1/3 -> 2^-2.
  std::vector<float> b = {0.3f, -0.5f, 0.2f};
  sem::quantize_tensor(q_of("binary(alpha='auto_po2')"), b, 1, 2);
  EXPECT_EQ(b, (std::vector<float>{0.25f, -0.25f, 0.25f}));
  // "auto": the float least-squares scale itself, 1/3 (one float32 rounding of the mean).
  std::vector<float> a = {0.3f, -0.5f, 0.2f};
  sem::quantize_tensor(q_of("binary(alpha='auto')"), a, 1, 2);
  EXPECT_NEAR(a[0], 1.0f / 3, 1e-7f);
  EXPECT_EQ(a[1], -a[0]);
  // A scale that overflows float32 (2 max|x| / levels = +Inf) is 2^round(+Inf) = +Inf, as in TF:
  // every level is 0 then, and the refits continue from there (no undefined conversion).
  std::vector<float> huge = {3e38f, -3e38f, 1.0f, 0.5f};
  sem::quantize_tensor(q, huge, 1, 2);
  for (float v : huge) EXPECT_TRUE(std::isfinite(v)) << v;
  // A channel whose scale sits on a log2 boundary is counted: mean |x| = 2^-1.5.
  std::vector<float> edge = {static_cast<float>(std::ldexp(1.0, -1) / std::sqrt(2.0)), -static_cast<float>(std::ldexp(1.0, -1) / std::sqrt(2.0))};
  near = 0;
  sem::quantize_tensor(q_of("binary(alpha='auto_po2')"), edge, 1, 2, &near);
  EXPECT_EQ(near, 2);
}

namespace {

// An hls4ml-style QKeras MLP as QKeras 0.9 on tf.keras 2 saves it: QDense layers with
// quantized_bits kernel and bias quantizers (serialized objects), QActivation layers holding the
// call strings users write, a softmax head.
// hls4ml's jet tagger shape: QDense layers with one QActivation after each hidden one
// (QActivation i is named "relu<i>").
kb::ModelBuilder qkeras_mlp(const std::vector<std::string>& activations = {"quantized_relu(6)", "quantized_relu(6)",
                                                                           "quantized_bits(8,2,alpha=1)"}) {
  kb::ModelBuilder b("qkeras_jet_tagger", kb::Style::functional, 5);
  auto qb = [](int bits) {
    return json{{"class_name", "quantized_bits"},
                {"config", {{"bits", bits}, {"integer", 0}, {"symmetric", 0}, {"alpha", 1}, {"keep_negative", true},
                            {"use_stochastic_rounding", false}, {"qnoise_factor", 1.0}}}};
  };
  auto dense = [&](const kb::Tensor& x, int units, int bits, const std::string& name, float scale) {
    json cfg = {{"name", name}, {"units", units}, {"activation", "linear"}, {"use_bias", true},
                {"kernel_initializer", {{"class_name", "VarianceScaling"}, {"config", {{"scale", 1.0}, {"mode", "fan_in"}, {"distribution", "truncated_normal"}, {"seed", nullptr}}}}},
                {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
                {"kernel_regularizer", {{"class_name", "L1"}, {"config", {{"l1", 1e-4}}}}}, {"bias_regularizer", nullptr},
                {"activity_regularizer", nullptr}, {"kernel_constraint", nullptr}, {"bias_constraint", nullptr},
                {"kernel_quantizer", qb(bits)}, {"bias_quantizer", qb(bits)}, {"kernel_range", nullptr},
                {"bias_range", nullptr}};
    Array k, bias;
    k.shape = {x.shape.back(), units};
    bias.shape = {units};
    std::mt19937 rng(static_cast<uint32_t>(units * 31 + bits));
    std::normal_distribution<float> nd(0.0f, scale);
    for (int64_t i = 0; i < k.size(); ++i) k.data.push_back(nd(rng));
    for (int64_t i = 0; i < bias.size(); ++i) bias.data.push_back(nd(rng) * 0.5f);
    return b.layer("QDense", {x}, cfg, {units}, {{"kernel", k}, {"bias", bias}});
  };
  auto x = b.input({16}, "input_1");
  x = dense(x, 64, 6, "fc1", 0.3f);
  for (size_t i = 0; i < activations.size(); ++i) {
    x = b.layer("QActivation", {x}, {{"name", "relu" + std::to_string(i + 1)}, {"activation", activations[i]}}, x.shape);
    const bool last = i + 1 == activations.size();
    x = dense(x, last ? 5 : 32, 6, last ? "output" : "fc" + std::to_string(i + 2), last ? 0.3f : 0.2f);
  }
  b.activation(x, "softmax", "softmax");
  return b;
}

}  // namespace

TEST(QKerasModels, MlpRunsItsQuantizersAsIntegerStepsAndMatchesTheOracle) {
  Scratch t("mlp");
  const fs::path h5 = t.dir / "qkeras_mlp.h5";
  write_model_h5(qkeras_mlp().build(), h5);
  const CompileResult r = compile(load_model(h5));
  for (const char* name : {"fc1", "fc2", "fc3", "output"}) {
    const Node* n = r.graph.find_node(name);
    ASSERT_TRUE(n) << name;
    EXPECT_EQ(n->decision.kernel, KernelClass::Float) << name;
    EXPECT_TRUE(has_reason(*n, "QUANTIZED_WEIGHTS_FLOAT")) << name;
    // The kernel BitLens multiplies holds quantized_bits(6, 0)'s levels: k / 32, k in -32..31.
    for (float w : n->weights) {
      ASSERT_EQ(w * 32.0f, std::nearbyint(w * 32.0f)) << name;
      ASSERT_GE(w, -1.0f);
      ASSERT_LE(w, 31.0f / 32.0f);
    }
  }
  for (const char* name : {"relu1", "relu2", "relu3"}) {
    const Node* n = r.graph.find_node(name);
    ASSERT_TRUE(n) << name;
    EXPECT_EQ(n->op, Op::Quantize);
    EXPECT_NE(n->decision.kernel, KernelClass::Unsupported) << name;
    EXPECT_TRUE(has_reason(*n, "QKERAS_STE")) << name;
  }
  // quantized_relu(6): 0..63 over 64, no offset; quantized_bits(8, 2): -128..127 over 32.
  EXPECT_EQ(r.graph.tensors[r.graph.find_node("relu1")->outputs[0]].format, Format::S8);
  EXPECT_EQ(r.graph.tensors[r.graph.find_node("relu1")->outputs[0]].s8.levels, 64.0f);
  EXPECT_EQ(r.graph.tensors[r.graph.find_node("relu3")->outputs[0]].s8.levels, 32.0f);

  Array x = random_input({64, 16}, 21, -3.0f, 3.0f);
  ReferenceTrace trace;
  const auto want = reference_run(r.model, {x}, &trace);
  Executor ex(r);
  std::map<std::string, std::vector<float>> levels;
  ex.set_observer([&](int id, const void* data, int64_t) {
    const Node& n = r.graph.nodes[static_cast<size_t>(id)];
    if (n.op != Op::Quantize || n.class_name != "QActivation") return;
    const Tensor& o = r.graph.tensors[n.outputs[0]];
    for (int64_t i = 0; i < o.elements(); ++i)
      levels[n.layer].push_back(o.format == Format::S8 ? (static_cast<const int8_t*>(data)[i] + static_cast<float>(o.s8.offset)) / o.s8.levels
                                                        : static_cast<const float*>(data)[i]);
  });
  const auto got = ex.run({x});
  ASSERT_EQ(levels.size(), 3u);
  for (const auto& [layer, v] : levels) {
    const Array& ref = trace.outputs.at(layer);
    ASSERT_EQ(v.size(), ref.data.size()) << layer;
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], ref.data[i]) << layer << " " << i;
    // Not constant: the inputs reach many levels.
    EXPECT_GT(std::set<float>(v.begin(), v.end()).size(), 8u) << layer;
  }
  float maxd = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) maxd = std::max(maxd, std::fabs(got[0].data[i] - want[0].data[i]));
  EXPECT_LE(maxd, 1e-6f);

  std::string log;
  EXPECT_LE(oracle_difference(h5, x, got[0], t.dir, &log), 1e-5f) << log;
}

// QKeras binary (0/1, or +-alpha with alpha set) and ternary QActivations run as float threshold
// steps (bl_threshold_f32): each step's values are the reference interpreter's bit for bit, the
// outputs the oracle's. With alpha None, Keras' sum tanh(x) + (-tanh(x) + level) is the level
// itself; with alpha set the step computes x + (-x + level) as Keras does.
TEST(QKerasModels, BinaryAndTernaryActivationsRunAsThresholdSteps) {
  Scratch t("threshold");
  const fs::path h5 = t.dir / "qkeras_threshold.h5";
  const std::vector<std::string> acts = {"ternary()", "binary(use_01=True)", "ternary(alpha=0.75, threshold=0.2)",
                                         "binary(alpha=0.3)"};
  write_model_h5(qkeras_mlp(acts).build(), h5);
  const CompileResult r = compile(load_model(h5));
  for (size_t i = 0; i < acts.size(); ++i) {
    const Node* n = r.graph.find_node("relu" + std::to_string(i + 1));
    ASSERT_TRUE(n) << acts[i];
    EXPECT_EQ(n->decision.kernel_name, "bl_threshold_f32") << acts[i];
    EXPECT_TRUE(has_reason(*n, "THRESHOLD_STEP")) << acts[i];
  }
  Array x = random_input({64, 16}, 23, -3.0f, 3.0f);
  ReferenceTrace trace;
  const auto want = reference_run(r.model, {x}, &trace);
  Executor ex(r);
  std::map<std::string, std::vector<float>> steps;
  ex.set_observer([&](int id, const void* data, int64_t) {
    const Node& n = r.graph.nodes[static_cast<size_t>(id)];
    if (n.class_name != "QActivation") return;
    const auto* v = static_cast<const float*>(data);
    steps[n.layer].insert(steps[n.layer].end(), v, v + r.graph.tensors[n.outputs[0]].elements());
  });
  const auto got = ex.run({x});
  ASSERT_EQ(steps.size(), acts.size());
  std::map<std::string, std::set<float>> seen;
  for (const auto& [layer, v] : steps) {
    const Array& ref = trace.outputs.at(layer);
    ASSERT_EQ(v.size(), ref.data.size()) << layer;
    for (size_t i = 0; i < v.size(); ++i) ASSERT_TRUE(same_bits(v[i], ref.data[i])) << layer << " " << i << ": " << v[i] << " vs " << ref.data[i];
    seen[layer].insert(v.begin(), v.end());
  }
  // Every level is reached: ternary's three, binary's two.
  EXPECT_EQ(seen["relu1"], (std::set<float>{-1.0f, 0.0f, 1.0f}));
  EXPECT_EQ(seen["relu2"], (std::set<float>{0.0f, 1.0f}));
  EXPECT_GE(seen["relu3"].size(), 3u);
  EXPECT_GE(seen["relu4"].size(), 2u);
  float maxd = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) maxd = std::max(maxd, std::fabs(got[0].data[i] - want[0].data[i]));
  EXPECT_LE(maxd, 1e-6f);
  EXPECT_GT(output_spread(got[0]), 1e-3f);
  std::string log;
  EXPECT_LE(oracle_difference(h5, x, got[0], t.dir, &log), 1e-5f) << log;
}

// Parameters BitLens does not compute make their layer unsupported, naming the key and value;
// the file still loads.
TEST(QKerasModels, RefusedParametersNameTheirLayerKeyAndValue) {
  struct Case {
    const char* layer_class;
    json cfg;
    const char* code;
    const char* says;
  };
  const json auto_po2 = {{"class_name", "ternary"},
                         {"config", {{"alpha", "auto_po2"}, {"threshold", nullptr}, {"use_stochastic_rounding", false},
                                     {"number_of_unrolls", 5}}}};
  for (const Case& c : {Case{"QActivation", {{"activation", "quantized_relu(4,0,negative_slope=0.5)"}}, "ACTIVATION", "negative_slope=0.5"},
                        Case{"QActivation", {{"activation", "ternary(threshold=-0.5)"}}, "ACTIVATION", "no kernel step runs it yet"},
                        Case{"QActivation", {{"activation", "quantized_bits(1,0)"}}, "ACTIVATION", "no kernel step runs it yet"},
                        Case{"QActivation", {{"activation", "relu"}}, "ACTIVATION", "not a QKeras quantizer"},
                        Case{"QDense", {{"units", 4}, {"kernel_quantizer", auto_po2}}, "KERNEL_QUANTIZER_NOT_SIGN", "auto_po2"},
                        Case{"QDense", {{"units", 4}, {"bias_quantizer", auto_po2}}, "CONFIG_VALUE", "bias_quantizer"},
                        Case{"QDense", {{"units", 4}, {"activation", "quantized_relu(4,0)"}}, "ACTIVATION", "QActivation"}}) {
    SCOPED_TRACE(c.cfg.dump());
    kb::ModelBuilder b("qk_bad");
    auto x = b.input({8});
    std::vector<std::pair<std::string, Array>> w;
    std::vector<int64_t> out = {8};
    if (std::string(c.layer_class) == "QDense") {
      Array k, bias;
      k.shape = {8, 4};
      k.data.assign(32, 0.25f);
      bias.shape = {4};
      bias.data.assign(4, 0.125f);
      w = {{"kernel", k}, {"bias", bias}};
      out = {4};
    }
    b.layer(c.layer_class, {x}, c.cfg, out, w);
    Scratch t("bad");
    write_model_h5(b.build(), t.dir / "m.h5");
    const CompileResult r = compile(load_model(t.dir / "m.h5"));
    const Node* bad = nullptr;
    for (const Node& n : r.graph.nodes)
      if (n.decision.kernel == KernelClass::Unsupported) bad = &n;
    ASSERT_TRUE(bad);
    ASSERT_FALSE(bad->decision.reasons.empty());
    bool found = false;
    for (const auto& reason : bad->decision.reasons)
      found = found || (reason.code == c.code && (reason.message + " " + reason.fix).find(c.says) != std::string::npos);
    EXPECT_TRUE(found) << bad->decision.reasons[0].code << ": " << bad->decision.reasons[0].message;
  }
}

// A small QKeras CNN with the kernel quantizers QConv2D/QDepthwiseConv2D save when built with
// alpha=None (alpha="auto_po2"), a ternary dense head, quantizer strings in QActivation layers:
// both engines and the oracle agree, the kernels BitLens multiplies are per-channel powers of two
// times small integers.
TEST(QKerasModels, CnnWithFittedScalesMatchesTheOracle) {
  kb::ModelBuilder b("qkeras_cnn", kb::Style::functional, 9);
  std::mt19937 rng(77);
  std::normal_distribution<float> nd(0.0f, 0.4f);
  auto arr = [&](std::vector<int64_t> shape) {
    Array a;
    a.shape = std::move(shape);
    for (int64_t i = 0; i < a.size(); ++i) a.data.push_back(nd(rng));
    return a;
  };
  const json qb4_po2 = {{"class_name", "quantized_bits"},
                        {"config", {{"bits", 4}, {"integer", 0}, {"symmetric", true}, {"alpha", "auto_po2"},
                                    {"keep_negative", true}, {"use_stochastic_rounding", false}, {"qnoise_factor", 1.0}}}};
  const json qb6 = {{"class_name", "quantized_bits"},
                    {"config", {{"bits", 6}, {"integer", 0}, {"symmetric", 0}, {"alpha", 1}, {"keep_negative", true},
                                {"use_stochastic_rounding", false}, {"qnoise_factor", 1.0}}}};
  const json bin_po2 = {{"class_name", "binary"}, {"config", {{"use_01", false}, {"alpha", "auto_po2"}, {"use_stochastic_rounding", false}}}};
  const json ter = {{"class_name", "ternary"},
                    {"config", {{"alpha", 1.0}, {"threshold", 0.3}, {"use_stochastic_rounding", false}, {"number_of_unrolls", 5}}}};
  auto x = b.input({12, 12, 1}, "input_1");
  x = b.layer("QConv2D", {x}, qconv2d_config("conv1", 8, true, qb4_po2, qb6), {12, 12, 8}, {{"kernel", arr({3, 3, 1, 8})}, {"bias", arr({8})}});
  x = b.layer("QActivation", {x}, {{"name", "act1"}, {"activation", "quantized_relu(4,0)"}}, {12, 12, 8});
  const json dw_cfg = {{"name", "dw1"}, {"kernel_size", {3, 3}}, {"strides", {2, 2}}, {"padding", "valid"},
                       {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"groups", 1}, {"activation", "relu"},
                       {"use_bias", false}, {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
                       {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr}, {"bias_constraint", nullptr},
                       {"depth_multiplier", 1}, {"depthwise_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
                       {"depthwise_regularizer", nullptr}, {"depthwise_constraint", nullptr}, {"depthwise_quantizer", bin_po2},
                       {"bias_quantizer", nullptr}, {"depthwise_range", nullptr}, {"bias_range", nullptr}};
  x = b.layer("QDepthwiseConv2D", {x}, dw_cfg, {5, 5, 8}, {{"depthwise_kernel", arr({3, 3, 8, 1})}});
  x = b.layer("QActivation", {x}, {{"name", "act2"}, {"activation", "quantized_bits(8, 2, alpha=1)"}}, {5, 5, 8});
  x = b.flatten(x, "flatten");
  b.layer("QDense", {x}, qdense_config("head", 10, "softmax", ter, qb6), {10}, {{"kernel", arr({200, 10})}, {"bias", arr({10})}});
  Scratch t("cnn");
  const fs::path h5 = t.dir / "qkeras_cnn.h5";
  write_model_h5(b.build(), h5);
  const CompileResult r = compile(load_model(h5));
  for (const Node& n : r.graph.nodes) EXPECT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  // conv1: each filter's 9 weights are z * 2^-e with |z| <= 7 and one e per filter.
  const Node* conv = r.graph.find_node("conv1");
  ASSERT_TRUE(conv);
  for (int f = 0; f < 8; ++f) {
    float step = 0;
    for (int i = 0; i < 9; ++i) step = std::max(step, std::fabs(conv->weights[static_cast<size_t>(i * 8 + f)]));
    ASSERT_GT(step, 0.0f);
    int e;
    std::frexp(step, &e);
    const float unit = std::ldexp(1.0f, e - 4);  // largest |z| in 4..7 -> 2^(e-3) steps; allow one more bit
    for (int i = 0; i < 9; ++i) {
      const float v = conv->weights[static_cast<size_t>(i * 8 + f)] / unit;
      EXPECT_EQ(v, std::nearbyint(v)) << f << " " << i;
      EXPECT_LE(std::fabs(v), 14.0f);
    }
  }
  Array in = random_input({6, 12, 12, 1}, 5, 0.0f, 1.0f);
  const auto got = Executor(r).run({in});
  const auto want = reference_run(r.model, {in});
  float maxd = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) maxd = std::max(maxd, std::fabs(got[0].data[i] - want[0].data[i]));
  EXPECT_LE(maxd, 1e-6f);
  std::string log;
  EXPECT_LE(oracle_difference(h5, in, got[0], t.dir, &log), 1e-5f) << log;
  EXPECT_GT(output_spread(got[0]), 1e-3f) << "the inputs should lead to different outputs";
}

// A QKeras BNN (QActivation("binary") before QConv2D/QDense with binary kernels, as in QKeras'
// examples): the binary layers run on the XNOR/popcount kernels, reading the sign step's bits
// (INPUT_SIGNS_FROM_LAYER); binary(alpha="auto_po2") kernels become signs and a per-channel
// power-of-two scale. Bit for bit equal to the reference, the oracle within 1e-5.
TEST(QKerasModels, BinaryActivationsAndKernelsRunOnBitKernels) {
  kb::ModelBuilder b("qkeras_bnn", kb::Style::functional, 13);
  std::mt19937 rng(99);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  auto arr = [&](std::vector<int64_t> shape) {
    Array a;
    a.shape = std::move(shape);
    for (int64_t i = 0; i < a.size(); ++i) a.data.push_back(nd(rng));
    return a;
  };
  const json bin_po2 = {{"class_name", "binary"}, {"config", {{"use_01", false}, {"alpha", "auto_po2"}, {"use_stochastic_rounding", false}}}};
  const json bin1 = {{"class_name", "binary"}, {"config", {{"use_01", false}, {"alpha", 1}, {"use_stochastic_rounding", false}}}};
  auto x = b.input({10, 10, 2}, "input_1");
  x = b.layer("QConv2D", {x}, qconv2d_config("conv1", 16, true, bin_po2, nullptr), {10, 10, 16}, {{"kernel", arr({3, 3, 2, 16})}, {"bias", arr({16})}});
  x = b.batch_norm(x, {});
  x = b.layer("QActivation", {x}, {{"name", "sign1"}, {"activation", "binary"}}, {10, 10, 16});
  x = b.layer("QConv2D", {x}, qconv2d_config("conv2", 24, false, bin_po2, nullptr), {10, 10, 24}, {{"kernel", arr({3, 3, 16, 24})}});
  x = b.batch_norm(x, {});
  x = b.layer("QActivation", {x}, {{"name", "sign2"}, {"activation", "binary(alpha=1)"}}, {10, 10, 24});
  x = b.flatten(x, "flatten");
  b.layer("QDense", {x}, qdense_config("head", 10, "linear", bin1, nullptr), {10}, {{"kernel", arr({2400, 10})}, {"bias", arr({10})}});
  Scratch t("bnn");
  const fs::path h5 = t.dir / "qkeras_bnn.h5";
  write_model_h5(b.build(), h5);
  const CompileResult r = compile(load_model(h5));
  for (const Node& n : r.graph.nodes) EXPECT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  for (const char* name : {"conv2", "head"}) {
    const Node* n = r.graph.find_node(name);
    ASSERT_TRUE(n) << name;
    EXPECT_EQ(n->decision.kernel, KernelClass::Binary) << name << " " << n->decision.kernel_name;
    EXPECT_TRUE(has_reason(*n, "INPUT_SIGNS_FROM_LAYER")) << name;
    for (float w : n->weights) ASSERT_TRUE(w == 1.0f || w == -1.0f) << name;
  }
  // conv1's float input runs on the binary-weights kernel; its alpha="auto_po2" scales are
  // powers of two in the output stage. conv1 and conv2 write the bits of the sign steps after
  // their BatchNorm themselves (integer thresholds): the steps are fused.
  const Node* c1 = r.graph.find_node("conv1");
  EXPECT_EQ(c1->decision.kernel, KernelClass::BinaryWeights) << c1->decision.kernel_name;
  EXPECT_TRUE(has_reason(*c1, "FITTED_SIGN_SCALE"));
  for (const char* name : {"conv1", "conv2"})
    EXPECT_EQ(r.graph.tensors[r.graph.find_node(name)->outputs[0]].format, Format::S1) << name;
  for (const char* name : {"sign1", "sign2"}) {
    EXPECT_EQ(r.graph.find_node(name)->decision.kernel, KernelClass::Fused) << name;
    EXPECT_TRUE(r.graph.find_node(name)->removed) << name;
  }
  Array in = random_input({4, 10, 10, 2}, 8, -1.0f, 1.0f);
  ReferenceTrace trace;
  const auto want = reference_run(r.model, {in}, &trace);
  Executor ex(r);
  const auto got = ex.run({in});
  float maxd = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) maxd = std::max(maxd, std::fabs(got[0].data[i] - want[0].data[i]));
  EXPECT_LE(maxd, 1e-5f);
  // The head's sums of +-1 products are integers: identical in both engines.
  size_t differ = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) differ += !same_bits(got[0].data[i], want[0].data[i]);
  EXPECT_EQ(differ, 0u);
  std::string log;
  EXPECT_LE(oracle_difference(h5, in, got[0], t.dir, &log), 1e-4f) << log;
  EXPECT_GT(output_spread(got[0]), 1e-3f) << "the inputs should lead to different outputs";
}

// The bundled QKeras BNN (resources/models/generate.cpp): every layer after the first on the
// XNOR/popcount kernels, the sign steps fused into thresholds (bit max-pools included), both
// engines equal bit for bit, the oracle within 1e-4.
TEST(QKerasModels, BundledBnnRunsOnBitKernels) {
  const fs::path file = fs::path(BITLENS_MODELS_DIR) / "qkeras_bnn.h5";
  const CompileResult r = compile(load_model(file));
  for (const Node& n : r.graph.nodes) EXPECT_NE(n.decision.kernel, KernelClass::Unsupported) << n.name;
  EXPECT_EQ(r.graph.find_node("conv2d_0")->decision.kernel, KernelClass::BinaryWeights);
  for (const char* name : {"conv2d_1", "dense"}) EXPECT_EQ(r.graph.find_node(name)->decision.kernel, KernelClass::Binary) << name;
  for (const char* name : {"act_0", "act_1"}) EXPECT_EQ(r.graph.find_node(name)->decision.kernel, KernelClass::Fused) << name;
  for (const char* name : {"conv2d_0", "conv2d_1"})
    EXPECT_EQ(r.graph.tensors[r.graph.find_node(name)->outputs[0]].format, Format::S1) << name;
  Array x = random_input({8, 28, 28, 1}, 12, 0.0f, 1.0f);
  Executor ex(r);
  // The head's values before the softmax (its BatchNorm folded in): integer sums of +-1 products
  // scaled as Keras does, identical in both engines; the softmax's exp may round apart.
  std::vector<float> logits;
  const int head = r.graph.find_node("dense")->id;
  ex.set_observer([&](int id, const void* data, int64_t bytes) {
    if (id != head) return;
    const float* f = static_cast<const float*>(data);
    logits.insert(logits.end(), f, f + bytes / 4);
  });
  const auto got = ex.run({x});
  ReferenceTrace trace;
  const auto want = reference_run(r.model, {x}, &trace);
  const Array& ref_logits = trace.outputs.at("bn_2");
  ASSERT_EQ(logits.size(), ref_logits.data.size());
  for (size_t i = 0; i < logits.size(); ++i) ASSERT_TRUE(same_bits(logits[i], ref_logits.data[i])) << i;
  float maxd = 0;
  for (size_t i = 0; i < got[0].data.size(); ++i) maxd = std::max(maxd, std::fabs(got[0].data[i] - want[0].data[i]));
  EXPECT_LE(maxd, 1e-6f);
  Scratch t("bundled");
  std::string log;
  EXPECT_LE(oracle_difference(file, x, got[0], t.dir, &log), 1e-4f) << log;
  EXPECT_GT(output_spread(got[0]), 1e-3f) << "the inputs should lead to different outputs";
}

// A binary QKeras kernel on a float input (the usual first layer) runs on the binary-weights
// kernel, whose float sum has a fixed order (docs/decisions.md, BWCONV_SUM_ORDER); the reference
// takes the same order for QKeras' -1/+1 and power-of-two-scaled sign kernels, so both engines
// agree bit for bit.
TEST(QKerasModels, BinaryWeightsOnFloatInputsSumInTheKernelsOrder) {
  for (const char* alpha : {"null", "1", "\"auto_po2\""}) {
    SCOPED_TRACE(alpha);
    kb::ModelBuilder b("qk_bw", kb::Style::functional, 3);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 0.5f);
    Array k;
    k.shape = {3, 3, 5, 8};
    for (int64_t i = 0; i < k.size(); ++i) k.data.push_back(nd(rng));
    const json cfg = {{"filters", 8}, {"kernel_size", {3, 3}}, {"strides", {1, 1}}, {"padding", "same"},
                      {"data_format", "channels_last"}, {"dilation_rate", {1, 1}}, {"groups", 1}, {"activation", "linear"},
                      {"use_bias", false}, {"kernel_quantizer", {{"class_name", "binary"}, {"config", {{"use_01", false},
                      {"alpha", json::parse(alpha)}, {"use_stochastic_rounding", false}}}}}, {"bias_quantizer", nullptr},
                      {"kernel_range", nullptr}, {"bias_range", nullptr}};
    auto x = b.input({9, 9, 5});
    b.layer("QConv2D", {x}, cfg, {9, 9, 8}, {{"kernel", k}});
    Scratch t("bw");
    write_model_h5(b.build(), t.dir / "m.h5");
    const CompileResult r = compile(load_model(t.dir / "m.h5"));
    ASSERT_EQ(r.graph.find_node("q_conv2d")->decision.kernel, KernelClass::BinaryWeights);
    const Array in = random_input({3, 9, 9, 5}, 4, -3.0f, 3.0f);
    const auto got = Executor(r).run({in});
    const auto want = reference_run(r.model, {in});
    size_t differ = 0;
    for (size_t i = 0; i < got[0].data.size(); ++i) differ += !same_bits(got[0].data[i], want[0].data[i]);
    EXPECT_EQ(differ, 0u) << "of " << got[0].data.size();
  }
}
