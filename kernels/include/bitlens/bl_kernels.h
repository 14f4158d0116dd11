/* BitLens kernel library: exact 1-bit (XNOR/popcount) and float32 kernels in portable C99.
 * The same sources run in the host runtime and in every exported STM32 project.
 *
 * Rules: no heap, no stdio, no global state; only <stdint.h>, <stddef.h>, <string.h>, <math.h>.
 * Every kernel takes its buffers and a parameter struct. One image per call (the caller loops
 * over the batch). Kernels needing temporary memory report it through *_scratch_size() (bytes,
 * the caller passes a 4-byte aligned buffer at least that large; 0 means pass NULL).
 * Every optimized kernel `bl_X` has a plain reference twin `bl_X_ref` with identical results
 * (bit for bit, float results too: both accumulate in the documented order).
 *
 * ---------------------------------------------------------------------------------------------
 * Tensor formats
 *   f32: float32, NHWC with N = 1, i.e. element (h, w, c) at index (h*W + w)*C + c.
 *   s1:  bit-packed ±1 values. The tensor's elements in the same (h, w, c) row-major order form
 *        one bit stream stored in uint32_t words, LSB first: element i is bit (i % 32) of word
 *        i / 32. Bit 0 encodes +1, bit 1 encodes -1 (bit = x < 0, the sign bit; sign(0) = +1).
 *        Size: ceil(H*W*C / 32) words. Bits past the last element of the last word are 0.
 *        When C is a multiple of 32 every pixel starts on a word boundary (C/32 words per
 *        pixel, identical to Larq Compute Engine's LSB-first layout). For small C nothing is
 *        wasted: a 32x32x1 tensor takes 32 words, a 32x32x16 tensor 512 words.
 *        Flattening an s1 tensor is free: the stream is already in Keras' flatten order.
 *
 * Dot products in the ±1 domain: for n real bits, dot(a, w) = n - 2 * popcount(a XOR w).
 * ---------------------------------------------------------------------------------------------
 */
#ifndef BL_KERNELS_H
#define BL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BL_KERNELS_VERSION "0.1.0"

typedef enum {
  BL_OK = 0,
  BL_ERR_PARAM = 1 /* a parameter is out of range or inconsistent */
} bl_status;

/* Words needed for `bits` bits. */
#define BL_WORDS(bits) (((bits) + 31) / 32)

/* ---- Padding --------------------------------------------------------------------------------
 * Amounts follow TF: for padding="same", out = ceil(in / stride),
 * total = max((out - 1) * stride + (k - 1) * dil + 1 - in, 0), top/left = total / 2, the rest
 * goes bottom/right. Kernels receive pad_top/pad_left and the output size; taps that fall
 * outside the input are "padded taps". */
typedef enum {
  BL_PAD_ZERO = 0,      /* exact zero: padded taps are left out of the dot product
                           (n_eff = in-image taps * C per output pixel) */
  BL_PAD_PLUS_ONE = 1,  /* padded taps hold +1 (bit 0) */
  BL_PAD_MINUS_ONE = 2  /* padded taps hold -1 (bit 1) */
} bl_bpad;

