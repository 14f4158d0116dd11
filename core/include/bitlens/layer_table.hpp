// The one list of Keras/Larq layer classes BitLens models and, for each, every config key a
// saved file may carry: the keys BitLens reads (each value is computed as Keras/Larq compute
// it or the layer is refused by name) and the keys it ignores because they cannot change an
// inference result (initializers, regularizers, constraints, ...). A key in neither list makes
// the layer `unsupported` (reason CONFIG_KEY) instead of being dropped silently.
//
// Also each class's variables in Keras' order (the loader names a .keras file's vars/0, vars/1,
// ... by them). The import half of the table, the function that lowers each class to IR ops, is
// core/passes/import_layers.cpp.
//
// Read by the loader's config checks (types) and weight naming, the importer and the reference
// interpreter (unknown keys, generic values such as dtype), the GUI's details panel and
// docs/decisions.md (generated, checked by a test).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bitlens {

// The JSON shape a read key's value must have (checked when the file is loaded).
enum class ConfigType {
  Any,         // checked where it is used
  PosInt,      // integer > 0
  Pair,        // integer > 0 or a list of two of them
  OptPair,     // like Pair, or null
  Size1D,      // integer > 0 or a list of one (what 1-D layers write)
  Padding,     // "valid" or "same"
  Padding1D,   // "valid", "same" or "causal"
  Bool,
  Number,
  OptNumber,   // number or null
  String,
  Activation,  // a name (string), null or a serialized object
  Quantizer,   // null, a name, or {"class_name": ..., "config": {...}}
  Axis,        // integer or list of integers
  TargetShape, // list of integers > 0, at most one -1
  ZeroPad,     // int, [a, b] or [[t, b], [l, r]], all >= 0
  DType,       // null, a dtype name or a dtype policy object
};

struct ConfigKey {
  const char* key;
  ConfigType type;
  bool required;
  // The values BitLens computes, for the docs ("any" when every value of the type is).
  const char* values;
};

struct IgnoredKey {
  std::string key;
  const char* why;  // why it cannot change inference (docs)
};

// A variable the layer stores, in Keras' variable order (trainable first); present unless the
// boolean config key `unless_false` is false.
struct WeightSpec {
  const char* name;   // "kernel", "bias", "moving_mean", ...
  const char* shape;  // for the docs: "(kh, kw, C/groups, filters)"
  const char* unless_false = nullptr;  // "use_bias", "scale", "center"
};

struct LayerInfo {
  std::string class_name;
  const char* family;  // "Keras" or "Larq"
  std::vector<ConfigKey> read;
  std::vector<IgnoredKey> ignored;
  std::vector<WeightSpec> weights = {};
  const ConfigKey* find_read(const std::string& key) const;
  bool ignores(const std::string& key) const;
};

const std::vector<LayerInfo>& layer_table();

// QKeras' layers (qkeras/qconvolutional.py, qlayers.py): Keras layers whose kernel (and bias)
// pass through a quantizer, and QActivation, an activation that is a quantizer.
inline bool is_qkeras_layer(const std::string& class_name) {
  return class_name == "QConv2D" || class_name == "QDepthwiseConv2D" || class_name == "QDense" ||
         class_name == "QActivation";
}
const LayerInfo* find_layer_info(const std::string& class_name);

// The first config key (alphabetically) that `class_name` neither reads nor ignores, or
// nothing. Classes outside the table have no list: nothing.
std::optional<std::string> unknown_config_key(const std::string& class_name, const nlohmann::json& config);

// Problems with the generic keys every layer may carry (dtype, lora_rank, ...): a message
// naming the key and value, or nothing. The class-specific keys are checked where they are used.
std::optional<std::string> generic_config_problem(const nlohmann::json& config);

// The Markdown section of docs/decisions.md listing every class and its keys.
std::string config_keys_markdown();

}  // namespace bitlens
