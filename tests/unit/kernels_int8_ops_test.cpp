// int8 depthwise conv and dense (references equal definitions written here with int64 sums;
// optimized twins equal the references bit for bit), and the int8 quantizer: quantizing to int8
// and back gives bl_quantize_f32's value bit for bit.
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

// A random output stage of one of the three kinds for `c` channels whose accumulators are at
// most `n` in magnitude.
void random_stage(Rng &r, OutStage &st, int32_t c, int32_t n, bl_out_kind kind) {
  st.init(r, c, kind == BL_OUT_S8 ? BL_OUT_F32 : kind, n, true);
  if (kind == BL_OUT_S8) {
    st.o.kind = BL_OUT_S8;
    st.o.s8_mul = coin(r) ? 128.0f : float(uni(r, 1, 255));
    st.o.s8_min = uni(r, -128, 0);
    st.o.s8_max = uni(r, st.o.s8_min, 127);
    for (auto &m : st.mul) m *= 1.0f / float(n);
  }
}

int8_t s8_of(const bl_output &o, float y) {
  float q = std::nearbyint(y * o.s8_mul);
  if (std::isnan(q)) return 0;
  return int8_t(std::min(std::max(q, float(o.s8_min)), float(o.s8_max)));
}

// Checks one output buffer against int64 accumulators through the documented output stage.
void expect_stage(const bl_output &o, const std::vector<int64_t> &acc, int32_t channels, const std::vector<uint8_t> &out) {
  for (size_t i = 0; i < acc.size(); i++) {
    const int32_t ch = int32_t(i % size_t(channels));
    if (o.kind == BL_OUT_F32) {
      float y;
      std::memcpy(&y, &out[4 * i], 4);
      ASSERT_EQ(f2u(y), f2u(stage_f32(o, ch, float(acc[i])))) << i;
    } else if (o.kind == BL_OUT_S8) {
      ASSERT_EQ(int8_t(out[i]), s8_of(o, stage_f32(o, ch, float(acc[i])))) << i;
    } else {
      ASSERT_EQ((out[i / 8] >> (i % 8)) & 1, stage_int_bit(o, ch, int32_t(acc[i]))) << i;
    }
  }
}

size_t bytes_of(bl_out_kind k, size_t n) { return k == BL_OUT_BITS ? 4 * BL_WORDS(n) : k == BL_OUT_S8 ? n : 4 * n; }

TEST(DepthwiseS8, ReferenceEqualsDefinitionAndOptimizedEqualsReference) {
  Rng r(91);
  const bl_out_kind kinds[] = {BL_OUT_F32, BL_OUT_BITS, BL_OUT_S8};
  for (int t = 0; t < 900; t++) {
    const Pad pad = coin(r) ? Pad::Valid : Pad::SameZero;
    const int32_t m = coin(r, 0.7) ? 1 : uni(r, 2, 3);
    bl_conv_geom g = random_geom(r, pad, 60000, m);
    std::vector<int8_t> in(size_t(g.in_h) * g.in_w * g.in_c), w(size_t(g.k_h) * g.k_w * g.out_c);
    for (auto &v : in) v = int8_t(uni(r, -128, 127));
    for (auto &v : w) v = int8_t(uni(r, -128, 127));
    std::vector<int32_t> init;
    if (coin(r)) {
      init.resize(size_t(g.out_c));
      for (auto &v : init) v = uni(r, -100000, 100000);
    }
    OutStage st;
    random_stage(r, st, g.out_c, g.k_h * g.k_w * 16384, kinds[t % 3]);
    bl_depthwise_s8_params p{};
    p.g = g;
    p.depth_multiplier = m;
    p.pad_value = coin(r) ? 0 : uni(r, -128, 127);
    p.weights = w.data();
    p.acc_init = init.empty() ? nullptr : init.data();
    p.out = st.o;
    SCOPED_TRACE(geom_str(g) + " mult " + std::to_string(m) + " " + st.desc);
    std::vector<int64_t> acc;
    for (int oh = 0; oh < g.out_h; oh++)
      for (int ow = 0; ow < g.out_w; ow++)
        for (int o = 0; o < g.out_c; o++) {
          int64_t a = init.empty() ? 0 : init[size_t(o)];
          for (int kh = 0; kh < g.k_h; kh++)
            for (int kw = 0; kw < g.k_w; kw++) {
              const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h, iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
              const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
              const int64_t x = inside ? in[(size_t(ih) * g.in_w + iw) * g.in_c + o / m] : p.pad_value;
              a += x * w[(size_t(kh) * g.k_w + kw) * g.out_c + o];
            }
          acc.push_back(a);
        }
    const size_t bytes = bytes_of(p.out.kind, acc.size());
    std::vector<uint8_t> ref(bytes + 4, 0xA5), opt(bytes + 4, 0xA5);
    std::vector<uint32_t> scratch(bl_depthwise_s8_scratch_size(&p) / 4 + 1);
    ASSERT_EQ(bl_depthwise_s8_ref(&p, in.data(), ref.data()), BL_OK);
    ASSERT_EQ(bl_depthwise_s8(&p, in.data(), opt.data(), scratch.data()), BL_OK);
    ASSERT_EQ(ref[bytes], 0xA5);
    ASSERT_EQ(opt, ref);
    ref.resize(bytes);
    expect_stage(p.out, acc, g.out_c, ref);
  }
}

