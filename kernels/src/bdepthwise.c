/* Binary depthwise conv2d (s1 input, s1 weights, depth multiplier): reference from the
 * definition, and an optimized version counting 32 channels at once with bit-sliced counters. */
#include "bl_internal.h"

size_t bl_bdepthwise_weight_words(int32_t k_h, int32_t k_w, int32_t in_c, int32_t mult)
{
  if (k_h < 1 || k_w < 1 || in_c < 1 || mult < 1) return 0;
  return (size_t)mult * (size_t)k_h * (size_t)k_w * BL_WORDS((size_t)in_c);
}

static int bdw_ok(const bl_bdepthwise_params *p)
{
  if (!p || !bl_i_geom_ok(&p->g) || !p->weights || p->depth_multiplier < 1) return 0;
  if (p->g.out_c != p->g.in_c * p->depth_multiplier) return 0;
  if (p->pad != BL_PAD_ZERO && p->pad != BL_PAD_PLUS_ONE && p->pad != BL_PAD_MINUS_ONE) return 0;
  return bl_i_output_ok(&p->out, 1);
}

/* Bits needed to count up to k_h*k_w taps. */
static uint32_t bdw_planes(const bl_conv_geom *g)
{
  uint32_t taps = (uint32_t)g->k_h * (uint32_t)g->k_w, nb = 0;
  while (taps) {
    nb++;
    taps >>= 1;
  }
  return nb;
}

/* One pixel's channel bits (cw words), the counters (m * planes * cw words), one pixel's dot
 * products as floats (out_c) for the float output row, then the bit-sliced thresholds (6 * cw
 * words, bit output). */
size_t bl_bdepthwise_scratch_size(const bl_bdepthwise_params *p)
{
  size_t cw;
  if (!bdw_ok(p)) return 0;
  cw = BL_WORDS((size_t)p->g.in_c);
  return (cw + (size_t)p->depth_multiplier * bdw_planes(&p->g) * cw + (size_t)p->g.out_c +
          (p->out.kind == BL_OUT_BITS ? 6 * cw : 0)) *
         sizeof(uint32_t);
}

/* Bit output of a pixel whose every tap counts (interior, or ±1 padding), depth multiplier 1:
 * with T taps and acc = the count of -1 products, d = T - 2 acc, so with u = T - t
 *   d < t  <=>  acc >= floor(u / 2) + 1        d > t  <=>  !(acc >= ceil(u / 2)),
 * one bound G per channel (clamped to 0..16: acc <= 15) and the flip bit. G is kept as five bit
 * planes over the 32 channels of a word, so that acc >= G for all 32 at once is the borrow of
 * acc - G, about 14 instructions per word instead of a comparison per channel. Planes
 * thr[5 * k + i] (bit i of G), flip word thr[5 * cw + k]. */
static void bdw_thresholds(const bl_bdepthwise_params *p, size_t cw, uint32_t *thr)
{
  const int64_t taps = (int64_t)p->g.k_h * p->g.k_w;
  size_t c;
  memset(thr, 0, 6 * cw * sizeof(uint32_t));
  for (c = 0; c < (size_t)p->g.in_c; c++) {
    const int flip = p->out.flip && ((p->out.flip[c >> 5] >> (c & 31)) & 1u);
    const int64_t u = taps - (int64_t)p->out.threshold[c];
    /* floor(u / 2) + 1 and ceil(u / 2), for negative u too */
    int64_t bound = flip ? (u >= 0 ? (u + 1) / 2 : -((-u) / 2)) : (u >= 0 ? u / 2 : -((-u + 1) / 2)) + 1;
    uint32_t i;
    bound = bound < 0 ? 0 : bound > 16 ? 16 : bound;
    for (i = 0; i < 5; i++) thr[5 * (c >> 5) + i] |= (uint32_t)((bound >> i) & 1) << (c & 31);
    thr[5 * cw + (c >> 5)] |= (uint32_t)flip << (c & 31);
  }
}

/* Adds the word x (1 where the product is -1) to the 4-bit bit-sliced counters c0..c3. */
BL_INLINE void bdw_count(uint32_t x, uint32_t *c0, uint32_t *c1, uint32_t *c2, uint32_t *c3)
{
  uint32_t t = *c0 & x;
  *c0 ^= x;
  x = *c1 & t;
  *c1 ^= t;
  t = *c2 & x;
  *c2 ^= x;
  *c3 ^= t;
}

