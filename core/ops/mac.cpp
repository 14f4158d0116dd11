// Registrations of the multiply-accumulate kernels: conv2d, depthwise conv2d and dense, each as
// a binary (s1 x s1), binary-weights (f32 x s1), int8 (s8 x s8) and float kernel. They differ
// only in their parameter struct, so one template describes them all from it. Every call is followed by the
// layer's own activation (clamps are folded into the output stage before this), in place.
#include <algorithm>

#include "bitlens/format.hpp"
#include "ops/common.hpp"
#include "ops/params.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace bitlens::ops {
namespace {

using passes::quantizer_text;
using passes::sat_add;
using passes::sat_mul;

const char* pad_name(bl_bpad p) {
  return p == BL_PAD_PLUS_ONE ? "BL_PAD_PLUS_ONE" : p == BL_PAD_MINUS_ONE ? "BL_PAD_MINUS_ONE" : "BL_PAD_ZERO";
}

// Prints every field the struct has, in declaration order. memset leaves groups 0, which the
// kernels read as 1: ungrouped layers print nothing.
template <class P>
void fields(Fields& f, const P& p, const Node& n) {
  if constexpr (requires { p.g; }) {
    geom(f, p.g);
  } else {
    f.set("n_in", p.n_in);
    f.set("n_out", p.n_out);
  }
  if constexpr (requires { p.depth_multiplier; }) f.set("depth_multiplier", p.depth_multiplier);
  if constexpr (requires { p.pad; }) f.set("pad", pad_name(p.pad));
  if constexpr (std::is_same_v<decltype(p.weights), const int8_t*>) {
    if constexpr (requires { p.pad_value; }) f.set("pad_value", p.pad_value);
    f.set_data("weights", p.weights, n.weights_s8, "weights");
    f.set_data("acc_init", p.acc_init, n.acc_init, "acc_init");
  } else {
    if constexpr (requires { p.pad_value; }) f.set_float("pad_value", p.pad_value);
    if constexpr (std::is_same_v<decltype(p.weights), const uint32_t*>)
      f.set_data("weights", p.weights, n.weight_bits, "weights");
    else
      f.set_data("weights", p.weights, n.weights, "weights");
  }
  output(f, p.out);
  if constexpr (requires { p.groups; })
    if (p.groups > 1) f.set("groups", p.groups);
}

// One MAC kernel: its entry point, parameter struct builder and (binary kernels) scratch size.
template <class P, class In>
struct Mac {
  const char* name;
  const char* type;  // the parameter struct's C name
  P (*make)(const Graph&, const Node&);
  bl_status (*with_scratch)(const P*, const In*, void*, void*) = nullptr;
  bl_status (*plain)(const P*, const In*, void*) = nullptr;
  size_t (*scratch_size)(const P*) = nullptr;
};

template <class P, class In>
void describe(const Mac<P, In>& k, Step& s) {
  P p = k.make(s.g, s.n);
  // The residual is a tensor: its address is known only where the step runs (the generated
  // code spells it from the node, ops/common.cpp).
  if (s.n.epi.residual >= 0 && s.host())
    p.out.residual = static_cast<const float*>(s.host_tensor(s.n.inputs.at(static_cast<size_t>(s.n.epi.residual))));
  const Params<P> params{p, k.type, [&](Fields& f) { fields(f, p, s.n); }};
  if (k.with_scratch)
    s.call(k.name, k.with_scratch, params, ops::In{0}, Out{}, Scratch{});
  else
    s.call(k.name, k.plain, params, ops::In{0}, Out{});
  activation_calls(s, true);
}

// ---- costs ----

bool has_bias(const Node& n) {
  for (const auto& p : n.epi.chain)
    if (p.kind == PostOp::Kind::Bias) return true;
  return false;
}

// The layer's own non-clamp activation, applied in place after the kernel: softmax counts as
// the Softmax op does, anything else 1 per value.
int64_t activation_macc(const Node& n, int64_t out_elems) {
  if (n.act.linear()) return 0;
  const bool softmax = n.act.kind == sem::ActivationKind::Softmax || n.act.kind == sem::ActivationKind::LogSoftmax;
  return sat_mul(softmax ? kSoftmaxMaccPerValue : 1, out_elems);
}

int64_t macc(const Graph& g, const Node& n) {
  const Tensor& out = g.tensors[n.outputs[0]];
  const int64_t out_elems = out.elements();
  int64_t m = 0;
  if (n.op == Op::Dense) {
    m = sat_add(sat_mul(g.tensors[n.inputs[0]].elements(), out_elems), has_bias(n) ? out_elems : 0);
  } else {
    // A grouped filter multiplies only its group's C/groups channels; a depthwise one only its own.
    const int64_t cin = n.op == Op::Conv2D ? g.tensors[n.inputs[0]].shape.back() / n.conv.groups : 1;
    m = sat_add(sat_mul(sat_mul(out_elems, int64_t{n.conv.kh} * n.conv.kw), cin), has_bias(n) ? out.shape.back() : 0);
  }
  // A folded Add: one addition per value, as the Add layer counted (ST's convention).
  if (n.epi.residual >= 0) m = sat_add(m, out_elems);
  return sat_add(m, activation_macc(n, out_elems));
}

// ---- selection ----

std::string weights_not_binary(const Node& n) {
  return std::string(passes::weight_quantizer_key(n)) + " " + quantizer_text(n.conv.kernel_q) + " does not binarize the weights";
}

// s1 x s1: +-1 inputs, +-1 weights, and padded taps that are a bit or exactly 0.
std::string binary_rejects(const Graph&, const Node& n) {
  const ConvAttrs& a = n.conv;
  if (!a.input_q.sign_like())
    return "input_quantizer " + quantizer_text(a.input_q) + " does not binarize the input";
  if (!a.kernel_q.binary_weights()) return weights_not_binary(n);
  if (a.same && a.pad_value != 0.0f && a.pad_value != 1.0f && a.pad_value != -1.0f)
    return "pad_values=" + short_number(a.pad_value) + " is neither 0 nor +-1, so a padded tap is not a bit";
  return "";
}
// The bit-sliced variant of the binary conv (kernels/src/bconv2d_bs.c) is chosen for layers
// whose taps carry fewer than 32 channels, where it runs 2-5x fewer instructions than the patch
// kernel on Cortex-M4 (docs/performance.md). From 32 channels on the patch kernel stays: whole
// words and no scratch, where the bit-sliced one would save 5-35 % of the instructions for a
// copy of the input plus lookup tables (MNIST's second layer: 5 % for 16 KB of RAM).
constexpr int kBitslicedMaxChannels = 31;
constexpr size_t kBitslicedMaxScratch = 32 * 1024;

// The bit-sliced kernel's scratch for `n`. Selection runs before the constants are lowered, so
// the weight and threshold pointers only need to be non-null (the size does not read them).
size_t bitsliced_scratch(const Graph& g, const Node& n) {
  static const uint32_t w = 0;
  static const int32_t t = 0;
  bl_bconv2d_params p = mac_params<bl_bconv2d_params>(g, n);
  p.weights = &w;
  if (p.out.kind == BL_OUT_BITS) p.out.threshold = &t;
  return bl_bconv2d_bitsliced_scratch_size(&p);
}

std::string bitsliced_rejects(const Graph& g, const Node& n) {
  std::string why = binary_rejects(g, n);
  if (!why.empty()) return why;
  const ConvAttrs& a = n.conv;
  const int64_t cin = g.tensors[n.inputs[0]].shape.back() / a.groups;
  if (a.groups > 1) return "groups=" + std::to_string(a.groups) + ": the bit-sliced kernel runs ungrouped layers only";
  if (a.sh != 1 || a.sw != 1)
    return "strides=(" + std::to_string(a.sh) + ", " + std::to_string(a.sw) + "): the bit-sliced kernel runs stride 1 only";
  if (cin > kBitslicedMaxChannels)
    return std::to_string(cin) + " input channels fill whole words: the patch kernel needs no scratch, where the "
           "bit-sliced one would hold the input again for at most a third fewer instructions";
  const size_t scratch = bitsliced_scratch(g, n);
  if (g.prefer_ram && scratch > 0)
    return "--prefer-ram: the bit-sliced kernel would need " + std::to_string(scratch) +
           " B of scratch, the patch kernel none (it runs few-channel layers 2-5x slower)";
  if (scratch == 0)
    return std::to_string(int64_t{a.kh} * a.kw * cin) + " taps per filter exceed the bit-sliced kernel's counters";
  if (scratch > kBitslicedMaxScratch)
    return "the bit-sliced kernel would need " + std::to_string((scratch + 1023) / 1024) +
           " KiB of scratch (it is chosen up to " + std::to_string(kBitslicedMaxScratch / 1024) + " KiB)";
  return "";
}

// f32 x s1: +-1 weights.
std::string binary_weights_rejects(const Graph&, const Node& n) {
  return n.conv.kernel_q.binary_weights() ? "" : weights_not_binary(n);
}

// s8 x s8: k-bit input levels and k-bit weight levels that are integers within int8 (the
// integer definition, sem::S8Levels and sem::int8_weight_denominator), exactly.
std::string int8_rejects(const Graph& g, const Node& n) {
  const ConvAttrs& a = n.conv;
  const auto in = a.input_q.elementwise_levels() ? sem::s8_activation_levels(a.input_q.spec) : std::nullopt;
  if (!in)
    return "input_quantizer " + quantizer_text(a.input_q) +
           " is not a DoReFa/STCustomDoReFa activations quantizer of at most 8 bits";
  if (!a.kernel_q.levels() || sem::int8_weight_denominator(a.kernel_q.spec) == 0)
    return std::string(passes::weight_quantizer_key(n)) + " " + quantizer_text(a.kernel_q) +
           " has no int8 form (STCustomDoReFa weights of 2-8 bits, DoReFa weights of 1-7 bits)";
  if (n.op == Op::Conv2D && a.groups > 1) return "groups=" + std::to_string(a.groups) + ": the int8 conv runs ungrouped layers only";
  if (n.epi.bits)
    return "its output is binarized next, which the int8 kernels would do through integer thresholds BitLens does "
           "not derive for them";
  // The sum's scale 1/(L*m) becomes the first affine step of the output stage (or shares it with
  // a bias), so a chain that already needs both steps has no room for it.
  std::vector<PostOp> chain = n.epi.chain;
  chain.insert(chain.begin(), PostOp{PostOp::Kind::Scale, {1.0f}, {}, 0, 0, ""});
  // With a clamp between two affine steps (ReLU then BatchNorm), the part before the clamp is
  // one step.
  std::vector<PostOp> first;
  bool mid_clamp = false;
  for (const auto& op : chain) {
    if (op.kind == PostOp::Kind::Clamp) {
      mid_clamp = true;
      continue;
    }
    if (mid_clamp) break;
    first.push_back(op);
  }
  mid_clamp = mid_clamp && first.size() < chain.size() &&
              std::any_of(chain.begin() + static_cast<std::ptrdiff_t>(first.size()), chain.end(),
                          [](const PostOp& o) { return o.kind != PostOp::Kind::Clamp; });
  if (passes::affine_steps(chain).size() > passes::kMaxOutputSteps ||
      (mid_clamp && passes::affine_steps(first).size() > 1))
    return "its output stage already runs two affine steps in Keras' float32 order, with no room for the int8 sum's "
           "scale";
  if (a.same) {
    const double q = static_cast<double>(a.pad_value) * in->levels;
    if (q != std::nearbyint(q) || q - in->offset < -128 || q - in->offset > 127)
      return "pad_values=" + short_number(a.pad_value) + " is not a level of " + quantizer_text(a.input_q) +
             " that int8 holds";
  }
  const int64_t cin = g.tensors[n.inputs[0]].shape.back();
  const int64_t taps = n.op == Op::Conv2D ? int64_t{a.kh} * a.kw * cin : n.op == Op::DepthwiseConv2D ? int64_t{a.kh} * a.kw : cin;
  if (taps > 65536)
    return std::to_string(taps) + " products per output exceed the int8 kernels' exact int32 sum (65,536)";
  return "";
}

template <class P, class In>
KernelOp registration(Op op, KernelClass cls, const Mac<P, In>& k) {
  const bool bits = std::is_same_v<In, uint32_t>;
  const bool int8 = std::is_same_v<In, int8_t>;
  const bool bit_weights = cls == KernelClass::Binary || cls == KernelClass::BinaryWeights;
  KernelOp r{.name = k.name,
             .op = op,
             .cls = cls,
             .op_type = bits ? "sxor_s1_s1" : int8 ? "smul_s8_s8" : bit_weights ? "sadd_f32_s1" : "smul_f32_f32",
             .describe = [k](Step& s) { describe(k, s); }};
  if (cls == KernelClass::Binary) r.rejects = binary_rejects;
  if (cls == KernelClass::BinaryWeights) r.rejects = binary_weights_rejects;
  if (cls == KernelClass::Int8) r.rejects = int8_rejects;
  r.s8_output = int8;
  r.macc = macc;
  if (int8)
    r.weights_rom = [](const Node& n) { return rom_bytes(n.weights_s8) + rom_bytes(n.acc_init); };
  else if (bit_weights)
    r.weights_rom = [](const Node& n) { return rom_bytes(n.weight_bits); };
  else
    r.weights_rom = [](const Node& n) { return rom_bytes(n.weights); };
  if (k.scratch_size)
    r.scratch = [k](const Graph& g, const Node& n) {
      const P p = k.make(g, n);
      return k.scratch_size(&p);
    };
  return r;
}

}  // namespace

