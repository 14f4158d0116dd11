/* Binary conv2d (s1 input, s1 weights): the reference computed from the definition, and the
 * optimized kernel (gather one patch per output pixel, XOR/popcount it against every filter). */
#include "bl_internal.h"

size_t bl_bconv2d_weight_words(int32_t k_h, int32_t k_w, int32_t in_c, int32_t out_c)
{
  if (k_h < 1 || k_w < 1 || in_c < 1 || out_c < 1) return 0;
  return (size_t)out_c * BL_WORDS((size_t)k_h * (size_t)k_w * (size_t)in_c);
}

/* 0 for bad parameters, else the number of groups. */
static int32_t bconv_ok(const bl_bconv2d_params *p)
{
  bl_output o;
  if (!p || !bl_i_geom_ok(&p->g) || !p->weights) return 0;
  if (p->pad != BL_PAD_ZERO && p->pad != BL_PAD_PLUS_ONE && p->pad != BL_PAD_MINUS_ONE) return 0;
  /* f32, bits or int8; a residual with f32 only */
  o = p->out;
  if (o.residual && o.kind != BL_OUT_F32) return 0;
  o.residual = NULL;
  if (!bl_i_i8_output_ok(&o, NULL, 0)) return 0;
  return bl_i_groups(&p->g, p->groups);
}

/* Words per filter ("patch packing"): the (kh, kw, ci) bit stream of one filter, ci over the
 * group's channels. */
static size_t bconv_wpf(const bl_conv_geom *g, int32_t groups)
{
  return BL_WORDS((size_t)g->k_h * (size_t)g->k_w * (size_t)(g->in_c / groups));
}

/* One group's patch, plus (exact zero padding only) a mask of its in-image bits. */
size_t bl_bconv2d_scratch_size(const bl_bconv2d_params *p)
{
  const int32_t groups = bconv_ok(p);
  if (!groups) return 0;
  return bconv_wpf(&p->g, groups) * sizeof(uint32_t) * (p->pad == BL_PAD_ZERO ? 2u : 1u);
}

/* ---- Reference ------------------------------------------------------------------------------
 * d = sum over taps (kh, kw, ci) of a * w with a, w in {-1, +1}; a padded tap holds +1 or -1,
 * or (exact zero padding) contributes nothing. */
bl_status bl_bconv2d_ref(const bl_bconv2d_params *p, const uint32_t *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf;
  int32_t oh, ow, oc, kh, kw, ci, cg, og;
  const int32_t groups = bconv_ok(p);
  if (!groups || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  wpf = bconv_wpf(g, groups);
  bw.p = (uint32_t *)out;
  bw.cur = 0;
  bw.pos = 0;
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const size_t at = ((size_t)oh * (size_t)g->out_w + (size_t)ow) * (size_t)g->out_c;
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + at : NULL;
      int8_t *qout = p->out.kind == BL_OUT_S8 ? (int8_t *)out + at : NULL;
      for (oc = 0; oc < g->out_c; oc++) {
        const uint32_t *w = p->weights + (size_t)oc * wpf;
        const int32_t c0 = oc / og * cg; /* the group's first input channel */
        int32_t d = 0;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            if (!inside && p->pad == BL_PAD_ZERO) continue;
            for (ci = 0; ci < cg; ci++) {
              int32_t a, wv;
              if (inside) {
                size_t idx = ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c +
                             (size_t)(c0 + ci);
                a = bl_i_getbit(in, idx) ? -1 : 1;
              } else {
                a = p->pad == BL_PAD_MINUS_ONE ? -1 : 1;
              }
              wv = bl_i_getbit(w, ((size_t)kh * (size_t)g->k_w + (size_t)kw) * (size_t)cg +
                                      (size_t)ci)
                       ? -1
                       : 1;
              d += a * wv;
            }
          }
        }
        bl_i_emit_i8(&p->out, oc, d, fout, qout, &bw);
        if (fout && p->out.residual) fout[oc] = fout[oc] + p->out.residual[at + (size_t)oc];
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
  const bl_i_s8_stage *st; /* the int8 stage's loop form, or NULL (set once per call) */
  const float *res;        /* the residual at this pixel (f32 output), or NULL */
} bconv_pixel;

