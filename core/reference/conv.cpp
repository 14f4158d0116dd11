// Reference Conv2D / DepthwiseConv2D / SeparableConv2D / Dense and their Larq Quant* forms:
// input_quantizer, then explicit padding with pad_values, then a VALID float32 convolution with
// the quantized kernel, summing taps in (kh, kw, ci) order from 0.0f, then bias, then activation.
// MagnitudeAwareSign and +-1 kernels are the exceptions: see Acc below.
#include "reference/ops.hpp"

namespace bitlens::ref {
namespace {

// The accumulator of one output value. Keras does not define the order of a convolution's sum
// (TF's CPU and GPU kernels differ), so:
// - a MagnitudeAwareSign kernel, whose products are +-alpha (times +-1 / 0 inputs), takes the one
//   order-free value: the exact sum, rounded once. In double that sum is exact (alpha has 24
//   significant bits, |d| < 2^24), and float(d * alpha) is also what the compiler's thresholds
//   evaluate (docs/decisions.md, MAS_SUM_ORDER);
// - a +-1 kernel of a convolution (the binary-weights conv kernel's order, bl_kernels.h; Larq's
//   sign quantizers and QKeras' binary, also with power-of-two channel scales): taps in
//   groups of four, (v0 + v1) + (v2 + v3) with a shorter last group, group sums added in order
//   (docs/decisions.md, BWCONV_SUM_ORDER); with +-1 inputs every order gives the same integers;
// - a k-bit layer whose input and kernel levels are integers over L and m (sem::S8Levels,
//   sem::int8_weight_denominator: the int8 kernels' domain) takes BitLens' integer definition:
//   acc = the exact sum of q_x * w, then float(acc) * int8_product_scale(L, m) — the one order-free
//   value up to that final rounding (docs/decisions.md, INT8_KERNEL);
// - every other kernel sums in float32, in tap order.
struct Acc {
  enum Mode { Float, Exact, Quads, Int };
  Mode mode;
  float f = 0.0f;
  double d = 0.0;
  float q[4] = {};
  int nq = 0;
  int64_t i = 0;
  float L = 1;
  int32_t m = 1;
  Acc(Mode mode) : mode(mode) {}
  Acc(const std::optional<std::pair<float, int32_t>>& integer, Mode otherwise)
      : mode(integer ? Int : otherwise), L(integer ? integer->first : 1), m(integer ? integer->second : 1) {}
  void add(float x, float k) {
    if (mode == Int) {
      i += std::lround(static_cast<double>(x) * L) * int64_t{sem::int8_weight(k, m)};
    } else if (mode == Exact) {
      d += static_cast<double>(x) * static_cast<double>(k);
    } else if (mode == Float) {
      f += x * k;
    } else {
      q[nq++] = x * k;
      if (nq == 4) flush();
    }
  }
  void flush() {
    if (nq == 0) return;
    float g = q[0];
    if (nq >= 2) g = q[0] + q[1];
    if (nq == 3) g = g + q[2];
    if (nq == 4) g = g + (q[2] + q[3]);
    f += g;
    nq = 0;
  }
  float value() {
    if (mode == Int) return static_cast<float>(i) * sem::int8_product_scale(L, m);
    if (mode == Exact) return static_cast<float>(d);
    flush();
    return f;
  }
};

bool exact_sum(const sem::QuantizerSpec& kernel_q) {
  return kernel_q.kind == sem::QuantizerKind::MagnitudeAwareSign;
}

// The accumulator of a conv2d (or a Dense applied per pixel, which runs as a 1x1 conv2d).
Acc::Mode conv_sum(const sem::QuantizerSpec& kernel_q) {
  using K = sem::QuantizerKind;
  if (kernel_q.kind == K::MagnitudeAwareSign) return Acc::Exact;
  if (kernel_q.kind == K::SteSign || kernel_q.kind == K::ApproxSign || kernel_q.kind == K::SwishSign) return Acc::Quads;
  // QKeras binary kernels of -1/+1 (alpha None or 1) or -1/+1 times a power of two per channel
  // (alpha "auto_po2"): scaling by a power of two commutes with every rounding of the sum, so the
  // kernel's order (sum of +-x, then the scale) is this order's value too.
  if (kernel_q.kind == K::QkBinary && !kernel_q.use_01 &&
      (kernel_q.alpha_fit == sem::QuantizerSpec::AlphaFit::AutoPo2 ||
       (kernel_q.alpha_fit == sem::QuantizerSpec::AlphaFit::None && (!kernel_q.alpha || *kernel_q.alpha == 1.0f))))
    return Acc::Quads;
  return Acc::Float;
}

Acc::Mode plain_sum(const sem::QuantizerSpec& kernel_q) { return exact_sum(kernel_q) ? Acc::Exact : Acc::Float; }

// (L, m) when the layer takes the integer definition: input levels q / L, kernel levels w / m,
// and padded taps (pad_value, when padding applies) on a level too.
std::optional<std::pair<float, int32_t>> integer_form(const sem::QuantizerSpec& input_q,
                                                      const sem::QuantizerSpec& kernel_q, bool padded,
                                                      float pad_value) {
  const auto a = sem::s8_activation_levels(input_q);
  const int32_t m = sem::int8_weight_denominator(kernel_q);
  if (!a || m == 0) return std::nullopt;
  if (padded && static_cast<double>(pad_value) * a->levels != std::nearbyint(static_cast<double>(pad_value) * a->levels))
    return std::nullopt;
  return std::pair{a->levels, m};
}

struct Spatial {
  int64_t kh, kw, sh, sw, dh, dw;
  bool same;
  float pad_value;
};

Spatial read_spatial(const Layer& layer, const char* kernel_key) {
  require_channels_last(layer);
  Spatial s{};
  const auto k = cfg_pair(layer, kernel_key, std::nullopt);
  const auto st = cfg_pair(layer, "strides", std::array<int64_t, 2>{1, 1});
  const auto d = cfg_pair(layer, "dilation_rate", std::array<int64_t, 2>{1, 1});
  if ((st[0] > 1 || st[1] > 1) && (d[0] > 1 || d[1] > 1))
    fail(layer, "strides > 1 together with dilation_rate > 1 is not allowed by Keras");
  s.kh = k[0];
  s.kw = k[1];
  s.sh = st[0];
  s.sw = st[1];
  s.dh = d[0];
  s.dw = d[1];
  s.same = cfg_same_padding(layer);
  // Larq writes pad_values since 0.9; absent means 0.0. Plain Keras convs pad with zeros.
  s.pad_value = static_cast<float>(cfg_number(layer, "pad_values", 0.0));
  return s;
}

// Quantizes the input, then pads it for "same" so the convolution below is always VALID.
Array prepare_input(const Layer& layer, const Array& x, const Spatial& s,
                    const sem::QuantizerSpec& q) {
  require_rank(layer, x, 4, "the input");
  Array xq = quantized(q, x);
  if (!s.same) {
    if (sem::valid_output(x.shape[1], s.kh, 1, s.dh) < 1 ||
        sem::valid_output(x.shape[2], s.kw, 1, s.dw) < 1)
      fail(layer, "input " + shape_tuple(x.shape) + " is smaller than the kernel " +
                      std::to_string(s.kh) + "x" + std::to_string(s.kw) +
                      " (dilated) with padding \"valid\"");
    return xq;
  }
  const auto ph = sem::same_padding(x.shape[1], s.kh, s.sh, s.dh);
  const auto pw = sem::same_padding(x.shape[2], s.kw, s.sw, s.dw);
  return pad_nhwc(xq, ph.before, ph.after, pw.before, pw.after, s.pad_value);
}

void finish(const OpContext& ctx, Array& y, int64_t channels) {
  const Layer& layer = ctx.layer;
  if (cfg_bool(layer, "use_bias", true)) {
    // QKeras layers add their bias through bias_quantizer (cfg_quantizer: None when absent).
    const Array b = quantized(cfg_quantizer(layer, "bias_quantizer"), weight(layer, "bias", {channels}));
    for (size_t i = 0; i < y.data.size(); ++i) y.data[i] += b.data[i % channels];
  }
  sem::activate_tensor(cfg_activation(layer, "activation", ctx.keras3), y.data, channels);
}

// VALID depthwise convolution of padded input p with kernel (kh, kw, cin, dm); output channel
// c * dm + m; the sum over (kh, kw) starts at 0.0f.
Array depthwise_valid(const Array& p, const Array& k, const Spatial& s, int64_t dm, bool exact,
                      const std::optional<std::pair<float, int32_t>>& integer) {
  const int64_t n = p.shape[0], h = p.shape[1], w = p.shape[2], c = p.shape[3];
  const int64_t oh = sem::valid_output(h, s.kh, s.sh, s.dh);
  const int64_t ow = sem::valid_output(w, s.kw, s.sw, s.dw);
  Array y{{n, oh, ow, c * dm}, {}};
  y.data.assign(static_cast<size_t>(y.size()), 0.0f);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t m = 0; m < dm; ++m) {
            Acc acc{integer, exact ? Acc::Exact : Acc::Float};
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.sh + ky * s.dh, ix = ox * s.sw + kx * s.dw;
                acc.add(p.data[((b * h + iy) * w + ix) * c + ci], k.data[((ky * s.kw + kx) * c + ci) * dm + m]);
              }
            y.data[((b * oh + oy) * ow + ox) * (c * dm) + ci * dm + m] = acc.value();
          }
  return y;
}

}  // namespace

