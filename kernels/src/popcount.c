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

#if BL_ARM_ASM
/* ARMv7E-M routines behind bl_i_arm_counts_set / _add (declared in bl_internal.h).
 *
 * Per 3 words x0, x1, x2 (= patch XOR filter, 2 LDM + 3 EOR):
 *   carry-save add: u = x0 ^ x1, l = u ^ x2, h = (x0 & x1) | (u & x2), so that
 *   pop(x0) + pop(x1) + pop(x2) = pop(l) + 2 pop(h)                         (5 ops)
 *   bit pairs:  x - ((x & 0xAAAAAAAA) >> 1)       for h and l               (4 ops)
 *   nibbles:    x - t + (t >> 2), t = x & 0xCCCCCCCC   for h and l          (6 ops)
 *   l + 2h: every nibble <= 4 + 8 = 12                                      (1 op)
 *   bytes:      x - t + (t >> 4), t = x & 0xF0F0F0F0: every byte <= 24      (3 ops)
 *   added to the byte accumulator r12                                       (1 op)
 * 25 instructions per 3 words. The masks are Thumb-2 modified immediates (0xXYXYXYXY) and the
 * shifts ride on the SUB/ADD operands, so no register holds a mask. At most 10 groups per count
 * keep every byte <= 240; USADA8 then sums the four bytes (r11 is 0 after the loop).
 * Registers: r0 patch, r1 filter words (run on from one filter to the next), r2 counts, r3
 * filters left, r4-r9 data, r10 patch cursor, r11 loop counter, r12 bytes, lr iterations. */
__asm__(
    ".pushsection .text.bl_i_arm_counts,\"ax\",%progbits\n"
    ".syntax unified\n"
    ".thumb\n"
    ".macro BL_GROUP3\n"
    "  ldmia r10!, {r4, r5, r6}\n"
    "  ldmia r1!, {r7, r8, r9}\n"
    "  eor r4, r4, r7\n"
    "  eor r5, r5, r8\n"
    "  eor r6, r6, r9\n"
    "  eor r7, r4, r5\n"
    "  and r4, r4, r5\n"
    "  and r5, r7, r6\n"
    "  eor r6, r7, r6\n"
    "  orr r4, r4, r5\n"
    "  and r7, r4, #0xAAAAAAAA\n"
    "  and r8, r6, #0xAAAAAAAA\n"
    "  sub r4, r4, r7, lsr #1\n"
    "  sub r6, r6, r8, lsr #1\n"
    "  and r7, r4, #0xCCCCCCCC\n"
    "  and r8, r6, #0xCCCCCCCC\n"
    "  sub r4, r4, r7\n"
    "  sub r6, r6, r8\n"
    "  add r4, r4, r7, lsr #2\n"
    "  add r6, r6, r8, lsr #2\n"
    "  add r4, r6, r4, lsl #1\n"
    "  and r7, r4, #0xF0F0F0F0\n"
    "  sub r4, r4, r7\n"
    "  add r4, r4, r7, lsr #4\n"
    "  add r12, r12, r4\n"
    ".endm\n"
    /* void bl_i_arm_counts_set(patch, w, counts, nch, iters) */
    ".global bl_i_arm_counts_set\n"
    ".type bl_i_arm_counts_set, %function\n"
    ".thumb_func\n"
    ".align 2\n"
    "bl_i_arm_counts_set:\n"
    "  push {r4-r11, lr}\n"
    "  ldr lr, [sp, #36]\n"
    "1:\n"
    "  mov r10, r0\n"
    "  mov r11, lr\n"
    "  mov r12, #0\n"
    "2:\n"
    "  BL_GROUP3\n"
    "  BL_GROUP3\n"
    "  subs r11, r11, #1\n"
    "  bne 2b\n"
    "  usada8 r12, r12, r11, r11\n"
    "  str r12, [r2], #4\n"
    "  subs r3, r3, #1\n"
    "  bne 1b\n"
    "  pop {r4-r11, pc}\n"
    ".size bl_i_arm_counts_set, .-bl_i_arm_counts_set\n"
    /* void bl_i_arm_counts_add(patch, w, counts, nch, iters, has3, skip) */
    ".global bl_i_arm_counts_add\n"
    ".type bl_i_arm_counts_add, %function\n"
    ".thumb_func\n"
    ".align 2\n"
    "bl_i_arm_counts_add:\n"
    "  push {r4-r11, lr}\n"
    "  ldr lr, [sp, #36]\n"
    "1:\n"
    "  mov r10, r0\n"
    "  movs r11, lr\n"
    "  mov r12, #0\n"
    "  beq 3f\n"
    "2:\n"
    "  BL_GROUP3\n"
    "  BL_GROUP3\n"
    "  subs r11, r11, #1\n"
    "  bne 2b\n"
    "3:\n"
    "  ldr r11, [sp, #40]\n"
    "  cmp r11, #0\n"
    "  beq 4f\n"
    "  BL_GROUP3\n"
    "4:\n"
    "  movs r11, #0\n"
    "  usada8 r12, r12, r11, r11\n"
    "  ldr r11, [r2]\n"
    "  add r12, r12, r11\n"
    "  str r12, [r2], #4\n"
    "  ldr r11, [sp, #44]\n"
    "  add r1, r1, r11, lsl #2\n"
    "  subs r3, r3, #1\n"
    "  bne 1b\n"
    "  pop {r4-r11, pc}\n"
    ".size bl_i_arm_counts_add, .-bl_i_arm_counts_add\n"
    ".purgem BL_GROUP3\n"
    ".popsection\n");
#endif
