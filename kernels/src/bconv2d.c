/* Binary conv2d (s1 input, s1 weights): the reference computed from the definition, and the
 * optimized kernel (gather one patch per output pixel, XOR/popcount it against every filter). */
#include "bl_internal.h"

size_t bl_bconv2d_weight_words(int32_t k_h, int32_t k_w, int32_t in_c, int32_t out_c)
{
  if (k_h < 1 || k_w < 1 || in_c < 1 || out_c < 1) return 0;
  return (size_t)out_c * BL_WORDS((size_t)k_h * (size_t)k_w * (size_t)in_c);
}

static int bconv_ok(const bl_bconv2d_params *p)
{
  if (!p || !bl_i_geom_ok(&p->g) || !p->weights) return 0;
  if (p->pad != BL_PAD_ZERO && p->pad != BL_PAD_PLUS_ONE && p->pad != BL_PAD_MINUS_ONE) return 0;
  return bl_i_output_ok(&p->out, 1);
}

/* Words per filter ("patch packing"): the (kh, kw, ci) bit stream of one filter. */
static size_t bconv_wpf(const bl_conv_geom *g)
{
  return BL_WORDS((size_t)g->k_h * (size_t)g->k_w * (size_t)g->in_c);
}

/* The patch, plus (exact zero padding only) a mask of its in-image bits. */
size_t bl_bconv2d_scratch_size(const bl_bconv2d_params *p)
{
  if (!bconv_ok(p)) return 0;
  return bconv_wpf(&p->g) * sizeof(uint32_t) * (p->pad == BL_PAD_ZERO ? 2u : 1u);
}

/* ---- Reference ------------------------------------------------------------------------------
 * d = sum over taps (kh, kw, ci) of a * w with a, w in {-1, +1}; a padded tap holds +1 or -1,
 * or (exact zero padding) contributes nothing. */
