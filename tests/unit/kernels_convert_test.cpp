// Binarize-and-pack and unpack: the bit convention (LSB first, bit 1 = -1, sign(0) = +1),
// the per-channel affine form, zero spare bits, and the public popcount helpers.
#include <algorithm>

#include <gtest/gtest.h>

#include "unit/kernels_test_util.hpp"

using namespace bltest;

TEST(Pack, SignBitsLsbFirstZeroIsPlusOne) {
  const float x[5] = {1.f, -1.f, 0.f, -0.f, -3.5f};
  uint32_t out = 0xffffffffu;
  ASSERT_EQ(bl_pack_f32(5, 5, nullptr, nullptr, x, &out), BL_OK);
  EXPECT_EQ(out, 0x12u);  // elements 1 and 4 are negative; spare bits 0
}

TEST(Pack, MatchesPerElementDefinitionWithAffine) {
  Rng r(12);
  for (int t = 0; t < 500; t++) {
    const size_t n = size_t(uni(r, 1, 700));
    const int32_t c = uni(r, 1, 40);
    auto x = random_floats(r, n);
    auto mul = random_floats(r, size_t(c)), add = random_floats(r, size_t(c), -0.5f, 0.5f);
    const int mode = uni(r, 0, 3);
    const float *m = (mode & 1) ? mul.data() : nullptr;
    const float *a = (mode & 2) ? add.data() : nullptr;
    SCOPED_TRACE("n " + std::to_string(n) + " c " + std::to_string(c) + " mode " + std::to_string(mode));
    std::vector<uint32_t> out(BL_WORDS(n), 0xa5a5a5a5u);
    ASSERT_EQ(bl_pack_f32(n, c, m, a, x.data(), out.data()), BL_OK);
    for (size_t i = 0; i < n; i++) {
      float y = x[i] * (m ? m[i % size_t(c)] : 1.f);
      y = y + (a ? a[i % size_t(c)] : 0.f);
      BL_ASSERT_EQ(get_bit(out.data(), i), y < 0.f ? 1 : 0) << "element " << i;
    }
    if (n % 32) {
      ASSERT_EQ(out.back() >> (n % 32), 0u);
    }
  }
}

TEST(Unpack, RoundTripsThroughPack) {
  Rng r(13);
  for (int t = 0; t < 200; t++) {
    const size_t n = size_t(uni(r, 1, 500));
    const auto bits = random_bits(r, n);
    std::vector<float> f(n);
    ASSERT_EQ(bl_unpack_s1(n, bits.data(), f.data()), BL_OK);
    for (size_t i = 0; i < n; i++) ASSERT_EQ(f[i], get_bit(bits.data(), i) ? -1.f : 1.f);
    std::vector<uint32_t> back(bits.size());
    ASSERT_EQ(bl_pack_f32(n, 1, nullptr, nullptr, f.data(), back.data()), BL_OK);
    ASSERT_EQ(back, bits);
  }
}

TEST(Popcount, MatchesBitByBitCount) {
  Rng r(14);
  for (int t = 0; t < 2000; t++) {
    const uint32_t x = uint32_t(r());
    uint32_t n = 0;
    for (int b = 0; b < 32; b++) n += (x >> b) & 1u;
    ASSERT_EQ(bl_popcount32(x), n);
  }
  EXPECT_EQ(bl_popcount32(0u), 0u);
  EXPECT_EQ(bl_popcount32(0xffffffffu), 32u);
  for (int t = 0; t < 300; t++) {
    const size_t n = size_t(uni(r, 0, 100));
    std::vector<uint32_t> a(n), b(n);
    uint32_t expect = 0;
    for (size_t i = 0; i < n; i++) {
      a[i] = uint32_t(r());
      b[i] = coin(r, 0.1) ? a[i] : uint32_t(r());
      for (int k = 0; k < 32; k++) expect += ((a[i] ^ b[i]) >> k) & 1u;
    }
    ASSERT_EQ(bl_xor_popcount(a.data(), b.data(), n), expect) << "n " << n;
  }
}

// Packing the int8 form of a quantized tensor gives the bits packing its float levels gives:
// every int8 value, both offsets in use (STCustomDoReFa 0, DoReFa's 0..255 levels 128) and
// lengths that end inside a word.
TEST(PackS8, EqualsPackOfTheDequantizedLevels) {
  for (int32_t offset : {0, 1, 64, 128}) {
    for (size_t n : {size_t{1}, size_t{31}, size_t{32}, size_t{256}, size_t{300}}) {
      std::vector<int8_t> q(n);
      for (size_t i = 0; i < n; i++) q[i] = static_cast<int8_t>(static_cast<int>(i * 37 + n) % 256 - 128);
      if (offset + int(n) > 0 && n >= 1) q[0] = static_cast<int8_t>(-std::min(offset, 128));  // a level of exactly 0
      std::vector<float> f(n);
      const float levels = offset == 0 ? 128.0f : 255.0f;
      ASSERT_EQ(bl_dequantize_s8(n, levels, offset, q.data(), f.data()), BL_OK);
      std::vector<uint32_t> want(BL_WORDS(n), 0xdeadbeefu), got(BL_WORDS(n), 0x12345678u);
      ASSERT_EQ(bl_pack_f32(n, 1, nullptr, nullptr, f.data(), want.data()), BL_OK);
      ASSERT_EQ(bl_pack_s8(n, offset, q.data(), got.data()), BL_OK);
      ASSERT_EQ(got, want) << "offset " << offset << " n " << n;
      EXPECT_EQ(got[0] & 1u, 0u) << "the level 0 packs as +1";
    }
  }
  int8_t q = 0;
  uint32_t w = 0;
  EXPECT_EQ(bl_pack_s8(1, -1, &q, &w), BL_ERR_PARAM);
  EXPECT_EQ(bl_pack_s8(1, 129, &q, &w), BL_ERR_PARAM);
}