/* Output channels c0..c0+out_c-1 of one pixel (one group's filters, from `weights`). */
typedef void (*bconv_chan_fn)(const bl_output *o, const uint32_t *weights, size_t wpf,
                              int32_t c0, int32_t out_c, const bconv_pixel *px, void *pout,
                              bl_i_bitwriter *bw);

#if BL_X86_DISPATCH
/* AVX2 (x86-64, chosen at run time): popcounts of nb filters against the patch (and mask), four
 * filters per pass so each patch vector is loaded once for four filters. Per 8 words: XOR (AND
 * mask), bytes counted with the vpshufb nibble lookup and added to a byte accumulator (at most
 * 8 per vector, so 31 vectors fit before vpsadbw folds the bytes into 64-bit sums). The four
 * filters' sums are folded together at the end; the last wpf % 8 words use POPCNT. */
BL_TARGET_AVX2 static __m256i bconv_pop_bytes(__m256i x, __m256i lut, __m256i low)
{
  const __m256i lo = _mm256_and_si256(x, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

BL_TARGET_AVX2 static __m256i bconv_load(const uint32_t *p)
{
  return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

BL_TARGET_AVX2 static void bconv_counts_avx2(const uint32_t *patch, const uint32_t *mask,
                                             const uint32_t *w, size_t wpf, uint32_t nb,
                                             uint32_t *counts)
{
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                       2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  const size_t nv = wpf / 8, tail = nv * 8;
  uint32_t j = 0, k;
  for (; j + 4 <= nb; j += 4) {
    const uint32_t *w0 = w + (size_t)j * wpf;
    const uint32_t *w1 = w0 + wpf, *w2 = w1 + wpf, *w3 = w2 + wpf;
    __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero, t01, t23, u;
    __m128i r;
    size_t i = 0;
    while (i < nv) {
      const size_t stop = nv - i > 31 ? i + 31 : nv;
      __m256i b0 = zero, b1 = zero, b2 = zero, b3 = zero;
      for (; i < stop; i++) {
        const __m256i p = bconv_load(patch + 8 * i);
        __m256i x0 = _mm256_xor_si256(p, bconv_load(w0 + 8 * i));
        __m256i x1 = _mm256_xor_si256(p, bconv_load(w1 + 8 * i));
        __m256i x2 = _mm256_xor_si256(p, bconv_load(w2 + 8 * i));
        __m256i x3 = _mm256_xor_si256(p, bconv_load(w3 + 8 * i));
        if (mask) {
          const __m256i m = bconv_load(mask + 8 * i);
          x0 = _mm256_and_si256(x0, m);
          x1 = _mm256_and_si256(x1, m);
          x2 = _mm256_and_si256(x2, m);
          x3 = _mm256_and_si256(x3, m);
        }
        b0 = _mm256_add_epi8(b0, bconv_pop_bytes(x0, lut, low));
        b1 = _mm256_add_epi8(b1, bconv_pop_bytes(x1, lut, low));
        b2 = _mm256_add_epi8(b2, bconv_pop_bytes(x2, lut, low));
        b3 = _mm256_add_epi8(b3, bconv_pop_bytes(x3, lut, low));
      }
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(b0, zero));
      s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(b1, zero));
      s2 = _mm256_add_epi64(s2, _mm256_sad_epu8(b2, zero));
      s3 = _mm256_add_epi64(s3, _mm256_sad_epu8(b3, zero));
    }
    /* every 64-bit sum is < 2^32: pack filter pairs into 32-bit lanes, then fold the lanes */
    t01 = _mm256_or_si256(s0, _mm256_slli_epi64(s1, 32));
    t23 = _mm256_or_si256(s2, _mm256_slli_epi64(s3, 32));
    u = _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
    r = _mm_add_epi32(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
    _mm_storeu_si128((__m128i *)(void *)(counts + j), r);
    if (tail < wpf)
      for (k = 0; k < 4; k++)
        counts[j + k] += bl_i_xorpop_hw(patch + tail, w0 + (size_t)k * wpf + tail,
                                        mask ? mask + tail : NULL, wpf - tail);
  }
  for (; j < nb; j++) {
    const uint32_t *wj = w + (size_t)j * wpf;
    __m256i s = zero;
    __m128i r;
    size_t i = 0;
    while (i < nv) {
      const size_t stop = nv - i > 31 ? i + 31 : nv;
      __m256i b = zero;
      for (; i < stop; i++) {
        __m256i x = _mm256_xor_si256(bconv_load(patch + 8 * i), bconv_load(wj + 8 * i));
        if (mask) x = _mm256_and_si256(x, bconv_load(mask + 8 * i));
        b = _mm256_add_epi8(b, bconv_pop_bytes(x, lut, low));
      }
      s = _mm256_add_epi64(s, _mm256_sad_epu8(b, zero));
    }
    r = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    r = _mm_add_epi64(r, _mm_unpackhi_epi64(r, r));
    counts[j] = (uint32_t)_mm_cvtsi128_si32(r) +
                bl_i_xorpop_hw(patch + tail, wj + tail, mask ? mask + tail : NULL, wpf - tail);
  }
}

/* AVX-512 with VPOPCNTQ (x86-64, chosen at run time): the same four-filter blocking, 16 words
 * per vector and one VPOPCNTQ per vector and filter; the last partial vector is a masked load
 * (lanes beyond wpf read as 0 in patch, filters and mask, so they count nothing). */
BL_TARGET_AVX512 static void bconv_counts_avx512(const uint32_t *patch, const uint32_t *mask,
                                                 const uint32_t *w, size_t wpf, uint32_t nb,
                                                 uint32_t *counts)
{
  const size_t nv = (wpf + 15) / 16;
  const __mmask16 last = (__mmask16)(0xffffu >> ((16u - (uint32_t)(wpf % 16)) % 16u));
  const __m512i zero = _mm512_setzero_si512();
  uint32_t j = 0;
  for (; j + 4 <= nb; j += 4) {
    const uint32_t *w0 = w + (size_t)j * wpf;
    const uint32_t *w1 = w0 + wpf, *w2 = w1 + wpf, *w3 = w2 + wpf;
    __m512i s0 = zero, s1 = zero, s2 = zero, s3 = zero, t01, t23, u;
    __m256i v;
    __m128i r;
    size_t i;
    for (i = 0; i < nv; i++) {
      const __mmask16 km = i + 1 < nv ? (__mmask16)0xffffu : last;
      const size_t o = 16 * i;
      const __m512i p = _mm512_maskz_loadu_epi32(km, patch + o);
      __m512i x0 = _mm512_xor_si512(p, _mm512_maskz_loadu_epi32(km, w0 + o));
      __m512i x1 = _mm512_xor_si512(p, _mm512_maskz_loadu_epi32(km, w1 + o));
      __m512i x2 = _mm512_xor_si512(p, _mm512_maskz_loadu_epi32(km, w2 + o));
      __m512i x3 = _mm512_xor_si512(p, _mm512_maskz_loadu_epi32(km, w3 + o));
      if (mask) {
        const __m512i m = _mm512_maskz_loadu_epi32(km, mask + o);
        x0 = _mm512_and_si512(x0, m);
        x1 = _mm512_and_si512(x1, m);
        x2 = _mm512_and_si512(x2, m);
        x3 = _mm512_and_si512(x3, m);
      }
      s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(x0));
      s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(x1));
      s2 = _mm512_add_epi64(s2, _mm512_popcnt_epi64(x2));
      s3 = _mm512_add_epi64(s3, _mm512_popcnt_epi64(x3));
    }
    /* every 64-bit sum is < 2^32: pack filter pairs into 32-bit lanes, then fold the lanes */
    t01 = _mm512_or_si512(s0, _mm512_slli_epi64(s1, 32));
    t23 = _mm512_or_si512(s2, _mm512_slli_epi64(s3, 32));
    u = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
    v = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
    r = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)(void *)(counts + j), r);
  }
  for (; j < nb; j++) {
    const uint32_t *wj = w + (size_t)j * wpf;
    __m512i s = zero;
    size_t i;
    for (i = 0; i < nv; i++) {
      const __mmask16 km = i + 1 < nv ? (__mmask16)0xffffu : last;
      const size_t o = 16 * i;
      __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi32(km, patch + o),
                                   _mm512_maskz_loadu_epi32(km, wj + o));
      if (mask) x = _mm512_and_si512(x, _mm512_maskz_loadu_epi32(km, mask + o));
      s = _mm512_add_epi64(s, _mm512_popcnt_epi64(x));
    }
    counts[j] = (uint32_t)_mm512_reduce_add_epi64(s);
  }
}
#endif

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
#if BL_X86_DISPATCH
  if (hw == 2) {
    bconv_counts_avx2(px->patch, px->mask, w, wpf, nb, counts);
    return;
  }
  if (hw == 3) {
    bconv_counts_avx512(px->patch, px->mask, w, wpf, nb, counts);
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
                              int32_t c0, int32_t out_c, const bconv_pixel *px, void *pout,
                              bl_i_bitwriter *bwp, int hw)
{
  uint32_t counts[32];
  const bl_output oc = *o;
  const int32_t n = px->n;
  bl_i_bitwriter bw = *bwp;
  int32_t cb;
#if BL_ARM_ASM && defined(__ARM_FP)
  /* The usual int8 output of a binary 1x1 layer (a BatchNorm as one affine step, STCustomDoReFa's
   * full int8 range) from short unmasked patches: each filter counted where its value is made,
   * the factors walked by pointer, SSAT for the clamp; no count array, nothing reloaded after
   * the int8 stores (see bl_i_s8_value). Same values as the general stage. */
  if (oc.kind == BL_OUT_S8 && px->st && (wpf == 2 || wpf == 4) && !px->mask && !px->runs &&
      bl_i_s8_stage_unit(px->st)) {
    const float *mul = px->st->mul + c0, *add = px->st->add + c0;
    const float m = px->st->m;
    const uint32_t p0 = px->patch[0], p1 = px->patch[1];
    const uint32_t p2 = wpf == 4 ? px->patch[2] : 0u, p3 = wpf == 4 ? px->patch[3] : 0u;
    const uint32_t *w = weights;
    int8_t *q = (int8_t *)pout + c0;
    int32_t c;
    if (wpf == 2) {
      for (c = 0; c < out_c; c++, w += 2) {
        const uint32_t cnt = bl_i_popc2(p0 ^ w[0], p1 ^ w[1]);
        q[c] = bl_i_s8_unit(n - 2 * (int32_t)cnt, mul[c], add[c], m);
      }
    } else {
      for (c = 0; c < out_c; c++, w += 4) {
        const uint32_t cnt =
            bl_i_bytesum(bl_i_popc2_bytes(p0 ^ w[0], p1 ^ w[1]) + bl_i_popc2_bytes(p2 ^ w[2], p3 ^ w[3]));
        q[c] = bl_i_s8_unit(n - 2 * (int32_t)cnt, mul[c], add[c], m);
      }
    }
    return;
  }
#endif
  for (cb = 0; cb < out_c; cb += 32) {
    const uint32_t nb = (uint32_t)(out_c - cb < 32 ? out_c - cb : 32);
    uint32_t j;
    bconv_block_counts(px, weights + (size_t)cb * wpf, wpf, nb, counts, hw);
    if (oc.kind == BL_OUT_BITS) {
      const int32_t *thr = oc.threshold + c0 + cb;
      uint32_t word = 0;
      if (!oc.flip) {
        for (j = 0; j < nb; j++)
          word |= (uint32_t)((n - 2 * (int32_t)counts[j]) < thr[j]) << j;
      } else {
        const uint32_t fw = bl_i_readbits(oc.flip, (size_t)(c0 + cb), nb);
        for (j = 0; j < nb; j++) {
          const int32_t f = (int32_t)((fw >> j) & 1u);
          word |= ((uint32_t)((n - 2 * (int32_t)counts[j] - f) < thr[j]) ^ (uint32_t)f) << j;
        }
      }
      bl_i_bw_putn(&bw, word, nb);
    } else if (oc.kind == BL_OUT_S8) {
      int8_t *q = (int8_t *)pout + c0 + cb;
      if (px->st)
        for (j = 0; j < nb; j++) q[j] = bl_i_s8_stage_of(px->st, c0 + cb + (int32_t)j, n - 2 * (int32_t)counts[j]);
      else
        for (j = 0; j < nb; j++)
          bl_i_emit_i8_fast(&oc, c0 + cb + (int32_t)j, n - 2 * (int32_t)counts[j], NULL, (int8_t *)pout, &bw);
    } else {
      float *fout = (float *)pout + c0 + cb;
      if (px->res) {
        const float *res = px->res + c0 + cb;
        for (j = 0; j < nb; j++)
          fout[j] = bl_i_affine_clamp(&oc, c0 + cb + (int32_t)j, (float)(n - 2 * (int32_t)counts[j])) + res[j];
      } else {
        for (j = 0; j < nb; j++)
          fout[j] = bl_i_affine_clamp(&oc, c0 + cb + (int32_t)j, (float)(n - 2 * (int32_t)counts[j]));
      }
    }
  }
  *bwp = bw;
}

