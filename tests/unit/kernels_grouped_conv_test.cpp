// Grouped convolution (Keras Conv2D(groups=G)) in the three conv2d kernels: binary (s1 in, s1
// weights), binary-weights (f32 in, s1 weights) and float. Each kernel and its reference twin
// against a naive loop written here from the definition — output channel o reads input
// channels [gi*cg, (gi+1)*cg) with gi = o / (out_c / G) — on channels per group 1, 3, 17, 32, 33
// and 64 (unaligned, word-aligned and groups that start in the middle of a word), every padding,
// strides, dilations, float and bit outputs. Integer results are compared exactly; float sums
// too, since the naive loop adds in the documented (kh, kw, ci) order.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

const int kChannelsPerGroup[] = {1, 3, 17, 32, 33, 64};

// A grouped layer geometry: cg input channels per group, og filters per group, small images so
// that border pixels (the padding paths) are frequent.
bl_conv_geom grouped_geom(Rng &r, int cg, int groups, int og, Pad pad) {
  for (;;) {
    bl_conv_geom g{};
    g.in_h = uni(r, 1, 8);
    g.in_w = uni(r, 1, 8);
    g.in_c = cg * groups;
    g.out_c = og * groups;
    g.k_h = uni(r, 1, 4);
    g.k_w = uni(r, 1, 4);
    g.stride_h = uni(r, 1, 2);
    g.stride_w = uni(r, 1, 2);
    g.dil_h = uni(r, 1, 2);
    g.dil_w = uni(r, 1, 2);
    if (tf_geometry(g, pad != Pad::Valid)) return g;
  }
}

struct Layer {
  bl_conv_geom g{};
  int groups = 1;
  Pad pad = Pad::Valid;
  float padv = 0.f;  // binary-weights and float kernels: the border value

  int cg() const { return g.in_c / groups; }
  int og() const { return g.out_c / groups; }
  size_t per() const { return size_t(g.k_h) * g.k_w * cg(); }
  size_t elems() const { return size_t(g.out_h) * g.out_w * g.out_c; }
  std::string str() const {
    return geom_str(g) + " groups " + std::to_string(groups) + " (cg " + std::to_string(cg()) +
           ", og " + std::to_string(og()) + ") pad " + pad_name(pad) + " " + std::to_string(padv);
  }
};

Layer random_layer(Rng &r, int cg, bool binary) {
  Layer l;
  const Pad bin[] = {Pad::Valid, Pad::SameZero, Pad::SamePlus, Pad::SameMinus};
  const Pad real[] = {Pad::Valid, Pad::SameZero, Pad::SameValue};
  l.pad = binary ? bin[uni(r, 0, 3)] : real[uni(r, 0, 2)];
  l.groups = uni(r, 1, 5);
  // og above 32 crosses the binary kernel's 32-channel blocks; 8 is the float kernel's block.
  const int og = coin(r, 0.2) ? uni(r, 33, 40) : uni(r, 1, 12);
  l.g = grouped_geom(r, cg, l.groups, og, l.pad);
  if (l.pad == Pad::SamePlus) l.padv = 1.f;
  if (l.pad == Pad::SameMinus) l.padv = -1.f;
  if (l.pad == Pad::SameValue) l.padv = unif(r, -2.f, 2.f);
  return l;
}

bl_output identity_stage() {
  bl_output o{};
  o.kind = BL_OUT_F32;
  o.act_min = -INFINITY;
  o.act_max = INFINITY;
  return o;
}

// The input value feeding tap (kh, kw) and group channel ci of output pixel (oh, ow), for group
// gi; `inside` tells whether it lies in the image.
struct Tap {
  bool inside;
  size_t idx;  // input element index when inside
};
Tap tap(const Layer &l, int oh, int ow, int kh, int kw, int gi, int ci) {
  const auto &g = l.g;
  const int ih = oh * g.stride_h - g.pad_top + kh * g.dil_h;
  const int iw = ow * g.stride_w - g.pad_left + kw * g.dil_w;
  const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
  return {inside, inside ? (size_t(ih) * g.in_w + iw) * g.in_c + size_t(gi) * l.cg() + ci : 0};
}

// ---- binary ----------------------------------------------------------------------------------
struct BinCase {
  Layer l;
  std::vector<uint32_t> in, w;
  bl_bconv2d_params p{};
};

