// Internal interface of the compiler passes (one file per pass; pipeline.cpp runs them in order).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bitlens/compiler.hpp"
#include "bitlens/ir.hpp"

namespace bitlens::passes {

// Model -> Graph: one node per Keras layer with parsed attributes, quantized constants and
// inferred shapes. Throws ModelError for unusable models (bad shapes, missing weights).
Graph import_model(const Model& model);

// Removes training-only layers (Dropout, GaussianNoise, ...): consumers read their input.
bool strip_training_only(Graph& g);

// Folds bias, MagnitudeAwareSign scales, BatchNorm and clamp activations into the producing
// conv/dense node's epilogue chain; decides bit-packed outputs (consumers all binarize,
// MaxPool/Flatten in between allowed).
bool fold_epilogues(Graph& g);

// Chooses a kernel class and kernel per node with reasons; inserts Pack/Unpack steps where a
// tensor's format differs from what its consumer needs.
bool select_kernels(Graph& g);

// Lowers constants into the kernels' layouts: packed weight bits, integer thresholds, mul/add.
bool lower_constants(Graph& g);

// A float output stage's affine steps y = y * mul + add (null = 1 / 0), in Keras' order; the
// kernels' output stage runs at most kMaxOutputSteps of them (bl_output mul/add, mul2/add2).
struct AffineStep {
  const std::vector<float>* mul;
  const std::vector<float>* add;
};
std::vector<AffineStep> affine_steps(const std::vector<PostOp>& chain);
constexpr size_t kMaxOutputSteps = 2;

// Costs (MACC, ROM, scratch) per node, and the execution schedule.
void compute_costs(Graph& g);
std::vector<int> make_schedule(const Graph& g);
MemoryPlan plan_memory(const Graph& g, const std::vector<int>& schedule);
// Adds HOST_LIMIT reasons to the layers a one-sample host run could not hold (analysis/limits.cpp).
void mark_host_limits(CompileResult& c);

// Reason wording: one table (reasons.cpp), rendered everywhere.
// `args` fill the {0}, {1}, ... placeholders of the code's message and fix.
Reason make_reason(const std::string& code, const std::vector<std::string>& args = {});
// Every code with its severity, message and fix templates (for docs and tests).
struct ReasonInfo {
  const char* code;
  Reason::Severity severity;
  const char* message;
  const char* fix;
};
const std::vector<ReasonInfo>& reason_table();
// How reasons name a quantizer: null, or its name as the file writes it, quoted.
std::string quantizer_text(const Quantizer& q);
// The config key that holds a conv/dense node's weight quantizer.
const char* weight_quantizer_key(const Node& n);

// Saturating int64 arithmetic for sizes and costs that come from a file: an absurd model shows
// as INT64_MAX (and fails every limit) instead of overflowing.
inline int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}
inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

// Helpers shared by passes.
const json* config_get(const Layer& layer, const char* key);

}  // namespace bitlens::passes
