// The one wording table for decision reasons. Codes are stable (documented in docs/decisions.md);
// messages name the parameter and its value; fixes say what to change.
#include <stdexcept>

#include "passes/passes.hpp"

namespace bitlens::passes {

using S = Reason::Severity;

const std::vector<ReasonInfo>& reason_table() {
  static const std::vector<ReasonInfo> table = {
      // ---- why a conv/dense layer is not `binary`
      {"INPUT_NOT_QUANTIZED", S::Warning,
       "input_quantizer is null: the layer multiplies real-valued inputs, so XNOR/popcount "
       "cannot apply; its {0} weights are +-1 and are stored as bits, the kernel adds or "
       "subtracts inputs instead of multiplying",
       "This is normal for the first layer (keeping it in higher precision preserves accuracy). "
       "To make it fully binary, set input_quantizer=\"ste_sign\" on '{1}' and retrain"},
      {"INPUT_QUANTIZER_NOT_SIGN", S::Warning,
       "input_quantizer is {0}, which does not produce +-1 values, so the inputs cannot be "
       "bit-packed",
       "Use input_quantizer=\"ste_sign\" (or approx_sign / swish_sign) on '{1}' and retrain"},
      {"KERNEL_NOT_QUANTIZED", S::Warning,
       "{0} has no kernel quantizer: its weights are real-valued float32",
       "Use a Larq Quant layer with kernel_quantizer=\"ste_sign\" for '{1}' if it should be "
       "binary; keeping the first and last layers in float is common"},
      {"KERNEL_QUANTIZER_NOT_SIGN", S::Warning,
       "{2} is {0}, which does not produce +-1 (or +-alpha) weights",
       "Use {2}=\"ste_sign\" or \"magnitude_aware_sign\" on '{1}' and retrain"},
      {"PAD_VALUE_NOT_BINARY", S::Warning,
       "padding=\"same\" with pad_values={0}: the border value is neither -1, +1 nor an exact "
       "0, so the padded input is not binary; the layer runs with float inputs and bit weights",
       "Set pad_values to 1.0, -1.0 or 0.0 on '{1}' (all three run on the exact binary kernel) "
       "and retrain, or use padding=\"valid\""},
      {"SEPARABLE_POINTWISE", S::Info,
       "the pointwise (1x1) part of separable convolution '{1}' multiplies the depthwise part's "
       "outputs, which Larq does not re-quantize, so its {0} weights are stored as bits and the "
       "kernel adds or subtracts real values",
       "Nothing required. For a fully binary pointwise part, split the layer into "
       "QuantDepthwiseConv2D + QuantConv2D(1x1) with input_quantizer=\"ste_sign\" and retrain"},
      {"FLOAT_LAYER", S::Info,
       "{0} is a float32 layer (no quantizers): it runs on a float kernel",
       "Nothing to do if '{1}' is meant to stay in float (stems and heads usually are). To make "
       "it binary use the Larq Quant{0} with ste_sign quantizers and retrain"},
      {"FLOAT_OP", S::Info,
       "{0} operates on real values and runs in float32, as expected",
       "Nothing to do"},
      {"BN_NOT_FOLDED", S::Warning,
       "BatchNormalization could not be folded into a preceding layer ({0}), so it runs as a "
       "separate float pass",
       "{1}"},
      {"ACTIVATION_NOT_FOLDED", S::Info,
       "activation '{0}' could not be folded into a preceding kernel ({1}), so it runs as a "
       "separate float pass",
       "Nothing required; ReLU/ReLU6 directly after a conv/dense fold for free"},
      // ---- sizes
      {"HOST_LIMIT", S::Warning,
       "{0} needs {1} per sample, more than the host limit of {2}: analyze reports the layer, "
       "but run, compare, validate and export refuse the model",
       "Build '{3}' for a smaller input shape (or with fewer filters / less padding) to run it "
       "on the host; the limits are in docs/limits.md"},
      {"MAXPOOL_FLOAT", S::Info,
       "max-pooling runs on float values because its input is float ({0})",
       "When every consumer binarizes the pooled values, pooling runs on bits instead"},
      {"INPUT_UNPACKED", S::Warning,
       "this layer needs float inputs but its input is bit-packed; an unpack step (s1 -> f32) "
       "is inserted",
       "Nothing required"},
      // ---- informational notes on binary layers
      {"PAD_ZERO_EXACT", S::Info,
       "padding=\"same\" with pad_values=0: the border is a true 0 (no 1-bit code); the kernel "
       "leaves border taps out of the sum (N_eff = in-image taps x channels), which is "
       "exact for float and bit-packed outputs; costs a few extra instructions on {0} border "
       "pixels of {1}",
       "Nothing required. pad_values=1.0 or -1.0 avoids the border bookkeeping entirely"},
      {"PAD_ONE", S::Info,
       "padding=\"same\" with pad_values={0}: the padded input stays binary and runs on the "
       "plain XNOR/popcount kernel",
       "Nothing required"},
      {"GROUPED", S::Info,
       "groups={0}: grouped convolution, each filter reads only its group's {1} of the {2} input "
       "channels ({0} groups of {3} filters, one kernel call; MACC and weights are 1/{0} of an "
       "ungrouped layer's)",
       "Nothing required"},
      {"BCONV_BITSLICED", S::Info,
       "{0} input channel(s) per tap: bit-sliced kernel, 32 output pixels per word (a row of {3} "
       "outputs takes {4} lanes); each filter's {2} taps ({1}) are summed per pixel in "
       "bit-sliced counters, so no bit of a word is left empty the way a {2}-bit patch would "
       "leave it",
       "Nothing required"},
      {"CHANNELS_NOT_MULTIPLE_OF_32", S::Info,
       "{0} input channels per tap is not a multiple of 32: filters are packed along the whole "
       "{1} patch ({2} bits in {3} words), {4} spare bits per filter",
       "Nothing required; multiples of 32 channels use the word-aligned fast path"},
      {"OUTPUT_BITS", S::Info,
       "every consumer binarizes this output, so bias/BatchNorm/activation fold into per-channel "
       "integer thresholds and the output is bit-packed ({0})",
       "Nothing required"},
      {"OUTPUT_FLOAT", S::Info,
       "the output is float32 because {0}",
       "Nothing required; if the next layer binarized its input the output could be bit-packed"},
      {"MAXPOOL_ON_BITS", S::Info,
       "max-pooling runs on bits (AND per channel, OR where the folded scale is negative): the "
       "sign of a max equals the max of the signs",
       "Nothing required"},
      {"INPUT_PACKED", S::Info,
       "the layer's input_quantizer binarizes its float input: a pack step (f32 -> s1) is "
       "inserted before it",
       "Nothing required"},
      {"FITTED_SIGN_SCALE", S::Info,
       "{0} weights are -1/+1 times a power of two per output channel: the kernel multiplies the signs, "
       "the output stage applies the scale (exact: a power of two)",
       "Nothing required"},
      {"MAGNITUDE_AWARE_SCALE", S::Info,
       "magnitude_aware_sign weights: the per-channel scale alpha is folded into the output stage",
       "Nothing required"},
      {"BN_EPSILON_FLOOR", S::Info,
       "epsilon = {0} is below 1.001e-5: tf.keras 2.x runs this BatchNormalization ('{1}', rank-4 "
       "input, channel axis) on TensorFlow's fused kernel, whose wrapper "
       "tf.compat.v1.nn.fused_batch_norm raises epsilon to 1.001e-5 (a cuDNN minimum), so BitLens "
       "adds 1.001e-5 to moving_variance as that Keras does. Newer TensorFlow releases dropped "
       "this floor (tensorflow#37768); with one of those, Keras adds {0}",
       "Nothing required. Use epsilon >= 1.001e-5 (Keras' default is 0.001) to make every "
       "TensorFlow version compute the same values"},
      {"MAS_SUM_ORDER", S::Info,
       "magnitude_aware_sign weights: in {0} of {1} output channels of '{2}' a dot product can "
       "land so close to the integer threshold that Keras' own float32 result depends on the "
       "order its convolution sums the +-alpha products (TF's CPU and GPU kernels use different "
       "orders), so Keras itself may give either bit there; BitLens (kernels and reference) uses "
       "the exactly rounded sum float(d * alpha)",
       "Nothing required: no summation order is more correct than another. The bits differ from "
       "a particular Keras run only for inputs whose dot product hits that value exactly"},
      // ---- fused / removed
      {"FUSED", S::Info, "folded into '{0}' ({1})", "Nothing required"},
      {"TRAINING_ONLY", S::Info, "{0} does nothing at inference and is removed", "Nothing required"},
      {"VIEW", S::Info, "{0} of a contiguous tensor is a view: no data is moved", "Nothing required"},
      {"MODEL_INPUT", S::Info, "model input, {0}", "Nothing required"},
      // ---- unsupported
      {"UNCONNECTED", S::Info,
       "{0} '{1}' is not connected to the model (empty inbound_nodes: it is never called, e.g. "
       "a custom loss layer) and is ignored; Keras ignores it too",
       "Nothing required; remove the layer from the model to silence this note"},
      {"UNKNOWN_LAYER", S::Warning,
       "layer class '{0}' is not known to BitLens, so '{1}' cannot be deployed; its output shape "
       "is unknown, so the layers after it are listed but not analysed (SHAPE_UNKNOWN)",
       "Replace it with supported layers (see docs/decisions.md for the list), or implement it "
       "as a custom kernel in the exported project"},
      {"SHAPE_UNKNOWN", S::Warning,
       "input shape unknown because {0}: '{1}' cannot be checked, costed or deployed, and its "
       "MACC, ROM and RAM are left out of the totals",
       "Replace the unsupported layer upstream with supported layers; this layer is analysed "
       "once its input shape is known"},
      {"BN_PARAMS", S::Warning,
       "BatchNormalization '{1}' would output NaN or Inf: {0}",
       "Fix the layer's stored parameters (retrain, or restore a checkpoint from before training "
       "diverged) and re-save the model; epsilon must not be negative (Keras' default is 0.001)"},
      {"CHANNELS_FIRST", S::Warning,
       "data_format=\"channels_first\" is not supported ('{1}')",
       "Build the model with data_format=\"channels_last\" (the Keras default)"},
      {"DENSE_RANK", S::Warning,
       "'{1}' applies Dense to a tensor of rank > 2; only flat inputs are supported",
       "Insert a Flatten (or GlobalAveragePooling2D) before the Dense layer"},
      {"BN_AXIS", S::Warning, "BatchNormalization over an axis other than the last ('{1}')",
       "Use axis=-1 (channels_last)"},
      {"SOFTMAX_AXIS", S::Warning, "softmax over an axis other than the last ('{1}')",
       "Use axis=-1"},
      {"ACTIVATION", S::Warning, "{0} ('{1}')",
       "Use one of {2}, or replace the custom function by one of them and retrain"},
      {"CONFIG_KEY", S::Warning,
       "config key '{0}' = {1} on '{3}' is not one BitLens knows for {2}: it may change the result, "
       "so the layer is not computed",
       "Remove the key (re-save the model with a Keras version that does not write it) or report it "
       "to BitLens with the Keras version that wrote the file"},
      {"CONFIG_VALUE", S::Warning, "{0} ('{1}')",
       "Change the value named and re-save the model"},
      {"UPSAMPLING_INTERPOLATION", S::Warning, "UpSampling2D interpolation=\"{0}\" on '{1}': BitLens computes only \"nearest\"",
       "Use interpolation=\"nearest\" (the Keras default)"},
      {"PRELU_SHARED_AXES", S::Warning, "PReLU shared_axes = {0} on '{1}' is not {2}",
       "Use shared_axes=None or a list of 1-based axes of the input"},
      {"CONCAT_AXIS", S::Warning, "concatenation along an axis other than channels ('{1}')",
       "Concatenate along the last axis"},
      {"TFOP", S::Warning,
       "TF operation layer '{1}' (function \"{2}\") is not supported (only add / multiply by a "
       "constant, and add of two tensors)",
       "Express the operation with Keras layers (Add, Multiply, Activation, ...)"},
      {"QUANTIZE_STEP", S::Warning,
       "quantizer {0} on '{1}' runs as a float32 step: clip, then round to its levels, each "
       "operation as Keras computes it (its levels do not fit int8, or its output is a model "
       "output)",
       "Nothing to change for exactness. For bit kernels quantize with ste_sign instead and retrain"},
      {"THRESHOLD_STEP", S::Warning,
       "quantizer {0} of '{1}' runs as a float32 threshold step: each value becomes one of the levels {2} "
       "by comparisons with its thresholds, and the step writes {3}",
       "Nothing to change for exactness; its readers run on float kernels"},
      {"SIGN_STEP", S::Info,
       "quantizer {0} of '{1}' gives -1/+1 (sign(0) = +1): it runs as a sign step that writes bits (1 bit "
       "per value); binary layers read them directly, float readers through an unpack step",
       "Nothing to do"},
      {"INPUT_SIGNS_FROM_LAYER", S::Info,
       "the input of '{0}' is the -1/+1 output of {1} ('{2}'), so the layer runs on bits as if its "
       "input_quantizer were a sign: sign(+-1) = +-1 and zero padding stays 0",
       "Nothing to do"},
      {"QKERAS_STE", S::Info,
       "QKeras' {0} returns x + (xq - x) in float32 (its straight-through estimator); for |x| < {1} "
       "that sum is the level xq exactly, which '{2}' computes. Beyond {1} Keras' own output leaves "
       "the quantizer's grid (or is NaN) and BitLens' differs from it",
       "Nothing to change: layer outputs of trained models stay far below that bound"},
      {"INPUT_QUANTIZER_STEP", S::Warning,
       "input_quantizer {0} of '{1}' runs as its own step before the layer: clip, then round to "
       "its levels as Keras computes them",
       "Nothing to change for exactness. For bit kernels use input_quantizer=\"ste_sign\" and retrain"},
      {"INT8_TENSOR", S::Info,
       "quantizer {0} writes '{1}' as int8 (level = (q + {2}) / {3}): 1 byte per value; int8 and "
       "sign-binarizing readers take it directly, float readers through a dequantize step",
       "Nothing to do"},
      {"CONCAT_ON_BITS", S::Info,
       "every reader of this concatenation binarizes it ('{1}'), so its {0} inputs are packed to "
       "bits and the bits are concatenated: packing the parts gives the bits of the whole",
       "Nothing to do"},
      {"INT8_OUTPUT", S::Info,
       "the quantizer {0} of '{1}' alone reads this layer's float output, so the kernel writes its "
       "int8 levels directly: the float value times {2}, rounded half to even, clamped to [{3}, {4}] "
       "(the quantizer's clip and round, exactly); no float tensor and no quantize step",
       "Nothing to do"},
      {"RESIDUAL_ADD", S::Info,
       "the Add '{0}' alone reads this layer's float output: the kernel adds '{1}' to each value after "
       "its output stage, the Add's float32 sum exactly; no add pass, and no buffer for this layer's own result",
       "Nothing to do"},
      {"IN_PLACE", S::Info,
       "the result overwrites '{0}', which nothing reads after this layer: no buffer of its own",
       "Nothing to do"},
      {"ADD_INT8", S::Info,
       "'{0}' and '{1}' hold integers over {2}, whose sum is exact; the quantizer {3} of '{4}' "
       "that reads it only clamps it to [{5}, {6}]: one int8 add with saturation",
       "Nothing to do"},
      {"INPUT_DEQUANTIZED", S::Warning,
       "this layer needs float inputs but its input is int8; a dequantize step (s8 -> f32) is "
       "inserted",
       "Nothing required"},
      {"INT8_KERNEL", S::Info,
       "{0} inputs (integers over {1}) and {2} weights (integers over {3}) of '{4}' multiply as "
       "int8 with exact int32 sums; the output stage multiplies the sum by 1/({1}*{3}) in float32, "
       "then applies the layer's bias and BatchNorm",
       "Nothing to do"},
      {"KBIT_INPUT_BINARY_WEIGHTS", S::Warning,
       "input_quantizer {0} of '{2}' gives k-bit levels, not signs, so XNOR/popcount cannot apply; "
       "its {1} weights are +-1 and are stored as bits, the kernel adds or subtracts the quantized inputs",
       "For XNOR/popcount use input_quantizer=\"ste_sign\" on '{2}' and retrain"},
      {"INPUT_ALREADY_QUANTIZED", S::Info,
       "input_quantizer {0} of '{2}' needs no step: its input comes from '{1}', the same "
       "quantizer, and quantizing twice changes no value",
       "Nothing to do"},
      {"QUANTIZED_WEIGHTS_FLOAT", S::Warning,
       "{1} {0} rounds the weights of '{2}' to k-bit levels; BitLens stores those exact values "
       "in float32 (4 bytes each) and runs a float kernel, because the int8 kernel cannot: {3}",
       "Nothing to change for exactness. For int8 use an STCustomDoReFa/DoReFa input_quantizer and "
       "weights of at most 8 bits; for 1 bit per weight use {1}=\"ste_sign\" and retrain"},
      {"TANH_ROUNDING_BOUNDARY", S::Info,
       "{0} latent weight(s) of '{2}' lie within 1e-6 of a rounding boundary of {1}: TensorFlow "
       "computes tanh with Eigen's approximation, not libm's, so Keras may round them to the "
       "neighbouring level",
       "Compare this layer's outputs with Keras; moving those weights by 1e-5 removes the doubt"},
      {"QKERAS_SCALE_BOUNDARY", S::Info,
       "{0} weight(s) of '{2}' belong to channels whose power-of-two scale from {1} lies within 1e-5 of a "
       "rounding boundary of log2: TensorFlow's float log and its summation order may pick the neighbouring "
       "power there, so Keras may scale those weights by 2x or 0.5x of BitLens' values",
       "Compare this layer's outputs with Keras; retraining or a fixed alpha removes the doubt"},
      {"INPUT_QUANTIZER_UNSUPPORTED", S::Warning,
       "input_quantizer {0} has no kernel in BitLens ('{1}')",
       "Use ste_sign (binary) or no input quantizer (binary weights / float)"},
  };
  return table;
}

static std::string fill(std::string text, const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string key = "{" + std::to_string(i) + "}";
    for (size_t pos = text.find(key); pos != std::string::npos;
         pos = text.find(key, pos + args[i].size()))
      text.replace(pos, key.size(), args[i]);
  }
  return text;
}

