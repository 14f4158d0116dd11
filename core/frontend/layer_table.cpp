// The layer classes BitLens models and their config keys (see layer_table.hpp). Key lists follow
// the get_config() of tf.keras 2.x (keras/layers/...), Keras 3 (keras/src/layers/...) and Larq
// 0.13 (larq/layers_base.py, larq/layers.py); docs/decisions.md is generated from this file.
#include "bitlens/layer_table.hpp"

#include <algorithm>
#include <map>

namespace bitlens {
namespace {

using T = ConfigType;
using json = nlohmann::json;

const char* const kInit = "initializer: used only to create the weights before training";
const char* const kReg = "regularizer: adds a training loss term only";
const char* const kCons = "constraint: applied by the optimizer after each training step only";
const char* const kTrain = "training only (identity at inference)";

// The initializer, regularizer and constraint keys of the named weights.
std::vector<IgnoredKey> ignored_for(std::initializer_list<const char*> weights, bool activity) {
  std::vector<IgnoredKey> v;
  for (const char* w : weights) v.push_back({std::string(w) + "_initializer", kInit});
  for (const char* w : weights) {
    v.push_back({std::string(w) + "_regularizer", kReg});
    v.push_back({std::string(w) + "_constraint", kCons});
  }
  if (activity) v.push_back({"activity_regularizer", kReg});
  return v;
}

template <class V>
V join(V a, const V& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Keys every layer may carry.
const std::vector<ConfigKey>& base_read() {
  static const std::vector<ConfigKey> v = {
      {"dtype", T::DType, false, "null, \"float32\" or a float32 dtype policy"},
      // On the first layer of a tf.keras 2 Sequential model: the model's input.
      {"batch_input_shape", T::Any, false, "the Sequential model's input shape"},
  };
  return v;
}
const std::vector<IgnoredKey>& base_ignored() {
  static const std::vector<IgnoredKey> v = {
      {"name", "the layer's name (shown in reports)"},
      {"trainable", "training only"},
  };
  return v;
}

std::vector<LayerInfo> build_table() {
  const std::vector<ConfigKey> conv_rest = {
      {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"},
      {"activation", T::Activation, false, "see Activations"},
      {"use_bias", T::Bool, false, "any"},
  };
  const std::vector<ConfigKey> conv_common = join(std::vector<ConfigKey>{
      {"kernel_size", T::Pair, true, "any"},
      {"strides", T::Pair, false, "any"},
      {"dilation_rate", T::Pair, false, "any"}}, conv_rest);
  const std::vector<ConfigKey> conv_common_1d = join(std::vector<ConfigKey>{
      {"kernel_size", T::Size1D, true, "any"},
      {"strides", T::Size1D, false, "any"},
      {"dilation_rate", T::Size1D, false, "any"}}, conv_rest);
  // Keras 3 writes these only when set (quantization_config: the newest Keras 3, null unless the
  // layer was quantized).
  const std::vector<ConfigKey> lora = {
      {"quantization_config", T::Any, false, "null (else CONFIG_VALUE)"},
      {"lora_rank", T::Any, false, "null or 0 (else CONFIG_VALUE)"},
      {"lora_alpha", T::Any, false, "any (used only with lora_rank)"},
      {"dora_rank", T::Any, false, "null or 0 (else CONFIG_VALUE)"},
      {"dora_alpha", T::Any, false, "any (used only with dora_rank)"},
  };
  const std::vector<ConfigKey> conv2d = join(conv_common, {
      {"filters", T::PosInt, true, "any"},
      {"padding", T::Padding, false, "\"valid\", \"same\""},
      {"groups", T::PosInt, false, "any dividing the input channels and filters (grouped convolution, GROUPED)"},
  });
  const std::vector<ConfigKey> conv1d = join(conv_common_1d, {
      {"filters", T::PosInt, true, "any"},
      {"padding", T::Padding1D, false, "\"valid\", \"same\", \"causal\""},
      {"groups", T::PosInt, false, "any dividing the input channels and filters (grouped convolution, GROUPED)"},
  });
  const std::vector<ConfigKey> depthwise = join(conv_common, {
      {"padding", T::Padding, false, "\"valid\", \"same\""},
      {"depth_multiplier", T::PosInt, false, "any"},
      // tf.keras 2 DepthwiseConv2D inherits Conv2D's config, groups included (always 1).
      {"groups", T::PosInt, false, "1 (else CONFIG_VALUE)"},
  });
  const std::vector<ConfigKey> separable = join(depthwise, {{"filters", T::PosInt, true, "any"}});
  const std::vector<ConfigKey> dense = {
      {"units", T::PosInt, true, "any"},
      {"activation", T::Activation, false, "see Activations"},
      {"use_bias", T::Bool, false, "any"},
  };
  const std::vector<ConfigKey> larq_in = {
      {"input_quantizer", T::Quantizer, false, "null, no-op, a sign quantizer (ste_sign, approx_sign, swish_sign), or DoReFa / STCustomDoReFa in \"activations\" mode (a quantize step, INPUT_QUANTIZER_STEP; int8 tensors up to 8 bits, INT8_KERNEL) (others: INPUT_QUANTIZER_UNSUPPORTED)"},
  };
  const ConfigKey pad_values = {"pad_values", T::Number, false, "any (exact padding)"};
  // Written by early Larq versions (a constructor argument then).
  const IgnoredKey metrics = {"metrics", "Larq training metrics (e.g. flip_ratio) only"};

  const auto conv_ignored = ignored_for({"kernel", "bias"}, true);
  // QKeras' weight and bias quantizers; its *_range keys are deprecated and unused by call().
  const auto qkeras_kb = [](const char* weight_key) {
    return std::vector<ConfigKey>{
        {weight_key, T::Quantizer, false, "null, or QKeras' quantized_bits, quantized_relu, binary, ternary with a number or None as alpha, quantized_bits and binary also with alpha \"auto\" / \"auto_po2\" (exact values in float32, QUANTIZED_WEIGHTS_FLOAT) (others: KERNEL_QUANTIZER_NOT_SIGN)"},
        {"bias_quantizer", T::Quantizer, false, "null, or a QKeras quantizer as for the kernel (the bias Keras adds, exactly)"}};
  };
  const auto qkeras_ranges = [](const char* weight) {
    return std::vector<IgnoredKey>{{std::string(weight) + "_range", "deprecated in QKeras; not used by call()"},
                                   {"bias_range", "deprecated in QKeras; not used by call()"}};
  };
  const auto dw_ignored = ignored_for({"depthwise", "bias"}, true);
  // tf.keras 2 SeparableConv2D also writes its parent Conv's kernel_* keys (unused).
  const auto sep_ignored = ignored_for({"depthwise", "pointwise", "bias", "kernel"}, true);

  const std::vector<ConfigKey> pool2d = {
      {"pool_size", T::Pair, false, "any"},
      {"strides", T::OptPair, false, "any"},
      {"padding", T::Padding, false, "\"valid\", \"same\""},
      {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"},
  };
  const std::vector<ConfigKey> pool1d = {
      {"pool_size", T::Size1D, false, "any"},
      {"strides", T::Any, false, "any"},
      {"padding", T::Padding, false, "\"valid\", \"same\""},
      {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"},
  };
  const std::vector<ConfigKey> global = {
      {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"},
      {"keepdims", T::Bool, false, "any"},
  };
  const std::vector<IgnoredKey> dropout = {
      {"rate", kTrain}, {"noise_shape", kTrain}, {"seed", kTrain}};

  std::vector<LayerInfo> t = {
      {"InputLayer", "Keras",
       {{"batch_input_shape", T::Any, false, "any"},
        {"batch_shape", T::Any, false, "any"},
        {"sparse", T::Bool, false, "false (else CONFIG_VALUE)"},
        {"ragged", T::Bool, false, "false (else CONFIG_VALUE)"}},
       {{"optional", "Keras 3: whether the input may be None when called; does not change values"}}},
      {"Conv1D", "Keras", join(conv1d, lora), conv_ignored},
      {"Conv2D", "Keras", join(conv2d, lora), conv_ignored},
      {"DepthwiseConv2D", "Keras", join(depthwise, lora), dw_ignored},
      {"SeparableConv2D", "Keras", separable, sep_ignored},
      {"Dense", "Keras", join(dense, lora), conv_ignored},
      {"QuantConv1D", "Larq",
       join(join(conv1d, larq_in), {{"kernel_quantizer", T::Quantizer, false, "null, no-op, ste_sign, approx_sign, swish_sign, magnitude_aware_sign, DoReFa / STCustomDoReFa (int8 integers up to 8 bits, INT8_KERNEL; else exact values in float32, QUANTIZED_WEIGHTS_FLOAT) (others: KERNEL_QUANTIZER_NOT_SIGN)"}, pad_values}),
       join(conv_ignored, {metrics})},
      {"QuantConv2D", "Larq",
       join(join(conv2d, larq_in), {{"kernel_quantizer", T::Quantizer, false, "null, no-op, ste_sign, approx_sign, swish_sign, magnitude_aware_sign, DoReFa / STCustomDoReFa (int8 integers up to 8 bits, INT8_KERNEL; else exact values in float32, QUANTIZED_WEIGHTS_FLOAT) (others: KERNEL_QUANTIZER_NOT_SIGN)"}, pad_values}),
       join(conv_ignored, {metrics})},
      {"QuantDepthwiseConv2D", "Larq",
       join(join(depthwise, larq_in), {{"depthwise_quantizer", T::Quantizer, false, "as kernel_quantizer"}, pad_values}),
       join(dw_ignored, {metrics})},
      {"QuantSeparableConv2D", "Larq",
       join(join(separable, larq_in), {{"depthwise_quantizer", T::Quantizer, false, "as kernel_quantizer"},
                                       {"pointwise_quantizer", T::Quantizer, false, "as kernel_quantizer"},
                                       pad_values}),
       join(sep_ignored, {metrics})},
      {"QuantDense", "Larq",
       join(join(dense, larq_in), {{"kernel_quantizer", T::Quantizer, false, "null, no-op, ste_sign, approx_sign, swish_sign, magnitude_aware_sign, DoReFa / STCustomDoReFa (int8 integers up to 8 bits, INT8_KERNEL; else exact values in float32, QUANTIZED_WEIGHTS_FLOAT) (others: KERNEL_QUANTIZER_NOT_SIGN)"}}),
       join(conv_ignored, {metrics})},
      // QKeras: tf.keras layers plus quantizers on the kernel and the bias; the activation may
      // be a QKeras quantizer (ACTIVATION: use a QActivation layer).
      {"QConv2D", "QKeras", join(conv2d, qkeras_kb("kernel_quantizer")), join(conv_ignored, qkeras_ranges("kernel"))},
      {"QDepthwiseConv2D", "QKeras", join(depthwise, qkeras_kb("depthwise_quantizer")),
       join(dw_ignored, qkeras_ranges("depthwise"))},
      {"QDense", "QKeras", join(dense, qkeras_kb("kernel_quantizer")), join(conv_ignored, qkeras_ranges("kernel"))},
      {"QActivation", "QKeras",
       {{"activation", T::Activation, true, "a QKeras quantizer as a call (\"quantized_relu(4,0)\") or an object: quantized_bits (alpha None or 1) and quantized_relu (a quantize step, QUANTIZE_STEP; int8 tensors up to 8 bits, INT8_TENSOR), binary with alpha None or 1 (a sign step, SIGN_STEP), binary(use_01=True) and binary or ternary with a constant alpha (a threshold step, THRESHOLD_STEP); others, Keras activation names included: ACTIVATION"}},
       {}},
      {"BatchNormalization", "Keras",
       {{"axis", T::Axis, false, "the last axis (else BN_AXIS)"},
        {"epsilon", T::Number, false, "any >= 0 (else BN_PARAMS); tf.keras 2 fused: at least 1.001e-5 (BN_EPSILON_FLOOR)"},
        // These decide whether tf.keras 2 runs the fused kernel, which raises a small epsilon.
        {"fused", T::Any, false, "null, true or false (false: no epsilon floor)"},
        {"synchronized", T::Any, false, "any (true: not fused, no epsilon floor)"},
        {"renorm", T::Any, false, "any (true: not fused, no epsilon floor; inference uses the moving statistics)"},
        {"center", T::Bool, false, "any"},
        {"scale", T::Bool, false, "any"},
        {"virtual_batch_size", T::Any, false, "null (else CONFIG_VALUE)"}},
       join(ignored_for({}, false),
            {{"momentum", "updates the moving statistics during training only"},
             {"beta_initializer", kInit}, {"gamma_initializer", kInit},
             {"moving_mean_initializer", kInit}, {"moving_variance_initializer", kInit},
             {"beta_regularizer", kReg}, {"gamma_regularizer", kReg},
             {"beta_constraint", kCons}, {"gamma_constraint", kCons},
             {"renorm_clipping", "training only (batch renormalization)"},
             {"renorm_momentum", "training only (batch renormalization)"}})},
      {"MaxPooling1D", "Keras", pool1d, {}},
      {"MaxPooling2D", "Keras", pool2d, {}},
      {"AveragePooling1D", "Keras", pool1d, {}},
      {"AveragePooling2D", "Keras", pool2d, {}},
      {"GlobalAveragePooling1D", "Keras", global, {}},
      {"GlobalAveragePooling2D", "Keras", global, {}},
      {"GlobalMaxPooling1D", "Keras", global, {}},
      {"GlobalMaxPooling2D", "Keras", global, {}},
      {"Flatten", "Keras", {{"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"}}, {}},
      {"Reshape", "Keras", {{"target_shape", T::TargetShape, true, "any"}}, {}},
      {"ZeroPadding1D", "Keras", {{"padding", T::ZeroPad, true, "any"}}, {}},
      {"ZeroPadding2D", "Keras",
       {{"padding", T::ZeroPad, true, "any"},
        {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"}},
       {}},
      {"Cropping1D", "Keras", {{"cropping", T::ZeroPad, false, "any that leaves at least one step"}}, {}},
      {"Cropping2D", "Keras",
       {{"cropping", T::ZeroPad, false, "any that leaves at least one row and column"},
        {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"}},
       {}},
      {"UpSampling1D", "Keras", {{"size", T::PosInt, false, "any"}}, {}},
      {"UpSampling2D", "Keras",
       {{"size", T::Pair, false, "any"},
        {"data_format", T::String, false, "\"channels_last\" (else CHANNELS_FIRST)"},
        {"interpolation", T::String, false, "\"nearest\" (else UPSAMPLING_INTERPOLATION)"}},
       {}},
      {"Activation", "Keras", {{"activation", T::Activation, true, "see Activations"}}, {}},
      {"ReLU", "Keras",
       {{"max_value", T::OptNumber, false, "any"},
        {"negative_slope", T::Number, false, "any"},
        {"threshold", T::Number, false, "any"}},
       {}},
      // tf.keras 2 writes alpha, Keras 3 negative_slope.
      {"LeakyReLU", "Keras", {{"alpha", T::Number, false, "any"}, {"negative_slope", T::Number, false, "any"}}, {}},
      {"ELU", "Keras", {{"alpha", T::Number, false, "any"}}, {}},
      {"PReLU", "Keras", {{"shared_axes", T::Any, false, "null or spatial axes (else PRELU_SHARED_AXES)"}},
       ignored_for({"alpha"}, false)},
      {"Softmax", "Keras", {{"axis", T::Axis, false, "the last axis"}}, {}},
      {"Add", "Keras", {}, {}},
      {"Concatenate", "Keras", {{"axis", T::Axis, false, "any"}}, {}},
      {"Dropout", "Keras", {}, dropout},
      {"SpatialDropout1D", "Keras", {}, dropout},
      {"SpatialDropout2D", "Keras", {}, join(dropout, {{"data_format", kTrain}})},
      {"SpatialDropout3D", "Keras", {}, join(dropout, {{"data_format", kTrain}})},
      {"GaussianNoise", "Keras", {}, {{"stddev", kTrain}, {"seed", kTrain}}},
      {"GaussianDropout", "Keras", {}, {{"rate", kTrain}, {"seed", kTrain}}},
      {"AlphaDropout", "Keras", {}, dropout},
      {"ActivityRegularization", "Keras", {}, {{"l1", kReg}, {"l2", kReg}}},
      {"TFOpLambda", "Keras", {{"function", T::String, true, "see TFOpLambda"}}, {}},
  };
  // The variables, in the order Keras creates them (Conv/Dense: kernel, then bias; BN: the
  // trainable gamma/beta, then the moving statistics).
  auto set_weights = [&t](std::initializer_list<const char*> classes, std::vector<WeightSpec> w) {
    for (auto& l : t)
      for (const char* c : classes)
        if (l.class_name == c) l.weights = w;
  };
  const WeightSpec bias = {"bias", "(filters,) or (units,)", "use_bias"};
  set_weights({"Conv2D", "QuantConv2D", "QConv2D"}, {{"kernel", "(kh, kw, C/groups, filters)"}, bias});
  set_weights({"Conv1D", "QuantConv1D"}, {{"kernel", "(k, C/groups, filters)"}, bias});
  set_weights({"Dense", "QuantDense", "QDense"}, {{"kernel", "(C, units)"}, bias});
  set_weights({"DepthwiseConv2D", "QuantDepthwiseConv2D", "QDepthwiseConv2D"},
              {{"depthwise_kernel", "(kh, kw, C, depth_multiplier)"}, {"bias", "(C * depth_multiplier,)", "use_bias"}});
  set_weights({"SeparableConv2D", "QuantSeparableConv2D"},
              {{"depthwise_kernel", "(kh, kw, C, depth_multiplier)"},
               {"pointwise_kernel", "(1, 1, C * depth_multiplier, filters)"},
               bias});
  set_weights({"BatchNormalization"}, {{"gamma", "(C,)", "scale"},
                                       {"beta", "(C,)", "center"},
                                       {"moving_mean", "(C,)"},
                                       {"moving_variance", "(C,)"}});
  set_weights({"PReLU"}, {{"alpha", "the input shape, 1 on shared_axes"}});
  for (auto& l : t) {
    for (const auto& k : base_read())
      if (!l.find_read(k.key)) l.read.push_back(k);
    l.ignored = join(l.ignored, base_ignored());
  }
  return t;
}

bool float32_dtype(const json& v) {
  if (v.is_null()) return true;
  if (v.is_string()) return v.get<std::string>() == "float32";
  // tf.keras 2: {"class_name": "Policy", "config": {"name": "float32"}}; Keras 3:
  // {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, ...}.
  if (v.is_object() && v.contains("config") && v["config"].is_object()) {
    const json& c = v["config"];
    return c.contains("name") && c["name"].is_string() && c["name"].get<std::string>() == "float32";
  }
  return false;
}

}  // namespace

const ConfigKey* LayerInfo::find_read(const std::string& key) const {
  for (const auto& k : read)
    if (key == k.key) return &k;
  return nullptr;
}

bool LayerInfo::ignores(const std::string& key) const {
  return std::any_of(ignored.begin(), ignored.end(), [&](const IgnoredKey& k) { return key == k.key; });
}

const std::vector<LayerInfo>& layer_table() {
  static const std::vector<LayerInfo> t = build_table();
  return t;
}

const LayerInfo* find_layer_info(const std::string& class_name) {
  static const std::map<std::string, const LayerInfo*> index = [] {
    std::map<std::string, const LayerInfo*> m;
    for (const auto& l : layer_table()) m[l.class_name] = &l;
    return m;
  }();
  auto it = index.find(class_name);
  return it == index.end() ? nullptr : it->second;
}

std::optional<std::string> unknown_config_key(const std::string& class_name, const json& config) {
  const LayerInfo* info = find_layer_info(class_name);
  if (!info || !config.is_object()) return std::nullopt;
  for (auto it = config.begin(); it != config.end(); ++it)
    if (!info->find_read(it.key()) && !info->ignores(it.key())) return it.key();
  return std::nullopt;
}

std::optional<std::string> generic_config_problem(const json& config) {
  if (!config.is_object()) return std::nullopt;
  auto dump = [](const json& v) {
    std::string s = v.dump();
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
  };
  if (config.contains("dtype") && !float32_dtype(config["dtype"]))
    return "dtype = " + dump(config["dtype"]) +
           ": the layer computes in another precision than float32, which BitLens computes in; "
           "re-save the model with the float32 dtype policy";
  if (config.contains("lora_rank") && !config["lora_rank"].is_null() &&
      !(config["lora_rank"].is_number_integer() && config["lora_rank"].get<int64_t>() == 0))
    return "lora_rank = " + dump(config["lora_rank"]) +
           ": the layer carries a LoRA adapter; whether the stored kernel already includes its "
           "low-rank update depends on how the file was saved (.keras merges it, legacy .h5 stores "
           "lora_kernel_a/b apart), so BitLens does not guess; rebuild the layer without lora_rank, "
           "load the merged weights and re-save the model";
  if (config.contains("dora_rank") && !config["dora_rank"].is_null() &&
      !(config["dora_rank"].is_number_integer() && config["dora_rank"].get<int64_t>() == 0))
    return "dora_rank = " + dump(config["dora_rank"]) +
           ": the layer adds a weight-decomposed low-rank update to its kernel, which BitLens does "
           "not compute; merge it into the kernel and re-save the model";
  if (config.contains("virtual_batch_size") && !config["virtual_batch_size"].is_null())
    return "virtual_batch_size = " + dump(config["virtual_batch_size"]) +
           ": ghost batch normalization stores its parameters with an extra axis, which BitLens "
           "does not read; re-save the model without virtual_batch_size";
  if (config.contains("quantization_config") && !config["quantization_config"].is_null())
    return "quantization_config = " + dump(config["quantization_config"]) +
           ": Keras 3 quantized layers are not computed by BitLens; re-save the float model";
  for (const char* k : {"sparse", "ragged"})
    if (config.contains(k) && config[k].is_boolean() && config[k].get<bool>())
      return std::string(k) + " = true: BitLens reads dense inputs only; re-save the model with a dense input";
  return std::nullopt;
}

std::string config_keys_markdown() {
  std::string s =
      "Every key a saved layer config may carry, per class (generated from "
      "core/frontend/layer_table.cpp; a test checks that this section matches it). *Read* keys are "
      "computed as Keras/Larq compute them, or the layer is `unsupported` with the reason shown; "
      "*ignored* keys cannot change an inference result. Any other key makes the layer "
      "`unsupported` with reason `CONFIG_KEY`.\n\n"
      "| Class | Read (values computed) | Ignored | Weights (Keras order) |\n|---|---|---|---|\n";
  for (const auto& l : layer_table()) {
    std::string read, ign, w;
    for (const auto& x : l.weights)
      w += (w.empty() ? "`" : "; `") + std::string(x.name) + "` " + x.shape +
           (x.unless_false ? std::string(" if ") + x.unless_false : std::string());
    for (const auto& k : l.read) {
      if (!read.empty()) read += "; ";
      read += std::string("`") + k.key + "`" + (k.required ? " (required)" : "");
      if (std::string(k.values) != "any") read += ": " + std::string(k.values);
    }
    for (const auto& k : l.ignored) ign += (ign.empty() ? "`" : ", `") + k.key + "`";
    s += "| " + l.class_name + (std::string(l.family) == "Larq" ? " (Larq)" : "") + " | " + read + " | " + ign + " | " + w +
         " |\n";
  }
  s += "\nWhy the ignored keys cannot change a result:\n\n";
  std::map<std::string, std::vector<std::string>> by_why;
  for (const auto& l : layer_table())
    for (const auto& k : l.ignored) {
      auto& v = by_why[k.why];
      if (std::find(v.begin(), v.end(), k.key) == v.end()) v.push_back(k.key);
    }
  for (const auto& [why, keys] : by_why) {
    std::string ks;
    for (const auto& k : keys) ks += (ks.empty() ? "`" : ", `") + k + "`";
    s += "- " + ks + ": " + why + "\n";
  }
  return s;
}

}  // namespace bitlens
