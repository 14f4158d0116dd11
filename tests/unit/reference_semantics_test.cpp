// The shared semantic helpers (bitlens/semantics.hpp): TF same-padding amounts, the Larq
// quantizer tables and parsing, half-to-even rounding, DoReFa, MagnitudeAwareSign, SteTern.
#include <cmath>

#include "bitlens/semantics.hpp"
#include "unit/reference_test_util.hpp"

namespace bitlens {
namespace {

using namespace sem;
using testutil::expect_model_error;

TEST(SemanticsPadding, SameAmountsLikeTensorFlow) {
  struct Case {
    int64_t in, k, s, d, out, before, after;
  };
  const Case cases[] = {
      {3, 2, 1, 1, 3, 0, 1},   // extra pixel goes after (bottom/right)
      {3, 3, 1, 1, 3, 1, 1},   // 2 + 3 - 3 = 2
      {5, 3, 2, 1, 3, 1, 1},   // (3-1)*2 + 3 - 5 = 2
      {4, 3, 2, 1, 2, 0, 1},   // (2-1)*2 + 3 - 4 = 1
      {3, 3, 1, 2, 3, 2, 2},   // dilated extent 5: 2 + 5 - 3 = 4
      {6, 1, 2, 1, 3, 0, 0},   // 1x1 stride 2 never pads
      {7, 2, 3, 1, 3, 0, 1},   // (3-1)*3 + 2 - 7 = 1
      {1, 5, 1, 1, 1, 2, 2},   // tiny input, big kernel
  };
  for (const auto& c : cases) {
    const auto p = same_padding(c.in, c.k, c.s, c.d);
    const std::string what = "in=" + std::to_string(c.in) + " k=" + std::to_string(c.k) +
                             " s=" + std::to_string(c.s) + " d=" + std::to_string(c.d);
    EXPECT_EQ(p.out, c.out) << what;
    EXPECT_EQ(p.before, c.before) << what;
    EXPECT_EQ(p.after, c.after) << what;
  }
  EXPECT_EQ(valid_output(5, 3, 2, 1), 2);
  EXPECT_EQ(valid_output(5, 2, 1, 3), 2);  // extent 4
  EXPECT_EQ(valid_output(2, 3, 1, 1), 0);
}

TEST(SemanticsQuantizer, SignTable) {
  EXPECT_EQ(ste_sign(-2.0f), -1.0f);
  EXPECT_EQ(ste_sign(-1e-30f), -1.0f);
  EXPECT_EQ(ste_sign(0.0f), 1.0f);
  EXPECT_EQ(ste_sign(-0.0f), 1.0f);
  EXPECT_EQ(ste_sign(1e-30f), 1.0f);
  EXPECT_EQ(ste_sign(5.0f), 1.0f);  // beyond clip_value: the clip only affects the gradient
}

TEST(SemanticsQuantizer, HeavisideTable) {
  EXPECT_EQ(ste_heaviside(-3.0f), 0.0f);
  EXPECT_EQ(ste_heaviside(0.0f), 0.0f);
  EXPECT_EQ(ste_heaviside(-0.0f), 0.0f);
  EXPECT_EQ(ste_heaviside(1e-30f), 1.0f);
  EXPECT_EQ(ste_heaviside(7.0f), 1.0f);
}

TEST(SemanticsQuantizer, TernaryTable) {
  EXPECT_EQ(ste_tern(0.05f, 0.05f), 1.0f);    // sign(0.1) + sign(0) = 1 -> 1
  EXPECT_EQ(ste_tern(0.049f, 0.05f), 0.0f);
  EXPECT_EQ(ste_tern(0.0f, 0.05f), 0.0f);
  EXPECT_EQ(ste_tern(-0.05f, 0.05f), -1.0f);  // sign(0) + sign(-0.1) = -1
  EXPECT_EQ(ste_tern(-0.2f, 0.05f), -1.0f);
  EXPECT_EQ(ste_tern(3.0f, 0.05f), 1.0f);
}

TEST(SemanticsQuantizer, TernaryWeightNetworksThreshold) {
  // mean |x| = (1 + 0.2 + 0.1 + 0) / 4 = 0.325, threshold = 0.2275
  QuantizerSpec q = parse_quantizer(
      json{{"class_name", "SteTern"}, {"config", {{"ternary_weight_networks", true}}}}, "t");
  std::vector<float> x = {1.0f, -0.2f, 0.1f, 0.0f};
  EXPECT_NEAR(ste_tern_twn_threshold(x), 0.2275f, 1e-7f);
  quantize_tensor(q, x, 4);
  EXPECT_EQ(x, (std::vector<float>{1, 0, 0, 0}));
  QuantizerSpec fixed = parse_quantizer("ste_tern", "t");
  std::vector<float> y = {1.0f, -0.2f, 0.1f, 0.0f};
  quantize_tensor(fixed, y, 4);
  EXPECT_EQ(y, (std::vector<float>{1, -1, 1, 0}));
}

TEST(SemanticsQuantizer, RoundHalfToEvenLikeTfRound) {
  EXPECT_EQ(round_half_even(0.5f), 0.0f);
  EXPECT_EQ(round_half_even(1.5f), 2.0f);
  EXPECT_EQ(round_half_even(2.5f), 2.0f);
  EXPECT_EQ(round_half_even(-2.5f), -2.0f);
  EXPECT_EQ(round_half_even(-3.5f), -4.0f);
  EXPECT_EQ(round_half_even(2.4f), 2.0f);
  EXPECT_EQ(round_half_even(2.6f), 3.0f);
}

TEST(SemanticsQuantizer, DoReFaActivations) {
  // k=2: n = 3; clip to [0, 1]; round(3x)/3
  EXPECT_EQ(dorefa_activation(-1.0f, 2), 0.0f);
  EXPECT_EQ(dorefa_activation(2.0f, 2), 1.0f);
  EXPECT_EQ(dorefa_activation(0.5f, 2), 2.0f / 3.0f);  // 1.5 -> 2 (half to even)
  EXPECT_EQ(dorefa_activation(0.9f, 2), 1.0f);
  // k=1: n = 1; 0.5 -> round(0.5) = 0 (half to even), just above -> 1
  EXPECT_EQ(dorefa_activation(0.5f, 1), 0.0f);
  EXPECT_EQ(dorefa_activation(0.50001f, 1), 1.0f);
}

TEST(SemanticsQuantizer, DoReFaWeights) {
  // tanh(w) = [0, .7616, -.7616, .4621], d = .7616; normed = t/(2d) + .5 = [.5, 1, 0, .8034]
  // *3 = [1.5, 3, 0, 2.41] -> [2, 3, 0, 2] / 3 -> 2q - 1 = [1/3, 1, -1, 1/3]
  QuantizerSpec q = parse_quantizer(
      json{{"class_name", "DoReFa"}, {"config", {{"k_bit", 2}, {"mode", "weights"}}}}, "w");
  EXPECT_TRUE(q.dorefa_weights);
  std::vector<float> w = {0.0f, 1.0f, -1.0f, 0.5f};
  quantize_tensor(q, w, 4);
  EXPECT_NEAR(w[0], 1.0f / 3, 1e-6f);
  EXPECT_EQ(w[1], 1.0f);
  EXPECT_EQ(w[2], -1.0f);
  EXPECT_NEAR(w[3], 1.0f / 3, 1e-6f);
  std::vector<float> zeros = {0.0f, 0.0f};  // d = 0: normed = 0.5 -> 1.5 -> 2 -> 1/3
  quantize_tensor(q, zeros, 2);
  EXPECT_NEAR(zeros[0], 1.0f / 3, 1e-6f);
}

TEST(SemanticsQuantizer, MagnitudeAwareSignPerLastAxis) {
  QuantizerSpec q = parse_quantizer("magnitude_aware_sign", "k");
  std::vector<float> k = {1, -2, -3, 4};  // shape (2, 2)
  quantize_tensor(q, k, 2);
  EXPECT_EQ(k, (std::vector<float>{2, -3, -2, 3}));
  EXPECT_EQ(magnitude_aware_alpha({1, -2, -3, 4}, 2), (std::vector<float>{2, 3}));
}

TEST(SemanticsQuantizer, NoOpAndNullAreIdentity) {
  std::vector<float> x = {-1.5f, 0.25f};
  quantize_tensor(parse_quantizer(json{{"class_name", "NoOp"}, {"config", {{"precision", 1}}}}, "n"),
                  x, 2);
  quantize_tensor(parse_quantizer(nullptr, "n"), x, 2);
  EXPECT_EQ(x, (std::vector<float>{-1.5f, 0.25f}));
}

TEST(SemanticsQuantizer, ParsesEveryForm) {
  EXPECT_EQ(parse_quantizer("ste_sign", "q").kind, QuantizerKind::SteSign);
  EXPECT_EQ(parse_quantizer("approx_sign", "q").kind, QuantizerKind::ApproxSign);
  EXPECT_EQ(parse_quantizer("swish_sign", "q").kind, QuantizerKind::SwishSign);
  EXPECT_EQ(parse_quantizer("ste_heaviside", "q").kind, QuantizerKind::SteHeaviside);
  EXPECT_EQ(parse_quantizer("dorefa_quantizer", "q").kind, QuantizerKind::DoReFa);
  EXPECT_EQ(parse_quantizer(nullptr, "q").kind, QuantizerKind::None);
  const auto d = parse_quantizer(
      json{{"module", "larq.quantizers"},
           {"class_name", "SteSign"},
           {"config", {{"name", "ste_sign"}, {"trainable", true}, {"clip_value", 1.25}}},
           {"registered_name", "larq>SteSign"}},
      "q");
  EXPECT_EQ(d.kind, QuantizerKind::SteSign);
  EXPECT_TRUE(d.is_sign());
  EXPECT_EQ(d.clip_value, 1.25f);
  EXPECT_EQ(parse_quantizer(json{{"class_name", "larq>ApproxSign"}, {"config", json::object()}}, "q").kind,
            QuantizerKind::ApproxSign);
  EXPECT_EQ(parse_quantizer(json{{"class_name", "DoReFaQuantizer"}, {"config", {{"k_bit", 3}}}}, "q").k_bit,
            3);
  const auto tern = parse_quantizer(
      json{{"class_name", "SteTern"}, {"config", {{"threshold_value", 0.1}, {"clip_value", nullptr}}}},
      "q");
  EXPECT_EQ(tern.threshold_value, 0.1f);
  EXPECT_FALSE(tern.is_sign());
}

TEST(SemanticsQuantizer, ParseErrorsNameThePlaceAndTheValue) {
  expect_model_error([] { parse_quantizer("ste_sing", "layer 'c' (QuantConv2D): input_quantizer"); },
                     {"layer 'c' (QuantConv2D): input_quantizer", "\"ste_sing\"", "SteSign"});
  expect_model_error([] { parse_quantizer(42, "kq"); }, {"kq", "42"});
  expect_model_error(
      [] {
        parse_quantizer(json{{"class_name", "DoReFa"}, {"config", {{"mode", "bias"}}}}, "kq");
      },
      {"kq", "mode \"bias\""});
  expect_model_error(
      [] {
        parse_quantizer(json{{"class_name", "DoReFa"}, {"config", {{"k_bit", 40}}}}, "kq");
      },
      {"kq", "k_bit"});
}

TEST(SemanticsBatchNorm, InvAndShift) {
  EXPECT_EQ(bn_inv(3.0f, 1.0f, std::nullopt), 0.5f);
  EXPECT_EQ(bn_inv(3.0f, 1.0f, 4.0f), 2.0f);
  EXPECT_EQ(bn_shift(1.5f, 2.0f, 1.0f), -2.0f);
  EXPECT_EQ(bn_shift(1.5f, 2.0f, std::nullopt), -3.0f);
  EXPECT_EQ(bn_apply(2.0f, 2.0f, -3.0f), 1.0f);
}

}  // namespace
}  // namespace bitlens
