/* Element-wise and shape ops on f32 (affine/BatchNorm + activation, softmax, add, constant
 * padding) and concatenation of f32 and s1 tensors along the channel axis. */
#include "bl_internal.h"

/* Kinds the parameterless entry points (bl_affine_f32, bl_add_f32) accept: everything but
 * the ones that need bl_act's fields (ELU runs with alpha = 1, the activation function's). */
static int act_ok(bl_activation a)
{
  return (unsigned)a <= (unsigned)BL_ACT_GELU_TANH;
}

static float relu6f(float x)
{
  return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
}

/* x * sigmoid(x); for x < 0 as x e / (1 + e), e = exp(x), so large negative x gives the tiny
 * product instead of x / inf. */
static float swishf(float x)
{
  if (x >= 0.0f) return x / (1.0f + bl_expf(-x));
  {
    const float e = bl_expf(x);
    return (x * e) / (1.0f + e);
  }
}

/* Keras' relu(x, negative_slope, max_value, threshold), step by step as in
 * keras/activations.py (tf.keras 2.x and Keras 3 agree). */
static float relu_ex(const bl_act *a, float x)
{
  const float slope = a->alpha, mx = a->max_value, th = a->threshold;
  const int clip = !(mx > 3.0e38f); /* max_value given (INFINITY = none) */
  float y, neg = 0.0f;
  if (slope != 0.0f) {
    if (!clip && th == 0.0f) return x > 0.0f ? x : slope * x;
    neg = th - x;
    neg = neg > 0.0f ? neg : 0.0f;
  }
  if (th != 0.0f) {
    y = x > th ? x : 0.0f * x;
  } else if (clip && mx == 6.0f) {
    y = relu6f(x);
    if (slope == 0.0f) return y;
    return y - slope * neg;
  } else {
    y = x < 0.0f ? 0.0f : x;
  }
  if (clip) y = y < 0.0f ? 0.0f : (y > mx ? mx : y);
  if (slope != 0.0f) y = y - slope * neg;
  return y;
}

/* Keras' activations in float on the portable math of mathf.c (the same bits on every target);
 * hard_sigmoid is tf.keras 2.x's max(0, min(1, 0.2x + 0.5)). */
static float act_apply(const bl_act *a, float x, size_t ch)
{
  switch (a->kind) {
    case BL_ACT_RELU:
      return x < 0.0f ? 0.0f : x;
    case BL_ACT_RELU6:
      return relu6f(x);
    case BL_ACT_SIGMOID:
      return 1.0f / (1.0f + bl_expf(-x));
    case BL_ACT_TANH:
      return bl_tanhf(x);
    case BL_ACT_HARD_SIGMOID: {
      float y = 0.2f * x;
      y = y + 0.5f;
      return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case BL_ACT_HARD_TANH:
      return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
    case BL_ACT_HARD_SIGMOID_K3:
      return relu6f(x + 3.0f) / 6.0f;
    case BL_ACT_HARD_SWISH:
      return x * (relu6f(x + 3.0f) / 6.0f);
    case BL_ACT_SWISH:
      return swishf(x);
    case BL_ACT_MISH:
      return x * bl_tanhf(bl_softplusf(x));
    case BL_ACT_SOFTPLUS:
      return bl_softplusf(x);
    case BL_ACT_SOFTSIGN: {
      const float d = (x < 0.0f ? -x : x) + 1.0f;
      return x / d;
    }
    case BL_ACT_EXPONENTIAL:
      return bl_expf(x);
    case BL_ACT_ELU:
      return x > 0.0f ? x : a->alpha * bl_expm1f(x);
    case BL_ACT_SELU:
      return x > 0.0f ? 0x1.0cfabep+0f * x : 0x1.c212ccp+0f * bl_expm1f(x);
    case BL_ACT_GELU:
      return bl_geluf(x);
    case BL_ACT_GELU_TANH: {
      /* TF's float32 steps (tf.nn.gelu, approximate=True): 0.5 x (1 + tanh(c (x + 0.044715
       * x^3))). 1 + tanh cancels for negative x and is 0 once tanh rounds to -1: Keras' -0
       * there has sign +1 for a following sign quantizer, so the steps are kept. */
      float u = x * x;
      u = u * x;
      u = 0.044715f * u;
      u = x + u;
      u = 0x1.988454p-1f * u; /* float(0.7978845608028654), sqrt(2/pi) */
      u = 1.0f + bl_tanhf(u);
      return (0.5f * x) * u;
    }
    case BL_ACT_LEAKY_RELU:
      return x > 0.0f ? x : a->alpha * x;
    case BL_ACT_RELU_EX:
      return relu_ex(a, x);
    case BL_ACT_PRELU:
      return x > 0.0f ? x : a->slopes[ch] * x;
    case BL_ACT_LEAKY_TANH: {
      const float hi = (x > 1.0f ? x : 1.0f) - 1.0f, lo = (x < -1.0f ? x : -1.0f) + 1.0f;
      float y = x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
      y = y + hi * a->alpha;
      return y + lo * a->alpha;
    }
    case BL_ACT_LINEAR:
    default:
      return x;
  }
}

bl_status bl_affine_f32(size_t n, int32_t c, const float *mul, const float *add,
                        bl_activation act, const float *in, float *out)
{
  size_t i, ch = 0;
  bl_act a;
  if (c < 1 || !in || !out || !act_ok(act)) return BL_ERR_PARAM;
  memset(&a, 0, sizeof a);
  a.kind = act;
  a.alpha = 1.0f;
  for (i = 0; i < n; i++) {
    float y = in[i] * (mul ? mul[ch] : 1.0f);
    y = y + (add ? add[ch] : 0.0f);
    out[i] = act_apply(&a, y, 0);
    if (++ch == (size_t)c) ch = 0;
  }
  return BL_OK;
}

bl_status bl_threshold_f32(size_t n, const bl_threshold_params *p, const float *in, float *out)
{
  size_t i;
  int32_t j;
  if (!p || (n && (!in || !out)) || p->count < 0 || p->count > 2) return BL_ERR_PARAM;
  for (j = 0; j < p->count; j++)
    if (p->thr[j] != p->thr[j]) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) {
    const float x = in[i];
    int32_t k = 0;
    float v;
    if (x != x) {
      out[i] = x;
      continue;
    }
    for (j = 0; j < p->count; j++) k += x >= p->thr[j];
    v = p->val[k];
    out[i] = p->ste ? x + (-x + v) : v;
  }
  return BL_OK;
}

