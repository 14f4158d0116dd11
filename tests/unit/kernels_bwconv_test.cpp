// Binary-weights kernels (f32 input, 1-bit weights): optimized == reference bit for bit over
// random layers, and each reference equals the add/subtract definition evaluated here.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

std::vector<float> inputs(Rng &r, size_t n) {
  auto x = random_floats(r, n);
  for (auto &v : x) {  // exact zeros of both signs exercise the sign-of-zero rules
    const int t = uni(r, 0, 30);
    if (t == 0) v = 0.f;
    if (t == 1) v = -0.f;
  }
  return x;
}

float pad_value(Rng &r) {
  const float choices[] = {0.f, 1.f, -1.f, 0.5f, -0.f};
  return coin(r, 0.8) ? choices[uni(r, 0, 4)] : unif(r, -3.f, 3.f);
}

struct Case {
  bl_conv_geom g{};
  int32_t m = 0;  // depth multiplier (0: not depthwise)
  Pad pad = Pad::Valid;
  float padv = 0.f;
  std::vector<float> in;
  std::vector<uint32_t> w;
  OutStage st;
  std::string str() const {
    std::ostringstream s;
    s << geom_str(g) << " mult " << m << " pad " << pad_name(pad) << " value " << padv << " out "
      << st.desc;
    return s.str();
  }
};

Case make_conv(Rng &r, int32_t mult) {
  Case c;
  c.pad = coin(r, 0.3) ? Pad::Valid : Pad::SameValue;
  c.padv = c.pad == Pad::Valid ? 0.f : pad_value(r);
  c.m = mult;
  c.g = random_geom(r, c.pad, 30000, mult);
  c.in = inputs(r, size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
  if (mult == 0) {
    const size_t per = size_t(c.g.k_h) * c.g.k_w * c.g.in_c;
    for (int o = 0; o < c.g.out_c; o++) {
      auto f = random_bits(r, per);
      c.w.insert(c.w.end(), f.begin(), f.end());
    }
  } else {
    for (int t = 0; t < mult * c.g.k_h * c.g.k_w; t++) {
      auto f = random_bits(r, size_t(c.g.in_c));
      c.w.insert(c.w.end(), f.begin(), f.end());
    }
  }
  c.st.init(r, c.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, 10, false);
  return c;
}

size_t elems(const bl_conv_geom &g) { return size_t(g.out_h) * g.out_w * g.out_c; }

// Definition, written here: v = w ? -x : x per tap (padded taps = value); depthwise adds v in
// tap order (kh, kw, ci), conv2d in quads of taps (bl_kernels.h).
std::vector<float> conv_def(const Case &c) {
  const auto &g = c.g;
  const size_t per = size_t(g.k_h) * g.k_w * g.in_c, wpf = BL_WORDS(per), cw = BL_WORDS(size_t(g.in_c));
  std::vector<float> acc(elems(g));
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int oc = 0; oc < g.out_c; oc++) {
        float s = 0.f;
        std::vector<float> vs;  // conv: the signed taps, summed in quads below
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++) {
            const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
            auto x_at = [&](int ci) {
              return inside ? c.in[(size_t(ih) * g.in_w + iw) * g.in_c + ci] : c.padv;
            };
            if (c.m == 0) {
              for (int ci = 0; ci < g.in_c; ci++) {
                const float x = x_at(ci);
                vs.push_back(get_bit(c.w.data() + oc * wpf, (size_t(kh) * g.k_w + kw) * g.in_c + ci) ? -x : x);
              }
            } else {
              const int ch = oc / c.m, j = oc % c.m;
              const float x = x_at(ch);
              s += get_bit(c.w.data() + ((size_t(j) * g.k_h + kh) * g.k_w + kw) * cw, size_t(ch)) ? -x : x;
            }
          }
        if (c.m == 0) s = quad_sum(vs);
        acc[(size_t(oh) * g.out_w + ow) * g.out_c + oc] = s;
      }
  return acc;
}

void check_def(const Case &c, const std::vector<uint32_t> &out, const std::vector<float> &acc) {
  for (size_t i = 0; i < acc.size(); i++) {
    const int32_t oc = int32_t(i % size_t(c.g.out_c));
    const float y = stage_f32(c.st.o, oc, acc[i]);
    if (c.st.o.kind == BL_OUT_BITS)
      BL_ASSERT_EQ(get_bit(out.data(), i), y < 0.f ? 1 : 0) << "element " << i;
    else
      BL_ASSERT_EQ(out[i], f2u(y)) << "element " << i;
  }
}

std::vector<uint32_t> run_conv(const Case &c, bool ref) {
  std::vector<uint32_t> out(out_words(c.st.o.kind, elems(c.g)), 0xa5a5a5a5u);
  bl_bwconv2d_params p{c.g, c.padv, c.w.data(), c.st.o, 1};
  if (ref) {
    EXPECT_EQ(bl_bwconv2d_ref(&p, c.in.data(), out.data()), BL_OK);
  } else {
    std::vector<uint32_t> scratch(bl_bwconv2d_scratch_size(&p) / 4);
    EXPECT_EQ(bl_bwconv2d(&p, c.in.data(), out.data(), scratch.data()), BL_OK);
  }
  return out;
}

