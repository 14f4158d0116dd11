// Pass: lower constants into the kernel library's layouts — packed weight bits, integer
// thresholds (exact: derived by evaluating the float model's own expression at every integer
// dot product), per-channel mul/add, and AND/OR masks of bit max-pools.
#include <algorithm>
#include <cmath>

#include "passes/passes.hpp"

namespace bitlens::passes {
namespace {

// The float value the Keras model computes from the dot product d, for channel c: the same
// float32 operations in the same order as the reference interpreter (bias add, scale, BatchNorm
// as x * inv + shift, clamps), one rounding per operation — never folded in double, so a
// bias + BatchNorm chain lands on the same side of 0 as Keras' step-by-step float32 graph.
// fp-contract is off for the whole build, so no FMA sneaks in. `from` skips leading steps.
float eval_chain(const std::vector<PostOp>& chain, size_t c, float v, size_t from = 0) {
  for (size_t i = from; i < chain.size(); ++i) {
    const PostOp& op = chain[i];
    switch (op.kind) {
      case PostOp::Kind::Bias: v = v + op.a[c]; break;
      case PostOp::Kind::Scale: v = v * op.a[c]; break;
      case PostOp::Kind::BatchNorm: {
        const float t = v * op.a[c];
        v = t + op.b[c];
        break;
      }
      case PostOp::Kind::Clamp: v = std::min(std::max(v, op.lo), op.hi); break;
    }
  }
  return v;
}

// Sign of the slope of chain[from..] for channel c: +1, -1, or 0 (constant).
int chain_direction(const std::vector<PostOp>& chain, size_t from, size_t c) {
  int s = 1;
  for (size_t i = from; i < chain.size(); ++i) {
    const auto& op = chain[i];
    if (op.kind == PostOp::Kind::Scale || op.kind == PostOp::Kind::BatchNorm) {
      if (op.a[c] == 0.0f) return 0;
      if (op.a[c] < 0.0f) s = -s;
    }
  }
  return s;
}

int64_t dot_length(const Graph& g, const Node& n) {
  const int64_t cin = g.tensors[n.inputs[0]].shape.back();
  if (n.op == Op::Conv2D) return int64_t{n.conv.kh} * n.conv.kw * (cin / n.conv.groups);
  if (n.op == Op::DepthwiseConv2D) return int64_t{n.conv.kh} * n.conv.kw;
  return cin;  // dense
}

void set_bit(std::vector<uint32_t>& v, size_t word0, size_t bit) {
  v[word0 + bit / 32] |= uint32_t{1} << (bit % 32);
}

void pack_weights(const Graph& g, Node& n) {
  const auto& a = n.conv;
  const int64_t cin = g.tensors[n.inputs[0]].shape.back();
  const auto& w = n.weights;
  n.weight_bits.clear();
  if (n.op == Op::Conv2D) {
    // Keras' grouped kernel (kh, kw, cin/groups, filters) is already one filter's taps in the
    // kernel's (kh, kw, ci) order, ci over its group's channels.
    const int64_t co = a.filters, bits = int64_t{a.kh} * a.kw * (cin / a.groups), wpf = (bits + 31) / 32;
    n.weight_bits.assign(static_cast<size_t>(co * wpf), 0u);
    for (int64_t t = 0; t < bits; ++t)
      for (int64_t o = 0; o < co; ++o)
        if (w[t * co + o] < 0) set_bit(n.weight_bits, o * wpf, t);
  } else if (n.op == Op::DepthwiseConv2D) {
    const int64_t m = a.depth_multiplier, cw = (cin + 31) / 32;
    n.weight_bits.assign(static_cast<size_t>(m * a.kh * a.kw * cw), 0u);
    for (int64_t kh = 0; kh < a.kh; ++kh)
      for (int64_t kw = 0; kw < a.kw; ++kw)
        for (int64_t c = 0; c < cin; ++c)
          for (int64_t j = 0; j < m; ++j)
            if (w[((kh * a.kw + kw) * cin + c) * m + j] < 0)
              set_bit(n.weight_bits, ((j * a.kh + kh) * a.kw + kw) * cw, c);
  } else {
    const int64_t co = a.filters, words = (cin + 31) / 32;
    n.weight_bits.assign(static_cast<size_t>(co * words), 0u);
    for (int64_t i = 0; i < cin; ++i)
      for (int64_t o = 0; o < co; ++o)
        if (w[i * co + o] < 0) set_bit(n.weight_bits, o * words, i);
  }
}

// int8 kernels: the weight integers in the kernel's layout, the accumulator offset of an input
// stored as q - offset, and the sum's scale 1/(L*m) as the output stage's first step (the
// integer definition, sem::int8_product_scale).
void lower_int8(const Graph& g, Node& n) {
  const Tensor& x = g.tensors[n.inputs[0]];
  if (x.format != Format::S8) throw ModelError("internal: int8 layer '" + n.name + "' reads a tensor that is not int8");
  const int32_t m = sem::int8_weight_denominator(n.conv.kernel_q.spec);
  const auto& w = n.weights;
  auto q = [&](size_t i) {
    const int8_t v = sem::int8_weight(w[i], m);
    if (std::fabs(static_cast<double>(w[i]) * m - v) > 1e-3)
      throw ModelError("internal: weight " + std::to_string(w[i]) + " of '" + n.name + "' is not a level over " +
                       std::to_string(m));
    return v;
  };
  const int64_t co = g.tensors[n.outputs[0]].shape.back();
  n.weights_s8.assign(w.size(), 0);
  std::vector<int64_t> sum(static_cast<size_t>(co), 0);
  if (n.op == Op::DepthwiseConv2D) {  // Keras' [kh][kw][cin][dm] is the kernel's layout; o = c * dm + j
    for (size_t i = 0; i < w.size(); ++i) {
      n.weights_s8[i] = q(i);
      sum[i % static_cast<size_t>(co)] += n.weights_s8[i];
    }
  } else {  // Keras' [taps][co] becomes one contiguous row of taps per output channel
    const int64_t taps = static_cast<int64_t>(w.size()) / co;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t o = 0; o < co; ++o) {
        const int8_t v = q(static_cast<size_t>(t * co + o));
        n.weights_s8[static_cast<size_t>(o * taps + t)] = v;
        sum[static_cast<size_t>(o)] += v;
      }
  }
  n.acc_init.clear();
  if (x.s8.offset != 0)
    for (int64_t o = 0; o < co; ++o) n.acc_init.push_back(static_cast<int32_t>(x.s8.offset * sum[static_cast<size_t>(o)]));
  const float scale = sem::int8_product_scale(x.s8.levels, m);
  n.epi.chain.insert(n.epi.chain.begin(),
                     PostOp{PostOp::Kind::Scale, std::vector<float>(static_cast<size_t>(co), scale), {}, 0, 0, n.name + "/int8"});
}

}  // namespace

