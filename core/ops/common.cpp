#include "ops/common.hpp"

#include "ops/params.hpp"

namespace bitlens::ops {

std::string Step::activation_enum(bl_activation a) { return activation_enum_name(a); }

void geom(Fields& f, const bl_conv_geom& g) {
  f.set("g.in_h", g.in_h);
  f.set("g.in_w", g.in_w);
  f.set("g.in_c", g.in_c);
  f.set("g.out_h", g.out_h);
  f.set("g.out_w", g.out_w);
  f.set("g.out_c", g.out_c);
  f.set("g.k_h", g.k_h);
  f.set("g.k_w", g.k_w);
  f.set("g.stride_h", g.stride_h);
  f.set("g.stride_w", g.stride_w);
  f.set("g.dil_h", g.dil_h);
  f.set("g.dil_w", g.dil_w);
  f.set("g.pad_top", g.pad_top);
  f.set("g.pad_left", g.pad_left);
}

void output(Fields& f, const bl_output& out) {
  const Epilogue& e = f.node().epi;
  f.set("out.kind", out.kind == BL_OUT_BITS ? "BL_OUT_BITS" : out.kind == BL_OUT_S8 ? "BL_OUT_S8" : "BL_OUT_F32");
  f.set_data("out.mul", out.mul, e.mul, "mul");
  f.set_data("out.add", out.add, e.add, "add");
  f.set_float("out.act_min", out.act_min);
  f.set_float("out.act_max", out.act_max);
  f.set_data("out.threshold", out.threshold, e.threshold, "threshold");
  f.set_data("out.flip", out.flip, e.flip, "flip");
  if (out.mul2 || out.add2) {
    f.set_data("out.mul2", out.mul2, e.mul2, "mul2");
    f.set_data("out.add2", out.add2, e.add2, "add2");
  }
  if (out.mid_clamp) {
    f.set("out.mid_clamp", 1);
    f.set_float("out.mid_min", out.mid_min);
    f.set_float("out.mid_max", out.mid_max);
  }
  if (e.residual >= 0)
    f.set("out.residual", "(const float *)" + f.env().tensor(f.node().inputs.at(static_cast<size_t>(e.residual))));
  if (out.kind == BL_OUT_S8) {
    f.set_float("out.s8_mul", out.s8_mul);
    f.set("out.s8_min", out.s8_min);
    f.set("out.s8_max", out.s8_max);
  }
}

namespace {
template <class Src>
void activation_from(Step& s, Src in) {
  const ActStep a = activation_step(s.g, s.n);
  const auto elems = static_cast<size_t>(s.g.tensors[s.n.outputs[0]].elements());
  switch (a.kind) {
    case ActStep::None: return;
    case ActStep::Softmax: return s.call("bl_softmax_f32", bl_softmax_f32, elems, a.period, in, Out{});
    case ActStep::LogSoftmax:
      return s.call("bl_log_softmax_f32", bl_log_softmax_f32, elems, a.period, in, Out{});
    case ActStep::Elementwise:
      return s.call("bl_activate_f32", bl_activate_f32, elems, a.period,
                    Params<bl_act>{a.act, "bl_act",
                                   [&](Fields& f) {
                                     f.set("kind", activation_enum_name(a.act.kind));
                                     f.set_float("alpha", a.act.alpha);
                                     f.set_float("max_value", a.act.max_value);
                                     f.set_float("threshold", a.act.threshold);
                                     f.set_data("slopes", a.act.slopes, s.n.act.slopes, "slopes");
                                   },
                                   "a"},
                    in, Out{});
  }
}
}  // namespace

void activation_calls(Step& s, bool in_place) {
  if (in_place)
    activation_from(s, Out{});
  else
    activation_from(s, In{0});
}

}  // namespace bitlens::ops
