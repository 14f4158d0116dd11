/* Bit-sliced binary conv2d (s1 input, s1 weights) for layers with few input channels.
 *
 * Why: the patch kernel (bconv2d.c) gathers k_h*k_w*in_c bits per output pixel and popcounts
 * them; with 1 input channel a 3x3 patch is 9 bits of one 32-bit word, so most of every XOR and
 * popcount is wasted. Here a word holds 32 neighbouring output pixels instead ("lanes"), one
 * word per tap and input channel, and the per-lane sums are kept as a vertical (bit-sliced)
 * counter: plane k holds bit k of every lane's count, so every instruction works on 32 MACs
 * whatever the channel count.
 *
 * Taps go in triples. Per block of 32 lanes, each triple's three tap words are combined once
 * for all 8 sign patterns of its weights into a 2-bit sum (a ones word and a twos word: a full
 * adder done ahead of time). A filter then looks up its pattern (one load of two words) and
 * adds 2 words per 3 taps into the counter through carry-save adders (Harley-Seal), about 4.5
 * instructions per tap on Cortex-M4 instead of 10 for XOR-with-weight plus adders tap by tap.
 * The table is shared by all filters of the layer.
 *
 * Layout: each input channel is copied into a "plane", the padded image (padding bits already
 * in place) flattened row by row with the padded width wp = out_w + (k_w-1)*dil_w. With stride
 * 1, lane q = oh*wp + ow reads padded pixel (oh + kh*dil_h, ow + kw*dil_w), i.e. plane bit
 * q + kh*dil_h*wp + kw*dil_w: a tap's word for 32 lanes is one funnel shift of the plane. Lanes
 * with ow >= out_w wrap into the next row; they are computed and discarded.
 *
 * Counts: with n = k_h*k_w*in_c taps, d = n - S where S = 2 * (mismatches at real taps) + Z and
 * Z = in_c * (padded taps of the lane). With +-1 padding the pad bits are real taps and Z = 0;
 * with exact zero padding each tap is masked with the lane's "inside the image" bit and Z is
 * added once per block. Bit outputs compare S with n - threshold in bit-sliced form (flip:
 * the other direction); float outputs read S per lane. Results equal bl_bconv2d_ref exactly. */
#include <math.h>

#include "bl_internal.h"

/* Largest tap count: triple indices fit 16-bit table offsets (8 entries per triple), and
 * S < 2^16 keeps the counter at 16 planes. */
#define BS_MAX_TAPS 24573
#define BS_MAX_PLANES 16

typedef struct {
  int32_t hp, wp;    /* padded rows and columns read by the outputs */
  size_t lanes;      /* out_h * wp */
  size_t blocks;     /* ceil(lanes / 32) */
  size_t pw;         /* words per plane */
  size_t taps;       /* k_h * k_w * in_c */
  size_t wpf;        /* weight words per filter */
  size_t tri;        /* tap triples: ceil(taps / 3) */
  int32_t mplanes;   /* counter planes of the mismatch count M (>= 5) */
  int zero;          /* exact zero padding */
  int32_t per;       /* float output: channels per 32x32 transpose (32 / planes of S) */
  size_t res_words;  /* 32 words per chunk of 32 output channels (bits) or of `per` (float) */
} bs_geom;

