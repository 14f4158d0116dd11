// int8 conv2d (s8 input and weights, int32 sums): the reference equals a definition written
// here (int64 sums, the output stage applied by the test), the optimized kernel equals the
// reference bit for bit over random layers (every padding, stride, dilation, pad value,
// accumulator offset and output kind), and out-of-range parameters are refused.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct S8Case {
  bl_conv_geom g{};
  std::vector<int8_t> in, w;
  std::vector<int32_t> init;
  OutStage st;
  bl_conv2d_s8_params p{};
};

// tf.round(y * m) clamped, NaN -> 0: the documented BL_OUT_S8, independently of the library.
int8_t s8_of(const bl_output &o, float y) {
  const float v = y * o.s8_mul;
  float q = std::nearbyint(v);
  if (std::isnan(q)) return 0;
  q = std::min(std::max(q, float(o.s8_min)), float(o.s8_max));
  return int8_t(q);
}

void make(Rng &r, S8Case &c, bl_out_kind kind, int64_t max_macs) {
  const Pad pads[] = {Pad::Valid, Pad::SameZero};
  c.g = random_geom(r, pads[uni(r, 0, 1)], max_macs);
  const size_t patch = size_t(c.g.k_h) * c.g.k_w * c.g.in_c;
  c.in.resize(size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
  c.w.resize(patch * size_t(c.g.out_c));
  for (auto &v : c.in) v = int8_t(uni(r, -128, 127));
  for (auto &v : c.w) v = int8_t(uni(r, -128, 127));
  c.init.clear();
  if (coin(r)) {
    c.init.resize(size_t(c.g.out_c));
    for (auto &v : c.init) v = uni(r, -(1 << 20), 1 << 20);
  }
  const int32_t n = int32_t(std::min<size_t>(patch * 128 * 128, 1 << 24));
  c.st.init(r, c.g.out_c, kind == BL_OUT_S8 ? BL_OUT_F32 : kind, n, true);
  if (kind == BL_OUT_S8) {
    c.st.o.kind = BL_OUT_S8;
    c.st.o.s8_mul = coin(r) ? 128.0f : float(uni(r, 1, 255));
    c.st.o.s8_min = uni(r, -128, 0);
    c.st.o.s8_max = uni(r, c.st.o.s8_min, 127);
    // Stage values of the size of a quantized activation.
    for (auto &m : c.st.mul) m *= 1.0f / float(patch * 64);
  }
  c.p = bl_conv2d_s8_params{};
  c.p.g = c.g;
  c.p.pad_value = coin(r) ? 0 : uni(r, -128, 127);
  c.p.weights = c.w.data();
  c.p.acc_init = c.init.empty() ? nullptr : c.init.data();
  c.p.out = c.st.o;
}

size_t out_bytes(const S8Case &c) {
  const size_t n = out_elems(c.g);
  if (c.p.out.kind == BL_OUT_BITS) return 4 * BL_WORDS(n);
  return c.p.out.kind == BL_OUT_S8 ? n : 4 * n;
}

std::vector<uint8_t> run(const S8Case &c, bool optimized) {
  std::vector<uint8_t> out(out_bytes(c) + 4, 0xA5);
  std::vector<uint32_t> scratch(bl_conv2d_s8_scratch_size(&c.p) / 4 + 1);
  const bl_status st = optimized ? bl_conv2d_s8(&c.p, c.in.data(), out.data(), scratch.data())
                                 : bl_conv2d_s8_ref(&c.p, c.in.data(), out.data());
  EXPECT_EQ(st, BL_OK);
  EXPECT_EQ(out[out_bytes(c)], 0xA5) << "wrote past the output";
  out.resize(out_bytes(c));
  return out;
}

// The definition: int64 sums over (kh, kw, ci), padded taps reading pad_value.
std::vector<int64_t> definition(const S8Case &c) {
  const bl_conv_geom &g = c.g;
  std::vector<int64_t> acc;
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int o = 0; o < g.out_c; o++) {
        int64_t a = c.init.empty() ? 0 : c.init[size_t(o)];
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++) {
            const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
            for (int ci = 0; ci < g.in_c; ci++) {
              const int64_t x = inside ? c.in[(size_t(ih) * g.in_w + iw) * g.in_c + ci] : c.p.pad_value;
              a += x * c.w[((size_t(o) * g.k_h + kh) * g.k_w + kw) * g.in_c + ci];
            }
          }
        acc.push_back(a);
      }
  return acc;
}

TEST(ConvS8, ReferenceEqualsTheDefinition) {
  Rng r(81);
  for (int t = 0; t < 300; t++) {
    S8Case c;
    const bl_out_kind kinds[] = {BL_OUT_F32, BL_OUT_BITS, BL_OUT_S8};
    make(r, c, kinds[t % 3], 400000);
    SCOPED_TRACE(geom_str(c.g) + " " + c.st.desc + " pad " + std::to_string(c.p.pad_value));
    const auto acc = definition(c);
    const auto out = run(c, false);
    const int32_t C = c.g.out_c;
    for (size_t i = 0; i < acc.size(); i++) {
      const int32_t ch = int32_t(i % size_t(C));
      if (c.p.out.kind == BL_OUT_F32) {
        float y;
        std::memcpy(&y, &out[4 * i], 4);
        ASSERT_EQ(f2u(y), f2u(stage_f32(c.p.out, ch, float(acc[i])))) << i;
      } else if (c.p.out.kind == BL_OUT_S8) {
        ASSERT_EQ(int8_t(out[i]), s8_of(c.p.out, stage_f32(c.p.out, ch, float(acc[i])))) << i;
      } else {
        const int bit = (out[i / 8] >> (i % 8)) & 1;
        ASSERT_EQ(bit, stage_int_bit(c.p.out, ch, int32_t(acc[i]))) << i;
      }
    }
  }
}

