// A small labelled dataset and a binary network that solves it, for the accuracy features of
// compare, validate and the app: 12x12 images of one straight line — horizontal, vertical,
// diagonal or anti-diagonal (classes 0..3) — at a random offset, drawn to the border (so
// pad_values matters), with a fraction of the pixels flipped. The network is a QuantConv2D
// (ste_sign, padding="same") whose four 3x3 +-1 kernels are line detectors of the four
// orientations, GlobalMaxPooling2D and a Dense softmax on each detector's best response: far above the
// 25 % of chance, below 100 % because of the noise, and different for each pad_values.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "support/keras_builder.hpp"

namespace orientation_task {

constexpr int kSize = 12, kClasses = 4;

// Pixels are -1 (background) and +1 (line), float32, shape (n, 12, 12, 1); labels (n,).
// `bytes`: the same images as uint8 0/255 (for --scale 2/255 --offset -1).
struct Data {
  bitlens::Array x, labels, bytes, one_hot;
};

inline Data make_data(int n, uint64_t seed, double noise = 0.12) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> cls(0, kClasses - 1), off(-3, 3);
  std::uniform_real_distribution<double> u(0, 1);
  Data d;
  d.x.shape = {n, kSize, kSize, 1};
  d.bytes.shape = d.x.shape;
  d.labels.shape = {n};
  d.one_hot.shape = {n, kClasses};
  d.one_hot.data.assign(static_cast<size_t>(n) * kClasses, 0.0f);
  for (int s = 0; s < n; ++s) {
    const int c = cls(rng), o = off(rng);
    for (int i = 0; i < kSize; ++i)
      for (int j = 0; j < kSize; ++j) {
        const int r = (kSize / 2) + o;
        bool on = c == 0 ? i == r : c == 1 ? j == r : c == 2 ? j - i == o : i + j == kSize - 1 + o;
        if (u(rng) < noise) on = !on;
        d.x.data.push_back(on ? 1.0f : -1.0f);
        d.bytes.data.push_back(on ? 255.0f : 0.0f);
      }
    d.labels.data.push_back(static_cast<float>(c));
    d.one_hot.data[static_cast<size_t>(s) * kClasses + static_cast<size_t>(c)] = 1.0f;
  }
  return d;
}

// The detector network with pad_values `pad` on its binary convolution.
inline bitlens::Model make_model(double pad = 1.0) {
  using namespace bitlens::keras;
  ModelBuilder b("orientation", Style::functional, 3);
  auto x = b.input({kSize, kSize, 1}, "image");
  auto c = b.quant_conv2d(x, {.filters = kClasses, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign", .pad_values = pad,
                              .name = "detectors"});
  auto g = b.global_max_pool2d(c, "best_response");
  b.dense(g, {.units = kClasses, .activation = "softmax", .use_bias = false, .name = "classes"});
  bitlens::Model m = b.build();
  // Kernel (3, 3, 1, 4): +1 on the detector's line through the centre, -1 elsewhere.
  auto& k = m.find("detectors")->weights.at("kernel");
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int o = 0; o < kClasses; ++o) {
        const bool on = o == 0 ? i == 1 : o == 1 ? j == 1 : o == 2 ? i == j : i + j == 2;
        k.data[static_cast<size_t>((i * 3 + j) * kClasses + o)] = on ? 0.5f : -0.5f;  // latent: ste_sign gives +-1
      }
  // Dense: a softmax over the four best responses.
  auto& w = m.find("classes")->weights.at("kernel");
  for (int i = 0; i < kClasses; ++i)
    for (int o = 0; o < kClasses; ++o) w.data[static_cast<size_t>(i * kClasses + o)] = i == o ? 4.0f : 0.0f;
  return m;
}

}  // namespace orientation_task
