// Binary conv2d: optimized == reference bit for bit over thousands of random layers, and the
// reference itself checked against a naive float convolution on ±1 data written here.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

BConvCase make_case(Rng &r, int64_t max_macs) {
  const Pad pads[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
  const Pad pad = pads[uni(r, 0, 3)];
  const bl_conv_geom g = random_geom(r, pad, max_macs);
  return bconv_case(r, g, pad);
}

std::vector<uint32_t> run_ref(const BConvCase &c) { return bconv_ref_out(c); }

std::vector<uint32_t> run_opt(const BConvCase &c) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, out_elems(c.g)), 0xa5a5a5a5u);
  const size_t ss = bl_bconv2d_scratch_size(&c.p);
  std::vector<uint32_t> scratch(ss / 4);
  EXPECT_EQ(ss % 4, 0u);
  EXPECT_EQ(bl_bconv2d(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
  return out;
}

// Naive float convolution of the unpacked ±1 tensors: zero padding leaves the border taps out
// (they multiply a 0.0f), ±1 padding multiplies the pad value. Returns d per output element.
std::vector<float> naive_dot(const BConvCase &c) {
  const auto &g = c.g;
  const float padv = c.pad == Pad::SamePlus ? 1.f : c.pad == Pad::SameMinus ? -1.f : 0.f;
  std::vector<float> x(size_t(g.in_h) * g.in_w * g.in_c);
  for (size_t i = 0; i < x.size(); i++) x[i] = float(pm(c.in.data(), i));
  const size_t per = size_t(g.k_h) * g.k_w * g.in_c, wpf = BL_WORDS(per);
  std::vector<float> d(out_elems(g));
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int o = 0; o < g.out_c; o++) {
        float s = 0.f;
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++)
            for (int ci = 0; ci < g.in_c; ci++) {
              const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
              const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
              const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
              const float a = inside ? x[(size_t(ih) * g.in_w + iw) * g.in_c + ci] : padv;
              const float w = float(pm(c.w.data() + o * wpf, (size_t(kh) * g.k_w + kw) * g.in_c + ci));
              s += a * w;
            }
        d[(size_t(oh) * g.out_w + ow) * g.out_c + o] = s;
      }
  return d;
}

void expect_same(const BConvCase &c, const std::vector<uint32_t> &a, const std::vector<uint32_t> &b) {
  expect_same_words(c, a, b);
}

}  // namespace

TEST(BConv2D, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(20240601);
  for (int t = 0; t < 2000; t++) {
    const BConvCase c = make_case(r, 50000);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    expect_same(c, run_ref(c), run_opt(c));
    if (HasFatalFailure()) return;
  }
}

TEST(BConv2D, ReferenceEqualsNaiveFloatConvolution) {
  Rng r(77);
  for (int t = 0; t < 300; t++) {
    BConvCase c = make_case(r, 30000);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    const auto d = naive_dot(c);
    // Float output with the identity stage gives d itself.
    bl_output ident{};
    ident.kind = BL_OUT_F32;
    ident.act_min = -INFINITY;
    ident.act_max = INFINITY;
    c.p.out = ident;
    const auto f = run_ref(c);
    for (size_t i = 0; i < d.size(); i++)
      BL_ASSERT_EQ(u2f(f[i]), d[i]) << "element " << i;
    // Float output through the random stage, and bit output through random thresholds,
    // recomputed from d by the test's own output stage.
    OutStage fs, bs;
    const int32_t n = c.g.k_h * c.g.k_w * c.g.in_c;
    fs.init(r, c.g.out_c, BL_OUT_F32, n, true);
    c.p.out = fs.o;
    const auto f2 = run_ref(c);
    for (size_t i = 0; i < d.size(); i++)
      BL_ASSERT_EQ(f2[i], f2u(stage_f32(fs.o, int32_t(i % size_t(c.g.out_c)), d[i]))) << "element " << i;
    bs.init(r, c.g.out_c, BL_OUT_BITS, n, true);
    c.p.out = bs.o;
    const auto b = run_ref(c);
    for (size_t i = 0; i < d.size(); i++)
      BL_ASSERT_EQ(get_bit(b.data(), i),
                stage_int_bit(bs.o, int32_t(i % size_t(c.g.out_c)), int32_t(d[i])))
          << "element " << i;
    const size_t used = d.size() % 32;
    if (used) {
      ASSERT_EQ(b.back() >> used, 0u) << "spare output bits must be 0";
    }
  }
}