Array conv2d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Spatial s = read_spatial(layer, "kernel_size");
  // Keras' grouped convolution: filter co reads only the cg input channels of its group
  // co / og, and the kernel stores cg channels per tap.
  const int64_t groups = cfg_int(layer, "groups", 1);
  if (groups < 1) fail(layer, "groups = " + std::to_string(groups) + " must be at least 1");
  const int64_t filters = cfg_int(layer, "filters", std::nullopt);
  const auto iq = cfg_quantizer(layer, "input_quantizer");
  const Array p = prepare_input(layer, *in[0], s, iq);
  const int64_t cin = p.shape[3];
  if (cin % groups != 0 || filters % groups != 0)
    fail(layer, "groups = " + std::to_string(groups) + " does not divide its " + std::to_string(cin) +
                    " input channels and " + std::to_string(filters) + " filters");
  const int64_t cg = cin / groups, og = filters / groups;
  const auto kq = cfg_quantizer(layer, "kernel_quantizer");
  const Array k = quantized(kq, weight(layer, "kernel", {s.kh, s.kw, cg, filters}));
  const auto integer = integer_form(iq, kq, s.same, s.pad_value);

  const int64_t n = p.shape[0], h = p.shape[1], w = p.shape[2];
  const int64_t oh = sem::valid_output(h, s.kh, s.sh, s.dh);
  const int64_t ow = sem::valid_output(w, s.kw, s.sw, s.dw);
  Array y{{n, oh, ow, filters}, {}};
  y.data.assign(static_cast<size_t>(y.size()), 0.0f);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t co = 0; co < filters; ++co) {
          const int64_t c0 = co / og * cg;  // first input channel of co's group
          Acc acc{integer, conv_sum(kq)};
          for (int64_t ky = 0; ky < s.kh; ++ky)
            for (int64_t kx = 0; kx < s.kw; ++kx) {
              const int64_t iy = oy * s.sh + ky * s.dh, ix = ox * s.sw + kx * s.dw;
              const float* xp = &p.data[((b * h + iy) * w + ix) * cin + c0];
              const float* kp = &k.data[((ky * s.kw + kx) * cg) * filters + co];
              for (int64_t ci = 0; ci < cg; ++ci) acc.add(xp[ci], kp[ci * filters]);
            }
          y.data[((b * oh + oy) * ow + ox) * filters + co] = acc.value();
        }
  finish(ctx, y, filters);
  return y;
}

