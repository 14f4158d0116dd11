// Costs per node: MACC (ST's conventions, see docs/report-format.md, computed by each kernel's
// registration), ROM bytes of every constant array the generated code holds (each 4-byte
// aligned), scratch bytes.
#include <algorithm>

#include "bitlens/limits.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace bitlens::passes {
namespace {

int64_t aligned(int64_t bytes) { return (bytes + 3) / 4 * 4; }

using ops::rom_bytes;

}  // namespace

void compute_costs(Graph& g) {
  for (auto& n : g.nodes) {
    n.macc = 0;
    n.rom_bytes = 0;
    n.scratch_bytes = 0;
    if (n.removed || n.decision.kernel == KernelClass::Unsupported || n.outputs.empty()) continue;
    // Input and view nodes have no kernel and cost nothing.
    if (const ops::KernelOp* k = ops::find_kernel(n)) {
      if (k->macc) n.macc = k->macc(g, n);
      if (k->weights_rom) n.rom_bytes = k->weights_rom(n);
    }
    n.rom_bytes += rom_bytes(n.epi.mul) + rom_bytes(n.epi.add) + rom_bytes(n.epi.mul2) + rom_bytes(n.epi.add2) + rom_bytes(n.epi.threshold) + rom_bytes(n.epi.flip) +
                   rom_bytes(n.or_mask) + rom_bytes(n.act.slopes);
    // Kernel parameters are 32-bit, as on the microcontroller. A layer with a tensor beyond the
    // host limit never runs (HOST_LIMIT refuses the model), so its scratch is not computed.
    bool runnable = true;
    for (int t : n.inputs) runnable = runnable && g.tensors[t].bytes() <= HostLimits{}.max_tensor_bytes;
    for (int t : n.outputs) runnable = runnable && g.tensors[t].bytes() <= HostLimits{}.max_tensor_bytes;
    if (runnable) n.scratch_bytes = aligned(static_cast<int64_t>(ops::scratch_bytes(g, n)));
  }
}

}  // namespace bitlens::passes
