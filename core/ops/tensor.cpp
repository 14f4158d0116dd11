// Registrations of the element-wise, pooling, shape and conversion kernels.
#include "ops/common.hpp"
#include "ops/registry.hpp"
#include "runtime/kernel_params.hpp"

namespace bitlens::ops {
namespace {

size_t elems(const Step& s) { return static_cast<size_t>(s.g.tensors[s.n.outputs[0]].elements()); }
int32_t channels(const Step& s) {
  const Tensor& t = s.g.tensors[s.n.outputs[0]];
  return static_cast<int32_t>(t.shape.empty() ? 1 : t.shape.back());
}
// Height, width and channels of input 0 as the kernels' int32 arguments.
struct Hwc {
  int32_t h, w, c;
};
Hwc in_hwc(const Step& s) {
  const auto v = hwc(s.g.tensors[s.n.inputs[0]].shape);
  return {static_cast<int32_t>(v[0]), static_cast<int32_t>(v[1]), static_cast<int32_t>(v[2])};
}
Format out_format(const Graph& g, const Node& n) { return g.tensors[n.outputs[0]].format; }

template <Op op>
bool is(const Graph&, const Node& n) {
  return n.op == op && n.decision.kernel != KernelClass::Unsupported && n.decision.kernel != KernelClass::Fused;
}
template <Op op, Format f>
bool is_in(const Graph& g, const Node& n) {
  return is<op>(g, n) && out_format(g, n) == f;
}

const Const<float> kNone{nullptr, 0, ""};

void pack(Step& s) { s.call("bl_pack_f32", bl_pack_f32, elems(s), channels(s), kNone, kNone, In{0}, Out{}); }
void unpack(Step& s) { s.call("bl_unpack_s1", bl_unpack_s1, elems(s), In{0}, Out{}); }

Params<bl_pool_params> pool(const Step& s, const bl_pool_params& p) {
  return {p, "bl_pool_params", [&p, &s](Fields& f) {
            geom(f, p.g);
            f.set_data("or_mask", p.or_mask, s.n.or_mask, "or_mask");
          }};
}
void maxpool_s1(Step& s) {
  const auto p = runtime::pool_params(s.g, s.n);
  s.call("bl_maxpool_s1", bl_maxpool_s1, pool(s, p), In{0}, Out{});
}
void maxpool_f32(Step& s) {
  const auto p = runtime::pool_params(s.g, s.n);
  s.call("bl_maxpool_f32", bl_maxpool_f32, pool(s, p), In{0}, Out{});
}
void avgpool(Step& s) {
  const auto p = runtime::pool_params(s.g, s.n);
  s.call("bl_avgpool_f32", bl_avgpool_f32, pool(s, p), In{0}, Out{});
}
void global_avgpool(Step& s) {
  const Hwc d = in_hwc(s);
  s.call("bl_global_avgpool_f32", bl_global_avgpool_f32, d.h, d.w, d.c, In{0}, Out{});
}
void global_maxpool(Step& s) {
  const Hwc d = in_hwc(s);
  s.call("bl_global_maxpool_f32", bl_global_maxpool_f32, d.h, d.w, d.c, In{0}, Out{});
}
void batch_norm(Step& s) {
  s.call("bl_affine_f32", bl_affine_f32, elems(s), channels(s), constant(s.n.epi.mul, "mul"),
         constant(s.n.epi.add, "add"), BL_ACT_LINEAR, In{0}, Out{});
}
void const_add(Step& s) {
  s.call("bl_affine_f32", bl_affine_f32, elems(s), int32_t{1}, kNone, Const<float>{&s.n.const_value, 1, "constant"},
         BL_ACT_LINEAR, In{0}, Out{});
}
void const_mul(Step& s) {
  s.call("bl_affine_f32", bl_affine_f32, elems(s), int32_t{1}, Const<float>{&s.n.const_value, 1, "constant"}, kNone,
         BL_ACT_LINEAR, In{0}, Out{});
}
void activation(Step& s) { activation_calls(s, false); }
void softmax(Step& s) { s.call("bl_softmax_f32", bl_softmax_f32, elems(s), channels(s), In{0}, Out{}); }
// More than two inputs: the output accumulates one input at a time, as Keras' Add sums them.
void add(Step& s) {
  s.call("bl_add_f32", bl_add_f32, elems(s), In{0}, In{1}, BL_ACT_LINEAR, Out{});
  for (size_t i = 2; i < s.n.inputs.size(); ++i)
    s.call("bl_add_f32", bl_add_f32, elems(s), Out{}, In{i}, BL_ACT_LINEAR, Out{});
}
template <bool bits>
void concat(Step& s) {
  Ints c;
  for (int t : s.n.inputs) c.v.push_back(static_cast<int32_t>(s.g.tensors[t].shape.back()));
  const auto pixels = static_cast<int32_t>(elems(s) / static_cast<size_t>(channels(s)));
  const auto count = static_cast<int32_t>(s.n.inputs.size());
  if constexpr (bits)
    s.call("bl_concat_s1", bl_concat_s1, pixels, count, c, Tensors{s.n.inputs}, Out{});
  else
    s.call("bl_concat_f32", bl_concat_f32, pixels, count, c, Tensors{s.n.inputs}, Out{});
}
void upsample(Step& s) {
  const Hwc d = in_hwc(s);
  s.call("bl_upsample_f32", bl_upsample_f32, d.h, d.w, d.c, s.n.pool.kh, s.n.pool.kw, In{0}, Out{});
}
void zero_pad(Step& s) {
  const Hwc d = in_hwc(s);
  const ConvAttrs& c = s.n.conv;
  s.call("bl_pad_f32", bl_pad_f32, d.h, d.w, d.c, c.pad_top, c.pad_bottom, c.pad_left, c.pad_right, 0.0f, In{0}, Out{});
}

}  // namespace

void add_tensor_ops(std::vector<KernelOp>& r) {
  r.push_back({"bl_pack_f32", is<Op::Pack>, pack});
  r.push_back({"bl_unpack_s1", is<Op::Unpack>, unpack});
  r.push_back({"bl_maxpool_s1", is_in<Op::MaxPool, Format::S1>, maxpool_s1});
  r.push_back({"bl_maxpool_f32", is_in<Op::MaxPool, Format::F32>, maxpool_f32});
  r.push_back({"bl_avgpool_f32", is<Op::AvgPool>, avgpool});
  r.push_back({"bl_global_avgpool_f32", is<Op::GlobalAvgPool>, global_avgpool});
  r.push_back({"bl_global_maxpool_f32", is<Op::GlobalMaxPool>, global_maxpool});
  r.push_back({"bl_affine_f32", is<Op::BatchNorm>, batch_norm});
  r.push_back({"bl_affine_f32", is<Op::ConstAdd>, const_add});
  r.push_back({"bl_affine_f32", is<Op::ConstMul>, const_mul});
  r.push_back({"bl_activate_f32", is<Op::Activation>, activation});
  r.push_back({"bl_softmax_f32", is<Op::Softmax>, softmax});
  r.push_back({"bl_add_f32", is<Op::Add>, add});
  r.push_back({"bl_concat_s1", is_in<Op::Concat, Format::S1>, concat<true>});
  r.push_back({"bl_concat_f32", is_in<Op::Concat, Format::F32>, concat<false>});
  r.push_back({"bl_upsample_f32", is<Op::Upsample>, upsample});
  r.push_back({"bl_pad_f32", is<Op::ZeroPad>, zero_pad});
}

}  // namespace bitlens::ops
