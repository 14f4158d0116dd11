/* int8 convolution: exact int32 dot products of s8 inputs and s8 weights (k-bit DoReFa and
 * STCustomDoReFa layers), the reference from the definition and an optimized twin. Integer
 * sums are exact in any order, so both give the same accumulators bit for bit. */
#include "bl_internal.h"

/* With at most 2^16 taps * channels per filter (128 * 128 per product) and |acc_init| < 2^30,
 * |acc| stays below 2^31. */
#define S8_MAX_PATCH 65536
#define S8_MAX_INIT 1073741823

static int s8_output_ok(const bl_output *o)
{
  if (o->kind == BL_OUT_S8)
    return o->s8_min >= -128 && o->s8_max <= 127 && o->s8_min <= o->s8_max;
  return bl_i_output_ok(o, 1);
}

static int s8_ok(const bl_conv2d_s8_params *p, const int8_t *in, const void *out)
{
  int64_t patch;
  if (!p || !in || !out || !p->weights || !bl_i_geom_ok(&p->g) || !s8_output_ok(&p->out)) return 0;
  if (p->pad_value < -128 || p->pad_value > 127) return 0;
  patch = (int64_t)p->g.k_h * p->g.k_w * p->g.in_c;
  if (patch > S8_MAX_PATCH) return 0;
  if (p->acc_init) {
    int32_t c;
    for (c = 0; c < p->g.out_c; c++)
      if (p->acc_init[c] > S8_MAX_INIT || p->acc_init[c] < -S8_MAX_INIT) return 0;
  }
  return 1;
}

/* Channel c of one pixel: the int8 output stage, or the integer kernels' f32 / bit outputs. */
BL_INLINE void s8_emit(const bl_output *o, int32_t c, int32_t acc, float *fout, int8_t *qout,
                       bl_i_bitwriter *bw)
{
  if (o->kind == BL_OUT_S8)
    qout[c] = bl_i_s8_of(o, bl_i_affine_clamp(o, c, (float)acc));
  else
    bl_i_emit_int(o, c, acc, fout, bw);
}

bl_status bl_conv2d_s8_ref(const bl_conv2d_s8_params *p, const int8_t *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, oc, kh, kw, ci;
  if (!s8_ok(p, in, out)) return BL_ERR_PARAM;
  g = &p->g;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const size_t pix = (size_t)oh * (size_t)g->out_w + (size_t)ow;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + pix * (size_t)g->out_c : NULL;
      int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + pix * (size_t)g->out_c : NULL;
      for (oc = 0; oc < g->out_c; oc++) {
        int32_t acc = p->acc_init ? p->acc_init[oc] : 0;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            for (ci = 0; ci < g->in_c; ci++) {
              const int32_t x = inside ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                                (size_t)g->in_c + (size_t)ci]
                                       : p->pad_value;
              const int32_t w = p->weights[(((size_t)oc * (size_t)g->k_h + (size_t)kh) *
                                                (size_t)g->k_w + (size_t)kw) *
                                               (size_t)g->in_c + (size_t)ci];
              acc += x * w;
            }
          }
        }
        s8_emit(&p->out, oc, acc, fout, qout, &bw);
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- Optimized kernel -------------------------------------------------------------------------
 * Two output pixels at a time: each pixel's patch is gathered once as int16 (the padded taps
 * hold pad_value) and then multiplied with every filter, two filters at a time, so a weight
 * word and a patch word each feed two multiply-accumulates. On ARMv7E-M four weights (one
 * word) become two halfword pairs with SXTB16 (bytes 0 and 2) and SXTB16 of the word rotated by
 * 8 (bytes 1 and 3); the patches are stored to match, per group of four taps (x0, x2, x1, x3)
 * of the first pixel then of the second, so SMLAD adds two products per instruction and one
 * LDRD fetches a pixel's group: 16 MACs in 17 instructions plus the loop test. The last
 * patch % 4 taps follow the groups in natural order (first pixel, then second) and go through
 * a scalar loop. gcc spills the four accumulators of that loop, so on ARM it is an assembly
 * routine. */

/* Where tap k of pixel q is stored; full = the taps in whole groups of four. */
BL_INLINE size_t s8_slot(size_t k, size_t full, size_t q)
{
  if (k < full) return (k & ~(size_t)3) * 2 + q * 4 + (((k & 1u) << 1) | ((k >> 1) & 1u));
  return full * 2 + q * 4 + (k - full);
}

size_t bl_conv2d_s8_scratch_size(const bl_conv2d_s8_params *p)
{
  size_t patch;
  if (!p || !bl_i_geom_ok(&p->g)) return 0;
  patch = (size_t)p->g.k_h * (size_t)p->g.k_w * (size_t)p->g.in_c;
  return ((patch & ~(size_t)3) * 2 + 8) * sizeof(int16_t) + 2 * (size_t)p->g.out_c * sizeof(int32_t);
}