TEST(BConv2D, SamePadZeroMatchesReferenceOnBorders) {
  // The exact-zero border is where the masked path runs: small images where most pixels are
  // border pixels, aligned and unaligned channel counts.
  Rng r(5);
  for (int in_c : {1, 3, 31, 32, 33, 64, 96}) {
    for (int k : {2, 3, 5}) {
      BConvCase c = make_case(r, 1 << 30);
      c.pad = Pad::SameZero;
      c.g.in_h = 7; c.g.in_w = 6; c.g.in_c = in_c; c.g.out_c = 37;
      c.g.k_h = k; c.g.k_w = k; c.g.stride_h = c.g.stride_w = 1; c.g.dil_h = c.g.dil_w = 1;
      ASSERT_TRUE(tf_geometry(c.g, true));
      c.in = random_bits(r, size_t(7) * 6 * in_c);
      c.w.assign(bl_bconv2d_weight_words(k, k, in_c, 37), 0);
      const size_t per = size_t(k) * k * in_c;
      for (int o = 0; o < 37; o++) {
        auto f = random_bits(r, per);
        std::copy(f.begin(), f.end(), c.w.begin() + long(o * BL_WORDS(per)));
      }
      c.st.init(r, 37, BL_OUT_F32, int32_t(per), true);
      c.p.g = c.g; c.p.pad = BL_PAD_ZERO; c.p.weights = c.w.data();
      bl_output ident{};
      ident.kind = BL_OUT_F32; ident.act_min = -INFINITY; ident.act_max = INFINITY;
      c.p.out = ident;
      SCOPED_TRACE(c.str());
      const auto d = naive_dot(c);
      const auto ref = run_ref(c), opt = run_opt(c);
      expect_same(c, ref, opt);
      for (size_t i = 0; i < d.size(); i++) ASSERT_EQ(u2f(opt[i]), d[i]) << "element " << i;
    }
  }
}

TEST(BConv2D, FirstLayerSingleChannelUsesPatchPacking) {
  // 3x3x1 filters take one word each; the 9 bits are (kh, kw) row-major.
  EXPECT_EQ(bl_bconv2d_weight_words(3, 3, 1, 16), 16u);
  EXPECT_EQ(bl_bconv2d_weight_words(3, 3, 64, 64), 64u * 18u);
  bl_conv_geom g{};
  g.in_h = 3; g.in_w = 3; g.in_c = 1; g.out_h = 1; g.out_w = 1; g.out_c = 1;
  g.k_h = g.k_w = 3; g.stride_h = g.stride_w = 1; g.dil_h = g.dil_w = 1;
  const uint32_t in = 0x0a5u;  // pixels 0, 2, 5, 7 are -1
  const uint32_t w = 0x0a4u;   // taps 2, 5, 7 are -1: 8 agree, 1 differs
  bl_bconv2d_params p{};
  p.g = g; p.pad = BL_PAD_ZERO; p.weights = &w;
  p.out.kind = BL_OUT_F32; p.out.act_min = -INFINITY; p.out.act_max = INFINITY;
  float out = 0, out2 = 0;
  uint32_t scratch[2];
  ASSERT_EQ(bl_bconv2d_ref(&p, &in, &out), BL_OK);
  ASSERT_EQ(bl_bconv2d(&p, &in, &out2, scratch), BL_OK);
  EXPECT_EQ(out, 7.0f);
  EXPECT_EQ(out2, 7.0f);
}

TEST(BConv2D, BitOutputSpareBitsAreZero) {
  Rng r(9);
  for (int t = 0; t < 200; t++) {
    BConvCase c = make_case(r, 20000);
    OutStage bs;
    bs.init(r, c.g.out_c, BL_OUT_BITS, c.g.k_h * c.g.k_w * c.g.in_c, true);
    c.p.out = bs.o;
    SCOPED_TRACE(c.str());
    const auto o = run_opt(c);  // buffer pre-filled with 0xa5a5a5a5
    const size_t used = out_elems(c.g) % 32;
    if (used) {
      ASSERT_EQ(o.back() >> used, 0u);
    }
  }
}

