// The layer table has two halves that must name the same classes: the config keys each class
// carries (bitlens/layer_table.hpp, read by the loader) and the import function that lowers it
// (passes/import_layers.cpp). A class in one and not the other would be either imported with
// unchecked keys or checked and then refused as an unknown layer.
#include <gtest/gtest.h>

#include <set>

#include "bitlens/layer_table.hpp"
#include "passes/import.hpp"

using namespace bitlens;

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
