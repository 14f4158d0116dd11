// Bit-sliced binary conv2d (few input channels): identical to the reference bit for bit over
// random stride-1 layers with every padding mode, dilation and output stage, and refused (scratch
// size 0, BL_ERR_PARAM) outside the geometries it covers.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

// A stride-1 layer with in_c in [1, max_c], out_c in [1, 70], image up to 40 pixels wide so
// that lane blocks cross row ends.
BConvCase make(Rng &r, int max_c, int64_t max_macs) {
  const Pad pads[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
  for (;;) {
    const Pad pad = pads[uni(r, 0, 3)];
    bl_conv_geom g{};
    g.in_h = uni(r, 1, 24);
    g.in_w = uni(r, 1, 40);
    g.in_c = uni(r, 1, max_c);
    g.out_c = uni(r, 1, 70);
    g.k_h = uni(r, 1, 5);
    g.k_w = uni(r, 1, 5);
    g.stride_h = g.stride_w = 1;
    g.dil_h = uni(r, 1, 3);
    g.dil_w = uni(r, 1, 3);
    if (!tf_geometry(g, pad != Pad::Valid)) continue;
    const int64_t macs = int64_t(g.out_h) * g.out_w * g.out_c * g.k_h * g.k_w * g.in_c;
    if (macs <= max_macs) return bconv_case(r, g, pad);
  }
}

std::vector<uint32_t> sliced(const BConvCase &c) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, out_elems(c.g)), 0xa5a5a5a5u);
  const size_t ss = bl_bconv2d_bitsliced_scratch_size(&c.p);
  EXPECT_GT(ss, 0u);
  EXPECT_EQ(ss % 4, 0u);
  // Filled with garbage: the kernel must not rely on zeroed scratch.
  std::vector<uint32_t> scratch(ss / 4, 0x5a5a5a5au);
  EXPECT_EQ(bl_bconv2d_bitsliced(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
  return out;
}

// Random layers from `make` against the reference, stopping at the first difference.
void check_random(unsigned seed, int cases, int max_c, int64_t max_macs) {
  Rng r(seed);
  for (int t = 0; t < cases; t++) {
    const BConvCase c = make(r, max_c, max_macs);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    expect_same_words(c, bconv_ref_out(c), sliced(c));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace

TEST(BConv2DBitsliced, MatchesReferenceOnRandomFewChannelLayers) { check_random(20261207, 1500, 31, 60000); }

// Channel counts past 32 and up to 5x5x100 taps: more counter planes, every carry-save path
// (groups of eight triples, of four, single triples).
TEST(BConv2DBitsliced, MatchesReferenceOnWideChannelsAndLongFilters) { check_random(99, 150, 100, 200000); }

TEST(BConv2DBitsliced, ExtremeThresholdsGiveConstantBits) {
  // Thresholds beyond every reachable d: all lanes the same bit, in both directions.
  Rng r(3);
  BConvCase c = make(r, 4, 20000);
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
  expect_same_words(c, bconv_ref_out(c), sliced(c));
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
