// The Keras-level model: what a .h5/.keras file says, before any compilation.
// Produced by the loader (core/frontend), consumed by the compiler, the reference interpreter
// and the writer. Plain value types, no HDF5 or Qt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlens {

using json = nlohmann::json;

// A dense float32 array in row-major order (Keras layout: conv kernel HWIO, depthwise HWC M,
// dense (in, out)).
struct Array {
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t size() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

// Reference to a tensor produced by a layer: Keras' [layer_name, node_index, tensor_index].
struct TensorRef {
  std::string layer;
  int node_index = 0;
  int tensor_index = 0;
  bool operator==(const TensorRef&) const = default;
};

struct Layer {
  std::string name;        // unique within Model::layers
  std::string class_name;  // "QuantConv2D", "BatchNormalization", ...
  json config;             // the layer's "config" object, unchanged from the file
  // Input tensors in call order (first inbound node only; shared layers are not supported).
  // For TFOpLambda, tensor references found in kwargs are appended after the positional ones.
  // Every layer is called once, so node_index is always 0 here (whatever the file said).
  // A layer of a nested model that consumed the nested model's input refers to the outer
  // tensor that was passed in (nested InputLayers are dropped when flattening).
  std::vector<TensorRef> inputs;
  // Call kwargs of the first inbound node (TFOpLambda keeps its constant operand here:
  // e.g. {"y": 0.5}; a constant *first* operand, stored by Keras as _CONSTANT_VALUE, appears
  // under "x"); empty object otherwise.
  json call_kwargs = json::object();
  // Weights by their short name, the last path component without ":0" ("kernel", "bias",
  // "gamma", "beta", "moving_mean", "moving_variance", "depthwise_kernel", "pointwise_kernel").
  std::map<std::string, Array> weights;
  // Full weight names as stored in the file, in file order (for the writer and for messages).
  std::vector<std::string> weight_names;
  // Name of the enclosing nested model when this layer came from one (flattened), else empty.
  // Deeper nesting gives a path: "outer/inner". Layer::name is the layer's own name unless
  // that clashes with another layer, then "<parent>/<name>"; config["name"] stays as stored.
  std::string parent;
  // Created by the loader, not stored in the file: the InputLayer of a Sequential model
  // saved without one (named "<first layer>_input", as Keras names it).
  bool synthetic = false;
  // A Functional model's layer with empty inbound_nodes: never called, so it takes part in no
  // computation (e.g. a custom loss layer created but not used in the graph). Keras loads such
  // files; BitLens keeps the layer (its config and weights round-trip through the writer) but
  // compiles and runs nothing for it, and reports it as ignored. `inputs` is empty.
  bool unconnected = false;
};

struct Model {
  std::filesystem::path file;
  std::string name;           // model config name
  std::string class_name;     // "Sequential", "Functional", "Model"
  std::string keras_version;  // "2.10.0", "3.10.0", ... (empty when unknown)
  std::string backend;
  std::string container;      // "h5" or "keras-zip"
  std::vector<Layer> layers;  // topological order (file order wherever the file allows it)
  std::vector<TensorRef> inputs;   // model input tensors (InputLayer outputs)
  std::vector<TensorRef> outputs;  // model output tensors
  // The file's model_config JSON as read (Keras 2 or 3 form). The writer patches layer
  // configs from `layers` into it, so everything it does not model survives a round trip.
  json raw_config;

  const Layer* find(const std::string& layer_name) const {
    for (const auto& l : layers)
      if (l.name == layer_name) return &l;
    return nullptr;
  }
  Layer* find(const std::string& layer_name) {
    return const_cast<Layer*>(static_cast<const Model*>(this)->find(layer_name));
  }
};

// Every load/validation failure. what() is one line: "what is wrong and what to do";
// the CLI prints "bitlens: error: FILE: what()".
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Hard limits checked before anything is allocated (a corrupt or hostile file must not make
// BitLens allocate gigabytes).
struct LoadLimits {
  int64_t max_elements_per_array = int64_t{1} << 28;  // 1 GiB of float32
  int64_t max_total_elements = int64_t{1} << 29;
  int64_t max_json_bytes = int64_t{64} << 20;
  int max_layers = 100000;
  // Read HDF5 in the isolated reader program (bitlens-h5-reader, started with posix_spawn,
  // resource-limited): libhdf5 crashes on some damaged files, and this turns such a crash (or
  // a hang) into a ModelError. Off only for debugging and for the in-process fuzz target.
  bool isolate_hdf5 = true;
  // A damaged file can also make libhdf5 loop; the isolated reader is killed after this long
  // plus 1 s per 8 MiB of file (slow storage must not make a large valid model look damaged).
  int hdf5_timeout_ms = 20000;
};

// Reads a Keras model: legacy .h5 (tf.keras 2.x, standalone Keras 2.x, Keras 3 legacy) or a
// Keras 3 .keras zip. Nested models are flattened (Layer::parent records where they came from).
// Throws ModelError.
Model load_model(const std::filesystem::path& path, const LoadLimits& limits = {});

// Writes a variant of the model file `source` to `out`: a copy of `source` in which only the
// layer config values that differ in `changed` (the model loaded from `source`, then edited,
// e.g. by apply_overrides) are replaced. Everything else is kept as stored: for a legacy .h5,
// every root object is copied with its attributes (training_config, optimizer_weights,
// keras_version, backend, model_weights, ...) and only the root model_config attribute is
// rewritten (same string type class and character set); for a .keras archive every member is
// kept and only config.json is rewritten. The output keeps the source's container: a .keras
// source needs a .keras `out` and an HDF5 source a non-.keras one. Written to a unique
// temporary file next to `out`, then renamed into place. Throws ModelError (one line).
void write_variant(const std::filesystem::path& source, const Model& changed,
                   const std::filesystem::path& out);

// The JSON text `source_text` (a model_config / config.json) with only the layer config values
// that differ in `changed` replaced; key order and everything else as in `source_text`.
// nullopt when nothing differs. Throws ModelError when the layers of `changed` do not match
// the config (added, removed or renamed layers).
std::optional<std::string> variant_config_text(const std::string& source_text, const Model& changed);
// The two halves of variant_config_text: the changes as a JSON Patch (RFC 6902) from
// `original` (the parsed source config, e.g. changed.raw_config) to `changed`'s values, and
// that patch applied to the text (nullopt: no change).
json variant_config_changes(const json& original, const Model& changed);
std::optional<std::string> apply_config_changes(const std::string& source_text, const json& changes);

// The input shape an InputLayer config declares (batch_input_shape or Keras 3 batch_shape),
// without the batch dimension; unknown dimensions are -1. nullopt when there is none.
std::optional<std::vector<int64_t>> declared_input_shape(const Layer& input_layer);

}  // namespace bitlens