static int bs_setup(const bl_bconv2d_params *p, bs_geom *s)
{
  const bl_conv_geom *g;
  size_t last;
  int32_t bits;
  bl_output o;
  if (!p || !bl_i_geom_ok(&p->g) || !p->weights) return 0;
  if (p->pad != BL_PAD_ZERO && p->pad != BL_PAD_PLUS_ONE && p->pad != BL_PAD_MINUS_ONE) return 0;
  /* a residual with float outputs only */
  o = p->out;
  if (o.residual && o.kind != BL_OUT_F32) return 0;
  o.residual = NULL;
  if (!bl_i_output_ok(&o, 1) || bl_i_groups(&p->g, p->groups) != 1) return 0;
  g = &p->g;
  if (g->stride_h != 1 || g->stride_w != 1) return 0;
  s->taps = (size_t)g->k_h * (size_t)g->k_w * (size_t)g->in_c;
  if (s->taps > BS_MAX_TAPS) return 0;
  s->hp = g->out_h + (g->k_h - 1) * g->dil_h;
  s->wp = g->out_w + (g->k_w - 1) * g->dil_w;
  s->lanes = (size_t)g->out_h * (size_t)s->wp;
  s->blocks = (s->lanes + 31) / 32;
  /* The last block's furthest tap word starts at bit 32*(blocks-1) + max offset; its funnel
   * shift reads that word and the next. */
  last = 32 * (s->blocks - 1) + (size_t)(g->k_h - 1) * (size_t)g->dil_h * (size_t)s->wp +
         (size_t)(g->k_w - 1) * (size_t)g->dil_w;
  s->pw = last / 32 + 2;
  s->wpf = BL_WORDS(s->taps);
  s->tri = (s->taps + 2) / 3;
  for (bits = 0; ((size_t)1 << bits) <= s->taps; bits++) {
  }
  s->mplanes = bits < 5 ? 5 : bits;
  s->zero = p->pad == BL_PAD_ZERO;
  s->per = 32 / (s->mplanes + 1);
  s->res_words = 32 * (size_t)(p->out.kind == BL_OUT_BITS ? (g->out_c + 31) / 32
                                                          : (g->out_c + s->per - 1) / s->per);
  return 1;
}

/* Scratch words: the planes (+ the inside-image plane for zero padding), the tap words of one
 * block (a multiple of 3) with the real lanes of each, the inside mask of each (kh, kw), the
 * triple table (16 words per triple), the output words, float output's (mul, add) pairs, and
 * the filters' triple offsets (16 bits each). */
static size_t bs_scratch_words(const bl_bconv2d_params *p, const bs_geom *s)
{
  const size_t kk = (size_t)p->g.k_h * (size_t)p->g.k_w;
  return s->pw * ((size_t)p->g.in_c + (s->zero ? 1u : 0u)) + 6 * s->tri + kk + 16 * s->tri +
         s->res_words + (p->out.kind == BL_OUT_F32 ? 2 * (size_t)p->g.out_c : 0u) +
         ((size_t)p->g.out_c * s->tri + 1) / 2;
}

size_t bl_bconv2d_bitsliced_scratch_size(const bl_bconv2d_params *p)
{
  bs_geom s;
  if (!bs_setup(p, &s)) return 0;
  return bs_scratch_words(p, &s) * sizeof(uint32_t);
}

/* Overwrites n (1..32) bits of d at bit index pos with the low bits of v. */
BL_INLINE void bs_put(uint32_t *d, size_t pos, uint32_t v, uint32_t n)
{
  const uint32_t mask = n == 32 ? 0xffffffffu : (1u << n) - 1u;
  const size_t w = pos >> 5;
  const uint32_t sh = (uint32_t)(pos & 31u);
  v &= mask;
  d[w] = (d[w] & ~(mask << sh)) | (v << sh);
  if (sh != 0 && sh + n > 32) d[w + 1] = (d[w + 1] & ~(mask >> (32 - sh))) | (v >> (32 - sh));
}

/* 32 bits of a plane starting at bit index pos (the word after pos's word must exist). */
BL_INLINE uint32_t bs_word(const uint32_t *plane, size_t pos)
{
  const size_t w = pos >> 5;
  const uint32_t sh = (uint32_t)(pos & 31u);
  return sh ? (plane[w] >> sh) | (plane[w + 1] << (32 - sh)) : plane[w];
}

/* In-place transpose of a 32x32 bit matrix, row r = a[r], column c = bit c: afterwards bit c
 * of a[r] is the former bit r of a[c] (block swaps, Hacker's Delight 7-3, LSB-first). */
#define BS_SWAP(k, j, m)                                   \
  do {                                                     \
    const uint32_t t_ = ((a[k] >> (j)) ^ a[(k) + (j)]) & (m); \
    a[k] ^= t_ << (j);                                     \
    a[(k) + (j)] ^= t_;                                    \
  } while (0)