TEST(ConvS8, OptimizedEqualsReference) {
  Rng r(82);
  for (int t = 0; t < 900; t++) {
    S8Case c;
    const bl_out_kind kinds[] = {BL_OUT_F32, BL_OUT_BITS, BL_OUT_S8};
    make(r, c, kinds[t % 3], 300000);
    SCOPED_TRACE(geom_str(c.g) + " " + c.st.desc + " pad " + std::to_string(c.p.pad_value));
    ASSERT_EQ(run(c, true), run(c, false));
  }
}

// The largest patch at the extreme products: exact, no overflow; one more tap is refused.
TEST(ConvS8, LargestPatchIsExactAndLargerIsRefused) {
  S8Case c;
  c.g = bl_conv_geom{1, 2, 32768, 1, 1, 3, 1, 2, 1, 1, 1, 1, 0, 0};
  c.in.assign(size_t(2) * 32768, int8_t(-128));
  c.w.assign(size_t(3) * 65536, int8_t(-128));
  c.init = {(1 << 30) - 1, -((1 << 30) - 1), 0};
  c.p.g = c.g;
  c.p.weights = c.w.data();
  c.p.acc_init = c.init.data();
  c.p.out.kind = BL_OUT_F32;
  c.p.out.act_min = -INFINITY;
  c.p.out.act_max = INFINITY;
  for (bool opt : {false, true}) {
    const auto out = run(c, opt);
    float y[3];
    std::memcpy(y, out.data(), sizeof y);
    EXPECT_EQ(y[0], float(int64_t(65536) * 16384 + (1 << 30) - 1));
    EXPECT_EQ(y[1], float(int64_t(65536) * 16384 - (1 << 30) + 1));
    EXPECT_EQ(y[2], float(int64_t(65536) * 16384));
  }
  std::vector<uint8_t> out(64);
  std::vector<uint32_t> scratch(bl_conv2d_s8_scratch_size(&c.p) / 4 + 1);
  c.init[0] = 1 << 30;
  EXPECT_EQ(bl_conv2d_s8_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
  c.init[0] = 0;
  c.p.g.in_c = 32769;
  c.p.g.in_w = 1;
  EXPECT_EQ(bl_conv2d_s8_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
  EXPECT_EQ(bl_conv2d_s8(&c.p, c.in.data(), out.data(), scratch.data()), BL_ERR_PARAM);
  c.p.g = c.g;
  c.p.pad_value = 128;
  EXPECT_EQ(bl_conv2d_s8_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
  c.p.pad_value = 0;
  c.p.out.kind = BL_OUT_S8;
  c.p.out.s8_min = 1;
  c.p.out.s8_max = 0;
  EXPECT_EQ(bl_conv2d_s8_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
  c.p.out.s8_min = -129;
  c.p.out.s8_max = 0;
  EXPECT_EQ(bl_conv2d_s8_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
  c.p.out.s8_min = -128;
  EXPECT_EQ(bl_conv2d_s8(&c.p, c.in.data(), out.data(), nullptr), BL_ERR_PARAM);
}

// BL_OUT_S8 rounds half to even and maps NaN to 0.
TEST(ConvS8, S8OutputRoundsHalfToEvenAndNanGivesZero) {
  S8Case c;
  c.g = bl_conv_geom{1, 1, 1, 1, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0};
  c.in = {1};
  c.w = {1, 1, 1, 1, 1};
  c.init = {0, 2, 4, -2, -200};  // acc = 1, 3, 5, -1, -199
  static const float mul[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  static const float add[5] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  c.p.g = c.g;
  c.p.weights = c.w.data();
  c.p.acc_init = c.init.data();
  c.p.out.kind = BL_OUT_S8;
  c.p.out.mul = mul;
  c.p.out.add = add;
  c.p.out.act_min = -INFINITY;
  c.p.out.act_max = INFINITY;
  c.p.out.s8_mul = 1.0f;
  c.p.out.s8_min = -100;
  c.p.out.s8_max = 127;
  for (bool opt : {false, true}) {
    const auto out = run(c, opt);
    EXPECT_EQ(int8_t(out[0]), 0);     // 0.5 -> 0
    EXPECT_EQ(int8_t(out[1]), 2);     // 1.5 -> 2
    EXPECT_EQ(int8_t(out[2]), 2);     // 2.5 -> 2
    EXPECT_EQ(int8_t(out[3]), 0);     // -0.5 -> -0
    EXPECT_EQ(int8_t(out[4]), -100);  // -99.5 -> -100, clamped at s8_min
  }
  static const float nan_mul[5] = {NAN, 1.0f, 1.0f, 1.0f, 1.0f};
  c.p.out.mul = nan_mul;
  for (bool opt : {false, true}) EXPECT_EQ(int8_t(run(c, opt)[0]), 0);
}

}  // namespace
