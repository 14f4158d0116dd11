// bl_expf / bl_tanhf: accuracy against double precision over sweeps of tens of millions of
// floats (every float of the subnormal-result and overflow ranges), special values, and a
// checksum over a fixed input set that the Cortex-M firmware (kernels/bench/selftest_main.c,
// ctest kernels_qemu_selftest) must reproduce bit for bit. Softmax, sigmoid and tanh are built
// on them, bit for bit.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdio>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Error of y in units of the float ulp at the exact value v (+inf counts as 2^128, the next
// power of two after FLT_MAX, so a faithful overflow has error < 1).
double ulp_error(float y, double v) {
  const double top = std::ldexp(1.0, 128);
  if (std::isinf(y) && y > 0 && v >= top) return 0.0;  // the exact value is past FLT_MAX + 1 ulp
  const double yy = std::isinf(y) ? (y > 0 ? top : -top) : double(y);
  const double a = std::fabs(v);
  double ulp = std::ldexp(1.0, -149);
  if (a >= std::ldexp(1.0, -126)) {
    int e;
    std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
    ulp = std::ldexp(1.0, std::min(e, 128) - 24);
  }
  return std::fabs(yy - v) / ulp;
}

struct Stats {
  double max_ulp = 0;
  float worst = 0;
  uint64_t n = 0, rounded = 0;
  void add(float x, float y, double v) {
    n++;
    if (y == float(v)) rounded++;
    const double e = ulp_error(y, v);
    if (e > max_ulp) { max_ulp = e; worst = x; }
  }
  std::string text() const {
    char b[200];
    std::snprintf(b, sizeof b, "%llu points, max %.4f ulp at %a, %.3f%% equal to float(double result)",
                  (unsigned long long)n, max_ulp, double(worst), 100.0 * double(rounded) / double(n));
    return b;
  }
};

// Keep in sync with kernels/bench/selftest_main.c: FNV-1a over the result bits of
// 4096 evenly spaced inputs in [-95.7, 16.3] and 4096 scattered bit patterns with |x| in
// [2^-31, 128) (exercising the subnormal-result and overflow paths), then 4096 tanh inputs.
uint32_t fnv(uint32_t h, float y) { return (h ^ to_bits(y)) * 16777619u; }
float scattered(uint32_t i) {
  const uint32_t u = i * 0x9e3779b9u;
  return from_bits((u & 0x80000000u) | (0x30000000u + (u & 0x7fffffffu) % 0x13000000u));
}
uint32_t expf_checksum() {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < 4096; i++) h = fnv(h, bl_expf(float(int32_t(i) - 3500) * 0.02734375f));
  for (uint32_t i = 0; i < 4096; i++) h = fnv(h, bl_expf(scattered(i)));
  return h;
}
uint32_t tanhf_checksum() {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < 4096; i++) h = fnv(h, bl_tanhf(float(int32_t(i) - 2048) * 0.005859375f));
  return h;
}

}  // namespace

TEST(Expf, WithinOneUlpOfExactOverStridedSweepOfAllFloats) {
  Stats s;
  for (uint64_t b = 0; b <= 0xffffffffu; b += 251) {
    const float x = from_bits(uint32_t(b));
    if (std::isnan(x)) continue;
    s.add(x, bl_expf(x), std::exp(double(x)));
  }
  std::printf("bl_expf, every 251st float: %s\n", s.text().c_str());
  EXPECT_GT(s.n, 17000000u);
  EXPECT_LT(s.max_ulp, 1.0) << s.text();
  EXPECT_GT(double(s.rounded), 0.99 * double(s.n)) << s.text();
}

