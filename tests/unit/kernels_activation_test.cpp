// Every activation of bl_activate_f32 against its Keras definition evaluated in long double,
// over strided sweeps of the float line, with the error bounds that docs/decisions.md states.
// Also: the exact, piecewise ones (ReLU with its three parameters, leaky_relu, PReLU, the hard_
// functions) bit for bit against the Keras formula written out step by step in float, and
// log_softmax against long double.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdio>
#include <functional>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

using ld = long double;

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

// Error of y in ulps of the float grid at the exact value v; values below the smallest normal
// count in subnormal ulps (2^-149), as the float result cannot do better there.
double ulp_error(float y, ld v) {
  const ld a = std::fabs(v);
  ld ulp = std::ldexp(ld(1), -149);
  if (a >= std::ldexp(ld(1), -126)) {
    int e;
    std::frexp(a, &e);
    ulp = std::ldexp(ld(1), e - 24);
  }
  if (std::isinf(y) && std::isinf(static_cast<float>(v)) && (y > 0) == (v > 0)) return 0.0;
  return static_cast<double>(std::fabs(ld(y) - v) / ulp);
}

struct Sweep {
  double max_ulp = 0;
  float worst = 0;
  uint64_t n = 0;
  void add(float x, float y, ld v) {
    ++n;
    const double e = ulp_error(y, v);
    if (!(e <= max_ulp)) {  // also catches NaN
      max_ulp = std::isnan(e) ? 1e30 : e;
      worst = x;
    }
  }
};

// Floats of both signs with magnitude in [lo, hi], every `step`-th bit pattern.
template <class F>
void for_floats(float lo, float hi, uint32_t step, F f) {
  for (uint32_t b = to_bits(lo); b <= to_bits(hi); b += step) {
    f(from_bits(b));
    f(-from_bits(b));
  }
}

float act1(bl_activation k, float x, float alpha = 1.0f) {
  bl_act a{};
  a.kind = k;
  a.alpha = alpha;
  a.max_value = INFINITY;
  float y = NAN;
  EXPECT_EQ(bl_activate_f32(1, 1, &a, &x, &y), BL_OK);
  return y;
}

ld sigmoid_l(ld x) { return 1 / (1 + std::exp(-x)); }
ld softplus_l(ld x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

struct Case {
  const char* name;
  bl_activation kind;
  std::function<ld(ld)> exact;
  double bound;  // ulps, as documented in docs/decisions.md
};

}  // namespace

TEST(MathBlocks, Expm1LogSoftplusGeluWithinDocumentedUlps) {
  struct M {
    const char* name;
    float (*f)(float);
    std::function<ld(ld)> exact;
    float lo, hi;
    double bound;
  } ms[] = {
      {"bl_expm1f", bl_expm1f, [](ld x) { return std::expm1(x); }, 0x1p-30f, 88.0f, 1.5},
      {"bl_softplusf", bl_softplusf, softplus_l, 0x1p-30f, 100.0f, 3.0},
  };
  for (const auto& m : ms) {
    Sweep s;
    for_floats(m.lo, m.hi, 97, [&](float x) { s.add(x, m.f(x), m.exact(x)); });
    std::printf("%-14s %llu points, max %.3f ulp at %a\n", m.name, (unsigned long long)s.n, s.max_ulp,
                double(s.worst));
    EXPECT_GT(s.n, 1000000u);
    EXPECT_LE(s.max_ulp, m.bound) << m.name << " at " << s.worst;
  }
  Sweep lg;
  for (uint32_t b = 1; b < 0x7f800000u; b += 61) {
    const float x = from_bits(b);
    lg.add(x, bl_logf(x), std::log(ld(x)));
  }
  std::printf("bl_logf        %llu points, max %.3f ulp at %a\n", (unsigned long long)lg.n, lg.max_ulp,
              double(lg.worst));
  EXPECT_LE(lg.max_ulp, 2.0) << lg.worst;
}

