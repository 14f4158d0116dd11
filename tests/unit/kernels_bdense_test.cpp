// Binary dense: optimized == reference bit for bit, and the reference equals a dot product of
// ±1 values computed here.
#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

namespace {

struct DenseCase {
  int32_t n_in = 0, n_out = 0;
  std::vector<uint32_t> in, w;
  OutStage st;
  bl_bdense_params p{};
  std::string str() const {
    return "n_in " + std::to_string(n_in) + " n_out " + std::to_string(n_out) + " out " + st.desc;
  }
};

DenseCase make_case(Rng &r) {
  DenseCase c;
  c.n_in = coin(r, 0.3) ? 32 * uni(r, 1, 30) : uni(r, 1, 1000);
  c.n_out = uni(r, 1, 70);
  c.in = random_bits(r, size_t(c.n_in));
  const size_t wpo = BL_WORDS(size_t(c.n_in));
  for (int o = 0; o < c.n_out; o++) {
    auto f = random_bits(r, size_t(c.n_in));
    c.w.insert(c.w.end(), f.begin(), f.end());
  }
  EXPECT_EQ(c.w.size(), wpo * size_t(c.n_out));
  c.st.init(r, c.n_out, coin(r) ? BL_OUT_BITS : BL_OUT_F32, c.n_in, true);
  c.p.n_in = c.n_in;
  c.p.n_out = c.n_out;
  c.p.weights = c.w.data();
  c.p.out = c.st.o;
  return c;
}

std::vector<uint32_t> run(const DenseCase &c, bool ref) {
  std::vector<uint32_t> out(out_words(c.p.out.kind, size_t(c.n_out)), 0xa5a5a5a5u);
  EXPECT_EQ(bl_bdense_scratch_size(&c.p), 0u);
  EXPECT_EQ(ref ? bl_bdense_ref(&c.p, c.in.data(), out.data())
                : bl_bdense(&c.p, c.in.data(), out.data(), nullptr),
            BL_OK);
  return out;
}

}  // namespace

TEST(BDense, OptimizedMatchesReferenceOnRandomLayers) {
  Rng r(31337);
  for (int t = 0; t < 2000; t++) {
    const DenseCase c = make_case(r);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    const auto a = run(c, true), b = run(c, false);
    ASSERT_EQ(first_diff(a, b), -1);
  }
}

TEST(BDense, ReferenceEqualsPlusMinusOneDotProduct) {
  Rng r(4242);
  for (int t = 0; t < 500; t++) {
    DenseCase c = make_case(r);
    SCOPED_TRACE("case " + std::to_string(t) + ": " + c.str());
    const size_t wpo = BL_WORDS(size_t(c.n_in));
    const auto out = run(c, true);
    for (int o = 0; o < c.n_out; o++) {
      int32_t d = 0;
      for (int i = 0; i < c.n_in; i++) d += pm(c.in.data(), size_t(i)) * pm(c.w.data() + o * wpo, size_t(i));
      if (c.p.out.kind == BL_OUT_BITS)
        BL_ASSERT_EQ(get_bit(out.data(), size_t(o)), stage_int_bit(c.p.out, o, d)) << "output " << o;
      else
        BL_ASSERT_EQ(out[size_t(o)], f2u(stage_f32(c.p.out, o, float(d)))) << "output " << o;
    }
    if (c.p.out.kind == BL_OUT_BITS && c.n_out % 32) {
      ASSERT_EQ(out.back() >> (c.n_out % 32), 0u) << "spare output bits must be 0";
    }
  }
}

TEST(BDense, IgnoresSpareInputBits) {
  // Only the n_in real bits count, even if the caller's last input word carries garbage.
  Rng r(8);
  for (int t = 0; t < 200; t++) {
    DenseCase c = make_case(r);
    if (c.n_in % 32 == 0) continue;
    SCOPED_TRACE(c.str());
    const auto clean = run(c, false);
    c.in.back() |= ~((1u << (c.n_in % 32)) - 1u);
    ASSERT_EQ(first_diff(clean, run(c, false)), -1);
    ASSERT_EQ(first_diff(clean, run(c, true)), -1);
  }
}

TEST(BDense, RejectsBadParameters) {
  uint32_t w = 0, in = 0, out = 0;
  bl_bdense_params p{};
  p.n_in = 0; p.n_out = 1; p.weights = &w; p.out.kind = BL_OUT_F32;
  EXPECT_EQ(bl_bdense(&p, &in, &out, nullptr), BL_ERR_PARAM);
  p.n_in = 5;
  EXPECT_EQ(bl_bdense(&p, &in, &out, nullptr), BL_OK);
  EXPECT_EQ(bl_bdense(&p, nullptr, &out, nullptr), BL_ERR_PARAM);
  p.out.kind = BL_OUT_BITS;
  EXPECT_EQ(bl_bdense_ref(&p, &in, &out), BL_ERR_PARAM);
}
