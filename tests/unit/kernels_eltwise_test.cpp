// Element-wise and shape ops: affine + activations, softmax, add, concat (f32 and s1) and
// constant padding, each against its definition.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {
float act_def(bl_activation a, float x) {
  switch (a) {
    case BL_ACT_RELU: return x < 0.f ? 0.f : x;
    case BL_ACT_RELU6: return std::min(std::max(x, 0.f), 6.f);
    case BL_ACT_SIGMOID: return 1.f / (1.f + std::exp(-x));
    case BL_ACT_TANH: return std::tanh(x);
    case BL_ACT_HARD_SIGMOID: return std::min(std::max(0.2f * x + 0.5f, 0.f), 1.f);
    case BL_ACT_HARD_TANH: return std::min(std::max(x, -1.f), 1.f);
    default: return x;
  }
}
}  // namespace

TEST(Affine, AppliesPerChannelMulAddThenActivation) {
  Rng r(41);
  for (int a = BL_ACT_LINEAR; a <= BL_ACT_HARD_TANH; a++) {
    const auto act = static_cast<bl_activation>(a);
    SCOPED_TRACE("activation " + std::to_string(a));
    const int32_t c = uni(r, 1, 20);
    const size_t n = size_t(c) * size_t(uni(r, 1, 30));
    const auto x = random_floats(r, n, -8.f, 8.f), mul = random_floats(r, size_t(c)), add = random_floats(r, size_t(c));
    std::vector<float> y(n);
    ASSERT_EQ(bl_affine_f32(n, c, mul.data(), add.data(), act, x.data(), y.data()), BL_OK);
    for (size_t i = 0; i < n; i++) {
      float v = x[i] * mul[i % size_t(c)];
      v = v + add[i % size_t(c)];
      ASSERT_NEAR(y[i], act_def(act, v), 1e-6f) << "element " << i;
    }
    // In place, no mul/add: pure activation.
    std::vector<float> z = x;
    ASSERT_EQ(bl_affine_f32(n, c, nullptr, nullptr, act, z.data(), z.data()), BL_OK);
    for (size_t i = 0; i < n; i++) ASSERT_NEAR(z[i], act_def(act, x[i]), 1e-6f);
  }
  float v = 0;
  EXPECT_EQ(bl_affine_f32(1, 1, nullptr, nullptr, static_cast<bl_activation>(42), &v, &v), BL_ERR_PARAM);
}

TEST(Softmax, RowsSumToOneAndMatchDefinition) {
  Rng r(42);
  for (int t = 0; t < 100; t++) {
    const int32_t c = uni(r, 1, 50);
    const size_t n = size_t(c) * size_t(uni(r, 1, 5));
    auto x = random_floats(r, n, -30.f, 30.f);
    std::vector<float> y(n);
    ASSERT_EQ(bl_softmax_f32(n, c, x.data(), y.data()), BL_OK);
    for (size_t row = 0; row < n; row += size_t(c)) {
      double mx = -1e30, s = 0, sum = 0;
      for (int k = 0; k < c; k++) mx = std::max(mx, double(x[row + size_t(k)]));
      for (int k = 0; k < c; k++) s += std::exp(double(x[row + size_t(k)]) - mx);
      for (int k = 0; k < c; k++) {
        ASSERT_NEAR(y[row + size_t(k)], std::exp(double(x[row + size_t(k)]) - mx) / s, 1e-6);
        sum += y[row + size_t(k)];
      }
      ASSERT_NEAR(sum, 1.0, 1e-5);
    }
    ASSERT_EQ(bl_softmax_f32(n, c, x.data(), x.data()), BL_OK);  // in place
    ASSERT_EQ(x, y);
  }
  float v[3] = {};
  EXPECT_EQ(bl_softmax_f32(3, 2, v, v), BL_ERR_PARAM);
}

TEST(Add, ElementwiseThenActivation) {
  const float a[4] = {1.f, -2.f, 3.f, -0.5f}, b[4] = {0.5f, 1.f, 4.f, 0.25f};
  float out[4];
  ASSERT_EQ(bl_add_f32(4, a, b, BL_ACT_RELU6, out), BL_OK);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], 0.f);
  EXPECT_EQ(out[2], 6.f);
  EXPECT_EQ(out[3], 0.f);
}

