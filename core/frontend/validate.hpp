// Checks one layer against what BitLens relies on: config fields present and of the right
// type (and within sane limits), weights present, of a shape the config allows, and finite.
// The layer table (bitlens/layer_table.hpp) gives the config keys and their types.
#pragma once

#include "bitlens/model.hpp"

namespace bitlens::frontend {

// Throws ModelError naming the layer, the field or weight, and what to do.
void validate_layer(const Layer& layer, const LoadLimits& limits);

}  // namespace bitlens::frontend
