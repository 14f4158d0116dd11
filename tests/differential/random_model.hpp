// Seeded random Keras/Larq models for the differential test, built with the project's own
// writer (bitlens::keras::ModelBuilder). Same seed -> same model, same weights, same inputs.
//
// What gets generated is a table (features()): each Feature says which tensors it accepts and
// how it emits a layer (with its random options). To cover a new layer class, activation or
// option, add a row (or a string to activations()/quantizers()); rows whose layers BitLens does
// not support yet are generated anyway and the test counts them as "unsupported" (it compares
// only models BitLens supports), so a row starts being compared the day support lands.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"

namespace diff {

namespace kb = bitlens::keras;
using bitlens::Array;
using bitlens::json;

class Gen {
 public:
  Gen(kb::ModelBuilder& b, uint64_t seed) : b(b), rng(seed * 0x2545F4914F6CDD1Dull + 17) {}
  kb::ModelBuilder& b;
  std::mt19937_64 rng;
  std::set<std::string> used;  // feature names used in this model (for the coverage table)
  // Nested models' builders: the outer builder refers to them until build().
  std::vector<std::unique_ptr<kb::ModelBuilder>> inner;

  int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
  bool chance(double p) { return real(0, 1) < p; }
  std::string input_q();
  std::string kernel_q();
  template <class T>
  const T& pick(const std::vector<T>& v) { return v.at(static_cast<size_t>(uni(0, static_cast<int>(v.size()) - 1))); }

