// The kernel registry (core/ops) is the one place a node's kernel calls are described: the
// Executor runs them, the code generator prints them. Checked on the bundled models and on
// random models of the differential generator, until every registration has been used:
//   - every scheduled node has exactly one registration, and the first C function it calls is
//     the kernel analyze reports for the node (Decision::kernel_name);
//   - run on the host (the real kernels, on zeroed buffers) and printed as C, a node makes the
//     same calls in the same order, and the printed step holds exactly those calls;
//   - every registration is reached.
// And the registry itself: an (op, kernel class) pair names one registration, every op's
// candidates end in one that rejects nothing, so selection always finds a kernel.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "bitlens/compiler.hpp"
#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "differential/random_model.hpp"
#include "ops/registry.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

// One zeroed buffer per tensor (views share their storage tensor's) and per scratch.
struct Buffers : ops::HostEnv {
  const Graph& g;
  std::vector<std::vector<uint32_t>> t, s;
  explicit Buffers(const Graph& graph) : g(graph) {
    for (const auto& x : g.tensors) t.emplace_back(static_cast<size_t>(x.bytes() / 4 + 2), 0u);
    for (const auto& n : g.nodes) s.emplace_back((ops::scratch_bytes(g, n) + 3) / 4, 0u);
  }
  void* tensor(int id) override {
    while (g.tensors[static_cast<size_t>(id)].alias_of >= 0) id = g.tensors[static_cast<size_t>(id)].alias_of;
    return t[static_cast<size_t>(id)].data();
  }
  void* scratch(int node) override {
    auto& v = s[static_cast<size_t>(node)];
    return v.empty() ? nullptr : v.data();
  }
};

struct Code : ops::CodeEnv {
  std::string tensor(int t) override { return "(arena + " + std::to_string(t) + ")"; }
  std::string scratch(int node) override { return "(arena + " + std::to_string(node) + ")"; }
  std::string data(const Node&, const float*, size_t, const char* suffix) override { return suffix; }
  std::string data(const Node&, const int32_t*, size_t, const char* suffix) override { return suffix; }
  std::string data(const Node&, const uint32_t*, size_t, const char* suffix) override { return suffix; }
  std::string data(const Node&, const int8_t*, size_t, const char* suffix) override { return suffix; }
};

// Checks one node; adds its registration to `used`.
void check_node(const Graph& g, const Node& n, Buffers& host, std::set<const ops::KernelOp*>& used) {
  // Exactly one registration carries the op, class and C name selection recorded.
  int matches = 0;
  for (const auto& k : ops::registry())
    matches += k.op == n.op && k.cls == n.decision.kernel && k.kernel_name(n) == n.decision.kernel_name;
  ASSERT_EQ(matches, 1);
  const ops::KernelOp& k = ops::kernel_for(g, n);
  used.insert(&k);

  Code code;
  ops::Step run(g, n, host);
  k.describe(run);
  std::ostringstream text;
  ops::Step print(g, n, code, text);
  k.describe(print);

  ASSERT_FALSE(run.called().empty());
  EXPECT_EQ(run.called(), print.called());
  EXPECT_EQ(run.called().front(), n.decision.kernel_name);
  // The printed step holds exactly these calls, in this order.
  const std::string t = text.str();
  size_t pos = 0, calls = 0;
  for (size_t p = t.find("st = "); p != std::string::npos; p = t.find("st = ", p + 1)) ++calls;
  EXPECT_EQ(calls, run.called().size()) << t;
  for (const auto& name : run.called()) {
    pos = t.find("st = " + name + "(", pos);
    ASSERT_NE(pos, std::string::npos) << name << " in\n" << t;
    ++pos;
  }
}

