// Keras + Larq forward semantics as small inline functions: TF "same" padding amounts, the
// BatchNormalization float expression, the Larq quantizers and the Keras activations.
// The reference interpreter uses exactly these; the compiler derives integer thresholds from them.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
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
  // QKeras (qkeras/quantizers.py); forward values below, each one as TF evaluates it.
  QkBits,     // quantized_bits: fixed point, `bits` bits of which `integer` left of the point
  QkRelu,     // quantized_relu: relu, then unsigned fixed point
  QkBinary,   // binary: -1/+1 (or 0/1 with use_01), times alpha
  QkTernary,  // ternary: -1/0/+1 by a threshold, times alpha
};

struct QuantizerSpec {
  QuantizerKind kind = QuantizerKind::None;
  std::string class_name;  // as written in the file (for messages); empty for null
  float clip_value = 1.0f;  // gradient only; kept for messages
  float threshold_value = 0.05f;         // SteTern
  bool ternary_weight_networks = false;  // SteTern
  int k_bit = 2;                         // DoReFa (8 for STCustomDoReFa)
  bool dorefa_weights = false;           // DoReFa / STCustomDoReFa mode == "weights"
  // QKeras: quantized_bits(bits, integer, symmetric, keep_negative, alpha),
  // quantized_relu(bits, integer), binary(use_01, alpha), ternary(alpha, threshold).
  // alpha / threshold: nullopt for Python None.
  int bits = 8;
  int integer = 0;
  bool symmetric = false;
  bool keep_negative = true;
  bool use_01 = false;
  std::optional<float> alpha;
  // alpha="auto" / "auto_po2" (quantized_bits and binary on weights): per-channel scales fitted
  // to the tensor (qkeras_fit). QKeras makes quantized_bits symmetric then.
  enum class AlphaFit { None, Auto, AutoPo2 } alpha_fit = AlphaFit::None;
  std::optional<float> threshold;
  bool is_qkeras() const {
    return kind == QuantizerKind::QkBits || kind == QuantizerKind::QkRelu || kind == QuantizerKind::QkBinary ||
           kind == QuantizerKind::QkTernary;
  }

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
    case QuantizerKind::QkBits: return "quantized_bits";
    case QuantizerKind::QkRelu: return "quantized_relu";
    case QuantizerKind::QkBinary: return "binary";
    case QuantizerKind::QkTernary: return "ternary";
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
      {"quantized_bits", "quantized_bits", QuantizerKind::QkBits},
      {"quantized_relu", "quantized_relu", QuantizerKind::QkRelu},
      {"binary", "binary", QuantizerKind::QkBinary},
      {"ternary", "ternary", QuantizerKind::QkTernary},
  };
  for (const auto& e : table)
    if (name == e.a || name == e.b) return e.kind;
  return std::nullopt;
}

// ---- QKeras quantizers (qkeras/quantizers.py) ----
// QKeras writes a quantizer in a layer config either as a serialized object
// ({"class_name": "quantized_bits", "config": {"bits": 8, ...}}) or, in QActivation and in
// configs written by hand, as the Python call QKeras evaluates ("quantized_relu(4,0)",
// "quantized_bits(8, 0, alpha=1)"). Both become one config object here.

// The constructor parameters in Python's positional order (qkeras/quantizers.py).
inline const std::vector<std::string_view>& qkeras_params(QuantizerKind k) {
  static const std::vector<std::string_view> bits = {"bits", "integer", "symmetric", "keep_negative", "alpha",
                                                     "use_stochastic_rounding", "scale_axis", "qnoise_factor",
                                                     "var_name", "use_ste", "use_variables"};
  static const std::vector<std::string_view> relu = {"bits", "integer", "use_sigmoid", "negative_slope",
                                                     "use_stochastic_rounding", "relu_upper_bound",
                                                     "is_quantized_clip", "qnoise_factor", "var_name", "use_ste",
                                                     "use_variables"};
  static const std::vector<std::string_view> binary = {"use_01", "alpha", "use_stochastic_rounding"};
  static const std::vector<std::string_view> ternary = {"alpha", "threshold", "use_stochastic_rounding",
                                                        "number_of_unrolls"};
  switch (k) {
    case QuantizerKind::QkBits: return bits;
    case QuantizerKind::QkRelu: return relu;
    case QuantizerKind::QkBinary: return binary;
    default: return ternary;
  }
}

