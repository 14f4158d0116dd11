// Pass: the execution order, every node that runs a kernel in the order of its layer (inserted
// pack/unpack steps sit between layers by their fractional order).
#include <algorithm>

#include "passes/passes.hpp"

namespace bitlens::passes {

std::vector<int> make_schedule(const Graph& g) {
  std::vector<int> s;
  for (const auto& n : g.nodes)
    if (!n.removed && n.op != Op::Input && n.decision.kernel != KernelClass::Unsupported &&
        n.op != Op::Flatten)
      s.push_back(n.id);
  std::stable_sort(s.begin(), s.end(), [&](int a, int b) { return g.nodes[a].order < g.nodes[b].order; });
  return s;
}

}  // namespace bitlens::passes
