// Pass: Keras Model -> IR Graph. Parses layer configs, applies weight quantizers, infers shapes.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "bitlens/format.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/semantics.hpp"
#include "passes/passes.hpp"

namespace bitlens::passes {
namespace {

[[noreturn]] void fail(const Layer& l, const std::string& what) {
  throw ModelError("layer '" + l.name + "' (" + l.class_name + "): " + what);
}

// Integers in a layer config (sizes, strides, filters, padding) beyond this are refused: no
// real model comes near, and every shape computed from them then fits int64 with room to spare.
constexpr int64_t kMaxConfigInt = int64_t{1} << 24;
// One tensor of one sample may hold at most this many elements (4 TiB of float32): anything
// larger is refused while reading; the much lower run limits are in bitlens/limits.hpp.
constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

[[noreturn]] void too_large(const Layer& l, const std::string& key, const json& v) {
  fail(l, "config '" + key + "' is " + v.dump() + ", larger than BitLens accepts (at most " +
              std::to_string(kMaxConfigInt) + ")");
}

int config_int(const Layer& l, const std::string& key, const json& v) {
  int64_t x;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kMaxConfigInt)) too_large(l, key, v);
    x = v.get<int64_t>();
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
             std::fabs(v.get<double>()) <= static_cast<double>(kMaxConfigInt)) {
    x = static_cast<int64_t>(v.get<double>());
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>())) {
    too_large(l, key, v);
  } else {
    fail(l, "config '" + key + "' must be an integer, found " + v.dump() + "; re-save the model from Keras");
  }
  if (x > kMaxConfigInt || x < -kMaxConfigInt) too_large(l, key, v);
  return static_cast<int>(x);
}

int get_int(const Layer& l, const char* key, int def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  return config_int(l, key, *v);
}

// Keras writes tuples like kernel_size as [3, 3]; old files may hold a single integer.
std::pair<int, int> get_pair(const Layer& l, const char* key, std::pair<int, int> def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  if (v->is_number_integer()) {
    const int x = config_int(l, key, *v);
    return {x, x};
  }
  if (v->is_array() && v->size() == 2 && (*v)[0].is_number_integer() && (*v)[1].is_number_integer())
    return {config_int(l, key, (*v)[0]), config_int(l, key, (*v)[1])};
  fail(l, std::string("config '") + key + "' must be a pair of integers like [3, 3], found " +
              v->dump() + "; re-save the model from Keras");
}

// A 1-D layer's integer config: an int or a list of one (Keras writes [3] for kernel_size=3).
int get_single(const Layer& l, const char* key, int def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  if (v->is_number_integer()) return config_int(l, key, *v);
  if (v->is_array() && v->size() == 1 && (*v)[0].is_number_integer()) return config_int(l, key, (*v)[0]);
  fail(l, std::string("config '") + key + "' must be an integer or a list of one integer like [3], found " +
              v->dump() + "; re-save the model from Keras");
}

std::string get_str(const Layer& l, const char* key, const std::string& def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  if (v->is_string()) return v->get<std::string>();
  // Keras 3 may serialize an activation as {"class_name": ..., "config": ...}.
  if (v->is_object() && v->contains("config") && (*v)["config"].is_object() &&
      (*v)["config"].contains("name") && (*v)["config"]["name"].is_string())
    return (*v)["config"]["name"].get<std::string>();
  if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string())
    return (*v)["class_name"].get<std::string>();
  fail(l, std::string("config '") + key + "' must be a string, found " + v->dump() +
              "; re-save the model from Keras");
}

bool get_bool(const Layer& l, const char* key, bool def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  if (v->is_boolean()) return v->get<bool>();
  fail(l, std::string("config '") + key + "' must be true or false, found " + v->dump());
}

double get_num(const Layer& l, const char* key, double def) {
  const json* v = config_get(l, key);
  if (!v || v->is_null()) return def;
  if (v->is_number()) return v->get<double>();
  fail(l, std::string("config '") + key + "' must be a number, found " + v->dump());
}

const Array& weight(const Layer& l, const char* name, const std::vector<int64_t>& shape) {
  auto it = l.weights.find(name);
  if (it == l.weights.end())
    fail(l, std::string("weight '") + name + "' is missing from the file; expected shape " +
                shape_tuple(shape) + ". Re-save the full model with model.save()");
  if (it->second.shape != shape)
    fail(l, std::string("weight '") + name + "' has shape " + shape_tuple(it->second.shape) +
                " but the layer config needs " + shape_tuple(shape) +
                "; the file is inconsistent: re-save the model with model.save()");
  for (float x : it->second.data)
    if (!std::isfinite(x))
      fail(l, std::string("weight '") + name + "' contains NaN or Inf; the model diverged in "
                                               "training: retrain or restore a checkpoint");
  return it->second;
}

// TF "same" padding amounts along one axis.
// In 64 bits: `in` may be any tensor dimension; k and d are bounded config integers, so the
// padding (at most the dilated kernel extent, checked <= 2^30) fits int.
void same_pad(int64_t in, int k, int s, int d, int64_t& out, int& before, int& after) {
  out = (in + s - 1) / s;
  const int64_t eff = int64_t{k - 1} * d + 1;
  const int64_t total = std::max<int64_t>((out - 1) * s + eff - in, 0);
  before = static_cast<int>(total / 2);
  after = static_cast<int>(total - total / 2);
}

