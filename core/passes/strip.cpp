// Pass: remove the layers that only act in training (Dropout, GaussianNoise, ...): their
// consumers read their input, so no kernel runs for them.
#include "passes/passes.hpp"

namespace bitlens::passes {

bool strip_training_only(Graph& g) {
  bool changed = false;
  for (auto& n : g.nodes) {
    if (n.op != Op::Identity || n.removed) continue;
    g.bypass(n);
    n.decision.kernel = KernelClass::None;
    n.decision.reasons.push_back(make_reason("TRAINING_ONLY", {n.class_name}));
    changed = true;
  }
  return changed;
}

}  // namespace bitlens::passes
