// Host limits: what a run would allocate and compute, from the compiled graph and memory plan,
// before any of it is allocated. See bitlens/limits.hpp and docs/limits.md.
#include "bitlens/format.hpp"
#include "bitlens/limits.hpp"

#include <cstdio>

#include "passes/passes.hpp"

namespace bitlens {
namespace {

using passes::sat_add;
using passes::sat_mul;

std::string shape_text(const Tensor& t) {
  return (t.shape.empty() ? std::string("scalar") : shape_dims(t.shape)) + " " + format_name(t.format);
}

std::string node_text(const Node& n) {
  return "layer '" + n.layer + "'" + (n.class_name.empty() ? std::string() : " (" + n.class_name + ")");
}

// The executed node whose output tensor is largest.
const Node* largest_output(const CompileResult& c, int64_t& bytes) {
  const Node* best = nullptr;
  bytes = 0;
  for (int id : c.schedule) {
    const Node& n = c.graph.nodes[id];
    for (int t : n.outputs)
      if (!best || c.graph.tensors[t].bytes() > bytes) {
        best = &n;
        bytes = c.graph.tensors[t].bytes();
      }
  }
  return best;
}

}  // namespace

std::optional<std::string> host_limit_violation(const CompileResult& c, int64_t batch, RunKind kind,
                                                const HostLimits& lim) {
  const Graph& g = c.graph;
  const std::string refuse = "; BitLens will not run it on this host (see docs/limits.md)";
  for (int id : c.schedule) {
    const Node& n = g.nodes[id];
    for (int t : n.outputs) {
      const Tensor& x = g.tensors[t];
      if (x.bytes() > lim.max_tensor_bytes)
        return node_text(n) + ": its output " + shape_text(x) + " needs " + byte_size_text(x.bytes()) +
               " per sample, more than the host limit of " + byte_size_text(lim.max_tensor_bytes) +
               " for one tensor" + refuse + "; analyze it, or build it for a smaller input shape";
    }
  }
  for (int t : g.inputs)
    if (g.tensors[t].bytes() > lim.max_tensor_bytes)
      return "input '" + g.tensors[t].name + "' " + shape_text(g.tensors[t]) + " needs " +
             byte_size_text(g.tensors[t].bytes()) + " per sample, more than the host limit of " +
             byte_size_text(lim.max_tensor_bytes) + " for one tensor" + refuse;
  if (c.plan.arena_bytes > lim.max_arena_bytes) {
    int64_t b = 0;
    const Node* big = largest_output(c, b);
    return "the activations need an arena of " + byte_size_text(c.plan.arena_bytes) +
           ", more than the host limit of " + byte_size_text(lim.max_arena_bytes) +
           (big ? " (largest: " + node_text(*big) + ", " + byte_size_text(b) + ")" : std::string()) + refuse;
  }
  int64_t per_sample = 0;
  for (int t : g.inputs) per_sample = sat_add(per_sample, g.tensors[t].bytes());
  for (int t : g.outputs) per_sample = sat_add(per_sample, g.tensors[t].bytes());
  if (kind != RunKind::Kernels)
    for (int id : c.schedule)
      for (int t : g.nodes[id].outputs) per_sample = sat_add(per_sample, g.tensors[t].bytes());
  const int64_t held = sat_mul(per_sample, batch);
  if (held > lim.max_batch_bytes)
    return std::to_string(batch) + " samples need " + byte_size_text(held) +
           (kind == RunKind::Kernels ? " for inputs and outputs" : " to hold every layer's outputs") +
           " (" + byte_size_text(per_sample) + " each), more than the host limit of " +
           byte_size_text(lim.max_batch_bytes) + "; use fewer samples (--samples/--batch)";
  const int64_t macc = sat_mul(c.totals.macc, batch);
  if (macc > lim.max_run_macc) {
    const Node* big = nullptr;
    for (int id : c.schedule)
      if (!big || g.nodes[id].macc > big->macc) big = &g.nodes[id];
    return std::to_string(batch) + " sample(s) need " + std::to_string(macc) +
           " multiply-accumulates, more than the host limit of " + std::to_string(lim.max_run_macc) +
           (big ? " (largest: " + node_text(*big) + ", " + std::to_string(big->macc) + " per sample)" : std::string()) +
           "; use fewer samples, or a smaller input shape";
  }
  return std::nullopt;
}

void check_host_limits(const CompileResult& c, int64_t batch, RunKind kind, const HostLimits& limits) {
  if (auto v = host_limit_violation(c, batch, kind, limits)) throw ModelError(*v);
}

namespace passes {

// Marks, for analyze, the layers a single-sample run could not hold (HOST_LIMIT).
void mark_host_limits(CompileResult& c) {
  const HostLimits lim;
  bool marked = false;
  for (int id : c.schedule) {
    Node& n = c.graph.nodes[id];
    for (int t : n.outputs) {
      const Tensor& x = c.graph.tensors[t];
      if (x.bytes() <= lim.max_tensor_bytes) continue;
      n.decision.reasons.push_back(make_reason(
          "HOST_LIMIT", {"its output " + shape_text(x), byte_size_text(x.bytes()),
                         byte_size_text(lim.max_tensor_bytes) + " for one tensor", n.layer}));
      marked = true;
    }
  }
  if (marked || c.plan.arena_bytes <= lim.max_arena_bytes) return;
  int64_t b = 0;
  const Node* big = largest_output(c, b);
  if (!big) return;
  Node& n = c.graph.nodes[big->id];
  n.decision.reasons.push_back(make_reason(
      "HOST_LIMIT", {"the arena (largest tensor: its output " + shape_text(c.graph.tensors[n.outputs[0]]) + ")",
                     byte_size_text(c.plan.arena_bytes), byte_size_text(lim.max_arena_bytes) + " for the arena",
                     n.layer}));
}

}  // namespace passes
}  // namespace bitlens