BinCase binary_case(Rng &r, int cg) {
  BinCase c;
  c.l = random_layer(r, cg, true);
  const auto &g = c.l.g;
  c.in = random_bits(r, size_t(g.in_h) * g.in_w * g.in_c);
  const size_t per = c.l.per();
  c.w.assign(bl_bconv2d_weight_words(g.k_h, g.k_w, c.l.cg(), g.out_c), 0);
  for (int o = 0; o < g.out_c; o++) {
    auto f = random_bits(r, per);
    std::copy(f.begin(), f.end(), c.w.begin() + long(o * BL_WORDS(per)));
  }
  c.p.g = g;
  c.p.pad = bpad_of(c.l.pad);
  c.p.weights = c.w.data();
  c.p.groups = c.l.groups;
  c.p.out = identity_stage();
  return c;
}

// d per output element from the definition: exact zero padding leaves border taps out.
std::vector<int32_t> naive_binary(const BinCase &c) {
  const Layer &l = c.l;
  const auto &g = l.g;
  const size_t wpf = BL_WORDS(l.per());
  std::vector<int32_t> d(l.elems());
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int o = 0; o < g.out_c; o++) {
        const int gi = o / l.og();
        int32_t s = 0;
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++)
            for (int ci = 0; ci < l.cg(); ci++) {
              const Tap t = tap(l, oh, ow, kh, kw, gi, ci);
              if (!t.inside && l.pad == Pad::SameZero) continue;
              const int a = t.inside ? pm(c.in.data(), t.idx) : int(l.padv);
              const int w = pm(c.w.data() + size_t(o) * wpf, (size_t(kh) * g.k_w + kw) * l.cg() + ci);
              s += a * w;
            }
        d[(size_t(oh) * g.out_w + ow) * g.out_c + o] = s;
      }
  return d;
}

std::vector<uint32_t> run_binary(const BinCase &c, bool ref) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, c.l.elems()), ref ? 0xdeadbeefu : 0xa5a5a5a5u);
  if (ref) {
    EXPECT_EQ(bl_bconv2d_ref(&c.p, c.in.data(), out.data()), BL_OK);
  } else {
    const size_t ss = bl_bconv2d_scratch_size(&c.p);
    EXPECT_GT(ss, 0u);
    std::vector<uint32_t> scratch(ss / 4 + 1, 0x5a5a5a5au);
    EXPECT_EQ(bl_bconv2d(&c.p, c.in.data(), out.data(), scratch.data()), BL_OK);
  }
  return out;
}

// Both binary kernels against the naive loop: float output (d itself, then through a random
// affine stage) and bit output through random thresholds and flips.
void check_binary(Rng &r, BinCase &c) {
  const auto d = naive_binary(c);
  const int32_t n = int32_t(c.l.per());
  for (bool ref : {true, false}) {
    SCOPED_TRACE(ref ? "reference" : "optimized");
    c.p.out = identity_stage();
    const auto f = run_binary(c, ref);
    for (size_t i = 0; i < d.size(); i++) BL_ASSERT_EQ(u2f(f[i]), float(d[i])) << "element " << i;
  }
  OutStage fs, bs;
  fs.init(r, c.l.g.out_c, BL_OUT_F32, n, true);
  c.p.out = fs.o;
  const auto fr = run_binary(c, true), fo = run_binary(c, false);
  ASSERT_EQ(first_diff(fr, fo), -1) << "float stage";
  for (size_t i = 0; i < d.size(); i++)
    BL_ASSERT_EQ(fr[i], f2u(stage_f32(fs.o, int32_t(i % size_t(c.l.g.out_c)), float(d[i])))) << "element " << i;
  bs.init(r, c.l.g.out_c, BL_OUT_BITS, n, true);
  c.p.out = bs.o;
  const auto br = run_binary(c, true), bo = run_binary(c, false);
  ASSERT_EQ(first_diff(br, bo), -1) << "bit stage " << bs.desc;
  for (size_t i = 0; i < d.size(); i++)
    BL_ASSERT_EQ(get_bit(br.data(), i), stage_int_bit(bs.o, int32_t(i % size_t(c.l.g.out_c)), d[i]))
        << "element " << i;
  const size_t used = d.size() % 32;
  if (used) {
    ASSERT_EQ(bo.back() >> used, 0u) << "spare output bits must be 0";
  }
}

}  // namespace

