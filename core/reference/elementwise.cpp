// Reference elementwise layers: Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax, Rescaling, the merge layers
// (Add, Subtract, Multiply, Average, Maximum, Minimum) and TFOpLambda arithmetic with a constant
// or another tensor, all with NumPy broadcasting.
#include <cmath>

#include "reference/ops.hpp"

namespace bitlens::ref {

Array quantized(const sem::QuantizerSpec& q, const Array& a) {
  Array y = a;
  sem::quantize_tensor(q, y.data, a.shape.empty() ? 1 : a.shape.back(), static_cast<int>(a.shape.size()));
  return y;
}

Array broadcast_binary(const Layer& layer, const Array& a, const Array& b,
                       float (*f)(float, float)) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> sa(rank, 1), sb(rank, 1), shape(rank, 1);
  std::copy(a.shape.begin(), a.shape.end(), sa.begin() + (rank - a.shape.size()));
  std::copy(b.shape.begin(), b.shape.end(), sb.begin() + (rank - b.shape.size()));
  for (size_t d = 0; d < rank; ++d) {
    if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1)
      fail(layer, "cannot broadcast shapes " + shape_tuple(a.shape) + " and " + shape_tuple(b.shape));
    shape[d] = sa[d] == 1 ? sb[d] : sa[d];
  }
  Array y{shape, {}};
  const int64_t total = y.size();
  y.data.resize(static_cast<size_t>(total));
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia = ia * sa[d] + (sa[d] == 1 ? 0 : idx[d]);
      ib = ib * sb[d] + (sb[d] == 1 ? 0 : idx[d]);
    }
    y.data[static_cast<size_t>(i)] = f(a.data[static_cast<size_t>(ia)], b.data[static_cast<size_t>(ib)]);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return y;
}

Array activation_layer(const OpContext& ctx, const Inputs& in) {
  require_inputs(ctx.layer, in, 1);
  Array y = *in[0];
  sem::activate_tensor(cfg_activation(ctx.layer, "activation", ctx.keras3), y.data,
                       y.shape.empty() ? 1 : y.shape.back());
  return y;
}

Array relu_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  std::optional<float> max_value;
  if (has_key(layer, "max_value"))
    max_value = static_cast<float>(cfg_number(layer, "max_value", std::nullopt));
  if (max_value && *max_value < 0)
    fail(layer, "max_value = " + std::to_string(*max_value) + " must not be negative");
  const float slope = static_cast<float>(cfg_number(layer, "negative_slope", 0.0));
  const float threshold = static_cast<float>(cfg_number(layer, "threshold", 0.0));
  Array y = *in[0];
  for (float& v : y.data) v = sem::relu_layer(v, max_value, slope, threshold);
  return y;
}

Array leaky_relu_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  // tf.keras 2.x writes "alpha", Keras 3 "negative_slope"; both default to 0.3.
  const float alpha = static_cast<float>(
      has_key(layer, "negative_slope") ? cfg_number(layer, "negative_slope", std::nullopt)
                                       : cfg_number(layer, "alpha", 0.3));
  Array y = *in[0];
  for (float& v : y.data) v = v > 0.0f ? v : v * alpha;
  return y;
}

// ELU layer: alpha * expm1(x) below 0 (tf.keras 2.x and Keras 3 both default alpha to 1).
Array elu_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const float alpha = static_cast<float>(cfg_number(layer, "alpha", 1.0));
  Array y = *in[0];
  for (float& v : y.data) v = sem::elu(v, alpha);
  return y;
}