Reason make_reason(const std::string& code, const std::vector<std::string>& args) {
  for (const auto& r : reason_table()) {
    if (code == r.code) return Reason{code, fill(r.message, args), fill(r.fix, args), r.severity};
  }
  throw std::logic_error("unknown reason code " + code);
}

std::string quantizer_text(const Quantizer& q) {
  if (q.kind == Quantizer::Kind::None) return "null";
  std::string t = "\"" + q.name + "\"";
  if (q.kind == Quantizer::Kind::DoReFa || q.kind == Quantizer::Kind::StDoReFa)
    t += q.invalid.empty() ? " (k_bit=" + std::to_string(q.spec.k_bit) + ", mode=\"" +
                                 (q.spec.dorefa_weights ? "weights" : "activations") + "\")"
                           : " (" + q.invalid + ")";
  if (q.kind == Quantizer::Kind::QKeras) t += q.invalid.empty() ? " (" + sem::qkeras_text(q.spec) + ")" : " (" + q.invalid + ")";
  return t;
}

const char* weight_quantizer_key(const Node& n) {
  if (n.op == Op::DepthwiseConv2D) return "depthwise_quantizer";
  return n.class_name.find("Separable") != std::string::npos ? "pointwise_quantizer" : "kernel_quantizer";
}

}  // namespace bitlens::passes
