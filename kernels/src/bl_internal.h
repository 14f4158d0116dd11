/* Private helpers shared by the kernel sources: inlining, popcount, bit-stream access,
 * the output stage, geometry checks. Nothing here is part of the public API. */
#ifndef BL_INTERNAL_H
#define BL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bitlens/bl_kernels.h"

/* Hot helpers must really be inlined: the x86 popcount dispatch relies on the helper being
 * compiled inside a function that carries target("popcnt"). */
#if defined(__GNUC__)
#define BL_INLINE static __inline__ __attribute__((always_inline))
#else
#define BL_INLINE static inline
#endif

/* Inner loops that need every register (Cortex-M has 13): kept out of their large caller so
 * its live values do not spill into them. */
#if defined(__GNUC__)
#define BL_NOINLINE static __attribute__((noinline))
#else
#define BL_NOINLINE static
#endif

/* x86-64 with GCC/Clang: hot loops are compiled twice, once with target("popcnt") (selected at
 * run time with __builtin_cpu_supports) and once portable. Nowhere else do we use attributes.
 * -DBL_NO_POPCNT_DISPATCH keeps only the portable code (the tests use it to run the exact code
 * path of the Cortex-M build on the host). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(BL_NO_POPCNT_DISPATCH)
#define BL_X86_DISPATCH 1
#define BL_TARGET_POPCNT __attribute__((target("popcnt")))
#define BL_HAVE_POPCNT() (__builtin_cpu_supports("popcnt") != 0)
/* Vector kernels (bconv2d): intrinsics only inside functions marked BL_TARGET_AVX2 /
 * BL_TARGET_AVX512 (AVX-512F + VPOPCNTDQ), chosen by bl_i_x86_level(): the best variant the CPU
 * runs, capped by bl_i_x86_max_level (tests set it to run each variant). */
#include <immintrin.h>
#define BL_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
#define BL_TARGET_AVX512 __attribute__((target("avx512f,avx512vpopcntdq,avx2,popcnt")))
enum { BL_X86_SWAR = 0, BL_X86_POPCNT = 1, BL_X86_AVX2 = 2, BL_X86_AVX512 = 3 };
extern int bl_i_x86_max_level;
static __inline__ int bl_i_x86_level(void)
{
  int level = BL_X86_SWAR;
  if (BL_HAVE_POPCNT()) {
    level = BL_X86_POPCNT;
    if (__builtin_cpu_supports("avx2")) {
      level = BL_X86_AVX2;
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq"))
        level = BL_X86_AVX512;
    }
  }
  return level < bl_i_x86_max_level ? level : bl_i_x86_max_level;
}
#else
#define BL_X86_DISPATCH 0
#endif

/* ---- Popcount -----------------------------------------------------------------------------
 * Portable SWAR popcount of one word: fold bit pairs, nibbles, bytes, then sum the four bytes
 * with a multiply. Used where only a few words are counted; long runs use bl_i_xorpop below. */
BL_INLINE uint32_t bl_i_popc_swar(uint32_t x)
{
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (x * 0x01010101u) >> 24;
}

/* Sum of the four bytes of x (each byte at most 255, so the sum fits easily). On ARMv7E-M
 * one USADA8 does it; elsewhere two folding steps. */
BL_INLINE uint32_t bl_i_bytesum(uint32_t x)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__) && !defined(__clang__)
  return __builtin_arm_usada8(x, 0u, 0u);
#else
  x = (x & 0x00ff00ffu) + ((x >> 8) & 0x00ff00ffu);
  return (x + (x >> 16)) & 0xffffu;
#endif
}

/* popcount(a) + popcount(b): bit pairs and nibbles per word (each nibble 0..4), the nibbles of
 * both added (0..8), one byte stage and one byte sum for the two. */
BL_INLINE uint32_t bl_i_popc2_bytes(uint32_t a, uint32_t b) /* four byte counts, each <= 16 */
{
  a = a - ((a & 0xAAAAAAAAu) >> 1);
  b = b - ((b & 0xAAAAAAAAu) >> 1);
  a = (a & 0x33333333u) + ((a & 0xCCCCCCCCu) >> 2);
  b = (b & 0x33333333u) + ((b & 0xCCCCCCCCu) >> 2);
  a = a + b;
  return (a & 0x0F0F0F0Fu) + ((a & 0xF0F0F0F0u) >> 4);
}
BL_INLINE uint32_t bl_i_popc2(uint32_t a, uint32_t b) { return bl_i_bytesum(bl_i_popc2_bytes(a, b)); }