// Applies a weight quantizer to latent weights, per output channel (last axis) where needed.
std::vector<float> quantize_weights(const Quantizer& q, const Array& w) {
  std::vector<float> r = w.data;
  using K = Quantizer::Kind;
  switch (q.kind) {
    case K::Sign:
      for (auto& x : r) x = x < 0 ? -1.0f : 1.0f;
      break;
    case K::MagnitudeAwareSign: {
      const int64_t c = w.shape.empty() ? 1 : w.shape.back();
      const int64_t rows = c ? static_cast<int64_t>(r.size()) / c : 0;
      for (int64_t o = 0; o < c; ++o) {
        double s = 0;
        for (int64_t i = 0; i < rows; ++i) s += std::fabs(r[i * c + o]);
        const float alpha = rows ? static_cast<float>(s / rows) : 0.0f;
        for (int64_t i = 0; i < rows; ++i) r[i * c + o] = r[i * c + o] < 0 ? -alpha : alpha;
      }
      break;
    }
    default:
      break;  // other quantizers force the float path; the reference applies them exactly
  }
  return r;
}

bool is_training_only(const std::string& c) {
  static const std::set<std::string> k = {"Dropout",       "SpatialDropout1D", "SpatialDropout2D",
                                          "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
                                          "AlphaDropout",  "ActivityRegularization"};
  return k.count(c) > 0;
}

}  // namespace

const json* config_get(const Layer& layer, const char* key) {
  if (!layer.config.is_object()) return nullptr;
  auto it = layer.config.find(key);
  return it == layer.config.end() ? nullptr : &*it;
}

namespace {

// A conv/dense layer's `activation` or an Activation layer's: one of sem::kActivationNames
// (also in Keras 3's function form), or the layer is unsupported with the name. A Larq
// quantizer used as an activation (a name or a serialized object, e.g. STCustomDoReFa) is
// read, and refused by name: the kernels apply quantizers only as a layer's input quantizer.
bool import_activation(const Layer& l, const json* v, bool keras3, Node& n, std::vector<std::string>& why) {
  std::string err;
  const auto spec = sem::try_parse_activation(v ? *v : json(), "layer '" + l.name + "'", keras3, &err);
  if (!spec) {
    n.activation = v && v->is_string() ? v->get<std::string>() : (v ? v->dump() : "linear");
    why = {err, l.name, sem::supported_activation_names()};
    return false;
  }
  n.activation = spec->name;
  n.act.kind = spec->kind;
  n.act.alpha = spec->alpha;
  if (spec->kind == sem::ActivationKind::Quantizer) {
    why = {"activation \"" + spec->name + "\" is a Larq quantizer used as an activation, which "
           "BitLens does not run as a separate step", l.name,
           sem::supported_activation_names() + " (or move the quantizer to the next layer's "
           "input_quantizer)"};
    return false;
  }
  return true;
}

bool keras3_file(const Model& m) { return !m.keras_version.empty() && m.keras_version[0] == '3'; }

}  // namespace

