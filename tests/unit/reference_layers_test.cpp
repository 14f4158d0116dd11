// Reference BatchNormalization, pooling, shape layers, activations, merge layers and TFOpLambda
// against values computed by hand.
#include <cmath>
#include <limits>
#include <random>

#include "bitlens/semantics.hpp"
#include "unit/reference_test_util.hpp"

namespace bitlens {
namespace {

using namespace testutil;

Layer bn(bool scale, bool center, double eps) {
  std::map<std::string, Array> w = {{"moving_mean", arr({2}, {0.5f, -2})},
                                    {"moving_variance", arr({2}, {3.999f, 0.249f})}};
  if (scale) w["gamma"] = arr({2}, {2, 1.5f});
  if (center) w["beta"] = arr({2}, {1, -1});
  return layer("bn", "BatchNormalization",
               {{"axis", {1}}, {"epsilon", eps}, {"scale", scale}, {"center", center},
                {"momentum", 0.99}},
               {"in"}, w);
}

TEST(ReferenceBatchNorm, ScaleAndCenterByHand) {
  // var + eps = 4 and 0.25: inv = [0.5 * 2, 2 * 1.5] = [1, 3]; shift = [1 - 0.5, -1 + 6] = [0.5, 5]
  expect_array_near(run1(bn(true, true, 0.001), arr({2, 2}, {1, -1, -3, 2})), {2, 2},
                    {1.5f, 2, -2.5f, 11}, 1e-5f);
}

TEST(ReferenceBatchNorm, NoScaleNoCenterByHand) {
  // inv = [0.5, 2]; y = x * inv - mean * inv = [0.5x - 0.25, 2x + 4]
  expect_array_near(run1(bn(false, false, 0.001), arr({2, 2}, {1, -1, -3, 2})), {2, 2},
                    {0.25f, 2, -1.75f, 8}, 1e-5f);
}

TEST(ReferenceBatchNorm, MatchesTheFloatExpressionBitForBit) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3, 3), pos(0.01f, 2);
  const int c = 5;
  Array g{{c}, {}}, b{{c}, {}}, m{{c}, {}}, v{{c}, {}};
  for (int i = 0; i < c; ++i) {
    g.data.push_back(u(rng));
    b.data.push_back(u(rng));
    m.data.push_back(u(rng));
    v.data.push_back(pos(rng));
  }
  Layer l = layer("bn", "BatchNormalization", {{"axis", -1}, {"epsilon", 1e-3}}, {"in"},
                  {{"gamma", g}, {"beta", b}, {"moving_mean", m}, {"moving_variance", v}});
  Array x{{1, 2, 3, c}, {}};
  for (int i = 0; i < 2 * 3 * c; ++i) x.data.push_back(u(rng));
  const Array y = run1(l, x);
  const float eps = static_cast<float>(1e-3);
  for (int i = 0; i < 2 * 3 * c; ++i) {
    const int ch = i % c;
    float inv = 1.0f / std::sqrt(v.data[ch] + eps);
    inv *= g.data[ch];
    const float shift = b.data[ch] - m.data[ch] * inv;
    const float expect = x.data[i] * inv + shift;
    EXPECT_EQ(y.data[i], expect) << "element " << i;
  }
}

TEST(ReferenceBatchNorm, NonLastAxis) {
  // axis 1 of an NHWC tensor (H): per-row statistics. fused=False keeps epsilon 0 as given
  // (tf.keras 2.x's fused kernel would raise it to 1.001e-5; tested in compiler_exactness_test).
  Layer l = layer("bn", "BatchNormalization",
                  {{"axis", 1}, {"epsilon", 0.0}, {"scale", false}, {"center", false}, {"fused", false}}, {"in"},
                  {{"moving_mean", arr({2}, {1, 2})}, {"moving_variance", arr({2}, {1, 4})}});
  // row 0: (x - 1) / 1; row 1: (x - 2) / 2
  expect_array_eq(run1(l, arr({1, 2, 1, 2}, {3, 5, 4, 8})), {1, 2, 1, 2}, {2, 4, 1, 3});
}

Layer pool(const std::string& cls, const std::string& padding, int k, int s) {
  return layer("p", cls,
               {{"pool_size", {k, k}}, {"strides", {s, s}}, {"padding", padding},
                {"data_format", "channels_last"}},
               {"in"});
}

const Array grid = arr({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});