// Candidates are tried in this order: the first whose `rejects` is empty runs the node.
void add_mac_ops(std::vector<KernelOp>& r) {
  using K = KernelClass;
  using B = Mac<bl_bconv2d_params, uint32_t>;
  KernelOp sliced = registration(Op::Conv2D, K::Binary,
                                 B{"bl_bconv2d_bitsliced", "bl_bconv2d_params", mac_params<bl_bconv2d_params>,
                                   bl_bconv2d_bitsliced, nullptr, bl_bconv2d_bitsliced_scratch_size});
  sliced.rejects = bitsliced_rejects;
  sliced.residual_output = true;
  r.push_back(std::move(sliced));
  KernelOp patch = registration(Op::Conv2D, K::Binary,
                                B{"bl_bconv2d", "bl_bconv2d_params", mac_params<bl_bconv2d_params>, bl_bconv2d, nullptr,
                                  bl_bconv2d_scratch_size});
  patch.s8_output = true;
  patch.residual_output = true;
  r.push_back(std::move(patch));
  r.push_back(registration(Op::Conv2D, K::BinaryWeights,
                           Mac<bl_bwconv2d_params, float>{"bl_bwconv2d", "bl_bwconv2d_params", mac_params<bl_bwconv2d_params>,
                                                          bl_bwconv2d, nullptr, bl_bwconv2d_scratch_size}));
  r.push_back(registration(Op::Conv2D, K::Int8,
                           Mac<bl_conv2d_s8_params, int8_t>{"bl_conv2d_s8", "bl_conv2d_s8_params", mac_params<bl_conv2d_s8_params>,
                                                            bl_conv2d_s8, nullptr, bl_conv2d_s8_scratch_size}));
  r.push_back(registration(Op::Conv2D, K::Float,
                           Mac<bl_conv2d_params, float>{"bl_conv2d", "bl_conv2d_params", mac_params<bl_conv2d_params>, nullptr, bl_conv2d}));
  r.push_back(registration(Op::DepthwiseConv2D, K::Binary,
                           Mac<bl_bdepthwise_params, uint32_t>{"bl_bdepthwise", "bl_bdepthwise_params", mac_params<bl_bdepthwise_params>,
                                                               bl_bdepthwise, nullptr, bl_bdepthwise_scratch_size}));
  r.push_back(registration(Op::DepthwiseConv2D, K::BinaryWeights,
                           Mac<bl_bwdepthwise_params, float>{"bl_bwdepthwise", "bl_bwdepthwise_params",
                                                             mac_params<bl_bwdepthwise_params>, nullptr, bl_bwdepthwise}));
  r.push_back(registration(Op::DepthwiseConv2D, K::Int8,
                           Mac<bl_depthwise_s8_params, int8_t>{"bl_depthwise_s8", "bl_depthwise_s8_params",
                                                               mac_params<bl_depthwise_s8_params>, bl_depthwise_s8, nullptr,
                                                               bl_depthwise_s8_scratch_size}));
  r.push_back(registration(Op::DepthwiseConv2D, K::Float,
                           Mac<bl_depthwise_params, float>{"bl_depthwise", "bl_depthwise_params", mac_params<bl_depthwise_params>,
                                                           nullptr, bl_depthwise}));
  r.push_back(registration(Op::Dense, K::Binary,
                           Mac<bl_bdense_params, uint32_t>{"bl_bdense", "bl_bdense_params", mac_params<bl_bdense_params>, bl_bdense,
                                                           nullptr, bl_bdense_scratch_size}));
  r.push_back(registration(Op::Dense, K::BinaryWeights,
                           Mac<bl_bwdense_params, float>{"bl_bwdense", "bl_bwdense_params", mac_params<bl_bwdense_params>, nullptr,
                                                         bl_bwdense}));
  r.push_back(registration(Op::Dense, K::Int8,
                           Mac<bl_dense_s8_params, int8_t>{"bl_dense_s8", "bl_dense_s8_params", mac_params<bl_dense_s8_params>,
                                                           nullptr, bl_dense_s8}));
  r.push_back(registration(Op::Dense, K::Float,
                           Mac<bl_dense_params, float>{"bl_dense", "bl_dense_params", mac_params<bl_dense_params>, nullptr, bl_dense}));
}

}  // namespace bitlens::ops
