// Reference convolutions and dense layers against results computed by hand: binary conv with
// pad_values -1 / 0 / +1, strides, valid padding, depthwise, separable, dense, bias, activation.
#include <random>
#include <sstream>

#include "unit/reference_test_util.hpp"

namespace bitlens {
namespace {

using namespace testutil;

// 3x3 single-channel input. Its sign (0 -> +1) is
//    1 -1  1
//   -1  1  1
//    1 -1 -1
Array input3x3() { return arr({1, 3, 3, 1}, {0.5f, -2, 3, -0.1f, 0, 4, 1, -1, -3}); }

// 2x2 kernel whose sign is [[-1, +1], [+1, +1]]: y = -a + b + c + d for the window
// a b / c d.
Array kernel2x2() { return arr({2, 2, 1, 1}, {-0.3f, 0.7f, 0.2f, 0.5f}); }

Layer binary_conv(const std::string& padding, float pad_values, int stride = 1) {
  json cfg = {{"filters", 1},
              {"kernel_size", {2, 2}},
              {"strides", {stride, stride}},
              {"padding", padding},
              {"data_format", "channels_last"},
              {"dilation_rate", {1, 1}},
              {"groups", 1},
              {"activation", "linear"},
              {"use_bias", false},
              {"input_quantizer", {{"class_name", "SteSign"}, {"config", {{"clip_value", 1.0}}}}},
              {"kernel_quantizer", "ste_sign"},
              {"pad_values", pad_values}};
  return layer("qconv", "QuantConv2D", cfg, {"in"}, {{"kernel", kernel2x2()}});
}

// TF "same" for in=3, k=2, s=1 pads 0 rows/cols before and 1 after (bottom/right), so the last
// row and column of the output see the pad value p:
//   -2   4    2p
//    2  -2   -2+2p
//   -2+2p 2p  1+3p
TEST(ReferenceConv, BinaryConvSamePadMinusOneByHand) {
  expect_array_eq(run1(binary_conv("same", -1.0f), input3x3()), {1, 3, 3, 1},
                  {-2, 4, -2, 2, -2, -4, -4, -2, -2});
}

TEST(ReferenceConv, BinaryConvSamePadZeroByHand) {
  expect_array_eq(run1(binary_conv("same", 0.0f), input3x3()), {1, 3, 3, 1},
                  {-2, 4, 0, 2, -2, -2, -2, 0, 1});
}

TEST(ReferenceConv, BinaryConvSamePadPlusOneByHand) {
  expect_array_eq(run1(binary_conv("same", 1.0f), input3x3()), {1, 3, 3, 1},
                  {-2, 4, 2, 2, -2, 0, 0, 2, 4});
}

TEST(ReferenceConv, PadValueIsNotQuantized) {
  // pad 0.5 stays 0.5 (the input quantizer runs before padding): corner = 1 + 3 * 0.5.
  const Array y = run1(binary_conv("same", 0.5f), input3x3());
  EXPECT_EQ(y.data[8], 2.5f);
  EXPECT_EQ(y.data[2], 1.0f);
}

TEST(ReferenceConv, MissingPadValuesMeansZero) {
  Layer l = binary_conv("same", 1.0f);
  l.config.erase("pad_values");
  expect_array_eq(run1(l, input3x3()), {1, 3, 3, 1}, {-2, 4, 0, 2, -2, -2, -2, 0, 1});
}

TEST(ReferenceConv, BinaryConvValidByHand) {
  expect_array_eq(run1(binary_conv("valid", 1.0f), input3x3()), {1, 2, 2, 1}, {-2, 4, 2, -2});
}

TEST(ReferenceConv, BinaryConvSameStrideTwoByHand) {
  // in=3, k=2, s=2: out 2, total pad 1 (after). Picks rows/cols 0 and 2 of the stride-1 result.
  expect_array_eq(run1(binary_conv("same", -1.0f, 2), input3x3()), {1, 2, 2, 1},
                  {-2, -2, -4, -2});
}

// Conv2D(groups=2) on one pixel of 4 channels x = (1, 2, 3, 4), 1x1 kernel (1, 1, 2, 4): filters
// 0 and 1 read channels 0..1, filters 2 and 3 read channels 2..3 (Keras: filter f is in group
// f / (filters / groups)). Kernel rows are the group's input channel, columns the filter:
//   ci 0: 1 10 100 1000      y0 = 1*1 + 2*2 = 5          y2 = 3*100 + 4*200 = 1100
//   ci 1: 2 20 200 2000      y1 = 1*10 + 2*20 = 50       y3 = 3*1000 + 4*2000 = 11000
TEST(ReferenceConv, GroupedConvolutionByHand) {
  json cfg = {{"filters", 4}, {"kernel_size", {1, 1}}, {"padding", "valid"}, {"groups", 2},
              {"use_bias", false}, {"activation", "linear"}};
  const Layer l = layer("g", "Conv2D", cfg, {"in"},
                        {{"kernel", arr({1, 1, 2, 4}, {1, 10, 100, 1000, 2, 20, 200, 2000})}});
  expect_array_eq(run1(l, arr({1, 1, 1, 4}, {1, 2, 3, 4})), {1, 1, 1, 4}, {5, 50, 1100, 11000});
  // A kernel with all 4 channels per tap is not this layer's (Keras stores C / groups).
  Layer wrong = l;
  wrong.weights["kernel"] = arr({1, 1, 4, 4}, std::vector<float>(16, 1.0f));
  EXPECT_THROW(run1(wrong, arr({1, 1, 1, 4}, {1, 2, 3, 4})), ModelError);
}

// Binary, groups=2, "same" with pad_values=-1, 3 pixels x 2 channels, kernel 3 wide: border
// taps hold -1 (after the input quantizer), group 0 = channel 0, group 1 = channel 1.
//   signs ch0: + - +   ch1: - - +      kernel ch-in-group 0 for filters 0, 1: (+,+,+), (+,-,+)
//   y0 (ch0, w=(+,+,+)) at pixels 0..2: (-1+1-1)=-1, (1-1+1)=1, (-1+1-1)=-1
//   y1 (ch1, w=(+,-,+)) at pixels 0..2: (-1+1-1)=-1, (-1+1+1)=1, (-1-1-1)=-3
TEST(ReferenceConv, GroupedBinaryConvSamePadMinusOneByHand) {
  json cfg = {{"filters", 2}, {"kernel_size", {1, 3}}, {"padding", "same"}, {"groups", 2},
              {"use_bias", false}, {"activation", "linear"}, {"pad_values", -1.0},
              {"input_quantizer", "ste_sign"}, {"kernel_quantizer", "ste_sign"}};
  const Layer l = layer("g", "QuantConv2D", cfg, {"in"},
                        {{"kernel", arr({1, 3, 1, 2}, {0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0.5f})}});
  expect_array_eq(run1(l, arr({1, 1, 3, 2}, {0.0f, -1, -2, -3, 5, 0})), {1, 1, 3, 2}, {-1, -1, 1, 1, -1, -3});
}

TEST(ReferenceConv, SamePaddingSplitsLikeTensorFlow) {
  // 3x3 all-ones kernel on a 2x2 input of ones, padding same with pad value 0: in=2, k=3, s=1
  // gives total 2 = 1 before + 1 after, so every output sees the whole 2x2 image: 4.
  // With stride 2: out 1, total max(0*2 + 3 - 2, 0) = 1 -> 0 before, 1 after: window covers
  // rows/cols 0..2, i.e. the image plus one padded row/col: still 4 with pad 0, 4 + 5 with pad 1.
  json cfg = {{"filters", 1},          {"kernel_size", {3, 3}}, {"strides", {1, 1}},
              {"padding", "same"},     {"use_bias", false},     {"activation", "linear"},
              {"pad_values", 1.0}};
  Layer l = layer("c", "QuantConv2D", cfg, {"in"},
                  {{"kernel", arr({3, 3, 1, 1}, std::vector<float>(9, 1.0f))}});
  const Array x = arr({1, 2, 2, 1}, {1, 1, 1, 1});
  expect_array_eq(run1(l, x), {1, 2, 2, 1}, {9, 9, 9, 9});
  l.config["strides"] = {2, 2};
  expect_array_eq(run1(l, x), {1, 1, 1, 1}, {9});
  l.config["pad_values"] = 0.0;
  expect_array_eq(run1(l, x), {1, 1, 1, 1}, {4});
  // 1x4 input, kernel 1x3 stride 1: the single padded column on each side holds -1.
  l.config["strides"] = {1, 1};
  l.config["kernel_size"] = {1, 3};
  l.config["pad_values"] = -1.0;
  l.weights["kernel"] = arr({1, 3, 1, 1}, {1, 10, 100});
  expect_array_eq(run1(l, arr({1, 1, 4, 1}, {1, 2, 3, 4})), {1, 1, 4, 1},
                  {-1 + 10 + 200, 1 + 20 + 300, 2 + 30 + 400, 3 + 40 - 100});
  // Even kernel 1x2 on width 4: total 1 goes after (right): [1+20, 2+30, 3+40, 4-10].
  l.config["kernel_size"] = {1, 2};
  l.weights["kernel"] = arr({1, 2, 1, 1}, {1, 10});
  expect_array_eq(run1(l, arr({1, 1, 4, 1}, {1, 2, 3, 4})), {1, 1, 4, 1}, {21, 32, 43, -6});
}

TEST(ReferenceConv, DilationAndBiasAndReluByHand) {
  // 1x5 input, kernel 1x2 with dilation 2 (taps x[i], x[i+2]), weights [1, -1], bias -1, relu.
  json cfg = {{"filters", 1},         {"kernel_size", {1, 2}},     {"strides", {1, 1}},
              {"padding", "valid"},   {"dilation_rate", {1, 2}},   {"use_bias", true},
              {"activation", "relu"}};
  Layer l = layer("c", "Conv2D", cfg, {"in"},
                  {{"kernel", arr({1, 2, 1, 1}, {1, -1})}, {"bias", arr({1}, {-1})}});
  // x = 5 1 2 7 0: x0-x2-1 = 2, x1-x3-1 = -7 -> 0, x2-x4-1 = 1
  expect_array_eq(run1(l, arr({1, 1, 5, 1}, {5, 1, 2, 7, 0})), {1, 1, 3, 1}, {2, 0, 1});
}

TEST(ReferenceConv, MultiChannelTapOrderAndFilters) {
  // 1x1 image, 2 input channels, 2 filters, 1x1 kernel: plain matrix product. Kernel HWIO.
  json cfg = {{"filters", 2}, {"kernel_size", {1, 1}}, {"padding", "valid"}, {"use_bias", false}};
  Layer l = layer("c", "Conv2D", cfg, {"in"}, {{"kernel", arr({1, 1, 2, 2}, {1, 2, 3, 4})}});
  // y0 = 10*1 + 100*3 = 310, y1 = 10*2 + 100*4 = 420
  expect_array_eq(run1(l, arr({1, 1, 1, 2}, {10, 100})), {1, 1, 1, 2}, {310, 420});
}

TEST(ReferenceConv, MagnitudeAwareKernelScalesPerOutputChannel) {
  json cfg = {{"filters", 2},
              {"kernel_size", {1, 1}},
              {"padding", "valid"},
              {"use_bias", false},
              {"kernel_quantizer", {{"class_name", "MagnitudeAwareSign"}, {"config", json::object()}}}};
  // kernel (1,1,2,2) = [[1, -2], [-3, 4]]: alpha = [(1+3)/2, (2+4)/2] = [2, 3]
  // quantized = [[2, -3], [-2, 3]]; x = [1, 1] -> [0, 0]; x = [1, -1] -> [4, -6]
  Layer l = layer("c", "QuantConv2D", cfg, {"in"}, {{"kernel", arr({1, 1, 2, 2}, {1, -2, -3, 4})}});
  expect_array_eq(run1(l, arr({2, 1, 1, 2}, {1, 1, 1, -1})), {2, 1, 1, 2}, {0, 0, 4, -6});
}

TEST(ReferenceConv, DepthwiseMultiplierByHand) {
  json cfg = {{"kernel_size", {2, 2}}, {"depth_multiplier", 2}, {"padding", "valid"},
              {"use_bias", false}};
  // kernel (2,2,1,2): m0 = [[1,0],[0,1]], m1 = [[1,1],[1,-1]], interleaved per tap.
  Layer l = layer("dw", "DepthwiseConv2D", cfg, {"in"},
                  {{"depthwise_kernel", arr({2, 2, 1, 2}, {1, 1, 0, 1, 0, 1, 1, -1})}});
  // x = [[1,2],[3,4]]: m0 -> 1 + 4 = 5, m1 -> 1 + 2 + 3 - 4 = 2
  expect_array_eq(run1(l, arr({1, 2, 2, 1}, {1, 2, 3, 4})), {1, 1, 1, 2}, {5, 2});
}

TEST(ReferenceConv, DepthwiseChannelsStaySeparate) {
  json cfg = {{"kernel_size", {1, 1}}, {"depth_multiplier", 1}, {"padding", "valid"},
              {"use_bias", true}};
  Layer l = layer("dw", "DepthwiseConv2D", cfg, {"in"},
                  {{"depthwise_kernel", arr({1, 1, 3, 1}, {2, -1, 0.5f})},
                   {"bias", arr({3}, {1, 1, 1})}});
  expect_array_eq(run1(l, arr({1, 1, 1, 3}, {3, 4, 8})), {1, 1, 1, 3}, {7, -3, 5});
}

TEST(ReferenceConv, QuantDepthwiseSamePadValuesByHand) {
  // sign(x) = [[1,-1],[1,1]], all-positive 2x2 kernel, same: pad after 1 row/col.
  // y00 = 1-1+1+1 = 2, y01 = -1+p+1+p = 2p, y10 = 1+1+p+p = 2+2p, y11 = 1+3p.
  json cfg = {{"kernel_size", {2, 2}},
              {"depth_multiplier", 1},
              {"padding", "same"},
              {"use_bias", false},
              {"input_quantizer", "ste_sign"},
              {"depthwise_quantizer", {{"class_name", "SteSign"}, {"config", {{"clip_value", 1.0}}}}},
              {"pad_values", 1.0}};
  Layer l = layer("dw", "QuantDepthwiseConv2D", cfg, {"in"},
                  {{"depthwise_kernel", arr({2, 2, 1, 1}, {0.1f, 0.2f, 0.3f, 0.4f})}});
  const Array x = arr({1, 2, 2, 1}, {2, -3, 0.1f, 5});
  expect_array_eq(run1(l, x), {1, 2, 2, 1}, {2, 2, 4, 4});
  l.config["pad_values"] = -1.0;
  expect_array_eq(run1(l, x), {1, 2, 2, 1}, {2, -2, 0, -2});
  l.config["pad_values"] = 0.0;
  expect_array_eq(run1(l, x), {1, 2, 2, 1}, {2, 0, 2, 1});
}

TEST(ReferenceConv, SeparableDepthwiseThenPointwiseByHand) {
  json cfg = {{"filters", 1}, {"kernel_size", {1, 1}}, {"depth_multiplier", 1},
              {"padding", "valid"}, {"use_bias", true}};
  Layer l = layer("sep", "SeparableConv2D", cfg, {"in"},
                  {{"depthwise_kernel", arr({1, 1, 2, 1}, {3, -1})},
                   {"pointwise_kernel", arr({1, 1, 2, 1}, {0.5f, 2})},
                   {"bias", arr({1}, {1})}});
  // mid = [3, -2]; 0.5*3 + 2*(-2) = -2.5; + 1 = -1.5
  expect_array_eq(run1(l, arr({1, 1, 1, 2}, {1, 2})), {1, 1, 1, 1}, {-1.5f});
}

TEST(ReferenceConv, QuantSeparableQuantizesBothKernelsAndPads) {
  // 1x2 input, 1x2 kernel, same: pad 1 column after with p. sign(x) = [-1, 1].
  // depthwise sign [1, 1]: mid = [-1 + 1, 1 + p] = [0, 1 + p]; pointwise sign(-0.5) = -1.
  json cfg = {{"filters", 1},
              {"kernel_size", {1, 2}},
              {"padding", "same"},
              {"use_bias", false},
              {"input_quantizer", "ste_sign"},
              {"depthwise_quantizer", "ste_sign"},
              {"pointwise_quantizer", "ste_sign"},
              {"pad_values", -1.0}};
  Layer l = layer("sep", "QuantSeparableConv2D", cfg, {"in"},
                  {{"depthwise_kernel", arr({1, 2, 1, 1}, {0.3f, 0.9f})},
                   {"pointwise_kernel", arr({1, 1, 1, 1}, {-0.5f})}});
  expect_array_eq(run1(l, arr({1, 1, 2, 1}, {-4, 7})), {1, 1, 2, 1}, {0, 0});
  l.config["pad_values"] = 1.0;
  expect_array_eq(run1(l, arr({1, 1, 2, 1}, {-4, 7})), {1, 1, 2, 1}, {0, -2});
}

TEST(ReferenceConv, QuantDenseByHand) {
  json cfg = {{"units", 2},
              {"activation", "linear"},
              {"use_bias", true},
              {"input_quantizer", "ste_sign"},
              {"kernel_quantizer", "ste_sign"}};
  // sign(x) = [1, -1, 1]; sign(kernel) = [[1,-1],[1,1],[-1,1]]
  // y0 = 1 - 1 - 1 + 0.5 = -0.5; y1 = -1 - 1 + 1 - 0.5 = -1.5
  Layer l = layer("d", "QuantDense", cfg, {"in"},
                  {{"kernel", arr({3, 2}, {0.2f, -0.1f, 3, 0, -0.5f, 0.7f})},
                   {"bias", arr({2}, {0.5f, -0.5f})}});
  expect_array_eq(run1(l, arr({1, 3}, {1, -2, 0.5f})), {1, 2}, {-0.5f, -1.5f});
  l.config["activation"] = "relu";
  expect_array_eq(run1(l, arr({1, 3}, {1, -2, 0.5f})), {1, 2}, {0, 0});
}

TEST(ReferenceConv, DenseAppliesToTheLastAxis) {
  json cfg = {{"units", 1}, {"use_bias", false}};
  Layer l = layer("d", "Dense", cfg, {"in"}, {{"kernel", arr({2, 1}, {1, 10})}});
  expect_array_eq(run1(l, arr({1, 2, 2}, {1, 2, 3, 4})), {1, 2, 1}, {21, 43});
}

TEST(ReferenceConv, BinaryWeightsRealInputFirstLayer) {
  // input_quantizer null: the input stays real; kernel +-1 adds/subtracts.
  json cfg = {{"filters", 1}, {"kernel_size", {1, 2}}, {"padding", "valid"},
              {"use_bias", false}, {"input_quantizer", nullptr}, {"kernel_quantizer", "ste_sign"}};
  Layer l = layer("c", "QuantConv2D", cfg, {"in"}, {{"kernel", arr({1, 2, 1, 1}, {0.01f, -3})}});
  expect_array_eq(run1(l, arr({1, 1, 3, 1}, {0.25f, 1.5f, -2})), {1, 1, 2, 1}, {-1.25f, 3.5f});
}

TEST(ReferenceConv, BatchOfTwoIsComputedPerSample) {
  const Layer l = binary_conv("same", 1.0f);
  Array x = input3x3();
  Array neg = x;
  for (auto& v : neg.data) v = v == 0 ? -1.0f : -v;  // sign flips everywhere
  Array both{{2, 3, 3, 1}, x.data};
  both.data.insert(both.data.end(), neg.data.begin(), neg.data.end());
  const Array y = run1(l, both);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{2, 3, 3, 1}));
  // second sample, p=+1 unchanged: y00 = -(-2) = 2 (all interior taps flip)
  EXPECT_EQ(y.data[0], -2.0f);
  EXPECT_EQ(y.data[9], 2.0f);
  // corner of the second sample: -a + 3p with a = +1 -> -1 + 3 = 2
  EXPECT_EQ(y.data[17], 2.0f);
}