// The chain as the kernels' output steps y = y * mul + add: Keras' own float32 operations, in
// its order. A scale followed by a bias shares a step (y * alpha + bias is exactly those two
// operations); a BatchNorm (x * inv + shift, as tf.nn.batch_normalization) is a step of its own.
std::vector<AffineStep> affine_steps(const std::vector<PostOp>& chain) {
  std::vector<AffineStep> steps;
  for (const auto& op : chain) {
    switch (op.kind) {
      case PostOp::Kind::Scale: steps.push_back({&op.a, nullptr}); break;
      case PostOp::Kind::Bias:
        if (!steps.empty() && steps.back().add == nullptr)
          steps.back().add = &op.a;
        else
          steps.push_back({nullptr, &op.a});
        break;
      case PostOp::Kind::BatchNorm: steps.push_back({&op.a, &op.b}); break;
      case PostOp::Kind::Clamp: break;
    }
  }
  return steps;
}

namespace {

// y = clamp(step2(step1(acc))): the fold pass leaves at most two affine steps for a float
// output stage, so nothing is pre-composed in another rounding order than Keras'. A clamp
// followed by an affine step (ReLU then BatchNorm, integer kernels only: fold.cpp) becomes the
// mid clamp; its steps before it form step 1 (none: step 1 is empty, i.e. v * 1 + 0, which is
// v for an integer kernel's acc, never -0).
void lower_affine(Node& n) {
  auto& e = n.epi;
  size_t mid = e.chain.size();  // position of a clamp with an affine step after it
  for (size_t i = 0; i < e.chain.size(); ++i)
    if (e.chain[i].kind == PostOp::Kind::Clamp)
      for (size_t j = i + 1; j < e.chain.size(); ++j)
        if (e.chain[j].kind != PostOp::Kind::Clamp && mid == e.chain.size()) mid = i;
  e.mid_clamp = mid < e.chain.size();
  for (size_t i = 0; i < e.chain.size(); ++i) {
    const auto& op = e.chain[i];
    if (op.kind != PostOp::Kind::Clamp) continue;
    if (i == mid) {
      e.mid_min = op.lo;
      e.mid_max = op.hi;
    } else {
      e.act_min = std::max(e.act_min, op.lo);
      e.act_max = std::min(e.act_max, op.hi);
    }
  }
  std::vector<AffineStep> steps;
  // the steps point into these copies, which live until the vectors are taken below
  std::vector<PostOp> before, after;
  if (e.mid_clamp) {
    before.assign(e.chain.begin(), e.chain.begin() + static_cast<std::ptrdiff_t>(mid));
    after.assign(e.chain.begin() + static_cast<std::ptrdiff_t>(mid) + 1, e.chain.end());
    auto a = affine_steps(before), b = affine_steps(after);
    if (a.size() > 1 || b.size() != 1)
      throw ModelError("internal: '" + n.name + "' has a clamp between affine steps it cannot run");
    if (a.empty()) a.push_back({nullptr, nullptr});
    steps = {a[0], b[0]};
  } else {
    steps = affine_steps(e.chain);
  }
  if (steps.size() > kMaxOutputSteps)
    throw ModelError("internal: '" + n.name + "' has " + std::to_string(steps.size()) + " affine output steps");
  auto take = [](const std::vector<float>* v) { return v ? *v : std::vector<float>{}; };
  e.mul = steps.size() > 0 ? take(steps[0].mul) : std::vector<float>{};
  e.add = steps.size() > 0 ? take(steps[0].add) : std::vector<float>{};
  e.mul2 = steps.size() > 1 ? take(steps[1].mul) : std::vector<float>{};
  e.add2 = steps.size() > 1 ? take(steps[1].add) : std::vector<float>{};
}

// The smallest float >= x and the largest float <= x.
float float_up(double x) {
  float f = static_cast<float>(x);
  return static_cast<double>(f) < x ? std::nextafter(f, INFINITY) : f;
}
float float_down(double x) {
  float f = static_cast<float>(x);
  return static_cast<double>(f) > x ? std::nextafter(f, -INFINITY) : f;
}

// magnitude_aware_sign weights: Keras sums the n products +-alpha of a dot product in an order
// it does not define (TF's CPU and GPU convolutions differ); BitLens (compiler and reference)
// uses the exactly rounded sum float(d * alpha). Any float32 summation of those exact products
// — any order or tree, with or without FMA — lies within E = gamma_{n-1} * n * alpha of
// d * alpha (the recursive-summation bound, Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., eq. 4.4; gamma_k = k u / (1 - k u), u = 2^-24). A channel's decision is
// order-dependent when, for some attainable d, the floats within E of d * alpha straddle the
// threshold; the chain after the scale is monotone, so the two ends of that interval decide.
// Returns how many channels have such a d.
int64_t order_dependent_channels(const Node& n, int64_t N, int64_t channels) {
  const auto& chain = n.epi.chain;
  if (n.conv.kernel_q.kind != Quantizer::Kind::MagnitudeAwareSign || chain.empty() ||
      chain[0].kind != PostOp::Kind::Scale)
    return 0;
  const double u = std::ldexp(1.0, -24), k = static_cast<double>(N - 1);
  if (k * u >= 0.5) return channels;  // no useful bound (never for real layer sizes)
  const double gamma = k * u / (1.0 - k * u);
  // Zero padding leaves border taps out of the sum, so d can have either parity there; otherwise
  // d = (#agreeing) - (#disagreeing) has the parity of N.
  const bool any_parity = n.conv.same && n.conv.pad_value == 0.0f;
  auto attainable = [&](int64_t lo, int64_t hi) {  // attainable d in [lo, hi)
    if (hi <= lo) return int64_t{0};
    if (any_parity) return hi - lo;
    auto first = [&](int64_t x) { return ((x - N) % 2 + 2) % 2 == 0 ? x : x + 1; };
    const int64_t f = first(lo);
    return f >= hi ? 0 : (hi - 1 - f) / 2 + 1;
  };
  int64_t dependent = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const double alpha = chain[0].a[c];
    // Slightly inflated so that the rounding of this double expression cannot shrink it.
    const double E = gamma * static_cast<double>(N) * alpha * (1.0 + 1e-12);
    auto bit = [&](float v) { return eval_chain(chain, c, v, 1) < 0.0f; };
    auto h_lo = [&](int64_t d) { return bit(float_up(static_cast<double>(d) * alpha - E)); };
    auto h_hi = [&](int64_t d) { return bit(float_down(static_cast<double>(d) * alpha + E)); };
    // Both are monotone in d in the same direction: each switches at most once.
    auto first_switch = [&](auto&& h) {
      const bool start = h(-N);
      if (h(N) == start) return N + 1;
      int64_t l = -N, r = N;  // h(l) == start, h(r) != start
      while (r - l > 1) {
        const int64_t mid = l + (r - l) / 2;
        (h(mid) == start ? l : r) = mid;
      }
      return r;
    };
    const bool lo0 = h_lo(-N), hi0 = h_hi(-N);
    const int64_t p_lo = first_switch(h_lo), p_hi = first_switch(h_hi);
    int64_t pts[4] = {-N, std::min(p_lo, p_hi), std::max(p_lo, p_hi), N + 1};
    int64_t count = 0;
    for (int s = 0; s < 3; ++s) {
      const int64_t a = pts[s], b = pts[s + 1];
      if (a >= b) continue;
      const bool l = a >= p_lo ? !lo0 : lo0, h = a >= p_hi ? !hi0 : hi0;
      if (l != h) count += attainable(a, b);
    }
    dependent += count > 0;
  }
  return dependent;
}

