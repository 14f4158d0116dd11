// Pass: choose a kernel class and C kernel for every node, with reasons; give every tensor its
// format and insert pack (f32 -> s1) / unpack (s1 -> f32) steps where formats differ.
#include <algorithm>
#include <cmath>

#include "bitlens/format.hpp"
#include "bitlens/layer_table.hpp"
#include "ops/params.hpp"
#include "ops/registry.hpp"
#include "passes/passes.hpp"

namespace bitlens::passes {
namespace {

// A pad value as reasons spell it: one decimal ("1.0", "0.5") unless it needs more digits.
std::string fmt_value(float v) {
  const double d = v;
  return std::fabs(v - std::round(v * 10) / 10) > 1e-6f ? short_number(d) : fixed(d, 1);
}

void set_kernel(Node& n, const ops::KernelOp& k) {
  n.decision.kernel = k.cls;
  n.decision.kernel_name = k.kernel_name(n);
  n.decision.op_type = k.op_type;
}



// A registration by its C entry point (a variant that selection does not reach through `choose`).
const ops::KernelOp& named(Op op, std::string_view name) {
  for (const auto& k : ops::registry())
    if (k.op == op && name == k.name) return k;
  throw ModelError("internal: no registration " + std::string(name));
}

// The registration of a format conversion: Pack makes bits (from int8 or float), Unpack and
// Dequantize floats.
const ops::KernelOp& conversion(Op op, Format from) {
  if (op == Op::Pack) return named(Op::Pack, from == Format::S8 ? "bl_pack_s8" : "bl_pack_f32");
  return *ops::find_kernel(op, KernelClass::Float);
}

// The first candidate of the node's op that does not reject it; the rejected ones are recorded.
// A variant (the bit-sliced binary conv) rejected for the same reason as the kernel after it is
// recorded once, under that kernel's name.
const ops::KernelOp& choose(const Graph& g, Node& n) {
  auto& rejected = n.decision.rejected;
  const ops::KernelOp* previous = nullptr;
  for (const ops::KernelOp* k : ops::candidates(n.op)) {
    std::string why = k->rejects ? k->rejects(g, n) : std::string();
    if (why.empty()) return *k;
    if (previous && previous->cls == k->cls && rejected.back().why == why)
      rejected.back().kernel = k->name;
    else
      rejected.push_back({k->name, std::move(why)});
    previous = k;
  }
  throw ModelError("internal: no kernel accepts '" + n.name + "' (" + op_name(n.op) + ")");
}

// Appends a one-input step `before` schedule positions ahead of `consumer` that reads what its
// input slot `slot` read and feeds that slot a new tensor of format `f`.
Node& insert_step(Graph& g, int consumer, size_t slot, Op op, const char* suffix, double before, Format f) {
  const int src = g.nodes[consumer].inputs[slot];
  Node n;
  n.id = static_cast<int>(g.nodes.size());
  const Node& c = g.nodes[consumer];
  n.layer = c.layer;
  n.name = c.name + suffix;
  n.op = op;
  n.order = c.order - before;
  n.inputs = {src};
  Tensor t;
  t.name = n.name;
  t.shape = g.tensors[src].shape;
  t.format = f;
  t.producer = n.id;
  t.consumers = {consumer};
  n.outputs = {g.add_tensor(std::move(t))};
  auto& sc = g.tensors[src].consumers;
  sc.erase(std::remove(sc.begin(), sc.end(), consumer), sc.end());
  sc.push_back(n.id);
  g.nodes[consumer].inputs[slot] = n.outputs[0];
  g.nodes.push_back(std::move(n));
  return g.nodes.back();
}

// Inserts a conversion step feeding `consumer` input slot `slot` and returns the new tensor.
int insert_conversion(Graph& g, int consumer, size_t slot, Op op) {
  const int src = g.nodes[consumer].inputs[slot];
  // Reuse an existing conversion of the same tensor.
  for (const auto& n : g.nodes)
    if (!n.removed && n.op == op && n.inputs.size() == 1 && n.inputs[0] == src) {
      const int t = n.outputs[0];
      g.nodes[consumer].inputs[slot] = t;
      auto& sc = g.tensors[src].consumers;
      sc.erase(std::remove(sc.begin(), sc.end(), consumer), sc.end());
      g.tensors[t].consumers.push_back(consumer);
      if (g.nodes[consumer].order - 0.5 < n.order) g.nodes[n.id].order = g.nodes[consumer].order - 0.5;
      return t;
    }
  const bool from_s8 = g.tensors[src].format == Format::S8;
  // One pack per input of a concatenation on bits: "<concat>/pack0", "<concat>/pack1", ...
  const std::string pack = g.nodes[consumer].inputs.size() > 1 ? "/pack" + std::to_string(slot) : "/pack";
  Node& n = insert_step(g, consumer, slot, op, op == Op::Pack ? pack.c_str() : op == Op::Unpack ? "/unpack" : "/dequantize",
                        0.5, op == Op::Pack ? Format::S1 : Format::F32);
  set_kernel(n, conversion(op, from_s8 ? Format::S8 : Format::F32));
  n.decision.reasons.push_back(
      make_reason(op == Op::Pack ? "INPUT_PACKED" : op == Op::Unpack ? "INPUT_UNPACKED" : "INPUT_DEQUANTIZED"));
  return n.outputs[0];
}

// Whether `p` applies quantizer `q` (same kind and k_bit) as an element-wise step: a quantize
// step, or an int8 add or a MAC kernel that took over the quantizer after it.
bool same_quantizer(const Node& p, const Quantizer& q) {
  const bool quantizes = (p.op == Op::Quantize && p.decision.kernel != KernelClass::Unsupported) ||
                         (p.op == Op::Add && p.decision.kernel == KernelClass::Int8) || p.epi.s8;
  return quantizes && p.quant.elementwise_levels() && p.quant.kind == q.kind && p.quant.spec.k_bit == q.spec.k_bit;
}

// The Keras layer whose quantizer `p` applies (an int8 add or a MAC kernel with int8 output: the
// quantizer layer folded into it).
std::string quantizer_layer(const Graph& g, const Node& p) {
  if (p.op == Op::Add || p.epi.s8)
    for (const auto& f : g.nodes)
      if (f.op == Op::Quantize && f.decision.kernel == KernelClass::Fused && f.decision.fused_into == p.name) return f.layer;
  return p.layer;
}

// Inserts a float step that applies `consumer`'s input quantizer (a levels quantizer) to its
// input slot `slot`, unless that input already is the output of the same quantizer, which is
// idempotent (q(q(x)) == q(x) bit for bit: q(x) * n is an integer to well within 0.5).
void insert_input_quantize(Graph& g, int consumer, size_t slot) {
  const Quantizer q = g.nodes[consumer].conv.input_q;
  const int src = g.nodes[consumer].inputs[slot];
  const int producer = g.tensors[src].producer;
  if (producer >= 0) {
    const Node* p = &g.nodes[producer];
    // The float copy of an int8 tensor holds the same levels.
    if (p->op == Op::Dequantize && g.tensors[p->inputs[0]].producer >= 0)
      p = &g.nodes[g.tensors[p->inputs[0]].producer];
    if (same_quantizer(*p, q)) {
      g.nodes[consumer].decision.reasons.push_back(
          make_reason("INPUT_ALREADY_QUANTIZED", {quantizer_text(q), quantizer_layer(g, *p), g.nodes[consumer].name}));
      return;
    }
  }
  Node& n = insert_step(g, consumer, slot, Op::Quantize, "/input_quantizer", 0.25, Format::F32);
  n.quant = q;
  set_kernel(n, *ops::find_kernel(Op::Quantize, KernelClass::Float));
  n.decision.reasons.push_back(make_reason("INPUT_QUANTIZER_STEP", {quantizer_text(q), g.nodes[consumer].name}));
}

void need_format(Graph& g, int node, size_t slot, Format f) {
  const int t = g.nodes[node].inputs[slot];
  const Format have = g.tensors[t].format;
  if (have == f) return;
  if (f == Format::S8) throw ModelError("internal: '" + g.nodes[node].name + "' asks for an int8 input");
  insert_conversion(g, node, slot, f == Format::S1 ? Op::Pack : have == Format::S8 ? Op::Dequantize : Op::Unpack);
}

// Nodes whose input formats are settled: every node the loop of select_kernels has passed, and
// every step it inserted (ids beyond the imported nodes).
struct Selected {
  std::vector<char> done;
  bool operator()(int id) const { return static_cast<size_t>(id) >= done.size() || done[id]; }
};

// Quantize node `q` writes int8 (bl_quantize_s8): q = level * levels - offset.
void write_s8(Graph& g, Node& q, const sem::S8Levels& lv) {
  Tensor& out = g.tensors[q.outputs[0]];
  out.format = Format::S8;
  out.s8 = {lv.levels, lv.offset};
  set_kernel(q, named(Op::Quantize, "bl_quantize_s8"));
  auto& rs = q.decision.reasons;
  rs.erase(std::remove_if(rs.begin(), rs.end(), [](const Reason& r) { return r.code == "QUANTIZE_STEP"; }), rs.end());
  rs.push_back(make_reason("INT8_TENSOR", {quantizer_text(q.quant), out.name, std::to_string(lv.offset),
                                          short_number(lv.levels)}));
}

// Stores the output of quantize node `qid` as int8 for int8 reader `reader`. Readers whose
// formats are already settled read float: a pack of it becomes bl_pack_s8, any other gets a
// dequantize step; later readers ask for their format themselves (need_format).
void make_s8(Graph& g, int qid, int reader, const Selected& selected) {
  const int t = g.nodes[qid].outputs[0];
  const auto lv = sem::s8_activation_levels(g.nodes[qid].quant.spec);
  if (!lv) throw ModelError("internal: '" + g.nodes[qid].name + "' has no int8 form");
  write_s8(g, g.nodes[qid], *lv);
  const std::vector<int> readers = g.tensors[t].consumers;
  for (int c : readers) {
    if (c == reader || !selected(c)) continue;
    if (g.nodes[c].op == Op::Pack) {
      set_kernel(g.nodes[c], named(Op::Pack, "bl_pack_s8"));
      continue;
    }
    if (g.nodes[c].decision.kernel == KernelClass::Int8) continue;
    for (size_t slot = 0; slot < g.nodes[c].inputs.size(); ++slot)
      if (g.nodes[c].inputs[slot] == t) insert_conversion(g, c, slot, Op::Dequantize);
    if (g.nodes[c].op == Op::Flatten) {  // a view: it now shares the float copy's storage
      const int in = g.nodes[c].inputs[0];
      g.tensors[g.nodes[c].outputs[0]].alias_of = g.tensors[in].alias_of >= 0 ? g.tensors[in].alias_of : in;
    }
  }
}

// A quantizer layer with an int8 form writes int8 whatever reads it: 1 byte per value, a
// quarter of the float step's instructions; readers that need float get a dequantize step, sign
// quantizers pack it directly. A model output stays float32.
void quantize_to_s8(Graph& g, int id) {
  Node& q = g.nodes[id];
  const auto lv = q.quant.elementwise_levels() ? sem::s8_activation_levels(q.quant.spec) : std::nullopt;
  if (!lv || g.tensors[q.outputs[0]].model_output || q.decision.kernel == KernelClass::Unsupported) return;
  write_s8(g, q, *lv);
}

// The int8 add (bl_add_s8) takes over the quantizer that alone reads its sum: the sum of two
// levels over a power of two is exact, so that quantizer only clamps it.
void fuse_int8_add(Graph& g, int id) {
  Node& add = g.nodes[id];
  const int sum = add.outputs[0];
  Node& q = g.nodes[g.tensors[sum].consumers.at(0)];
  add.quant = q.quant;
  g.tensors[sum].format = Format::S8;
  g.tensors[sum].s8 = g.tensors[add.inputs[0]].s8;
  const auto p = ops::quantize_params(q.quant);
  add.decision.reasons.push_back(make_reason(
      "ADD_INT8", {g.tensors[add.inputs[0]].name, g.tensors[add.inputs[1]].name, short_number(g.tensors[sum].s8.levels),
                   quantizer_text(q.quant), q.name, short_number(p.lo * p.levels), short_number(p.hi * p.levels)}));
  g.bypass(q);
  q.decision.kernel = KernelClass::Fused;
  q.decision.fused_into = add.name;
  q.decision.reasons.push_back(make_reason("FUSED", {add.name, "into its int8 clamp"}));
  // In place: the sum overwrites an input that nothing reads after the add (bl_add_s8 allows
  // out == a), so it takes no buffer of its own. Not a model input or output, not a view.
  for (int in : add.inputs) {
    const Tensor& it = g.tensors[in];
    const Tensor& st = g.tensors[sum];
    if (it.consumers == std::vector<int>{id} && it.alias_of < 0 && !it.model_input && !it.model_output &&
        it.format == Format::S8 && it.shape == st.shape) {
      g.tensors[sum].alias_of = in;
      add.decision.reasons.push_back(make_reason("IN_PLACE", {it.name}));
      break;
    }
  }
}

// A float Add of two tensors of one shape, one of them the float output of a MAC kernel that
// adds a residual in its output stage (bl_output.residual: QuickNet's conv -> BatchNorm ->
// shortcut Add) and read by nothing else: the kernel adds the other tensor to each value after
// its stage, which is the Add's float32 sum (x + y is y + x exactly). No add pass, and no
// buffer for the conv's own result. Not after an activation the kernel runs in place (it would
// come after the sum), nor for a model output of the conv itself.
void fold_residual_add(Graph& g, int id) {
  Node& add = g.nodes[id];
  if (add.inputs.size() != 2 || !add.act.linear()) return;
  const int sum = add.outputs[0];
  for (size_t slot = 0; slot < 2; ++slot) {
    const int t = add.inputs[slot], r = add.inputs[1 - slot];
    const int pid = g.tensors[t].producer;
    if (pid < 0 || t == r) continue;
    Node& p = g.nodes[pid];
    const Tensor& pt = g.tensors[t];
    const ops::KernelOp* k = ops::find_kernel(p);
    if (p.removed || !k || !k->residual_output || p.epi.bits || p.epi.s8 || p.epi.residual >= 0 || !p.act.linear() ||
        pt.format != Format::F32 || pt.model_output || pt.alias_of >= 0 || pt.consumers != std::vector<int>{id} ||
        g.tensors[r].format != Format::F32 || g.tensors[r].shape != pt.shape || g.tensors[sum].shape != pt.shape)
      continue;
    // Steps run in layer order (analysis/schedule.cpp): r must be ready when the conv runs, which
    // a conversion inserted for the Add itself, or a layer listed after the conv, is not.
    const int rp = g.tensors[r].producer;
    if (rp >= 0 && !(g.nodes[rp].order < p.order)) continue;
    // The conv reads r; the Add's readers read the conv's output, which now holds the sum
    // (bypass hands them input 0).
    auto& rc = g.tensors[r].consumers;
    std::replace(rc.begin(), rc.end(), id, pid);
    p.inputs.push_back(r);
    p.epi.residual = static_cast<int>(p.inputs.size()) - 1;
    add.inputs = {t, r};
    g.bypass(add);
    // The conv's tensor now holds the Add's value: it takes the Add's name (reports, RAM table).
    std::swap(g.tensors[t].name, g.tensors[sum].name);
    add.decision.kernel = KernelClass::Fused;
    add.decision.kernel_name.clear();
    add.decision.op_type.clear();
    add.decision.fused_into = p.name;
    add.decision.reasons = {make_reason("FUSED", {p.name, "into its output stage"})};
    add.decision.rejected.clear();
    p.decision.reasons.push_back(make_reason("RESIDUAL_ADD", {add.name, g.tensors[r].name}));
    return;
  }
}

// A conv/dense kernel with an int8 output stage (BL_OUT_S8) takes over the quantizer node `qid`
// when that quantizer alone reads its float output: the stage computes the float value it would
// have written, and rounding it times the levels and clamping the integer is the quantizer's
// clip-and-round (bl_quantize_s8) exactly. A quarter of the float tensor's memory, no quantize
// step. Not for stored offsets (Larq's 8-bit DoReFa stores q - 128), nor after an activation the
// kernel runs in place.
void fold_quantizer_into_output(Graph& g, int qid) {
  Node& q = g.nodes[qid];
  const Tensor& qt = g.tensors[q.outputs[0]];
  const int t = q.inputs[0];
  const int pid = g.tensors[t].producer;
  if (qt.format != Format::S8 || qt.s8.offset != 0 || pid < 0) return;
  Node& p = g.nodes[pid];
  const Tensor& pt = g.tensors[t];
  if (p.removed || pt.format != Format::F32 || pt.model_output || pt.alias_of >= 0 || pt.consumers != std::vector<int>{qid})
    return;
  const ops::KernelOp* k = ops::find_kernel(p);
  // A folded residual Add comes after the stage the int8 output would round (the kernels refuse both).
  if (!k || !k->s8_output || p.epi.bits || p.epi.residual >= 0 || !p.act.linear()) return;
  const auto qp = ops::quantize_params(q.quant);
  p.epi.s8 = true;
  p.epi.s8_mul = qp.levels;
  p.epi.s8_min = static_cast<int32_t>(std::nearbyint(qp.lo * qp.levels));
  p.epi.s8_max = static_cast<int32_t>(std::nearbyint(qp.hi * qp.levels));
  p.quant = q.quant;
  Tensor& out = g.tensors[t];
  out.format = Format::S8;
  out.s8 = qt.s8;
  auto& rs = p.decision.reasons;
  rs.erase(std::remove_if(rs.begin(), rs.end(), [](const Reason& r) { return r.code == "OUTPUT_FLOAT"; }), rs.end());
  rs.push_back(make_reason("INT8_OUTPUT", {quantizer_text(q.quant), q.name, short_number(qp.levels),
                                           std::to_string(p.epi.s8_min), std::to_string(p.epi.s8_max)}));
  g.bypass(q);
  q.decision.kernel = KernelClass::Fused;
  q.decision.kernel_name.clear();
  q.decision.op_type.clear();
  q.decision.fused_into = p.name;
  q.decision.reasons = {make_reason("FUSED", {p.name, "into its int8 output stage"})};
}

// An int8 MAC node's input: the int8 output of its input quantizer, made so if needed.
void int8_input(Graph& g, int id, const Selected& selected) {
  const Quantizer q = g.nodes[id].conv.input_q;
  int t = g.nodes[id].inputs[0];
  int producer = g.tensors[t].producer;
  if (g.tensors[t].format == Format::S8 && producer >= 0 && same_quantizer(g.nodes[producer], q)) {
    g.nodes[id].decision.reasons.push_back(
        make_reason("INPUT_ALREADY_QUANTIZED", {quantizer_text(q), quantizer_layer(g, g.nodes[producer]), g.nodes[id].name}));
    return;
  }
  need_format(g, id, 0, Format::F32);
  insert_input_quantize(g, id, 0);
  t = g.nodes[id].inputs[0];
  producer = g.tensors[t].producer;
  // A model output keeps its float32 values: the int8 copy is a step of its own (and the input
  // is not "already quantized" by a step this layer reads).
  if (g.tensors[t].model_output) {
    auto& rs = g.nodes[id].decision.reasons;
    rs.erase(std::remove_if(rs.begin(), rs.end(), [](const Reason& r) { return r.code == "INPUT_ALREADY_QUANTIZED"; }),
             rs.end());
    Node& n = insert_step(g, id, 0, Op::Quantize, "/input_quantizer", 0.25, Format::F32);
    n.quant = q;
    set_kernel(n, *ops::find_kernel(Op::Quantize, KernelClass::Float));
    n.decision.reasons.push_back(make_reason("INPUT_QUANTIZER_STEP", {quantizer_text(q), g.nodes[id].name}));
    producer = n.id;
  }
  make_s8(g, producer, id, selected);
  fold_quantizer_into_output(g, producer);
}

void select_weighted(Graph& g, int id, const Selected& selected) {
  Node& n = g.nodes[id];
  auto& a = n.conv;
  auto& d = n.decision;
  const std::string plain_class = n.op == Op::Dense ? "Dense" : n.op == Op::Conv2D ? "Conv2D" : "DepthwiseConv2D";
  const bool quant_layer = n.class_name.rfind("Quant", 0) == 0 || is_qkeras_layer(n.class_name);
  const bool w_bin = a.kernel_q.binary_weights();
  using K = Quantizer::Kind;

  // A MagnitudeAwareSign input quantizer scales the signs by per-channel means of |x| computed
  // at run time; no kernel does that, and treating it as "no quantizer" would silently convolve
  // the raw input.
  // A levels quantizer (DoReFa, STCustomDoReFa) on the input runs as its own float step; in
  // "weights" mode it would normalise by a maximum over the whole input at run time.
  const bool in_levels = a.input_q.elementwise_levels();
  if (a.input_q.kind == K::Unknown || a.input_q.kind == K::Heaviside || a.input_q.kind == K::Tern ||
      ((a.input_q.kind == K::DoReFa || a.input_q.kind == K::StDoReFa) && !in_levels) ||
      a.input_q.kind == K::MagnitudeAwareSign) {
    d.kernel = KernelClass::Unsupported;
    d.reasons.push_back(make_reason("INPUT_QUANTIZER_UNSUPPORTED", {quantizer_text(a.input_q), n.name}));
    return;
  }
  // Any valid QKeras kernel quantizer runs on the float path with the weights Keras multiplies.
  const bool w_levels = a.kernel_q.levels() || (!w_bin && a.kernel_q.kind == K::QKeras && a.kernel_q.invalid.empty());
  if (!w_bin && !w_levels && a.kernel_q.kind != K::None && a.kernel_q.kind != K::NoOp) {
    d.kernel = KernelClass::Unsupported;
    d.reasons.push_back(
        make_reason("KERNEL_QUANTIZER_NOT_SIGN", {quantizer_text(a.kernel_q), n.name, weight_quantizer_key(n)}));
    return;
  }

  set_kernel(n, choose(g, n));

  const bool in_sign = a.input_q.sign_like();
  if (d.kernel == KernelClass::Binary) {
    need_format(g, id, 0, Format::S1);
  } else if (d.kernel == KernelClass::Int8) {
    int8_input(g, id, selected);
    Node& m = g.nodes[id];
    const Tensor::S8 in = g.tensors[m.inputs[0]].s8;
    const int32_t wm = sem::int8_weight_denominator(m.conv.kernel_q.spec);
    m.decision.reasons.push_back(make_reason("INT8_KERNEL", {quantizer_text(m.conv.input_q), short_number(in.levels),
                                                             quantizer_text(m.conv.kernel_q), std::to_string(wm), m.name}));
    if (m.weights_near_boundary > 0)
      m.decision.reasons.push_back(make_reason("TANH_ROUNDING_BOUNDARY", {std::to_string(m.weights_near_boundary),
                                                                          quantizer_text(m.conv.kernel_q), m.name}));
  } else if (d.kernel == KernelClass::BinaryWeights) {
    if (in_sign) {
      // Inputs are +-1 but the border value is not binary: unpacked +-1 floats feed the
      // add/subtract kernel, which pads with the exact value.
      need_format(g, id, 0, Format::S1);
      need_format(g, id, 0, Format::F32);
      d.reasons.push_back(make_reason("PAD_VALUE_NOT_BINARY", {fmt_value(a.pad_value), n.name}));
    } else if (n.separable_pointwise) {
      need_format(g, id, 0, Format::F32);
      d.reasons.push_back(make_reason("SEPARABLE_POINTWISE", {quantizer_text(a.kernel_q), n.name}));
    } else if (in_levels) {
      need_format(g, id, 0, Format::F32);
      insert_input_quantize(g, id, 0);
      d.reasons.push_back(make_reason("KBIT_INPUT_BINARY_WEIGHTS", {quantizer_text(a.input_q), quantizer_text(a.kernel_q), n.name}));
    } else {
      need_format(g, id, 0, Format::F32);
      d.reasons.push_back(make_reason("INPUT_NOT_QUANTIZED", {quantizer_text(a.kernel_q), n.name}));
    }
  } else {
    if (in_sign) {
      need_format(g, id, 0, Format::S1);
      need_format(g, id, 0, Format::F32);
    } else {
      need_format(g, id, 0, Format::F32);
      if (in_levels) insert_input_quantize(g, id, 0);
    }
    if (w_levels) {
      std::string why = "it is not selected";
      for (const auto& r : d.rejected)
        if (r.kernel.ends_with("_s8")) why = r.why;
      d.reasons.push_back(
          make_reason("QUANTIZED_WEIGHTS_FLOAT", {quantizer_text(a.kernel_q), weight_quantizer_key(n), n.name, why}));
      if (n.weights_near_boundary > 0)
        d.reasons.push_back(make_reason(a.kernel_q.kind == K::QKeras ? "QKERAS_SCALE_BOUNDARY" : "TANH_ROUNDING_BOUNDARY", {std::to_string(n.weights_near_boundary),
                                                                   quantizer_text(a.kernel_q), n.name}));
    } else if (quant_layer)
      d.reasons.push_back(make_reason("KERNEL_NOT_QUANTIZED", {n.class_name, n.name}));
    else
      d.reasons.push_back(make_reason("FLOAT_LAYER", {plain_class, n.name}));
  }

  if (n.op == Op::Conv2D && a.groups > 1) {
    const int64_t cin = g.tensors[n.inputs[0]].shape.back();
    d.reasons.push_back(make_reason("GROUPED", {std::to_string(a.groups), std::to_string(cin / a.groups),
                                                std::to_string(cin), std::to_string(a.filters / a.groups)}));
  }

  if (d.kernel == KernelClass::Binary) {
    // Channels per tap of one filter: a grouped filter sees only its group's channels.
    const int cin = static_cast<int>(g.tensors[n.inputs[0]].shape.back() / (n.op == Op::Conv2D ? a.groups : 1));
    if (a.same) {
      if (a.pad_value == 0.0f) {
        const auto os = hwc(g.tensors[n.outputs[0]].shape);
        // Border output pixels: rows/cols whose window crosses the padding.
        auto border = [](int out, int s, int k, int dil, int before, int in) {
          int inner = 0;
          for (int o = 0; o < out; ++o) {
            const int lo = o * s - before, hi = lo + (k - 1) * dil;
            if (lo >= 0 && hi < in) ++inner;
          }
          return out - inner;
        };
        const auto is = hwc(g.tensors[n.inputs[0]].shape);
        const int bh = border(static_cast<int>(os[0]), a.sh, a.kh, a.dh, a.pad_top, static_cast<int>(is[0]));
        const int bw = border(static_cast<int>(os[1]), a.sw, a.kw, a.dw, a.pad_left, static_cast<int>(is[1]));
        const int64_t total = os[0] * os[1];
        const int64_t inner = (os[0] - bh) * (os[1] - bw);
        d.reasons.push_back(make_reason("PAD_ZERO_EXACT", {std::to_string(total - inner), std::to_string(total)}));
      } else {
        d.reasons.push_back(make_reason("PAD_ONE", {fmt_value(a.pad_value)}));
      }
    }
    if (d.kernel_name == "bl_bconv2d_bitsliced") {
      const auto os = hwc(g.tensors[n.outputs[0]].shape);
      const int64_t wp = os[1] + int64_t{a.kw - 1} * a.dw;
      d.reasons.push_back(make_reason("BCONV_BITSLICED", {std::to_string(cin), std::to_string(a.kh) + "x" + std::to_string(a.kw) + "x" + std::to_string(cin),
                                                          std::to_string(a.kh * a.kw * cin), std::to_string(os[1]), std::to_string(wp)}));
    } else if (n.op == Op::Conv2D && cin % 32 != 0) {
      const int bits = a.kh * a.kw * cin;
      const int words = (bits + 31) / 32;
      d.reasons.push_back(make_reason(
          "CHANNELS_NOT_MULTIPLE_OF_32",
          {std::to_string(cin), std::to_string(a.kh) + "x" + std::to_string(a.kw) + "x" + std::to_string(cin),
           std::to_string(bits), std::to_string(words), std::to_string(words * 32 - bits)}));
    }
  }
  for (const auto& p : n.epi.chain)
    if (p.kind == PostOp::Kind::Scale && p.from_layer == n.name)
      d.reasons.push_back(a.kernel_q.qkeras_scaled_sign()
                              ? make_reason("FITTED_SIGN_SCALE", {quantizer_text(a.kernel_q)})
                              : make_reason("MAGNITUDE_AWARE_SCALE"));
  if (n.epi.bits) {
    std::string what = n.epi.pools.empty() ? "1 bit per value" : "max-pooling on bits follows";
    d.reasons.push_back(make_reason("OUTPUT_BITS", {what}));
  } else if (d.kernel == KernelClass::Binary) {
    const Tensor& t = g.tensors[n.outputs[0]];
    std::string why = t.model_output ? "it is a model output" : "a consumer needs real values";
    if (!t.model_output)
      for (int c : t.consumers)
        if (!g.nodes[c].removed) {
          why = "'" + g.nodes[c].name + "' (" + g.nodes[c].class_name + ") needs real values";
          break;
        }
    d.reasons.push_back(make_reason("OUTPUT_FLOAT", {why}));
  }
  Node& done = g.nodes[id];
  g.tensors[done.outputs[0]].format = done.epi.bits ? Format::S1 : Format::F32;
}

// Marks an inserted step as folded into `into`, with why.
void fold_step(Node& step, const Node& into, const std::string& how) {
  step.removed = true;
  step.decision.kernel = KernelClass::Fused;
  step.decision.kernel_name.clear();
  step.decision.op_type.clear();
  step.decision.fused_into = into.name;
  step.decision.reasons = {make_reason("FUSED", {into.name, how})};
}

// A float Concatenate whose every reader packs it to bits runs on bits instead: each input is
// packed (an int8 one directly, without its dequantize step), the bits are concatenated, and the
// readers' packs go: packing the parts gives the bits packing the whole gives. A quarter (int8)
// or a thirty-second (float) of the memory, and no float copy of the concatenation.
void concat_on_bits(Graph& g) {
  const size_t count = g.nodes.size();
  for (size_t i = 0; i < count; ++i) {
    if (g.nodes[i].removed || g.nodes[i].op != Op::Concat || g.nodes[i].decision.kernel != KernelClass::Float) continue;
    const int id = static_cast<int>(i);
    const int out = g.nodes[i].outputs[0];
    const std::vector<int> readers = g.tensors[out].consumers;
    if (g.tensors[out].model_output || readers.empty()) continue;
    bool packed = true;
    for (int r : readers)
      packed = packed && !g.nodes[r].removed && g.nodes[r].op == Op::Pack && g.nodes[r].decision.kernel_name == "bl_pack_f32";
    if (!packed) continue;
    for (size_t slot = 0; slot < g.nodes[i].inputs.size(); ++slot) {
      const int t = g.nodes[i].inputs[slot];
      const int p = g.tensors[t].producer;
      // An int8 input is packed directly, a bit input (a layer that writes bits for this
      // concatenation, passes/fold.cpp) is read directly: their conversions to float go.
      const bool dequantized = p >= 0 && g.nodes[p].op == Op::Dequantize;
      const bool unpacked = p >= 0 && g.nodes[p].op == Op::Unpack;
      // Only when the concatenation alone reads the float copy (it may read it in several
      // slots: Concatenate([x, x])); every such slot then reads the source.
      const auto& tc = g.tensors[t].consumers;
      const bool only_concat = !tc.empty() && std::all_of(tc.begin(), tc.end(), [&](int c) { return c == id; });
      if ((dequantized || unpacked) && only_concat) {
        const int src = g.nodes[p].inputs[0];
        auto& sc = g.tensors[src].consumers;
        sc.erase(std::remove(sc.begin(), sc.end(), p), sc.end());
        for (int& in : g.nodes[i].inputs)
          if (in == t) {
            in = src;
            sc.push_back(id);
          }
        g.tensors[t].consumers.clear();
        fold_step(g.nodes[p], g.nodes[i], dequantized ? "it packs the int8 input directly" : "it reads the bits directly");
      }
      need_format(g, id, slot, Format::S1);
    }
    Node& c = g.nodes[i];
    set_kernel(c, named(Op::Concat, "bl_concat_s1"));
    c.decision.reasons = {make_reason("CONCAT_ON_BITS", {std::to_string(c.inputs.size()), g.nodes[readers[0]].layer})};
    g.tensors[out].format = Format::S1;
    for (int r : readers) {
      g.bypass(g.nodes[r]);
      fold_step(g.nodes[r], c, "the concatenation is already bits");
    }
  }
}

}  // namespace

bool select_kernels(Graph& g) {
  const size_t original = g.nodes.size();
  // Conversions are appended while nodes are referenced: at most three per input slot (unpack,
  // pack, input quantizer) plus one per model output, so reserving keeps every reference valid.
  size_t slots = 0;
  for (const auto& n : g.nodes) slots += n.inputs.size();
  // An int8 reader can add two more (a quantize step, its model-output copy), each int8 tensor
  // a dequantize per reader, and a concatenation on bits a pack per input.
  g.nodes.reserve(original + 7 * slots + g.outputs.size() + 1);
  Selected selected{std::vector<char>(original, 0)};
  for (size_t i = 0; i < original; ++i) {
    const int id = static_cast<int>(i);
    if (i > 0) selected.done[i - 1] = 1;
    Node& n = g.nodes[i];
    auto& d = n.decision;
    if (n.removed) continue;
    if (d.kernel == KernelClass::Unsupported) {
      g.tensors[n.outputs[0]].format = Format::F32;
      continue;
    }
    switch (n.op) {
      case Op::Input:
        d.kernel = KernelClass::None;
        d.reasons.push_back(make_reason("MODEL_INPUT", {"float32"}));
        break;
      case Op::Conv2D:
      case Op::DepthwiseConv2D:
      case Op::Dense:
        select_weighted(g, id, selected);
        break;
      case Op::Flatten: {
        d.kernel = KernelClass::None;
        d.reasons.push_back(make_reason("VIEW", {n.class_name}));
        Tensor& out = g.tensors[n.outputs[0]];
        out.format = g.tensors[n.inputs[0]].format;
        out.s8 = g.tensors[n.inputs[0]].s8;
        out.alias_of = g.tensors[n.inputs[0]].alias_of >= 0 ? g.tensors[n.inputs[0]].alias_of : n.inputs[0];
        break;
      }
      default: {
        // Bits in and out when a bit kernel accepts the node (its inputs are already bits),
        // int8 in and out for the int8 add, otherwise float in and out.
        const ops::KernelOp& k = choose(g, n);
        // A sign step (bl_pack_f32) reads float like the float kernels.
        if (k.cls == KernelClass::Float || g.nodes[i].op == Op::Quantize)
          for (size_t s = 0; s < g.nodes[i].inputs.size(); ++s) need_format(g, id, s, Format::F32);
        Node& m = g.nodes[i];
        set_kernel(m, k);
        if (k.explain)
          for (auto& r : k.explain(g, m)) m.decision.reasons.push_back(std::move(r));
        g.tensors[m.outputs[0]].format = k.cls == KernelClass::Binary ? Format::S1 : Format::F32;
        if (m.op == Op::Quantize) {
          quantize_to_s8(g, id);
          fold_quantizer_into_output(g, id);
        }
        if (m.op == Op::Add && k.cls == KernelClass::Int8) fuse_int8_add(g, id);
        if (m.op == Op::Add && k.cls == KernelClass::Float) fold_residual_add(g, id);
      }
    }
  }
  concat_on_bits(g);
  // Model outputs are delivered as float.
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const int t = g.outputs[k];
    if (g.tensors[t].format != Format::F32) {
      const Op op = g.tensors[t].format == Format::S1 ? Op::Unpack : Op::Dequantize;
      Node n;
      n.id = static_cast<int>(g.nodes.size());
      const Node& p = g.nodes[g.tensors[t].producer];
      n.layer = p.layer;
      n.name = p.name + (op == Op::Unpack ? "/unpack" : "/dequantize");
      n.op = op;
      n.order = p.order + 0.5;
      n.inputs = {t};
      Tensor o;
      o.name = n.name;
      o.shape = g.tensors[t].shape;
      o.producer = n.id;
      o.model_output = true;
      g.tensors[t].model_output = false;
      g.tensors[t].consumers.push_back(n.id);
      const int tid = g.add_tensor(std::move(o));
      n.outputs = {tid};
      set_kernel(n, conversion(op, g.tensors[t].format));
      g.outputs[k] = tid;
      g.nodes.push_back(std::move(n));
    }
  }
  return true;
}

}  // namespace bitlens::passes