TEST(GroupedBConv2D, BothKernelsEqualTheDefinitionForEveryChannelsPerGroup) {
  for (int cg : kChannelsPerGroup) {
    Rng r(1000u + unsigned(cg));
    for (int t = 0; t < 60; t++) {
      BinCase c = binary_case(r, cg);
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.l.str());
      check_binary(r, c);
      if (HasFatalFailure()) return;
    }
  }
}

// BinaryFaceNet's shape: 3x3 QuantConv2D(groups=4) on 128 channels (32 per group, the aligned
// path), exact zero and +-1 padding, at the image border and inside.
TEST(GroupedBConv2D, BinaryFaceNetLayerAlignedGroups) {
  Rng r(4);
  for (Pad pad : {Pad::SameZero, Pad::SamePlus, Pad::SameMinus, Pad::Valid}) {
    BinCase c;
    c.l.pad = pad;
    c.l.groups = 4;
    c.l.padv = pad == Pad::SamePlus ? 1.f : pad == Pad::SameMinus ? -1.f : 0.f;
    auto &g = c.l.g;
    g.in_h = 9; g.in_w = 7; g.in_c = 128; g.out_c = 128;
    g.k_h = g.k_w = 3; g.stride_h = g.stride_w = 1; g.dil_h = g.dil_w = 1;
    ASSERT_TRUE(tf_geometry(g, pad != Pad::Valid));
    c.in = random_bits(r, size_t(g.in_h) * g.in_w * g.in_c);
    c.w.assign(bl_bconv2d_weight_words(3, 3, 32, 128), 0);
    ASSERT_EQ(c.w.size(), 128u * 9u);  // 3x3x32 bits: 9 words per filter, not 36
    for (auto &x : c.w) x = uint32_t(r());
    c.p.g = g; c.p.pad = bpad_of(pad); c.p.weights = c.w.data(); c.p.groups = 4;
    SCOPED_TRACE(c.l.str());
    check_binary(r, c);
    if (HasFatalFailure()) return;
  }
}

// groups = 1 and groups = 0 (zero-initialised struct) are the ungrouped kernel.
TEST(GroupedBConv2D, GroupsZeroAndOneAreUngrouped) {
  Rng r(6);
  for (int t = 0; t < 40; t++) {
    BinCase u = binary_case(r, uni(r, 1, 70));
    // The same geometry as one group over all channels: every filter reads every channel.
    u.l.groups = 1;
    const size_t per = u.l.per(), wpf = BL_WORDS(per);
    u.w.assign(size_t(u.l.g.out_c) * wpf, 0u);
    for (int o = 0; o < u.l.g.out_c; o++) {
      auto f = random_bits(r, per);
      std::copy(f.begin(), f.end(), u.w.begin() + long(size_t(o) * wpf));
    }
    u.p.weights = u.w.data();
    u.p.groups = 1;
    const auto a = run_binary(u, false);
    u.p.groups = 0;
    const auto b = run_binary(u, false);
    SCOPED_TRACE(u.l.str());
    ASSERT_EQ(first_diff(a, b), -1);
    const auto d = naive_binary(u);
    for (size_t i = 0; i < d.size(); i++) BL_ASSERT_EQ(u2f(a[i]), float(d[i])) << "element " << i;
  }
}

TEST(GroupedBConv2D, GroupsThatDoNotDivideTheChannelsAreRejected) {
  // Sized for the valid call below: 6 filters of one word, 6 float outputs.
  uint32_t w[8] = {0}, in[4] = {0}, out[8];
  bl_bconv2d_params p{};
  p.g.in_h = p.g.in_w = p.g.out_h = p.g.out_w = 1;
  p.g.in_c = 8; p.g.out_c = 6;
  p.g.k_h = p.g.k_w = p.g.stride_h = p.g.stride_w = p.g.dil_h = p.g.dil_w = 1;
  p.weights = w;
  p.out = identity_stage();
  p.groups = 2;
  std::vector<uint32_t> scratch_v(bl_bconv2d_scratch_size(&p) / 4 + 16);
  uint32_t* scratch = scratch_v.data();
  EXPECT_EQ(bl_bconv2d(&p, in, out, scratch), BL_OK);
  EXPECT_GT(bl_bconv2d_scratch_size(&p), 0u);
  for (int32_t bad : {3, 4, -1, 16}) {
    p.groups = bad;
    SCOPED_TRACE(bad);
    EXPECT_EQ(bl_bconv2d(&p, in, out, scratch), BL_ERR_PARAM);
    EXPECT_EQ(bl_bconv2d_ref(&p, in, out), BL_ERR_PARAM);
    EXPECT_EQ(bl_bconv2d_scratch_size(&p), 0u);
  }
  float fin[8] = {0}, fw[48] = {0}, fout[6];
  bl_bwconv2d_params bp{};
  bp.g = p.g; bp.weights = w; bp.out = identity_stage(); bp.groups = 3;
  EXPECT_EQ(bl_bwconv2d(&bp, fin, fout, scratch), BL_ERR_PARAM);
  EXPECT_EQ(bl_bwconv2d_ref(&bp, fin, fout), BL_ERR_PARAM);
  EXPECT_EQ(bl_bwconv2d_scratch_size(&bp), 0u);
  bl_conv2d_params fp{};
  fp.g = p.g; fp.weights = fw; fp.out = identity_stage(); fp.groups = -2;
  EXPECT_EQ(bl_conv2d(&fp, fin, fout), BL_ERR_PARAM);
  EXPECT_EQ(bl_conv2d_ref(&fp, fin, fout), BL_ERR_PARAM);
  fp.groups = 2;
  EXPECT_EQ(bl_conv2d(&fp, fin, fout), BL_OK);
}

