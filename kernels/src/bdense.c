/* Binary dense (s1 input, s1 weights): reference from the definition and the optimized
 * word-wise XOR/popcount version. */
#include "bl_internal.h"

static int bdense_ok(const bl_bdense_params *p)
{
  return p && p->n_in >= 1 && p->n_out >= 1 && p->weights && bl_i_output_ok(&p->out, 1);
}

size_t bl_bdense_scratch_size(const bl_bdense_params *p)
{
  (void)p;
  return 0;
}

/* d = sum over i of a_i * w_i with a, w in {-1, +1}. */
bl_status bl_bdense_ref(const bl_bdense_params *p, const uint32_t *in, void *out)
{
  bl_i_bitwriter bw;
  size_t wpo;
  int32_t o, i;
  if (!bdense_ok(p) || !in || !out) return BL_ERR_PARAM;
  wpo = BL_WORDS((size_t)p->n_in);
  bw.p = (uint32_t *)out;
  bw.cur = 0;
  bw.pos = 0;
  for (o = 0; o < p->n_out; o++) {
    const uint32_t *w = p->weights + (size_t)o * wpo;
    int32_t d = 0;
    for (i = 0; i < p->n_in; i++)
      d += (bl_i_getbit(in, (size_t)i) ? -1 : 1) * (bl_i_getbit(w, (size_t)i) ? -1 : 1);
    bl_i_emit_int(&p->out, o, d, (float *)out, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
  return BL_OK;
}

/* d = n - 2 * popcount(in XOR w) over the full words; the last partial word is masked, so
 * nothing is assumed about the input's spare bits (a caller slicing a stream may leave some).
 * Outputs go in blocks of 32: popcounts first (the assembly routine on ARMv7E-M), then the
 * output stage, with the block's bits built in a register (see bconv2d.c for the flip form). */
BL_INLINE void bdense_body(const bl_bdense_params *p, const uint32_t *in, void *out, int hw)
{
  const size_t full = (size_t)p->n_in / 32, wpo = BL_WORDS((size_t)p->n_in);
  const uint32_t rem = (uint32_t)p->n_in & 31u;
  const uint32_t lastmask = rem ? (1u << rem) - 1u : 0u;
  const bl_output oc = p->out;
  const int32_t n = p->n_in;
  uint32_t counts[32];
  bl_i_bitwriter bw;
  int32_t cb;
  (void)hw;
  bl_i_bw_init(&bw, out);
  for (cb = 0; cb < p->n_out; cb += 32) {
    const uint32_t nb = (uint32_t)(p->n_out - cb < 32 ? p->n_out - cb : 32);
    const uint32_t *w = p->weights + (size_t)cb * wpo;
    uint32_t j;
#if BL_X86_DISPATCH
    if (hw) {
      for (j = 0; j < nb; j++) {
        const uint32_t *wj = w + (size_t)j * wpo;
        counts[j] = bl_i_xorpop_hw(in, wj, NULL, full);
        if (rem) counts[j] += (uint32_t)__builtin_popcount((in[full] ^ wj[full]) & lastmask);
      }
    } else
#endif
    {
#if BL_ARM_ASM
      bl_i_arm_counts(in, w, wpo, 0, full, nb, counts, 1);
#else
      for (j = 0; j < nb; j++) counts[j] = bl_i_xorpop_swar(in, w + (size_t)j * wpo, NULL, full);
#endif
      if (rem)
        for (j = 0; j < nb; j++)
          counts[j] += bl_i_popc_swar((in[full] ^ w[(size_t)j * wpo + full]) & lastmask);
    }
    if (oc.kind == BL_OUT_BITS) {
      const int32_t *thr = oc.threshold + cb;
      uint32_t word = 0;
      const uint32_t fw = oc.flip ? bl_i_readbits(oc.flip, (size_t)cb, nb) : 0u;
      for (j = 0; j < nb; j++) {
        const int32_t f = (int32_t)((fw >> j) & 1u);
        word |= ((uint32_t)((n - 2 * (int32_t)counts[j] - f) < thr[j]) ^ (uint32_t)f) << j;
      }
      bl_i_bw_putn(&bw, word, nb);
    } else {
      for (j = 0; j < nb; j++)
        ((float *)out)[cb + (int32_t)j] =
            bl_i_affine_clamp(&oc, cb + (int32_t)j, (float)(n - 2 * (int32_t)counts[j]));
    }
  }
  if (oc.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
}

static void bdense_swar(const bl_bdense_params *p, const uint32_t *in, void *out)
{
  bdense_body(p, in, out, 0);
}

#if BL_X86_DISPATCH
BL_TARGET_POPCNT static void bdense_hw(const bl_bdense_params *p, const uint32_t *in, void *out)
{
  bdense_body(p, in, out, 1);
}
#endif

bl_status bl_bdense(const bl_bdense_params *p, const uint32_t *in, void *out, void *scratch)
{
  (void)scratch;
  if (!bdense_ok(p) || !in || !out) return BL_ERR_PARAM;
#if BL_X86_DISPATCH
  if (BL_HAVE_POPCNT()) {
    bdense_hw(p, in, out);
    return BL_OK;
  }
#endif
  bdense_swar(p, in, out);
  return BL_OK;
}
