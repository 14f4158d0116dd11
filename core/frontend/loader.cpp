// load_model: recognises the container (legacy .h5, Keras 3 .keras zip, weights-only files,
// foreign files), reads model_config and the weights, and hands them to the assembler.
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <fstream>
#include <map>
#include <set>

#include "frontend/messages.hpp"
#include "bitlens/model.hpp"
#include "frontend/assemble.hpp"
#include "frontend/snapshot.hpp"
#include "io/h5.hpp"
#include "io/sandbox.hpp"
#include "io/zip.hpp"

namespace bitlens {
namespace {

using frontend::NamedArray;

const char* const kWeightsOnly =
    "the file holds weights only (model.save_weights); save the full model with "
    "model.save(\"m.h5\") and open that file";

// Deepest [ ] / { } nesting outside strings. Copying or printing a json value recurses, so
// absurdly deep documents are refused before they are parsed.
int json_depth(const std::string& text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

json parse_json(const std::string& text, const std::string& what) {
  constexpr int kMaxDepth = 256;
  if (json_depth(text) > kMaxDepth)
    throw ModelError(what + " nests deeper than " + std::to_string(kMaxDepth) +
                     " levels, which no Keras model does; the file is damaged — " + frontend::kResave);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw ModelError(what + " is not valid JSON (at byte " + std::to_string(e.byte) + "); " +
                     frontend::kResave);
  }
}

// ---- HDF5 snapshot: everything the loader needs from an HDF5 file, extracted in a child
// process (io::run_isolated) so that libhdf5 crashing on a damaged file cannot take the
// program down. Per-layer problems are recorded and reported when the layer is assembled.

struct WeightGroup {
  std::string error;  // non-empty: reading this group failed with this message
  std::vector<NamedArray> weights;
};

struct Snapshot {
  enum Kind : uint8_t { model = 0, weights_only = 1, weights_without_config = 2, not_keras = 3 };
  uint8_t kind = model;
  std::string model_config;
  std::string keras_version;
  std::string backend;
  bool has_model_weights = false;
  std::map<std::string, WeightGroup> groups;  // legacy: layer name; .keras: "layers/..." path
};

class Writer {
 public:
  std::string out;
  void u64(uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    out += s;
  }
  void array(const Array& a) {
    u64(a.shape.size());
    for (auto d : a.shape) u64(static_cast<uint64_t>(d));
    u64(a.data.size());
    out.append(reinterpret_cast<const char*>(a.data.data()), a.data.size() * sizeof(float));
  }
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  uint64_t u64() {
    need(8);
    uint64_t v;
    std::memcpy(&v, in_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Array array() {
    Array a;
    uint64_t rank = u64();
    if (rank > 64) bad();
    for (uint64_t i = 0; i < rank; ++i) a.shape.push_back(static_cast<int64_t>(u64()));
    uint64_t n = u64();
    if (n > (in_.size() - pos_) / sizeof(float)) bad();
    a.data.resize(n);
    // An empty vector's data() may be null, and memcpy(nullptr, p, 0) is undefined.
    if (n > 0) std::memcpy(a.data.data(), in_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return a;
  }

 private:
  void need(uint64_t n) {
    if (n > in_.size() - pos_) bad();
  }
  [[noreturn]] static void bad() { throw ModelError("internal error: damaged HDF5 snapshot"); }
  const std::string& in_;
  size_t pos_ = 0;
};

std::string serialize(const Snapshot& s) {
  Writer w;
  w.u64(s.kind);
  w.str(s.model_config);
  w.str(s.keras_version);
  w.str(s.backend);
  w.u64(s.has_model_weights);
  w.u64(s.groups.size());
  for (const auto& [name, g] : s.groups) {
    w.str(name);
    w.str(g.error);
    w.u64(g.weights.size());
    for (const auto& a : g.weights) {
      w.str(a.name);
      w.array(a.array);
    }
  }
  return std::move(w.out);
}

Snapshot deserialize(const std::string& bytes) {
  Reader r(bytes);
  Snapshot s;
  s.kind = static_cast<uint8_t>(r.u64());
  s.model_config = r.str();
  s.keras_version = r.str();
  s.backend = r.str();
  s.has_model_weights = r.u64() != 0;
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = r.str();
    WeightGroup g;
    g.error = r.str();
    uint64_t k = r.u64();
    for (uint64_t j = 0; j < k; ++j) {
      NamedArray a;
      a.name = r.str();
      a.array = r.array();
      g.weights.push_back(std::move(a));
    }
    s.groups.emplace(std::move(name), std::move(g));
  }
  return s;
}

struct BudgetExceeded : ModelError {
  using ModelError::ModelError;
};

// Counts elements against the model-wide budget before a dataset is read.
class Budget {
 public:
  explicit Budget(const LoadLimits& l) : limits_(l) {}
  void take(hid_t loc, const std::string& name) {
    auto shape = io::dataset_shape(loc, name);
    int64_t count = 1;
    for (auto d : shape) {
      if (d != 0 && count > limits_.max_total_elements / d) count = limits_.max_total_elements + 1;
      else count *= d;
    }
    // A single oversized array gets read_float_dataset's more specific message.
    if (count > limits_.max_elements_per_array) return;
    total_ += count;
    if (total_ > limits_.max_total_elements)
      throw BudgetExceeded("dataset '" + name + "' brings the model's weights above " +
                           std::to_string(limits_.max_total_elements) +
                           " values in total, more than BitLens accepts");
  }

 private:
  const LoadLimits& limits_;
  int64_t total_ = 0;
};

WeightGroup read_legacy_group(hid_t parent, const std::string& layer, const LoadLimits& limits,
                              Budget& budget) {
  WeightGroup out;
  try {
    io::Handle g = io::open_group(parent, layer);
    bool found = false;
    auto names = io::read_name_list(g.get(), "weight_names", limits.max_json_bytes, &found);
    if (!found)
      throw ModelError("its weights group has no 'weight_names' attribute; the file is damaged — " +
                       std::string(frontend::kResave));
    for (const auto& n : names) {
      if (!io::has_link(g.get(), n))
        throw ModelError("weight '" + n + "' is listed in weight_names but its dataset is "
                         "missing; the file is damaged — " + frontend::kResave);
      budget.take(g.get(), n);
      out.weights.push_back({n, io::read_float_dataset(g.get(), n, limits.max_elements_per_array)});
    }
  } catch (const BudgetExceeded& e) {
    throw ModelError("layer '" + layer + "': " + e.what());
  } catch (const ModelError& e) {
    out.error = "layer '" + layer + "': " + e.what();
    out.weights.clear();
  }
  return out;
}

Snapshot snapshot_legacy(const std::filesystem::path& path, const LoadLimits& limits) {
  Snapshot s;
  io::Handle f = io::open_file(path);
  io::Handle root = io::open_group(f.get(), "/");
  if (!io::has_attr(root.get(), "model_config")) {
    bool names = false;
    try {
      io::read_name_list(root.get(), "layer_names", limits.max_json_bytes, &names);
    } catch (const ModelError&) {
      names = true;
    }
    if (names || io::is_group(root.get(), "layers") ||
        io::is_group(root.get(), "_layer_checkpoint_dependencies"))
      s.kind = Snapshot::weights_only;
    else if (io::is_group(root.get(), "model_weights"))
      s.kind = Snapshot::weights_without_config;
    else
      s.kind = Snapshot::not_keras;
    return s;
  }
  try {
    s.model_config = io::read_string_attr(root.get(), "model_config", limits.max_json_bytes);
  } catch (const ModelError& e) {
    throw ModelError(std::string("cannot read model_config: ") + e.what());
  }
  for (auto [name, dest] : {std::pair{"keras_version", &s.keras_version}, std::pair{"backend", &s.backend}}) {
    if (!io::has_attr(root.get(), name)) continue;
    try {
      *dest = io::read_string_attr(root.get(), name, 4096);
    } catch (const ModelError&) {
      // informational only
    }
  }
  if (!io::is_group(root.get(), "model_weights")) return s;
  s.has_model_weights = true;
  io::Handle w = io::open_group(root.get(), "model_weights");
  auto children = io::list_children(w.get());
  if (static_cast<int64_t>(children.size()) > int64_t{limits.max_layers} + 16)
    throw ModelError("the file stores weights for more than " + std::to_string(limits.max_layers) +
                     " layers, more than BitLens accepts; the file is damaged");
  Budget budget(limits);
  for (const auto& c : children) {
    if (c == "top_level_model_weights" || !io::is_group(w.get(), c)) continue;
    s.groups.emplace(c, read_legacy_group(w.get(), c, limits, budget));
  }
  // A layer named with '/' ("layer1/conv", as in YAMNet) is stored by h5py as nested groups
  // (model_weights/layer1/conv), so it is not a child of model_weights: find it through
  // layer_names, which lists every layer by its full name.
  std::vector<std::string> listed;
  try {
    bool found = false;
    listed = io::read_name_list(w.get(), "layer_names", limits.max_json_bytes, &found);
  } catch (const ModelError&) {
    listed.clear();  // the children above are all there is; a missing group is reported per layer
  }
  for (const auto& name : listed) {
    if (name.find('/') == std::string::npos || s.groups.count(name)) continue;
    if (static_cast<int64_t>(s.groups.size()) > int64_t{limits.max_layers} + 16)
      throw ModelError("the file stores weights for more than " + std::to_string(limits.max_layers) +
                       " layers, more than BitLens accepts; the file is damaged");
    if (io::is_group(w.get(), name)) s.groups.emplace(name, read_legacy_group(w.get(), name, limits, budget));
  }
  return s;
}

// .keras model.weights.h5: every layers/.../vars group, datasets "0", "1", ... in order.
void walk_keras_vars(hid_t file, const std::string& path, int depth, const LoadLimits& limits,
                     Budget& budget, Snapshot& s) {
  if (depth > 16) return;
  if (s.groups.size() > static_cast<size_t>(limits.max_layers))
    throw ModelError("model.weights.h5 holds more than " + std::to_string(limits.max_layers) +
                     " layers, more than BitLens accepts; the archive is damaged");
  io::Handle g = io::open_group(file, path);
  auto children = io::list_children(g.get());
  for (const auto& c : children) {
    std::string child = path + "/" + c;
    if (!io::is_group(file, child)) continue;
    if (c != "vars") {
      walk_keras_vars(file, child, depth + 1, limits, budget, s);
      continue;
    }
    WeightGroup wg;
    try {
      io::Handle v = io::open_group(file, child);
      auto vars = io::list_children(v.get());
      for (size_t i = 0; i < vars.size(); ++i) {
        std::string idx = std::to_string(i);
        if (!io::has_link(v.get(), idx))
          throw ModelError("variable '" + child + "/" + idx + "' is missing from model.weights.h5; the archive is damaged — " +
                           frontend::kResaveKeras);
        budget.take(v.get(), idx);
        wg.weights.push_back({idx, io::read_float_dataset(v.get(), idx, limits.max_elements_per_array)});
      }
    } catch (const BudgetExceeded&) {
      throw;
    } catch (const ModelError& e) {
      wg.error = e.what();
      wg.weights.clear();
    }
    s.groups.emplace(path, std::move(wg));
  }
}

Snapshot snapshot_keras_weights(const std::string& image, const LoadLimits& limits) {
  Snapshot s;
  io::Handle f = io::open_image(image, "model.weights.h5");
  s.has_model_weights = true;
  Budget budget(limits);
  if (io::is_group(f.get(), "layers")) walk_keras_vars(f.get(), "layers", 0, limits, budget, s);
  return s;
}

// The image of model.weights.h5 inside a .keras archive.
std::string keras_weights_image(io::ZipReader& zip, const LoadLimits& limits) {
  return zip.read("model.weights.h5", limits.max_total_elements * 8 + (int64_t{64} << 20));
}

// Reads the HDF5 side of `file` in the isolated reader (or, with isolate_hdf5 off, here).
Snapshot take_snapshot(const std::string& mode, const std::filesystem::path& file, const LoadLimits& limits) {
  if (!limits.isolate_hdf5) return deserialize(frontend::hdf5_snapshot_bytes(mode, file, limits));
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  io::ReaderJob job;
  job.args = {mode,
              std::filesystem::absolute(file).string(),
              std::to_string(limits.max_elements_per_array),
              std::to_string(limits.max_total_elements),
              std::to_string(limits.max_json_bytes),
              std::to_string(limits.max_layers)};
  // The answer: weights (4 bytes per value), model_config, and names and shapes per array.
  job.max_answer_bytes = limits.max_total_elements * 4 + limits.max_json_bytes + (int64_t{64} << 20);
  // Slow storage must not make a large valid file look damaged: 8 MiB/s on top of the base.
  job.timeout_ms = limits.hdf5_timeout_ms + (ec ? 0 : static_cast<int64_t>(size / ((8u << 20) / 1000)));
  return deserialize(io::run_reader(job));
}

// Weights of a legacy .h5 file: model_weights/<layer>/<weight name>, names from weight_names.
class H5Source : public frontend::WeightSource {
 public:
  explicit H5Source(const Snapshot& s) : s_(s) {}
  std::optional<std::vector<NamedArray>> weights(const std::string& layer, const json&) override {
    auto it = s_.groups.find(layer);
    if (it == s_.groups.end()) return std::nullopt;
    if (!it->second.error.empty()) throw ModelError(it->second.error);
    return it->second.weights;
  }

 private:
  const Snapshot& s_;
};

// Weights of a Keras 3 model.weights.h5: layers/<snake_case class>[_N]/vars/<i>, mapped to
// variable names by the class' own variable order.
class KerasZipSource : public frontend::WeightSource {
 public:
  KerasZipSource(const Snapshot& s, const json& model_config) : s_(s) {
    assign_paths(model_config, "layers", top_);
  }

  std::optional<std::vector<NamedArray>> weights(const std::string& layer, const json& entry) override {
    if (!s_.has_model_weights) return std::nullopt;
    auto it = top_.find(layer);
    if (it == top_.end()) return std::nullopt;
    std::vector<NamedArray> out;
    collect(entry, it->second, layer, "", out, 0);
    return out;
  }

 private:
  static const json& layers_of(const json& model) {
    static const json empty = json::array();
    if (!model.is_object() || !model.contains("config")) return empty;
    const json& cfg = model["config"];
    if (cfg.is_array()) return cfg;
    if (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array()) return cfg["layers"];
    return empty;
  }

  static std::string name_of(const json& entry) {
    if (entry.contains("name") && entry["name"].is_string()) return entry["name"].get<std::string>();
    if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name") &&
        entry["config"]["name"].is_string())
      return entry["config"]["name"].get<std::string>();
    return "";
  }

  // Keras numbers saveables per class: conv2d, conv2d_1, ... in layer order.
  static void assign_paths(const json& model, const std::string& prefix,
                           std::map<std::string, std::string>& out) {
    std::map<std::string, int> used;
    for (const auto& entry : layers_of(model)) {
      if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string())
        continue;
      std::string snake = frontend::snake_case(entry["class_name"].get<std::string>());
      auto u = used.find(snake);
      std::string name = snake;
      if (u == used.end()) {
        used[snake] = 0;
      } else {
        name = snake + "_" + std::to_string(++u->second);
      }
      out[name_of(entry)] = prefix + "/" + name;
    }
  }