bl_status bl_bconv2d_ref(const bl_bconv2d_params *p, const uint32_t *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf;
  int32_t oh, ow, oc, kh, kw, ci;
  if (!bconv_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  wpf = bconv_wpf(g);
  bw.p = (uint32_t *)out;
  bw.cur = 0;
  bw.pos = 0;
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      float *fout = p->out.kind == BL_OUT_F32
                        ? (float *)out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) *
                                             (size_t)g->out_c
                        : NULL;
      for (oc = 0; oc < g->out_c; oc++) {
        const uint32_t *w = p->weights + (size_t)oc * wpf;
        int32_t d = 0;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            if (!inside && p->pad == BL_PAD_ZERO) continue;
            for (ci = 0; ci < g->in_c; ci++) {
              int32_t a, wv;
              if (inside) {
                size_t idx = ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c +
                             (size_t)ci;
                a = bl_i_getbit(in, idx) ? -1 : 1;
              } else {
                a = p->pad == BL_PAD_MINUS_ONE ? -1 : 1;
              }
              wv = bl_i_getbit(w, ((size_t)kh * (size_t)g->k_w + (size_t)kw) * (size_t)g->in_c +
                                      (size_t)ci)
                       ? -1
                       : 1;
              d += a * wv;
            }
          }
        }
        bl_i_emit_int(&p->out, oc, d, fout, &bw);
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- Optimized ------------------------------------------------------------------------------
 * Per output pixel the input bits under the window are gathered into `patch` in the filters'
 * (kh, kw, ci) order, so every filter is one XOR/popcount over wpf contiguous words and the
 * gather cost is shared by all output channels. Spare bits of the last patch word are 0, as in
 * the weights, so they add nothing.
 *
 * Padding: +1/-1 taps are written into the patch as 0/1 bits. Exact zero padding must leave the
 * outside taps out of the dot product: those patch bits are masked off (acc counts only
 * in-image bits) and n_eff = (#in-image taps) * in_c, so d = n_eff - 2 * acc is exact whatever
 * the output format. Interior pixels (window fully inside) take the unmasked path. */

typedef void (*bconv_chan_fn)(const bl_output *o, const uint32_t *weights, size_t wpf,
                              int32_t out_c, const uint32_t *patch, const uint32_t *mask,
                              int32_t n, float *fout, bl_i_bitwriter *bw);

/* All output channels of one pixel. hw selects POPCNT (x86 only); mask may be NULL. */
BL_INLINE void bconv_channels(const bl_output *o, const uint32_t *weights, size_t wpf,
                              int32_t out_c, const uint32_t *patch, const uint32_t *mask,
                              int32_t n, float *fout, bl_i_bitwriter *bwp, int hw)
{
  const uint32_t *w = weights;
  int32_t c;
  (void)hw;
  if (o->kind == BL_OUT_BITS) {
    bl_i_bitwriter bw = *bwp;
    for (c = 0; c < out_c; c++, w += wpf) {
      uint32_t acc;
#if BL_X86_DISPATCH
      if (hw)
        acc = bl_i_xorpop_hw(patch, w, mask, wpf);
      else
#endif
        acc = bl_i_xorpop_swar(patch, w, mask, wpf);
      bl_i_bw_put(&bw, bl_i_int_bit(o, c, n - 2 * (int32_t)acc));
    }
    *bwp = bw;
  } else {
    for (c = 0; c < out_c; c++, w += wpf) {
      uint32_t acc;
#if BL_X86_DISPATCH
      if (hw)
        acc = bl_i_xorpop_hw(patch, w, mask, wpf);
      else
#endif
        acc = bl_i_xorpop_swar(patch, w, mask, wpf);
      fout[c] = bl_i_affine_clamp(o, c, (float)(n - 2 * (int32_t)acc));
    }
  }
}

static void bconv_chan_swar(const bl_output *o, const uint32_t *weights, size_t wpf,
                            int32_t out_c, const uint32_t *patch, const uint32_t *mask,
                            int32_t n, float *fout, bl_i_bitwriter *bw)
{
  (void)mask;
  bconv_channels(o, weights, wpf, out_c, patch, NULL, n, fout, bw, 0);
}

static void bconv_chan_swar_masked(const bl_output *o, const uint32_t *weights, size_t wpf,
                                   int32_t out_c, const uint32_t *patch, const uint32_t *mask,
                                   int32_t n, float *fout, bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, out_c, patch, mask, n, fout, bw, 0);
}

#if BL_X86_DISPATCH
BL_TARGET_POPCNT static void bconv_chan_hw(const bl_output *o, const uint32_t *weights,
                                           size_t wpf, int32_t out_c, const uint32_t *patch,
                                           const uint32_t *mask, int32_t n, float *fout,
                                           bl_i_bitwriter *bw)
{
  (void)mask;
  bconv_channels(o, weights, wpf, out_c, patch, NULL, n, fout, bw, 1);
}

BL_TARGET_POPCNT static void bconv_chan_hw_masked(const bl_output *o, const uint32_t *weights,
                                                  size_t wpf, int32_t out_c,
                                                  const uint32_t *patch, const uint32_t *mask,
                                                  int32_t n, float *fout, bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, out_c, patch, mask, n, fout, bw, 1);
}
#endif

/* Gathers the window of output pixel (oh, ow) into patch (and mask, for exact zero padding at
 * a border pixel; mask == NULL otherwise). Returns the number of real taps n (n_eff). */
