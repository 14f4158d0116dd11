// Reference BatchNormalization (inference, the exact float expression of semantics.hpp) and
// pooling: Max/AveragePooling2D (valid/same; same-padded positions are ignored, the average
// divides by the number of in-image elements like TF) and the global pools.
#include <cmath>
#include <limits>

#include "reference/ops.hpp"

namespace bitlens::ref {

Array batch_norm(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array& x = *in[0];
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank < 2) fail(layer, "the input must have rank >= 2, got shape " + shape_tuple(x.shape));
  // axis: an int or a one-element list (Keras 2 writes [3] or -1, Keras 3 writes -1).
  int64_t axis = -1;
  if (has_key(layer, "axis")) {
    const json& a = layer.config["axis"];
    if (a.is_number_integer()) {
      axis = a.get<int64_t>();
    } else if (a.is_array() && a.size() == 1 && a[0].is_number_integer()) {
      axis = a[0].get<int64_t>();
    } else {
      fail(layer, "axis = " + a.dump() + " is not supported; use a single channel axis");
    }
  }
  if (axis < 0) axis += rank;
  if (axis < 1 || axis >= rank)
    fail(layer, "axis = " + layer.config["axis"].dump() + " is out of range for input shape " +
                    shape_tuple(x.shape));
  const int64_t c = x.shape[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (int64_t i = axis + 1; i < rank; ++i) inner *= x.shape[static_cast<size_t>(i)];

  const bool scale = cfg_bool(layer, "scale", true);
  const bool center = cfg_bool(layer, "center", true);
  const double eps_config = cfg_number(layer, "epsilon", 1e-3);
  // tf.keras 2.x's fused kernel raises a small epsilon (semantics.hpp, bn_epsilon).
  const float eps = sem::bn_epsilon(eps_config, ctx.tf_keras2, rank, axis, layer.config).value;
  const Array& mean = weight(layer, "moving_mean", {c});
  const Array& var = weight(layer, "moving_variance", {c});
  const Array* gamma = scale ? &weight(layer, "gamma", {c}) : nullptr;
  const Array* beta = center ? &weight(layer, "beta", {c}) : nullptr;

  // A model Keras loads but whose BatchNormalization computes NaN/Inf: refused with the
  // parameter and value, never run into NaN outputs (the compiler reports BN_PARAMS).
  if (auto problem = sem::bn_parameter_problem(eps_config, gamma, beta, mean, var))
    fail(layer, "would output NaN or Inf: " + *problem +
                    "; fix the layer's parameters (retrain or restore a checkpoint) and re-save the model");
  std::vector<float> inv(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) {
    const auto g = gamma ? std::optional<float>(gamma->data[i]) : std::nullopt;
    const auto b = beta ? std::optional<float>(beta->data[i]) : std::nullopt;
    inv[i] = sem::bn_inv(var.data[i], eps, g);
    shift[i] = sem::bn_shift(mean.data[i], inv[i], b);
  }
  Array y = x;
  for (size_t i = 0; i < y.data.size(); ++i) {
    const size_t ch = (i / static_cast<size_t>(inner)) % static_cast<size_t>(c);
    y.data[i] = sem::bn_apply(y.data[i], inv[ch], shift[ch]);
  }
  return y;
}

Array pool2d(const OpContext& ctx, const Inputs& in, bool is_max) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  require_channels_last(layer);
  const Array& x = *in[0];
  require_rank(layer, x, 4, "the input");
  const auto k = cfg_pair(layer, "pool_size", std::array<int64_t, 2>{2, 2});
  const auto s = cfg_pair(layer, "strides", k);  // null strides mean pool_size
  const bool same = cfg_same_padding(layer);
  const int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  int64_t oh, ow, top = 0, left = 0;
  if (same) {
    const auto ph = sem::same_padding(h, k[0], s[0], 1);
    const auto pw = sem::same_padding(w, k[1], s[1], 1);
    oh = ph.out;
    ow = pw.out;
    top = ph.before;
    left = pw.before;
  } else {
    oh = sem::valid_output(h, k[0], s[0], 1);
    ow = sem::valid_output(w, k[1], s[1], 1);
    if (oh < 1 || ow < 1)
      fail(layer, "input " + shape_tuple(x.shape) + " is smaller than pool_size " +
                      std::to_string(k[0]) + "x" + std::to_string(k[1]) +
                      " with padding \"valid\"");
  }
  Array y{{n, oh, ow, c}, {}};
  y.data.assign(static_cast<size_t>(y.size()), 0.0f);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          // TF's CPU MaxPool starts at lowest(), not -inf, and keeps acc unless v > acc: NaN
          // never wins and a window of only NaN/-inf gives -FLT_MAX.
          float acc = is_max ? std::numeric_limits<float>::lowest() : 0.0f;
          int64_t count = 0;
          for (int64_t ky = 0; ky < k[0]; ++ky)
            for (int64_t kx = 0; kx < k[1]; ++kx) {
              const int64_t iy = oy * s[0] + ky - top, ix = ox * s[1] + kx - left;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;  // padded: ignored
              const float v = x.data[((b * h + iy) * w + ix) * c + ch];
              if (!is_max)
                acc += v;
              else if (v > acc)
                acc = v;
              ++count;
            }
          y.data[((b * oh + oy) * ow + ox) * c + ch] =
              is_max ? acc : acc / static_cast<float>(count);
        }
  return y;
}

Array global_pool2d(const OpContext& ctx, const Inputs& in, bool is_max) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  require_channels_last(layer);
  const Array& x = *in[0];
  require_rank(layer, x, 4, "the input");
  const bool keepdims = cfg_bool(layer, "keepdims", false);
  const int64_t n = x.shape[0], hw = x.shape[1] * x.shape[2], c = x.shape[3];
  Array y;
  y.shape = keepdims ? std::vector<int64_t>{n, 1, 1, c} : std::vector<int64_t>{n, c};
  y.data.assign(static_cast<size_t>(n * c), 0.0f);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      // Keras' global max is tf.reduce_max: from -inf, NaN-propagating (TF >= 2.4).
      float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
      for (int64_t p = 0; p < hw; ++p) {
        const float v = x.data[(b * hw + p) * c + ch];
        if (!is_max)
          acc += v;
        else if (v > acc || std::isnan(v))
          acc = v;
      }
      y.data[b * c + ch] = is_max ? acc : acc / static_cast<float>(hw);
    }
  return y;
}

void add_normalize_pool_ops(OpTable& t) {
  t["BatchNormalization"] = batch_norm;
  for (const char* c : {"MaxPooling2D", "MaxPool2D"})
    t[c] = [](const OpContext& x, const Inputs& i) { return pool2d(x, i, true); };
  for (const char* c : {"AveragePooling2D", "AvgPool2D"})
    t[c] = [](const OpContext& x, const Inputs& i) { return pool2d(x, i, false); };
  for (const char* c : {"GlobalAveragePooling2D", "GlobalAvgPool2D"})
    t[c] = [](const OpContext& x, const Inputs& i) { return global_pool2d(x, i, false); };
  for (const char* c : {"GlobalMaxPooling2D", "GlobalMaxPool2D"})
    t[c] = [](const OpContext& x, const Inputs& i) { return global_pool2d(x, i, true); };
}

}  // namespace bitlens::ref
