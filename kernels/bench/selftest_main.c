/* On-target property test (Cortex-M4/M7 under QEMU): the assembly popcount paths only exist on
 * ARMv7E-M, so random layers are checked here, optimized == reference, for binary conv2d (all
 * pad modes, both output kinds, aligned and unaligned channels) and binary dense. Also: bl_expf
 * and bl_tanhf give bit for bit the host's results (checksums over fixed inputs, the same
 * numbers tests/unit/kernels_mathf_test.cpp checks on the host). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bitlens/bl_kernels.h"

extern void initialise_monitor_handles(void);

static uint32_t rng_state = 2024u;
static uint32_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
static int32_t uni(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static uint32_t in_bits[4096], w_bits[40000], out_a[8192], out_b[8192], scratch[4096];
static uint32_t bs_scratch[16384];
static int bs_cases, bconv_s8_cases, bconv_res_cases;
static float res_f[8192];
static int32_t thr[256];
static uint32_t flip[8];
static float mul[256], add[256], mul2[256], add2[256];

/* TF "same" or "valid" geometry along one axis; returns 0 if valid leaves no output. */
static int axis(int32_t in, int32_t k, int32_t s, int32_t d, int same, int32_t *out, int32_t *pad)
{
  const int32_t eff = (k - 1) * d + 1;
  if (same) {
    int32_t total;
    *out = (in + s - 1) / s;
    total = (*out - 1) * s + eff - in;
    *pad = total > 0 ? total / 2 : 0;
    return 1;
  }
  if (in < eff) return 0;
  *out = (in - eff) / s + 1;
  *pad = 0;
  return 1;
}

static void random_bits(uint32_t *dst, size_t n)
{
  size_t i;
  for (i = 0; i < (n + 31) / 32; i++) dst[i] = rnd();
  if (n % 32) dst[n / 32] &= (1u << (n % 32)) - 1u;
}

static void random_output(bl_output *o, int32_t c, int32_t n)
{
  int32_t i;
  memset(o, 0, sizeof *o);
  o->kind = (rnd() & 1) ? BL_OUT_BITS : BL_OUT_F32;
  o->act_min = -1e30f;
  o->act_max = 1e30f;
  for (i = 0; i < c; i++) {
    thr[i] = uni(-n - 2, n + 2);
    mul[i] = (float)uni(-200, 200) / 100.0f;
    add[i] = (float)uni(-100, 100);
    mul2[i] = (float)uni(-300, 300) / 100.0f;
    add2[i] = (float)uni(-300, 300) / 100.0f;
  }
  o->threshold = thr;
  if (rnd() & 1) {
    random_bits(flip, (size_t)c);
    o->flip = flip;
  }
  if (rnd() & 1) o->mul = mul;
  if (rnd() & 1) o->add = add;
  if ((rnd() & 3) == 0) {
    o->act_min = 0.0f;
    o->act_max = 6.0f;
  }
  /* a second affine step (a bias or scale, then the BatchNorm) on a quarter of the stages */
  if ((rnd() & 3) == 0) {
    o->mul2 = mul2;
    if (rnd() & 1) o->add2 = add2;
  }
}

static size_t out_bytes(const bl_output *o, size_t elems)
{
  return o->kind == BL_OUT_BITS ? (elems + 31) / 32 * 4 : o->kind == BL_OUT_S8 ? elems : elems * 4;
}

/* A binary 1x1 (or 1x2) layer on 1..4 words of channels with int8 output over the full int8
 * range, one affine step with both factors: the shape of st_resnet_8_hybrid's binary 1x1
 * layers, which bl_bconv2d runs on a path of its own (2 or 4 words); zero padding borders
 * (1x2) take the masked or run-list path. */