// "name(1, 2.5, alpha=None, mode='x')" -> {"1st param": 1, ...} by qkeras_params. Literals:
// numbers, True/False, None and quoted strings, as QKeras' safe_eval accepts them.
inline json qkeras_call_config(std::string_view text, QuantizerKind k, const std::string& where) {
  const auto bad = [&](const std::string& what) {
    return ModelError(where + ": cannot read QKeras quantizer \"" + std::string(text) + "\": " + what);
  };
  json cfg = json::object();
  const size_t open = text.find('(');
  if (open == std::string_view::npos) return cfg;
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos || close < open) throw bad("no closing parenthesis");
  for (char c : text.substr(close + 1))
    if (!std::isspace(static_cast<unsigned char>(c))) throw bad("text after the closing parenthesis");
  std::string_view body = text.substr(open + 1, close - open - 1);
  const auto trim = [](std::string_view v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return v;
  };
  const auto literal = [&](std::string_view v) -> json {
    v = trim(v);
    if (v == "True") return true;
    if (v == "False") return false;
    if (v == "None") return nullptr;
    if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
      return std::string(v.substr(1, v.size() - 2));
    const std::string s(v);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) throw bad("\"" + s + "\" is not a number, True, False, None or a string");
    const bool integral = s.find_first_of(".eEn") == std::string::npos;
    if (integral && std::fabs(d) < 1e15) return static_cast<int64_t>(d);
    return d;
  };
  const auto& params = qkeras_params(k);
  size_t position = 0;
  bool keywords = false;
  while (!trim(body).empty()) {
    // Split at the next comma outside quotes.
    size_t i = 0;
    char quote = 0;
    for (; i < body.size(); ++i) {
      if (quote) {
        if (body[i] == quote) quote = 0;
      } else if (body[i] == '\'' || body[i] == '"') {
        quote = body[i];
      } else if (body[i] == ',') {
        break;
      }
    }
    const std::string_view arg = trim(body.substr(0, i));
    body = i < body.size() ? body.substr(i + 1) : std::string_view{};
    if (arg.empty()) {
      if (trim(body).empty()) break;  // a trailing comma
      throw bad("an empty argument");
    }
    const size_t eq = arg.find('=');
    if (eq != std::string_view::npos && arg.substr(0, eq).find_first_of("'\"") == std::string_view::npos) {
      const std::string key(trim(arg.substr(0, eq)));
      if (std::find(params.begin(), params.end(), key) == params.end())
        throw bad("no parameter named '" + key + "'");
      cfg[key] = literal(arg.substr(eq + 1));
      keywords = true;
    } else {
      if (keywords) throw bad("a positional argument after a keyword argument");
      if (position >= params.size()) throw bad("more than " + std::to_string(params.size()) + " arguments");
      cfg[std::string(params[position++])] = literal(arg);
    }
  }
  return cfg;
}

