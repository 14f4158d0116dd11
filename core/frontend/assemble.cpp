// model_config + weights -> Model: flattening of nested models, inbound-node parsing for the
// Keras 2 and Keras 3 forms, weight mapping, validation and topological ordering.
#include "frontend/messages.hpp"
#include "frontend/assemble.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "frontend/validate.hpp"

namespace bitlens::frontend {
namespace {

constexpr int kMaxJsonDepth = 64;
constexpr int kMaxNestedModels = 32;

std::string describe(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return j.get<bool>() ? "true" : "false";
    case json::value_t::string: {
      std::string s = j.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "the string \"" + s + "\"";
    }
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "the number " + j.dump();
  }
}

struct RawRef {
  std::string scope;
  std::string name;
  int64_t tensor = 0;
};

struct Alias {
  bool is_layer = false;
  std::string flat;             // is_layer
  std::vector<RawRef> binding;  // a nested model's outputs or a nested InputLayer's source
};

struct FlatLayer {
  Layer layer;
  std::vector<RawRef> raw_inputs;
  std::string original_name;
};

struct TopEntry {
  std::string name;
  json entry;
  bool nested = false;
  std::string scope_path;  // for nested models: the scope of their layers
};

std::string join_scope(const std::string& scope, const std::string& name) {
  return scope.empty() ? name : scope + "/" + name;
}

std::string where(const std::string& scope, const std::string& name) {
  return "layer '" + join_scope(scope, name) + "'";
}

int64_t checked_index(const json& j, const std::string& what) {
  if (!j.is_number_integer() || j.get<int64_t>() < 0 || j.get<int64_t>() > (1 << 20))
    throw ModelError("model_config: " + what + " holds " + describe(j) +
                     " where a tensor index is expected; " + kResave);
  return j.get<int64_t>();
}

bool is_k2_ref(const json& j) {
  return j.is_array() && j.size() >= 3 && j[0].is_string() && j[1].is_number_integer() &&
         j[2].is_number_integer();
}

bool is_k3_tensor(const json& j) {
  return j.is_object() && j.contains("class_name") && j["class_name"] == "__keras_tensor__";
}

class Flattener {
 public:
  explicit Flattener(const LoadLimits& limits) : limits_(limits) {}

  std::vector<FlatLayer> layers;
  std::map<std::string, Alias> aliases;
  std::vector<TopEntry> top;
  std::vector<RawRef> model_inputs;

  // Returns the model's output tensors.
  std::vector<RawRef> flatten(const json& model, const std::string& scope,
                              const std::vector<RawRef>* outer_inputs) {
    if (scope.empty()) reserve_top_level_names(model["config"]);
    if (++models_ > kMaxNestedModels)
      throw ModelError("model_config nests more than " + std::to_string(kMaxNestedModels) +
                       " models; BitLens cannot read it");
    std::string cls = model["class_name"].get<std::string>();
    if (cls == "Sequential") return flatten_sequential(model["config"], scope, outer_inputs);
    return flatten_functional(model["config"], scope, outer_inputs);
  }

  TensorRef resolve(const RawRef& r, const std::string& user, int depth = 0) const {
    if (depth > 2 * kMaxNestedModels + 2)
      throw ModelError("model_config: the inputs of " + user + " form a cycle; " + kResave);
    auto it = aliases.find(key(r.scope, r.name));
    if (it == aliases.end())
      throw ModelError("model_config: " + user + " takes its input from '" + r.name +
                       "', which is not a layer of the model; " + kResave);
    const Alias& a = it->second;
    if (a.is_layer) return TensorRef{a.flat, 0, static_cast<int>(r.tensor)};
    if (r.tensor >= static_cast<int64_t>(a.binding.size()))
      throw ModelError("model_config: " + user + " takes output " + std::to_string(r.tensor) +
                       " of '" + r.name + "', which has only " +
                       std::to_string(a.binding.size()) + "; " + kResave);
    return resolve(a.binding[static_cast<size_t>(r.tensor)], user, depth + 1);
  }

