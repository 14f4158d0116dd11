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

/* Conv2d sums in quads: the taps of a filter, in (kh, kw, ci) order, go in groups of four and
 * acc = ((0 + G0) + G1) + ..., where the group sum of v_i = (weight bit ? -x_i : x_i) is
 * (v0 + v1) + (v2 + v3) for four taps, (v0 + v1) + v2 for three, v0 + v1 for two, v0 for one.
 * Keras leaves the order of a convolution's sum open; this one lets the optimized kernel compute
 * each group's 16 sign patterns once per pixel and share them among all filters (below). */
#define BW_LANES 8

/* Taps per filter of a group, and quads (groups of up to four taps). */
static size_t bwconv_quads(size_t taps) { return (taps + 3) / 4; }

size_t bl_bwconv2d_scratch_size(const bl_bwconv2d_params *p)
{
  const int32_t groups = bwconv_groups(p);
  size_t taps;
  if (!groups) return 0;
  taps = bwconv_taps(&p->g, groups);
  /* patches of BW_LANES pixels, the pattern table (16 sums x lanes per quad), the sums of
   * every output channel of BW_LANES pixels, and per channel the bit output's comparison */
  return (BW_LANES * taps + 16 * BW_LANES * bwconv_quads(taps) + BW_LANES * (size_t)p->g.out_c) *
             sizeof(float) +
         (size_t)p->g.out_c * sizeof(bl_i_fthr);
}

/* Group sum of the n (1..4) taps at xs with sign bits `bits` (bit i: tap i), as defined above. */
BL_INLINE float bw_quad(const float *xs, uint32_t bits, size_t n)
{
  const float v0 = bw_signed(xs[0], bits & 1u);
  float v1, s01;
  if (n == 1) return v0;
  v1 = bw_signed(xs[1], (bits >> 1) & 1u);
  s01 = v0 + v1;
  if (n == 2) return s01;
  if (n == 3) return s01 + bw_signed(xs[2], (bits >> 2) & 1u);
  return s01 + (bw_signed(xs[2], (bits >> 2) & 1u) + bw_signed(xs[3], (bits >> 3) & 1u));
}

bl_status bl_bwconv2d_ref(const bl_bwconv2d_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf, taps;
  float xs[4];
  int32_t oh, ow, oc, cg, og;
  const int32_t groups = bwconv_groups(p);
  if (!groups || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  taps = bwconv_taps(g, groups);
  wpf = BL_WORDS(taps);
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
        size_t t, i;
        for (t = 0; t < taps; t += 4) {
          const size_t n = taps - t < 4 ? taps - t : 4;
          for (i = 0; i < n; i++) {
            /* tap t + i is (kh, kw, ci) in the filter's order */
            const size_t tap = t + i;
            const int32_t ci = (int32_t)(tap % (size_t)cg);
            const int32_t kw = (int32_t)(tap / (size_t)cg % (size_t)g->k_w);
            const int32_t kh = (int32_t)(tap / (size_t)cg / (size_t)g->k_w);
            const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
            xs[i] = inside ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c +
                                (size_t)(c0 + ci)]
                           : p->pad_value;
          }
          acc += bw_quad(xs, (w[t >> 5] >> (t & 31)) & 15u, n);
        }
        bl_i_emit_f32(&p->out, oc, acc, fout, &bw);
      }
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Gathers the window of output pixel (oh, ow) over the group's cg channels from c0 into dst in
 * (kh, kw, ci) order; padded taps hold pad_value. */
static void bw_gather(const bl_bwconv2d_params *p, const float *in, int32_t oh, int32_t ow,
                      int32_t c0, int32_t cg, float *dst)
{
  const bl_conv_geom *g = &p->g;
  int32_t kh, kw, ci;
  for (kh = 0; kh < g->k_h; kh++) {
    const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    for (kw = 0; kw < g->k_w; kw++, dst += cg) {
      const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
      if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
        const float *src = in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c + (size_t)c0;
        /* first layers have 1-3 channels: a loop beats a memcpy call */
        if (cg <= 8)
          for (ci = 0; ci < cg; ci++) dst[ci] = src[ci];
        else
          memcpy(dst, src, (size_t)cg * sizeof(float));
      } else
        for (ci = 0; ci < cg; ci++) dst[ci] = p->pad_value;
    }
  }
}