/* ---- Output stage shared by all conv/dense kernels -------------------------------------------
 * Integer kernels (binary input and binary weights) produce the ±1 dot product d per output
 * channel c; float-accumulating kernels produce acc (see each kernel for its order).
 *   BL_OUT_F32:  y = v * mul[c] + add[c]  (two roundings, no FMA; mul == NULL means 1,
 *                add == NULL means 0); when mul2 or add2 is set, a second step
 *                y = y * mul2[c] + add2[c] (same rules), so that a bias or scale followed by a
 *                BatchNorm keeps Keras' float32 operations and order; when mid_clamp is
 *                nonzero, y = min(max(y, mid_min), mid_max) between the two steps (a ReLU
 *                followed by a BatchNorm); then y = min(max(y, act_min), act_max). Written as
 *                f32.
 *                (The clamp is two comparisons, y < act_min and y > act_max: a NaN stays NaN.)
 *   BL_OUT_BITS: integer kernels: bit = flip[c] ? (d > threshold[c]) : (d < threshold[c]),
 *                (flip == NULL: no channel flipped; flip is a bit vector of C bits, word c/32,
 *                bit c%32). The bit is written to an s1 output.
 *                float-accumulating kernels: the f32 value y above is computed and bit = y < 0.
 *   BL_OUT_S8:   int8 kernels and bl_bconv2d (not its bit-sliced variant): y as for
 *                BL_OUT_F32 (from d or acc), then q = round(y * s8_mul) (half to even,
 *                as tf.round), clamped to [s8_min, s8_max], written as int8: a k-bit quantizer
 *                with its clip folded into the clamp (s8_mul = 2^(k-1) for STCustomDoReFa, whose
 *                clip to [-1, 1 - 2^-(k-1)] times 2^(k-1) is exactly [-2^(k-1), 2^(k-1) - 1]).
 *                A NaN y gives 0.
 *   residual:    BL_OUT_F32 only, and only in the kernels that say so (bl_bconv2d, its
 *                reference and bl_bconv2d_bitsliced; every other kernel rejects it with
 *                BL_ERR_PARAM): when not NULL, the
 *                value written is y + residual[i], i being its index in the output (h, w, c
 *                order), added after the clamp in one float32 rounding. That is a Keras Add of
 *                this output and a tensor of the same shape (x + y and y + x are the same float,
 *                so the operand order does not matter). residual must not overlap the output.
 */
typedef enum { BL_OUT_F32 = 0, BL_OUT_BITS = 1, BL_OUT_S8 = 2 } bl_out_kind;

typedef struct {
  bl_out_kind kind;
  const float *mul;          /* [C] or NULL */
  const float *add;          /* [C] or NULL */
  float act_min, act_max;    /* use -INFINITY/INFINITY for none */
  const int32_t *threshold;  /* [C], integer kernels with BL_OUT_BITS */
  const uint32_t *flip;      /* [ceil(C/32)] or NULL */
  const float *mul2;         /* [C] or NULL: second affine step (both NULL: none) */
  const float *add2;         /* [C] or NULL */
  int32_t mid_clamp;         /* nonzero: clamp to [mid_min, mid_max] between the two steps */
  float mid_min, mid_max;
  float s8_mul;              /* BL_OUT_S8 */
  int32_t s8_min, s8_max;    /* BL_OUT_S8: within -128..127 */
  const float *residual;     /* BL_OUT_F32: a tensor of the output's shape added last, or NULL */
} bl_output;

/* ---- Shapes ---- */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_top, pad_left;
} bl_conv_geom;

/* ---- Grouped convolution (conv2d kernels: binary, binary-weights, float) -------------------
 * `groups` (G) splits the channels as Keras' Conv2D(groups=G) does: with cg = in_c / G input
 * and og = out_c / G output channels per group, output channel o reads only input channels
 * [gi*cg, (gi+1)*cg), gi = o / og. Every filter then holds cg input channels per tap, and
 * "in_c" in the weight layouts and tap orders below reads cg (ci runs over the group's
 * channels, 0..cg-1). in_c and out_c must be multiples of G (else BL_ERR_PARAM). 0 is read as
 * 1, so zero-initialised parameter structs stay ungrouped.
 * ---------------------------------------------------------------------------------------------
 *
 * ---- Binary conv2d: s1 input, s1 weights --------------------------------------------------
 * weights: for output channel o, the filter's bits in (kh, kw, ci) order form one bit stream
 * of k_h*k_w*in_c bits, padded with 0 bits to wpf = ceil(k_h*k_w*in_c / 32) words, at
 * weights + o * wpf ("patch packing": a 3x3x1 filter takes one word, not nine).
 * d = sum over taps (kh, kw, ci) of a * w, in-image taps only for BL_PAD_ZERO. */
typedef struct {
  bl_conv_geom g;
  bl_bpad pad;
  const uint32_t *weights;
  bl_output out;
  int32_t groups;
} bl_bconv2d_params;