/* ARMv7E-M (Cortex-M4/M7) with GCC: the hot loop (many filters against one patch) is an
 * assembly routine in popcount.c. gcc neither keeps SWAR masks in registers nor loads with LDM,
 * and cannot be told to; a self-contained routine also leaves the compiler's register
 * allocation (frame pointer, -O0 builds) alone. Define BL_NO_ARM_ASM to use plain C instead. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__thumb2__) && \
    defined(__ARM_FEATURE_SIMD32) && !defined(BL_NO_ARM_ASM)
#define BL_ARM_ASM 1
/* counts[c] = popcount(patch[0..6*iters) XOR w_c) for c < nch, where w_c = w + c * 6 * iters
 * (filters follow each other). iters 1..5. */
void bl_i_arm_counts_set(const uint32_t *patch, const uint32_t *w, uint32_t *counts,
                         uint32_t nch, uint32_t iters);
/* counts[c] += popcount(patch[0..k) XOR w_c[0..k)) with k = 6 * iters + 3 * has3 and
 * w_c = w + c * (k + skip): a slice of each filter. 2 * iters + has3 <= 10, k >= 3. */
void bl_i_arm_counts_add(const uint32_t *patch, const uint32_t *w, uint32_t *counts,
                         uint32_t nch, uint32_t iters, uint32_t has3, uint32_t skip);
#else
#define BL_ARM_ASM 0
#endif

#if BL_ARM_ASM
/* Four int8 as one (possibly unaligned) word, and its signed bytes 0 and 2 / 1 and 3 as halfword
 * pairs (SXTB16, and SXTB16 of the word rotated by 8). */
BL_INLINE uint32_t bl_i_load32(const void *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}
BL_INLINE uint32_t bl_i_sxtb16_even(uint32_t v) { return (uint32_t)__builtin_arm_sxtb16((int32_t)v); }
/* The rotation rides on the instruction (gcc emits a separate ROR for the builtin's argument). */
BL_INLINE uint32_t bl_i_sxtb16_odd(uint32_t v)
{
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
}
#endif

/* acc + sum of the four bytes of x. */
BL_INLINE uint32_t bl_i_bytesum_acc(uint32_t x, uint32_t acc)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__) && !defined(__clang__)
  return __builtin_arm_usada8(x, 0u, acc);
#else
  return acc + bl_i_bytesum(x);
#endif
}

/* popcount(a[i] ^ b[i]) (and m[i] if masked) summed over n words, portable SWAR.
 *
 * Why this shape: Cortex-M has no popcount instruction and gcc calls __popcountsi2 for
 * __builtin_popcount (≈20 instructions per word with the call). Per word we only do the two
 * cheap SWAR steps (bit pairs, then nibbles: each nibble then holds 0..4). Nibble counts of
 * three words are added (0..12, still fits 4 bits), then split into bytes (0..24) and added to a
 * byte accumulator. Ten such groups keep every byte <= 240 < 256; only then are the bytes
 * summed. That costs ≈8 ALU operations per word instead of ≈12 for a full popcount per word.
 * On ARMv7E-M the unmasked bulk goes through the assembly routine. */
BL_INLINE uint32_t bl_i_xorpop_swar(const uint32_t *a, const uint32_t *b, const uint32_t *m,
                                    size_t n)
{
  const uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0f0f0f0fu;
  uint32_t total = 0;
#if BL_ARM_ASM
  if (!m) {
    while (n >= 6) {
      uint32_t iters = (uint32_t)(n / 6), cnt;
      if (iters > 5) iters = 5;
      bl_i_arm_counts_set(a, b, &cnt, 1, iters);
      total += cnt;
      a += 6 * iters;
      b += 6 * iters;
      n -= (size_t)iters * 6;
    }
  }
#endif
  while (n >= 3) {
    size_t groups = n / 3;
    uint32_t bytes = 0;
    if (groups > 10) groups = 10;
    n -= groups * 3;
    do {
      uint32_t x0 = a[0] ^ b[0], x1 = a[1] ^ b[1], x2 = a[2] ^ b[2], s;
      if (m) {
        x0 &= m[0];
        x1 &= m[1];
        x2 &= m[2];
        m += 3;
      }
      x0 = x0 - ((x0 >> 1) & m1);
      x1 = x1 - ((x1 >> 1) & m1);
      x2 = x2 - ((x2 >> 1) & m1);
      x0 = (x0 & m2) + ((x0 >> 2) & m2);
      x1 = (x1 & m2) + ((x1 >> 2) & m2);
      x2 = (x2 & m2) + ((x2 >> 2) & m2);
      s = x0 + x1 + x2;
      bytes += (s & m4) + ((s >> 4) & m4);
      a += 3;
      b += 3;
    } while (--groups);
    total += bl_i_bytesum(bytes);
  }
  while (n > 0) {
    uint32_t x = a[0] ^ b[0];
    if (m) x &= *m++;
    total += bl_i_popc_swar(x);
    a++;
    b++;
    n--;
  }
  return total;
}

