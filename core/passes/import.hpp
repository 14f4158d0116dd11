// Importing one Keras layer into the IR. import.cpp walks the model and gives each layer to
// the function its class is registered with in import_layers.cpp (the import side of the layer
// table: bitlens/layer_table.hpp lists the config keys of the same classes, and a test checks
// that both list the same classes).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "passes/passes.hpp"

namespace bitlens::passes {

// What a layer's import function reads and fills: the node (attributes, weights, op) and the
// output shape; or a refusal (the layer is reported unsupported with `unsupported_why`, whose
// arguments default to {class, layer}); or, for a layer whose output cannot be known, why.
struct LayerImport {
  const Model& model;
  const Layer& l;
  Graph& g;
  Node& n;
  const std::string& c;  // the layer's class name
  std::vector<int64_t> out_shape = {};
  bool unsupported = false;
  std::string unsupported_why = {};
  std::vector<std::string> unsupported_args = {};
  std::string unknown_because = {};

  const std::vector<int64_t>& in_shape(size_t i) const { return g.tensors[n.inputs.at(i)].shape; }
  void need_inputs(size_t count) const;
  void need_rank(size_t rank) const;
  bool channels_last() const;
  // The layer's own `activation` key: read, or the layer refused (ACTIVATION).
  void own_activation();
};

struct LayerImporter {
  std::vector<std::string> classes;
  void (*import)(LayerImport&);
  std::vector<Op> ops;  // what its nodes may become (besides Unsupported)
};
// Every class BitLens imports, with its function (import_layers.cpp).
const std::vector<LayerImporter>& importers();
const LayerImporter* find_importer(const std::string& class_name);
// The section of docs/decisions.md listing each class, its IR ops and their kernels.
std::string lowering_markdown();

// ---- reading a layer's config and weights (import.cpp) ----

// Integers in a layer config (sizes, strides, filters, padding) beyond this are refused: no
// real model comes near, and every shape computed from them then fits int64 with room to spare.
constexpr int64_t kMaxConfigInt = int64_t{1} << 24;
// One tensor of one sample may hold at most this many elements (4 TiB of float32): anything
// larger is refused while reading; the much lower run limits are in bitlens/limits.hpp.
constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

// Throws ModelError "layer 'NAME' (CLASS): what".
[[noreturn]] void fail(const Layer& l, const std::string& what);
int config_int(const Layer& l, const std::string& key, const json& v);
int get_int(const Layer& l, const char* key, int def);
// Keras writes tuples like kernel_size as [3, 3]; old files may hold a single integer.
std::pair<int, int> get_pair(const Layer& l, const char* key, std::pair<int, int> def);
// A 1-D layer's integer config: an int or a list of one (Keras writes [3] for kernel_size=3).
int get_single(const Layer& l, const char* key, int def);
std::string get_str(const Layer& l, const char* key, const std::string& def);
bool get_bool(const Layer& l, const char* key, bool def);
double get_num(const Layer& l, const char* key, double def);
// The weight `name` with exactly `shape`, all finite; otherwise fail() saying what to do.
const Array& weight(const Layer& l, const char* name, const std::vector<int64_t>& shape);
// TF "same" padding amounts along one axis.
void same_pad(int64_t in, int k, int s, int d, int64_t& out, int& before, int& after);
// Applies a weight quantizer to latent weights, per output channel (last axis) where needed.
// The weights Keras multiplies: `w` through kernel quantizer `q`. For a DoReFa weights-mode
// quantizer, *near_boundary (when given) receives the count of sem::dorefa_weights_near_boundary.
std::vector<float> quantize_weights(const Quantizer& q, const Array& w, int64_t* near_boundary = nullptr);

}  // namespace bitlens::passes
