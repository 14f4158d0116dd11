/* Binary-weights kernels (f32 input, 1-bit weights): conv2d, depthwise and dense that add or
 * subtract inputs instead of multiplying; references from the definition and optimized twins. */
#include "bl_internal.h"

/* Adding -x and subtracting x are the same IEEE operation (a - b is defined as a + (-b)), and
 * negation only flips the sign bit. So the optimized kernels flip the sign bit of x with the
 * weight bit instead of branching: acc += (x ^ (wbit << 31)). Results equal the references'
 * acc += wbit ? -x : x bit for bit. */
BL_INLINE float bw_signed(float x, uint32_t wbit)
{
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  u ^= wbit << 31;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* acc (starting at 0) += ±xs[i] for i = 0..n-1, sign from bit i of w. */
BL_INLINE float bw_sum(const float *xs, const uint32_t *w, size_t n)
{
  float acc = 0.0f;
  size_t i = 0;
  while (i < n) {
    uint32_t bits = *w++;
    const size_t end = n - i < 32 ? n : i + 32;
    for (; i < end; i++, bits >>= 1) acc += bw_signed(xs[i], bits & 1u);
  }
  return acc;
}

/* bw_sum for four filters at once (filter j at w + j * wpf): one load of each input serves four
 * accumulators held in registers; each filter still adds its taps in order. */
BL_INLINE void bw_sum4(const float *xs, const uint32_t *w, size_t wpf, size_t n, float *acc)
{
  float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
  size_t i = 0;
  while (i < n) {
    uint32_t b0 = w[0], b1 = w[wpf], b2 = w[2 * wpf], b3 = w[3 * wpf];
    const size_t end = n - i < 32 ? n : i + 32;
    w++;
    for (; i < end; i++) {
      const float x = xs[i];
      a0 += bw_signed(x, b0 & 1u);
      a1 += bw_signed(x, b1 & 1u);
      a2 += bw_signed(x, b2 & 1u);
      a3 += bw_signed(x, b3 & 1u);
      b0 >>= 1;
      b1 >>= 1;
      b2 >>= 1;
      b3 >>= 1;
    }
  }
  acc[0] = a0;
  acc[1] = a1;
  acc[2] = a2;
  acc[3] = a3;
}

static int bw_geom_ok(const bl_conv_geom *g, const uint32_t *w, const bl_output *o)
{
  return bl_i_geom_ok(g) && w && bl_i_output_ok(o, 0);
}

/* ---- conv2d -------------------------------------------------------------------------------*/
/* 0 for bad parameters, else the number of groups. */
static int32_t bwconv_groups(const bl_bwconv2d_params *p)
{
  if (!p || !bw_geom_ok(&p->g, p->weights, &p->out)) return 0;
  return bl_i_groups(&p->g, p->groups);
}

/* Taps of one filter: k_h * k_w * (in_c / groups). */
static size_t bwconv_taps(const bl_conv_geom *g, int32_t groups)
{
  return (size_t)g->k_h * (size_t)g->k_w * (size_t)(g->in_c / groups);
}

size_t bl_bwconv2d_scratch_size(const bl_bwconv2d_params *p)
{
  const int32_t groups = bwconv_groups(p);
  if (!groups) return 0;
  return bwconv_taps(&p->g, groups) * sizeof(float);
}

bl_status bl_bwconv2d_ref(const bl_bwconv2d_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf;
  int32_t oh, ow, oc, kh, kw, ci, cg, og;
  const int32_t groups = bwconv_groups(p);
  if (!groups || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  wpf = BL_WORDS(bwconv_taps(g, groups));
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      float *fout = p->out.kind == BL_OUT_F32
                        ? (float *)out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) *
                                             (size_t)g->out_c
                        : NULL;
      for (oc = 0; oc < g->out_c; oc++) {
        const uint32_t *w = p->weights + (size_t)oc * wpf;
        const int32_t c0 = oc / og * cg; /* the group's first input channel */
        float acc = 0.0f;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            for (ci = 0; ci < cg; ci++) {
              const float x = inside ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                              (size_t)g->in_c + (size_t)(c0 + ci)]
                                     : p->pad_value;
              const size_t t = ((size_t)kh * (size_t)g->k_w + (size_t)kw) * (size_t)cg +
                               (size_t)ci;
              acc += bl_i_getbit(w, t) ? -x : x;
            }
          }
        }
        bl_i_emit_f32(&p->out, oc, acc, fout, &bw);
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: per pixel and group, the group's window is gathered into scratch (padded taps =
 * pad_value) in (kh, kw, ci) order, then the group's filters four at a time are branch-free
 * signed sums over it. */