TEST(Expf, NormalResultsWithinHalfUlpPlusSmallMargin) {
  // Every float in [1, 2) and [-1, -0.5): the reduction and table paths for all 32 table
  // entries; the analysis bounds the error by 0.5 + 1/16 ulp.
  Stats s;
  for (uint32_t b = 0x3f800000u; b < 0x40000000u; b++) s.add(from_bits(b), bl_expf(from_bits(b)), std::exp(double(from_bits(b))));
  for (uint32_t b = 0xbf000000u; b < 0xbf800000u; b++) s.add(from_bits(b), bl_expf(from_bits(b)), std::exp(double(from_bits(b))));
  std::printf("bl_expf on [1, 2) and [-1, -0.5): %s\n", s.text().c_str());
  EXPECT_LT(s.max_ulp, 0.5625) << s.text();
}

TEST(Expf, EveryFloatOfSubnormalAndOverflowRangesAndMonotonic) {
  // x in [-104, -87.3]: results subnormal (integer rounding path) or zero; x in [88, 89]: the
  // k = 128 path and overflow. Monotonic as x grows.
  Stats sub, over;
  float prev = 0.f;
  for (uint32_t b = 0xc2d00000u; b >= 0xc2ae0000u; b--) {
    const float x = from_bits(b), y = bl_expf(x);
    sub.add(x, y, std::exp(double(x)));
    ASSERT_GE(y, prev) << "not monotonic at " << x;
    prev = y;
  }
  prev = 0.f;
  for (uint32_t b = 0x42b00000u; b <= 0x42b20000u; b++) {
    const float x = from_bits(b), y = bl_expf(x);
    over.add(x, y, std::exp(double(x)));
    ASSERT_GE(y, prev) << "not monotonic at " << x;
    prev = y;
  }
  std::printf("bl_expf, subnormal range: %s\nbl_expf, overflow range: %s\n", sub.text().c_str(), over.text().c_str());
  EXPECT_LT(sub.max_ulp, 1.0) << sub.text();
  EXPECT_LT(over.max_ulp, 1.0) << over.text();
}