std::vector<uint32_t> run_dw(const Case &c, bool ref) {
  std::vector<uint32_t> out(out_words(c.st.o.kind, elems(c.g)), 0xa5a5a5a5u);
  bl_bwdepthwise_params p{c.g, c.m, c.padv, c.w.data(), c.st.o};
  EXPECT_EQ(ref ? bl_bwdepthwise_ref(&p, c.in.data(), out.data())
                : bl_bwdepthwise(&p, c.in.data(), out.data()),
            BL_OK);
  return out;
}

}  // namespace

TEST(BWConv2D, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(555);
  for (int t = 0; t < 1000; t++) {
    const Case c = make_conv(r, 0);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run_conv(c, true), run_conv(c, false)), -1);
  }
}

TEST(BWConv2D, ReferenceEqualsAddSubtractDefinition) {
  Rng r(556);
  for (int t = 0; t < 200; t++) {
    const Case c = make_conv(r, 0);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    check_def(c, run_conv(c, true), conv_def(c));
    if (HasFatalFailure()) return;
  }
}

TEST(BWDepthwise, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(557);
  for (int t = 0; t < 1000; t++) {
    const Case c = make_conv(r, coin(r, 0.6) ? 1 : uni(r, 2, 3));
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run_dw(c, true), run_dw(c, false)), -1);
  }
}

TEST(BWDepthwise, ReferenceEqualsAddSubtractDefinition) {
  Rng r(558);
  for (int t = 0; t < 200; t++) {
    const Case c = make_conv(r, uni(r, 1, 3));
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    check_def(c, run_dw(c, true), conv_def(c));
    if (HasFatalFailure()) return;
  }
}

TEST(BWDense, OptimizedMatchesReferenceAndDefinition) {
  Rng r(559);
  for (int t = 0; t < 1000; t++) {
    const int32_t n_in = coin(r, 0.3) ? 32 * uni(r, 1, 20) : uni(r, 1, 700), n_out = uni(r, 1, 70);
    const auto x = inputs(r, size_t(n_in));
    std::vector<uint32_t> w;
    for (int o = 0; o < n_out; o++) {
      auto f = random_bits(r, size_t(n_in));
      w.insert(w.end(), f.begin(), f.end());
    }
    OutStage st;
    st.init(r, n_out, coin(r) ? BL_OUT_BITS : BL_OUT_F32, 10, false);
    SCOPED_TRACE("case " + std::to_string(t) + ": n_in " + std::to_string(n_in) + " n_out " +
                 std::to_string(n_out) + " out " + st.desc);
    bl_bwdense_params p{n_in, n_out, w.data(), st.o};
    std::vector<uint32_t> a(out_words(st.o.kind, size_t(n_out)), 1u), b(a.size(), 2u);
    ASSERT_EQ(bl_bwdense_ref(&p, x.data(), a.data()), BL_OK);
    ASSERT_EQ(bl_bwdense(&p, x.data(), b.data()), BL_OK);
    ASSERT_EQ(first_diff(a, b), -1);
    if (t < 300) {
      const size_t wpo = BL_WORDS(size_t(n_in));
      for (int o = 0; o < n_out; o++) {
        float s = 0.f;
        for (int i = 0; i < n_in; i++) s += get_bit(w.data() + o * wpo, size_t(i)) ? -x[size_t(i)] : x[size_t(i)];
        const float y = stage_f32(st.o, o, s);
        if (st.o.kind == BL_OUT_BITS)
          BL_ASSERT_EQ(get_bit(a.data(), size_t(o)), y < 0.f ? 1 : 0);
        else
          BL_ASSERT_EQ(a[size_t(o)], f2u(y));
      }
    }
  }
}

TEST(BWConv2D, RejectsMissingScratch) {
  Rng r(1);
  const Case c = make_conv(r, 0);
  bl_bwconv2d_params p{c.g, c.padv, c.w.data(), c.st.o, 1};
  std::vector<uint32_t> out(out_words(c.st.o.kind, elems(c.g)));
  EXPECT_GT(bl_bwconv2d_scratch_size(&p), 0u);
  EXPECT_EQ(bl_bwconv2d(&p, c.in.data(), out.data(), nullptr), BL_ERR_PARAM);
}

