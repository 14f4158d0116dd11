/* Portable, deterministic single-precision exp and tanh (bl_expf, bl_tanhf).
 *
 * The C library's expf differs between libms (glibc, newlib's fdlibm for single-precision-FPU
 * Cortex-M cores) in the last bit for some arguments, so softmax/sigmoid/tanh computed with it
 * would not be bit-identical between the host runtime and an exported firmware. These functions
 * use only IEEE-754 binary32 +, -, *, / (each rounded to nearest, evaluated in the written order;
 * the build uses -ffp-contract=off so nothing is fused) and integer operations: no libm call, no
 * double, so every conforming target computes the same bits.
 *
 * bl_expf(x), x = (32 k + j) ln2/32 + r with m = 32 k + j = round(x * 32/ln2), |r| <~ ln2/64:
 *   - Cody-Waite reduction: r = (x - m*C1) - m*C2, C1 = ln2/32 to 9 bits (m*C1 and, by Sterbenz,
 *     x - m*C1 are exact for |m| < 2^13), C2 = the next 24 bits (residual 2.4e-12 relative).
 *   - exp(r) - 1 = q = r + r^2 (1/2 + r (1/6 + r/24)) (Taylor, truncation < 2^-39 relative).
 *   - 2^(j/32) from a table of float pairs hi + lo (48 bits), p = hi + (hi*q + lo): only the last
 *     addition carries a full half-ulp rounding, everything else is below 1/16 ulp.
 *   - result = p * 2^k with the power of two built from its bits; k = 128 scales in two exact
 *     steps so only true overflow gives +inf; subnormal results are rounded (to nearest even)
 *     from p's significand with integer operations, so they do not depend on the FPU's
 *     flush-to-zero mode either.
 *   Accuracy: < 1 ulp from the exact result over the whole float range (faithful). Measured on
 *   all 2^32 inputs against double exp: max 0.534 ulp for normal results, 0.755 ulp for
 *   subnormal ones (p is rounded twice there), 99.58% equal to the correctly rounded float,
 *   monotonic; tests/unit/kernels_mathf_test.cpp re-checks sweeps of ~36 M points.
 *   Overflow (x > 88.7228...) -> +inf, underflow (x < -103.972...) -> +0, gradual underflow in
 *   between, NaN -> the same NaN, +-inf -> inf / 0, |x| < 2^-26 -> 1 (no arithmetic on
 *   subnormal inputs). */
#include <math.h>

#include "bl_internal.h"

