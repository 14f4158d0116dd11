// Keras + Larq forward semantics as small inline functions: TF "same" padding amounts, the
// BatchNormalization float expression, the Larq quantizers and the Keras activations.
// The reference interpreter uses exactly these; the compiler derives integer thresholds from them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens::sem {

// ---------------------------------------------------------------------------------------------
// Spatial arithmetic (TensorFlow's conventions).
// ---------------------------------------------------------------------------------------------

// Extent of a dilated kernel: (k - 1) * dilation + 1.
inline int64_t effective_kernel(int64_t k, int64_t dilation) { return (k - 1) * dilation + 1; }

// Output size of a VALID window: floor((in - eff) / stride) + 1, or 0 when the window does not fit.
inline int64_t valid_output(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t eff = effective_kernel(k, dilation);
  return in < eff ? 0 : (in - eff) / stride + 1;
}

struct SamePad {
  int64_t out = 0;     // ceil(in / stride)
  int64_t before = 0;  // top / left
  int64_t after = 0;   // bottom / right (gets the extra pixel)
};

// TF "same": out = ceil(in/stride), total = max((out-1)*stride + (k-1)*dil + 1 - in, 0),
// before = total / 2, after = total - before.
inline SamePad same_padding(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  SamePad p;
  p.out = (in + stride - 1) / stride;
  const int64_t total =
      std::max<int64_t>((p.out - 1) * stride + effective_kernel(k, dilation) - in, 0);
  p.before = total / 2;
  p.after = total - p.before;
  return p;
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization at inference, written as tf.nn.batch_normalization evaluates it in float32:
//   inv = 1 / sqrt(var + eps); if scale: inv *= gamma
//   y = x * inv + (center ? beta - mean * inv : -mean * inv)
// Every operation rounds to float32 separately (the build uses -ffp-contract=off).
// ---------------------------------------------------------------------------------------------

// Which epsilon Keras adds to moving_variance at inference. tf.keras 2.x runs BatchNormalization
// on TF's fused kernel when it can (keras/layers/normalization/batch_normalization.py: `fused`
// stays None -> rank 4 or 5 input, channel axis 1 or last, no renorm / virtual_batch_size /
// adjustment; `_fused_batch_norm` -> tf.compat.v1.nn.fused_batch_norm), and that wrapper
// (tensorflow/python/ops/nn_impl.py, TF 2.x) raises epsilon to at least 1.001e-5, a cuDNN
// minimum. Everything else — Keras 3 (ops.batch_normalization -> tf.nn.batch_normalization),
// tf.keras on other ranks — adds the configured epsilon. docs/decisions.md, "BatchNormalization".
inline constexpr double kFusedBnMinEpsilon = 1.001e-5;

struct BnEpsilon {
  float value = 0.0f;   // float32, as the graph adds it
  bool fused = false;   // tf.keras 2.x fused kernel
  bool raised = false;  // the configured epsilon was below the fused minimum
};

// `tf_keras2`: the file says keras_version 2.x (tf_keras2_file); a file without a version gets
// the configured epsilon. `rank` counts the batch axis; `axis` is the normalized (non-negative)
// channel axis; `config` is the layer's config (renorm, virtual_batch_size, fused, synchronized).
inline bool tf_keras2_file(const std::string& keras_version) { return keras_version.starts_with("2"); }

inline BnEpsilon bn_epsilon(double epsilon, bool tf_keras2, int64_t rank, int64_t axis, const json& config) {
  auto flag = [&](const char* k) { return config.contains(k) && config[k].is_boolean() && config[k].get<bool>(); };
  const bool fused_off = config.contains("fused") && config["fused"].is_boolean() && !config["fused"].get<bool>();
  const bool vbs = config.contains("virtual_batch_size") && !config["virtual_batch_size"].is_null();
  const bool shape_ok = (rank == 4 && (axis == 1 || axis == 3)) || (rank == 5 && (axis == 1 || axis == 4));
  BnEpsilon e;
  e.fused = tf_keras2 && shape_ok && !fused_off && !vbs && !flag("renorm") && !flag("synchronized");
  // Python's `epsilon if epsilon > min_epsilon else min_epsilon`, in double, before the float32
  // attribute is made (a NaN epsilon also becomes the minimum there; it is a BN_PARAMS problem).
  const bool replaced = e.fused && !(epsilon > kFusedBnMinEpsilon);
  e.raised = replaced && epsilon != kFusedBnMinEpsilon;
  e.value = static_cast<float>(replaced ? kFusedBnMinEpsilon : epsilon);
  return e;
}

inline float bn_inv(float moving_variance, float epsilon, std::optional<float> gamma) {
  float inv = 1.0f / std::sqrt(moving_variance + epsilon);
  if (gamma) inv *= *gamma;
  return inv;
}

inline float bn_shift(float moving_mean, float inv, std::optional<float> beta) {
  return beta ? *beta - moving_mean * inv : -(moving_mean * inv);
}

inline float bn_apply(float x, float inv, float shift) { return x * inv + shift; }

// A float for a message: "NaN", "+Inf", "-Inf", or the shortest round-tripping decimal.
inline std::string float_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Why a BatchNormalization's stored parameters make the expression above non-finite for some
// channel (the layer would output NaN or Inf for every input), or nullopt when they do not.
// `gamma` / `beta` are null when scale / center is false; the arrays have one value per channel
// (shapes are checked when the model is read). The text names the parameter, the channel and
// the value. Such a file still loads in Keras, so this is a property of the model, reported for
// the layer (compiler: BN_PARAMS; reference interpreter: refuses to run the layer), not a
// damaged file.
// Judged on the configured epsilon even where tf.keras 2.x's fused kernel raises it
// (bn_epsilon): a TensorFlow without that floor computes with the configured one.
inline std::optional<std::string> bn_parameter_problem(double epsilon, const Array* gamma,
                                                       const Array* beta, const Array& mean,
                                                       const Array& var) {
  const float eps = static_cast<float>(epsilon);
  // A negative epsilon is a broken config even where every moving_variance + epsilon happens
  // to stay positive: it only subtracts from the variances. epsilon = 0 is accepted as long as
  // no channel divides by zero (checked below): Keras evaluates it, and hand-checked tests of the
  // reference interpreter rely on it.
  if (!std::isfinite(eps) || epsilon < 0)
    return "epsilon = " + float_text(epsilon) + " is " + (epsilon < 0 ? "negative" : "not a finite number") +
           "; Keras adds it to moving_variance to keep 1/sqrt(moving_variance + epsilon) finite";
  const std::pair<const char*, const Array*> params[] = {
      {"gamma", gamma}, {"beta", beta}, {"moving_mean", &mean}, {"moving_variance", &var}};
  for (const auto& [name, a] : params) {
    if (!a) continue;
    for (size_t i = 0; i < a->data.size(); ++i)
      if (!std::isfinite(a->data[i]))
        return std::string(name) + "[" + std::to_string(i) + "] = " + float_text(a->data[i]) +
               ", not a finite number (training diverged or the weights were edited)";
  }
  for (size_t i = 0; i < var.data.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    if (var.data[i] < 0.0f)
      return "moving_variance" + at + " = " + float_text(var.data[i]) +
             " is negative (a variance cannot be), so 1/sqrt(moving_variance + epsilon) is NaN "
             "for channel " + std::to_string(i);
    const float sum = var.data[i] + eps;
    if (!(sum > 0.0f))
      return "moving_variance" + at + " + epsilon = " + float_text(var.data[i]) + " + " + float_text(eps) +
             " = 0 in float32, so 1/sqrt(moving_variance + epsilon) divides by zero for channel " +
             std::to_string(i);
    const auto g = gamma ? std::optional<float>(gamma->data[i]) : std::nullopt;
    const auto b = beta ? std::optional<float>(beta->data[i]) : std::nullopt;
    const float inv = bn_inv(var.data[i], eps, g);
    const float shift = bn_shift(mean.data[i], inv, b);
    if (!std::isfinite(inv) || !std::isfinite(shift))
      return "channel " + std::to_string(i) + ": gamma/sqrt(moving_variance + epsilon) = " +
             float_text(inv) + " and beta - moving_mean * that = " + float_text(shift) +
             " overflow float32 (moving_variance" + at + " = " + float_text(var.data[i]) +
             ", epsilon = " + float_text(eps) + ")";
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Larq quantizers (forward pass only; the straight-through gradients do not matter here).
// ---------------------------------------------------------------------------------------------

enum class QuantizerKind {
  None,                // null: no quantizer
  SteSign,             // sign, sign(0) = +1
  ApproxSign,          // sign
  SwishSign,           // sign
  MagnitudeAwareSign,  // alpha * ste_sign, alpha = mean |x| over all axes but the last
  SteHeaviside,        // x > 0 ? 1 : 0
  SteTern,             // -1 / 0 / +1 with a threshold
  DoReFa,              // k-bit levels ("activations" or "weights" mode)
  StDoReFa,            // ST's STCustomDoReFa: signed k-bit levels (stm32ai-modelzoo)
  NoOp,                // identity
};

struct QuantizerSpec {
  QuantizerKind kind = QuantizerKind::None;
  std::string class_name;  // as written in the file (for messages); empty for null
  float clip_value = 1.0f;  // gradient only; kept for messages
  float threshold_value = 0.05f;         // SteTern
  bool ternary_weight_networks = false;  // SteTern
  int k_bit = 2;                         // DoReFa (8 for STCustomDoReFa)
  bool dorefa_weights = false;           // DoReFa / STCustomDoReFa mode == "weights"

  // Outputs only -1/+1 for every input (the XNOR/popcount domain).
  bool is_sign() const {
    return kind == QuantizerKind::SteSign || kind == QuantizerKind::ApproxSign ||
           kind == QuantizerKind::SwishSign;
  }
};

inline const char* quantizer_kind_name(QuantizerKind k) {
  switch (k) {
    case QuantizerKind::None: return "none";
    case QuantizerKind::SteSign: return "SteSign";
    case QuantizerKind::ApproxSign: return "ApproxSign";
    case QuantizerKind::SwishSign: return "SwishSign";
    case QuantizerKind::MagnitudeAwareSign: return "MagnitudeAwareSign";
    case QuantizerKind::SteHeaviside: return "SteHeaviside";
    case QuantizerKind::SteTern: return "SteTern";
    case QuantizerKind::DoReFa: return "DoReFa";
    case QuantizerKind::StDoReFa: return "STCustomDoReFa";
    case QuantizerKind::NoOp: return "NoOp";
  }
  return "?";
}

// Maps a class name or a legacy function name to a kind; nullopt when it is no Larq quantizer.
// Keras 3 registered names ("larq>SteSign") are accepted too.
inline std::optional<QuantizerKind> quantizer_kind_from_name(std::string_view name) {
  if (auto gt = name.rfind('>'); gt != std::string_view::npos) name = name.substr(gt + 1);
  struct Entry {
    std::string_view a, b;
    QuantizerKind kind;
  };
  static constexpr Entry table[] = {
      {"SteSign", "ste_sign", QuantizerKind::SteSign},
      {"ApproxSign", "approx_sign", QuantizerKind::ApproxSign},
      {"SwishSign", "swish_sign", QuantizerKind::SwishSign},
      {"MagnitudeAwareSign", "magnitude_aware_sign", QuantizerKind::MagnitudeAwareSign},
      {"SteHeaviside", "ste_heaviside", QuantizerKind::SteHeaviside},
      {"SteTern", "ste_tern", QuantizerKind::SteTern},
      {"DoReFa", "dorefa_quantizer", QuantizerKind::DoReFa},
      {"DoReFaQuantizer", "DoReFaQuantizer", QuantizerKind::DoReFa},
      {"STCustomDoReFa", "STCustomDoReFa", QuantizerKind::StDoReFa},
      {"NoOp", "NoOpQuantizer", QuantizerKind::NoOp},
  };
  for (const auto& e : table)
    if (name == e.a || name == e.b) return e.kind;
  return std::nullopt;
}

// Parses a quantizer as Larq serializes it: null, a string ("ste_sign"), or a dict
// {"class_name": "SteSign", "config": {...}}. `where` names the place for error messages
// (e.g. "layer 'conv1' (QuantConv2D): input_quantizer").
inline QuantizerSpec parse_quantizer(const json& j, const std::string& where) {
  QuantizerSpec q;
  if (j.is_null()) return q;
  std::string name;
  const json* cfg = nullptr;
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    name = j["class_name"].get<std::string>();
    if (j.contains("config") && j["config"].is_object()) cfg = &j["config"];
  } else {
    throw ModelError(where + ": cannot read quantizer " + j.dump() +
                     "; expected null, a name such as \"ste_sign\" or "
                     "{\"class_name\": \"SteSign\", \"config\": {...}}");
  }
  auto kind = quantizer_kind_from_name(name);
  if (!kind)
    throw ModelError(where + ": unsupported quantizer \"" + name +
                     "\"; supported: SteSign, ApproxSign, SwishSign, MagnitudeAwareSign, "
                     "SteHeaviside, SteTern, DoReFa, STCustomDoReFa, NoOp");
  q.kind = *kind;
  q.class_name = name;
  auto number = [&](const char* key, double fallback) {
    if (!cfg || !cfg->contains(key) || (*cfg)[key].is_null()) return fallback;
    if (!(*cfg)[key].is_number())
      throw ModelError(where + ": quantizer " + name + " has " + key + " = " +
                       (*cfg)[key].dump() + ", expected a number");
    return (*cfg)[key].get<double>();
  };
  q.clip_value = static_cast<float>(number("clip_value", 1.0));
  q.threshold_value = static_cast<float>(number("threshold_value", 0.05));
  if (cfg && cfg->contains("ternary_weight_networks") &&
      (*cfg)["ternary_weight_networks"].is_boolean())
    q.ternary_weight_networks = (*cfg)["ternary_weight_networks"].get<bool>();
  const bool st = q.kind == QuantizerKind::StDoReFa;
  const double k_bit = number("k_bit", st ? 8.0 : 2.0);
  if ((q.kind == QuantizerKind::DoReFa || st) && (k_bit < 1 || k_bit > 24 || k_bit != std::floor(k_bit)))
    throw ModelError(where + ": " + name + " k_bit = " + json(k_bit).dump() + " is not an integer in 1..24");
  q.k_bit = static_cast<int>(k_bit);
  if (cfg && cfg->contains("mode") && (*cfg)["mode"].is_string()) {
    const auto mode = (*cfg)["mode"].get<std::string>();
    if (mode == "weights") {
      q.dorefa_weights = true;
    } else if (mode != "activations") {
      throw ModelError(where + ": " + name + " mode \"" + mode +
                       "\" is invalid; Larq accepts \"activations\" and \"weights\"");
    }
  }
  // round(x * (2^k - 2)) / (2^k - 2) with k = 1 divides by zero: every weight becomes NaN.
  if (st && q.dorefa_weights && q.k_bit < 2)
    throw ModelError(where + ": STCustomDoReFa k_bit = 1 in \"weights\" mode divides by 2^k - 2 = 0 "
                     "(every weight is NaN in Keras); use k_bit >= 2");
  return q;
}

// Forward values follow larq >= 0.10, where clip_value only clips the straight-through
// gradient. (larq <= 0.9 clipped the input before sign/heaviside, which gives the same values
// for any clip_value > 0; for SteTern it differs only for |x| > clip_value.)

// sign with sign(0) = +1 (larq.math.sign); -0.0 also gives +1 since -0.0 < 0 is false.
inline float sign_pm1(float x) { return x < 0.0f ? -1.0f : 1.0f; }

// SteSign / ApproxSign / SwishSign forward: sign(x), sign(0) = +1.
inline float ste_sign(float x) { return sign_pm1(x); }

// SteHeaviside forward: sign(relu(x)) = x > 0 ? 1 : 0.
inline float ste_heaviside(float x) { return x > 0.0f ? 1.0f : 0.0f; }

// TF's sign: -1, 0 or +1.
inline float tf_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

// SteTern forward: sign(sign(x + t) + sign(x - t)), so |x| >= t keeps its sign
// (x == t gives +1, x == -t gives -1) and |x| < t gives 0.
inline float ste_tern(float x, float threshold) {
  return tf_sign(tf_sign(x + threshold) + tf_sign(x - threshold));
}

// The Ternary-Weight-Networks threshold: 0.7 * sum|x| / size, over the whole tensor.
// The sum is accumulated in double and rounded once (TF's reduction order is unspecified).
inline float ste_tern_twn_threshold(const std::vector<float>& x) {
  double s = 0.0;
  for (float v : x) s += std::fabs(v);
  return 0.7f * static_cast<float>(s) / static_cast<float>(x.size());
}

// tf.round: round half to even, independent of the floating-point environment.
inline float round_half_even(float x) {
  if (std::fabs(x - std::trunc(x)) == 0.5f) return 2.0f * std::round(x * 0.5f);
  return std::round(x);
}

// DoReFa core: round(x * n) / n (as float32): Larq's n = 2^k - 1; STCustomDoReFa's n =
// 2^(k-1) for activations and 2^k - 2 for weights.
inline float levels(float x, float n) { return round_half_even(x * n) / n; }
inline float dorefa_n(int k_bit) { return static_cast<float>((int64_t{1} << k_bit) - 1); }
inline float st_dorefa_act_n(int k_bit) { return static_cast<float>(int64_t{1} << (k_bit - 1)); }
inline float st_dorefa_weight_n(int k_bit) { return static_cast<float>((int64_t{1} << k_bit) - 2); }
inline float dorefa_levels(float x, int k_bit) { return levels(x, dorefa_n(k_bit)); }

// DoReFa in "activations" mode: clip to [0, 1], then k-bit levels.
inline float dorefa_activation(float x, int k_bit) {
  return dorefa_levels(std::clamp(x, 0.0f, 1.0f), k_bit);
}

// STCustomDoReFa in "activations" mode: clip to [-1, 1 - 2^-(k-1)] (Python computes the bound
// in double; it is exact in float32 for k <= 24), then levels with n = 2^(k-1): a signed k-bit
// integer over 2^(k-1).
inline float st_dorefa_activation(float x, int k_bit) {
  const float n = st_dorefa_act_n(k_bit);
  return levels(std::clamp(x, -1.0f, 1.0f - 1.0f / n), n);
}

// The weights-mode preprocessing of both DoReFa flavours: limited = tanh(w), d = max |limited|,
// normed = (d == 0 ? 0 : limited / (2 d)) + 0.5 (tf.math.divide_no_nan).
inline void dorefa_weight_preprocess(std::vector<float>& w) {
  float d = 0.0f;
  for (float& v : w) {
    v = std::tanh(v);
    d = std::max(d, std::fabs(v));
  }
  const float two_d = 2.0f * d;
  for (float& v : w) v = (two_d == 0.0f ? 0.0f : v / two_d) + 0.5f;
}

// Weights mode over a whole tensor: out = 2 levels(normed, n) - 1, with n = 2^k - 1 (Larq) or
// 2^k - 2 (STCustomDoReFa).
inline void dorefa_weights(std::vector<float>& w, float n) {
  dorefa_weight_preprocess(w);
  for (float& v : w) v = 2.0f * levels(v, n) - 1.0f;
}

// Latent weights whose rounding in weights mode could differ between BitLens and TensorFlow:
// TF's tanh is Eigen's float approximation, not libm's, so a weight whose normed * n lies within
// about 1e-6 (in the latent weight) of a .5 boundary may round the other way in Keras.
// `d` is max |tanh(w)| over the tensor; *away (when given) is the direction, +1 or -1, in which
// moving w leaves the boundary.
inline bool dorefa_weight_near_boundary(float w, float d, float n, int* away = nullptr) {
  if (d == 0.0f) return false;
  const float l = std::tanh(w);
  const double t = static_cast<double>(l / (2.0f * d) + 0.5f) * n;
  const double off = t - (std::floor(t) + 0.5);
  if (away) *away = off < 0 ? -1 : 1;
  // d(normed * n)/dw = n (1 - tanh^2) / (2 d); 4 float ulps of t cover the float arithmetic.
  const double slope = n * (1.0 - static_cast<double>(l) * l) / (2.0 * d);
  return std::fabs(off) <= 1e-6 * slope + 4.0 * std::ldexp(1.0, std::ilogb(std::max(t, 1.0)) - 23);
}

inline float dorefa_tanh_max(const std::vector<float>& w) {
  float d = 0.0f;
  for (float v : w) d = std::max(d, std::fabs(std::tanh(v)));
  return d;
}

inline int64_t dorefa_weights_near_boundary(const std::vector<float>& w, float n) {
  const float d = dorefa_tanh_max(w);
  int64_t count = 0;
  for (float v : w) count += dorefa_weight_near_boundary(v, d, n) ? 1 : 0;
  return count;
}

// ---- The integer form of k-bit layers (BitLens' definition; the int8 kernels compute it) ----
// An activations-mode DoReFa-family quantizer of at most 8 bits has levels q / levels with q an
// integer that fits int8 after subtracting `offset`: STCustomDoReFa q in -2^(k-1)..2^(k-1) - 1
// over 2^(k-1) (offset 0); Larq DoReFa q in 0..2^k - 1 over 2^k - 1 (offset 128 from 8 bits).
struct S8Levels {
  float levels = 0;
  int32_t offset = 0;
};
inline std::optional<S8Levels> s8_activation_levels(const QuantizerSpec& q) {
  if (q.dorefa_weights || q.k_bit < 1 || q.k_bit > 8) return std::nullopt;
  if (q.kind == QuantizerKind::StDoReFa) return S8Levels{st_dorefa_act_n(q.k_bit), 0};
  if (q.kind == QuantizerKind::DoReFa) return S8Levels{dorefa_n(q.k_bit), q.k_bit == 8 ? 128 : 0};
  return std::nullopt;
}
// A weights-mode quantizer whose levels are w / m with w an integer within +-127: m = 2^(k-1) - 1
// for STCustomDoReFa (k = 2..8; 2r/(2^k - 2) - 1 = (r - m)/m) and 2^k - 1 for Larq DoReFa
// (k = 1..7; 2r/(2^k - 1) - 1 = (2r - m)/m). 0 when there is no such form.
inline int32_t int8_weight_denominator(const QuantizerSpec& q) {
  if (!q.dorefa_weights) return 0;
  if (q.kind == QuantizerKind::StDoReFa && q.k_bit >= 2 && q.k_bit <= 8) return (int32_t{1} << (q.k_bit - 1)) - 1;
  if (q.kind == QuantizerKind::DoReFa && q.k_bit >= 1 && q.k_bit <= 7) return (int32_t{1} << q.k_bit) - 1;
  return 0;
}
// The integer of a weight level (quantize_tensor's output) over denominator m: the level is
// 2r/n - 1 rounded in float32, within 2^-22 of the exact fraction, so the nearest integer is it.
inline int8_t int8_weight(float level, int32_t m) {
  return static_cast<int8_t>(std::lround(static_cast<double>(level) * m));
}
// The float an int8 layer's accumulator (sum of q_x * w over the taps) is multiplied by: one
// float32 rounding of 1 / (levels * m). y = float(acc) * scale, then the layer's bias and
// BatchNorm as Keras applies them.
inline float int8_product_scale(float levels, int32_t m) {
  return static_cast<float>(1.0 / (static_cast<double>(levels) * m));
}

// MagnitudeAwareSign's scale: mean |x| over all axes but the last, one value per last-axis
// index (per output channel for a kernel). Accumulated in double, rounded once to float.
inline std::vector<float> magnitude_aware_alpha(const std::vector<float>& x, int64_t last_dim) {
  std::vector<double> sum(static_cast<size_t>(last_dim), 0.0);
  for (size_t i = 0; i < x.size(); ++i) sum[i % static_cast<size_t>(last_dim)] += std::fabs(x[i]);
  const double count = static_cast<double>(x.size() / static_cast<size_t>(last_dim));
  std::vector<float> alpha(sum.size());
  for (size_t c = 0; c < sum.size(); ++c)
    alpha[c] = count > 0 ? static_cast<float>(sum[c] / count) : 0.0f;
  return alpha;
}

// Applies a quantizer to a whole tensor whose last axis has `last_dim` entries (channels).
// Tensor-wide statistics (MagnitudeAwareSign, TWN threshold, DoReFa weights) are computed over
// exactly the tensor given, as Larq does.
inline void quantize_tensor(const QuantizerSpec& q, std::vector<float>& x, int64_t last_dim) {
  switch (q.kind) {
    case QuantizerKind::None:
    case QuantizerKind::NoOp:
      return;
    case QuantizerKind::SteSign:
    case QuantizerKind::ApproxSign:
    case QuantizerKind::SwishSign:
      for (float& v : x) v = ste_sign(v);
      return;
    case QuantizerKind::MagnitudeAwareSign: {
      if (last_dim <= 0 || x.empty()) return;
      const auto alpha = magnitude_aware_alpha(x, last_dim);
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = alpha[i % static_cast<size_t>(last_dim)] * ste_sign(x[i]);
      return;
    }
    case QuantizerKind::SteHeaviside:
      for (float& v : x) v = ste_heaviside(v);
      return;
    case QuantizerKind::SteTern: {
      if (x.empty()) return;
      const float t = q.ternary_weight_networks ? ste_tern_twn_threshold(x) : q.threshold_value;
      for (float& v : x) v = ste_tern(v, t);
      return;
    }
    case QuantizerKind::DoReFa:
      if (q.dorefa_weights) {
        dorefa_weights(x, dorefa_n(q.k_bit));
      } else {
        for (float& v : x) v = dorefa_activation(v, q.k_bit);
      }
      return;
    case QuantizerKind::StDoReFa:
      if (q.dorefa_weights) {
        dorefa_weights(x, st_dorefa_weight_n(q.k_bit));
      } else {
        for (float& v : x) v = st_dorefa_activation(v, q.k_bit);
      }
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Activations.
// ---------------------------------------------------------------------------------------------

inline float relu(float x) { return std::max(x, 0.0f); }
inline float relu6(float x) { return std::min(std::max(x, 0.0f), 6.0f); }
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// tf.keras 2.x: clip(0.2 x + 0.5, 0, 1).
inline float hard_sigmoid_keras2(float x) {
  return std::clamp(x * 0.2f + 0.5f, 0.0f, 1.0f);
}
// Keras 3: relu6(x + 3) / 6.
inline float hard_sigmoid_keras3(float x) { return relu6(x + 3.0f) / 6.0f; }
inline float swish(float x) { return x * sigmoid(x); }
inline float hard_tanh(float x) { return std::clamp(x, -1.0f, 1.0f); }  // larq.activations
inline float elu(float x, float alpha = 1.0f) { return x > 0.0f ? x : alpha * std::expm1(x); }
inline float softplus(float x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0f); }
inline float softsign(float x) { return x / (std::fabs(x) + 1.0f); }
inline float selu(float x) {
  constexpr float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
  return scale * elu(x, alpha);
}
// Keras (tf.nn.gelu): 0.5 * x * (1 + erf(x / sqrt(2))); approximate: 0.5 * x * (1 + tanh(
// sqrt(2/pi) * (x + 0.044715 * x^3))), one float32 operation at a time as TF runs them, with
// erf/tanh from libm in double, rounded to float. The steps matter: 1 + erf (1 + tanh) cancels for
// negative x and is exactly 0 below about -5.4, so Keras' result there is -0 (sign +1 for a
// following quantizer), not the tiny negative exact value.
inline float gelu(float x) {
  const float u = x / 1.41421356f;
  const float s = 1.0f + static_cast<float>(std::erf(static_cast<double>(u)));
  return (0.5f * x) * s;
}
inline float gelu_tanh(float x) {
  const float cube = static_cast<float>(std::pow(static_cast<double>(x), 3));  // tf.pow(x, 3)
  const float v = 0.7978845608f * (x + 0.044715f * cube);
  const float s = 1.0f + static_cast<float>(std::tanh(static_cast<double>(v)));
  return (0.5f * x) * s;
}
inline float leaky_relu(float x, float alpha) { return x > 0.0f ? x : alpha * x; }
// Keras 3 hard_silu / hard_swish: x * relu6(x + 3) / 6.
inline float hard_swish(float x) { return x * (relu6(x + 3.0f) / 6.0f); }
inline float mish(float x) { return x * std::tanh(softplus(x)); }
// larq.activations.leaky_tanh: clip(x, -1, 1) + (max(x, 1) - 1) alpha + (min(x, -1) + 1) alpha.
inline float leaky_tanh(float x, float alpha) {
  return hard_tanh(x) + (std::max(x, 1.0f) - 1.0f) * alpha + (std::min(x, -1.0f) + 1.0f) * alpha;
}

// Keras' backend.relu as the ReLU layer calls it (tf.keras 2.x):
//   negative_slope != 0 and no max_value and threshold == 0: leaky_relu;
//   otherwise x' = threshold != 0 ? x * (x > threshold) : relu(x) (relu6 when max_value == 6),
//   clipped to [0, max_value] when given, minus negative_slope * relu(threshold - x).
inline float relu_layer(float x, std::optional<float> max_value, float negative_slope,
                        float threshold) {
  if (negative_slope != 0.0f && !max_value && threshold == 0.0f)
    return x > 0.0f ? x : x * negative_slope;
  float negative_part = 0.0f;
  if (negative_slope != 0.0f) negative_part = std::max(threshold - x, 0.0f);
  float y;
  bool clip_max = static_cast<bool>(max_value);
  if (threshold != 0.0f) {
    y = x * (x > threshold ? 1.0f : 0.0f);
  } else if (max_value && *max_value == 6.0f) {
    y = relu6(x);
    clip_max = false;
  } else {
    y = relu(x);
  }
  if (clip_max) y = std::clamp(y, 0.0f, *max_value);
  if (negative_slope != 0.0f) y -= negative_slope * negative_part;
  return y;
}

enum class ActivationKind {
  Linear,
  Relu,
  Relu6,
  Sigmoid,
  Tanh,
  Softmax,  // over the last axis; not elementwise
  HardSigmoid,
  HardSigmoidKeras3,
  Swish,
  HardTanh,
  Elu,
  Selu,
  Softplus,
  Softsign,
  Exponential,
  Gelu,
  GeluTanh,
  LeakyRelu,   // alpha: the function's default negative slope 0.2
  HardSwish,
  Mish,
  LeakyTanh,   // larq.activations.leaky_tanh, alpha 0.2
  LogSoftmax,  // over the last axis; not elementwise
  Prelu,       // the PReLU layer's learned slopes (not a function name)
  Quantizer,  // a Larq quantizer used as activation (activation="ste_sign")
};

struct ActivationSpec {
  ActivationKind kind = ActivationKind::Linear;
  QuantizerSpec quantizer;  // for ActivationKind::Quantizer
  std::string name;         // as written in the file
  float alpha = 0.0f;       // LeakyRelu / LeakyTanh slope, Elu alpha (1 for the function)
};

// The activation functions BitLens implements, by the names Keras 2.x/3 and Larq serialize
// them under (one list for the importer, the reference interpreter, the kernels and the docs).
struct ActivationName {
  std::string_view name;
  ActivationKind kind;
};
inline constexpr ActivationName kActivationNames[] = {
    {"linear", ActivationKind::Linear},         {"relu", ActivationKind::Relu},
    {"relu6", ActivationKind::Relu6},           {"sigmoid", ActivationKind::Sigmoid},
    {"tanh", ActivationKind::Tanh},             {"softmax", ActivationKind::Softmax},
    {"log_softmax", ActivationKind::LogSoftmax}, {"hard_sigmoid", ActivationKind::HardSigmoid},
    {"swish", ActivationKind::Swish},           {"silu", ActivationKind::Swish},
    {"hard_swish", ActivationKind::HardSwish},  {"hard_silu", ActivationKind::HardSwish},
    {"hard_tanh", ActivationKind::HardTanh},    {"leaky_tanh", ActivationKind::LeakyTanh},
    {"elu", ActivationKind::Elu},               {"selu", ActivationKind::Selu},
    {"gelu", ActivationKind::Gelu},             {"leaky_relu", ActivationKind::LeakyRelu},
    {"softplus", ActivationKind::Softplus},     {"softsign", ActivationKind::Softsign},
    {"mish", ActivationKind::Mish},             {"exponential", ActivationKind::Exponential},
};

inline std::string supported_activation_names() {
  std::string s;
  for (const auto& e : kActivationNames) s += (s.empty() ? "" : ", ") + std::string(e.name);
  return s + " and the Larq quantizers";
}

// Parses a Keras activation: null, a name ("relu"), a Keras 3 function dict
// ({"class_name": "function", "config": "relu"}) or a Larq quantizer (name or object, e.g.
// {"class_name": "SteSign", "config": {...}}). `keras3` selects Keras 3's hard_sigmoid.
// Returns nothing and sets *why when the activation is not one BitLens implements.
inline std::optional<ActivationSpec> try_parse_activation(const json& j, const std::string& where,
                                                          bool keras3, std::string* why) {
  ActivationSpec a;
  if (j.is_null()) {
    a.name = "linear";
    return a;
  }
  std::string name;
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    name = j["class_name"].get<std::string>();
    if (name == "function" && j.contains("config") && j["config"].is_string())
      name = j["config"].get<std::string>();
  } else {
    if (why) *why = "activation " + j.dump() + " is neither a name nor a serialized object";
    return std::nullopt;
  }
  a.name = name;
  for (const auto& e : kActivationNames) {
    if (name == e.name) {
      a.kind = e.kind;
      if (a.kind == ActivationKind::HardSigmoid && keras3) a.kind = ActivationKind::HardSigmoidKeras3;
      if (a.kind == ActivationKind::LeakyRelu || a.kind == ActivationKind::LeakyTanh) a.alpha = 0.2f;
      if (a.kind == ActivationKind::Elu) a.alpha = 1.0f;
      return a;
    }
  }
  if (quantizer_kind_from_name(name)) {
    a.kind = ActivationKind::Quantizer;
    a.quantizer = parse_quantizer(j, where);
    return a;
  }
  if (why)
    *why = "activation \"" + name + "\" is not one BitLens implements (a custom function or an "
           "unknown quantizer); supported: " + supported_activation_names();
  return std::nullopt;
}

inline ActivationSpec parse_activation(const json& j, const std::string& where, bool keras3) {
  std::string why;
  if (auto a = try_parse_activation(j, where, keras3, &why)) return *a;
  throw ModelError(where + ": " + why);
}

// Elementwise activations (not Softmax, not tensor-wide quantizers: see quantize_tensor).
inline float apply_activation(ActivationKind k, float x) {
  switch (k) {
    case ActivationKind::Linear: return x;
    case ActivationKind::Relu: return relu(x);
    case ActivationKind::Relu6: return relu6(x);
    case ActivationKind::Sigmoid: return sigmoid(x);
    case ActivationKind::Tanh: return std::tanh(x);
    case ActivationKind::HardSigmoid: return hard_sigmoid_keras2(x);
    case ActivationKind::HardSigmoidKeras3: return hard_sigmoid_keras3(x);
    case ActivationKind::Swish: return swish(x);
    case ActivationKind::HardTanh: return hard_tanh(x);
    case ActivationKind::Elu: return elu(x);
    case ActivationKind::Selu: return selu(x);
    case ActivationKind::Softplus: return softplus(x);
    case ActivationKind::Softsign: return softsign(x);
    case ActivationKind::Exponential: return std::exp(x);
    case ActivationKind::Gelu: return gelu(x);
    case ActivationKind::GeluTanh: return gelu_tanh(x);
    case ActivationKind::LeakyRelu: return leaky_relu(x, 0.2f);
    case ActivationKind::HardSwish: return hard_swish(x);
    case ActivationKind::Mish: return mish(x);
    case ActivationKind::LeakyTanh: return leaky_tanh(x, 0.2f);
    case ActivationKind::LogSoftmax:
    case ActivationKind::Prelu:
    case ActivationKind::Softmax:
    case ActivationKind::Quantizer: break;
  }
  return std::numeric_limits<float>::quiet_NaN();
}

// Softmax over contiguous groups of `axis_len` values: exp(x - max) / sum(exp(x - max)).
inline void softmax_inplace(std::vector<float>& x, int64_t axis_len, int64_t inner = 1) {
  if (axis_len <= 0) return;
  const int64_t outer = static_cast<int64_t>(x.size()) / (axis_len * inner);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      float* base = x.data() + o * axis_len * inner + in;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < axis_len; ++i) m = std::max(m, base[i * inner]);
      float sum = 0.0f;
      for (int64_t i = 0; i < axis_len; ++i) {
        base[i * inner] = std::exp(base[i * inner] - m);
        sum += base[i * inner];
      }
      for (int64_t i = 0; i < axis_len; ++i) base[i * inner] /= sum;
    }
  }
}