static void bs_transpose32(uint32_t *a)
{
  uint32_t k;
  for (k = 0; k < 16; k++) BS_SWAP(k, 16, 0x0000ffffu);
  for (k = 0; k < 32; k += 16) {
    BS_SWAP(k, 8, 0x00ff00ffu); BS_SWAP(k + 1, 8, 0x00ff00ffu);
    BS_SWAP(k + 2, 8, 0x00ff00ffu); BS_SWAP(k + 3, 8, 0x00ff00ffu);
    BS_SWAP(k + 4, 8, 0x00ff00ffu); BS_SWAP(k + 5, 8, 0x00ff00ffu);
    BS_SWAP(k + 6, 8, 0x00ff00ffu); BS_SWAP(k + 7, 8, 0x00ff00ffu);
  }
  for (k = 0; k < 32; k += 8) {
    BS_SWAP(k, 4, 0x0f0f0f0fu); BS_SWAP(k + 1, 4, 0x0f0f0f0fu);
    BS_SWAP(k + 2, 4, 0x0f0f0f0fu); BS_SWAP(k + 3, 4, 0x0f0f0f0fu);
  }
  for (k = 0; k < 32; k += 4) {
    BS_SWAP(k, 2, 0x33333333u); BS_SWAP(k + 1, 2, 0x33333333u);
  }
  for (k = 0; k < 32; k += 2) BS_SWAP(k, 1, 0x55555555u);
}

/* Copies the input into the planes: padding bits everywhere (+1: 0, -1: 1; zero padding: 0 and
 * an inside-image plane), then every input pixel the outputs read at its padded position. */
static void bs_planes(const bl_bconv2d_params *p, const bs_geom *s, const uint32_t *in,
                      uint32_t *planes, uint32_t *inside)
{
  const bl_conv_geom *g = &p->g;
  const int32_t C = g->in_c;
  const int32_t rows = g->in_h < s->hp - g->pad_top ? g->in_h : s->hp - g->pad_top;
  const int32_t cols = g->in_w < s->wp - g->pad_left ? g->in_w : s->wp - g->pad_left;
  int32_t iy, ix0, c, c0, j;
  uint32_t a[32];
  bl_i_fill_words(planes, s->pw * (size_t)C, p->pad == BL_PAD_MINUS_ONE ? 0xffffffffu : 0u);
  if (inside) bl_i_fill_words(inside, s->pw, 0u);
  for (iy = 0; iy < rows; iy++) {
    const size_t dst = (size_t)(iy + g->pad_top) * (size_t)s->wp + (size_t)g->pad_left;
    const size_t src = (size_t)iy * (size_t)g->in_w * (size_t)C;
    for (ix0 = 0; ix0 < cols; ix0 += 32) {
      const uint32_t n = (uint32_t)(cols - ix0 < 32 ? cols - ix0 : 32);
      if (inside) bs_put(inside, dst + (size_t)ix0, 0xffffffffu, n);
      if (C == 1) {
        bs_put(planes, dst + (size_t)ix0, bl_i_readbits(in, src + (size_t)ix0, n), n);
        continue;
      }
      /* Row j of the matrix = pixel ix0 + j's bits of channels c0..c0+31; transposed, row c =
       * channel c0 + c of the 32 pixels. */
      for (c0 = 0; c0 < C; c0 += 32) {
        const uint32_t nc = (uint32_t)(C - c0 < 32 ? C - c0 : 32);
        for (j = 0; j < 32; j++)
          a[j] = (uint32_t)j < n ? bl_i_readbits(in, src + (size_t)(ix0 + j) * (size_t)C + (size_t)c0, nc)
                                 : 0u;
        bs_transpose32(a);
        for (c = 0; c < (int32_t)nc; c++)
          bs_put(planes + (size_t)(c0 + c) * s->pw, dst + (size_t)ix0, a[c], n);
      }
    }
  }
}

/* Full adder on 32 lanes: (h, l) = a + b + c. */
#define BS_CSA(h, l, a, b, c)                    \
  do {                                           \
    const uint32_t u_ = (a) ^ (b), c_ = (c);     \
    h = ((a) & (b)) | (u_ & c_);                 \
    l = u_ ^ c_;                                 \
  } while (0)