bl_status bl_quantize_f32(size_t n, float lo, float hi, float levels, const float *in, float *out)
{
  size_t i;
  if (!in || !out || !(lo <= hi) || !(levels > 0.0f) || !(levels <= 16777216.0f)) return BL_ERR_PARAM;
  if ((lo < 0.0f ? -lo : lo) * levels < 4194304.0f && (hi < 0.0f ? -hi : hi) * levels < 4194304.0f) {
    /* Every clamped product is below 2^22 in magnitude: (|v| + 2^23) - 2^23 rounds it half to
     * even without the range check (a NaN stays NaN), and the sign is put back bitwise (-0 for
     * a negative value that rounds to 0, as tf.round). */
    const float big = 8388608.0f;
    for (i = 0; i < n; i++) {
      float x = in[i], v, a;
      uint32_t vb, ab;
      x = x < lo ? lo : x;
      x = x > hi ? hi : x;
      v = x * levels;
      memcpy(&vb, &v, sizeof vb);
      ab = vb & 0x7fffffffu;
      memcpy(&a, &ab, sizeof a);
      a = (a + big) - big;
      memcpy(&ab, &a, sizeof ab);
      ab |= vb & 0x80000000u;
      memcpy(&a, &ab, sizeof a);
      out[i] = a / levels;
    }
    return BL_OK;
  }
  for (i = 0; i < n; i++) {
    float x = in[i];
    x = x < lo ? lo : (x > hi ? hi : x);
    out[i] = bl_i_round_half_even(x * levels) / levels;
  }
  return BL_OK;
}

/* Per row: m = max, e_k = exp(x_k - m) (written to out), s = sum of e_k in order, out = e / s.
 * Subtracting the max keeps exp from overflowing; the largest term is exp(0) = 1, so s >= 1. */
bl_status bl_softmax_f32(size_t n, int32_t c, const float *in, float *out)
{
  size_t r, k, cc;
  if (c < 1 || !in || !out || n % (size_t)c != 0) return BL_ERR_PARAM;
  cc = (size_t)c;
  for (r = 0; r < n; r += cc) {
    float m = in[r], s = 0.0f;
    for (k = 1; k < cc; k++)
      if (in[r + k] > m) m = in[r + k];
    for (k = 0; k < cc; k++) {
      const float e = bl_expf(in[r + k] - m);
      out[r + k] = e;
      s += e;
    }
    for (k = 0; k < cc; k++) out[r + k] = out[r + k] / s;
  }
  return BL_OK;
}

bl_status bl_activate_f32(size_t n, int32_t c, const bl_act *act, const float *in, float *out)
{
  size_t i, ch = 0;
  if (c < 1 || !act || !in || !out || (unsigned)act->kind > (unsigned)BL_ACT_LEAKY_TANH) return BL_ERR_PARAM;
  if (act->kind == BL_ACT_PRELU && !act->slopes) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) {
    out[i] = act_apply(act, in[i], ch);
    if (++ch == (size_t)c) ch = 0;
  }
  return BL_OK;
}

bl_status bl_log_softmax_f32(size_t n, int32_t c, const float *in, float *out)
{
  size_t r, k, cc;
  if (c < 1 || !in || !out || n % (size_t)c != 0) return BL_ERR_PARAM;
  cc = (size_t)c;
  for (r = 0; r < n; r += cc) {
    float m = in[r], s = 0.0f, ls;
    for (k = 1; k < cc; k++)
      if (in[r + k] > m) m = in[r + k];
    for (k = 0; k < cc; k++) s += bl_expf(in[r + k] - m);
    ls = bl_logf(s);
    for (k = 0; k < cc; k++) out[r + k] = (in[r + k] - m) - ls;
  }
  return BL_OK;
}