// Checks every scheduled node of `c`.
void check_model(const CompileResult& c, const std::string& what, std::set<const ops::KernelOp*>& used) {
  Buffers host(c.graph);
  for (int id : c.schedule) {
    const Node& n = c.graph.nodes[static_cast<size_t>(id)];
    SCOPED_TRACE(what + ": node '" + n.name + "' (" + op_name(n.op) + ")");
    check_node(c.graph, n, host, used);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

bool runnable(const CompileResult& c) {
  for (const auto& n : c.graph.nodes)
    if (!n.removed && n.decision.kernel == KernelClass::Unsupported) return false;
  return true;
}

}  // namespace

TEST(OpsRegistry, HostAndCodeMakeTheSameCallsAndEveryKernelIsReached) {
  std::set<const ops::KernelOp*> used;
  int models = 0;
  for (const auto& e : fs::directory_iterator(BITLENS_MODELS_DIR)) {
    if (e.path().extension() != ".h5") continue;
    const CompileResult c = compile(load_model(e.path()));
    ASSERT_TRUE(runnable(c)) << e.path();
    check_model(c, e.path().filename().string(), used);
    ++models;
  }
  EXPECT_GE(models, 5);
  {
    // Two binary convs concatenated into a third: the concatenation runs on bits, which the
    // random generator's branches (float convs) rarely produce.
    namespace kb = bitlens::keras;
    kb::ModelBuilder b("concat_bits");
    auto x = b.input({6, 6, 32});
    const kb::ConvOptions q{.filters = 32, .kernel_size = {3, 3}, .padding = "same", .use_bias = false,
                            .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"};
    auto y = b.concatenate({b.quant_conv2d(x, q), b.quant_conv2d(x, q)});
    b.quant_conv2d(y, q);
    const CompileResult c = compile(b.build());
    ASSERT_TRUE(runnable(c));
    check_model(c, "concat_bits", used);
    // The compiler does not keep bits through a Concatenate yet (fold.cpp collect_bits), so
    // bl_concat_s1 is checked on the same node with its tensors switched to bits.
    Graph g = c.graph;
    for (auto& n : g.nodes)
      if (n.op == Op::Concat && !n.removed) {
        for (int t : n.inputs) g.tensors[static_cast<size_t>(t)].format = Format::S1;
        g.tensors[static_cast<size_t>(n.outputs[0])].format = Format::S1;
        n.decision.kernel = KernelClass::Binary;
        n.decision.kernel_name = "bl_concat_s1";
        Buffers host(g);
        check_node(g, n, host, used);
      }
  }
  uint64_t seed = 1;
  for (; seed <= 4000 && used.size() < ops::registry().size(); ++seed) {
    const auto gen = diff::generate(seed);
    CompileResult c;
    try {
      c = compile(gen.model);
    } catch (const ModelError&) {
      continue;  // refused models are the differential test's business
    }
    if (!runnable(c)) continue;
    check_model(c, "random model " + std::to_string(seed), used);
    if (HasFatalFailure()) return;
  }
  std::printf("%d bundled models and random models 1..%llu used %zu of %zu registrations\n", models,
              static_cast<unsigned long long>(seed - 1), used.size(), ops::registry().size());
  for (const auto& k : ops::registry())
    EXPECT_TRUE(used.count(&k)) << k.name << " was not reached";
}

// An (op, class) pair has one registration, or several when the earlier ones are variants: each
// can reject a node (and then the next one of the class runs it), and their C names differ.
TEST(OpsRegistry, OpAndClassNameOneRegistrationAndEveryOpEndsInAnUnconditionalCandidate) {
  std::map<std::pair<Op, KernelClass>, std::vector<const ops::KernelOp*>> by_class;
  std::set<std::string> names;
  std::set<Op> ops_seen;
  for (const auto& k : ops::registry()) {
    by_class[{k.op, k.cls}].push_back(&k);
    EXPECT_TRUE(names.insert(std::string(k.name) + "/" + op_name(k.op)).second) << k.name << " is registered twice";
    EXPECT_TRUE(k.cls == KernelClass::Binary || k.cls == KernelClass::BinaryWeights || k.cls == KernelClass::Int8 ||
                k.cls == KernelClass::Float)
        << k.name;
    ops_seen.insert(k.op);
  }
  for (const auto& [key, regs] : by_class)
    for (size_t i = 0; i + 1 < regs.size(); ++i)
      EXPECT_TRUE(regs[i]->rejects) << regs[i]->name << " repeats (" << op_name(key.first) << ", "
                                    << kernel_class_name(key.second) << ") but cannot reject a node";
  for (Op op : ops_seen) {
    const auto c = ops::candidates(op);
    ASSERT_FALSE(c.empty());
    EXPECT_FALSE(c.back()->rejects) << c.back()->name << " is the last candidate of " << op_name(op)
                                    << " but can reject a node";
  }
}