TEST(ReferencePool, MaxSameIgnoresPadding) {
  expect_array_eq(run1(pool("MaxPooling2D", "same", 2, 2), grid), {1, 2, 2, 1}, {5, 6, 8, 9});
  Array neg = grid;
  for (auto& v : neg.data) v = -v;
  // A zero pad would win for the right column and bottom row; it must be ignored.
  expect_array_eq(run1(pool("MaxPooling2D", "same", 2, 2), neg), {1, 2, 2, 1},
                  {-1, -3, -7, -9});
}

TEST(ReferencePool, AverageSameDividesByInImageCount) {
  // [1,2,4,5]/4 = 3, [3,6]/2 = 4.5, [7,8]/2 = 7.5, [9]/1 = 9
  expect_array_eq(run1(pool("AveragePooling2D", "same", 2, 2), grid), {1, 2, 2, 1},
                  {3, 4.5f, 7.5f, 9});
}

TEST(ReferencePool, ValidPools) {
  expect_array_eq(run1(pool("MaxPooling2D", "valid", 2, 2), grid), {1, 1, 1, 1}, {5});
  expect_array_eq(run1(pool("AveragePooling2D", "valid", 2, 1), grid), {1, 2, 2, 1},
                  {3, 4, 6, 7});
}

TEST(ReferencePool, SameStrideOnePadsBeforeAndAfter) {
  // 3x3 pool, stride 1, same on 3x3: 1 before, 1 after. Corner (0,0) sees [1,2,4,5].
  const Array y = run1(pool("AveragePooling2D", "same", 3, 1), grid);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 3, 3, 1}));
  EXPECT_EQ(y.data[0], 3.0f);
  EXPECT_EQ(y.data[4], 5.0f);  // centre: all nine
  EXPECT_EQ(y.data[8], 7.0f);  // [5,6,8,9]/4
  EXPECT_EQ(y.data[1], 3.5f);  // [1,2,3,4,5,6]/6
}

TEST(ReferencePool, NullStridesMeanPoolSize) {
  Layer l = pool("MaxPooling2D", "valid", 2, 2);
  l.config["strides"] = nullptr;
  expect_array_eq(run1(l, arr({1, 2, 4, 1}, {1, 2, 3, 4, 5, 6, 7, 8})), {1, 1, 2, 1}, {6, 8});
}

TEST(ReferencePool, GlobalPoolsWithAndWithoutKeepdims) {
  const Array x = arr({1, 2, 2, 2}, {1, -1, 2, -2, 3, -3, 6, -6});
  Layer avg = layer("g", "GlobalAveragePooling2D", {{"data_format", "channels_last"}}, {"in"});
  expect_array_eq(run1(avg, x), {1, 2}, {3, -3});
  avg.config["keepdims"] = true;
  expect_array_eq(run1(avg, x), {1, 1, 1, 2}, {3, -3});
  Layer mx = layer("g", "GlobalMaxPooling2D", {{"keepdims", false}}, {"in"});
  expect_array_eq(run1(mx, x), {1, 2}, {6, -1});
}

TEST(ReferencePool, NonFiniteValuesFollowTf) {
  // MaxPooling2D as TF's CPU MaxPool: start at -FLT_MAX, NaN never wins. GlobalMaxPooling2D as
  // tf.reduce_max: NaN-propagating from -inf.
  const float nan = std::nanf(""), inf = INFINITY, lo = -std::numeric_limits<float>::max();
  // Channel 0: {nan, 1, nan, nan}; channel 1: only -inf; channel 2: only NaN.
  const Array x = arr({1, 2, 2, 3}, {nan, -inf, nan, 1, -inf, nan, nan, -inf, nan, nan, -inf, nan});
  const Array y = run1(pool("MaxPooling2D", "valid", 2, 2), x);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_EQ(y.data[0], 1.0f);
  EXPECT_EQ(y.data[1], lo);
  EXPECT_EQ(y.data[2], lo);
  Layer mx = layer("g", "GlobalMaxPooling2D", {{"keepdims", false}}, {"in"});
  const Array g = run1(mx, x);
  ASSERT_EQ(g.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(std::isnan(g.data[0]));
  EXPECT_EQ(g.data[1], -inf);
  EXPECT_TRUE(std::isnan(g.data[2]));
}

TEST(ReferenceShape, FlattenIsRowMajorHWC) {
  const Array x = arr({1, 2, 1, 2}, {1, 2, 3, 4});
  expect_array_eq(run1(layer("f", "Flatten", json::object(), {"in"}), x), {1, 4}, {1, 2, 3, 4});
}

TEST(ReferenceShape, ReshapeWithMinusOne) {
  const Array x = arr({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const Array y = run1(layer("r", "Reshape", {{"target_shape", {-1, 2, 1}}}, {"in"}), x);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 3, 2, 1}));
  EXPECT_EQ(y.data, x.data);
  expect_model_error([&] { run1(layer("r", "Reshape", {{"target_shape", {4, -1}}}, {"in"}), x); },
                     {"layer 'r' (Reshape)", "cannot reshape", "(2, 6)"});
  expect_model_error([&] { run1(layer("r", "Reshape", {{"target_shape", {5}}}, {"in"}), x); },
                     {"(2, 6)", "6 values per sample", "(5)"});
}

