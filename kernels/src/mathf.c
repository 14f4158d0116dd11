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

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = bl_expf(-2|x|), for |x| >= 0.25; below, the odd
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
  } else if (a < 9.1f) {
    const float e = bl_expf(-2.0f * a);
    const float num = 1.0f - e, den = 1.0f + e;
    y = num / den;
  } else {
    y = 1.0f;
  }
  return u2f(f2u(y) | (ix & 0x80000000u));
}
