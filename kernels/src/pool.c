/* Pooling: max-pool on s1 bits (AND = max of ±1, OR for channels whose map reversed the order),
 * max/average pool on f32, and the global pools. Padded positions are ignored, as in TF. */
#include <float.h>

#include "bl_internal.h"

/* Every window must hold at least one in-image position (TF geometry guarantees it). */
static int pool_ok(const bl_pool_params *p)
{
  const bl_conv_geom *g;
  int32_t o, k;
  if (!p || !bl_i_geom_ok(&p->g)) return 0;
  g = &p->g;
  if (g->in_c != g->out_c || g->dil_h != 1 || g->dil_w != 1) return 0;
  for (o = 0; o < g->out_h; o++) {
    const int32_t i0 = o * g->stride_h - g->pad_top;
    for (k = 0; k < g->k_h && (i0 + k < 0 || i0 + k >= g->in_h); k++) {
    }
    if (k == g->k_h) return 0;
  }
  for (o = 0; o < g->out_w; o++) {
    const int32_t i0 = o * g->stride_w - g->pad_left;
    for (k = 0; k < g->k_w && (i0 + k < 0 || i0 + k >= g->in_w); k++) {
    }
    if (k == g->k_w) return 0;
  }
  return 1;
}

/* In-image window range [lo, hi) along one axis for output index o. */
static void pool_range(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t in,
                       int32_t *lo, int32_t *hi)
{
  const int32_t i0 = o * stride - pad;
  *lo = i0 < 0 ? 0 : i0;
  *hi = i0 + k > in ? in : i0 + k;
}

/* ---- s1 max-pool ----------------------------------------------------------------------------*/
bl_status bl_maxpool_s1_ref(const bl_pool_params *p, const uint32_t *in, uint32_t *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, c, kh, kw;
  if (!pool_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      for (c = 0; c < g->in_c; c++) {
        const int use_or = p->or_mask && bl_i_getbit(p->or_mask, (size_t)c);
        uint32_t r = use_or ? 0u : 1u;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh;
            const int32_t iw = ow * g->stride_w - g->pad_left + kw;
            uint32_t b;
            if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue;
            b = bl_i_getbit(in, ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c +
                                    (size_t)c);
            r = use_or ? (r | b) : (r & b);
          }
        }
        bl_i_bw_put(&bw, r);
      }
    }
  }
  bl_i_bw_flush(&bw);
  return BL_OK;
}

/* Optimized: 32 channels per step. Each window position contributes one 32-bit slice of the
 * pixel's channel bits; AND and OR are both accumulated and the or_mask picks per channel. */
