// The compiler's graph IR: nodes (one per Keras layer, plus steps the compiler inserts),
// tensors with explicit formats, and the decision record every front end renders.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/model.hpp"
#include "bitlens/semantics.hpp"

namespace bitlens {

// S8: int8 q holding a k-bit quantizer's level (q + offset) / levels (Tensor::s8).
enum class Format { F32, S1, S8 };
const char* format_name(Format f);  // "f32", "s1", "s8"

enum class KernelClass { Binary, BinaryWeights, Int8, Float, Fused, None, Unsupported };
const char* kernel_class_name(KernelClass k);  // "binary", "binary-weights", ...

enum class Op {
  Input,
  Conv2D,
  DepthwiseConv2D,
  Dense,
  BatchNorm,
  MaxPool,
  AvgPool,
  GlobalAvgPool,
  GlobalMaxPool,
  Flatten,  // also Reshape: a view, no data movement
  ZeroPad,
  Crop,      // Cropping1D/2D: conv.pad_top/pad_left rows/columns dropped before the window
  Upsample,  // UpSampling1D/2D, nearest: pool.kh x pool.kw copies of each pixel
  Activation,
  Softmax,
  Add,
  Concat,
  Identity,  // training-only layers (Dropout, ...): removed
  ConstAdd,
  ConstMul,
  Quantize,  // a k-bit quantizer as its own step (Activation(STCustomDoReFa(...)), or an input quantizer)
  Pack,    // f32 -> s1 (sign), inserted before binary consumers
  Unpack,  // s1 -> f32, inserted before float consumers of a bit-packed tensor
  Dequantize,  // s8 -> f32, inserted before float consumers of an int8 tensor
  Unsupported,
};
const char* op_name(Op op);

struct Quantizer {
  enum class Kind { None, Sign, MagnitudeAwareSign, Heaviside, Tern, DoReFa, StDoReFa, NoOp, QKeras, Unknown };
  Kind kind = Kind::None;
  std::string name;  // as written in the file ("SteSign", "ste_sign", ...); empty for none
  // DoReFa / STCustomDoReFa: k_bit and mode as the reference semantics read them; `invalid`
  // says why a config cannot be computed (k_bit = 30, mode = "both", ...), empty when it can.
  sem::QuantizerSpec spec;
  std::string invalid;
  bool sign_like() const { return kind == Kind::Sign; }
  // QKeras binary whose values are exactly -1/+1 (sign(0) = +1): alpha None (every x: tanh is
  // only the estimator's base) or 1 (|x| < 2^24, checked on weights: QKERAS_STE).
  bool qkeras_sign() const {
    return kind == Kind::QKeras && invalid.empty() && spec.kind == sem::QuantizerKind::QkBinary && !spec.use_01 &&
           spec.alpha_fit == sem::QuantizerSpec::AlphaFit::None && (!spec.alpha || *spec.alpha == 1.0f);
  }
  // QKeras binary (0/1, or +-alpha with alpha set) and ternary activations: a threshold step.
  bool qkeras_threshold() const {
    return kind == Kind::QKeras && invalid.empty() && sem::qkeras_threshold_step(spec).has_value();
  }
  // Weights +-s with one power-of-two s per output channel: QKeras binary(alpha="auto_po2").
  bool qkeras_scaled_sign() const {
    return kind == Kind::QKeras && invalid.empty() && spec.kind == sem::QuantizerKind::QkBinary && !spec.use_01 &&
           spec.alpha_fit == sem::QuantizerSpec::AlphaFit::AutoPo2;
  }
  // Weights sign(w) times a per-channel scale the output stage applies.
  bool scaled_sign() const { return kind == Kind::MagnitudeAwareSign || qkeras_scaled_sign(); }
  bool binary_weights() const {
    return kind == Kind::Sign || kind == Kind::MagnitudeAwareSign || qkeras_sign() || qkeras_scaled_sign();
  }
  // Clip-and-round to k-bit levels (both DoReFa flavours) with a valid config.
  // QKeras quantized_bits (alpha None or 1) and quantized_relu are levels too
  // (sem::qkeras_clip_levels).
  bool levels() const {
    return invalid.empty() && (kind == Kind::DoReFa || kind == Kind::StDoReFa ||
                               (kind == Kind::QKeras && sem::qkeras_clip_levels(spec).has_value()));
  }
  // An element-wise levels quantizer: "activations" mode (weights mode normalises by a max over
  // the whole tensor).
  bool elementwise_levels() const { return levels() && !spec.dorefa_weights; }
};
Quantizer parse_quantizer(const json& j);

// One reason for a decision: stable code, a sentence naming the parameter and its value,
// and the concrete fix. Informational reasons on `binary` layers have severity Info.
struct Reason {
  enum class Severity { Info, Warning };
  std::string code;
  std::string message;
  std::string fix;
  Severity severity = Severity::Warning;
};

struct Decision {
  KernelClass kernel = KernelClass::None;
  std::string kernel_name;  // the C kernel, e.g. "bl_bconv2d" (empty when nothing runs)
  std::string op_type;      // "sxor_s1_s1", "sadd_f32_s1", "smul_f32_f32", "op_f32_f32", ...
  std::vector<Reason> reasons;
  std::string fused_into;  // node name this layer was folded into
  // Kernels tried before the chosen one (the registry's priority order) and why each could not
  // run the node, e.g. {"bl_bconv2d", "input quantizer null does not binarize the input"}.
  struct Rejection {
    std::string kernel, why;
  };
  std::vector<Rejection> rejected;
};

// A per-channel float operation applied after a conv/dense accumulator, in the exact order the
// Keras model applies it (bias, MagnitudeAwareSign scale, BatchNorm, activation clamp).
struct PostOp {
  enum class Kind { Bias, Scale, BatchNorm, Clamp };
  Kind kind;
  std::vector<float> a;  // Bias: bias; Scale: alpha; BatchNorm: inv
  std::vector<float> b;  // BatchNorm: shift (beta - mean*inv)
  float lo = 0, hi = 0;  // Clamp
  std::string from_layer;
};

struct ConvAttrs {
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  float pad_value = 0.0f;
  int filters = 0;           // conv/dense output channels
  int depth_multiplier = 1;  // depthwise
  // Conv2D (and 1-D): filter o reads input channels [gi*C/groups, (gi+1)*C/groups) with
  // gi = o / (filters/groups), as Keras' groups; its weights hold C/groups channels per tap.
  int groups = 1;
  Quantizer input_q, kernel_q;
};

struct PoolAttrs {
  int kh = 1, kw = 1, sh = 1, sw = 1;
  bool same = false;
  int pad_top = 0, pad_left = 0;
  bool keepdims = false;  // global pools
};

// The output stage of a conv/dense node after folding.
struct Epilogue {
  std::vector<PostOp> chain;          // semantic: what the float model computes after acc
  // MaxPool nodes between acc and the binarization, with the chain position where the part
  // applied after that pool starts (it decides AND or OR pooling per channel).
  struct Pool {
    int node;
    size_t chain_pos;
  };
  std::vector<Pool> pools;
  bool bits = false;                  // output is s1
  // Lowered form (filled by the lowering pass):
  std::vector<float> mul, add;        // empty = identity
  std::vector<float> mul2, add2;      // second affine step (bias/scale, then BatchNorm); empty = none
  float act_min = -INFINITY, act_max = INFINITY;
  // A clamp between the two affine steps (ReLU then BatchNorm on an integer kernel's float
  // output): mid_clamp with bounds [mid_min, mid_max].
  bool mid_clamp = false;
  float mid_min = -INFINITY, mid_max = INFINITY;
  std::vector<int32_t> threshold;     // integer kernels, bits output
  std::vector<uint32_t> flip;         // integer kernels, bits output
  // int8 output (BL_OUT_S8): the k-bit quantizer that alone read the float output is folded in
  // (passes/select.cpp): q = clamp(round(y * s8_mul), s8_min, s8_max).
  bool s8 = false;
  float s8_mul = 0.0f;
  int32_t s8_min = 0, s8_max = 0;
  // A Keras Add of the float output and another tensor, folded into the stage (passes/select.cpp):
  // the index in the node's inputs of the tensor added last (bl_output.residual), or -1.
  int residual = -1;
};

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;  // without batch (e.g. {32, 32, 16}); {n} for flat tensors
  // False when the shape cannot be known: the output of a layer BitLens does not model (a
  // custom layer) and everything computed from it. `shape` is then empty and must not be read;
  // elements() and bytes() are 0 so that no cost or memory figure is guessed from it.
  bool shape_known = true;
  // Why the shape is unknown: "'custom' (MyLayer) is not supported" (the first unknown layer
  // upstream), for the reasons of every layer downstream.
  std::string unknown_because;
  Format format = Format::F32;
  // Format::S8: value = (q + offset) / levels, the levels of the quantizer that made it
  // (STCustomDoReFa k = 8: levels 128, offset 0; Larq DoReFa k = 8: levels 255, offset 128).
  struct S8 {
    float levels = 1.0f;
    int32_t offset = 0;
  } s8;
  int producer = -1;            // node id
  std::vector<int> consumers;   // node ids
  int alias_of = -1;            // views (Flatten/Reshape) share storage with another tensor
  bool model_input = false, model_output = false;
  int64_t elements() const {
    if (!shape_known) return 0;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  // f32: 4/element; s1: 4 * ceil(elements / 32); s8: elements rounded up to 4; 0 when the
  // shape is unknown.
  int64_t bytes() const;
};

// An activation as the kernels compute it: the function and the parameters its Keras layer or
// function carries (ReLU's max_value/negative_slope/threshold, LeakyReLU/ELU alpha, PReLU's
// learned slopes).
struct ActParams {
  sem::ActivationKind kind = sem::ActivationKind::Linear;
  float alpha = 0.0f;          // ELU alpha; leaky_relu / leaky_tanh / ReLU negative_slope
  float max_value = INFINITY;  // ReLU max_value
  float threshold = 0.0f;      // ReLU threshold
  std::vector<float> slopes;   // PReLU: one per element of a period of the output (see import)
  bool linear() const { return kind == sem::ActivationKind::Linear; }
  // ReLU with only an upper bound (or none), relu6 and hard_tanh: a clamp [lo, hi].
  bool clamp(float& lo, float& hi) const;
};

// The (height, width, channels) a kernel sees for a tensor shape without batch: a rank-2
// (steps, channels) tensor of a 1-D network runs as height 1.
inline std::array<int64_t, 3> hwc(const std::vector<int64_t>& s) {
  if (s.size() == 2) return {1, s[0], s[1]};
  if (s.size() == 3) return {s[0], s[1], s[2]};
  return {1, 1, s.empty() ? 1 : s.back()};
}

struct Node {
  int id = -1;
  std::string name;        // Keras layer name, or "<layer>/pack" for inserted steps
  std::string layer;       // the Keras layer this node reports as
  std::string class_name;  // Keras class name ("" for inserted steps)
  Op op = Op::Unsupported;
  std::vector<int> inputs, outputs;  // tensor ids
  bool removed = false;    // fused or stripped: does not execute
  double order = 0;        // schedule position key (inserted steps sit between layers)
  bool separable_pointwise = false;  // the 1x1 part of a separable convolution
  Decision decision;