  void collect(const json& entry, const std::string& path, const std::string& layer,
               const std::string& name_prefix, std::vector<NamedArray>& out, int depth) {
    if (depth > 32) return;
    std::string cls = entry.value("class_name", "");
    if (frontend::is_model_class(cls)) {
      std::map<std::string, std::string> inner;
      assign_paths(entry, path + "/layers", inner);
      for (const auto& sub : layers_of(entry)) {
        if (!sub.is_object()) continue;
        std::string n = name_of(sub);
        auto it = inner.find(n);
        if (it != inner.end()) collect(sub, it->second, layer, n + "/", out, depth + 1);
      }
      return;
    }
    std::string own = name_prefix.empty() ? layer : name_prefix.substr(0, name_prefix.size() - 1);
    auto it = s_.groups.find(path);
    if (it == s_.groups.end()) return;
    if (!it->second.error.empty())
      throw ModelError("layer '" + own + "' (" + cls + "): " + it->second.error);
    const auto& vars = it->second.weights;
    const json cfg = entry.contains("config") ? entry["config"] : json::object();
    auto order = frontend::variable_order(cls, cfg);
    if (order && order->size() != vars.size())
      throw ModelError("layer '" + own + "' (" + cls + "): model.weights.h5 holds " +
                       std::to_string(vars.size()) + " variables at '" + path +
                       "/vars', the config implies " + std::to_string(order->size()) +
                       "; the archive is damaged — " + std::string(frontend::kResaveKeras));
    for (size_t i = 0; i < vars.size(); ++i)
      out.push_back({own + "/" + (order ? (*order)[i] : "var" + std::to_string(i)), vars[i].array});
  }

