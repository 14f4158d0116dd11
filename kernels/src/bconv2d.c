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

/* What one output pixel needs: the gathered patch, and for exact zero padding at a border pixel
 * either a mask of the in-image patch bits (any in_c) or, when in_c % 32 == 0, the list of word
 * runs covered by in-image taps (runs[i] = first word | word count << 16; padded taps are whole
 * words there, so they are simply skipped, which is cheaper than masking every word). */
typedef struct {
  const uint32_t *patch;
  const uint32_t *mask;
  const uint32_t *runs;
  uint32_t nruns;
  int32_t n; /* n_eff */
} bconv_pixel;

typedef void (*bconv_chan_fn)(const bl_output *o, const uint32_t *weights, size_t wpf,
                              int32_t out_c, const bconv_pixel *px, float *fout,
                              bl_i_bitwriter *bw);

/* Popcounts of nb (<= 32) filters against the pixel's patch: POPCNT on x86 when hw, the
 * assembly routines on ARMv7E-M, portable SWAR otherwise. */
BL_INLINE void bconv_block_counts(const bconv_pixel *px, const uint32_t *w, size_t wpf,
                                  uint32_t nb, uint32_t *counts, int hw)
{
  uint32_t j, r;
  (void)hw;
  if (px->runs) {
#if BL_ARM_ASM
    for (r = 0; r < px->nruns; r++)
      bl_i_arm_counts(px->patch, w, wpf, px->runs[r] & 0xffffu, px->runs[r] >> 16, nb, counts,
                       r == 0);
    if (px->nruns == 0) memset(counts, 0, nb * sizeof(uint32_t));
#else
    for (j = 0; j < nb; j++) {
      const uint32_t *wj = w + (size_t)j * wpf;
      uint32_t acc = 0;
      for (r = 0; r < px->nruns; r++) {
        const size_t off = px->runs[r] & 0xffffu, len = px->runs[r] >> 16;
#if BL_X86_DISPATCH
        if (hw)
          acc += bl_i_xorpop_hw(px->patch + off, wj + off, NULL, len);
        else
#endif
          acc += bl_i_xorpop_swar(px->patch + off, wj + off, NULL, len);
      }
      counts[j] = acc;
    }
#endif
    return;
  }
#if BL_ARM_ASM
  if (!px->mask) {
    bl_i_arm_counts(px->patch, w, wpf, 0, wpf, nb, counts, 1);
    return;
  }
#endif
  for (j = 0; j < nb; j++, w += wpf) {
#if BL_X86_DISPATCH
    if (hw)
      counts[j] = bl_i_xorpop_hw(px->patch, w, px->mask, wpf);
    else
#endif
      counts[j] = bl_i_xorpop_swar(px->patch, w, px->mask, wpf);
  }
  (void)r;
}

/* All output channels of one pixel, in blocks of 32: the block's popcounts, then the output
 * stage. Binary output: with f = flip bit of channel c,
 *   f = 0: bit = d < t;   f = 1: bit = d > t = !(d <= t) = !(d - 1 < t),
 * so bit = ((d - f) < t) XOR f (d - f cannot overflow: |d| <= n). The block's bits are built in
 * a register and appended at once. Everything read from the parameter struct is copied to
 * locals first: the output stores could alias it. */
BL_INLINE void bconv_channels(const bl_output *o, const uint32_t *weights, size_t wpf,
                              int32_t out_c, const bconv_pixel *px, float *fout,
                              bl_i_bitwriter *bwp, int hw)
{
  uint32_t counts[32];
  const bl_output oc = *o;
  const int32_t n = px->n;
  bl_i_bitwriter bw = *bwp;
  int32_t cb;
  for (cb = 0; cb < out_c; cb += 32) {
    const uint32_t nb = (uint32_t)(out_c - cb < 32 ? out_c - cb : 32);
    uint32_t j;
    bconv_block_counts(px, weights + (size_t)cb * wpf, wpf, nb, counts, hw);
    if (oc.kind == BL_OUT_BITS) {
      const int32_t *thr = oc.threshold + cb;
      uint32_t word = 0;
      if (!oc.flip) {
        for (j = 0; j < nb; j++)
          word |= (uint32_t)((n - 2 * (int32_t)counts[j]) < thr[j]) << j;
      } else {
        const uint32_t fw = bl_i_readbits(oc.flip, (size_t)cb, nb);
        for (j = 0; j < nb; j++) {
          const int32_t f = (int32_t)((fw >> j) & 1u);
          word |= ((uint32_t)((n - 2 * (int32_t)counts[j] - f) < thr[j]) ^ (uint32_t)f) << j;
        }
      }
      bl_i_bw_putn(&bw, word, nb);
    } else {
      for (j = 0; j < nb; j++)
        fout[cb + (int32_t)j] =
            bl_i_affine_clamp(&oc, cb + (int32_t)j, (float)(n - 2 * (int32_t)counts[j]));
    }
  }
  *bwp = bw;
}