static int bconv_s8_case(int t)
{
  bl_bconv2d_params p;
  bl_conv_geom *g = &p.g;
  size_t elems, wpf, i;
  memset(&p, 0, sizeof p);
  g->in_h = uni(1, 8);
  g->in_w = uni(1, 8);
  g->in_c = (rnd() & 1) ? 32 * uni(1, 4) : uni(1, 128);
  g->out_c = uni(1, 70);
  g->k_h = 1;
  g->k_w = (rnd() % 4) ? 1 : 2;
  g->stride_h = g->stride_w = 1;
  g->dil_h = g->dil_w = 1;
  if (!axis(g->in_h, g->k_h, 1, 1, 1, &g->out_h, &g->pad_top)) return 0;
  if (!axis(g->in_w, g->k_w, 1, 1, 1, &g->out_w, &g->pad_left)) return 0;
  wpf = ((size_t)g->k_h * g->k_w * (size_t)g->in_c + 31) / 32;
  elems = (size_t)g->out_h * g->out_w * g->out_c;
  p.pad = (bl_bpad)(rnd() % 3);
  random_bits(in_bits, (size_t)g->in_h * g->in_w * g->in_c);
  for (i = 0; i < (size_t)g->out_c; i++) random_bits(w_bits + i * wpf, (size_t)g->k_h * g->k_w * (size_t)g->in_c);
  p.weights = w_bits;
  random_output(&p.out, g->out_c, g->k_h * g->k_w * g->in_c);
  p.out.kind = BL_OUT_S8;
  p.out.mul = mul;
  p.out.add = add;
  p.out.mul2 = p.out.add2 = NULL;
  p.out.act_min = -1e30f;
  p.out.act_max = 1e30f;
  p.out.s8_mul = (float)uni(1, 255) / (float)(g->k_w * g->in_c);
  p.out.s8_min = -128;
  p.out.s8_max = 127;
  if (bl_bconv2d_scratch_size(&p) > sizeof scratch) return 0;
  memset(out_a, 0x5a, sizeof out_a);
  memset(out_b, 0xa5, sizeof out_b);
  if (bl_bconv2d(&p, in_bits, out_a, scratch) != BL_OK || bl_bconv2d_ref(&p, in_bits, out_b) != BL_OK ||
      memcmp(out_a, out_b, elems) != 0) {
    printf("bconv2d int8 1x1 MISMATCH case %d: in %ldx%ldx%ld out_c %ld k 1x%ld pad %d\n", t, (long)g->in_h,
           (long)g->in_w, (long)g->in_c, (long)g->out_c, (long)g->k_w, (int)p.pad);
    return 1;
  }
  return 0;
}

/* Binary depthwise (depth multiplier 1..2), whole words of channels half of the time, where bit
 * output compares 32 channels at once with thresholds around the attainable sums. */
