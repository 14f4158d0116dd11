// core/util/format: the digit grouping and the three shape spellings every message uses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <locale>

#include "bitlens/format.hpp"

namespace bitlens {
namespace {

TEST(Format, WithCommasGroupsThreeDigits) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(1234567), "1,234,567");
  EXPECT_EQ(with_commas(-1234), "-1,234");
  EXPECT_EQ(with_commas(-999), "-999");
  EXPECT_EQ(with_commas(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
  EXPECT_EQ(with_commas(std::numeric_limits<int64_t>::max()), "9,223,372,036,854,775,807");
}

TEST(Format, WithCommasIgnoresTheProcessLocale) {
  // The GUI sets the user's locale (Qt calls setlocale); reports must not change with it.
  const std::locale before = std::locale::global(std::locale::classic());
  struct Dots : std::numpunct<char> {
    char do_thousands_sep() const override { return '.'; }
    std::string do_grouping() const override { return "\2"; }
  };
  std::locale::global(std::locale(std::locale::classic(), new Dots));
  const std::string s = with_commas(1234567);
  std::locale::global(before);
  EXPECT_EQ(s, "1,234,567");
}

TEST(Format, ShapeSpellings) {
  EXPECT_EQ(shape_tuple({}), "()");
  EXPECT_EQ(shape_tuple({5}), "(5,)");
  EXPECT_EQ(shape_tuple({3, 3, 1, 32}), "(3, 3, 1, 32)");
  EXPECT_EQ(shape_batch({}), "(N)");
  EXPECT_EQ(shape_batch({28, 28, 1}), "(N, 28, 28, 1)");
  EXPECT_EQ(shape_dims({}), "");
  EXPECT_EQ(shape_dims({7}), "7");
  EXPECT_EQ(shape_dims({26, 26, 32}), "26x26x32");
}

}  // namespace
}  // namespace bitlens

using namespace bitlens;

TEST(Format, NumberSpellings) {
  EXPECT_EQ(short_number(0.5), "0.5");
  EXPECT_EQ(short_number(-1.0), "-1");
  EXPECT_EQ(short_number(1e-7), "1e-07");
  EXPECT_EQ(significant(1234567.0, 3), "1.23e+06");
  EXPECT_EQ(significant(0.00123456, 3), "0.00123");
  EXPECT_EQ(fixed(1.0 / 3.0, 3), "0.333");
  EXPECT_EQ(fixed(-0.0, 0), "-0");
  EXPECT_EQ(percent(0.0612), "6.1%");
  EXPECT_EQ(scientific(1.23456e-5), "1.235e-05");
  EXPECT_EQ(byte_size_text(640), "640 B");
  EXPECT_EQ(byte_size_text(1536), "1.5 KiB");
  EXPECT_EQ(byte_size_text(int64_t{64} << 20), "64 MiB");
  EXPECT_EQ(byte_size_text(int64_t{2} << 30), "2.0 GiB");
}

// The reports were written with printf before {fmt}; the spellings must not have moved by a
// digit anywhere (golden reports compare bytes), so the two are compared on many values.
TEST(Format, NumberSpellingsEqualPrintf) {
  uint64_t s = 88172645463325252ull;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  char buf[64];
  for (int i = 0; i < 20000; ++i) {
    const double mant = static_cast<double>(next() % 2000001) / 1000.0 - 1000.0;
    const double v = std::ldexp(mant, static_cast<int>(next() % 60) - 40);
    const int d = static_cast<int>(next() % 7);
    std::snprintf(buf, sizeof buf, "%.*f", d, v);
    ASSERT_EQ(fixed(v, d), buf) << v;
    std::snprintf(buf, sizeof buf, "%g", v);
    ASSERT_EQ(short_number(v), buf) << v;
    std::snprintf(buf, sizeof buf, "%.3g", v);
    ASSERT_EQ(significant(v, 3), buf) << v;
    std::snprintf(buf, sizeof buf, "%.3e", v);
    ASSERT_EQ(scientific(v), buf) << v;
    std::snprintf(buf, sizeof buf, "%.1f%%", v * 100.0);
    ASSERT_EQ(percent(v), buf) << v;
  }
}
