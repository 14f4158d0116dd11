// Small IR helpers: names of enums, tensor sizes, quantizer parsing, bypassing a node.
#include "bitlens/ir.hpp"

#include <algorithm>
#include <cctype>

namespace bitlens {

const char* format_name(Format f) {
  switch (f) {
    case Format::F32: return "f32";
    case Format::S1: return "s1";
    case Format::S8: return "s8";
  }
  return "?";
}

const char* kernel_class_name(KernelClass k) {
  switch (k) {
    case KernelClass::Binary: return "binary";
    case KernelClass::BinaryWeights: return "binary-weights";
    case KernelClass::Int8: return "int8";
    case KernelClass::Float: return "float";
    case KernelClass::Fused: return "fused";
    case KernelClass::None: return "none";
    case KernelClass::Unsupported: return "unsupported";
  }
  return "?";
}

const char* op_name(Op op) {
  switch (op) {
    case Op::Input: return "input";
    case Op::Conv2D: return "conv2d";
    case Op::DepthwiseConv2D: return "depthwise_conv2d";
    case Op::Dense: return "dense";
    case Op::BatchNorm: return "batch_norm";
    case Op::MaxPool: return "max_pool";
    case Op::AvgPool: return "avg_pool";
    case Op::GlobalAvgPool: return "global_avg_pool";
    case Op::GlobalMaxPool: return "global_max_pool";
    case Op::Flatten: return "flatten";
    case Op::ZeroPad: return "zero_pad";
    case Op::Crop: return "crop";
    case Op::Upsample: return "upsample";
    case Op::Activation: return "activation";
    case Op::Softmax: return "softmax";
    case Op::Add: return "add";
    case Op::Concat: return "concat";
    case Op::Identity: return "identity";
    case Op::ConstAdd: return "const_add";
    case Op::ConstMul: return "const_mul";
    case Op::Quantize: return "quantize";
    case Op::Pack: return "pack";
    case Op::Unpack: return "unpack";
    case Op::Dequantize: return "dequantize";
    case Op::Unsupported: return "unsupported";
  }
  return "?";
}

int64_t Tensor::bytes() const {
  const int64_t n = elements();
  // s8 rounds up to whole words: every arena offset stays 4-byte aligned.
  if (format == Format::S8) return (n + 3) / 4 * 4;
  return format == Format::S1 ? 4 * ((n + 31) / 32) : 4 * n;
}

bool ActParams::clamp(float& lo, float& hi) const {
  using K = sem::ActivationKind;
  if (kind == K::Relu && alpha == 0.0f && threshold == 0.0f) {
    lo = 0.0f;
    hi = max_value;
    return true;
  }
  if (kind == K::Relu6 || kind == K::HardTanh) {
    lo = kind == K::Relu6 ? 0.0f : -1.0f;
    hi = kind == K::Relu6 ? 6.0f : 1.0f;
    return true;
  }
  return false;
}

int Graph::add_tensor(Tensor t) {
  tensors.push_back(std::move(t));
  return static_cast<int>(tensors.size()) - 1;
}

const Node* Graph::find_node(const std::string& name) const {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

static std::string lower_snake(const std::string& s) {
  // "SteSign" -> "ste_sign", "ste_sign" -> "ste_sign", "DoReFaQuantizer" -> "do_re_fa_quantizer"
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0 && s[i - 1] != '_') out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

Quantizer parse_quantizer(const json& j) {
  Quantizer q;
  if (j.is_null()) return q;
  std::string name;
  if (j.is_string()) {
    name = j.get<std::string>();
  } else if (j.is_object() && j.contains("class_name") && j["class_name"].is_string()) {
    name = j["class_name"].get<std::string>();
  } else {
    q.kind = Quantizer::Kind::Unknown;
    q.name = j.dump();
    return q;
  }
  q.name = name;
  // QKeras writes quantizers as Python calls too ("quantized_relu(4,0)").
  if (const size_t paren = name.find('('); paren != std::string::npos) name = name.substr(0, paren);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  // Keras 3 registered names carry a package prefix ("larq>SteSign", "Custom>STCustomDoReFa").
  const std::string base = name.substr(name.rfind('>') == std::string::npos ? 0 : name.rfind('>') + 1);
  const std::string key = lower_snake(base);
  if (key == "ste_sign" || key == "approx_sign" || key == "swish_sign" || key == "sign")
    q.kind = Quantizer::Kind::Sign;
  else if (key == "magnitude_aware_sign")
    q.kind = Quantizer::Kind::MagnitudeAwareSign;
  else if (key == "ste_heaviside")
    q.kind = Quantizer::Kind::Heaviside;
  else if (key == "ste_tern")
    q.kind = Quantizer::Kind::Tern;
  else if (key == "do_re_fa" || key == "dorefa_quantizer" || key == "do_re_fa_quantizer")
    q.kind = Quantizer::Kind::DoReFa;
  else if (base == "STCustomDoReFa")
    q.kind = Quantizer::Kind::StDoReFa;
  else if (key == "no_op" || key == "noop")
    q.kind = Quantizer::Kind::NoOp;
  else if (base == "quantized_bits" || base == "quantized_relu" || base == "binary" || base == "ternary")
    q.kind = Quantizer::Kind::QKeras;
  else
    q.kind = Quantizer::Kind::Unknown;
  if (q.kind == Quantizer::Kind::DoReFa || q.kind == Quantizer::Kind::StDoReFa || q.kind == Quantizer::Kind::QKeras) {
    try {
      q.spec = sem::parse_quantizer(j, "");
    } catch (const ModelError& e) {
      q.invalid = e.what();
      if (q.invalid.rfind(": ", 0) == 0) q.invalid.erase(0, 2);
    }
  }
  return q;
}

void Graph::bypass(Node& n) {
  const int out = n.outputs.at(0), in = n.inputs.at(0);
  Tensor& to = tensors[out];
  for (int c : to.consumers) {
    for (int& i : nodes[c].inputs)
      if (i == out) i = in;
    tensors[in].consumers.push_back(c);
  }
  to.consumers.clear();
  auto& ic = tensors[in].consumers;
  ic.erase(std::remove(ic.begin(), ic.end(), n.id), ic.end());
  if (to.model_output) {
    to.model_output = false;
    tensors[in].model_output = true;
    for (int& o : outputs)
      if (o == out) o = in;
  }
  n.removed = true;
}

}  // namespace bitlens