/* The pattern table of BW_LANES pixels: for quad q, tbl[(q * 16 + pattern) * BW_LANES + lane]
 * is that pixel's group sum under the pattern's signs. A four-tap group needs only its pair sums
 * A = x0 + x1, B = x0 - x1 (and C, D for x2, x3): v0 + v1 is A, -B, B or -A (IEEE addition
 * commutes with negation), so each pattern is one addition of a pair value of each half. */
static void bw_table(const float *patch, size_t taps, float *tbl)
{
  size_t t, lane;
  uint32_t e;
  for (t = 0; t < taps; t += 4, tbl += 16 * BW_LANES) {
    const size_t n = taps - t < 4 ? taps - t : 4;
    for (lane = 0; lane < BW_LANES; lane++) {
      const float *x = patch + lane * taps + t;
      float *d = tbl + lane;
      if (n >= 2) {
        const float a = x[0] + x[1], b = x[0] - x[1];
        const float u01[4] = {a, -b, b, -a};
        if (n == 4) {
          /* written out: indexed local arrays would live on the stack */
          const float c = x[2] + x[3], dd = x[2] - x[3], nb = -b, na = -a, nd = -dd, nc = -c;
          d[0 * BW_LANES] = a + c;
          d[1 * BW_LANES] = nb + c;
          d[2 * BW_LANES] = b + c;
          d[3 * BW_LANES] = na + c;
          d[4 * BW_LANES] = a + nd;
          d[5 * BW_LANES] = nb + nd;
          d[6 * BW_LANES] = b + nd;
          d[7 * BW_LANES] = na + nd;
          d[8 * BW_LANES] = a + dd;
          d[9 * BW_LANES] = nb + dd;
          d[10 * BW_LANES] = b + dd;
          d[11 * BW_LANES] = na + dd;
          d[12 * BW_LANES] = a + nc;
          d[13 * BW_LANES] = nb + nc;
          d[14 * BW_LANES] = b + nc;
          d[15 * BW_LANES] = na + nc;
        } else if (n == 3) {
          for (e = 0; e < 16; e++) d[e * BW_LANES] = u01[e & 3u] + bw_signed(x[2], (e >> 2) & 1u);
        } else {
          for (e = 0; e < 16; e++) d[e * BW_LANES] = u01[e & 3u];
        }
      } else {
        for (e = 0; e < 16; e++) d[e * BW_LANES] = bw_signed(x[0], e & 1u);
      }
    }
  }
}

/* Sums of filters o0..o1-1 (from w, wpf words each) for the BW_LANES pixels of the table: per
 * quad one lookup of the filter's 4 weight bits and BW_LANES adds. Float output: into
 * acc[lane * stride + o]. Bit output with single comparisons (th, bl_i_fthr_all_lt): each bit
 * goes straight into lbits[lane * lwords + o / 32], so the sums never leave registers. */
static void bw_filters(const float *tbl, size_t quads, const uint32_t *w, size_t wpf, int32_t o0,
                       int32_t o1, float *acc, size_t stride, const bl_i_fthr *th,
                       uint32_t *lbits, size_t lwords)
{
  int32_t o;
  size_t l;
  for (o = o0; o < o1; o++, w += wpf) {
    /* BW_LANES accumulators, spelled out so that they stay in registers */
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;
    float a[BW_LANES];
    const float *tq = tbl;
    size_t q = 0, k;
    while (q < quads) {
      uint32_t bits = w[q >> 3];
      const size_t end = quads - q < 8 ? quads : q + 8;
      for (k = q; k < end; k++, bits >>= 4, tq += 16 * BW_LANES) {
        const float *e = tq + (bits & 15u) * BW_LANES;
        a0 += e[0];
        a1 += e[1];
        a2 += e[2];
        a3 += e[3];
        a4 += e[4];
        a5 += e[5];
        a6 += e[6];
        a7 += e[7];
      }
      q = end;
    }
    a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5; a[6] = a6; a[7] = a7;
    if (lbits) {
      const float sg = th[o].s, u = th[o].u;
      const uint32_t sh = (uint32_t)o & 31u;
      uint32_t *lb = lbits + ((uint32_t)o >> 5);
      for (l = 0; l < BW_LANES; l++) lb[l * lwords] |= (uint32_t)(sg * a[l] < u) << sh;
    } else {
      for (l = 0; l < BW_LANES; l++) acc[l * stride + (size_t)o] = a[l];
    }
  }
}

