// Reference 1-D layers (Conv1D, QuantConv1D, MaxPooling1D, AveragePooling1D, the global 1-D
// pools, ZeroPadding1D) as their 2-D twins on a height-1 image — Keras defines them as exactly
// that: the same convolution/pooling along one axis — plus UpSampling1D/2D (nearest).
// Causal padding (Conv1D only) pads the start of the *quantized* input with zeros, as
// keras' Conv.call does after Larq's input_quantizer, then convolves with "valid".
#include "reference/ops.hpp"

namespace bitlens::ref {
namespace {

// [v] or v -> [1, v]; absent or null stays absent or null.
void widen(json& cfg, const char* key) {
  if (!cfg.contains(key) || cfg[key].is_null()) return;
  const json v = cfg[key];
  if (v.is_number_integer()) cfg[key] = json::array({1, v});
  else if (v.is_array() && v.size() == 1) cfg[key] = json::array({1, v[0]});
}

Array add_height(const Layer& layer, const Array& x) {
  require_rank(layer, x, 3, "the input");
  return Array{{x.shape[0], 1, x.shape[1], x.shape[2]}, x.data};
}

Array drop_height(Array y) {
  y.shape.erase(y.shape.begin() + 1);
  return y;
}

}  // namespace

Array conv1d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  Layer l2 = layer;
  for (const char* k : {"kernel_size", "strides", "dilation_rate"}) widen(l2.config, k);
  if (l2.weights.count("kernel")) {
    Array& k = l2.weights["kernel"];
    k.shape.insert(k.shape.begin(), 1);
  }
  Array x = add_height(layer, *in[0]);
  if (cfg_string(layer, "padding", std::string("valid")) == "causal") {
    const auto k = cfg_pair(l2, "kernel_size", std::nullopt)[1];
    const auto d = cfg_pair(l2, "dilation_rate", std::array<int64_t, 2>{1, 1})[1];
    x = pad_nhwc(quantized(cfg_quantizer(layer, "input_quantizer"), x), 0, 0, (k - 1) * d, 0, 0.0f);
    l2.config["padding"] = "valid";
    // A k-bit levels quantizer maps its own levels and the padded zeros to themselves, so it
    // stays on the layer: the integer definition (conv.cpp) reads the input's levels from it.
    if (!sem::s8_activation_levels(cfg_quantizer(layer, "input_quantizer"))) l2.config["input_quantizer"] = nullptr;
  }
  return drop_height(conv2d(OpContext{l2, ctx.keras3}, {&x}));
}

Array pool1d(const OpContext& ctx, const Inputs& in, bool is_max) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  Layer l2 = layer;
  if (!l2.config.contains("pool_size")) l2.config["pool_size"] = 2;
  for (const char* k : {"pool_size", "strides"}) widen(l2.config, k);
  const Array x = add_height(layer, *in[0]);
  return drop_height(pool2d(OpContext{l2, ctx.keras3}, {&x}, is_max));
}

Array global_pool1d(const OpContext& ctx, const Inputs& in, bool is_max) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array x = add_height(layer, *in[0]);
  Array y = global_pool2d(ctx, {&x}, is_max);
  if (y.shape.size() == 4) y.shape.erase(y.shape.begin() + 1);  // keepdims: (N, 1, C)
  return y;
}

Array zero_padding1d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  int64_t left = 1, right = 1;
  if (has_key(layer, "padding")) {
    const json& p = layer.config["padding"];
    if (p.is_number_integer()) {
      left = right = p.get<int64_t>();
    } else if (p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer()) {
      left = p[0].get<int64_t>();
      right = p[1].get<int64_t>();
    } else {
      fail(layer, "padding = " + p.dump() + " is not an integer or [left, right]");
    }
  }
  if (left < 0 || right < 0) fail(layer, "padding must not be negative");
  const Array x = add_height(layer, *in[0]);
  return drop_height(pad_nhwc(x, 0, 0, left, right, 0.0f));
}

// UpSampling1D(size) repeats every step `size` times; UpSampling2D(size=(a, b), nearest)
// repeats rows a times and columns b times.
Array upsampling(const OpContext& ctx, const Inputs& in, bool one_d) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  Array x = one_d ? add_height(layer, *in[0]) : *in[0];
  require_rank(layer, x, 4, "the input");
  int64_t fh = 1, fw = 2;
  if (one_d) {
    fw = has_key(layer, "size") ? (layer.config["size"].is_array() ? cfg_pair(layer, "size", std::nullopt)[0]
                                                                   : cfg_int(layer, "size", std::nullopt))
                                : 2;
  } else {
    require_channels_last(layer);
    const auto s = cfg_pair(layer, "size", std::array<int64_t, 2>{2, 2});
    fh = s[0];
    fw = s[1];
    const std::string interp = cfg_string(layer, "interpolation", std::string("nearest"));
    if (interp != "nearest") fail(layer, "interpolation = \"" + interp + "\" is not supported; use \"nearest\"");
  }
  if (fh < 1 || fw < 1) fail(layer, "size must be positive");
  const int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  Array y{{n, h * fh, w * fw, c}, {}};
  y.data.reserve(static_cast<size_t>(y.size()));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < h * fh; ++oy)
      for (int64_t ox = 0; ox < w * fw; ++ox)
        for (int64_t ch = 0; ch < c; ++ch)
          y.data.push_back(x.data[static_cast<size_t>(((b * h + oy / fh) * w + ox / fw) * c + ch)]);
  return one_d ? drop_height(std::move(y)) : y;
}

void add_one_d_ops(OpTable& t) {
  for (const char* c : {"Conv1D", "QuantConv1D"}) t[c] = conv1d;
  t["MaxPooling1D"] = [](const OpContext& x, const Inputs& i) { return pool1d(x, i, true); };
  t["AveragePooling1D"] = [](const OpContext& x, const Inputs& i) { return pool1d(x, i, false); };
  t["GlobalAveragePooling1D"] = [](const OpContext& x, const Inputs& i) { return global_pool1d(x, i, false); };
  t["GlobalMaxPooling1D"] = [](const OpContext& x, const Inputs& i) { return global_pool1d(x, i, true); };
  t["ZeroPadding1D"] = zero_padding1d;
  t["UpSampling1D"] = [](const OpContext& x, const Inputs& i) { return upsampling(x, i, true); };
  t["UpSampling2D"] = [](const OpContext& x, const Inputs& i) { return upsampling(x, i, false); };
}

}  // namespace bitlens::ref