/* 1 where the 4-bit count (c0..c3) >= the 5-bit bound (g[0..4]): no borrow out of count - bound. */
BL_INLINE uint32_t bdw_ge(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, const uint32_t *g)
{
  uint32_t b = ~c0 & g[0];
  b = (~c1 & g[1]) | (~(c1 ^ g[1]) & b);
  b = (~c2 & g[2]) | (~(c2 ^ g[2]) & b);
  b = (~c3 & g[3]) | (~(c3 ^ g[3]) & b);
  return ~(g[4] | b);
}

/* Whole words of channels and at most 15 taps (4 counter planes): the counters of one word of
 * channels live in registers for all taps of a pixel, and the 32 counts are read out by
 * shifting the four planes together. */
static void bdw_fast(const bl_bdepthwise_params *p, const uint32_t *in, void *out, float *dots,
                     uint32_t *thr)
{
  const bl_conv_geom *g = &p->g;
  const size_t cw = (size_t)g->in_c / 32;
  const int32_t m = p->depth_multiplier;
  const uint32_t padw = p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u;
  const int sliced = p->out.kind == BL_OUT_BITS && m == 1;
  int32_t h_lo, h_hi, w_lo, w_hi;
  bl_i_bitwriter bw;
  int32_t oh, ow, kh, kw, j, i;
  size_t k;
  bl_i_bw_init(&bw, out);
  if (sliced) bdw_thresholds(p, cw, thr);
  bl_i_interior(g->in_h, g->out_h, g->k_h, g->stride_h, g->dil_h, g->pad_top, &h_lo, &h_hi);
  bl_i_interior(g->in_w, g->out_w, g->k_w, g->stride_w, g->dil_w, g->pad_left, &w_lo, &w_hi);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const size_t pixel = (size_t)oh * (size_t)g->out_w + (size_t)ow;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + pixel * (size_t)g->out_c : NULL;
      int32_t taps = 0;
      if (sliced && (p->pad != BL_PAD_ZERO || (oh >= h_lo && oh < h_hi && ow >= w_lo && ow < w_hi))) {
        /* every tap counts: the bit-sliced comparison, one output word per channel word */
        for (k = 0; k < cw; k++) {
          uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
          const uint32_t *w = p->weights + k;
          for (kh = 0; kh < g->k_h; kh++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            for (kw = 0; kw < g->k_w; kw++, w += cw) {
              const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
              uint32_t x;
              x = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w
                      ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) * cw + k]
                      : padw;
              bdw_count(x ^ *w, &c0, &c1, &c2, &c3);
            }
          }
          bl_i_bw_putn(&bw, bdw_ge(c0, c1, c2, c3, thr + 5 * k) ^ thr[5 * cw + k], 32);
        }
        continue;
      }
      for (j = 0; j < m; j++) {
        for (k = 0; k < cw; k++) {
          uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
          const uint32_t *w = p->weights + (size_t)j * (size_t)g->k_h * (size_t)g->k_w * cw + k;
          taps = 0;
          for (kh = 0; kh < g->k_h; kh++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            for (kw = 0; kw < g->k_w; kw++, w += cw) {
              const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
              uint32_t x;
              if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                x = in[((size_t)ih * (size_t)g->in_w + (size_t)iw) * cw + k];
              else if (p->pad == BL_PAD_ZERO)
                continue;
              else
                x = padw;
              taps++;
              bdw_count(x ^ *w, &c0, &c1, &c2, &c3);
            }
          }
          for (i = 0; i < 32; i++) {
            const int32_t acc = (int32_t)((c0 & 1u) | ((c1 & 1u) << 1) | ((c2 & 1u) << 2) | ((c3 & 1u) << 3));
            dots[((int32_t)k * 32 + i) * m + j] = (float)(taps - 2 * acc);
            c0 >>= 1;
            c1 >>= 1;
            c2 >>= 1;
            c3 >>= 1;
          }
        }
      }
      if (fout) {
        bl_i_emit_f32_row(&p->out, dots, g->out_c, fout, NULL);
      } else {
        int32_t c;
        for (c = 0; c < g->out_c; c++) bl_i_bw_put(&bw, bl_i_int_bit(&p->out, c, (int32_t)dots[c]));
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
}

