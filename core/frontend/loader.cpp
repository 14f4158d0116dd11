// load_model: recognises the container (legacy .h5, Keras 3 .keras zip, weights-only files,
// foreign files), reads model_config and the weights, and hands them to the assembler.
#include <array>
#include <fstream>
#include <map>
#include <set>

#include "bitlens/model.hpp"
#include "frontend/assemble.hpp"
#include "io/h5.hpp"
#include "io/zip.hpp"

namespace bitlens {
namespace {

using frontend::NamedArray;

const char* const kResave = "re-save the model with model.save(\"m.h5\")";
const char* const kWeightsOnly =
    "the file holds weights only (model.save_weights); save the full model with "
    "model.save(\"m.h5\") and open that file";

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw ModelError(what + " is not valid JSON (at byte " + std::to_string(e.byte) + "); " +
                     kResave);
  }
}

// Weights of a legacy .h5 file: model_weights/<layer>/<weight name>, names from weight_names.
class H5Source : public frontend::WeightSource {
 public:
  H5Source(hid_t weights_root, const LoadLimits& limits) : root_(weights_root), limits_(limits) {
    if (root_ < 0) return;
    bool found = false;
    auto names = io::read_name_list(root_, "layer_names", limits_.max_json_bytes, &found);
    listed_.insert(names.begin(), names.end());
  }

  std::optional<std::vector<NamedArray>> weights(const std::string& layer,
                                                 const json&) override {
    if (root_ < 0 || !io::is_group(root_, layer)) return std::nullopt;
    io::Handle g = io::open_group(root_, layer);
    bool found = false;
    std::vector<std::string> names;
    try {
      names = io::read_name_list(g.get(), "weight_names", limits_.max_json_bytes, &found);
    } catch (const ModelError& e) {
      throw ModelError("layer '" + layer + "': " + e.what());
    }
    if (!found)
      throw ModelError("layer '" + layer + "': its weights group has no 'weight_names' "
                       "attribute; the file is damaged — " + kResave);
    std::vector<NamedArray> out;
    for (const auto& n : names) {
      if (!io::has_link(g.get(), n))
        throw ModelError("layer '" + layer + "': weight '" + n + "' is listed in weight_names "
                         "but its dataset is missing; the file is damaged — " + kResave);
      try {
        auto shape = io::dataset_shape(g.get(), n);
        int64_t count = 1;
        for (auto d : shape) {
          if (d != 0 && count > limits_.max_total_elements / d) count = limits_.max_total_elements + 1;
          else count *= d;
        }
        total_ += count;
        if (total_ > limits_.max_total_elements)
          throw ModelError("dataset '" + n + "' brings the model's weights above " +
                           std::to_string(limits_.max_total_elements) +
                           " values in total, more than BitLens accepts");
        out.push_back({n, io::read_float_dataset(g.get(), n, limits_.max_elements_per_array)});
      } catch (const ModelError& e) {
        std::string msg = e.what();
        if (msg.starts_with("layer '")) throw;
        throw ModelError("layer '" + layer + "': " + msg);
      }
    }
    return out;
  }

 private:
  hid_t root_;
  const LoadLimits& limits_;
  std::set<std::string> listed_;
  int64_t total_ = 0;
};

// Weights of a Keras 3 model.weights.h5: layers/<snake_case class>[_N]/vars/<i>, mapped to
// variable names by the class' own variable order.
class KerasZipSource : public frontend::WeightSource {
 public:
  KerasZipSource(hid_t file, const json& model_config, const LoadLimits& limits)
      : file_(file), limits_(limits) {
    assign_paths(model_config, "layers", top_);
  }

  std::optional<std::vector<NamedArray>> weights(const std::string& layer, const json& entry) override {
    if (file_ < 0) return std::nullopt;
    auto it = top_.find(layer);
    if (it == top_.end()) return std::nullopt;
    std::vector<NamedArray> out;
    collect(entry, it->second, layer, "", out);
    return out;
  }

