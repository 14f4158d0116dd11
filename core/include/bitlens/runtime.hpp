// Host runtime: runs a compiled graph with exactly the kernels (kernels/) and the memory plan
// (one arena, the planner's offsets) that an exported project uses.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens {

class Executor {
 public:
  // Throws ModelError when the graph holds layers that cannot run (unsupported).
  explicit Executor(const CompileResult& compiled);

  // inputs: one Array per model input, shape (N, ...). Returns one Array per model output,
  // shape (N, ...), float32.
  std::vector<Array> run(const std::vector<Array>& inputs);

  // Called after every executed step with the node id and its output (f32 values or s1 words).
  using StepObserver = std::function<void(int node, const void* data, int64_t bytes)>;
  void set_observer(StepObserver obs) { observer_ = std::move(obs); }

 private:
  void run_one(const std::vector<const float*>& in, const std::vector<float*>& out);
  void* addr(int tensor);

  const CompileResult& c_;
  std::vector<uint32_t> arena_;
  std::vector<int64_t> offset_;  // per tensor id (storage offset), -1 if none
  StepObserver observer_;
};

// Checks input arrays against the model's inputs: count, shape (N, ...) and size. Throws
// ModelError naming the input and the expected shape.
void check_inputs(const CompileResult& compiled, const std::vector<Array>& inputs);

// Deterministic random inputs for --random SEED: uniform in [-1, 1).
std::vector<Array> random_inputs(const CompileResult& compiled, uint64_t seed, int batch);

}  // namespace bitlens
