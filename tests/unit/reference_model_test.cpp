// Whole tiny models through reference_run, checked against results computed by hand, the
// per-layer trace, and the error messages for what the interpreter cannot compute.
#include <algorithm>

#include "unit/reference_test_util.hpp"

namespace bitlens {
namespace {

using namespace testutil;

// input (3x3x1) -> QuantConv2D 2x2 same pad +1 -> BatchNormalization (scale=False)
//   -> MaxPooling2D 2x2/2 same -> Flatten -> QuantDense(1).
Model binary_chain() {
  json conv = {{"filters", 1},
               {"kernel_size", {2, 2}},
               {"strides", {1, 1}},
               {"padding", "same"},
               {"data_format", "channels_last"},
               {"dilation_rate", {1, 1}},
               {"groups", 1},
               {"activation", "linear"},
               {"use_bias", false},
               {"input_quantizer", {{"class_name", "SteSign"}, {"config", {{"clip_value", 1.0}}}}},
               {"kernel_quantizer", {{"class_name", "SteSign"}, {"config", {{"clip_value", 1.0}}}}},
               {"kernel_constraint", {{"class_name", "WeightClip"}, {"config", {{"clip_value", 1}}}}},
               {"pad_values", 1.0}};
  // fused=False: the hand-computed values add epsilon 0 as given; tf.keras 2.x's fused kernel
  // would raise it to 1.001e-5 (sem::bn_epsilon).
  json bn = {{"axis", {3}}, {"momentum", 0.99}, {"epsilon", 0.0}, {"center", true},
             {"scale", false}, {"fused", false}};
  json mp = {{"pool_size", {2, 2}}, {"strides", {2, 2}}, {"padding", "same"},
             {"data_format", "channels_last"}};
  json dense = {{"units", 1}, {"activation", "linear"}, {"use_bias", true},
                {"input_quantizer", nullptr}, {"kernel_quantizer", "ste_sign"}};
  return model(
      {input_layer("input_1", {nullptr, 3, 3, 1}),
       layer("quant_conv2d", "QuantConv2D", conv, {"input_1"},
             {{"kernel", arr({2, 2, 1, 1}, {-0.3f, 0.7f, 0.2f, 0.5f})}}),
       layer("batch_normalization", "BatchNormalization", bn, {"quant_conv2d"},
             {{"beta", arr({1}, {1})},
              {"moving_mean", arr({1}, {0})},
              {"moving_variance", arr({1}, {1})}}),
       layer("max_pooling2d", "MaxPooling2D", mp, {"batch_normalization"}),
       layer("flatten", "Flatten", {{"data_format", "channels_last"}}, {"max_pooling2d"}),
       layer("quant_dense", "QuantDense", dense, {"flatten"},
             {{"kernel", arr({4, 1}, {1, -1, 0.2f, -0.0f})}, {"bias", arr({1}, {0.25f})}})},
      {"input_1"}, {"quant_dense"});
}

TEST(ReferenceModel, BinaryChainByHand) {
  // conv (pad +1), see ReferenceConv.BinaryConvSamePadPlusOneByHand: [[-2,4,2],[2,-2,0],[0,2,4]]
  // BN (inv 1, shift 1): [[-1,5,3],[3,-1,1],[1,3,5]]
  // MaxPool 2x2/2 same (pad after 1): [[5,3],[3,5]]; Flatten: [5,3,3,5]
  // QuantDense: sign(kernel) = [1,-1,1,+1 (-0.0 -> +1)]: 5 - 3 + 3 + 5 = 10, + 0.25
  const Model m = binary_chain();
  ReferenceTrace trace;
  const auto out = reference_run(
      m, {arr({1, 3, 3, 1}, {0.5f, -2, 3, -0.1f, 0, 4, 1, -1, -3})}, &trace);
  ASSERT_EQ(out.size(), 1u);
  expect_array_eq(out[0], {1, 1}, {10.25f});
  EXPECT_EQ(trace.order, (std::vector<std::string>{"input_1", "quant_conv2d", "batch_normalization",
                                                   "max_pooling2d", "flatten", "quant_dense"}));
  expect_array_eq(trace.outputs.at("quant_conv2d"), {1, 3, 3, 1}, {-2, 4, 2, 2, -2, 0, 0, 2, 4});
  expect_array_eq(trace.outputs.at("batch_normalization"), {1, 3, 3, 1},
                  {-1, 5, 3, 3, -1, 1, 1, 3, 5});
  expect_array_eq(trace.outputs.at("max_pooling2d"), {1, 2, 2, 1}, {5, 3, 3, 5});
  expect_array_eq(trace.outputs.at("flatten"), {1, 4}, {5, 3, 3, 5});
}

TEST(ReferenceModel, PadValueChangesOnlyTheBorder) {
  // Same chain with pad_values 0: conv [[-2,4,0],[2,-2,-2],[-2,0,1]] -> BN +1
  // [[-1,5,1],[3,-1,-1],[-1,1,2]] -> pool [[5,1],[1,2]] -> 5 - 1 + 1 + 2 + 0.25 = 7.25
  Model m = binary_chain();
  m.find("quant_conv2d")->config["pad_values"] = 0.0;
  const auto out = reference_run(m, {arr({1, 3, 3, 1}, {0.5f, -2, 3, -0.1f, 0, 4, 1, -1, -3})});
  expect_array_eq(out[0], {1, 1}, {7.25f});
}

TEST(ReferenceModel, FunctionalMergesByHand) {
  // x = [1, -2] -> Dense(identity) d -> TFOpLambda(d * 0.5) h -> Add(h, x) s
  //   -> TFOpLambda(__operators__.add)(s, s) t -> Concatenate(t, x) out
  // d = [1,-2]; h = [0.5,-1]; s = [1.5,-3]; t = [3,-6]; out = [3,-6,1,-2]
  Layer h = layer("h", "TFOpLambda", {{"function", "math.multiply"}}, {"d"});
  h.call_kwargs = {{"y", 0.5}, {"name", nullptr}};
  Layer t = layer("t", "TFOpLambda", {{"function", "__operators__.add"}}, {"s", "s"});
  t.call_kwargs = {{"y", {"s", 0, 0}}, {"name", nullptr}};
  const Model m = model({input_layer("x", {nullptr, 2}),
                         layer("d", "Dense", {{"units", 2}, {"use_bias", false}}, {"x"},
                               {{"kernel", arr({2, 2}, {1, 0, 0, 1})}}),
                         h, layer("s", "Add", json::object(), {"h", "x"}), t,
                         layer("out", "Concatenate", {{"axis", -1}}, {"t", "x"})},
                        {"x"}, {"out", "s"});
  const auto out = reference_run(m, {arr({1, 2}, {1, -2})});
  ASSERT_EQ(out.size(), 2u);
  expect_array_eq(out[0], {1, 4}, {3, -6, 1, -2});
  expect_array_eq(out[1], {1, 2}, {1.5f, -3});
}

TEST(ReferenceModel, TwoInputsInModelOrder) {
  const Model m = model({input_layer("a", {nullptr, 2}), input_layer("b", {nullptr, 2}),
                         layer("sub", "Subtract", json::object(), {"a", "b"})},
                        {"b", "a"}, {"sub"});
  // inputs are given in Model::inputs order: b first
  const auto out = reference_run(m, {arr({1, 2}, {1, 1}), arr({1, 2}, {5, 7})});
  expect_array_eq(out[0], {1, 2}, {4, 6});
}

TEST(ReferenceModel, OnlyLayersTheOutputsNeedAreComputed) {
  // An unsupported layer on a dead branch does not stop the run.
  const Model m = model({input_layer("x", {nullptr, 2}),
                         layer("dead", "QuantConv1D", {{"filters", 1}}, {"x"}),
                         layer("y", "Activation", {{"activation", "relu"}}, {"x"})},
                        {"x"}, {"y"});
  ReferenceTrace trace;
  const auto out = reference_run(m, {arr({1, 2}, {-1, 2})}, &trace);
  expect_array_eq(out[0], {1, 2}, {0, 2});
  EXPECT_EQ(trace.outputs.count("dead"), 0u);
}

TEST(ReferenceModel, BatchOfSamples) {
  const Model m = binary_chain();
  const auto out = reference_run(
      m, {arr({2, 3, 3, 1}, {0.5f, -2, 3, -0.1f, 0, 4, 1, -1, -3, 1, 1, 1, 1, 1, 1, 1, 1, 1})});
  // second sample all +1: conv = -1+1+1+1 = 2 inside, borders with pad +1 also 2 -> BN 3
  // -> pool 3 everywhere -> 3 - 3 + 3 + 3 + 0.25
  expect_array_eq(out[0], {2, 1}, {10.25f, 6.25f});
}

TEST(ReferenceErrors, UnsupportedClassIsNamed) {
  const Model m = model({input_layer("x", {nullptr, 4, 1}),
                         layer("qc1", "QuantConv3D", {{"filters", 1}}, {"x"})},
                        {"x"}, {"qc1"});
  expect_model_error([&] { reference_run(m, {arr({1, 4, 1}, {1, 2, 3, 4})}); },
                     {"layer 'qc1' (QuantConv3D)", "\"QuantConv3D\" is not supported"});
}

TEST(ReferenceErrors, InputShapeMismatchShowsExpectedShape) {
  const Model m = binary_chain();
  expect_model_error([&] { reference_run(m, {arr({1, 4, 4, 1}, std::vector<float>(16, 1))}); },
                     {"layer 'input_1' (InputLayer)", "(1, 4, 4, 1)", "expected (N, 3, 3, 1)"});
  expect_model_error([&] { reference_run(m, {}); }, {"1 input(s)", "got 0"});
  expect_model_error([&] { reference_run(m, {arr({1, 3, 3, 1}, {1, 2})}); },
                     {"holds 2 values", "(1, 3, 3, 1)"});
}

TEST(ReferenceErrors, ConvOptionsItCannotCompute) {
  Model m = binary_chain();
  m.find("quant_conv2d")->config["groups"] = 2;
  const Array x = arr({1, 3, 3, 1}, std::vector<float>(9, 1));
  expect_model_error([&] { reference_run(m, {x}); },
                     {"layer 'quant_conv2d' (QuantConv2D)", "groups = 2 does not divide its 1 input channels"});
  m = binary_chain();
  m.find("quant_conv2d")->config["data_format"] = "channels_first";
  expect_model_error([&] { reference_run(m, {x}); }, {"quant_conv2d", "channels_first"});
  m = binary_chain();
  m.find("quant_conv2d")->config["padding"] = "causal";
  expect_model_error([&] { reference_run(m, {x}); }, {"quant_conv2d", "padding = \"causal\""});
  m = binary_chain();
  m.find("quant_conv2d")->config["input_quantizer"] = "my_sign";
  expect_model_error([&] { reference_run(m, {x}); },
                     {"layer 'quant_conv2d' (QuantConv2D): input_quantizer", "\"my_sign\""});
  m = binary_chain();
  m.find("quant_conv2d")->config["padding"] = "valid";
  m.find("quant_conv2d")->config["kernel_size"] = {4, 4};
  expect_model_error([&] { reference_run(m, {x}); }, {"quant_conv2d", "smaller than the kernel"});
}

TEST(ReferenceErrors, WeightsThatDoNotMatchTheConfig) {
  Model m = binary_chain();
  m.find("quant_conv2d")->weights["kernel"] = arr({3, 3, 1, 1}, std::vector<float>(9, 1));
  const Array x = arr({1, 3, 3, 1}, std::vector<float>(9, 1));
  expect_model_error([&] { reference_run(m, {x}); },
                     {"quant_conv2d", "\"kernel\" has shape (3, 3, 1, 1)", "expected (2, 2, 1, 1)"});
  m = binary_chain();
  m.find("batch_normalization")->weights.erase("moving_variance");
  expect_model_error([&] { reference_run(m, {x}); },
                     {"layer 'batch_normalization' (BatchNormalization)",
                      "\"moving_variance\" is missing", "beta, moving_mean"});
  m = binary_chain();
  m.find("quant_dense")->weights.erase("bias");
  expect_model_error([&] { reference_run(m, {x}); }, {"quant_dense", "\"bias\" is missing"});
}

TEST(ReferenceErrors, BrokenGraphs) {
  Model m = binary_chain();
  m.find("flatten")->inputs[0].layer = "nowhere";
  const Array x = arr({1, 3, 3, 1}, std::vector<float>(9, 1));
  expect_model_error([&] { reference_run(m, {x}); }, {"'flatten'", "'nowhere'"});
  m = binary_chain();
  m.outputs.clear();
  expect_model_error([&] { reference_run(m, {x}); }, {"no outputs"});
  m = binary_chain();
  m.find("flatten")->inputs.clear();
  expect_model_error([&] { reference_run(m, {x}); }, {"layer 'flatten' (Flatten)", "no inputs"});
  m = binary_chain();
  std::swap(m.layers[2], m.layers[3]);  // pool before the BN it reads
  expect_model_error([&] { reference_run(m, {x}); },
                     {"layer 'max_pooling2d'", "'batch_normalization'", "topological"});
}

TEST(ReferenceErrors, RankErrorsNameTheShape) {
  json conv = {{"filters", 1}, {"kernel_size", {1, 1}}, {"use_bias", false}};
  Layer l = layer("c", "Conv2D", conv, {"x"}, {{"kernel", arr({1, 1, 1, 1}, {1})}});
  expect_model_error([&] { run1(l, arr({1, 2}, {1, 2})); },
                     {"layer 'c' (Conv2D)", "rank 4", "(1, 2)"});
  Layer dense = layer("d", "Dense", {{"units", 3}}, {"x"},
                      {{"kernel", arr({2, 3}, std::vector<float>(6, 1))}, {"bias", arr({3}, {0, 0, 0})}});
  expect_model_error([&] { run1(dense, arr({1, 5}, std::vector<float>(5, 1))); },
                     {"layer 'd' (Dense)", "\"kernel\" has shape (2, 3)", "expected (5, 3)"});
  expect_model_error([&] { run1(l, arr({1, 1, 1, 1}, {1})); reference_layer(l, {}); },
                     {"takes 1 input tensor", "got 0"});
}

TEST(ReferenceSupported, ListsTheImplementedClasses) {
  const auto& classes = reference_supported_classes();
  for (const char* c : {"QuantConv2D", "QuantDepthwiseConv2D", "QuantSeparableConv2D", "QuantDense",
                        "BatchNormalization", "MaxPooling2D", "TFOpLambda", "InputLayer", "QuantConv1D",
                        "GlobalMaxPooling1D", "UpSampling1D", "PReLU"})
    EXPECT_NE(std::find(classes.begin(), classes.end(), c), classes.end()) << c;
  EXPECT_EQ(std::find(classes.begin(), classes.end(), "QuantConv3D"), classes.end());
}

}  // namespace
}  // namespace bitlens