/* Spare bits of each filter's last word must be 0 (they meet 0 bits in the gathered patch).
 * For a grouped layer pass in_c / groups. Limit: exact zero padding with in_c / groups a
 * multiple of 32 allows at most 65535 words per filter (else BL_ERR_PARAM from bl_bconv2d). */
size_t bl_bconv2d_weight_words(int32_t k_h, int32_t k_w, int32_t in_c, int32_t out_c);
size_t bl_bconv2d_scratch_size(const bl_bconv2d_params *p);
bl_status bl_bconv2d(const bl_bconv2d_params *p, const uint32_t *in, void *out, void *scratch);
bl_status bl_bconv2d_ref(const bl_bconv2d_params *p, const uint32_t *in, void *out);

/* Bit-sliced variant for few input channels (kernels/src/bconv2d_bs.c): 32 neighbouring output
 * pixels per word instead of one pixel's patch, so a 1-channel 3x3 layer does not waste 23 of
 * every 32 bits. Same parameters and results as bl_bconv2d (reference twin: bl_bconv2d_ref).
 * Supports stride 1, any kernel size, dilation and padding, ungrouped, k_h*k_w*in_c <= 24573;
 * for anything else the scratch size is 0 and the call returns BL_ERR_PARAM. Scratch holds the
 * input once more as padded planes (about (H+k_h)*(W+k_w)*in_c bits). */
size_t bl_bconv2d_bitsliced_scratch_size(const bl_bconv2d_params *p);
bl_status bl_bconv2d_bitsliced(const bl_bconv2d_params *p, const uint32_t *in, void *out,
                               void *scratch);

/* ---- Binary depthwise conv2d: s1 input, s1 weights, depth multiplier m --------------------
 * out_c = in_c * depth_multiplier; output channel c*m + j uses input channel c.
 * weights: for j in [0, m), tap (kh, kw): a bit vector over input channels of
 * cw = ceil(in_c/32) words at weights + ((j * k_h + kh) * k_w + kw) * cw.
 * d = sum over (kh, kw) of a[c] * w[c], in-image taps only for BL_PAD_ZERO. */
typedef struct {
  bl_conv_geom g;
  int32_t depth_multiplier;
  bl_bpad pad;
  const uint32_t *weights;
  bl_output out;
} bl_bdepthwise_params;

size_t bl_bdepthwise_weight_words(int32_t k_h, int32_t k_w, int32_t in_c, int32_t mult);
size_t bl_bdepthwise_scratch_size(const bl_bdepthwise_params *p);
bl_status bl_bdepthwise(const bl_bdepthwise_params *p, const uint32_t *in, void *out, void *scratch);
bl_status bl_bdepthwise_ref(const bl_bdepthwise_params *p, const uint32_t *in, void *out);

/* ---- Binary dense: s1 input of n bits, s1 weights ------------------------------------------
 * weights: output o at weights + o * ceil(n/32), bit i = weight (i, o). d over all n bits. */
typedef struct {
  int32_t n_in, n_out;
  const uint32_t *weights;
  bl_output out;
} bl_bdense_params;

size_t bl_bdense_scratch_size(const bl_bdense_params *p);
bl_status bl_bdense(const bl_bdense_params *p, const uint32_t *in, void *out, void *scratch);
bl_status bl_bdense_ref(const bl_bdense_params *p, const uint32_t *in, void *out);

/* ---- Binary-weights kernels: f32 input, s1 weights (same layouts as above) -----------------
 * Each tap contributes v = +x when the weight bit is 0 and -x when it is 1. Padded taps hold
 * pad_value (any float; their term is ±pad_value like any other tap). Float-accumulating output
 * stage. The order of the float sum (Keras leaves it open):
 *   depthwise and dense: acc starts at 0.0f and adds v tap by tap, in tap order (kh, kw, ci)
 *   [dense: i = 0..n-1];
 *   conv2d: the taps in (kh, kw, ci) order form groups of four ("quads"), the group sum is
 *   (v0 + v1) + (v2 + v3) (three taps: (v0 + v1) + v2; two: v0 + v1; one: v0), and acc starts
 *   at 0.0f and adds the group sums in order. This lets the optimized kernel sum each group's
 *   16 sign patterns once per pixel for all filters. */
