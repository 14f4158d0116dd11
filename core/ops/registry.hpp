// The kernel registry: one registration per C kernel entry point, read by the host Executor,
// the code generator and the scratch accounting, so a node runs the same call on the host and
// in exported firmware by construction (TensorFlow Lite Micro's op registration, without the
// interpreter: the call is described once, see step.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ops/step.hpp"

namespace bitlens::ops {

struct KernelOp {
  const char* name;  // the C entry point; equals Decision::kernel_name of the nodes it runs
  // Whether this registration runs the node (op, kernel class, tensor formats).
  bool (*runs)(const Graph& g, const Node& n);
  // The node's kernel calls (and, for conv/dense, its own activation run in place afterwards).
  void (*describe)(Step& s);
  // Scratch bytes the kernel needs; nullptr = none.
  size_t (*scratch)(const Graph& g, const Node& n) = nullptr;
  // Kernel selection among alternatives for one op (conv, depthwise, dense): the candidates of
  // an op are its registrations with a `rejects`, tried in registry order (binary, then
  // binary-weights, then float); `rejects` returns why this kernel cannot run the node, or ""
  // when it can. The chosen one gives the node its kernel class and op type.
  Op op = Op::Input;
  KernelClass cls = KernelClass::None;
  const char* op_type = "";
  std::string (*rejects)(const Graph& g, const Node& n) = nullptr;
};

// The selection candidates of `op`, in priority order.
std::vector<const KernelOp*> candidates(Op op);

// Every registration, in lookup order.
const std::vector<KernelOp>& registry();

// The registration that runs `n`; throws ModelError("internal: no kernel ...") when none does.
const KernelOp& kernel_for(const Graph& g, const Node& n);

// Scratch bytes of the node's kernel (0 for removed or unsupported nodes and most kernels).
size_t scratch_bytes(const Graph& g, const Node& n);

// The registrations of each family (mac.cpp: conv, depthwise, dense; tensor.cpp: the rest).
void add_mac_ops(std::vector<KernelOp>& r);
void add_tensor_ops(std::vector<KernelOp>& r);

}  // namespace bitlens::ops
