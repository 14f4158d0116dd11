// Test support: (Quant)Conv1D layers as tf.keras 2.x / Larq serialize them, for the 1-D tests.
#pragma once

#include <memory>

#include <string>
#include <utility>
#include <vector>

#include "support/keras_builder.hpp"

namespace one_d {

using bitlens::Array;
using bitlens::json;
namespace kb = bitlens::keras;

inline Array random_array(std::vector<int64_t> shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Array a{shape, {}};
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int64_t i = 0; i < a.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    a.data.push_back(lo + (hi - lo) * static_cast<float>(s >> 40) / static_cast<float>(1ull << 24));
  }
  return a;
}

struct Conv1DSpec {
  int filters, k;
  std::string padding = "valid";
  int strides = 1, dilation = 1;
  bool quant = false;
  double pad_values = 0.0;
  bool use_bias = true;
  std::string activation = "linear";
  int groups = 1;  // kernel (k, cin / groups, filters)
  // With quant: the quantizer objects to write instead of SteSign (null: SteSign).
  json input_quantizer = nullptr, kernel_quantizer = nullptr;
};

// A (Quant)Conv1D as tf.keras 2.x / Larq serialize it.
inline kb::Tensor conv1d(kb::ModelBuilder& b, const kb::Tensor& x, const Conv1DSpec& s, uint64_t seed) {
  const int64_t steps = x.shape[0], cin = x.shape[1];
  const int64_t eff = int64_t{s.k - 1} * s.dilation + 1;
  const int64_t out = s.padding == "valid" ? (steps - eff) / s.strides + 1 : (steps + s.strides - 1) / s.strides;
  json cfg = {{"filters", s.filters},
              {"kernel_size", {s.k}},
              {"strides", {s.strides}},
              {"padding", s.padding},
              {"data_format", "channels_last"},
              {"dilation_rate", {s.dilation}},
              {"groups", s.groups},
              {"activation", s.activation},
              {"use_bias", s.use_bias},
              {"kernel_initializer", {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}}},
              {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
              {"kernel_regularizer", nullptr},
              {"bias_regularizer", nullptr},
              {"activity_regularizer", nullptr},
              {"kernel_constraint", nullptr},
              {"bias_constraint", nullptr}};
  if (s.quant) {
    const json ste = {{"class_name", "SteSign"}, {"config", {{"clip_value", 1.0}}}};
    cfg["input_quantizer"] = s.input_quantizer.is_null() ? ste : s.input_quantizer;
    cfg["kernel_quantizer"] = s.kernel_quantizer.is_null() ? ste : s.kernel_quantizer;
    cfg["kernel_constraint"] = "weight_clip";
    cfg["pad_values"] = s.pad_values;
  }
  std::vector<std::pair<std::string, Array>> w = {{"kernel", random_array({s.k, cin / s.groups, s.filters}, seed)}};
  if (s.use_bias) w.emplace_back("bias", random_array({s.filters}, seed + 1, -0.5f, 0.5f));
  return b.layer(s.quant ? "QuantConv1D" : "Conv1D", {x}, cfg, {out, s.filters}, w);
}

// A TCN as Keras 2.12 saves it: residual blocks as nested functional models, causal dilated
// Conv1D, BatchNormalization(axis=[2]), ReLU, Add; Dense on the rank-3 sequence output (64, 3).
inline bitlens::Model tcn_model() {
  kb::ModelBuilder outer("tcn", kb::Style::functional, 7);
  auto x = outer.input({64, 4});
  x = conv1d(outer, x, {.filters = 8, .k = 1}, 10);
  std::vector<std::unique_ptr<kb::ModelBuilder>> blocks;  // outer.nested() keeps pointers to them
  for (int d : {1, 2, 4}) {
    blocks.push_back(std::make_unique<kb::ModelBuilder>("block_d" + std::to_string(d), kb::Style::functional,
                                                        static_cast<uint64_t>(20 + d)));
    kb::ModelBuilder& blk = *blocks.back();
    auto i = blk.input({64, 8});
    auto y = conv1d(blk, i, {.filters = 8, .k = 3, .padding = "causal", .dilation = d}, static_cast<uint64_t>(30 + d));
    y = blk.batch_norm(y);
    y = blk.activation(y, "relu");
    y = conv1d(blk, y, {.filters = 8, .k = 3, .padding = "causal", .dilation = d}, static_cast<uint64_t>(40 + d));
    y = blk.batch_norm(y);
    y = blk.add({i, y});
    blk.activation(y, "relu");
    x = outer.nested(blk, {x});
  }
  kb::DenseOptions dense;
  dense.units = 3;
  outer.dense(x, dense);  // on (64, 8): per step
  return outer.build();
}

}  // namespace one_d