// PReLU: x > 0 ? x : alpha * x with a learned alpha of the input's shape, of size 1 along
// every axis in shared_axes (1-based, as Keras counts with the batch axis first).
Array prelu_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array& x = *in[0];
  if (x.shape.size() < 2) fail(layer, "needs an input with a batch axis and at least one more");
  std::vector<int64_t> shape(x.shape.begin() + 1, x.shape.end());  // alpha has no batch axis
  if (has_key(layer, "shared_axes")) {
    const json& sa = layer.config["shared_axes"];
    std::vector<int64_t> axes;
    if (sa.is_number_integer()) axes.push_back(sa.get<int64_t>());
    else if (sa.is_array())
      for (const auto& v : sa) {
        if (!v.is_number_integer()) fail(layer, "shared_axes = " + sa.dump() + " must list integers");
        axes.push_back(v.get<int64_t>());
      }
    else
      fail(layer, "shared_axes = " + sa.dump() + " must be an integer or a list of integers");
    for (int64_t a : axes) {
      if (a < 1 || a > static_cast<int64_t>(shape.size()))
        fail(layer, "shared_axes = " + sa.dump() + " names an axis outside the input " + shape_tuple(x.shape));
      shape[static_cast<size_t>(a - 1)] = 1;
    }
  }
  const Array& alpha = weight(layer, "alpha", shape);
  return broadcast_binary(layer, x, alpha, [](float v, float a) { return v > 0.0f ? v : a * v; });
}

Array softmax_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  Array y = *in[0];
  const int64_t rank = static_cast<int64_t>(y.shape.size());
  int64_t axis = -1;
  if (has_key(layer, "axis")) {
    const json& a = layer.config["axis"];
    if (a.is_number_integer()) {
      axis = a.get<int64_t>();
    } else if (a.is_array() && a.size() == 1 && a[0].is_number_integer()) {
      axis = a[0].get<int64_t>();
    } else {
      fail(layer, "axis = " + a.dump() + " is not supported; use a single axis");
    }
  }
  if (axis < 0) axis += rank;
  if (axis < 1 || axis >= rank)
    fail(layer, "axis is out of range for input shape " + shape_tuple(y.shape));
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= y.shape[static_cast<size_t>(d)];
  sem::softmax_inplace(y.data, y.shape[static_cast<size_t>(axis)], inner);
  return y;
}

// A number or a nested list of numbers from JSON as an Array (a number has shape ()).
static Array json_constant(const Layer& layer, const json& j, const char* what) {
  Array a;
  const json* cur = &j;
  while (cur->is_array()) {
    a.shape.push_back(static_cast<int64_t>(cur->size()));
    if (cur->empty()) break;
    cur = &(*cur)[0];
  }
  auto walk = [&](auto&& self, const json& v, size_t depth) -> void {
    if (depth == a.shape.size()) {
      if (!v.is_number()) fail(layer, std::string(what) + " = " + j.dump() + " is not numeric");
      a.data.push_back(static_cast<float>(v.get<double>()));
      return;
    }
    if (!v.is_array() || static_cast<int64_t>(v.size()) != a.shape[depth])
      fail(layer, std::string(what) + " = " + j.dump() + " is not a rectangular numeric array");
    for (const auto& e : v) self(self, e, depth + 1);
  };
  walk(walk, j, 0);
  return a;
}

Array rescaling(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array scale = json_constant(layer, layer.config.value("scale", json(1.0)), "scale");
  const Array offset = json_constant(layer, layer.config.value("offset", json(0.0)), "offset");
  const Array y = broadcast_binary(layer, *in[0], scale, [](float x, float s) { return x * s; });
  return broadcast_binary(layer, y, offset, [](float x, float o) { return x + o; });
}

namespace {
float op_add(float a, float b) { return a + b; }
float op_sub(float a, float b) { return a - b; }
float op_mul(float a, float b) { return a * b; }
float op_div(float a, float b) { return a / b; }
float op_max(float a, float b) { return std::max(a, b); }
float op_min(float a, float b) { return std::min(a, b); }
}  // namespace

Array merge(const OpContext& ctx, const Inputs& in, const std::string& op) {
  const Layer& layer = ctx.layer;
  if (in.size() < 2) fail(layer, "needs at least 2 inputs, got " + std::to_string(in.size()));
  if (op == "Subtract") {
    require_inputs(layer, in, 2);
    return broadcast_binary(layer, *in[0], *in[1], op_sub);
  }
  float (*f)(float, float) = op_add;
  if (op == "Multiply") f = op_mul;
  if (op == "Maximum") f = op_max;
  if (op == "Minimum") f = op_min;
  Array y = *in[0];
  for (size_t i = 1; i < in.size(); ++i) y = broadcast_binary(layer, y, *in[i], f);
  if (op == "Average")
    for (float& v : y.data) v /= static_cast<float>(in.size());
  return y;
}