 private:
  static std::string key(const std::string& scope, const std::string& name) {
    return scope + '\n' + name;
  }

  void check_entry(const json& entry, const std::string& scope, size_t index) {
    std::string w = "model_config: layer #" + std::to_string(index) +
                    (scope.empty() ? "" : " of '" + scope + "'");
    if (!entry.is_object()) throw ModelError(w + " is " + describe(entry) + ", not a layer; " + kResave);
    if (!entry.contains("class_name") || !entry["class_name"].is_string())
      throw ModelError(w + " has no 'class_name' string; " + kResave);
    if (!entry.contains("config"))
      throw ModelError(w + " (" + entry["class_name"].get<std::string>() +
                       ") has no 'config'; " + kResave);
    bool nested = is_model_class(entry["class_name"].get<std::string>());
    if (!entry["config"].is_object() && !(nested && entry["config"].is_array()))
      throw ModelError(w + " (" + entry["class_name"].get<std::string>() + "): 'config' is " +
                       describe(entry["config"]) + ", expected an object; " + kResave);
    if (++layer_count_ > limits_.max_layers)
      throw ModelError("model_config lists more than " + std::to_string(limits_.max_layers) +
                       " layers, more than BitLens accepts; the file is damaged");
  }

  std::string config_name(const json& entry, const std::string& scope, size_t index) {
    const json& cfg = entry["config"];
    if (cfg.is_object() && cfg.contains("name")) {
      if (!cfg["name"].is_string() || cfg["name"].get<std::string>().empty())
        throw ModelError("model_config: layer #" + std::to_string(index) + " (" +
                         entry["class_name"].get<std::string>() + "): 'name' is " +
                         describe(cfg["name"]) + ", expected a non-empty string; " + kResave);
      return cfg["name"].get<std::string>();
    }
    if (cfg.is_array()) return "sequential";  // bare-list nested Sequential: Keras' default
    throw ModelError("model_config: layer #" + std::to_string(index) + " (" +
                     entry["class_name"].get<std::string>() + ") of '" + scope +
                     "' has no 'name'; " + kResave);
  }

  void bind(const std::string& scope, const std::string& name, Alias a) {
    auto k = key(scope, name);
    if (aliases.count(k))
      throw ModelError("model_config: two layers are named '" + join_scope(scope, name) +
                       "'; layer names must be unique — rename one and " + kResave);
    aliases.emplace(k, std::move(a));
  }

  std::string add_layer(const json& entry, const std::string& scope, const std::string& name,
                        std::vector<RawRef> inputs, json kwargs, bool synthetic = false) {
    // Top-level layers keep their names; a nested layer whose name is taken (by a top-level
    // layer or an earlier nested one) becomes "<parent>/<name>".
    std::string flat = name;
    if (!scope.empty())
      for (int n = 1; used_flat_.count(flat) || reserved_.count(flat); ++n)
        flat = join_scope(scope, name) + (n > 1 ? "_" + std::to_string(n) : "");
    used_flat_.insert(flat);
    FlatLayer f;
    f.layer.name = flat;
    f.layer.class_name = entry["class_name"].get<std::string>();
    f.layer.config = entry["config"];
    f.layer.call_kwargs = kwargs.is_object() ? std::move(kwargs) : json::object();
    f.layer.parent = scope;
    f.layer.synthetic = synthetic;
    f.raw_inputs = std::move(inputs);
    f.original_name = name;
    layers.push_back(std::move(f));
    Alias a;
    a.is_layer = true;
    a.flat = flat;
    bind(scope, name, std::move(a));
    if (scope.empty()) top.push_back({name, entry, false, ""});
    return flat;
  }

  void add_nested(const json& entry, const std::string& scope, const std::string& name,
                  const std::vector<RawRef>& inputs) {
    std::string inner = join_scope(scope, name);
    if (scope.empty()) top.push_back({name, entry, true, inner});
    auto outs = flatten(entry, inner, &inputs);
    Alias a;
    a.binding = std::move(outs);
    bind(scope, name, std::move(a));
  }

