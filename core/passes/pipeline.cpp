// The compiler pipeline: overrides, then every pass in the order of kPipeline.

#include "bitlens/compiler.hpp"
#include "bitlens/layer_table.hpp"
#include "passes/passes.hpp"

namespace bitlens {

CompileOptions::Set parse_set_option(const std::string& text) {
  const auto eq = text.find('=');
  const auto dot = text.rfind('.', eq);
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 >= eq)
    throw ModelError("--set '" + text + "' is not of the form LAYER.KEY=VALUE (e.g. quant_conv2d.pad_values=1)");
  CompileOptions::Set s;
  s.layer = text.substr(0, dot);
  s.key = text.substr(dot + 1, eq - dot - 1);
  const std::string v = text.substr(eq + 1);
  s.value = json::parse(v, nullptr, false);
  if (s.value.is_discarded()) s.value = v;  // bare word: a string
  return s;
}

// The classes the layer table lists with a pad_values key, and any layer whose saved config has
// one (a class BitLens does not model, which the override still reaches and the report refuses).
static bool has_pad_values(const Layer& l) {
  const LayerInfo* info = find_layer_info(l.class_name);
  return (info && info->find_read("pad_values")) || (l.config.is_object() && l.config.contains("pad_values"));
}

void apply_overrides(Model& model, const CompileOptions& options) {
  if (options.pad_values) {
    const float v = *options.pad_values;
    for (auto& l : model.layers)
      if (has_pad_values(l)) l.config["pad_values"] = static_cast<double>(v);
  }
  for (const auto& s : options.sets) {
    Layer* l = model.find(s.layer);
    if (!l) {
      std::string names;
      for (const auto& x : model.layers)
        if (has_pad_values(x)) names += (names.empty() ? "" : ", ") + x.name;
      throw ModelError("--set: the model has no layer '" + s.layer + "'" +
                       (names.empty() ? std::string() : " (layers with pad_values: " + names + ")"));
    }
    if (s.key == "pad_values") {
      if (!has_pad_values(*l))
        throw ModelError("--set: layer '" + s.layer + "' (" + l->class_name +
                         ") has no pad_values parameter; only Larq Quant conv layers have one");
      if (!s.value.is_number())
        throw ModelError("--set " + s.layer + ".pad_values: value " + s.value.dump() + " is not a number (use -1, 0 or 1)");
    } else if (!l->config.is_object() || !l->config.contains(s.key)) {
      throw ModelError("--set: layer '" + s.layer + "' has no config parameter '" + s.key + "'");
    }
    l->config[s.key] = s.value;
  }
}

namespace {

void totals(CompileResult& r) {
  auto& t = r.totals;
  for (const auto& n : r.graph.nodes) {
    t.macc = passes::sat_add(t.macc, n.macc);
    t.rom_bytes = passes::sat_add(t.rom_bytes, n.rom_bytes);
    if (n.macc > 0 && !n.decision.op_type.empty())
      t.op_types[n.decision.op_type] = passes::sat_add(t.op_types[n.decision.op_type], n.macc);
  }
  t.activations_bytes = r.plan.arena_bytes;
  t.io_bytes = 0;
  t.ram_bytes = t.activations_bytes + t.io_bytes;
  t.ram_lower_bound_bytes = r.plan.lower_bound_bytes;
}

struct Pass {
  const char* name;
  const char* does;
  void (*run)(CompileResult&);
};

// One pass per file (core/passes, core/analysis); this list is the whole pipeline.
const Pass kPipeline[] = {
    {"import", "one node per Keras layer: attributes, quantized weights, shapes (passes/import.cpp)",
     [](CompileResult& r) {
       r.graph = passes::import_model(r.model);
       r.graph.prefer_ram = r.options.prefer_ram;
     }},
    {"strip", "remove training-only layers (passes/strip.cpp)",
     [](CompileResult& r) { passes::strip_training_only(r.graph); }},
    {"fold", "fold bias, BatchNorm and clamps into output stages; decide bit outputs (passes/fold.cpp)",
     [](CompileResult& r) { passes::fold_epilogues(r.graph); }},
    {"select", "choose each node's kernel from the registry; insert pack/unpack (passes/select.cpp)",
     [](CompileResult& r) { passes::select_kernels(r.graph); }},
    {"lower", "lower constants to the kernels' layouts: weight bits, thresholds (passes/lower.cpp)",
     [](CompileResult& r) { passes::lower_constants(r.graph); }},
    {"costs", "MACC, ROM and scratch per node (analysis/costs.cpp)",
     [](CompileResult& r) { passes::compute_costs(r.graph); }},
    {"schedule", "execution order (analysis/schedule.cpp)",
     [](CompileResult& r) { r.schedule = passes::make_schedule(r.graph); }},
    {"memory", "arena offsets of every tensor and scratch buffer (analysis/memory_plan.cpp)",
     [](CompileResult& r) { r.plan = passes::plan_memory(r.graph, r.schedule); }},
    {"limits", "mark layers a host run could not hold (analysis/limits.cpp); totals",
     [](CompileResult& r) {
       passes::mark_host_limits(r);
       totals(r);
     }},
};

}  // namespace

std::vector<PassInfo> pipeline() {
  std::vector<PassInfo> v;
  for (const Pass& p : kPipeline) v.push_back({p.name, p.does});
  return v;
}

CompileResult compile(Model model, const CompileOptions& options, const PassObserver& after_pass) {
  CompileResult r;
  r.model = std::move(model);
  r.options = options;
  apply_overrides(r.model, options);
  for (const Pass& p : kPipeline) {
    p.run(r);
    if (after_pass) after_pass(p.name, r);
  }
  return r;
}

}  // namespace bitlens
