// Host executor: walks the schedule and calls the C kernels on one arena laid out by the planner.
#include <cstring>
#include <random>

#include "bitlens/limits.hpp"
#include "bitlens/runtime.hpp"
#include "runtime/kernel_params.hpp"

namespace bitlens {

using namespace runtime;

namespace {

std::string shape_text(const std::vector<int64_t>& s, bool batch) {
  std::string r = batch ? "(N" : "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i || batch ? ", " : "") + std::to_string(s[i]);
  return r + ")";
}

void check(bl_status s, const Node& n) {
  if (s != BL_OK)
    throw ModelError("kernel " + n.decision.kernel_name + " rejected the parameters of '" + n.name +
                     "' (status " + std::to_string(static_cast<int>(s)) + "); please report this model");
}

void run_activation(const runtime::ActStep& s, size_t elems, const float* in, float* out, const Node& n) {
  switch (s.kind) {
    case runtime::ActStep::None: return;
    case runtime::ActStep::Softmax: return check(bl_softmax_f32(elems, s.period, in, out), n);
    case runtime::ActStep::LogSoftmax: return check(bl_log_softmax_f32(elems, s.period, in, out), n);
    case runtime::ActStep::Elementwise: return check(bl_activate_f32(elems, s.period, &s.act, in, out), n);
  }
}

}  // namespace

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
      std::string got = "(";
      for (size_t d = 0; d < a.shape.size(); ++d) got += (d ? ", " : "") + std::to_string(a.shape[d]);
      throw ModelError("input '" + t.name + "' has shape " + got + ")" + " but the model expects " +
                       shape_text(t.shape, true) + " float32");
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