// Reads a QKeras quantizer's config into q (kind already set). Every key is either computed as
// QKeras computes it or refused with its value: alpha "auto"/"auto_po2" (scales fitted to the
// tensor), stochastic rounding, qnoise_factor != 1, the sigmoid and leaky forms of
// quantized_relu.
inline void read_qkeras_config(QuantizerSpec& q, const json& cfg, const std::string& where) {
  const std::string name = quantizer_kind_name(q.kind);
  const auto refuse = [&](const std::string& key, const json& v, const std::string& why) {
    return ModelError(where + ": " + name + " " + key + "=" + v.dump() + " " + why);
  };
  const auto& params = qkeras_params(q.kind);
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    if (it.key() == "name" || it.key() == "trainable" || it.key() == "dtype") continue;  // not QKeras' own
    if (std::find(params.begin(), params.end(), it.key()) == params.end())
      throw refuse(it.key(), it.value(), "is not a parameter of QKeras' " + name + " that BitLens knows");
  }
  const auto get = [&](const char* key) -> const json* {
    auto it = cfg.find(key);
    return it == cfg.end() ? nullptr : &*it;
  };
  const auto integer = [&](const char* key, int def, int lo, int hi) {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_number() || v->get<double>() != std::floor(v->get<double>()) || v->get<double>() < lo ||
        v->get<double>() > hi)
      throw refuse(key, *v, "is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(v->get<double>());
  };
  // Python truthiness of a flag QKeras also uses as a number (keep_negative * (...)): 0 or 1.
  const auto flag = [&](const char* key, bool def) {
    const json* v = get(key);
    if (!v || v->is_null()) return def;
    if (v->is_boolean()) return v->get<bool>();
    if (v->is_number() && (v->get<double>() == 0 || v->get<double>() == 1)) return v->get<double>() != 0;
    throw refuse(key, *v, "is not True/False (or 0/1)");
  };
  const auto optional_number = [&](const char* key) -> std::optional<float> {
    const json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string())
      throw refuse(key, *v, "fits a scale to the tensor, which BitLens computes for quantized_bits and binary only; "
                            "use a number (alpha=1) or None");
    if (!v->is_number() || !std::isfinite(v->get<double>())) throw refuse(key, *v, "is not a finite number or None");
    return static_cast<float>(v->get<double>());
  };
  // "auto" / "auto_po2" where QKeras fits them (quantized_bits, binary); other strings refused.
  const auto alpha_fit = [&]() {
    const json* v = get("alpha");
    if (v && v->is_string()) {
      if (v->get<std::string>() == "auto") return QuantizerSpec::AlphaFit::Auto;
      if (v->get<std::string>() == "auto_po2") return QuantizerSpec::AlphaFit::AutoPo2;
      throw refuse("alpha", *v, "is not a number, None, \"auto\" or \"auto_po2\" (QKeras asserts so)");
    }
    return QuantizerSpec::AlphaFit::None;
  };
  if (flag("use_stochastic_rounding", false))
    throw refuse("use_stochastic_rounding", *get("use_stochastic_rounding"),
                 "rounds at random (QKeras versions differ in whether inference does); BitLens computes only "
                 "deterministic rounding: save the model with use_stochastic_rounding=False");
  if (const json* v = get("qnoise_factor"); v && !(v->is_number() && v->get<double>() == 1.0))
    throw refuse("qnoise_factor", *v, "mixes the unquantized input into the output; BitLens computes "
                                      "qnoise_factor=1 (full quantization)");
  if (!flag("use_ste", true))
    throw refuse("use_ste", *get("use_ste"), "changes the forward expression; BitLens computes use_ste=True");
  if (q.kind == QuantizerKind::QkBits || q.kind == QuantizerKind::QkRelu) {
    q.bits = integer("bits", 8, 1, 24);
    // A negative `integer` is version-dependent in QKeras (K.pow(2, integer) on Python ints is an
    // integer power in QKeras 0.9+, 0 for negative exponents; a float power before).
    q.integer = integer("integer", 0, 0, 24);
  }
  switch (q.kind) {
    case QuantizerKind::QkBits:
      q.symmetric = flag("symmetric", false);
      q.keep_negative = flag("keep_negative", true);
      q.alpha_fit = alpha_fit();
      if (q.alpha_fit != QuantizerSpec::AlphaFit::None) q.symmetric = true;  // QKeras' __init__
      else q.alpha = optional_number("alpha");
      if (const json* v = get("scale_axis"); v && !v->is_null())
        throw refuse("scale_axis", *v, "(scales along another axis than the last) is not computed by BitLens; use None");
      break;
    case QuantizerKind::QkRelu:
      if (flag("use_sigmoid", false))
        throw refuse("use_sigmoid", *get("use_sigmoid"), "(the sigmoid form) is not computed by BitLens; use 0");
      if (const json* v = get("negative_slope"); v && !(v->is_number() && v->get<double>() == 0.0))
        throw refuse("negative_slope", *v, "(the leaky form) is not computed by BitLens; use 0.0");
      if (!flag("is_quantized_clip", true))
        throw refuse("is_quantized_clip", *get("is_quantized_clip"),
                     "(clipping at relu_upper_bound instead) is not computed by BitLens; use True");
      if (const json* v = get("relu_upper_bound"); v && !v->is_null() && !v->is_number())
        throw refuse("relu_upper_bound", *v, "is not a number or None");
      break;
    case QuantizerKind::QkBinary:
      q.use_01 = flag("use_01", false);
      q.alpha_fit = alpha_fit();
      if (q.alpha_fit == QuantizerSpec::AlphaFit::None) q.alpha = optional_number("alpha");
      break;
    case QuantizerKind::QkTernary:
      q.alpha = optional_number("alpha");
      q.threshold = optional_number("threshold");
      if (const json* v = get("number_of_unrolls"); v && !v->is_number_integer())
        throw refuse("number_of_unrolls", *v, "is not an integer");
      break;
    default:
      break;
  }
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
  // QKeras' call form: "quantized_bits(8,0,alpha=1)".
  std::string call;
  if (const size_t paren = name.find('('); paren != std::string::npos) {
    call = name;
    name = name.substr(0, paren);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  }
  auto kind = quantizer_kind_from_name(name);
  if (!kind)
    throw ModelError(where + ": unsupported quantizer \"" + name +
                     "\"; supported: SteSign, ApproxSign, SwishSign, MagnitudeAwareSign, "
                     "SteHeaviside, SteTern, DoReFa, STCustomDoReFa, NoOp and QKeras' quantized_bits, "
                     "quantized_relu, binary, ternary");
  q.kind = *kind;
  q.class_name = name;
  if (q.is_qkeras()) {
    read_qkeras_config(q, cfg ? *cfg : qkeras_call_config(call, q.kind, where), where);
    return q;
  }
  if (!call.empty())
    throw ModelError(where + ": quantizer \"" + call + "\" is written as a call, which only QKeras quantizers are");
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

