// Registrations of the multiply-accumulate kernels: conv2d, depthwise conv2d and dense, each as
// a binary (s1 x s1), binary-weights (f32 x s1) and float kernel. Every call is followed by the
// layer's own activation (clamps are folded into the output stage before this), in place.
#include <sstream>

#include "ops/common.hpp"
#include "ops/registry.hpp"
#include "runtime/kernel_params.hpp"

namespace bitlens::ops {
namespace {

using runtime::binary_pad;

const char* pad_name(bl_bpad p) {
  return p == BL_PAD_PLUS_ONE ? "BL_PAD_PLUS_ONE" : p == BL_PAD_MINUS_ONE ? "BL_PAD_MINUS_ONE" : "BL_PAD_ZERO";
}

// memset leaves groups 0, which the kernels read as 1: ungrouped layers print nothing.
void groups(Fields& f, int32_t g) {
  if (g > 1) f.set("groups", g);
}

template <Op op, KernelClass k>
bool runs(const Graph&, const Node& n) {
  return n.op == op && n.decision.kernel == k;
}

void bconv2d(Step& s) {
  const auto p = runtime::bconv2d_params(s.g, s.n);
  s.call("bl_bconv2d", bl_bconv2d,
         Params<bl_bconv2d_params>{p, "bl_bconv2d_params",
                                   [&](Fields& f) {
                                     geom(f, p.g);
                                     f.set("pad", pad_name(p.pad));
                                     f.set_data("weights", p.weights, s.n.weight_bits, "weights");
                                     output(f, p.out);
                                     groups(f, p.groups);
                                   }},
         In{0}, Out{}, Scratch{});
  activation_calls(s, true);
}

void bwconv2d(Step& s) {
  const auto p = runtime::bwconv2d_params(s.g, s.n);
  s.call("bl_bwconv2d", bl_bwconv2d,
         Params<bl_bwconv2d_params>{p, "bl_bwconv2d_params",
                                    [&](Fields& f) {
                                      geom(f, p.g);
                                      f.set_float("pad_value", p.pad_value);
                                      f.set_data("weights", p.weights, s.n.weight_bits, "weights");
                                      output(f, p.out);
                                      groups(f, p.groups);
                                    }},
         In{0}, Out{}, Scratch{});
  activation_calls(s, true);
}

void conv2d(Step& s) {
  const auto p = runtime::conv2d_params(s.g, s.n);
  s.call("bl_conv2d", bl_conv2d,
         Params<bl_conv2d_params>{p, "bl_conv2d_params",
                                  [&](Fields& f) {
                                    geom(f, p.g);
                                    f.set_float("pad_value", p.pad_value);
                                    f.set_data("weights", p.weights, s.n.weights, "weights");
                                    output(f, p.out);
                                    groups(f, p.groups);
                                  }},
         In{0}, Out{});
  activation_calls(s, true);
}

void bdepthwise(Step& s) {
  const auto p = runtime::bdepthwise_params(s.g, s.n);
  s.call("bl_bdepthwise", bl_bdepthwise,
         Params<bl_bdepthwise_params>{p, "bl_bdepthwise_params",
                                      [&](Fields& f) {
                                        geom(f, p.g);
                                        f.set("depth_multiplier", p.depth_multiplier);
                                        f.set("pad", pad_name(p.pad));
                                        f.set_data("weights", p.weights, s.n.weight_bits, "weights");
                                        output(f, p.out);
                                      }},
         In{0}, Out{}, Scratch{});
  activation_calls(s, true);
}

void bwdepthwise(Step& s) {
  const auto p = runtime::bwdepthwise_params(s.g, s.n);
  s.call("bl_bwdepthwise", bl_bwdepthwise,
         Params<bl_bwdepthwise_params>{p, "bl_bwdepthwise_params",
                                       [&](Fields& f) {
                                         geom(f, p.g);
                                         f.set("depth_multiplier", p.depth_multiplier);
                                         f.set_float("pad_value", p.pad_value);
                                         f.set_data("weights", p.weights, s.n.weight_bits, "weights");
                                         output(f, p.out);
                                       }},
         In{0}, Out{});
  activation_calls(s, true);
}

void depthwise(Step& s) {
  const auto p = runtime::depthwise_params(s.g, s.n);
  s.call("bl_depthwise", bl_depthwise,
         Params<bl_depthwise_params>{p, "bl_depthwise_params",
                                     [&](Fields& f) {
                                       geom(f, p.g);
                                       f.set("depth_multiplier", p.depth_multiplier);
                                       f.set_float("pad_value", p.pad_value);
                                       f.set_data("weights", p.weights, s.n.weights, "weights");
                                       output(f, p.out);
                                     }},
         In{0}, Out{});
  activation_calls(s, true);
}

template <class P>
void dense_fields(Fields& f, const P& p, const void* weights, const Node& n, bool bits) {
  f.set("n_in", p.n_in);
  f.set("n_out", p.n_out);
  if (bits)
    f.set_data("weights", static_cast<const uint32_t*>(weights), n.weight_bits, "weights");
  else
    f.set_data("weights", static_cast<const float*>(weights), n.weights, "weights");
  output(f, p.out);
}

void bdense(Step& s) {
  const auto p = runtime::bdense_params(s.g, s.n);
  s.call("bl_bdense", bl_bdense,
         Params<bl_bdense_params>{p, "bl_bdense_params", [&](Fields& f) { dense_fields(f, p, p.weights, s.n, true); }},
         In{0}, Out{}, Scratch{});
  activation_calls(s, true);
}

void bwdense(Step& s) {
  const auto p = runtime::bwdense_params(s.g, s.n);
  s.call("bl_bwdense", bl_bwdense,
         Params<bl_bwdense_params>{p, "bl_bwdense_params", [&](Fields& f) { dense_fields(f, p, p.weights, s.n, true); }},
         In{0}, Out{});
  activation_calls(s, true);
}

void dense(Step& s) {
  const auto p = runtime::dense_params(s.g, s.n);
  s.call("bl_dense", bl_dense,
         Params<bl_dense_params>{p, "bl_dense_params", [&](Fields& f) { dense_fields(f, p, p.weights, s.n, false); }},
         In{0}, Out{});
  activation_calls(s, true);
}

size_t bconv2d_scratch(const Graph& g, const Node& n) {
  const auto p = runtime::bconv2d_params(g, n);
  return bl_bconv2d_scratch_size(&p);
}
size_t bwconv2d_scratch(const Graph& g, const Node& n) {
  const auto p = runtime::bwconv2d_params(g, n);
  return bl_bwconv2d_scratch_size(&p);
}
size_t bdepthwise_scratch(const Graph& g, const Node& n) {
  const auto p = runtime::bdepthwise_params(g, n);
  return bl_bdepthwise_scratch_size(&p);
}
size_t bdense_scratch(const Graph& g, const Node& n) {
  const auto p = runtime::bdense_params(g, n);
  return bl_bdense_scratch_size(&p);
}

// ---- selection ----

std::string quantizer_text(const Quantizer& q) { return q.kind == Quantizer::Kind::None ? "null" : "\"" + q.name + "\""; }

// The config key that holds the node's weight quantizer.
const char* weight_key(const Node& n) {
  if (n.op == Op::DepthwiseConv2D) return "depthwise_quantizer";
  return n.class_name.find("Separable") != std::string::npos ? "pointwise_quantizer" : "kernel_quantizer";
}

std::string weights_not_binary(const Node& n) {
  return std::string(weight_key(n)) + " " + quantizer_text(n.conv.kernel_q) + " does not binarize the weights";
}

// s1 x s1: +-1 inputs, +-1 weights, and padded taps that are a bit or exactly 0.
std::string binary_rejects(const Graph&, const Node& n) {
  const ConvAttrs& a = n.conv;
  if (!a.input_q.sign_like())
    return "input_quantizer " + quantizer_text(a.input_q) + " does not binarize the input";
  if (!a.kernel_q.binary_weights()) return weights_not_binary(n);
  if (a.same && a.pad_value != 0.0f && a.pad_value != 1.0f && a.pad_value != -1.0f) {
    std::ostringstream v;
    v << a.pad_value;
    return "pad_values=" + v.str() + " is neither 0 nor +-1, so a padded tap is not a bit";
  }
  return "";
}
// f32 x s1: +-1 weights.
std::string binary_weights_rejects(const Graph&, const Node& n) {
  return n.conv.kernel_q.binary_weights() ? "" : weights_not_binary(n);
}
std::string float_rejects(const Graph&, const Node&) { return ""; }

}  // namespace

// Candidates are tried in this order: the first whose `rejects` is empty runs the node.
void add_mac_ops(std::vector<KernelOp>& r) {
  using K = KernelClass;
  auto add = [&r](const char* name, bool (*runs)(const Graph&, const Node&), void (*describe)(Step&),
                  size_t (*scratch)(const Graph&, const Node&), Op op, K cls) {
    const bool bin = cls == K::Binary, bw = cls == K::BinaryWeights;
    r.push_back({name, runs, describe, scratch, op, cls, bin ? "sxor_s1_s1" : bw ? "sadd_f32_s1" : "smul_f32_f32",
                 bin ? binary_rejects : bw ? binary_weights_rejects : float_rejects});
  };
  add("bl_bconv2d", runs<Op::Conv2D, K::Binary>, bconv2d, bconv2d_scratch, Op::Conv2D, K::Binary);
  add("bl_bwconv2d", runs<Op::Conv2D, K::BinaryWeights>, bwconv2d, bwconv2d_scratch, Op::Conv2D, K::BinaryWeights);
  add("bl_conv2d", runs<Op::Conv2D, K::Float>, conv2d, nullptr, Op::Conv2D, K::Float);
  add("bl_bdepthwise", runs<Op::DepthwiseConv2D, K::Binary>, bdepthwise, bdepthwise_scratch, Op::DepthwiseConv2D,
      K::Binary);
  add("bl_bwdepthwise", runs<Op::DepthwiseConv2D, K::BinaryWeights>, bwdepthwise, nullptr, Op::DepthwiseConv2D,
      K::BinaryWeights);
  add("bl_depthwise", runs<Op::DepthwiseConv2D, K::Float>, depthwise, nullptr, Op::DepthwiseConv2D, K::Float);
  add("bl_bdense", runs<Op::Dense, K::Binary>, bdense, bdense_scratch, Op::Dense, K::Binary);
  add("bl_bwdense", runs<Op::Dense, K::BinaryWeights>, bwdense, nullptr, Op::Dense, K::BinaryWeights);
  add("bl_dense", runs<Op::Dense, K::Float>, dense, nullptr, Op::Dense, K::Float);
}

}  // namespace bitlens::ops
