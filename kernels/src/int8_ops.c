/* int8 depthwise conv and dense (exact int32 sums), and the k-bit activation quantizer to int8
 * and back: the other int8 steps of a DoReFa / STCustomDoReFa network. */
#include "bl_internal.h"

/* ---- depthwise ----------------------------------------------------------------------------*/
static int dw8_ok(const bl_depthwise_s8_params *p, const int8_t *in, const void *out)
{
  if (!p || !in || !out || !p->weights || !bl_i_geom_ok(&p->g)) return 0;
  if (!bl_i_i8_output_ok(&p->out, p->acc_init, p->g.out_c)) return 0;
  if (p->depth_multiplier < 1 || p->g.out_c != p->g.in_c * p->depth_multiplier) return 0;
  if (p->pad_value < -128 || p->pad_value > 127) return 0;
  return (int64_t)p->g.k_h * p->g.k_w <= BL_I8_MAX_TERMS;
}

/* The accumulators of the channels outside whole groups of four (out_c int32, rounded up to an
 * even count), then one input pointer per tap (NULL: padded). */
size_t bl_depthwise_s8_scratch_size(const bl_depthwise_s8_params *p)
{
  if (!p || !bl_i_geom_ok(&p->g)) return 0;
  return (size_t)((p->g.out_c + 1) & ~1) * sizeof(int32_t) + (size_t)p->g.k_h * (size_t)p->g.k_w * sizeof(const int8_t *) +
         (((size_t)p->g.in_c + 3) & ~(size_t)3);
}

bl_status bl_depthwise_s8_ref(const bl_depthwise_s8_params *p, const int8_t *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, c, j, kh, kw, m;
  if (!dw8_ok(p, in, out)) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const size_t pix = (size_t)oh * (size_t)g->out_w + (size_t)ow;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + pix * (size_t)g->out_c : NULL;
      int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + pix * (size_t)g->out_c : NULL;
      for (c = 0; c < g->in_c; c++) {
        for (j = 0; j < m; j++) {
          const int32_t o = c * m + j;
          int32_t acc = p->acc_init ? p->acc_init[o] : 0;
          for (kh = 0; kh < g->k_h; kh++) {
            for (kw = 0; kw < g->k_w; kw++) {
              const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
              const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
              const int32_t x = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w
                                    ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c + (size_t)c]
                                    : p->pad_value;
              acc += x * p->weights[((size_t)kh * (size_t)g->k_w + (size_t)kw) * (size_t)g->out_c + (size_t)o];
            }
          }
          bl_i_emit_i8(&p->out, o, acc, fout, qout, &bw);
        }
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: per output pixel, the taps' input pointers are found once (a padded tap points to a
 * row of in_c pad values in scratch, so the tap loop has no branch); with depth
 * multiplier 1, four channels at a time keep their sums in registers over all taps (on ARMv7E-M
 * one word of four inputs and one of four weights feed four SMLABB/SMLATT); otherwise and for
 * the last in_c % 4 channels, the accumulators are in scratch. */
