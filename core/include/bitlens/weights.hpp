// `bitlens weights`: the weights a compiled model really computes with — the kernel after its
// quantizer (±1, ±alpha or float, in Keras' shape), the packed bits the C kernel reads, and the
// output stage after folding (integer thresholds, or the float multiply/add steps) — written as
// .npy files, C arrays or JSON, each with a manifest (weights.json). Format: docs/weights.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bitlens/codegen.hpp"
#include "bitlens/compiler.hpp"

namespace bitlens {

struct WeightTensor {
  std::string name;   // "kernel", "kernel_sign", "kernel_scale", "kernel_bits", "bias", "threshold", ...
  std::string dtype;  // numpy's name: "float32", "int8", "uint8", "int32", "uint32"
  std::vector<int64_t> shape;
  std::vector<float> f32;     // float32 tensors
  std::vector<int64_t> ints;  // integer tensors
  std::string meaning;        // one sentence, for the manifest and the C comments
};

// The constants of one executing node. A Keras layer is one node, except a separable
// convolution (nodes "<layer>/depthwise" and "<layer>").
struct NodeWeights {
  std::string node, layer, class_name;
  std::string op;            // IR op, "conv2d", "dense", ...
  std::string kernel;        // the C kernel, "bl_bconv2d"
  std::string kernel_class;  // "binary", "binary-weights", "int8", "float"
  std::string input_format, output_format;  // "f32" / "s1" / "s8"
  std::vector<int64_t> output_shape;         // without batch
  std::string input_quantizer, kernel_quantizer;  // as the file names them; empty for none
  std::string activation;  // the layer's own activation after the output stage, when not a clamp
  std::string accumulate;  // conv/dense: what the kernel sums (d or acc) before the output stage
  std::vector<std::string> folded;  // Keras layers computed by this node's output stage, in order
  bool has_geometry = false;
  ConvAttrs conv;  // kernel size, strides, dilation, padding amounts, pad value, groups
  float act_min = -INFINITY, act_max = INFINITY;
  bool mid_clamp = false;  // a clamp between mul/add and mul2/add2 (ReLU then BatchNorm)
  float mid_min = -INFINITY, mid_max = INFINITY;
  // int8 kernels: input levels are integers over input_levels, kernel levels integers over
  // weight_denominator (0: not an int8 node).
  float input_levels = 0;
  int32_t weight_denominator = 0;
  // int8 output (output_format "s8"): the folded quantizer's levels and integer clamp; 0: none.
  float output_levels = 0;
  int32_t output_min = 0, output_max = 0;
  // A Keras Add folded into the float output stage (listed in `folded` too): its layer name and
  // the tensor its other input is, added to each value last; empty: none.
  std::string residual_add, residual_operand;
  std::string rule;  // how the node's output follows from its input and these tensors
  std::vector<WeightTensor> tensors;
};

struct WeightsExport {
  std::string model_file;
  std::vector<NodeWeights> nodes;
  struct Skipped {
    std::string layer, why;
  };
  std::vector<Skipped> skipped;  // layers with weights that no kernel runs (unsupported)
};

// The effective weights of every executing node with constants, or of the nodes of Keras layer
// `layer` only. Throws ModelError when `layer` names no layer, or a layer without constants.
WeightsExport effective_weights(const CompileResult& c, const std::string& layer = "");

enum class WeightsFormat { Npy, C, Json };

// The files to write: weights.json (the manifest; with the values inline for Json) and, for
// Npy, one <node>.<tensor>.npy per tensor, for C weights.h and weights.c.
std::vector<GeneratedFile> weights_files(const WeightsExport& w, WeightsFormat format);

// The manifest, with or without the values.
json weights_manifest(const WeightsExport& w, WeightsFormat format);

}  // namespace bitlens
