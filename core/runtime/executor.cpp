// Host executor: walks the schedule and runs each node's registered kernel calls (core/ops) on
// one arena laid out by the planner.
#include <cstring>
#include <random>

#include "bitlens/format.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/runtime.hpp"
#include "ops/registry.hpp"

namespace bitlens {

void check_inputs(const CompileResult& c, const std::vector<Array>& inputs) {
  const Graph& g = c.graph;
  if (inputs.size() != g.inputs.size())
    throw ModelError("the model has " + std::to_string(g.inputs.size()) + " input(s), " +
                     std::to_string(inputs.size()) + " given");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = g.tensors[g.inputs[i]];
    const Array& a = inputs[i];
    bool ok = a.shape.size() == t.shape.size() + 1 && !a.shape.empty() && a.shape[0] >= 1;
    for (size_t d = 0; ok && d < t.shape.size(); ++d) ok = a.shape[d + 1] == t.shape[d];
    if (!ok) {
      throw ModelError("input '" + t.name + "' has shape " + shape_tuple(a.shape) + " but the model expects " +
                       shape_batch(t.shape) + " float32");
    }
    if (static_cast<int64_t>(a.data.size()) != a.size())
      throw ModelError("input '" + t.name + "' holds " + std::to_string(a.data.size()) + " values, its shape needs " +
                       std::to_string(a.size()));
  }
}

std::vector<Array> random_inputs(const CompileResult& c, uint64_t seed, int batch) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<Array> r;
  for (int t : c.graph.inputs) {
    Array a;
    a.shape = {batch};
    for (auto d : c.graph.tensors[t].shape) a.shape.push_back(d);
    a.data.resize(static_cast<size_t>(a.size()));
    for (auto& x : a.data) x = u(rng);
    r.push_back(std::move(a));
  }
  return r;
}

Executor::Executor(const CompileResult& compiled) : c_(compiled) {
  const Graph& g = c_.graph;
  for (const auto& n : g.nodes)
    if (!n.removed && n.decision.kernel == KernelClass::Unsupported)
      throw ModelError("layer '" + n.name + "' (" + n.class_name + ") is unsupported and cannot run: " +
                       (n.decision.reasons.empty() ? std::string("see 'bitlens analyze'") : n.decision.reasons[0].message));
  check_host_limits(c_, 1);
  arena_.assign(static_cast<size_t>((c_.plan.arena_bytes + 3) / 4 + 1), 0u);
  offset_.assign(g.tensors.size(), -1);
  for (const auto& b : c_.plan.buffers)
    if (b.tensor >= 0) offset_[b.tensor] = b.offset;
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    int s = static_cast<int>(t);
    while (g.tensors[s].alias_of >= 0) s = g.tensors[s].alias_of;
    offset_[t] = offset_[s];
  }
}

void* Executor::addr(int tensor) {
  if (offset_[tensor] < 0) throw ModelError("internal: tensor '" + c_.graph.tensors[tensor].name + "' has no buffer");
  return reinterpret_cast<char*>(arena_.data()) + offset_[tensor];
}

std::vector<Array> Executor::run(const std::vector<Array>& inputs) {
  check_inputs(c_, inputs);
  const Graph& g = c_.graph;
  const int64_t batch = inputs.empty() ? 1 : inputs[0].shape[0];
  for (const auto& a : inputs)
    if (a.shape[0] != batch) throw ModelError("all inputs must have the same batch size");
  check_host_limits(c_, batch);
  std::vector<Array> outs;
  for (int t : g.outputs) {
    Array a;
    a.shape = {batch};
    for (auto d : g.tensors[t].shape) a.shape.push_back(d);
    a.data.resize(static_cast<size_t>(a.size()));
    outs.push_back(std::move(a));
  }
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<const float*> in;
    for (size_t i = 0; i < inputs.size(); ++i)
      in.push_back(inputs[i].data.data() + b * g.tensors[g.inputs[i]].elements());
    std::vector<float*> out;
    for (size_t i = 0; i < outs.size(); ++i)
      out.push_back(outs[i].data.data() + b * g.tensors[g.outputs[i]].elements());
    run_one(in, out);
  }
  return outs;
}

void Executor::run_one(const std::vector<const float*>& in, const std::vector<float*>& out) {
  const Graph& g = c_.graph;
  for (size_t i = 0; i < in.size(); ++i)
    std::memcpy(addr(g.inputs[i]), in[i], static_cast<size_t>(g.tensors[g.inputs[i]].bytes()));
  std::vector<char*> scratch(g.nodes.size(), nullptr);
  for (const auto& b : c_.plan.buffers)
    if (b.tensor < 0) scratch[b.node] = reinterpret_cast<char*>(arena_.data()) + b.offset;

  struct Arena : ops::HostEnv {
    Executor* ex;
    std::vector<char*>* scratch_of;
    void* tensor(int t) override { return ex->addr(t); }
    void* scratch(int node) override { return (*scratch_of)[static_cast<size_t>(node)]; }
  } env;
  env.ex = this;
  env.scratch_of = &scratch;
  for (int id : c_.schedule) {
    const Node& n = g.nodes[id];
    ops::Step step(g, n, env);
    ops::kernel_for(g, n).describe(step);
    if (observer_) observer_(id, addr(n.outputs[0]), g.tensors[n.outputs[0]].bytes());
  }
  for (size_t i = 0; i < out.size(); ++i)
    std::memcpy(out[i], addr(g.outputs[i]), static_cast<size_t>(g.tensors[g.outputs[i]].bytes()));
}

}  // namespace bitlens