// x86-64 builds pick the POPCNT, AVX2 or AVX-512 variant at run time; each one this CPU runs is
// checked on grouped layers (absent from the portable build, which runs the Cortex-M code).
extern "C" int bl_i_x86_max_level __attribute__((weak));

TEST(GroupedBConv2D, EveryX86DispatchVariantEqualsTheDefinition) {
  if (&bl_i_x86_max_level == nullptr) GTEST_SKIP() << "no x86 dispatch in this build";
  const int saved = bl_i_x86_max_level;
  for (int level = 0; level <= 3; level++) {
    bl_i_x86_max_level = level;
    SCOPED_TRACE("x86 level " + std::to_string(level));
    for (int cg : kChannelsPerGroup) {
      Rng r(2000u + unsigned(cg) + 100u * unsigned(level));
      for (int t = 0; t < 15; t++) {
        BinCase c = binary_case(r, cg);
        SCOPED_TRACE("case " + std::to_string(t) + ": " + c.l.str());
        check_binary(r, c);
        if (HasFatalFailure()) break;
      }
      if (HasFatalFailure()) break;
    }
    if (HasFatalFailure()) break;
  }
  bl_i_x86_max_level = saved;
}

// ---- binary weights and float ----------------------------------------------------------------
namespace {

struct RealCase {
  Layer l;
  std::vector<float> in, fw;  // fw: float kernel HWIO [kh][kw][cg][out_c]
  std::vector<uint32_t> bw;   // binary-weights kernel, patch packing per filter
};

RealCase real_case(Rng &r, int cg) {
  RealCase c;
  c.l = random_layer(r, cg, false);
  const auto &g = c.l.g;
  c.in = random_floats(r, size_t(g.in_h) * g.in_w * g.in_c);
  // Exact +-1 and 0 inputs make exact ties in the sums (the sign of the output is the result).
  for (auto &x : c.in) {
    const int k = uni(r, 0, 9);
    if (k == 0) x = 0.f;
    else if (k == 1) x = coin(r) ? 1.f : -1.f;
  }
  c.fw = random_floats(r, c.l.per() * size_t(g.out_c), -1.f, 1.f);
  const size_t per = c.l.per(), wpf = BL_WORDS(per);
  c.bw.assign(size_t(g.out_c) * wpf, 0u);
  for (int o = 0; o < g.out_c; o++) {
    auto f = random_bits(r, per);
    std::copy(f.begin(), f.end(), c.bw.begin() + long(size_t(o) * wpf));
  }
  return c;
}

// acc per output element from the definition: float weights add taps in (kh, kw, ci) order from
// 0.0f, binary weights in quads of taps (bl_kernels.h).
std::vector<float> naive_real(const RealCase &c, bool binary_weights) {
  const Layer &l = c.l;
  const auto &g = l.g;
  const size_t wpf = BL_WORDS(l.per());
  std::vector<float> y(l.elems());
  for (int oh = 0; oh < g.out_h; oh++)
    for (int ow = 0; ow < g.out_w; ow++)
      for (int o = 0; o < g.out_c; o++) {
        const int gi = o / l.og();
        float acc = 0.f;
        std::vector<float> v;  // binary weights: the signed taps, summed in quads below
        for (int kh = 0; kh < g.k_h; kh++)
          for (int kw = 0; kw < g.k_w; kw++)
            for (int ci = 0; ci < l.cg(); ci++) {
              const Tap t = tap(l, oh, ow, kh, kw, gi, ci);
              const float x = t.inside ? c.in[t.idx] : l.padv;
              const size_t k = (size_t(kh) * g.k_w + kw) * l.cg() + ci;
              if (binary_weights)
                v.push_back(get_bit(c.bw.data() + size_t(o) * wpf, k) ? -x : x);
              else
                acc += x * c.fw[k * g.out_c + o];
            }
        if (binary_weights) acc = quad_sum(v);  // the group's taps in quads
        y[(size_t(oh) * g.out_w + ow) * g.out_c + o] = acc;
      }
  return y;
}

std::vector<uint32_t> run_real(const RealCase &c, bool binary_weights, bool ref, const bl_output &o) {
  std::vector<uint32_t> out(out_words(o.kind, c.l.elems()), ref ? 0xdeadbeefu : 0xa5a5a5a5u);
  if (binary_weights) {
    bl_bwconv2d_params p{};
    p.g = c.l.g; p.pad_value = c.l.padv; p.weights = c.bw.data(); p.out = o; p.groups = c.l.groups;
    if (ref) {
      EXPECT_EQ(bl_bwconv2d_ref(&p, c.in.data(), out.data()), BL_OK);
    } else {
      const size_t ss = bl_bwconv2d_scratch_size(&p);
      // one group's taps for 8 pixels, its quads' sign-pattern table, the sums of 8 pixels
      const size_t per = c.l.per();
      // and three words per output channel for the bit output's comparison
      EXPECT_EQ(ss, (8 * per + 128 * ((per + 3) / 4) + 8 * size_t(c.l.g.out_c)) * sizeof(float) + 12 * size_t(c.l.g.out_c));
      std::vector<uint32_t> scratch(ss / 4 + 1);
      EXPECT_EQ(bl_bwconv2d(&p, c.in.data(), out.data(), scratch.data()), BL_OK);
    }
  } else {
    bl_conv2d_params p{};
    p.g = c.l.g; p.pad_value = c.l.padv; p.weights = c.fw.data(); p.out = o; p.groups = c.l.groups;
    EXPECT_EQ(ref ? bl_conv2d_ref(&p, c.in.data(), out.data()) : bl_conv2d(&p, c.in.data(), out.data()), BL_OK);
  }
  return out;
}

void check_real(Rng &r, const RealCase &c, bool binary_weights) {
  const auto y = naive_real(c, binary_weights);
  for (bool ref : {true, false}) {
    SCOPED_TRACE(ref ? "reference" : "optimized");
    const auto f = run_real(c, binary_weights, ref, identity_stage());
    for (size_t i = 0; i < y.size(); i++) BL_ASSERT_EQ(f[i], f2u(y[i])) << "element " << i;
  }
  OutStage st;
  st.init(r, c.l.g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, int32_t(c.l.per()), false);
  const auto a = run_real(c, binary_weights, true, st.o), b = run_real(c, binary_weights, false, st.o);
  ASSERT_EQ(first_diff(a, b), -1) << st.desc;
  for (size_t i = 0; i < y.size(); i++) {
    const float v = stage_f32(st.o, int32_t(i % size_t(c.l.g.out_c)), y[i]);
    if (st.o.kind == BL_OUT_BITS)
      BL_ASSERT_EQ(get_bit(a.data(), i), v < 0.f ? 1 : 0) << "element " << i;
    else
      BL_ASSERT_EQ(a[i], f2u(v)) << "element " << i;
  }
}

}  // namespace

TEST(GroupedBWConv2D, BothKernelsEqualTheDefinitionForEveryChannelsPerGroup) {
  for (int cg : kChannelsPerGroup) {
    Rng r(3000u + unsigned(cg));
    for (int t = 0; t < 40; t++) {
      const RealCase c = real_case(r, cg);
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.l.str());
      check_real(r, c, true);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(GroupedConv2D, BothFloatKernelsEqualTheDefinitionForEveryChannelsPerGroup) {
  for (int cg : kChannelsPerGroup) {
    Rng r(4000u + unsigned(cg));
    for (int t = 0; t < 40; t++) {
      const RealCase c = real_case(r, cg);
      SCOPED_TRACE("case " + std::to_string(t) + ": " + c.l.str());
      check_real(r, c, false);
      if (HasFatalFailure()) return;
    }
  }
}