  const Snapshot& s_;
  std::map<std::string, std::string> top_;
};

Model load_h5(const std::filesystem::path& path, const LoadLimits& limits) {
  Snapshot s = take_snapshot("h5", path, limits);
  switch (s.kind) {
    case Snapshot::weights_only: throw ModelError(kWeightsOnly);
    case Snapshot::weights_without_config:
      throw ModelError("the file has weights but no model_config (the model's architecture); "
                       "save the full model with model.save(\"m.h5\")");
    case Snapshot::not_keras:
      throw ModelError("the HDF5 file is not a Keras model (it has no model_config attribute); "
                       "save the model with model.save(\"m.h5\")");
    default: break;
  }
  json config = parse_json(s.model_config, "model_config");
  H5Source src(s);
  Model m = frontend::assemble_model(config, src, limits);
  m.file = path;
  m.keras_version = s.keras_version;
  m.backend = s.backend;
  m.container = "h5";
  return m;
}

Model load_keras_zip(const std::filesystem::path& path, const LoadLimits& limits) {
  io::ZipReader zip(path);
  if (!zip.has("config.json")) {
    if (zip.has("model.weights.h5"))
      throw ModelError("the .keras archive has weights but no config.json; save the full model "
                       "with model.save(\"m.keras\")");
    throw ModelError("the zip archive is not a Keras model (no config.json); save the model with "
                     "model.save(\"m.keras\")");
  }
  json config = parse_json(zip.read("config.json", limits.max_json_bytes), "config.json");
  std::string version;
  if (zip.has("metadata.json")) {
    json meta = json::parse(zip.read("metadata.json", 1 << 20), nullptr, false);
    if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
      version = meta["keras_version"].get<std::string>();
  }
  Snapshot s;
  if (zip.has("model.weights.h5")) {
    s = take_snapshot("keras", path, limits);
  }
  KerasZipSource src(s, config);
  Model m = frontend::assemble_model(config, src, limits);
  m.file = path;
  m.keras_version = version;
  m.container = "keras-zip";
  return m;
}

std::string foreign_hint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 8> b{};
  in.read(b.data(), b.size());
  if (in.gcount() >= 8 && std::string(b.data() + 4, 4) == "TFL3")
    return "this is a TensorFlow Lite model; BitLens reads the Keras model: save it with "
           "model.save(\"m.h5\")";
  if (path.extension() == ".pb")
    return "this looks like a TensorFlow SavedModel/graph; BitLens reads Keras files: save the "
           "model with model.save(\"m.h5\")";
  return "the file is neither a Keras .h5 (HDF5) file nor a .keras archive; save the model "
         "with model.save(\"m.h5\")";
}

}  // namespace