  static json input_shape_of(const json& cfg) {
    if (!cfg.is_object()) return nullptr;
    for (const char* k : {"batch_input_shape", "batch_shape"})
      if (cfg.contains(k) && cfg[k].is_array()) return cfg[k];
    return nullptr;
  }

  // The input shape a nested model declares (its InputLayer or its first layer).
  static json nested_input_shape(const json& entry, int depth) {
    if (depth > kMaxNestedModels || !entry.is_object() || !entry.contains("config")) return nullptr;
    const json& cfg = entry["config"];
    if (cfg.is_object() && cfg.contains("build_input_shape") && cfg["build_input_shape"].is_array())
      return cfg["build_input_shape"];
    const json* list = cfg.is_array() ? &cfg
                       : (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array())
                           ? &cfg["layers"]
                           : nullptr;
    if (!list || list->empty() || !(*list)[0].is_object()) return nullptr;
    const json& first = (*list)[0];
    if (first.contains("class_name") && first["class_name"].is_string() &&
        is_model_class(first["class_name"].get<std::string>()))
      return nested_input_shape(first, depth + 1);
    return first.contains("config") ? input_shape_of(first["config"]) : json(nullptr);
  }

  std::vector<RawRef> flatten_sequential(const json& cfg, const std::string& scope,
                                         const std::vector<RawRef>* outer) {
    const json* list = nullptr;
    if (cfg.is_array()) {
      list = &cfg;  // Keras <= 2.2.2: bare list of layers
    } else if (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array()) {
      list = &cfg["layers"];
    } else {
      throw ModelError("model_config: Sequential model" + (scope.empty() ? "" : " '" + scope + "'") +
                       " has no 'layers' list; " + kResave);
    }
    if (list->empty())
      throw ModelError("model_config: Sequential model" + (scope.empty() ? "" : " '" + scope + "'") +
                       " has no layers; add layers and " + kResave);
    if (outer && outer->size() != 1)
      throw ModelError("model_config: Sequential model '" + scope + "' is called with " +
                       std::to_string(outer->size()) + " inputs, expected 1; " + kResave);
    std::optional<RawRef> current;
    if (outer) current = (*outer)[0];
    for (size_t i = 0; i < list->size(); ++i) {
      const json& entry = (*list)[i];
      check_entry(entry, scope, i);
      std::string cls = entry["class_name"].get<std::string>();
      std::string name = config_name(entry, scope, i);
      if (cls == "InputLayer") {
        if (outer) {
          Alias a;
          a.binding = {*current};
          bind(scope, name, std::move(a));
        } else {
          if (current)
            throw ModelError("model_config: Sequential model has an InputLayer '" + name +
                             "' after other layers; " + kResave);
          add_layer(entry, scope, name, {}, json::object());
          model_inputs = {RawRef{scope, name, 0}};
        }
        current = RawRef{scope, name, 0};
        continue;
      }
      if (!current) {
        // Standalone Keras 2.3 / old files: no InputLayer, the first layer has the shape.
        json shape = is_model_class(cls) ? nested_input_shape(entry, 0) : input_shape_of(entry["config"]);
        if (shape.is_null() && cfg.is_object()) {
          if (cfg.contains("build_input_shape") && cfg["build_input_shape"].is_array())
            shape = cfg["build_input_shape"];
        }
        if (shape.is_null())
          throw ModelError("model_config: the Sequential model has no input shape (first layer '" +
                           name + "' has no 'batch_input_shape'); build the model with an "
                           "input shape, e.g. keras.Input(shape=...), and " + kResave);
        json dtype = entry["config"].is_object() && entry["config"].contains("dtype") &&
                             entry["config"]["dtype"].is_string()
                         ? entry["config"]["dtype"]
                         : json("float32");
        std::string in_name = name + "_input";
        json in_entry = {{"class_name", "InputLayer"},
                         {"config",
                          {{"batch_input_shape", shape}, {"dtype", dtype}, {"sparse", false},
                           {"ragged", false}, {"name", in_name}}}};
        add_layer(in_entry, scope, in_name, {}, json::object(), true);
        model_inputs = {RawRef{scope, in_name, 0}};
        current = RawRef{scope, in_name, 0};
      }
      if (is_model_class(cls)) {
        add_nested(entry, scope, name, {*current});
      } else {
        add_layer(entry, scope, name, {*current}, json::object());
      }
      current = RawRef{scope, name, 0};
    }
    return {*current};
  }

