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
 * nothing is assumed about the input's spare bits (a flattened tensor's last word may carry
 * bits of nothing else, but a caller slicing a stream might not). */
BL_INLINE void bdense_body(const bl_bdense_params *p, const uint32_t *in, void *out, int hw)
{
  const size_t full = (size_t)p->n_in / 32, wpo = BL_WORDS((size_t)p->n_in);
  const uint32_t rem = (uint32_t)p->n_in & 31u;
  const uint32_t lastmask = rem ? (1u << rem) - 1u : 0u;
  bl_i_bitwriter bw;
  const uint32_t *w = p->weights;
  int32_t o;
  (void)hw;
  bw.p = (uint32_t *)out;
  bw.cur = 0;
  bw.pos = 0;
  for (o = 0; o < p->n_out; o++, w += wpo) {
    uint32_t acc;
#if BL_X86_DISPATCH
    if (hw) {
      acc = bl_i_xorpop_hw(in, w, NULL, full);
      if (rem) acc += (uint32_t)__builtin_popcount((in[full] ^ w[full]) & lastmask);
    } else
#endif
    {
      acc = bl_i_xorpop_swar(in, w, NULL, full);
      if (rem) acc += bl_i_popc_swar((in[full] ^ w[full]) & lastmask);
    }
    bl_i_emit_int(&p->out, o, p->n_in - 2 * (int32_t)acc, (float *)out, &bw);
  }
  if (p->out.kind == BL_OUT_BITS) bl_i_bw_flush(&bw);
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
