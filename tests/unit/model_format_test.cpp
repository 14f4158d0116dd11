// core/util/format: the digit grouping and the three shape spellings every message uses.
#include <gtest/gtest.h>

#include <cstdint>
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