Array depthwise_conv2d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Spatial s = read_spatial(layer, "kernel_size");
  const int64_t dm = cfg_int(layer, "depth_multiplier", 1);
  if (dm < 1) fail(layer, "depth_multiplier = " + std::to_string(dm) + " must be at least 1");
  const auto iq = cfg_quantizer(layer, "input_quantizer");
  const Array p = prepare_input(layer, *in[0], s, iq);
  const int64_t cin = p.shape[3];
  const auto kq = cfg_quantizer(layer, "depthwise_quantizer");
  const Array k = quantized(kq, weight(layer, "depthwise_kernel", {s.kh, s.kw, cin, dm}));
  Array y = depthwise_valid(p, k, s, dm, exact_sum(kq), integer_form(iq, kq, s.same, s.pad_value));
  finish(ctx, y, cin * dm);
  return y;
}

Array separable_conv2d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Spatial s = read_spatial(layer, "kernel_size");
  const int64_t dm = cfg_int(layer, "depth_multiplier", 1);
  if (dm < 1) fail(layer, "depth_multiplier = " + std::to_string(dm) + " must be at least 1");
  const int64_t filters = cfg_int(layer, "filters", std::nullopt);
  const auto iq = cfg_quantizer(layer, "input_quantizer");
  const Array p = prepare_input(layer, *in[0], s, iq);
  const int64_t cin = p.shape[3];
  const auto dq = cfg_quantizer(layer, "depthwise_quantizer");
  const auto pq = cfg_quantizer(layer, "pointwise_quantizer");
  const Array dk = quantized(dq, weight(layer, "depthwise_kernel", {s.kh, s.kw, cin, dm}));
  const Array pk = quantized(pq, weight(layer, "pointwise_kernel", {1, 1, cin * dm, filters}));
  const Array mid = depthwise_valid(p, dk, s, dm, exact_sum(dq), integer_form(iq, dq, s.same, s.pad_value));
  const int64_t cm = cin * dm;
  const int64_t pixels = mid.shape[0] * mid.shape[1] * mid.shape[2];
  Array y{{mid.shape[0], mid.shape[1], mid.shape[2], filters}, {}};
  y.data.assign(static_cast<size_t>(y.size()), 0.0f);
  for (int64_t px = 0; px < pixels; ++px)
    for (int64_t co = 0; co < filters; ++co) {
      Acc acc{conv_sum(pq)};  // the pointwise step runs as a 1x1 conv2d
      for (int64_t c = 0; c < cm; ++c) acc.add(mid.data[px * cm + c], pk.data[c * filters + co]);
      y.data[px * filters + co] = acc.value();
    }
  finish(ctx, y, filters);
  return y;
}