// tf.nn.log_softmax: (x - max) - log(sum(exp(x - max))) over contiguous groups of axis_len.
inline void log_softmax_inplace(std::vector<float>& x, int64_t axis_len) {
  if (axis_len <= 0) return;
  for (size_t o = 0; o + static_cast<size_t>(axis_len) <= x.size(); o += static_cast<size_t>(axis_len)) {
    float* base = x.data() + o;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < axis_len; ++i) m = std::max(m, base[i]);
    double sum = 0.0;
    for (int64_t i = 0; i < axis_len; ++i) sum += std::exp(static_cast<double>(base[i]) - m);
    const double ls = std::log(sum);
    for (int64_t i = 0; i < axis_len; ++i) base[i] = static_cast<float>((static_cast<double>(base[i]) - m) - ls);
  }
}

// Applies an activation to a tensor whose last axis has `last_dim` entries.
inline void activate_tensor(const ActivationSpec& a, std::vector<float>& x, int64_t last_dim) {
  if (a.kind == ActivationKind::Linear) return;
  if (a.kind == ActivationKind::Softmax) return softmax_inplace(x, last_dim);
  if (a.kind == ActivationKind::LogSoftmax) return log_softmax_inplace(x, last_dim);
  if (a.kind == ActivationKind::LeakyRelu) {
    for (float& v : x) v = leaky_relu(v, a.alpha);
    return;
  }
  if (a.kind == ActivationKind::LeakyTanh) {
    for (float& v : x) v = leaky_tanh(v, a.alpha);
    return;
  }
  if (a.kind == ActivationKind::Elu) {
    for (float& v : x) v = elu(v, a.alpha);
    return;
  }
  if (a.kind == ActivationKind::Quantizer) return quantize_tensor(a.quantizer, x, last_dim);
  for (float& v : x) v = apply_activation(a.kind, v);
}

}  // namespace bitlens::sem