static int bdepthwise_case(int t)
{
  bl_bdepthwise_params p;
  bl_conv_geom *g = &p.g;
  size_t elems, cw, i;
  int32_t taps;
  memset(&p, 0, sizeof p);
  for (;;) {
    const int same = (int)(rnd() & 1);
    g->in_h = uni(1, 10);
    g->in_w = uni(1, 10);
    g->in_c = (rnd() & 1) ? 32 * uni(1, 3) : uni(1, 80);
    p.depth_multiplier = (rnd() % 4) ? 1 : 2;
    g->out_c = g->in_c * p.depth_multiplier;
    g->k_h = uni(1, 3);
    g->k_w = uni(1, 5);
    g->stride_h = uni(1, 2);
    g->stride_w = uni(1, 2);
    g->dil_h = g->dil_w = 1;
    if (!axis(g->in_h, g->k_h, g->stride_h, 1, same, &g->out_h, &g->pad_top)) continue;
    if (!axis(g->in_w, g->k_w, g->stride_w, 1, same, &g->out_w, &g->pad_left)) continue;
    elems = (size_t)g->out_h * g->out_w * g->out_c;
    if (elems <= 8192) break;
  }
  taps = g->k_h * g->k_w;
  cw = ((size_t)g->in_c + 31) / 32;
  p.pad = (bl_bpad)(rnd() % 3);
  random_bits(in_bits, (size_t)g->in_h * g->in_w * g->in_c);
  for (i = 0; i < (size_t)(p.depth_multiplier * taps); i++) random_bits(w_bits + i * cw, (size_t)g->in_c);
  p.weights = w_bits;
  random_output(&p.out, g->out_c, taps);
  if (p.out.kind == BL_OUT_BITS && (rnd() & 1))
    for (i = 0; i < (size_t)g->out_c; i++) thr[i] = (rnd() % 16 == 0) ? (int32_t)0x7fffffff : uni(-taps - 3, taps + 3);
  if (bl_bdepthwise_scratch_size(&p) > sizeof scratch) return 0;
  memset(out_a, 0x5a, sizeof out_a);
  memset(out_b, 0xa5, sizeof out_b);
  if (bl_bdepthwise(&p, in_bits, out_a, scratch) != BL_OK || bl_bdepthwise_ref(&p, in_bits, out_b) != BL_OK ||
      memcmp(out_a, out_b, out_bytes(&p.out, elems)) != 0) {
    printf("bdepthwise MISMATCH case %d: in %ldx%ldx%ld mult %ld k %ldx%ld s %ld,%ld pad %d kind %d\n", t,
           (long)g->in_h, (long)g->in_w, (long)g->in_c, (long)p.depth_multiplier, (long)g->k_h, (long)g->k_w,
           (long)g->stride_h, (long)g->stride_w, (int)p.pad, (int)p.out.kind);
    return 1;
  }
  return 0;
}