/* Adds word x (weight 1 at plane k0) into planes k0.. of a counter. */
BL_INLINE void bs_ripple(uint32_t *cnt, int32_t k0, int32_t np, uint32_t x)
{
  int32_t k;
  for (k = k0; k < np && x; k++) {
    const uint32_t t = cnt[k] & x;
    cnt[k] ^= x;
    x = t;
  }
}

/* Builds the table of one block: for triple i (tap words x, y, z, already masked to in-image
 * lanes; m* = the lanes whose tap is real), entry e = (weight bits of the three taps) holds
 * the ones and twos words of (x ^ wx) + (y ^ wy) + (z ^ wz) over real lanes. */
static void bs_table(const uint32_t *tw, const uint32_t *tv, size_t tri, uint32_t *tbl)
{
  size_t i;
#define BS_ENT(e, a, b)                 \
  do {                                  \
    const uint32_t u_ = (a) ^ (b), h_ = (a) & (b); \
    tbl[2 * (e)] = u_ ^ z0;             \
    tbl[2 * (e) + 1] = h_ | (u_ & z0);  \
    tbl[2 * (e) + 8] = u_ ^ z1;         \
    tbl[2 * (e) + 9] = h_ | (u_ & z1);  \
  } while (0)
  for (i = 0; i < tri; i++, tw += 3, tv += 3, tbl += 16) {
    const uint32_t x0 = tw[0], x1 = tw[0] ^ tv[0];
    const uint32_t y0 = tw[1], y1 = tw[1] ^ tv[1];
    const uint32_t z0 = tw[2], z1 = tw[2] ^ tv[2];
    BS_ENT(0, x0, y0);
    BS_ENT(1, x1, y0);
    BS_ENT(2, x0, y1);
    BS_ENT(3, x1, y1);
  }
#undef BS_ENT
}

/* Each filter's triple indices as table offsets (in entries of 2 words): i*8 + weight bits. */
static void bs_offsets(const uint32_t *weights, const bs_geom *s, int32_t out_c, uint16_t *off)
{
  int32_t o;
  size_t i;
  for (o = 0; o < out_c; o++) {
    const uint32_t *w = weights + (size_t)o * s->wpf;
    for (i = 0; i < s->tri; i++) {
      const size_t t = 3 * i;
      const uint32_t n = s->taps - t < 3 ? (uint32_t)(s->taps - t) : 3u;
      *off++ = (uint16_t)(i * 8 + bl_i_readbits(w, t, n));
    }
  }
}

/* Four triples: their ones and twos words into ones/twos/fours/eights; returns the carry of
 * weight 16. */
#define BS_QUAD(r)                                                                   \
  do {                                                                               \
    const uint32_t *e0 = tbl + 2 * (size_t)off[i], *e1 = tbl + 2 * (size_t)off[i + 1]; \
    const uint32_t *e2 = tbl + 2 * (size_t)off[i + 2], *e3 = tbl + 2 * (size_t)off[i + 3]; \
    BS_CSA(c2, ones, ones, e0[0], e1[0]);                                            \
    BS_CSA(c4a, twos, twos, e0[1], e1[1]);                                           \
    h = twos & c2;                                                                   \
    twos ^= c2;                                                                      \
    BS_CSA(c2, ones, ones, e2[0], e3[0]);                                            \
    BS_CSA(c4b, twos, twos, e2[1], e3[1]);                                           \
    h2 = twos & c2;                                                                  \
    twos ^= c2;                                                                      \
    BS_CSA(f8a, fours, fours, c4a, h);                                               \
    BS_CSA(f8b, fours, fours, c4b, h2);                                              \
    BS_CSA(r, eights, eights, f8a, f8b);                                             \
    i += 4;                                                                          \
  } while (0)

/* Mismatch count M of one filter (its offsets `off`) into cnt[0..np) (np >= 5): per triple a
 * ones word and a twos word from the table, added through carry-save adders (Harley-Seal) eight
 * triples at a time, so only carries of weight 32 ripple through the planes in memory. */
