/* int8 convolution: exact int32 dot products of s8 inputs and s8 weights (k-bit DoReFa and
 * STCustomDoReFa layers), the reference from the definition and an optimized twin. Integer
 * sums are exact in any order, so both give the same accumulators bit for bit. */
#include "bl_internal.h"

static int s8_ok(const bl_conv2d_s8_params *p, const int8_t *in, const void *out)
{
  if (!p || !in || !out || !p->weights || !bl_i_geom_ok(&p->g)) return 0;
  if (!bl_i_i8_output_ok(&p->out, p->acc_init, p->g.out_c)) return 0;
  if (p->pad_value < -128 || p->pad_value > 127) return 0;
  return (int64_t)p->g.k_h * p->g.k_w * p->g.in_c <= BL_I8_MAX_TERMS;
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
        bl_i_emit_i8(&p->out, oc, acc, fout, qout, &bw);
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

/* Output pixels per block: small patches take sixteen, so that a filter pair widened to int16
 * once serves eight pixel pairs (the SXTB16s leave the inner loop); large ones two. */
BL_INLINE size_t s8_block(size_t patch) { return patch <= 256 ? 16 : 2; }

/* Taps in whole groups of four. With the filter pair widened (small patches) the last partial
 * group is completed with zero taps and zero weights, which add nothing: no scalar tail (a
 * 3-channel 3x3 first layer has 27 taps). Otherwise the patch % 4 last taps are the tail. */
BL_INLINE size_t s8_full(size_t patch) { return s8_block(patch) > 2 ? (patch + 3) & ~(size_t)3 : patch & ~(size_t)3; }

/* int16 entries of one pixel pair's interleaved patches (groups, then the two tails). */
BL_INLINE size_t s8_pair_len(size_t full) { return 2 * full + 8; }

/* Bytes of the slot table (the s8_slot of every tap for pixel 0, so that a patch whose taps are
 * not whole groups of four channels is gathered with one table read per tap): small patches
 * only (16-pixel blocks), when in_c % 4 != 0. */
static size_t s8_table_bytes(const bl_conv2d_s8_params *p)
{
  const size_t patch = (size_t)p->g.k_h * (size_t)p->g.k_w * (size_t)p->g.in_c;
  return s8_block(patch) > 2 && (p->g.in_c & 3) != 0 ? s8_full(patch) * sizeof(uint16_t) : 0;
}

size_t bl_conv2d_s8_scratch_size(const bl_conv2d_s8_params *p)
{
  size_t patch, full, block;
  if (!p || !bl_i_geom_ok(&p->g)) return 0;
  patch = (size_t)p->g.k_h * (size_t)p->g.k_w * (size_t)p->g.in_c;
  full = s8_full(patch);
  block = s8_block(patch);
  /* f32 and s8 outputs are written as each filter pair finishes; bits go out in order, so
   * they wait in the block's accumulators */
  return block / 2 * s8_pair_len(full) * sizeof(int16_t) + (block > 2 ? full * 4 : 0) + s8_table_bytes(p) +
         (p->out.kind == BL_OUT_BITS ? block * (size_t)p->g.out_c * sizeof(int32_t) : 0);
}

/* Four int8 channels as the slot order's two halfword pairs (x0, x2) and (x1, x3). */
BL_INLINE void s8_widen4(const int8_t *x, int16_t *to)
{
#if BL_ARM_ASM
  const uint32_t v = bl_i_load32(x);
  const uint32_t lo = bl_i_sxtb16_even(v), hi = bl_i_sxtb16_odd(v);
  memcpy(to, &lo, 4);
  memcpy(to + 2, &hi, 4);
#else
  to[0] = x[0];
  to[1] = x[2];
  to[2] = x[1];
  to[3] = x[3];
#endif
}

/* The patch of output pixel (oh, ow) into slot q of col (zeros when valid == 0). With a slot
 * table (s8_table_bytes), valid pixels read it instead of computing s8_slot per tap. */
static void s8_gather(const bl_conv2d_s8_params *p, const int8_t *in, int32_t oh, int32_t ow,
                      int valid, int16_t *col, size_t full, size_t q, const uint16_t *slot)
{
  const bl_conv_geom *g = &p->g;
  size_t k = 0;
  int32_t kh, kw, ci;
  if (slot && valid) {
    int16_t *c = col + q * 4;
    const int16_t pad = (int16_t)p->pad_value;
    for (kh = 0; kh < g->k_h; kh++) {
      const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
      for (kw = 0; kw < g->k_w; kw++) {
        const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          const int8_t *x = in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c;
          for (ci = 0; ci < g->in_c; ci++, k++) c[slot[k]] = x[ci];
        } else {
          for (ci = 0; ci < g->in_c; ci++, k++) c[slot[k]] = pad;
        }
      }
    }
    for (; k < full; k++) c[slot[k]] = 0;
    return;
  }
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
  for (; k < full; k++) col[s8_slot(k, full, q)] = 0; /* the zero taps completing the last group */
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

/* As bl_i_arm_s8_dot2x2 with the filter pair already widened: per group four words (filter 0's
 * (w0, w2), (w1, w3), then filter 1's), one LDM: 16 MACs in 13 instructions with the loop test.
 * Registers: r0 widened weights, r1 col, r2 end of col, r3 acc, r4-r7 accumulators, r8-r11
 * weights, r12/lr a pixel's group. */
void bl_i_arm_s8_dot2x2w(const uint32_t *wide, const int16_t *col, uint32_t groups, int32_t *acc);
__asm__(
    ".pushsection .text.bl_i_arm_s8_dot2x2w,\"ax\",%progbits\n"
    ".syntax unified\n"
    ".thumb\n"
    ".global bl_i_arm_s8_dot2x2w\n"
    ".type bl_i_arm_s8_dot2x2w, %function\n"
    ".thumb_func\n"
    ".align 2\n"
    "bl_i_arm_s8_dot2x2w:\n"
    "  push {r4-r11, lr}\n"
    "  ldmia r3, {r4, r5, r6, r7}\n"
    "  add r2, r1, r2, lsl #4\n"
    "  cmp r1, r2\n"
    "  beq 2f\n"
    "1:\n"
    "  ldmia r0!, {r8, r9, r10, r11}\n"
    "  ldrd r12, lr, [r1], #8\n"
    "  smlad r4, r8, r12, r4\n"
    "  smlad r4, r9, lr, r4\n"
    "  smlad r6, r10, r12, r6\n"
    "  smlad r6, r11, lr, r6\n"
    "  ldrd r12, lr, [r1], #8\n"
    "  smlad r5, r8, r12, r5\n"
    "  smlad r5, r9, lr, r5\n"
    "  smlad r7, r10, r12, r7\n"
    "  smlad r7, r11, lr, r7\n"
    "  cmp r1, r2\n"
    "  bne 1b\n"
    "2:\n"
    "  stmia r3, {r4, r5, r6, r7}\n"
    "  pop {r4-r11, pc}\n"
    ".size bl_i_arm_s8_dot2x2w, .-bl_i_arm_s8_dot2x2w\n"
    ".popsection\n");
#endif

/* The widened filter pair: per group of four taps filter 0's (w0, w2, w1, w3), then filter 1's;
 * taps from `patch` on (the completed last group) get zero weights. */
static void s8_widen_pair(const int8_t *w0, const int8_t *w1, size_t patch, size_t groups, int16_t *wide)
{
  const size_t whole = patch / 4 < groups ? patch / 4 : groups;
  size_t gi, k;
  for (gi = 0; gi < whole; gi++) {
    s8_widen4(w0 + 4 * gi, wide + 8 * gi);
    s8_widen4(w1 + 4 * gi, wide + 8 * gi + 4);
  }
  if (gi < groups) {
    int8_t a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    for (k = 4 * gi; k < patch; k++) {
      a[k - 4 * gi] = w0[k];
      b[k - 4 * gi] = w1[k];
    }
    s8_widen4(a, wide + 8 * gi);
    s8_widen4(b, wide + 8 * gi + 4);
  }
}

/* acc as in s8_dot_groups, from a widened filter pair. */
static void s8_dot_wide(const int16_t *wide, const int16_t *col, size_t groups, int32_t acc[4])
{
  size_t gi;
  int i;
#if BL_ARM_ASM
  bl_i_arm_s8_dot2x2w((const uint32_t *)(const void *)wide, col, (uint32_t)groups, acc);
  return;
#endif
  for (gi = 0; gi < groups; gi++) {
    const int16_t *x = col + 8 * gi, *y = x + 4, *a = wide + 8 * gi, *b = a + 4;
    for (i = 0; i < 4; i++) {
      acc[0] += a[i] * x[i];
      acc[1] += a[i] * y[i];
      acc[2] += b[i] * x[i];
      acc[3] += b[i] * y[i];
    }
  }
}

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


bl_status bl_conv2d_s8(const bl_conv2d_s8_params *p, const int8_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t patch, full, plen, block, pixels, pix, n, r, k, q;
  int16_t *cols, *wide;
  uint16_t *table;
  int32_t *accs;
  int32_t oc;
  bl_i_s8_stage st;
  int fast_s8, two;
  float sm;
  int32_t lo, hi;
  if (!s8_ok(p, in, out) || !scratch) return BL_ERR_PARAM;
  fast_s8 = bl_i_s8_stage_init(&p->out, &st);
  two = st.two;
  sm = st.m;
  lo = st.lo;
  hi = st.hi;
  g = &p->g;
  patch = (size_t)g->k_h * (size_t)g->k_w * (size_t)g->in_c;
  full = s8_full(patch);
  plen = s8_pair_len(full);
  block = s8_block(patch);
  cols = (int16_t *)scratch;
  wide = cols + block / 2 * plen;
  table = s8_table_bytes(p) ? (uint16_t *)(void *)(wide + (block > 2 ? 2 * full : 0)) : NULL;
  accs = (int32_t *)(void *)((char *)(wide + (block > 2 ? 2 * full : 0)) + s8_table_bytes(p));
  if (table)
    for (k = 0; k < full; k++) table[k] = (uint16_t)s8_slot(k, full, 0);
  pixels = (size_t)g->out_h * (size_t)g->out_w;
  bl_i_bw_init(&bw, out);
  for (pix = 0; pix < pixels; pix += block) {
    const size_t pairs = ((n = pixels - pix < block ? pixels - pix : block) + 1) / 2;
    for (r = 0; r < pairs; r++)
      for (q = 0; q < 2; q++) {
        const size_t i = 2 * r + q, at = pix + (i < n ? i : 0);
        s8_gather(p, in, (int32_t)(at / (size_t)g->out_w), (int32_t)(at % (size_t)g->out_w), i < n,
                  cols + r * plen, full, q, table);
      }
    for (oc = 0; oc < g->out_c; oc += 2) {
      const int pair = oc + 1 < g->out_c;
      const int8_t *w0 = p->weights + (size_t)oc * patch;
      const int8_t *w1 = pair ? w0 + patch : w0; /* a lone last filter is computed twice */
      const int32_t i0 = p->acc_init ? p->acc_init[oc] : 0;
      const int32_t i1 = pair && p->acc_init ? p->acc_init[oc + 1] : 0;
      /* the int8 stage's factors of the two filters, in locals (see bl_i_s8_value) */
      const int oc1 = pair ? oc + 1 : oc;
      const float m0 = st.mul[oc * st.ms], a0 = st.add[oc * st.as], m20 = st.mul2[oc * st.m2s], a20 = st.add2[oc * st.a2s];
      const float m1 = st.mul[oc1 * st.ms], a1 = st.add[oc1 * st.as], m21 = st.mul2[oc1 * st.m2s],
                  a21 = st.add2[oc1 * st.a2s];
      if (block > 2) s8_widen_pair(w0, w1, patch, full / 4, wide);
      for (r = 0; r < pairs; r++) {
        const int16_t *col = cols + r * plen, *tail = col + 2 * full;
        int32_t acc[4];
        acc[0] = acc[1] = i0;
        acc[2] = acc[3] = i1;
        if (block > 2)
          s8_dot_wide(wide, col, full / 4, acc);
        else
          s8_dot_groups(w0, w1, col, full / 4, acc);
        for (k = full; k < patch; k++) {
          acc[0] += w0[k] * tail[k - full];
          acc[1] += w0[k] * tail[4 + k - full];
          acc[2] += w1[k] * tail[k - full];
          acc[3] += w1[k] * tail[4 + k - full];
        }
        if (p->out.kind == BL_OUT_BITS) {
          accs[2 * r * (size_t)g->out_c + (size_t)oc] = acc[0];
          accs[(2 * r + 1) * (size_t)g->out_c + (size_t)oc] = acc[1];
          if (pair) {
            accs[2 * r * (size_t)g->out_c + (size_t)oc + 1] = acc[2];
            accs[(2 * r + 1) * (size_t)g->out_c + (size_t)oc + 1] = acc[3];
          }
          continue;
        }
        if (fast_s8) {
          int8_t *qout = (int8_t *)out + (pix + 2 * r) * (size_t)g->out_c + (size_t)oc;
          qout[0] = bl_i_s8_value(acc[0], m0, a0, two, m20, a20, sm, lo, hi);
          if (pair) qout[1] = bl_i_s8_value(acc[2], m1, a1, two, m21, a21, sm, lo, hi);
          if (2 * r + 1 < n) {
            qout += g->out_c;
            qout[0] = bl_i_s8_value(acc[1], m0, a0, two, m20, a20, sm, lo, hi);
            if (pair) qout[1] = bl_i_s8_value(acc[3], m1, a1, two, m21, a21, sm, lo, hi);
          }
          continue;
        }
        for (q = 0; q < 2 && 2 * r + q < n; q++) {
          const size_t at = (pix + 2 * r + q) * (size_t)g->out_c;
          float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + at : NULL;
          int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + at : NULL;
          {
            bl_i_emit_i8_fast(&p->out, oc, acc[q], fout, qout, &bw);
            if (pair) bl_i_emit_i8_fast(&p->out, oc + 1, acc[2 + q], fout, qout, &bw);
          }
        }
      }
    }
    if (p->out.kind == BL_OUT_BITS)
      for (q = 0; q < n; q++)
        for (oc = 0; oc < g->out_c; oc++) bl_i_bw_put(&bw, bl_i_int_bit(&p->out, oc, accs[q * (size_t)g->out_c + (size_t)oc]));
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
