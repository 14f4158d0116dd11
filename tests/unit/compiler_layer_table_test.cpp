// The layer table has two halves that must name the same classes: the config keys each class
// carries (bitlens/layer_table.hpp, read by the loader) and the import function that lowers it
// (passes/import_layers.cpp). A class in one and not the other would be either imported with
// unchecked keys or checked and then refused as an unknown layer. The import half also says
// which IR ops a class becomes; the docs list them with their kernels, generated from it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bitlens/compiler.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/model.hpp"
#include "differential/random_model.hpp"
#include "frontend/assemble.hpp"
#include "passes/import.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

TEST(LayerTable, KeyTableAndImportersNameTheSameClasses) {
  std::set<std::string> keyed, imported;
  for (const auto& info : layer_table()) EXPECT_TRUE(keyed.insert(info.class_name).second) << info.class_name;
  for (const auto& imp : passes::importers())
    for (const auto& c : imp.classes) {
      EXPECT_TRUE(imported.insert(c).second) << c << " has two import functions";
      EXPECT_EQ(passes::find_importer(c), &imp) << c;
    }
  for (const auto& c : keyed) EXPECT_TRUE(imported.count(c)) << c << " has config keys but no import function";
  for (const auto& c : imported) EXPECT_TRUE(keyed.count(c)) << c << " is imported but its config keys are not listed";
  EXPECT_EQ(passes::find_importer("MyCustomLayer"), nullptr);
  EXPECT_GE(imported.size(), 40u);
}

namespace {

// Every node imported from a layer has one of the ops its class declares (or is unsupported).
void check_ops(const CompileResult& r, const std::string& what, std::set<std::string>& seen) {
  for (const auto& n : r.graph.nodes) {
    if (n.class_name.empty() || n.op == Op::Unsupported) continue;  // inserted steps, refusals
    const passes::LayerImporter* imp = passes::find_importer(n.class_name);
    ASSERT_NE(imp, nullptr) << what << ": " << n.class_name;
    EXPECT_NE(std::find(imp->ops.begin(), imp->ops.end(), n.op), imp->ops.end())
        << what << ": '" << n.name << "' (" << n.class_name << ") became " << op_name(n.op)
        << ", which its import row does not list";
    seen.insert(n.class_name);
  }
}

}  // namespace

TEST(LayerTable, NodesHaveTheOpsTheirClassDeclares) {
  std::set<std::string> seen;
  for (const auto& e : fs::directory_iterator(BITLENS_MODELS_DIR))
    if (e.path().extension() == ".h5") check_ops(compile(load_model(e.path())), e.path().filename().string(), seen);
  for (uint64_t seed = 1; seed <= 600; ++seed) {
    const auto gen = diff::generate(seed);
    try {
      check_ops(compile(gen.model), "random model " + std::to_string(seed), seen);
    } catch (const ModelError&) {
      // refused models are the differential test's business
    }
    if (HasFailure()) return;
  }
  EXPECT_GE(seen.size(), 30u) << "too few classes reached to say much";
}

TEST(LayerTable, LoweringSectionOfTheDocsIsGenerated) {
  const std::string path = std::string(BITLENS_SOURCE_DIR) + "/docs/decisions.md";
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- lowering:begin -->\n", end = "<!-- lowering:end -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "the lowering markers are missing from docs/decisions.md";
  ASSERT_NE(e, std::string::npos);
  const std::string want = passes::lowering_markdown();
  const std::string have = doc.substr(b + begin.size(), e - b - begin.size());
  if (have != want && std::getenv("BITLENS_UPDATE_DOCS")) {
    std::ofstream(path) << doc.substr(0, b + begin.size()) + want + doc.substr(e);
    return;
  }
  EXPECT_EQ(have, want) << "docs/decisions.md is out of date: run BITLENS_UPDATE_DOCS=1 build/tests/compiler_layer_table_test";
  // Spot checks of what the generator must say.
  EXPECT_NE(want.find("| QuantConv2D, Conv2D, QuantDepthwiseConv2D"), std::string::npos);
  EXPECT_NE(want.find("conv2d: `bl_bconv2d_bitsliced` > `bl_bconv2d` > `bl_bwconv2d` > `bl_conv2d_s8` > `bl_conv2d`"), std::string::npos);
  EXPECT_NE(want.find("| Cropping1D, Cropping2D | `crop` | crop: `bl_crop_f32` |"), std::string::npos);
}

// The weights the table lists per class are the ones real layers carry: every layer of the
// bundled files (names as stored in the file) and of 300 random models has exactly the
// variables the table gives for its config.
TEST(LayerTable, WeightsListedAreTheOnesLayersCarry) {
  std::set<std::string> classes;
  auto check = [&](const Model& m, const std::string& what) {
    for (const auto& l : m.layers) {
      const auto order = frontend::variable_order(l.class_name, l.config);
      if (!order) continue;
      std::set<std::string> want(order->begin(), order->end()), have;
      for (const auto& [name, a] : l.weights) have.insert(name);
      EXPECT_EQ(have, want) << what << ": '" << l.name << "' (" << l.class_name << ")";
      if (!want.empty()) classes.insert(l.class_name);
    }
  };
  for (const auto& e : fs::directory_iterator(BITLENS_MODELS_DIR))
    if (e.path().extension() == ".h5") check(load_model(e.path()), e.path().filename().string());
  for (uint64_t seed = 1; seed <= 300 && !HasFailure(); ++seed) check(diff::generate(seed).model, "random model " + std::to_string(seed));
  EXPECT_GE(classes.size(), 8u) << "too few classes with weights reached";
}