bl_status bl_bwconv2d(const bl_bwconv2d_params *p, const float *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf, taps;
  float *patch, *fout;
  int32_t oh, ow, oc, kh, kw, ci, gi, cg, og;
  const int32_t groups = bwconv_groups(p);
  if (!groups || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  taps = bwconv_taps(g, groups);
  wpf = BL_WORDS(taps);
  patch = (float *)scratch;
  fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      const uint32_t *w = p->weights;
      for (gi = 0; gi < groups; gi++) {
        const int32_t end = (gi + 1) * og;
        float *dst = patch;
        for (kh = 0; kh < g->k_h; kh++) {
          const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
          for (kw = 0; kw < g->k_w; kw++, dst += cg) {
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
              memcpy(dst,
                     in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c +
                         (size_t)gi * (size_t)cg,
                     (size_t)cg * sizeof(float));
            else
              for (ci = 0; ci < cg; ci++) dst[ci] = p->pad_value;
          }
        }
        for (oc = gi * og; oc + 4 <= end; oc += 4, w += 4 * wpf) {
          float acc[4];
          bw_sum4(patch, w, wpf, taps, acc);
          bl_i_emit_f32(&p->out, oc, acc[0], fout, &bw);
          bl_i_emit_f32(&p->out, oc + 1, acc[1], fout, &bw);
          bl_i_emit_f32(&p->out, oc + 2, acc[2], fout, &bw);
          bl_i_emit_f32(&p->out, oc + 3, acc[3], fout, &bw);
        }
        for (; oc < end; oc++, w += wpf)
          bl_i_emit_f32(&p->out, oc, bw_sum(patch, w, taps), fout, &bw);
      }
      if (fout) fout += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- depthwise ----------------------------------------------------------------------------*/
static int bwdw_ok(const bl_bwdepthwise_params *p)
{
  return p && bw_geom_ok(&p->g, p->weights, &p->out) && p->depth_multiplier >= 1 &&
         p->g.out_c == p->g.in_c * p->depth_multiplier;
}

bl_status bl_bwdepthwise_ref(const bl_bwdepthwise_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t cw;
  int32_t oh, ow, c, j, kh, kw, m;
  if (!bwdw_ok(p) || !in || !out) return BL_ERR_PARAM;
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
          float acc = 0.0f;
          for (kh = 0; kh < g->k_h; kh++) {
            for (kw = 0; kw < g->k_w; kw++) {
              const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
              const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
              const uint32_t *w = p->weights + (((size_t)j * (size_t)g->k_h + (size_t)kh) *
                                                    (size_t)g->k_w + (size_t)kw) * cw;
              const float x = (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                                  ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                           (size_t)g->in_c + (size_t)c]
                                  : p->pad_value;
              acc += bl_i_getbit(w, (size_t)c) ? -x : x;
            }
          }
          bl_i_emit_f32(&p->out, c * m + j, acc, fout, &bw);
        }
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: blocks of up to BWDW_BLOCK output channels accumulate side by side over the taps
 * (each channel still adds its taps in (kh, kw) order), so the tap bookkeeping and the padding
 * test run once per block instead of once per channel. */
#define BWDW_BLOCK 32
bl_status bl_bwdepthwise(const bl_bwdepthwise_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t cw;
  float *fout, acc[BWDW_BLOCK];
  int32_t oh, ow, kh, kw, m, ob, i;
  if (!bwdw_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  cw = BL_WORDS((size_t)g->in_c);
  fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      for (ob = 0; ob < g->out_c; ob += BWDW_BLOCK) {
        const int32_t bs = g->out_c - ob < BWDW_BLOCK ? g->out_c - ob : BWDW_BLOCK;
        for (i = 0; i < bs; i++) acc[i] = 0.0f;
        for (kh = 0; kh < g->k_h; kh++) {
          const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            const float *px = inside ? in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                                (size_t)g->in_c
                                     : NULL;
            int32_t c = ob / m, j = ob % m;
            for (i = 0; i < bs; i++) {
              const uint32_t *w = p->weights + (((size_t)j * (size_t)g->k_h + (size_t)kh) *
                                                    (size_t)g->k_w + (size_t)kw) * cw;
              const float x = px ? px[c] : p->pad_value;
              acc[i] += bw_signed(x, bl_i_getbit(w, (size_t)c));
              if (++j == m) {
                j = 0;
                c++;
              }
            }
          }
        }
        for (i = 0; i < bs; i++) bl_i_emit_f32(&p->out, ob + i, acc[i], fout, &bw);
      }
      if (fout) fout += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- dense --------------------------------------------------------------------------------*/
static int bwdense_ok(const bl_bwdense_params *p)
{
  return p && p->n_in >= 1 && p->n_out >= 1 && p->weights && bl_i_output_ok(&p->out, 0);
}

bl_status bl_bwdense_ref(const bl_bwdense_params *p, const float *in, void *out)
{
  bl_i_bitwriter bw;
  size_t wpo;
  int32_t o, i;
  if (!bwdense_ok(p) || !in || !out) return BL_ERR_PARAM;
  wpo = BL_WORDS((size_t)p->n_in);
  bl_i_bw_init(&bw, out);
  for (o = 0; o < p->n_out; o++) {
    const uint32_t *w = p->weights + (size_t)o * wpo;
    float acc = 0.0f;
    for (i = 0; i < p->n_in; i++) acc += bl_i_getbit(w, (size_t)i) ? -in[i] : in[i];
    bl_i_emit_f32(&p->out, o, acc, (float *)out, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

bl_status bl_bwdense(const bl_bwdense_params *p, const float *in, void *out)
{
  bl_i_bitwriter bw;
  size_t wpo;
  int32_t o;
  const uint32_t *w;
  if (!bwdense_ok(p) || !in || !out) return BL_ERR_PARAM;
  wpo = BL_WORDS((size_t)p->n_in);
  w = p->weights;
  bl_i_bw_init(&bw, out);
  for (o = 0; o < p->n_out; o++, w += wpo)
    bl_i_emit_f32(&p->out, o, bw_sum(in, w, (size_t)p->n_in), (float *)out, &bw);
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