typedef struct {
  bl_conv_geom g;
  float pad_value;
  const uint32_t *weights;
  bl_output out;
  int32_t groups; /* see "Grouped convolution" */
} bl_bwconv2d_params;

size_t bl_bwconv2d_scratch_size(const bl_bwconv2d_params *p);
bl_status bl_bwconv2d(const bl_bwconv2d_params *p, const float *in, void *out, void *scratch);
bl_status bl_bwconv2d_ref(const bl_bwconv2d_params *p, const float *in, void *out);

typedef struct {
  bl_conv_geom g;
  int32_t depth_multiplier;
  float pad_value;
  const uint32_t *weights; /* bl_bdepthwise layout */
  bl_output out;
} bl_bwdepthwise_params;

bl_status bl_bwdepthwise(const bl_bwdepthwise_params *p, const float *in, void *out);
bl_status bl_bwdepthwise_ref(const bl_bwdepthwise_params *p, const float *in, void *out);

typedef struct {
  int32_t n_in, n_out;
  const uint32_t *weights; /* bl_bdense layout */
  bl_output out;
} bl_bwdense_params;

bl_status bl_bwdense(const bl_bwdense_params *p, const float *in, void *out);
bl_status bl_bwdense_ref(const bl_bwdense_params *p, const float *in, void *out);

/* ---- Float kernels: f32 input, f32 weights ---------------------------------------------------
 * conv2d weights in Keras HWIO order [k_h][k_w][in_c][out_c]; depthwise [k_h][k_w][in_c][m];
 * dense [n_in][n_out]. acc starts at 0.0f and adds x * w in tap order (kh, kw, ci)
 * [dense: i = 0..n-1]; padded taps hold pad_value. Float-accumulating output stage. */
typedef struct {
  bl_conv_geom g;
  float pad_value;
  const float *weights; /* grouped: [k_h][k_w][in_c / groups][out_c], as Keras stores it */
  bl_output out;
  int32_t groups; /* see "Grouped convolution" */
} bl_conv2d_params;

bl_status bl_conv2d(const bl_conv2d_params *p, const float *in, void *out);
bl_status bl_conv2d_ref(const bl_conv2d_params *p, const float *in, void *out);

/* ---- int8 convolution: s8 input (HWC), s8 weights, exact int32 sums ------------------------
 * acc = acc_init[o] (0 when NULL) + sum over taps (kh, kw, ci) of x * w, in integers: exact
 * whatever the order. A padded tap reads pad_value, the input's quantized zero: 0 for a
 * symmetric tensor; -128 for unsigned levels 0..255 stored as q - 128, whose offset
 * 128 * sum(w) the caller puts in acc_init. in_c * k_h * k_w <= 65536 and acc_init strictly
 * within +-2^30 keep |acc| < 2^31 (else BL_ERR_PARAM). Output: BL_OUT_F32 and BL_OUT_BITS as an
 * integer kernel with d = acc (BL_OUT_F32 converts acc to float first, rounding beyond 2^24);
 * BL_OUT_S8 as documented for bl_output. out_c is not limited; no groups, no dilation limit.
 * weights: [out_c][k_h][k_w][in_c], channels innermost (one filter is one contiguous patch).
 * The optimized kernel needs bl_conv2d_s8_scratch_size bytes of scratch, 4-byte aligned (two
 * gathered patches as int16 and the accumulators of two output pixels). */
typedef struct {
  bl_conv_geom g;
  int32_t pad_value;        /* -128..127 */
  const int8_t *weights;
  const int32_t *acc_init;  /* [out_c] or NULL */
  bl_output out;
} bl_conv2d_s8_params;

size_t bl_conv2d_s8_scratch_size(const bl_conv2d_s8_params *p);
bl_status bl_conv2d_s8(const bl_conv2d_s8_params *p, const int8_t *in, void *out, void *scratch);
bl_status bl_conv2d_s8_ref(const bl_conv2d_s8_params *p, const int8_t *in, void *out);