TEST(BConv2D, RejectsBadParameters) {
  uint32_t w = 0, in = 0, out = 0, scratch[2];
  bl_bconv2d_params p{};
  p.g.in_h = p.g.in_w = p.g.in_c = p.g.out_h = p.g.out_w = p.g.out_c = 1;
  p.g.k_h = p.g.k_w = p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
  p.weights = &w;
  p.out.kind = BL_OUT_BITS;  // no thresholds
  EXPECT_EQ(bl_bconv2d(&p, &in, &out, scratch), BL_ERR_PARAM);
  EXPECT_EQ(bl_bconv2d_ref(&p, &in, &out), BL_ERR_PARAM);
  p.out.kind = BL_OUT_F32;
  EXPECT_EQ(bl_bconv2d_ref(&p, &in, &out), BL_OK);
  p.g.stride_h = 0;
  EXPECT_EQ(bl_bconv2d_ref(&p, &in, &out), BL_ERR_PARAM);
  EXPECT_EQ(bl_bconv2d_scratch_size(&p), 0u);
  p.g.stride_h = 1;
  p.pad = static_cast<bl_bpad>(7);
  EXPECT_EQ(bl_bconv2d(&p, &in, &out, scratch), BL_ERR_PARAM);
  p.pad = BL_PAD_ZERO;
  EXPECT_EQ(bl_bconv2d(&p, &in, &out, nullptr), BL_ERR_PARAM);
  EXPECT_EQ(bl_bconv2d(&p, &in, &out, scratch), BL_OK);
}

// x86-64 builds pick the POPCNT, AVX2 or AVX-512 (VPOPCNTQ) variant at run time; lowering the cap
// (bl_i_x86_max_level, internal to the library, absent from the portable build) runs each variant
// this CPU supports against the reference, including filters long enough (> 31 AVX2 vectors)
// to fold the byte accumulators more than once.
extern "C" int bl_i_x86_max_level __attribute__((weak));

