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

std::string significant(double v, int digits) { return fmt::format("{:.{}g}", v, digits); }

std::string fixed(double v, int digits) { return fmt::format("{:.{}f}", v, digits); }

std::string percent(double fraction) { return fmt::format("{:.1f}%", fraction * 100.0); }

std::string scientific(double v) { return fmt::format("{:.3e}", v); }

std::string byte_size_text(int64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  return v < 10 ? fmt::format("{:.1f} {}", v, units[u]) : fmt::format("{:.0f} {}", v, units[u]);
}

std::string shape_tuple(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::string shape_batch(const std::vector<int64_t>& shape) {
  return shape.empty() ? std::string("(N)") : fmt::format("(N, {})", fmt::join(shape, ", "));
}

std::string shape_dims(const std::vector<int64_t>& shape) { return fmt::format("{}", fmt::join(shape, "x")); }

}  // namespace bitlens