bl_status bl_maxpool_s1(const bl_pool_params *p, const uint32_t *in, uint32_t *out)
{
  const bl_conv_geom *g;
  bl_i_bitwriter bw;
  int32_t oh, ow, ih, iw, h0, h1, w0, w1;
  size_t cb;
  if (!pool_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  bl_i_bw_init(&bw, out);
  for (oh = 0; oh < g->out_h; oh++) {
    pool_range(oh, g->stride_h, g->pad_top, g->k_h, g->in_h, &h0, &h1);
    for (ow = 0; ow < g->out_w; ow++) {
      pool_range(ow, g->stride_w, g->pad_left, g->k_w, g->in_w, &w0, &w1);
      for (cb = 0; cb < (size_t)g->in_c; cb += 32) {
        const uint32_t n = (size_t)g->in_c - cb < 32 ? (uint32_t)((size_t)g->in_c - cb) : 32u;
        const uint32_t om = p->or_mask ? bl_i_readbits(p->or_mask, cb, n) : 0u;
        uint32_t a = 0xffffffffu, o = 0;
        for (ih = h0; ih < h1; ih++) {
          for (iw = w0; iw < w1; iw++) {
            const uint32_t v = bl_i_readbits(
                in, ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c + cb, n);
            a &= v;
            o |= v;
          }
        }
        bl_i_bw_putn(&bw, ((a & ~om) | (o & om)) & (n < 32 ? (1u << n) - 1u : 0xffffffffu), n);
      }
    }
  }
  bl_i_bw_flush(&bw);
  return BL_OK;
}

/* ---- f32 pools ------------------------------------------------------------------------------
 * Max, as TF's CPU MaxPool: start at -FLT_MAX (not -inf) and let v > m replace it, so a NaN never
 * wins and a window of only NaN or -inf gives -FLT_MAX. Average: in-image elements summed in
 * (kh, kw) order, divided by their count. Both loop over channels innermost so each channel sees
 * exactly that sequence. */
static bl_status fpool(const bl_pool_params *p, const float *in, float *out, int avg)
{
  const bl_conv_geom *g;
  int32_t oh, ow, ih, iw, c, h0, h1, w0, w1;
  if (!pool_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  for (oh = 0; oh < g->out_h; oh++) {
    pool_range(oh, g->stride_h, g->pad_top, g->k_h, g->in_h, &h0, &h1);
    for (ow = 0; ow < g->out_w; ow++) {
      float *o = out + ((size_t)oh * (size_t)g->out_w + (size_t)ow) * (size_t)g->out_c;
      int first = 1;
      pool_range(ow, g->stride_w, g->pad_left, g->k_w, g->in_w, &w0, &w1);
      if (!avg)
        for (c = 0; c < g->in_c; c++) o[c] = -FLT_MAX;
      for (ih = h0; ih < h1; ih++) {
        for (iw = w0; iw < w1; iw++) {
          const float *x = in + ((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c;
          if (avg && first) {
            for (c = 0; c < g->in_c; c++) o[c] = 0.0f + x[c];
            first = 0;
          } else if (avg) {
            for (c = 0; c < g->in_c; c++) o[c] += x[c];
          } else {
            for (c = 0; c < g->in_c; c++)
              if (x[c] > o[c]) o[c] = x[c];
          }
        }
      }
      if (avg) {
        const float cnt = (float)((h1 - h0) * (w1 - w0));
        for (c = 0; c < g->in_c; c++) o[c] = o[c] / cnt;
      }
    }
  }
  return BL_OK;
}

/* The references: one output element at a time, straight from the definition. */
static bl_status fpool_ref(const bl_pool_params *p, const float *in, float *out, int avg)
{
  const bl_conv_geom *g;
  int32_t oh, ow, c, kh, kw;
  if (!pool_ok(p) || !in || !out) return BL_ERR_PARAM;
  g = &p->g;
  for (oh = 0; oh < g->out_h; oh++) {
    for (ow = 0; ow < g->out_w; ow++) {
      for (c = 0; c < g->in_c; c++) {
        float r = avg ? 0.0f : -FLT_MAX;
        int32_t cnt = 0;
        for (kh = 0; kh < g->k_h; kh++) {
          for (kw = 0; kw < g->k_w; kw++) {
            const int32_t ih = oh * g->stride_h - g->pad_top + kh;
            const int32_t iw = ow * g->stride_w - g->pad_left + kw;
            float x;
            if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue;
            x = in[((size_t)ih * (size_t)g->in_w + (size_t)iw) * (size_t)g->in_c + (size_t)c];
            if (avg)
              r += x;
            else if (x > r)
              r = x;
            cnt++;
          }
        }
        out[((size_t)oh * (size_t)g->out_w + (size_t)ow) * (size_t)g->out_c + (size_t)c] =
            avg ? r / (float)cnt : r;
      }
    }
  }
  return BL_OK;
}

bl_status bl_maxpool_f32(const bl_pool_params *p, const float *in, float *out)
{
  return fpool(p, in, out, 0);
}

bl_status bl_maxpool_f32_ref(const bl_pool_params *p, const float *in, float *out)
{
  return fpool_ref(p, in, out, 0);
}

bl_status bl_avgpool_f32(const bl_pool_params *p, const float *in, float *out)
{
  return fpool(p, in, out, 1);
}

bl_status bl_avgpool_f32_ref(const bl_pool_params *p, const float *in, float *out)
{
  return fpool_ref(p, in, out, 1);
}

/* ---- global pools ---------------------------------------------------------------------------*/
bl_status bl_global_avgpool_f32(int32_t h, int32_t w, int32_t c, const float *in, float *out)
{
  size_t i, k, n;
  if (h < 1 || w < 1 || c < 1 || !in || !out) return BL_ERR_PARAM;
  n = (size_t)h * (size_t)w;
  for (k = 0; k < (size_t)c; k++) out[k] = 0.0f + in[k];
  for (i = 1; i < n; i++)
    for (k = 0; k < (size_t)c; k++) out[k] += in[i * (size_t)c + k];
  for (k = 0; k < (size_t)c; k++) out[k] = out[k] / (float)n;
  return BL_OK;
}

/* Max, as TF's reduce_max (what Keras' GlobalMaxPooling calls; unlike MaxPool it propagates NaN
 * since TF 2.4): the first element, then v replaces m when v > m or v is NaN, so any NaN gives
 * NaN (the last one, as Eigen's NaN-propagating max) and only -inf gives -inf. */
bl_status bl_global_maxpool_f32(int32_t h, int32_t w, int32_t c, const float *in, float *out)
{
  size_t i, k, n;
  if (h < 1 || w < 1 || c < 1 || !in || !out) return BL_ERR_PARAM;
  n = (size_t)h * (size_t)w;
  memcpy(out, in, (size_t)c * sizeof(float));
  for (i = 1; i < n; i++)
    for (k = 0; k < (size_t)c; k++) {
      const float v = in[i * (size_t)c + k];
      if (v > out[k] || v != v) out[k] = v;
    }
  return BL_OK;
}

bl_status bl_global_maxpool_s1(int32_t h, int32_t w, int32_t c, const uint32_t *or_mask,
                               const uint32_t *in, uint32_t *out)
{
  bl_i_bitwriter bw;
  size_t i, n, cb;
  if (h < 1 || w < 1 || c < 1 || !in || !out) return BL_ERR_PARAM;
  n = (size_t)h * (size_t)w;
  bl_i_bw_init(&bw, out);
  for (cb = 0; cb < (size_t)c; cb += 32) {
    const uint32_t nb = (size_t)c - cb < 32 ? (uint32_t)((size_t)c - cb) : 32u;
    const uint32_t om = or_mask ? bl_i_readbits(or_mask, cb, nb) : 0u;
    uint32_t a = 0xffffffffu, o = 0;
    for (i = 0; i < n; i++) {
      const uint32_t v = bl_i_readbits(in, i * (size_t)c + cb, nb);
      a &= v;
      o |= v;
    }
    bl_i_bw_putn(&bw, ((a & ~om) | (o & om)) & (nb < 32 ? (1u << nb) - 1u : 0xffffffffu), nb);
  }
  bl_i_bw_flush(&bw);
  return BL_OK;
}