// Bit outputs of the conv2d go through one float comparison per value, found by bisection over
// the floats (bl_i_fthr_init); every stage and input here is compared with the reference, which
// evaluates the stage itself: negative, zero, tiny and huge scales, infinite or NaN offsets and
// bounds, clamps that decide the bit, and inputs at +-0, subnormals, +-inf and NaN.
TEST(BWConv2D, BitOutputComparisonsEqualTheStageOnSpecialValues) {
  const float inf = INFINITY, nan = NAN;
  const float muls[] = {1.f, -1.f, 0.f, -0.f, 1e-30f, -3e-39f, 2.5f, -1e30f, 3e38f, inf, -inf, nan};
  const float adds[] = {0.f, -0.f, 0.5f, -7.25f, 1e-40f, 3e38f, inf, -inf, nan};
  const float clamps[][2] = {{-inf, inf}, {0.f, 6.f}, {-1.f, 1.f}, {-0.f, inf}, {-inf, -1e-3f}, {nan, inf}};
  const float specials[] = {0.f, -0.f, 1e-45f, -1e-45f, 1.17e-38f, inf, -inf, nan, 3e38f, -3e38f};
  Rng r(4242);
  for (int t = 0; t < 120; t++) {
    Case c = make_conv(r, 0);
    for (auto &v : c.in)
      if (coin(r, 0.1)) v = specials[uni(r, 0, 9)];
    // every third case keeps all scales finite and nonzero, so the whole row takes the
    // comparisons (one special channel sends the row through the stage)
    const bool tame = t % 3 == 0;
    std::vector<float> mul(size_t(c.g.out_c)), add(size_t(c.g.out_c));
    for (int32_t o = 0; o < c.g.out_c; o++) {
      mul[size_t(o)] = tame || coin(r, 0.5) ? (coin(r) ? 1.f : -1.f) * unif(r, 0.01f, 4.f) : muls[uni(r, 0, 11)];
      add[size_t(o)] = tame || coin(r, 0.5) ? unif(r, -20.f, 20.f) : adds[uni(r, 0, 8)];
    }
    const auto &cl = clamps[uni(r, 0, 5)];
    std::vector<float> mul2(size_t(c.g.out_c)), add2(size_t(c.g.out_c));
    for (int32_t o = 0; o < c.g.out_c; o++) {
      mul2[size_t(o)] = tame || coin(r, 0.7) ? unif(r, -2.f, 2.f) : muls[uni(r, 0, 11)];
      add2[size_t(o)] = tame || coin(r, 0.7) ? unif(r, -3.f, 3.f) : adds[uni(r, 0, 8)];
    }
    c.st.o = bl_output{};
    if (coin(r, 0.4)) {
      c.st.o.mul2 = mul2.data();
      c.st.o.add2 = coin(r, 0.8) ? add2.data() : nullptr;
    }
    c.st.o.kind = BL_OUT_BITS;
    c.st.o.mul = coin(r, 0.9) ? mul.data() : nullptr;
    c.st.o.add = coin(r, 0.9) ? add.data() : nullptr;
    c.st.o.act_min = cl[0];
    c.st.o.act_max = cl[1];
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run_conv(c, true), run_conv(c, false)), -1);
  }
}

// The comparison found by bl_i_fthr_init (internal to the kernel library) against the stage
// itself on the floats next to its boundary, where an off-by-one-ulp threshold would show.
extern "C" {
#include "../../kernels/src/bl_internal.h"
}

namespace {
uint32_t key_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
float float_of(uint32_t k) {
  const uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
}  // namespace

TEST(BWConv2D, BitComparisonIsExactAtItsBoundary) {
  Rng r(99);
  int boundaries = 0;
  for (int t = 0; t < 3000; t++) {
    float mul = (coin(r) ? 1.f : -1.f) * std::ldexp(unif(r, 1.f, 2.f), uni(r, -20, 20));
    float add = coin(r, 0.2) ? 0.f : unif(r, -50.f, 50.f);
    bl_output o{};
    o.kind = BL_OUT_BITS;
    o.mul = &mul;
    o.add = &add;
    float mul2 = (coin(r) ? 1.f : -1.f) * unif(r, 0.1f, 3.f), add2 = unif(r, -5.f, 5.f);
    if (coin(r, 0.4)) {  // a bias then a BatchNorm: the second affine step
      o.mul2 = &mul2;
      o.add2 = &add2;
    }
    o.act_min = coin(r, 0.3) ? unif(r, -2.f, 0.5f) : -INFINITY;
    o.act_max = coin(r, 0.3) ? unif(r, -0.5f, 2.f) : INFINITY;
    if (o.act_max < o.act_min) std::swap(o.act_min, o.act_max);
    bl_i_fthr th;
    bl_i_fthr_init(&o, 0, &th);
    ASSERT_NE(th.mode, BL_I_FTHR_STAGE);
    if (th.mode != BL_I_FTHR_LT) continue;
    // the boundary in acc: u for s = 1, -u's neighbour for s = -1
    const float edge = th.s > 0 ? th.u : -th.u;
    ++boundaries;
    for (int d = -3; d <= 3; d++) {
      const float acc = float_of(key_of(edge) + uint32_t(d));
      const uint32_t want = bl_i_affine_clamp(&o, 0, acc) < 0.0f ? 1u : 0u;
      ASSERT_EQ(bl_i_fthr_bit(&o, 0, &th, acc), want) << "mul " << mul << " add " << add << " acc " << acc;
    }
  }
  EXPECT_GT(boundaries, 1000);
}
