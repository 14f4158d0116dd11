// The compiler pipeline: overrides, then every pass in order, then costs and the memory plan.
#include <set>

#include "bitlens/compiler.hpp"
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

static bool has_pad_values(const Layer& l) {
  static const std::set<std::string> k = {"QuantConv2D", "QuantDepthwiseConv2D", "QuantSeparableConv2D",
                                          "QuantConv1D", "QuantConv3D", "QuantConv2DTranspose",
                                          "QuantConv3DTranspose"};
  return k.count(l.class_name) > 0 || (l.config.is_object() && l.config.contains("pad_values"));
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

CompileResult compile(Model model, const CompileOptions& options) {
  CompileResult r;
  r.model = std::move(model);
  r.options = options;
  apply_overrides(r.model, options);
  r.graph = passes::import_model(r.model);
  passes::strip_training_only(r.graph);
  passes::fold_epilogues(r.graph);
  passes::select_kernels(r.graph);
  passes::lower_constants(r.graph);
  passes::compute_costs(r.graph);
  r.schedule = passes::make_schedule(r.graph);
  r.plan = passes::plan_memory(r.graph, r.schedule);
  passes::mark_host_limits(r);

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
  return r;
}

}  // namespace bitlens
