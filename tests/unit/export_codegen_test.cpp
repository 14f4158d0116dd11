// Code generator tests: identifiers from hostile layer names, exact literals, deterministic
// output, ROM accounting, the generated sources of every bundled model compiling as C99 and
// C++ with -Werror, and `validate --target host` passing on every bundled model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <regex>

#include "bitlens/codegen.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/validate.hpp"
#include "export_test_util.hpp"

using namespace bitlens;
using namespace export_test;

namespace {

const std::regex kIdentifier("^[A-Za-z][A-Za-z0-9_]*$");

void expect_valid(const std::string& id, const std::string& from) {
  EXPECT_TRUE(std::regex_match(id, kIdentifier)) << "'" << from << "' -> '" << id << "'";
  EXPECT_EQ(id.find("__"), std::string::npos) << id;
}

// Renames layers of a model (and every reference to them) so names like "conv/1" reach codegen.
void rename_layer(Model& m, const std::string& from, const std::string& to) {
  for (auto& l : m.layers) {
    if (l.name == from) l.name = to;
    for (auto& r : l.inputs)
      if (r.layer == from) r.layer = to;
  }
  for (auto& r : m.inputs)
    if (r.layer == from) r.layer = to;
  for (auto& r : m.outputs)
    if (r.layer == from) r.layer = to;
}

const std::vector<std::string> kBundled = {"forum_1layer_padm1.h5", "forum_1layer_pad0.h5", "forum_1layer_padp1.h5",
                                           "forum_2layer_padm1.h5", "forum_2layer_pad0.h5", "forum_2layer_padp1.h5",
                                           "mnist_tutorial.h5",     "quicknet_style.h5",    "large_binary.h5"};

}  // namespace

TEST(ExportIdentifiers, HostileNamesBecomeValidIdentifiers) {
  const std::vector<std::string> names = {"conv/1", "my layer", "a.b", "int", "class", "3x3", "", "__x", "_X", "a__b",
                                          "caf\xc3\xa9", "NULL", "main", "for", "x-y+z", "while_", "9", "_", "__"};
  for (const auto& n : names) {
    const std::string id = c_identifier(n);
    expect_valid(id, n);
    for (const char* kw : {"int", "class", "for", "NULL", "main", "while"}) EXPECT_NE(id, kw) << n;
  }
  EXPECT_EQ(c_identifier("quant_conv2d"), "quant_conv2d");  // ordinary names stay readable
  EXPECT_EQ(c_identifier("conv/1"), "conv_1");
  EXPECT_EQ(c_identifier("3x3"), "n3x3");
}

TEST(ExportIdentifiers, CollidingNamesStayUnique) {
  IdentifierSet ids;
  ids.reserve("net");
  std::set<std::string> seen;
  for (const std::string n : {"a/b", "a_b", "a.b", "a b", "a_b_2", "int", "int_", "net", "a_b"}) {
    const std::string id = ids.make(n);
    expect_valid(id, n);
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id << " for " << n;
  }
  EXPECT_FALSE(seen.count("net"));
}

TEST(ExportLiterals, StringsCommentsAndFloatsAreExact) {
  EXPECT_EQ(c_string_body("a\"b\\c?" "?=\n"), "a\\\"b\\\\c\\?\\?=\\012");
  const std::string cm = c_comment_text("x*/y/*z?" "?/\n");
  EXPECT_EQ(cm.find("*/"), std::string::npos);
  EXPECT_EQ(cm.find("/*"), std::string::npos);
  EXPECT_EQ(cm.find("??"), std::string::npos);
  std::mt19937 rng(7);
  std::vector<float> vals = {0.0f, -0.0f, 1.0f, -1.5f, 1e-45f, 3.4028235e38f, 1.17549435e-38f, 0.1f};
  for (int i = 0; i < 2000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isfinite(f)) vals.push_back(f);
  }
  for (float f : vals) {
    std::string lit = c_float_literal(f);
    ASSERT_EQ(lit.back(), 'f');
    lit.pop_back();
    const float back = std::strtof(lit.c_str(), nullptr);
    EXPECT_EQ(std::memcmp(&back, &f, 4), 0) << lit;
  }
  EXPECT_EQ(c_float_literal(INFINITY), "INFINITY");
  EXPECT_EQ(c_float_literal(-INFINITY), "(-INFINITY)");
  EXPECT_EQ(c_int32_literal(INT32_MIN), "(-2147483647 - 1)");
}

TEST(ExportCodegen, DeterministicAndRomMatchesReport) {
  for (const auto& m : kBundled) {
    const auto c = compiled(m);
    const auto a = generate_network(c, "");
    const auto b = generate_network(c, "");
    ASSERT_EQ(a.files.size(), 3u) << m;
    for (size_t i = 0; i < a.files.size(); ++i) EXPECT_EQ(a.files[i].text, b.files[i].text) << m << " " << a.files[i].path;
    EXPECT_EQ(a.data_bytes, c.totals.rom_bytes) << m << ": const arrays must be what analyze reports as ROM";
    // Exactly one kernel call per scheduled node, each with a comment naming its layer.
    const std::string& src = a.files[1].text;
    for (size_t s = 0; s < c.schedule.size(); ++s)
      EXPECT_NE(src.find("/* step " + std::to_string(s) + ": " + c.graph.nodes[c.schedule[s]].name), std::string::npos)
          << m << " step " << s;
    EXPECT_EQ(src.find("malloc"), std::string::npos);
  }
}