Array dense(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array& x0 = *in[0];
  if (x0.shape.size() < 2)
    fail(layer, "the input must have a batch axis and a feature axis, got shape " +
                    shape_tuple(x0.shape));
  const int64_t units = cfg_int(layer, "units", std::nullopt);
  const int64_t cin = x0.shape.back();
  const auto iq = cfg_quantizer(layer, "input_quantizer");
  const Array x = quantized(iq, x0);
  const auto kq = cfg_quantizer(layer, "kernel_quantizer");
  const Array k = quantized(kq, weight(layer, "kernel", {cin, units}));
  const auto integer = integer_form(iq, kq, false, 0.0f);
  const int64_t rows = x.size() / cin;
  Array y{x.shape, {}};
  y.shape.back() = units;
  y.data.assign(static_cast<size_t>(rows * units), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t u = 0; u < units; ++u) {
      // on a sequence or an image Dense runs as a 1x1 conv2d (passes/import_layers.cpp)
      Acc acc{integer, x0.shape.size() > 2 ? conv_sum(kq) : plain_sum(kq)};
      for (int64_t i = 0; i < cin; ++i) acc.add(x.data[r * cin + i], k.data[i * units + u]);
      y.data[r * units + u] = acc.value();
    }
  finish(ctx, y, units);
  return y;
}

void add_conv_ops(OpTable& t) {
  for (const char* c : {"Conv2D", "QuantConv2D", "Convolution2D", "QConv2D"}) t[c] = conv2d;
  for (const char* c : {"DepthwiseConv2D", "QuantDepthwiseConv2D", "QDepthwiseConv2D"}) t[c] = depthwise_conv2d;
  for (const char* c : {"SeparableConv2D", "QuantSeparableConv2D", "SeparableConvolution2D"}) t[c] = separable_conv2d;
  for (const char* c : {"Dense", "QuantDense", "QDense"}) t[c] = dense;
}

}  // namespace bitlens::ref