static int conv_case(int t)
{
  bl_bconv2d_params p;
  bl_conv_geom *g = &p.g;
  size_t elems, wpf;
  int same;
  memset(&p, 0, sizeof p);
  for (;;) {
    static const int32_t aligned[] = {32, 64, 96, 128, 160, 192, 256};
    g->in_h = uni(1, 12);
    g->in_w = uni(1, 12);
    g->in_c = (rnd() % 3) ? aligned[rnd() % 7] : uni(1, 100);
    g->out_c = uni(1, 70);
    g->k_h = uni(1, 5);
    g->k_w = uni(1, 5);
    /* half of the layers stride 1, which the bit-sliced variant covers */
    g->stride_h = (rnd() % 2) ? 1 : uni(1, 3);
    g->stride_w = g->stride_h == 1 && (rnd() % 2) ? 1 : uni(1, 3);
    g->dil_h = uni(1, 2);
    g->dil_w = uni(1, 2);
    same = (rnd() % 4) != 0;
    /* a third of the layers grouped (BinaryFaceNet: groups = 4), aligned or not per group */
    p.groups = (rnd() % 3) == 0 ? uni(2, 4) : 1;
    if (g->in_c % p.groups != 0) p.groups = 1;
    g->out_c = p.groups * (g->out_c / p.groups > 0 ? g->out_c / p.groups : 1);
    if (!axis(g->in_h, g->k_h, g->stride_h, g->dil_h, same, &g->out_h, &g->pad_top)) continue;
    if (!axis(g->in_w, g->k_w, g->stride_w, g->dil_w, same, &g->out_w, &g->pad_left)) continue;
    wpf = ((size_t)g->k_h * g->k_w * (size_t)(g->in_c / p.groups) + 31) / 32;
    elems = (size_t)g->out_h * g->out_w * g->out_c;
    if ((size_t)g->in_h * g->in_w * g->in_c > 32 * 4096) continue;
    if (wpf * (size_t)g->out_c > 40000 || elems > 8192) continue;
    if (elems * wpf > 200000) continue;
    break;
  }
  p.pad = (bl_bpad)(rnd() % 3);
  random_bits(in_bits, (size_t)g->in_h * g->in_w * g->in_c);
  {
    int32_t o;
    for (o = 0; o < g->out_c; o++)
      random_bits(w_bits + (size_t)o * wpf, (size_t)g->k_h * g->k_w * (size_t)(g->in_c / p.groups));
  }
  p.weights = w_bits;
  random_output(&p.out, g->out_c, g->k_h * g->k_w * (g->in_c / p.groups));
  if (rnd() % 3 == 0) {
    /* int8 output (a folded quantizer): values of about -1..1 times up to 255 levels */
    p.out.kind = BL_OUT_S8;
    p.out.s8_mul = (float)uni(1, 255) / (float)(g->k_h * g->k_w * (g->in_c / p.groups));
    p.out.s8_min = uni(-128, 0);
    p.out.s8_max = (rnd() % 8) ? uni(0, 127) : uni(p.out.s8_min, 127);
    bconv_s8_cases++;
  } else if (p.out.kind == BL_OUT_F32 && rnd() % 3 == 0) {
    /* a residual (a folded Add; the bit-sliced variant refuses one and is skipped below) */
    size_t i;
    for (i = 0; i < elems; i++) res_f[i] = (float)uni(-4000, 4000) / 64.0f;
    p.out.residual = res_f;
    bconv_res_cases++;
  }
  if (bl_bconv2d_scratch_size(&p) > sizeof scratch) return 0;
  memset(out_a, 0x5a, sizeof out_a);
  memset(out_b, 0xa5, sizeof out_b);
  if (bl_bconv2d(&p, in_bits, out_a, scratch) != BL_OK || bl_bconv2d_ref(&p, in_bits, out_b) != BL_OK ||
      memcmp(out_a, out_b, out_bytes(&p.out, elems)) != 0) {
    printf("bconv2d MISMATCH case %d: in %ldx%ldx%ld out %ldx%ldx%ld k %ldx%ld s %ld,%ld d %ld,%ld "
           "pad %ld,%ld mode %d kind %d groups %ld\n",
           t, (long)g->in_h, (long)g->in_w, (long)g->in_c, (long)g->out_h, (long)g->out_w,
           (long)g->out_c, (long)g->k_h, (long)g->k_w, (long)g->stride_h, (long)g->stride_w,
           (long)g->dil_h, (long)g->dil_w, (long)g->pad_top, (long)g->pad_left, (int)p.pad,
           (int)p.out.kind, (long)p.groups);
    return 1;
  }
  /* The bit-sliced variant (stride 1, ungrouped) against the same reference output. */
  if (bl_bconv2d_bitsliced_scratch_size(&p) > 0 &&
      bl_bconv2d_bitsliced_scratch_size(&p) <= sizeof bs_scratch) {
    bs_cases++;
    memset(out_a, 0x5a, sizeof out_a);
    if (bl_bconv2d_bitsliced(&p, in_bits, out_a, bs_scratch) != BL_OK ||
        memcmp(out_a, out_b, out_bytes(&p.out, elems)) != 0) {
      printf("bconv2d_bitsliced MISMATCH case %d\n", t);
      return 1;
    }
  }
  return 0;
}

static int dense_case(int t)
{
  bl_bdense_params p;
  size_t wpo;
  int32_t o;
  memset(&p, 0, sizeof p);
  p.n_in = (rnd() & 1) ? 32 * uni(1, 60) : uni(1, 2000);
  p.n_out = uni(1, 70);
  wpo = ((size_t)p.n_in + 31) / 32;
  random_bits(in_bits, (size_t)p.n_in);
  for (o = 0; o < p.n_out; o++) random_bits(w_bits + (size_t)o * wpo, (size_t)p.n_in);
  p.weights = w_bits;
  random_output(&p.out, p.n_out, p.n_in);
  memset(out_a, 0x5a, sizeof out_a);
  memset(out_b, 0xa5, sizeof out_b);
  if (bl_bdense(&p, in_bits, out_a, NULL) != BL_OK || bl_bdense_ref(&p, in_bits, out_b) != BL_OK ||
      memcmp(out_a, out_b, out_bytes(&p.out, (size_t)p.n_out)) != 0) {
    printf("bdense MISMATCH case %d: n_in %ld n_out %ld kind %d\n", t, (long)p.n_in,
           (long)p.n_out, (int)p.out.kind);
    return 1;
  }
  return 0;
}