#if BL_ARM_ASM
/* counts[c] (+)= popcount(patch[off, off+len) XOR filter c [off, off+len)) for nch (<= 32)
 * filters of wpf words, by the assembly routines: a single call when the whole filter is 6..30
 * words in 6-word steps (3x3x64: 18), otherwise slices of up to 30 words in 3-word steps, and
 * the last 0..2 words in C. */
static inline void bl_i_arm_counts(const uint32_t *patch, const uint32_t *w, size_t wpf,
                                   size_t off, size_t len, uint32_t nch, uint32_t *counts,
                                   int set)
{
  const size_t end = off + len;
  size_t k;
  uint32_t c;
  if (set) {
    if (off == 0 && len == wpf && wpf % 6 == 0 && wpf <= 30) {
      bl_i_arm_counts_set(patch, w, counts, nch, (uint32_t)(wpf / 6));
      return;
    }
    memset(counts, 0, nch * sizeof(uint32_t));
  }
  while (end - off >= 3) {
    const size_t left = end - off, chunk = left >= 30 ? 30 : left - left % 3;
    bl_i_arm_counts_add(patch + off, w + off, counts, nch, (uint32_t)(chunk / 6),
                        (uint32_t)(chunk % 6 != 0), (uint32_t)(wpf - chunk));
    off += chunk;
  }
  /* The last one or two words (a 1x1 layer on 64 channels has only two): a pair shares the
   * byte stage of one count, about 20 instructions per filter instead of 30. */
  if (end - off == 2) {
    const uint32_t p0 = patch[off], p1 = patch[off + 1];
    for (c = 0, k = off; c < nch; c++, k += wpf) counts[c] += bl_i_popc2(p0 ^ w[k], p1 ^ w[k + 1]);
  } else if (end - off == 1) {
    const uint32_t p0 = patch[off];
    for (c = 0, k = off; c < nch; c++, k += wpf) counts[c] += bl_i_popc_swar(p0 ^ w[k]);
  }
}
#endif

#if BL_X86_DISPATCH
/* Same sum with the POPCNT instruction, 64 bits at a time. Only call it from a function marked
 * BL_TARGET_POPCNT (then __builtin_popcountll is a single instruction). */
BL_INLINE uint32_t bl_i_xorpop_hw(const uint32_t *a, const uint32_t *b, const uint32_t *m,
                                  size_t n)
{
  uint64_t total = 0;
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    x ^= y;
    if (m) {
      memcpy(&y, m + i, 8);
      x &= y;
    }
    total += (uint64_t)__builtin_popcountll(x);
  }
  if (i < n) {
    uint32_t x = a[i] ^ b[i];
    if (m) x &= m[i];
    total += (uint64_t)__builtin_popcount(x);
  }
  return (uint32_t)total;
}
#endif

/* Word fill. The volatile store keeps gcc from turning the loop into a memset call: newlib's
 * size-optimised memset stores one byte at a time (20x slower on Cortex-M4). */
BL_INLINE void bl_i_fill_words(uint32_t *d, size_t n, uint32_t v)
{
  volatile uint32_t *p = d;
  size_t i;
  for (i = 0; i < n; i++) p[i] = v;
}

/* ---- Bit streams --------------------------------------------------------------------------*/
BL_INLINE uint32_t bl_i_getbit(const uint32_t *s, size_t i)
{
  return (s[i >> 5] >> (i & 31u)) & 1u;
}