TEST(DenseS8, ReferenceEqualsDefinitionAndOptimizedEqualsReference) {
  Rng r(92);
  const bl_out_kind kinds[] = {BL_OUT_F32, BL_OUT_BITS, BL_OUT_S8};
  for (int t = 0; t < 600; t++) {
    const int32_t n_in = uni(r, 1, 700), n_out = uni(r, 1, 90);
    std::vector<int8_t> in(static_cast<size_t>(n_in)), w(static_cast<size_t>(n_in) * n_out);
    for (auto &v : in) v = int8_t(uni(r, -128, 127));
    for (auto &v : w) v = int8_t(uni(r, -128, 127));
    std::vector<int32_t> init;
    if (coin(r)) {
      init.resize(size_t(n_out));
      for (auto &v : init) v = uni(r, -100000, 100000);
    }
    OutStage st;
    random_stage(r, st, n_out, n_in * 16384, kinds[t % 3]);
    bl_dense_s8_params p{};
    p.n_in = n_in;
    p.n_out = n_out;
    p.weights = w.data();
    p.acc_init = init.empty() ? nullptr : init.data();
    p.out = st.o;
    std::vector<int64_t> acc;
    for (int o = 0; o < n_out; o++) {
      int64_t a = init.empty() ? 0 : init[size_t(o)];
      for (int i = 0; i < n_in; i++) a += int64_t(in[size_t(i)]) * w[size_t(o) * n_in + i];
      acc.push_back(a);
    }
    const size_t bytes = bytes_of(p.out.kind, acc.size());
    std::vector<uint8_t> ref(bytes, 0), opt(bytes, 0);
    ASSERT_EQ(bl_dense_s8_ref(&p, in.data(), ref.data()), BL_OK);
    ASSERT_EQ(bl_dense_s8(&p, in.data(), opt.data()), BL_OK);
    ASSERT_EQ(opt, ref);
    expect_stage(p.out, acc, n_out, ref);
  }
  bl_dense_s8_params p{};
  int8_t x[1] = {0};
  float y[1];
  p.n_in = 65537;
  p.n_out = 1;
  p.weights = x;
  EXPECT_EQ(bl_dense_s8_ref(&p, x, y), BL_ERR_PARAM);
}

