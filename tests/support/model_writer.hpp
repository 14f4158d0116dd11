// Test support: writes Model objects as Keras files in the layouts real writers use (tf.keras
// 2.x + h5py 3, h5py 2.x fixed-length names, Keras 3 legacy .h5, Keras 3 .keras), for fixtures,
// benchmarks and the bundled example models (resources/models/generate.cpp). The product only
// writes variants of existing files (bitlens/model.hpp, write_variant).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "bitlens/model.hpp"

namespace bitlens {

// How write_model_h5 lays the file out. The defaults give what tf.keras 2.x + h5py 3 write;
// the other options reproduce older or newer writers (used by tests and fixtures).
struct H5WriteOptions {
  std::string keras_version = "2.10.0";
  bool fixed_length_strings = false;  // h5py 2.x: NUL-padded fixed-length name arrays
  bool utf8_strings = false;          // character set of string attributes
  size_t chunk_name_lists_over = 64512;  // split layer_names/weight_names into name0, name1...
  bool top_level_model_weights = true;   // newer tf.keras adds this group
  bool weights_only = false;             // model.save_weights(): no model_config
  bool keras3_legacy = false;            // Keras 3 legacy .h5: names without ":0"
};

// Writes `model` as a Keras .h5 file. Layer configs are patched from Model::layers into
// Model::raw_config, so a changed config value is written back and everything else survives
// a round trip byte for byte (weights are written exactly as held). When layers were added,
// removed or renamed (or raw_config is empty), a Functional config with inbound nodes is
// rebuilt from Model::layers instead (not possible for flattened nested models).
// Throws ModelError.
void write_model_h5(const Model& model, const std::filesystem::path& path,
                    const H5WriteOptions& options = {});

// Writes `model` as a Keras 3 .keras archive (config.json in Keras 3 form, metadata.json,
// model.weights.h5 with layers/<snake_case class>[_N]/vars/<i>). Throws ModelError.
void write_model_keras(const Model& model, const std::filesystem::path& path,
                       const std::string& keras_version = "3.10.0");

// The model_config JSON write_model_h5 would store (Keras 2 form, or Keras 3 form when
// `keras3` is set).
json model_config_json(const Model& model, bool keras3 = false);

}  // namespace bitlens
