/* Cortex-M kernel benchmark under QEMU: runs the performance-suite layers with the optimized
 * kernels, counts their instructions with SysTick (-icount shift=7: 3.2 ticks per instruction),
 * and checks every optimized output against the reference kernel on the target itself. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bitlens/bl_kernels.h"

extern void initialise_monitor_handles(void);
extern volatile uint32_t bench_systick_wraps;

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static uint64_t ticks(void)
{
  uint32_t w1, v, w2;
  do {
    w1 = bench_systick_wraps;
    v = SYST_CVR;
    w2 = bench_systick_wraps;
  } while (w1 != w2);
  return (uint64_t)w1 * 0x1000000u + (0xFFFFFFu - v);
}

/* Ticks to instructions: 128 ns per instruction at 25 MHz = 3.2 ticks. */
static uint64_t instr(uint64_t t) { return (t * 5u + 8u) / 16u; }

static uint32_t rng_state = 12345u;
static uint32_t rnd(void)
{
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state;
}

#define H 32
#define W 32
#define CIN 64
#define COUT 64
static uint32_t in_bits[H * W * CIN / 32];
static uint32_t w_bits[COUT * 18];
static uint32_t out_a[H * W * COUT / 32], out_b[H * W * COUT / 32];
static int32_t thr[COUT];
static uint32_t scratch[64];
static float fin[H * W * CIN], fw[3 * 3 * CIN * COUT], fout_a[H * W * COUT], fout_b[H * W * COUT];
static uint32_t dense_in[32], dense_w[512 * 32], dense_out_a[16], dense_out_b[16];
static int32_t dense_thr[512];
static uint32_t first_w[COUT];
static float first_in[H * W * 3], first_scratch[27];

static uint32_t bs_scratch[16384];
static float bs_fout_a[H * W * 16], bs_fout_b[H * W * 16];

static int8_t s8_in[H * W * CIN], s8_w[COUT * 9 * CIN], s8_out_a[H * W * COUT], s8_out_b[H * W * COUT];
static uint32_t s8_scratch[1024];

static uint64_t overhead;

static void report(const char *name, uint64_t t, double macs, const char *check)
{
  const uint64_t n = instr(t - overhead);
  printf("%-44s %12lu instr  %6.3f MAC/instr  %s\n", name, (unsigned long)n, macs / (double)n,
         check);
}

static const char *same(const void *a, const void *b, size_t bytes)
{
  return memcmp(a, b, bytes) == 0 ? "ref: identical" : "ref: MISMATCH";
}

static bl_conv_geom geom(int32_t c_in, int32_t c_out)
{
  bl_conv_geom g;
  g.in_h = H; g.in_w = W; g.in_c = c_in;
  g.out_h = H; g.out_w = W; g.out_c = c_out;
  g.k_h = 3; g.k_w = 3; g.stride_h = 1; g.stride_w = 1; g.dil_h = 1; g.dil_w = 1;
  g.pad_top = 1; g.pad_left = 1;
  return g;
}

