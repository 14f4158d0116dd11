// Checks one layer against what BitLens relies on: config fields present and of the right
// type (and within sane limits), weights present, of a shape the config allows, and finite.
// One table of layer facts (known_layer_fields) drives the config checks.
#pragma once

#include "bitlens/model.hpp"

namespace bitlens::frontend {

// Throws ModelError naming the layer, the field or weight, and what to do.
void validate_layer(const Layer& layer, const LoadLimits& limits);

}  // namespace bitlens::frontend