  // Tensor references anywhere in `j` (Keras 2 [name, node, tensor] lists and Keras 3
  // __keras_tensor__ objects), in document order.
  void scan_refs(const json& j, const std::string& scope, std::vector<RawRef>& out,
                 const std::string& user, int depth) {
    if (depth > kMaxJsonDepth)
      throw ModelError("model_config: the inbound nodes of " + user + " nest too deeply; " + kResave);
    if (is_k2_ref(j)) {
      if (j[0] != "_CONSTANT_VALUE")
        out.push_back({scope, j[0].get<std::string>(), checked_index(j[2], user)});
      return;
    }
    if (is_k3_tensor(j)) {
      const json& cfg = j.value("config", json::object());
      const json& kh = cfg.is_object() && cfg.contains("keras_history") ? cfg["keras_history"] : json();
      if (!is_k2_ref(kh))
        throw ModelError("model_config: a tensor passed to " + user +
                         " has no valid 'keras_history'; " + kResave);
      out.push_back({scope, kh[0].get<std::string>(), checked_index(kh[2], user)});
      return;
    }
    if (j.is_array() || j.is_object())
      for (const auto& v : j) scan_refs(v, scope, out, user, depth + 1);
  }

  // Keras 2 node: nested lists whose leaves are [name, node, tensor(, kwargs)].
  void collect_leaves(const json& j, std::vector<const json*>& leaves, const std::string& user,
                      int depth) {
    if (depth > kMaxJsonDepth)
      throw ModelError("model_config: the inbound nodes of " + user + " nest too deeply; " + kResave);
    if (!j.is_array())
      throw ModelError("model_config: the inbound nodes of " + user + " hold " + describe(j) +
                       " where a tensor reference is expected; " + kResave);
    if (!j.empty() && j[0].is_string()) {
      if (j.size() < 3)
        throw ModelError("model_config: " + user + " has a tensor reference with " +
                         std::to_string(j.size()) + " elements, expected [layer, node, tensor]; " +
                         kResave);
      if (j[0] != "_CONSTANT_VALUE") {
        checked_index(j[1], user);
        checked_index(j[2], user);
      }
      if (j.size() >= 4 && !j[3].is_object())
        throw ModelError("model_config: " + user + " has call arguments of type " +
                         describe(j[3]) + ", expected an object; " + kResave);
      leaves.push_back(&j);
      return;
    }
    for (const auto& v : j) collect_leaves(v, leaves, user, depth + 1);
  }

  void parse_node(const json& node, const std::string& scope, const std::string& user,
                  std::vector<RawRef>& inputs, json& kwargs) {
    kwargs = json::object();
    if (node.is_object()) {  // Keras 3: {"args": [...], "kwargs": {...}}
      if (!node.contains("args") || !node["args"].is_array())
        throw ModelError("model_config: the inbound node of " + user + " has no 'args' list; " + kResave);
      scan_refs(node["args"], scope, inputs, user, 0);
      if (node.contains("kwargs")) {
        if (!node["kwargs"].is_object())
          throw ModelError("model_config: the inbound node of " + user + " has 'kwargs' of type " +
                           describe(node["kwargs"]) + "; " + kResave);
        kwargs = node["kwargs"];
        scan_refs(kwargs, scope, inputs, user, 0);
      }
      return;
    }
    std::vector<const json*> leaves;
    collect_leaves(node, leaves, user, 0);
    for (const json* leaf : leaves)
      if ((*leaf)[0] != "_CONSTANT_VALUE")
        inputs.push_back({scope, (*leaf)[0].get<std::string>(), (*leaf)[2].get<int64_t>()});
    if (!leaves.empty()) {
      const json& first = *leaves[0];
      if (first.size() >= 4) kwargs = first[3];
      // Tensors hidden in the call kwargs (TFOpLambda: {"y": ["other", 0, 0]}).
      std::vector<RawRef> extra;
      scan_refs(kwargs, scope, extra, user, 0);
      inputs.insert(inputs.end(), extra.begin(), extra.end());
      // A constant first operand: ["_CONSTANT_VALUE", -1, value, kwargs].
      if (first[0] == "_CONSTANT_VALUE" && !kwargs.contains("x")) kwargs["x"] = first[2];
    }
  }