BL_NOINLINE void bs_count(const uint32_t *tbl, const uint16_t *off, size_t tri, uint32_t *cnt,
                        int32_t np)
{
  uint32_t ones = 0, twos = 0, fours = 0, eights = 0, sixteens = 0;
  uint32_t c2, c4a, c4b, h, h2, f8a, f8b, sa, sb, s32;
  size_t i = 0;
  if (np > 5) bl_i_fill_words(cnt + 5, (size_t)(np - 5), 0u);
  while (i + 8 <= tri) {
    BS_QUAD(sa);
    BS_QUAD(sb);
    BS_CSA(s32, sixteens, sixteens, sa, sb);
    bs_ripple(cnt, 5, np, s32);
  }
  if (i + 4 <= tri) {
    BS_QUAD(sa);
    s32 = sixteens & sa;
    sixteens ^= sa;
    bs_ripple(cnt, 5, np, s32);
  }
  for (; i < tri; i++) {
    const uint32_t *e = tbl + 2 * (size_t)off[i];
    c2 = ones & e[0];
    ones ^= e[0];
    BS_CSA(c4a, twos, twos, e[1], c2);
    h = fours & c4a;
    fours ^= c4a;
    h2 = eights & h;
    eights ^= h;
    s32 = sixteens & h2;
    sixteens ^= h2;
    bs_ripple(cnt, 5, np, s32);
  }
  cnt[0] = ones;
  cnt[1] = twos;
  cnt[2] = fours;
  cnt[3] = eights;
  cnt[4] = sixteens;
}

/* acc[0..np) += b << shift (b has nb planes); bits carried past plane np-1 are dropped. */
static void bs_add(uint32_t *acc, int32_t np, const uint32_t *b, int32_t nb, int32_t shift)
{
  uint32_t carry = 0;
  int32_t k;
  for (k = shift; k < np; k++) {
    const uint32_t bk = k - shift < nb ? b[k - shift] : 0u;
    const uint32_t u = acc[k] ^ bk;
    const uint32_t c = (acc[k] & bk) | (u & carry);
    acc[k] = u ^ carry;
    carry = c;
  }
}

/* Bit output of one channel as a carry chain: with d = n - S, "d < t" is S > K and "d > t"
 * (flip) is S < K for K = n - t. S > K iff S + (2^np - 1 - K) carries out of plane np-1, and
 * S < K iff S + (2^np - K) does not, so each channel keeps one addend and an inversion; K out
 * of range gives a constant (addend 0 / 2^np with the right inversion). */
typedef struct {
  uint32_t add; /* the constant added to S, up to 2^np */
  uint32_t inv; /* 0 or all ones: XORed with the carry out */
} bs_cmp;

static bs_cmp bs_compare_setup(int64_t k, int32_t np, int below)
{
  const int64_t top = (int64_t)1 << np;
  bs_cmp c;
  int64_t a = below ? top - k : top - 1 - k;
  if (a < 0) a = 0;
  if (a > top) a = top;
  c.add = (uint32_t)a;
  c.inv = below ? 0xffffffffu : 0u;
  return c;
}

BL_INLINE uint32_t bs_compare(const uint32_t *sp, int32_t np, bs_cmp c)
{
  uint32_t carry = 0;
  int32_t i;
  if (c.add >> np) return ~c.inv; /* adding 2^np always carries */
  for (i = 0; i < np; i++) {
    const uint32_t m = (uint32_t)0 - ((c.add >> i) & 1u);
    carry = (sp[i] & carry) | (m & (sp[i] | carry));
  }
  return carry ^ c.inv;
}

/* Float outputs of one lane: its transposed words at w[0], w[32], ... hold `per` channels'
 * S each in np-bit fields (higher bits are ignored). y = (n - S) * mul + add with mul/add
 * expanded into ma (pairs; 1 and 0 where the stage has none: bl_i_affine_clamp multiplies
 * and adds those literally too), then the clamp, left out when both bounds are infinite (it
 * could not change any value then, NaN included). A second affine step takes the general
 * bl_i_affine_clamp. The branches are decided once per lane, not per value. A residual (r, the
 * same pixel's values) is added to each value last. */
