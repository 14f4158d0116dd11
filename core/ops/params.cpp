// Parameter structs for the C kernels, filled from IR nodes (pointers into the node's vectors).
#include "ops/params.hpp"

namespace bitlens::ops {

bl_conv_geom conv_geom(const Graph& g, const Node& n) {
  const auto is = hwc(g.tensors[n.inputs[0]].shape);
  const auto os = hwc(g.tensors[n.outputs[0]].shape);
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
  o.kind = e.bits ? BL_OUT_BITS : e.s8 ? BL_OUT_S8 : BL_OUT_F32;
  o.mul = e.mul.empty() ? nullptr : e.mul.data();
  o.add = e.add.empty() ? nullptr : e.add.data();
  o.act_min = e.act_min;
  o.act_max = e.act_max;
  o.threshold = e.threshold.empty() ? nullptr : e.threshold.data();
  o.flip = e.flip.empty() ? nullptr : e.flip.data();
  o.mul2 = e.mul2.empty() ? nullptr : e.mul2.data();
  o.add2 = e.add2.empty() ? nullptr : e.add2.data();
  o.mid_clamp = e.mid_clamp ? 1 : 0;
  o.mid_min = e.mid_clamp ? e.mid_min : 0.0f;
  o.mid_max = e.mid_clamp ? e.mid_max : 0.0f;
  if (e.s8) {
    o.s8_mul = e.s8_mul;
    o.s8_min = e.s8_min;
    o.s8_max = e.s8_max;
  }
  return o;
}

bl_bpad binary_pad(const Node& n) {
  if (n.conv.pad_value == 1.0f) return BL_PAD_PLUS_ONE;
  if (n.conv.pad_value == -1.0f) return BL_PAD_MINUS_ONE;
  return BL_PAD_ZERO;  // also "valid": no padded taps exist
}

int32_t s8_pad_value(const Graph& g, const Node& n) {
  const Tensor::S8& q = g.tensors[n.inputs[0]].s8;
  return static_cast<int32_t>(std::lround(static_cast<double>(n.conv.pad_value) * q.levels)) - q.offset;
}

bl_pool_params pool_params(const Graph& g, const Node& n) {
  bl_pool_params p{};
  p.g = conv_geom(g, n);
  p.or_mask = n.or_mask.empty() ? nullptr : n.or_mask.data();
  return p;
}

QuantizeParams quantize_params(const Quantizer& q) {
  if (!q.elementwise_levels())
    throw ModelError("internal: quantizer " + q.name + " is not an element-wise levels quantizer");
  if (q.kind == Quantizer::Kind::QKeras) {
    const auto c = sem::qkeras_clip_levels(q.spec);
    if (!c) throw ModelError("internal: quantizer " + q.name + " has no clip-and-levels form");
    return {c->lo, c->hi, c->n};
  }
  if (q.kind == Quantizer::Kind::StDoReFa) {
    const float n = sem::st_dorefa_act_n(q.spec.k_bit);
    return {-1.0f, 1.0f - 1.0f / n, n};
  }
  return {0.0f, 1.0f, sem::dorefa_n(q.spec.k_bit)};
}

ActStep activation_step(const Graph& g, const Node& n) {
  using K = sem::ActivationKind;
  ActStep s;
  const Tensor& ot = g.tensors[n.outputs.at(0)];
  s.period = static_cast<int32_t>(ot.shape.empty() ? 1 : ot.shape.back());
  const ActParams& a = n.act;
  // A conv/dense layer's linear activation is no step; an Activation("linear") layer still
  // has to write its output tensor.
  if (a.kind == K::Linear && n.op != Op::Activation) return s;
  if (a.kind == K::Softmax || a.kind == K::LogSoftmax) {
    s.kind = a.kind == K::Softmax ? ActStep::Softmax : ActStep::LogSoftmax;
    return s;
  }
  s.kind = ActStep::Elementwise;
  s.act.max_value = INFINITY;
  s.act.alpha = a.alpha;
  bl_activation k = BL_ACT_LINEAR;
  switch (a.kind) {
    case K::Linear: k = BL_ACT_LINEAR; break;
    case K::Relu:
      if (a.alpha != 0.0f || a.threshold != 0.0f || (std::isfinite(a.max_value) && a.max_value != 6.0f)) {
        k = BL_ACT_RELU_EX;
        s.act.max_value = a.max_value;
        s.act.threshold = a.threshold;
      } else {
        k = a.max_value == 6.0f ? BL_ACT_RELU6 : BL_ACT_RELU;
      }
      break;
    case K::Relu6: k = BL_ACT_RELU6; break;
    case K::Sigmoid: k = BL_ACT_SIGMOID; break;
    case K::Tanh: k = BL_ACT_TANH; break;
    case K::HardSigmoid: k = BL_ACT_HARD_SIGMOID; break;
    case K::HardSigmoidKeras3: k = BL_ACT_HARD_SIGMOID_K3; break;
    case K::Swish: k = BL_ACT_SWISH; break;
    case K::HardTanh: k = BL_ACT_HARD_TANH; break;
    case K::Elu: k = BL_ACT_ELU; break;
    case K::Selu: k = BL_ACT_SELU; break;
    case K::Softplus: k = BL_ACT_SOFTPLUS; break;
    case K::Softsign: k = BL_ACT_SOFTSIGN; break;
    case K::Exponential: k = BL_ACT_EXPONENTIAL; break;
    case K::Gelu: k = BL_ACT_GELU; break;
    case K::GeluTanh: k = BL_ACT_GELU_TANH; break;
    case K::LeakyRelu: k = BL_ACT_LEAKY_RELU; break;
    case K::HardSwish: k = BL_ACT_HARD_SWISH; break;
    case K::Mish: k = BL_ACT_MISH; break;
    case K::LeakyTanh: k = BL_ACT_LEAKY_TANH; break;
    case K::Prelu:
      k = BL_ACT_PRELU;
      s.act.slopes = a.slopes.data();
      s.slope_count = a.slopes.size();
      s.period = static_cast<int32_t>(a.slopes.size());
      break;
    case K::Softmax:
    case K::LogSoftmax:
    case K::Quantizer:
      throw ModelError("internal: activation '" + n.activation + "' of '" + n.name + "' has no kernel");
  }
  s.act.kind = k;
  return s;
}

const char* activation_enum_name(bl_activation a) {
  switch (a) {
    case BL_ACT_LINEAR: return "BL_ACT_LINEAR";
    case BL_ACT_RELU: return "BL_ACT_RELU";
    case BL_ACT_RELU6: return "BL_ACT_RELU6";
    case BL_ACT_SIGMOID: return "BL_ACT_SIGMOID";
    case BL_ACT_TANH: return "BL_ACT_TANH";
    case BL_ACT_HARD_SIGMOID: return "BL_ACT_HARD_SIGMOID";
    case BL_ACT_HARD_TANH: return "BL_ACT_HARD_TANH";
    case BL_ACT_HARD_SIGMOID_K3: return "BL_ACT_HARD_SIGMOID_K3";
    case BL_ACT_HARD_SWISH: return "BL_ACT_HARD_SWISH";
    case BL_ACT_SWISH: return "BL_ACT_SWISH";
    case BL_ACT_MISH: return "BL_ACT_MISH";
    case BL_ACT_SOFTPLUS: return "BL_ACT_SOFTPLUS";
    case BL_ACT_SOFTSIGN: return "BL_ACT_SOFTSIGN";
    case BL_ACT_EXPONENTIAL: return "BL_ACT_EXPONENTIAL";
    case BL_ACT_ELU: return "BL_ACT_ELU";
    case BL_ACT_SELU: return "BL_ACT_SELU";
    case BL_ACT_GELU: return "BL_ACT_GELU";
    case BL_ACT_GELU_TANH: return "BL_ACT_GELU_TANH";
    case BL_ACT_LEAKY_RELU: return "BL_ACT_LEAKY_RELU";
    case BL_ACT_RELU_EX: return "BL_ACT_RELU_EX";
    case BL_ACT_PRELU: return "BL_ACT_PRELU";
    case BL_ACT_LEAKY_TANH: return "BL_ACT_LEAKY_TANH";
  }
  return "BL_ACT_LINEAR";
}

}  // namespace bitlens::ops
