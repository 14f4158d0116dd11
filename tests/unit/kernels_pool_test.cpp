// Pooling: s1 max-pool (AND, or OR for masked channels) == max/min of ±1 values, f32 max/avg
// pools optimized == reference == definition, and the global pools.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct PoolCase {
  bl_conv_geom g{};
  Pad pad = Pad::Valid;
  std::string str() const { return geom_str(g) + " pad " + pad_name(pad); }
};

PoolCase make(Rng &r) {
  for (;;) {
    PoolCase c;
    c.pad = coin(r) ? Pad::Valid : Pad::SameZero;
    bl_conv_geom &g = c.g;
    g.in_h = uni(r, 1, 20); g.in_w = uni(r, 1, 20);
    g.in_c = coin(r, 0.25) ? 32 * uni(r, 1, 3) : uni(r, 1, 70);
    g.out_c = g.in_c;
    g.k_h = uni(r, 1, 5); g.k_w = uni(r, 1, 5);
    g.stride_h = uni(r, 1, 3); g.stride_w = uni(r, 1, 3);
    g.dil_h = g.dil_w = 1;
    if (tf_geometry(g, c.pad != Pad::Valid)) return c;
  }
}

// Value of the in-image window positions of (oh, ow) in (kh, kw) order.
template <class F>
void window(const bl_conv_geom &g, int oh, int ow, F f) {
  for (int kh = 0; kh < g.k_h; kh++)
    for (int kw = 0; kw < g.k_w; kw++) {
      const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
      if (ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w) f(size_t(ih) * g.in_w + iw);
    }
}

}  // namespace

TEST(MaxPoolS1, OptimizedEqualsReferenceEqualsPlusMinusOneMax) {
  Rng r(61);
  for (int t = 0; t < 1000; t++) {
    const PoolCase c = make(r);
    const auto &g = c.g;
    const auto in = random_bits(r, size_t(g.in_h) * g.in_w * g.in_c);
    const auto orm = random_bits(r, size_t(g.in_c));
    const bool use_or = coin(r);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str() + (use_or ? " or_mask" : ""));
    bl_pool_params p{g, use_or ? orm.data() : nullptr};
    const size_t n = size_t(g.out_h) * g.out_w * g.out_c;
    std::vector<uint32_t> a(BL_WORDS(n), 0xffffffffu), b(a.size(), 0x5a5a5a5au);
    ASSERT_EQ(bl_maxpool_s1_ref(&p, in.data(), a.data()), BL_OK);
    ASSERT_EQ(bl_maxpool_s1(&p, in.data(), b.data()), BL_OK);
    ASSERT_EQ(first_diff(a, b), -1);
    if (n % 32) {
      ASSERT_EQ(b.back() >> (n % 32), 0u);
    }
    for (int oh = 0; oh < g.out_h; oh++)
      for (int ow = 0; ow < g.out_w; ow++)
        for (int ch = 0; ch < g.in_c; ch++) {
          const bool is_or = use_or && get_bit(orm.data(), size_t(ch));
          int v = is_or ? 2 : -2;  // max of ±1 values, or min for OR channels
          window(g, oh, ow, [&](size_t px) {
            const int x = pm(in.data(), px * g.in_c + ch);
            v = is_or ? std::min(v, x) : std::max(v, x);
          });
          const size_t i = (size_t(oh) * g.out_w + ow) * g.out_c + ch;
          BL_ASSERT_EQ(get_bit(a.data(), i), v < 0 ? 1 : 0) << "element " << i;
        }
  }
}

TEST(PoolF32, MaxAndAverageOptimizedEqualReferenceAndDefinition) {
  Rng r(62);
  for (int t = 0; t < 1000; t++) {
    const PoolCase c = make(r);
    const auto &g = c.g;
    const auto in = random_floats(r, size_t(g.in_h) * g.in_w * g.in_c);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    bl_pool_params p{g, nullptr};
    const size_t n = size_t(g.out_h) * g.out_w * g.out_c;
    std::vector<float> mr(n), mo(n), ar(n), ao(n);
    ASSERT_EQ(bl_maxpool_f32_ref(&p, in.data(), mr.data()), BL_OK);
    ASSERT_EQ(bl_maxpool_f32(&p, in.data(), mo.data()), BL_OK);
    ASSERT_EQ(bl_avgpool_f32_ref(&p, in.data(), ar.data()), BL_OK);
    ASSERT_EQ(bl_avgpool_f32(&p, in.data(), ao.data()), BL_OK);
    for (size_t i = 0; i < n; i++) {
      BL_ASSERT_EQ(f2u(mr[i]), f2u(mo[i])) << "max element " << i;
      BL_ASSERT_EQ(f2u(ar[i]), f2u(ao[i])) << "avg element " << i;
    }
    if (t < 300) {
      for (int oh = 0; oh < g.out_h; oh++)
        for (int ow = 0; ow < g.out_w; ow++)
          for (int ch = 0; ch < g.in_c; ch++) {
            float mx = -INFINITY, s = 0.f;
            int cnt = 0;
            window(g, oh, ow, [&](size_t px) {
              const float x = in[px * g.in_c + ch];
              mx = std::max(mx, x);
              s += x;
              cnt++;
            });
            const size_t i = (size_t(oh) * g.out_w + ow) * g.out_c + ch;
            BL_ASSERT_EQ(mr[i], mx);
            BL_ASSERT_EQ(ar[i], s / float(cnt));
          }
    }
  }
}