static void bconv_chan_swar(const bl_output *o, const uint32_t *weights, size_t wpf,
                            int32_t c0, int32_t out_c, const bconv_pixel *px, void *pout,
                            bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, c0, out_c, px, pout, bw, 0);
}

#if BL_X86_DISPATCH
BL_TARGET_POPCNT static void bconv_chan_hw(const bl_output *o, const uint32_t *weights,
                                           size_t wpf, int32_t c0, int32_t out_c,
                                           const bconv_pixel *px, void *pout,
                                           bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, c0, out_c, px, pout, bw, 1);
}

/* Vector variants: bl_bconv2d gives them masks instead of run lists (word_mask), so every pixel
 * takes the vector counts. */
BL_TARGET_POPCNT static void bconv_chan_avx2(const bl_output *o, const uint32_t *weights,
                                             size_t wpf, int32_t c0, int32_t out_c,
                                             const bconv_pixel *px, void *pout,
                                             bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, c0, out_c, px, pout, bw, 2);
}

BL_TARGET_POPCNT static void bconv_chan_avx512(const bl_output *o, const uint32_t *weights,
                                               size_t wpf, int32_t c0, int32_t out_c,
                                               const bconv_pixel *px, void *pout,
                                               bl_i_bitwriter *bw)
{
  bconv_channels(o, weights, wpf, c0, out_c, px, pout, bw, 3);
}