void lower_thresholds(const Graph& g, Node& n, int64_t channels) {
  auto& e = n.epi;
  const int64_t N = dot_length(g, n);
  e.threshold.assign(channels, 0);
  e.flip.assign((channels + 31) / 32, 0u);
  bool any_flip = false;
  for (int64_t c = 0; c < channels; ++c) {
    auto bit = [&](int64_t d) { return eval_chain(e.chain, c, static_cast<float>(d)) < 0.0f; };
    const bool lo = bit(-N), hi = bit(N);
    if (lo == hi) {
      e.threshold[c] = static_cast<int32_t>(lo ? N + 1 : -N);  // constant: always / never
      continue;
    }
    // bit() is monotone in d (every step is monotone): binary search the first d where it
    // equals `hi`.
    int64_t l = -N, r = N;  // bit(l) == lo, bit(r) == hi
    while (r - l > 1) {
      const int64_t mid = l + (r - l) / 2;
      (bit(mid) == lo ? l : r) = mid;
    }
    if (lo) {
      e.threshold[c] = static_cast<int32_t>(r);  // bit = d < r
    } else {
      e.threshold[c] = static_cast<int32_t>(r - 1);  // bit = d >= r  <=>  d > r - 1
      e.flip[c / 32] |= uint32_t{1} << (c % 32);
      any_flip = true;
    }
  }
  if (!any_flip) e.flip.clear();
  if (const int64_t k = order_dependent_channels(n, N, channels); k > 0)
    n.decision.reasons.push_back(make_reason("MAS_SUM_ORDER", {std::to_string(k), std::to_string(channels), n.name}));
}

}  // namespace

