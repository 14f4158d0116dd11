// The pipeline (core/passes/pipeline.cpp) runs one pass per file in a listed order, and its IR
// dump after any pass is deterministic and shows what that pass did: the test reads the dumps
// of real models pass by pass, the way `bitlens analyze --dump-ir=PASS` prints them.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "bitlens/compiler.hpp"
#include "bitlens/model.hpp"
#include "cli_test_util.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = BITLENS_MODELS_DIR;

struct Dumps {
  std::vector<std::string> order;
  std::map<std::string, std::string> text;
};

Dumps dumps(const fs::path& file) {
  Dumps d;
  const CompileResult r = compile(load_model(file), {}, [&](const std::string& pass, const CompileResult& c) {
    d.order.push_back(pass);
    d.text[pass] = dump_ir(c);
  });
  EXPECT_EQ(d.text.at("limits"), dump_ir(r)) << "the last pass's dump is the compiled result";
  return d;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST(Pipeline, PassesRunInTheListedOrder) {
  const Dumps d = dumps(kModels / "forum_2layer_pad0.h5");
  std::vector<std::string> listed;
  for (const auto& p : pipeline()) listed.push_back(p.name);
  EXPECT_EQ(d.order, listed);
  EXPECT_EQ(listed.front(), "import");
  EXPECT_EQ(listed.back(), "limits");
}

TEST(Pipeline, EachDumpShowsWhatItsPassDid) {
  {
    const Dumps d = dumps(kModels / "forum_2layer_pad0.h5");
    // select inserts the pack step in front of the first binary conv; nothing before it does.
    EXPECT_FALSE(has(d.text.at("fold"), "'quant_conv2d/pack' pack"));
    EXPECT_TRUE(has(d.text.at("select"), "node 3 'quant_conv2d/pack' pack: (%0:f32(32, 32, 1)) -> (%3:s1(32, 32, 1))"));
    EXPECT_TRUE(has(d.text.at("select"), "decision: binary bl_bconv2d_bitsliced sxor_s1_s1"));
    EXPECT_FALSE(has(d.text.at("fold"), "bl_bconv2d"));
    // Costs appear with the cost pass, the schedule with the schedule pass, buffers with memory.
    EXPECT_FALSE(has(d.text.at("lower"), "costs: macc"));
    EXPECT_TRUE(has(d.text.at("costs"), "costs: macc"));
    EXPECT_FALSE(has(d.text.at("costs"), "schedule:"));
    EXPECT_TRUE(has(d.text.at("schedule"), "schedule: 3 1 2\n"));
    EXPECT_FALSE(has(d.text.at("schedule"), "arena:"));
    EXPECT_TRUE(has(d.text.at("memory"), "arena:"));
  }
  {
    const Dumps d = dumps(kModels / "mnist_tutorial.h5");
    // fold removes the BatchNorm after the first conv into its output stage ...
    EXPECT_TRUE(has(d.text.at("import"), "node 3 'batch_normalization' batch_norm [BatchNormalization]: "));
    EXPECT_TRUE(has(d.text.at("fold"), "node 3 'batch_normalization' batch_norm [BatchNormalization] removed: "));
    EXPECT_TRUE(has(d.text.at("fold"), "decision: fused into 'quant_conv2d'"));
    // ... and lower turns the bit-output stage of the second conv into integer thresholds.
    const std::string conv1 = "node 4 'quant_conv2d_1'";
    auto stage = [&](const std::string& pass) {
      const std::string& t = d.text.at(pass);
      const size_t at = t.find(conv1);
      return t.substr(at, t.find("\nnode ", at + 1) - at);
    };
    EXPECT_FALSE(has(stage("select"), "threshold ["));
    EXPECT_TRUE(has(stage("lower"), "threshold [64 x32, fnv "));
    EXPECT_TRUE(has(stage("lower"), "weight_bits [576 x32, fnv "));
  }
}

TEST(Pipeline, DumpsAreDeterministicAcrossRunsAndFiles) {
  // The same model compiled twice, and from a copy under another path, dumps the same text.
  const fs::path dir = fs::path(::testing::TempDir()) / "pipeline_dump";
  fs::create_directories(dir);
  fs::copy_file(kModels / "quicknet_style.h5", dir / "copy.h5", fs::copy_options::overwrite_existing);
  const Dumps a = dumps(kModels / "quicknet_style.h5");
  const Dumps b = dumps(kModels / "quicknet_style.h5");
  const Dumps c = dumps(dir / "copy.h5");
  for (const auto& [pass, text] : a.text) {
    EXPECT_EQ(text, b.text.at(pass)) << pass;
    EXPECT_EQ(text, c.text.at(pass)) << pass;
    EXPECT_FALSE(has(text, "0x")) << "no addresses in the dump after " << pass;
  }
}

TEST(Pipeline, AnalyzeDumpIrPrintsTheDumpAfterThePass) {
  const fs::path dir = fs::path(::testing::TempDir()) / "pipeline_cli";
  fs::create_directories(dir);
  const fs::path model = kModels / "forum_2layer_pad0.h5";
  const Dumps d = dumps(model);
  for (const std::string pass : {"import", "select", "memory"}) {
    const auto r = cli_test::run_cli("analyze " + model.string() + " --dump-ir=" + pass, dir);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "// after pass '" + pass + "'\n" + d.text.at(pass));
    EXPECT_EQ(r.err, "");
  }
  // The dump replaces the report: the report's options are refused with it, not dropped.
  const auto both = cli_test::run_cli("analyze " + model.string() + " --dump-ir=select --json", dir);
  EXPECT_EQ(both.status, 2);
  EXPECT_EQ(both.out, "");
  EXPECT_EQ(both.err, "bitlens: error: analyze: --json excludes --dump-ir (see 'bitlens help analyze')\n");
  const auto bad = cli_test::run_cli("analyze " + model.string() + " --dump-ir=optimize", dir);
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err,
            "bitlens: error: analyze: --dump-ir: optimize not in {import,strip,fold,select,lower,costs,schedule,memory,"
            "limits} (see 'bitlens help analyze')\n");
}