TEST(MathBlocks, SpecialValues) {
  const float inf = INFINITY;
  EXPECT_EQ(bl_logf(1.0f), 0.0f);
  EXPECT_EQ(bl_logf(0.0f), -inf);
  EXPECT_EQ(bl_logf(-0.0f), -inf);
  EXPECT_TRUE(std::isnan(bl_logf(-1.0f)));
  EXPECT_EQ(bl_logf(inf), inf);
  EXPECT_EQ(bl_expm1f(0.0f), 0.0f);
  EXPECT_EQ(to_bits(bl_expm1f(-0.0f)), 0x80000000u);
  EXPECT_EQ(bl_expm1f(-inf), -1.0f);
  EXPECT_EQ(bl_expm1f(inf), inf);
  EXPECT_EQ(bl_softplusf(inf), inf);
  EXPECT_EQ(bl_softplusf(-inf), 0.0f);
  EXPECT_EQ(bl_geluf(inf), inf);
  EXPECT_TRUE(std::isnan(bl_geluf(-inf)));  // as TF: -inf * (1 + erf(-inf)) = -inf * 0
  EXPECT_EQ(bl_geluf(0.0f), 0.0f);
  for (float (*f)(float) : {bl_expm1f, bl_logf, bl_softplusf, bl_geluf}) EXPECT_TRUE(std::isnan(f(NAN)));
}

TEST(Activations, SmoothOnesWithinDocumentedUlps) {
  const Case cases[] = {
      {"sigmoid", BL_ACT_SIGMOID, sigmoid_l, 3.0},
      {"tanh", BL_ACT_TANH, [](ld x) { return std::tanh(x); }, 4.0},
      {"swish", BL_ACT_SWISH, [](ld x) { return x * sigmoid_l(x); }, 3.0},
      {"mish", BL_ACT_MISH, [](ld x) { return x * std::tanh(softplus_l(x)); }, 6.0},
      {"softplus", BL_ACT_SOFTPLUS, softplus_l, 3.0},
      {"softsign", BL_ACT_SOFTSIGN, [](ld x) { return x / (std::fabs(x) + 1); }, 1.5},
      {"exponential", BL_ACT_EXPONENTIAL, [](ld x) { return std::exp(x); }, 1.0},
      {"elu", BL_ACT_ELU, [](ld x) { return x > 0 ? x : std::expm1(x); }, 1.5},
      {"selu", BL_ACT_SELU,
       [](ld x) { return x > 0 ? 1.0507009873554804934L * x : 1.0507009873554804934L * 1.6732632423543772848L * std::expm1(x); },
       2.5},
  };
  for (const auto& c : cases) {
    Sweep s;
    // |x| up to 30 covers every non-trivial part; the results of the exponential overflow
    // beyond 88, which the sweep includes.
    for_floats(0x1p-30f, c.kind == BL_ACT_EXPONENTIAL ? 88.0f : 30.0f, 211, [&](float x) {
      s.add(x, act1(c.kind, x), c.exact(x));
    });
    std::printf("%-12s %llu points, max %.3f ulp at %a\n", c.name, (unsigned long long)s.n, s.max_ulp,
                double(s.worst));
    EXPECT_LE(s.max_ulp, c.bound) << c.name << " at " << s.worst;
  }
}

// gelu as TF evaluates it (tf.nn.gelu, used by tf.keras 2 and Keras 3's TF backend): every
// operation rounded to float; erf and tanh exact (long double), then rounded. 1 + erf(u) and
// 1 + tanh(u) cancel for negative x, so the exact function is the wrong target: Keras' result
// is -0 below about -5.4, and a following sign quantizer reads that as +1.
float gelu_tf(float x) {
  const float u = x / 0x1.6a09e6p+0f;
  const float s = 1.0f + static_cast<float>(std::erf(ld(u)));
  return (0.5f * x) * s;
}
float gelu_tanh_tf(float x) {
  float v = x * x;
  v = v * x;
  v = 0.044715f * v;
  v = x + v;
  v = 0x1.988454p-1f * v;
  const float s = 1.0f + static_cast<float>(std::tanh(ld(v)));
  return (0.5f * x) * s;
}

