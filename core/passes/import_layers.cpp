// The import side of the layer table: one function per Keras/Larq class (or family of classes
// sharing one lowering), registered by class name at the end of this file. A function parses
// the config keys bitlens/layer_table.hpp lists for its class, computes the output shape, and
// fills the node (op, attributes, quantized weights), or refuses the layer by reason code.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "bitlens/format.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/semantics.hpp"
#include "ops/registry.hpp"
#include "passes/import.hpp"

namespace bitlens::passes {
namespace {

void import_input(LayerImport& x) {
  x.n.op = Op::Input;
  const json* s = config_get(x.l, "batch_input_shape");
  if (!s) s = config_get(x.l, "batch_shape");
  if (!s || !s->is_array() || s->size() < 2)
    fail(x.l, "has no 'batch_input_shape'/'batch_shape'; re-save the model with model.save()");
  for (size_t i = 1; i < s->size(); ++i) {
    if (!(*s)[i].is_number_integer() || (*s)[i].get<int64_t>() <= 0)
      fail(x.l, "input shape " + s->dump() + " has an unknown or invalid dimension; BitLens "
              "needs fixed input sizes: build the model with tf.keras.Input(shape=(H, W, C))");
    x.out_shape.push_back((*s)[i].get<int64_t>());
  }
}

void import_training_only(LayerImport& x) {
  x.need_inputs(1);
  x.n.op = Op::Identity;
  x.out_shape = x.in_shape(0);
}

// QKeras binary(alpha=1) is +-1 exactly for latent weights below 2^24 (x + (-x + sign(x)) in
// float32); beyond, Keras multiplies other values, which no sign kernel computes.
void check_signs(LayerImport& x, const Quantizer& q, const std::vector<float>& w) {
  if (!q.qkeras_sign()) return;
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i] != 1.0f && w[i] != -1.0f) {
      x.unsupported = true;
      x.unsupported_why = "CONFIG_VALUE";
      x.unsupported_args = {"kernel value [" + std::to_string(i) + "] = " + sem::float_text(w[i]) + " after " +
                                quantizer_text(q) + " is not +-1 (a latent weight of magnitude 2^24 or more)",
                            x.l.name};
      return;
    }
}

// The bias Keras adds: QKeras layers pass it through their bias_quantizer first (the same
// element-wise values as the reference); a quantizer BitLens cannot compute refuses the layer.
std::vector<float> bias_values(LayerImport& x, int64_t channels) {
  const Array& b = weight(x.l, "bias", {channels});
  const json* v = config_get(x.l, "bias_quantizer");
  if (!is_qkeras_layer(x.c) || !v || v->is_null()) return b.data;
  const Quantizer q = parse_quantizer(*v);
  if (q.kind == Quantizer::Kind::QKeras && q.invalid.empty()) return quantize_weights(q, b);
  x.unsupported = true;
  x.unsupported_why = "CONFIG_VALUE";
  x.unsupported_args = {"bias_quantizer " + quantizer_text(q) + " is not a QKeras quantizer BitLens computes", x.l.name};
  return b.data;
}