static void bconv_chan_swar(const bl_output *o, const uint32_t *weights, size_t wpf,
                            int32_t out_c, const bconv_pixel *px, float *fout, bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, out_c, px, fout, bw, 0);
}

#if BL_X86_DISPATCH
BL_TARGET_POPCNT static void bconv_chan_hw(const bl_output *o, const uint32_t *weights,
                                           size_t wpf, int32_t out_c, const bconv_pixel *px,
                                           float *fout, bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, out_c, px, fout, bw, 1);
}
#endif

/* Gathers the window of output pixel (oh, ow) into px->patch, and for exact zero padding at a
 * border pixel (border_zero) the runs (in_c % 32 == 0; stored in `aux`) or the mask (in `aux`).
 * Sets px->n to the number of real taps times in_c (n_eff). */
static void bconv_gather(const bl_bconv2d_params *p, const uint32_t *in, int32_t oh, int32_t ow,
                         int interior, int border_zero, size_t wpf, uint32_t *patch,
                         uint32_t *aux, bconv_pixel *px)
{
  const bl_conv_geom *g = &p->g;
  const int32_t ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
  const size_t C = (size_t)g->in_c;
  int32_t kh, kw, taps = 0;

  px->patch = patch;
  px->mask = NULL;
  px->runs = NULL;
  px->nruns = 0;
  if ((g->in_c & 31) == 0) {
    /* Every pixel starts on a word boundary: whole words are copied, padded taps are whole
     * words of 0 (+1) or 1 (-1) bits, or (exact zero) left out through the run list.
     * Consecutive in-image taps are consecutive patch and filter words, whatever the dilation,
     * so they merge into one run. */
    const size_t cw = C / 32;
    const uint32_t padword = p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u;
    int open = 0;
    if (border_zero) px->runs = aux;
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
        size_t j;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          memcpy(dst, row + (size_t)iw * cw, cw * sizeof(uint32_t));
          taps++;
          if (border_zero) {
            if (open)
              aux[px->nruns - 1] += (uint32_t)cw << 16;
            else
              aux[px->nruns++] = (uint32_t)(dst - patch) | ((uint32_t)cw << 16);
            open = 1;
          }
        } else {
          for (j = 0; j < cw; j++) dst[j] = padword;
          open = 0;
        }
      }
    }
  } else {
    /* Unaligned channels: bit copies into a zeroed patch. With dil_w == 1 the k_w taps of a
     * fully inside row are contiguous in the input stream and move as one run. */
    memset(patch, 0, wpf * sizeof(uint32_t));
    if (border_zero) {
      memset(aux, 0, wpf * sizeof(uint32_t));
      px->mask = aux;
    }
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
          if (border_zero) bl_i_fillbits(aux, dpos, C);
          taps++;
        } else if (p->pad == BL_PAD_MINUS_ONE) {
          bl_i_fillbits(patch, dpos, C);
        }
      }
    }
  }
  if (!border_zero) taps = g->k_h * g->k_w;
  px->n = taps * g->in_c;
}

bl_status bl_bconv2d(const bl_bconv2d_params *p, const uint32_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  size_t wpf;
  uint32_t *patch, *aux;
  int32_t oh, ow, h_lo, h_hi, w_lo, w_hi;
  bl_i_bitwriter bw;
  bconv_pixel px;
  float *fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bconv_chan_fn chan = bconv_chan_swar;

  if (!bconv_ok(p) || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  wpf = bconv_wpf(g);
  /* run entries pack word offsets and lengths into 16 bits each */
  if (p->pad == BL_PAD_ZERO && (g->in_c & 31) == 0 && wpf > 0xffffu) return BL_ERR_PARAM;
  patch = (uint32_t *)scratch;
  aux = patch + wpf;
#if BL_X86_DISPATCH
  if (BL_HAVE_POPCNT()) chan = bconv_chan_hw;
#endif
  bl_i_interior(g->in_h, g->out_h, g->k_h, g->stride_h, g->dil_h, g->pad_top, &h_lo, &h_hi);
  bl_i_interior(g->in_w, g->out_w, g->k_w, g->stride_w, g->dil_w, g->pad_left, &w_lo, &w_hi);
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    const int row_inside = oh >= h_lo && oh < h_hi;
    for (ow = 0; ow < g->out_w; ow++) {
      const int interior = row_inside && ow >= w_lo && ow < w_hi;
      bconv_gather(p, in, oh, ow, interior, !interior && p->pad == BL_PAD_ZERO, wpf, patch, aux,
                   &px);
      chan(&p->out, p->weights, wpf, g->out_c, &px, fout, &bw);
      if (fout) fout += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
