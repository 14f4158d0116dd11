// Shared helpers for the kernel tests: seeded random tensors, random layer geometries and output
// stages, a printable description of each configuration, and bit-exact comparison helpers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bitlens/bl_kernels.h"

// ASSERT_EQ for per-element loops: compares first and only builds the gtest message on a
// mismatch (checking every element through ASSERT_EQ is slow in Debug+ASan builds).
#define BL_ASSERT_EQ(a, b) \
  if ((a) == (b)) {        \
  } else                   \
    ASSERT_EQ(a, b)

namespace bltest {

using Rng = std::mt19937;

inline int uni(Rng &r, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); }
inline float unif(Rng &r, float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(r); }
inline bool coin(Rng &r, double p = 0.5) { return std::bernoulli_distribution(p)(r); }

// n random bits packed LSB first, spare bits of the last word 0.
inline std::vector<uint32_t> random_bits(Rng &r, size_t n) {
  std::vector<uint32_t> v(BL_WORDS(n));
  for (auto &w : v) w = static_cast<uint32_t>(r());
  if (n % 32) v.back() &= (1u << (n % 32)) - 1u;
  return v;
}

inline int get_bit(const uint32_t *s, size_t i) { return (s[i / 32] >> (i % 32)) & 1u; }
inline void set_bit(std::vector<uint32_t> &s, size_t i, int b) {
  if (b) s[i / 32] |= 1u << (i % 32); else s[i / 32] &= ~(1u << (i % 32));
}
// ±1 value of bit i.
inline int pm(const uint32_t *s, size_t i) { return get_bit(s, i) ? -1 : 1; }

inline std::vector<float> random_floats(Rng &r, size_t n, float lo = -2.f, float hi = 2.f) {
  std::vector<float> v(n);
  for (auto &x : v) x = unif(r, lo, hi);
  return v;
}

enum class Pad { Valid, SameZero, SamePlus, SameMinus, SameValue };

inline const char *pad_name(Pad p) {
  switch (p) {
    case Pad::Valid: return "valid";
    case Pad::SameZero: return "same/0";
    case Pad::SamePlus: return "same/+1";
    case Pad::SameMinus: return "same/-1";
    case Pad::SameValue: return "same/value";
  }
  return "?";
}

inline bl_bpad bpad_of(Pad p) {
  if (p == Pad::SamePlus) return BL_PAD_PLUS_ONE;
  if (p == Pad::SameMinus) return BL_PAD_MINUS_ONE;
  return BL_PAD_ZERO;  // valid padding never pads; zero is as good as anything there
}

// TF padding arithmetic: fills out_*, pad_top/left. Returns false if "valid" leaves no output.
inline bool tf_geometry(bl_conv_geom &g, bool same) {
  auto axis = [&](int32_t in, int32_t k, int32_t s, int32_t d, int32_t &out, int32_t &before) {
    const int32_t eff = (k - 1) * d + 1;
    if (same) {
      out = (in + s - 1) / s;
      const int32_t total = std::max<int32_t>((out - 1) * s + eff - in, 0);
      before = total / 2;
    } else {
      if (in < eff) return false;
      out = (in - eff) / s + 1;
      before = 0;
    }
    return true;
  };
  return axis(g.in_h, g.k_h, g.stride_h, g.dil_h, g.out_h, g.pad_top) &&
         axis(g.in_w, g.k_w, g.stride_w, g.dil_w, g.out_w, g.pad_left);
}

inline std::string geom_str(const bl_conv_geom &g) {
  std::ostringstream s;
  s << "in " << g.in_h << "x" << g.in_w << "x" << g.in_c << " out " << g.out_h << "x" << g.out_w
    << "x" << g.out_c << " k " << g.k_h << "x" << g.k_w << " stride " << g.stride_h << ","
    << g.stride_w << " dil " << g.dil_h << "," << g.dil_w << " pad_top " << g.pad_top
    << " pad_left " << g.pad_left;
  return s.str();
}

