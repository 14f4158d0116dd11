// Parameter structs for the C kernels, filled from IR nodes (pointers into the node's vectors).
#include "runtime/kernel_params.hpp"

namespace bitlens::runtime {

bl_conv_geom conv_geom(const Graph& g, const Node& n) {
  const auto& is = g.tensors[n.inputs[0]].shape;
  const auto& os = g.tensors[n.outputs[0]].shape;
  bl_conv_geom geo{};
  geo.in_h = static_cast<int32_t>(is[0]);
  geo.in_w = static_cast<int32_t>(is[1]);
  geo.in_c = static_cast<int32_t>(is[2]);
  geo.out_h = static_cast<int32_t>(os[0]);
  geo.out_w = static_cast<int32_t>(os[1]);
  geo.out_c = static_cast<int32_t>(os[2]);
  const bool pool = n.op == Op::MaxPool || n.op == Op::AvgPool;
  geo.k_h = pool ? n.pool.kh : n.conv.kh;
  geo.k_w = pool ? n.pool.kw : n.conv.kw;
  geo.stride_h = pool ? n.pool.sh : n.conv.sh;
  geo.stride_w = pool ? n.pool.sw : n.conv.sw;
  geo.dil_h = pool ? 1 : n.conv.dh;
  geo.dil_w = pool ? 1 : n.conv.dw;
  geo.pad_top = pool ? n.pool.pad_top : n.conv.pad_top;
  geo.pad_left = pool ? n.pool.pad_left : n.conv.pad_left;
  return geo;
}

bl_output output_stage(const Node& n) {
  const auto& e = n.epi;
  bl_output o{};
  o.kind = e.bits ? BL_OUT_BITS : BL_OUT_F32;
  o.mul = e.mul.empty() ? nullptr : e.mul.data();
  o.add = e.add.empty() ? nullptr : e.add.data();
  o.act_min = e.act_min;
  o.act_max = e.act_max;
  o.threshold = e.threshold.empty() ? nullptr : e.threshold.data();
  o.flip = e.flip.empty() ? nullptr : e.flip.data();
  return o;
}

bl_bpad binary_pad(const Node& n) {
  if (n.conv.pad_value == 1.0f) return BL_PAD_PLUS_ONE;
  if (n.conv.pad_value == -1.0f) return BL_PAD_MINUS_ONE;
  return BL_PAD_ZERO;  // also "valid": no padded taps exist
}

bl_bconv2d_params bconv2d_params(const Graph& g, const Node& n) {
  bl_bconv2d_params p{};
  p.g = conv_geom(g, n);
  p.pad = binary_pad(n);
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_bdepthwise_params bdepthwise_params(const Graph& g, const Node& n) {
  bl_bdepthwise_params p{};
  p.g = conv_geom(g, n);
  p.depth_multiplier = n.conv.depth_multiplier;
  p.pad = binary_pad(n);
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_bdense_params bdense_params(const Graph& g, const Node& n) {
  bl_bdense_params p{};
  p.n_in = static_cast<int32_t>(g.tensors[n.inputs[0]].elements());
  p.n_out = static_cast<int32_t>(g.tensors[n.outputs[0]].elements());
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_bwconv2d_params bwconv2d_params(const Graph& g, const Node& n) {
  bl_bwconv2d_params p{};
  p.g = conv_geom(g, n);
  p.pad_value = n.conv.pad_value;
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_bwdepthwise_params bwdepthwise_params(const Graph& g, const Node& n) {
  bl_bwdepthwise_params p{};
  p.g = conv_geom(g, n);
  p.depth_multiplier = n.conv.depth_multiplier;
  p.pad_value = n.conv.pad_value;
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_bwdense_params bwdense_params(const Graph& g, const Node& n) {
  bl_bwdense_params p{};
  p.n_in = static_cast<int32_t>(g.tensors[n.inputs[0]].elements());
  p.n_out = static_cast<int32_t>(g.tensors[n.outputs[0]].elements());
  p.weights = n.weight_bits.data();
  p.out = output_stage(n);
  return p;
}

bl_conv2d_params conv2d_params(const Graph& g, const Node& n) {
  bl_conv2d_params p{};
  p.g = conv_geom(g, n);
  p.pad_value = n.conv.pad_value;
  p.weights = n.weights.data();
  p.out = output_stage(n);
  return p;
}

bl_depthwise_params depthwise_params(const Graph& g, const Node& n) {
  bl_depthwise_params p{};
  p.g = conv_geom(g, n);
  p.depth_multiplier = n.conv.depth_multiplier;
  p.pad_value = n.conv.pad_value;
  p.weights = n.weights.data();
  p.out = output_stage(n);
  return p;
}

bl_dense_params dense_params(const Graph& g, const Node& n) {
  bl_dense_params p{};
  p.n_in = static_cast<int32_t>(g.tensors[n.inputs[0]].elements());
  p.n_out = static_cast<int32_t>(g.tensors[n.outputs[0]].elements());
  p.weights = n.weights.data();
  p.out = output_stage(n);
  return p;
}

bl_pool_params pool_params(const Graph& g, const Node& n) {
  bl_pool_params p{};
  p.g = conv_geom(g, n);
  p.or_mask = n.or_mask.empty() ? nullptr : n.or_mask.data();
  return p;
}

size_t scratch_bytes(const Graph& g, const Node& n) {
  if (n.removed) return 0;
  const auto k = n.decision.kernel;
  if (k == KernelClass::Binary) {
    if (n.op == Op::Conv2D) {
      const auto p = bconv2d_params(g, n);
      return bl_bconv2d_scratch_size(&p);
    }
    if (n.op == Op::DepthwiseConv2D) {
      const auto p = bdepthwise_params(g, n);
      return bl_bdepthwise_scratch_size(&p);
    }
    if (n.op == Op::Dense) {
      const auto p = bdense_params(g, n);
      return bl_bdense_scratch_size(&p);
    }
  }
  if (k == KernelClass::BinaryWeights && n.op == Op::Conv2D) {
    const auto p = bwconv2d_params(g, n);
    return bl_bwconv2d_scratch_size(&p);
  }
  return 0;
}

bl_activation activation_of(const std::string& a) {
  if (a == "relu") return BL_ACT_RELU;
  if (a == "relu6") return BL_ACT_RELU6;
  if (a == "sigmoid") return BL_ACT_SIGMOID;
  if (a == "tanh") return BL_ACT_TANH;
  if (a == "hard_sigmoid") return BL_ACT_HARD_SIGMOID;
  return BL_ACT_LINEAR;
}

}  // namespace bitlens::runtime
