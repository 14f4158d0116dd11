// In-code construction of Keras/Larq models as tf.keras 2.10 + larq 0.13 serialize them.
// The result goes through the same assembler as a loaded file, so a built model and the same
// model written and read back are identical.
#include "support/keras_builder.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "frontend/assemble.hpp"

namespace bitlens::keras {
namespace {

struct QuantizerInfo {
  const char* alias;
  const char* class_name;
  json extra;
};

const std::vector<QuantizerInfo>& quantizer_table() {
  static const std::vector<QuantizerInfo> table = {
      {"ste_sign", "SteSign", {{"clip_value", 1.0}}},
      {"approx_sign", "ApproxSign", json::object()},
      {"swish_sign", "SwishSign", {{"beta", 5.0}}},
      {"magnitude_aware_sign", "MagnitudeAwareSign", {{"clip_value", 1.0}}},
      {"ste_heaviside", "SteHeaviside", {{"clip_value", 1.0}}},
      {"ste_tern", "SteTern",
       {{"threshold_value", 0.05}, {"ternary_weight_networks", false}, {"clip_value", 1.0}}},
      {"dorefa_quantizer", "DoReFa", {{"k_bit", 2}, {"mode", "activations"}}},
      {"noop", "NoOp", {{"precision", 1}}},
  };
  return table;
}

const QuantizerInfo& find_quantizer(const std::string& q) {
  for (const auto& info : quantizer_table())
    if (q == info.alias || q == info.class_name) return info;
  throw std::invalid_argument("ModelBuilder: unknown quantizer '" + q + "'");
}

int64_t conv_out(int64_t in, int k, int s, int d, const std::string& padding) {
  if (padding == "same") return (in + s - 1) / s;
  int64_t eff = static_cast<int64_t>(k - 1) * d + 1;
  if (in < eff) throw std::invalid_argument("ModelBuilder: kernel larger than its input");
  return (in - eff) / s + 1;
}

json pair(const std::array<int, 2>& p) { return json::array({p[0], p[1]}); }

json initializer(const char* cls, json cfg = json::object()) {
  return {{"class_name", cls}, {"config", std::move(cfg)}};
}

void require_rank(const Tensor& x, size_t rank, const char* what) {
  if (x.shape.size() != rank)
    throw std::invalid_argument(std::string("ModelBuilder: ") + what + " needs a rank-" +
                                std::to_string(rank) + " input (without batch), got '" +
                                x.layer + "' of rank " + std::to_string(x.shape.size()));
}

}  // namespace

ModelBuilder::ModelBuilder(std::string model_name, Style style, uint64_t seed)
    : name_(std::move(model_name)), style_(style), rng_(seed * 0x9E3779B97F4A7C15ull + 1) {}

std::string ModelBuilder::auto_name(const std::string& class_name, const std::string& requested) {
  std::string name = requested;
  if (name.empty()) {
    std::string base = class_name == "TFOpLambda" ? "" : frontend::snake_case(class_name);
    do {
      int n = counters_[base]++;
      name = n == 0 ? base : base + "_" + std::to_string(n);
    } while (used_names_.count(name));
  }
  if (used_names_.count(name))
    throw std::invalid_argument("ModelBuilder: layer name '" + name + "' used twice");
  used_names_[name] = 1;
  return name;
}

json ModelBuilder::base_config(const std::string& name) const {
  return {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
}

// "STCustomDoReFa(k_bit=8,mode=weights)": a quantizer object with the config given, after the
// name, trainable and dtype every Keras layer object writes. Values are integers, numbers or
// bare strings.
static json parametric_quantizer(const std::string& q, int n) {
  const size_t open = q.find('(');
  if (q.back() != ')') throw std::invalid_argument("ModelBuilder: bad quantizer '" + q + "'");
  const std::string cls = q.substr(0, open);
  std::string snake;
  for (size_t i = 0; i < cls.size(); ++i) {
    const char c = cls[i];
    const bool upper = std::isupper(static_cast<unsigned char>(c)) != 0;
    if (upper && i > 0 && !std::isupper(static_cast<unsigned char>(cls[i - 1]))) snake += '_';
    snake += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  json cfg = {{"name", n == 0 ? snake : snake + "_" + std::to_string(n)}, {"trainable", true}, {"dtype", "float32"}};
  std::string args = q.substr(open + 1, q.size() - open - 2);
  while (!args.empty()) {
    const size_t comma = args.find(',');
    const std::string kv = args.substr(0, comma);
    args = comma == std::string::npos ? "" : args.substr(comma + 1);
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("ModelBuilder: bad quantizer argument '" + kv + "'");
    const std::string key = kv.substr(0, eq), v = kv.substr(eq + 1);
    char* end = nullptr;
    const long long i = std::strtoll(v.c_str(), &end, 10);
    if (end && *end == '\0' && !v.empty()) {
      cfg[key] = i;
      continue;
    }
    const double d = std::strtod(v.c_str(), &end);
    if (end && *end == '\0' && !v.empty()) cfg[key] = d;
    else cfg[key] = v;
  }
  return {{"class_name", cls}, {"config", cfg}};
}

json ModelBuilder::quantizer(const std::string& q) {
  if (q.empty()) return nullptr;
  if (q.find('(') != std::string::npos) return parametric_quantizer(q, counters_["quantizer:" + q.substr(0, q.find('('))]++);
  const auto& info = find_quantizer(q);
  std::string key = std::string("quantizer:") + info.alias;
  int n = counters_[key]++;
  json cfg = {{"name", n == 0 ? std::string(info.alias)
                              : std::string(info.alias) + "_" + std::to_string(n)},
              {"trainable", true},
              {"dtype", "float32"}};
  for (auto it = info.extra.begin(); it != info.extra.end(); ++it) cfg[it.key()] = it.value();
  return {{"class_name", info.class_name}, {"config", cfg}};
}

Array ModelBuilder::random_array(std::vector<int64_t> shape, float lo, float hi) {
  Array a;
  a.shape = std::move(shape);
  a.data.resize(static_cast<size_t>(a.size()));
  for (auto& v : a.data) {
    // splitmix64: fast, and identical on every platform.
    uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
    v = static_cast<float>(lo + (hi - lo) * u);
  }
  return a;
}

Tensor ModelBuilder::add_entry(Entry e) {
  if (style_ == Style::sequential && e.class_name != "InputLayer") {
    if (e.inputs.size() != 1)
      throw std::invalid_argument("ModelBuilder: a Sequential model is a chain of one-input layers");
    if (entries_.empty())
      throw std::invalid_argument("ModelBuilder: call input() first");
    const Entry& last = entries_.back();
    std::string last_name = last.nested ? last.nested->name_ : last.config["name"].get<std::string>();
    if (e.inputs[0].layer != last_name)
      throw std::invalid_argument("ModelBuilder: in a Sequential model each layer consumes the "
                                  "previous one ('" + last_name + "')");
  }
  std::string name = e.nested ? e.nested->name_ : e.config["name"].get<std::string>();
  // A Sequential model's InputLayer is named after the first real layer.
  if (style_ == Style::sequential && entries_.size() == 1 &&
      entries_[0].config["name"].get<std::string>().empty()) {
    entries_[0].config["name"] = name + "_input";
  }
  auto shapes = e.output_shapes;
  entries_.push_back(std::move(e));
  Tensor t{name, 0, shapes.empty() ? std::vector<int64_t>{} : shapes[0]};
  if (style_ == Style::sequential && entries_.size() == 2) {
    // The input tensor was handed out before its name was known.
    entries_[1].inputs[0].layer = entries_[0].config["name"].get<std::string>();
  }
  return t;
}

Tensor ModelBuilder::input(std::vector<int64_t> shape, std::string name) {
  if (style_ == Style::sequential && !entries_.empty())
    throw std::invalid_argument("ModelBuilder: a Sequential model has one input");
  if (name.empty() && style_ == Style::functional) {
    int n = ++counters_["input"];
    name = "input_" + std::to_string(n);
    while (used_names_.count(name)) name = "input_" + std::to_string(++counters_["input"]);
  }
  if (!name.empty()) {
    if (used_names_.count(name))
      throw std::invalid_argument("ModelBuilder: layer name '" + name + "' used twice");
    used_names_[name] = 1;
  }
  Entry e;
  e.class_name = "InputLayer";
  json bis = json::array({nullptr});
  for (auto d : shape) bis.push_back(d);
  e.config = {{"batch_input_shape", bis}, {"dtype", "float32"}, {"sparse", false},
              {"ragged", false}, {"name", name}};
  e.output_shapes = {shape};
  entries_.push_back(std::move(e));
  return Tensor{name, 0, shape};
}

Tensor ModelBuilder::conv2d(const Tensor& x, ConvOptions o) {
  if (!o.input_quantizer.empty() || !o.kernel_quantizer.empty() || o.kernel_clip)
    throw std::invalid_argument("ModelBuilder: Conv2D has no quantizers; use quant_conv2d");
  require_rank(x, 3, "Conv2D");
  Entry e;
  e.class_name = "Conv2D";
  std::string name = auto_name(e.class_name, o.name);
  e.config = base_config(name);
  e.config.update({{"filters", o.filters}, {"kernel_size", pair(o.kernel_size)},
                   {"strides", pair(o.strides)}, {"padding", o.padding},
                   {"data_format", "channels_last"}, {"dilation_rate", pair(o.dilation_rate)},
                   {"groups", o.groups}, {"activation", o.activation}, {"use_bias", o.use_bias},
                   {"kernel_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
                   {"bias_initializer", initializer("Zeros")}, {"kernel_regularizer", nullptr},
                   {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
                   {"kernel_constraint", nullptr}, {"bias_constraint", nullptr}});
  if (o.groups < 1 || x.shape[2] % o.groups != 0 || o.filters % o.groups != 0)
    throw std::invalid_argument("ModelBuilder: groups must divide the input channels and filters");
  int64_t cin = x.shape[2] / o.groups;
  float a = static_cast<float>(
      std::sqrt(6.0 / static_cast<double>((cin + o.filters) * o.kernel_size[0] * o.kernel_size[1])));
  e.weights.emplace_back("kernel",
                         random_array({o.kernel_size[0], o.kernel_size[1], cin, o.filters}, -a, a));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.filters}, -0.1f, 0.1f));
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      o.filters}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::quant_conv2d(const Tensor& x, ConvOptions o) {
  require_rank(x, 3, "QuantConv2D");
  Entry e;
  e.class_name = "QuantConv2D";
  std::string name = auto_name(e.class_name, o.name);
  e.config = base_config(name);
  e.config.update({{"filters", o.filters}, {"kernel_size", pair(o.kernel_size)},
                   {"strides", pair(o.strides)}, {"padding", o.padding},
                   {"data_format", "channels_last"}, {"dilation_rate", pair(o.dilation_rate)},
                   {"groups", o.groups}, {"activation", o.activation}, {"use_bias", o.use_bias},
                   {"input_quantizer", quantizer(o.input_quantizer)},
                   {"kernel_quantizer", quantizer(o.kernel_quantizer)},
                   {"kernel_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
                   {"bias_initializer", initializer("Zeros")}, {"kernel_regularizer", nullptr},
                   {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
                   {"kernel_constraint",
                    o.kernel_clip ? json{{"class_name", "weight_clip"}, {"config", {{"clip_value", 1}}}}
                                  : json(nullptr)},
                   {"bias_constraint", nullptr}});
  if (o.pad_values) e.config["pad_values"] = *o.pad_values;
  if (o.groups < 1 || x.shape[2] % o.groups != 0 || o.filters % o.groups != 0)
    throw std::invalid_argument("ModelBuilder: groups must divide the input channels and filters");
  int64_t cin = x.shape[2] / o.groups;
  e.weights.emplace_back(
      "kernel", random_array({o.kernel_size[0], o.kernel_size[1], cin, o.filters}, -1.3f, 1.3f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.filters}, -0.1f, 0.1f));
  e.fan_in = o.kernel_size[0] * o.kernel_size[1] * cin;
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      o.filters}};
  return add_entry(std::move(e));
}

namespace {
json depthwise_config(json c, const DepthwiseOptions& o) {
  c.update({{"kernel_size", pair(o.kernel_size)}, {"strides", pair(o.strides)},
            {"padding", o.padding}, {"data_format", "channels_last"},
            {"dilation_rate", pair(o.dilation_rate)}, {"groups", 1},
            {"activation", o.activation}, {"use_bias", o.use_bias},
            {"bias_initializer", initializer("Zeros")}, {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr}, {"bias_constraint", nullptr},
            {"depth_multiplier", o.depth_multiplier},
            {"depthwise_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
            {"depthwise_regularizer", nullptr}, {"depthwise_constraint", nullptr}});
  return c;
}
}  // namespace

Tensor ModelBuilder::depthwise_conv2d(const Tensor& x, DepthwiseOptions o) {
  if (!o.input_quantizer.empty() || !o.depthwise_quantizer.empty())
    throw std::invalid_argument("ModelBuilder: DepthwiseConv2D has no quantizers");
  require_rank(x, 3, "DepthwiseConv2D");
  Entry e;
  e.class_name = "DepthwiseConv2D";
  e.config = depthwise_config(base_config(auto_name(e.class_name, o.name)), o);
  int64_t c = x.shape[2];
  e.weights.emplace_back("depthwise_kernel", random_array({o.kernel_size[0], o.kernel_size[1], c,
                                                           o.depth_multiplier}, -0.5f, 0.5f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({c * o.depth_multiplier}, -0.1f, 0.1f));
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      c * o.depth_multiplier}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::quant_depthwise_conv2d(const Tensor& x, DepthwiseOptions o) {
  require_rank(x, 3, "QuantDepthwiseConv2D");
  Entry e;
  e.class_name = "QuantDepthwiseConv2D";
  e.config = depthwise_config(base_config(auto_name(e.class_name, o.name)), o);
  e.config["input_quantizer"] = quantizer(o.input_quantizer);
  e.config["depthwise_quantizer"] = quantizer(o.depthwise_quantizer);
  if (o.pad_values) e.config["pad_values"] = *o.pad_values;
  int64_t c = x.shape[2];
  e.weights.emplace_back("depthwise_kernel", random_array({o.kernel_size[0], o.kernel_size[1], c,
                                                           o.depth_multiplier}, -1.3f, 1.3f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({c * o.depth_multiplier}, -0.1f, 0.1f));
  e.fan_in = o.kernel_size[0] * o.kernel_size[1];
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      c * o.depth_multiplier}};
  return add_entry(std::move(e));
}

namespace {
json separable_config(json c, const SeparableOptions& o) {
  c.update({{"filters", o.filters}, {"kernel_size", pair(o.kernel_size)},
            {"strides", pair(o.strides)}, {"padding", o.padding},
            {"data_format", "channels_last"}, {"dilation_rate", pair(o.dilation_rate)},
            {"groups", 1}, {"activation", o.activation}, {"use_bias", o.use_bias},
            {"bias_initializer", initializer("Zeros")}, {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr}, {"bias_constraint", nullptr},
            {"depth_multiplier", o.depth_multiplier},
            {"depthwise_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
            {"pointwise_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
            {"depthwise_regularizer", nullptr}, {"pointwise_regularizer", nullptr},
            {"depthwise_constraint", nullptr}, {"pointwise_constraint", nullptr}});
  return c;
}
}  // namespace

Tensor ModelBuilder::separable_conv2d(const Tensor& x, SeparableOptions o) {
  if (!o.input_quantizer.empty() || !o.depthwise_quantizer.empty() || !o.pointwise_quantizer.empty())
    throw std::invalid_argument("ModelBuilder: SeparableConv2D has no quantizers");
  require_rank(x, 3, "SeparableConv2D");
  Entry e;
  e.class_name = "SeparableConv2D";
  e.config = separable_config(base_config(auto_name(e.class_name, o.name)), o);
  int64_t c = x.shape[2];
  e.weights.emplace_back("depthwise_kernel", random_array({o.kernel_size[0], o.kernel_size[1], c,
                                                           o.depth_multiplier}, -0.5f, 0.5f));
  e.weights.emplace_back("pointwise_kernel",
                         random_array({1, 1, c * o.depth_multiplier, o.filters}, -0.5f, 0.5f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.filters}, -0.1f, 0.1f));
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      o.filters}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::quant_separable_conv2d(const Tensor& x, SeparableOptions o) {
  require_rank(x, 3, "QuantSeparableConv2D");
  Entry e;
  e.class_name = "QuantSeparableConv2D";
  e.config = separable_config(base_config(auto_name(e.class_name, o.name)), o);
  e.config["input_quantizer"] = quantizer(o.input_quantizer);
  e.config["depthwise_quantizer"] = quantizer(o.depthwise_quantizer);
  e.config["pointwise_quantizer"] = quantizer(o.pointwise_quantizer);
  if (o.pad_values) e.config["pad_values"] = *o.pad_values;
  int64_t c = x.shape[2];
  e.weights.emplace_back("depthwise_kernel", random_array({o.kernel_size[0], o.kernel_size[1], c,
                                                           o.depth_multiplier}, -1.3f, 1.3f));
  e.weights.emplace_back("pointwise_kernel",
                         random_array({1, 1, c * o.depth_multiplier, o.filters}, -1.3f, 1.3f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.filters}, -0.1f, 0.1f));
  e.fan_in = c * o.depth_multiplier;
  e.inputs = {x};
  e.output_shapes = {{conv_out(x.shape[0], o.kernel_size[0], o.strides[0], o.dilation_rate[0], o.padding),
                      conv_out(x.shape[1], o.kernel_size[1], o.strides[1], o.dilation_rate[1], o.padding),
                      o.filters}};
  return add_entry(std::move(e));
}

namespace {
json dense_config(json c, const DenseOptions& o) {
  c.update({{"units", o.units}, {"activation", o.activation}, {"use_bias", o.use_bias},
            {"kernel_initializer", initializer("GlorotUniform", {{"seed", nullptr}})},
            {"bias_initializer", initializer("Zeros")}, {"kernel_regularizer", nullptr},
            {"bias_regularizer", nullptr}, {"activity_regularizer", nullptr},
            {"kernel_constraint", nullptr}, {"bias_constraint", nullptr}});
  return c;
}
}  // namespace

Tensor ModelBuilder::dense(const Tensor& x, DenseOptions o) {
  if (!o.input_quantizer.empty() || !o.kernel_quantizer.empty() || o.kernel_clip)
    throw std::invalid_argument("ModelBuilder: Dense has no quantizers; use quant_dense");
  if (x.shape.empty()) throw std::invalid_argument("ModelBuilder: Dense needs a known input shape");
  Entry e;
  e.class_name = "Dense";
  e.config = dense_config(base_config(auto_name(e.class_name, o.name)), o);
  int64_t in = x.shape.back();
  float a = static_cast<float>(std::sqrt(6.0 / static_cast<double>(in + o.units)));
  e.weights.emplace_back("kernel", random_array({in, o.units}, -a, a));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.units}, -0.1f, 0.1f));
  e.inputs = {x};
  auto out = x.shape;
  out.back() = o.units;
  e.output_shapes = {out};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::quant_dense(const Tensor& x, DenseOptions o) {
  if (x.shape.empty()) throw std::invalid_argument("ModelBuilder: QuantDense needs a known input shape");
  Entry e;
  e.class_name = "QuantDense";
  e.config = dense_config(base_config(auto_name(e.class_name, o.name)), o);
  e.config["input_quantizer"] = quantizer(o.input_quantizer);
  e.config["kernel_quantizer"] = quantizer(o.kernel_quantizer);
  if (o.kernel_clip)
    e.config["kernel_constraint"] = {{"class_name", "weight_clip"}, {"config", {{"clip_value", 1}}}};
  int64_t in = x.shape.back();
  e.weights.emplace_back("kernel", random_array({in, o.units}, -1.3f, 1.3f));
  if (o.use_bias) e.weights.emplace_back("bias", random_array({o.units}, -0.1f, 0.1f));
  e.fan_in = in;
  e.inputs = {x};
  auto out = x.shape;
  out.back() = o.units;
  e.output_shapes = {out};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::batch_norm(const Tensor& x, BatchNormOptions o) {
  if (x.shape.empty()) throw std::invalid_argument("ModelBuilder: BatchNormalization needs a shape");
  Entry e;
  e.class_name = "BatchNormalization";
  e.config = base_config(auto_name(e.class_name, o.name));
  e.config.update({{"axis", json::array({static_cast<int>(x.shape.size())})},
                   {"momentum", o.momentum}, {"epsilon", o.epsilon}, {"center", o.center},
                   {"scale", o.scale}, {"beta_initializer", initializer("Zeros")},
                   {"gamma_initializer", initializer("Ones")},
                   {"moving_mean_initializer", initializer("Zeros")},
                   {"moving_variance_initializer", initializer("Ones")},
                   {"beta_regularizer", nullptr}, {"gamma_regularizer", nullptr},
                   {"beta_constraint", nullptr}, {"gamma_constraint", nullptr}});
  int64_t c = x.shape.back();
  // Statistics of a binary dot product of length N: mean ~ 0, variance ~ N.
  double fan_in = 1.0;
  for (const auto& prev : entries_)
    if (!prev.nested && prev.config.value("name", "") == x.layer && prev.fan_in > 0)
      fan_in = static_cast<double>(prev.fan_in);
  float sd = static_cast<float>(std::sqrt(fan_in));
  if (o.scale) {
    Array g = random_array({c}, 0.5f, 1.5f);
    Array sign = random_array({c}, 0.f, 1.f);
    for (int64_t i = 0; i < c; ++i)
      if (sign.data[static_cast<size_t>(i)] < 0.25f || i == 1) g.data[static_cast<size_t>(i)] *= -1.f;
    e.weights.emplace_back("gamma", std::move(g));
  }
  if (o.center) e.weights.emplace_back("beta", random_array({c}, -0.5f, 0.5f));
  e.weights.emplace_back("moving_mean", random_array({c}, -0.3f * sd, 0.3f * sd));
  e.weights.emplace_back("moving_variance",
                         random_array({c}, 0.5f * static_cast<float>(fan_in),
                                      1.5f * static_cast<float>(fan_in)));
  e.inputs = {x};
  e.output_shapes = {x.shape};
  return add_entry(std::move(e));
}

namespace {
json pool_config(json c, const PoolOptions& o) {
  c.update({{"pool_size", pair(o.pool_size)}, {"padding", o.padding},
            {"strides", pair(o.strides.value_or(o.pool_size))}, {"data_format", "channels_last"}});
  return c;
}
std::vector<int64_t> pool_shape(const Tensor& x, const PoolOptions& o) {
  auto s = o.strides.value_or(o.pool_size);
  return {conv_out(x.shape[0], o.pool_size[0], s[0], 1, o.padding),
          conv_out(x.shape[1], o.pool_size[1], s[1], 1, o.padding), x.shape[2]};
}
}  // namespace

Tensor ModelBuilder::max_pool2d(const Tensor& x, PoolOptions o) {
  require_rank(x, 3, "MaxPooling2D");
  Entry e;
  e.class_name = "MaxPooling2D";
  e.config = pool_config(base_config(auto_name(e.class_name, o.name)), o);
  e.inputs = {x};
  e.output_shapes = {pool_shape(x, o)};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::average_pool2d(const Tensor& x, PoolOptions o) {
  require_rank(x, 3, "AveragePooling2D");
  Entry e;
  e.class_name = "AveragePooling2D";
  e.config = pool_config(base_config(auto_name(e.class_name, o.name)), o);
  e.inputs = {x};
  e.output_shapes = {pool_shape(x, o)};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::global_average_pool2d(const Tensor& x, std::string name) {
  require_rank(x, 3, "GlobalAveragePooling2D");
  Entry e;
  e.class_name = "GlobalAveragePooling2D";
  e.config = base_config(auto_name(e.class_name, name));
  e.config.update({{"data_format", "channels_last"}, {"keepdims", false}});
  e.inputs = {x};
  e.output_shapes = {{x.shape[2]}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::global_max_pool2d(const Tensor& x, std::string name) {
  require_rank(x, 3, "GlobalMaxPooling2D");
  Entry e;
  e.class_name = "GlobalMaxPooling2D";
  e.config = base_config(auto_name(e.class_name, name));
  e.config.update({{"data_format", "channels_last"}, {"keepdims", false}});
  e.inputs = {x};
  e.output_shapes = {{x.shape[2]}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::flatten(const Tensor& x, std::string name) {
  Entry e;
  e.class_name = "Flatten";
  e.config = base_config(auto_name(e.class_name, name));
  e.config["data_format"] = "channels_last";
  int64_t n = 1;
  for (auto d : x.shape) n *= d;
  e.inputs = {x};
  e.output_shapes = {{n}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::reshape(const Tensor& x, std::vector<int64_t> target_shape, std::string name) {
  Entry e;
  e.class_name = "Reshape";
  e.config = base_config(auto_name(e.class_name, name));
  e.config["target_shape"] = target_shape;
  int64_t n = 1, known = 1;
  for (auto d : x.shape) n *= d;
  for (auto d : target_shape)
    if (d > 0) known *= d;
  for (auto& d : target_shape)
    if (d == -1) d = known ? n / known : 0;
  e.inputs = {x};
  e.output_shapes = {target_shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::zero_padding2d(const Tensor& x, std::array<std::array<int, 2>, 2> p,
                                    std::string name) {
  require_rank(x, 3, "ZeroPadding2D");
  Entry e;
  e.class_name = "ZeroPadding2D";
  e.config = base_config(auto_name(e.class_name, name));
  e.config.update({{"padding", json::array({pair(p[0]), pair(p[1])})},
                   {"data_format", "channels_last"}});
  e.inputs = {x};
  e.output_shapes = {{x.shape[0] + p[0][0] + p[0][1], x.shape[1] + p[1][0] + p[1][1], x.shape[2]}};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::same_shape(const std::string& class_name, const Tensor& x, const std::string& name,
                                const json& extra) {
  Entry e;
  e.class_name = class_name;
  e.config = base_config(auto_name(e.class_name, name));
  e.config.update(extra);
  e.inputs = {x};
  e.output_shapes = {x.shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::activation(const Tensor& x, std::string act, std::string name) {
  // A quantizer object as the activation ("STCustomDoReFa(k_bit=8,mode=activations)") is
  // serialized as {"class_name": ..., "config": ...}, as tf.keras does for a callable object.
  if (act.find('(') != std::string::npos) return same_shape("Activation", x, name, {{"activation", quantizer(act)}});
  return same_shape("Activation", x, name, {{"activation", act}});
}

Tensor ModelBuilder::relu(const Tensor& x, ReLUOptions o) {
  return same_shape("ReLU", x, o.name,
                    {{"max_value", o.max_value ? json(*o.max_value) : json(nullptr)},
                     {"negative_slope", o.negative_slope},
                     {"threshold", o.threshold}});
}

Tensor ModelBuilder::softmax(const Tensor& x, int axis, std::string name) {
  return same_shape("Softmax", x, name, {{"axis", axis}});
}

Tensor ModelBuilder::add(const std::vector<Tensor>& xs, std::string name) {
  if (xs.size() < 2) throw std::invalid_argument("ModelBuilder: Add needs two or more inputs");
  Entry e;
  e.class_name = "Add";
  e.config = base_config(auto_name(e.class_name, name));
  e.inputs = xs;
  e.output_shapes = {xs[0].shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::concatenate(const std::vector<Tensor>& xs, int axis, std::string name) {
  if (xs.size() < 2) throw std::invalid_argument("ModelBuilder: Concatenate needs two or more inputs");
  Entry e;
  e.class_name = "Concatenate";
  e.config = base_config(auto_name(e.class_name, name));
  e.config["axis"] = axis;
  auto out = xs[0].shape;
  size_t ax = axis < 0 ? out.size() + static_cast<size_t>(axis) : static_cast<size_t>(axis - 1);
  if (ax >= out.size()) throw std::invalid_argument("ModelBuilder: Concatenate axis out of range");
  for (size_t i = 1; i < xs.size(); ++i) out[ax] += xs[i].shape.at(ax);
  e.inputs = xs;
  e.output_shapes = {out};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::dropout(const Tensor& x, double rate, std::string name) {
  return same_shape("Dropout", x, name, {{"rate", rate}, {"noise_shape", nullptr}, {"seed", nullptr}});
}

Tensor ModelBuilder::spatial_dropout2d(const Tensor& x, double rate, std::string name) {
  return same_shape("SpatialDropout2D", x, name, {{"rate", rate}, {"noise_shape", nullptr}, {"seed", nullptr}});
}

Tensor ModelBuilder::gaussian_noise(const Tensor& x, double stddev, std::string name) {
  return same_shape("GaussianNoise", x, name, {{"stddev", stddev}, {"seed", nullptr}});
}

// TF op layers are named after the function, with Keras' _N suffix for repeats.
std::string ModelBuilder::tf_op_name(const std::string& base) {
  std::string name = base;
  for (int n = 1; used_names_.count(name); ++n) name = base + "_" + std::to_string(n);
  used_names_[name] = 1;
  return name;
}

Tensor ModelBuilder::tf_add_constant(const Tensor& x, double c) {
  Entry e;
  e.class_name = "TFOpLambda";
  const std::string name = tf_op_name("tf.__operators__.add");
  e.config = base_config(name);
  e.config["function"] = "__operators__.add";
  e.inputs = {x};
  e.kwargs = {{"y", c}, {"name", nullptr}};
  e.output_shapes = {x.shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::tf_multiply_constant(const Tensor& x, double c) {
  Entry e;
  e.class_name = "TFOpLambda";
  const std::string name = tf_op_name("tf.math.multiply");
  e.config = base_config(name);
  e.config["function"] = "math.multiply";
  e.inputs = {x};
  e.kwargs = {{"y", c}, {"name", nullptr}};
  e.output_shapes = {x.shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::tf_add(const Tensor& x, const Tensor& y) {
  if (style_ == Style::sequential)
    throw std::invalid_argument("ModelBuilder: tf_add of two tensors needs a functional model");
  Entry e;
  e.class_name = "TFOpLambda";
  const std::string name = tf_op_name("tf.__operators__.add");
  e.config = base_config(name);
  e.config["function"] = "__operators__.add";
  e.inputs = {x};
  e.kwargs = {{"y", json::array({y.layer, 0, y.index})}, {"name", nullptr}};
  e.output_shapes = {x.shape};
  return add_entry(std::move(e));
}

Tensor ModelBuilder::layer(const std::string& class_name, const std::vector<Tensor>& inputs,
                           json config, std::vector<int64_t> output_shape,
                           std::vector<std::pair<std::string, Array>> weights) {
  Entry e;
  e.class_name = class_name;
  std::string requested;
  if (config.is_object() && config.contains("name") && config["name"].is_string())
    requested = config["name"].get<std::string>();
  std::string name = auto_name(class_name, requested);
  e.config = base_config(name);
  if (config.is_object()) e.config.update(config);
  e.config["name"] = name;
  e.inputs = inputs;
  e.weights = std::move(weights);
  e.output_shapes = {std::move(output_shape)};
  return add_entry(std::move(e));
}

std::vector<std::pair<std::string, Array>> ModelBuilder::all_weights_trainable_first() const {
  std::vector<std::pair<std::string, Array>> trainable, frozen;
  for (const auto& e : entries_) {
    if (e.nested) {
      for (const auto& [n, a] : e.nested_weights)
        (frontend::is_non_trainable(frontend::short_weight_name(n)) ? frozen : trainable)
            .emplace_back(n, a);
      continue;
    }
    std::string lname = e.config["name"].get<std::string>();
    for (const auto& [s, a] : e.weights)
      (frontend::is_non_trainable(frontend::short_weight_name(s)) ? frozen : trainable)
          .emplace_back(lname + "/" + s + ":0", a);
  }
  trainable.insert(trainable.end(), frozen.begin(), frozen.end());
  return trainable;
}

Tensor ModelBuilder::nested(const ModelBuilder& inner, const std::vector<Tensor>& inputs) {
  auto outs = inner.outputs();
  Entry e;
  e.nested = &inner;
  json cfg = inner.model_config();
  e.nested_class = cfg["class_name"].get<std::string>();
  e.nested_config = cfg["config"];
  e.class_name = e.nested_class;
  e.nested_weights = inner.all_weights_trainable_first();
  if (used_names_.count(inner.name_))
    throw std::invalid_argument("ModelBuilder: layer name '" + inner.name_ + "' used twice");
  used_names_[inner.name_] = 1;
  e.inputs = inputs;
  for (const auto& o : outs) e.output_shapes.push_back(o.shape);
  return add_entry(std::move(e));
}

void ModelBuilder::set_weight(const std::string& layer, const std::string& short_name, Array value) {
  for (auto& e : entries_) {
    if (e.nested || e.config.value("name", "") != layer) continue;
    for (auto& [s, a] : e.weights)
      if (s == short_name) {
        a = std::move(value);
        return;
      }
    e.weights.emplace_back(short_name, std::move(value));
    return;
  }
  throw std::invalid_argument("ModelBuilder::set_weight: no layer '" + layer + "'");
}

void ModelBuilder::set_outputs(std::vector<Tensor> outputs) { outputs_ = std::move(outputs); }

std::vector<Tensor> ModelBuilder::outputs() const {
  if (!outputs_.empty()) return outputs_;
  if (entries_.empty()) throw std::invalid_argument("ModelBuilder: the model has no layers");
  const Entry& last = entries_.back();
  std::string name = last.nested ? last.nested->name_ : last.config["name"].get<std::string>();
  std::vector<Tensor> out;
  for (size_t i = 0; i < std::max<size_t>(1, last.output_shapes.size()); ++i)
    out.push_back(Tensor{name, static_cast<int>(i),
                         last.output_shapes.empty() ? std::vector<int64_t>{} : last.output_shapes[i]});
  return out;
}

json ModelBuilder::inbound_leaf(const Tensor& t, const json& kwargs) const {
  return json::array({t.layer, 0, t.index, kwargs});
}

json ModelBuilder::model_config(const BuildOptions& options) const {
  if (entries_.empty()) throw std::invalid_argument("ModelBuilder: the model has no layers");
  // Reverse quantizer table for the larq <= 0.8 string form.
  auto stringify = [&](json cfg) {
    if (!options.string_quantizers) return cfg;
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      if (!it.key().ends_with("_quantizer") || !it.value().is_object()) continue;
      std::string cls = it.value().value("class_name", "");
      // QKeras' quantizers are objects in every QKeras version (larq <= 0.8 wrote strings).
      if (cls == "quantized_bits" || cls == "quantized_relu" || cls == "binary" || cls == "ternary") continue;
      it.value() = find_quantizer(cls).alias;
    }
    return cfg;
  };
  json layers = json::array();
  if (style_ == Style::sequential) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      if (e.class_name == "InputLayer") {
        if (options.sequential_input_layer || options.sequential_bare_list)
          if (!options.sequential_bare_list)
            layers.push_back({{"class_name", "InputLayer"}, {"config", e.config}});
        continue;
      }
      json cfg = e.nested ? e.nested_config : stringify(e.config);
      if (i == 1 && !e.nested) cfg["batch_input_shape"] = entries_[0].config["batch_input_shape"];
      layers.push_back({{"class_name", e.class_name}, {"config", cfg}});
    }
    if (options.sequential_bare_list) return {{"class_name", "Sequential"}, {"config", layers}};
    return {{"class_name", "Sequential"}, {"config", {{"name", name_}, {"layers", layers}}}};
  }
  json input_layers = json::array();
  for (const auto& e : entries_) {
    std::string name = e.nested ? e.nested->name_ : e.config["name"].get<std::string>();
    json entry = {{"class_name", e.class_name},
                  {"config", e.nested ? e.nested_config : stringify(e.config)},
                  {"name", name}};
    if (e.class_name == "InputLayer") {
      entry["inbound_nodes"] = json::array();
      input_layers.push_back(json::array({name, 0, 0}));
    } else if (e.class_name == "TFOpLambda") {
      entry["inbound_nodes"] = json::array({inbound_leaf(e.inputs.at(0), e.kwargs)});
    } else {
      json node = json::array();
      for (const auto& t : e.inputs) node.push_back(inbound_leaf(t, json::object()));
      entry["inbound_nodes"] = json::array({node});
    }
    layers.push_back(entry);
  }
  json output_layers = json::array();
  for (const auto& t : outputs()) output_layers.push_back(json::array({t.layer, 0, t.index}));
  return {{"class_name", options.class_name_model ? "Model" : "Functional"},
          {"config",
           {{"name", name_}, {"layers", layers}, {"input_layers", input_layers},
            {"output_layers", output_layers}}}};
}

namespace {
class MemorySource : public frontend::WeightSource {
 public:
  std::map<std::string, std::vector<frontend::NamedArray>> by_layer;
  std::optional<std::vector<frontend::NamedArray>> weights(const std::string& layer_name,
                                                           const json&) override {
    auto it = by_layer.find(layer_name);
    if (it == by_layer.end()) return std::nullopt;
    return it->second;
  }
};
}  // namespace

Model ModelBuilder::build(const BuildOptions& options) const {
  MemorySource src;
  for (const auto& e : entries_) {
    if (e.nested) {
      auto& v = src.by_layer[e.nested->name_];
      for (const auto& [n, a] : e.nested_weights) v.push_back({n, a});
      continue;
    }
    std::string name = e.config["name"].get<std::string>();
    auto& v = src.by_layer[name];
    std::vector<frontend::NamedArray> frozen;
    for (const auto& [s, a] : e.weights)
      // Custom layers may name weights by sub-path ("bn1/moving_mean"): the last part decides.
      (frontend::is_non_trainable(frontend::short_weight_name(s)) ? frozen : v)
          .push_back({name + "/" + s + ":0", a});
    v.insert(v.end(), frozen.begin(), frozen.end());
  }
  Model m = frontend::assemble_model(model_config(options), src, LoadLimits{});
  m.keras_version = "2.10.0";
  m.backend = "tensorflow";
  m.container = "h5";
  return m;
}

}  // namespace bitlens::keras