TEST(BConv2D, EveryX86DispatchVariantMatchesReference) {
  if (&bl_i_x86_max_level == nullptr) GTEST_SKIP() << "no x86 dispatch in this build";
  const int saved = bl_i_x86_max_level;
  for (int level = 0; level <= 3; level++) {
    bl_i_x86_max_level = level;
    SCOPED_TRACE("x86 level " + std::to_string(level));
    Rng r(20261125u + unsigned(level));
    for (int t = 0; t < 600; t++) {
      const BConvCase c = make_case(r, 50000);
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
      expect_same(c, run_ref(c), run_opt(c));
      if (HasFatalFailure()) break;
    }
    const int32_t chans[] = {1024, 1000, 1056};
    for (int32_t in_c : chans) {
      for (Pad pad : {Pad::SameZero, Pad::SamePlus, Pad::Valid}) {
        BConvCase c;
        c.pad = pad;
        c.g.in_h = 5;
        c.g.in_w = 4;
        c.g.in_c = in_c;
        c.g.k_h = 3;
        c.g.k_w = 3;
        c.g.stride_h = c.g.stride_w = 1;
        c.g.dil_h = c.g.dil_w = 1;
        c.g.out_c = 37;
        if (pad == Pad::Valid) {
          c.g.out_h = 3;
          c.g.out_w = 2;
        } else {
          c.g.out_h = 5;
          c.g.out_w = 4;
          c.g.pad_top = c.g.pad_left = 1;
        }
        c.in = random_bits(r, size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
        const size_t per = size_t(9) * size_t(in_c);
        c.w.assign(bl_bconv2d_weight_words(3, 3, in_c, c.g.out_c), 0);
        for (int32_t o = 0; o < c.g.out_c; o++) {
          auto f = random_bits(r, per);
          std::copy(f.begin(), f.end(), c.w.begin() + long(o * BL_WORDS(per)));
        }
        c.st.init(r, c.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, int32_t(per), true);
        c.p.g = c.g;
        c.p.pad = bpad_of(c.pad);
        c.p.weights = c.w.data();
        c.p.out = c.st.o;
        SCOPED_TRACE("long filters: " + c.str());
        expect_same(c, run_ref(c), run_opt(c));
        if (HasFatalFailure()) break;
      }
    }
    if (HasFatalFailure()) break;
  }
  bl_i_x86_max_level = saved;
}

// BL_OUT_S8 (a k-bit quantizer folded into the binary conv): each value is the f32 output of
// the same stage, times s8_mul, rounded half to even (std::nearbyint in the default mode) and
// clamped, NaN 0, computed here from the reference's f32 output; the optimized kernel (every
// x86 variant this CPU has) writes the same bytes, and nothing past them.
TEST(BConv2D, Int8OutputIsTheRoundedFloatOutput) {
  const int saved = &bl_i_x86_max_level ? bl_i_x86_max_level : 0;
  for (int level = 0; level <= (&bl_i_x86_max_level ? 3 : 0); level++) {
    if (&bl_i_x86_max_level) bl_i_x86_max_level = level;
    Rng r(20261207u + unsigned(level));
    int clamped = 0, rounded = 0;
    for (int t = 0; t < 400; t++) {
      BConvCase c = make_case(r, 40000);
      const int32_t n = c.g.k_h * c.g.k_w * c.g.in_c;
      c.st.init(r, c.g.out_c, BL_OUT_F32, n, true);
      // Values of the size of a quantized activation: y = d / n spans about -1..1.
      for (auto &m : c.st.mul) m /= float(n);
      for (auto &a : c.st.add) a /= float(n);
      c.p.out = c.st.o;
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
      const auto y = run_ref(c);
      bl_output q = c.st.o;
      q.kind = BL_OUT_S8;
      q.s8_mul = coin(r) ? 128.0f : float(uni(r, 1, 255));
      q.s8_min = uni(r, -128, 0);
      q.s8_max = uni(r, coin(r, 0.9) ? 0 : q.s8_min, 127);
      c.p.out = q;
      const size_t elems = out_elems(c.g);
      auto ref = run_ref(c), opt = run_opt(c);
      ASSERT_EQ(std::memcmp(ref.data(), opt.data(), elems), 0) << "x86 level " << level;
      const auto *got = reinterpret_cast<const int8_t *>(opt.data());
      for (size_t i = 0; i < elems; i++) {
        const float v = u2f(y[i]) * q.s8_mul;
        float want = std::nearbyint(v);
        want = std::isnan(want) ? 0.0f : std::min(std::max(want, float(q.s8_min)), float(q.s8_max));
        BL_ASSERT_EQ(int(got[i]), int(want)) << "element " << i << " y " << u2f(y[i]);
        clamped += want == float(q.s8_min) || want == float(q.s8_max);
        rounded += v != std::nearbyint(v);
      }
      // The int8 tensor is elems bytes: the kernel leaves the rest of the buffer alone.
      const auto *bytes = reinterpret_cast<const uint8_t *>(opt.data());
      for (size_t i = elems; i < std::min(opt.size() * 4, elems + 8); i++) ASSERT_EQ(bytes[i], 0xa5) << i;
      if (HasFatalFailure()) break;
    }
    EXPECT_GT(clamped, 100);
    EXPECT_GT(rounded, 1000);
  }
  if (&bl_i_x86_max_level) bl_i_x86_max_level = saved;
}

// A residual (a Keras Add folded into the float output stage): every value is the stage's value
// without it plus the residual's value at the same index, one float32 addition computed here;
// the optimized kernel (every x86 variant this CPU has) writes the same words, grouped layers
// and partial channel blocks included. Bit and int8 outputs, and the kernels that do not add a
// residual, refuse one.
TEST(BConv2D, ResidualIsAddedAfterTheFloatStage) {
  const int saved = &bl_i_x86_max_level ? bl_i_x86_max_level : 0;
  for (int level = 0; level <= (&bl_i_x86_max_level ? 3 : 0); level++) {
    if (&bl_i_x86_max_level) bl_i_x86_max_level = level;
    Rng r(20261208u + unsigned(level));
    for (int t = 0; t < 300; t++) {
      BConvCase c = make_case(r, 40000);
      if (t % 3 == 0 && c.g.in_c % 2 == 0 && c.g.out_c % 2 == 0) {
        // Two groups: each filter is the bit stream of its group's channels, 0-padded to words.
        c.p.groups = 2;
        const size_t per = size_t(c.g.k_h) * c.g.k_w * (c.g.in_c / 2);
        c.w.assign(size_t(c.g.out_c) * BL_WORDS(per), 0);
        for (int32_t o = 0; o < c.g.out_c; o++) {
          const auto f = random_bits(r, per);
          std::copy(f.begin(), f.end(), c.w.begin() + long(o * BL_WORDS(per)));
        }
        c.p.weights = c.w.data();
      }
      const int32_t n = c.g.k_h * c.g.k_w * c.g.in_c / (c.p.groups ? c.p.groups : 1);
      c.st.init(r, c.g.out_c, BL_OUT_F32, n, true);
      c.p.out = c.st.o;
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str() + " groups " + std::to_string(c.p.groups));
      const auto plain = run_ref(c);
      const auto res = random_floats(r, out_elems(c.g), -100.f, 100.f);
      c.p.out.residual = res.data();
      const auto ref = run_ref(c), opt = run_opt(c);
      for (size_t i = 0; i < res.size(); i++)
        BL_ASSERT_EQ(ref[i], f2u(u2f(plain[i]) + res[i])) << "element " << i;
      expect_same(c, ref, opt);
      if (HasFatalFailure()) break;
    }
  }
  if (&bl_i_x86_max_level) bl_i_x86_max_level = saved;

  Rng r(5);
  BConvCase c = make_case(r, 2000);
  const auto res = random_floats(r, out_elems(c.g));
  std::vector<uint32_t> out(out_elems(c.g) + 1), scratch(64 + bl_bconv2d_bitsliced_scratch_size(&c.p) / 4);
  for (bl_out_kind k : {BL_OUT_BITS, BL_OUT_S8}) {
    c.st.init(r, c.g.out_c, k, c.g.k_h * c.g.k_w * c.g.in_c, true);
    c.p.out = c.st.o;
    c.p.out.s8_mul = 1.0f;
    c.p.out.residual = res.data();
    EXPECT_EQ(bl_bconv2d_ref(&c.p, c.in.data(), out.data()), BL_ERR_PARAM);
    EXPECT_EQ(bl_bconv2d(&c.p, c.in.data(), out.data(), scratch.data()), BL_ERR_PARAM);
  }
  c.st.init(r, c.g.out_c, BL_OUT_BITS, c.g.k_h * c.g.k_w * c.g.in_c, true);
  c.p.out = c.st.o;
  c.p.out.residual = res.data();
  EXPECT_EQ(bl_bconv2d_bitsliced_scratch_size(&c.p), 0u);
  EXPECT_EQ(bl_bconv2d_bitsliced(&c.p, c.in.data(), out.data(), scratch.data()), BL_ERR_PARAM);
}

// The bit-sliced variant adds the residual too: the reference's words, on stride-1 layers of
// every padding with few channels (where the registry chooses it).
TEST(BConv2D, BitslicedAddsTheResidualAsTheReference) {
  Rng r(20261209u);
  int run = 0;
  for (int t = 0; t < 20000 && run < 150; t++) {
    BConvCase c = make_case(r, 30000);
    if (c.g.stride_h != 1 || c.g.stride_w != 1) continue;
    c.st.init(r, c.g.out_c, BL_OUT_F32, c.g.k_h * c.g.k_w * c.g.in_c, true);
    c.p.out = c.st.o;
    const auto res = random_floats(r, out_elems(c.g), -50.f, 50.f);
    c.p.out.residual = res.data();
    const size_t ss = bl_bconv2d_bitsliced_scratch_size(&c.p);
    if (ss == 0) continue;
    ++run;
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    std::vector<uint32_t> scratch(ss / 4 + 1), out(out_elems(c.g), 0xa5a5a5a5u);
    ASSERT_EQ(bl_bconv2d_bitsliced(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
    expect_same(c, run_ref(c), out);
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(run, 100);
}