/* Highest x86 variant bl_bconv2d may pick (tests lower it to run every variant on one host). */
int bl_i_x86_max_level = BL_X86_AVX512;
#endif

/* Gathers the window of output pixel (oh, ow) over the cg input channels from c0 (one group;
 * the whole pixel when ungrouped) into px->patch, and for exact zero padding at a border pixel
 * (border_zero) the runs (cg % 32 == 0; stored in `aux`) or the mask (in `aux`).
 * word_mask (x86 builds only): the vector variants (AVX2/AVX-512) take a mask of whole words
 * instead of runs for cg % 32 == 0 too. Sets px->n to the number of real taps times cg. */
#if BL_X86_DISPATCH
#define BCONV_WM_PARAM , int word_mask
#define BCONV_WM_ARG , word_mask
#else
#define BCONV_WM_PARAM
#define BCONV_WM_ARG
#endif
static void bconv_gather(const bl_bconv2d_params *p, const uint32_t *in, int32_t oh, int32_t ow,
                         int32_t c0, int32_t cg, int interior, int border_zero, size_t wpf,
                         uint32_t *patch, uint32_t *aux, bconv_pixel *px BCONV_WM_PARAM)
{
  const bl_conv_geom *g = &p->g;
  const int32_t ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
  const size_t C = (size_t)g->in_c, CG = (size_t)cg;
  /* Ungrouped, the k_w taps of a row are one contiguous run of the input; a group's slices of
   * neighbouring pixels are not. */
  const int whole = cg == g->in_c && g->dil_w == 1;
  int32_t kh, kw, taps = 0;

  px->patch = patch;
  px->mask = NULL;
  px->runs = NULL;
  px->nruns = 0;
  if ((cg & 31) == 0) {
    /* Every pixel and every group starts on a word boundary: whole words are copied, padded
     * taps are whole words of 0 (+1) or 1 (-1) bits, or (exact zero) left out through the run
     * list. Consecutive in-image taps are consecutive patch and filter words, whatever the
     * dilation and grouping, so they merge into one run. */
    const size_t cw = CG / 32, pw = C / 32, off = (size_t)c0 / 32;
    const uint32_t padword = p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u;
    int open = 0;
#if BL_X86_DISPATCH
    if (border_zero && word_mask)
      px->mask = aux;
    else
#endif
        if (border_zero)
      px->runs = aux;
    for (kh = 0; kh < g->k_h; kh++) {
      const int32_t ih = ih0 + kh * g->dil_h;
      uint32_t *dst = patch + (size_t)kh * (size_t)g->k_w * cw;
      const uint32_t *row = in + (size_t)ih * (size_t)g->in_w * pw + off;
      if (interior && whole) {
        memcpy(dst, row + (size_t)iw0 * cw, (size_t)g->k_w * cw * sizeof(uint32_t));
        continue;
      }
      for (kw = 0; kw < g->k_w; kw++, dst += cw) {
        const int32_t iw = iw0 + kw * g->dil_w;
        size_t j;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          const uint32_t *src = row + (size_t)iw * pw;
          for (j = 0; j < cw; j++) dst[j] = src[j];
          taps++;
#if BL_X86_DISPATCH
          if (px->mask) {
            for (j = 0; j < cw; j++) aux[(size_t)(dst - patch) + j] = 0xffffffffu;
          } else
#endif
              if (border_zero) {
            if (open)
              aux[px->nruns - 1] += (uint32_t)cw << 16;
            else
              aux[px->nruns++] = (uint32_t)(dst - patch) | ((uint32_t)cw << 16);
            open = 1;
          }
        } else {
          for (j = 0; j < cw; j++) dst[j] = padword;
#if BL_X86_DISPATCH
          if (px->mask)
            for (j = 0; j < cw; j++) aux[(size_t)(dst - patch) + j] = 0u;
#endif
          open = 0;
        }
      }
    }
  } else {
    /* Unaligned channels per group (any cg, including groups whose slice starts in the middle
     * of a word): bit copies of cg bits per tap into a zeroed patch, so a group's filter is
     * still one contiguous bit stream. */
    memset(patch, 0, wpf * sizeof(uint32_t));
    if (border_zero) {
      memset(aux, 0, wpf * sizeof(uint32_t));
      px->mask = aux;
    }
    for (kh = 0; kh < g->k_h; kh++) {
      const int32_t ih = ih0 + kh * g->dil_h;
      const size_t dbase = (size_t)kh * (size_t)g->k_w * CG;
      const size_t sbase = (size_t)ih * (size_t)g->in_w * C + (size_t)c0;
      if (interior && whole) {
        bl_i_copybits(patch, dbase, in, sbase + (size_t)iw0 * C, (size_t)g->k_w * C);
        continue;
      }
      for (kw = 0; kw < g->k_w; kw++) {
        const int32_t iw = iw0 + kw * g->dil_w;
        const size_t dpos = dbase + (size_t)kw * CG;
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          bl_i_copybits(patch, dpos, in, sbase + (size_t)iw * C, CG);
          if (border_zero) bl_i_fillbits(aux, dpos, CG);
          taps++;
        } else if (p->pad == BL_PAD_MINUS_ONE) {
          bl_i_fillbits(patch, dpos, CG);
        }
      }
    }
  }
  if (!border_zero) taps = g->k_h * g->k_w;
  px->n = taps * cg;
}

