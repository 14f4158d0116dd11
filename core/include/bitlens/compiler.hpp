// The compiler entry point: Model -> graph with decisions, costs and memory plan.
// One CompileResult feeds every consumer (reports, GUI, runtime, codegen, compare); none of them
// recomputes a decision.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/ir.hpp"
#include "bitlens/model.hpp"

namespace bitlens {

struct CompileOptions {
  // --pad-values V: override pad_values of every conv layer that has the parameter.
  std::optional<float> pad_values;
  // --set LAYER.KEY=VALUE: override one layer's config value (applied after pad_values).
  struct Set {
    std::string layer, key;
    json value;
  };
  std::vector<Set> sets;
  // --prefer-ram: pass over kernel variants that trade scratch RAM for speed (the bit-sliced
  // binary conv); the default takes them.
  bool prefer_ram = false;
};

// Parses "LAYER.KEY=VALUE" (VALUE is JSON, or a bare word taken as a string). Throws ModelError.
CompileOptions::Set parse_set_option(const std::string& text);

// Applies the overrides to the model's layer configs (what-if analysis, variants).
// Throws ModelError naming the layer/parameter when an override does not apply.
void apply_overrides(Model& model, const CompileOptions& options);

struct MemoryPlan {
  struct Buffer {
    std::string name;      // tensor name, or "<node>/scratch"
    int tensor = -1;       // tensor id, -1 for scratch
    int node = -1;         // node id for scratch
    int64_t size = 0;      // bytes, multiple of 4
    int64_t offset = 0;    // in the arena, multiple of 4
    int first_step = 0, last_step = 0;  // live interval over schedule positions (inclusive)
  };
  std::vector<Buffer> buffers;
  std::vector<int64_t> live_bytes;  // per schedule step
  int64_t arena_bytes = 0;
  int64_t lower_bound_bytes = 0;    // largest set of simultaneously live buffers
};

struct Totals {
  int64_t macc = 0;
  int64_t rom_bytes = 0;
  int64_t activations_bytes = 0;  // the arena
  int64_t io_bytes = 0;           // inputs/outputs outside the arena (0: they live inside)
  int64_t ram_bytes = 0;          // activations + io
  int64_t ram_lower_bound_bytes = 0;
  std::map<std::string, int64_t> op_types;  // op type -> MACC
};

// Move-only: it holds every weight of the model, and a copy is never what a consumer needs
// (share one through a pointer, as the GUI does).
struct CompileResult {
  CompileResult() = default;
  CompileResult(CompileResult&&) = default;
  CompileResult& operator=(CompileResult&&) = default;
  CompileResult(const CompileResult&) = delete;
  CompileResult& operator=(const CompileResult&) = delete;

  Model model;
  CompileOptions options;
  Graph graph;
  std::vector<int> schedule;  // ids of nodes that execute, in order
  MemoryPlan plan;
  Totals totals;
};

// Runs the whole pipeline (pipeline(), in order). Throws ModelError when the model is unusable
// (bad shapes, missing weights, ...). Layers the compiler cannot deploy are reported as
// `unsupported`, not thrown. `after_pass`, when given, sees the graph after every pass.
using PassObserver = std::function<void(const std::string& pass, const CompileResult&)>;
CompileResult compile(Model model, const CompileOptions& options = {}, const PassObserver& after_pass = {});

// The compiler's passes in the order compile() runs them: name and one line on what it does.
struct PassInfo {
  std::string name, does;
};
std::vector<PassInfo> pipeline();

// dump_ir(graph) plus the schedule and memory plan once they exist: the text
// `bitlens analyze --dump-ir=PASS` prints.
std::string dump_ir(const CompileResult& r);

}  // namespace bitlens
