// Golden-report tests: the text and JSON analyze reports of every bundled model are fixed in
// tests/golden/. Refresh on purpose with BITLENS_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bitlens/compiler.hpp"
#include "bitlens/report.hpp"

using namespace bitlens;

namespace {

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(BITLENS_SOURCE_DIR) + "/tests/golden/" + name;
  if (std::getenv("BITLENS_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  const std::string expected = read(path);
  ASSERT_FALSE(expected.empty()) << path << " is missing; run with BITLENS_UPDATE_GOLDEN=1";
  if (expected == actual) return;
  // Report the first differing line, readable.
  std::istringstream e(expected), a(actual);
  std::string le, la;
  int line = 1;
  while (std::getline(e, le) && std::getline(a, la) && le == la) ++line;
  FAIL() << name << " differs at line " << line << "\n  expected: " << le << "\n  actual:   " << la
         << "\n(refresh with BITLENS_UPDATE_GOLDEN=1 if the change is intended)";
}

}  // namespace

class GoldenReport : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenReport, TextAndJsonAreStable) {
  const std::string model = GetParam();
  CompileResult r = compile(load_model(std::string(BITLENS_MODELS_DIR) + "/" + model + ".h5"));
  check_golden(model + ".txt", text_report(r));
  check_golden(model + ".json", json_report(r).dump(2) + "\n");
}

INSTANTIATE_TEST_SUITE_P(Bundled, GoldenReport,
                         ::testing::Values("forum_1layer_padm1", "forum_1layer_pad0", "forum_1layer_padp1",
                                           "forum_2layer_padm1", "forum_2layer_pad0", "forum_2layer_padp1",
                                           "mnist_tutorial", "quicknet_style"));

TEST(GoldenReport, PadOverrideIsReported) {
  CompileOptions o;
  o.pad_values = 1.0f;
  CompileResult r = compile(load_model(std::string(BITLENS_MODELS_DIR) + "/forum_2layer_pad0.h5"), o);
  check_golden("forum_2layer_pad0_override_p1.txt", text_report(r));
}