  std::vector<RawRef> parse_ref_list(const json& j, const std::string& scope,
                                     const std::string& what) {
    std::vector<RawRef> out;
    if (!j.is_array() && !j.is_object())
      throw ModelError("model_config: '" + what + "' is " + describe(j) + ", expected a list; " + kResave);
    scan_refs(j, scope, out, "'" + what + "'", 0);
    return out;
  }

  std::vector<RawRef> flatten_functional(const json& cfg, const std::string& scope,
                                         const std::vector<RawRef>* outer) {
    std::string mname = scope.empty() ? "the model" : "model '" + scope + "'";
    if (!cfg.is_object())
      throw ModelError("model_config: the config of " + mname + " is " + describe(cfg) +
                       ", expected an object; " + kResave);
    for (const char* k : {"layers", "input_layers", "output_layers"})
      if (!cfg.contains(k))
        throw ModelError("model_config: " + mname + " has no '" + k + "'; " + kResave);
    if (!cfg["layers"].is_array() || cfg["layers"].empty())
      throw ModelError("model_config: 'layers' of " + mname + " is " + describe(cfg["layers"]) +
                       ", expected a non-empty list; " + kResave);
    auto ins = parse_ref_list(cfg["input_layers"], scope, "input_layers");
    auto outs = parse_ref_list(cfg["output_layers"], scope, "output_layers");
    if (outs.empty())
      throw ModelError("model_config: " + mname + " has no outputs; " + kResave);
    std::set<std::string> input_names;
    if (outer) {
      if (outer->size() != ins.size())
        throw ModelError("model_config: " + mname + " is called with " +
                         std::to_string(outer->size()) + " inputs but has " +
                         std::to_string(ins.size()) + "; " + kResave);
      for (size_t k = 0; k < ins.size(); ++k) {
        Alias a;
        a.binding = {(*outer)[k]};
        bind(scope, ins[k].name, std::move(a));
        input_names.insert(ins[k].name);
      }
    } else {
      model_inputs = ins;
    }
    const json& list = cfg["layers"];
    for (size_t i = 0; i < list.size(); ++i) {
      const json& entry = list[i];
      check_entry(entry, scope, i);
      std::string cls = entry["class_name"].get<std::string>();
      std::string name;
      if (entry.contains("name")) {
        if (!entry["name"].is_string() || entry["name"].get<std::string>().empty())
          throw ModelError("model_config: layer #" + std::to_string(i) + " (" + cls +
                           "): 'name' is " + describe(entry["name"]) +
                           ", expected a non-empty string; " + kResave);
        name = entry["name"].get<std::string>();
      } else {
        name = config_name(entry, scope, i);
      }
      std::string user = where(scope, name) + " (" + cls + ")";
      if (cls == "InputLayer") {
        if (outer) {
          if (!input_names.count(name))
            throw ModelError("model_config: " + user + " is not one of the inputs of " + mname +
                             "; " + kResave);
        } else {
          add_layer(entry, scope, name, {}, json::object());
        }
        continue;
      }
      if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array())
        throw ModelError("model_config: " + user + " has no 'inbound_nodes' list; " + kResave);
      const json& nodes = entry["inbound_nodes"];
      if (nodes.empty()) {
        // Never called (e.g. a custom loss layer created but not used in the graph). Keras
        // loads such a model, so BitLens keeps the layer, marked, and ignores it; a layer that
        // does use its (non-existent) output is refused after resolution below. A nested
        // model that was never called has no tensors to flatten its layers onto.
        if (is_model_class(cls))
          throw ModelError("model_config: " + user + " is a nested model that is not connected "
                           "to anything (empty 'inbound_nodes'); remove it and " + kResave);
        add_layer(entry, scope, name, {}, json::object());
        layers.back().layer.unconnected = true;
        continue;
      }
      if (nodes.size() > 1)
        throw ModelError("model_config: " + user + " is called " + std::to_string(nodes.size()) +
                         " times (a shared layer); BitLens needs one layer per call — give each "
                         "call its own layer and " + kResave);
      std::vector<RawRef> inputs;
      json kwargs;
      parse_node(nodes[0], scope, user, inputs, kwargs);
      if (is_model_class(cls)) {
        add_nested(entry, scope, name, inputs);
      } else {
        if (inputs.empty())
          throw ModelError("model_config: " + user + " has no input tensor; " + kResave);
        add_layer(entry, scope, name, std::move(inputs), std::move(kwargs));
      }
    }
    return outs;
  }