BL_INLINE void bl_i_setbit(uint32_t *s, size_t i, uint32_t bit)
{
  uint32_t w = s[i >> 5] & ~(1u << (i & 31u));
  s[i >> 5] = w | (bit << (i & 31u));
}

/* Reads n (1..32) bits starting at bit index pos. Never touches a word that holds none of them
 * (the last input word may be the last word of the buffer). */
BL_INLINE uint32_t bl_i_readbits(const uint32_t *s, size_t pos, uint32_t n)
{
  size_t w = pos >> 5;
  uint32_t sh = (uint32_t)(pos & 31u);
  uint32_t v = s[w] >> sh;
  if (sh != 0 && sh + n > 32) v |= s[w + 1] << (32 - sh);
  if (n < 32) v &= (1u << n) - 1u;
  return v;
}

/* ORs the n (1..32) low bits of v into d at bit index pos (the target bits must be 0). */
BL_INLINE void bl_i_orbits(uint32_t *d, size_t pos, uint32_t v, uint32_t n)
{
  size_t w = pos >> 5;
  uint32_t sh = (uint32_t)(pos & 31u);
  d[w] |= v << sh;
  if (sh != 0 && sh + n > 32) d[w + 1] |= v >> (32 - sh);
}

/* Copies n bits from src (bit index spos) into zeroed bits of dst (bit index dpos). */
BL_INLINE void bl_i_copybits(uint32_t *dst, size_t dpos, const uint32_t *src, size_t spos,
                             size_t n)
{
  while (n > 0) {
    uint32_t take = n < 32 ? (uint32_t)n : 32u;
    bl_i_orbits(dst, dpos, bl_i_readbits(src, spos, take), take);
    dpos += take;
    spos += take;
    n -= take;
  }
}

/* Sets n bits of dst starting at bit index dpos (the target bits must be 0). */
BL_INLINE void bl_i_fillbits(uint32_t *dst, size_t dpos, size_t n)
{
  while (n > 0) {
    uint32_t take = n < 32 ? (uint32_t)n : 32u;
    bl_i_orbits(dst, dpos, take == 32 ? 0xffffffffu : ((1u << take) - 1u), take);
    dpos += take;
    n -= take;
  }
}

/* Sequential writer of an s1 stream: bits are collected in a register and stored a whole word at
 * a time; bl_i_bw_flush stores the last partial word with its spare bits 0. */
typedef struct {
  uint32_t *p;
  uint32_t cur;
  uint32_t pos;
} bl_i_bitwriter;

BL_INLINE void bl_i_bw_put(bl_i_bitwriter *w, uint32_t bit)
{
  w->cur |= bit << w->pos;
  if (++w->pos == 32) {
    *w->p++ = w->cur;
    w->cur = 0;
    w->pos = 0;
  }
}

/* Appends the n (1..32) low bits of v (higher bits of v must be 0). */
BL_INLINE void bl_i_bw_putn(bl_i_bitwriter *w, uint32_t v, uint32_t n)
{
  w->cur |= v << w->pos;
  if (w->pos + n >= 32) {
    *w->p++ = w->cur;
    w->cur = w->pos ? v >> (32 - w->pos) : 0u;
    w->pos = w->pos + n - 32;
  } else {
    w->pos += n;
  }
}

BL_INLINE void bl_i_bw_init(bl_i_bitwriter *w, void *out)
{
  w->p = (uint32_t *)out;
  w->cur = 0;
  w->pos = 0;
}

BL_INLINE void bl_i_bw_flush(bl_i_bitwriter *w)
{
  if (w->pos != 0) {
    *w->p++ = w->cur;
    w->cur = 0;
    w->pos = 0;
  }
}

/* ---- Output stage -------------------------------------------------------------------------
 * y = v * mul + add with both roundings (mul/add missing = 1/0, applied literally so that
 * -0.0 + 0.0 = +0.0 exactly as the definition says), the second step likewise when present, then
 * the clamp. The clamp uses comparisons: a NaN passes through unchanged. */
BL_INLINE float bl_i_affine_clamp(const bl_output *o, int32_t c, float v)
{
  float y = v * (o->mul ? o->mul[c] : 1.0f);
  y = y + (o->add ? o->add[c] : 0.0f);
  if (o->mid_clamp) {
    if (y < o->mid_min) y = o->mid_min;
    if (y > o->mid_max) y = o->mid_max;
  }
  if (o->mul2 || o->add2) {
    y = y * (o->mul2 ? o->mul2[c] : 1.0f);
    y = y + (o->add2 ? o->add2[c] : 0.0f);
  }
  if (y < o->act_min) y = o->act_min;
  if (y > o->act_max) y = o->act_max;
  return y;
}