  Array array(std::vector<int64_t> shape, double lo, double hi) {
    Array a;
    a.shape = std::move(shape);
    a.data.resize(static_cast<size_t>(a.size()));
    for (auto& v : a.data) v = static_cast<float>(real(lo, hi));
    return a;
  }
};

// ---- value tables: extend these when BitLens learns more --------------------------------------

// Activation strings a conv/dense layer or an Activation layer may carry. Keras 2/3 and Larq.
inline const std::vector<std::string>& activations() {
  static const std::vector<std::string> v = {
      "linear", "relu", "relu6", "sigmoid", "tanh", "hard_sigmoid", "softmax",
      "hard_tanh", "swish", "silu", "elu", "selu", "gelu", "softsign", "softplus",
      "exponential", "leaky_relu", "mish", "log_softmax", "hard_swish", "hard_silu", "leaky_tanh"};
  return v;
}
// The activations real BNNs use most (weighted up so most models stay mostly binary).
inline const std::vector<std::string>& common_activations() {
  static const std::vector<std::string> v = {"linear", "linear", "linear", "relu", "relu6",
                                             "sigmoid", "tanh", "hard_sigmoid", "hard_tanh"};
  return v;
}
// Larq quantizers (ModelBuilder aliases). "" = none. ste_sign-like ones weighted up.
// The rare ones (not binary for BitLens) are picked from `exotic_quantizers` one time in ten.
inline const std::vector<std::string>& input_quantizers() {
  static const std::vector<std::string> v = {"ste_sign", "ste_sign", "ste_sign", "approx_sign",
                                             "swish_sign", "", ""};
  return v;
}
inline const std::vector<std::string>& kernel_quantizers() {
  static const std::vector<std::string> v = {"ste_sign", "ste_sign", "ste_sign", "approx_sign",
                                             "swish_sign", "magnitude_aware_sign", ""};
  return v;
}
inline const std::vector<std::string>& exotic_quantizers() {
  static const std::vector<std::string> v = {"magnitude_aware_sign", "ste_heaviside", "ste_tern", "noop",
                                             "dorefa_quantizer"};
  return v;
}

inline std::string Gen::input_q() { return chance(0.1) ? pick(exotic_quantizers()) : pick(input_quantizers()); }
inline std::string Gen::kernel_q() { return chance(0.1) ? pick(exotic_quantizers()) : pick(kernel_quantizers()); }

// ---- helpers -----------------------------------------------------------------------------------

inline bool is_image(const kb::Tensor& x) { return x.shape.size() == 3; }
inline bool is_seq(const kb::Tensor& x) { return x.shape.size() == 2; }
inline bool is_flat(const kb::Tensor& x) { return x.shape.size() == 1; }
inline int64_t elems(const kb::Tensor& x) {
  int64_t n = 1;
  for (auto d : x.shape) n *= d;
  return n;
}

inline int64_t conv_out(int64_t in, int k, int s, int d, const std::string& padding) {
  if (padding == "same") return (in + s - 1) / s;
  if (padding == "causal") return (in + s - 1) / s;  // left padding (k-1)*d, then valid
  const int64_t eff = int64_t{k - 1} * d + 1;
  return in < eff ? 0 : (in - eff) / s + 1;
}

// Random conv geometry valid for an input of spatial size `in` (every dim).
struct Geo {
  int k, s, d;
  std::string padding;
};
inline Geo random_geo(Gen& g, const std::vector<int64_t>& spatial, bool allow_causal = false) {
  for (int tries = 0;; ++tries) {
    Geo o{g.uni(1, 4), g.uni(1, 3), 1, g.chance(0.6) ? "same" : "valid"};
    if (allow_causal && g.chance(0.3)) o.padding = "causal";
    if (o.s == 1 && g.chance(0.3)) o.d = g.uni(2, 3);  // Keras forbids stride > 1 with dilation > 1
    bool ok = true;
    for (auto n : spatial) ok = ok && conv_out(n, o.k, o.s, o.d, o.padding) >= 1;
    if (ok || tries > 20) {
      if (!ok) o = Geo{1, 1, 1, "valid"};
      return o;
    }
  }
}

inline std::optional<double> random_pad_values(Gen& g) {
  const int r = g.uni(0, 9);
  if (r == 0) return std::nullopt;  // a file from larq < 0.9: no key (means 0)
  return r <= 3 ? 0.0 : r <= 6 ? 1.0 : -1.0;
}

inline std::string random_activation(Gen& g) {
  return g.chance(0.8) ? g.pick(common_activations()) : g.pick(activations());
}

// The config keys ModelBuilder writes for Conv2D/QuantConv2D, for layers it has no method for
// (1-D convolutions, groups): written through ModelBuilder::layer with explicit weights.
inline json conv_config(int rank, int filters, const Geo& o, int groups, const std::string& act,
                        bool bias, const json& iq, const json& kq, std::optional<double> pad) {
  auto rep = [&](int v) { return rank == 1 ? json::array({v}) : json::array({v, v}); };
  json c = {{"filters", filters}, {"kernel_size", rep(o.k)}, {"strides", rep(o.s)},
            {"padding", o.padding}, {"data_format", "channels_last"},
            {"dilation_rate", rep(o.d)}, {"groups", groups}, {"activation", act},
            {"use_bias", bias},
            {"kernel_initializer", {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}}},
            {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
            {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr}, {"kernel_constraint", nullptr},
            {"bias_constraint", nullptr}};
  if (!iq.is_null() || !kq.is_null() || pad) {
    c["input_quantizer"] = iq;
    c["kernel_quantizer"] = kq;
    if (pad) c["pad_values"] = *pad;
  }
  return c;
}

inline json quantizer_json(const std::string& alias) {
  // The dict form larq >= 0.9 writes (the same table ModelBuilder uses for its own layers).
  static const std::map<std::string, std::pair<std::string, json>> t = {
      {"ste_sign", {"SteSign", {{"clip_value", 1.0}}}},
      {"approx_sign", {"ApproxSign", json::object()}},
      {"swish_sign", {"SwishSign", {{"beta", 5.0}}}},
      {"magnitude_aware_sign", {"MagnitudeAwareSign", {{"clip_value", 1.0}}}},
      {"ste_heaviside", {"SteHeaviside", {{"clip_value", 1.0}}}},
      {"ste_tern", {"SteTern", {{"threshold_value", 0.05}, {"ternary_weight_networks", false}, {"clip_value", 1.0}}}},
      {"noop", {"NoOp", {{"precision", 1}}}},
      {"dorefa_quantizer", {"DoReFa", {{"k_bit", 2}, {"mode", "activations"}}}}};
  if (alias.empty()) return nullptr;
  const auto& [cls, extra] = t.at(alias);
  json cfg = {{"name", alias}, {"trainable", true}, {"dtype", "float32"}};
  cfg.update(extra);
  return {{"class_name", cls}, {"config", cfg}};
}

// ---- QKeras layers, configs as QKeras 0.9 + tf.keras 2 write them --------------------------------

// A QKeras quantizer: the serialized object get_config() gives (constraints.serialize), or now
// and then the Python call string QKeras also accepts. Mostly forms BitLens computes; one in
// fifteen is a form it refuses (alpha "auto_po2", stochastic rounding).
inline json qkeras_quantizer(Gen& g, bool relu_allowed, bool weights = true) {
  const auto none_or_one = [&]() -> json { return g.chance(0.5) ? json(nullptr) : json(1); };
  const int kind = g.uni(0, relu_allowed ? 9 : 7);
  std::string cls;
  json cfg;
  // What QConv2D/QDense save for a kernel quantizer given alpha=None: "auto_po2" (QKeras'
  // _set_trainable_parameter), sometimes "auto".
  const auto fitted = [&]() -> json { return g.chance(0.7) ? json("auto_po2") : json("auto"); };
  if (g.chance(1.0 / 15)) {
    cls = "quantized_bits";
    cfg = {{"bits", 4}, {"integer", 0}, {"symmetric", 1}, {"alpha", 1}, {"keep_negative", true},
           {"use_stochastic_rounding", true}, {"qnoise_factor", 1.0}};
    if (g.chance(0.5)) cls = "ternary", cfg = {{"alpha", "auto_po2"}, {"threshold", nullptr}, {"use_stochastic_rounding", false}};
  } else if (kind <= 4) {
    cls = "quantized_bits";
    const int bits = g.pick(std::vector<int>{2, 3, 4, 6, 8, 8, 12, 16});
    cfg = {{"bits", bits}, {"integer", g.uni(0, std::min(2, bits - 1))}, {"symmetric", g.uni(0, 1)},
           {"alpha", weights && g.chance(0.5) ? fitted() : none_or_one()}, {"keep_negative", !g.chance(0.15)},
           {"use_stochastic_rounding", false}, {"qnoise_factor", 1.0}};
  } else if (kind <= 5) {
    cls = "binary";
    cfg = {{"use_01", g.chance(0.2)}, {"alpha", weights && g.chance(0.5) ? fitted() : none_or_one()},
           {"use_stochastic_rounding", false}};
  } else if (kind <= 7) {
    cls = "ternary";
    cfg = {{"alpha", none_or_one()}, {"threshold", g.pick(std::vector<json>{nullptr, 0.5, 0.1})},
           {"use_stochastic_rounding", false}, {"number_of_unrolls", 5}};
  } else {
    cls = "quantized_relu";
    cfg = {{"bits", g.pick(std::vector<int>{2, 3, 4, 6, 8})}, {"integer", g.uni(0, 2)}, {"use_sigmoid", 0},
           {"negative_slope", 0.0}, {"use_stochastic_rounding", false}, {"relu_upper_bound", nullptr},
           {"qnoise_factor", 1.0}};
  }
  if (g.chance(0.2)) {  // the call form, positional where QKeras' order allows
    std::string t = cls + "(";
    bool first = true;
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      if (it.key() == "qnoise_factor" || it.key() == "number_of_unrolls") continue;
      const json& v = it.value();
      const std::string text = v.is_null() ? "None" : v.is_boolean() ? (v.get<bool>() ? "True" : "False")
                               : v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
      t += (first ? "" : ", ") + it.key() + "=" + text;
      first = false;
    }
    return t + ")";
  }
  return {{"class_name", cls}, {"config", cfg}};
}

