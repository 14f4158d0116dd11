// Registrations of the element-wise, pooling, shape and conversion kernels.
#include <algorithm>
#include <cmath>

#include "bitlens/format.hpp"
#include "ops/common.hpp"
#include "ops/params.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace bitlens::ops {
namespace {
// A quantizer layer's step; QKeras' add why its value is Keras' (QKERAS_STE).
std::vector<Reason> quantize_reasons(const Node& n) {
  std::vector<Reason> v{passes::make_reason("QUANTIZE_STEP", {passes::quantizer_text(n.quant), n.name})};
  if (n.quant.kind == Quantizer::Kind::QKeras && std::isfinite(sem::qkeras_exact_bound(n.quant.spec)))
    v.push_back(passes::make_reason("QKERAS_STE", {passes::quantizer_text(n.quant),
                                                   sem::float_text(sem::qkeras_exact_bound(n.quant.spec)), n.name}));
  return v;
}

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
const Const<float> kNone{nullptr, 0, ""};

void pack(Step& s) { s.call("bl_pack_f32", bl_pack_f32, elems(s), channels(s), kNone, kNone, In{0}, Out{}); }
void unpack(Step& s) { s.call("bl_unpack_s1", bl_unpack_s1, elems(s), In{0}, Out{}); }
const Tensor::S8& input_s8(const Step& s) { return s.g.tensors[s.n.inputs[0]].s8; }
void pack_s8(Step& s) { s.call("bl_pack_s8", bl_pack_s8, elems(s), input_s8(s).offset, In{0}, Out{}); }
void dequantize(Step& s) {
  s.call("bl_dequantize_s8", bl_dequantize_s8, elems(s), input_s8(s).levels, input_s8(s).offset, In{0}, Out{});
}

Params<bl_pool_params> pool(const Step& s, const bl_pool_params& p) {
  return {p, "bl_pool_params", [&p, &s](Fields& f) {
            geom(f, p.g);
            f.set_data("or_mask", p.or_mask, s.n.or_mask, "or_mask");
          }};
}
void maxpool_s1(Step& s) {
  const auto p = pool_params(s.g, s.n);
  s.call("bl_maxpool_s1", bl_maxpool_s1, pool(s, p), In{0}, Out{});
}
void maxpool_f32(Step& s) {
  const auto p = pool_params(s.g, s.n);
  s.call("bl_maxpool_f32", bl_maxpool_f32, pool(s, p), In{0}, Out{});
}
void avgpool(Step& s) {
  const auto p = pool_params(s.g, s.n);
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
void quantize(Step& s) {
  const QuantizeParams q = quantize_params(s.n.quant);
  s.call("bl_quantize_f32", bl_quantize_f32, elems(s), q.lo, q.hi, q.levels, In{0}, Out{});
}
// QKeras binary/ternary activations: the threshold step the quantizer is (sem::qkeras_threshold_step).
bl_threshold_params threshold_params(const Node& n) {
  const auto t = sem::qkeras_threshold_step(n.quant.spec);
  if (!t) throw ModelError("internal: quantizer " + n.quant.name + " is not a threshold step");
  bl_threshold_params p{};
  p.count = t->count;
  for (int j = 0; j < 2; ++j) p.thr[j] = t->thr[j];
  for (int j = 0; j < 3; ++j) p.val[j] = t->val[j];
  p.ste = t->ste ? 1 : 0;
  return p;
}
void threshold(Step& s) {
  const bl_threshold_params p = threshold_params(s.n);
  s.call("bl_threshold_f32", bl_threshold_f32, elems(s),
         Params<bl_threshold_params>{p, "bl_threshold_params",
                                     [&p](Fields& f) {
                                       f.set("count", p.count);
                                       for (int j = 0; j < 2; ++j) f.set_float("thr[" + std::to_string(j) + "]", p.thr[j]);
                                       for (int j = 0; j < 3; ++j) f.set_float("val[" + std::to_string(j) + "]", p.val[j]);
                                       f.set("ste", p.ste);
                                     },
                                     "t"},
         In{0}, Out{});
}
void quantize_s8(Step& s) {
  const QuantizeParams q = quantize_params(s.n.quant);
  s.call("bl_quantize_s8", bl_quantize_s8, elems(s), q.lo, q.hi, q.levels, s.g.tensors[s.n.outputs[0]].s8.offset, In{0},
         Out{});
}
// The int8 Add with its requantization folded in (select.cpp): the clamp is that quantizer's clip.
void add_s8(Step& s) {
  const QuantizeParams q = quantize_params(s.n.quant);
  const auto lo = static_cast<int32_t>(std::lround(static_cast<double>(q.lo) * q.levels));
  const auto hi = static_cast<int32_t>(std::lround(static_cast<double>(q.hi) * q.levels));
  s.call("bl_add_s8", bl_add_s8, elems(s), In{0}, In{1}, lo, hi, Out{});
}
std::string add_s8_rejects(const Graph& g, const Node& n) {
  if (n.inputs.size() != 2) return std::to_string(n.inputs.size()) + " inputs: the int8 add takes two";
  const Tensor& a = g.tensors[n.inputs[0]];
  for (int t : n.inputs) {
    const Tensor& x = g.tensors[t];
    if (x.format != Format::S8) return "input '" + x.name + "' is not int8";
    if (x.s8.levels != a.s8.levels || x.s8.offset != 0)
      return "inputs '" + a.name + "' and '" + x.name + "' are not integers over the same levels with offset 0";
  }
  // A power of two: the float sum of two levels is exact, so the quantizer after it only clamps.
  if (std::exp2(std::round(std::log2(a.s8.levels))) != a.s8.levels)
    return "levels over " + short_number(a.s8.levels) + " (not a power of two) may round when added in float32";
  const Tensor& out = g.tensors[n.outputs[0]];
  const Node* q = out.consumers.size() == 1 ? &g.nodes[out.consumers[0]] : nullptr;
  if (out.model_output || !q || q->op != Op::Quantize || q->decision.kernel == KernelClass::Unsupported ||
      !q->quant.elementwise_levels())
    return "its sum is not read by one k-bit quantizer alone";
  const auto lv = sem::s8_activation_levels(q->quant.spec);
  if (!lv || lv->levels != a.s8.levels || lv->offset != 0)
    return "the quantizer " + passes::quantizer_text(q->quant) + " of '" + q->name + "' has other levels than its inputs";
  return "";
}

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
void crop(Step& s) {
  const Hwc d = in_hwc(s);
  const auto o = hwc(s.g.tensors[s.n.outputs[0]].shape);
  s.call("bl_crop_f32", bl_crop_f32, d.h, d.w, d.c, s.n.conv.pad_top, s.n.conv.pad_left, static_cast<int32_t>(o[0]),
         static_cast<int32_t>(o[1]), In{0}, Out{});
}
void zero_pad(Step& s) {
  const Hwc d = in_hwc(s);
  const ConvAttrs& c = s.n.conv;
  s.call("bl_pad_f32", bl_pad_f32, d.h, d.w, d.c, c.pad_top, c.pad_bottom, c.pad_left, c.pad_right, 0.0f, In{0}, Out{});
}

// ---- selection and costs ----

std::vector<Reason> float_op(const char* what) { return {passes::make_reason("FLOAT_OP", {what})}; }
template <const char* What>
std::vector<Reason> float_op(const Graph&, const Node&) {
  return float_op(What);
}

// Why a standalone BatchNorm was not folded into the conv/dense layer before it, and the fix
// for that case (the blocking condition differs, so does what the user can change).
std::vector<Reason> bn_not_folded(const Graph& g, const Node& m) {
  std::string why = "its input is not produced by a conv/dense layer";
  std::string fix =
      "Place BatchNormalization directly after a conv/dense layer so it folds into that layer's output stage";
  const Tensor& in = g.tensors[m.inputs[0]];
  if (in.producer >= 0) {
    const Node& p = g.nodes[in.producer];
    const std::string q = "'" + p.name + "'";
    if (p.op == Op::Conv2D || p.op == Op::DepthwiseConv2D || p.op == Op::Dense) {
      const bool clamped = std::any_of(p.epi.chain.begin(), p.epi.chain.end(),
                                       [](const PostOp& o) { return o.kind == PostOp::Kind::Clamp; });
      if (in.consumers.size() > 1) {
        why = q + " output has other consumers";
        fix = "Nothing to change for correctness: the other consumers of " + q +
              " read its output before this BatchNormalization, so the normalization cannot be folded into " + q;
      } else if (!p.act.linear()) {
        why = q + " applies activation '" + p.activation + "' first";
        fix = "To fold it, give " + q + " activation=None, apply '" + p.activation +
              "' after the BatchNormalization, and retrain";
      } else if (clamped) {
        // Integer kernels fold ReLU then one BatchNorm (fold.cpp); this is a float-accumulating
        // kernel, or a second normalization after the ReLU.
        why = q + " applies a ReLU first and " +
              (p.conv.input_q.sign_like() && p.conv.kernel_q.binary_weights()
                   ? std::string("then already one affine step after it")
                   : std::string("accumulates in float, whose output stage runs the ReLU last"));
        fix = "Nothing to change for correctness (ReLU then BatchNormalization is computed as written); it folds "
              "into integer thresholds when the next layer binarizes this output, or with BatchNormalization "
              "before the ReLU (retrain)";
      } else {
        why = "the output stage of " + q +
              " already runs two affine steps (its bias or scale and a BatchNorm) in Keras' "
              "float32 order; a third would have to be pre-composed in another rounding order";
        fix = "Nothing to change for correctness; to fold it, merge the consecutive normalizations after " + q +
              " into one BatchNormalization and retrain";
      }
    } else {
      why = "it follows '" + p.name + "' (" + p.class_name + ")";
      fix = "Place BatchNormalization directly after a conv/dense layer (it follows " + p.class_name +
            " '" + p.name + "' now) so it folds into that layer's output stage";
    }
  }
  return {passes::make_reason("BN_NOT_FOLDED", {why, fix})};
}

// Bits in, bits out: every input is already bit-packed (no conversion is inserted for them).
std::string inputs_not_bits(const Graph& g, const Node& n) {
  for (int t : n.inputs)
    if (g.tensors[t].format != Format::S1) return "input '" + g.tensors[t].name + "' is not bit-packed";
  return "";
}

int64_t out_elems(const Graph& g, const Node& n) { return g.tensors[n.outputs[0]].elements(); }
template <int64_t Per>
int64_t per_output(const Graph& g, const Node& n) {
  return passes::sat_mul(Per, out_elems(g, n));
}
int64_t per_window_tap(const Graph& g, const Node& n) {
  return passes::sat_mul(out_elems(g, n), int64_t{n.pool.kh} * n.pool.kw);
}
int64_t per_input(const Graph& g, const Node& n) { return g.tensors[n.inputs[0]].elements(); }

constexpr char kAvgPool[] = "Average pooling", kGlobalAvg[] = "Global average pooling",
               kGlobalMax[] = "Global max pooling", kSoftmax[] = "Softmax", kAdd[] = "Add",
               kConcat[] = "Concatenate", kUpsample[] = "Nearest-neighbour upsampling", kPad[] = "Zero padding", kCrop[] = "Cropping",
               kConst[] = "Arithmetic with a constant";

}  // namespace

// Within one op, candidates are tried in this order (bits before float).
void add_tensor_ops(std::vector<KernelOp>& r) {
  using K = KernelClass;
  const char* ff = "op_f32_f32";
  r.push_back({.name = "bl_pack_s8", .op = Op::Pack, .cls = K::Binary, .op_type = "op_s8_s1", .describe = pack_s8,
               .rejects = [](const Graph& g, const Node& n) -> std::string {
                 return g.tensors[n.inputs[0]].format == Format::S8 ? "" : "its input is not int8";
               },
               .macc = per_output<2>});
  r.push_back({.name = "bl_pack_f32", .op = Op::Pack, .cls = K::Binary, .op_type = "op_f32_s1", .describe = pack,
               .macc = per_output<2>});
  r.push_back({.name = "bl_dequantize_s8", .op = Op::Dequantize, .cls = K::Float, .op_type = "op_s8_f32",
               .describe = dequantize, .macc = per_output<2>});
  r.push_back({.name = "bl_unpack_s1", .op = Op::Unpack, .cls = K::Float, .op_type = "op_s1_f32", .describe = unpack,
               .macc = per_output<2>});
  r.push_back({.name = "bl_maxpool_s1",
               .op = Op::MaxPool,
               .cls = K::Binary,
               .op_type = "op_s1_s1",
               .describe = maxpool_s1,
               .rejects = [](const Graph& g, const Node& n) -> std::string {
                 if (!pool_folded(g, n)) return "its producer does not binarize for it";
                 return inputs_not_bits(g, n);
               },
               .explain = [](const Graph&, const Node&) { return std::vector{passes::make_reason("MAXPOOL_ON_BITS")}; },
               .macc = per_window_tap});
  r.push_back({.name = "bl_maxpool_f32",
               .op = Op::MaxPool,
               .cls = K::Float,
               .op_type = ff,
               .describe = maxpool_f32,
               .explain = [](const Graph&, const Node&) {
                 return std::vector{passes::make_reason("MAXPOOL_FLOAT", {"its consumers need real values"})};
               },
               .macc = per_window_tap});
  r.push_back({.name = "bl_avgpool_f32", .op = Op::AvgPool, .cls = K::Float, .op_type = ff, .describe = avgpool,
               .explain = float_op<kAvgPool>, .macc = per_window_tap});
  r.push_back({.name = "bl_global_avgpool_f32", .op = Op::GlobalAvgPool, .cls = K::Float, .op_type = ff,
               .describe = global_avgpool, .explain = float_op<kGlobalAvg>, .macc = per_input});
  r.push_back({.name = "bl_global_maxpool_f32", .op = Op::GlobalMaxPool, .cls = K::Float, .op_type = ff,
               .describe = global_maxpool, .explain = float_op<kGlobalMax>, .macc = per_input});
  r.push_back({.name = "bl_affine_f32", .op = Op::BatchNorm, .cls = K::Float, .op_type = ff, .describe = batch_norm,
               .explain = bn_not_folded, .macc = per_output<2>});
  r.push_back({.name = "bl_affine_f32", .op = Op::ConstAdd, .cls = K::Float, .op_type = ff, .describe = const_add,
               .explain = float_op<kConst>, .macc = per_output<1>});
  r.push_back({.name = "bl_affine_f32", .op = Op::ConstMul, .cls = K::Float, .op_type = ff, .describe = const_mul,
               .explain = float_op<kConst>, .macc = per_output<1>});
  r.push_back({.name = "bl_activate_f32",
               .op = Op::Activation,
               .cls = K::Float,
               .op_type = ff,
               .describe = activation,
               .explain = [](const Graph&, const Node& n) {
                 return float_op(("Activation '" + n.activation + "'").c_str());
               },
               .macc = per_output<1>,
               .name_of = [](const Node& n) {
                 return n.act.kind == sem::ActivationKind::LogSoftmax ? "bl_log_softmax_f32" : "bl_activate_f32";
               }});
  // QKeras binary (values exactly -1/+1) as a layer: the sign bits, packed (bit = x < 0).
  r.push_back({.name = "bl_pack_f32",
               .op = Op::Quantize,
               .cls = K::Binary,
               .op_type = "op_f32_s1",
               .describe = pack,
               .rejects = [](const Graph&, const Node& n) -> std::string {
                 return n.quant.qkeras_sign() ? "" : "its quantizer is no -1/+1 sign";
               },
               .explain = [](const Graph&, const Node& n) {
                 std::vector v{passes::make_reason("SIGN_STEP", {passes::quantizer_text(n.quant), n.name})};
                 // alpha=None: tanh(x) is the estimator's base, the value is +-1 for every x.
                 if (std::isfinite(sem::qkeras_exact_bound(n.quant.spec)))
                   v.push_back(passes::make_reason("QKERAS_STE", {passes::quantizer_text(n.quant),
                                                                  sem::float_text(sem::qkeras_exact_bound(n.quant.spec)),
                                                                  n.name}));
                 return v;
               },
               .macc = per_output<2>});
  r.push_back({.name = "bl_quantize_f32",
               .op = Op::Quantize,
               .cls = K::Float,
               .op_type = ff,
               .describe = quantize,
               .rejects = [](const Graph&, const Node& n) -> std::string {
                 return n.quant.elementwise_levels() ? "" : "its quantizer has no clip-and-levels form";
               },
               .explain = [](const Graph&, const Node& n) {
                 // An inserted input-quantizer step carries its reason from the selection pass.
                 if (n.class_name.empty()) return std::vector<Reason>{};
                 return quantize_reasons(n);
               },
               .macc = per_output<2>});
  // QKeras binary (0/1 or +-alpha) and ternary activations: levels by thresholds.
  r.push_back({.name = "bl_threshold_f32",
               .op = Op::Quantize,
               .cls = K::Float,
               .op_type = ff,
               .describe = threshold,
               .rejects = [](const Graph&, const Node& n) -> std::string {
                 return n.quant.qkeras_threshold() ? "" : "its quantizer is no binary or ternary threshold step";
               },
               .explain = [](const Graph&, const Node& n) {
                 const auto t = sem::qkeras_threshold_step(n.quant.spec);
                 std::string levels;
                 for (int j = 0; j <= t->count; ++j) levels += (j ? ", " : "") + sem::float_text(t->val[j]);
                 return std::vector<Reason>{passes::make_reason(
                     "THRESHOLD_STEP", {passes::quantizer_text(n.quant), n.name, levels,
                                        t->ste ? "Keras' sum x + (-x + level) in float32, as Keras computes it"
                                               : "the level itself, which Keras' sum tanh(x) + (-tanh(x) + level) "
                                                 "always equals for these levels"})};
               },
               .macc = per_output<2>});
  // Chosen by the int8 formats (passes/select.cpp) where every reader of the output takes int8.
  r.push_back({.name = "bl_quantize_s8",
               .op = Op::Quantize,
               .cls = K::Int8,
               .op_type = "op_f32_s8",
               .describe = quantize_s8,
               .explain = [](const Graph&, const Node& n) {
                 if (n.class_name.empty()) return std::vector<Reason>{};
                 return quantize_reasons(n);
               },
               .macc = per_output<2>});
  r.push_back({.name = "bl_softmax_f32", .op = Op::Softmax, .cls = K::Float, .op_type = ff, .describe = softmax,
               .explain = float_op<kSoftmax>, .macc = per_output<kSoftmaxMaccPerValue>});
  r.push_back({.name = "bl_add_s8",
               .op = Op::Add,
               .cls = K::Int8,
               .op_type = "op_s8_s8",
               .describe = add_s8,
               .rejects = add_s8_rejects,
               .macc = per_output<1>});
  r.push_back({.name = "bl_add_f32", .op = Op::Add, .cls = K::Float, .op_type = ff, .describe = add,
               .explain = float_op<kAdd>, .macc = per_output<1>});
  r.push_back({.name = "bl_concat_s1", .op = Op::Concat, .cls = K::Binary, .op_type = "op_s1_s1",
               .describe = concat<true>, .rejects = inputs_not_bits});
  r.push_back({.name = "bl_concat_f32", .op = Op::Concat, .cls = K::Float, .op_type = ff, .describe = concat<false>,
               .explain = float_op<kConcat>});
  r.push_back({.name = "bl_upsample_f32", .op = Op::Upsample, .cls = K::Float, .op_type = ff, .describe = upsample,
               .explain = float_op<kUpsample>});
  r.push_back({.name = "bl_pad_f32", .op = Op::ZeroPad, .cls = K::Float, .op_type = ff, .describe = zero_pad,
               .explain = float_op<kPad>});
  r.push_back({.name = "bl_crop_f32", .op = Op::Crop, .cls = K::Float, .op_type = ff, .describe = crop,
               .explain = float_op<kCrop>});
}

}  // namespace bitlens::ops