static int32_t bconv_gather(const bl_bconv2d_params *p, const uint32_t *in, int32_t oh,
                            int32_t ow, int interior, size_t wpf, uint32_t *patch,
                            uint32_t *mask)
{
  const bl_conv_geom *g = &p->g;
  const int32_t ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
  const size_t C = (size_t)g->in_c;
  int32_t kh, kw, taps = 0;

  if ((g->in_c & 31) == 0) {
    /* Every pixel starts on a word boundary: whole words are copied, padded taps are whole
     * words of 0 (+1) or 1 (-1) bits. */
    const size_t cw = C / 32;
    const uint32_t padword = p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u;
    for (kh = 0; kh < g->k_h; kh++) {
      const int32_t ih = ih0 + kh * g->dil_h;
      uint32_t *dst = patch + (size_t)kh * (size_t)g->k_w * cw;
      const uint32_t *row = in + (size_t)ih * (size_t)g->in_w * cw;
      if (interior && g->dil_w == 1) {
        memcpy(dst, row + (size_t)iw0 * cw, (size_t)g->k_w * cw * sizeof(uint32_t));
        continue;
      }
      for (kw = 0; kw < g->k_w; kw++, dst += cw) {
        const int32_t iw = iw0 + kw * g->dil_w;
        const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
        size_t j;
        if (inside) {
          memcpy(dst, row + (size_t)iw * cw, cw * sizeof(uint32_t));
          taps++;
        } else {
          for (j = 0; j < cw; j++) dst[j] = padword;
        }
        if (mask)
          for (j = 0; j < cw; j++) mask[(size_t)(dst - patch) + j] = inside ? 0xffffffffu : 0u;
      }
    }
  } else {
    /* Unaligned channels: bit copies into a zeroed patch. With dil_w == 1 the k_w taps of a
     * fully inside row are contiguous in the input stream and move as one run. */
    memset(patch, 0, wpf * sizeof(uint32_t));
    if (mask) memset(mask, 0, wpf * sizeof(uint32_t));
    for (kh = 0; kh < g->k_h; kh++) {
      const int32_t ih = ih0 + kh * g->dil_h;
      const size_t dbase = (size_t)kh * (size_t)g->k_w * C;
      const size_t sbase = (size_t)ih * (size_t)g->in_w * C;
      if (interior && g->dil_w == 1) {
        bl_i_copybits(patch, dbase, in, sbase + (size_t)iw0 * C, (size_t)g->k_w * C);
        continue;
      }
      for (kw = 0; kw < g->k_w; kw++) {
        const int32_t iw = iw0 + kw * g->dil_w;
        const size_t dpos = dbase + (size_t)kw * C;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          bl_i_copybits(patch, dpos, in, sbase + (size_t)iw * C, C);
          if (mask) bl_i_fillbits(mask, dpos, C);
          taps++;
        } else if (p->pad == BL_PAD_MINUS_ONE) {
          bl_i_fillbits(patch, dpos, C);
        }
      }
    }
  }
  if (interior || p->pad != BL_PAD_ZERO) taps = g->k_h * g->k_w;
  return taps * g->in_c;
}

bl_status bl_bconv2d(const bl_bconv2d_params *p, const uint32_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  size_t wpf;
  uint32_t *patch, *mask;
  int32_t oh, ow, h_lo, h_hi, w_lo, w_hi;
  bl_i_bitwriter bw;
  float *fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bconv_chan_fn plain = bconv_chan_swar, masked = bconv_chan_swar_masked;

  if (!bconv_ok(p) || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  wpf = bconv_wpf(g);
  patch = (uint32_t *)scratch;
  mask = p->pad == BL_PAD_ZERO ? patch + wpf : NULL;
#if BL_X86_DISPATCH
  if (BL_HAVE_POPCNT()) {
    plain = bconv_chan_hw;
    masked = bconv_chan_hw_masked;
  }
#endif
  bl_i_interior(g->in_h, g->out_h, g->k_h, g->stride_h, g->dil_h, g->pad_top, &h_lo, &h_hi);
  bl_i_interior(g->in_w, g->out_w, g->k_w, g->stride_w, g->dil_w, g->pad_left, &w_lo, &w_hi);
  bw.p = (uint32_t *)out;
  bw.cur = 0;
  bw.pos = 0;
  for (oh = 0; oh < g->out_h; oh++) {
    const int row_inside = oh >= h_lo && oh < h_hi;
    for (ow = 0; ow < g->out_w; ow++) {
      const int interior = row_inside && ow >= w_lo && ow < w_hi;
      uint32_t *m = interior ? NULL : mask;
      const int32_t n = bconv_gather(p, in, oh, ow, interior, wpf, patch, m);
      (m ? masked : plain)(&p->out, p->weights, wpf, g->out_c, patch, m, n, fout, &bw);
      if (fout) fout += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
