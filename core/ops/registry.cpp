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
    if (k.op == op) r.push_back(&k);
  return r;
}

const KernelOp* find_kernel(Op op, KernelClass cls) {
  for (const auto& k : registry())
    if (k.op == op && k.cls == cls) return &k;
  return nullptr;
}

const KernelOp* find_kernel(const Node& n) {
  for (const auto& k : registry())
    if (k.op == n.op && k.cls == n.decision.kernel && k.kernel_name(n) == n.decision.kernel_name) return &k;
  return find_kernel(n.op, n.decision.kernel);
}

const KernelOp& kernel_for(const Graph&, const Node& n) {
  if (const KernelOp* k = find_kernel(n)) return *k;
  throw ModelError("internal: no kernel for '" + n.name + "' (" + op_name(n.op) + ", " +
                   kernel_class_name(n.decision.kernel) + ")");
}

size_t scratch_bytes(const Graph& g, const Node& n) {
  if (n.removed) return 0;
  const KernelOp* k = find_kernel(n);
  return k && k->scratch ? k->scratch(g, n) : 0;
}

bool pool_folded(const Graph& g, const Node& pool) {
  for (const auto& n : g.nodes)
    for (const auto& p : n.epi.pools)
      if (p.node == pool.id) return true;
  return false;
}

}  // namespace bitlens::ops
