// Memory planner: every activation tensor and scratch buffer gets an offset in one arena, by
// liveness over the schedule (greedy by size, as TFLite Micro's planner). Model inputs and
// outputs live inside the arena. Views (Flatten/Reshape) share their source's buffer.
#include <algorithm>

#include "passes/passes.hpp"

namespace bitlens::passes {

MemoryPlan plan_memory(const Graph& g, const std::vector<int>& schedule) {
  MemoryPlan plan;
  const int steps = static_cast<int>(schedule.size());
  std::vector<int> pos(g.nodes.size(), -1);
  for (int i = 0; i < steps; ++i) pos[schedule[i]] = i;

  auto storage = [&](int t) {
    while (g.tensors[t].alias_of >= 0) t = g.tensors[t].alias_of;
    return t;
  };
  // Live interval of each storage tensor.
  std::vector<int> first(g.tensors.size(), steps), last(g.tensors.size(), -1);
  auto touch = [&](int t, int step) {
    const int s = storage(t);
    first[s] = std::min(first[s], step);
    last[s] = std::max(last[s], step);
  };
  for (int t : g.inputs) touch(t, 0);
  for (int t : g.outputs) touch(t, std::max(steps - 1, 0));
  for (int i = 0; i < steps; ++i) {
    const Node& n = g.nodes[schedule[i]];
    for (int t : n.inputs) touch(t, i);
    for (int t : n.outputs) touch(t, i);
  }
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (last[t] < 0 || static_cast<int>(t) != storage(static_cast<int>(t))) continue;
    // A model output of unknown shape (after an unsupported layer) gets no buffer: its size
    // would be a guess, and nothing that runs writes it.
    if (!g.tensors[t].shape_known) continue;
    MemoryPlan::Buffer b;
    b.name = g.tensors[t].name;
    b.tensor = static_cast<int>(t);
    b.size = g.tensors[t].bytes();
    b.first_step = first[t];
    b.last_step = last[t];
    plan.buffers.push_back(b);
  }
  for (int i = 0; i < steps; ++i) {
    const Node& n = g.nodes[schedule[i]];
    if (n.scratch_bytes <= 0) continue;
    MemoryPlan::Buffer b;
    b.name = n.name + "/scratch";
    b.node = n.id;
    b.size = n.scratch_bytes;
    b.first_step = b.last_step = i;
    plan.buffers.push_back(b);
  }

  // Greedy by size: largest first, lowest offset that does not collide with an already placed
  // buffer whose lifetime overlaps.
  std::vector<size_t> order(plan.buffers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan.buffers[a].size > plan.buffers[b].size;
  });
  std::vector<size_t> placed;
  for (size_t idx : order) {
    auto& b = plan.buffers[idx];
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t p : placed) {
      const auto& o = plan.buffers[p];
      if (o.last_step < b.first_step || o.first_step > b.last_step) continue;
      busy.push_back({o.offset, o.offset + o.size});
    }
    std::sort(busy.begin(), busy.end());
    int64_t off = 0;
    for (const auto& [s, e] : busy) {
      if (off + b.size <= s) break;
      off = std::max(off, e);
    }
    b.offset = off;
    plan.arena_bytes = std::max(plan.arena_bytes, off + b.size);
    placed.push_back(idx);
  }

  plan.live_bytes.assign(std::max(steps, 1), 0);
  for (const auto& b : plan.buffers)
    for (int s = b.first_step; s <= b.last_step && s < static_cast<int>(plan.live_bytes.size()); ++s)
      plan.live_bytes[s] += b.size;
  plan.lower_bound_bytes = *std::max_element(plan.live_bytes.begin(), plan.live_bytes.end());
  return plan;
}

}  // namespace bitlens::passes
