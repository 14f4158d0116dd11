// Bit-sliced binary conv2d (few input channels): identical to the reference bit for bit over
// random stride-1 layers with every padding mode, dilation and output stage, and refused (scratch
// size 0, BL_ERR_PARAM) outside the geometries it covers.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct Case {
  bl_conv_geom g{};
  Pad pad = Pad::Valid;
  std::vector<uint32_t> in, w;
  OutStage st;
  bl_bconv2d_params p{};
  std::string str() const { return geom_str(g) + " pad " + pad_name(pad) + " out " + st.desc; }
};

// A stride-1 layer with in_c in [1, max_c], out_c in [1, 70], image up to 40 pixels wide so
// that lane blocks cross row ends.
Case make(Rng &r, int max_c, int64_t max_macs) {
  Case c;
  const Pad pads[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
  for (;;) {
    c.pad = pads[uni(r, 0, 3)];
    c.g = bl_conv_geom{};
    c.g.in_h = uni(r, 1, 24);
    c.g.in_w = uni(r, 1, 40);
    c.g.in_c = uni(r, 1, max_c);
    c.g.out_c = uni(r, 1, 70);
    c.g.k_h = uni(r, 1, 5);
    c.g.k_w = uni(r, 1, 5);
    c.g.stride_h = c.g.stride_w = 1;
    c.g.dil_h = uni(r, 1, 3);
    c.g.dil_w = uni(r, 1, 3);
    if (!tf_geometry(c.g, c.pad != Pad::Valid)) continue;
    const int64_t macs = int64_t(c.g.out_h) * c.g.out_w * c.g.out_c * c.g.k_h * c.g.k_w * c.g.in_c;
    if (macs <= max_macs) break;
  }
  c.in = random_bits(r, size_t(c.g.in_h) * c.g.in_w * c.g.in_c);
  const size_t per = size_t(c.g.k_h) * c.g.k_w * c.g.in_c;
  c.w = random_bconv_weights(r, c.g);
  c.st.init(r, c.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, int32_t(per), true);
  c.p.g = c.g;
  c.p.pad = bpad_of(c.pad);
  c.p.weights = c.w.data();
  c.p.out = c.st.o;
  return c;
}

size_t elems(const bl_conv_geom &g) { return size_t(g.out_h) * g.out_w * g.out_c; }

std::vector<uint32_t> ref(const Case &c) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, elems(c.g)), 0xdeadbeefu);
  EXPECT_EQ(bl_bconv2d_ref(&c.p, c.in.data(), out.data()), BL_OK);
  return out;
}

std::vector<uint32_t> sliced(const Case &c) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, elems(c.g)), 0xa5a5a5a5u);
  const size_t ss = bl_bconv2d_bitsliced_scratch_size(&c.p);
  EXPECT_GT(ss, 0u);
  EXPECT_EQ(ss % 4, 0u);
  // Filled with garbage: the kernel must not rely on zeroed scratch.
  std::vector<uint32_t> scratch(ss / 4, 0x5a5a5a5au);
  EXPECT_EQ(bl_bconv2d_bitsliced(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
  return out;
}

void expect_same(const Case &c, const std::vector<uint32_t> &a, const std::vector<uint32_t> &b) {
  const long i = first_diff(a, b);
  ASSERT_EQ(i, -1) << "first differing word " << i << " (ref " << std::hex << a[size_t(i)] << " bitsliced "
                   << b[size_t(i)] << std::dec << ") for " << c.str();
}

}  // namespace

TEST(BConv2DBitsliced, MatchesReferenceOnRandomFewChannelLayers) {
  Rng r(20261207);
  for (int t = 0; t < 1500; t++) {
    const Case c = make(r, 31, 60000);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    expect_same(c, ref(c), sliced(c));
    if (HasFatalFailure()) return;
  }
}

TEST(BConv2DBitsliced, MatchesReferenceOnWideChannelsAndLongFilters) {
  // Channel counts past 32 and up to 5x5x100 taps: more counter planes, every Harley-Seal path
  // (16-tap steps, an 8-tap step, single taps).
  Rng r(99);
  for (int t = 0; t < 150; t++) {
    const Case c = make(r, 100, 200000);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    expect_same(c, ref(c), sliced(c));
    if (HasFatalFailure()) return;
  }
}

TEST(BConv2DBitsliced, ExtremeThresholdsGiveConstantBits) {
  // Thresholds beyond every reachable d: all lanes the same bit, in both directions.
  Rng r(3);
  Case c = make(r, 4, 20000);
  std::vector<int32_t> thr(size_t(c.g.out_c));
  std::vector<uint32_t> flip(size_t((c.g.out_c + 31) / 32), 0);
  const int32_t n = c.g.k_h * c.g.k_w * c.g.in_c;
  for (int32_t o = 0; o < c.g.out_c; o++) {
    thr[size_t(o)] = o % 4 == 0 ? n + 5 : o % 4 == 1 ? -n - 5 : o % 4 == 2 ? INT32_MAX : INT32_MIN;
    if (o % 3 == 0) flip[size_t(o / 32)] |= 1u << (o % 32);
  }
  c.p.out = bl_output{};
  c.p.out.kind = BL_OUT_BITS;
  c.p.out.threshold = thr.data();
  c.p.out.flip = flip.data();
  expect_same(c, ref(c), sliced(c));
}

TEST(BConv2DBitsliced, RefusesWhatItDoesNotCover) {
  uint32_t w = 0, in = 0, out = 0, scratch[64];
  bl_bconv2d_params p{};
  p.g.in_h = p.g.in_w = p.g.in_c = p.g.out_h = p.g.out_w = p.g.out_c = 1;
  p.g.k_h = p.g.k_w = p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
  p.weights = &w;
  p.out.kind = BL_OUT_F32;
  p.out.act_min = -INFINITY;
  p.out.act_max = INFINITY;
  ASSERT_GT(bl_bconv2d_bitsliced_scratch_size(&p), 0u);
  ASSERT_LE(bl_bconv2d_bitsliced_scratch_size(&p), sizeof scratch);
  EXPECT_EQ(bl_bconv2d_bitsliced(&p, &in, &out, scratch), BL_OK);
  EXPECT_EQ(bl_bconv2d_bitsliced(&p, &in, &out, nullptr), BL_ERR_PARAM);
  p.g.stride_w = 2;
  EXPECT_EQ(bl_bconv2d_bitsliced_scratch_size(&p), 0u);
  EXPECT_EQ(bl_bconv2d_bitsliced(&p, &in, &out, scratch), BL_ERR_PARAM);
  p.g.stride_w = 1;
  p.g.in_c = p.g.out_c = 2;
  p.groups = 2;
  EXPECT_EQ(bl_bconv2d_bitsliced_scratch_size(&p), 0u);
  p.groups = 1;
  // 24573 taps (8191 triples) is the most the 16-bit triple offsets address
  p.g.in_c = 24573;
  EXPECT_GT(bl_bconv2d_bitsliced_scratch_size(&p), 0u);
  p.g.in_c = 24574;
  EXPECT_EQ(bl_bconv2d_bitsliced_scratch_size(&p), 0u);
  p.g.in_c = 1;
  p.out.kind = BL_OUT_BITS;  // no thresholds
  EXPECT_EQ(bl_bconv2d_bitsliced(&p, &in, &out, scratch), BL_ERR_PARAM);
}