BL_INLINE uint32_t s8_load32(const void *p)
{
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Four int8 channels as the slot order's two halfword pairs (x0, x2) and (x1, x3). */
BL_INLINE void s8_widen4(const int8_t *x, int16_t *to)
{
#if BL_ARM_ASM
  const uint32_t v = s8_load32(x);
  const uint32_t lo = (uint32_t)__builtin_arm_sxtb16((int32_t)v);
  const uint32_t hi = (uint32_t)__builtin_arm_sxtb16((int32_t)((v >> 8) | (v << 24)));
  memcpy(to, &lo, 4);
  memcpy(to + 2, &hi, 4);
#else
  to[0] = x[0];
  to[1] = x[2];
  to[2] = x[1];
  to[3] = x[3];
#endif
}

/* The patch of output pixel (oh, ow) into slot q of col (zeros when valid == 0). */
static void s8_gather(const bl_conv2d_s8_params *p, const int8_t *in, int32_t oh, int32_t ow,
                      int valid, int16_t *col, size_t full, size_t q)
{
  const bl_conv_geom *g = &p->g;
  size_t k = 0;
  int32_t kh, kw, ci;
  for (kh = 0; kh < g->k_h; kh++) {
    const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    for (kw = 0; kw < g->k_w; kw++) {
      const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
      if (!valid) {
        for (ci = 0; ci < g->in_c; ci++, k++) col[s8_slot(k, full, q)] = 0;
      } else if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
        const int8_t *x = in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c;
        if ((g->in_c & 3) == 0) { /* the tap is whole groups: widen four channels at a time */
          for (ci = 0; ci < g->in_c; ci += 4, k += 4) s8_widen4(x + ci, col + k * 2 + q * 4);
          continue;
        }
        for (ci = 0; ci < g->in_c; ci++, k++) col[s8_slot(k, full, q)] = x[ci];
      } else {
        for (ci = 0; ci < g->in_c; ci++, k++) col[s8_slot(k, full, q)] = (int16_t)p->pad_value;
      }
    }
  }
}

#if BL_ARM_ASM
/* acc[0..3] (filter 0 pixel 0, filter 0 pixel 1, filter 1 pixel 0, filter 1 pixel 1) += the
 * groups of four taps of w0 and w1 against the interleaved patches at col.
 * Registers: r0 w0, r1 w1, r2 col, r3 end of col, r4-r7 accumulators, r8/r9 weight words and
 * their odd bytes, r10/r11 their even bytes, r12/lr a pixel's group. */
void bl_i_arm_s8_dot2x2(const int8_t *w0, const int8_t *w1, const int16_t *col, uint32_t groups,
                        int32_t *acc);
__asm__(
    ".pushsection .text.bl_i_arm_s8_dot2x2,\"ax\",%progbits\n"
    ".syntax unified\n"
    ".thumb\n"
    ".global bl_i_arm_s8_dot2x2\n"
    ".type bl_i_arm_s8_dot2x2, %function\n"
    ".thumb_func\n"
    ".align 2\n"
    "bl_i_arm_s8_dot2x2:\n"
    "  push {r4-r11, lr}\n"
    "  ldr r12, [sp, #36]\n"
    "  ldmia r12, {r4, r5, r6, r7}\n"
    "  add r3, r2, r3, lsl #4\n"
    "  cmp r2, r3\n"
    "  beq 2f\n"
    "1:\n"
    "  ldr r8, [r0], #4\n"
    "  ldr r9, [r1], #4\n"
    "  sxtb16 r10, r8\n"
    "  sxtb16 r8, r8, ror #8\n"
    "  sxtb16 r11, r9\n"
    "  sxtb16 r9, r9, ror #8\n"
    "  ldrd r12, lr, [r2], #8\n"
    "  smlad r4, r10, r12, r4\n"
    "  smlad r4, r8, lr, r4\n"
    "  smlad r6, r11, r12, r6\n"
    "  smlad r6, r9, lr, r6\n"
    "  ldrd r12, lr, [r2], #8\n"
    "  smlad r5, r10, r12, r5\n"
    "  smlad r5, r8, lr, r5\n"
    "  smlad r7, r11, r12, r7\n"
    "  smlad r7, r9, lr, r7\n"
    "  cmp r2, r3\n"
    "  bne 1b\n"
    "2:\n"
    "  ldr r12, [sp, #36]\n"
    "  stmia r12, {r4, r5, r6, r7}\n"
    "  pop {r4-r11, pc}\n"
    ".size bl_i_arm_s8_dot2x2, .-bl_i_arm_s8_dot2x2\n"
    ".popsection\n");
#endif

/* acc[f * 2 + q] += filter f . patch q over `groups` groups of four taps (w1 == NULL: filter 1
 * is not computed). */