bl_status bl_add_f32(size_t n, const float *a, const float *b, bl_activation act, float *out)
{
  size_t i;
  bl_act ac;
  if (!a || !b || !out || !act_ok(act)) return BL_ERR_PARAM;
  if (act == BL_ACT_LINEAR) { /* Keras' Add: no per-value activation dispatch */
    for (i = 0; i < n; i++) out[i] = a[i] + b[i];
    return BL_OK;
  }
  memset(&ac, 0, sizeof ac);
  ac.kind = act;
  ac.alpha = 1.0f;
  for (i = 0; i < n; i++) out[i] = act_apply(&ac, a[i] + b[i], 0);
  return BL_OK;
}

bl_status bl_concat_f32(int32_t pixels, int32_t count, const int32_t *c, const float *const *in,
                        float *out)
{
  int32_t px, i;
  if (pixels < 0 || count < 1 || !c || !in || !out) return BL_ERR_PARAM;
  for (i = 0; i < count; i++)
    if (c[i] < 1 || !in[i]) return BL_ERR_PARAM;
  for (px = 0; px < pixels; px++) {
    for (i = 0; i < count; i++) {
      memcpy(out, in[i] + (size_t)px * (size_t)c[i], (size_t)c[i] * sizeof(float));
      out += c[i];
    }
  }
  return BL_OK;
}

/* s1: each pixel's c[i] bits of every input are appended to one output stream. */
bl_status bl_concat_s1(int32_t pixels, int32_t count, const int32_t *c,
                       const uint32_t *const *in, uint32_t *out)
{
  bl_i_bitwriter bw;
  int32_t px, i;
  if (pixels < 0 || count < 1 || !c || !in || !out) return BL_ERR_PARAM;
  for (i = 0; i < count; i++)
    if (c[i] < 1 || !in[i]) return BL_ERR_PARAM;
  bl_i_bw_init(&bw, out);
  for (px = 0; px < pixels; px++) {
    for (i = 0; i < count; i++) {
      size_t pos = (size_t)px * (size_t)c[i], left = (size_t)c[i];
      while (left > 0) {
        const uint32_t take = left < 32 ? (uint32_t)left : 32u;
        bl_i_bw_putn(&bw, bl_i_readbits(in[i], pos, take), take);
        pos += take;
        left -= take;
      }
    }
  }
  bl_i_bw_flush(&bw);
  return BL_OK;
}

bl_status bl_pad_f32(int32_t h, int32_t w, int32_t c, int32_t top, int32_t bottom, int32_t left,
                     int32_t right, float value, const float *in, float *out)
{
  int32_t y, x;
  size_t k, ow, cc;
  if (h < 1 || w < 1 || c < 1 || top < 0 || bottom < 0 || left < 0 || right < 0 || !in || !out)
    return BL_ERR_PARAM;
  cc = (size_t)c;
  ow = (size_t)(w + left + right);
  for (y = 0; y < h + top + bottom; y++) {
    float *row = out + (size_t)y * ow * cc;
    if (y < top || y >= top + h) {
      for (k = 0; k < ow * cc; k++) row[k] = value;
      continue;
    }
    for (k = 0; k < (size_t)left * cc; k++) row[k] = value;
    memcpy(row + (size_t)left * cc, in + (size_t)(y - top) * (size_t)w * cc,
           (size_t)w * cc * sizeof(float));
    for (x = 0, k = ((size_t)left + (size_t)w) * cc; x < right; x++)
      for (size_t j = 0; j < cc; j++) row[k++] = value;
  }
  return BL_OK;
}

bl_status bl_crop_f32(int32_t h, int32_t w, int32_t c, int32_t top, int32_t left, int32_t out_h,
                      int32_t out_w, const float *in, float *out)
{
  int32_t y;
  const size_t row = (size_t)out_w * (size_t)c;
  if (h < 1 || w < 1 || c < 1 || top < 0 || left < 0 || out_h < 1 || out_w < 1 || top > h - out_h ||
      left > w - out_w || !in || !out)
    return BL_ERR_PARAM;
  for (y = 0; y < out_h; y++)
    memcpy(out + (size_t)y * row, in + ((size_t)(top + y) * (size_t)w + (size_t)left) * (size_t)c,
           row * sizeof(float));
  return BL_OK;
}

bl_status bl_upsample_f32(int32_t h, int32_t w, int32_t c, int32_t fh, int32_t fw, const float *in,
                          float *out)
{
  int32_t y, x;
  size_t row = 0;
  if (h < 1 || w < 1 || c < 1 || fh < 1 || fw < 1 || !in || !out) return BL_ERR_PARAM;
  for (y = 0; y < h * fh; y++) {
    const float *src = in + (size_t)(y / fh) * (size_t)w * (size_t)c;
    for (x = 0; x < w * fw; x++) {
      memcpy(out + row, src + (size_t)(x / fw) * (size_t)c, (size_t)c * sizeof(float));
      row += (size_t)c;
    }
  }
  return BL_OK;
}