// ---- QKeras forward values (qkeras/quantizers.py, QKeras 0.9+), one float32 operation at a
// time in QKeras' order (docs/decisions.md, "QKeras quantizers"). Every QKeras quantizer returns
// x + stop_gradient(-x + xq), a straight-through estimator whose forward value TF computes as
// written: two float32 additions. For |x| below qkeras_exact_bound that sum is xq exactly; above
// it Keras' own value leaves the quantizer's grid (x = 2^24 through quantized_bits(8, 0) gives
// 1.0, not 0.9921875), and BitLens' kernels, which compute xq, differ from Keras there.

// tf.sign: -1, 0, +1, NaN for NaN.
inline float qk_sign(float x) { return std::isnan(x) ? x : tf_sign(x); }
// tf.clip_by_value(x, lo, hi) = minimum(maximum(x, lo), hi); a NaN stays NaN.
inline float qk_clip(float x, float lo, float hi) {
  if (std::isnan(x)) return x;
  return x < lo ? lo : (x > hi ? hi : x);
}
// QKeras' _round_through(p): p + (-p + round(p)) (round half to even).
inline float qk_round_through(float p) { return p + (-p + round_half_even(p)); }
inline float qk_ste(float x, float xq) { return x + (-x + xq); }

// quantized_bits(bits, integer, symmetric, keep_negative, alpha) with alpha None or a number:
//   m = 2^(bits - keep_negative), m_i = 2^integer
//   xq = m_i * clip(round_through(x * m / m_i), keep_negative * (-m + symmetric), m - 1) / m
//   (bits - keep_negative == 0: xq = sign(x) with sign(0) = +1, mapped to 0/1 without
//   keep_negative), then xq = alpha * xq (1 for None).
inline float qkeras_bits(float x, const QuantizerSpec& q) {
  const int unsigned_bits = q.bits - (q.keep_negative ? 1 : 0);
  float xq;
  if (unsigned_bits > 0) {
    const float m = std::ldexp(1.0f, unsigned_bits), m_i = std::ldexp(1.0f, q.integer);
    // Python's keep_negative * (-m + symmetric): False * a negative float is -0.0.
    const float lo = q.keep_negative ? -m + (q.symmetric ? 1.0f : 0.0f) : -0.0f;
    const float p = x * m / m_i;
    xq = m_i * qk_clip(qk_round_through(p), lo, m - 1.0f) / m;
  } else {
    xq = qk_sign(x);
    xq += 1.0f - std::fabs(xq);
    if (!q.keep_negative) xq = (xq + 1.0f) / 2.0f;
  }
  xq = (q.alpha ? *q.alpha : 1.0f) * xq;
  return qk_ste(x, xq);
}