Graph import_model(const Model& model) {
  Graph g;
  // Keras tensor (layer, node, index) -> IR tensor id.
  std::map<std::string, int> tensor_of;
  auto key = [](const TensorRef& r) {
    return r.layer + "#" + std::to_string(r.node_index) + "#" + std::to_string(r.tensor_index);
  };

  for (const Layer& l : model.layers) {
    Node n;
    n.id = static_cast<int>(g.nodes.size());
    n.name = l.name;
    n.layer = l.name;
    n.class_name = l.class_name;
    n.order = n.id;

    if (l.unconnected) {
      // Never called in the model (empty inbound_nodes): no tensor, nothing runs. Listed so the
      // report says it was seen and ignored.
      n.op = Op::Identity;
      n.removed = true;
      n.decision.kernel = KernelClass::None;
      n.decision.reasons.push_back(make_reason("UNCONNECTED", {l.class_name, l.name}));
      g.nodes.push_back(std::move(n));
      continue;
    }

    std::vector<int> in_ids;
    for (const auto& ref : l.inputs) {
      auto it = tensor_of.find(key(ref));
      if (it == tensor_of.end())
        fail(l, "input '" + ref.layer + "' is not produced by any earlier layer; the model "
                "config is inconsistent: re-save the model with model.save()");
      in_ids.push_back(it->second);
    }
    n.inputs = in_ids;
    auto in_shape = [&](size_t i) -> const std::vector<int64_t>& {
      return g.tensors[n.inputs.at(i)].shape;
    };
    auto need_inputs = [&](size_t count) {
      if (n.inputs.size() != count)
        fail(l, "expects " + std::to_string(count) + " input(s), the model connects " +
                    std::to_string(n.inputs.size()));
    };
    auto need_rank = [&](size_t rank) {
      if (in_shape(0).size() != rank)
        fail(l, "expects an input of rank " + std::to_string(rank + 1) +
                    " (batch included), got shape (None, " + shape_tuple(in_shape(0)).substr(1));
    };
    auto channels_last = [&]() {
      const std::string df = get_str(l, "data_format", "channels_last");
      return df == "channels_last";
    };

    std::vector<int64_t> out_shape;
    const std::string& c = l.class_name;
    bool unsupported = false;
    std::string unsupported_why;
    std::vector<std::string> unsupported_args;  // reason arguments, when not {class, layer}
    auto own_activation = [&] {
      if (!import_activation(l, config_get(l, "activation"), keras3_file(model), n, unsupported_args)) {
        unsupported = true;
        unsupported_why = "ACTIVATION";
      }
    };
    // Set when this layer's output shape cannot be known; the text says why (for the layers
    // downstream, which are then reported instead of analysed).
    std::string unknown_because;
    const Tensor* unknown_input = nullptr;
    for (int t : n.inputs)
      if (!g.tensors[t].shape_known) {
        unknown_input = &g.tensors[t];
        break;
      }

    if (unknown_input) {
      // Nothing about this layer can be checked or computed without its input shape (not even
      // its weights' shapes); assuming one would refuse a valid file or report made-up numbers.
      n.op = Op::Unsupported;
      n.decision.kernel = KernelClass::Unsupported;
      n.decision.reasons.push_back(make_reason("SHAPE_UNKNOWN", {unknown_input->unknown_because, l.name}));
      unknown_because = unknown_input->unknown_because;
    } else if (c == "InputLayer") {
      n.op = Op::Input;
      const json* s = config_get(l, "batch_input_shape");
      if (!s) s = config_get(l, "batch_shape");
      if (!s || !s->is_array() || s->size() < 2)
        fail(l, "has no 'batch_input_shape'/'batch_shape'; re-save the model with model.save()");
      for (size_t i = 1; i < s->size(); ++i) {
        if (!(*s)[i].is_number_integer() || (*s)[i].get<int64_t>() <= 0)
          fail(l, "input shape " + s->dump() + " has an unknown or invalid dimension; BitLens "
                  "needs fixed input sizes: build the model with tf.keras.Input(shape=(H, W, C))");
        out_shape.push_back((*s)[i].get<int64_t>());
      }
    } else if (is_training_only(c)) {
      need_inputs(1);
      n.op = Op::Identity;
      out_shape = in_shape(0);
    } else if (c == "QuantConv2D" || c == "Conv2D" || c == "QuantDepthwiseConv2D" ||
               c == "DepthwiseConv2D" || c == "QuantSeparableConv2D" || c == "SeparableConv2D" ||
               c == "Conv1D" || c == "QuantConv1D") {
      // A 1-D convolution over (steps, channels) runs as a 2-D one of height 1 (kernel 1 x k):
      // the same kernels, exact for every padding, stride and dilation.
      const bool one_d = c == "Conv1D" || c == "QuantConv1D";
      need_inputs(1);
      need_rank(one_d ? 2 : 3);
      // A separable convolution is lowered as its two parts: a depthwise node (this one, an
      // inserted step) and a 1x1 pointwise node that carries the layer's name, bias and activation.
      const bool separable = c.find("Separable") != std::string::npos;
      const bool depthwise = c.find("Depthwise") != std::string::npos || separable;
      const bool quant = c.rfind("Quant", 0) == 0;
      n.op = depthwise ? Op::DepthwiseConv2D : Op::Conv2D;
      auto& a = n.conv;
      if (one_d) {
        a.kh = a.sh = a.dh = 1;
        a.kw = get_single(l, "kernel_size", 1);
        a.sw = get_single(l, "strides", 1);
        a.dw = get_single(l, "dilation_rate", 1);
      } else {
        std::tie(a.kh, a.kw) = get_pair(l, "kernel_size", {1, 1});
        std::tie(a.sh, a.sw) = get_pair(l, "strides", {1, 1});
        std::tie(a.dh, a.dw) = get_pair(l, "dilation_rate", {1, 1});
      }
      const std::string padding = get_str(l, "padding", "valid");
      const bool causal = one_d && padding == "causal";
      if (padding != "same" && padding != "valid" && !causal)
        fail(l, "padding '" + padding + "' is not understood (expected \"same\" or \"valid\"" +
                    (one_d ? std::string(" or \"causal\")") : std::string(")")));
      // Causal padding pads the start with zeros (Keras pads natively; Larq's pad_values only
      // applies to "same"), so for sign inputs it is exact zero padding.
      a.same = padding == "same" || causal;
      a.pad_value = quant && !causal ? static_cast<float>(get_num(l, "pad_values", 0.0)) : 0.0f;
      // Larq raises ValueError for causal padding with pad_values != 0; ignoring the value would
      // compute something no Larq model computes.
      if (quant && causal && get_num(l, "pad_values", 0.0) != 0.0) {
        unsupported = true;
        unsupported_why = "CONFIG_VALUE";
        unsupported_args = {"pad_values = " + sem::float_text(get_num(l, "pad_values", 0.0)) +
                                " with padding=\"causal\": Larq refuses this combination (it pads with zeros on the left)",
                            l.name};
      }
      if (quant) a.input_q = parse_quantizer(config_get(l, "input_quantizer") ? *config_get(l, "input_quantizer") : json());
      const char* kq = depthwise ? "depthwise_quantizer" : "kernel_quantizer";
      if (quant) a.kernel_q = parse_quantizer(config_get(l, kq) ? *config_get(l, kq) : json());
      if (a.kh <= 0 || a.kw <= 0 || a.sh <= 0 || a.sw <= 0 || a.dh <= 0 || a.dw <= 0)
        fail(l, "kernel_size, strides and dilation_rate must be positive");
      if (!channels_last()) {
        unsupported = true;
        unsupported_why = "CHANNELS_FIRST";
      }
      // tf.keras 2 writes groups = 1 into depthwise and separable configs too (inherited from
      // Conv); any other value there has no meaning BitLens could compute.
      if ((depthwise || separable) && get_int(l, "groups", 1) != 1) {
        unsupported = true;
        unsupported_why = "CONFIG_VALUE";
        unsupported_args = {"groups = " + std::to_string(get_int(l, "groups", 1)) + " on a " + c +
                                " (a depthwise convolution has no groups; tf.keras 2 writes groups = 1 there)",
                            l.name};
      }
      const int groups = depthwise ? 1 : get_int(l, "groups", 1);
      if (groups < 1) fail(l, "config 'groups' is " + std::to_string(groups) + ", it must be 1 or more");
      a.groups = groups;
      const auto s = hwc(in_shape(0));
      const int64_t H = s[0], W = s[1];
      if (s[2] > kMaxConfigInt)
        fail(l, "its input has " + std::to_string(s[2]) + " channels, more than BitLens accepts (at most " +
                    std::to_string(kMaxConfigInt) + ")");
      const int C = static_cast<int>(s[2]);
      const int64_t eff_h = int64_t{a.kh - 1} * a.dh + 1, eff_w = int64_t{a.kw - 1} * a.dw + 1;
      // "same" padding is at most this extent, and the kernels take it as int.
      constexpr int64_t kMaxExtent = int64_t{1} << 30;
      if (eff_h > kMaxExtent || eff_w > kMaxExtent)
        fail(l, "kernel_size x dilation_rate spans " + std::to_string(eff_h) + "x" + std::to_string(eff_w) +
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
          fail(l, "the " + std::to_string(a.kh) + "x" + std::to_string(a.kw) +
                      " kernel is larger than its " + std::to_string(H) + "x" +
                      std::to_string(W) + " input with padding=\"valid\"");
      }
      if (depthwise) {
        a.depth_multiplier = get_int(l, "depth_multiplier", 1);
        if (a.depth_multiplier <= 0) fail(l, "depth_multiplier must be positive");
        if (int64_t{C} * a.depth_multiplier > kMaxConfigInt)
          fail(l, std::to_string(C) + " channels x depth_multiplier " + std::to_string(a.depth_multiplier) +
                      " is more than BitLens accepts (at most " + std::to_string(kMaxConfigInt) + " channels)");
        a.filters = separable ? get_int(l, "filters", 0) : C * a.depth_multiplier;
        if (a.filters <= 0) fail(l, "config 'filters' must be a positive integer");
        const Array& k = weight(l, "depthwise_kernel", {a.kh, a.kw, C, a.depth_multiplier});
        n.weights = quantize_weights(a.kernel_q, k);
      } else {
        a.filters = get_int(l, "filters", 0);
        if (a.filters <= 0) fail(l, "config 'filters' must be a positive integer");
        // A grouped convolution's kernel holds C / groups input channels per filter
        // (kh, kw, C/groups, filters), as Keras stores it; Keras refuses to build a layer whose
        // channels or filters do not divide by groups.
        if (C % groups != 0 || a.filters % groups != 0)
          fail(l, "groups=" + std::to_string(groups) + " does not divide its " + std::to_string(C) +
                      " input channels and " + std::to_string(a.filters) +
                      " filters; Keras cannot build such a layer: fix 'groups' and re-save the model");
        const Array& k = one_d ? weight(l, "kernel", {a.kw, C / groups, a.filters})
                               : weight(l, "kernel", {a.kh, a.kw, C / groups, a.filters});
        n.weights = quantize_weights(a.kernel_q, k);
      }
      // MagnitudeAwareSign: split alpha*sign(w) into sign(w) and a per-channel scale folded
      // after the dot product (weights' last axis is the output channel for every layout here).
      auto split_magnitude = [&](Node& m, int64_t channels) {
        if (m.conv.kernel_q.kind != Quantizer::Kind::MagnitudeAwareSign) return;
        PostOp p{PostOp::Kind::Scale, std::vector<float>(static_cast<size_t>(channels), 0.0f), {}, 0, 0, l.name};
        for (size_t i = 0; i < m.weights.size(); ++i) {
          p.a[i % static_cast<size_t>(channels)] = std::fabs(m.weights[i]);
          m.weights[i] = m.weights[i] < 0 ? -1.0f : 1.0f;
        }
        m.epi.chain.push_back(std::move(p));
      };
      split_magnitude(n, depthwise ? int64_t{C} * a.depth_multiplier : a.filters);
      if (oh <= 0 || ow <= 0) fail(l, "output size is empty");
      if (separable && !unsupported) {
        const int mid = C * a.depth_multiplier;
        Node dw = n;
        dw.name = l.name + "/depthwise";
        dw.class_name.clear();
        dw.conv.filters = mid;
        Tensor t;
        t.name = dw.name;
        t.shape = {oh, ow, mid};
        t.producer = dw.id;
        dw.outputs = {g.add_tensor(std::move(t))};
        for (int in : dw.inputs) g.tensors[in].consumers.push_back(dw.id);
        g.nodes.push_back(std::move(dw));

        // The pointwise part multiplies the depthwise part's outputs (not re-quantized).
        Node pw;
        pw.id = static_cast<int>(g.nodes.size());
        pw.order = pw.id;
        pw.name = pw.layer = l.name;
        pw.class_name = c;
        pw.op = Op::Conv2D;
        pw.separable_pointwise = true;
        pw.inputs = {g.nodes.back().outputs[0]};
        pw.conv.filters = a.filters;
        if (quant) pw.conv.kernel_q = parse_quantizer(config_get(l, "pointwise_quantizer") ? *config_get(l, "pointwise_quantizer") : json());
        pw.weights = quantize_weights(pw.conv.kernel_q, weight(l, "pointwise_kernel", {1, 1, mid, a.filters}));
        split_magnitude(pw, a.filters);
        n = std::move(pw);
      }
      if (get_bool(l, "use_bias", true)) {
        const Array& b = weight(l, "bias", {n.conv.filters});
        n.epi.chain.push_back({PostOp::Kind::Bias, b.data, {}, 0, 0, l.name});
      }
      own_activation();
      out_shape = one_d ? std::vector<int64_t>{ow, n.conv.filters} : std::vector<int64_t>{oh, ow, n.conv.filters};
    } else if (c == "QuantDense" || c == "Dense") {
      need_inputs(1);
      n.op = Op::Dense;
      auto& a = n.conv;
      const bool quant = c == "QuantDense";
      if (quant) {
        a.input_q = parse_quantizer(config_get(l, "input_quantizer") ? *config_get(l, "input_quantizer") : json());
        a.kernel_q = parse_quantizer(config_get(l, "kernel_quantizer") ? *config_get(l, "kernel_quantizer") : json());
      }
      a.filters = get_int(l, "units", 0);
      if (a.filters <= 0) fail(l, "config 'units' must be a positive integer");
      const auto s = in_shape(0);
      const int64_t nin = s.back();
      const Array& k = weight(l, "kernel", {nin, a.filters});
      n.weights = quantize_weights(a.kernel_q, k);
      if (a.kernel_q.kind == Quantizer::Kind::MagnitudeAwareSign) {
        PostOp p{PostOp::Kind::Scale, std::vector<float>(a.filters, 0.0f), {}, 0, 0, l.name};
        for (size_t i = 0; i < n.weights.size(); ++i) {
          p.a[i % a.filters] = std::fabs(n.weights[i]);
          n.weights[i] = n.weights[i] < 0 ? -1.0f : 1.0f;
        }
        n.epi.chain.push_back(std::move(p));
      }
      if (get_bool(l, "use_bias", true)) {
        const Array& b = weight(l, "bias", {a.filters});
        n.epi.chain.push_back({PostOp::Kind::Bias, b.data, {}, 0, 0, l.name});
      }
      own_activation();
      out_shape = s;
      out_shape.back() = a.filters;
      if (s.size() == 2 || s.size() == 3) {
        // Keras applies Dense to the last axis of every step/pixel: a 1x1 convolution, whose
        // kernel (1, 1, C, units) has the dense kernel's (C, units) layout.
        n.op = Op::Conv2D;
        a.kh = a.kw = a.sh = a.sw = a.dh = a.dw = 1;
      } else if (s.size() != 1) {
        unsupported = true;
        unsupported_why = "DENSE_RANK";
      }
    } else if (c == "BatchNormalization") {
      need_inputs(1);
      n.op = Op::BatchNorm;
      const auto& s = in_shape(0);
      int axis = -1;
      const json* ax = config_get(l, "axis");
      if (ax && ax->is_array() && ax->size() == 1 && (*ax)[0].is_number_integer())
        axis = config_int(l, "axis", (*ax)[0]);
      else if (ax && ax->is_number_integer())
        axis = config_int(l, "axis", *ax);
      const int rank = static_cast<int>(s.size()) + 1;
      if (axis < 0) axis += rank;
      if (axis != rank - 1) {
        unsupported = true;
        unsupported_why = "BN_AXIS";
      }
      const int64_t C = s.back();
      const double eps_config = get_num(l, "epsilon", 1e-3);
      const sem::BnEpsilon be = sem::bn_epsilon(eps_config, sem::tf_keras2_file(model.keras_version), rank, axis, l.config);
      const float eps = be.value;
      const bool center = get_bool(l, "center", true), scale = get_bool(l, "scale", true);
      // Presence and shape only: non-finite values are a BN_PARAMS problem of this layer.
      auto param = [&](const char* name) -> const Array& {
        auto it = l.weights.find(name);
        if (it == l.weights.end() || it->second.shape != std::vector<int64_t>{C}) weight(l, name, {C});
        return it->second;
      };
      const Array& mean = param("moving_mean");
      const Array& var = param("moving_variance");
      PostOp p{PostOp::Kind::BatchNorm, std::vector<float>(C), std::vector<float>(C), 0, 0, l.name};
      const Array* gamma = scale ? &param("gamma") : nullptr;
      const Array* beta = center ? &param("beta") : nullptr;
      if (auto problem = sem::bn_parameter_problem(eps_config, gamma, beta, mean, var)) {
        // Keras loads such a model and computes NaN/Inf with it: the layer is not deployable,
        // but the rest of the model is still analysed.
        unsupported = true;
        unsupported_why = "BN_PARAMS";
        unsupported_args = {*problem, l.name};
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
          n.decision.reasons.push_back(make_reason("BN_EPSILON_FLOOR", {sem::float_text(eps_config), l.name}));
      }
      n.epi.chain.push_back(std::move(p));
      out_shape = s;
    } else if (c == "MaxPooling2D" || c == "AveragePooling2D" || c == "MaxPooling1D" || c == "AveragePooling1D") {
      const bool one_d = c.back() == 'D' && c[c.size() - 2] == '1';
      need_inputs(1);
      need_rank(one_d ? 2 : 3);
      n.op = c.rfind("Max", 0) == 0 ? Op::MaxPool : Op::AvgPool;
      auto& p = n.pool;
      if (one_d) {
        p.kh = p.sh = 1;
        p.kw = get_single(l, "pool_size", 2);
        p.sw = get_single(l, "strides", p.kw);
      } else {
        std::tie(p.kh, p.kw) = get_pair(l, "pool_size", {2, 2});
        std::tie(p.sh, p.sw) = get_pair(l, "strides", {p.kh, p.kw});
      }
      p.same = get_str(l, "padding", "valid") == "same";
      if (p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0)
        fail(l, "pool_size and strides must be positive");
      if (!channels_last()) {
        unsupported = true;
        unsupported_why = "CHANNELS_FIRST";
      }
      const auto s = hwc(in_shape(0));
      int64_t oh, ow;
      int b;
      if (p.same) {
        same_pad(s[0], p.kh, p.sh, 1, oh, p.pad_top, b);
        same_pad(s[1], p.kw, p.sw, 1, ow, p.pad_left, b);
      } else {
        if (s[0] < p.kh || s[1] < p.kw) fail(l, "pool window is larger than its input");
        oh = (s[0] - p.kh) / p.sh + 1;
        ow = (s[1] - p.kw) / p.sw + 1;
      }
      out_shape = one_d ? std::vector<int64_t>{ow, s[2]} : std::vector<int64_t>{oh, ow, s[2]};
    } else if (c == "GlobalAveragePooling2D" || c == "GlobalMaxPooling2D" || c == "GlobalAveragePooling1D" ||
               c == "GlobalMaxPooling1D") {
      const bool one_d = c.back() == 'D' && c[c.size() - 2] == '1';
      need_inputs(1);
      need_rank(one_d ? 2 : 3);
      n.op = c.rfind("GlobalMax", 0) == 0 ? Op::GlobalMaxPool : Op::GlobalAvgPool;
      n.pool.keepdims = get_bool(l, "keepdims", false);
      if (!channels_last()) {
        unsupported = true;
        unsupported_why = "CHANNELS_FIRST";
      }
      const int64_t ch = in_shape(0).back();
      out_shape = !n.pool.keepdims ? std::vector<int64_t>{ch}
                  : one_d          ? std::vector<int64_t>{1, ch}
                                   : std::vector<int64_t>{1, 1, ch};
    } else if (c == "UpSampling1D" || c == "UpSampling2D") {
      const bool one_d = c == "UpSampling1D";
      need_inputs(1);
      need_rank(one_d ? 2 : 3);
      n.op = Op::Upsample;
      auto& p = n.pool;
      if (one_d) {
        p.kh = 1;
        p.kw = get_single(l, "size", 2);
      } else {
        if (!channels_last()) {
          unsupported = true;
          unsupported_why = "CHANNELS_FIRST";
        }
        std::tie(p.kh, p.kw) = get_pair(l, "size", {2, 2});
        const std::string interp = get_str(l, "interpolation", "nearest");
        if (interp != "nearest") {
          unsupported = true;
          unsupported_why = "UPSAMPLING_INTERPOLATION";
          unsupported_args = {interp, l.name};
        }
        if (!channels_last()) {
          unsupported = true;
          unsupported_why = "CHANNELS_FIRST";
        }
      }
      if (p.kh <= 0 || p.kw <= 0) fail(l, "size must be positive");
      const auto s = hwc(in_shape(0));
      out_shape = one_d ? std::vector<int64_t>{sat_mul(s[1], p.kw), s[2]}
                        : std::vector<int64_t>{sat_mul(s[0], p.kh), sat_mul(s[1], p.kw), s[2]};
    } else if (c == "Flatten") {
      need_inputs(1);
      n.op = Op::Flatten;
      // channels_first moves the channel axis first before flattening, which changes the
      // element order every following Dense weight is laid out for.
      if (!channels_last()) {
        unsupported = true;
        unsupported_why = "CHANNELS_FIRST";
      }
      int64_t e = 1;
      for (auto d : in_shape(0)) e *= d;
      out_shape = {e};
    } else if (c == "Reshape") {
      need_inputs(1);
      n.op = Op::Flatten;
      const json* t = config_get(l, "target_shape");
      if (!t || !t->is_array()) fail(l, "config 'target_shape' is missing or not a list");
      int64_t e = 1, known = 1;
      for (auto d : in_shape(0)) e *= d;
      int minus = -1;
      for (size_t i = 0; i < t->size(); ++i) {
        if (!(*t)[i].is_number_integer()) fail(l, "target_shape " + t->dump() + " is not a list of integers");
        const int64_t d = (*t)[i].get<int64_t>();
        if (d == -1 && minus < 0) {
          minus = static_cast<int>(i);
          out_shape.push_back(1);
        } else if (d <= 0) {
          fail(l, "target_shape " + t->dump() + " has an invalid dimension");
        } else {
          if (d > kMaxTensorElements) fail(l, "target_shape " + t->dump() + " has a dimension larger than its input");
          out_shape.push_back(d);
          known = sat_mul(known, d);
        }
      }
      if (minus >= 0) out_shape[minus] = known ? e / known : 0;
      int64_t got = 1;
      for (auto d : out_shape) got = sat_mul(got, d);
      if (got != e)
        fail(l, "target_shape " + t->dump() + " does not hold the " + std::to_string(e) +
                    " elements of its input " + shape_tuple(in_shape(0)));
      n.reshape_to = out_shape;
    } else if (c == "ZeroPadding1D") {
      need_inputs(1);
      need_rank(2);
      n.op = Op::ZeroPad;
      const json* p = config_get(l, "padding");
      int le = 1, r = 1;
      if (p && p->is_number_integer()) {
        le = r = config_int(l, "padding", *p);
      } else if (p && p->is_array() && p->size() == 2 && (*p)[0].is_number_integer() && (*p)[1].is_number_integer()) {
        le = config_int(l, "padding", (*p)[0]);
        r = config_int(l, "padding", (*p)[1]);
      } else if (p && !p->is_null()) {
        fail(l, "config 'padding' " + p->dump() + " is not understood (expected an integer or [left, right])");
      }
      if (le < 0 || r < 0) fail(l, "config 'padding' must not be negative");
      n.conv.pad_top = n.conv.pad_bottom = 0;
      n.conv.pad_left = le;
      n.conv.pad_right = r;
      const auto& s = in_shape(0);
      out_shape = {s[0] + le + r, s[1]};
    } else if (c == "ZeroPadding2D") {
      need_inputs(1);
      need_rank(3);
      n.op = Op::ZeroPad;
      if (!channels_last()) {
        unsupported = true;
        unsupported_why = "CHANNELS_FIRST";
      }
      const json* p = config_get(l, "padding");
      int t = 1, b = 1, le = 1, r = 1;
      auto bad = [&]() { fail(l, "config 'padding' " + (p ? p->dump() : std::string("(missing)")) + " is not understood"); };
      if (!p || p->is_number_integer()) {
        t = b = le = r = p ? config_int(l, "padding", *p) : 1;
      } else if (p->is_array() && p->size() == 2) {
        const json &a = (*p)[0], &bb = (*p)[1];
        if (a.is_number_integer() && bb.is_number_integer()) {
          t = b = config_int(l, "padding", a);
          le = r = config_int(l, "padding", bb);
        } else if (a.is_array() && bb.is_array() && a.size() == 2 && bb.size() == 2 && a[0].is_number_integer() &&
                   a[1].is_number_integer() && bb[0].is_number_integer() && bb[1].is_number_integer()) {
          t = config_int(l, "padding", a[0]);
          b = config_int(l, "padding", a[1]);
          le = config_int(l, "padding", bb[0]);
          r = config_int(l, "padding", bb[1]);
        } else {
          bad();
        }
      } else {
        bad();
      }
      if (t < 0 || b < 0 || le < 0 || r < 0) bad();
      n.conv.pad_top = t; n.conv.pad_bottom = b; n.conv.pad_left = le; n.conv.pad_right = r;
      const auto& s = in_shape(0);
      out_shape = {s[0] + t + b, s[1] + le + r, s[2]};
    } else if (c == "Activation" || c == "ReLU" || c == "Softmax" || c == "LeakyReLU" || c == "ELU" ||
               c == "PReLU") {
      need_inputs(1);
      out_shape = in_shape(0);
      using K = sem::ActivationKind;
      if (c == "Activation") {
        own_activation();
      } else if (c == "Softmax") {
        n.activation = "softmax";
        n.act.kind = K::Softmax;
        const int axis = get_int(l, "axis", -1);
        if (axis != -1 && axis != static_cast<int>(out_shape.size())) {
          unsupported = true;
          unsupported_why = "SOFTMAX_AXIS";
        }
      } else if (c == "ReLU") {
        // Keras' relu(x, negative_slope, max_value, threshold), all three computed exactly.
        n.activation = "relu";
        n.act.kind = K::Relu;
        n.act.max_value = static_cast<float>(get_num(l, "max_value", INFINITY));
        n.act.alpha = static_cast<float>(get_num(l, "negative_slope", 0.0));
        n.act.threshold = static_cast<float>(get_num(l, "threshold", 0.0));
        if (!(n.act.max_value >= 0.0f) || !(n.act.alpha >= 0.0f) || !std::isfinite(n.act.alpha) ||
            !std::isfinite(n.act.threshold))
          fail(l, "max_value and negative_slope must be numbers >= 0 and threshold a finite number (Keras "
                  "refuses others), found max_value " + std::to_string(n.act.max_value) + ", negative_slope " +
                      std::to_string(n.act.alpha) + ", threshold " + std::to_string(n.act.threshold));
      } else if (c == "LeakyReLU") {
        // tf.keras 2.x writes "alpha", Keras 3 "negative_slope"; both default to 0.3.
        n.activation = "leaky_relu";
        n.act.kind = K::LeakyRelu;
        n.act.alpha = static_cast<float>(config_get(l, "negative_slope") ? get_num(l, "negative_slope", 0.3)
                                                                          : get_num(l, "alpha", 0.3));
      } else if (c == "ELU") {
        n.activation = "elu";
        n.act.kind = K::Elu;
        n.act.alpha = static_cast<float>(get_num(l, "alpha", 1.0));
      } else {  // PReLU: a learned slope per element, shared along `shared_axes`
        n.activation = "prelu";
        n.act.kind = K::Prelu;
        std::vector<int64_t> ashape = out_shape;
        const json* sa = config_get(l, "shared_axes");
        std::vector<int64_t> axes;
        if (sa && sa->is_number_integer()) axes.push_back(sa->get<int64_t>());
        else if (sa && sa->is_array())
          for (const auto& v : *sa)
            if (v.is_number_integer()) axes.push_back(v.get<int64_t>());
            else axes.push_back(0);
        else if (sa && !sa->is_null()) axes.push_back(0);
        for (int64_t a : axes) {
          if (a < 1 || a > static_cast<int64_t>(ashape.size())) {
            unsupported = true;
            unsupported_why = "PRELU_SHARED_AXES";
            unsupported_args = {sa->dump(), l.name, "a list of axes of the input " + shape_tuple(out_shape)};
            break;
          }
          ashape[static_cast<size_t>(a - 1)] = 1;
        }
        if (!unsupported) {
          const Array& alpha = weight(l, "alpha", ashape);
          // Expand the shared slopes to one per element of the smallest trailing period that
          // holds them all: channels only (the usual shared_axes=[1, 2]) stays C values.
          size_t first = 0;  // first axis, from the left, where alpha is not shared
          while (first < ashape.size() && ashape[first] == 1) ++first;
          int64_t period = 1;
          for (size_t d = first; d < out_shape.size(); ++d) period = sat_mul(period, out_shape[d]);
          if (period > kMaxTensorElements) fail(l, "weight 'alpha' is too large");
          n.act.slopes.resize(static_cast<size_t>(period));
          std::vector<int64_t> idx(out_shape.size(), 0);
          for (int64_t i = 0; i < period; ++i) {
            int64_t rem = i, ai = 0;
            for (size_t d = out_shape.size(); d-- > first;) {
              idx[d] = rem % out_shape[d];
              rem /= out_shape[d];
            }
            for (size_t d = first; d < out_shape.size(); ++d) ai = ai * ashape[d] + (ashape[d] == 1 ? 0 : idx[d]);
            n.act.slopes[static_cast<size_t>(i)] = alpha.data[static_cast<size_t>(ai)];
          }
        }
      }
      n.op = n.act.kind == K::Softmax ? Op::Softmax : Op::Activation;
    } else if (c == "Add" || c == "Concatenate" ||
               (c == "TFOpLambda" && n.inputs.size() == 2)) {
      if (n.inputs.size() < 2) fail(l, "needs at least two inputs");
      if (c == "Concatenate") {
        n.op = Op::Concat;
        const int rank = static_cast<int>(in_shape(0).size());
        int axis = get_int(l, "axis", -1);
        if (axis < 0) axis += rank + 1;
        n.concat_axis = axis;
        out_shape = in_shape(0);
        if (axis != rank) {
          unsupported = true;
          unsupported_why = "CONCAT_AXIS";
        }
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          const auto& si = in_shape(i);
          if (si.size() != out_shape.size()) fail(l, "inputs have different ranks");
          for (size_t d = 0; d + 1 < si.size(); ++d)
            if (si[d] != out_shape[d]) fail(l, "inputs " + shape_tuple(in_shape(0)) + " and " + shape_tuple(si) + " cannot be concatenated on the last axis");
          out_shape.back() += si.back();
        }
      } else {
        const std::string fn = c == "TFOpLambda" ? get_str(l, "function", "") : "add";
        if (fn.find("add") == std::string::npos) {
          // Any other TF operation (matmul, reshape, ...) may change the shape: unknown.
          unsupported = true;
          unsupported_why = "TFOP";
          unsupported_args = {c, l.name, fn};
          n.op = Op::Unsupported;
          unknown_because = "'" + l.name + "' (" + c + " " + fn + ") is not supported";
        } else {
          n.op = Op::Add;
          out_shape = in_shape(0);
          for (size_t i = 1; i < n.inputs.size(); ++i)
            if (in_shape(i) != out_shape)
              fail(l, "inputs " + shape_tuple(in_shape(0)) + " and " + shape_tuple(in_shape(i)) +
                          " have different shapes (broadcasting is not supported)");
        }
      }
    } else if (c == "TFOpLambda") {
      need_inputs(1);
      out_shape = in_shape(0);
      const std::string fn = get_str(l, "function", "");
      const json& kw = l.call_kwargs;
      const json* y = kw.is_object() && kw.contains("y") ? &kw["y"] : nullptr;
      const bool is_add = fn == "__operators__.add" || fn == "math.add";
      const bool is_mul = fn == "math.multiply" || fn == "__operators__.mul" || fn == "math.mul";
      if ((is_add || is_mul) && y && y->is_number()) {
        n.op = is_add ? Op::ConstAdd : Op::ConstMul;
        n.const_value = y->get<float>();
      } else {
        // tf.reshape, tf.transpose, ... change the shape; none is assumed.
        n.op = Op::Unsupported;
        unsupported = true;
        unsupported_why = "TFOP";
        unsupported_args = {c, l.name, fn};
        unknown_because = "'" + l.name + "' (" + c + " " + fn + ") is not supported";
      }
    } else {
      n.op = Op::Unsupported;
      unsupported = true;
      unsupported_why = "UNKNOWN_LAYER";
      // What a layer BitLens does not model computes is unknown, its output shape too (a
      // custom layer may pool, flatten or change channels). Assuming its input's shape made
      // the next layer's weight-shape check refuse valid files; the layers downstream are
      // listed as SHAPE_UNKNOWN instead.
      unknown_because = "'" + l.name + "' (" + c + ") is not supported";
    }

    if (unsupported) {
      if (n.op != Op::Unsupported) n.op = Op::Unsupported;
      n.decision.kernel = KernelClass::Unsupported;
      n.decision.reasons.push_back(
          make_reason(unsupported_why, unsupported_args.empty() ? std::vector<std::string>{c, l.name}
                                                                : unsupported_args));
    }
    // Every config key is read or known not to matter (bitlens/layer_table.hpp): a key from a
    // newer Keras, or a value such as a mixed-precision dtype, would otherwise change the result
    // silently.
    if (!unknown_input && find_layer_info(c)) {
      std::vector<Reason> config_reasons;
      if (auto key = unknown_config_key(c, l.config)) {
        std::string v = l.config[*key].dump();
        if (v.size() > 60) v = v.substr(0, 57) + "...";
        config_reasons.push_back(make_reason("CONFIG_KEY", {*key, v, c, l.name}));
      }
      if (auto problem = generic_config_problem(l.config))
        config_reasons.push_back(make_reason("CONFIG_VALUE", {*problem, l.name}));
      if (!config_reasons.empty()) {
        n.op = Op::Unsupported;
        n.decision.kernel = KernelClass::Unsupported;
        for (auto& r : config_reasons) n.decision.reasons.push_back(std::move(r));
      }
    }

    // Every size downstream (costs, memory plan, limits) is computed in int64 from these.
    int64_t elements = 1;
    for (auto d : out_shape) {
      if (d < 0) fail(l, "output shape " + shape_tuple(out_shape) + " has a negative dimension");
      elements = sat_mul(elements, d);
    }
    if (elements > kMaxTensorElements)
      fail(l, "output shape " + shape_tuple(out_shape) + " has more than " + std::to_string(kMaxTensorElements) +
                  " elements per sample, more than BitLens can analyse; build the model for a smaller input shape");

    // Output tensor(s). Multi-output layers are not supported: one output each.
    Tensor t;
    t.name = l.name;
    t.shape = out_shape;
    if (!unknown_because.empty()) {
      t.shape.clear();
      t.shape_known = false;
      t.unknown_because = unknown_because;
    }
    t.producer = n.id;
    const int tid = g.add_tensor(std::move(t));
    n.outputs = {tid};
    tensor_of[key({l.name, 0, 0})] = tid;
    for (int in : n.inputs) g.tensors[in].consumers.push_back(n.id);
    g.nodes.push_back(std::move(n));
  }

  for (const auto& ref : model.inputs) {
    auto it = tensor_of.find(key(ref));
    if (it == tensor_of.end()) throw ModelError("model input '" + ref.layer + "' is not a layer of the model; re-save the model with model.save()");
    g.inputs.push_back(it->second);
    g.tensors[it->second].model_input = true;
  }
  for (const auto& ref : model.outputs) {
    auto it = tensor_of.find(key(ref));
    if (it == tensor_of.end()) throw ModelError("model output '" + ref.layer + "' is not a layer of the model; re-save the model with model.save()");
    g.outputs.push_back(it->second);
    g.tensors[it->second].model_output = true;
  }
  if (g.inputs.empty()) throw ModelError("the model has no input layer; build it with tf.keras.Input(shape=...) and re-save");
  if (g.outputs.empty()) throw ModelError("the model has no output; re-save the model with model.save()");
  return g;
}

}  // namespace bitlens::passes