// Mostly the activations QKeras models carry on their Q layers (linear: the quantizer follows in
// a QActivation), sometimes a quantizer (BitLens refuses it there: ACTIVATION).
inline json qkeras_layer_activation(Gen& g) {
  if (g.chance(0.1)) return "quantized_relu(4,0)";
  return g.chance(0.7) ? json("linear") : json(g.pick(common_activations()));
}

inline json qkeras_weight_config(Gen& g, const char* weight, bool relu_allowed) {
  return {{std::string(weight) + "_quantizer", qkeras_quantizer(g, relu_allowed)},
          {"bias_quantizer", g.chance(0.7) ? qkeras_quantizer(g, false) : json(nullptr)},
          {std::string(weight) + "_range", nullptr},
          {"bias_range", nullptr}};
}

inline kb::Tensor emit_qconv2d(Gen& g, const kb::Tensor& x) {
  const int64_t cin = x.shape.back();
  Geo o = random_geo(g, {x.shape[0], x.shape[1]});
  const int groups = cin % 2 == 0 && g.chance(0.2) ? 2 : 1;
  const int filters = groups * g.uni(1, 12);
  const bool bias = g.chance(0.6);
  json cfg = conv_config(2, filters, o, groups, "linear", bias, nullptr, nullptr, std::nullopt);
  cfg["activation"] = qkeras_layer_activation(g);
  cfg["kernel_initializer"] = {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}};
  cfg.update(qkeras_weight_config(g, "kernel", false));
  std::vector<std::pair<std::string, Array>> w;
  w.emplace_back("kernel", g.array({o.k, o.k, cin / groups, filters}, -1.3, 1.3));
  if (bias) w.emplace_back("bias", g.array({filters}, -0.6, 0.6));
  return g.b.layer("QConv2D", {x}, cfg, {conv_out(x.shape[0], o.k, o.s, o.d, o.padding),
                                           conv_out(x.shape[1], o.k, o.s, o.d, o.padding), filters}, std::move(w));
}