// quantized_relu(bits, integer) (use_sigmoid = 0, negative_slope = 0, is_quantized_clip):
//   m = 2^bits, m_i = 2^integer, m_f = 2^(integer - bits)
//   x_u = x <= m_i - m_f ? relu(x) : m_i - m_f
//   xq = m_i * clip(round_through(x * m / m_i) / m, 0, 1 - 1/m); result x_u + (-x_u + xq).
inline float qkeras_relu(float x, const QuantizerSpec& q) {
  const float m = std::ldexp(1.0f, q.bits), m_i = std::ldexp(1.0f, q.integer);
  const float top = m_i - std::ldexp(1.0f, q.integer - q.bits);
  const float x_u = x <= top ? (std::isnan(x) ? x : std::max(x, 0.0f)) : top;
  const float p = x * m / m_i;
  const float xq = m_i * qk_clip(qk_round_through(p) / m, 0.0f, 1.0f - 1.0f / m);
  return qk_ste(x_u, xq);
}

// binary(use_01, alpha): k = sign(x) with sign(0) = +1 ((k + 1) / 2 with use_01); alpha None
// passes x through tanh first (the STE's base only: the value is k exactly, whichever tanh).
inline float qkeras_binary(float x, const QuantizerSpec& q) {
  float k = qk_sign(x);
  k += 1.0f - std::fabs(k);
  if (q.use_01) k = (k + 1.0f) / 2.0f;
  const float base = q.alpha ? x : std::tanh(x);
  return qk_ste(base, (q.alpha ? *q.alpha : 1.0f) * k);
}

// ternary(alpha, threshold): (|x| >= threshold) * sign(x), threshold None = 0.33; alpha None
// passes x through tanh first, as binary.
inline float qkeras_ternary(float x, const QuantizerSpec& q) {
  const float t = q.threshold ? *q.threshold : 0.33f;
  const float k = (std::fabs(x) >= t ? 1.0f : 0.0f) * qk_sign(x);
  const float base = q.alpha ? x : std::tanh(x);
  return qk_ste(base, (q.alpha ? *q.alpha : 1.0f) * k);
}

// binary and ternary with a constant alpha (or None) as a threshold step: the level index is the
// number of thresholds t with x >= t, the value that level's, and with alpha set Keras'
// straight-through sum x + (-x + value) in float32 (ste). With alpha None the sum's base is
// tanh(x), |tanh(x)| <= 1, and for values -1, 0 and 1 that sum is the value itself whatever
// tanh's last bit (t + (1 - t) rounds to 1; t + (-t) is +0): the step writes the value. NaN
// stays NaN. nullopt: not such a quantizer (fitted alpha, a threshold below 0 or not finite).
struct QkThresholdStep {
  int count = 0;
  float thr[2] = {0, 0};
  float val[3] = {0, 0, 0};
  bool ste = false;
};
inline std::optional<QkThresholdStep> qkeras_threshold_step(const QuantizerSpec& q) {
  if (q.alpha_fit != QuantizerSpec::AlphaFit::None) return std::nullopt;
  const float a = q.alpha ? *q.alpha : 1.0f;
  QkThresholdStep s;
  s.ste = q.alpha.has_value();
  if (q.kind == QuantizerKind::QkBinary) {
    // k = sign(x) with sign(0) = +1: x >= 0 (-0 included) is the upper level.
    s.count = 1;
    s.thr[0] = 0.0f;
    s.val[0] = q.use_01 ? 0.0f : -a;
    s.val[1] = a;
    return s;
  }
  if (q.kind == QuantizerKind::QkTernary) {
    const float t = q.threshold ? *q.threshold : 0.33f;
    if (!std::isfinite(t) || t < 0.0f) return std::nullopt;
    // |x| >= t: -1 for x <= -t, +1 for x >= t; x > -t is x >= the float after -t.
    s.count = 2;
    s.thr[0] = std::nextafter(-t, INFINITY);
    s.thr[1] = t;
    s.val[0] = -a;
    s.val[1] = 0.0f;
    s.val[2] = a;
    return s;
  }
  return std::nullopt;
}

