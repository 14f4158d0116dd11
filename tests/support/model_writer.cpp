// Test support: write_model_h5 / write_model_keras, the inverse of the loader, in the layouts tf.keras 2.x,
// h5py 2.x, Keras 3 legacy .h5 and Keras 3 .keras use. Output is deterministic (no object
// timestamps, fixed zip times) so fixtures and pad_values variants are byte-stable.
#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "support/model_writer.hpp"

#include "bitlens/model.hpp"
#include "frontend/config_patch.hpp"
#include "frontend/assemble.hpp"
#include "io/h5.hpp"
#include "io/zip.hpp"

namespace bitlens {
namespace {

using frontend::entry_name;
using frontend::layer_key;
using frontend::layer_list;
using frontend::original_name;

json k2_leaf(const TensorRef& t, const json& kwargs) {
  return json::array({t.layer, t.node_index, t.tensor_index, kwargs});
}

int count_kwarg_refs(const json& j) {
  if (j.is_array() && j.size() >= 3 && j[0].is_string() && j[1].is_number_integer() &&
      j[2].is_number_integer())
    return j[0] == "_CONSTANT_VALUE" ? 0 : 1;
  int n = 0;
  if (j.is_array() || j.is_object())
    for (const auto& v : j) n += count_kwarg_refs(v);
  return n;
}

json synthesize_functional(const Model& model) {
  json layers = json::array();
  json inputs = json::array(), outputs = json::array();
  for (const auto& l : model.layers) {
    if (!l.parent.empty())
      throw ModelError("cannot write model: layers of nested model '" + l.parent +
                       "' were added, removed or renamed; only configs of nested layers can change");
    json cfg = l.config;
    cfg["name"] = l.name;
    json entry = {{"class_name", l.class_name}, {"config", cfg}, {"name", l.name}};
    if (l.class_name == "InputLayer") {
      entry["inbound_nodes"] = json::array();
    } else {
      size_t k = static_cast<size_t>(count_kwarg_refs(l.call_kwargs));
      size_t positional = l.inputs.size() > k ? l.inputs.size() - k : 0;
      json kwargs = l.call_kwargs.is_object() ? l.call_kwargs : json::object();
      json node = json::array();
      for (size_t i = 0; i < positional; ++i) node.push_back(k2_leaf(l.inputs[i], kwargs));
      if (l.class_name == "TFOpLambda" && node.size() == 1)
        entry["inbound_nodes"] = json::array({node[0]});
      else
        entry["inbound_nodes"] = json::array({node});
    }
    layers.push_back(entry);
  }
  for (const auto& t : model.inputs) inputs.push_back(json::array({t.layer, t.node_index, t.tensor_index}));
  for (const auto& t : model.outputs) outputs.push_back(json::array({t.layer, t.node_index, t.tensor_index}));
  std::string cls = model.class_name == "Model" ? "Model" : "Functional";
  return {{"class_name", cls},
          {"config", {{"name", model.name}, {"layers", layers}, {"input_layers", inputs},
                      {"output_layers", outputs}}}};
}

// ---- Keras 3 form ----

json k3_dtype(const json& d) {
  if (!d.is_string()) return d;
  return {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", d}}},
          {"registered_name", nullptr}};
}

json k3_tensor(const json& ref) {
  return {{"class_name", "__keras_tensor__"},
          {"config",
           {{"shape", nullptr}, {"dtype", "float32"},
            {"keras_history", json::array({ref[0], ref[1], ref[2]})}}}};
}

json k3_kwargs(const json& j) {
  if (j.is_array() && j.size() >= 3 && j[0].is_string() && j[1].is_number_integer() &&
      j[2].is_number_integer() && j[0] != "_CONSTANT_VALUE")
    return k3_tensor(j);
  if (j.is_array() || j.is_object()) {
    json out = j;
    for (auto it = out.begin(); it != out.end(); ++it) *it = k3_kwargs(*it);
    return out;
  }
  return j;
}

void k2_leaves(const json& j, std::vector<json>& out) {
  if (!j.is_array()) return;
  if (!j.empty() && j[0].is_string()) {
    out.push_back(j);
    return;
  }
  for (const auto& v : j) k2_leaves(v, out);
}

json to_keras3_model(const json& model, int depth);

json to_keras3_entry(const json& entry, bool functional, int depth) {
  std::string cls = entry["class_name"].get<std::string>();
  if (frontend::is_model_class(cls)) {
    json out = to_keras3_model(entry, depth + 1);
    if (entry.contains("name")) out["name"] = entry["name"];
    if (functional && entry.contains("inbound_nodes")) {
      json tmp = entry;
      tmp["class_name"] = "Layer";
      tmp["config"] = json::object();
      out["inbound_nodes"] = to_keras3_entry(tmp, true, depth)["inbound_nodes"];
    }
    return out;
  }
  json out = entry;
  out["module"] = "keras.layers";
  out["registered_name"] = nullptr;
  json& cfg = out["config"];
  if (cfg.is_object()) {
    if (cfg.contains("dtype")) cfg["dtype"] = k3_dtype(cfg["dtype"]);
    if (cls == "InputLayer" && cfg.contains("batch_input_shape")) {
      cfg["batch_shape"] = cfg["batch_input_shape"];
      cfg.erase("batch_input_shape");
      cfg.erase("ragged");
    }
  }
  if (functional && entry.contains("inbound_nodes") && entry["inbound_nodes"].is_array()) {
    json nodes = json::array();
    for (const auto& node : entry["inbound_nodes"]) {
      std::vector<json> leaves;
      k2_leaves(node, leaves);
      json args = json::array();
      json kwargs = json::object();
      json tensors = json::array();
      for (const auto& leaf : leaves) {
        if (leaf[0] == "_CONSTANT_VALUE") tensors.push_back(leaf[2]);
        else tensors.push_back(k3_tensor(leaf));
      }
      if (tensors.size() == 1) args.push_back(tensors[0]);
      else if (!tensors.empty()) args.push_back(tensors);
      if (!leaves.empty() && leaves[0].size() >= 4) kwargs = k3_kwargs(leaves[0][3]);
      nodes.push_back({{"args", args}, {"kwargs", kwargs}});
    }
    out["inbound_nodes"] = nodes;
  }
  return out;
}

json to_keras3_model(const json& model, int depth) {
  if (depth > 32) throw ModelError("cannot write model: models nest too deeply");
  std::string cls = model["class_name"].get<std::string>();
  bool functional = cls != "Sequential";
  json cfg = model["config"];
  if (cfg.is_array()) cfg = {{"name", "sequential"}, {"layers", cfg}};
  json layers = json::array();
  const json& list = cfg["layers"];
  if (!functional && !list.empty() && list[0].value("class_name", "") != "InputLayer") {
    // Keras 3 always stores the Sequential input.
    const json& first = list[0]["config"];
    if (first.is_object() && first.contains("batch_input_shape")) {
      json in = {{"class_name", "InputLayer"},
                 {"config",
                  {{"batch_input_shape", first["batch_input_shape"]},
                   {"dtype", first.value("dtype", json("float32"))}, {"sparse", false},
                   {"name", first.value("name", std::string("layer")) + "_input"}}}};
      layers.push_back(to_keras3_entry(in, false, depth));
    }
  }
  for (const auto& e : list) {
    json k3 = to_keras3_entry(e, functional, depth);
    if (!functional && k3["config"].is_object()) k3["config"].erase("batch_input_shape");
    layers.push_back(k3);
  }
  cfg["layers"] = layers;
  cfg["trainable"] = true;
  cfg["dtype"] = k3_dtype("float32");
  return {{"module", functional ? "keras.src.models.functional" : "keras"},
          {"class_name", functional ? "Functional" : "Sequential"},
          {"config", cfg},
          {"registered_name", functional ? json("Functional") : json(nullptr)}};
}

// ---- weights ----

struct TopEntry {
  std::string name;
  std::string class_name;
  bool nested = false;
  json entry;
};

std::vector<TopEntry> top_entries(const json& config) {
  std::vector<TopEntry> out;
  json copy = config;
  json* list = layer_list(copy);
  if (!list) throw ModelError("cannot write model: its model_config has no layer list");
  bool sequential = config["class_name"] == "Sequential";
  for (const auto& e : *list) {
    std::string cls = e["class_name"].get<std::string>();
    if (sequential && cls == "InputLayer") continue;  // Sequential.layers has no InputLayer
    out.push_back({entry_name(e), cls, frontend::is_model_class(cls), e});
  }
  return out;
}

// The layer's weights as (short name, array) in Keras' order.
std::vector<std::pair<std::string, const Array*>> ordered_weights(const Layer& l) {
  std::vector<std::pair<std::string, const Array*>> out;
  std::set<std::string> covered;
  bool names_ok = l.weight_names.size() == l.weights.size();
  // The loader keyed each stored name with weight_key; the same key finds it again.
  for (const auto& n : l.weight_names) {
    std::string s = frontend::weight_key(l.class_name, original_name(l), n);
    if (!l.weights.count(s) || covered.count(s)) names_ok = false;
    covered.insert(s);
  }
  if (names_ok) {
    for (const auto& n : l.weight_names) {
      const std::string s = frontend::weight_key(l.class_name, original_name(l), n);
      out.emplace_back(s, &l.weights.at(s));
    }
    return out;
  }
  auto order = frontend::variable_order(l.class_name, l.config).value_or(std::vector<std::string>{});
  std::set<std::string> done;
  for (const auto& s : order)
    if (l.weights.count(s)) {
      out.emplace_back(s, &l.weights.at(s));
      done.insert(s);
    }
  for (const auto& [s, a] : l.weights)
    if (!done.count(s)) out.emplace_back(s, &a);
  std::stable_partition(out.begin(), out.end(), [](const auto& p) {
    return !frontend::is_non_trainable(frontend::short_weight_name(p.first));
  });
  return out;
}

std::string stored_name(const Layer& l, size_t i, const std::string& short_name) {
  if (l.weight_names.size() == l.weights.size() && i < l.weight_names.size())
    return l.weight_names[i];
  return original_name(l) + "/" + short_name + ":0";
}

std::string keras3_name(const std::string& prefix, const Layer& l, const std::string& short_name) {
  return prefix + "/" + original_name(l) + "/" + short_name;
}

void write_name_list(hid_t obj, const std::string& base, const std::vector<std::string>& names,
                     io::StringStyle style, size_t over) {
  size_t maxlen = 1;
  for (const auto& n : names) maxlen = std::max(maxlen, n.size());
  size_t nbytes = maxlen * names.size();
  if (nbytes <= over || names.size() < 2 || over == 0) {
    io::write_strings_attr(obj, base, names, style);
    return;
  }
  // Keras: np.array_split into ever more chunks until each fits.
  size_t chunks = (nbytes + over - 1) / over;
  for (;; ++chunks) {
    size_t biggest = (names.size() + chunks - 1) / chunks;
    if (biggest * maxlen <= over || chunks >= names.size()) break;
  }
  size_t start = 0;
  for (size_t c = 0; c < chunks; ++c) {
    size_t len = names.size() / chunks + (c < names.size() % chunks ? 1 : 0);
    std::vector<std::string> part(names.begin() + static_cast<std::ptrdiff_t>(start),
                                  names.begin() + static_cast<std::ptrdiff_t>(start + len));
    io::write_strings_attr(obj, base + std::to_string(c), part, style);
    start += len;
  }
}

}  // namespace

json model_config_json(const Model& model, bool keras3) {
  json config;
  bool patched = false;
  if (model.raw_config.is_object() && model.raw_config.contains("class_name") &&
      model.raw_config["class_name"].is_string() && model.raw_config.contains("config")) {
    config = model.raw_config;
    patched = frontend::patch_layer_configs(config, model);
    // A top-level Sequential's synthetic input carries the (possibly changed) shape.
  }
  if (!patched) config = synthesize_functional(model);
  if (keras3) config = to_keras3_model(config, 0);
  return config;
}

void write_model_h5(const Model& model, const std::filesystem::path& path,
                    const H5WriteOptions& options) {
  auto lock = io::h5_lock();
  json config = model_config_json(model, options.keras3_legacy);
  io::StringStyle style{options.fixed_length_strings, options.utf8_strings};
  std::string backend = model.backend.empty() ? "tensorflow" : model.backend;

  auto entries = top_entries(config);
  // Flat layers per top-level entry.
  std::map<std::string, const Layer*> top_layer;
  for (const auto& l : model.layers)
    if (l.parent.empty()) top_layer[original_name(l)] = &l;

  io::Handle f = io::create_file(path);
  io::Handle root = io::open_group(f.get(), "/");
  io::Handle wroot;
  if (!options.weights_only) {
    io::write_string_attr(root.get(), "model_config", config.dump(), style);
    io::write_string_attr(root.get(), "keras_version", options.keras_version, style);
    io::write_string_attr(root.get(), "backend", backend, style);
    wroot = io::create_group(f.get(), "model_weights");
  } else {
    wroot = io::open_group(f.get(), "/");
  }
  std::vector<std::string> names;
  for (const auto& e : entries) names.push_back(e.name);
  write_name_list(wroot.get(), "layer_names", names, style, options.chunk_name_lists_over);
  io::write_string_attr(wroot.get(), "backend", backend, style);
  io::write_string_attr(wroot.get(), "keras_version", options.keras_version, style);

  for (const auto& e : entries) {
    io::Handle g = io::create_group(wroot.get(), e.name);
    std::vector<std::string> wnames;
    std::vector<const Array*> arrays;
    if (!e.nested) {
      auto it = top_layer.find(e.name);
      if (it != top_layer.end()) {
        auto ws = ordered_weights(*it->second);
        for (size_t i = 0; i < ws.size(); ++i) {
          wnames.push_back(options.keras3_legacy ? keras3_name(model.name, *it->second, ws[i].first)
                                                 : stored_name(*it->second, i, ws[i].first));
          arrays.push_back(ws[i].second);
        }
      }
    } else {
      std::vector<std::pair<std::string, const Array*>> trainable, frozen;
      for (const auto& l : model.layers) {
        if (l.parent != e.name && !l.parent.starts_with(e.name + "/")) continue;
        auto ws = ordered_weights(l);
        for (size_t i = 0; i < ws.size(); ++i) {
          std::string n = options.keras3_legacy ? keras3_name(l.parent, l, ws[i].first)
                                                : stored_name(l, i, ws[i].first);
          // A custom layer's key is a sub-path ("bn1/moving_mean"): its last component decides.
          (frontend::is_non_trainable(frontend::short_weight_name(ws[i].first)) ? frozen : trainable)
              .emplace_back(n, ws[i].second);
        }
      }
      trainable.insert(trainable.end(), frozen.begin(), frozen.end());
      for (auto& [n, a] : trainable) {
        wnames.push_back(n);
        arrays.push_back(a);
      }
    }
    if (wnames.empty()) {
      io::write_empty_float64_attr(g.get(), "weight_names");
    } else {
      write_name_list(g.get(), "weight_names", wnames, style, options.chunk_name_lists_over);
    }
    for (size_t i = 0; i < wnames.size(); ++i) io::write_float_dataset(g.get(), wnames[i], *arrays[i]);
  }
  if (options.top_level_model_weights && !options.weights_only) {
    io::Handle t = io::create_group(wroot.get(), "top_level_model_weights");
    io::write_empty_float64_attr(t.get(), "weight_names");
  }
}

namespace {

void keras_vars(hid_t file, const json& model, const std::string& prefix, const std::string& scope,
                const std::map<std::string, const Layer*>& by_key) {
  std::map<std::string, int> used;
  json copy = model;
  json* list = layer_list(copy);
  if (!list) return;
  for (const auto& e : *list) {
    std::string cls = e["class_name"].get<std::string>();
    std::string snake = frontend::snake_case(cls);
    std::string dir = snake;
    auto u = used.find(snake);
    if (u == used.end()) used[snake] = 0;
    else dir = snake + "_" + std::to_string(++u->second);
    std::string path = prefix + "/" + dir;
    std::string name = entry_name(e);
    if (frontend::is_model_class(cls)) {
      keras_vars(file, e, path + "/layers", scope.empty() ? name : scope + "/" + name, by_key);
      continue;
    }
    io::Handle vars = io::create_group(file, path + "/vars");
    auto it = by_key.find(layer_key(scope, name));
    if (it == by_key.end()) continue;
    auto ws = ordered_weights(*it->second);
    for (size_t i = 0; i < ws.size(); ++i) io::write_float_dataset(vars.get(), std::to_string(i), *ws[i].second);
  }
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void write_model_keras(const Model& model, const std::filesystem::path& path,
                       const std::string& keras_version) {
  json config = model_config_json(model, true);
  std::map<std::string, const Layer*> by_key;
  for (const auto& l : model.layers) by_key[layer_key(l.parent, original_name(l))] = &l;
  std::filesystem::path tmp = path;
  tmp += ".weights.tmp";
  {
    auto lock = io::h5_lock();
    io::Handle f = io::create_file(tmp);
    keras_vars(f.get(), config, "layers", "", by_key);
  }
  std::string weights = read_all(tmp);
  std::filesystem::remove(tmp);
  json meta = {{"keras_version", keras_version}, {"date_saved", "1980-01-01@00:00:00"}};
  io::write_zip(path, {{"metadata.json", meta.dump()},
                       {"config.json", config.dump()},
                       {"model.weights.h5", weights}});
}

}  // namespace bitlens
