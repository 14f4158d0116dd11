// The IR (and after the schedule and memory passes, both) as text for `bitlens analyze --dump-ir=PASS` and the pipeline tests. Deterministic:
// ids and names only (no addresses), floats as printf's %g, constant arrays as their length and
// an FNV-1a checksum of their bytes (so a dump shows when lowering changed a value, without
// printing a megabyte of weights).
#include <cstdint>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bitlens/compiler.hpp"
#include "bitlens/format.hpp"
#include "bitlens/ir.hpp"

namespace bitlens {
namespace {

template <class T>
std::string array(const std::vector<T>& v) {
  uint32_t h = 2166136261u;
  for (const T& x : v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    for (unsigned char c : b) h = (h ^ c) * 16777619u;
  }
  return fmt::format("[{} x{}, fnv {:08x}]", v.size(), sizeof(T) * 8, h);
}

// " name [n xBITS, fnv ...]" for each non-empty array.
template <class... T>
std::string arrays(const std::pair<const char*, const std::vector<T>*>&... a) {
  std::string o;
  ((o += a.second->empty() ? std::string() : fmt::format(" {} {}", a.first, array(*a.second))), ...);
  return o;
}
template <class T>
std::pair<const char*, const std::vector<T>*> named(const char* name, const std::vector<T>& v) {
  return {name, &v};
}

std::string quantizer(const Quantizer& q) {
  if (q.kind == Quantizer::Kind::None) return "null";
  if (q.kind != Quantizer::Kind::DoReFa && q.kind != Quantizer::Kind::StDoReFa && q.kind != Quantizer::Kind::QKeras)
    return q.name;
  if (!q.invalid.empty()) return q.name + "(invalid: " + q.invalid + ")";
  if (q.kind == Quantizer::Kind::QKeras) return sem::qkeras_text(q.spec);
  return fmt::format("{}(k_bit={}, mode={})", q.name, q.spec.k_bit, q.spec.dorefa_weights ? "weights" : "activations");
}

std::string tensor_ref(const Graph& g, int t) {
  const Tensor& x = g.tensors[static_cast<size_t>(t)];
  return fmt::format("%{}:{}{}", t, format_name(x.format), x.shape_known ? shape_tuple(x.shape) : "(unknown)");
}

const char* post_op(PostOp::Kind k) {
  switch (k) {
    case PostOp::Kind::Bias: return "bias";
    case PostOp::Kind::Scale: return "scale";
    case PostOp::Kind::BatchNorm: return "batch_norm";
    case PostOp::Kind::Clamp: return "clamp";
  }
  return "?";
}

void node_lines(const Graph& g, const Node& n, std::string& o) {
  std::vector<std::string> in, out;
  for (int t : n.inputs) in.push_back(tensor_ref(g, t));
  for (int t : n.outputs) out.push_back(tensor_ref(g, t));
  o += fmt::format("node {} '{}' {}{}{}: ({}) -> ({})\n", n.id, n.name, op_name(n.op),
                   n.class_name.empty() ? "" : " [" + n.class_name + "]", n.removed ? " removed" : "",
                   fmt::join(in, ", "), fmt::join(out, ", "));
  const Decision& d = n.decision;
  o += fmt::format("  decision: {}{}{}{}\n", kernel_class_name(d.kernel), d.kernel_name.empty() ? "" : " " + d.kernel_name,
                   d.op_type.empty() ? "" : " " + d.op_type, d.fused_into.empty() ? "" : " into '" + d.fused_into + "'");
  for (const auto& r : d.reasons) o += fmt::format("  reason: {}\n", r.code);
  for (const auto& r : d.rejected) o += fmt::format("  rejected: {}: {}\n", r.kernel, r.why);
  // Conv attributes for the MAC ops; padding and cropping layers keep their edges there too.
  const ConvAttrs& c = n.conv;
  if (n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense) {
    o += fmt::format(
        "  conv: kernel {}x{} stride {}x{} dilation {}x{} {} pads t{} b{} l{} r{} pad_value {} filters {} "
        "depth_multiplier {} groups {} input_q {} kernel_q {}{}\n",
        c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.same ? "same" : "valid", c.pad_top, c.pad_bottom, c.pad_left,
        c.pad_right, short_number(c.pad_value), c.filters, c.depth_multiplier, c.groups, quantizer(c.input_q),
        quantizer(c.kernel_q), n.separable_pointwise ? " separable_pointwise" : "");
  } else if (c.pad_top || c.pad_bottom || c.pad_left || c.pad_right) {
    o += fmt::format("  edges: top {} bottom {} left {} right {}\n", c.pad_top, c.pad_bottom, c.pad_left, c.pad_right);
  }
  if (n.op == Op::MaxPool || n.op == Op::AvgPool || n.op == Op::GlobalAvgPool || n.op == Op::GlobalMaxPool ||
      n.op == Op::Upsample)
    o += fmt::format("  pool: {}x{} stride {}x{} {} pads t{} l{}{}\n", n.pool.kh, n.pool.kw, n.pool.sh, n.pool.sw,
                     n.pool.same ? "same" : "valid", n.pool.pad_top, n.pool.pad_left, n.pool.keepdims ? " keepdims" : "");
  if (!n.act.linear())
    o += fmt::format("  activation: '{}' alpha {} max_value {} threshold {}{}\n", n.activation,
                     short_number(n.act.alpha), short_number(n.act.max_value), short_number(n.act.threshold),
                     arrays(named("slopes", n.act.slopes)));
  if (n.op == Op::ConstAdd || n.op == Op::ConstMul) o += fmt::format("  constant: {}\n", short_number(n.const_value));
  if (n.op == Op::Quantize) o += fmt::format("  quantizer: {}\n", quantizer(n.quant));
  if (n.op == Op::Concat) o += fmt::format("  axis: {}\n", n.concat_axis);
  if (!n.reshape_to.empty()) o += fmt::format("  reshape_to: {}\n", shape_tuple(n.reshape_to));
  const Epilogue& e = n.epi;
  for (const auto& p : e.chain)
    o += fmt::format("  post: {}{}{}{}\n", post_op(p.kind), arrays(named("a", p.a), named("b", p.b)),
                     p.kind == PostOp::Kind::Clamp ? fmt::format(" [{}, {}]", short_number(p.lo), short_number(p.hi)) : "",
                     p.from_layer.empty() ? "" : " from '" + p.from_layer + "'");
  for (const auto& p : e.pools) o += fmt::format("  pooled: node {} at chain {}\n", p.node, p.chain_pos);
  if (e.bits || !e.mul.empty() || !e.add.empty() || !e.mul2.empty() || !e.add2.empty() || !e.threshold.empty() ||
      !e.flip.empty() || e.act_min != -INFINITY || e.act_max != INFINITY || e.residual >= 0)
    o += fmt::format("  output: {} act [{}, {}]{}{}\n", e.bits ? "bits" : "f32", short_number(e.act_min),
                     short_number(e.act_max), e.residual >= 0 ? fmt::format(" + input {}", e.residual) : "",
                     arrays(named("mul", e.mul), named("add", e.add), named("mul2", e.mul2), named("add2", e.add2),
                            named("threshold", e.threshold), named("flip", e.flip)));
  if (!n.weights.empty() || !n.weight_bits.empty() || !n.or_mask.empty())
    o += fmt::format("  constants:{}\n",
                     arrays(named("weights", n.weights), named("weight_bits", n.weight_bits), named("or_mask", n.or_mask)));
  if (n.macc || n.rom_bytes || n.scratch_bytes)
    o += fmt::format("  costs: macc {} rom {} scratch {}\n", n.macc, n.rom_bytes, n.scratch_bytes);
}

}  // namespace

std::string dump_ir(const Graph& g) {
  std::string o;
  std::vector<std::string> in, out;
  for (int t : g.inputs) in.push_back(tensor_ref(g, t));
  for (int t : g.outputs) out.push_back(tensor_ref(g, t));
  o += fmt::format("graph: {} nodes, {} tensors; inputs ({}) outputs ({})\n", g.nodes.size(), g.tensors.size(),
                   fmt::join(in, ", "), fmt::join(out, ", "));
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const Tensor& t = g.tensors[i];
    o += fmt::format("tensor %{} '{}' {} {}{}{}{}{}\n", i, t.name, format_name(t.format),
                     t.shape_known ? shape_tuple(t.shape) : "(unknown: " + t.unknown_because + ")",
                     t.alias_of >= 0 ? fmt::format(" view of %{}", t.alias_of) : "", t.model_input ? " input" : "",
                     t.model_output ? " output" : "",
                     t.producer >= 0 ? fmt::format(" from node {}", t.producer) : "");
  }
  for (const Node& n : g.nodes) node_lines(g, n, o);
  return o;
}

std::string dump_ir(const CompileResult& r) {
  std::string o = dump_ir(r.graph);
  if (!r.schedule.empty()) o += fmt::format("schedule: {}\n", fmt::join(r.schedule, " "));
  for (const auto& b : r.plan.buffers)
    o += fmt::format("buffer '{}' {} bytes at {} live steps {}..{}\n", b.name, b.size, b.offset, b.first_step, b.last_step);
  if (!r.plan.buffers.empty())
    o += fmt::format("arena: {} bytes (lower bound {})\n", r.plan.arena_bytes, r.plan.lower_bound_bytes);
  return o;
}

}  // namespace bitlens