TEST(Pool, RejectsDilationAndChannelMismatch) {
  bl_pool_params p{};
  p.g.in_h = p.g.in_w = p.g.out_h = p.g.out_w = 2;
  p.g.in_c = p.g.out_c = 3;
  p.g.k_h = p.g.k_w = p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
  float in[12] = {}, out[12];
  EXPECT_EQ(bl_maxpool_f32(&p, in, out), BL_OK);
  p.g.dil_h = 2;
  EXPECT_EQ(bl_maxpool_f32(&p, in, out), BL_ERR_PARAM);
  p.g.dil_h = 1;
  p.g.out_c = 4;
  EXPECT_EQ(bl_avgpool_f32(&p, in, out), BL_ERR_PARAM);
  p.g.out_c = 3;
  p.g.pad_top = 5;  // window of the first output row lies entirely outside
  EXPECT_EQ(bl_maxpool_f32_ref(&p, in, out), BL_ERR_PARAM);
}

TEST(GlobalPool, F32AndS1MatchDefinition) {
  Rng r(63);
  for (int t = 0; t < 300; t++) {
    const int h = uni(r, 1, 12), w = uni(r, 1, 12), c = uni(r, 1, 100);
    SCOPED_TRACE("h " + std::to_string(h) + " w " + std::to_string(w) + " c " + std::to_string(c));
    const auto x = random_floats(r, size_t(h) * w * c);
    std::vector<float> avg(static_cast<size_t>(c)), mx(static_cast<size_t>(c));
    ASSERT_EQ(bl_global_avgpool_f32(h, w, c, x.data(), avg.data()), BL_OK);
    ASSERT_EQ(bl_global_maxpool_f32(h, w, c, x.data(), mx.data()), BL_OK);
    const auto bits = random_bits(r, size_t(h) * w * c);
    const auto orm = random_bits(r, size_t(c));
    const bool use_or = coin(r);
    std::vector<uint32_t> bo(BL_WORDS(size_t(c)), 0xffffffffu);
    ASSERT_EQ(bl_global_maxpool_s1(h, w, c, use_or ? orm.data() : nullptr, bits.data(), bo.data()), BL_OK);
    for (int ch = 0; ch < c; ch++) {
      float s = 0.f, m = -INFINITY;
      int v = -2;
      const bool is_or = use_or && get_bit(orm.data(), size_t(ch));
      if (is_or) v = 2;
      for (int i = 0; i < h * w; i++) {
        const float e = x[size_t(i) * c + ch];
        s += e;
        m = std::max(m, e);
        const int b = pm(bits.data(), size_t(i) * c + ch);
        v = is_or ? std::min(v, b) : std::max(v, b);
      }
      ASSERT_EQ(avg[size_t(ch)], s / float(h * w));
      ASSERT_EQ(mx[size_t(ch)], m);
      BL_ASSERT_EQ(get_bit(bo.data(), size_t(ch)), v < 0 ? 1 : 0);
    }
    if (c % 32) {
      ASSERT_EQ(bo.back() >> (c % 32), 0u);
    }
  }
}

// Non-finite values follow TF: MaxPool starts at -FLT_MAX and skips NaN (pooling_ops_common.h:
// cwiseMax with the output first), the global max is tf.reduce_max, which propagates NaN.
TEST(Pool, NonFiniteValuesFollowTf) {
  const float nan = NAN, inf = INFINITY;
  struct Case {
    std::vector<float> window;
    float window_max, global_max;  // NaN expected where isnan
  };
  const std::vector<Case> cases = {
      {{nan, 1.f, -inf}, 1.f, nan},
      {{2.f, nan}, 2.f, nan},
      {{nan}, -FLT_MAX, nan},
      {{-inf, -inf}, -FLT_MAX, -inf},
      {{nan, -inf}, -FLT_MAX, nan},
      {{-inf, -5.f, inf, nan}, inf, nan},
      {{-FLT_MAX, -inf}, -FLT_MAX, -FLT_MAX},
  };
  auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : a == b; };
  for (size_t t = 0; t < cases.size(); t++) {
    const auto &w = cases[t].window;
    const int n = static_cast<int>(w.size());
    SCOPED_TRACE("case " + std::to_string(t));
    bl_pool_params p{};
    p.g.in_h = p.g.out_h = 1;
    p.g.in_w = n;
    p.g.out_w = 1;
    p.g.in_c = p.g.out_c = 1;
    p.g.k_h = 1;
    p.g.k_w = n;
    p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
    float opt = 0.f, ref = 0.f, glob = 0.f;
    ASSERT_EQ(bl_maxpool_f32(&p, w.data(), &opt), BL_OK);
    ASSERT_EQ(bl_maxpool_f32_ref(&p, w.data(), &ref), BL_OK);
    ASSERT_EQ(bl_global_maxpool_f32(1, n, 1, w.data(), &glob), BL_OK);
    EXPECT_TRUE(same(cases[t].window_max, opt)) << opt;
    EXPECT_TRUE(same(cases[t].window_max, ref)) << ref;
    EXPECT_TRUE(same(cases[t].global_max, glob)) << glob;
  }
}