  void reserve_top_level_names(const json& cfg) {
    const json* list = cfg.is_array() ? &cfg
                       : (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array())
                           ? &cfg["layers"]
                           : nullptr;
    if (!list) return;
    for (const auto& e : *list) {
      if (!e.is_object()) continue;
      if (e.contains("name") && e["name"].is_string()) reserved_.insert(e["name"].get<std::string>());
      if (e.contains("config") && e["config"].is_object() && e["config"].contains("name") &&
          e["config"]["name"].is_string())
        reserved_.insert(e["config"]["name"].get<std::string>());
    }
  }

  const LoadLimits& limits_;
  std::set<std::string> reserved_;
  std::set<std::string> used_flat_;
  int models_ = 0;
  int layer_count_ = 0;
};

// Maps a nested model's weight (e.g. "conv1d/kernel:0", "outer/conv1d/kernel" or, with '/'
// inside layer names, "layer1/conv/bn/beta:0") to the sub-layer that owns it: the layer of the
// nested model whose name occupies whole path components of the weight name and is followed by
// at least the variable's own name. Layer names may contain '/' themselves ("layer1/conv" next
// to "layer1/conv/bn"), so splitting on the first '/' is wrong; the longest matching name wins
// (on equal length, the earliest position, then file order).
FlatLayer* find_owner(std::vector<FlatLayer>& layers, const std::string& scope_path,
                      const std::string& weight_name, std::string* rest = nullptr) {
  std::string n = weight_name;
  if (n.size() > 2 && n.ends_with(":0")) n.resize(n.size() - 2);
  FlatLayer* best = nullptr;
  size_t best_len = 0, best_pos = 0, best_end = 0;
  for (auto& f : layers) {
    if (f.layer.parent != scope_path && !f.layer.parent.starts_with(scope_path + "/")) continue;
    const std::string& name = f.original_name;
    if (name.empty() || name.size() < best_len) continue;
    for (size_t pos = n.find(name); pos != std::string::npos; pos = n.find(name, pos + 1)) {
      const size_t end = pos + name.size();
      const bool starts = pos == 0 || n[pos - 1] == '/';
      const bool owns = end + 1 < n.size() && n[end] == '/';
      if (!starts || !owns) continue;
      if (!best || name.size() > best_len || (name.size() == best_len && pos < best_pos)) {
        best = &f;
        best_len = name.size();
        best_pos = pos;
        best_end = end + 1;
      }
      break;  // the earliest position of this name is the one that counts for it
    }
  }
  if (best && rest) *rest = n.substr(best_end);
  return best;
}

