// What BitLens is willing to allocate and compute on the host, checked in 64-bit arithmetic
// before anything is allocated. `analyze` reports a model beyond these limits (reason
// HOST_LIMIT on the layer); run, compare, validate, export and the app refuse it with one line
// naming the layer, the size it needs and the limit (docs/limits.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bitlens/compiler.hpp"

namespace bitlens {

struct HostLimits {
  // One activation tensor of one sample (f32: 4 bytes per element).
  int64_t max_tensor_bytes = int64_t{2} << 30;
  // The memory plan's arena: every tensor live at once for one sample.
  int64_t max_arena_bytes = int64_t{4} << 30;
  // Everything a run of `batch` samples holds besides the arena: inputs and outputs of every
  // sample, and (compare) every executed layer's output of every sample.
  int64_t max_batch_bytes = int64_t{8} << 30;
  // Multiply-accumulates of a whole run (batch x model MACC): about 20 minutes of float work
  // on one desktop core; more is a hang to the user.
  int64_t max_run_macc = int64_t{1} << 40;
};

// How a run holds its data: the kernels engine keeps the inputs and outputs of every sample;
// the reference interpreter (whole batch per layer) and compare (which records every executed
// layer's output) hold every layer's output for every sample.
enum class RunKind { Kernels, Reference, Compare };

// The first host limit the compiled model exceeds for a run of `batch` samples, as one line
// ("layer 'conv' (Conv2D): its output 4096x4096x4096 f32 needs 256 GiB, more than the host
// limit of 2 GiB for one tensor; ..."), or nullopt when it fits.
std::optional<std::string> host_limit_violation(const CompileResult& compiled, int64_t batch,
                                                RunKind kind = RunKind::Kernels,
                                                const HostLimits& limits = {});

// Throws ModelError with host_limit_violation's line.
void check_host_limits(const CompileResult& compiled, int64_t batch, RunKind kind = RunKind::Kernels,
                       const HostLimits& limits = {});

}  // namespace bitlens
