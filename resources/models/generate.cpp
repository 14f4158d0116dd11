// Writes the bundled example models (deterministic: same bytes on every run).
// Usage: bitlens_generate_models OUTPUT_DIR
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/semantics.hpp"
#include "support/orientation_task.hpp"

namespace {

using bitlens::keras::ModelBuilder;
using bitlens::keras::Style;
using bitlens::keras::Tensor;

// The models from the forum thread: QuantConv2D(16, 3x3, same, ste_sign in/kernel, no bias).
bitlens::Model forum(int layers, double pad, uint64_t seed) {
  ModelBuilder b(layers == 1 ? "forum_1layer" : "forum_2layer", Style::sequential, seed);
  Tensor x = b.input({32, 32, 1});
  for (int i = 0; i < layers; ++i)
    x = b.quant_conv2d(x, {.filters = 16, .kernel_size = {3, 3}, .padding = "same",
                           .use_bias = false, .input_quantizer = "ste_sign",
                           .kernel_quantizer = "ste_sign", .pad_values = pad});
  return b.build();
}

// The Larq MNIST tutorial network (docs.larq.dev, "Introduction to BNNs with Larq").
bitlens::Model mnist() {
  ModelBuilder b("mnist_tutorial", Style::sequential, 28);
  Tensor x = b.input({28, 28, 1});
  x = b.quant_conv2d(x, {.filters = 32, .kernel_size = {3, 3}, .use_bias = false,
                         .kernel_quantizer = "ste_sign", .kernel_clip = true});
  x = b.max_pool2d(x, {.pool_size = {2, 2}});
  x = b.batch_norm(x, {.scale = false});
  x = b.quant_conv2d(x, {.filters = 64, .kernel_size = {3, 3}, .use_bias = false,
                         .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                         .kernel_clip = true});
  x = b.max_pool2d(x, {.pool_size = {2, 2}});
  x = b.batch_norm(x, {.scale = false});
  x = b.quant_conv2d(x, {.filters = 64, .kernel_size = {3, 3}, .use_bias = false,
                         .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                         .kernel_clip = true});
  x = b.batch_norm(x, {.scale = false});
  x = b.flatten(x);
  x = b.quant_dense(x, {.units = 64, .use_bias = false, .input_quantizer = "ste_sign",
                        .kernel_quantizer = "ste_sign", .kernel_clip = true});
  x = b.batch_norm(x, {.scale = false});
  x = b.quant_dense(x, {.units = 10, .use_bias = false, .input_quantizer = "ste_sign",
                        .kernel_quantizer = "ste_sign", .kernel_clip = true});
  x = b.batch_norm(x, {.scale = false});
  x = b.activation(x, "softmax");
  return b.build();
}

Tensor quicknet_block(ModelBuilder& b, const Tensor& x) {
  Tensor y = b.quant_conv2d(x, {.filters = static_cast<int>(x.shape[2]), .kernel_size = {3, 3},
                                .padding = "same", .activation = "relu", .use_bias = false,
                                .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                                .pad_values = 1.0, .kernel_clip = true});
  y = b.batch_norm(y, {.momentum = 0.9});
  return b.add({x, y});
}

// A QuickNet-style network: float stem, residual binary blocks, MaxPool transition, float head.
bitlens::Model quicknet() {
  ModelBuilder b("quicknet_style", Style::functional, 7);
  Tensor x = b.input({32, 32, 3});
  x = b.conv2d(x, {.filters = 32, .kernel_size = {3, 3}, .strides = {2, 2}, .padding = "same",
                   .use_bias = false});
  x = b.batch_norm(x, {.momentum = 0.9});
  x = b.relu(x);
  x = quicknet_block(b, x);
  x = quicknet_block(b, x);
  x = b.max_pool2d(x, {.pool_size = {2, 2}});
  x = b.depthwise_conv2d(x, {.kernel_size = {3, 3}, .padding = "same", .use_bias = false});
  x = b.conv2d(x, {.filters = 64, .kernel_size = {1, 1}, .use_bias = false});
  x = b.batch_norm(x, {.momentum = 0.9});
  x = quicknet_block(b, x);
  x = quicknet_block(b, x);
  x = b.global_average_pool2d(x);
  x = b.dense(x, {.units = 10});
  x = b.activation(x, "softmax");
  return b.build();
}

// More than 8.4 M binary weights (> 1 MiB packed): does not fit a 1 MiB-flash STM32L476.
bitlens::Model large() {
  ModelBuilder b("large_binary", Style::functional, 99);
  auto bin = [&](const Tensor& t, int filters) {
    Tensor y = b.quant_conv2d(t, {.filters = filters, .kernel_size = {3, 3}, .padding = "same",
                                  .use_bias = false, .input_quantizer = "ste_sign",
                                  .kernel_quantizer = "ste_sign", .pad_values = 1.0});
    return b.batch_norm(y);
  };
  Tensor x = b.input({32, 32, 3});
  x = b.conv2d(x, {.filters = 128, .kernel_size = {3, 3}, .padding = "same", .use_bias = false});
  x = b.batch_norm(x);
  x = bin(x, 256);
  x = b.max_pool2d(x);
  x = bin(x, 512);
  x = b.max_pool2d(x);
  x = bin(x, 512);
  x = bin(x, 512);
  x = b.max_pool2d(x);
  x = bin(x, 512);
  x = b.global_average_pool2d(x);
  x = b.quant_dense(x, {.units = 1024, .use_bias = false, .input_quantizer = "ste_sign",
                        .kernel_quantizer = "ste_sign"});
  x = b.batch_norm(x);
  x = b.dense(x, {.units = 10});
  x = b.activation(x, "softmax");
  return b.build();
}

// ST's st_resnet_8_hybrid (stm32ai-modelzoo, image_classification/src/models/
// st_resnet_8_hybrid.py) as tf.keras 2.8 with Larq saves it: 8-bit DoReFa stem, transitions,
// shortcuts and classifier; binary cells in between; STCustomDoReFa quantizer objects as
// Activation layers. v1: filters 32/96/128, v2: 32/64/128; 32x32x3 input, 10 classes.
constexpr const char* kAct8 = "STCustomDoReFa(k_bit=8,mode=activations)";
constexpr const char* kWeights8 = "STCustomDoReFa(k_bit=8,mode=weights)";

Tensor st_quantize(ModelBuilder& b, const Tensor& x) { return b.activation(x, kAct8); }

Tensor st_binary_cell(ModelBuilder& b, const Tensor& x1, int filters) {
  Tensor x = b.quant_depthwise_conv2d(x1, {.kernel_size = {3, 3}, .padding = "same", .use_bias = false,
                                           .input_quantizer = "ste_sign", .depthwise_quantizer = "ste_sign",
                                           .pad_values = 1.0});
  x = b.batch_norm(x, {.scale = false});
  x = b.concatenate({x1, x});
  x = b.quant_conv2d(x, {.filters = filters, .kernel_size = {1, 1}, .padding = "same", .use_bias = false,
                         .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = 1.0,
                         .kernel_clip = true});
  x = b.batch_norm(x);
  x = st_quantize(b, x);
  return b.add({x, x1});
}

// QuantDepthwiseConv2D 3x3 + BN + QuantConv2D 1x1 + BN, all 8-bit.
Tensor st_transition(ModelBuilder& b, const Tensor& x0, int stride, int filters) {
  Tensor x = b.quant_depthwise_conv2d(x0, {.kernel_size = {3, 3}, .strides = {stride, stride}, .padding = "same",
                                           .use_bias = false, .input_quantizer = kAct8,
                                           .depthwise_quantizer = kWeights8});
  x = b.batch_norm(x);
  x = b.quant_conv2d(x, {.filters = filters, .kernel_size = {1, 1}, .padding = "same", .use_bias = false,
                         .input_quantizer = kAct8, .kernel_quantizer = kWeights8});
  return b.batch_norm(x);
}

Tensor st_shortcut(ModelBuilder& b, const Tensor& x2, int filters) {
  Tensor y = b.quant_conv2d(x2, {.filters = filters, .kernel_size = {1, 1}, .strides = {2, 2}, .padding = "same",
                                 .use_bias = false, .input_quantizer = kAct8, .kernel_quantizer = kWeights8});
  y = b.batch_norm(y);
  return st_quantize(b, y);
}

// Moves latent weights off the rounding boundaries of their DoReFa weights quantizer, where
// TensorFlow's tanh (Eigen's approximation) could pick the neighbouring level: the bundled
// examples must mean the same thing in Keras and in BitLens.
void clear_tanh_boundaries(bitlens::Model& m) {
  namespace sem = bitlens::sem;
  for (auto& l : m.layers) {
    for (const auto& [qkey, wkey] : {std::pair{"kernel_quantizer", "kernel"}, {"depthwise_quantizer", "depthwise_kernel"}}) {
      if (!l.config.contains(qkey) || !l.config[qkey].is_object()) continue;
      const auto q = sem::parse_quantizer(l.config[qkey], l.name);
      if ((q.kind != sem::QuantizerKind::StDoReFa && q.kind != sem::QuantizerKind::DoReFa) || !q.dorefa_weights) continue;
      const float n = q.kind == sem::QuantizerKind::StDoReFa ? sem::st_dorefa_weight_n(q.k_bit) : sem::dorefa_n(q.k_bit);
      auto& w = l.weights.at(wkey).data;
      const float d = sem::dorefa_tanh_max(w);
      for (float& v : w) {
        int away = 0;
        // The weight with the largest |tanh| sets d; moving it would move every boundary.
        if (std::fabs(std::tanh(v)) == d || !sem::dorefa_weight_near_boundary(v, d, n, &away)) continue;
        for (int step = 0; step < 100 && sem::dorefa_weight_near_boundary(v, d, n); ++step)
          v += static_cast<float>(away) * 1e-5f;
      }
      if (sem::dorefa_weights_near_boundary(w, n) != 0)
        throw std::runtime_error(l.name + ": latent weights stay on a tanh rounding boundary");
    }
  }
}

// A binary cell, then an 8-bit transition, each followed by the quantizer.
Tensor st_block(ModelBuilder& b, Tensor x, int cell_filters, int stride, int filters) {
  x = st_quantize(b, st_binary_cell(b, x, cell_filters));
  return st_quantize(b, st_transition(b, x, stride, filters));
}

bitlens::Model st_resnet_8_hybrid(const char* name, std::array<int, 3> f, uint64_t seed) {
  ModelBuilder b(name, Style::functional, seed);
  Tensor x = b.input({32, 32, 3});
  x = b.quant_conv2d(x, {.filters = f[0], .kernel_size = {3, 3}, .padding = "same", .use_bias = false,
                         .input_quantizer = "DoReFa(k_bit=8,mode=activations)", .kernel_quantizer = kWeights8});
  x = b.batch_norm(x);
  x = st_quantize(b, x);
  x = st_block(b, x, f[0], 2, f[0]);
  x = st_block(b, x, f[0], 1, f[0]);
  for (int stack = 1; stack < 3; ++stack) {  // the second and third stacks, with a shortcut
    const Tensor x2 = x;
    x = st_block(b, x, f[stack - 1], 2, f[stack]);
    x = st_block(b, x, f[stack], 1, f[stack]);
    x = b.add({x, st_shortcut(b, x2, f[stack])});
    if (stack == 1) x = st_quantize(b, x);
  }
  // Classifier.
  x = st_quantize(b, x);
  const int pool = static_cast<int>(std::min(x.shape[0], x.shape[1]));  // int(np.amin(x.shape[1:3]))
  x = b.average_pool2d(x, {.pool_size = {pool, pool}});
  x = b.flatten(x);
  x = b.dropout(x, 0.2);
  x = b.quant_dense(x, {.units = 10, .use_bias = false, .input_quantizer = kAct8, .kernel_quantizer = kWeights8});
  x = b.batch_norm(x);
  x = b.activation(x, "softmax");
  bitlens::Model m = b.build();
  clear_tanh_boundaries(m);
  return m;
}

// A QKeras BNN (QKeras 0.9 on tf.keras 2, as QKeras' MNIST examples build them): binary kernels
// saved with the alpha="auto_po2" QConv2D gives a binary() kernel quantizer, BatchNorm, then
// QActivation("binary") holding the call string users write, max-pooling; a binary QDense head.
bitlens::Model qkeras_bnn() {
  using bitlens::json;
  ModelBuilder b("qkeras_bnn", Style::functional, 31);
  uint64_t state = 0x5EED;
  auto normal = [&state]() {  // Box-Muller on splitmix64: the same bytes on every platform
    auto u = [&state]() {
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return (static_cast<double>((z ^ (z >> 31)) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    };
    return static_cast<float>(std::sqrt(-2.0 * std::log(u())) * std::cos(6.283185307179586 * u()));
  };
  auto weights = [&](std::vector<int64_t> shape, float scale) {
    bitlens::Array a;
    a.shape = std::move(shape);
    for (int64_t i = 0; i < a.size(); ++i) a.data.push_back(scale * normal());
    return a;
  };
  const json bin_po2 = {{"class_name", "binary"},
                        {"config", {{"use_01", false}, {"alpha", "auto_po2"}, {"use_stochastic_rounding", false}}}};
  const json bin1 = {{"class_name", "binary"}, {"config", {{"use_01", false}, {"alpha", 1}, {"use_stochastic_rounding", false}}}};
  const json none_init = {{"class_name", "Zeros"}, {"config", json::object()}};
  auto conv = [&](const Tensor& x, const std::string& name, int filters) {
    const json cfg = {{"name", name}, {"filters", filters}, {"kernel_size", {3, 3}}, {"strides", {1, 1}},
                      {"padding", "same"}, {"data_format", "channels_last"}, {"dilation_rate", {1, 1}},
                      {"groups", 1}, {"activation", "linear"}, {"use_bias", false},
                      {"kernel_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
                      {"bias_initializer", none_init}, {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr},
                      {"activity_regularizer", nullptr}, {"kernel_constraint", nullptr}, {"bias_constraint", nullptr},
                      {"kernel_quantizer", bin_po2}, {"bias_quantizer", nullptr}, {"kernel_range", nullptr},
                      {"bias_range", nullptr}};
    return b.layer("QConv2D", {x}, cfg, {x.shape[0], x.shape[1], filters},
                   {{"kernel", weights({3, 3, x.shape[2], filters}, 0.3f)}});
  };
  Tensor x = b.input({28, 28, 1}, "input_1");
  x = conv(x, "conv2d_0", 16);
  x = b.batch_norm(x, {.name = "bn_0"});
  x = b.layer("QActivation", {x}, {{"name", "act_0"}, {"activation", "binary"}}, x.shape);
  x = b.max_pool2d(x, {.pool_size = {2, 2}, .name = "pool_0"});
  x = conv(x, "conv2d_1", 32);
  x = b.batch_norm(x, {.name = "bn_1"});
  x = b.layer("QActivation", {x}, {{"name", "act_1"}, {"activation", "binary"}}, x.shape);
  x = b.max_pool2d(x, {.pool_size = {2, 2}, .name = "pool_1"});
  x = b.flatten(x, "flatten");
  const json dense_cfg = {{"name", "dense"}, {"units", 10}, {"activation", "linear"}, {"use_bias", false},
                          {"kernel_initializer", {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}}},
                          {"bias_initializer", none_init}, {"kernel_regularizer", nullptr}, {"bias_regularizer", nullptr},
                          {"activity_regularizer", nullptr}, {"kernel_constraint", nullptr}, {"bias_constraint", nullptr},
                          {"kernel_quantizer", bin1}, {"bias_quantizer", nullptr}, {"kernel_range", nullptr},
                          {"bias_range", nullptr}};
  x = b.layer("QDense", {x}, dense_cfg, {10}, {{"kernel", weights({x.shape[0], 10}, 0.3f)}});
  x = b.batch_norm(x, {.name = "bn_2"});
  x = b.activation(x, "softmax", "softmax");
  return b.build();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    std::filesystem::path out = argv[1];
    std::filesystem::create_directories(out);
    const std::pair<const char*, double> pads[] = {{"m1", -1.0}, {"0", 0.0}, {"p1", 1.0}};
    for (int layers : {1, 2})
      for (const auto& [tag, pad] : pads)
        bitlens::write_model_h5(forum(layers, pad, 2023),
                                out / ("forum_" + std::to_string(layers) + "layer_pad" + tag + ".h5"));
    bitlens::write_model_h5(mnist(), out / "mnist_tutorial.h5");
    bitlens::write_model_h5(quicknet(), out / "quicknet_style.h5");
    bitlens::write_model_h5(large(), out / "large_binary.h5");
    bitlens::write_model_h5(st_resnet_8_hybrid("st_resnet_8_hybrid_v1", {32, 96, 128}, 8), out / "st_resnet_8_hybrid_v1.h5");
    bitlens::write_model_h5(st_resnet_8_hybrid("st_resnet_8_hybrid_v2", {32, 64, 128}, 8), out / "st_resnet_8_hybrid_v2.h5");
    bitlens::write_model_h5(qkeras_bnn(), out / "qkeras_bnn.h5");
    // A classifier with a labelled dataset (tests/support/orientation_task.hpp): compare and
    // validate on real samples; the app's dataset picker.
    bitlens::write_model_h5(orientation_task::make_model(1.0), out / "orientation_lines.h5");
    const auto data = orientation_task::make_data(1000, 2026);
    const std::filesystem::path ds = out.parent_path() / "datasets";
    std::filesystem::create_directories(ds);
    bitlens::write_npy(ds / "orientation_lines_x.npy", data.x);
    bitlens::write_npy(ds / "orientation_lines_y.npy", data.labels);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens_generate_models: %s\n", e.what());
    return 1;
  }
  return 0;
}
