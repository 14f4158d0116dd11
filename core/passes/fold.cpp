// Pass: fold bias/BatchNorm/activations into conv and dense output stages; decide bit-packed
// outputs when every consumer binarizes.
#include <algorithm>
#include <cmath>

#include "passes/passes.hpp"

namespace bitlens::passes {

namespace {

bool is_weighted(const Node& n) {
  return n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense;
}

// The single live consumer of tensor t, or nullptr.
Node* single_consumer(Graph& g, int t) {
  const Tensor& tt = g.tensors[t];
  if (tt.model_output || tt.consumers.size() != 1) return nullptr;
  Node& c = g.nodes[tt.consumers[0]];
  return c.removed ? nullptr : &c;
}

// A node that can be folded as an element-wise monotone step of the output stage.
bool foldable_step(const Node& q, PostOp& op) {
  if (q.op == Op::BatchNorm) {
    op = q.epi.chain.at(0);
    return true;
  }
  if (q.op == Op::Activation) {
    float lo, hi;
    if (q.act.clamp(lo, hi)) {
      op = PostOp{PostOp::Kind::Clamp, {}, {}, lo, hi, q.name};
      return true;
    }
  }
  return false;
}

bool sign_consumer(const Node& c) {
  return is_weighted(c) && c.conv.input_q.sign_like() && c.decision.kernel != KernelClass::Unsupported;
}

// Can every use of tensor t be served from bits? Collects MaxPools (with the BN/activation
// steps after each) on the way.
struct BitsPlan {
  std::vector<int> pools;
  std::vector<std::vector<int>> after_pool;  // folded nodes after each pool
  std::vector<int> signs;                    // sign steps whose bits the layer writes itself
};

// A conv/dense layer without an input quantizer whose input is the -1/+1 output of a sign
// step (QKeras: QActivation("binary") before QConv2D/QDense), possibly through Flatten views and
// max-pools, runs as if its input quantizer were a sign: sign(+-1) = +-1, so its values are unchanged, and
// the binary kernels read the step's bits.
void inherit_sign_inputs(Graph& g) {
  for (Node& n : g.nodes) {
    if (n.removed || (n.op != Op::Conv2D && n.op != Op::DepthwiseConv2D && n.op != Op::Dense) ||
        n.conv.input_q.kind != Quantizer::Kind::None || n.decision.kernel == KernelClass::Unsupported)
      continue;
    int p = g.tensors[n.inputs.at(0)].producer;
    // A Flatten view, and a max-pool: the maximum of -1/+1 values is one of them.
    while (p >= 0 && (g.nodes[p].op == Op::Flatten || g.nodes[p].op == Op::MaxPool))
      p = g.tensors[g.nodes[p].inputs.at(0)].producer;
    if (p < 0 || g.nodes[p].op != Op::Quantize || !g.nodes[p].quant.qkeras_sign() ||
        g.nodes[p].decision.kernel == KernelClass::Unsupported)
      continue;
    n.conv.input_q.kind = Quantizer::Kind::Sign;
    n.conv.input_q.name = g.nodes[p].quant.name;
    n.decision.reasons.push_back(make_reason("INPUT_SIGNS_FROM_LAYER", {n.name, quantizer_text(g.nodes[p].quant), g.nodes[p].name}));
  }
}

bool collect_bits(Graph& g, int t, BitsPlan& plan) {
  const Tensor& tt = g.tensors[t];
  if (tt.model_output || tt.consumers.empty()) return false;
  for (int cid : tt.consumers) {
    Node& c = g.nodes[cid];
    if (c.removed) continue;
    if (sign_consumer(c)) continue;
    // A sign step (QActivation("binary")): the layer's bits are its output.
    if (c.op == Op::Quantize && c.quant.qkeras_sign() && c.decision.kernel != KernelClass::Unsupported) {
      if (!collect_bits(g, c.outputs[0], plan)) return false;
      plan.signs.push_back(cid);
      continue;
    }
    if (c.op == Op::Flatten) {
      if (!collect_bits(g, c.outputs[0], plan)) return false;
      continue;
    }
    // A concatenation whose every reader binarizes it runs on bits (passes/select.cpp,
    // concat_on_bits), where this input would be packed anyway: the layer writes the bits.
    if (c.op == Op::Concat && c.decision.kernel != KernelClass::Unsupported) {
      const Tensor& ct = g.tensors[c.outputs[0]];
      if (ct.model_output || ct.consumers.empty()) return false;
      for (int r : ct.consumers)
        if (g.nodes[r].removed || !sign_consumer(g.nodes[r])) return false;
      continue;
    }
    if (c.op == Op::MaxPool && tt.consumers.size() == 1) {
      plan.pools.push_back(c.id);
      plan.after_pool.emplace_back();
      int cur = c.outputs[0];
      PostOp op;
      for (Node* q = single_consumer(g, cur); q && foldable_step(*q, op); q = single_consumer(g, cur)) {
        plan.after_pool.back().push_back(q->id);
        cur = q->outputs[0];
      }
      if (!collect_bits(g, cur, plan)) return false;
      continue;
    }
    return false;
  }
  return true;
}

// Can the kernels' float output stage run the chain in Keras' own float32 order? At most
// kMaxOutputSteps affine steps (lower.cpp), then one clamp last.
bool affine_then_clamp(const std::vector<PostOp>& chain) {
  for (size_t i = 0; i < chain.size(); ++i)
    if (chain[i].kind == PostOp::Kind::Clamp && i + 1 != chain.size()) return false;
  return affine_steps(chain).size() <= kMaxOutputSteps;
}

bool integer_kernel(const Node& n) {
  return n.conv.input_q.sign_like() && n.conv.kernel_q.binary_weights();
}

// Or, for an integer kernel's float output: at most one affine step, a clamp, exactly one affine
// step, then clamps only (ReLU then BatchNorm, as QuickNet's blocks compute). The kernels run it
// as step 1, the mid clamp, step 2 (lower.cpp); an empty step 1 is v * 1 + 0, which is v for an
// integer accumulator (never -0), so this stays Keras' float32 operations in Keras' order.
bool clamp_between_steps(const std::vector<PostOp>& chain) {
  size_t mid = chain.size();
  for (size_t i = 0; i < chain.size() && mid == chain.size(); ++i)
    if (chain[i].kind == PostOp::Kind::Clamp)
      for (size_t j = i + 1; j < chain.size(); ++j)
        if (chain[j].kind != PostOp::Kind::Clamp) {
          mid = i;
          break;
        }
  if (mid == chain.size()) return false;
  const std::vector<PostOp> before(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(mid));
  const std::vector<PostOp> after(chain.begin() + static_cast<std::ptrdiff_t>(mid) + 1, chain.end());
  return affine_steps(before).size() <= 1 && affine_steps(after).size() == 1 && affine_then_clamp(after);
}

}  // namespace

bool fold_epilogues(Graph& g) {
  inherit_sign_inputs(g);
  bool changed = false;
  for (auto& p : g.nodes) {
    if (p.removed || !is_weighted(p) || p.decision.kernel == KernelClass::Unsupported) continue;

    // The layer's own activation.
    float lo, hi;
    bool activation_pending = false;
    if (p.act.clamp(lo, hi)) {
      p.epi.chain.push_back({PostOp::Kind::Clamp, {}, {}, lo, hi, p.name});
      p.activation = "linear";
      p.act = ActParams{};
    } else if (!p.act.linear()) {
      activation_pending = true;  // sigmoid/tanh/softmax/...: applied in place after the kernel
    }
    if (activation_pending) continue;

    // Direct chain: BN / ReLU right after the layer.
    std::vector<int> direct;
    std::vector<PostOp> chain = p.epi.chain;
    int cur = p.outputs[0];
    PostOp op;
    for (Node* q = single_consumer(g, cur); q && foldable_step(*q, op); q = single_consumer(g, cur)) {
      direct.push_back(q->id);
      chain.push_back(op);
      cur = q->outputs[0];
    }

    BitsPlan plan;
    const bool bits = collect_bits(g, cur, plan) &&
                      (integer_kernel(p) || [&] {
                        // Float-accumulating kernels compute y = clamp(acc*mul + add) and take
                        // its sign: the whole chain must have that form.
                        std::vector<PostOp> full = chain;
                        for (size_t k = 0; k < plan.pools.size(); ++k)
                          for (int id : plan.after_pool[k]) {
                            PostOp o;
                            foldable_step(g.nodes[id], o);
                            full.push_back(o);
                          }
                        return affine_then_clamp(full);
                      }());

    auto fuse = [&](int id) {
      Node& q = g.nodes[id];
      g.bypass(q);
      q.decision.kernel = KernelClass::Fused;
      q.decision.fused_into = p.name;
      q.decision.reasons.push_back(
          make_reason("FUSED", {p.name, bits ? "into its integer thresholds" : "into its output stage"}));
      changed = true;
    };

    if (bits) {
      p.epi.chain = chain;
      for (int id : direct) fuse(id);
      for (int id : plan.signs) fuse(id);
      for (size_t k = 0; k < plan.pools.size(); ++k) {
        p.epi.pools.push_back({plan.pools[k], p.epi.chain.size()});
        for (int id : plan.after_pool[k]) {
          PostOp o;
          foldable_step(g.nodes[id], o);
          p.epi.chain.push_back(o);
          fuse(id);
        }
      }
      p.epi.bits = true;
      changed = true;
      continue;
    }

    // Float output: fold the prefix of the direct chain that keeps a form the output stage runs.
    for (size_t k = 0; k < direct.size(); ++k) {
      std::vector<PostOp> trial = p.epi.chain;
      PostOp o;
      foldable_step(g.nodes[direct[k]], o);
      trial.push_back(o);
      if (!affine_then_clamp(trial) && !(integer_kernel(p) && clamp_between_steps(trial))) break;
      p.epi.chain = trial;
      fuse(direct[k]);
    }
  }
  return changed;
}

}  // namespace bitlens::passes