// Random conv geometry in the ranges of the requirements: spatial 1-20, in_c 1-100 (a quarter of
// the draws a multiple of 32, the aligned fast path), out_c 1-70, k 1-5, stride 1-3, dilation
// 1-2. Draws again while the layer would cost more than max_macs (keeps the suite fast).
inline bl_conv_geom random_geom(Rng &r, Pad pad, int64_t max_macs, int32_t mult = 0) {
  for (;;) {
    bl_conv_geom g{};
    g.in_h = uni(r, 1, 20);
    g.in_w = uni(r, 1, 20);
    g.in_c = coin(r, 0.25) ? 32 * uni(r, 1, 3) : uni(r, 1, 100);
    g.k_h = uni(r, 1, 5);
    g.k_w = uni(r, 1, 5);
    g.stride_h = uni(r, 1, 3);
    g.stride_w = uni(r, 1, 3);
    g.dil_h = uni(r, 1, 2);
    g.dil_w = uni(r, 1, 2);
    if (mult > 0) g.out_c = g.in_c * mult; else g.out_c = uni(r, 1, 70);
    if (!tf_geometry(g, pad != Pad::Valid)) continue;
    const int64_t macs = int64_t(g.out_h) * g.out_w * g.out_c * g.k_h * g.k_w *
                         (mult > 0 ? 1 : g.in_c);
    if (macs > max_macs) continue;
    return g;
  }
}

// A random output stage for `c` channels; storage lives in this object.
struct OutStage {
  std::vector<float> mul, add, mul2, add2;
  std::vector<int32_t> thr;
  std::vector<uint32_t> flip;
  bl_output o{};
  std::string desc;

  // integer: thresholds in [-n-2, n+2] (n = |d| bound) for integer kernels.
  void init(Rng &r, int32_t c, bl_out_kind kind, int32_t n, bool integer) {
    o = bl_output{};
    o.kind = kind;
    std::ostringstream s;
    s << (kind == BL_OUT_BITS ? "bits" : "f32");
    const int mode = uni(r, 0, 3);
    if (mode != 0 || !integer || kind == BL_OUT_F32) {
      if (coin(r, 0.8)) {
        mul.resize(c);
        for (auto &m : mul) {
          const int t = uni(r, 0, 9);
          m = t == 0 ? 0.f : t < 3 ? -unif(r, 0.01f, 2.f) : unif(r, 0.01f, 2.f);
        }
        o.mul = mul.data();
        s << " mul";
      }
      if (coin(r, 0.8)) {
        add.resize(c);
        for (auto &a : add) a = unif(r, -float(n) - 1.f, float(n) + 1.f);
        o.add = add.data();
        s << " add";
      }
    }
    o.act_min = -std::numeric_limits<float>::infinity();
    o.act_max = std::numeric_limits<float>::infinity();
    switch (uni(r, 0, 3)) {
      case 1: o.act_min = 0.f; s << " relu"; break;
      case 2: o.act_min = 0.f; o.act_max = 6.f; s << " relu6"; break;
      case 3: o.act_min = -1.f; o.act_max = 1.f; s << " hardtanh"; break;
      default: break;
    }
    // A second affine step (a bias then a BatchNorm), and a clamp before it (ReLU then
    // BatchNorm), on a quarter of the stages.
    if (coin(r, 0.25)) {
      mul2.resize(c);
      add2.resize(c);
      for (auto &m : mul2) m = (coin(r, 0.3) ? -1.f : 1.f) * unif(r, 0.05f, 3.f);
      for (auto &a : add2) a = unif(r, -3.f, 3.f);
      o.mul2 = mul2.data();
      o.add2 = coin(r, 0.8) ? add2.data() : nullptr;
      s << " step2";
      if (coin(r)) {
        o.mid_clamp = 1;
        o.mid_min = coin(r) ? 0.f : -1.f;
        o.mid_max = coin(r) ? std::numeric_limits<float>::infinity() : 1.f;
        s << " midclamp";
      }
    }
    if (kind == BL_OUT_BITS && integer) {
      thr.resize(c);
      for (auto &t : thr) t = uni(r, -n - 2, n + 2);
      o.threshold = thr.data();
      if (coin(r, 0.7)) {
        flip = random_bits(r, size_t(c));
        o.flip = flip.data();
        s << " flip";
      }
      s << " thresholds";
    }
    desc = s.str();
  }
};

// Random binary conv filters in the kernels' patch packing: filter o's k_h*k_w*in_c bits at
// o * BL_WORDS(k_h*k_w*in_c), spare bits 0.
inline std::vector<uint32_t> random_bconv_weights(Rng &r, const bl_conv_geom &g) {
  const size_t per = size_t(g.k_h) * g.k_w * g.in_c;
  std::vector<uint32_t> w(bl_bconv2d_weight_words(g.k_h, g.k_w, g.in_c, g.out_c), 0);
  for (int32_t o = 0; o < g.out_c; o++) {
    auto f = random_bits(r, per);
    std::copy(f.begin(), f.end(), w.begin() + long(size_t(o) * BL_WORDS(per)));
  }
  return w;
}