void import_conv(LayerImport& x) {
  // A 1-D convolution over (steps, channels) runs as a 2-D one of height 1 (kernel 1 x k):
  // the same kernels, exact for every padding, stride and dilation.
  const bool one_d = x.c == "Conv1D" || x.c == "QuantConv1D";
  x.need_inputs(1);
  x.need_rank(one_d ? 2 : 3);
  // A separable convolution is lowered as its two parts: a depthwise node (this one, an
  // inserted step) and a 1x1 pointwise node that carries the layer's name, bias and activation.
  const bool separable = x.c.find("Separable") != std::string::npos;
  const bool depthwise = x.c.find("Depthwise") != std::string::npos || separable;
  const bool quant = x.c.rfind("Quant", 0) == 0;
  x.n.op = depthwise ? Op::DepthwiseConv2D : Op::Conv2D;
  auto& a = x.n.conv;
  if (one_d) {
    a.kh = a.sh = a.dh = 1;
    a.kw = get_single(x.l, "kernel_size", 1);
    a.sw = get_single(x.l, "strides", 1);
    a.dw = get_single(x.l, "dilation_rate", 1);
  } else {
    std::tie(a.kh, a.kw) = get_pair(x.l, "kernel_size", {1, 1});
    std::tie(a.sh, a.sw) = get_pair(x.l, "strides", {1, 1});
    std::tie(a.dh, a.dw) = get_pair(x.l, "dilation_rate", {1, 1});
  }
  const std::string padding = get_str(x.l, "padding", "valid");
  const bool causal = one_d && padding == "causal";
  if (padding != "same" && padding != "valid" && !causal)
    fail(x.l, "padding '" + padding + "' is not understood (expected \"same\" or \"valid\"" +
                (one_d ? std::string(" or \"causal\")") : std::string(")")));
  // Causal padding pads the start with zeros (Keras pads natively; Larq's pad_values only
  // applies to "same"), so for sign inputs it is exact zero padding.
  a.same = padding == "same" || causal;
  a.pad_value = quant && !causal ? static_cast<float>(get_num(x.l, "pad_values", 0.0)) : 0.0f;
  // Larq raises ValueError for causal padding with pad_values != 0; ignoring the value would
  // compute something no Larq model computes.
  if (quant && causal && get_num(x.l, "pad_values", 0.0) != 0.0) {
    x.unsupported = true;
    x.unsupported_why = "CONFIG_VALUE";
    x.unsupported_args = {"pad_values = " + sem::float_text(get_num(x.l, "pad_values", 0.0)) +
                            " with padding=\"causal\": Larq refuses this combination (it pads with zeros on the left)",
                        x.l.name};
  }
  if (quant) a.input_q = parse_quantizer(config_get(x.l, "input_quantizer") ? *config_get(x.l, "input_quantizer") : json());
  const char* kq = depthwise ? "depthwise_quantizer" : "kernel_quantizer";
  if (quant || is_qkeras_layer(x.c)) a.kernel_q = parse_quantizer(config_get(x.l, kq) ? *config_get(x.l, kq) : json());
  if (a.kh <= 0 || a.kw <= 0 || a.sh <= 0 || a.sw <= 0 || a.dh <= 0 || a.dw <= 0)
    fail(x.l, "kernel_size, strides and dilation_rate must be positive");
  if (!x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  // tf.keras 2 writes groups = 1 into depthwise and separable configs too (inherited from
  // Conv); any other value there has no meaning BitLens could compute.
  if ((depthwise || separable) && get_int(x.l, "groups", 1) != 1) {
    x.unsupported = true;
    x.unsupported_why = "CONFIG_VALUE";
    x.unsupported_args = {"groups = " + std::to_string(get_int(x.l, "groups", 1)) + " on a " + x.c +
                            " (a depthwise convolution has no groups; tf.keras 2 writes groups = 1 there)",
                        x.l.name};
  }
  const int groups = depthwise ? 1 : get_int(x.l, "groups", 1);
  if (groups < 1) fail(x.l, "config 'groups' is " + std::to_string(groups) + ", it must be 1 or more");
  a.groups = groups;
  const auto s = hwc(x.in_shape(0));
  const int64_t H = s[0], W = s[1];
  if (s[2] > kMaxConfigInt)
    fail(x.l, "its input has " + std::to_string(s[2]) + " channels, more than BitLens accepts (at most " +
                std::to_string(kMaxConfigInt) + ")");
  const int C = static_cast<int>(s[2]);
  const int64_t eff_h = int64_t{a.kh - 1} * a.dh + 1, eff_w = int64_t{a.kw - 1} * a.dw + 1;
  // "same" padding is at most this extent, and the kernels take it as int.
  constexpr int64_t kMaxExtent = int64_t{1} << 30;
  if (eff_h > kMaxExtent || eff_w > kMaxExtent)
    fail(x.l, "kernel_size x dilation_rate spans " + std::to_string(eff_h) + "x" + std::to_string(eff_w) +
                " pixels, more than BitLens accepts (at most " + std::to_string(kMaxExtent) + ")");
  int64_t oh, ow;
  if (causal) {
    oh = 1;
    a.pad_top = a.pad_bottom = a.pad_right = 0;
    a.pad_left = static_cast<int>(eff_w - 1);
    ow = (W - 1) / a.sw + 1;
  } else if (a.same) {
    same_pad(H, a.kh, a.sh, a.dh, oh, a.pad_top, a.pad_bottom);
    same_pad(W, a.kw, a.sw, a.dw, ow, a.pad_left, a.pad_right);
  } else {
    oh = (H - eff_h) / a.sh + 1;
    ow = (W - eff_w) / a.sw + 1;
    if (H < eff_h || W < eff_w)
      fail(x.l, "the " + std::to_string(a.kh) + "x" + std::to_string(a.kw) +
                  " kernel is larger than its " + std::to_string(H) + "x" +
                  std::to_string(W) + " input with padding=\"valid\"");
  }
  if (depthwise) {
    a.depth_multiplier = get_int(x.l, "depth_multiplier", 1);
    if (a.depth_multiplier <= 0) fail(x.l, "depth_multiplier must be positive");
    if (int64_t{C} * a.depth_multiplier > kMaxConfigInt)
      fail(x.l, std::to_string(C) + " channels x depth_multiplier " + std::to_string(a.depth_multiplier) +
                  " is more than BitLens accepts (at most " + std::to_string(kMaxConfigInt) + " channels)");
    a.filters = separable ? get_int(x.l, "filters", 0) : C * a.depth_multiplier;
    if (a.filters <= 0) fail(x.l, "config 'filters' must be a positive integer");
    const Array& k = weight(x.l, "depthwise_kernel", {a.kh, a.kw, C, a.depth_multiplier});
    x.n.weights = quantize_weights(a.kernel_q, k, &x.n.weights_near_boundary);
    check_signs(x, a.kernel_q, x.n.weights);
  } else {
    a.filters = get_int(x.l, "filters", 0);
    if (a.filters <= 0) fail(x.l, "config 'filters' must be a positive integer");
    // A grouped convolution's kernel holds C / groups input channels per filter
    // (kh, kw, C/groups, filters), as Keras stores it; Keras refuses to build a layer whose
    // channels or filters do not divide by groups.
    if (C % groups != 0 || a.filters % groups != 0)
      fail(x.l, "groups=" + std::to_string(groups) + " does not divide its " + std::to_string(C) +
                  " input channels and " + std::to_string(a.filters) +
                  " filters; Keras cannot build such a layer: fix 'groups' and re-save the model");
    const Array& k = one_d ? weight(x.l, "kernel", {a.kw, C / groups, a.filters})
                           : weight(x.l, "kernel", {a.kh, a.kw, C / groups, a.filters});
    x.n.weights = quantize_weights(a.kernel_q, k, &x.n.weights_near_boundary);
    check_signs(x, a.kernel_q, x.n.weights);
  }
  // MagnitudeAwareSign: split alpha*sign(w) into sign(w) and a per-channel scale folded
  // after the dot product (weights' last axis is the output channel for every layout here).
  auto split_magnitude = [&](Node& m, int64_t channels) {
    if (!m.conv.kernel_q.scaled_sign()) return;
    PostOp p{PostOp::Kind::Scale, std::vector<float>(static_cast<size_t>(channels), 0.0f), {}, 0, 0, x.l.name};
    for (size_t i = 0; i < m.weights.size(); ++i) {
      p.a[i % static_cast<size_t>(channels)] = std::fabs(m.weights[i]);
      m.weights[i] = m.weights[i] < 0 ? -1.0f : 1.0f;
    }
    m.epi.chain.push_back(std::move(p));
  };
  split_magnitude(x.n, depthwise ? int64_t{C} * a.depth_multiplier : a.filters);
  if (oh <= 0 || ow <= 0) fail(x.l, "output size is empty");
  if (separable && !x.unsupported) {
    const int mid = C * a.depth_multiplier;
    Node dw = x.n;
    dw.name = x.l.name + "/depthwise";
    dw.class_name.clear();
    dw.conv.filters = mid;
    Tensor t;
    t.name = dw.name;
    t.shape = {oh, ow, mid};
    t.producer = dw.id;
    dw.outputs = {x.g.add_tensor(std::move(t))};
    for (int in : dw.inputs) x.g.tensors[in].consumers.push_back(dw.id);
    x.g.nodes.push_back(std::move(dw));

    // The pointwise part multiplies the depthwise part's outputs (not re-quantized).
    Node pw;
    pw.id = static_cast<int>(x.g.nodes.size());
    pw.order = pw.id;
    pw.name = pw.layer = x.l.name;
    pw.class_name = x.c;
    pw.op = Op::Conv2D;
    pw.separable_pointwise = true;
    pw.inputs = {x.g.nodes.back().outputs[0]};
    pw.conv.filters = a.filters;
    if (quant) pw.conv.kernel_q = parse_quantizer(config_get(x.l, "pointwise_quantizer") ? *config_get(x.l, "pointwise_quantizer") : json());
    pw.weights = quantize_weights(pw.conv.kernel_q, weight(x.l, "pointwise_kernel", {1, 1, mid, a.filters}),
                                 &pw.weights_near_boundary);
    split_magnitude(pw, a.filters);
    x.n = std::move(pw);
  }
  if (get_bool(x.l, "use_bias", true))
    x.n.epi.chain.push_back({PostOp::Kind::Bias, bias_values(x, x.n.conv.filters), {}, 0, 0, x.l.name});
  x.own_activation();
  x.out_shape = one_d ? std::vector<int64_t>{ow, x.n.conv.filters} : std::vector<int64_t>{oh, ow, x.n.conv.filters};
}

void import_dense(LayerImport& x) {
  x.need_inputs(1);
  x.n.op = Op::Dense;
  auto& a = x.n.conv;
  const bool quant = x.c == "QuantDense";
  if (quant) a.input_q = parse_quantizer(config_get(x.l, "input_quantizer") ? *config_get(x.l, "input_quantizer") : json());
  if (quant || x.c == "QDense") {
    a.kernel_q = parse_quantizer(config_get(x.l, "kernel_quantizer") ? *config_get(x.l, "kernel_quantizer") : json());
  }
  a.filters = get_int(x.l, "units", 0);
  if (a.filters <= 0) fail(x.l, "config 'units' must be a positive integer");
  const auto s = x.in_shape(0);
  const int64_t nin = s.back();
  const Array& k = weight(x.l, "kernel", {nin, a.filters});
  x.n.weights = quantize_weights(a.kernel_q, k, &x.n.weights_near_boundary);
  check_signs(x, a.kernel_q, x.n.weights);
  if (a.kernel_q.scaled_sign()) {
    PostOp p{PostOp::Kind::Scale, std::vector<float>(a.filters, 0.0f), {}, 0, 0, x.l.name};
    for (size_t i = 0; i < x.n.weights.size(); ++i) {
      p.a[i % a.filters] = std::fabs(x.n.weights[i]);
      x.n.weights[i] = x.n.weights[i] < 0 ? -1.0f : 1.0f;
    }
    x.n.epi.chain.push_back(std::move(p));
  }
  if (get_bool(x.l, "use_bias", true))
    x.n.epi.chain.push_back({PostOp::Kind::Bias, bias_values(x, a.filters), {}, 0, 0, x.l.name});
  x.own_activation();
  x.out_shape = s;
  x.out_shape.back() = a.filters;
  if (s.size() == 2 || s.size() == 3) {
    // Keras applies Dense to the last axis of every step/pixel: a 1x1 convolution, whose
    // kernel (1, 1, C, units) has the dense kernel's (C, units) layout.
    x.n.op = Op::Conv2D;
    a.kh = a.kw = a.sh = a.sw = a.dh = a.dw = 1;
  } else if (s.size() != 1) {
    x.unsupported = true;
    x.unsupported_why = "DENSE_RANK";
  }
}

void import_batch_norm(LayerImport& x) {
  x.need_inputs(1);
  x.n.op = Op::BatchNorm;
  const auto& s = x.in_shape(0);
  int axis = -1;
  const json* ax = config_get(x.l, "axis");
  if (ax && ax->is_array() && ax->size() == 1 && (*ax)[0].is_number_integer())
    axis = config_int(x.l, "axis", (*ax)[0]);
  else if (ax && ax->is_number_integer())
    axis = config_int(x.l, "axis", *ax);
  const int rank = static_cast<int>(s.size()) + 1;
  if (axis < 0) axis += rank;
  if (axis != rank - 1) {
    x.unsupported = true;
    x.unsupported_why = "BN_AXIS";
  }
  const int64_t C = s.back();
  const double eps_config = get_num(x.l, "epsilon", 1e-3);
  const sem::BnEpsilon be = sem::bn_epsilon(eps_config, sem::tf_keras2_file(x.model.keras_version), rank, axis, x.l.config);
  const float eps = be.value;
  const bool center = get_bool(x.l, "center", true), scale = get_bool(x.l, "scale", true);
  // Presence and shape only: non-finite values are a BN_PARAMS problem of this layer.
  auto param = [&](const char* name) -> const Array& {
    auto it = x.l.weights.find(name);
    if (it == x.l.weights.end() || it->second.shape != std::vector<int64_t>{C}) weight(x.l, name, {C});
    return it->second;
  };
  const Array& mean = param("moving_mean");
  const Array& var = param("moving_variance");
  PostOp p{PostOp::Kind::BatchNorm, std::vector<float>(C), std::vector<float>(C), 0, 0, x.l.name};
  const Array* gamma = scale ? &param("gamma") : nullptr;
  const Array* beta = center ? &param("beta") : nullptr;
  if (auto problem = sem::bn_parameter_problem(eps_config, gamma, beta, mean, var)) {
    // Keras loads such a model and computes NaN/Inf with it: the layer is not deployable,
    // but the rest of the model is still analysed.
    x.unsupported = true;
    x.unsupported_why = "BN_PARAMS";
    x.unsupported_args = {*problem, x.l.name};
  } else {
    for (int64_t i = 0; i < C; ++i) {
      // Keras' inference expression: inv = rsqrt(var + eps) * gamma;
      // y = x * inv + (beta - mean * inv). Same float32 operations as the reference.
      const auto gi = gamma ? std::optional<float>(gamma->data[i]) : std::nullopt;
      const auto bi = beta ? std::optional<float>(beta->data[i]) : std::nullopt;
      p.a[i] = sem::bn_inv(var.data[i], eps, gi);
      p.b[i] = sem::bn_shift(mean.data[i], p.a[i], bi);
    }
    if (be.raised)
      x.n.decision.reasons.push_back(make_reason("BN_EPSILON_FLOOR", {sem::float_text(eps_config), x.l.name}));
  }
  x.n.epi.chain.push_back(std::move(p));
  x.out_shape = s;
}

void import_pool(LayerImport& x) {
  const bool one_d = x.c.back() == 'D' && x.c[x.c.size() - 2] == '1';
  x.need_inputs(1);
  x.need_rank(one_d ? 2 : 3);
  x.n.op = x.c.rfind("Max", 0) == 0 ? Op::MaxPool : Op::AvgPool;
  auto& p = x.n.pool;
  if (one_d) {
    p.kh = p.sh = 1;
    p.kw = get_single(x.l, "pool_size", 2);
    p.sw = get_single(x.l, "strides", p.kw);
  } else {
    std::tie(p.kh, p.kw) = get_pair(x.l, "pool_size", {2, 2});
    std::tie(p.sh, p.sw) = get_pair(x.l, "strides", {p.kh, p.kw});
  }
  p.same = get_str(x.l, "padding", "valid") == "same";
  if (p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0)
    fail(x.l, "pool_size and strides must be positive");
  if (!x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  const auto s = hwc(x.in_shape(0));
  int64_t oh, ow;
  int b;
  if (p.same) {
    same_pad(s[0], p.kh, p.sh, 1, oh, p.pad_top, b);
    same_pad(s[1], p.kw, p.sw, 1, ow, p.pad_left, b);
  } else {
    if (s[0] < p.kh || s[1] < p.kw) fail(x.l, "pool window is larger than its input");
    oh = (s[0] - p.kh) / p.sh + 1;
    ow = (s[1] - p.kw) / p.sw + 1;
  }
  x.out_shape = one_d ? std::vector<int64_t>{ow, s[2]} : std::vector<int64_t>{oh, ow, s[2]};
}

void import_global_pool(LayerImport& x) {
  const bool one_d = x.c.back() == 'D' && x.c[x.c.size() - 2] == '1';
  x.need_inputs(1);
  x.need_rank(one_d ? 2 : 3);
  x.n.op = x.c.rfind("GlobalMax", 0) == 0 ? Op::GlobalMaxPool : Op::GlobalAvgPool;
  x.n.pool.keepdims = get_bool(x.l, "keepdims", false);
  if (!x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  const int64_t ch = x.in_shape(0).back();
  x.out_shape = !x.n.pool.keepdims ? std::vector<int64_t>{ch}
              : one_d          ? std::vector<int64_t>{1, ch}
                               : std::vector<int64_t>{1, 1, ch};
}

void import_upsampling(LayerImport& x) {
  const bool one_d = x.c == "UpSampling1D";
  x.need_inputs(1);
  x.need_rank(one_d ? 2 : 3);
  x.n.op = Op::Upsample;
  auto& p = x.n.pool;
  if (one_d) {
    p.kh = 1;
    p.kw = get_single(x.l, "size", 2);
  } else {
    if (!x.channels_last()) {
      x.unsupported = true;
      x.unsupported_why = "CHANNELS_FIRST";
    }
    std::tie(p.kh, p.kw) = get_pair(x.l, "size", {2, 2});
    const std::string interp = get_str(x.l, "interpolation", "nearest");
    if (interp != "nearest") {
      x.unsupported = true;
      x.unsupported_why = "UPSAMPLING_INTERPOLATION";
      x.unsupported_args = {interp, x.l.name};
    }
    if (!x.channels_last()) {
      x.unsupported = true;
      x.unsupported_why = "CHANNELS_FIRST";
    }
  }
  if (p.kh <= 0 || p.kw <= 0) fail(x.l, "size must be positive");
  const auto s = hwc(x.in_shape(0));
  x.out_shape = one_d ? std::vector<int64_t>{sat_mul(s[1], p.kw), s[2]}
                    : std::vector<int64_t>{sat_mul(s[0], p.kh), sat_mul(s[1], p.kw), s[2]};
}

void import_flatten(LayerImport& x) {
  x.need_inputs(1);
  x.n.op = Op::Flatten;
  // channels_first moves the channel axis first before flattening, which changes the
  // element order every following Dense weight is laid out for.
  if (!x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  int64_t e = 1;
  for (auto d : x.in_shape(0)) e *= d;
  x.out_shape = {e};
}

void import_reshape(LayerImport& x) {
  x.need_inputs(1);
  x.n.op = Op::Flatten;
  const json* t = config_get(x.l, "target_shape");
  if (!t || !t->is_array()) fail(x.l, "config 'target_shape' is missing or not a list");
  int64_t e = 1, known = 1;
  for (auto d : x.in_shape(0)) e *= d;
  int minus = -1;
  for (size_t i = 0; i < t->size(); ++i) {
    if (!(*t)[i].is_number_integer()) fail(x.l, "target_shape " + t->dump() + " is not a list of integers");
    const int64_t d = (*t)[i].get<int64_t>();
    if (d == -1 && minus < 0) {
      minus = static_cast<int>(i);
      x.out_shape.push_back(1);
    } else if (d <= 0) {
      fail(x.l, "target_shape " + t->dump() + " has an invalid dimension");
    } else {
      if (d > kMaxTensorElements) fail(x.l, "target_shape " + t->dump() + " has a dimension larger than its input");
      x.out_shape.push_back(d);
      known = sat_mul(known, d);
    }
  }
  if (minus >= 0) x.out_shape[minus] = known ? e / known : 0;
  int64_t got = 1;
  for (auto d : x.out_shape) got = sat_mul(got, d);
  if (got != e)
    fail(x.l, "target_shape " + t->dump() + " does not hold the " + std::to_string(e) +
                " elements of its input " + shape_tuple(x.in_shape(0)));
  x.n.reshape_to = x.out_shape;
}

// Amounts per edge of a padding or cropping key, as Keras reads them: 2-D layers take an int
// (every edge), [rows, cols] (each symmetric) or [[top, bottom], [left, right]]; 1-D layers an
// int or [left, right] (their top and bottom stay 0).
struct Edges {
  int top = 0, bottom = 0, left = 0, right = 0;
};

Edges edges_1d(const LayerImport& x, const char* key, int def) {
  const json* p = config_get(x.l, key);
  Edges e{0, 0, def, def};
  if (p && p->is_number_integer()) {
    e.left = e.right = config_int(x.l, key, *p);
  } else if (p && p->is_array() && p->size() == 2 && (*p)[0].is_number_integer() && (*p)[1].is_number_integer()) {
    e.left = config_int(x.l, key, (*p)[0]);
    e.right = config_int(x.l, key, (*p)[1]);
  } else if (p && !p->is_null()) {
    fail(x.l, std::string("config '") + key + "' " + p->dump() + " is not understood (expected an integer or [left, right])");
  }
  if (e.left < 0 || e.right < 0) fail(x.l, std::string("config '") + key + "' must not be negative");
  return e;
}

Edges edges_2d(const LayerImport& x, const char* key, int def) {
  const json* p = config_get(x.l, key);
  Edges e{def, def, def, def};
  auto bad = [&]() {
    fail(x.l, std::string("config '") + key + "' " + (p ? p->dump() : std::string("(missing)")) + " is not understood");
  };
  if (!p) {
    // the default
  } else if (p->is_number_integer()) {
    e.top = e.bottom = e.left = e.right = config_int(x.l, key, *p);
  } else if (p->is_array() && p->size() == 2) {
    const json &a = (*p)[0], &bb = (*p)[1];
    if (a.is_number_integer() && bb.is_number_integer()) {
      e.top = e.bottom = config_int(x.l, key, a);
      e.left = e.right = config_int(x.l, key, bb);
    } else if (a.is_array() && bb.is_array() && a.size() == 2 && bb.size() == 2 && a[0].is_number_integer() &&
               a[1].is_number_integer() && bb[0].is_number_integer() && bb[1].is_number_integer()) {
      e.top = config_int(x.l, key, a[0]);
      e.bottom = config_int(x.l, key, a[1]);
      e.left = config_int(x.l, key, bb[0]);
      e.right = config_int(x.l, key, bb[1]);
    } else {
      bad();
    }
  } else {
    bad();
  }
  if (e.top < 0 || e.bottom < 0 || e.left < 0 || e.right < 0) bad();
  return e;
}

void set_edges(Node& n, const Edges& e) {
  n.conv.pad_top = e.top;
  n.conv.pad_bottom = e.bottom;
  n.conv.pad_left = e.left;
  n.conv.pad_right = e.right;
}

void import_zero_padding_1d(LayerImport& x) {
  x.need_inputs(1);
  x.need_rank(2);
  x.n.op = Op::ZeroPad;
  const Edges e = edges_1d(x, "padding", 1);
  set_edges(x.n, e);
  const auto& s = x.in_shape(0);
  x.out_shape = {s[0] + e.left + e.right, s[1]};
}

void import_zero_padding_2d(LayerImport& x) {
  x.need_inputs(1);
  x.need_rank(3);
  x.n.op = Op::ZeroPad;
  if (!x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  const Edges e = edges_2d(x, "padding", 1);
  set_edges(x.n, e);
  const auto& s = x.in_shape(0);
  x.out_shape = {s[0] + e.top + e.bottom, s[1] + e.left + e.right, s[2]};
}

// Cropping1D/2D: Keras refuses to build a layer that crops away a whole axis, so such a file
// cannot have been saved by Keras.
void import_cropping(LayerImport& x) {
  const bool one_d = x.c == "Cropping1D";
  x.need_inputs(1);
  x.need_rank(one_d ? 2 : 3);
  x.n.op = Op::Crop;
  if (!one_d && !x.channels_last()) {
    x.unsupported = true;
    x.unsupported_why = "CHANNELS_FIRST";
  }
  const Edges e = one_d ? edges_1d(x, "cropping", 1) : edges_2d(x, "cropping", 0);
  set_edges(x.n, e);
  const auto s = hwc(x.in_shape(0));
  const int64_t oh = s[0] - e.top - e.bottom, ow = s[1] - e.left - e.right;
  if (oh < 1 || ow < 1)
    fail(x.l, "config 'cropping' " + (config_get(x.l, "cropping") ? config_get(x.l, "cropping")->dump() : "(default)") +
                  " removes all of its " +
                  shape_tuple(x.in_shape(0)) + " input; Keras cannot build such a layer: fix 'cropping' and re-save");
  x.out_shape = one_d ? std::vector<int64_t>{ow, s[2]} : std::vector<int64_t>{oh, ow, s[2]};
}

void import_activation_layer(LayerImport& x) {
  x.need_inputs(1);
  x.out_shape = x.in_shape(0);
  using K = sem::ActivationKind;
  if (x.c == "Activation" || x.c == "QActivation") {
    // A DoReFa-family quantizer object as the activation (ST's Activation(STCustomDoReFa(8,
    // "activations"))) is an element-wise step of its own.
    const json* v = config_get(x.l, "activation");
    const Quantizer q = v && (v->is_object() || v->is_string()) ? parse_quantizer(*v) : Quantizer{};
    if (q.kind == Quantizer::Kind::DoReFa || q.kind == Quantizer::Kind::StDoReFa ||
        (q.kind == Quantizer::Kind::QKeras && (q.levels() || q.qkeras_sign() || q.qkeras_threshold() || !q.invalid.empty()))) {
      x.n.activation = q.name;
      x.n.quant = q;
      x.n.op = Op::Quantize;
      if (!q.elementwise_levels() && !q.qkeras_sign() && !q.qkeras_threshold()) {
        x.unsupported = true;
        x.unsupported_why = "ACTIVATION";
        x.unsupported_args = {"activation " + quantizer_text(q) +
                                  (q.invalid.empty() ? " normalises by a maximum over the whole tensor (weights mode), "
                                                       "which BitLens does not compute at run time"
                                                     : " cannot be computed"),
                              x.l.name,
                              q.kind == Quantizer::Kind::QKeras
                                  ? "quantized_bits with alpha None or 1, or quantized_relu, without the refused parameter"
                                  : "the \"activations\" mode with an integer k_bit in 1..24"};
      }
      return;
    }
    // QKeras evaluates QActivation's argument among its quantizers only (get_quantizer).
    if (x.c == "QActivation") {
      x.n.activation = v && v->is_string() ? v->get<std::string>() : (v ? v->dump() : "null");
      x.unsupported = true;
      x.unsupported_why = "ACTIVATION";
      x.unsupported_args = {"QActivation's activation " + quantizer_text(q) +
                                (q.kind == Quantizer::Kind::QKeras
                                     ? " is computed by the reference interpreter, but no kernel step runs it yet "
                                       "(quantized_bits with 1 bit or an alpha other than 1, fitted alphas, ternary "
                                       "thresholds below 0)"
                                     : " is not a QKeras quantizer BitLens knows"),
                            x.l.name, "quantized_bits (alpha None or 1) or quantized_relu"};
      return;
    }
    x.own_activation();
  } else if (x.c == "Softmax") {
    x.n.activation = "softmax";
    x.n.act.kind = K::Softmax;
    const int axis = get_int(x.l, "axis", -1);
    if (axis != -1 && axis != static_cast<int>(x.out_shape.size())) {
      x.unsupported = true;
      x.unsupported_why = "SOFTMAX_AXIS";
    }
  } else if (x.c == "ReLU") {
    // Keras' relu(x, negative_slope, max_value, threshold), all three computed exactly.
    x.n.activation = "relu";
    x.n.act.kind = K::Relu;
    x.n.act.max_value = static_cast<float>(get_num(x.l, "max_value", INFINITY));
    x.n.act.alpha = static_cast<float>(get_num(x.l, "negative_slope", 0.0));
    x.n.act.threshold = static_cast<float>(get_num(x.l, "threshold", 0.0));
    if (!(x.n.act.max_value >= 0.0f) || !(x.n.act.alpha >= 0.0f) || !std::isfinite(x.n.act.alpha) ||
        !std::isfinite(x.n.act.threshold))
      fail(x.l, "max_value and negative_slope must be numbers >= 0 and threshold a finite number (Keras "
              "refuses others), found max_value " + std::to_string(x.n.act.max_value) + ", negative_slope " +
                  std::to_string(x.n.act.alpha) + ", threshold " + std::to_string(x.n.act.threshold));
  } else if (x.c == "LeakyReLU") {
    // tf.keras 2.x writes "alpha", Keras 3 "negative_slope"; both default to 0.3.
    x.n.activation = "leaky_relu";
    x.n.act.kind = K::LeakyRelu;
    x.n.act.alpha = static_cast<float>(config_get(x.l, "negative_slope") ? get_num(x.l, "negative_slope", 0.3)
                                                                      : get_num(x.l, "alpha", 0.3));
  } else if (x.c == "ELU") {
    x.n.activation = "elu";
    x.n.act.kind = K::Elu;
    x.n.act.alpha = static_cast<float>(get_num(x.l, "alpha", 1.0));
  } else {  // PReLU: a learned slope per element, shared along `shared_axes`
    x.n.activation = "prelu";
    x.n.act.kind = K::Prelu;
    std::vector<int64_t> ashape = x.out_shape;
    const json* sa = config_get(x.l, "shared_axes");
    std::vector<int64_t> axes;
    if (sa && sa->is_number_integer()) axes.push_back(sa->get<int64_t>());
    else if (sa && sa->is_array())
      for (const auto& v : *sa)
        if (v.is_number_integer()) axes.push_back(v.get<int64_t>());
        else axes.push_back(0);
    else if (sa && !sa->is_null()) axes.push_back(0);
    for (int64_t a : axes) {
      if (a < 1 || a > static_cast<int64_t>(ashape.size())) {
        x.unsupported = true;
        x.unsupported_why = "PRELU_SHARED_AXES";
        x.unsupported_args = {sa->dump(), x.l.name, "a list of axes of the input " + shape_tuple(x.out_shape)};
        break;
      }
      ashape[static_cast<size_t>(a - 1)] = 1;
    }
    if (!x.unsupported) {
      const Array& alpha = weight(x.l, "alpha", ashape);
      // Expand the shared slopes to one per element of the smallest trailing period that
      // holds them all: channels only (the usual shared_axes=[1, 2]) stays C values.
      size_t first = 0;  // first axis, from the left, where alpha is not shared
      while (first < ashape.size() && ashape[first] == 1) ++first;
      int64_t period = 1;
      for (size_t d = first; d < x.out_shape.size(); ++d) period = sat_mul(period, x.out_shape[d]);
      if (period > kMaxTensorElements) fail(x.l, "weight 'alpha' is too large");
      x.n.act.slopes.resize(static_cast<size_t>(period));
      std::vector<int64_t> idx(x.out_shape.size(), 0);
      for (int64_t i = 0; i < period; ++i) {
        int64_t rem = i, ai = 0;
        for (size_t d = x.out_shape.size(); d-- > first;) {
          idx[d] = rem % x.out_shape[d];
          rem /= x.out_shape[d];
        }
        for (size_t d = first; d < x.out_shape.size(); ++d) ai = ai * ashape[d] + (ashape[d] == 1 ? 0 : idx[d]);
        x.n.act.slopes[static_cast<size_t>(i)] = alpha.data[static_cast<size_t>(ai)];
      }
    }
  }
  x.n.op = x.n.act.kind == K::Softmax ? Op::Softmax : Op::Activation;
}

void import_merge(LayerImport& x) {
  if (x.n.inputs.size() < 2) fail(x.l, "needs at least two inputs");
  if (x.c == "Concatenate") {
    x.n.op = Op::Concat;
    const int rank = static_cast<int>(x.in_shape(0).size());
    int axis = get_int(x.l, "axis", -1);
    if (axis < 0) axis += rank + 1;
    x.n.concat_axis = axis;
    x.out_shape = x.in_shape(0);
    if (axis != rank) {
      x.unsupported = true;
      x.unsupported_why = "CONCAT_AXIS";
    }
    for (size_t i = 1; i < x.n.inputs.size(); ++i) {
      const auto& si = x.in_shape(i);
      if (si.size() != x.out_shape.size()) fail(x.l, "inputs have different ranks");
      for (size_t d = 0; d + 1 < si.size(); ++d)
        if (si[d] != x.out_shape[d]) fail(x.l, "inputs " + shape_tuple(x.in_shape(0)) + " and " + shape_tuple(si) + " cannot be concatenated on the last axis");
      x.out_shape.back() += si.back();
    }
  } else {
    const std::string fn = x.c == "TFOpLambda" ? get_str(x.l, "function", "") : "add";
    if (fn.find("add") == std::string::npos) {
      // Any other TF operation (matmul, reshape, ...) may change the shape: unknown.
      x.unsupported = true;
      x.unsupported_why = "TFOP";
      x.unsupported_args = {x.c, x.l.name, fn};
      x.n.op = Op::Unsupported;
      x.unknown_because = "'" + x.l.name + "' (" + x.c + " " + fn + ") is not supported";
    } else {
      x.n.op = Op::Add;
      x.out_shape = x.in_shape(0);
      for (size_t i = 1; i < x.n.inputs.size(); ++i)
        if (x.in_shape(i) != x.out_shape)
          fail(x.l, "inputs " + shape_tuple(x.in_shape(0)) + " and " + shape_tuple(x.in_shape(i)) +
                      " have different shapes (broadcasting is not supported)");
    }
  }
}

void import_tfop(LayerImport& x) {
  x.need_inputs(1);
  x.out_shape = x.in_shape(0);
  const std::string fn = get_str(x.l, "function", "");
  const json& kw = x.l.call_kwargs;
  const json* y = kw.is_object() && kw.contains("y") ? &kw["y"] : nullptr;
  const bool is_add = fn == "__operators__.add" || fn == "math.add";
  const bool is_mul = fn == "math.multiply" || fn == "__operators__.mul" || fn == "math.mul";
  if ((is_add || is_mul) && y && y->is_number()) {
    x.n.op = is_add ? Op::ConstAdd : Op::ConstMul;
    x.n.const_value = y->get<float>();
  } else {
    // tf.reshape, tf.transpose, ... change the shape; none is assumed.
    x.n.op = Op::Unsupported;
    x.unsupported = true;
    x.unsupported_why = "TFOP";
    x.unsupported_args = {x.c, x.l.name, fn};
    x.unknown_because = "'" + x.l.name + "' (" + x.c + " " + fn + ") is not supported";
  }
}

// TFOpLambda: a TF operation recorded as a layer; a binary add is a merge, arithmetic with a
// constant an affine step, anything else unknown.
void import_tf_op(LayerImport& x) {
  if (x.n.inputs.size() == 2) return import_merge(x);
  import_tfop(x);
}

}  // namespace

const std::vector<LayerImporter>& importers() {
  static const std::vector<LayerImporter> t = {
      {{"InputLayer"}, import_input, {Op::Input}},
      {{"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"}, import_training_only, {Op::Identity}},
      {{"QuantConv2D", "Conv2D", "QuantDepthwiseConv2D", "DepthwiseConv2D", "QuantSeparableConv2D", "SeparableConv2D", "Conv1D", "QuantConv1D", "QConv2D", "QDepthwiseConv2D"}, import_conv, {Op::Conv2D, Op::DepthwiseConv2D}},
      {{"QuantDense", "Dense", "QDense"}, import_dense, {Op::Dense, Op::Conv2D}},
      {{"BatchNormalization"}, import_batch_norm, {Op::BatchNorm}},
      {{"MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D"}, import_pool, {Op::MaxPool, Op::AvgPool}},
      {{"GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"}, import_global_pool, {Op::GlobalAvgPool, Op::GlobalMaxPool}},
      {{"UpSampling1D", "UpSampling2D"}, import_upsampling, {Op::Upsample}},
      {{"Flatten"}, import_flatten, {Op::Flatten}},
      {{"Reshape"}, import_reshape, {Op::Flatten}},
      {{"ZeroPadding1D"}, import_zero_padding_1d, {Op::ZeroPad}},
      {{"ZeroPadding2D"}, import_zero_padding_2d, {Op::ZeroPad}},
      {{"Cropping1D", "Cropping2D"}, import_cropping, {Op::Crop}},
      {{"Activation", "QActivation", "ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU"}, import_activation_layer, {Op::Activation, Op::Softmax, Op::Quantize}},
      {{"Add", "Concatenate"}, import_merge, {Op::Add, Op::Concat}},
      {{"TFOpLambda"}, import_tf_op, {Op::Add, Op::ConstAdd, Op::ConstMul}},
  };
  return t;
}

std::string lowering_markdown() {
  std::string o = "| Keras/Larq classes | IR ops | kernels, in selection priority |\n|---|---|---|\n";
  for (const auto& imp : importers()) {
    std::string classes, ops, kernels;
    for (const auto& c : imp.classes) classes += (classes.empty() ? "" : ", ") + c;
    for (Op op : imp.ops) {
      ops += (ops.empty() ? "`" : ", `") + std::string(op_name(op)) + "`";
      std::string names;
      for (const ops::KernelOp* k : ops::candidates(op)) names += (names.empty() ? "`" : " > `") + std::string(k->name) + "`";
      if (names.empty())
        names = op == Op::Input ? "none (model input)" : op == Op::Flatten ? "none (a view)" : "none (removed)";
      kernels += (kernels.empty() ? "" : "; ") + std::string(op_name(op)) + ": " + names;
    }
    o += "| " + classes + " | " + ops + " | " + kernels + " |\n";
  }
  return o;
}

const LayerImporter* find_importer(const std::string& class_name) {
  for (const auto& i : importers())
    if (std::find(i.classes.begin(), i.classes.end(), class_name) != i.classes.end()) return &i;
  return nullptr;
}

}  // namespace bitlens::passes