static int popcount_case(int t)
{
  size_t n = (size_t)uni(0, 200), i;
  uint32_t expect = 0;
  for (i = 0; i < n; i++) {
    uint32_t x;
    in_bits[i] = rnd();
    w_bits[i] = rnd();
    for (x = in_bits[i] ^ w_bits[i]; x; x &= x - 1) expect++;
  }
  if (bl_xor_popcount(in_bits, w_bits, n) != expect) {
    printf("xor_popcount MISMATCH case %d: n %lu\n", t, (unsigned long)n);
    return 1;
  }
  return 0;
}

/* Keep in sync with tests/unit/kernels_mathf_test.cpp (ChecksumMatchesTheFirmwareSelftest):
 * FNV-1a over the result bits of 4096 evenly spaced inputs in [-95.7, 16.3] and 4096 scattered
 * bit patterns with |x| in [2^-31, 128) for bl_expf, 4096 inputs in [-12, 12) for bl_tanhf. */
#define EXPF_CHECKSUM 0x6d179a6du
#define TANHF_CHECKSUM 0x0fd351e5u

static uint32_t fnv(uint32_t h, float y)
{
  uint32_t b;
  memcpy(&b, &y, sizeof b);
  return (h ^ b) * 16777619u;
}

static float scattered(uint32_t i)
{
  const uint32_t u = i * 0x9e3779b9u;
  const uint32_t b = (u & 0x80000000u) | (0x30000000u + (u & 0x7fffffffu) % 0x13000000u);
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* Keep in sync with tests/unit/kernels_activation_test.cpp (ChecksumMatchesTheFirmwareSelftest):
 * every bl_activation kind through bl_activate_f32 (alpha 0.3, max_value 2.5, threshold 0.5,
 * 3 PReLU slopes) on 1024 inputs in [-20, 20) and 1024 scattered ones, bl_log_softmax_f32 over
 * rows of 8, and bl_logf / bl_expm1f / bl_geluf on the scattered inputs. */
#define ACT_CHECKSUM 0x0aabff0du

static uint32_t act_checksum(void)
{
  static const float slopes[3] = {0.25f, -0.5f, 2.0f};
  static float x[2048], y[2048];
  uint32_t h = 2166136261u, i;
  int k;
  for (i = 0; i < 1024; i++) x[i] = (float)((int32_t)i - 512) * 0.0390625f;
  for (i = 0; i < 1024; i++) x[1024 + i] = scattered(i);
  for (k = 0; k <= (int)BL_ACT_LEAKY_TANH; k++) {
    bl_act a;
    memset(&a, 0, sizeof a);
    a.kind = (bl_activation)k;
    a.alpha = 0.3f;
    a.max_value = 2.5f;
    a.threshold = 0.5f;
    a.slopes = slopes;
    if (bl_activate_f32(2048, 3, &a, x, y) != BL_OK) return 0;
    for (i = 0; i < 2048; i++) h = fnv(h, y[i]);
  }
  if (bl_log_softmax_f32(2048, 8, x, y) != BL_OK) return 0;
  for (i = 0; i < 2048; i++) h = fnv(h, y[i]);
  for (i = 1024; i < 2048; i++) {
    h = fnv(h, bl_logf(x[i] < 0.0f ? -x[i] : x[i]));
    h = fnv(h, bl_expm1f(x[i]));
    h = fnv(h, bl_geluf(x[i]));
  }
  return h;
}

static int mathf_check(void)
{
  uint32_t he = 2166136261u, ht = 2166136261u, i;
  int fails = 0;
  for (i = 0; i < 4096; i++) he = fnv(he, bl_expf((float)((int32_t)i - 3500) * 0.02734375f));
  for (i = 0; i < 4096; i++) he = fnv(he, bl_expf(scattered(i)));
  for (i = 0; i < 4096; i++) ht = fnv(ht, bl_tanhf((float)((int32_t)i - 2048) * 0.005859375f));
  if (he != EXPF_CHECKSUM) {
    printf("bl_expf MISMATCH: checksum 0x%08lx, host 0x%08lx\n", (unsigned long)he,
           (unsigned long)EXPF_CHECKSUM);
    fails++;
  }
  if (ht != TANHF_CHECKSUM) {
    printf("bl_tanhf MISMATCH: checksum 0x%08lx, host 0x%08lx\n", (unsigned long)ht,
           (unsigned long)TANHF_CHECKSUM);
    fails++;
  }
  {
    const uint32_t ha = act_checksum();
    if (ha != ACT_CHECKSUM) {
      printf("activations MISMATCH: checksum 0x%08lx, host 0x%08lx\n", (unsigned long)ha,
             (unsigned long)ACT_CHECKSUM);
      fails++;
    }
  }
  return fails;
}

/* int8 conv and depthwise: random layers (channels multiples of 4 or not, every stride, dilation
 * and padding, pad value, accumulator offsets, all three output kinds); optimized == reference. */
static int8_t s8_in[4096], s8_w[40000], s8_out_a[8192], s8_out_b[8192];
static int32_t s8_init[256];

/* The spatial part of a random int8 layer whose channels the caller has set: 1-10 pixels,
 * kernel 1-4, stride and dilation 1-2, same or valid. 0 when the layer does not fit the buffers
 * (weights: per_tap bytes per kernel tap) or valid padding leaves no output. */
static int s8_spatial(bl_conv_geom *g, size_t per_tap)
{
  int same;
  g->in_h = uni(1, 10);
  g->in_w = uni(1, 10);
  g->k_h = uni(1, 4);
  g->k_w = uni(1, 4);
  g->stride_h = uni(1, 2);
  g->stride_w = uni(1, 2);
  g->dil_h = uni(1, 2);
  g->dil_w = uni(1, 2);
  same = (int)(rnd() & 1);
  if (!axis(g->in_h, g->k_h, g->stride_h, g->dil_h, same, &g->out_h, &g->pad_top) ||
      !axis(g->in_w, g->k_w, g->stride_w, g->dil_w, same, &g->out_w, &g->pad_left))
    return 0;
  return (size_t)g->in_h * g->in_w * g->in_c <= sizeof s8_in && (size_t)g->k_h * g->k_w * per_tap <= sizeof s8_w &&
         (size_t)g->out_h * g->out_w * g->out_c * 4 <= sizeof s8_out_a;
}

/* Random inputs, weights and offsets, an output stage of any kind for |acc| <= n (s8 outputs
 * scaled by 1/s8_div), a pad value and maybe offsets; returns the output's size in bytes. */
static size_t s8_data(const bl_conv_geom *g, int32_t n, float s8_div, bl_output *o, int32_t *pad,
                      const int32_t **init)
{
  size_t i, elems = (size_t)g->out_h * g->out_w * g->out_c;
  for (i = 0; i < sizeof s8_in; i++) s8_in[i] = (int8_t)(rnd() >> 24);
  for (i = 0; i < sizeof s8_w; i++) s8_w[i] = (int8_t)(rnd() >> 24);
  for (i = 0; i < (size_t)g->out_c; i++) s8_init[i] = uni(-100000, 100000);
  random_output(o, g->out_c, n);
  if (rnd() % 3 == 0) {
    o->kind = BL_OUT_S8;
    o->s8_mul = (float)uni(1, 200) / s8_div;
    o->s8_min = uni(-128, 0);
    o->s8_max = uni(0, 127);
    /* half of them the kernels' own paths for a folded BatchNorm over the full int8 range */
    if (rnd() & 1) {
      o->mul = mul;
      o->add = (rnd() & 1) ? add : NULL;
      if (!o->add) { /* the int8 layers' scale, then the BatchNorm */
        o->mul2 = mul2;
        o->add2 = add2;
      }
      o->s8_min = -128;
      o->s8_max = 127;
    }
  }
  *pad = (rnd() & 1) ? 0 : uni(-128, 127);
  *init = (rnd() & 1) ? s8_init : NULL;
  memset(s8_out_a, 0x5A, sizeof s8_out_a);
  memset(s8_out_b, 0x5A, sizeof s8_out_b);
  return o->kind == BL_OUT_S8 ? elems : out_bytes(o, elems);
}

static int s8_same(bl_status a, bl_status b, size_t bytes, const char *kernel, int t)
{
  if (a == BL_OK && b == BL_OK && memcmp(s8_out_a, s8_out_b, bytes) == 0) return 0;
  printf("%s MISMATCH case %d\n", kernel, t);
  return 1;
}

static int conv_s8_case(int t)
{
  bl_conv2d_s8_params p;
  bl_conv_geom *g = &p.g;
  size_t bytes;
  memset(&p, 0, sizeof p);
  do {
    g->in_c = (rnd() & 1) ? 4 * uni(1, 24) : uni(1, 40);
    g->out_c = uni(1, 40);
  } while (!s8_spatial(g, (size_t)g->in_c * g->out_c) || bl_conv2d_s8_scratch_size(&p) > sizeof scratch);
  bytes = s8_data(g, g->k_h * g->k_w * g->in_c * 128 * 128, 100000.0f, &p.out, &p.pad_value, &p.acc_init);
  p.weights = s8_w;
  return s8_same(bl_conv2d_s8(&p, s8_in, s8_out_a, scratch), bl_conv2d_s8_ref(&p, s8_in, s8_out_b), bytes,
                 "conv2d_s8", t);
}

/* The depthwise's SMLABB/SMLATT path runs here. */
static int depthwise_s8_case(int t)
{
  bl_depthwise_s8_params p;
  bl_conv_geom *g = &p.g;
  size_t bytes;
  memset(&p, 0, sizeof p);
  do {
    p.depth_multiplier = (rnd() % 4) ? 1 : uni(2, 3);
    g->in_c = (rnd() & 1) ? 4 * uni(1, 16) : uni(1, 40);
    g->out_c = g->in_c * p.depth_multiplier;
  } while (!s8_spatial(g, (size_t)g->out_c) || bl_depthwise_s8_scratch_size(&p) > sizeof scratch);
  bytes = s8_data(g, g->k_h * g->k_w * 128 * 128, 1000.0f, &p.out, &p.pad_value, &p.acc_init);
  p.weights = s8_w;
  return s8_same(bl_depthwise_s8(&p, s8_in, s8_out_a, scratch), bl_depthwise_s8_ref(&p, s8_in, s8_out_b), bytes,
                 "depthwise_s8", t);
}

/* bl_quantize_s8 (VCVTR and SSAT on Cortex-M) against its portable twin: ties, zeros of both
 * signs, NaN, infinities and huge values, for the quantizers BitLens uses. */
static int quantize_s8_case(int t)
{
  static float x[1024];
  static const struct {
    float lo, hi, levels;
    int32_t offset;
  } q[] = {{-1.0f, 127.0f / 128.0f, 128.0f, 0}, {0.0f, 1.0f, 255.0f, 128}, {0.0f, 1.0f, 15.0f, 0},
           {-1.0f, 7.0f / 8.0f, 8.0f, 0},       {0.25f, 1.0f, 100.0f, 0}};
  const size_t k = (size_t)t % (sizeof q / sizeof q[0]);
  const size_t n = (size_t)uni(1, 1024);
  size_t i;
  for (i = 0; i < n; i++) {
    const uint32_t r = rnd() % 8u;
    const float step = (float)uni(-300, 300);
    if (r == 0) x[i] = (step + 0.5f) / q[k].levels;
    else if (r == 1) x[i] = (i & 1) ? 0.0f : -0.0f;
    else if (r == 2) x[i] = (i & 1) ? 1e30f : -1e30f;
    else if (r == 3) x[i] = (i & 1) ? (float)INFINITY : -(float)INFINITY;
    else if (r == 4) x[i] = (float)NAN;
    else x[i] = ((float)(int32_t)rnd() / 2147483648.0f) * 2.0f;
  }
  memset(s8_out_a, 0x5A, sizeof s8_out_a);
  memset(s8_out_b, 0x5A, sizeof s8_out_b);
  return s8_same(bl_quantize_s8(n, q[k].lo, q[k].hi, q[k].levels, q[k].offset, x, s8_out_a),
                 bl_quantize_s8_ref(n, q[k].lo, q[k].hi, q[k].levels, q[k].offset, x, s8_out_b), n, "quantize_s8", t);
}

/* bl_add_s8 (QADD8 on Cortex-M) against its portable twin, the full range and narrower ones,
 * lengths that end inside a word, in place too. */
static int add_s8_case(int t)
{
  static int8_t a[1030], b[1030];
  const size_t n = (size_t)uni(0, 1027), off = (size_t)uni(0, 3);
  const int full = t % 2 == 0;
  const int32_t lo = full ? -128 : uni(-128, 0), hi = full ? 127 : uni(0, 127);
  size_t i;
  for (i = 0; i < sizeof a; i++) {
    a[i] = (int8_t)(rnd() >> 24);
    b[i] = (int8_t)(rnd() >> 24);
  }
  memset(s8_out_a, 0x5A, sizeof s8_out_a);
  memset(s8_out_b, 0x5A, sizeof s8_out_b);
  if (t % 5 == 1) { /* in place: out == a */
    memcpy(s8_out_a, a + off, n);
    memcpy(s8_out_b, a + off, n);
    return s8_same(bl_add_s8(n, s8_out_a, b, lo, hi, s8_out_a), bl_add_s8_ref(n, s8_out_b, b, lo, hi, s8_out_b), n,
                   "add_s8", t);
  }
  return s8_same(bl_add_s8(n, a + off, b, lo, hi, s8_out_a), bl_add_s8_ref(n, a + off, b, lo, hi, s8_out_b), n,
                 "add_s8", t);
}

int main(void)
{
  int t, fails = 0;
  initialise_monitor_handles();
  for (t = 0; t < 400; t++) fails += conv_case(t);
  for (t = 0; t < 300; t++) fails += dense_case(t);
  for (t = 0; t < 300; t++) fails += popcount_case(t);
  for (t = 0; t < 200; t++) fails += bconv_s8_case(t);
  for (t = 0; t < 200; t++) fails += bdepthwise_case(t);
  for (t = 0; t < 200; t++) fails += conv_s8_case(t);
  for (t = 0; t < 200; t++) fails += depthwise_s8_case(t);
  for (t = 0; t < 100; t++) fails += quantize_s8_case(t);
  for (t = 0; t < 100; t++) fails += add_s8_case(t);
  printf("selftest %s: %d failures in 2000 random cases (%d of them also bit-sliced, %d + 200 binary convs with int8 output, %d with a residual, "
         "200 binary depthwise, 200 int8 convs, 200 int8 depthwise, 100 int8 quantize, 100 int8 add)\n", BENCH_CPU, fails,
         bs_cases, bconv_s8_cases, bconv_res_cases);
  {
    const int mf = mathf_check();
    printf("selftest %s: bl_expf/bl_tanhf on 12288 inputs and every activation on 2048 %s the host's bits\n", BENCH_CPU,
           mf ? "do NOT match" : "match");
    fails += mf;
  }
  return fails != 0;
}
