// Builds the kernel library's parameter structs from IR nodes, for the kernel registrations
// (core/ops), which the executor, the scratch-size accounting and the code generator all read.
#pragma once

#include <cmath>

#include "bitlens/bl_kernels.h"
#include "bitlens/ir.hpp"

namespace bitlens::ops {

bl_conv_geom conv_geom(const Graph& g, const Node& n);
bl_output output_stage(const Node& n);
bl_bpad binary_pad(const Node& n);

bl_bconv2d_params bconv2d_params(const Graph& g, const Node& n);
bl_bdepthwise_params bdepthwise_params(const Graph& g, const Node& n);
bl_bdense_params bdense_params(const Graph& g, const Node& n);
bl_bwconv2d_params bwconv2d_params(const Graph& g, const Node& n);
bl_bwdepthwise_params bwdepthwise_params(const Graph& g, const Node& n);
bl_bwdense_params bwdense_params(const Graph& g, const Node& n);
bl_conv2d_params conv2d_params(const Graph& g, const Node& n);
bl_depthwise_params depthwise_params(const Graph& g, const Node& n);
bl_dense_params dense_params(const Graph& g, const Node& n);
bl_pool_params pool_params(const Graph& g, const Node& n);

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