inline float qkeras_value(float x, const QuantizerSpec& q) {
  switch (q.kind) {
    case QuantizerKind::QkBits: return qkeras_bits(x, q);
    case QuantizerKind::QkRelu: return qkeras_relu(x, q);
    case QuantizerKind::QkBinary: return qkeras_binary(x, q);
    default: return qkeras_ternary(x, q);
  }
}

// The parameters BitLens computes with, for reports: "quantized_bits(8, 0, symmetric=0,
// keep_negative=1, alpha=None)".
inline std::string qkeras_text(const QuantizerSpec& q) {
  const auto num = [](const std::optional<float>& v) { return v ? float_text(*v) : std::string("None"); };
  const std::string alpha = q.alpha_fit == QuantizerSpec::AlphaFit::Auto      ? "'auto'"
                            : q.alpha_fit == QuantizerSpec::AlphaFit::AutoPo2 ? "'auto_po2'"
                                                                              : num(q.alpha);
  switch (q.kind) {
    case QuantizerKind::QkBits:
      return "quantized_bits(" + std::to_string(q.bits) + ", " + std::to_string(q.integer) +
             ", symmetric=" + (q.symmetric ? "1" : "0") + ", keep_negative=" + (q.keep_negative ? "1" : "0") +
             ", alpha=" + alpha + ")";
    case QuantizerKind::QkRelu:
      return "quantized_relu(" + std::to_string(q.bits) + ", " + std::to_string(q.integer) + ")";
    case QuantizerKind::QkBinary:
      return std::string("binary(use_01=") + (q.use_01 ? "1" : "0") + ", alpha=" + alpha + ")";
    case QuantizerKind::QkTernary:
      return "ternary(alpha=" + alpha + ", threshold=" + num(q.threshold) + ")";
    default:
      return quantizer_kind_name(q.kind);
  }
}