// The kernels' erf/tanh are accurate to a few ulp, not correctly rounded: where the exact value
// lies that close to a rounding boundary, 1 + erf (1 + tanh) differs from TF's steps by a step
// of its grid (up to 4 for tanh). Signs differ only there, i.e. where TF's result is itself
// within those steps of 0; TF's own erf and tanh (Eigen's rational approximations) are no
// closer to these boundaries.
void expect_tf_steps(const char* name, float (*kernel)(float), float (*tf)(float), int ulps) {
  uint64_t n = 0, differ = 0, neg_zero = 0, sign_differ = 0;
  float worst_x = 0;
  double worst = 0;
  for_floats(0x1p-30f, 100.0f, 97, [&](float x) {
    const float y = kernel(x), r = tf(x);
    ++n;
    neg_zero += to_bits(r) == 0x80000000u;
    if (to_bits(y) == to_bits(r)) return;
    ++differ;
    sign_differ += std::signbit(y) != std::signbit(r) || (y == 0) != (r == 0);
    // A step of 1 + erf's grid is at most 2^-23 (values in [1, 2)), times |0.5 x|, plus the
    // last multiplication's rounding.
    const double step = std::fabs(0.5 * double(x)) * std::ldexp(1.0, -23) * ulps;
    const double err = std::fabs(double(y) - double(r));
    const double bound = step + std::ldexp(std::fabs(double(r)), -23);
    if (err / bound > worst) worst = err / bound, worst_x = x;
    if (!(err <= bound))
      ADD_FAILURE() << name << " x=" << x << " (" << std::hexfloat << x << std::defaultfloat << "): " << y << " TF steps "
                    << r;
  });
  std::printf("%-9s %llu points: %llu differ from TF's steps by at most %.3f of the bound (worst at %a), %llu of them "
              "in sign; %llu are -0\n",
              name, (unsigned long long)n, (unsigned long long)differ, worst, double(worst_x),
              (unsigned long long)sign_differ, (unsigned long long)neg_zero);
  EXPECT_LT(differ * 20, n) << name;            // a few percent, near rounding boundaries
  EXPECT_LT(sign_differ * 100000, n) << name;  // a handful, at the boundary of the -0 region
  EXPECT_GT(neg_zero, 1000u) << name;          // the -0 region is swept
}

TEST(Activations, GeluFollowsTfFloat32Steps) {
  expect_tf_steps("gelu", [](float x) { return act1(BL_ACT_GELU, x); }, gelu_tf, 1);
  expect_tf_steps("bl_geluf", bl_geluf, gelu_tf, 1);
  expect_tf_steps("gelu_tanh", [](float x) { return act1(BL_ACT_GELU_TANH, x); }, gelu_tanh_tf, 4);
  // The cancellation region: x = -6 gives exactly -0 in TF (erf(-4.24) rounds to -1).
  EXPECT_EQ(to_bits(gelu_tf(-6.0f)), 0x80000000u);
  EXPECT_EQ(to_bits(bl_geluf(-6.0f)), 0x80000000u);
  EXPECT_EQ(to_bits(act1(BL_ACT_GELU_TANH, -6.0f)), 0x80000000u);
}