inline kb::Tensor emit_qdepthwise(Gen& g, const kb::Tensor& x) {
  const int64_t cin = x.shape.back();
  Geo o = random_geo(g, {x.shape[0], x.shape[1]});
  const int dm = g.uni(1, 2);
  const bool bias = g.chance(0.6);
  auto pair = [](int v) { return json::array({v, v}); };
  json cfg = {{"kernel_size", pair(o.k)}, {"strides", pair(o.s)}, {"padding", o.padding},
              {"data_format", "channels_last"}, {"dilation_rate", pair(o.d)}, {"groups", 1},
              {"activation", qkeras_layer_activation(g)}, {"use_bias", bias},
              {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
              {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr}, {"bias_constraint", nullptr},
              {"depth_multiplier", dm},
              {"depthwise_initializer", {{"class_name", "GlorotUniform"}, {"config", {{"seed", nullptr}}}}},
              {"depthwise_regularizer", nullptr}, {"depthwise_constraint", nullptr}};
  cfg.update(qkeras_weight_config(g, "depthwise", false));
  std::vector<std::pair<std::string, Array>> w;
  w.emplace_back("depthwise_kernel", g.array({o.k, o.k, cin, dm}, -1.3, 1.3));
  if (bias) w.emplace_back("bias", g.array({cin * dm}, -0.6, 0.6));
  return g.b.layer("QDepthwiseConv2D", {x}, cfg, {conv_out(x.shape[0], o.k, o.s, o.d, o.padding),
                                                    conv_out(x.shape[1], o.k, o.s, o.d, o.padding), cin * dm},
                   std::move(w));
}

inline kb::Tensor emit_qdense(Gen& g, const kb::Tensor& x) {
  const int units = g.uni(1, 32);
  const bool bias = g.chance(0.6);
  json cfg = {{"units", units}, {"activation", qkeras_layer_activation(g)}, {"use_bias", bias},
              {"kernel_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
              {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
              {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
              {"kernel_constraint", nullptr}, {"bias_constraint", nullptr}};
  cfg.update(qkeras_weight_config(g, "kernel", false));
  std::vector<std::pair<std::string, Array>> w;
  w.emplace_back("kernel", g.array({x.shape.back(), units}, -1.3, 1.3));
  if (bias) w.emplace_back("bias", g.array({units}, -0.6, 0.6));
  std::vector<int64_t> out = x.shape;
  out.back() = units;
  return g.b.layer("QDense", {x}, cfg, out, std::move(w));
}

inline kb::Tensor emit_qactivation(Gen& g, const kb::Tensor& x) {
  json q = qkeras_quantizer(g, true, false);
  // QActivation stores what it was given; users write the call string far more often.
  if (q.is_object() && g.chance(0.6)) {
    std::string t = q["class_name"].get<std::string>() + "(";
    bool first = true;
    for (auto it = q["config"].begin(); it != q["config"].end(); ++it) {
      if (it.key() == "qnoise_factor" || it.key() == "number_of_unrolls") continue;
      const json& v = it.value();
      t += (first ? "" : ",") + it.key() + "=" +
           (v.is_null() ? std::string("None") : v.is_boolean() ? (v.get<bool>() ? "True" : "False")
            : v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump());
      first = false;
    }
    q = t + ")";
  }
  return g.b.layer("QActivation", {x}, {{"activation", q}}, x.shape);
}

// ---- the feature table -------------------------------------------------------------------------

struct Feature {
  std::string name;
  int weight;  // relative frequency
  std::function<bool(const kb::Tensor&)> accepts;
  std::function<kb::Tensor(Gen&, const kb::Tensor&)> emit;
  bool keeps_shape = false;  // output shape == input shape (usable on an Add branch)
};

// A random (Quant)Conv2D / (Quant)Conv1D through the builder or the generic layer() call.
inline kb::Tensor emit_conv(Gen& g, const kb::Tensor& x, bool quant, int rank, int groups,
                            bool keep_shape) {
  const int64_t cin = x.shape.back();
  std::vector<int64_t> spatial(x.shape.begin(), x.shape.end() - 1);
  Geo o = keep_shape ? Geo{g.uni(1, 3), 1, g.chance(0.2) ? 2 : 1, "same"} : random_geo(g, spatial, rank == 1);
  int filters = keep_shape ? static_cast<int>(cin) : g.uni(1, 40);
  if (groups > 1) {
    if (cin % groups) groups = 1;
    else filters = groups * std::max(1, filters / groups);
  }
  if (keep_shape && filters != cin) filters = static_cast<int>(cin);
  const std::string iq = quant ? g.input_q() : "";
  const std::string kq = quant ? g.kernel_q() : "";
  std::optional<double> pad = quant ? random_pad_values(g) : std::optional<double>{};
  if (o.padding == "causal" && pad && *pad != 0.0) pad = 0.0;  // Larq raises otherwise
  const std::string act = random_activation(g);
  const bool bias = g.chance(0.5);
  if (rank == 2 && groups == 1) {
    kb::ConvOptions c;
    c.filters = filters;
    c.kernel_size = {o.k, o.k};
    if (g.chance(0.2) && !keep_shape) c.kernel_size[1] = std::max(1, o.k - 1);
    c.strides = {o.s, o.s};
    c.padding = o.padding;
    c.dilation_rate = {o.d, o.d};
    c.activation = act;
    c.use_bias = bias;
    if (!quant) return g.b.conv2d(x, c);
    c.input_quantizer = iq;
    c.kernel_quantizer = kq;
    c.pad_values = pad;
    // A kernel taller than the input with "valid" would be refused by the builder: shrink.
    if (c.padding == "valid" && (x.shape[1] < (c.kernel_size[1] - 1) * o.d + 1)) c.kernel_size[1] = 1;
    return g.b.quant_conv2d(x, c);
  }
  json cfg = conv_config(rank, filters, o, groups, act, bias, quant ? quantizer_json(iq) : json(nullptr),
                         quant ? quantizer_json(kq) : json(nullptr), pad);
  std::vector<int64_t> kshape;
  for (int i = 0; i < rank; ++i) kshape.push_back(o.k);
  kshape.push_back(cin / groups);
  kshape.push_back(filters);
  std::vector<std::pair<std::string, Array>> w;
  const double a = quant ? 1.3 : std::sqrt(6.0 / static_cast<double>(cin / groups * o.k * (rank == 2 ? o.k : 1) + filters));
  w.emplace_back("kernel", g.array(kshape, -a, a));
  if (bias) w.emplace_back("bias", g.array({filters}, -0.1, 0.1));
  std::vector<int64_t> out;
  for (auto n : spatial) out.push_back(conv_out(n, o.k, o.s, o.d, o.padding));
  out.push_back(filters);
  const std::string cls = std::string(quant ? "Quant" : "") + (rank == 1 ? "Conv1D" : "Conv2D");
  return g.b.layer(cls, {x}, cfg, out, std::move(w));
}

inline kb::Tensor emit_depthwise(Gen& g, const kb::Tensor& x, bool quant, bool keep_shape) {
  std::vector<int64_t> spatial(x.shape.begin(), x.shape.end() - 1);
  Geo o = keep_shape ? Geo{g.uni(1, 3), 1, 1, "same"} : random_geo(g, spatial);
  kb::DepthwiseOptions d;
  d.kernel_size = {o.k, o.k};
  d.strides = {o.s, o.s};
  d.dilation_rate = {o.d, o.d};
  d.padding = o.padding;
  d.depth_multiplier = keep_shape ? 1 : g.uni(1, 3);
  d.activation = random_activation(g);
  d.use_bias = g.chance(0.5);
  if (!quant) return g.b.depthwise_conv2d(x, d);
  d.input_quantizer = g.input_q();
  d.depthwise_quantizer = g.kernel_q();
  d.pad_values = random_pad_values(g);
  return g.b.quant_depthwise_conv2d(x, d);
}

inline kb::Tensor emit_separable(Gen& g, const kb::Tensor& x, bool quant) {
  std::vector<int64_t> spatial(x.shape.begin(), x.shape.end() - 1);
  Geo o = random_geo(g, spatial);
  kb::SeparableOptions s;
  s.filters = g.uni(1, 24);
  s.kernel_size = {o.k, o.k};
  s.strides = {o.s, o.s};
  s.dilation_rate = {o.d, o.d};
  s.padding = o.padding;
  s.depth_multiplier = g.uni(1, 2);
  s.activation = random_activation(g);
  s.use_bias = g.chance(0.5);
  if (!quant) return g.b.separable_conv2d(x, s);
  s.input_quantizer = g.input_q();
  s.depthwise_quantizer = g.kernel_q();
  s.pointwise_quantizer = g.chance(0.7) ? "ste_sign" : g.kernel_q();
  s.pad_values = random_pad_values(g);
  return g.b.quant_separable_conv2d(x, s);
}

inline kb::Tensor emit_dense(Gen& g, const kb::Tensor& x, bool quant) {
  kb::DenseOptions d;
  d.units = g.uni(1, 40);
  d.activation = random_activation(g);
  d.use_bias = g.chance(0.5);
  if (!quant) return g.b.dense(x, d);
  d.input_quantizer = g.input_q();
  d.kernel_quantizer = g.kernel_q();
  return g.b.quant_dense(x, d);
}

// BatchNormalization with the builder's statistics, then (sometimes) zero gammas and
// "tie" statistics: integer moving_mean with beta = 0, so that x*inv - mean*inv is exactly 0 for
// an integer input equal to the mean (sign(0) = +1 must come out right).
inline kb::Tensor emit_batch_norm(Gen& g, const kb::Tensor& x) {
  kb::BatchNormOptions o;
  o.scale = g.chance(0.85);
  o.center = g.chance(0.85);
  o.epsilon = g.chance(0.8) ? 1e-3 : g.pick(std::vector<double>{1e-5, 0.01, 0.5});
  kb::Tensor y = g.b.batch_norm(x, o);
  const int64_t c = x.shape.back();
  if (o.scale && g.chance(0.25)) {
    Array gamma = g.array({c}, 0.5, 1.5);
    for (auto& v : gamma.data) {
      const int r = g.uni(0, 5);
      if (r == 0) v = 0.0f;
      else if (r <= 2) v = -v;
    }
    g.b.set_weight(y.layer, "gamma", gamma);
  }
  if (g.chance(0.25)) {
    Array mean = g.array({c}, 0, 1);
    for (auto& v : mean.data) v = static_cast<float>(g.uni(-6, 6));
    g.b.set_weight(y.layer, "moving_mean", mean);
    if (o.center) {
      Array beta;
      beta.shape = {c};
      beta.data.assign(static_cast<size_t>(c), 0.0f);
      g.b.set_weight(y.layer, "beta", beta);
    }
  }
  return y;
}

inline kb::Tensor emit_pool(Gen& g, const kb::Tensor& x, bool max, bool keep_shape) {
  kb::PoolOptions o;
  const int k = g.uni(1, 3);
  o.pool_size = {k, g.chance(0.8) ? k : g.uni(1, 3)};
  if (keep_shape) {
    o.strides = std::array<int, 2>{1, 1};
    o.padding = "same";
  } else {
    if (g.chance(0.4)) o.strides = std::array<int, 2>{g.uni(1, 3), g.uni(1, 3)};
    o.padding = g.chance(0.5) ? "same" : "valid";
    if (o.padding == "valid" && (x.shape[0] < o.pool_size[0] || x.shape[1] < o.pool_size[1])) o.padding = "same";
  }
  return max ? g.b.max_pool2d(x, o) : g.b.average_pool2d(x, o);
}

inline kb::Tensor emit_pool1d(Gen& g, const kb::Tensor& x, bool max) {
  const int k = g.uni(1, 3);
  const int s = g.uni(1, 3);
  std::string padding = g.chance(0.5) ? "same" : "valid";
  if (x.shape[0] < k) padding = "same";
  json cfg = {{"pool_size", json::array({k})}, {"strides", json::array({s})}, {"padding", padding},
              {"data_format", "channels_last"}};
  return g.b.layer(max ? "MaxPooling1D" : "AveragePooling1D", {x}, cfg,
                   {conv_out(x.shape[0], k, s, 1, padding), x.shape[1]});
}

// The shape of real BNNs: a binary conv (or dense), BatchNorm (sometimes with a MaxPool before
// or after it), then a binary consumer: the compiler emits bits through integer thresholds.
inline kb::Tensor emit_binary_block(Gen& g, const kb::Tensor& x) {
  auto conv = [&](const kb::Tensor& in, bool sign_input) {
    if (is_flat(in)) {
      kb::DenseOptions d;
      d.units = g.uni(1, 48);
      d.use_bias = g.chance(0.3);
      d.input_quantizer = sign_input ? g.pick(std::vector<std::string>{"ste_sign", "approx_sign", "swish_sign"}) : "";
      d.kernel_quantizer = "ste_sign";
      return g.b.quant_dense(in, d);
    }
    std::vector<int64_t> spatial(in.shape.begin(), in.shape.end() - 1);
    Geo o = random_geo(g, spatial);
    kb::ConvOptions c;
    c.filters = g.uni(1, 48);
    c.kernel_size = {o.k, o.k};
    c.strides = {o.s, o.s};
    c.dilation_rate = {o.d, o.d};
    c.padding = o.padding;
    c.pad_values = random_pad_values(g);
    c.use_bias = g.chance(0.3);
    c.input_quantizer = sign_input ? g.pick(std::vector<std::string>{"ste_sign", "approx_sign", "swish_sign"}) : "";
    c.kernel_quantizer = "ste_sign";
    if (g.chance(0.15)) c.activation = g.pick(std::vector<std::string>{"relu", "relu6", "hard_sigmoid", "tanh"});
    return g.b.quant_conv2d(in, c);
  };
  kb::Tensor y = conv(x, g.chance(0.8));
  const bool pool_first = is_image(y) && y.shape[0] >= 2 && y.shape[1] >= 2 && g.chance(0.3);
  if (pool_first) y = emit_pool(g, y, true, false);
  y = emit_batch_norm(g, y);
  if (!pool_first && is_image(y) && y.shape[0] >= 2 && y.shape[1] >= 2 && g.chance(0.2)) y = emit_pool(g, y, true, false);
  if (is_image(y) && g.chance(0.2)) y = g.b.flatten(y);
  return conv(y, true);
}

// A nested Sequential model used as one layer (Keras stores its sub-layers' weights in one
// group, names relative to it; its layer names may repeat the outer model's). Keeps the shape.
inline kb::Tensor emit_nested(Gen& g, const kb::Tensor& x) {
  const std::string name = "block_" + std::to_string(g.inner.size() + 1);
  g.inner.push_back(std::make_unique<kb::ModelBuilder>(name, kb::Style::sequential, g.rng()));
  kb::ModelBuilder& in = *g.inner.back();
  Gen ig(in, g.rng());
  kb::Tensor y = in.input(x.shape);
  if (is_image(y) && g.chance(0.7)) y = emit_conv(ig, y, true, 2, 1, true);
  y = emit_batch_norm(ig, y);
  if (g.chance(0.5)) y = in.activation(y, g.pick(common_activations()));
  return g.b.nested(in, {x});
}

// Global pooling (1-D or 2-D), keepdims as tf.keras >= 2.6 writes it.
inline kb::Tensor emit_global(Gen& g, const kb::Tensor& x, const std::string& cls) {
  const bool keep = g.chance(0.3);
  std::vector<int64_t> out(x.shape.size() - 1, 1);
  out.push_back(x.shape.back());
  return g.b.layer(cls, {x}, {{"data_format", "channels_last"}, {"keepdims", keep}},
                   keep ? out : std::vector<int64_t>{x.shape.back()});
}

inline const std::vector<Feature>& features() {
  static const std::vector<Feature> t = [] {
    std::vector<Feature> v;
    auto img = [](const kb::Tensor& x) { return is_image(x); };
    auto seq = [](const kb::Tensor& x) { return is_seq(x); };
    auto any = [](const kb::Tensor&) { return true; };
    v.push_back({"BinaryBlock", 25, [](const kb::Tensor& x) { return is_image(x) || is_flat(x); }, emit_binary_block});
    // 2-D convolutions
    v.push_back({"QuantConv2D", 30, img, [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, true, 2, 1, false); }});
    v.push_back({"QuantConv2D(same shape)", 6, img, [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, true, 2, 1, true); }, true});
    v.push_back({"Conv2D", 8, img, [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, false, 2, 1, false); }});
    v.push_back({"QuantConv2D(groups)", 4, [](const kb::Tensor& x) { return is_image(x) && x.shape[2] % 2 == 0; },
                 [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, true, 2, x.shape[2] % 4 == 0 ? g.pick(std::vector<int>{2, 4}) : 2, false); }});
    v.push_back({"Conv2D(groups)", 2, [](const kb::Tensor& x) { return is_image(x) && x.shape[2] % 2 == 0; },
                 [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, false, 2, 2, false); }});
    v.push_back({"QuantDepthwiseConv2D", 8, img, [](Gen& g, const kb::Tensor& x) { return emit_depthwise(g, x, true, false); }});
    v.push_back({"DepthwiseConv2D", 4, img, [](Gen& g, const kb::Tensor& x) { return emit_depthwise(g, x, false, g.chance(0.3)); }});
    v.push_back({"QuantSeparableConv2D", 4, img, [](Gen& g, const kb::Tensor& x) { return emit_separable(g, x, true); }});
    v.push_back({"SeparableConv2D", 2, img, [](Gen& g, const kb::Tensor& x) { return emit_separable(g, x, false); }});
    // Dense: on flat tensors (and on the last axis of rank-2/3 tensors, as Keras does)
    v.push_back({"QuantDense", 10, [](const kb::Tensor& x) { return is_flat(x); }, [](Gen& g, const kb::Tensor& x) { return emit_dense(g, x, true); }});
    v.push_back({"Dense", 5, [](const kb::Tensor& x) { return is_flat(x); }, [](Gen& g, const kb::Tensor& x) { return emit_dense(g, x, false); }});
    v.push_back({"Dense(rank>1)", 2, [](const kb::Tensor& x) { return !is_flat(x); }, [](Gen& g, const kb::Tensor& x) { return emit_dense(g, x, g.chance(0.5)); }});
    // Normalization, pooling, reshaping
    v.push_back({"BatchNormalization", 25, any, [](Gen& g, const kb::Tensor& x) { return emit_batch_norm(g, x); }, true});
    v.push_back({"MaxPooling2D", 8, img, [](Gen& g, const kb::Tensor& x) { return emit_pool(g, x, true, false); }});
    v.push_back({"AveragePooling2D", 4, img, [](Gen& g, const kb::Tensor& x) { return emit_pool(g, x, false, false); }});
    v.push_back({"GlobalAveragePooling2D", 2, img, [](Gen& g, const kb::Tensor& x) { return emit_global(g, x, "GlobalAveragePooling2D"); }});
    v.push_back({"GlobalMaxPooling2D", 2, img, [](Gen& g, const kb::Tensor& x) { return emit_global(g, x, "GlobalMaxPooling2D"); }});
    v.push_back({"Flatten", 4, [](const kb::Tensor& x) { return !is_flat(x); }, [](Gen& g, const kb::Tensor& x) { return g.b.flatten(x); }});
    v.push_back({"Reshape", 2, [](const kb::Tensor& x) { return !is_flat(x); }, [](Gen& g, const kb::Tensor& x) {
                   if (is_image(x) && g.chance(0.5)) return g.b.reshape(x, {x.shape[1], x.shape[0], x.shape[2]});
                   return g.b.reshape(x, {elems(x)});
                 }});
    v.push_back({"Cropping2D", 2, img, [](Gen& g, const kb::Tensor& x) {
                   const int kh = static_cast<int>(x.shape[0]) - 1, kw = static_cast<int>(x.shape[1]) - 1;
                   const int t = g.uni(0, std::min(2, kh)), b = g.uni(0, std::min(2, kh - t));
                   const int l = g.uni(0, std::min(2, kw)), r = g.uni(0, std::min(2, kw - l));
                   json c = json::array({json::array({t, b}), json::array({l, r})});
                   if (t == b && l == r && g.chance(0.5)) c = t == l ? json(t) : json::array({t, l});
                   return g.b.layer("Cropping2D", {x}, {{"cropping", c}, {"data_format", "channels_last"}},
                                    {x.shape[0] - t - b, x.shape[1] - l - r, x.shape[2]});
                 }});
    v.push_back({"ZeroPadding2D", 3, img, [](Gen& g, const kb::Tensor& x) {
                   return g.b.zero_padding2d(x, {{{g.uni(0, 2), g.uni(0, 2)}, {g.uni(0, 2), g.uni(0, 2)}}});
                 }});
    // Activations as layers
    v.push_back({"Activation", 2, any, [](Gen& g, const kb::Tensor& x) { return g.b.activation(x, g.pick(activations())); }, true});
    v.push_back({"Activation(common)", 6, any, [](Gen& g, const kb::Tensor& x) { return g.b.activation(x, g.pick(common_activations())); }, true});
    v.push_back({"Activation(quantizer)", 1, any, [](Gen& g, const kb::Tensor& x) { return g.b.activation(x, g.pick(std::vector<std::string>{"ste_sign", "hard_tanh"})); }, true});
    v.push_back({"ReLU", 3, any, [](Gen& g, const kb::Tensor& x) {
                   kb::ReLUOptions o;
                   if (g.chance(0.3)) o.max_value = g.pick(std::vector<double>{6.0, 6.0, 1.0, 0.5});
                   if (g.chance(0.1)) o.negative_slope = 0.1;
                   if (g.chance(0.1)) o.threshold = g.pick(std::vector<double>{0.5, -0.5});
                   return g.b.relu(x, o);
                 }, true});
    v.push_back({"Softmax", 1, any, [](Gen& g, const kb::Tensor& x) { return g.b.softmax(x); }, true});
    v.push_back({"LeakyReLU", 1, any, [](Gen& g, const kb::Tensor& x) { return g.b.layer("LeakyReLU", {x}, {{"alpha", 0.3}}, x.shape); }, true});
    v.push_back({"ELU", 1, any, [](Gen& g, const kb::Tensor& x) { return g.b.layer("ELU", {x}, {{"alpha", 0.7}}, x.shape); }, true});
    v.push_back({"PReLU", 1, any, [](Gen& g, const kb::Tensor& x) {
                   // shared_axes: none, or every axis but the channels (one alpha per channel, as in
                   // most CNNs); alpha has size 1 on the shared axes.
                   if (is_flat(x) || g.chance(0.5))
                     return g.b.layer("PReLU", {x}, {{"shared_axes", nullptr}}, x.shape, {{"alpha", g.array(x.shape, -0.5, 0.5)}});
                   json axes = json::array();
                   std::vector<int64_t> ashape;
                   for (size_t i = 0; i + 1 < x.shape.size(); ++i) {
                     axes.push_back(static_cast<int>(i) + 1);
                     ashape.push_back(1);
                   }
                   ashape.push_back(x.shape.back());
                   return g.b.layer("PReLU", {x}, {{"shared_axes", axes}}, x.shape, {{"alpha", g.array(ashape, -0.5, 0.5)}});
                 }, true});
    v.push_back({"Nested(Sequential)", 3, any, emit_nested, true});
    v.push_back({"Dropout", 2, any, [](Gen& g, const kb::Tensor& x) { return g.b.dropout(x, 0.3); }, true});
    // The other inference no-ops, with the configs tf.keras 2 writes.
    v.push_back({"SpatialDropout2D", 1, img, [](Gen& g, const kb::Tensor& x) { return g.b.spatial_dropout2d(x, 0.2); }, true});
    v.push_back({"SpatialDropout1D", 1, seq, [](Gen& g, const kb::Tensor& x) {
                   return g.b.layer("SpatialDropout1D", {x}, {{"rate", 0.2}, {"noise_shape", nullptr}, {"seed", nullptr}}, x.shape);
                 }, true});
    v.push_back({"GaussianNoise", 1, any, [](Gen& g, const kb::Tensor& x) { return g.b.gaussian_noise(x, 0.1); }, true});
    v.push_back({"GaussianDropout", 1, any, [](Gen& g, const kb::Tensor& x) {
                   return g.b.layer("GaussianDropout", {x}, {{"rate", 0.2}, {"seed", nullptr}}, x.shape);
                 }, true});
    v.push_back({"AlphaDropout", 1, any, [](Gen& g, const kb::Tensor& x) {
                   return g.b.layer("AlphaDropout", {x}, {{"rate", 0.1}, {"seed", nullptr}}, x.shape);
                 }, true});
    v.push_back({"ActivityRegularization", 1, any, [](Gen& g, const kb::Tensor& x) {
                   return g.b.layer("ActivityRegularization", {x}, {{"l1", 0.0}, {"l2", 0.01}}, x.shape);
                 }, true});
    v.push_back({"TFOpLambda", 1, any, [](Gen& g, const kb::Tensor& x) {
                   return g.chance(0.5) ? g.b.tf_add_constant(x, g.pick(std::vector<double>{0.5, -1.0}))
                                        : g.b.tf_multiply_constant(x, g.pick(std::vector<double>{2.0, -0.5}));
                 }, true});
    v.push_back({"UpSampling2D", 1, [](const kb::Tensor& x) { return is_image(x) && elems(x) <= 1000; }, [](Gen& g, const kb::Tensor& x) {
                   const int a = g.uni(1, 2), c = g.uni(1, 3);
                   return g.b.layer("UpSampling2D", {x}, {{"size", json::array({a, c})}, {"data_format", "channels_last"}, {"interpolation", "nearest"}},
                                    {x.shape[0] * a, x.shape[1] * c, x.shape[2]});
                 }});
    // QKeras
    v.push_back({"QConv2D", 8, img, emit_qconv2d});
    v.push_back({"QDepthwiseConv2D", 4, img, emit_qdepthwise});
    v.push_back({"QDense", 6, [](const kb::Tensor& x) { return is_flat(x); }, emit_qdense});
    v.push_back({"QDense(rank>1)", 1, [](const kb::Tensor& x) { return !is_flat(x); }, emit_qdense});
    v.push_back({"QActivation", 8, any, emit_qactivation, true});
    // 1-D layers (sequences (steps, channels))
    v.push_back({"QuantConv1D", 10, seq, [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, true, 1, 1, false); }});
    v.push_back({"Conv1D", 5, seq, [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, false, 1, 1, false); }});
    v.push_back({"QuantConv1D(groups)", 2, [](const kb::Tensor& x) { return is_seq(x) && x.shape[1] % 2 == 0; },
                 [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, true, 1, 2, false); }});
    v.push_back({"Conv1D(groups)", 1, [](const kb::Tensor& x) { return is_seq(x) && x.shape[1] % 2 == 0; },
                 [](Gen& g, const kb::Tensor& x) { return emit_conv(g, x, false, 1, 2, false); }});
    v.push_back({"MaxPooling1D", 3, seq, [](Gen& g, const kb::Tensor& x) { return emit_pool1d(g, x, true); }});
    v.push_back({"AveragePooling1D", 2, seq, [](Gen& g, const kb::Tensor& x) { return emit_pool1d(g, x, false); }});
    v.push_back({"GlobalAveragePooling1D", 1, seq, [](Gen& g, const kb::Tensor& x) { return emit_global(g, x, "GlobalAveragePooling1D"); }});
    v.push_back({"GlobalMaxPooling1D", 1, seq, [](Gen& g, const kb::Tensor& x) { return emit_global(g, x, "GlobalMaxPooling1D"); }});
    v.push_back({"UpSampling1D", 1, seq, [](Gen& g, const kb::Tensor& x) {
                   const int s = g.uni(2, 3);
                   return g.b.layer("UpSampling1D", {x}, {{"size", s}}, {x.shape[0] * s, x.shape[1]});
                 }});
    v.push_back({"Cropping1D", 1, seq, [](Gen& g, const kb::Tensor& x) {
                   const int keep = static_cast<int>(x.shape[0]) - 1, a = g.uni(0, std::min(2, keep)),
                             c = g.uni(0, std::min(2, keep - a));
                   return g.b.layer("Cropping1D", {x}, {{"cropping", json::array({a, c})}}, {x.shape[0] - a - c, x.shape[1]});
                 }});
    v.push_back({"ZeroPadding1D", 1, seq, [](Gen& g, const kb::Tensor& x) {
                   const int a = g.uni(0, 2), c = g.uni(0, 2);
                   return g.b.layer("ZeroPadding1D", {x}, {{"padding", json::array({a, c})}}, {x.shape[0] + a + c, x.shape[1]});
                 }});
    return v;
  }();
  return t;
}