// QKeras' fitted scales (alpha = "auto" / "auto_po2"), as qkeras/quantizers.py computes them on a
// tensor of rank `rank` whose last axis has `last_dim` entries: per last-axis index for rank > 1
// (K.image_data_format() "channels_last", scale_axis None), for rank 1 quantized_bits' first
// scale over the whole vector and every least-squares refit per element. Each float32 operation
// as TF runs it, except the reductions: TF's order of a float32 mean is unspecified, so sums are
// taken in double and rounded once. A power-of-two scale is 2^round(log(s + 1e-7) / log 2); where
// that log lies within 1e-5 of a .5 boundary, TF's own log and summation order may pick the
// neighbouring power: *near (when given) counts the values of such channels.
struct QkFit {
  int64_t groups = 1;  // channels for rank > 1
  int rank = 1;
  int64_t last = 1;
  size_t group(size_t i) const { return rank > 1 ? i % static_cast<size_t>(last) : 0; }
};
inline float qk_po2(float s, bool* near) {
  const float l = std::log(s + 1e-7f) / static_cast<float>(0.6931471805599453);
  if (near && std::fabs(std::fabs(l - std::trunc(l)) - 0.5f) < 1e-5f) *near = true;
  // pow(2, round(l)): +Inf for an overflowing scale, 0 for a vanishing one, NaN for NaN.
  const float r = round_half_even(l);
  if (std::isnan(r)) return r;
  return std::ldexp(1.0f, r > 300.0f ? 300 : r < -300.0f ? -300 : static_cast<int>(r));
}
// _get_scale(alpha, x, q): mean(x q) / (mean(q q) + 1e-7) per channel (per element for rank 1),
// a power of two for auto_po2. Returns one scale per value.
inline std::vector<float> qk_least_squares(const std::vector<float>& x, const std::vector<float>& q, const QkFit& f,
                                           bool po2, std::vector<char>& near) {
  std::vector<float> s(x.size());
  if (f.rank <= 1) {
    for (size_t i = 0; i < x.size(); ++i) {
      bool n = false;
      const float v = (x[i] * q[i]) / (q[i] * q[i] + 1e-7f);
      s[i] = po2 ? qk_po2(v, &n) : v;
      near[i] = near[i] || n;
    }
    return s;
  }
  const size_t g = static_cast<size_t>(f.last);
  std::vector<double> xq(g, 0.0), qq(g, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    xq[i % g] += static_cast<double>(x[i] * q[i]);
    qq[i % g] += static_cast<double>(q[i] * q[i]);
  }
  const float count = static_cast<float>(x.size() / g);
  std::vector<float> per(g);
  std::vector<char> pn(g, 0);
  for (size_t c = 0; c < g; ++c) {
    bool n = false;
    const float v = (static_cast<float>(xq[c]) / count) / (static_cast<float>(qq[c]) / count + 1e-7f);
    per[c] = po2 ? qk_po2(v, &n) : v;
    pn[c] = n;
  }
  for (size_t i = 0; i < x.size(); ++i) {
    s[i] = per[i % g];
    near[i] = near[i] || pn[i % g];
  }
  return s;
}

inline void qkeras_fit(std::vector<float>& x, const QuantizerSpec& q, int64_t last_dim, int rank, int64_t* near_count) {
  if (x.empty()) return;
  const QkFit f{rank > 1 ? last_dim : 1, rank, last_dim > 0 ? last_dim : 1};
  const bool po2 = q.alpha_fit == QuantizerSpec::AlphaFit::AutoPo2;
  std::vector<char> near(x.size(), 0);
  if (q.kind == QuantizerKind::QkBinary) {
    std::vector<float> k(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      k[i] = qk_sign(x[i]);
      k[i] += 1.0f - std::fabs(k[i]);
      if (q.use_01) k[i] = (k[i] + 1.0f) / 2.0f;
    }
    const auto s = qk_least_squares(x, k, f, po2, near);
    for (size_t i = 0; i < x.size(); ++i) x[i] = qk_ste(x[i], s[i] * k[i]);
  } else {  // quantized_bits
    const int unsigned_bits = q.bits - (q.keep_negative ? 1 : 0);
    const float m = std::ldexp(1.0f, unsigned_bits), m_i = std::ldexp(1.0f, q.integer);
    const double levels = q.symmetric ? (std::ldexp(1.0, q.bits - 1) - 1) * 2 : std::ldexp(1.0, q.bits) - 1;
    const float half = static_cast<float>(levels / 2);
    std::vector<float> xs(x.size());
    for (size_t i = 0; i < x.size(); ++i) xs[i] = x[i] / m_i;
    // scale = max(|x|) * 2 / levels over the reduced axes (the whole vector for rank 1).
    const size_t g = f.rank > 1 ? static_cast<size_t>(f.last) : 1;
    std::vector<float> mx(g, 0.0f);
    for (size_t i = 0; i < xs.size(); ++i) mx[f.group(i)] = std::max(mx[f.group(i)], std::fabs(xs[i]));
    std::vector<float> s(x.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      bool n = false;
      const float v = mx[f.group(i)] * 2.0f / static_cast<float>(levels);
      s[i] = po2 ? qk_po2(v, &n) : v;
      near[i] = near[i] || n;
    }
    std::vector<float> z(x.size());
    const auto levels_of = [&](const std::vector<float>& scale) {
      for (size_t i = 0; i < xs.size(); ++i) {
        const float v = std::floor(std::fabs(xs[i]) / scale[i] + 0.5f);
        z[i] = qk_sign(xs[i]) * (v < half ? v : half);
      }
    };
    if (po2) {
      for (int it = 0; it < 5; ++it) {  // QKeras' five unrolled refits; z keeps the scale before the last
        levels_of(s);
        s = qk_least_squares(xs, z, f, true, near);
      }
    } else {
      levels_of(s);
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const float scale = s[i] * m;
      const float back = m_i * xs[i];
      x[i] = qk_ste(back, scale * (m_i * z[i] / m));
    }
  }
  if (near_count) {
    *near_count = 0;
    for (char c : near) *near_count += c ? 1 : 0;
  }
}

