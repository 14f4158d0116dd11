// `bitlens variant` end to end: the written file loads, analyze sees the new pad_values, the
// source's keras_version survives, and a container change is refused in one line.
#include <gtest/gtest.h>

#include "cli_test_util.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

using cli_test::Result;

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("bitlens_cli_variant_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

Result cli(const std::string& args) { return cli_test::run_cli(args, temp_dir()); }

Model two_conv_model() {
  keras::ModelBuilder b("cli_variant", keras::Style::functional, 5);
  auto x = b.input({8, 8, 1});
  auto c = b.quant_conv2d(x, {.filters = 4, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  c = b.quant_conv2d(c, {.filters = 4, .padding = "same", .use_bias = false,
                         .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = 1.0});
  b.flatten(c);
  return b.build();
}

// Reason codes analyze --json gives each QuantConv2D layer.
std::map<std::string, std::set<std::string>> conv_reasons(const std::string& file) {
  Result r = cli("analyze " + file + " --json");
  EXPECT_EQ(r.status, 0) << r.err;
  std::map<std::string, std::set<std::string>> out;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.out;
  if (!j.is_object()) return out;
  for (const auto& l : j["layers"])
    if (l.value("class_name", "") == "QuantConv2D")
      for (const auto& reason : l["reasons"]) out[l["layer"].get<std::string>()].insert(reason["code"].get<std::string>());
  return out;
}

}  // namespace

TEST(CliVariant, VariantLoadsAndAnalyzeReportsTheNewPadValues) {
  const fs::path dir = temp_dir();
  const fs::path src = dir / "src.h5", out = dir / "pad0.h5", one = dir / "one.h5";
  fs::remove(out);
  fs::remove(one);
  H5WriteOptions o;
  o.keras_version = "2.13.1";
  write_model_h5(two_conv_model(), src, o);

  // The source runs with pad_values=1: PAD_ONE, not PAD_ZERO_EXACT.
  auto before = conv_reasons(src.string());
  ASSERT_EQ(before.size(), 2u);
  for (const auto& [layer, codes] : before) EXPECT_FALSE(codes.count("PAD_ZERO_EXACT")) << layer;

  Result r = cli("variant " + src.string() + " --pad-values 0 -o " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "wrote " + out.string() + "\n");
  auto after = conv_reasons(out.string());
  ASSERT_EQ(after.size(), 2u);
  for (const auto& [layer, codes] : after) EXPECT_TRUE(codes.count("PAD_ZERO_EXACT")) << layer;

  Model m = load_model(out);
  EXPECT_EQ(m.keras_version, "2.13.1") << "the variant keeps the source's keras_version";
  EXPECT_EQ(m.find("quant_conv2d")->config["pad_values"], 0.0);
  EXPECT_EQ(m.find("quant_conv2d_1")->config["pad_values"], 0.0);

  // --set changes one layer only.
  r = cli("variant " + src.string() + " --set quant_conv2d_1.pad_values=0 -o " + one.string());
  ASSERT_EQ(r.status, 0) << r.err;
  Model m1 = load_model(one);
  EXPECT_EQ(m1.find("quant_conv2d")->config["pad_values"], 1.0);
  EXPECT_EQ(m1.find("quant_conv2d_1")->config["pad_values"], 0.0);
  fs::remove_all(dir);
}

TEST(CliVariant, RefusesAKerasSourceWithAnH5Output) {
  const fs::path dir = temp_dir();
  const fs::path src = dir / "src.keras", out = dir / "out.h5";
  fs::remove(out);
  write_model_keras(two_conv_model(), src);
  Result r = cli("variant " + src.string() + " --pad-values 0 -o " + out.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("bitlens: error: " + out.string() + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(src.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".keras"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
  // With the right extension it works.
  r = cli("variant " + src.string() + " --pad-values 0 -o " + (dir / "out.keras").string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(load_model(dir / "out.keras").find("quant_conv2d")->config["pad_values"], 0.0);
  fs::remove_all(dir);
}
