// Reference layers that move data without arithmetic: Flatten, Reshape, ZeroPadding2D,
// Concatenate, plus the padding helper used by the convolutions.
#include "reference/ops.hpp"

namespace bitlens::ref {

Array pad_nhwc(const Array& x, int64_t top, int64_t bottom, int64_t left, int64_t right,
               float value) {
  const int64_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  const int64_t ph = h + top + bottom, pw = w + left + right;
  Array y{{n, ph, pw, c}, std::vector<float>(static_cast<size_t>(n * ph * pw * c), value)};
  for (int64_t b = 0; b < n; ++b)
    for (int64_t iy = 0; iy < h; ++iy)
      for (int64_t ix = 0; ix < w; ++ix)
        for (int64_t ch = 0; ch < c; ++ch)
          y.data[((b * ph + iy + top) * pw + ix + left) * c + ch] =
              x.data[((b * h + iy) * w + ix) * c + ch];
  return y;
}

Array flatten(const OpContext& ctx, const Inputs& in) {
  require_inputs(ctx.layer, in, 1);
  require_channels_last(ctx.layer);
  const Array& x = *in[0];
  if (x.shape.empty()) fail(ctx.layer, "the input has no batch axis");
  int64_t per_sample = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) per_sample *= x.shape[i];
  Array y = x;
  y.shape = {x.shape[0], per_sample};
  return y;
}

Array reshape(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array& x = *in[0];
  if (x.shape.empty()) fail(layer, "the input has no batch axis");
  if (!has_key(layer, "target_shape") || !layer.config["target_shape"].is_array())
    fail(layer, "config has no target_shape list");
  int64_t per_sample = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) per_sample *= x.shape[i];
  std::vector<int64_t> shape{x.shape[0]};
  int64_t known = 1, unknown_at = -1;
  for (const auto& d : layer.config["target_shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < -1 || d.get<int64_t>() == 0)
      fail(layer, "target_shape = " + layer.config["target_shape"].dump() +
                      " must hold positive integers and at most one -1");
    const int64_t v = d.get<int64_t>();
    if (v == -1) {
      if (unknown_at >= 0) fail(layer, "target_shape has more than one -1");
      unknown_at = static_cast<int64_t>(shape.size());
    } else {
      known *= v;
    }
    shape.push_back(v);
  }
  if (unknown_at >= 0) {
    if (per_sample % known != 0)
      fail(layer, "cannot reshape " + shape_tuple(x.shape) + " to target_shape " +
                      layer.config["target_shape"].dump());
    shape[static_cast<size_t>(unknown_at)] = per_sample / known;
  } else if (known != per_sample) {
    fail(layer, "cannot reshape " + shape_tuple(x.shape) + " (" + std::to_string(per_sample) +
                    " values per sample) to target_shape " +
                    layer.config["target_shape"].dump() + " (" + std::to_string(known) + ")");
  }
  Array y = x;
  y.shape = shape;
  return y;
}

Array zero_padding2d(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  require_channels_last(layer);
  const Array& x = *in[0];
  require_rank(layer, x, 4, "the input");
  // padding: int | [h, w] | [[top, bottom], [left, right]]; default 1.
  int64_t t = 1, b = 1, l = 1, r = 1;
  if (has_key(layer, "padding")) {
    const json& p = layer.config["padding"];
    auto bad = [&]() {
      fail(layer, "padding = " + p.dump() +
                      " is not an int, a pair or ((top, bottom), (left, right)) of "
                      "non-negative integers");
    };
    auto num = [&](const json& v) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) bad();
      return v.get<int64_t>();
    };
    if (p.is_number()) {
      t = b = l = r = num(p);
    } else if (p.is_array() && p.size() == 2 && p[0].is_number()) {
      t = b = num(p[0]);
      l = r = num(p[1]);
    } else if (p.is_array() && p.size() == 2 && p[0].is_array() && p[1].is_array() &&
               p[0].size() == 2 && p[1].size() == 2) {
      t = num(p[0][0]);
      b = num(p[0][1]);
      l = num(p[1][0]);
      r = num(p[1][1]);
    } else {
      bad();
    }
  }
  return pad_nhwc(x, t, b, l, r, 0.0f);
}

