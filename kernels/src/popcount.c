/* Public popcount entry points (tests, benchmarks): SWAR everywhere, POPCNT on x86-64 when the
 * CPU reports it at run time. The kernels inline the same helpers from bl_internal.h. */
#include "bl_internal.h"

#if BL_X86_DISPATCH
BL_TARGET_POPCNT static uint32_t bl_popcount32_hw(uint32_t x)
{
  return (uint32_t)__builtin_popcount(x);
}

BL_TARGET_POPCNT static uint32_t bl_xor_popcount_hw(const uint32_t *a, const uint32_t *b,
                                                    size_t n)
{
  return bl_i_xorpop_hw(a, b, NULL, n);
}
#endif

uint32_t bl_popcount32(uint32_t x)
{
#if BL_X86_DISPATCH
  if (BL_HAVE_POPCNT()) return bl_popcount32_hw(x);
#endif
  return bl_i_popc_swar(x);
}

uint32_t bl_xor_popcount(const uint32_t *a, const uint32_t *b, size_t n)
{
#if BL_X86_DISPATCH
  if (BL_HAVE_POPCNT()) return bl_xor_popcount_hw(a, b, n);
#endif
  return bl_i_xorpop_swar(a, b, NULL, n);
}