TEST(Concat, F32AndS1InterleavePerPixel) {
  Rng r(43);
  for (int t = 0; t < 300; t++) {
    const int32_t pixels = uni(r, 1, 30), count = uni(r, 1, 4);
    std::vector<int32_t> c(static_cast<size_t>(count));
    int32_t total = 0;
    for (auto &v : c) { v = uni(r, 1, 70); total += v; }
    SCOPED_TRACE("pixels " + std::to_string(pixels) + " inputs " + std::to_string(count));
    std::vector<std::vector<float>> fx;
    std::vector<std::vector<uint32_t>> bx;
    std::vector<const float *> fp;
    std::vector<const uint32_t *> bp;
    for (int i = 0; i < count; i++) {
      fx.push_back(random_floats(r, size_t(pixels) * c[size_t(i)]));
      bx.push_back(random_bits(r, size_t(pixels) * c[size_t(i)]));
    }
    for (int i = 0; i < count; i++) { fp.push_back(fx[size_t(i)].data()); bp.push_back(bx[size_t(i)].data()); }
    std::vector<float> fo(size_t(pixels) * total);
    std::vector<uint32_t> bo(BL_WORDS(size_t(pixels) * total), 0xffffffffu);
    ASSERT_EQ(bl_concat_f32(pixels, count, c.data(), fp.data(), fo.data()), BL_OK);
    ASSERT_EQ(bl_concat_s1(pixels, count, c.data(), bp.data(), bo.data()), BL_OK);
    size_t k = 0;
    for (int px = 0; px < pixels; px++)
      for (int i = 0; i < count; i++)
        for (int j = 0; j < c[size_t(i)]; j++, k++) {
          const size_t src = size_t(px) * c[size_t(i)] + j;
          BL_ASSERT_EQ(fo[k], fx[size_t(i)][src]);
          BL_ASSERT_EQ(get_bit(bo.data(), k), get_bit(bx[size_t(i)].data(), src)) << "bit " << k;
        }
    if (k % 32) {
      ASSERT_EQ(bo.back() >> (k % 32), 0u);
    }
  }
}

TEST(CropF32, CopiesTheWindowAndRefusesOneOutsideTheInput) {
  Rng r(45);
  for (int t = 0; t < 200; t++) {
    const int h = uni(r, 1, 8), w = uni(r, 1, 8), c = uni(r, 1, 5);
    const int oh = uni(r, 1, h), ow = uni(r, 1, w), top = uni(r, 0, h - oh), left = uni(r, 0, w - ow);
    const auto x = random_floats(r, size_t(h) * w * c);
    std::vector<float> y(size_t(oh) * ow * c + 1, NAN);
    ASSERT_EQ(bl_crop_f32(h, w, c, top, left, oh, ow, x.data(), y.data()), BL_OK);
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++)
        for (int k = 0; k < c; k++) BL_ASSERT_EQ(y[(size_t(i) * ow + j) * c + k], x[(size_t(i + top) * w + j + left) * c + k]);
    EXPECT_TRUE(std::isnan(y.back())) << "wrote past the window";
  }
  std::vector<float> x(4 * 4), y(4 * 4);
  EXPECT_EQ(bl_crop_f32(4, 4, 1, 1, 0, 4, 4, x.data(), y.data()), BL_ERR_PARAM);  // below the input
  EXPECT_EQ(bl_crop_f32(4, 4, 1, 0, 2, 2, 3, x.data(), y.data()), BL_ERR_PARAM);  // right of it
  EXPECT_EQ(bl_crop_f32(4, 4, 1, 0, 0, 0, 4, x.data(), y.data()), BL_ERR_PARAM);  // empty
  EXPECT_EQ(bl_crop_f32(4, 4, 1, 0, 0, 4, 4, x.data(), y.data()), BL_OK);
}

TEST(PadF32, ConstantBorderAroundCopiedInterior) {
  Rng r(44);
  for (int t = 0; t < 200; t++) {
    const int h = uni(r, 1, 8), w = uni(r, 1, 8), c = uni(r, 1, 5);
    const int top = uni(r, 0, 3), bottom = uni(r, 0, 3), left = uni(r, 0, 3), right = uni(r, 0, 3);
    const float value = unif(r, -2.f, 2.f);
    const auto x = random_floats(r, size_t(h) * w * c);
    const int oh = h + top + bottom, ow = w + left + right;
    std::vector<float> y(size_t(oh) * ow * c, NAN);
    ASSERT_EQ(bl_pad_f32(h, w, c, top, bottom, left, right, value, x.data(), y.data()), BL_OK);
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++)
        for (int k = 0; k < c; k++) {
          const bool inside = i >= top && i < top + h && j >= left && j < left + w;
          const float expect = inside ? x[(size_t(i - top) * w + (j - left)) * c + k] : value;
          BL_ASSERT_EQ(y[(size_t(i) * ow + j) * c + k], expect);
        }
  }
}