bool lower_constants(Graph& g) {
  for (auto& n : g.nodes) {
    if (n.removed) continue;
    const bool weighted = n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense;
    if (!weighted) continue;
    const auto k = n.decision.kernel;
    if (k != KernelClass::Binary && k != KernelClass::BinaryWeights && k != KernelClass::Float && k != KernelClass::Int8)
      continue;
    const int64_t channels = g.tensors[n.outputs[0]].shape.back();
    if (k == KernelClass::Int8) lower_int8(g, n);
    else if (k != KernelClass::Float) pack_weights(g, n);
    if (n.epi.bits && k == KernelClass::Binary)
      lower_thresholds(g, n, channels);
    else
      lower_affine(n);

    // Bit max-pools between this node and its binarizing consumers: AND where the steps after
    // the pool increase with the value, OR where they decrease (max becomes min).
    for (const auto& p : n.epi.pools) {
      Node& pool = g.nodes[p.node];
      pool.or_mask.assign((channels + 31) / 32, 0u);
      bool any = false;
      for (int64_t c = 0; c < channels; ++c)
        if (chain_direction(n.epi.chain, p.chain_pos, c) < 0) {
          pool.or_mask[c / 32] |= uint32_t{1} << (c % 32);
          any = true;
        }
      if (!any) pool.or_mask.clear();
    }
  }
  // Unfused BatchNorm and constant arithmetic run as bl_affine_f32.
  for (auto& n : g.nodes) {
    if (n.removed || n.decision.kernel != KernelClass::Float) continue;
    if (n.op == Op::BatchNorm) {
      n.epi.mul = n.epi.chain.at(0).a;
      n.epi.add = n.epi.chain.at(0).b;
    }
  }
  return true;
}

}  // namespace bitlens::passes
