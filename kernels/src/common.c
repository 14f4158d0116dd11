/* Shared parameter checks and window arithmetic used by every conv/pool kernel. */
#include <math.h>
#include <string.h>

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
  if (o->residual) return 0; /* only the kernels that add it accept it (they check it themselves) */
  if (integer && o->kind == BL_OUT_BITS && !o->threshold) return 0;
  return 1;
}

int bl_i_i8_output_ok(const bl_output *o, const int32_t *acc_init, int32_t n)
{
  int32_t c;
  if (o->kind == BL_OUT_S8) {
    if (o->s8_min < -128 || o->s8_max > 127 || o->s8_min > o->s8_max || o->residual) return 0;
  } else if (!bl_i_output_ok(o, 1)) {
    return 0;
  }
  if (acc_init)
    for (c = 0; c < n; c++)
      if (acc_init[c] > 1073741823 || acc_init[c] < -1073741823) return 0;
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

/* Ordered keys of the non-NaN floats: -inf < ... < -0 < +0 < ... < +inf as unsigned integers. */
static uint32_t fthr_key(float x)
{
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float fthr_float(uint32_t k)
{
  const uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static int fthr_bit(const bl_output *o, int32_t c, uint32_t key)
{
  return bl_i_affine_clamp(o, c, fthr_float(key)) < 0.0f;
}

void bl_i_fthr_init(const bl_output *o, int32_t c, bl_i_fthr *th)
{
  const float m = o->mul ? o->mul[c] : 1.0f, a = o->add ? o->add[c] : 0.0f;
  const float m2 = o->mul2 ? o->mul2[c] : 1.0f, a2 = o->add2 ? o->add2[c] : 0.0f;
  const uint32_t kmin = fthr_key(-INFINITY), kmax = fthr_key(INFINITY);
  uint32_t lo = kmin, hi = kmax;
  int first, last;
  th->s = 1.0f;
  th->u = 0.0f;
  th->mode = BL_I_FTHR_STAGE;
  /* finite nonzero scales and finite offsets: each step, and so the whole stage, is monotone */
  if (!(m - m == 0.0f) || m == 0.0f || !(a - a == 0.0f) || !(m2 - m2 == 0.0f) || m2 == 0.0f ||
      !(a2 - a2 == 0.0f) || !(o->act_min == o->act_min) || !(o->act_max == o->act_max) ||
      (o->mid_clamp && (!(o->mid_min == o->mid_min) || !(o->mid_max == o->mid_max))))
    return;
  first = fthr_bit(o, c, kmin);
  last = fthr_bit(o, c, kmax);
  if (first == last) {
    th->mode = first ? BL_I_FTHR_NUM : BL_I_FTHR_NONE;
    return;
  }
  /* the key where the bit changes: bit(lo) == first, bit(hi) == last */
  while (hi - lo > 1u) {
    const uint32_t mid = lo + (hi - lo) / 2u;
    if (fthr_bit(o, c, mid) == first)
      lo = mid;
    else
      hi = mid;
  }
  /* first == 1: bit = acc < t; else bit = acc >= t = -acc < (the float after -t). t is finite
   * or +inf here (hi > kmin), and f(-0) == f(+0) keeps the boundary off the pair of zeros, where
   * the float and key orders differ. */
  th->mode = BL_I_FTHR_LT;
  if (first) {
    th->s = 1.0f;
    th->u = fthr_float(hi);
  } else {
    th->s = -1.0f;
    th->u = fthr_float(fthr_key(-fthr_float(hi)) + 1u);
  }
}
