// The reference interpreter: runs a Keras-level Model in plain float32 NHWC code that implements
// Keras + Larq semantics directly. It is the oracle the compiled kernels are checked against.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens {

// Every computed layer's output, by layer name, plus the order in which they were computed.
struct ReferenceTrace {
  std::vector<std::string> order;
  std::map<std::string, Array> outputs;
};

// Semantics notes (see bitlens/semantics.hpp for the exact expressions):
// - A quantizer with tensor-wide statistics sees exactly the tensor Keras gives it: a
//   MagnitudeAwareSign *input* quantizer averages |x| over the batch too (as Larq does), so its
//   result for one sample depends on the others in the batch; kernels are not affected.
// - Quantizer forward values follow larq >= 0.10 (clip_value only clips gradients).
// - Float sums run in a fixed order from 0.0f (conv taps in (kh, kw, ci) order, then bias), so
//   sums of +-1 products are exact integers; other float results may differ from TensorFlow in
//   the last bits (TF's reduction order is unspecified).

// Runs `model` on `inputs` (one per Model::inputs, in that order, each of shape (N, ...) matching
// the InputLayer's shape apart from the batch size). Returns one array per Model::outputs.
// Only layers that the outputs depend on are computed. Throws ModelError naming the layer for
// anything it cannot compute (unsupported class or option, shape mismatch, missing weight).
std::vector<Array> reference_run(const Model& model, const std::vector<Array>& inputs,
                                 ReferenceTrace* trace = nullptr);

// Runs a single layer on its input tensors (in Layer::inputs order; InputLayer takes one).
// `keras_version` selects version-dependent definitions (Keras 3's hard_sigmoid).
// Used by reference_run and by tests that compare one layer against a kernel.
Array reference_layer(const Layer& layer, const std::vector<Array>& inputs,
                      const std::string& keras_version = "");

// The layer classes reference_layer implements, sorted (for messages and documentation).
const std::vector<std::string>& reference_supported_classes();

}  // namespace bitlens