/* int8 depthwise conv: output channel o = c * m + j reads input channel c; weights
 * [k_h][k_w][in_c][m] as Keras stores them; acc = acc_init[o] + sum over taps (kh, kw) of x * w,
 * pad value, limits (k_h * k_w <= 65536) and outputs as bl_conv2d_s8. The optimized kernel needs
 * bl_depthwise_s8_scratch_size bytes of scratch, 8-byte aligned. */
typedef struct {
  bl_conv_geom g;
  int32_t depth_multiplier;
  int32_t pad_value;
  const int8_t *weights;
  const int32_t *acc_init;
  bl_output out;
} bl_depthwise_s8_params;

size_t bl_depthwise_s8_scratch_size(const bl_depthwise_s8_params *p);
bl_status bl_depthwise_s8(const bl_depthwise_s8_params *p, const int8_t *in, void *out, void *scratch);
bl_status bl_depthwise_s8_ref(const bl_depthwise_s8_params *p, const int8_t *in, void *out);

/* int8 dense: acc[o] = acc_init[o] + sum over i in order of in[i] * weights[o * n_in + i] (one
 * row per output: the transpose of Keras' (n_in, n_out) kernel); n_in <= 65536; outputs as
 * bl_conv2d_s8. */
typedef struct {
  int32_t n_in, n_out;
  const int8_t *weights;
  const int32_t *acc_init;
  bl_output out;
} bl_dense_s8_params;

bl_status bl_dense_s8(const bl_dense_s8_params *p, const int8_t *in, void *out);
bl_status bl_dense_s8_ref(const bl_dense_s8_params *p, const int8_t *in, void *out);

/* A k-bit activation quantizer to int8 and back. bl_quantize_s8: q = round(clamp(x, lo, hi) *
 * levels) - offset (half to even, each operation in float32 as bl_quantize_f32), stored as int8:
 * offset 0 for STCustomDoReFa (q in -2^(k-1)..2^(k-1) - 1), 128 for DoReFa's 0..255 levels. NaN
 * gives -offset (the level of 0). bl_dequantize_s8: y = (q + offset) / levels, the value
 * bl_quantize_f32 gives for the same x, bit for bit, for every x but NaN (and -0, which gives +0). Needs lo <= hi, 0 < levels, every level
 * minus offset within -128..127, and 0 <= offset <= 128 (else BL_ERR_PARAM). bl_quantize_s8_ref is
 * the portable twin; on Cortex-M with an FPU bl_quantize_s8 rounds with VCVTR (about 9
 * instructions per value instead of 31). */
bl_status bl_quantize_s8(size_t n, float lo, float hi, float levels, int32_t offset, const float *in,
                         int8_t *out);
bl_status bl_quantize_s8_ref(size_t n, float lo, float hi, float levels, int32_t offset, const float *in,
                             int8_t *out);
bl_status bl_dequantize_s8(size_t n, float levels, int32_t offset, const int8_t *in, float *out);
/* out = clamp(a + b, lo, hi) on int8: the Add of two tensors holding integers over the same
 * levels (offset 0), followed by that quantizer, whose clip is then this clamp (-128 <= lo <= hi
 * <= 127, else BL_ERR_PARAM). In place allowed (out == a or out == b). bl_add_s8_ref is the portable
 * twin; on Cortex-M with the DSP extension the full range adds four values per QADD8. */
bl_status bl_add_s8(size_t n, const int8_t *a, const int8_t *b, int32_t lo, int32_t hi, int8_t *out);
bl_status bl_add_s8_ref(size_t n, const int8_t *a, const int8_t *b, int32_t lo, int32_t hi, int8_t *out);

typedef struct {
  bl_conv_geom g;
  int32_t depth_multiplier;
  float pad_value;
  const float *weights;
  bl_output out;
} bl_depthwise_params;

bl_status bl_depthwise(const bl_depthwise_params *p, const float *in, void *out);
bl_status bl_depthwise_ref(const bl_depthwise_params *p, const float *in, void *out);

typedef struct {
  int32_t n_in, n_out;
  const float *weights;
  bl_output out;
} bl_dense_params;

bl_status bl_dense(const bl_dense_params *p, const float *in, void *out);
bl_status bl_dense_ref(const bl_dense_params *p, const float *in, void *out);