// q8 = quantize_s8(x), then dequantize_s8(q8) == quantize_f32(x) bit for bit (but -0 -> +0;
// NaN -> the level of 0), for STCustomDoReFa's and DoReFa's k-bit ranges.
TEST(QuantizeS8, RoundTripEqualsTheFloatQuantizer) {
  Rng r(93);
  for (int k = 1; k <= 8; k++) {
    for (bool st : {true, false}) {
      const float n = st ? float(1 << (k - 1)) : float((1 << k) - 1);
      const float lo = st ? -1.0f : 0.0f, hi = st ? 1.0f - 1.0f / n : 1.0f;
      const int32_t offset = st ? 0 : 128;
      std::vector<float> x;
      for (int i = 0; i < 3000; i++) x.push_back(unif(r, -3.0f, 3.0f));
      for (int i = -300; i < 300; i++) x.push_back((float(i) + 0.5f) / n);
      x.insert(x.end(), {0.0f, -0.0f, lo, hi, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f});
      std::vector<int8_t> q(x.size());
      std::vector<float> back(x.size()), f(x.size());
      ASSERT_EQ(bl_quantize_s8(x.size(), lo, hi, n, offset, x.data(), q.data()), BL_OK);
      ASSERT_EQ(bl_dequantize_s8(q.size(), n, offset, q.data(), back.data()), BL_OK);
      ASSERT_EQ(bl_quantize_f32(x.size(), lo, hi, n, x.data(), f.data()), BL_OK);
      for (size_t i = 0; i < x.size(); i++) {
        SCOPED_TRACE("k " + std::to_string(k) + (st ? " STCustomDoReFa" : " DoReFa") + " x " + std::to_string(x[i]));
        if (std::isnan(x[i])) {
          EXPECT_EQ(int32_t(q[i]), -offset);
        } else if (f[i] == 0.0f) {
          EXPECT_EQ(back[i], 0.0f);
        } else {
          EXPECT_EQ(f2u(back[i]), f2u(f[i]));
        }
      }
    }
  }
  float x = 0.0f;
  int8_t q = 0;
  EXPECT_EQ(bl_quantize_s8(1, 0.0f, 1.0f, 255.0f, 0, &x, &q), BL_ERR_PARAM);     // 255 does not fit
  EXPECT_EQ(bl_quantize_s8(1, -1.0f, 1.0f, 128.0f, 0, &x, &q), BL_ERR_PARAM);    // +128 does not fit
  EXPECT_EQ(bl_quantize_s8(1, 0.0f, 1.0f, 255.0f, 129, &x, &q), BL_ERR_PARAM);   // offset range
  EXPECT_EQ(bl_dequantize_s8(1, 0.0f, 0, &q, &x), BL_ERR_PARAM);
}

// The int8 Add with its quantizer's clip: every pair of int8 values against the integer
// definition, the full range and narrower bounds, in place; bad bounds rejected.
TEST(AddS8, EqualsTheClampedIntegerSumForEveryPair) {
  std::vector<int8_t> a, b;
  for (int x = -128; x < 128; x++)
    for (int y = -128; y < 128; y++) {
      a.push_back(int8_t(x));
      b.push_back(int8_t(y));
    }
  for (auto [lo, hi] : {std::pair{-128, 127}, std::pair{-8, 7}, std::pair{0, 127}, std::pair{-5, -5}}) {
    std::vector<int8_t> out(a.size()), ref(a.size()), in_place = a;
    ASSERT_EQ(bl_add_s8(a.size(), a.data(), b.data(), lo, hi, out.data()), BL_OK);
    ASSERT_EQ(bl_add_s8_ref(a.size(), a.data(), b.data(), lo, hi, ref.data()), BL_OK);
    ASSERT_EQ(bl_add_s8(in_place.size(), in_place.data(), b.data(), lo, hi, in_place.data()), BL_OK);
    for (size_t i = 0; i < a.size(); i++) {
      const int want = std::clamp(int(a[i]) + int(b[i]), lo, hi);
      ASSERT_EQ(int(out[i]), want) << int(a[i]) << " + " << int(b[i]) << " in [" << lo << ", " << hi << "]";
      ASSERT_EQ(int(ref[i]), want);
      ASSERT_EQ(int(in_place[i]), want);
    }
  }
  int8_t q = 0;
  EXPECT_EQ(bl_add_s8(1, &q, &q, -129, 0, &q), BL_ERR_PARAM);
  EXPECT_EQ(bl_add_s8(1, &q, &q, 0, 128, &q), BL_ERR_PARAM);
  EXPECT_EQ(bl_add_s8(1, &q, &q, 1, 0, &q), BL_ERR_PARAM);
  EXPECT_EQ(bl_add_s8(1, nullptr, &q, 0, 0, &q), BL_ERR_PARAM);
}

}  // namespace
