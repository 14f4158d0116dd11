/* Float kernels (f32 input, f32 weights): conv2d, depthwise and dense with constant padding,
 * references from the definition and optimized twins blocked over output channels. */
#include "bl_internal.h"

/* Output channels accumulated side by side by the optimized kernels. Every channel still adds
 * its taps in (kh, kw, ci) order with separate multiply and add (no FMA: the build uses
 * -ffp-contract=off), so results equal the references bit for bit; the block only shares the
 * input load and the tap/padding bookkeeping, and keeps the weights (HWIO: contiguous over
 * output channels) streaming. */
#define F_BLOCK 8

static int f_ok(const bl_conv_geom *g, const float *w, const bl_output *o)
{
  return bl_i_geom_ok(g) && w && bl_i_output_ok(o, 0);
}

/* ---- conv2d -------------------------------------------------------------------------------*/
/* 0 for bad parameters, else the number of groups. */
static int32_t fconv_groups(const bl_conv2d_params *p)
{
  if (!p || !f_ok(&p->g, p->weights, &p->out)) return 0;
  return bl_i_groups(&p->g, p->groups);
}

bl_status bl_conv2d_ref(const bl_conv2d_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, oc, kh, kw, ci, cg, og;
  const int32_t groups = fconv_groups(p);
  if (!groups || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      float *fout = p->out.kind == BL_OUT_F32
                        ? (float *)out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) *
                                             (size_t)g->out_c
                        : NULL;
      for (oc = 0; oc < g->out_c; oc++) {
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
              const float w = p->weights[(((size_t)kh * (size_t)g->k_w + (size_t)kw) *
                                              (size_t)cg + (size_t)ci) *
                                             (size_t)g->out_c + (size_t)oc];
              acc += x * w;
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

/* One block of output channels for one pixel: acc[i] for channels ob..ob+bs-1 over all taps,
 * reading the cg input channels from c0 (a block never spans two groups).
 * With a full block of 8 the accumulators are named locals, so they stay in FPU registers
 * (one input load and 8 weight loads, multiplies and adds per tap). */
static void conv_block(const bl_conv2d_params *p, const float *in, int32_t oh, int32_t ow,
                       int32_t ob, int32_t bs, int32_t c0, int32_t cg, float *acc)
{
  const bl_conv_geom *g = &p->g;
  const float *wrow = p->weights + ob;
  const size_t oc = (size_t)g->out_c;
  int32_t kh, kw, ci, i;
  float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, a4 = 0.0f, a5 = 0.0f, a6 = 0.0f, a7 = 0.0f;
  for (i = 0; i < bs; i++) acc[i] = 0.0f;
  for (kh = 0; kh < g->k_h; kh++) {
    const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
    for (kw = 0; kw < g->k_w; kw++) {
      const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
      const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
      const float *px = inside ? in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                          (size_t)g->in_c + (size_t)c0
                               : NULL;
      if (bs == F_BLOCK) {
        for (ci = 0; ci < cg; ci++, wrow += oc) {
          const float x = px ? px[ci] : p->pad_value;
          a0 += x * wrow[0];
          a1 += x * wrow[1];
          a2 += x * wrow[2];
          a3 += x * wrow[3];
          a4 += x * wrow[4];
          a5 += x * wrow[5];
          a6 += x * wrow[6];
          a7 += x * wrow[7];
        }
      } else {
        for (ci = 0; ci < cg; ci++, wrow += oc) {
          const float x = px ? px[ci] : p->pad_value;
          for (i = 0; i < bs; i++) acc[i] += x * wrow[i];
        }
      }
    }
  }
  if (bs == F_BLOCK) {
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = a4;
    acc[5] = a5;
    acc[6] = a6;
    acc[7] = a7;
  }
}

bl_status bl_conv2d(const bl_conv2d_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  float *fout, acc[F_BLOCK];
  int32_t oh, ow, ob, i, gi, cg, og;
  const int32_t groups = fconv_groups(p);
  if (!groups || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  cg = g->in_c / groups;
  og = g->out_c / groups;
  fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      for (gi = 0; gi < groups; gi++) {
        const int32_t end = (gi + 1) * og;
        for (ob = gi * og; ob < end; ob += F_BLOCK) {
          const int32_t bs = end - ob < F_BLOCK ? end - ob : F_BLOCK;
          conv_block(p, in, oh, ow, ob, bs, gi * cg, cg, acc);
          for (i = 0; i < bs; i++) bl_i_emit_f32(&p->out, ob + i, acc[i], fout, &bw);
        }
      }
      if (fout) fout += g->out_c;
    }
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- depthwise: weights [kh][kw][in_c][m], output channel c*m + j uses input channel c -----*/
static int fdw_ok(const bl_depthwise_params *p)
{
  return p && f_ok(&p->g, p->weights, &p->out) && p->depth_multiplier >= 1 &&
         p->g.out_c == p->g.in_c * p->depth_multiplier;
}

bl_status bl_depthwise_ref(const bl_depthwise_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, c, j, kh, kw, m;
  if (!fdw_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
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
              const float x = (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w)
                                  ? in[((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                           (size_t)g->in_c + (size_t)c]
                                  : p->pad_value;
              const float w = p->weights[(((size_t)kh * (size_t)g->k_w + (size_t)kw) *
                                              (size_t)g->in_c + (size_t)c) *
                                             (size_t)m + (size_t)j];
              acc += x * w;
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

bl_status bl_depthwise(const bl_depthwise_params *p, const float *in, void *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  float *fout, acc[F_BLOCK];
  int32_t oh, ow, ob, kh, kw, i, m;
  if (!fdw_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  m = p->depth_multiplier;
  fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      for (ob = 0; ob < g->out_c; ob += F_BLOCK) {
        const int32_t bs = g->out_c - ob < F_BLOCK ? g->out_c - ob : F_BLOCK;
        for (i = 0; i < bs; i++) acc[i] = 0.0f;
        for (kh = 0; kh < g->k_h; kh++) {
          const int32_t ih = oh * g->stride_h - g->pad_top + kh * g->dil_h;
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t iw = ow * g->stride_w - g->pad_left + kw * g->dil_w;
            /* weights of this tap are contiguous over output channels c*m + j */
            const float *wt = p->weights +
                              ((size_t)kh * (size_t)g->k_w + (size_t)kw) * (size_t)g->out_c +
                              (size_t)ob;
            if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
              const float *px = in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) *
                                         (size_t)g->in_c;
              if (m == 1) {
                for (i = 0; i < bs; i++) acc[i] += px[ob + i] * wt[i];
              } else {
                int32_t c = ob / m, j = ob % m;
                for (i = 0; i < bs; i++) {
                  acc[i] += px[c] * wt[i];
                  if (++j == m) {
                    j = 0;
                    c++;
                  }
                }
              }
            } else {
              for (i = 0; i < bs; i++) acc[i] += p->pad_value * wt[i];
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

/* ---- dense: weights [n_in][n_out] ---------------------------------------------------------*/
static int fdense_ok(const bl_dense_params *p)
{
  return p && p->n_in >= 1 && p->n_out >= 1 && p->weights && bl_i_output_ok(&p->out, 0);
}

bl_status bl_dense_ref(const bl_dense_params *p, const float *in, void *out)
{
  bl_i_bitwriter bw;
  int32_t o, i;
  if (!fdense_ok(p) || !in || !out) return BL_ERR_PARAM;
  bl_i_bw_init(&bw, out);
  for (o = 0; o < p->n_out; o++) {
    float acc = 0.0f;
    for (i = 0; i < p->n_in; i++) acc += in[i] * p->weights[(size_t)i * (size_t)p->n_out + (size_t)o];
    bl_i_emit_f32(&p->out, o, acc, (float *)out, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

bl_status bl_dense(const bl_dense_params *p, const float *in, void *out)
{
  bl_i_bitwriter bw;
  float acc[F_BLOCK];
  int32_t ob, i, k;
  if (!fdense_ok(p) || !in || !out) return BL_ERR_PARAM;
  bl_i_bw_init(&bw, out);
  for (ob = 0; ob < p->n_out; ob += F_BLOCK) {
    const int32_t bs = p->n_out - ob < F_BLOCK ? p->n_out - ob : F_BLOCK;
    const float *wrow = p->weights + ob;
    for (k = 0; k < bs; k++) acc[k] = 0.0f;
    for (i = 0; i < p->n_in; i++, wrow += p->n_out) {
      const float x = in[i];
      if (bs == F_BLOCK) {
        for (k = 0; k < F_BLOCK; k++) acc[k] += x * wrow[k];
      } else {
        for (k = 0; k < bs; k++) acc[k] += x * wrow[k];
      }
    }
    for (k = 0; k < bs; k++) bl_i_emit_f32(&p->out, ob + k, acc[k], (float *)out, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}
