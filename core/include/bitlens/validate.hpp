// `bitlens validate`: builds the generated C code (host compiler, or the exported project for a
// QEMU board), runs it, and compares its outputs with the host runtime (Executor) and the
// reference interpreter using ST's validate metrics plus bit-exact counts.
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bitlens/compiler.hpp"
#include "bitlens/dataset.hpp"

namespace bitlens {

// A tool needed to build or run is missing or failed: exit status 2, the message names the
// Debian package to install.
class ToolError : public ModelError {
 public:
  using ModelError::ModelError;
};

enum class ValidateTarget { Host, QemuM4, QemuM7 };
const char* target_name(ValidateTarget t);  // "host", "qemu-m4", "qemu-m7"

struct ValidateOptions {
  ValidateTarget target = ValidateTarget::Host;
  std::vector<Array> inputs;            // one Array per model input, shape (N, ...)
  std::string name;                     // network name ("" = default)
  // Use the generated sources in this directory (an exported project's network/, possibly
  // edited) instead of generating them.
  std::filesystem::path network_dir;
  // Build here and keep it (default: a temporary directory, removed afterwards).
  std::filesystem::path work_dir;
  // With labels (one per input sample; a classifier model): the accuracy of the generated C,
  // the host runtime and the reference interpreter on these inputs.
  const Labels* labels = nullptr;
};

struct OutputMetrics {
  std::string name;
  int64_t elements = 0;
  int64_t bit_exact = 0;        // elements whose float bits are identical
  bool binary = false;          // +-1 values (unpacked bits): compared bit for bit
  int64_t differing_bits = 0;   // binary outputs: elements whose sign differs
  int64_t out_of_tolerance = 0; // float outputs: |r - p| > tol * (1 + max|r| over the output)
  double rmse = 0, mae = 0, l2r = 0, cos = 1, max_abs = 0, mean = 0, std = 0;
  bool pass = false;
};

struct Comparison {
  std::string against;  // "host runtime" or "reference interpreter"
  std::vector<OutputMetrics> outputs;
  bool pass = false;
};

struct StepCount {
  int step = 0;
  std::string node, kernel;
  uint64_t count = 0;
};

struct ValidateResult {
  ValidateTarget target = ValidateTarget::Host;
  std::string network;
  int vectors = 0;
  Comparison vs_runtime, vs_reference;
  std::vector<StepCount> steps;   // QEMU targets: vector 0, executed instructions
  std::vector<uint64_t> totals;   // per vector
  bool firmware_pass = false;     // QEMU: the firmware's own check printed PASS
  std::string labels;             // with ValidateOptions::labels: its file, and the three scores
  std::optional<Accuracy> generated_accuracy, runtime_accuracy, reference_accuracy;
  bool pass() const { return vs_runtime.pass && vs_reference.pass; }
};

// Metrics of prediction `p` against reference `r` (ST's definitions, docs/export.md).
OutputMetrics compare_output(const std::string& name, const std::vector<float>& r, const std::vector<float>& p,
                             bool binary, float tolerance);

// Throws ToolError (missing/failed tools or build) and ModelError (unusable model or inputs).
ValidateResult validate(const CompileResult& c, const ValidateOptions& options);
std::string validate_text(const CompileResult& c, const ValidateResult& r);

}  // namespace bitlens
