// Whole-model tests: on every bundled example model (and every pad_values variant) the kernels
// engine — the exact kernels and arena an exported project uses — equals the reference
// interpreter.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "bitlens/compiler.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;

namespace {

std::string model_path(const std::string& name) { return std::string(BITLENS_MODELS_DIR) + "/" + name; }

// Largest |a - b| / (1 + |b|) over all elements.
double max_rel_diff(const Array& a, const Array& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a.data[i]) - b.data[i]) / (1.0 + std::fabs(b.data[i])));
  return m;
}

struct Case {
  std::string file;
  std::optional<float> pad;
  bool exact;  // integer-valued outputs: must match bit for bit
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string s = info.param.file.substr(0, info.param.file.find('.'));
  if (info.param.pad) s += *info.param.pad < 0 ? "_override_m1" : *info.param.pad > 0 ? "_override_p1" : "_override_0";
  return s;
}

}  // namespace

class BundledModel : public ::testing::TestWithParam<Case> {};

TEST_P(BundledModel, KernelsEngineEqualsReference) {
  const Case& c = GetParam();
  CompileOptions opt;
  opt.pad_values = c.pad;
  CompileResult r = compile(load_model(model_path(c.file)), opt);
  const int batch = c.file == "large_binary.h5" ? 1 : 4;
  const auto x = random_inputs(r, 20261125, batch);
  Executor ex(r);
  const auto got = ex.run(x);
  const auto want = reference_run(r.model, x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape, want[i].shape);
    if (c.exact) {
      for (size_t k = 0; k < got[i].data.size(); ++k)
        ASSERT_EQ(got[i].data[k], want[i].data[k]) << c.file << " output " << i << " element " << k;
    } else {
      EXPECT_LE(max_rel_diff(got[i], want[i]), 1e-5) << c.file << " output " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Examples, BundledModel,
    ::testing::Values(Case{"forum_1layer_padm1.h5", {}, true}, Case{"forum_1layer_pad0.h5", {}, true},
                      Case{"forum_1layer_padp1.h5", {}, true}, Case{"forum_2layer_padm1.h5", {}, true},
                      Case{"forum_2layer_pad0.h5", {}, true}, Case{"forum_2layer_padp1.h5", {}, true},
                      Case{"forum_2layer_pad0.h5", 1.0f, true}, Case{"forum_2layer_padp1.h5", 0.0f, true},
                      Case{"mnist_tutorial.h5", {}, false}, Case{"quicknet_style.h5", {}, false},
                      Case{"quicknet_style.h5", 0.0f, false}, Case{"quicknet_style.h5", -1.0f, false},
                      Case{"large_binary.h5", {}, false}),
    case_name);

TEST(Executor, RejectsWrongInputShapeWithExpectedShape) {
  CompileResult r = compile(load_model(model_path("forum_1layer_pad0.h5")));
  Array bad;
  bad.shape = {1, 28, 28, 1};
  bad.data.assign(28 * 28, 0.0f);
  Executor ex(r);
  try {
    ex.run({bad});
    FAIL() << "no error";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("(N, 32, 32, 1)"), std::string::npos) << e.what();
  }
}
