// The `bitlens` command line end to end: exit statuses, the one-line error format
// ("bitlens: error: FILE: what is wrong and what to do"), JSON output, and `run`.
#include <gtest/gtest.h>

#include "cli_test_util.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/wait.h>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

using cli_test::Result;

Result cli(const std::string& args) {
  const fs::path dir = fs::temp_directory_path() / ("bitlens_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return cli_test::run_cli(args, dir);
}

std::string model(const std::string& name) { return std::string(BITLENS_MODELS_DIR) + "/" + name; }

fs::path temp(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("bitlens_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

void expect_error(const Result& r, const std::string& file, const std::string& needle) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("bitlens: error: " + file + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
}

}  // namespace

TEST(Cli, VersionAndHelp) {
  auto v = cli("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out, std::string("bitlens ") + BITLENS_VERSION + "\n");
  auto h = cli("--help");
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("analyze"), std::string::npos);
  auto ha = cli("help analyze");
  EXPECT_EQ(ha.status, 0);
  EXPECT_NE(ha.out.find("--pad-values"), std::string::npos);
  EXPECT_EQ(cli("frobnicate").status, 2);
  auto opt = cli("--frobnicate");
  EXPECT_EQ(opt.status, 2);
  EXPECT_EQ(opt.err, "bitlens: error: unknown option --frobnicate (see 'bitlens --help')\n");
  EXPECT_EQ(cli("analyze").status, 2);
}

TEST(Cli, AnalyzeForumModelShowsBinaryKernels) {
  auto r = cli("analyze " + model("forum_2layer_padp1.h5"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("quant_conv2d_1 (QuantConv2D)"), std::string::npos);
  EXPECT_NE(r.out.find("PAD_ONE"), std::string::npos);
  EXPECT_EQ(r.out.find("float  "), std::string::npos) << "no float fallback expected";
}

TEST(Cli, PreferRamSwapsTheBitSlicedKernelForThePatchKernel) {
  auto fast = cli("analyze --json " + model("forum_2layer_pad0.h5"));
  auto lean = cli("analyze --json --prefer-ram " + model("forum_2layer_pad0.h5"));
  ASSERT_EQ(fast.status, 0) << fast.err;
  ASSERT_EQ(lean.status, 0) << lean.err;
  const auto a = json::parse(fast.out), b = json::parse(lean.out);
  std::set<std::string> ka, kb;
  for (const auto& l : a.at("layers")) ka.insert(l.value("kernel_function", ""));
  for (const auto& l : b.at("layers")) kb.insert(l.value("kernel_function", ""));
  EXPECT_TRUE(ka.count("bl_bconv2d_bitsliced")) << a.dump();
  EXPECT_FALSE(kb.count("bl_bconv2d_bitsliced"));
  EXPECT_TRUE(kb.count("bl_bconv2d"));
  EXPECT_LT(b.at("totals").at("ram_bytes").get<int64_t>(), a.at("totals").at("ram_bytes").get<int64_t>());
  EXPECT_NE(cli("help export").out.find("--prefer-ram"), std::string::npos);

  // compare --prefer-ram compiles every variant so: its saved column is analyze --prefer-ram's.
  auto cmp = cli("compare --json --samples 2 --pad-values 1 --prefer-ram " + model("forum_2layer_pad0.h5"));
  auto cmp_fast = cli("compare --json --samples 2 --pad-values 1 " + model("forum_2layer_pad0.h5"));
  ASSERT_EQ(cmp.status, 0) << cmp.err;
  ASSERT_EQ(cmp_fast.status, 0) << cmp_fast.err;
  const auto c = json::parse(cmp.out), cf = json::parse(cmp_fast.out);
  EXPECT_EQ(c.at("variants").at(0).at("activations_bytes"), b.at("totals").at("activations_bytes"));
  EXPECT_EQ(cf.at("variants").at(0).at("activations_bytes"), a.at("totals").at("activations_bytes"));
  EXPECT_LT(c.at("variants").at(1).at("activations_bytes").get<int64_t>(),
            cf.at("variants").at(1).at("activations_bytes").get<int64_t>());
}

TEST(Cli, AnalyzeJsonHasDocumentedFields) {
  auto r = cli("analyze --json --pad-values 0 " + model("mnist_tutorial.h5"));
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  for (const char* k : {"file", "name", "keras_version", "inputs", "outputs"}) EXPECT_TRUE(j["model"].contains(k)) << k;
  for (const char* k : {"macc", "rom_bytes", "activations_bytes", "ram_bytes", "ram_lower_bound_bytes", "op_types"})
    EXPECT_TRUE(j["totals"].contains(k)) << k;
  ASSERT_FALSE(j["layers"].empty());
  for (const auto& l : j["layers"])
    for (const char* k : {"name", "class_name", "kernel", "op_type", "input_format", "output_format", "output_shape",
                          "macc", "rom_bytes", "fused_into", "reasons"})
      EXPECT_TRUE(l.contains(k)) << k;
  EXPECT_EQ(j["overrides"]["pad_values"], 0.0);
}

TEST(Cli, UnusableFilesGiveOneLineErrors) {
  const fs::path text = temp("not_hdf5.h5");
  std::ofstream(text) << "this is not an HDF5 file\n";
  expect_error(cli("analyze " + text.string()), text.string(), "HDF5");

  const fs::path empty = temp("empty.h5");
  std::ofstream(empty).close();
  auto e = cli("analyze " + empty.string());
  EXPECT_EQ(e.status, 2);
  EXPECT_EQ(e.err.rfind("bitlens: error: " + empty.string() + ": ", 0), 0u) << e.err;

  const fs::path trunc = temp("truncated.h5");
  {
    std::ifstream in(model("mnist_tutorial.h5"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(trunc, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  auto t = cli("analyze " + trunc.string());
  EXPECT_EQ(t.status, 2);
  EXPECT_EQ(t.err.rfind("bitlens: error: " + trunc.string() + ": ", 0), 0u) << t.err;

  auto missing = cli("analyze /nonexistent/model.h5");
  EXPECT_EQ(missing.status, 2);
  EXPECT_EQ(missing.err.rfind("bitlens: error: /nonexistent/model.h5: ", 0), 0u) << missing.err;
}

TEST(Cli, WeightsOnlyFileIsExplained) {
  Model m = load_model(model("forum_1layer_pad0.h5"));
  H5WriteOptions o;
  o.weights_only = true;
  const fs::path w = temp("weights_only.h5");
  write_model_h5(m, w, o);
  auto r = cli("analyze " + w.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("weights only"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.save"), std::string::npos) << r.err;
}

TEST(Cli, UnknownLayerStillProducesAReport) {
  keras::ModelBuilder b("m");
  auto x = b.input({8, 8, 2});
  x = b.layer("LSTMish", {x}, json{{"name", "weird"}, {"trainable", true}}, {8, 8, 2});
  const fs::path f = temp("unknown_layer.h5");
  write_model_h5(b.build(), f);
  auto r = cli("analyze " + f.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("unsupported"), std::string::npos);
  EXPECT_NE(r.out.find("LSTMish"), std::string::npos);
}

// Every option's value is checked where the option is declared (CLI11): one line naming the
// command and the option, exit 2, nothing run.
TEST(Cli, OptionValuesAreCheckedWhereDeclared) {
  const std::string m = model("forum_1layer_pad0.h5");
  struct Bad {
    std::string args, command, option;
  };
  const std::vector<Bad> bad = {
      {"analyze " + m + " --width abc", "analyze", "--width"},
      {"analyze " + m + " --width", "analyze", "--width"},
      {"run " + m + " --random -1", "run", "--random"},
      {"run " + m + " --random 18446744073709551616", "run", "--random"},
      {"run " + m + " --random 1 --batch 0", "run", "--batch"},
      {"run " + m + " --random 1 --engine fast", "run", "--engine"},
      {"run " + m + " --random 1 --input x.npy", "run", "--input"},
      {"compare " + m + " --pad-values 1,x", "compare", "--pad-values"},
      {"compare " + m + " --pad-values 0,1 --samples 0", "compare", "--samples"},
      {"export " + m + " --board qemu-m4 --out x --vectors 1001", "export", "--vectors"},
      {"validate " + m + " --target qemu-m0", "validate", "--target"},
      {"validate " + m + " --batch 1001", "validate", "--batch"},
      {"analyze " + m + " --set conv2d", "analyze", "--set"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.args);
    const auto r = cli(b.args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.err.rfind("bitlens: error: " + b.command + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(b.option), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // Unknown options and a second MODEL keep their own wording.
  auto u = cli("analyze " + m + " --frobnicate");
  EXPECT_EQ(u.status, 2);
  EXPECT_EQ(u.err, "bitlens: error: analyze: unknown option --frobnicate (see 'bitlens help analyze')\n");
  auto two = cli("run " + m + " " + m + " --random 1");
  EXPECT_EQ(two.status, 2);
  EXPECT_NE(two.err.find("only one MODEL"), std::string::npos) << two.err;
  // Values that look like options are values: negative pad values and seeds at the limit.
  EXPECT_EQ(cli("analyze " + m + " --pad-values -1").status, 0);
  EXPECT_EQ(cli("run " + m + " --random 18446744073709551615").status, 0);
  // Help from the same declarations, for `help CMD` and `CMD --help`.
  for (const std::string h : {"help run", "run --help"}) {
    const auto r = cli(h);
    EXPECT_EQ(r.status, 0) << h;
    EXPECT_NE(r.out.find("bitlens run"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--engine"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Exit status"), std::string::npos) << r.out;
  }
}

TEST(Cli, BadOverridesAreRejected) {
  auto r = cli("analyze " + model("forum_1layer_pad0.h5") + " --set nolayer.pad_values=1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("nolayer"), std::string::npos) << r.err;
  auto p = cli("analyze " + model("forum_1layer_pad0.h5") + " --pad-values abc");
  EXPECT_EQ(p.status, 2);
}

TEST(Cli, RunBothEnginesAgreeThroughNpyFiles) {
  const fs::path in = temp("x.npy"), k = temp("yk.npy"), ref = temp("yr.npy");
  Array x;
  x.shape = {3, 28, 28, 1};
  for (int i = 0; i < 3 * 28 * 28; ++i) x.data.push_back(static_cast<float>((i * 37) % 101) / 50.0f - 1.0f);
  write_npy(in, x);
  auto a = cli("run " + model("mnist_tutorial.h5") + " --input " + in.string() + " --output " + k.string());
  ASSERT_EQ(a.status, 0) << a.err;
  auto b = cli("run " + model("mnist_tutorial.h5") + " --engine reference --input " + in.string() + " --output " + ref.string());
  ASSERT_EQ(b.status, 0) << b.err;
  const Array yk = read_npy(k), yr = read_npy(ref);
  ASSERT_EQ(yk.shape, (std::vector<int64_t>{3, 10}));
  ASSERT_EQ(yk.shape, yr.shape);
  for (size_t i = 0; i < yk.data.size(); ++i) EXPECT_NEAR(yk.data[i], yr.data[i], 1e-6);
}

TEST(Cli, RunRejectsWrongInputShape) {
  const fs::path in = temp("wrong.npy");
  Array x;
  x.shape = {1, 32, 32, 1};
  x.data.assign(32 * 32, 0.5f);
  write_npy(in, x);
  auto r = cli("run " + model("mnist_tutorial.h5") + " --input " + in.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("(N, 28, 28, 1)"), std::string::npos) << r.err;
  auto rnd = cli("run " + model("forum_1layer_pad0.h5") + " --random 3 --batch 2");
  EXPECT_EQ(rnd.status, 0) << rnd.err;
}

// Found by the 30-minute fuzzing run: a damaged global heap makes libhdf5 itself crash while
// reading a variable-length string; the loader's sandbox turns that into the usual error.
TEST(Cli, FileThatCrashesLibHdf5GivesAnError) {
  const std::string f = std::string(BITLENS_SOURCE_DIR) + "/tests/data/hdf5_global_heap_crash.h5";
  auto r = cli("analyze " + f);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err.rfind("bitlens: error: " + f + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
}