/* tf.round without libm: below 2^23, adding and subtracting 2^23 rounds to an integer in the
 * current (nearest, ties to even) mode; from 2^23 on every float is an integer. The sign is
 * put back from the bits so that -0.3 gives -0 as in TensorFlow. */
BL_INLINE float bl_i_round_half_even(float v)
{
  const float big = 8388608.0f;
  uint32_t bits;
  float a = v < 0.0f ? -v : v;
  if (!(a < big)) return v; /* integers, infinities and NaN */
  a = (a + big) - big;
  memcpy(&bits, &v, sizeof bits);
  return (bits >> 31) ? -a : a;
}

#if BL_ARM_ASM && defined(__ARM_FP)
/* The nearest int32 to v, ties to even: VCVTR rounds with FPSCR's mode, which is round to
 * nearest, ties to even at reset (every float kernel's result assumes that mode). A NaN gives
 * 0; values beyond int32 saturate. */
BL_INLINE int32_t bl_i_cvtr(float v)
{
  float r;
  int32_t i;
  __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(v));
  memcpy(&i, &r, sizeof i);
  return i;
}
#endif

/* BL_OUT_S8: round(y * s8_mul) clamped to [s8_min, s8_max]; NaN gives 0. The bounds are
 * integers, so clamping first gives the same result; a value within +-2^22 then rounds half to
 * even by adding and subtracting 1.5 * 2^23 (the sum has a unit last place). */
BL_INLINE int8_t bl_i_s8_round(float v, float lo, float hi)
{
  if (v != v) return 0;
  v = v < lo ? lo : (v > hi ? hi : v);
  v = (v + 12582912.0f) - 12582912.0f;
  return (int8_t)(int32_t)v;
}
BL_INLINE int8_t bl_i_s8_of(const bl_output *o, float y)
{
  return bl_i_s8_round(y * o->s8_mul, (float)o->s8_min, (float)o->s8_max);
}

/* A BL_OUT_S8 stage in loop-friendly form: one or two affine steps (a scale or bias, then the
 * folded BatchNorm), no mid clamp, an activation clamp that changes no output (its bounds times
 * s8_mul lie beyond the s8 bounds: y < act_min gives y * m <= act_min * m <= s8_min either way,
 * rounding being monotone, with m > 0), and s8 bounds that hold 0, so a NaN, which gives 0,
 * needs no test of its own on Cortex-M. A missing factor is read as the literal 1 or 0 of the
 * general stage through a zero stride. Anything else takes bl_i_emit_i8(_fast). */
typedef struct {
  const float *mul, *add, *mul2, *add2;
  int32_t ms, as, m2s, a2s, two;
  float m;
  int32_t lo, hi;
} bl_i_s8_stage;

BL_INLINE int bl_i_s8_stage_init(const bl_output *o, bl_i_s8_stage *s)
{
  static const float one = 1.0f, zero = 0.0f;
  s->mul = o->mul ? o->mul : &one;
  s->add = o->add ? o->add : &zero;
  s->mul2 = o->mul2 ? o->mul2 : &one;
  s->add2 = o->add2 ? o->add2 : &zero;
  s->ms = o->mul ? 1 : 0;
  s->as = o->add ? 1 : 0;
  s->m2s = o->mul2 ? 1 : 0;
  s->a2s = o->add2 ? 1 : 0;
  s->two = o->mul2 || o->add2;
  s->m = o->s8_mul;
  s->lo = o->s8_min;
  s->hi = o->s8_max;
  /* Filled either way: compilers cannot see that a 0 here keeps the fields unread. */
  return o->kind == BL_OUT_S8 && !o->mid_clamp && o->s8_mul > 0.0f && o->s8_min <= 0 && o->s8_max >= 0 &&
         o->act_min * o->s8_mul <= (float)o->s8_min && o->act_max * o->s8_mul >= (float)o->s8_max;
}

