// Limits before allocation: models whose tensors, arena, batch or work exceed the host limits
// are reported by analyze (HOST_LIMIT) and refused by run/compare/validate/export with one
// line naming the layer, the size and the limit (exit 2) — never std::bad_alloc, an abort or a
// hang; config integers that would overflow the shape arithmetic are refused while reading.
#include <gtest/gtest.h>

#include "cli_test_util.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

#include "bitlens/compiler.hpp"
#include "bitlens/format.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/model.hpp"
#include "bitlens/runtime.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

using cli_test::Result;

fs::path scratch_dir() {
  static const fs::path dir = [] {
    std::string t = (fs::temp_directory_path() / "bitlens_limits_XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    return fs::path(t);
  }();
  return dir;
}

Result cli(const std::string& args, const std::string& env = "") {
  return cli_test::run_cli(args, scratch_dir(), env);
}

void expect_refused(const Result& r, const std::string& file, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("bitlens: error: " + file + ": ", 0), 0u) << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "'" << n << "' in: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

// The first case: a 4096x4096x3 input into a 4096-filter 3x3 "same" convolution
// (output 4096x4096x4096 f32 = 256 GiB per sample). The file itself is small.
fs::path huge_conv_model() {
  const fs::path f = scratch_dir() / "huge_conv.h5";
  if (fs::exists(f)) return f;
  keras::ModelBuilder b("huge_conv");
  auto x = b.input({4096, 4096, 3});
  x = b.quant_conv2d(x, {.filters = 4096, .padding = "same", .use_bias = false, .input_quantizer = "",
                         .kernel_quantizer = "ste_sign", .pad_values = 0.0, .name = "wide"});
  write_model_h5(b.build(), f);
  return f;
}

// The second: ZeroPadding2D of 60,000 on every side of a small image.
fs::path huge_padding_model() {
  const fs::path f = scratch_dir() / "huge_pad.h5";
  if (fs::exists(f)) return f;
  keras::ModelBuilder b("huge_pad");
  auto x = b.input({28, 28, 3});
  x = b.zero_padding2d(x, {{{60000, 60000}, {60000, 60000}}}, "pad");
  x = b.conv2d(x, {.filters = 2, .name = "after"});
  write_model_h5(b.build(), f);
  return f;
}

// A small model whose conv layer 'edited' gets the config values `edits` in the file (as a
// hostile or hand-edited file would have them).
fs::path edited_model(const std::string& name, const json& edits) {
  keras::ModelBuilder b(name);
  auto x = b.input({16, 16, 2});
  x = b.conv2d(x, {.filters = 2, .padding = "same", .name = "edited"});
  Model m = b.build();
  for (const auto& [key, value] : edits.items()) m.find("edited")->config[key] = value;
  const fs::path f = scratch_dir() / (name + ".h5");
  write_model_h5(m, f);
  return f;
}

}  // namespace

TEST(HostLimits, AnalyzeReportsTooLargeLayerAndStillSucceeds) {
  const fs::path f = huge_conv_model();
  const Result r = cli("analyze " + f.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("HOST_LIMIT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4096x4096x4096"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("256 GiB"), std::string::npos) << r.out;

  // The board check says it does not fit a microcontroller either.
  const Result b = cli("analyze " + f.string() + " --board qemu-m4");
  EXPECT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("the model does NOT fit"), std::string::npos) << b.out;
}

TEST(HostLimits, RunRefusesHugeConvolutionWithOneLine) {
  const fs::path f = huge_conv_model();
  for (const char* engine : {"kernels", "reference"})
    expect_refused(cli("run " + f.string() + " --random 0 --engine " + engine), f.string(),
                   {"layer 'wide' (QuantConv2D)", "4096x4096x4096 f32", "256 GiB", "host limit of 2.0 GiB"});
}

TEST(HostLimits, RunRefusesHugeZeroPadding) {
  const fs::path f = huge_padding_model();
  expect_refused(cli("run " + f.string() + " --random 0"), f.string(),
                 {"layer 'pad' (ZeroPadding2D)", "120028x120028x3 f32", "GiB", "host limit"});
}

TEST(HostLimits, CompareValidateAndExportRefuseWithoutWriting) {
  const fs::path f = huge_conv_model();
  expect_refused(cli("compare " + f.string() + " --pad-values 0,1"), f.string(), {"layer 'wide'", "256 GiB"});
  expect_refused(cli("validate " + f.string()), f.string(), {"layer 'wide'", "256 GiB"});
  const fs::path out = scratch_dir() / "export_out";
  expect_refused(cli("export " + f.string() + " --board qemu-m4 --out " + out.string()), f.string(),
                 {"layer 'wide'", "256 GiB"});
  EXPECT_FALSE(fs::exists(out)) << "nothing may be written for a refused model";
}

