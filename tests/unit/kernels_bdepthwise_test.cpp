// Binary depthwise conv2d: optimized (bit-sliced counters) == reference bit for bit over random
// layers, and the reference equals a ±1 depthwise convolution computed here.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct DwCase {
  bl_conv_geom g{};
  int32_t m = 1;
  Pad pad = Pad::Valid;
  std::vector<uint32_t> in, w;
  OutStage st;
  bl_bdepthwise_params p{};
  std::string str() const {
    return geom_str(g) + " mult " + std::to_string(m) + " pad " + pad_name(pad) + " out " + st.desc;
  }
};

DwCase make_case(Rng &r) {
  DwCase c;
  const Pad pads[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
  c.pad = pads[uni(r, 0, 3)];
  c.m = coin(r, 0.7) ? 1 : uni(r, 2, 3);
  c.g = random_geom(r, c.pad, 60000, c.m);
  c.in = random_bits(r, size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
  const size_t cw = BL_WORDS(size_t(c.g.in_c));
  for (int32_t t = 0; t < c.m * c.g.k_h * c.g.k_w; t++) {
    auto v = random_bits(r, size_t(c.g.in_c));
    c.w.insert(c.w.end(), v.begin(), v.end());
  }
  EXPECT_EQ(c.w.size(), bl_bdepthwise_weight_words(c.g.k_h, c.g.k_w, c.g.in_c, c.m));
  EXPECT_EQ(c.w.size(), cw * size_t(c.m * c.g.k_h * c.g.k_w));
  c.st.init(r, c.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, c.g.k_h * c.g.k_w, true);
  c.p.g = c.g;
  c.p.depth_multiplier = c.m;
  c.p.pad = bpad_of(c.pad);
  c.p.weights = c.w.data();
  c.p.out = c.st.o;
  return c;
}

std::vector<uint32_t> run(const DwCase &c, bool ref) {
  const size_t elems = size_t(c.g.out_h) * c.g.out_w * c.g.out_c;
  std::vector<uint32_t> out(out_words(c.p.out.kind, elems), 0xa5a5a5a5u);
  if (ref) {
    EXPECT_EQ(bl_bdepthwise_ref(&c.p, c.in.data(), out.data()), BL_OK);
  } else {
    std::vector<uint32_t> scratch(bl_bdepthwise_scratch_size(&c.p) / 4);
    EXPECT_EQ(bl_bdepthwise(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
  }
  return out;
}

}  // namespace

TEST(BDepthwise, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(99);
  for (int t = 0; t < 2000; t++) {
    const DwCase c = make_case(r);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run(c, true), run(c, false)), -1);
  }
}

TEST(BDepthwise, ReferenceEqualsPlusMinusOneDepthwise) {
  Rng r(100);
  for (int t = 0; t < 300; t++) {
    DwCase c = make_case(r);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    const auto &g = c.g;
    const size_t cw = BL_WORDS(size_t(g.in_c));
    const auto out = run(c, true);
    for (int oh = 0; oh < g.out_h; oh++)
      for (int ow = 0; ow < g.out_w; ow++)
        for (int ch = 0; ch < g.in_c; ch++)
          for (int j = 0; j < c.m; j++) {
            int d = 0;
            for (int kh = 0; kh < g.k_h; kh++)
              for (int kw = 0; kw < g.k_w; kw++) {
                const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
                const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
                const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
                const int a = inside ? pm(c.in.data(), (size_t(ih) * g.in_w + iw) * g.in_c + ch)
                                     : c.pad == Pad::SameMinus ? -1
                                     : c.pad == Pad::SamePlus  ? 1
                                                               : 0;
                const uint32_t *w = c.w.data() + ((size_t(j) * g.k_h + kh) * g.k_w + kw) * cw;
                d += a * pm(w, size_t(ch));
              }
            const int oc = ch * c.m + j;
            const size_t idx = (size_t(oh) * g.out_w + ow) * g.out_c + oc;
            if (c.p.out.kind == BL_OUT_BITS)
              BL_ASSERT_EQ(get_bit(out.data(), idx), stage_int_bit(c.p.out, oc, d)) << "element " << idx;
            else
              BL_ASSERT_EQ(out[idx], f2u(stage_f32(c.p.out, oc, float(d)))) << "element " << idx;
          }
  }
}

TEST(BDepthwise, RejectsInconsistentChannels) {
  uint32_t w = 0, in = 0, out = 0, scratch[8];
  bl_bdepthwise_params p{};
  p.g.in_h = p.g.in_w = p.g.out_h = p.g.out_w = 1;
  p.g.in_c = 2; p.g.out_c = 3;
  p.g.k_h = p.g.k_w = p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
  p.depth_multiplier = 1; p.weights = &w; p.out.kind = BL_OUT_F32;
  EXPECT_EQ(bl_bdepthwise(&p, &in, &out, scratch), BL_ERR_PARAM);
  EXPECT_EQ(bl_bdepthwise_ref(&p, &in, &out), BL_ERR_PARAM);
  p.g.out_c = 2;
  float fo[2];
  EXPECT_EQ(bl_bdepthwise_ref(&p, &in, fo), BL_OK);
}

// Bit output of whole channel words with every tap counting (±1 padding, or the interior with
// exact zero padding) compares the bit-sliced counts with per-channel bounds derived from the
// thresholds: every threshold around the attainable d (and the int32 extremes), flipped or not,
// on 32..96 channels and 1..15 taps, equals the reference.
TEST(BDepthwise, BitSlicedComparisonMatchesReference) {
  Rng r(2026120701u);
  for (int t = 0; t < 300; t++) {
    DwCase c = make_case(r);
    const Pad pads[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
    c.pad = pads[t % 4];
    c.m = 1;
    bl_conv_geom &g = c.g;
    g.in_c = g.out_c = 32 * uni(r, 1, 3);
    g.k_h = uni(r, 1, 3);
    g.k_w = uni(r, 1, 5);
    if (g.k_h * g.k_w > 15) g.k_w = 15 / g.k_h;
    g.in_h = uni(r, 1, 9);
    g.in_w = uni(r, 1, 9);
    g.stride_h = uni(r, 1, 2);
    g.stride_w = uni(r, 1, 2);
    g.dil_h = g.dil_w = 1;
    if (!tf_geometry(g, c.pad != Pad::Valid)) continue;
    const int32_t taps = g.k_h * g.k_w;
    c.in = random_bits(r, size_t(g.in_h) * g.in_w * g.in_c);
    c.w.clear();
    for (int32_t k = 0; k < taps; k++) {
      auto v = random_bits(r, size_t(g.in_c));
      c.w.insert(c.w.end(), v.begin(), v.end());
    }
    c.st.init(r, g.out_c, BL_OUT_BITS, taps, true);
    if (c.st.thr.size() != size_t(g.out_c)) {  // a stage without thresholds: give it some
      c.st.thr.resize(size_t(g.out_c));
      c.st.o.threshold = c.st.thr.data();
    }
    for (auto &th : c.st.thr) {
      const int pick = uni(r, 0, 19);
      th = pick == 0 ? INT32_MIN : pick == 1 ? INT32_MAX : uni(r, -taps - 3, taps + 3);
    }
    c.p.g = g;
    c.p.depth_multiplier = 1;
    c.p.pad = bpad_of(c.pad);
    c.p.weights = c.w.data();
    c.p.out = c.st.o;
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    ASSERT_EQ(first_diff(run(c, true), run(c, false)), -1);
  }
}