bl_status bl_depthwise_s8(const bl_depthwise_s8_params *p, const int8_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, c, j, m, o, t, taps, c4;
  int32_t *acc = (int32_t *)scratch;
  const int8_t **src;
  int8_t *padrow;
  bl_i_s8_stage st;
  int fast_s8, two, unit, unit2;
  const float *mul, *add, *mul2, *add2;
  int32_t ms, as, m2s, a2s, lo, hi;
  float sm;
  if (!dw8_ok(p, in, out) || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  taps = g->k_h * g->k_w;
  src = (const int8_t **)(void *)(acc + ((g->out_c + 1) & ~1));
  padrow = (int8_t *)(void *)(src + taps);
  memset(padrow, (int8_t)p->pad_value, (size_t)g->in_c);
  fast_s8 = bl_i_s8_stage_init(&p->out, &st);
  unit = fast_s8 && bl_i_s8_stage_unit(&st);
  unit2 = fast_s8 && bl_i_s8_stage_unit2(&st);
  /* the stage in locals (see bl_i_s8_value) */
  mul = st.mul;
  add = st.add;
  mul2 = st.mul2;
  add2 = st.add2;
  ms = st.ms;
  as = st.as;
  m2s = st.m2s;
  a2s = st.a2s;
  two = st.two;
  sm = st.m;
  lo = st.lo;
  hi = st.hi;
  c4 = m == 1 ? g->in_c & ~3 : 0;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const size_t pix = (size_t)oh * (size_t)g->out_w + (size_t)ow;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + pix * (size_t)g->out_c : NULL;
      int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + pix * (size_t)g->out_c : NULL;
      int32_t kh, kw;
      for (kh = 0, t = 0; kh < g->k_h; kh++) {
        const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
        for (kw = 0; kw < g->k_w; kw++, t++) {
          const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
          src[t] = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w
                       ? in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c
                       : padrow;
        }
      }
      for (c = 0; c < c4; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *w = p->weights + c;
        if (p->acc_init) {
          a0 = p->acc_init[c];
          a1 = p->acc_init[c + 1];
          a2 = p->acc_init[c + 2];
          a3 = p->acc_init[c + 3];
        }
        for (t = 0; t < taps; t++, w += g->out_c) {
          const int8_t *x = src[t];
          {
#if BL_ARM_ASM
            const uint32_t xv = bl_i_load32(x + c), wv = bl_i_load32(w);
            const uint32_t xl = bl_i_sxtb16_even(xv), xh = bl_i_sxtb16_odd(xv);
            const uint32_t wl = bl_i_sxtb16_even(wv), wh = bl_i_sxtb16_odd(wv);
            a0 = __builtin_arm_smlabb((int32_t)xl, (int32_t)wl, a0);
            a2 = __builtin_arm_smlatt((int32_t)xl, (int32_t)wl, a2);
            a1 = __builtin_arm_smlabb((int32_t)xh, (int32_t)wh, a1);
            a3 = __builtin_arm_smlatt((int32_t)xh, (int32_t)wh, a3);
#else
            a0 += x[c] * w[0];
            a1 += x[c + 1] * w[1];
            a2 += x[c + 2] * w[2];
            a3 += x[c + 3] * w[3];
#endif
          }
        }
        if (unit) {
          qout[c] = bl_i_s8_unit(a0, mul[c], add[c], sm);
          qout[c + 1] = bl_i_s8_unit(a1, mul[c + 1], add[c + 1], sm);
          qout[c + 2] = bl_i_s8_unit(a2, mul[c + 2], add[c + 2], sm);
          qout[c + 3] = bl_i_s8_unit(a3, mul[c + 3], add[c + 3], sm);
        } else if (unit2) {
          qout[c] = bl_i_s8_unit2(a0, mul[c], mul2[c], add2[c], sm);
          qout[c + 1] = bl_i_s8_unit2(a1, mul[c + 1], mul2[c + 1], add2[c + 1], sm);
          qout[c + 2] = bl_i_s8_unit2(a2, mul[c + 2], mul2[c + 2], add2[c + 2], sm);
          qout[c + 3] = bl_i_s8_unit2(a3, mul[c + 3], mul2[c + 3], add2[c + 3], sm);
        } else if (fast_s8) {
          qout[c] = bl_i_s8_value(a0, mul[c * ms], add[c * as], two, (two ? mul2[c * m2s] : 1.0f), (two ? add2[c * a2s] : 0.0f), sm, lo, hi);
          qout[c + 1] = bl_i_s8_value(a1, mul[(c + 1) * ms], add[(c + 1) * as], two, (two ? mul2[(c + 1) * m2s] : 1.0f),
                                      (two ? add2[(c + 1) * a2s] : 0.0f), sm, lo, hi);
          qout[c + 2] = bl_i_s8_value(a2, mul[(c + 2) * ms], add[(c + 2) * as], two, (two ? mul2[(c + 2) * m2s] : 1.0f),
                                      (two ? add2[(c + 2) * a2s] : 0.0f), sm, lo, hi);
          qout[c + 3] = bl_i_s8_value(a3, mul[(c + 3) * ms], add[(c + 3) * as], two, (two ? mul2[(c + 3) * m2s] : 1.0f),
                                      (two ? add2[(c + 3) * a2s] : 0.0f), sm, lo, hi);
        } else {
          bl_i_emit_i8_fast(&p->out, c, a0, fout, qout, &bw);
          bl_i_emit_i8_fast(&p->out, c + 1, a1, fout, qout, &bw);
          bl_i_emit_i8_fast(&p->out, c + 2, a2, fout, qout, &bw);
          bl_i_emit_i8_fast(&p->out, c + 3, a3, fout, qout, &bw);
        }
      }
      for (o = c4 * m; o < g->out_c; o++) acc[o] = p->acc_init ? p->acc_init[o] : 0;
      for (t = 0; t < taps; t++) {
        const int8_t *w = p->weights + (size_t)t * (size_t)g->out_c;
        const int8_t *x = src[t];
        for (c = c4, o = c4 * m; c < g->in_c; c++)
          for (j = 0; j < m; j++, o++) acc[o] += x[c] * w[o];
      }
      for (o = c4 * m; o < g->out_c; o++) {
        if (fast_s8)
          qout[o] = bl_i_s8_stage_of(&st, o, acc[o]);
        else
          bl_i_emit_i8_fast(&p->out, o, acc[o], fout, qout, &bw);
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- dense --------------------------------------------------------------------------------*/
static int dn8_ok(const bl_dense_s8_params *p, const int8_t *in, const void *out)
{
  if (!p || !in || !out || !p->weights || p->n_in < 1 || p->n_out < 1) return 0;
  return p->n_in <= BL_I8_MAX_TERMS && bl_i_i8_output_ok(&p->out, p->acc_init, p->n_out);
}

bl_status bl_dense_s8_ref(const bl_dense_s8_params *p, const int8_t *in, void *out)
{
  bl_i_bitwriter bw;
  int32_t o, i;
  if (!dn8_ok(p, in, out)) return BL_ERR_PARAM;
  bl_i_bw_init(&bw, out);
  for (o = 0; o < p->n_out; o++) {
    int32_t acc = p->acc_init ? p->acc_init[o] : 0;
    for (i = 0; i < p->n_in; i++) acc += in[i] * p->weights[(size_t)o * (size_t)p->n_in + (size_t)i];
    bl_i_emit_i8(&p->out, o, acc, p->out.kind == BL_OUT_F32 ? (float *)out : NULL,
            p->out.kind == BL_OUT_S8 ? (int8_t *)out : NULL, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: four products per step in two independent sums (integer: the order is free). */
bl_status bl_dense_s8(const bl_dense_s8_params *p, const int8_t *in, void *out)
{
  bl_i_bitwriter bw;
  int32_t o, i;
  if (!dn8_ok(p, in, out)) return BL_ERR_PARAM;
  bl_i_bw_init(&bw, out);
  for (o = 0; o < p->n_out; o++) {
    const int8_t *w = p->weights + (size_t)o * (size_t)p->n_in;
    int32_t a = p->acc_init ? p->acc_init[o] : 0, b = 0;
    for (i = 0; i + 4 <= p->n_in; i += 4) {
      a += in[i] * w[i] + in[i + 1] * w[i + 1];
      b += in[i + 2] * w[i + 2] + in[i + 3] * w[i + 3];
    }
    for (; i < p->n_in; i++) a += in[i] * w[i];
    bl_i_emit_i8_fast(&p->out, o, a + b, p->out.kind == BL_OUT_F32 ? (float *)out : NULL,
            p->out.kind == BL_OUT_S8 ? (int8_t *)out : NULL, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- quantize / dequantize ----------------------------------------------------------------*/
static int q8_ok(float lo, float hi, float levels, int32_t offset)
{
  float a, b;
  if (!(lo <= hi) || !(levels > 0.0f) || !(levels <= 16777216.0f) || offset < 0 || offset > 128) return 0;
  a = bl_i_round_half_even(lo * levels);
  b = bl_i_round_half_even(hi * levels);
  return a - (float)offset >= -128.0f && b - (float)offset <= 127.0f;
}

bl_status bl_quantize_s8_ref(size_t n, float lo, float hi, float levels, int32_t offset, const float *in,
                             int8_t *out)
{
  size_t i;
  if (!in || !out || !q8_ok(lo, hi, levels, offset)) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) {
    float x = in[i];
    if (x != x) {
      out[i] = (int8_t)-offset;
      continue;
    }
    x = x < lo ? lo : (x > hi ? hi : x);
    out[i] = (int8_t)((int32_t)bl_i_round_half_even(x * levels) - offset);
  }
  return BL_OK;
}

bl_status bl_quantize_s8(size_t n, float lo, float hi, float levels, int32_t offset, const float *in, int8_t *out)
{
#if BL_ARM_ASM && defined(__ARM_FP)
  /* Round first, clamp the integer after: x * levels is monotone in x, so rounding a product
   * beyond a bound gives at least (at most) the rounded bound, and the clamp lands on it. VCVTR
   * converts a NaN to 0, which is the reference's level of a NaN when 0 lies within the bounds;
   * out-of-range products saturate. */
  if (in && out && q8_ok(lo, hi, levels, offset)) {
    const int32_t qlo = (int32_t)bl_i_round_half_even(lo * levels), qhi = (int32_t)bl_i_round_half_even(hi * levels);
    if (qlo <= 0 && qhi >= 0) {
      size_t i;
      /* Saturate before subtracting the offset: a saturated INT32_MIN minus 128 would wrap. */
      if (offset == 0 && qlo == -128 && qhi == 127) {
        for (i = 0; i < n; i++) out[i] = (int8_t)__builtin_arm_ssat(bl_i_cvtr(in[i] * levels), 8);
      } else if (offset == 128 && qlo == 0 && qhi == 255) {
        for (i = 0; i < n; i++) out[i] = (int8_t)((int32_t)__builtin_arm_usat(bl_i_cvtr(in[i] * levels), 8) - 128);
      } else {
        for (i = 0; i < n; i++) {
          int32_t q = bl_i_cvtr(in[i] * levels);
          q = q < qlo ? qlo : (q > qhi ? qhi : q);
          out[i] = (int8_t)(q - offset);
        }
      }
      return BL_OK;
    }
  }
#endif
  return bl_quantize_s8_ref(n, lo, hi, levels, offset, in, out);
}

bl_status bl_dequantize_s8(size_t n, float levels, int32_t offset, const int8_t *in, float *out)
{
  size_t i;
  if (!in || !out || !(levels > 0.0f) || !(levels <= 16777216.0f) || offset < 0 || offset > 128) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) out[i] = (float)((int32_t)in[i] + offset) / levels;
  return BL_OK;
}

bl_status bl_add_s8_ref(size_t n, const int8_t *a, const int8_t *b, int32_t lo, int32_t hi, int8_t *out)
{
  size_t i;
  if (!a || !b || !out || lo < -128 || hi > 127 || lo > hi) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) {
    const int32_t s = (int32_t)a[i] + (int32_t)b[i];
    out[i] = (int8_t)(s < lo ? lo : (s > hi ? hi : s));
  }
  return BL_OK;
}

bl_status bl_add_s8(size_t n, const int8_t *a, const int8_t *b, int32_t lo, int32_t hi, int8_t *out)
{
#if BL_ARM_ASM
  /* QADD8 saturates each byte lane to -128..127: the clamp of the full range. */
  if (a && b && out && lo == -128 && hi == 127) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const uint32_t s = (uint32_t)__builtin_arm_qadd8((int32_t)bl_i_load32(a + i), (int32_t)bl_i_load32(b + i));
      memcpy(out + i, &s, sizeof s);
    }
    return bl_add_s8_ref(n - i, a + i, b + i, lo, hi, out + i);
  }
#endif
  return bl_add_s8_ref(n, a, b, lo, hi, out);
}