TEST(HostLimits, BatchAndWorkLimitsNameTheirSizes) {
  Model m = load_model(std::string(BITLENS_MODELS_DIR) + "/forum_2layer_pad0.h5");
  const CompileResult c = compile(std::move(m));
  EXPECT_FALSE(host_limit_violation(c, 64, RunKind::Compare).has_value());

  HostLimits tight;
  tight.max_batch_bytes = 6 << 20;  // inputs + outputs of 64 samples: 4.3 MiB; every layer: 8.4 MiB
  const auto batch = host_limit_violation(c, 64, RunKind::Compare, tight);
  ASSERT_TRUE(batch.has_value());
  EXPECT_NE(batch->find("64 samples need"), std::string::npos) << *batch;
  EXPECT_NE(batch->find("host limit of 6.0 MiB"), std::string::npos) << *batch;
  // The kernels engine holds only inputs and outputs: the same batch fits.
  EXPECT_FALSE(host_limit_violation(c, 64, RunKind::Kernels, tight).has_value());

  HostLimits slow;
  slow.max_run_macc = c.totals.macc * 10;
  EXPECT_FALSE(host_limit_violation(c, 10, RunKind::Kernels, slow).has_value());
  const auto work = host_limit_violation(c, 11, RunKind::Kernels, slow);
  ASSERT_TRUE(work.has_value());
  EXPECT_NE(work->find("multiply-accumulates"), std::string::npos) << *work;
  EXPECT_NE(work->find("layer 'quant_conv2d_1'"), std::string::npos) << *work;

  // The executor refuses before allocating its arena.
  const fs::path f = huge_conv_model();
  const CompileResult big = compile(load_model(f));
  EXPECT_THROW(Executor{big}, ModelError);
}

TEST(HostLimits, LargeWindowsAreComputedIn64Bits) {
  // A 3x3 kernel dilated by 65536 ("same": every tap but the centre reads padding) is a valid
  // Keras model; its extent used to be computed in int.
  const fs::path dil = edited_model("dilated", {{"dilation_rate", {65536, 65536}}});
  const Result d = cli("analyze " + dil.string());
  EXPECT_EQ(d.status, 0) << d.err;

  // A 65536x65536 max-pool window: kh * kw overflowed int in the MACC.
  keras::ModelBuilder b("window");
  auto x = b.input({16, 16, 2});
  b.max_pool2d(x, {.pool_size = {65536, 65536}, .strides = std::array<int, 2>{65536, 65536}, .padding = "same", .name = "pool"});
  const fs::path f = scratch_dir() / "window.h5";
  write_model_h5(b.build(), f);
  const Result r = cli("analyze --json " + f.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  int64_t macc = -1;
  for (const auto& l : j["layers"])
    if (l["name"] == "pool") macc = l["macc"].get<int64_t>();
  EXPECT_EQ(macc, int64_t{65536} * 65536 * 2);  // one 1x1x2 output, each over the whole window

  const fs::path filters = edited_model("filters", {{"filters", int64_t{1} << 40}});
  expect_refused(cli("analyze " + filters.string()), filters.string(),
                 {"layer 'edited' (Conv2D)", "'filters' is 1099511627776", "16777216"});
  const fs::path frac = edited_model("fraction", {{"strides", {1.5, 1}}});
  expect_refused(cli("analyze " + frac.string()), frac.string(), {"layer 'edited' (Conv2D)", "strides"});
}

// validate used to build in /tmp/bitlens-validate-<pid>, removing and then compiling and
// running whatever was there: now a fresh mkdtemp directory under $TMPDIR, removed afterwards.
TEST(PrivateFiles, ValidateBuildsInAFreshTemporaryDirectory) {
  const fs::path tmp = scratch_dir() / "tmpdir";
  fs::create_directories(tmp);
  // Planted under every name the old scheme could pick next.
  for (int pid = 1; pid < 40; ++pid) {
    const fs::path planted = tmp / ("bitlens-validate-" + std::to_string(::getpid() + pid));
    fs::create_directories(planted);
    std::ofstream(planted / "main.c") << "#error planted\n";
  }
  const std::string m = std::string(BITLENS_MODELS_DIR) + "/forum_1layer_pad0.h5";
  const Result r = cli("validate " + m + " --target host", "TMPDIR=" + tmp.string());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  int left = 0;
  for (const auto& e : fs::directory_iterator(tmp)) {
    ++left;
    EXPECT_TRUE(fs::exists(e.path() / "main.c")) << "only the planted directories remain: " << e.path();
    std::ifstream in(e.path() / "main.c");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(text, "#error planted\n") << "untouched: " << e.path();
  }
  EXPECT_EQ(left, 39);
}

TEST(HostLimits, ByteSizesAreReadable) {
  EXPECT_EQ(byte_size_text(640), "640 B");
  EXPECT_EQ(byte_size_text(int64_t{2} << 30), "2.0 GiB");
  EXPECT_EQ(byte_size_text(int64_t{256} << 30), "256 GiB");
  EXPECT_EQ(byte_size_text(1536), "1.5 KiB");
}