// A QKeras quantizer as clip-then-levels (the DoReFa kernels' form): clip to [lo, hi], then
// round(x * n) / n. quantized_bits with alpha None or 1 and at least one magnitude bit, and
// quantized_relu: n = m / m_i is a power of two, so x * n and the bounds are exact and clipping
// before rounding gives what rounding before clipping gives.
struct ClipLevels {
  float lo = 0, hi = 0, n = 0;
};
inline std::optional<ClipLevels> qkeras_clip_levels(const QuantizerSpec& q) {
  if (q.kind == QuantizerKind::QkBits) {
    const int unsigned_bits = q.bits - (q.keep_negative ? 1 : 0);
    if (unsigned_bits < 1 || (q.alpha && *q.alpha != 1.0f) || q.alpha_fit != QuantizerSpec::AlphaFit::None)
      return std::nullopt;
    const float m = std::ldexp(1.0f, unsigned_bits), n = std::ldexp(1.0f, unsigned_bits - q.integer);
    return ClipLevels{q.keep_negative ? (-m + (q.symmetric ? 1.0f : 0.0f)) / n : 0.0f, (m - 1.0f) / n, n};
  }
  if (q.kind == QuantizerKind::QkRelu) {
    const float m = std::ldexp(1.0f, q.bits), n = std::ldexp(1.0f, q.bits - q.integer);
    return ClipLevels{0.0f, (m - 1.0f) / n, n};
  }
  return std::nullopt;
}

// Below this |x| Keras' x + (-x + xq) equals xq (the clip-and-levels value). quantized_bits: x's
// float spacing is at most the grid's 1/n (|x| < 2^24 / n), so -x + xq is exact and so is the
// sum; quantized_relu: every x for which x * m stays finite (the clipped x_u and xq are within
// one grid step, or both the top); binary/ternary with alpha None: tanh(x) is in [-1, 1] with
// x's sign, every x; with alpha = 1, |x| < 2^24.
inline double qkeras_exact_bound(const QuantizerSpec& q) {
  switch (q.kind) {
    case QuantizerKind::QkBits: {
      const int unsigned_bits = q.bits - (q.keep_negative ? 1 : 0);
      if (unsigned_bits < 1) return std::ldexp(1.0, 24);  // xq = +-1 or 0/1
      return std::ldexp(1.0, 24 - (unsigned_bits - q.integer));
    }
    case QuantizerKind::QkRelu: return std::ldexp(1.0, 128 - q.bits);
    default: return q.alpha ? std::ldexp(1.0, 24) : std::numeric_limits<double>::infinity();
  }
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
  // QKeras: integers lo*n..hi*n over n; 0..255 (8-bit unsigned) is stored offset by 128.
  if (const auto c = qkeras_clip_levels(q); c && q.bits <= 8)
    return S8Levels{c->n, c->hi * c->n > 127.0f ? 128 : 0};
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
inline void quantize_tensor(const QuantizerSpec& q, std::vector<float>& x, int64_t last_dim, int rank = 2,
                            int64_t* near_boundary = nullptr) {
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
    case QuantizerKind::QkBits:
    case QuantizerKind::QkRelu:
    case QuantizerKind::QkBinary:
    case QuantizerKind::QkTernary:
      if (q.alpha_fit != QuantizerSpec::AlphaFit::None) return qkeras_fit(x, q, last_dim, rank, near_boundary);
      for (float& v : x) v = qkeras_value(v, q);
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
  if (quantizer_kind_from_name(name.substr(0, name.find('(')))) {  // QKeras' call form too
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
