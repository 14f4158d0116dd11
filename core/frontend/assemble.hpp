// Turns a Keras model_config JSON plus the weights of each top-level layer into a Model:
// flattens nested models, resolves inbound nodes (Keras 2 and Keras 3 forms), validates every
// config field and weight BitLens relies on, and orders the layers topologically.
// Shared by the .h5 loader, the .keras loader and the test-support ModelBuilder (tests/support).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens::frontend {

struct NamedArray {
  std::string name;  // full weight name as stored ("conv2d/kernel:0", "seq/conv2d/kernel")
  Array array;
};

// Supplies the stored weights of one top-level layer entry of model_config (a nested
// model's entry gets the weights of all its sub-layers).
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // `entry` is the layer's model_config entry. nullopt: the file has no group for it.
  virtual std::optional<std::vector<NamedArray>> weights(const std::string& layer_name,
                                                         const json& entry) = 0;
};

// `model_config` is {"class_name": ..., "config": ...}. Throws ModelError.
Model assemble_model(const json& model_config, WeightSource& source, const LoadLimits& limits);

// Short weight name: last path component without ":0" ("conv2d/kernel:0" -> "kernel").
std::string short_weight_name(const std::string& full_name);

// The key of a stored weight in Layer::weights. For the classes BitLens models it is the short
// name (Keras 3's depthwise "kernel" becomes "depthwise_kernel"); for any other class (custom
// layers, whose variables may repeat short names under sub-layers) it is the stored name below
// the layer's own name ("mobile_net_v3_small_1/conv1/kernel:0" of layer
// "mobile_net_v3_small_1" -> "conv1/kernel"), or the whole stored name without ":0" when it
// does not contain the layer's name. The loader and the writer both key weights with this.
std::string weight_key(const std::string& class_name, const std::string& original_name,
                       const std::string& full_name);

// True for the class names Keras uses for a model inside a model.
bool is_model_class(const std::string& class_name);

// Keras' snake_case of a class name ("BatchNormalization" -> "batch_normalization").
std::string snake_case(const std::string& class_name);

// The layer's variables in Keras' own order (trainable first), by short name, as
// determined from the config alone (Conv: kernel, bias if use_bias; BatchNormalization:
// gamma if scale, beta if center, moving_mean, moving_variance; ...). Empty for classes
// without weights; nullopt for classes whose variables BitLens does not know.
std::optional<std::vector<std::string>> variable_order(const std::string& class_name,
                                                       const json& config);

// Non-trainable variables come after trainable ones in Keras' weight lists.
bool is_non_trainable(const std::string& short_name);

}  // namespace bitlens::frontend