TEST(ReferenceShape, ZeroPaddingForms) {
  const Array x = arr({1, 1, 1, 1}, {7});
  auto zp = [&](json padding) {
    return run1(layer("z", "ZeroPadding2D", {{"padding", padding}}, {"in"}), x);
  };
  expect_array_eq(zp(1), {1, 3, 3, 1}, {0, 0, 0, 0, 7, 0, 0, 0, 0});
  expect_array_eq(zp({1, 0}), {1, 3, 1, 1}, {0, 7, 0});
  expect_array_eq(zp({{0, 1}, {2, 0}}), {1, 2, 3, 1}, {0, 0, 7, 0, 0, 0});
  expect_model_error([&] { zp("big"); }, {"layer 'z' (ZeroPadding2D)", "padding = \"big\""});
}

TEST(ReferenceShape, ConcatenateChannelsAndOtherAxis) {
  const Array a = arr({1, 1, 2, 1}, {1, 2});
  const Array b = arr({1, 1, 2, 2}, {3, 4, 5, 6});
  Layer cat = layer("c", "Concatenate", {{"axis", -1}}, {"a", "b"});
  expect_array_eq(reference_layer(cat, {a, b}), {1, 1, 2, 3}, {1, 3, 4, 2, 5, 6});
  cat.config["axis"] = 2;
  const Array c = arr({1, 1, 1, 1}, {9});
  expect_array_eq(reference_layer(cat, {a, c}), {1, 1, 3, 1}, {1, 2, 9});
  expect_model_error([&] { reference_layer(cat, {a, b}); },
                     {"layer 'c' (Concatenate)", "(1, 1, 2, 1)", "(1, 1, 2, 2)"});
}

TEST(ReferenceActivation, KerasActivationsByHand) {
  const Array x = arr({1, 5}, {-4, -1, 0, 1, 8});
  auto act = [&](const std::string& name, const std::string& version = "2.10.0") {
    return run1(layer("a", "Activation", {{"activation", name}}, {"in"}), x, version);
  };
  expect_array_eq(act("linear"), {1, 5}, {-4, -1, 0, 1, 8});
  expect_array_eq(act("relu"), {1, 5}, {0, 0, 0, 1, 8});
  expect_array_eq(act("relu6"), {1, 5}, {0, 0, 0, 1, 6});
  // tf.keras 2.x: clip(0.2x + 0.5, 0, 1)
  expect_array_near(act("hard_sigmoid"), {1, 5}, {0, 0.3f, 0.5f, 0.7f, 1}, 1e-7f);
  // Keras 3: relu6(x + 3) / 6
  expect_array_near(act("hard_sigmoid", "3.3.3"), {1, 5}, {0, 1.0f / 3, 0.5f, 2.0f / 3, 1},
                    1e-7f);
  expect_array_near(act("sigmoid"), {1, 5},
                    {0.01798621f, 0.26894142f, 0.5f, 0.73105858f, 0.99966465f}, 1e-6f);
  expect_array_near(act("tanh"), {1, 5},
                    {-0.99932930f, -0.76159416f, 0, 0.76159416f, 0.99999977f}, 1e-6f);
  expect_array_near(act("swish"), {1, 5},
                    {-0.07194484f, -0.26894142f, 0, 0.73105858f, 7.99731720f}, 1e-5f);
  expect_array_eq(act("ste_sign"), {1, 5}, {-1, -1, 1, 1, 1});
  expect_array_eq(act("hard_tanh"), {1, 5}, {-1, -1, 0, 1, 1});
  // softmax of [-4,-1,0,1,8] over the last axis
  const Array s = act("softmax");
  double denom = 0;
  for (float v : x.data) denom += std::exp(static_cast<double>(v));
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR(s.data[i], std::exp(static_cast<double>(x.data[i])) / denom, 1e-7);
  // Values from Python's math module (erfc, expm1, log1p) on the Keras definitions.
  expect_array_near(act("gelu"), {1, 5}, {-0.00012668497f, -0.15865525f, 0, 0.84134475f, 8}, 1e-6f);
  expect_array_near(act("mish"), {1, 5}, {-0.072591741f, -0.30340146f, 0, 0.86509839f, 7.9999982f}, 1e-6f);
  expect_array_near(act("elu"), {1, 5}, {-0.98168436f, -0.63212056f, 0, 1, 8}, 1e-6f);
  expect_array_near(act("selu"), {1, 5}, {-1.7258986f, -1.1113307f, 0, 1.050701f, 8.4056079f}, 1e-5f);
  expect_array_near(act("softplus"), {1, 5}, {0.018149928f, 0.31326169f, 0.69314718f, 1.3132617f, 8.0003354f}, 1e-6f);
  expect_array_eq(act("leaky_relu"), {1, 5}, {-0.8f, -0.2f, 0, 1, 8});
  expect_array_near(act("hard_swish"), {1, 5}, {0, -1.0f / 3, 0, 2.0f / 3, 8}, 1e-7f);
  expect_array_near(act("log_softmax"), {1, 5}, {-12.001376f, -9.001376f, -8.001376f, -7.001376f, -0.0013759516f},
                    1e-6f);
  expect_model_error([&] { act("binary_tanh"); },
                     {"layer 'a' (Activation)", "activation \"binary_tanh\" is not one BitLens implements"});
}