/* ---- Pooling ---------------------------------------------------------------------------------
 * Window k_h x k_w, stride, TF padding amounts (pad_top/pad_left); padded positions are ignored
 * (max over / average of the in-image elements only, as TF does). dil must be 1, and every
 * window must hold at least one in-image element (always true for TF geometry), otherwise
 * BL_ERR_PARAM. f32 max: first element, then replaced by any later x > m, in (kh, kw) order.
 * f32 average: in-image elements summed from 0.0f in (kh, kw) order, divided by their count.
 * bl_maxpool_f32_ref / bl_avgpool_f32_ref are the element-by-element references. */
typedef struct {
  bl_conv_geom g; /* in_c == out_c */
  const uint32_t *or_mask; /* s1 max-pool only: channels whose bit is set pool with OR, the
                              others with AND (AND of bits = max of ±1). NULL = all AND. */
} bl_pool_params;

bl_status bl_maxpool_s1(const bl_pool_params *p, const uint32_t *in, uint32_t *out);
bl_status bl_maxpool_s1_ref(const bl_pool_params *p, const uint32_t *in, uint32_t *out);
bl_status bl_maxpool_f32(const bl_pool_params *p, const float *in, float *out);
bl_status bl_maxpool_f32_ref(const bl_pool_params *p, const float *in, float *out);
bl_status bl_avgpool_f32(const bl_pool_params *p, const float *in, float *out);
bl_status bl_avgpool_f32_ref(const bl_pool_params *p, const float *in, float *out);
/* Global pools over H*W, output [C]. Average sums in (h, w) order then divides by H*W. */
bl_status bl_global_avgpool_f32(int32_t h, int32_t w, int32_t c, const float *in, float *out);
bl_status bl_global_maxpool_f32(int32_t h, int32_t w, int32_t c, const float *in, float *out);
/* Global max-pool on s1 (max of ±1 = AND), with the same or_mask convention. */
bl_status bl_global_maxpool_s1(int32_t h, int32_t w, int32_t c, const uint32_t *or_mask,
                               const uint32_t *in, uint32_t *out);

/* ---- Conversions -----------------------------------------------------------------------------
 * Pack: n elements of an (…, C) f32 tensor into s1. With mul == NULL and add == NULL the bit is
 * x < 0 (sign, sign(0) = +1). Otherwise y = x * mul[i % c] + add[i % c] (two roundings, missing
 * one = 1 / 0) and bit = y < 0 — BatchNorm followed by sign, when it could not be folded.
 * Unpack: bit 0 -> +1.0f, bit 1 -> -1.0f. */
bl_status bl_pack_f32(size_t n, int32_t c, const float *mul, const float *add, const float *in,
                      uint32_t *out);
bl_status bl_unpack_s1(size_t n, const uint32_t *in, float *out);
/* Pack an s8 tensor holding q = level - offset (bl_quantize_s8): bit = q + offset < 0, the sign
 * of the level (sign(0) = +1), so ste_sign after a k-bit quantizer reads the int8 tensor
 * directly. Needs 0 <= offset <= 128. */
bl_status bl_pack_s8(size_t n, int32_t offset, const int8_t *in, uint32_t *out);

/* ---- Portable float math -------------------------------------------------------------------
 * Deterministic replacements for expf/tanhf: only IEEE-754 float32 + - * / and integer
 * operations in a fixed order (no libm, no double), so the host and every Cortex-M compute the
 * same bits (libm's expf differs between glibc and newlib). Softmax, sigmoid and tanh use them.
 * bl_expf: error < 1 ulp over the whole float range (round-to-nearest most of the time);
 *   overflow -> +INFINITY, exp(-inf) and results below 2^-150 -> +0, subnormal results are
 *   rounded to nearest (computed with integer operations, independent of flush-to-zero), NaN
 *   returned unchanged.
 * bl_tanhf: odd polynomial for |x| < 0.25, (1 - e) / (1 + e) with e = bl_expf(-2|x|) up to
 *   tanh = 0.5, 1 - 2e / (1 + e) above (correctly rounded near saturation),
 *   +-1 from |x| >= 9.1; error a few ulp; NaN unchanged. */
