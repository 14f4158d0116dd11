// JSON rendering of a CompileResult (schema: docs/report-format.md).
#include "bitlens/report.hpp"

namespace bitlens {

// null for a shape BitLens cannot know (downstream of an unsupported layer): never a guess.
static json shape_json(const Tensor& t) { return t.shape_known ? json(t.shape) : json(nullptr); }
static json bytes_json(const Tensor& t) { return t.shape_known ? json(t.bytes()) : json(nullptr); }

json json_report(const CompileResult& r) {
  const Graph& g = r.graph;
  json j;
  json model;
  model["file"] = r.model.file.filename().string();
  model["name"] = r.model.name;
  model["class_name"] = r.model.class_name;
  model["keras_version"] = r.model.keras_version;
  model["inputs"] = json::array();
  for (int t : g.inputs)
    model["inputs"].push_back({{"name", g.tensors[t].name}, {"shape", shape_json(g.tensors[t])},
                               {"format", format_name(g.tensors[t].format)}, {"bytes", bytes_json(g.tensors[t])}});
  model["outputs"] = json::array();
  for (int t : g.outputs)
    model["outputs"].push_back({{"name", g.tensors[t].name}, {"shape", shape_json(g.tensors[t])},
                                {"format", format_name(g.tensors[t].format)}, {"bytes", bytes_json(g.tensors[t])}});
  j["model"] = model;

  json overrides = json::object();
  if (r.options.pad_values) overrides["pad_values"] = *r.options.pad_values;
  json sets = json::array();
  for (const auto& s : r.options.sets) sets.push_back({{"layer", s.layer}, {"key", s.key}, {"value", s.value}});
  if (!sets.empty()) overrides["set"] = sets;
  j["overrides"] = overrides;

  std::vector<const Node*> nodes;
  for (const auto& n : g.nodes) nodes.push_back(&n);
  std::stable_sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) { return a->order < b->order; });
  j["layers"] = json::array();
  for (const Node* n : nodes) {
    json l;
    l["name"] = n->name;
    l["layer"] = n->layer;
    l["class_name"] = n->class_name;
    l["inserted"] = n->class_name.empty();
    l["op"] = op_name(n->op);
    l["kernel"] = kernel_class_name(n->decision.kernel);
    l["kernel_function"] = n->decision.kernel_name;
    l["op_type"] = n->decision.op_type;
    l["input_format"] = n->inputs.empty() || n->removed ? json(nullptr) : json(format_name(g.tensors[n->inputs[0]].format));
    l["output_format"] = n->outputs.empty() || n->removed ? json(nullptr) : json(format_name(g.tensors[n->outputs[0]].format));
    l["output_shape"] = n->outputs.empty() ? json::array() : shape_json(g.tensors[n->outputs[0]]);
    l["macc"] = n->macc;
    l["rom_bytes"] = n->rom_bytes;
    l["scratch_bytes"] = n->scratch_bytes;
    l["fused_into"] = n->decision.fused_into.empty() ? json(nullptr) : json(n->decision.fused_into);
    l["reasons"] = json::array();
    for (const auto& re : n->decision.reasons)
      l["reasons"].push_back({{"code", re.code}, {"severity", re.severity == Reason::Severity::Info ? "info" : "warning"},
                              {"message", re.message}, {"fix", re.fix}});
    j["layers"].push_back(l);
  }

  json totals;
  totals["macc"] = r.totals.macc;
  totals["rom_bytes"] = r.totals.rom_bytes;
  totals["activations_bytes"] = r.totals.activations_bytes;
  totals["io_bytes"] = r.totals.io_bytes;
  totals["ram_bytes"] = r.totals.ram_bytes;
  totals["ram_lower_bound_bytes"] = r.totals.ram_lower_bound_bytes;
  totals["op_types"] = r.totals.op_types;
  json kernels = json::object();
  for (const auto& n : g.nodes)
    if (!n.class_name.empty()) kernels[kernel_class_name(n.decision.kernel)] = kernels.value(kernel_class_name(n.decision.kernel), 0) + 1;
  totals["kernels"] = kernels;
  // Present only when some layer is unsupported: those layers have no MACC/ROM/RAM in the
  // totals (their shape may be unknown too), listed so that a reader does not take the totals
  // for the whole model.
  json excluded = json::array();
  for (const auto& n : g.nodes)
    if (!n.class_name.empty() && n.decision.kernel == KernelClass::Unsupported) excluded.push_back(n.name);
  if (!excluded.empty()) totals["not_counted"] = excluded;
  j["totals"] = totals;

  json plan = json::array();
  for (const auto& b : r.plan.buffers)
    plan.push_back({{"name", b.name}, {"offset", b.offset}, {"size", b.size}, {"first_step", b.first_step},
                    {"last_step", b.last_step}, {"scratch", b.tensor < 0}});
  j["memory_plan"] = {{"arena_bytes", r.plan.arena_bytes}, {"lower_bound_bytes", r.plan.lower_bound_bytes},
                      {"live_bytes", r.plan.live_bytes}, {"buffers", plan}};
  json sched = json::array();
  for (int id : r.schedule) sched.push_back(g.nodes[id].name);
  j["schedule"] = sched;
  j["bitlens_version"] = BITLENS_VERSION;
  return j;
}

}  // namespace bitlens