static void s8_dot_groups(const int8_t *w0, const int8_t *w1, const int16_t *col, size_t groups,
                          int32_t acc[4])
{
  size_t gi;
#if BL_ARM_ASM
  if (w1) {
    bl_i_arm_s8_dot2x2(w0, w1, col, (uint32_t)groups, acc);
    return;
  }
#endif
  for (gi = 0; gi < groups; gi++) {
    const int16_t *x = col + 8 * gi, *y = x + 4;
    const int8_t *wa = w0 + 4 * gi;
    acc[0] += wa[0] * x[0] + wa[2] * x[1] + wa[1] * x[2] + wa[3] * x[3];
    acc[1] += wa[0] * y[0] + wa[2] * y[1] + wa[1] * y[2] + wa[3] * y[3];
    if (w1) {
      const int8_t *wb = w1 + 4 * gi;
      acc[2] += wb[0] * x[0] + wb[2] * x[1] + wb[1] * x[2] + wb[3] * x[3];
      acc[3] += wb[0] * y[0] + wb[2] * y[1] + wb[1] * y[2] + wb[3] * y[3];
    }
  }
}

/* BL_OUT_S8 with one affine step (the usual folded BatchNorm): the stage's pointers and bounds
 * in locals, the same operations as s8_emit. */
static void s8_emit_plain(const bl_output *o, const int32_t *acc, int32_t n, int8_t *qout)
{
  static const float one = 1.0f, zero = 0.0f;
  const float *mul = o->mul ? o->mul : &one, *add = o->add ? o->add : &zero;
  const int32_t ms = o->mul ? 1 : 0, as = o->add ? 1 : 0;
  const float amin = o->act_min, amax = o->act_max, m = o->s8_mul;
  const float lo = (float)o->s8_min, hi = (float)o->s8_max;
  int32_t c;
  for (c = 0; c < n; c++) {
    float y = (float)acc[c] * mul[c * ms];
    y = y + add[c * as];
    if (y < amin) y = amin;
    if (y > amax) y = amax;
    qout[c] = bl_i_s8_round(y * m, lo, hi);
  }
}

bl_status bl_conv2d_s8(const bl_conv2d_s8_params *p, const int8_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t patch, full, pixels, pix, k, q;
  int16_t *col;
  const int16_t *tail;
  int32_t *accs;
  int32_t oc;
  int plain_s8;
  if (!s8_ok(p, in, out) || !scratch) return BL_ERR_PARAM;
  plain_s8 = p->out.kind == BL_OUT_S8 && !p->out.mul2 && !p->out.add2 && !p->out.mid_clamp;
  g = &p->g;
  patch = (size_t)g->k_h * (size_t)g->k_w * (size_t)g->in_c;
  full = patch & ~(size_t)3;
  col = (int16_t *)scratch;
  tail = col + 2 * full;
  accs = (int32_t *)(void *)(col + 2 * full + 8);
  pixels = (size_t)g->out_h * (size_t)g->out_w;
  bl_i_bw_init(&bw, out);
  for (pix = 0; pix < pixels; pix += 2) {
    const int two = pix + 1 < pixels;
    for (q = 0; q < 2; q++) {
      const size_t at = q < 1 + (size_t)two ? pix + q : pix;
      s8_gather(p, in, (int32_t)(at / (size_t)g->out_w), (int32_t)(at % (size_t)g->out_w),
                q == 0 || two, col, full, q);
    }
    for (oc = 0; oc < g->out_c; oc += 2) {
      const int pair = oc + 1 < g->out_c;
      const int8_t *w0 = p->weights + (size_t)oc * patch;
      const int8_t *w1 = pair ? w0 + patch : NULL;
      int32_t acc[4];
      acc[0] = acc[1] = p->acc_init ? p->acc_init[oc] : 0;
      acc[2] = acc[3] = pair && p->acc_init ? p->acc_init[oc + 1] : 0;
      s8_dot_groups(w0, w1, col, full / 4, acc);
      for (k = full; k < patch; k++) {
        acc[0] += w0[k] * tail[k - full];
        acc[1] += w0[k] * tail[4 + k - full];
        if (pair) {
          acc[2] += w1[k] * tail[k - full];
          acc[3] += w1[k] * tail[4 + k - full];
        }
      }
      accs[oc] = acc[0];
      accs[g->out_c + oc] = acc[1];
      if (pair) {
        accs[oc + 1] = acc[2];
        accs[g->out_c + oc + 1] = acc[3];
      }
    }
    for (q = 0; q < 1 + (size_t)two; q++) {
      const size_t at = (pix + q) * (size_t)g->out_c;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + at : NULL;
      int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + at : NULL;
      const int32_t *a = accs + q * (size_t)g->out_c;
      if (plain_s8)
        s8_emit_plain(&p->out, a, g->out_c, qout);
      else
        for (oc = 0; oc < g->out_c; oc++) s8_emit(&p->out, oc, a[oc], fout, qout, &bw);
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
