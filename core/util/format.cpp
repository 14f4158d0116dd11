#include "bitlens/format.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <locale>

namespace bitlens {
namespace {

// Digit groups of three with ',' whatever the process locale is.
struct CommaGroups : std::numpunct<char> {
  char do_thousands_sep() const override { return ','; }
  std::string do_grouping() const override { return "\3"; }
};

const std::locale& comma_locale() {
  static const std::locale loc(std::locale::classic(), new CommaGroups);
  return loc;
}

}  // namespace

std::string with_commas(int64_t v) { return fmt::format(comma_locale(), "{:L}", v); }

std::string short_number(double v) { return fmt::format("{:g}", v); }

std::string shape_tuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::string shape_batch(const std::vector<int64_t>& shape) {
  return shape.empty() ? std::string("(N)") : fmt::format("(N, {})", fmt::join(shape, ", "));
}

std::string shape_dims(const std::vector<int64_t>& shape) { return fmt::format("{}", fmt::join(shape, "x")); }

}  // namespace bitlens