float bl_expf(float x);
float bl_tanhf(float x);
/* The same rules for the other activations' building blocks (measured bounds against double in
 * tests/unit/kernels_mathf_test.cpp, listed in docs/decisions.md):
 * bl_expm1f: exp(x) - 1 without cancellation near 0 (Taylor for |x| < 0.5).
 * bl_logf: natural log; 0 -> -inf, x < 0 -> NaN.
 * bl_softplusf: log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)), never overflows.
 * bl_geluf: Keras' exact gelu in TF's float32 steps, 0.5 x (1 + erf(x / sqrt(2))): erf is
 *   accurate, the steps are TF's, so below about -5.4 the result is -0 as in Keras (not the
 *   tiny negative exact value), which a following sign quantizer reads as +1. */
float bl_expm1f(float x);
float bl_logf(float x);
float bl_softplusf(float x);
float bl_geluf(float x);

/* ---- Element-wise and shape ops (f32) --------------------------------------------------------*/
typedef enum {
  BL_ACT_LINEAR = 0,
  BL_ACT_RELU,
  BL_ACT_RELU6,
  BL_ACT_SIGMOID,
  BL_ACT_TANH,
  BL_ACT_HARD_SIGMOID, /* max(0, min(1, 0.2x + 0.5)) as in tf.keras 2.x */
  BL_ACT_HARD_TANH,    /* clip to [-1, 1] */
  BL_ACT_HARD_SIGMOID_K3, /* relu6(x + 3) / 6 as in Keras 3 */
  BL_ACT_HARD_SWISH,   /* x * relu6(x + 3) / 6 (Keras 3 hard_silu / hard_swish) */
  BL_ACT_SWISH,        /* x * sigmoid(x) (swish, silu) */
  BL_ACT_MISH,         /* x * tanh(softplus(x)) */
  BL_ACT_SOFTPLUS,     /* log(1 + exp(x)) */
  BL_ACT_SOFTSIGN,     /* x / (|x| + 1) */
  BL_ACT_EXPONENTIAL,  /* exp(x) */
  BL_ACT_ELU,          /* x > 0 ? x : alpha * expm1(x) (alpha from bl_act, 1 for the function) */
  BL_ACT_SELU,         /* 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * expm1(x)) */
  BL_ACT_GELU,         /* exact form: 0.5 x (1 + erf(x / sqrt(2))) in TF's float32 steps */
  BL_ACT_GELU_TANH,    /* approximate: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), TF's steps */
  BL_ACT_LEAKY_RELU,   /* x > 0 ? x : alpha * x */
  BL_ACT_RELU_EX,      /* Keras ReLU(max_value, negative_slope = alpha, threshold), see bl_act */
  BL_ACT_PRELU,        /* x > 0 ? x : slopes[i % c] * x (PReLU layer) */
  BL_ACT_LEAKY_TANH    /* larq leaky_tanh: clip(x, -1, 1) + (max(x, 1) - 1) alpha + (min(x, -1) + 1) alpha */
} bl_activation;

/* An activation with its parameters (only the fields its kind names are read). */
typedef struct {
  bl_activation kind;
  float alpha;          /* ELU alpha; LEAKY_RELU, LEAKY_TANH and RELU_EX negative slope */
  float max_value;      /* RELU_EX: upper clip, INFINITY for none */
  float threshold;      /* RELU_EX */
  const float *slopes;  /* PRELU: c negative slopes (c = the period passed to the kernel) */
} bl_act;

/* y = act(x * mul[i % c] + add[i % c]); NULL mul/add = 1/0. BatchNorm uses mul/add. In place
 * allowed (in == out). */
bl_status bl_affine_f32(size_t n, int32_t c, const float *mul, const float *add,
                        bl_activation act, const float *in, float *out);
