// The effective weights of a compiled model (bitlens/weights.hpp), read from the lowered graph:
// what the kernels compute with, not the latent floats the file stores.
#include "bitlens/weights.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "bitlens/format.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/semantics.hpp"

namespace bitlens {

namespace {

WeightTensor floats(std::string name, std::vector<int64_t> shape, std::vector<float> v, std::string meaning) {
  return {std::move(name), "float32", std::move(shape), std::move(v), {}, std::move(meaning)};
}

template <typename T>
WeightTensor integers(std::string name, const char* dtype, std::vector<int64_t> shape, const std::vector<T>& v,
                      std::string meaning) {
  return {std::move(name), dtype, std::move(shape), {}, std::vector<int64_t>(v.begin(), v.end()), std::move(meaning)};
}

int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// The Keras variable a weighted node's kernel comes from, and its shape in the file.
std::pair<std::string, std::vector<int64_t>> kernel_variable(const CompileResult& c, const Node& n) {
  const std::string var = n.separable_pointwise               ? "pointwise_kernel"
                          : n.op == Op::DepthwiseConv2D ? "depthwise_kernel"
                                                        : "kernel";
  if (const Layer* l = c.model.find(n.layer)) {
    auto it = l->weights.find(var);
    if (it != l->weights.end() && it->second.size() == static_cast<int64_t>(n.weights.size()))
      return {var, it->second.shape};
  }
  // Not reached for layers the importer accepted; a flat shape keeps the values usable.
  return {var, {static_cast<int64_t>(n.weights.size())}};
}

const PostOp* find_post(const Node& n, PostOp::Kind kind) {
  for (const auto& p : n.epi.chain)
    if (p.kind == kind && p.from_layer == n.layer) return &p;
  return nullptr;
}

std::vector<uint8_t> bit_vector(const std::vector<uint32_t>& words, int64_t channels) {
  std::vector<uint8_t> v(static_cast<size_t>(channels), 0);
  for (int64_t c = 0; c < channels && !words.empty(); ++c) v[c] = (words[c / 32] >> (c % 32)) & 1u;
  return v;
}

std::string float_text(float v) {
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return significant(v, 9);
}

void add_output_stage(const Graph& g, const Node& n, NodeWeights& w) {
  const int64_t C = g.tensors[n.outputs[0]].shape.back();
  const auto& e = n.epi;
  const bool integer = n.decision.kernel == KernelClass::Binary;
  const std::string acc = integer ? "d" : "acc";
  if (e.bits && integer) {
    w.tensors.push_back(integers("threshold", "int32", {C}, e.threshold,
                                 "per output channel: compared with the integer dot product d"));
    w.tensors.push_back(integers("flip", "uint8", {C}, bit_vector(e.flip, C),
                                 "per output channel: 1 where the output is -1 for d > threshold, 0 where for d < threshold"));
    w.rule = "output[c] = -1 if (flip[c] ? d > threshold[c] : d < threshold[c]) else +1";
    return;
  }
  std::string y = acc;
  auto step = [&](const std::vector<float>& mul, const std::vector<float>& add, const char* mn, const char* an) {
    if (!mul.empty()) {
      w.tensors.push_back(floats(mn, {C}, mul, "per output channel, multiplies (float32, rounded)"));
      y = "(" + y + " * " + mn + "[c])";
    }
    if (!add.empty()) {
      w.tensors.push_back(floats(an, {C}, add, "per output channel, added after the multiply (float32, rounded)"));
      y = "(" + y + " + " + an + "[c])";
    }
  };
  step(e.mul, e.add, "mul", "add");
  if (e.mid_clamp) {
    w.mid_clamp = true;
    w.mid_min = e.mid_min;
    w.mid_max = e.mid_max;
    if (e.mid_min != -INFINITY) y = "max(" + y + ", " + float_text(e.mid_min) + ")";
    if (e.mid_max != INFINITY) y = "min(" + y + ", " + float_text(e.mid_max) + ")";
  }
  step(e.mul2, e.add2, "mul2", "add2");
  w.act_min = e.act_min;
  w.act_max = e.act_max;
  if (e.act_min != -INFINITY) y = "max(" + y + ", " + float_text(e.act_min) + ")";
  if (e.act_max != INFINITY) y = "min(" + y + ", " + float_text(e.act_max) + ")";
  w.rule = e.bits ? "output[c] = -1 if y < 0 else +1, with y = " + y : "output[c] = " + y;
  if (y == acc && !e.bits) w.rule = "output[c] = " + acc + " (no output stage)";
  if (e.s8) {
    w.output_levels = e.s8_mul;
    w.output_min = e.s8_min;
    w.output_max = e.s8_max;
    w.rule = "output[c] = q / " + float_text(e.s8_mul) + ", q = clamp(round_half_even(y * " + float_text(e.s8_mul) +
             "), " + std::to_string(e.s8_min) + ", " + std::to_string(e.s8_max) + "), with y = " + y;
  }
}

NodeWeights weighted_node(const CompileResult& c, const Node& n) {
  const Graph& g = c.graph;
  NodeWeights w;
  w.has_geometry = n.op != Op::Dense;
  w.conv = n.conv;
  const auto [var, shape] = kernel_variable(c, n);
  const KernelClass k = n.decision.kernel;
  const bool packed = k == KernelClass::Binary || k == KernelClass::BinaryWeights;
  // Sign quantizers: the kernels multiply by the sign and apply magnitude_aware_sign's alpha in
  // the output stage (mul), whatever kernel runs the layer.
  const bool signs = n.conv.kernel_q.binary_weights();
  const PostOp* scale = n.conv.kernel_q.scaled_sign() && !n.epi.chain.empty() &&
                                n.epi.chain[0].kind == PostOp::Kind::Scale
                            ? &n.epi.chain[0]
                            : nullptr;
  std::vector<float> kernel = n.weights;
  if (scale) {
    const size_t ch = scale->a.size();
    for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = kernel[i] * scale->a[i % ch];
  }
  const std::string q = n.conv.kernel_q.name.empty() ? "no quantizer" : n.conv.kernel_q.name;
  w.tensors.push_back(floats(var, shape, kernel,
                             "the kernel as the layer computes with it (" + q + " applied), Keras' shape and order"));
  if (signs) {
    std::vector<int8_t> sign(n.weights.size());
    for (size_t i = 0; i < sign.size(); ++i) sign[i] = n.weights[i] < 0 ? -1 : 1;
    w.tensors.push_back(integers(var + "_sign", "int8", shape, sign, "sign of " + var + ": +1 or -1"));
    if (scale)
      w.tensors.push_back(floats(var + "_scale", {static_cast<int64_t>(scale->a.size())}, scale->a,
                                 "per output channel: alpha of magnitude_aware_sign, " + var + " = " + var +
                                     "_sign * alpha (applied as the output stage's first mul)"));
  }
  if (packed)
    w.tensors.push_back(integers(var + "_bits", "uint32", {static_cast<int64_t>(n.weight_bits.size())}, n.weight_bits,
                                 "the words " + n.decision.kernel_name +
                                     " reads: bit 1 = -1, layout in kernels/include/bitlens/bl_kernels.h"));
  if (k == KernelClass::Int8) {
    // The integers in Keras' shape (the kernel's own layout is an implementation detail).
    const int32_t m = sem::int8_weight_denominator(n.conv.kernel_q.spec);
    std::vector<int8_t> q(n.weights.size());
    for (size_t i = 0; i < q.size(); ++i) q[i] = sem::int8_weight(n.weights[i], m);
    w.tensors.push_back(integers(var + "_int8", "int8", shape, q,
                                 var + " * " + std::to_string(m) + ": the integers the int8 kernel multiplies"));
    w.input_levels = g.tensors[n.inputs[0]].s8.levels;
    w.weight_denominator = m;
    w.accumulate = "acc = sum over the window (dense: all inputs) of (input * input_levels) * " + var +
                   "_int8, an exact integer (the input's levels times input_levels are integers; padded taps hold "
                   "pad_value * input_levels)";
  } else if (k == KernelClass::Binary)
    w.accumulate = "d = sum over the window (dense: all inputs) of sign(input) * " + var + "_sign, an integer (sign(0) = +1)";
  else
    w.accumulate = "acc = sum over the window (dense: all inputs) of input * " + var + (signs ? "_sign" : "") + ", float32";
  if (const PostOp* b = find_post(n, PostOp::Kind::Bias))
    w.tensors.push_back(floats("bias", {static_cast<int64_t>(b->a.size())}, b->a,
                               "the layer's bias, as stored (folded into the output stage below)"));
  add_output_stage(g, n, w);
  if (n.epi.residual >= 0) {
    const int r = n.inputs.at(static_cast<size_t>(n.epi.residual));
    for (const auto& f : g.nodes)
      if (f.op == Op::Add && f.decision.kernel == KernelClass::Fused && f.decision.fused_into == n.name) w.residual_add = f.layer;
    w.residual_operand = g.tensors[r].name;
    w.rule += ", then output[i] += '" + w.residual_operand + "'[i] (the other input of the folded Add '" + w.residual_add + "')";
  }
  // Activations other than a clamp (sigmoid, swish, ...) run after the output stage.
  if (!n.act.linear()) {
    w.activation = n.activation;
    w.rule += ", then the activation '" + n.activation + "'";
  }
  w.input_quantizer = n.conv.input_q.name;
  w.kernel_quantizer = n.conv.kernel_q.name;
  return w;
}

}  // namespace

WeightsExport effective_weights(const CompileResult& c, const std::string& only) {
  const Graph& g = c.graph;
  WeightsExport out;
  out.model_file = c.model.file.filename().string();
  bool layer_found = only.empty();
  for (const auto& n : g.nodes) {
    if (!only.empty() && n.layer != only) continue;
    layer_found = true;
    const bool weighted = n.op == Op::Conv2D || n.op == Op::DepthwiseConv2D || n.op == Op::Dense;
    if (n.decision.kernel == KernelClass::Unsupported) {
      if (weighted || n.op == Op::BatchNorm)
        out.skipped.push_back({n.layer, "unsupported (" +
                                            (n.decision.reasons.empty() ? std::string("no kernel")
                                                                        : n.decision.reasons.front().code) +
                                            "): no kernel runs it, so it has no effective weights"});
      continue;
    }
    if (n.removed) continue;
    NodeWeights w;
    const bool bit_pool = n.op == Op::MaxPool && g.tensors[n.inputs[0]].format == Format::S1;
    const bool has_const = weighted || (n.op == Op::BatchNorm && !n.epi.mul.empty()) || bit_pool ||
                           !n.act.slopes.empty() || n.op == Op::ConstAdd || n.op == Op::ConstMul;
    if (!has_const) continue;
    if (weighted) {
      w = weighted_node(c, n);
    } else if (n.op == Op::BatchNorm) {
      const int64_t C = static_cast<int64_t>(n.epi.mul.size());
      w.tensors.push_back(floats("mul", {C}, n.epi.mul, "per channel: gamma / sqrt(moving_variance + epsilon), as Keras rounds it"));
      w.tensors.push_back(floats("add", {C}, n.epi.add, "per channel: beta - moving_mean * mul"));
      w.rule = "output[c] = (x[c] * mul[c]) + add[c]";
    } else if (bit_pool) {
      const int64_t C = g.tensors[n.inputs[0]].shape.back();
      w.has_geometry = true;
      w.conv.kh = n.pool.kh;
      w.conv.kw = n.pool.kw;
      w.conv.sh = n.pool.sh;
      w.conv.sw = n.pool.sw;
      w.conv.pad_top = n.pool.pad_top;
      w.conv.pad_left = n.pool.pad_left;
      w.tensors.push_back(integers("pool_min", "uint8", {C}, bit_vector(n.or_mask, C),
                                   "per channel: 1 where the window's +-1 values pool with min (the folded steps "
                                   "after the pool decrease), 0 with max"));
      w.rule = "output[c] = (pool_min[c] ? min : max) of the window's +-1 values";
    } else if (!n.act.slopes.empty()) {
      w.tensors.push_back(floats("alpha", {static_cast<int64_t>(n.act.slopes.size())}, n.act.slopes,
                                 "PReLU slopes, repeating over the flattened output"));
      w.rule = "output[i] = x[i] if x[i] >= 0 else alpha[i % len(alpha)] * x[i]";
    } else {
      w.tensors.push_back(floats("value", {}, {n.const_value}, "the constant operand"));
      w.rule = n.op == Op::ConstAdd ? "output = x + value" : "output = x * value";
    }
    w.kernel = n.decision.kernel_name;
    w.node = n.name;
    w.layer = n.layer;
    w.class_name = c.model.find(n.layer) ? c.model.find(n.layer)->class_name : n.class_name;
    w.op = op_name(n.op);
    w.kernel_class = kernel_class_name(n.decision.kernel);
    w.input_format = format_name(g.tensors[n.inputs[0]].format);
    w.output_shape = g.tensors[n.outputs[0]].shape;
    w.output_format = format_name(g.tensors[n.outputs[0]].format);
    // Keras layers only: an inserted step (a layer's input quantizer, folded into the int8
    // output of the layer before) carries its reader's layer name and is described by
    // output_levels instead.
    for (const auto& f : g.nodes)
      if (f.decision.kernel == KernelClass::Fused && f.decision.fused_into == n.name && !f.class_name.empty())
        w.folded.push_back(f.layer);
    out.nodes.push_back(std::move(w));
  }
  if (!layer_found) throw ModelError("the model has no layer named '" + only + "' (see 'bitlens analyze' for the names)");
  if (!only.empty() && out.nodes.empty() && out.skipped.empty())
    throw ModelError("layer '" + only + "' has no weights or constants that run (it may be folded into another layer: see 'bitlens analyze')");
  return out;
}

namespace {

json geometry_json(const NodeWeights& w) {
  const auto& a = w.conv;
  json j;
  j["kernel_size"] = {a.kh, a.kw};
  j["strides"] = {a.sh, a.sw};
  if (w.op != "max_pool") {
    j["dilation_rate"] = {a.dh, a.dw};
    j["padding"] = {{"top", a.pad_top}, {"bottom", a.pad_bottom}, {"left", a.pad_left}, {"right", a.pad_right}};
    j["pad_value"] = a.pad_value;
    j["groups"] = a.groups;
    j["depth_multiplier"] = a.depth_multiplier;
  } else {
    j["padding"] = {{"top", a.pad_top}, {"left", a.pad_left}};
  }
  return j;
}

json bound(float v) { return std::isinf(v) ? json(nullptr) : json(v); }

// JSON has no inf/nan: those are written as strings.
json value_json(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return v;
}


}  // namespace

json weights_manifest(const WeightsExport& w, WeightsFormat format) {
  json j;
  j["format"] = "bitlens-weights";
  j["version"] = 1;
  j["bitlens_version"] = BITLENS_VERSION;
  j["model"] = w.model_file;
  j["layout"] = format == WeightsFormat::Npy ? "npy" : format == WeightsFormat::C ? "c" : "json";
  j["nodes"] = json::array();
  std::set<std::string> files;
  IdentifierSet symbols;
  // File names: "<node>.<tensor>.npy", characters outside [A-Za-z0-9_.-] as '_', made unique.
  auto file_name = [&files](const std::string& base) {
    std::string f = base;
    for (int k = 2; !files.insert(f).second; ++k) f = base + "_" + std::to_string(k);
    return f + ".npy";
  };
  for (const auto& n : w.nodes) {
    json e;
    e["node"] = n.node;
    e["layer"] = n.layer;
    e["class_name"] = n.class_name;
    e["op"] = n.op;
    e["kernel"] = n.kernel;
    e["kernel_class"] = n.kernel_class;
    e["input_format"] = n.input_format;
    e["output_format"] = n.output_format;
    e["output_shape"] = n.output_shape;
    e["folded"] = n.folded;
    if (!n.input_quantizer.empty()) e["input_quantizer"] = n.input_quantizer;
    if (!n.kernel_quantizer.empty()) e["kernel_quantizer"] = n.kernel_quantizer;
    if (!n.accumulate.empty()) e["accumulate"] = n.accumulate;
    if (!n.activation.empty()) e["activation"] = n.activation;
    if (n.has_geometry) e["geometry"] = geometry_json(n);
    if (n.mid_clamp) e["mid_clamp"] = {bound(n.mid_min), bound(n.mid_max)};
    if (!n.residual_add.empty()) e["residual_add"] = {{"layer", n.residual_add}, {"operand", n.residual_operand}};
    if (n.weight_denominator > 0) {
      e["input_levels"] = n.input_levels;
      e["weight_denominator"] = n.weight_denominator;
    }
    if (n.act_min != -INFINITY || n.act_max != INFINITY) e["clamp"] = {bound(n.act_min), bound(n.act_max)};
    if (n.output_levels > 0) {
      e["output_levels"] = n.output_levels;
      e["output_clamp"] = {n.output_min, n.output_max};
    }
    e["rule"] = n.rule;
    e["tensors"] = json::array();
    std::string base;
    for (char ch : n.node)
      base += std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.' ? ch : '_';
    for (const auto& t : n.tensors) {
      json tj;
      tj["name"] = t.name;
      tj["dtype"] = t.dtype;
      tj["shape"] = t.shape;
      tj["meaning"] = t.meaning;
      if (format == WeightsFormat::Npy) tj["file"] = file_name(base + "." + t.name);
      if (format == WeightsFormat::C) tj["symbol"] = symbols.make(c_identifier(n.node + "_" + t.name));
      if (format == WeightsFormat::Json) {
        json v = json::array();
        if (t.dtype == "float32")
          for (float f : t.f32) v.push_back(value_json(f));
        else
          v = t.ints;
        tj["values"] = std::move(v);
      }
      e["tensors"].push_back(std::move(tj));
    }
    j["nodes"].push_back(std::move(e));
  }
  j["skipped"] = json::array();
  for (const auto& s : w.skipped) j["skipped"].push_back({{"layer", s.layer}, {"why", s.why}});
  return j;
}

namespace {

std::string npy_of(const WeightTensor& t) {
  if (t.dtype == "float32") return npy_bytes(Array{t.shape, t.f32});
  auto as = [&](auto zero) {
    std::vector<decltype(zero)> v(t.ints.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<decltype(zero)>(t.ints[i]);
    return npy_bytes(t.shape, v);
  };
  if (t.dtype == "int8") return as(int8_t{});
  if (t.dtype == "uint8") return as(uint8_t{});
  if (t.dtype == "int32") return as(int32_t{});
  return as(uint32_t{});
}

const char* c_type(const std::string& dtype) {
  if (dtype == "float32") return "float";
  if (dtype == "int8") return "int8_t";
  if (dtype == "uint8") return "uint8_t";
  if (dtype == "int32") return "int32_t";
  return "uint32_t";
}

std::string c_value(const WeightTensor& t, size_t i) {
  if (t.dtype == "float32") return c_float_literal(t.f32[i]);
  if (t.dtype == "int32") return c_int32_literal(static_cast<int32_t>(t.ints[i]));
  if (t.dtype == "uint32") {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08xu", static_cast<uint32_t>(t.ints[i]));
    return b;
  }
  return std::to_string(t.ints[i]);
}

}  // namespace

std::vector<GeneratedFile> weights_files(const WeightsExport& w, WeightsFormat format) {
  const json manifest = weights_manifest(w, format);
  std::vector<GeneratedFile> files;
  files.push_back({"weights.json", manifest.dump(1) + "\n"});
  if (format == WeightsFormat::Npy) {
    for (size_t i = 0; i < w.nodes.size(); ++i)
      for (size_t k = 0; k < w.nodes[i].tensors.size(); ++k)
        files.push_back({manifest["nodes"][i]["tensors"][k]["file"].get<std::string>(), npy_of(w.nodes[i].tensors[k])});
  } else if (format == WeightsFormat::C) {
    std::string h, c;
    const std::string head = "/* Effective inference weights of " + c_comment_text(w.model_file) + ", written by bitlens " +
                             BITLENS_VERSION + " weights.\n * Meaning and layout of each array: weights.json and docs/weights.md. */\n";
    h = head + "#ifndef BITLENS_WEIGHTS_H\n#define BITLENS_WEIGHTS_H\n\n#include <stdint.h>\n\n";
    c = head + "#include <math.h>\n\n#include \"weights.h\"\n\n";
    for (size_t i = 0; i < w.nodes.size(); ++i) {
      const auto& n = w.nodes[i];
      for (size_t k = 0; k < n.tensors.size(); ++k) {
        const auto& t = n.tensors[k];
        const std::string sym = manifest["nodes"][i]["tensors"][k]["symbol"].get<std::string>();
        const int64_t len = count(t.shape);
        const std::string decl = std::string("const ") + c_type(t.dtype) + " " + sym + "[" + std::to_string(std::max<int64_t>(len, 1)) + "]";
        h += "/* " + c_comment_text(n.node) + " (" + c_comment_text(n.class_name) + ", " + n.kernel + "): " + t.name + ", shape " +
             shape_tuple(t.shape) + ": " + c_comment_text(t.meaning) + " */\nextern " + decl + ";\n";
        c += decl + " = {";
        for (int64_t v = 0; v < len; ++v) c += (v % 8 ? " " : "\n  ") + c_value(t, static_cast<size_t>(v)) + (v + 1 < len ? "," : "");
        c += "\n};\n\n";
      }
    }
    h += "#endif\n";
    files.push_back({"weights.h", h});
    files.push_back({"weights.c", c});
  }
  return files;
}

}  // namespace bitlens