/* One value of such a stage from its channel's factors: the operations of the general path
 * (bl_i_affine_clamp, then bl_i_s8_of). Scalars, so that a caller keeping them in locals does
 * not reload them after every int8 store (a char store may alias any object). */
BL_INLINE int8_t bl_i_s8_value(int32_t acc, float mul, float add, int two, float mul2, float add2, float m,
                               int32_t lo, int32_t hi)
{
  float v = (float)acc * mul;
  v = v + add;
  if (two) {
    v = v * mul2;
    v = v + add2;
  }
  v = v * m;
#if BL_ARM_ASM && defined(__ARM_FP)
  {
    const int32_t q = bl_i_cvtr(v); /* a NaN gives 0, which lo <= 0 <= hi keeps */
    return (int8_t)(q < lo ? lo : (q > hi ? hi : q));
  }
#else
  return bl_i_s8_round(v, (float)lo, (float)hi);
#endif
}

/* The commonest such stage: one affine step with both factors (a folded BatchNorm) and the full
 * int8 range, so that the clamp is one SSAT on Cortex-M. */
BL_INLINE int bl_i_s8_stage_unit(const bl_i_s8_stage *s)
{
  return s->ms && s->as && !s->two && s->lo == -128 && s->hi == 127;
}
/* round(v) clamped to the full int8 range (NaN: 0): SSAT on Cortex-M. */
BL_INLINE int8_t bl_i_s8_full(float v)
{
#if BL_ARM_ASM && defined(__ARM_FP)
  return (int8_t)__builtin_arm_ssat(bl_i_cvtr(v), 8); /* VCVTR gives 0 for a NaN */
#else
  return bl_i_s8_round(v, -128.0f, 127.0f);
#endif
}
BL_INLINE int8_t bl_i_s8_unit(int32_t acc, float mul, float add, float m)
{
  float v = (float)acc * mul;
  v = v + add;
  return bl_i_s8_full(v * m);
}

/* The int8 layers' own stage: the sum's scale 1/(L*m) as the first step (no add: the literal
 * + 0 of the general stage is kept), the folded BatchNorm as the second, the full int8 range. */
BL_INLINE int bl_i_s8_stage_unit2(const bl_i_s8_stage *s)
{
  return s->ms && !s->as && s->two && s->m2s && s->a2s && s->lo == -128 && s->hi == 127;
}
BL_INLINE int8_t bl_i_s8_unit2(int32_t acc, float mul, float mul2, float add2, float m)
{
  float v = (float)acc * mul;
  v = v + 0.0f;
  v = v * mul2;
  v = v + add2;
  return bl_i_s8_full(v * m);
}

BL_INLINE int8_t bl_i_s8_stage_of(const bl_i_s8_stage *s, int32_t c, int32_t acc)
{
  return bl_i_s8_value(acc, s->mul[c * s->ms], s->add[c * s->as], s->two, s->two ? s->mul2[c * s->m2s] : 1.0f,
                       s->two ? s->add2[c * s->a2s] : 0.0f, s->m, s->lo, s->hi);
}

/* Integer kernels, binary output: flip[c] ? d > t : d < t. */
BL_INLINE uint32_t bl_i_int_bit(const bl_output *o, int32_t c, int32_t d)
{
  int32_t t = o->threshold[c];
  if (o->flip && ((o->flip[c >> 5] >> (c & 31)) & 1u)) return d > t ? 1u : 0u;
  return d < t ? 1u : 0u;
}

/* Emits output channel c of the current pixel for an integer kernel. */
BL_INLINE void bl_i_emit_int(const bl_output *o, int32_t c, int32_t d, float *fout,
                             bl_i_bitwriter *bw)
{
  if (o->kind == BL_OUT_BITS)
    bl_i_bw_put(bw, bl_i_int_bit(o, c, d));
  else
    fout[c] = bl_i_affine_clamp(o, c, (float)d);
}

/* Emits output channel c of the current pixel for an int8 kernel: the BL_OUT_S8 stage, or an
 * integer kernel's f32 / bit output. */
BL_INLINE void bl_i_emit_i8(const bl_output *o, int32_t c, int32_t acc, float *fout, int8_t *qout,
                            bl_i_bitwriter *bw)
{
  if (o->kind == BL_OUT_S8)
    qout[c] = bl_i_s8_of(o, bl_i_affine_clamp(o, c, (float)acc));
  else
    bl_i_emit_int(o, c, acc, fout, bw);
}

