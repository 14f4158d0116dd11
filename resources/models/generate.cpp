// Writes the bundled example models (deterministic: same bytes on every run).
// Usage: bitlens_generate_models OUTPUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "bitlens/npy.hpp"
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