Array tf_op_lambda(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  const std::string fn = cfg_string(layer, "function", std::nullopt);
  struct Unary {
    const char* name;
    float (*f)(float);
  };
  static const Unary unary[] = {
      {"nn.relu", [](float x) { return sem::relu(x); }},
      {"nn.relu6", [](float x) { return sem::relu6(x); }},
      {"math.sigmoid", [](float x) { return sem::sigmoid(x); }},
      {"nn.sigmoid", [](float x) { return sem::sigmoid(x); }},
      {"math.tanh", [](float x) { return std::tanh(x); }},
      {"nn.tanh", [](float x) { return std::tanh(x); }},
      {"math.negative", [](float x) { return -x; }},
      {"math.abs", [](float x) { return std::fabs(x); }},
      {"identity", [](float x) { return x; }},
  };
  for (const auto& u : unary) {
    if (fn == u.name) {
      require_inputs(layer, in, 1);
      Array y = *in[0];
      for (float& v : y.data) v = u.f(v);
      return y;
    }
  }
  struct Binary {
    const char* name;
    float (*f)(float, float);
  };
  static const Binary binary[] = {
      {"__operators__.add", op_add}, {"math.add", op_add},
      {"math.subtract", op_sub},     {"__operators__.sub", op_sub},
      {"math.multiply", op_mul},     {"__operators__.mul", op_mul},
      {"math.truediv", op_div},      {"math.divide", op_div},
      {"math.maximum", op_max},      {"math.minimum", op_min},
  };
  for (const auto& b : binary) {
    if (fn != b.name) continue;
    const json& kw = layer.call_kwargs;
    auto constant = [&](const char* key) -> std::optional<Array> {
      if (!kw.is_object() || !kw.contains(key)) return std::nullopt;
      const json& v = kw[key];
      if (v.is_number() || (v.is_array() && !v.empty() && !v[0].is_string()))
        return json_constant(layer, v, key);
      return std::nullopt;  // a tensor reference: already in Layer::inputs
    };
    const auto cx = constant("x");
    const auto cy = constant("y");
    if (in.size() == 2 && !cx && !cy) return broadcast_binary(layer, *in[0], *in[1], b.f);
    if (in.size() == 1 && cy && !cx) return broadcast_binary(layer, *in[0], *cy, b.f);
    if (in.size() == 1 && cx && !cy) return broadcast_binary(layer, *cx, *in[0], b.f);
    fail(layer, "function " + fn + " needs two operands: two input tensors or one tensor and "
                "a numeric constant in the call kwargs (\"y\"); got " +
                    std::to_string(in.size()) + " tensor(s) and kwargs " + kw.dump());
  }
  fail(layer, "TFOpLambda function \"" + fn +
                  "\" is not supported; supported: add, subtract, multiply, truediv, maximum, "
                  "minimum (by a constant or a tensor), relu, relu6, sigmoid, tanh, negative, "
                  "abs, identity");
}

void add_elementwise_ops(OpTable& t) {
  t["Activation"] = activation_layer;
  t["QActivation"] = activation_layer;  // QKeras: the activation is a quantizer
  t["ReLU"] = relu_layer;
  t["LeakyReLU"] = leaky_relu_layer;
  t["ELU"] = elu_layer;
  t["PReLU"] = prelu_layer;
  t["Softmax"] = softmax_layer;
  t["Rescaling"] = rescaling;
  for (const char* c : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    const std::string op = c;
    t[c] = [op](const OpContext& x, const Inputs& i) { return merge(x, i, op); };
  }
  t["TFOpLambda"] = tf_op_lambda;
}

}  // namespace bitlens::ref
