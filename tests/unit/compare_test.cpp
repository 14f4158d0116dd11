// `compare` and `variant`: variants side by side with agreement figures checked against values
// computed independently here (reference interpreter), the valid-padding note, the first
// divergence, and the variant writer's round trip (config changed, weights byte-identical).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "bitlens/compare.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/report.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

std::string model(const std::string& n) { return std::string(BITLENS_MODELS_DIR) + "/" + n; }

std::vector<VariantSpec> pad_variants(const std::string& file) {
  std::vector<VariantSpec> v{{"saved", file, {}}};
  for (float p : {-1.0f, 0.0f, 1.0f}) {
    VariantSpec s{"pad", file, {}};
    s.options.pad_values = p;
    v.push_back(s);
  }
  return v;
}

}  // namespace

TEST(Compare, ForumModelsAllVariantsBinaryWithIndependentAgreement) {
  for (const char* f : {"forum_1layer_pad0.h5", "forum_2layer_pad0.h5"}) {
    SCOPED_TRACE(f);
    CompareOptions o;
    o.seed = 5;
    o.samples = 8;
    const auto specs = pad_variants(model(f));
    const CompareResult r = compare_variants(specs, o);
    ASSERT_EQ(r.variants.size(), 4u);
    for (const auto& l : r.layers) {
      if (l.name != "quant_conv2d" && l.name != "quant_conv2d_1") continue;
      for (const auto& k : l.kernel) EXPECT_EQ(k, KernelClass::Binary) << l.name;
    }
    // Independent figures: the reference interpreter on the overridden models.
    Model base = load_model(model(f));
    CompileResult c0 = compile(base);
    const auto x = random_inputs(c0, 5, 8);
    const Array y0 = reference_run(base, x)[0];
    for (size_t i = 0; i < specs.size(); ++i) {
      Model m = base;
      apply_overrides(m, specs[i].options);
      const Array y = reference_run(m, x)[0];
      double max_abs = 0, sum = 0, dot = 0, na = 0, nb = 0;
      for (size_t k = 0; k < y.data.size(); ++k) {
        const double d = std::fabs(static_cast<double>(y0.data[k]) - y.data[k]);
        max_abs = std::max(max_abs, d);
        sum += d;
        dot += static_cast<double>(y0.data[k]) * y.data[k];
        na += static_cast<double>(y0.data[k]) * y0.data[k];
        nb += static_cast<double>(y.data[k]) * y.data[k];
      }
      const auto& a = r.variants[i].agreement;
      ASSERT_TRUE(a.available) << a.why_not;
      EXPECT_DOUBLE_EQ(a.max_abs, max_abs);
      EXPECT_NEAR(a.mean_abs, sum / static_cast<double>(y.data.size()), 1e-9);
      EXPECT_NEAR(a.cosine, dot / std::sqrt(na * nb), 1e-9);
      EXPECT_EQ(r.variants[i].totals.macc, r.variants[0].totals.macc);
    }
    // The saved model has pad_values=0: variant C (pad 0) equals it, B and D differ.
    EXPECT_EQ(r.variants[2].agreement.max_abs, 0.0);
    EXPECT_GT(r.variants[1].agreement.max_abs, 0.0);
    EXPECT_EQ(r.variants[1].first_divergence, "quant_conv2d");
  }
}

TEST(Compare, ValidPaddingMakesPadValuesIrrelevant) {
  CompareOptions o;
  o.samples = 6;
  const CompareResult r = compare_variants(pad_variants(model("mnist_tutorial.h5")), o);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("no effect"), std::string::npos);
  for (const auto& v : r.variants) {
    ASSERT_TRUE(v.agreement.available);
    EXPECT_EQ(v.agreement.max_abs, 0.0);
    ASSERT_TRUE(v.agreement.top1.has_value());
    EXPECT_EQ(*v.agreement.top1, 1.0);
    EXPECT_TRUE(v.first_divergence.empty());
  }
  EXPECT_NE(compare_text(r).find("no effect"), std::string::npos);
}