Array concatenate(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  if (in.empty()) fail(layer, "has no inputs");
  const int64_t rank = static_cast<int64_t>(in[0]->shape.size());
  int64_t axis = cfg_int(layer, "axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 1 || axis >= rank)
    fail(layer, "axis = " + std::to_string(cfg_int(layer, "axis", -1)) +
                    " is out of range for inputs of rank " + std::to_string(rank));
  std::vector<int64_t> shape = in[0]->shape;
  shape[static_cast<size_t>(axis)] = 0;
  for (const Array* a : in) {
    bool ok = static_cast<int64_t>(a->shape.size()) == rank;
    for (int64_t d = 0; ok && d < rank; ++d)
      if (d != axis && a->shape[static_cast<size_t>(d)] != in[0]->shape[static_cast<size_t>(d)])
        ok = false;
    if (!ok)
      fail(layer, "inputs " + shape_tuple(in[0]->shape) + " and " + shape_tuple(a->shape) +
                      " differ outside the concatenation axis " + std::to_string(axis));
    shape[static_cast<size_t>(axis)] += a->shape[static_cast<size_t>(axis)];
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<size_t>(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= shape[static_cast<size_t>(d)];
  Array y{shape, {}};
  y.data.reserve(static_cast<size_t>(y.size()));
  for (int64_t o = 0; o < outer; ++o)
    for (const Array* a : in) {
      const int64_t chunk = a->shape[static_cast<size_t>(axis)] * inner;
      y.data.insert(y.data.end(), a->data.begin() + o * chunk, a->data.begin() + (o + 1) * chunk);
    }
  return y;
}

namespace {

// Cropping1D (default 1 step at each end) and Cropping2D (default none): x[:, t:H-b, l:W-r, :].
Array cropping(const OpContext& ctx, const Inputs& in, bool one_d) {
  const Layer& layer = ctx.layer;
  require_inputs(layer, in, 1);
  const Array& x = *in[0];
  require_rank(layer, x, one_d ? 3 : 4, "the input");
  if (!one_d) require_channels_last(layer);
  int64_t t = 0, b = 0, l = one_d ? 1 : 0, r = one_d ? 1 : 0;
  if (has_key(layer, "cropping")) {
    const json& p = layer.config["cropping"];
    auto num = [&](const json& v) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0)
        fail(layer, "cropping = " + p.dump() + " is not made of non-negative integers");
      return v.get<int64_t>();
    };
    const bool pair = p.is_array() && p.size() == 2;
    if (p.is_number()) {
      l = r = num(p);
      if (!one_d) t = b = l;
    } else if (pair && !p[0].is_array() && one_d) {
      l = num(p[0]);
      r = num(p[1]);
    } else if (pair && !p[0].is_array()) {
      t = b = num(p[0]);
      l = r = num(p[1]);
    } else if (pair && !one_d && p[0].is_array() && p[1].is_array() && p[0].size() == 2 && p[1].size() == 2) {
      t = num(p[0][0]);
      b = num(p[0][1]);
      l = num(p[1][0]);
      r = num(p[1][1]);
    } else {
      fail(layer, "cropping = " + p.dump() + " is not understood");
    }
  }
  // A 1-D input (N, steps, C) is cropped along its steps, the 2-D width here.
  const int64_t n = x.shape[0], h = one_d ? 1 : x.shape[1], w = x.shape[one_d ? 1 : 2], c = x.shape.back();
  const int64_t oh = h - t - b, ow = w - l - r;
  if (oh < 1 || ow < 1) fail(layer, "cropping = " + layer.config["cropping"].dump() + " leaves nothing of " + shape_tuple(x.shape));
  Array y{one_d ? std::vector<int64_t>{n, ow, c} : std::vector<int64_t>{n, oh, ow, c}, {}};
  y.data.reserve(static_cast<size_t>(y.size()));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = t; i < t + oh; ++i)
      for (int64_t j = l; j < l + ow; ++j)
        for (int64_t k = 0; k < c; ++k) y.data.push_back(x.data[static_cast<size_t>(((s * h + i) * w + j) * c + k)]);
  return y;
}

}  // namespace

void add_shape_ops(OpTable& t) {
  t["Flatten"] = flatten;
  t["Reshape"] = reshape;
  t["ZeroPadding2D"] = zero_padding2d;
  t["Cropping1D"] = [](const OpContext& x, const Inputs& i) { return cropping(x, i, true); };
  t["Cropping2D"] = [](const OpContext& x, const Inputs& i) { return cropping(x, i, false); };
  t["Concatenate"] = concatenate;
}

}  // namespace bitlens::ref