TEST(Expf, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(bl_expf(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(to_bits(bl_expf(from_bits(0x7fc12345u))), 0x7fc12345u);  // NaN returned unchanged
  EXPECT_EQ(bl_expf(inf), inf);
  EXPECT_EQ(to_bits(bl_expf(-inf)), 0u);  // +0
  EXPECT_EQ(bl_expf(0.f), 1.f);
  EXPECT_EQ(bl_expf(-0.f), 1.f);
  EXPECT_EQ(bl_expf(from_bits(1u)), 1.f);            // smallest subnormal input
  EXPECT_EQ(bl_expf(-from_bits(1u)), 1.f);
  EXPECT_EQ(bl_expf(0x1p-26f), 1.f);
  EXPECT_EQ(bl_expf(-0x1p-25f), 1.f);
  EXPECT_EQ(bl_expf(-0x1.000002p-25f), 0x1.fffffep-1f);
  EXPECT_EQ(bl_expf(0x1.000002p-24f), 0x1.000002p+0f);
  EXPECT_EQ(bl_expf(1.f), 0x1.5bf0a8p+1f);           // e, correctly rounded
  EXPECT_EQ(bl_expf(-1.f), 0x1.78b564p-2f);
  EXPECT_EQ(bl_expf(10.f), 0x1.5829dcp+14f);
  // Overflow threshold: ln(FLT_MAX) = 88.72283906; the largest float below stays finite.
  EXPECT_EQ(bl_expf(0x1.62e42ep+6f), 0x1.ffff08p+127f);
  EXPECT_EQ(bl_expf(0x1.62e430p+6f), inf);
  EXPECT_EQ(bl_expf(1000.f), inf);
  EXPECT_EQ(bl_expf(FLT_MAX), inf);
  // Normal/subnormal boundary and the bottom (expected values: float(double exp)):
  // exp(-87.33654475) = 2^-126; ln(2^-150) = -103.9721 (below: +0).
  EXPECT_EQ(bl_expf(-0x1.5d589ep+6f), 0x1.00004cp-126f);
  EXPECT_EQ(bl_expf(-0x1.5d58a0p+6f), 0x1.ffff98p-127f);
  EXPECT_EQ(bl_expf(-0x1.5d58a2p+6f), 0x1.fffe98p-127f);
  EXPECT_EQ(bl_expf(-0x1.9d1da0p+6f), 0x1p-149f);
  EXPECT_EQ(bl_expf(-0x1.9fe368p+6f), 0x1p-149f);
  EXPECT_EQ(bl_expf(-0x1.9fe36ap+6f), 0.f);
  EXPECT_EQ(to_bits(bl_expf(-1000.f)), 0u);
  EXPECT_EQ(to_bits(bl_expf(-FLT_MAX)), 0u);
}

// The firmware self-test checks these same two numbers on Cortex-M4 and M7; a change to
// bl_expf/bl_tanhf that changes any result bit must update both places.
TEST(Expf, ChecksumMatchesTheFirmwareSelftest) {
  std::printf("checksums: bl_expf 0x%08x bl_tanhf 0x%08x\n", expf_checksum(), tanhf_checksum());
  EXPECT_EQ(expf_checksum(), 0x6d179a6du);
  EXPECT_EQ(tanhf_checksum(), 0x0fd351e5u);
}

TEST(Tanhf, FewUlpOverStridedSweepOddAndSaturating) {
  Stats s;
  double max_abs = 0;
  for (uint64_t b = 0; b < 0x7f800000u; b += 61) {
    const float x = from_bits(uint32_t(b)), y = bl_tanhf(x);
    const double v = std::tanh(double(x));
    s.add(x, y, v);
    max_abs = std::max(max_abs, std::fabs(double(y) - v));
    BL_ASSERT_EQ(to_bits(bl_tanhf(-x)), to_bits(y) ^ 0x80000000u) << "odd symmetry at " << x;
  }
  std::printf("bl_tanhf, every 61st positive float: %s, max abs error %.3g\n", s.text().c_str(), max_abs);
  EXPECT_LT(s.max_ulp, 4.0) << s.text();
  EXPECT_LT(max_abs, 2e-7);
  EXPECT_EQ(bl_tanhf(9.1f), 1.f);
  EXPECT_EQ(bl_tanhf(-std::numeric_limits<float>::infinity()), -1.f);
  EXPECT_EQ(bl_tanhf(0x1p-20f), 0x1p-20f);
  EXPECT_EQ(bl_tanhf(from_bits(3u)), from_bits(3u));  // subnormal input returned as is
  EXPECT_EQ(to_bits(bl_tanhf(-0.f)), 0x80000000u);
  EXPECT_EQ(to_bits(bl_tanhf(from_bits(0xffc00001u))), 0xffc00001u);
}

TEST(Expf, SoftmaxSigmoidAndTanhKernelsUseIt) {
  Rng r(7);
  const int32_t c = 10;
  const auto x = random_floats(r, 10 * size_t(c), -20.f, 20.f);
  std::vector<float> y(x.size()), z(x.size());
  ASSERT_EQ(bl_softmax_f32(x.size(), c, x.data(), y.data()), BL_OK);
  for (size_t row = 0; row < x.size(); row += size_t(c)) {
    float m = x[row], s = 0.f;
    for (int k = 1; k < c; k++) m = std::max(m, x[row + size_t(k)]);
    for (int k = 0; k < c; k++) s += bl_expf(x[row + size_t(k)] - m);
    for (int k = 0; k < c; k++) BL_ASSERT_EQ(to_bits(y[row + size_t(k)]), to_bits(bl_expf(x[row + size_t(k)] - m) / s));
  }
  ASSERT_EQ(bl_affine_f32(x.size(), c, nullptr, nullptr, BL_ACT_SIGMOID, x.data(), y.data()), BL_OK);
  ASSERT_EQ(bl_add_f32(x.size(), x.data(), x.data(), BL_ACT_TANH, z.data()), BL_OK);
  for (size_t i = 0; i < x.size(); i++) {
    BL_ASSERT_EQ(to_bits(y[i]), to_bits(1.f / (1.f + bl_expf(-x[i]))));
    BL_ASSERT_EQ(to_bits(z[i]), to_bits(bl_tanhf(x[i] + x[i])));
  }
}