bl_status bl_bconv2d(const bl_bconv2d_params *p, const uint32_t *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  size_t wpf;
  uint32_t *patch, *aux;
  int32_t oh, ow, h_lo, h_hi, w_lo, w_hi, gi, cg, og;
  bl_i_bitwriter bw;
  bconv_pixel px;
  char *pout;
  size_t pixel_bytes;
  bconv_chan_fn chan = bconv_chan_swar;
  bl_i_s8_stage stage;
  const int32_t groups = bconv_ok(p);
#if BL_X86_DISPATCH
  int word_mask = 0;
#endif

  if (!groups || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  wpf = bconv_wpf(g, groups);
  /* Each pixel's f32 or int8 values follow the previous pixel's (bits go through bw). */
  pout = (char *)out;
  pixel_bytes = p->out.kind == BL_OUT_F32 ? (size_t)g->out_c * sizeof(float)
                : p->out.kind == BL_OUT_S8 ? (size_t)g->out_c : 0u;
  /* run entries pack word offsets and lengths into 16 bits each */
  if (p->pad == BL_PAD_ZERO && (cg & 31) == 0 && wpf > 0xffffu) return BL_ERR_PARAM;
  patch = (uint32_t *)scratch;
  aux = patch + wpf;
  /* The int8 stage's loop form, set up once (NULL: the general emission). */
  px.st = bl_i_s8_stage_init(&p->out, &stage) ? &stage : NULL;
  px.res = p->out.residual; /* advanced with pout */
#if BL_X86_DISPATCH
  switch (bl_i_x86_level()) {
  case BL_X86_AVX512: chan = bconv_chan_avx512; word_mask = 1; break;
  case BL_X86_AVX2: chan = bconv_chan_avx2; word_mask = 1; break;
  case BL_X86_POPCNT: chan = bconv_chan_hw; break;
  default: break;
  }
#endif
  bl_i_interior(g->in_h, g->out_h, g->k_h, g->stride_h, g->dil_h, g->pad_top, &h_lo, &h_hi);
  bl_i_interior(g->in_w, g->out_w, g->k_w, g->stride_w, g->dil_w, g->pad_left, &w_lo, &w_hi);
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    const int row_inside = oh >= h_lo && oh < h_hi;
    for (ow = 0; ow < g->out_w; ow++) {
      const int interior = row_inside && ow >= w_lo && ow < w_hi;
      /* Groups in order: their output channels follow each other in the pixel's bits. */
      for (gi = 0; gi < groups; gi++) {
        bconv_gather(p, in, oh, ow, gi * cg, cg, interior, !interior && p->pad == BL_PAD_ZERO,
                     wpf, patch, aux, &px BCONV_WM_ARG);
        chan(&p->out, p->weights + (size_t)gi * (size_t)og * wpf, wpf, gi * og, og, &px, pout,
             &bw);
      }
      pout += pixel_bytes;
      if (px.res) px.res += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