/* d[c*m + j] = sum over taps (kh, kw) of a[c] * w_j[c] (±1), in-image taps only for zero pad. */
bl_status bl_bdepthwise_ref(const bl_bdepthwise_params *p, const uint32_t *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t cw;
  int32_t oh, ow, c, j, kh, kw, m;
  if (!bdw_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  cw = BL_WORDS((size_t)g->in_c);
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      float *fout = p->out.kind == BL_OUT_F32
                        ? (float *)out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) *
                                             (size_t)g->out_c
                        : NULL;
      for (c = 0; c < g->in_c; c++) {
        for (j = 0; j < m; j++) {
          int32_t d = 0;
          for (kh = 0; kh < g->k_h; kh++) {
            for (kw = 0; kw < g->k_w; kw++) {
              const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
              const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
              const uint32_t *w = p->weights + (((size_t)j * (size_t)g->k_h + (size_t)kh) *
                                                    (size_t)g->k_w + (size_t)kw) * cw;
              int32_t a;
              if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
                a = bl_i_getbit(in, ((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                        (size_t)g->in_c + (size_t)c) ? -1 : 1;
              } else if (p->pad == BL_PAD_ZERO) {
                continue;
              } else {
                a = p->pad == BL_PAD_MINUS_ONE ? -1 : 1;
              }
              d += a * (bl_i_getbit(w, (size_t)c) ? -1 : 1);
            }
          }
          bl_i_emit_int(&p->out, c * m + j, d, fout, &bw);
        }
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: for each tap, x = a XOR w_j over 32 channels per word marks the channels where the
 * product is -1. Those marks are added into bit-sliced counters (plane b holds bit b of every
 * channel's count; adding a word is a ripple-carry over the planes, stopping as soon as the
 * carry is 0). With acc = count of -1 products and n_eff in-image taps, d = n_eff - 2 * acc. */
bl_status bl_bdepthwise(const bl_bdepthwise_params *p, const uint32_t *in, void *out,
                        void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t cw, b, k;
  uint32_t nb, *pix, *cnt;
  int32_t oh, ow, c, j, kh, kw, m;
  if (!bdw_ok(p) || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  cw = BL_WORDS((size_t)g->in_c);
  nb = bdw_planes(g);
  pix = (uint32_t *)scratch;
  cnt = pix + cw;
  if ((g->in_c & 31) == 0 && nb <= 4) {
    bdw_fast(p, in, out, (float *)(void *)(cnt + (size_t)m * nb * cw), cnt + (size_t)m * nb * cw + (size_t)g->out_c);
    return BL_OK;
  }
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      float *fout = p->out.kind == BL_OUT_F32
                        ? (float *)out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) *
                                             (size_t)g->out_c
                        : NULL;
      int32_t taps = 0;
      memset(cnt, 0, (size_t)m * nb * cw * sizeof(uint32_t));
      for (kh = 0; kh < g->k_h; kh++) {
        const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
        for (kw = 0; kw < g->k_w; kw++) {
          const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
          const uint32_t *a;
          if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
            const size_t pos = ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c;
            if ((g->in_c & 31) == 0) {
              a = in + pos / 32;
            } else {
              memset(pix, 0, cw * sizeof(uint32_t));
              bl_i_copybits(pix, 0, in, pos, (size_t)g->in_c);
              a = pix;
            }
          } else if (p->pad == BL_PAD_ZERO) {
            continue;
          } else {
            const uint32_t v = p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u;
            for (k = 0; k < cw; k++) pix[k] = v;
            a = pix;
          }
          taps++;
          for (j = 0; j < m; j++) {
            const uint32_t *w = p->weights + (((size_t)j * (size_t)g->k_h + (size_t)kh) *
                                                  (size_t)g->k_w + (size_t)kw) * cw;
            uint32_t *planes = cnt + (size_t)j * nb * cw;
            for (k = 0; k < cw; k++) {
              uint32_t carry = a[k] ^ w[k];
              for (b = 0; carry != 0 && b < nb; b++) {
                const uint32_t t = planes[b * cw + k] & carry;
                planes[b * cw + k] ^= carry;
                carry = t;
              }
            }
          }
        }
      }
      if (p->pad != BL_PAD_ZERO) taps = g->k_h * g->k_w;
      for (c = 0; c < g->in_c; c++) {
        const size_t word = (size_t)c >> 5;
        const uint32_t sh = (uint32_t)c & 31u;
        for (j = 0; j < m; j++) {
          const uint32_t *planes = cnt + (size_t)j * nb * cw + word;
          int32_t acc = 0;
          for (b = 0; b < nb; b++) acc |= (int32_t)((planes[b * cw] >> sh) & 1u) << b;
          bl_i_emit_int(&p->out, c * m + j, taps - 2 * acc, fout, &bw);
        }
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
