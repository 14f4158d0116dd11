// Pieces the registrations share: printing the common parameter sub-structs, and a node's
// activation step (an Activation layer's whole work, or a conv/dense layer's own activation).
#pragma once

#include "ops/step.hpp"

namespace bitlens::ops {

void geom(Fields& f, const bl_conv_geom& g);
void output(Fields& f, const bl_output& out);
// The activation calls of the node (none for a conv/dense layer with a linear activation):
// on its output in place, or from input 0 to the output (an Activation layer).
void activation_calls(Step& s, bool in_place);

}  // namespace bitlens::ops