/* y = act(x) for any activation, parameters included; element i uses channel i % c (PReLU).
 * In place allowed. BL_ACT_RELU_EX follows Keras' relu(x, negative_slope, max_value, threshold)
 * operation by operation: negative_slope != 0 with no max_value and threshold 0 is leaky_relu;
 * otherwise y = threshold != 0 ? x * (x > threshold) : (max_value == 6 ? relu6(x) : relu(x)),
 * clipped to [0, max_value] when there is a max_value (not after relu6), minus
 * negative_slope * relu(threshold - x) when negative_slope != 0. */
bl_status bl_activate_f32(size_t n, int32_t c, const bl_act *act, const float *in, float *out);
/* y = round(clamp(x, lo, hi) * levels) / levels, rounding half to even (tf.round), each
 * operation in float32: the DoReFa family's activation quantizers (Larq DoReFa: [0, 1] and
 * 2^k - 1 levels; ST's STCustomDoReFa: [-1, 1 - 2^-(k-1)] and 2^(k-1)). NaN stays NaN, -0 stays
 * -0. Needs lo <= hi and 0 < levels <= 2^24. In place allowed. */
bl_status bl_quantize_f32(size_t n, float lo, float hi, float levels, const float *in, float *out);
/* A threshold step (QKeras binary and ternary activations): k = the number of thr[j], j < count,
 * with x >= thr[j] (in any order), v = val[k]; y = ste ? x + (-x + v) : v, the sum in float32
 * as Keras' straight-through estimator computes it (two roundings, never simplified). NaN stays
 * NaN. Needs 0 <= count <= 2 and thresholds that are not NaN. In place allowed. */
typedef struct {
  int32_t count;
  float thr[2];
  float val[3];
  int32_t ste;
} bl_threshold_params;
bl_status bl_threshold_f32(size_t n, const bl_threshold_params *p, const float *in, float *out);
/* Softmax over the last axis of size c, for n/c rows: bl_expf(x - max) / sum (sum in order).
 * In place allowed. */
bl_status bl_softmax_f32(size_t n, int32_t c, const float *in, float *out);
/* log_softmax over the last axis: (x - max) - bl_logf(sum of bl_expf(x - max)) (sum in order,
 * as tf.nn.log_softmax). In place allowed. */
bl_status bl_log_softmax_f32(size_t n, int32_t c, const float *in, float *out);
/* out = a + b element-wise; then act. */
bl_status bl_add_f32(size_t n, const float *a, const float *b, bl_activation act, float *out);
/* Concatenate along the last axis: `count` inputs, each pixels x c[i]. */
bl_status bl_concat_f32(int32_t pixels, int32_t count, const int32_t *c, const float *const *in,
                        float *out);
bl_status bl_concat_s1(int32_t pixels, int32_t count, const int32_t *c,
                       const uint32_t *const *in, uint32_t *out);
/* Nearest-neighbour upsampling of an f32 HWC tensor (Keras UpSampling1D/2D): output pixel
 * (y, x) is input pixel (y / fh, x / fw); the output is (h fh) x (w fw) x c. */
bl_status bl_upsample_f32(int32_t h, int32_t w, int32_t c, int32_t fh, int32_t fw, const float *in,
                          float *out);
/* Constant padding of an f32 HWC tensor: top, bottom, left, right. */
bl_status bl_pad_f32(int32_t h, int32_t w, int32_t c, int32_t top, int32_t bottom, int32_t left,
                     int32_t right, float value, const float *in, float *out);
/* Cropping of an f32 HWC tensor: the out_h x out_w window whose top-left input pixel is
 * (top, left); requires top + out_h <= h and left + out_w <= w. */
bl_status bl_crop_f32(int32_t h, int32_t w, int32_t c, int32_t top, int32_t left, int32_t out_h,
                      int32_t out_w, const float *in, float *out);

/* ---- Popcount ----------------------------------------------------------------------------------
 * Exposed for tests and benchmarks: portable SWAR on Cortex-M (gcc would call __popcountsi2),
 * the POPCNT instruction on x86-64 when the CPU has it (runtime dispatch, no -march needed). */
uint32_t bl_popcount32(uint32_t x);
/* popcount(a[i] XOR b[i]) summed over n words. */
uint32_t bl_xor_popcount(const uint32_t *a, const uint32_t *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* BL_KERNELS_H */