BL_NOINLINE void bs_emit_f32(const bl_output *o, const float *ma, const uint32_t *w, int32_t np,
                        int32_t per, int32_t n, int32_t out_c, const float *r, float *f)
{
  const uint32_t smask = (1u << np) - 1u;
  const float lo = o->act_min, hi = o->act_max;
  int32_t i = 0, j;
  if (o->mul2 || o->add2 || o->mid_clamp) {
    for (; i < out_c; w += 32) {
      uint32_t word = *w;
      for (j = 0; j < per && i < out_c; j++, i++, word >>= np)
        f[i] = bl_i_affine_clamp(o, i, (float)(n - (int32_t)(word & smask)));
    }
  } else if (lo == -INFINITY && hi == INFINITY) {
    for (; i < out_c; w += 32) {
      uint32_t word = *w;
      const int32_t end = out_c - i < per ? out_c : i + per;
      for (; i < end; i++, word >>= np) {
        float y = (float)(n - (int32_t)(word & smask)) * ma[2 * i];
        f[i] = y + ma[2 * i + 1];
      }
    }
  } else {
    for (; i < out_c; w += 32) {
      uint32_t word = *w;
      const int32_t end = out_c - i < per ? out_c : i + per;
      for (; i < end; i++, word >>= np) {
        float y = (float)(n - (int32_t)(word & smask)) * ma[2 * i];
        y = y + ma[2 * i + 1];
        if (y < lo) y = lo;
        if (y > hi) y = hi;
        f[i] = y;
      }
    }
  }
  if (r)
    for (i = 0; i < out_c; i++) f[i] = f[i] + r[i];
}