  // Attributes (which are used depends on op).
  ConvAttrs conv;
  PoolAttrs pool;
  std::string activation;         // Activation / fused activation, the name the file uses
  ActParams act;                  // what that activation computes
  float const_value = 0.0f;       // ConstAdd / ConstMul
  Quantizer quant;                // Quantize: an element-wise levels quantizer
  // Latent weights that TensorFlow's tanh may round to another level (sem::dorefa_weights_near_boundary).
  int64_t weights_near_boundary = 0;
  int concat_axis = -1;
  std::vector<int64_t> reshape_to;

  // Constant data after quantization (host order as Keras stores it).
  std::vector<float> weights;      // quantized kernel values (±1 for sign quantizers)
  std::vector<uint32_t> weight_bits;  // packed for binary / binary-weights kernels
  // int8 kernels: the weights as integers (value = q * scale, the scale in the output stage's
  // first mul) in the kernel's layout, and the accumulator offset of a nonzero input offset.
  std::vector<int8_t> weights_s8;
  std::vector<int32_t> acc_init;
  Epilogue epi;
  std::vector<uint32_t> or_mask;   // s1 max-pool channels pooled with OR

  // Costs (filled by analysis).
  int64_t macc = 0;
  int64_t rom_bytes = 0;
  int64_t scratch_bytes = 0;
};

struct Graph {
  std::vector<Node> nodes;      // topological order
  std::vector<Tensor> tensors;
  std::vector<int> inputs, outputs;  // model input/output tensor ids
  bool prefer_ram = false;      // CompileOptions::prefer_ram, read by kernel selection
  int add_tensor(Tensor t);
  const Node* find_node(const std::string& name) const;
  // Takes `n` out of the flow: every use of its output tensor reads its input tensor instead.
  void bypass(Node& n);
};

// The graph as deterministic text, one line per tensor and per node with its attributes,
// decision and constants (sizes and checksums): what `bitlens analyze --dump-ir=PASS` prints.
std::string dump_ir(const Graph& g);

}  // namespace bitlens