TEST(Compare, QuickNetDivergesFirstAtFirstSamePaddedBinaryLayer) {
  CompareOptions o;
  o.samples = 4;
  std::vector<VariantSpec> specs{{"saved", model("quicknet_style.h5"), {}}, {"pad0", model("quicknet_style.h5"), {}}};
  specs[1].options.pad_values = 0.0f;
  const CompareResult r = compare_variants(specs, o);
  EXPECT_EQ(r.variants[1].first_divergence, "quant_conv2d");
  ASSERT_TRUE(r.variants[1].agreement.top1.has_value());
  bool stem_equal = false;
  for (const auto& l : r.layers)
    if (l.name == "conv2d") stem_equal = l.diff_fraction[1] && *l.diff_fraction[1] == 0.0;
  EXPECT_TRUE(stem_equal) << "the float stem before the first same-padded binary layer must not differ";
}

TEST(Compare, SeparateFilesMatchLayersByName) {
  CompareOptions o;
  o.samples = 2;
  const CompareResult r = compare_variants(
      {{"one", model("forum_1layer_padp1.h5"), {}}, {"two", model("forum_2layer_padp1.h5"), {}}}, o);
  bool absent = false;
  for (const auto& l : r.layers)
    if (l.name == "quant_conv2d_1") absent = !l.kernel[0].has_value() && l.kernel[1].has_value();
  EXPECT_TRUE(absent) << "a layer only the second file has is listed as absent in the first";
  const json j = compare_json(r);
  EXPECT_EQ(j["variants"].size(), 2u);
}

TEST(Variant, RoundTripEqualsOverrideAndKeepsWeights) {
  const fs::path out = fs::temp_directory_path() / ("bitlens_variant_" + std::to_string(::getpid()) + ".h5");
  fs::remove(out);
  const std::string cmd = std::string(BITLENS_CLI) + " variant " + model("forum_2layer_pad0.h5") +
                          " --pad-values 1 -o " + out.string() + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_NE(std::system((cmd + " 2>/dev/null").c_str()), 0) << "must refuse to overwrite without --force";
  EXPECT_EQ(std::system((std::string(BITLENS_CLI) + " variant " + model("forum_2layer_pad0.h5") +
                         " --pad-values 1 --force -o " + out.string() + " > /dev/null").c_str()),
            0);

  CompileOptions o;
  o.pad_values = 1.0f;
  json a = json_report(compile(load_model(model("forum_2layer_pad0.h5")), o));
  json b = json_report(compile(load_model(out)));
  a.erase("overrides");
  b.erase("overrides");
  a["model"].erase("file");
  b["model"].erase("file");
  EXPECT_EQ(a, b);

  const Model m0 = load_model(model("forum_2layer_pad0.h5")), m1 = load_model(out);
  ASSERT_EQ(m0.layers.size(), m1.layers.size());
  for (size_t i = 0; i < m0.layers.size(); ++i) {
    ASSERT_EQ(m0.layers[i].weights.size(), m1.layers[i].weights.size());
    for (const auto& [k, w] : m0.layers[i].weights) {
      const Array& w1 = m1.layers[i].weights.at(k);
      ASSERT_EQ(w.shape, w1.shape);
      EXPECT_EQ(std::memcmp(w.data.data(), w1.data.data(), w.data.size() * 4), 0) << m0.layers[i].name << "/" << k;
    }
    if (m1.layers[i].class_name == "QuantConv2D") {
      EXPECT_EQ(m1.layers[i].config["pad_values"], 1.0);
    }
  }
  fs::remove(out);
}

TEST(Compare, BoardFitAndInstructionEstimateTrackMeasuredFirmware) {
  // Measured with `bitlens validate --target qemu-m4` (docs/performance.md).
  const std::pair<const char*, double> measured[] = {{"forum_2layer_pad0.h5", 3911197}, {"mnist_tutorial.h5", 3385796}};
  for (const auto& [file, instr] : measured) {
    const double est = static_cast<double>(estimate_instructions(compile(load_model(model(file)))));
    EXPECT_GT(est, 0.6 * instr) << file << " estimate " << est;
    EXPECT_LT(est, 1.4 * instr) << file << " estimate " << est;
  }
  CompareOptions o;
  o.samples = 2;
  o.board = "NUCLEO-L476RG";
  const CompareResult r = compare_variants(pad_variants(model("forum_2layer_pad0.h5")), o);
  for (const auto& v : r.variants) {
    ASSERT_TRUE(v.fit.has_value());
    EXPECT_TRUE(v.fit->fits());
    EXPECT_GT(v.est_instructions, 0);
  }
  EXPECT_NE(compare_text(r).find("fits NUCLEO-L476RG"), std::string::npos);
  EXPECT_TRUE(compare_json(r)["variants"][0]["fit"].is_object());
}