/* bl_i_s8_round for the optimized kernels: on Cortex-M with an FPU, VCVTR rounds (FPSCR's
 * nearest-even mode, as every float kernel assumes) and the clamp is on the integer, which is
 * the same result (rounding is monotone, the bounds are integers); a NaN, which VCVTR makes 0,
 * is tested only when 0 lies outside the bounds. The reference twins keep bl_i_s8_round. */
BL_INLINE int8_t bl_i_s8_round_fast(float v, int32_t lo, int32_t hi)
{
#if BL_ARM_ASM && defined(__ARM_FP)
  int32_t q;
  if ((lo > 0 || hi < 0) && v != v) return 0;
  q = bl_i_cvtr(v);
  return (int8_t)(q < lo ? lo : (q > hi ? hi : q));
#else
  return bl_i_s8_round(v, (float)lo, (float)hi);
#endif
}

/* bl_i_emit_i8 for the optimized kernels (and the binary ones' int8 output): the same values,
 * rounded by bl_i_s8_round_fast. */
BL_INLINE void bl_i_emit_i8_fast(const bl_output *o, int32_t c, int32_t acc, float *fout, int8_t *qout,
                                 bl_i_bitwriter *bw)
{
  if (o->kind == BL_OUT_S8)
    qout[c] = bl_i_s8_round_fast(bl_i_affine_clamp(o, c, (float)acc) * o->s8_mul, o->s8_min, o->s8_max);
  else
    bl_i_emit_int(o, c, acc, fout, bw);
}

/* Emits output channel c of the current pixel for a float-accumulating kernel. */
BL_INLINE void bl_i_emit_f32(const bl_output *o, int32_t c, float acc, float *fout,
                             bl_i_bitwriter *bw)
{
  float y = bl_i_affine_clamp(o, c, acc);
  if (o->kind == BL_OUT_BITS)
    bl_i_bw_put(bw, y < 0.0f ? 1u : 0u);
  else
    fout[c] = y;
}

/* Bit outputs of a float-accumulating kernel as one comparison per value. With finite nonzero
 * scales and finite offsets (both affine steps), bit(acc) = clamp(stage(acc)) < 0 is monotone
 * in acc (each rounding is monotone): a run of 1s then of 0s along the floats, or the reverse. bl_i_fthr_init finds the boundary by bisection
 * over the ordered floats, evaluating the stage itself, so the comparison reproduces
 * bl_i_emit_f32 bit for bit (NaN gives 0 on both: every comparison with NaN is false). Any
 * other stage keeps the general path (mode BL_I_FTHR_STAGE). */
typedef enum {
  BL_I_FTHR_STAGE = 0, /* evaluate the stage */
  BL_I_FTHR_LT = 1,    /* s * acc < u */
  BL_I_FTHR_NUM = 2,   /* every non-NaN acc */
  BL_I_FTHR_NONE = 3   /* never */
} bl_i_fthr_mode;

/* Both directions as one strict comparison: acc < t is (+1) * acc < t, and acc >= t is
 * (-1) * acc < u with u the float after -t (negation is exact, NaN stays NaN). */
typedef struct {
  float s, u;
  int32_t mode;
} bl_i_fthr;

void bl_i_fthr_init(const bl_output *o, int32_t c, bl_i_fthr *th);

BL_INLINE uint32_t bl_i_fthr_bit(const bl_output *o, int32_t c, const bl_i_fthr *th, float acc)
{
  switch (th->mode) {
  case BL_I_FTHR_LT: return th->s * acc < th->u;
  case BL_I_FTHR_NUM: return acc == acc;
  case BL_I_FTHR_NONE: return 0u;
  default: return bl_i_affine_clamp(o, c, acc) < 0.0f ? 1u : 0u;
  }
}

/* Whether all n channels take the single comparison. */
BL_INLINE int bl_i_fthr_all_lt(const bl_i_fthr *th, int32_t n)
{
  int32_t c;
  for (c = 0; c < n; c++)
    if (th[c].mode != BL_I_FTHR_LT) return 0;
  return 1;
}

/* Bit outputs of channels 0..n-1 of one pixel from acc[c] through the comparisons th[c]
 * (bl_i_fthr_init; all_lt: bl_i_fthr_all_lt), 32 bits per bitwriter call. */
