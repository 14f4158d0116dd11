// The bundled example models load, have the documented structure, and are deterministic.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"

namespace {

std::filesystem::path model_path(const std::string& name) {
  return std::filesystem::path(BITLENS_MODELS_DIR) / name;
}

int count_class(const bitlens::Model& m, const std::string& cls) {
  int n = 0;
  for (const auto& l : m.layers) n += l.class_name == cls;
  return n;
}

TEST(ModelExamples, ForumModelsHaveTheirPadValuesAndIdenticalWeights) {
  for (const char* layers : {"1", "2"}) {
    const std::pair<const char*, double> pads[] = {{"m1", -1.0}, {"0", 0.0}, {"p1", 1.0}};
    bitlens::Model first;
    for (const auto& [tag, pad] : pads) {
      auto m = bitlens::load_model(model_path(std::string("forum_") + layers + "layer_pad" + tag + ".h5"));
      EXPECT_EQ(m.class_name, "Sequential");
      ASSERT_EQ(count_class(m, "QuantConv2D"), std::stoi(layers));
      ASSERT_EQ(m.layers[0].class_name, "InputLayer");
      EXPECT_EQ(bitlens::declared_input_shape(m.layers[0]), (std::vector<int64_t>{32, 32, 1}));
      for (const auto& l : m.layers) {
        if (l.class_name != "QuantConv2D") continue;
        EXPECT_EQ(l.config["pad_values"].get<double>(), pad);
        EXPECT_EQ(l.config["filters"], 16);
        EXPECT_EQ(l.config["padding"], "same");
        EXPECT_EQ(l.config["use_bias"], false);
        EXPECT_EQ(l.config["input_quantizer"]["class_name"], "SteSign");
        EXPECT_EQ(l.config["kernel_quantizer"]["class_name"], "SteSign");
        EXPECT_EQ(l.weights.size(), 1u);
        EXPECT_EQ(l.weights.at("kernel").shape[3], 16);
      }
      if (first.layers.empty()) {
        first = m;
      } else {
        ASSERT_EQ(m.layers.size(), first.layers.size());
        for (size_t i = 0; i < m.layers.size(); ++i) {
          ASSERT_EQ(m.layers[i].weights.size(), first.layers[i].weights.size());
          for (const auto& [name, a] : m.layers[i].weights) {
            EXPECT_EQ(a.shape, first.layers[i].weights.at(name).shape);
            EXPECT_EQ(a.data, first.layers[i].weights.at(name).data) << name;
          }
        }
      }
    }
  }
}

TEST(ModelExamples, MnistTutorialStructure) {
  auto m = bitlens::load_model(model_path("mnist_tutorial.h5"));
  std::vector<std::string> classes;
  for (const auto& l : m.layers) classes.push_back(l.class_name);
  std::vector<std::string> want = {"InputLayer", "QuantConv2D", "MaxPooling2D", "BatchNormalization",
                                   "QuantConv2D", "MaxPooling2D", "BatchNormalization",
                                   "QuantConv2D", "BatchNormalization", "Flatten", "QuantDense",
                                   "BatchNormalization", "QuantDense", "BatchNormalization",
                                   "Activation"};
  EXPECT_EQ(classes, want);
  EXPECT_TRUE(m.layers[1].config["input_quantizer"].is_null());
  EXPECT_EQ(m.layers[1].config["kernel_constraint"]["class_name"], "weight_clip");
  EXPECT_EQ(m.layers[3].weights.count("gamma"), 0u);  // scale=False
  EXPECT_EQ(m.layers[3].weights.count("beta"), 1u);
  EXPECT_EQ(m.layers[10].weights.at("kernel").shape, (std::vector<int64_t>{3 * 3 * 64, 64}));
  EXPECT_EQ(m.outputs.size(), 1u);
  EXPECT_EQ(m.outputs[0].layer, m.layers.back().name);
}

TEST(ModelExamples, QuicknetHasResidualBinaryBlocks) {
  auto m = bitlens::load_model(model_path("quicknet_style.h5"));
  EXPECT_EQ(count_class(m, "Add"), 4);
  EXPECT_EQ(count_class(m, "QuantConv2D"), 4);
  EXPECT_EQ(count_class(m, "MaxPooling2D"), 1);
  EXPECT_EQ(count_class(m, "GlobalAveragePooling2D"), 1);
  bool negative_gamma = false;
  for (const auto& l : m.layers) {
    if (l.class_name == "QuantConv2D") {
      EXPECT_EQ(l.config["pad_values"], 1.0);
      EXPECT_EQ(l.config["activation"], "relu");
    }
    if (l.class_name == "Add") {
      EXPECT_EQ(l.inputs.size(), 2u);
    }
    if (l.class_name == "BatchNormalization") {
      for (float v : l.weights.at("moving_variance").data) EXPECT_GT(v, 0.f);
      for (float g : l.weights.at("gamma").data) negative_gamma |= g < 0;
    }
  }
  EXPECT_TRUE(negative_gamma);
}

TEST(ModelExamples, LargeModelExceedsOneMebibyteOfPackedWeights) {
  EXPECT_GT(std::filesystem::file_size(model_path("large_binary.h5")), 4u << 20);
  auto m = bitlens::load_model(model_path("large_binary.h5"));
  int64_t binary = 0;
  for (const auto& l : m.layers)
    if (l.class_name == "QuantConv2D" || l.class_name == "QuantDense") binary += l.weights.at("kernel").size();
  EXPECT_GT(binary / 8, int64_t{1} << 20);
}

TEST(ModelExamples, LatentWeightsArePlausible) {
  auto m = bitlens::load_model(model_path("mnist_tutorial.h5"));
  for (const auto& l : m.layers) {
    if (l.class_name != "QuantConv2D" && l.class_name != "QuantDense") continue;
    const auto& k = l.weights.at("kernel").data;
    float lo = 0, hi = 0;
    for (float v : k) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    EXPECT_GE(lo, -1.3f);
    EXPECT_LE(hi, 1.3f);
    EXPECT_LT(lo, -1.0f);  // really spread, not just +-1
    EXPECT_GT(hi, 1.0f);
  }
}

}  // namespace