// An independent formulation: no padded copy, the output pixel's window is located with TF's
// "same" offset computed here from its definition, and out-of-image taps read the pad value.
// Inputs and kernels are +-1 after sign quantization, so every sum is an exact integer.
TEST(ReferenceConv, MatchesDirectIndexingOnRandomConfigs) {
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 300; ++iter) {
    const int h = pick(1, 7), w = pick(1, 7), cin = pick(1, 5), cout = pick(1, 4);
    const int kh = pick(1, 4), kw = pick(1, 4);
    const bool dilate = pick(0, 2) == 0;
    const int sh = dilate ? 1 : pick(1, 3), sw = dilate ? 1 : pick(1, 3);
    const int dh = dilate ? pick(1, 2) : 1, dw = dilate ? pick(1, 2) : 1;
    const bool same = pick(0, 1) == 1;
    const float pad = static_cast<float>(pick(-1, 1));
    const int ekh = (kh - 1) * dh + 1, ekw = (kw - 1) * dw + 1;
    if (!same && (ekh > h || ekw > w)) continue;
    std::ostringstream cfg_text;
    cfg_text << "h=" << h << " w=" << w << " cin=" << cin << " cout=" << cout << " k=" << kh << "x"
             << kw << " s=" << sh << "x" << sw << " d=" << dh << "x" << dw
             << (same ? " same" : " valid") << " pad=" << pad;
    SCOPED_TRACE(cfg_text.str());
    Array x{{1, h, w, cin}, {}}, k{{kh, kw, cin, cout}, {}};
    std::normal_distribution<float> n01;
    for (int i = 0; i < h * w * cin; ++i) x.data.push_back(n01(rng));
    for (int i = 0; i < kh * kw * cin * cout; ++i) k.data.push_back(n01(rng));
    json cfg = {{"filters", cout},
                {"kernel_size", {kh, kw}},
                {"strides", {sh, sw}},
                {"dilation_rate", {dh, dw}},
                {"padding", same ? "same" : "valid"},
                {"use_bias", false},
                {"input_quantizer", "ste_sign"},
                {"kernel_quantizer", "ste_sign"},
                {"pad_values", pad}};
    const Array y = run1(layer("c", "QuantConv2D", cfg, {"in"}, {{"kernel", k}}), x);

    const int oh = same ? (h + sh - 1) / sh : (h - ekh) / sh + 1;
    const int ow = same ? (w + sw - 1) / sw : (w - ekw) / sw + 1;
    const int top = same ? std::max((oh - 1) * sh + ekh - h, 0) / 2 : 0;
    const int left = same ? std::max((ow - 1) * sw + ekw - w, 0) / 2 : 0;
    ASSERT_EQ(y.shape, (std::vector<int64_t>{1, oh, ow, cout}));
    auto sgn = [](float v) { return v < 0 ? -1.0f : 1.0f; };
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int co = 0; co < cout; ++co) {
          float acc = 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx)
              for (int ci = 0; ci < cin; ++ci) {
                const int iy = oy * sh + ky * dh - top, ix = ox * sw + kx * dw - left;
                const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
                const float a = inside ? sgn(x.data[(iy * w + ix) * cin + ci]) : pad;
                acc += a * sgn(k.data[((ky * kw + kx) * cin + ci) * cout + co]);
              }
          ASSERT_EQ(y.data[(oy * ow + ox) * cout + co], acc) << "at " << oy << "," << ox << "," << co;
        }
  }
}

}  // namespace
}  // namespace bitlens
