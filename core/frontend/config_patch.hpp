// Layer configs held in a Model written back into a Keras model_config JSON: the one edit both
// `bitlens variant` (onto the source file's own config) and the test fixture writer
// (tests/support/model_writer.cpp) make.
#pragma once

#include <string>

#include "bitlens/model.hpp"

namespace bitlens::frontend {

// Replaces the config of every layer entry of `config` ({"class_name", "config"}, nested models
// included) with the one held in model.layers, matched by parent scope and original name.
// Returns false when the layer sets differ (added, removed or renamed layers); `config` may then
// be partly patched.
bool patch_layer_configs(json& config, const Model& model);

// The pieces it matches by, shared with the fixture writer:
std::string entry_name(const json& entry);                  // a model_config layer entry's name
json* layer_list(json& model);                              // its "layers" (or Sequential list)
std::string layer_key(const std::string& parent, const std::string& name);
std::string original_name(const Layer& l);                  // the name as stored in the file

}  // namespace bitlens::frontend