// A binary-weights conv's sum of the signed taps v, in the documented order (bl_kernels.h):
// groups of four, (v0 + v1) + (v2 + v3), a shorter last group without the missing terms, the
// group sums added in order from 0.
inline float quad_sum(const std::vector<float> &v) {
  float s = 0.f;
  for (size_t t = 0; t < v.size(); t += 4) {
    const size_t n = std::min<size_t>(4, v.size() - t);
    float q = v[t];
    if (n >= 2) q = v[t] + v[t + 1];
    if (n == 3) q = q + v[t + 2];
    if (n == 4) q = q + (v[t + 2] + v[t + 3]);
    s += q;
  }
  return s;
}

// Output element count -> buffer words (bits or floats), and bit-exact comparison.
inline size_t out_words(bl_out_kind k, size_t elems) { return k == BL_OUT_BITS ? BL_WORDS(elems) : elems; }

// Index of the first differing 32-bit word, or -1.
inline long first_diff(const std::vector<uint32_t> &a, const std::vector<uint32_t> &b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); i++)
    if (a[i] != b[i]) return long(i);
  return -1;
}

inline uint32_t f2u(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float u2f(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// One binary conv2d layer with random input bits, filters and output stage on geometry g: the
// case both binary conv kernels (patch and bit-sliced) are tested on.
struct BConvCase {
  bl_conv_geom g{};
  Pad pad = Pad::Valid;
  std::vector<uint32_t> in, w;
  OutStage st;
  bl_bconv2d_params p{};

  std::string str() const { return geom_str(g) + " pad " + pad_name(pad) + " out " + st.desc; }
};

inline BConvCase bconv_case(Rng &r, const bl_conv_geom &g, Pad pad) {
  BConvCase c;
  c.pad = pad;
  c.g = g;
  c.in = random_bits(r, size_t(g.in_h) * g.in_w * g.in_c);
  c.w = random_bconv_weights(r, g);
  c.st.init(r, g.out_c, coin(r) ? BL_OUT_BITS : BL_OUT_F32, g.k_h * g.k_w * g.in_c, true);
  c.p.g = g;
  c.p.pad = bpad_of(pad);
  c.p.weights = c.w.data();
  c.p.out = c.st.o;
  return c;
}

inline size_t out_elems(const bl_conv_geom &g) { return size_t(g.out_h) * g.out_w * g.out_c; }

// The reference kernel's output of a case (buffer pre-filled so unwritten words show).
inline std::vector<uint32_t> bconv_ref_out(const BConvCase &c) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, out_elems(c.g)), 0xdeadbeefu);
  EXPECT_EQ(bl_bconv2d_ref(&c.p, c.in.data(), out.data()), BL_OK);
  return out;
}

// Reference and optimized outputs of a case are the same words.
inline void expect_same_words(const BConvCase &c, const std::vector<uint32_t> &ref, const std::vector<uint32_t> &opt) {
  const long i = first_diff(ref, opt);
  ASSERT_EQ(i, -1) << "first differing word " << i << " (ref " << std::hex << ref[size_t(i)] << " opt "
                   << opt[size_t(i)] << std::dec << ") for " << c.str();
}

// Output stage applied by the tests themselves (independent of the library): float value y.
inline float stage_f32(const bl_output &o, int32_t c, float v) {
  float y = v * (o.mul ? o.mul[c] : 1.0f);
  y = y + (o.add ? o.add[c] : 0.0f);
  if (o.mid_clamp) {
    if (y < o.mid_min) y = o.mid_min;
    if (y > o.mid_max) y = o.mid_max;
  }
  if (o.mul2 || o.add2) {
    y = y * (o.mul2 ? o.mul2[c] : 1.0f);
    y = y + (o.add2 ? o.add2[c] : 0.0f);
  }
  if (y < o.act_min) y = o.act_min;
  if (y > o.act_max) y = o.act_max;
  return y;
}
inline int stage_int_bit(const bl_output &o, int32_t c, int32_t d) {
  const bool f = o.flip && get_bit(o.flip, size_t(c));
  return f ? d > o.threshold[c] : d < o.threshold[c];
}

}  // namespace bltest
