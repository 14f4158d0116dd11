// ModelBuilder writes configs the way tf.keras 2.10 + larq 0.13 do, names layers like Keras,
// and generates deterministic, plausible weights.
#include "model_test_util.hpp"

namespace {

using namespace model_test;

TEST(ModelBuilder, QuantConv2DConfigHasEveryKerasAndLarqKey) {
  k::ModelBuilder b("m");
  auto x = b.input({8, 8, 1});
  b.quant_conv2d(x, {.filters = 16, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                     .kernel_quantizer = "ste_sign", .pad_values = -1.0});
  auto m = b.build();
  const auto& c = m.find("quant_conv2d")->config;
  for (const char* key : {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
                          "data_format", "dilation_rate", "groups", "activation", "use_bias",
                          "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
                          "activity_regularizer", "kernel_constraint", "bias_constraint", "input_quantizer",
                          "kernel_quantizer", "pad_values"})
    EXPECT_TRUE(c.contains(key)) << key;
  EXPECT_EQ(c["input_quantizer"],
            json::parse(R"({"class_name": "SteSign", "config": {"name": "ste_sign", "trainable": true,
                            "dtype": "float32", "clip_value": 1.0}})"));
  EXPECT_EQ(c["kernel_quantizer"]["config"]["name"], "ste_sign_1");
  EXPECT_EQ(c["pad_values"], -1.0);
  EXPECT_EQ(c["kernel_size"], json::parse("[3, 3]"));
  EXPECT_EQ(c["activation"], "linear");
}

TEST(ModelBuilder, LayerNamesFollowKerasCounters) {
  k::ModelBuilder b("m");
  auto x = b.input({8, 8, 2});
  auto a = b.conv2d(x, {.filters = 2});
  auto c = b.conv2d(a, {.filters = 2});
  auto d = b.depthwise_conv2d(c, {});
  auto e = b.batch_norm(d);
  auto f = b.max_pool2d(e);
  auto g = b.global_average_pool2d(f);
  EXPECT_EQ(a.layer, "conv2d");
  EXPECT_EQ(c.layer, "conv2d_1");
  EXPECT_EQ(d.layer, "depthwise_conv2d");
  EXPECT_EQ(e.layer, "batch_normalization");
  EXPECT_EQ(f.layer, "max_pooling2d");
  EXPECT_EQ(g.layer, "global_average_pooling2d");
  EXPECT_EQ(x.layer, "input_1");
}

TEST(ModelBuilder, ShapesAreTrackedForWeights) {
  k::ModelBuilder b("m");
  auto x = b.input({32, 32, 3});
  auto c = b.conv2d(x, {.filters = 8, .strides = {2, 2}, .padding = "same"});
  EXPECT_EQ(c.shape, (std::vector<int64_t>{16, 16, 8}));
  auto v = b.quant_conv2d(c, {.filters = 4, .kernel_size = {3, 3}, .dilation_rate = {2, 2}});
  EXPECT_EQ(v.shape, (std::vector<int64_t>{12, 12, 4}));
  auto p = b.max_pool2d(v, {.pool_size = {3, 3}, .strides = std::array<int, 2>{2, 2}});
  EXPECT_EQ(p.shape, (std::vector<int64_t>{5, 5, 4}));
  auto z = b.zero_padding2d(p, {{{1, 2}, {0, 1}}});
  EXPECT_EQ(z.shape, (std::vector<int64_t>{8, 6, 4}));
  auto f = b.flatten(z);
  EXPECT_EQ(f.shape, (std::vector<int64_t>{192}));
  auto r = b.reshape(f, {-1, 4});
  EXPECT_EQ(r.shape, (std::vector<int64_t>{48, 4}));
  auto m = b.build();
  EXPECT_EQ(m.find("quant_conv2d")->weights.at("kernel").shape, (std::vector<int64_t>{3, 3, 8, 4}));
}

TEST(ModelBuilder, WeightsAreDeterministicAndSeeded) {
  auto a = small_functional("m", 1).build();
  auto b = small_functional("m", 1).build();
  auto c = small_functional("m", 2).build();
  expect_same_model(a, b);
  EXPECT_NE(a.find("quant_conv2d")->weights.at("kernel").data, c.find("quant_conv2d")->weights.at("kernel").data);
}

TEST(ModelBuilder, BatchNormStatisticsArePlausible) {
  k::ModelBuilder b("m");
  auto x = b.input({4, 4, 64});
  auto q = b.quant_conv2d(x, {.filters = 64, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"});
  b.batch_norm(q);
  auto m = b.build();
  const auto& bn = *m.find("batch_normalization");
  int negative = 0;
  for (float g : bn.weights.at("gamma").data) negative += g < 0;
  EXPECT_GT(negative, 0);
  EXPECT_LT(negative, 64);
  for (float v : bn.weights.at("moving_variance").data) {
    EXPECT_GT(v, 0.f);
    EXPECT_GT(v, 100.f);  // scaled to the 3*3*64-long binary dot product
  }
}

TEST(ModelBuilder, SequentialStyleAndMisuse) {
  k::ModelBuilder b("s", k::Style::sequential);
  auto x = b.input({4, 4, 1});
  auto y = b.conv2d(x, {.filters = 2});
  EXPECT_THROW(b.conv2d(x, {.filters = 2}), std::invalid_argument);  // not the previous layer
  EXPECT_THROW(b.add({y, y}), std::invalid_argument);
  EXPECT_THROW(b.conv2d(y, {.filters = 2, .input_quantizer = "ste_sign"}), std::invalid_argument);
  EXPECT_THROW(b.quant_conv2d(y, {.filters = 2, .kernel_quantizer = "no_such"}), std::invalid_argument);
  auto cfg = b.model_config();
  EXPECT_EQ(cfg["class_name"], "Sequential");
  EXPECT_EQ(cfg["config"]["layers"][0]["class_name"], "InputLayer");
  EXPECT_EQ(cfg["config"]["layers"][0]["config"]["name"], "conv2d_input");
  EXPECT_EQ(cfg["config"]["layers"][1]["config"]["batch_input_shape"], json::parse("[null, 4, 4, 1]"));
  EXPECT_FALSE(cfg["config"]["layers"][1].contains("inbound_nodes"));
}

TEST(ModelBuilder, UnknownClassLayers) {
  k::ModelBuilder b("m");
  auto x = b.input({16});
  auto y = b.layer("LSTM", {x}, {{"units", 8}}, {8});
  b.layer("MyLayer", {y}, {{"name", "custom"}, {"k", 3}}, {8}, {{"w", {{8}, std::vector<float>(8, 1.f)}}});
  auto m = b.build();
  EXPECT_EQ(m.find("lstm")->class_name, "LSTM");
  EXPECT_EQ(m.find("custom")->weights.at("w").size(), 8);
  EXPECT_EQ(m.find("custom")->weight_names, (std::vector<std::string>{"custom/w:0"}));
}

}  // namespace
