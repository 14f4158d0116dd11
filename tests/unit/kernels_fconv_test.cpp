// Float conv2d / depthwise / dense: optimized (channel-blocked) == reference bit for bit, and
// each reference equals the multiply-accumulate definition evaluated here in the same order.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct Case {
  bl_conv_geom g{};
  int32_t m = 0;  // depth multiplier, 0 = full conv
  Pad pad = Pad::Valid;
  float padv = 0.f;
  std::vector<float> in, w;
  OutStage st;
  std::string str() const {
    std::ostringstream s;
    s << geom_str(g) << " mult " << m << " pad " << pad_name(pad) << " value " << padv << " out "
      << st.desc;
    return s.str();
  }
};

Case make(Rng &r, int32_t mult) {
  Case c;
  c.pad = coin(r, 0.3) ? Pad::Valid : Pad::SameValue;
  const float choices[] = {0.f, 1.f, -1.f, 0.25f};
  c.padv = c.pad == Pad::Valid ? 0.f : choices[uni(r, 0, 3)];
  c.m = mult;
  c.g = random_geom(r, c.pad, 30000, mult);
  c.in = random_floats(r, size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
  const size_t nw = size_t(c.g.k_h) * c.g.k_w * (mult ? size_t(c.g.out_c) : size_t(c.g.in_c) * c.g.out_c);
  c.w = random_floats(r, nw, -1.f, 1.f);
  c.st.init(r, c.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, 10, false);
  return c;
}

size_t elems(const bl_conv_geom &g) { return size_t(g.out_h) * g.out_w * g.out_c; }

std::vector<uint32_t> run(const Case &c, bool ref) {
  std::vector<uint32_t> out(out_words(c.st.o.kind, elems(c.g)), 0xa5a5a5a5u);
  if (c.m == 0) {
    bl_conv2d_params p{c.g, c.padv, c.w.data(), c.st.o, 1};
    EXPECT_EQ(ref ? bl_conv2d_ref(&p, c.in.data(), out.data()) : bl_conv2d(&p, c.in.data(), out.data()), BL_OK);
  } else {
    bl_depthwise_params p{c.g, c.m, c.padv, c.w.data(), c.st.o};
    EXPECT_EQ(ref ? bl_depthwise_ref(&p, c.in.data(), out.data()) : bl_depthwise(&p, c.in.data(), out.data()), BL_OK);
  }
  return out;
}

// acc += x * w over taps (kh, kw, ci) (depthwise: (kh, kw)), padded taps = pad value.
void check_def(const Case &c, const std::vector<uint32_t> &out) {
  const auto &g = c.g;
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int oc = 0; oc < g.out_c; oc++) {
        float s = 0.f;
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++) {
            const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
            const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
            const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
            if (c.m == 0) {
              for (int ci = 0; ci < g.in_c; ci++) {
                const float x = inside ? c.in[(size_t(ih) * g.in_w + iw) * g.in_c + ci] : c.padv;
                s += x * c.w[((size_t(kh) * g.k_w + kw) * g.in_c + ci) * g.out_c + oc];
              }
            } else {
              const int ch = oc / c.m, j = oc % c.m;
              const float x = inside ? c.in[(size_t(ih) * g.in_w + iw) * g.in_c + ch] : c.padv;
              s += x * c.w[((size_t(kh) * g.k_w + kw) * g.in_c + ch) * c.m + j];
            }
          }
        const size_t i = (size_t(oh) * g.out_w + ow) * g.out_c + oc;
        const float y = stage_f32(c.st.o, oc, s);
        if (c.st.o.kind == BL_OUT_BITS)
          BL_ASSERT_EQ(get_bit(out.data(), i), y < 0.f ? 1 : 0) << "element " << i;
        else
          BL_ASSERT_EQ(out[i], f2u(y)) << "element " << i;
      }
}

}  // namespace

TEST(FConv2D, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(71);
  for (int t = 0; t < 1000; t++) {
    const Case c = make(r, 0);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run(c, true), run(c, false)), -1);
  }
}

TEST(FConv2D, ReferenceEqualsMultiplyAccumulateDefinition) {
  Rng r(72);
  for (int t = 0; t < 150; t++) {
    const Case c = make(r, 0);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    check_def(c, run(c, true));
    if (HasFatalFailure()) return;
  }
}

TEST(FDepthwise, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(73);
  for (int t = 0; t < 1000; t++) {
    const Case c = make(r, coin(r, 0.6) ? 1 : uni(r, 2, 3));
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run(c, true), run(c, false)), -1);
  }
}

TEST(FDepthwise, ReferenceEqualsMultiplyAccumulateDefinition) {
  Rng r(74);
  for (int t = 0; t < 200; t++) {
    const Case c = make(r, uni(r, 1, 3));
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    check_def(c, run(c, true));
    if (HasFatalFailure()) return;
  }
}

TEST(FDense, OptimizedMatchesReferenceAndDefinition) {
  Rng r(75);
  for (int t = 0; t < 1000; t++) {
    const int32_t n_in = uni(r, 1, 400), n_out = uni(r, 1, 70);
    const auto x = random_floats(r, size_t(n_in));
    const auto w = random_floats(r, size_t(n_in) * n_out, -1.f, 1.f);
    OutStage st;
    st.init(r, n_out, coin(r) ? BL_OUT_BITS : BL_OUT_F32, 10, false);
    SCOPED_TRACE("case " + std::to_string(t) + ": n_in " + std::to_string(n_in) + " n_out " +
                 std::to_string(n_out) + " out " + st.desc);
    bl_dense_params p{n_in, n_out, w.data(), st.o};
    std::vector<uint32_t> a(out_words(st.o.kind, size_t(n_out)), 1u), b(a.size(), 2u);
    ASSERT_EQ(bl_dense_ref(&p, x.data(), a.data()), BL_OK);
    ASSERT_EQ(bl_dense(&p, x.data(), b.data()), BL_OK);
    ASSERT_EQ(first_diff(a, b), -1);
    if (t < 300) {
      for (int o = 0; o < n_out; o++) {
        float s = 0.f;
        for (int i = 0; i < n_in; i++) s += x[size_t(i)] * w[size_t(i) * n_out + o];
        const float y = stage_f32(st.o, o, s);
        if (st.o.kind == BL_OUT_BITS)
          BL_ASSERT_EQ(get_bit(a.data(), size_t(o)), y < 0.f ? 1 : 0);
        else
          BL_ASSERT_EQ(a[size_t(o)], f2u(y));
      }
    }
  }
}