int main(void)
{
  size_t i;
  uint64_t t0, t1;
  const double conv_macs = (double)H * W * COUT * 9 * CIN;
  bl_bconv2d_params bp;
  int fail = 0;

  initialise_monitor_handles();
  SYST_RVR = 0xFFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 7u; /* enable, interrupt, processor clock */

  t0 = ticks();
  t1 = ticks();
  overhead = t1 - t0;

  for (i = 0; i < sizeof in_bits / 4; i++) in_bits[i] = rnd();
  for (i = 0; i < sizeof w_bits / 4; i++) w_bits[i] = rnd();
  for (i = 0; i < COUT; i++) thr[i] = (int32_t)(rnd() % 61u) - 30;

  memset(&bp, 0, sizeof bp);
  bp.g = geom(CIN, COUT);
  bp.weights = w_bits;
  bp.out.kind = BL_OUT_BITS;
  bp.out.threshold = thr;
  if (bl_bconv2d_scratch_size(&bp) > sizeof scratch) return 2;

  printf("BitLens kernels, %s\n", BENCH_CPU);
  {
    /* Calibration: a loop of exactly 2 * 1000000 instructions (SUBS + BNE). */
    uint32_t k = 1000000u;
    t0 = ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(k) : : "cc");
    t1 = ticks();
    printf("%-44s %12lu instr  (expected 2000000 + 1-3)\n", "0 calibration loop",
           (unsigned long)instr(t1 - t0 - overhead));
  }
  {
    static const struct { bl_bpad pad; const char *name; } pads[2] = {
        {BL_PAD_PLUS_ONE, "1 bconv2d 3x3 32x32x64->64 pad +1 bits"},
        {BL_PAD_ZERO, "2 bconv2d 3x3 32x32x64->64 pad 0 bits"}};
    int k;
    for (k = 0; k < 2; k++) {
      const char *chk;
      bp.pad = pads[k].pad;
      t0 = ticks();
      bl_bconv2d(&bp, in_bits, out_a, scratch);
      t1 = ticks();
      bl_bconv2d_ref(&bp, in_bits, out_b);
      chk = same(out_a, out_b, sizeof out_a);
      fail |= chk[5] == 'M';
      report(pads[k].name, t1 - t0, conv_macs, chk);
    }
  }
  {
    bl_conv2d_params fp;
    const char *chk;
    for (i = 0; i < sizeof fin / 4; i++) fin[i] = (float)((int32_t)(rnd() % 2001u) - 1000) / 1000.0f;
    for (i = 0; i < sizeof fw / 4; i++) fw[i] = (float)((int32_t)(rnd() % 2001u) - 1000) / 1000.0f;
    memset(&fp, 0, sizeof fp);
    fp.g = geom(CIN, COUT);
    fp.weights = fw;
    fp.out.kind = BL_OUT_F32;
    fp.out.act_min = -1e30f;
    fp.out.act_max = 1e30f;
    t0 = ticks();
    bl_conv2d(&fp, fin, fout_a);
    t1 = ticks();
    bl_conv2d_ref(&fp, fin, fout_b);
    chk = same(fout_a, fout_b, sizeof fout_a);
    fail |= chk[5] == 'M';
    report("3 conv2d f32 3x3 32x32x64->64 pad 0", t1 - t0, conv_macs, chk);
  }
  {
    bl_bwconv2d_params wp;
    const char *chk;
    for (i = 0; i < sizeof first_in / 4; i++) first_in[i] = (float)(rnd() % 256u) / 255.0f;
    for (i = 0; i < COUT; i++) first_w[i] = rnd() & 0x7FFFFFFu; /* 27 bits per filter */
    memset(&wp, 0, sizeof wp);
    wp.g = geom(3, COUT);
    wp.pad_value = 0.0f;
    wp.weights = first_w;
    wp.out.kind = BL_OUT_BITS;
    wp.out.act_min = -1e30f;
    wp.out.act_max = 1e30f;
    t0 = ticks();
    bl_bwconv2d(&wp, first_in, out_a, first_scratch);
    t1 = ticks();
    bl_bwconv2d_ref(&wp, first_in, out_b);
    chk = same(out_a, out_b, sizeof out_a);
    fail |= chk[5] == 'M';
    report("4 bwconv2d 3x3 32x32x3->64 (f32 in, 1-bit w)", t1 - t0, (double)H * W * COUT * 27, chk);
  }
  {
    bl_bdense_params dp;
    const char *chk;
    for (i = 0; i < 32; i++) dense_in[i] = rnd();
    for (i = 0; i < 512 * 32; i++) dense_w[i] = rnd();
    for (i = 0; i < 512; i++) dense_thr[i] = (int32_t)(rnd() % 101u) - 50;
    memset(&dp, 0, sizeof dp);
    dp.n_in = 1024;
    dp.n_out = 512;
    dp.weights = dense_w;
    dp.out.kind = BL_OUT_BITS;
    dp.out.threshold = dense_thr;
    t0 = ticks();
    bl_bdense(&dp, dense_in, dense_out_a, NULL);
    t1 = ticks();
    bl_bdense_ref(&dp, dense_in, dense_out_b);
    chk = same(dense_out_a, dense_out_b, sizeof dense_out_a);
    fail |= chk[5] == 'M';
    report("5 bdense 1024->512 bits", t1 - t0, 1024.0 * 512, chk);
  }
  {
    /* Few-channel binary convs (the forum model's layers): patch kernel vs bit-sliced. */
    static const struct {
      int32_t cin, cout;
      bl_bpad pad;
      bl_out_kind kind;
      const char *name;
    } rows[] = {
        {1, 16, BL_PAD_ZERO, BL_OUT_BITS, "6 3x3 32x32x1->16 pad 0 bits"},
        {1, 16, BL_PAD_PLUS_ONE, BL_OUT_BITS, "6 3x3 32x32x1->16 pad +1 bits"},
        {16, 16, BL_PAD_ZERO, BL_OUT_F32, "7 3x3 32x32x16->16 pad 0 f32"},
        {16, 16, BL_PAD_PLUS_ONE, BL_OUT_F32, "7 3x3 32x32x16->16 pad +1 f32"},
        {16, 16, BL_PAD_ZERO, BL_OUT_BITS, "7 3x3 32x32x16->16 pad 0 bits"},
        {3, 64, BL_PAD_PLUS_ONE, BL_OUT_BITS, "8 3x3 32x32x3->64 pad +1 bits"},
        {24, 32, BL_PAD_PLUS_ONE, BL_OUT_BITS, "9 3x3 32x32x24->32 pad +1 bits"},
        {32, 32, BL_PAD_PLUS_ONE, BL_OUT_BITS, "9 3x3 32x32x32->32 pad +1 bits"},
        {64, 64, BL_PAD_PLUS_ONE, BL_OUT_BITS, "9 3x3 32x32x64->64 pad +1 bits"}};
    size_t r;
    static float mul[COUT], add[COUT];
    for (i = 0; i < COUT; i++) {
      mul[i] = 0.5f + (float)(rnd() % 100u) / 100.0f;
      add[i] = (float)((int32_t)(rnd() % 200u) - 100) / 10.0f;
    }
    for (r = 0; r < sizeof rows / sizeof rows[0]; r++) {
      int v;
      const double macs = (double)H * W * rows[r].cout * 9 * rows[r].cin;
      const size_t taps = 9 * (size_t)rows[r].cin, wpf = (taps + 31) / 32;
      /* each filter's spare bits 0, as the weight layout requires */
      for (i = 0; i < (size_t)rows[r].cout * wpf; i++) {
        w_bits[i] = rnd();
        if (i % wpf == wpf - 1 && taps % 32) w_bits[i] &= (1u << (taps % 32)) - 1u;
      }
      memset(&bp, 0, sizeof bp);
      bp.g = geom(rows[r].cin, rows[r].cout);
      bp.pad = rows[r].pad;
      bp.weights = w_bits;
      bp.out.kind = rows[r].kind;
      bp.out.threshold = thr;
      bp.out.mul = mul;
      bp.out.add = add;
      bp.out.act_min = -1e30f;
      bp.out.act_max = 1e30f;
      if (bl_bconv2d_bitsliced_scratch_size(&bp) > sizeof bs_scratch) return 3;
      for (v = 0; v < 2; v++) {
        char name[64];
        const char *chk;
        void *oa = rows[r].kind == BL_OUT_F32 ? (void *)bs_fout_a : (void *)out_a;
        void *ob = rows[r].kind == BL_OUT_F32 ? (void *)bs_fout_b : (void *)out_b;
        const size_t bytes = rows[r].kind == BL_OUT_F32 ? (size_t)H * W * rows[r].cout * 4
                                                        : (size_t)H * W * rows[r].cout / 8;
        if (v == 0 && bl_bconv2d_scratch_size(&bp) > sizeof scratch) continue;
        t0 = ticks();
        if (v == 0)
          bl_bconv2d(&bp, in_bits, oa, scratch);
        else
          bl_bconv2d_bitsliced(&bp, in_bits, oa, bs_scratch);
        t1 = ticks();
        bl_bconv2d_ref(&bp, in_bits, ob);
        chk = same(oa, ob, bytes);
        fail |= chk[5] == 'M';
        snprintf(name, sizeof name, "%s %s", rows[r].name, v ? "bitsliced" : "patch");
        report(name, t1 - t0, macs, chk);
      }
    }
  }
  {
    /* int8 conv (k-bit DoReFa layers), s8 output through a per-channel stage and the 8-bit
     * quantizer; 3x3 and 1x1 on 32x32x64 -> 64 (CMSIS-NN arm_convolve_s8: 0.568 and 0.486). */
    static float mul[COUT], add[COUT];
    int k1;
    for (i = 0; i < sizeof s8_in; i++) s8_in[i] = (int8_t)(rnd() >> 24);
    for (i = 0; i < sizeof s8_w; i++) s8_w[i] = (int8_t)((int32_t)(rnd() % 255u) - 127);
    for (i = 0; i < COUT; i++) {
      mul[i] = (0.5f + (float)(rnd() % 100u) / 100.0f) / (128.0f * 127.0f * 24.0f);
      add[i] = (float)((int32_t)(rnd() % 200u) - 100) / 100.0f;
    }
    for (k1 = 0; k1 < 2; k1++) {
      bl_conv2d_s8_params sp;
      const char *chk;
      memset(&sp, 0, sizeof sp);
      sp.g = geom(CIN, COUT);
      if (k1) {
        sp.g.k_h = sp.g.k_w = 1;
        sp.g.pad_top = sp.g.pad_left = 0;
      }
      sp.weights = s8_w;
      sp.out.kind = BL_OUT_S8;
      sp.out.mul = mul;
      sp.out.add = add;
      sp.out.act_min = -1e30f;
      sp.out.act_max = 1e30f;
      sp.out.s8_mul = 128.0f;
      sp.out.s8_min = -128;
      sp.out.s8_max = 127;
      if (bl_conv2d_s8_scratch_size(&sp) > sizeof s8_scratch) return 4;
      t0 = ticks();
      bl_conv2d_s8(&sp, s8_in, s8_out_a, s8_scratch);
      t1 = ticks();
      bl_conv2d_s8_ref(&sp, s8_in, s8_out_b);
      chk = same(s8_out_a, s8_out_b, sizeof s8_out_a);
      fail |= chk[5] == 'M';
      report(k1 ? "10 conv2d s8 1x1 32x32x64->64 s8 out" : "10 conv2d s8 3x3 32x32x64->64 pad 0 s8 out", t1 - t0,
             (double)H * W * COUT * CIN * (k1 ? 1 : 9), chk);
    }
    {
      /* The first layer of st_resnet_8_hybrid: 3 input channels (27-tap patches), Larq DoReFa's
       * 0..255 levels stored as q - 128 (pad value -128, accumulator offsets), a scale then the
       * BatchNorm (two affine steps). */
      static int32_t init[COUT];
      bl_conv2d_s8_params sp;
      const char *chk;
      memset(&sp, 0, sizeof sp);
      sp.g = geom(3, 32);
      for (i = 0; i < 32; i++) init[i] = (int32_t)(rnd() % 20000u) - 10000;
      sp.weights = s8_w;
      sp.pad_value = -128;
      sp.acc_init = init;
      sp.out = (bl_output){BL_OUT_S8, mul, add, -1e30f, 1e30f, NULL, NULL, mul, add, 0, 0.0f, 0.0f, 128.0f, -128, 127, NULL};
      if (bl_conv2d_s8_scratch_size(&sp) > sizeof s8_scratch) return 6;
      t0 = ticks();
      bl_conv2d_s8(&sp, s8_in, s8_out_a, s8_scratch);
      t1 = ticks();
      bl_conv2d_s8_ref(&sp, s8_in, s8_out_b);
      chk = same(s8_out_a, s8_out_b, (size_t)H * W * 32);
      fail |= chk[5] == 'M';
      report("12 conv2d s8 3x3 32x32x3->32 pad -128 s8 out (stem)", t1 - t0, (double)H * W * 32 * 27, chk);
    }
    {
      bl_depthwise_s8_params dp;
      const char *chk;
      memset(&dp, 0, sizeof dp);
      dp.g = geom(CIN, CIN);
      dp.depth_multiplier = 1;
      dp.weights = s8_w;
      dp.out = (bl_output){BL_OUT_S8, mul, add, -1e30f, 1e30f, NULL, NULL, NULL, NULL, 0, 0.0f, 0.0f, 128.0f, -128, 127, NULL};
      if (bl_depthwise_s8_scratch_size(&dp) > sizeof s8_scratch) return 5;
      t0 = ticks();
      bl_depthwise_s8(&dp, s8_in, s8_out_a, s8_scratch);
      t1 = ticks();
      bl_depthwise_s8_ref(&dp, s8_in, s8_out_b);
      chk = same(s8_out_a, s8_out_b, sizeof s8_out_a);
      fail |= chk[5] == 'M';
      report("11 depthwise s8 3x3 32x32x64 pad 0 s8 out", t1 - t0, (double)H * W * CIN * 9, chk);
    }
  }
  return fail;
}
