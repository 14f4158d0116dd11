#include "ops/registry.hpp"

namespace bitlens::ops {

const std::vector<KernelOp>& registry() {
  static const std::vector<KernelOp> r = [] {
    std::vector<KernelOp> v;
    add_mac_ops(v);
    add_tensor_ops(v);
    return v;
  }();
  return r;
}

std::vector<const KernelOp*> candidates(Op op) {
  std::vector<const KernelOp*> r;
  for (const auto& k : registry())
    if (k.rejects && k.op == op) r.push_back(&k);
  return r;
}

namespace {
const KernelOp* find_kernel(const Graph& g, const Node& n) {
  for (const auto& k : registry())
    if (k.runs(g, n)) return &k;
  return nullptr;
}
}  // namespace

const KernelOp& kernel_for(const Graph& g, const Node& n) {
  if (const KernelOp* k = find_kernel(g, n)) return *k;
  throw ModelError("internal: no kernel for '" + n.name + "' (" + op_name(n.op) + ", " +
                   kernel_class_name(n.decision.kernel) + ")");
}

size_t scratch_bytes(const Graph& g, const Node& n) {
  if (n.removed) return 0;
  const KernelOp* k = find_kernel(g, n);
  return k && k->scratch ? k->scratch(g, n) : 0;
}

}  // namespace bitlens::ops
