// Private to core/reference: the per-op functions, the layer-config readers with error messages,
// and shape helpers shared by them. Every op takes the layer and its input arrays.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/format.hpp"
#include "bitlens/model.hpp"
#include "bitlens/semantics.hpp"

namespace bitlens::ref {

// Everything an op needs beyond its inputs.
struct OpContext {
  const Layer& layer;
  bool keras3 = false;
  bool tf_keras2 = false;  // keras_version 2.x (sem::tf_keras2_file)
};

using Inputs = std::vector<const Array*>;

// ---- errors and config readers (config.cpp) ----

// "layer 'NAME' (CLASS): MESSAGE"
[[noreturn]] void fail(const Layer& layer, const std::string& message);

bool has_key(const Layer& layer, const char* key);  // present and not null
int64_t cfg_int(const Layer& layer, const char* key, std::optional<int64_t> fallback);
double cfg_number(const Layer& layer, const char* key, std::optional<double> fallback);
bool cfg_bool(const Layer& layer, const char* key, std::optional<bool> fallback);
std::string cfg_string(const Layer& layer, const char* key, std::optional<std::string> fallback);
// An int or a list of two ints (kernel_size, strides, pool_size, ...).
std::array<int64_t, 2> cfg_pair(const Layer& layer, const char* key,
                                std::optional<std::array<int64_t, 2>> fallback);
// "valid" or "same" (lowercase as Keras writes it; other spellings are rejected).
bool cfg_same_padding(const Layer& layer);
// Rejects data_format "channels_first" (the interpreter is NHWC only).
void require_channels_last(const Layer& layer);
sem::QuantizerSpec cfg_quantizer(const Layer& layer, const char* key);
sem::ActivationSpec cfg_activation(const Layer& layer, const char* key, bool keras3);

// A weight by short name with its expected shape checked; throws naming what is missing.
const Array& weight(const Layer& layer, const std::string& name,
                    const std::vector<int64_t>& expected_shape);

// Checks the number of inputs.
void require_inputs(const Layer& layer, const Inputs& in, size_t count);
// Checks the rank of an input (rank includes the batch axis).
void require_rank(const Layer& layer, const Array& a, size_t rank, const char* what);

// ---- ops ----
Array conv2d(const OpContext& ctx, const Inputs& in);            // (Quant)Conv2D
Array depthwise_conv2d(const OpContext& ctx, const Inputs& in);  // (Quant)DepthwiseConv2D
Array separable_conv2d(const OpContext& ctx, const Inputs& in);  // (Quant)SeparableConv2D
Array dense(const OpContext& ctx, const Inputs& in);             // (Quant)Dense
Array batch_norm(const OpContext& ctx, const Inputs& in);
Array pool2d(const OpContext& ctx, const Inputs& in, bool is_max);
// 1-D layers as their 2-D twins of height 1 (one_d.cpp), and UpSampling1D/2D.
Array conv1d(const OpContext& ctx, const Inputs& in);  // (Quant)Conv1D, incl. causal
Array pool1d(const OpContext& ctx, const Inputs& in, bool is_max);
Array global_pool1d(const OpContext& ctx, const Inputs& in, bool is_max);
Array zero_padding1d(const OpContext& ctx, const Inputs& in);
Array upsampling(const OpContext& ctx, const Inputs& in, bool one_d);
Array global_pool2d(const OpContext& ctx, const Inputs& in, bool is_max);
Array flatten(const OpContext& ctx, const Inputs& in);
Array reshape(const OpContext& ctx, const Inputs& in);
Array zero_padding2d(const OpContext& ctx, const Inputs& in);
Array concatenate(const OpContext& ctx, const Inputs& in);
Array activation_layer(const OpContext& ctx, const Inputs& in);
Array relu_layer(const OpContext& ctx, const Inputs& in);
Array leaky_relu_layer(const OpContext& ctx, const Inputs& in);
Array elu_layer(const OpContext& ctx, const Inputs& in);
Array prelu_layer(const OpContext& ctx, const Inputs& in);
Array softmax_layer(const OpContext& ctx, const Inputs& in);
Array rescaling(const OpContext& ctx, const Inputs& in);
// Add, Subtract, Multiply, Average, Maximum, Minimum (NumPy broadcasting).
Array merge(const OpContext& ctx, const Inputs& in, const std::string& op);
Array tf_op_lambda(const OpContext& ctx, const Inputs& in);

// ---- the interpreter's table: class name -> definition ----
using OpFn = std::function<Array(const OpContext&, const Inputs&)>;
using OpTable = std::map<std::string, OpFn>;
// Each file adds the classes it defines (a new layer: its definition and its row, one file).
void add_conv_ops(OpTable& t);            // conv.cpp
void add_normalize_pool_ops(OpTable& t);  // normalize_pool.cpp
void add_one_d_ops(OpTable& t);           // one_d.cpp
void add_shape_ops(OpTable& t);           // shape_ops.cpp
void add_elementwise_ops(OpTable& t);     // elementwise.cpp

// ---- helpers shared by the ops ----

// Applies a quantizer to an input tensor or a kernel (tensor-wide statistics over that tensor).
Array quantized(const sem::QuantizerSpec& q, const Array& a);
// Pads an NHWC tensor with `value`: rows before/after, columns before/after.
Array pad_nhwc(const Array& x, int64_t top, int64_t bottom, int64_t left, int64_t right,
               float value);
// Elementwise binary op with NumPy broadcasting of the two shapes.
Array broadcast_binary(const Layer& layer, const Array& a, const Array& b,
                       float (*f)(float, float));

}  // namespace bitlens::ref