bl_status bl_bconv2d_bitsliced(const bl_bconv2d_params *p, const uint32_t *in, void *out,
                               void *scratch)
{
  const bl_conv_geom *g;
  bs_geom s;
  uint32_t *planes, *inside, *tw, *tv, *vt, *tbl, *res;
  uint16_t *off;
  float *ma;
  uint32_t sp[BS_MAX_PLANES + 1], z[BS_MAX_PLANES + 1];
  int32_t np, zp, o, kh, kw, c;
  size_t blk;
  bl_i_bitwriter bw;
  float *fout;
  if (!bs_setup(p, &s) || !in || !out || !scratch) return BL_ERR_PARAM;
  g = &p->g;
  fout = p->out.kind == BL_OUT_F32 ? (float *)out : NULL;
  np = s.mplanes + 1; /* S = 2M + Z needs one plane more than M */
  planes = (uint32_t *)scratch;
  inside = s.zero ? planes + s.pw * (size_t)g->in_c : NULL;
  tw = planes + s.pw * ((size_t)g->in_c + (s.zero ? 1u : 0u));
  tv = tw + 3 * s.tri;
  vt = tv + 3 * s.tri;
  tbl = vt + (size_t)g->k_h * (size_t)g->k_w;
  res = tbl + 16 * s.tri;
  ma = (float *)(res + s.res_words);
  off = (uint16_t *)(ma + (fout ? 2 * (size_t)g->out_c : 0u));
  if (fout)
    for (o = 0; o < g->out_c; o++) {
      ma[2 * o] = p->out.mul ? p->out.mul[o] : 1.0f;
      ma[2 * o + 1] = p->out.add ? p->out.add[o] : 0.0f;
    }
  bs_planes(p, &s, in, planes, inside);
  bs_offsets(p->weights, &s, g->out_c, off);
  /* Taps past the last (up to two, completing a triple) are never real. */
  for (blk = s.taps; blk < 3 * s.tri; blk++) tw[blk] = tv[blk] = 0;
  bl_i_bw_init(&bw, out);

  for (blk = 0; blk < s.blocks; blk++) {
    const size_t q0 = 32 * blk;
    size_t t = 0;
    uint32_t zany = 0;
    int32_t b, oh, ow;
    /* Tap words in the filters' (kh, kw, ci) order, each with its real lanes. */
    for (kh = 0; kh < g->k_h; kh++) {
      for (kw = 0; kw < g->k_w; kw++) {
        const size_t pos = q0 + (size_t)kh * (size_t)g->dil_h * (size_t)s.wp + (size_t)kw * (size_t)g->dil_w;
        const uint32_t v = s.zero ? bs_word(inside, pos) : 0xffffffffu;
        const uint32_t *src = planes + (pos >> 5);
        const uint32_t sh = (uint32_t)(pos & 31u);
        vt[kh * g->k_w + kw] = v;
        zany |= ~v;
        if (sh) {
          for (c = 0; c < g->in_c; c++, t++, src += s.pw) {
            tw[t] = ((src[0] >> sh) | (src[1] << (32 - sh))) & v;
            tv[t] = v;
          }
        } else {
          for (c = 0; c < g->in_c; c++, t++, src += s.pw) {
            tw[t] = src[0] & v;
            tv[t] = v;
          }
        }
      }
    }
    bs_table(tw, tv, s.tri, tbl);
    /* Z = in_c * (padded taps per lane), shared by all filters. */
    zp = 0;
    if (s.zero && zany) {
      uint32_t zc[BS_MAX_PLANES + 1];
      int32_t kk;
      bl_i_fill_words(zc, (size_t)np + 1, 0u);
      for (kk = 0; kk < g->k_h * g->k_w; kk++) bs_ripple(zc, 0, np, ~vt[kk]);
      bl_i_fill_words(z, (size_t)np, 0u);
      for (c = 0; c < 31; c++)
        if ((g->in_c >> c) & 1) bs_add(z, np, zc, np, c);
      zp = 1;
    }
    for (o = 0; o < g->out_c; o++) {
      int32_t k;
      sp[0] = 0;
      bs_count(tbl, off + (size_t)o * s.tri, s.tri, sp + 1, s.mplanes);
      if (zp) bs_add(sp, np, z, np, 0);
      if (!fout) {
        const int64_t kk = (int64_t)s.taps - (int64_t)p->out.threshold[o];
        const int flip = p->out.flip && ((p->out.flip[o >> 5] >> (o & 31)) & 1u);
        res[o] = bs_compare(sp, np, bs_compare_setup(kk, np, flip));
      } else {
        /* Float output: the planes of `per` channels form one 32x32 bit matrix; transposed,
         * lane b's word holds each of those channels' S in np consecutive bits. */
        uint32_t *mat = res + 32 * (size_t)(o / s.per);
        const int32_t j = o % s.per;
        for (k = 0; k < np; k++) mat[j * np + k] = sp[k];
        if (j == s.per - 1 || o == g->out_c - 1) bs_transpose32(mat);
      }
    }
    if (fout) {
      oh = (int32_t)(q0 / (size_t)s.wp);
      ow = (int32_t)(q0 % (size_t)s.wp);
      for (b = 0; b < 32 && oh < g->out_h; b++) {
        if (ow < g->out_w) {
          const size_t at = ((size_t)oh * (size_t)g->out_w + (size_t)ow) * (size_t)g->out_c;
          bs_emit_f32(&p->out, ma, res + b, np, s.per, (int32_t)s.taps, g->out_c,
                      p->out.residual ? p->out.residual + at : NULL, fout + at);
        }
        if (++ow == s.wp) {
          ow = 0;
          oh++;
        }
      }
    }
    if (!fout) {
      /* Channel words -> lane words, then each real lane's out_c bits in pixel order. */
      size_t ch;
      for (ch = 0; ch < s.res_words; ch += 32) bs_transpose32(res + ch);
      oh = (int32_t)(q0 / (size_t)s.wp);
      ow = (int32_t)(q0 % (size_t)s.wp);
      for (b = 0; b < 32 && oh < g->out_h; b++) {
        if (ow < g->out_w) {
          for (ch = 0; ch < s.res_words; ch += 32) {
            const size_t left = (size_t)g->out_c - ch;
            /* bits past out_c come from words the transpose did not clear */
            if (left < 32)
              bl_i_bw_putn(&bw, res[ch + (size_t)b] & ((1u << left) - 1u), (uint32_t)left);
            else
              bl_i_bw_putn(&bw, res[ch + (size_t)b], 32u);
          }
        }
        if (++ow == s.wp) {
          ow = 0;
          oh++;
        }
      }
    }
  }
  if (!fout) bl_i_bw_flush(&bw);
  return BL_OK;
}
