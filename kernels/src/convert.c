/* Conversions between f32/s8 and s1: binarize-and-pack (optionally after a per-channel affine,
 * i.e. an unfolded BatchNorm followed by sign) and unpack to ±1.0f. */
#include "bl_internal.h"

bl_status bl_pack_f32(size_t n, int32_t c, const float *mul, const float *add, const float *in,
                      uint32_t *out)
{
  size_t i, w;
  if (!in || !out || c < 1) return BL_ERR_PARAM;
  if (!mul && !add) {
    /* Plain sign: bit = x < 0. Whole words are assembled in a register. */
    for (w = 0; w * 32 < n; w++) {
      const size_t base = w * 32, cnt = n - base < 32 ? n - base : 32;
      uint32_t word = 0;
      for (i = 0; i < cnt; i++) word |= (in[base + i] < 0.0f ? 1u : 0u) << i;
      out[w] = word;
    }
    return BL_OK;
  }
  {
    size_t ch = 0;
    for (w = 0; w * 32 < n; w++) {
      const size_t base = w * 32, cnt = n - base < 32 ? n - base : 32;
      uint32_t word = 0;
      for (i = 0; i < cnt; i++) {
        float y = in[base + i] * (mul ? mul[ch] : 1.0f);
        y = y + (add ? add[ch] : 0.0f);
        word |= (y < 0.0f ? 1u : 0u) << i;
        if (++ch == (size_t)c) ch = 0;
      }
      out[w] = word;
    }
  }
  return BL_OK;
}

bl_status bl_pack_s8(size_t n, int32_t offset, const int8_t *in, uint32_t *out)
{
  size_t i, w;
  if (!in || !out || offset < 0 || offset > 128) return BL_ERR_PARAM;
  for (w = 0; w * 32 < n; w++) {
    const size_t base = w * 32, cnt = n - base < 32 ? n - base : 32;
    uint32_t word = 0;
    for (i = 0; i < cnt; i++) word |= ((int32_t)in[base + i] + offset < 0 ? 1u : 0u) << i;
    out[w] = word;
  }
  return BL_OK;
}

bl_status bl_unpack_s1(size_t n, const uint32_t *in, float *out)
{
  size_t i;
  if (!in || !out) return BL_ERR_PARAM;
  for (i = 0; i < n; i++) out[i] = bl_i_getbit(in, i) ? -1.0f : 1.0f;
  return BL_OK;
}