/* Optimized: BW_LANES neighbouring output pixels at a time. Their windows are gathered, each
 * quad's 16 sign patterns summed once per pixel (bw_table), and every filter adds one table
 * entry per quad and pixel: about 2.5 instructions per quad and pixel on Cortex-M4 instead of 2
 * per tap, with the table's cost shared by all filters. Same operations, same order as the
 * reference. */
bl_status bl_bwconv2d(const bl_bwconv2d_params *p, const float *in, void *out, void *scratch)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  size_t wpf, taps, quads, lane;
  float *patch, *tbl, *acc;
  bl_i_fthr *th;
  uint32_t *lbits;
  size_t lwords, pixels, p0;
  int all_lt;
  int32_t gi, cg, og;
  const int32_t groups = bwconv_groups(p);
  if (!groups || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  taps = bwconv_taps(g, groups);
  quads = bwconv_quads(taps);
  wpf = BL_WORDS(taps);
  patch = (float *)scratch;
  tbl = patch + BW_LANES * taps;
  acc = tbl + 16 * BW_LANES * quads;
  th = (bl_i_fthr *)(acc + BW_LANES * (size_t)g->out_c);
  if (p->out.kind == BL_OUT_BITS)
    for (gi = 0; gi < g->out_c; gi++) bl_i_fthr_init(&p->out, gi, th + gi);
  all_lt = p->out.kind == BL_OUT_BITS && bl_i_fthr_all_lt(th, g->out_c);
  /* bit output with single comparisons: per-lane bit words in the sums' place */
  lwords = (size_t)(g->out_c + 31) / 32;
  lbits = all_lt ? (uint32_t *)acc : NULL;
  bl_i_bw_init(&bw, out);
  /* Lanes are consecutive output pixels in raster order, across row ends, so narrow images
   * (26 pixels a row) waste no lane. */
  pixels = (size_t)g->out_h * (size_t)g->out_w;
  for (p0 = 0; p0 < pixels; p0 += BW_LANES) {
    const size_t np = pixels - p0 < BW_LANES ? pixels - p0 : BW_LANES;
    if (lbits) bl_i_fill_words(lbits, BW_LANES * lwords, 0u);
    for (gi = 0; gi < groups; gi++) {
      for (lane = 0; lane < BW_LANES; lane++) {
        /* lanes past the last pixel repeat it: computed, never written */
        const size_t px = p0 + (lane < np ? lane : np - 1);
        bw_gather(p, in, (int32_t)(px / (size_t)g->out_w), (int32_t)(px % (size_t)g->out_w), gi * cg, cg,
                  patch + lane * taps);
      }
      bw_table(patch, taps, tbl);
      bw_filters(tbl, quads, p->weights + (size_t)gi * (size_t)og * wpf, wpf, gi * og, (gi + 1) * og,
                 acc, (size_t)g->out_c, th, lbits, lwords);
    }
    for (lane = 0; lane < np; lane++) {
      float *fout = p->out.kind == BL_OUT_F32 ? (float *)out + (p0 + lane) * (size_t)g->out_c : NULL;
      if (fout) {
        bl_i_emit_f32_row(&p->out, acc + lane * (size_t)g->out_c, g->out_c, fout, &bw);
      } else if (lbits) {
        size_t j;
        for (j = 0; j < lwords; j++) {
          const size_t left = (size_t)g->out_c - 32 * j;
          bl_i_bw_putn(&bw, lbits[lane * lwords + j], left < 32 ? (uint32_t)left : 32u);
        }
      } else {
        bl_i_emit_bits_row(&p->out, th, 0, acc + lane * (size_t)g->out_c, g->out_c, &bw);
      }
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