void attach_weight(Layer& layer, const std::string& original_name, const NamedArray& w) {
  const std::string s = weight_key(layer.class_name, original_name, w.name);
  if (layer.weights.count(s)) {
    // A class BitLens models has a fixed set of variables, so a repeated one means the
    // weight list is inconsistent. (Unknown classes are keyed by their whole sub-path, so
    // only a name listed twice gets here.)
    throw ModelError("layer '" + layer.name + "' (" + layer.class_name + ") stores two weights "
                     "named '" + s + "' ('" + w.name + "' repeats one); the weight list does "
                     "not match the layer — " + kResave);
  }
  layer.weights.emplace(s, w.array);
  layer.weight_names.push_back(w.name);
}

}  // namespace

std::string weight_key(const std::string& class_name, const std::string& original_name,
                       const std::string& full_name) {
  if (!variable_order(class_name, json::object())) {
    // A class BitLens does not model (a custom subclassed layer) may hold any number of
    // variables, many with the same short name under different sub-layers
    // ("mobile_net_v3_small_1/conv1/kernel:0", ".../bn1/gamma:0", "conv2d_18/kernel:0").
    // Key them by their path below the layer (the whole stored name when it does not start
    // with the layer's name), so none is lost and the writer can store them back.
    std::string n = full_name;
    const auto slash = n.rfind('/'), colon = n.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos ? colon > 0 : colon > slash + 1))
      n.resize(colon);  // ":0", as short_weight_name strips it
    const std::string prefix = original_name + "/";
    for (size_t pos = n.find(prefix); !original_name.empty() && pos != std::string::npos;
         pos = n.find(prefix, pos + 1))
      if ((pos == 0 || n[pos - 1] == '/') && pos + prefix.size() < n.size())
        return n.substr(pos + prefix.size());
    return n;
  }
  std::string s = short_weight_name(full_name);
  // Keras 3 names the depthwise kernel "kernel".
  if ((class_name == "DepthwiseConv2D" || class_name == "QuantDepthwiseConv2D" || class_name == "QDepthwiseConv2D") &&
      s == "kernel")
    s = "depthwise_kernel";
  return s;
}

std::string short_weight_name(const std::string& full_name) {
  std::string s = full_name;
  auto slash = s.rfind('/');
  if (slash != std::string::npos) s = s.substr(slash + 1);
  auto colon = s.rfind(':');
  if (colon != std::string::npos && colon > 0) s = s.substr(0, colon);
  return s;
}

bool is_model_class(const std::string& c) {
  return c == "Sequential" || c == "Functional" || c == "Model";
}

