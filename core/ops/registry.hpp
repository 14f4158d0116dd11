// The kernel registry: one registration per C kernel entry point, read by kernel selection, the
// cost model, the host Executor, the code generator and the scratch accounting, so a node is
// chosen, costed, run on the host and called in exported firmware from one description
// (TensorFlow Lite Micro's op registration, without the interpreter: the call is described
// once, see step.hpp).
//
// A selected node is run by the registration with its op and kernel class; selection gives it
// that class by walking the candidates of its op in registry order (the priority order: for
// conv/depthwise/dense binary, then binary-weights, then float; for max pooling and
// concatenation bits, then float).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ops/step.hpp"

namespace bitlens::ops {

struct KernelOp {
  const char* name;  // the C entry point, the node's first call; Decision::kernel_name
  Op op;
  KernelClass cls;      // Binary: the output is bit-packed (MAC kernels: their epilogue decides)
  const char* op_type;  // ST's operation type for the MACC breakdown ("sxor_s1_s1", ...)
  // The node's kernel calls (and, for conv/dense, its own activation run in place afterwards).
  std::function<void(Step&)> describe;
  // Why this kernel cannot run the node, or "" when it can; empty function: it always can.
  std::function<std::string(const Graph&, const Node&)> rejects = {};
  // The reasons shown once chosen (MAC kernels: written by the selection pass, which knows
  // the layer's quantizers and padding); empty function: none.
  std::function<std::vector<Reason>(const Graph&, const Node&)> explain = {};
  // Multiply-accumulates in ST's conventions (docs/report-format.md); empty function: 0.
  std::function<int64_t(const Graph&, const Node&)> macc = {};
  // ROM bytes of the weight array the kernel reads (the output-stage and activation constants
  // every kernel shares are counted by the cost pass); empty function: none.
  std::function<int64_t(const Node&)> weights_rom = {};
  // Scratch bytes the kernel needs; empty function: none.
  std::function<size_t(const Graph&, const Node&)> scratch = {};
  // The kernel name analyze reports when it is not `name` (an Activation layer's first call
  // depends on its function); empty function: `name`.
  std::function<const char*(const Node&)> name_of = {};
  // MAC kernels that also write BL_OUT_S8: a k-bit quantizer reading only their float output
  // folds into them (passes/select.cpp).
  bool s8_output = false;
  // MAC kernels whose float output stage adds a residual tensor (bl_output.residual): a Keras Add
  // reading only their float output folds into them (passes/select.cpp).
  bool residual_output = false;

  std::string kernel_name(const Node& n) const { return name_of ? name_of(n) : name; }
};

// MACC per value of a softmax (ST's convention), as a layer or as a conv/dense activation.
constexpr int64_t kSoftmaxMaccPerValue = 15;

// ROM bytes of a constant array in the generated code: each is 4-byte aligned.
template <class T>
int64_t rom_bytes(const std::vector<T>& v) {
  return (static_cast<int64_t>(v.size() * sizeof(T)) + 3) / 4 * 4;
}

// The selection candidates of `op`, in priority order (empty: the op has no kernel).
std::vector<const KernelOp*> candidates(Op op);

// Every registration, in priority order.
const std::vector<KernelOp>& registry();

// The registration of (op, kernel class); nullptr when there is none. A class may have several
// registrations (variants such as the bit-sliced binary conv); this gives the first.
const KernelOp* find_kernel(Op op, KernelClass cls);

// The registration selection chose for `n`: its op and class, and among that class's variants
// the one named n.decision.kernel_name; nullptr when there is none.
const KernelOp* find_kernel(const Node& n);

// The registration that runs `n`; throws ModelError("internal: no kernel ...") when none does.
const KernelOp& kernel_for(const Graph& g, const Node& n);

// Scratch bytes of the node's kernel (0 for removed or unsupported nodes and most kernels).
size_t scratch_bytes(const Graph& g, const Node& n);

// Whether a max-pooling node was folded into its producer's bit output (passes/fold.cpp).
bool pool_folded(const Graph& g, const Node& pool);

// The registrations of each family (mac.cpp: conv, depthwise, dense; tensor.cpp: the rest).
void add_mac_ops(std::vector<KernelOp>& r);
void add_tensor_ops(std::vector<KernelOp>& r);

}  // namespace bitlens::ops