// The generated sources of every bundled model compile as C99 (-pedantic) and as C++17 with
// -Wall -Wextra -Werror, and a C++ file can include the header (extern "C").
TEST(ExportCodegen, EveryBundledModelCompilesAsC99AndCxx) {
  if (!have("cc") || !have("c++")) GTEST_SKIP() << "no host C/C++ compiler";
  for (const auto& m : kBundled) {
    const auto net = generate_network(compiled(m), "");
    const fs::path dir = fresh_dir("cc_" + net.name);
    for (const auto& f : net.files) write(dir / f.path, f.text);
    write(dir / "use.cpp", "#include \"" + net.name + ".h\"\nint main() { return bl_" + net.name +
                               "_init(nullptr) == BL_OK ? 0 : 1; }\n");
    const std::string inc = " -I" + (dir / "network").string() + " -I" + std::string(BITLENS_SOURCE_DIR) + "/kernels/include";
    for (const char* f : {"", "_data"}) {
      const std::string src = (dir / "network" / (net.name + f + std::string(".c"))).string();
      auto c99 = sh("cc -std=c99 -pedantic -Wall -Wextra -Werror -c -o /dev/null" + inc + " " + src);
      EXPECT_EQ(c99.status, 0) << m << " C99:\n" << c99.out;
      if (std::string(f).empty()) {  // the data file is plain arrays; C++ builds of it take long for large_binary
        auto cxx = sh("c++ -x c++ -std=c++17 -Wall -Wextra -Werror -c -o /dev/null" + inc + " " + src);
        EXPECT_EQ(cxx.status, 0) << m << " C++:\n" << cxx.out;
      }
    }
    auto use = sh("c++ -std=c++17 -Wall -Wextra -Werror -c -o /dev/null" + inc + " " + (dir / "use.cpp").string());
    EXPECT_EQ(use.status, 0) << m << " header from C++:\n" << use.out;
  }
}

// Layer and model names full of separators and keywords still give a network that builds and
// computes what the host runtime computes.
TEST(ExportCodegen, HostileLayerNamesBuildAndValidate) {
  if (!have("cc")) GTEST_SKIP() << "no host C compiler";
  Model m = load_model(model("mnist_tutorial.h5"));
  const std::vector<std::string> bad = {"conv/1 int", "class", "3x3.pool", "max_pooling2d_1/x", "quant dense", "for"};
  size_t k = 0;
  for (auto& l : m.layers)
    if (l.class_name != "InputLayer" && k < bad.size()) rename_layer(m, std::string(l.name), bad[k++]);
  ASSERT_EQ(k, bad.size());
  const CompileResult c = compile(std::move(m));
  ValidateOptions o;
  o.name = "9 my net/v1.0";
  o.inputs = random_inputs(c, 5, 2);
  const auto r = validate(c, o);
  EXPECT_EQ(r.network, "n9_my_net_v1_0");
  EXPECT_TRUE(r.pass()) << validate_text(c, r);
}

// `validate --target host` on every bundled model: identical to the host runtime.
TEST(ExportValidate, HostTargetMatchesOnEveryBundledModel) {
  if (!have("cc")) GTEST_SKIP() << "no host C compiler";
  for (const auto& m : kBundled) {
    const auto c = compiled(m);
    ValidateOptions o;
    o.inputs = random_inputs(c, 11, m == "large_binary.h5" ? 1 : 3);
    const auto r = validate(c, o);
    EXPECT_TRUE(r.pass()) << m << "\n" << validate_text(c, r);
    for (const auto& out : r.vs_runtime.outputs)
      EXPECT_EQ(out.bit_exact, out.elements) << m << ": same C code and libm on the host must be bit-identical";
  }
}

TEST(ExportValidate, MetricsFollowStDefinitions) {
  const std::vector<float> r = {1, -1, 2, 0}, p = {1, -1, 2.5f, 0};
  const auto m = compare_output("y", r, p, false, 1e-5f);
  EXPECT_EQ(m.bit_exact, 3);
  EXPECT_EQ(m.out_of_tolerance, 1);
  EXPECT_FALSE(m.pass);
  EXPECT_NEAR(m.rmse, std::sqrt(0.25 / 4), 1e-12);
  EXPECT_NEAR(m.mae, 0.5 / 4, 1e-12);
  EXPECT_NEAR(m.max_abs, 0.5, 1e-12);
  EXPECT_NEAR(m.l2r, 0.5 / std::sqrt(1 + 1 + 6.25), 1e-12);  // ||r - p|| / ||p||
  EXPECT_NEAR(m.cos, (1 + 1 + 5.0) / (std::sqrt(6.0) * std::sqrt(8.25)), 1e-12);
  // The bound scales with the output's largest magnitude: 1e-4 off an element near 0 is within
  // 1e-5 x (1 + 100), 2e-3 is not.
  EXPECT_TRUE(compare_output("y", {100, 0.001f}, {100, 0.0011f}, false, 1e-5f).pass);
  EXPECT_EQ(compare_output("y", {100, 0.001f}, {100, 0.003f}, false, 1e-5f).out_of_tolerance, 1);
  const auto b = compare_output("bits", {1, -1, 1}, {1, 1, 1}, true, 1e-5f);
  EXPECT_EQ(b.differing_bits, 1);
  EXPECT_FALSE(b.pass);
}