// ---- the model ---------------------------------------------------------------------------------

struct Generated {
  bitlens::Model model;
  json config;  // model_config as written to the file
  std::vector<std::string> features;  // the table rows used
  std::string keras_version;
};

// Builds model `seed`: an input (image HxWxC, sequence, or flat vector), a chain of 1-7 table
// rows, residual Add / Concatenate branches now and then (small DAGs), sometimes a Flatten +
// Dense head. `only` (optional) restricts the table to the rows named (rule test).
inline Generated generate(uint64_t seed, const std::set<std::string>& only = {}) {
  kb::ModelBuilder b("diff_" + std::to_string(seed), kb::Style::functional, seed);
  Gen g(b, seed);
  const auto& table = features();
  auto allowed = [&](const Feature& f) { return only.empty() || only.count(f.name); };
  // The input: an image, a sequence or a vector; with `only`, one that a chosen row accepts.
  std::vector<int64_t> shape;
  for (int tries = 0; tries < 100; ++tries) {
    const int kind = g.uni(0, 9);
    if (kind <= 7) shape = {g.uni(1, 10), g.uni(1, 10), g.uni(1, 24)};
    else if (kind <= 8) shape = {g.uni(1, 32), g.uni(1, 16)};
    else shape = {g.uni(1, 64)};
    bool ok = only.empty();
    for (const auto& f : table) ok = ok || (allowed(f) && f.accepts(kb::Tensor{"", 0, shape}));
    if (ok) break;
  }
  kb::Tensor x = b.input(shape);
  const int n = g.uni(1, 7);
  for (int i = 0; i < n; ++i) {
    if (elems(x) > 4000) break;  // keep every model small: the value is in the variety
    if (g.chance(0.15) && !is_flat(x)) {
      // A small DAG: t -> branch of 1-2 shape-keeping rows -> Add(t, branch), or a conv branch
      // concatenated on the channel axis.
      std::vector<const Feature*> keep;
      for (const auto& f : table)
        if (f.keeps_shape && f.accepts(x) && allowed(f)) keep.push_back(&f);
      if (keep.empty()) continue;
      kb::Tensor y = x;
      const int m = g.uni(1, 2);
      for (int j = 0; j < m; ++j) {
        const Feature* f = keep[static_cast<size_t>(g.uni(0, static_cast<int>(keep.size()) - 1))];
        g.used.insert(f->name);
        y = f->emit(g, y);
      }
      if (g.chance(0.6)) {
        g.used.insert("Add");
        x = b.add({x, y});
      } else {
        g.used.insert("Concatenate");
        x = b.concatenate({x, y}, -1);
      }
      continue;
    }
    int total = 0;
    for (const auto& f : table)
      if (f.accepts(x) && allowed(f)) total += f.weight;
    if (total == 0) break;
    int r = g.uni(0, total - 1);
    for (const auto& f : table) {
      if (!f.accepts(x) || !allowed(f)) continue;
      if (r < f.weight) {
        g.used.insert(f.name);
        x = f.emit(g, x);
        break;
      }
      r -= f.weight;
    }
  }
  if (only.empty() && g.chance(0.2)) {
    if (!is_flat(x)) x = b.flatten(x);
    g.used.insert("QuantDense");
    x = emit_dense(g, x, true);
  }
  Generated out;
  out.keras_version = g.chance(0.2) ? "3.10.0" : "2.10.0";
  kb::BuildOptions bo;
  // larq <= 0.8 files: "ste_sign" instead of a dict (NoOp has no string alias: it needs `precision`).
  bo.string_quantizers = g.chance(0.1) && b.model_config().dump().find("\"NoOp\"") == std::string::npos;
  out.config = b.model_config(bo);
  out.model = b.build(bo);
  out.model.keras_version = out.keras_version;
  out.features.assign(g.used.begin(), g.used.end());
  return out;
}

// Inputs with the values that make ties: exact zeros, +-1, quarter steps, and uniform values.
inline std::vector<Array> random_inputs(const bitlens::Model& m, uint64_t seed, int batch) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Array> xs;
  for (const auto& ref : m.inputs) {
    const bitlens::Layer* l = m.find(ref.layer);
    auto shape = bitlens::declared_input_shape(*l).value();
    Array a;
    a.shape = {batch};
    a.shape.insert(a.shape.end(), shape.begin(), shape.end());
    a.data.resize(static_cast<size_t>(a.size()));
    for (auto& v : a.data) {
      const double r = u(rng);
      if (r < 0.12) v = 0.0f;
      else if (r < 0.2) v = r < 0.16 ? 1.0f : -1.0f;
      else if (r < 0.3) v = static_cast<float>(std::floor(u(rng) * 17) / 4.0 - 2.0);
      else v = static_cast<float>(u(rng) * 3.0 - 1.5);
    }
    xs.push_back(std::move(a));
  }
  return xs;
}

}  // namespace diff
