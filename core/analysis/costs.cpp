// Costs per node: MACC (ST's conventions, see docs/report-format.md), ROM bytes of every constant
// array the generated code holds (each 4-byte aligned), scratch bytes; and the schedule.
#include <algorithm>
#include <numeric>

#include "bitlens/limits.hpp"
#include "passes/passes.hpp"
#include "ops/registry.hpp"

namespace bitlens::passes {
namespace {

int64_t aligned(int64_t bytes) { return (bytes + 3) / 4 * 4; }

template <class T>
int64_t rom_of(const std::vector<T>& v) {
  return aligned(static_cast<int64_t>(v.size() * sizeof(T)));
}

}  // namespace

void compute_costs(Graph& g) {
  for (auto& n : g.nodes) {
    n.macc = 0;
    n.rom_bytes = 0;
    n.scratch_bytes = 0;
    if (n.removed || n.decision.kernel == KernelClass::Unsupported || n.outputs.empty()) continue;
    const Tensor& out = g.tensors[n.outputs[0]];
    const int64_t in_elems = n.inputs.empty() ? 0 : g.tensors[n.inputs[0]].elements();
    const int64_t out_elems = out.elements();
    bool has_bias = false;
    for (const auto& p : n.epi.chain) has_bias = has_bias || p.kind == PostOp::Kind::Bias;
    switch (n.op) {
      case Op::Conv2D: {
        // A grouped filter multiplies only its group's C/groups channels.
        const int64_t cin = g.tensors[n.inputs[0]].shape.back() / n.conv.groups;
        n.macc = sat_add(sat_mul(sat_mul(out_elems, int64_t{n.conv.kh} * n.conv.kw), cin), has_bias ? out.shape.back() : 0);
        break;
      }
      case Op::DepthwiseConv2D:
        n.macc = sat_add(sat_mul(out_elems, int64_t{n.conv.kh} * n.conv.kw), has_bias ? out.shape.back() : 0);
        break;
      case Op::Dense:
        n.macc = sat_add(sat_mul(in_elems, out_elems), has_bias ? out_elems : 0);
        break;
      case Op::MaxPool:
      case Op::AvgPool:
        n.macc = sat_mul(out_elems, int64_t{n.pool.kh} * n.pool.kw);
        break;
      case Op::GlobalAvgPool:
      case Op::GlobalMaxPool:
        n.macc = in_elems;
        break;
      case Op::BatchNorm:
      case Op::Pack:
      case Op::Unpack:
        n.macc = sat_mul(2, out_elems);
        break;
      case Op::Softmax:
        n.macc = sat_mul(15, out_elems);
        break;
      case Op::Activation:
      case Op::Add:
      case Op::ConstAdd:
      case Op::ConstMul:
        n.macc = out_elems;
        break;
      default:
        break;
    }
    // A non-clamp activation applied in place after a conv/dense kernel.
    if ((n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense) &&
        !n.act.linear())
      n.macc = sat_add(n.macc, sat_mul(n.act.kind == sem::ActivationKind::Softmax ||
                                               n.act.kind == sem::ActivationKind::LogSoftmax
                                           ? 15
                                           : 1,
                                       out_elems));

    const auto k = n.decision.kernel;
    if (k == KernelClass::Binary || k == KernelClass::BinaryWeights) n.rom_bytes += rom_of(n.weight_bits);
    if (k == KernelClass::Float && (n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense))
      n.rom_bytes += rom_of(n.weights);
    n.rom_bytes += rom_of(n.epi.mul) + rom_of(n.epi.add) + rom_of(n.epi.mul2) + rom_of(n.epi.add2) + rom_of(n.epi.threshold) + rom_of(n.epi.flip) +
                   rom_of(n.or_mask) + rom_of(n.act.slopes);
    // Kernel parameters are 32-bit, as on the microcontroller. A layer with a tensor beyond the
    // host limit never runs (HOST_LIMIT refuses the model), so its scratch is not computed.
    bool runnable = true;
    for (int t : n.inputs) runnable = runnable && g.tensors[t].bytes() <= HostLimits{}.max_tensor_bytes;
    for (int t : n.outputs) runnable = runnable && g.tensors[t].bytes() <= HostLimits{}.max_tensor_bytes;
    if (runnable) n.scratch_bytes = aligned(static_cast<int64_t>(ops::scratch_bytes(g, n)));
  }
}

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
