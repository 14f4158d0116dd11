// Builds the kernel library's parameter structs from IR nodes, for the kernel registrations
// (core/ops), which the executor, the scratch-size accounting and the code generator all read.
#pragma once

#include <cmath>
#include <type_traits>

#include "bitlens/bl_kernels.h"
#include "bitlens/ir.hpp"

namespace bitlens::ops {

bl_conv_geom conv_geom(const Graph& g, const Node& n);
bl_output output_stage(const Node& n);
bl_bpad binary_pad(const Node& n);
// An int8 MAC node's pad value as its input tensor stores it: pad_values * levels - offset.
int32_t s8_pad_value(const Graph& g, const Node& n);

// The parameter struct of any of the nine MAC kernels (conv2d, depthwise, dense; binary,
// binary-weights, float): every field the struct has, filled from the node (the field printer
// in mac.cpp prints the same fields in the same order).
template <class P>
P mac_params(const Graph& g, const Node& n) {
  P p{};
  if constexpr (requires { p.g; }) {
    p.g = conv_geom(g, n);
  } else {
    p.n_in = static_cast<int32_t>(g.tensors[n.inputs[0]].elements());
    p.n_out = static_cast<int32_t>(g.tensors[n.outputs[0]].elements());
  }
  if constexpr (requires { p.depth_multiplier; }) p.depth_multiplier = n.conv.depth_multiplier;
  if constexpr (requires { p.pad; }) p.pad = binary_pad(n);
  if constexpr (std::is_same_v<decltype(p.weights), const int8_t*>) {
    if constexpr (requires { p.pad_value; }) p.pad_value = s8_pad_value(g, n);
    p.weights = n.weights_s8.data();
    p.acc_init = n.acc_init.empty() ? nullptr : n.acc_init.data();
  } else {
    if constexpr (requires { p.pad_value; }) p.pad_value = n.conv.pad_value;
    if constexpr (std::is_same_v<decltype(p.weights), const uint32_t*>)
      p.weights = n.weight_bits.data();
    else
      p.weights = n.weights.data();
  }
  p.out = output_stage(n);
  if constexpr (requires { p.groups; }) p.groups = n.conv.groups;
  return p;
}
bl_pool_params pool_params(const Graph& g, const Node& n);

// A levels quantizer as bl_quantize_f32 takes it: y = round(clamp(x, lo, hi) * levels) / levels.
struct QuantizeParams {
  float lo = 0, hi = 0, levels = 1;
};
QuantizeParams quantize_params(const Quantizer& q);

// The activation step of a node: an Activation node's whole work, or a conv/dense layer's own
// activation run in place on its float output (clamps are folded into the output stage before
// this). One description for the Executor and the code generator.
struct ActStep {
  enum Kind { None, Softmax, LogSoftmax, Elementwise } kind = None;
  bl_act act{};        // for Elementwise; act.slopes points into the node (PReLU)
  int32_t period = 1;  // channels, or the PReLU slope period
  size_t slope_count = 0;
};
ActStep activation_step(const Graph& g, const Node& n);
// The C enumerator's name, for generated code.
const char* activation_enum_name(bl_activation a);

}  // namespace bitlens::ops