static uint32_t f2u(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float u2f(uint32_t u)
{
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* 2^(j/32) = hi + lo, hi the nearest float, lo the nearest float to the remainder. */
static const float exp2_tab[32][2] = {
  {0x1p+0f, 0x0p+0f},
  {0x1.059b0ep+0f, -0x1.9d4f52p-25f},
  {0x1.0b5586p+0f, 0x1.9f3122p-25f},
  {0x1.11301ep+0f, -0x1.fdb496p-25f},
  {0x1.172b84p+0f, -0x1.c15742p-27f},
  {0x1.1d4874p+0f, -0x1.d2e8cap-25f},
  {0x1.2387a6p+0f, 0x1.ceac48p-25f},
  {0x1.29e9ep+0f, -0x1.5c0424p-25f},
  {0x1.306fep+0f, 0x1.4636e2p-25f},
  {0x1.371a74p+0f, -0x1.18aac6p-25f},
  {0x1.3dea64p+0f, 0x1.824684p-25f},
  {0x1.44e086p+0f, 0x1.8624b4p-30f},
  {0x1.4bfdaep+0f, -0x1.593abcp-25f},
  {0x1.5342b6p+0f, -0x1.2c561p-25f},
  {0x1.5ab07ep+0f, -0x1.5bd5ecp-27f},
  {0x1.6247ecp+0f, -0x1.f8b55p-25f},
  {0x1.6a09e6p+0f, 0x1.9fcef4p-26f},
  {0x1.71f75ep+0f, 0x1.1d8beep-25f},
  {0x1.7a1148p+0f, -0x1.829fdp-25f},
  {0x1.82589ap+0f, -0x1.accc7cp-26f},
  {0x1.8ace54p+0f, 0x1.15506ep-27f},
  {0x1.93737cp+0f, -0x1.e64744p-25f},
  {0x1.9c4918p+0f, 0x1.51f848p-27f},
  {0x1.a5503cp+0f, -0x1.b83b54p-25f},
  {0x1.ae89fap+0f, -0x1.a94b14p-26f},
  {0x1.b7f77p+0f, -0x1.a09438p-25f},
  {0x1.c199bep+0f, -0x1.3d56b2p-27f},
  {0x1.cb720ep+0f, -0x1.8837ccp-27f},
  {0x1.d5818ep+0f, -0x1.822dbcp-27f},
  {0x1.dfc974p+0f, -0x1.908c94p-25f},
  {0x1.ea4afap+0f, 0x1.52486cp-27f},
  {0x1.f50766p+0f, -0x1.246ebp-26f},
};

float bl_expf(float x)
{
  const uint32_t ix = f2u(x), ax = ix & 0x7fffffffu;
  float kf, mf, r, r2, t, q, s, p;
  const float *tab;
  uint32_t mb, j;
  int32_t k;
  if (ax > 0x7f800000u) return x;                 /* NaN, unchanged */
  if (ax < 0x32800000u) return 1.0f;              /* |x| < 2^-26: exp(x) rounds to 1 */
  if (x > 89.0f) return INFINITY;                 /* also +inf */
  if (x < -104.0f) return 0.0f;                   /* exp(x) < 2^-150; also -inf */
  /* m = round(x * 32/ln2) with the 1.5 * 2^23 trick: the integer lands in the low mantissa
   * bits of kf (|m| <= 4801 < 2^22). mb = m + 8192 is positive: j = m mod 32, k = floor(m/32). */
  kf = x * 0x1.715476p+5f;
  kf = kf + 0x1.8p+23f;
  mb = f2u(kf) - 0x4b400000u + 8192u;
  mf = kf - 0x1.8p+23f;
  j = mb & 31u;
  k = (int32_t)(mb >> 5) - 256;
  /* Cody-Waite: r = x - m ln2/32 */
  t = mf * 0x1.63p-6f;
  r = x - t;
  t = mf * -0x1.bd0106p-18f;
  r = r - t;
  /* q = exp(r) - 1 */
  r2 = r * r;
  q = r * 0x1.555556p-5f; /* 1/24 */
  q = 0x1.555556p-3f + q; /* 1/6 */
  q = r * q;
  q = 0.5f + q;
  q = r2 * q;
  q = r + q;
  /* p = 2^(j/32) (1 + q) in [0.98, 2) */
  tab = exp2_tab[j];
  s = tab[0] * q;
  s = s + tab[1];
  p = tab[0] + s;
  if (k > -126) {
    if (k <= 127) return p * u2f((uint32_t)(k + 127) << 23);
    p = p * 0x1p+127f; /* k == 128: exact, then the one multiply that may overflow */
    return p * 2.0f;
  }
  {
    /* Result exponent field e = e(p) + k; below 1 the result is subnormal: shift the 24-bit
     * significand right by 1 - e, rounding to nearest, ties to even. */
    const uint32_t pb = f2u(p);
    const int32_t e = (int32_t)(pb >> 23) + k;
    uint32_t sig, rem, half, sh;
    if (e >= 1) return u2f(pb - ((uint32_t)(-k) << 23));
    sh = (uint32_t)(1 - e);
    if (sh > 24u) return 0.0f;
    sig = (pb & 0x7fffffu) | 0x800000u;
    rem = sig & ((1u << sh) - 1u);
    half = 1u << (sh - 1u);
    sig >>= sh;
    if (rem > half || (rem == half && (sig & 1u))) sig++;
    return u2f(sig);
  }
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = bl_expf(-2|x|), for |x| in [0.25, 0.5493), and
 * sign(x) (1 - 2e / (1 + e)) above (tanh >= 0.5); below 0.25, the odd
 * Taylor polynomial x + x^3 (-1/3 + x^2 (2/15 + x^2 (-17/315 + x^2 62/2835))) (truncation
 * < 2^-26 relative at 0.25), which keeps small results accurate relative to their size;
 * |x| < 2^-12 gives x (also keeps subnormal inputs away from the FPU, whose flush-to-zero mode
 * may differ), |x| >= 9.1 gives +-1 (the exact value rounds to 1), NaN stays NaN.
 * Error: a few ulp (measured in tests/unit/kernels_mathf_test.cpp). */
float bl_tanhf(float x)
{
  const uint32_t ix = f2u(x);
  const float a = u2f(ix & 0x7fffffffu);
  float y;
  if (a != a || a < 0x1p-12f) return x; /* NaN; tiny: x^3/3 is below half an ulp of x */
  if (a < 0.25f) {
    const float a2 = a * a;
    float p = a2 * 0x1.664f48p-6f;  /* 62/2835 */
    p = -0x1.ba1ba2p-5f + p;        /* -17/315 */
    p = a2 * p;
    p = 0x1.111112p-3f + p;         /* 2/15 */
    p = a2 * p;
    p = -0x1.555556p-2f + p;        /* -1/3 */
    p = a2 * p;
    p = a * p;
    y = a + p;
  } else if (a < 0.5493f) { /* tanh(a) < 0.5 */
    const float e = bl_expf(-2.0f * a);
    const float num = 1.0f - e, den = 1.0f + e;
    y = num / den;
  } else if (a < 9.1f) {
    /* 1 - 2e / (1 + e): the small term carries the errors, the subtraction rounds once, so
     * near saturation the result is correctly rounded; (1 - e) / (1 + e) rounds e away in both
     * sums and reaches 1 early, which flips the sign of 1 + tanh(u) in gelu's tanh form. */
    const float e = bl_expf(-2.0f * a);
    const float t = (2.0f * e) / (1.0f + e);
    y = 1.0f - t;
  } else {
    y = 1.0f;
  }
  return u2f(f2u(y) | (ix & 0x80000000u));
}

/* expm1(x) = exp(x) - 1. For |x| < 0.5 the Taylor polynomial x + x^2 (1/2 + x (1/6 + ...
 * + x/11!)) (truncation < 2^-40 relative), so small results keep their relative accuracy
 * (exp(x) - 1 would cancel); above, bl_expf(x) - 1, where the subtraction is exact for
 * x in [-ln 2, ln 2] (Sterbenz) and the error is bl_expf's scaled by exp(x)/|expm1(x)| <= 2.6.
 * Error: about 1 ulp (measured in tests/unit/kernels_mathf_test.cpp); |x| < 2^-25 gives x. */
float bl_expm1f(float x)
{
  const float a = u2f(f2u(x) & 0x7fffffffu);
  float p;
  if (a != a || a < 0x1p-25f) return x; /* NaN; tiny: x^2/2 is below half an ulp of x */
  if (a >= 0.5f) return bl_expf(x) - 1.0f;
  p = x * 0x1.ae6456p-26f;  /* 1/11! */
  p = 0x1.27e4fcp-22f + p;  /* 1/10! */
  p = x * p;
  p = 0x1.71de3ap-19f + p;  /* 1/9! */
  p = x * p;
  p = 0x1.a01a02p-16f + p;  /* 1/8! */
  p = x * p;
  p = 0x1.a01a02p-13f + p;  /* 1/7! */
  p = x * p;
  p = 0x1.6c16c2p-10f + p;  /* 1/6! */
  p = x * p;
  p = 0x1.111112p-7f + p;   /* 1/5! */
  p = x * p;
  p = 0x1.555556p-5f + p;   /* 1/4! */
  p = x * p;
  p = 0x1.555556p-3f + p;   /* 1/3! */
  p = x * p;
  p = 0.5f + p;
  p = (x * x) * p;
  return x + p;
}

/* 2 atanh(s) / s - 2 = 2 (s^2/3 + s^4/5 + ...) for s^2 <= 1/9, truncated after s^16/17
 * (< 2^-30 relative). log(1 + f) = 2 atanh(f / (2 + f)). */
static float atanh_series(float s2)
{
  float p = s2 * 0x1.e1e1e2p-5f;  /* 1/17 */
  p = 0x1.111112p-4f + p;         /* 1/15 */
  p = s2 * p;
  p = 0x1.3b13b2p-4f + p;         /* 1/13 */
  p = s2 * p;
  p = 0x1.745d18p-4f + p;         /* 1/11 */
  p = s2 * p;
  p = 0x1.c71c72p-4f + p;         /* 1/9 */
  p = s2 * p;
  p = 0x1.24924ap-3f + p;         /* 1/7 */
  p = s2 * p;
  p = 0x1.99999ap-3f + p;         /* 1/5 */
  p = s2 * p;
  p = 0x1.555556p-2f + p;         /* 1/3 */
  return s2 * p;
}

/* log(1 + f) for f in [-0.3, 1]: s = f / (2 + f), 2 s (1 + s^2/3 + ...). */
static float log1p_small(float f)
{
  const float s = f / (2.0f + f);
  const float p = atanh_series(s * s);
  float y = s * p;
  y = s + y;
  return 2.0f * y;
}

/* log(x): x = 2^e m with m in [sqrt(2)/2, sqrt(2)), log(m) = log1p_small(m - 1) (m - 1 exact
 * by Sterbenz), plus e ln2 with ln2 split in a 16-bit head (e * head exact for |e| < 256) and a
 * tail. Subnormal inputs are scaled by 2^24 first (integer operations only). Error: about
 * 2 ulp (measured in tests/unit/kernels_mathf_test.cpp). log(0) = -inf, log(x < 0) = NaN,
 * log(+inf) = +inf, NaN unchanged. */
float bl_logf(float x)
{
  uint32_t ix = f2u(x);
  int32_t e;
  float m, lm, ef;
  if (x != x) return x;
  if (ix == 0u || ix == 0x80000000u) return -INFINITY;
  if (ix & 0x80000000u) return NAN;
  if (ix >= 0x7f800000u) return x; /* +inf */
  e = 0;
  if (ix < 0x00800000u) {          /* subnormal: scale by 2^24 exactly */
    x = x * 0x1p+24f;
    ix = f2u(x);
    e = -24;
  }
  e += (int32_t)(ix >> 23) - 127;
  ix = (ix & 0x7fffffu) | 0x3f800000u; /* m in [1, 2) */
  if (ix > 0x3fb504f3u) {              /* m > sqrt(2): use m / 2 */
    ix -= 0x00800000u;
    e += 1;
  }
  m = u2f(ix);
  lm = log1p_small(m - 1.0f);
  if (e == 0) return lm;
  ef = (float)e;
  /* ln2 = 0x1.62e4p-1 + 0x1.7f7d1cp-20 (+ 2^-44 relative) */
  return ef * 0x1.62e4p-1f + (ef * 0x1.7f7d1cp-20f + lm);
}

/* log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)): the argument of the log is in (1, 2], so
 * nothing overflows or cancels. Error: about 2 ulp. */
float bl_softplusf(float x)
{
  const float a = u2f(f2u(x) & 0x7fffffffu);
  float e;
  if (x != x) return x;
  e = bl_expf(-a);
  e = log1p_small(e);
  return x > 0.0f ? x + e : e;
}

/* erf(t) for |t| < 0.5: t + t (2/sqrt(pi) - 1 + t^2 (-2/(3 sqrt(pi)) + ...)), Taylor series to
 * t^15 (truncation < 2^-30 relative); the leading t is exact, so only the ~0.13 t correction
 * carries rounding. */
static float erf_small(float t)
{
  const float t2 = t * t;
  float p = t2 * -0x1.f4d25cp-17f; /* 2/sqrt(pi) * -1/(7! 15) */
  p = 0x1.f9a326p-14f + p;         /* 2/sqrt(pi) * 1/(6! 13) */
  p = t2 * p;
  p = -0x1.c02db4p-11f + p;        /* 2/sqrt(pi) * -1/(5! 11) */
  p = t2 * p;
  p = 0x1.565bcep-8f + p;          /* 2/sqrt(pi) * 1/(4! 9) */
  p = t2 * p;
  p = -0x1.b82ce4p-6f + p;         /* 2/sqrt(pi) * -1/(3! 7) */
  p = t2 * p;
  p = 0x1.ce2f22p-4f + p;          /* 2/sqrt(pi) * 1/(2! 5) */
  p = t2 * p;
  p = -0x1.812746p-2f + p;         /* 2/sqrt(pi) * -1/3 */
  p = t2 * p;
  p = 0x1.06eba8p-3f + p;          /* 2/sqrt(pi) - 1 */
  p = t * p;
  return t + p;
}

/* Chebyshev interpolants of R(u) = erfc(u) exp(u^2) on five intervals covering [0.5, 10.1]
 * (11 terms each; coefficient rounding <= 4.2e-8 relative). Computed with long double erfcl. */
static const float erfc_edge[6] = {0.5f, 1.25f, 2.25f, 4.0f, 6.5f, 10.1f};
static const float erfc_cheb[5][11] = {
  {0x1.e96018p-2f, -0x1.f5e9f6p-4f, 0x1.c1a14ep-7f, -0x1.6b0f6cp-10f, 0x1.0d73c8p-13f, -0x1.74899cp-17f, 0x1.e464d4p-21f, -0x1.2a56eep-24f, 0x1.5e26cep-28f, -0x1.895f1cp-32f, 0x1.a6e84cp-36f},
  {0x1.2b2806p-2f, -0x1.150904p-4f, 0x1.da8ap-8f, -0x1.7ca6p-11f, 0x1.20909ap-14f, -0x1.a04d8p-18f, 0x1.1f4042p-21f, -0x1.7ccea4p-25f, 0x1.e6a864p-29f, -0x1.2ca2c6p-32f, 0x1.662ab6p-36f},
  {0x1.6ce014p-3f, -0x1.7b907cp-5f, 0x1.7c022ep-8f, -0x1.6f7a54p-11f, 0x1.58415cp-14f, -0x1.39318cp-17f, 0x1.154a9cp-20f, -0x1.deb326p-24f, 0x1.937894p-27f, -0x1.4c7c14p-30f, 0x1.09b574p-33f},
  {0x1.bc4c7ep-4f, -0x1.9df74ap-6f, 0x1.7b62d2p-9f, -0x1.5641ap-12f, 0x1.30235ep-15f, -0x1.0a626ap-18f, 0x1.cc31ep-22f, -0x1.8839c6p-25f, 0x1.4a0322p-28f, -0x1.123428p-31f, 0x1.bdb9c4p-35f},
  {0x1.1af042p-4f, -0x1.e96246p-7f, 0x1.a4381cp-10f, -0x1.6650b4p-13f, 0x1.2f71dcp-16f, -0x1.fe83acp-20f, 0x1.aaa018p-23f, -0x1.6239c4p-26f, 0x1.2440d8p-29f, -0x1.df3464p-33f, 0x1.829412p-36f},
};

/* erfc(u) for u >= 0, accurate relative to its tiny size at large u: erfc(u) = exp(-u^2) R(u),
 * with u^2 split so that the large part z^2 (z = u with 12 significand bits, z^2 exact) goes to
 * bl_expf exactly and the rest (u - z)(u + z) is small; rounding u^2 itself would cost 2 u^2
 * ulp at large u. */
static float erfc_pos(float u)
{
  int k = 0;
  float z, d, r, b1, b2, t, lo, hi;
  if (u < 0.5f) return 1.0f - erf_small(u);
  if (u >= 10.1f) return 0.0f; /* erfc(10.1) < 2^-150 */
  while (u >= erfc_edge[k + 1]) k++;
  lo = erfc_edge[k];
  hi = erfc_edge[k + 1];
  t = (u - 0.5f * (lo + hi)) * (2.0f / (hi - lo));
  b1 = 0.0f;
  b2 = 0.0f;
  {
    int i;
    for (i = 10; i >= 1; i--) {
      const float tmp = 2.0f * t * b1 - b2 + erfc_cheb[k][i];
      b2 = b1;
      b1 = tmp;
    }
  }
  r = t * b1 - b2 + erfc_cheb[k][0];
  z = u2f(f2u(u) & 0xfffff000u);
  d = (u - z) * (u + z);
  return bl_expf(-z * z) * (bl_expf(-d) * r);
}

/* Keras' exact gelu in TF's float32 steps (tf.nn.gelu, approximate=False):
 * 0.5 * x * (1 + erf(x / 1.4142135f)), each operation rounded to float. The steps matter more
 * than accuracy: for x below about -5.4, erf rounds to -1, 1 + erf is 0 and Keras' result is
 * -0, whose sign (as Larq's quantizers read it) is +1; the exact function is a tiny negative
 * number there. erf itself is computed accurately (erf_small below 0.5, 1 - erfc above), so
 * the result equals the one from a correctly rounded erf except where erf lies within its few
 * ulp of error of a rounding boundary (tests/unit/kernels_activation_test.cpp). Like Keras,
 * gelu(-inf) = -inf * 0 = NaN. */
float bl_geluf(float x)
{
  float u, au, erf_u, s;
  if (x != x) return x;
  u = x / 0x1.6a09e6p+0f; /* float(sqrt(2)), as TF casts it */
  au = u2f(f2u(u) & 0x7fffffffu);
  if (au < 0.5f) {
    erf_u = erf_small(u);
  } else {
    erf_u = 1.0f - erfc_pos(au);
    if (u < 0.0f) erf_u = -erf_u;
  }
  s = 1.0f + erf_u;
  return (0.5f * x) * s;
}