BL_INLINE void bl_i_emit_bits_row(const bl_output *o, const bl_i_fthr *th, int all_lt,
                                  const float *acc, int32_t n, bl_i_bitwriter *bw)
{
  int32_t c = 0;
  while (c < n) {
    const int32_t end = n - c < 32 ? n : c + 32;
    uint32_t word = 0, k = 0;
    if (all_lt)
      for (; c < end; c++, k++) word |= (uint32_t)(th[c].s * acc[c] < th[c].u) << k;
    else
      for (; c < end; c++, k++) word |= bl_i_fthr_bit(o, c, th + c, acc[c]) << k;
    bl_i_bw_putn(bw, word, k);
  }
}

/* Emits channels 0..n-1 of one pixel of a float-accumulating kernel (acc[c]), as n calls of
 * bl_i_emit_f32 would, with the output stage's pointers and bounds held in locals (stores
 * through fout cannot change them) and bits collected in a register, 32 per bitwriter call. */
BL_INLINE void bl_i_emit_f32_row(const bl_output *o, const float *acc, int32_t n, float *fout,
                                 bl_i_bitwriter *bw)
{
  /* a missing mul/add reads a constant 1/0 through a zero index step: the same literal
   * multiplication and addition bl_i_affine_clamp does */
  static const float one = 1.0f, zero = 0.0f;
  const float *mul = o->mul ? o->mul : &one, *add = o->add ? o->add : &zero;
  const int32_t ms = o->mul ? 1 : 0, as = o->add ? 1 : 0;
  const float lo = o->act_min, hi = o->act_max;
  const int plain = !o->mul2 && !o->add2 && !o->mid_clamp;
  int32_t c = 0;
  if (o->kind == BL_OUT_BITS) {
    while (c < n) {
      const int32_t end = n - c < 32 ? n : c + 32;
      uint32_t word = 0, k = 0;
      if (plain) {
        for (; c < end; c++, k++) {
          float y = acc[c] * mul[c * ms];
          y = y + add[c * as];
          if (y < lo) y = lo;
          if (y > hi) y = hi;
          word |= (uint32_t)(y < 0.0f) << k;
        }
      } else {
        for (; c < end; c++, k++) word |= (uint32_t)(bl_i_affine_clamp(o, c, acc[c]) < 0.0f) << k;
      }
      bl_i_bw_putn(bw, word, k);
    }
  } else if (plain) {
    for (; c < n; c++) {
      float y = acc[c] * mul[c * ms];
      y = y + add[c * as];
      if (y < lo) y = lo;
      if (y > hi) y = hi;
      fout[c] = y;
    }
  } else {
    for (; c < n; c++) fout[c] = bl_i_affine_clamp(o, c, acc[c]);
  }
}

/* ---- Parameter checks (common.c) ----------------------------------------------------------*/
/* Geometry sanity: positive sizes, strides, dilations; non-negative pads. */
int bl_i_geom_ok(const bl_conv_geom *g);
/* Output stage sanity for out_c channels; integer = 1 for integer kernels (threshold needed). */
int bl_i_output_ok(const bl_output *o, int integer);
/* int8 kernels: at most 2^16 products of at most 128 * 128 per sum and |acc_init| < 2^30 keep
 * the int32 accumulator below 2^31. */
#define BL_I8_MAX_TERMS 65536
/* The output stage (BL_OUT_S8 bounds within int8, or an integer kernel's) and the accumulator
 * offsets (NULL or n values within +-(2^30 - 1)) of an int8 kernel. */
int bl_i_i8_output_ok(const bl_output *o, const int32_t *acc_init, int32_t n);
/* The number of groups of a grouped conv (0 read as 1), or 0 when `groups` is negative or does
 * not divide both channel counts. */
BL_INLINE int32_t bl_i_groups(const bl_conv_geom *g, int32_t groups)
{
  if (groups == 0) groups = 1;
  if (groups < 0 || g->in_c % groups != 0 || g->out_c % groups != 0) return 0;
  return groups;
}

/* First and one-past-last output index whose whole window lies inside [0, in) along one axis:
 * out index i reads input positions i*stride - pad + t*dil for t = 0..k-1. */
void bl_i_interior(int32_t in, int32_t out, int32_t k, int32_t stride, int32_t dil, int32_t pad,
                   int32_t *lo, int32_t *hi);

#endif /* BL_INTERNAL_H */