  for (int id : c_.schedule) {
    const Node& n = g.nodes[id];
    void* o = addr(n.outputs[0]);
    const Tensor& ot = g.tensors[n.outputs[0]];
    const void* x = n.inputs.empty() ? nullptr : addr(n.inputs[0]);
    const auto* xf = static_cast<const float*>(x);
    const auto* xb = static_cast<const uint32_t*>(x);
    auto* of = static_cast<float*>(o);
    const size_t elems = static_cast<size_t>(ot.elements());
    const int32_t ch = ot.shape.empty() ? 1 : static_cast<int32_t>(ot.shape.back());
    const auto k = n.decision.kernel;
    switch (n.op) {
      case Op::Pack:
        check(bl_pack_f32(elems, ch, nullptr, nullptr, xf, static_cast<uint32_t*>(o)), n);
        break;
      case Op::Unpack:
        check(bl_unpack_s1(elems, xb, of), n);
        break;
      case Op::Conv2D:
        if (k == KernelClass::Binary) {
          const auto p = bconv2d_params(g, n);
          check(bl_bconv2d(&p, xb, o, scratch[id]), n);
        } else if (k == KernelClass::BinaryWeights) {
          const auto p = bwconv2d_params(g, n);
          check(bl_bwconv2d(&p, xf, o, scratch[id]), n);
        } else {
          const auto p = conv2d_params(g, n);
          check(bl_conv2d(&p, xf, o), n);
        }
        break;
      case Op::DepthwiseConv2D:
        if (k == KernelClass::Binary) {
          const auto p = bdepthwise_params(g, n);
          check(bl_bdepthwise(&p, xb, o, scratch[id]), n);
        } else if (k == KernelClass::BinaryWeights) {
          const auto p = bwdepthwise_params(g, n);
          check(bl_bwdepthwise(&p, xf, o), n);
        } else {
          const auto p = depthwise_params(g, n);
          check(bl_depthwise(&p, xf, o), n);
        }
        break;
      case Op::Dense:
        if (k == KernelClass::Binary) {
          const auto p = bdense_params(g, n);
          check(bl_bdense(&p, xb, o, scratch[id]), n);
        } else if (k == KernelClass::BinaryWeights) {
          const auto p = bwdense_params(g, n);
          check(bl_bwdense(&p, xf, o), n);
        } else {
          const auto p = dense_params(g, n);
          check(bl_dense(&p, xf, o), n);
        }
        break;
      case Op::MaxPool: {
        const auto p = pool_params(g, n);
        if (ot.format == Format::S1)
          check(bl_maxpool_s1(&p, xb, static_cast<uint32_t*>(o)), n);
        else
          check(bl_maxpool_f32(&p, xf, of), n);
        break;
      }
      case Op::AvgPool: {
        const auto p = pool_params(g, n);
        check(bl_avgpool_f32(&p, xf, of), n);
        break;
      }
      case Op::GlobalAvgPool:
      case Op::GlobalMaxPool: {
        const auto s = hwc(g.tensors[n.inputs[0]].shape);
        const auto h = static_cast<int32_t>(s[0]), w = static_cast<int32_t>(s[1]), c = static_cast<int32_t>(s[2]);
        check(n.op == Op::GlobalAvgPool ? bl_global_avgpool_f32(h, w, c, xf, of) : bl_global_maxpool_f32(h, w, c, xf, of), n);
        break;
      }
      case Op::BatchNorm:
        check(bl_affine_f32(elems, ch, n.epi.mul.data(), n.epi.add.data(), BL_ACT_LINEAR, xf, of), n);
        break;
      case Op::Activation:
        run_activation(activation_step(g, n), elems, xf, of, n);
        break;
      case Op::Softmax:
        check(bl_softmax_f32(elems, ch, xf, of), n);
        break;
      case Op::Add: {
        check(bl_add_f32(elems, xf, static_cast<const float*>(addr(n.inputs[1])), BL_ACT_LINEAR, of), n);
        for (size_t i = 2; i < n.inputs.size(); ++i)
          check(bl_add_f32(elems, of, static_cast<const float*>(addr(n.inputs[i])), BL_ACT_LINEAR, of), n);
        break;
      }
      case Op::Concat: {
        const auto pixels = static_cast<int32_t>(elems / static_cast<size_t>(ch));
        std::vector<int32_t> cs;
        std::vector<const float*> fs;
        std::vector<const uint32_t*> bs;
        for (int t : n.inputs) {
          cs.push_back(static_cast<int32_t>(g.tensors[t].shape.back()));
          fs.push_back(static_cast<const float*>(addr(t)));
          bs.push_back(static_cast<const uint32_t*>(addr(t)));
        }
        const auto cnt = static_cast<int32_t>(cs.size());
        if (ot.format == Format::S1)
          check(bl_concat_s1(pixels, cnt, cs.data(), bs.data(), static_cast<uint32_t*>(o)), n);
        else
          check(bl_concat_f32(pixels, cnt, cs.data(), fs.data(), of), n);
        break;
      }
      case Op::Upsample: {
        const auto s = hwc(g.tensors[n.inputs[0]].shape);
        check(bl_upsample_f32(static_cast<int32_t>(s[0]), static_cast<int32_t>(s[1]), static_cast<int32_t>(s[2]),
                              n.pool.kh, n.pool.kw, xf, of),
              n);
        break;
      }
      case Op::ZeroPad: {
        const auto s = hwc(g.tensors[n.inputs[0]].shape);
        check(bl_pad_f32(static_cast<int32_t>(s[0]), static_cast<int32_t>(s[1]), static_cast<int32_t>(s[2]),
                         n.conv.pad_top, n.conv.pad_bottom, n.conv.pad_left, n.conv.pad_right, 0.0f, xf, of),
              n);
        break;
      }
      case Op::ConstAdd:
        check(bl_affine_f32(elems, 1, nullptr, &n.const_value, BL_ACT_LINEAR, xf, of), n);
        break;
      case Op::ConstMul:
        check(bl_affine_f32(elems, 1, &n.const_value, nullptr, BL_ACT_LINEAR, xf, of), n);
        break;
      default:
        throw ModelError("internal: no kernel for '" + n.name + "' (" + op_name(n.op) + ")");
    }
    // A non-clamp activation of a conv/dense layer runs in place on its float output.
    if (n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense)
      run_activation(activation_step(g, n), elems, of, of, n);
    if (observer_) observer_(id, o, ot.bytes());
  }
  for (size_t i = 0; i < out.size(); ++i)
    std::memcpy(out[i], addr(g.outputs[i]), static_cast<size_t>(g.tensors[g.outputs[i]].bytes()));
}

}  // namespace bitlens