 private:
  static const json& layers_of(const json& model) {
    static const json empty = json::array();
    const json& cfg = model.contains("config") ? model["config"] : empty;
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
               const std::string& name_prefix, std::vector<NamedArray>& out) {
    std::string cls = entry.value("class_name", "");
    if (frontend::is_model_class(cls)) {
      std::map<std::string, std::string> inner;
      assign_paths(entry, path + "/layers", inner);
      for (const auto& sub : layers_of(entry)) {
        if (!sub.is_object()) continue;
        std::string n = name_of(sub);
        auto it = inner.find(n);
        if (it != inner.end()) collect(sub, it->second, layer, n + "/", out);
      }
      return;
    }
    std::string own = name_prefix.empty() ? layer : name_prefix.substr(0, name_prefix.size() - 1);
    std::string vars = path + "/vars";
    if (!io::is_group(file_, vars)) return;
    io::Handle g = io::open_group(file_, vars);
    auto children = io::list_children(g.get());
    const json cfg = entry.contains("config") ? entry["config"] : json::object();
    auto order = frontend::variable_order(cls, cfg);
    if (order && order->size() != children.size())
      throw ModelError("layer '" + own + "' (" + cls + "): model.weights.h5 holds " +
                       std::to_string(children.size()) + " variables at '" + vars +
                       "', the config implies " + std::to_string(order->size()) +
                       "; the archive is damaged — re-save the model with model.save(\"m.keras\")");
    for (size_t i = 0; i < children.size(); ++i) {
      std::string idx = std::to_string(i);
      if (!io::has_link(g.get(), idx))
        throw ModelError("layer '" + own + "' (" + cls + "): variable '" + vars + "/" + idx +
                         "' is missing from model.weights.h5; the archive is damaged");
      std::string short_name = order ? (*order)[i] : "var" + idx;
      NamedArray w{own + "/" + short_name, {}};
      try {
        w.array = io::read_float_dataset(g.get(), idx, limits_.max_elements_per_array);
      } catch (const ModelError& e) {
        throw ModelError("layer '" + own + "': " + e.what());
      }
      out.push_back(std::move(w));
    }
  }

  hid_t file_;
  const LoadLimits& limits_;
  std::map<std::string, std::string> top_;
};

std::string optional_string_attr(hid_t obj, const char* name) {
  if (!io::has_attr(obj, name)) return "";
  try {
    return io::read_string_attr(obj, name, 4096);
  } catch (const ModelError&) {
    return "";  // informational only
  }
}

Model load_h5(const std::filesystem::path& path, const LoadLimits& limits) {
  io::Handle f = io::open_file(path);
  io::Handle root = io::open_group(f.get(), "/");
  if (!io::has_attr(root.get(), "model_config")) {
    bool names = false;
    io::read_name_list(root.get(), "layer_names", limits.max_json_bytes, &names);
    if (names || io::is_group(root.get(), "layers") ||
        io::is_group(root.get(), "_layer_checkpoint_dependencies"))
      throw ModelError(kWeightsOnly);
    if (io::is_group(root.get(), "model_weights"))
      throw ModelError("the file has weights but no model_config (the model's architecture); "
                       "save the full model with model.save(\"m.h5\")");
    throw ModelError("the HDF5 file is not a Keras model (it has no model_config attribute); "
                     "save the model with model.save(\"m.h5\")");
  }
  std::string text;
  try {
    text = io::read_string_attr(root.get(), "model_config", limits.max_json_bytes);
  } catch (const ModelError& e) {
    throw ModelError(std::string("cannot read model_config: ") + e.what());
  }
  json config = parse_json(text, "model_config");
  io::Handle weights;
  if (io::is_group(root.get(), "model_weights")) weights = io::open_group(root.get(), "model_weights");
  H5Source src(weights ? weights.get() : -1, limits);
  Model m = frontend::assemble_model(config, src, limits);
  m.file = path;
  m.keras_version = optional_string_attr(root.get(), "keras_version");
  m.backend = optional_string_attr(root.get(), "backend");
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
  std::string image;
  io::Handle wf;
  if (zip.has("model.weights.h5")) {
    image = zip.read("model.weights.h5", limits.max_total_elements * 8 + (int64_t{64} << 20));
    wf = io::open_image(image, "model.weights.h5");
  }
  KerasZipSource src(wf ? wf.get() : -1, config, limits);
  Model m = frontend::assemble_model(config, src, limits);
  m.file = path;
  m.keras_version = version;
  m.backend = "";
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