std::string frontend::hdf5_snapshot_bytes(const std::string& mode, const std::filesystem::path& file,
                                          const LoadLimits& limits) {
  auto lock = io::h5_lock();
  if (mode == "h5") return serialize(snapshot_legacy(file, limits));
  if (mode == "keras") {
    io::ZipReader zip(file);
    return serialize(snapshot_keras_weights(keras_weights_image(zip, limits), limits));
  }
  throw ModelError("internal: unknown HDF5 snapshot mode '" + mode + "'");
}

Model load_model(const std::filesystem::path& path, const LoadLimits& limits) {
  auto lock = io::h5_lock();
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status))
    throw ModelError("no such file; check the path");
  if (std::filesystem::is_directory(status))
    throw ModelError("this is a folder, not a model file (a SavedModel folder cannot be read); "
                     "save the model with model.save(\"m.h5\")");
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ModelError("cannot read the file; check its permissions");
  if (size == 0) throw ModelError("the file is empty (0 bytes); save the model again with model.save(\"m.h5\")");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw ModelError("cannot open the file for reading; check its permissions");
  }
  if (io::has_zip_signature(path)) return load_keras_zip(path, limits);
  if (io::has_hdf5_signature(path)) return load_h5(path, limits);
  throw ModelError(foreign_hint(path));
}

std::optional<std::vector<int64_t>> declared_input_shape(const Layer& l) {
  if (!l.config.is_object()) return std::nullopt;
  for (const char* k : {"batch_input_shape", "batch_shape"}) {
    if (!l.config.contains(k) || !l.config[k].is_array() || l.config[k].empty()) continue;
    std::vector<int64_t> shape;
    const json& s = l.config[k];
    for (size_t i = 1; i < s.size(); ++i)
      shape.push_back(s[i].is_number_integer() ? s[i].get<int64_t>() : -1);
    return shape;
  }
  return std::nullopt;
}

}  // namespace bitlens
