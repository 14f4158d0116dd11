/* Shared parameter checks and window arithmetic used by every conv/pool kernel. */
#include "bl_internal.h"

int bl_i_geom_ok(const bl_conv_geom *g)
{
  if (!g) return 0;
  if (g->in_h < 1 || g->in_w < 1 || g->in_c < 1) return 0;
  if (g->out_h < 1 || g->out_w < 1 || g->out_c < 1) return 0;
  if (g->k_h < 1 || g->k_w < 1) return 0;
  if (g->stride_h < 1 || g->stride_w < 1 || g->dil_h < 1 || g->dil_w < 1) return 0;
  if (g->pad_top < 0 || g->pad_left < 0) return 0;
  return 1;
}

int bl_i_output_ok(const bl_output *o, int integer)
{
  if (o->kind != BL_OUT_F32 && o->kind != BL_OUT_BITS) return 0;
  if (integer && o->kind == BL_OUT_BITS && !o->threshold) return 0;
  return 1;
}

/* Output i has its whole window inside iff i*s - pad >= 0 and i*s - pad + (k-1)*dil <= in - 1,
 * i.e. ceil(pad / s) <= i <= floor((in - 1 - (k-1)*dil + pad) / s). */
void bl_i_interior(int32_t in, int32_t out, int32_t k, int32_t stride, int32_t dil, int32_t pad,
                   int32_t *lo, int32_t *hi)
{
  int64_t l = ((int64_t)pad + stride - 1) / stride;
  int64_t last = (int64_t)in - 1 - (int64_t)(k - 1) * dil + pad;
  int64_t h = last < 0 ? 0 : last / stride + 1;
  if (l > out) l = out;
  if (h > out) h = out;
  if (h < l) h = l;
  *lo = (int32_t)l;
  *hi = (int32_t)h;
}
