// Pass: Keras Model -> IR Graph. Walks the layers in order, connects their tensors, and gives
// each layer to its class's import function (import_layers.cpp), which parses its config,
// quantizes its weights and infers its output shape; then checks every config key against the
// layer table and the output size against the limits.
#include <algorithm>
#include <cmath>
#include <map>

#include "bitlens/format.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/semantics.hpp"
#include "passes/import.hpp"

namespace bitlens::passes {

[[noreturn]] void fail(const Layer& l, const std::string& what) {
  throw ModelError("layer '" + l.name + "' (" + l.class_name + "): " + what);
}

namespace {
[[noreturn]] void too_large(const Layer& l, const std::string& key, const json& v) {
  fail(l, "config '" + key + "' is " + v.dump() + ", larger than BitLens accepts (at most " +
              std::to_string(kMaxConfigInt) + ")");
}

}  // namespace

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

// In 64 bits: `in` may be any tensor dimension; k and d are bounded config integers, so the
// padding (at most the dilated kernel extent, checked <= 2^30) fits int.
void same_pad(int64_t in, int k, int s, int d, int64_t& out, int& before, int& after) {
  out = (in + s - 1) / s;
  const int64_t eff = int64_t{k - 1} * d + 1;
  const int64_t total = std::max<int64_t>((out - 1) * s + eff - in, 0);
  before = static_cast<int>(total / 2);
  after = static_cast<int>(total - total / 2);
}

std::vector<float> quantize_weights(const Quantizer& q, const Array& w, int64_t* near_boundary) {
  std::vector<float> r = w.data;
  using K = Quantizer::Kind;
  // QKeras quantizers are element-wise: the weights Keras multiplies are sem's values exactly.
  if (q.levels() || (q.kind == K::QKeras && q.invalid.empty())) {
    // Keras applies the kernel quantizer to the whole kernel tensor (weights mode: one max).
    sem::quantize_tensor(q.spec, r, w.shape.empty() ? 1 : w.shape.back(), static_cast<int>(w.shape.size()),
                         q.kind == K::QKeras ? near_boundary : nullptr);
    if (near_boundary && q.spec.dorefa_weights)
      *near_boundary = sem::dorefa_weights_near_boundary(
          w.data, q.kind == K::StDoReFa ? sem::st_dorefa_weight_n(q.spec.k_bit) : sem::dorefa_n(q.spec.k_bit));
    return r;
  }
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
    why = {"activation \"" + spec->name + "\" is a quantizer used as a layer's activation, which "
           "BitLens does not run as a separate step", l.name,
           sem::supported_activation_names() + " (or move the quantizer to the next layer's "
           "input_quantizer; in QKeras, to a QActivation layer after this one)"};
    return false;
  }
  return true;
}

bool keras3_file(const Model& m) { return !m.keras_version.empty() && m.keras_version[0] == '3'; }

}  // namespace

void LayerImport::need_inputs(size_t count) const {
  if (n.inputs.size() != count)
    fail(l, "expects " + std::to_string(count) + " input(s), the model connects " + std::to_string(n.inputs.size()));
}

void LayerImport::need_rank(size_t rank) const {
  if (in_shape(0).size() != rank)
    fail(l, "expects an input of rank " + std::to_string(rank + 1) + " (batch included), got shape (None, " +
                shape_tuple(in_shape(0)).substr(1));
}

bool LayerImport::channels_last() const { return get_str(l, "data_format", "channels_last") == "channels_last"; }

void LayerImport::own_activation() {
  if (!import_activation(l, config_get(l, "activation"), keras3_file(model), n, unsupported_args)) {
    unsupported = true;
    unsupported_why = "ACTIVATION";
  }
}

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
    const std::string& c = l.class_name;
    LayerImport x{model, l, g, n, c};
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
      x.unknown_because = unknown_input->unknown_because;
    } else if (const LayerImporter* importer = find_importer(c)) {
      importer->import(x);
    } else {
      n.op = Op::Unsupported;
      x.unsupported = true;
      x.unsupported_why = "UNKNOWN_LAYER";
      // What a layer BitLens does not model computes is unknown, its output shape too (a
      // custom layer may pool, flatten or change channels). Assuming its input's shape made
      // the next layer's weight-shape check refuse valid files; the layers downstream are
      // listed as SHAPE_UNKNOWN instead.
      x.unknown_because = "'" + l.name + "' (" + c + ") is not supported";
    }

    if (x.unsupported) {
      if (n.op != Op::Unsupported) n.op = Op::Unsupported;
      n.decision.kernel = KernelClass::Unsupported;
      n.decision.reasons.push_back(
          make_reason(x.unsupported_why, x.unsupported_args.empty() ? std::vector<std::string>{c, l.name}
                                                                : x.unsupported_args));
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
    for (auto d : x.out_shape) {
      if (d < 0) fail(l, "output shape " + shape_tuple(x.out_shape) + " has a negative dimension");
      elements = sat_mul(elements, d);
    }
    if (elements > kMaxTensorElements)
      fail(l, "output shape " + shape_tuple(x.out_shape) + " has more than " + std::to_string(kMaxTensorElements) +
                  " elements per sample, more than BitLens can analyse; build the model for a smaller input shape");

    // Output tensor(s). Multi-output layers are not supported: one output each.
    Tensor t;
    t.name = l.name;
    t.shape = x.out_shape;
    if (!x.unknown_because.empty()) {
      t.shape.clear();
      t.shape_known = false;
      t.unknown_because = x.unknown_because;
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