TEST(ReferenceActivation, ReluLayerOptions) {
  const Array x = arr({1, 5}, {-2, 0.5f, 1, 3, 10});
  auto relu = [&](json cfg) { return run1(layer("r", "ReLU", cfg, {"in"}), x); };
  // Keras: max_value if x >= max_value; x if threshold <= x < max_value;
  // negative_slope * (x - threshold) otherwise. (x == threshold gives 0 in tf.keras.)
  expect_array_near(relu({{"max_value", 6.0}, {"negative_slope", 0.1}, {"threshold", 1.0}}),
                    {1, 5}, {-0.3f, -0.05f, 0, 3, 6}, 1e-7f);
  expect_array_eq(relu({{"max_value", nullptr}, {"negative_slope", 0.0}, {"threshold", 0.0}}),
                  {1, 5}, {0, 0.5f, 1, 3, 10});
  expect_array_eq(relu({{"max_value", 6.0}}), {1, 5}, {0, 0.5f, 1, 3, 6});
  expect_array_near(relu({{"negative_slope", 0.25}}), {1, 5}, {-0.5f, 0.5f, 1, 3, 10}, 0);
  expect_array_eq(relu({{"max_value", 2.0}}), {1, 5}, {0, 0.5f, 1, 2, 2});
}

TEST(ReferenceActivation, LeakyReluAndSoftmaxLayer) {
  const Array x = arr({1, 3}, {-2, 0, 4});
  expect_array_near(run1(layer("l", "LeakyReLU", {{"alpha", 0.5}}, {"in"}), x), {1, 3},
                    {-1, 0, 4}, 0);
  expect_array_near(run1(layer("l", "LeakyReLU", {{"negative_slope", 0.25}}, {"in"}), x), {1, 3},
                    {-0.5f, 0, 4}, 0);
  const Array s = run1(layer("s", "Softmax", {{"axis", -1}}, {"in"}), arr({1, 2}, {0, 0}));
  expect_array_eq(s, {1, 2}, {0.5f, 0.5f});
  // Softmax over axis 1 of (1, 2, 2): columns normalised.
  const Array s1 = run1(layer("s", "Softmax", {{"axis", 1}}, {"in"}), arr({1, 2, 2}, {0, 5, 0, 5}));
  expect_array_eq(s1, {1, 2, 2}, {0.5f, 0.5f, 0.5f, 0.5f});
}

TEST(ReferenceActivation, ConvActivationAppliesAfterBias) {
  Layer l = layer("c", "Conv2D",
                  {{"filters", 1}, {"kernel_size", {1, 1}}, {"use_bias", true},
                   {"activation", "relu6"}},
                  {"in"}, {{"kernel", arr({1, 1, 1, 1}, {2})}, {"bias", arr({1}, {-1})}});
  expect_array_eq(run1(l, arr({1, 1, 3, 1}, {0, 2, 9})), {1, 1, 3, 1}, {0, 3, 6});
}