// Piecewise-linear activations are exact: compare bit for bit with the Keras steps in float.
TEST(Activations, PiecewiseOnesExact) {
  Rng r(11);
  for (int i = 0; i < 20000; i++) {
    const float x = i < 10 ? float(i - 5) : unif(r, -10.f, 10.f);
    const float r6 = std::min(std::max(x + 3.0f, 0.0f), 6.0f);
    BL_ASSERT_EQ(to_bits(act1(BL_ACT_HARD_SIGMOID_K3, x)), to_bits(r6 / 6.0f));
    BL_ASSERT_EQ(to_bits(act1(BL_ACT_HARD_SWISH, x)), to_bits(x * (r6 / 6.0f)));
    BL_ASSERT_EQ(to_bits(act1(BL_ACT_HARD_TANH, x)), to_bits(std::min(std::max(x, -1.0f), 1.0f)));
    BL_ASSERT_EQ(to_bits(act1(BL_ACT_LEAKY_RELU, x, 0.2f)), to_bits(x > 0 ? x : 0.2f * x));
    const float lt = std::min(std::max(x, -1.0f), 1.0f) + (std::max(x, 1.0f) - 1.0f) * 0.2f +
                     (std::min(x, -1.0f) + 1.0f) * 0.2f;
    BL_ASSERT_EQ(to_bits(act1(BL_ACT_LEAKY_TANH, x, 0.2f)), to_bits(lt));
  }
}

// Keras' relu(x, negative_slope, max_value, threshold), written out as keras/activations.py
// does it, for a grid of parameters including the special cases (max_value 6, threshold 0,
// negative max_value-free leaky form).
TEST(Activations, ReluWithParametersFollowsKerasStepByStep) {
  auto keras = [](float x, float slope, float mx, float th) {
    const bool clip = std::isfinite(mx);
    float neg = 0;
    if (slope != 0) {
      if (!clip && th == 0) return x > 0 ? x : slope * x;  // tf.nn.leaky_relu
      neg = std::max(th - x, 0.0f);                        // relu(-x + threshold)
    }
    float y;
    bool cl = clip;
    if (th != 0) {
      y = x * (x > th ? 1.0f : 0.0f);
    } else if (mx == 6.0f) {
      y = std::min(std::max(x, 0.0f), 6.0f);
      cl = false;
    } else {
      y = std::max(x, 0.0f);
    }
    if (cl) y = std::min(std::max(y, 0.0f), mx);
    if (slope != 0) y = y - slope * neg;
    return y;
  };
  Rng r(5);
  for (float slope : {0.0f, 0.1f, 0.3f}) {
    for (float mx : {INFINITY, 6.0f, 2.5f}) {
      for (float th : {0.0f, 0.5f, -1.0f}) {
        bl_act a{BL_ACT_RELU_EX, slope, mx, th, nullptr};
        for (int i = 0; i < 2000; i++) {
          const float x = i < 21 ? float(i - 10) * 0.5f : unif(r, -8.f, 8.f);
          float y;
          ASSERT_EQ(bl_activate_f32(1, 1, &a, &x, &y), BL_OK);
          const float k = keras(x, slope, mx, th);
          if (!(y == k)) ADD_FAILURE() << "relu(" << x << ", slope " << slope << ", max " << mx << ", threshold " << th << ") = " << y
              << ", Keras " << k;
        }
      }
    }
  }
}

TEST(Activations, PreluUsesPerChannelSlopes) {
  const float slopes[3] = {0.0f, 0.5f, -2.0f};
  bl_act a{BL_ACT_PRELU, 0, INFINITY, 0, slopes};
  const float x[6] = {-1, -1, -1, 2, -4, -0.5f};
  float y[6];
  ASSERT_EQ(bl_activate_f32(6, 3, &a, x, y), BL_OK);
  const float want[6] = {-0.0f, -0.5f, 2.0f, 2.0f, -2.0f, 1.0f};
  for (int i = 0; i < 6; i++) EXPECT_EQ(y[i], want[i]) << i;
  a.slopes = nullptr;
  EXPECT_EQ(bl_activate_f32(6, 3, &a, x, y), BL_ERR_PARAM);
  bl_act bad{static_cast<bl_activation>(99), 0, 0, 0, nullptr};
  EXPECT_EQ(bl_activate_f32(6, 3, &bad, x, y), BL_ERR_PARAM);
  // The parameterless entry points refuse kinds that need parameters.
  EXPECT_EQ(bl_affine_f32(6, 3, nullptr, nullptr, BL_ACT_PRELU, x, y), BL_ERR_PARAM);
  EXPECT_EQ(bl_affine_f32(6, 3, nullptr, nullptr, BL_ACT_LEAKY_RELU, x, y), BL_ERR_PARAM);
  EXPECT_EQ(bl_affine_f32(6, 3, nullptr, nullptr, BL_ACT_GELU, x, y), BL_OK);
}

