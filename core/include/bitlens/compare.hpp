// Side-by-side comparison of model variants (pad_values overrides or separate files): kernel
// classes per layer, costs, and functional agreement measured by running every variant on the
// same inputs with the kernels engine.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/boards.hpp"
#include "bitlens/compiler.hpp"
#include "bitlens/dataset.hpp"

namespace bitlens {

struct VariantSpec {
  std::string label;         // column title, e.g. "saved", "pad=-1", "b.h5"
  std::string file;          // model file
  CompileOptions options;    // overrides applied to it
};

struct CompareOptions {
  std::vector<Array> inputs;   // if empty (and no dataset): random inputs
  Dataset* dataset = nullptr;  // samples streamed batch by batch instead of `inputs` (not owned)
  const Labels* labels = nullptr;  // with labels: accuracy of every variant
  uint64_t seed = 0;
  int samples = 64;
  int batch = 256;                   // samples per batch: what is held in memory at once
  std::optional<std::string> board;  // --board: fit per variant and an instruction estimate
  // Called after every batch with (samples done, total); returning false cancels the
  // comparison (compare_variants then throws CompareCancelled).
  std::function<bool(int64_t done, int64_t total)> progress;
};

struct CompareCancelled : ModelError {
  CompareCancelled() : ModelError("cancelled") {}
};


struct Agreement {
  bool available = false;     // false when a variant cannot run or output shapes differ
  std::string why_not;
  double max_abs = 0, mean_abs = 0, cosine = 1;
  std::optional<double> top1;  // classifiers (softmax output): fraction of equal argmax
};

struct LayerComparison {
  std::string name;
  std::vector<std::optional<KernelClass>> kernel;   // per variant; nullopt: layer absent there
  std::vector<std::string> codes;                   // reason codes per variant (comma-joined)
  std::vector<std::optional<float>> pad_values;     // per variant, conv layers with pad_values
  bool same_padding = false;                        // padding="same" in the first variant
  bool changed = false;                             // kernel class differs across variants
  // Fraction of the layer's output elements that differ from the first variant (bits for s1
  // tensors, values beyond 1e-6 relative for f32), over all samples; nullopt: not comparable.
  std::vector<std::optional<double>> diff_fraction;
};

struct VariantSummary {
  std::string label, file;
  Totals totals;
  Agreement agreement;  // against the first variant
  std::string first_divergence;  // first layer (schedule order) whose output differs
  std::optional<Accuracy> accuracy;  // with CompareOptions::labels
  std::optional<FitCheck> fit;   // with CompareOptions::board
  int64_t est_instructions = 0;  // with CompareOptions::board: estimate_instructions()
};

// A sample on which the classifier variants do not all predict the same class.
struct Disagreement {
  int64_t sample = 0;              // index in the dataset
  int32_t label = -1;              // with labels
  std::vector<int64_t> predicted;  // per variant (argmax of the first output); -1: did not run
};

struct CompareResult {
  std::vector<VariantSummary> variants;
  std::vector<LayerComparison> layers;  // union of layer names, in the first variant's order
  std::vector<std::string> notes;       // e.g. "pad_values has no effect: every conv is valid"
  int64_t samples = 0;
  std::string data;    // where the samples came from: "random, seed 0", "X.npy"
  std::string labels;  // the labels file, if any
  // Classifier outputs: the first kMaxDisagreements samples where the variants' predictions
  // differ, and how many such samples there are in all.
  std::vector<Disagreement> disagreements;
  int64_t disagreement_count = 0;
};
inline constexpr size_t kMaxDisagreements = 100;

// Instruction estimate for one Cortex-M4 inference, from kernel costs measured under QEMU
// (docs/performance.md): binary convolutions by XORed words and outputs, other kernels per MACC.
// Within about 40 % on the bundled models; `bitlens validate --target qemu-m4` gives exact counts.
int64_t estimate_instructions(const CompileResult& c);

// Builds the variants, compiles, runs and compares them. Throws ModelError (naming the file).
CompareResult compare_variants(const std::vector<VariantSpec>& variants, const CompareOptions& options);

std::string compare_text(const CompareResult& r, int width = 120);
json compare_json(const CompareResult& r);

}  // namespace bitlens