TEST(ReferenceMerge, AddSubtractMultiplyAverageMaxMin) {
  const Array a = arr({1, 3}, {1, -2, 3});
  const Array b = arr({1, 3}, {4, 5, -6});
  auto m = [&](const std::string& cls) {
    return reference_layer(layer("m", cls, json::object(), {"a", "b"}), {a, b});
  };
  expect_array_eq(m("Add"), {1, 3}, {5, 3, -3});
  expect_array_eq(m("Subtract"), {1, 3}, {-3, -7, 9});
  expect_array_eq(m("Multiply"), {1, 3}, {4, -10, -18});
  expect_array_eq(m("Average"), {1, 3}, {2.5f, 1.5f, -1.5f});
  expect_array_eq(m("Maximum"), {1, 3}, {4, 5, 3});
  expect_array_eq(m("Minimum"), {1, 3}, {1, -2, -6});
  const Array c = arr({1, 3}, {10, 10, 10});
  expect_array_eq(reference_layer(layer("m", "Add", json::object(), {"a", "b", "c"}), {a, b, c}),
                  {1, 3}, {15, 13, 7});
  expect_model_error(
      [&] { reference_layer(layer("m", "Add", json::object(), {"a", "b"}), {a, arr({1, 2}, {1, 2})}); },
      {"layer 'm' (Add)", "cannot broadcast", "(1, 3)", "(1, 2)"});
}

TEST(ReferenceTFOpLambda, ConstantAndTensorOperands) {
  const Array x = arr({1, 2}, {3, -4});
  Layer mul = layer("op", "TFOpLambda", {{"function", "math.multiply"}}, {"x"});
  mul.call_kwargs = {{"y", 0.5}, {"name", nullptr}};
  expect_array_eq(run1(mul, x), {1, 2}, {1.5f, -2});
  Layer add = layer("op", "TFOpLambda", {{"function", "__operators__.add"}}, {"x", "z"});
  add.call_kwargs = {{"y", {"z", 0, 0}}, {"name", nullptr}};
  expect_array_eq(reference_layer(add, {x, arr({1, 2}, {1, 1})}), {1, 2}, {4, -3});
  Layer sub = layer("op", "TFOpLambda", {{"function", "math.subtract"}}, {"x"});
  sub.call_kwargs = {{"y", {1.0, 2.0}}};  // broadcast along the last axis
  expect_array_eq(run1(sub, x), {1, 2}, {2, -6});
  Layer rsub = layer("op", "TFOpLambda", {{"function", "math.subtract"}}, {"x"});
  rsub.call_kwargs = {{"x", 1.0}};  // 1 - x
  expect_array_eq(run1(rsub, x), {1, 2}, {-2, 5});
  Layer relu = layer("op", "TFOpLambda", {{"function", "nn.relu"}}, {"x"});
  expect_array_eq(run1(relu, x), {1, 2}, {3, 0});
  Layer bad = layer("op", "TFOpLambda", {{"function", "image.resize"}}, {"x"});
  expect_model_error([&] { run1(bad, x); },
                     {"layer 'op' (TFOpLambda)", "\"image.resize\"", "not supported"});
  Layer lonely = layer("op", "TFOpLambda", {{"function", "math.add"}}, {"x"});
  expect_model_error([&] { run1(lonely, x); }, {"math.add", "two operands"});
}

TEST(ReferenceIdentity, InferenceNoOps) {
  const Array x = arr({1, 2}, {3, -4});
  for (const char* cls : {"Dropout", "SpatialDropout2D", "GaussianDropout", "AlphaDropout"})
    expect_array_eq(run1(layer("d", cls, {{"rate", 0.5}}, {"in"}), x), {1, 2}, {3, -4});
  expect_array_eq(run1(layer("d", "GaussianNoise", {{"stddev", 0.5}}, {"in"}), x), {1, 2}, {3, -4});
  // A key GaussianNoise does not have is not silently accepted.
  EXPECT_THROW(run1(layer("d", "GaussianNoise", {{"rate", 0.5}}, {"in"}), x), ModelError);
}

TEST(ReferenceRescaling, ScaleThenOffset) {
  expect_array_eq(
      run1(layer("r", "Rescaling", {{"scale", 0.5}, {"offset", -1.0}}, {"in"}), arr({1, 2}, {4, 0})),
      {1, 2}, {1, -1});
}

}  // namespace
}  // namespace bitlens