TEST(Activations, LogSoftmaxAgainstLongDouble) {
  Rng r(3);
  const int32_t c = 10;
  const auto x = random_floats(r, 50 * size_t(c), -30.f, 30.f);
  std::vector<float> y(x.size());
  ASSERT_EQ(bl_log_softmax_f32(x.size(), c, x.data(), y.data()), BL_OK);
  double worst_abs = 0;
  for (size_t row = 0; row < x.size(); row += size_t(c)) {
    ld m = x[row], s = 0;
    for (int k = 1; k < c; k++) m = std::max(m, ld(x[row + size_t(k)]));
    for (int k = 0; k < c; k++) s += std::exp(ld(x[row + size_t(k)]) - m);
    for (int k = 0; k < c; k++) {
      const ld v = ld(x[row + size_t(k)]) - m - std::log(s);
      // (x - max) is one rounding; the float sum of c terms <= 1 carries up to c/2 ulps of
      // itself, which log turns into an absolute error of about c/2 2^-24 (as in TF, which
      // sums in float too): the bound is (c + 2) 2^-24 max(1, |x - max|).
      const double scale = double(std::max(std::fabs(ld(x[row + size_t(k)]) - m), ld(1)));
      const double e = double(std::fabs(ld(y[row + size_t(k)]) - v));
      worst_abs = std::max(worst_abs, e / (scale * std::ldexp(1.0, -24)));
    }
  }
  std::printf("log_softmax: max error %.3f x 2^-24 max(1, |x - max|)\n", worst_abs);
  EXPECT_LE(worst_abs, double(c + 2));
  std::vector<float> one = {5.0f};
  ASSERT_EQ(bl_log_softmax_f32(1, 1, one.data(), one.data()), BL_OK);
  EXPECT_EQ(one[0], 0.0f);
}

// The firmware self-test (kernels/bench/selftest_main.c, ctest kernels_qemu_selftest) computes
// this checksum on Cortex-M4 and M7 and compares it with the host's value below: every
// activation gives the same bits on the host and on the boards.
namespace {
uint32_t fnv(uint32_t h, float y) { return (h ^ to_bits(y)) * 16777619u; }
float scattered(uint32_t i) {
  const uint32_t u = i * 0x9e3779b9u;
  return from_bits((u & 0x80000000u) | (0x30000000u + (u & 0x7fffffffu) % 0x13000000u));
}
uint32_t act_checksum() {
  static const float slopes[3] = {0.25f, -0.5f, 2.0f};
  std::vector<float> x(2048), y(2048);
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < 1024; i++) x[i] = float(int32_t(i) - 512) * 0.0390625f;
  for (uint32_t i = 0; i < 1024; i++) x[1024 + i] = scattered(i);
  for (int k = 0; k <= int(BL_ACT_LEAKY_TANH); k++) {
    bl_act a{static_cast<bl_activation>(k), 0.3f, 2.5f, 0.5f, slopes};
    EXPECT_EQ(bl_activate_f32(2048, 3, &a, x.data(), y.data()), BL_OK);
    for (float v : y) h = fnv(h, v);
  }
  EXPECT_EQ(bl_log_softmax_f32(2048, 8, x.data(), y.data()), BL_OK);
  for (float v : y) h = fnv(h, v);
  for (uint32_t i = 1024; i < 2048; i++) {
    h = fnv(h, bl_logf(std::fabs(x[i])));
    h = fnv(h, bl_expm1f(x[i]));
    h = fnv(h, bl_geluf(x[i]));
  }
  return h;
}
}  // namespace

TEST(Activations, ChecksumMatchesTheFirmwareSelftest) {
  std::printf("activation checksum 0x%08x\n", act_checksum());
  EXPECT_EQ(act_checksum(), 0x0aabff0du);
}