std::string snake_case(const std::string& class_name) {
  static const std::regex non_word(R"(\W+)");
  static const std::regex upper_word("(.)([A-Z][a-z]+)");
  static const std::regex lower_upper("([a-z])([A-Z])");
  std::string s = std::regex_replace(class_name, non_word, "");
  s = std::regex_replace(s, upper_word, "$1_$2");
  s = std::regex_replace(s, lower_upper, "$1_$2");
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_non_trainable(const std::string& s) { return s == "moving_mean" || s == "moving_variance"; }

Model assemble_model(const json& model_config, WeightSource& source, const LoadLimits& limits) {
  if (!model_config.is_object())
    throw ModelError("model_config is " + describe(model_config) + ", not a Keras model; " + kResave);
  if (!model_config.contains("class_name") || !model_config["class_name"].is_string())
    throw ModelError("model_config has no 'class_name'; " + std::string(kResave));
  std::string cls = model_config["class_name"].get<std::string>();
  if (!is_model_class(cls))
    throw ModelError("model_config describes a '" + cls + "', not a Sequential or Functional "
                     "model; save the whole model with model.save(\"m.h5\")");
  if (!model_config.contains("config"))
    throw ModelError("model_config has no 'config'; " + std::string(kResave));

  Flattener fl(limits);
  auto outputs = fl.flatten(model_config, "", nullptr);

  Model m;
  m.class_name = cls;
  const json& cfg = model_config["config"];
  m.name = cfg.is_object() && cfg.contains("name") && cfg["name"].is_string()
               ? cfg["name"].get<std::string>()
               : (cls == "Sequential" ? "sequential" : "model");
  m.raw_config = model_config;

  // Weights, per top-level entry.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < fl.layers.size(); ++i) index[fl.layers[i].layer.name] = i;
  int64_t total = 0;
  for (const auto& t : fl.top) {
    auto ws = source.weights(t.name, t.entry);
    if (!ws) continue;
    for (const auto& w : *ws) {
      total += w.array.size();
      if (total > limits.max_total_elements)
        throw ModelError("the model's weights exceed " + std::to_string(limits.max_total_elements) +
                         " values in total, more than BitLens accepts");
      if (!t.nested) {
        auto it = std::find_if(fl.layers.begin(), fl.layers.end(), [&](const FlatLayer& f) {
          return f.layer.parent.empty() && f.original_name == t.name;
        });
        attach_weight(it->layer, it->original_name, w);
        continue;
      }
      FlatLayer* owner = find_owner(fl.layers, t.scope_path, w.name);
      if (!owner)
        throw ModelError("nested model '" + t.name + "': weight '" + w.name +
                         "' names none of its layers (no layer name is a path prefix of it); "
                         "the weight list does not match the model's layers — " + kResave);
      attach_weight(owner->layer, owner->original_name, w);
    }
  }

  // Validate configs and weights.
  for (auto& f : fl.layers) validate_layer(f.layer, limits);

  // Resolve inputs.
  for (auto& f : fl.layers) {
    std::string user = "layer '" + f.layer.name + "' (" + f.layer.class_name + ")";
    for (const auto& r : f.raw_inputs) f.layer.inputs.push_back(fl.resolve(r, user));
  }
  for (const auto& r : fl.model_inputs) m.inputs.push_back(fl.resolve(r, "the model input"));
  for (const auto& r : outputs) m.outputs.push_back(fl.resolve(r, "the model output"));
  // An unconnected layer has no output tensor: nothing may read one.
  {
    std::set<std::string> unconnected;
    for (const auto& f : fl.layers)
      if (f.layer.unconnected) unconnected.insert(f.layer.name);
    auto refuse = [&](const std::string& user, const std::string& from) {
      throw ModelError("model_config: " + user + " takes its input from layer '" + from +
                       "', which is not connected to anything (empty 'inbound_nodes'), so it "
                       "has no output; " + kResave);
    };
    for (const auto& f : fl.layers)
      for (const auto& t : f.layer.inputs)
        if (unconnected.count(t.layer))
          refuse("layer '" + f.layer.name + "' (" + f.layer.class_name + ")", t.layer);
    for (const auto& t : m.outputs)
      if (unconnected.count(t.layer)) refuse("the model output", t.layer);
  }
  for (const auto& t : m.inputs) {
    auto it = index.find(t.layer);
    if (it == index.end() || fl.layers[it->second].layer.class_name != "InputLayer")
      throw ModelError("model_config: model input '" + t.layer + "' is not an InputLayer; " + kResave);
  }

  // Topological order, stable with respect to file order (Kahn with a min-heap on index).
  size_t n = fl.layers.size();
  std::vector<std::vector<size_t>> users(n);
  std::vector<size_t> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    std::set<size_t> deps;
    for (const auto& t : fl.layers[i].layer.inputs) {
      auto it = index.find(t.layer);
      if (it == index.end())
        throw ModelError("model_config: layer '" + fl.layers[i].layer.name + "' takes its input from '" +
                         t.layer + "', which is not a layer of the model; " + kResave);
      if (it->second == i)
        throw ModelError("model_config: layer '" + fl.layers[i].layer.name +
                         "' takes its own output as input; " + kResave);
      deps.insert(it->second);
    }
    pending[i] = deps.size();
    for (size_t d : deps) users[d].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.insert(i);
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    m.layers.push_back(std::move(fl.layers[i].layer));
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.insert(u);
  }
  if (m.layers.size() != n)
    throw ModelError("model_config: the layers' inputs form a cycle; " + std::string(kResave));
  for (const auto& t : m.outputs)
    if (!m.find(t.layer))
      throw ModelError("model_config: model output '" + t.layer + "' is not a layer; " + kResave);
  return m;
}

}  // namespace bitlens::frontend
