// Real files the loader used to refuse (docs/keras-h5-format.md section 5, traps 3-5), each
// reproduced with the project's writer plus raw HDF5 edits where the writer cannot produce the
// layout: '/' inside nested layer names, custom layers with many same-named weights under
// sub-paths, and Functional layers that were never called (empty inbound_nodes).
#include "model_test_util.hpp"

namespace {

using namespace model_test;

// ---- '/' inside layer names (a YAMNet-style backbone, keras 2.9) ----

// A nested model whose layers are named "layer1/conv", "layer1/conv/bn", "layer2/conv": the
// stored weight names are "layer1/conv/kernel:0", "layer1/conv/bn/beta:0", ..., so splitting
// at the first '/' finds no layer, and "layer1/conv" is a prefix of "layer1/conv/bn".
k::ModelBuilder slash_backbone() {
  k::ModelBuilder inner("backbone", k::Style::functional, 31);
  auto i = inner.input({8, 8, 3}, "backbone_in");
  i = inner.conv2d(i, {.filters = 4, .padding = "same", .name = "layer1/conv"});
  i = inner.batch_norm(i, {.name = "layer1/conv/bn"});
  i = inner.quant_conv2d(i, {.filters = 6, .use_bias = false, .input_quantizer = "ste_sign",
                             .kernel_quantizer = "ste_sign", .name = "layer2/conv"});
  inner.batch_norm(i, {.scale = false, .name = "layer2/conv/bn"});
  return inner;
}

Model slash_model(k::ModelBuilder& inner) {
  k::ModelBuilder outer("yamnet_like", k::Style::functional, 32);
  auto x = outer.input({8, 8, 3});
  auto y = outer.nested(inner, {x});
  y = outer.global_average_pool2d(y);
  outer.dense(y, {.units = 3});
  return outer.build();
}

TEST(LoaderBreadth, SlashInsideNestedLayerNamesMapsByLongestKnownName) {
  auto inner = slash_backbone();
  const Model built = slash_model(inner);
  for (bool keras3 : {false, true}) {
    SCOPED_TRACE(keras3 ? "Keras 3 legacy names (backbone/layer1/conv/kernel)" : "tf.keras names (layer1/conv/kernel:0)");
    TempDir dir;
    bitlens::H5WriteOptions o;
    o.keras3_legacy = keras3;
    if (keras3) o.keras_version = "3.10.0";
    bitlens::write_model_h5(built, dir / "m.h5", o);
    {
      RawFile f(dir / "m.h5");
      auto names = f.strings("/model_weights/backbone", "weight_names");
      // The layout of the real file: the layer names' '/' are part of the weight paths.
      const std::string p = keras3 ? "backbone/" : "";
      const std::string s = keras3 ? "" : ":0";
      std::vector<std::string> want = {
          p + "layer1/conv/kernel" + s,      p + "layer1/conv/bias" + s,
          p + "layer1/conv/bn/gamma" + s,    p + "layer1/conv/bn/beta" + s,
          p + "layer2/conv/kernel" + s,      p + "layer2/conv/bn/beta" + s,
          p + "layer1/conv/bn/moving_mean" + s, p + "layer1/conv/bn/moving_variance" + s,
          p + "layer2/conv/bn/moving_mean" + s, p + "layer2/conv/bn/moving_variance" + s};
      EXPECT_EQ(names, want);
      EXPECT_GT(H5Lexists(f.id(), ("/model_weights/backbone/" + p + "layer1/conv/bn/beta" + s).c_str(), H5P_DEFAULT), 0);
    }
    const Model m = bitlens::load_model(dir / "m.h5");
    if (!keras3) {
      expect_same_model(m, built);
    } else {  // Keras 3 configs are written in their own form; the weights must be the same
      ASSERT_EQ(m.layers.size(), built.layers.size());
      for (const auto& l : built.layers) {
        ASSERT_NE(m.find(l.name), nullptr) << l.name;
        expect_same_weights(*m.find(l.name), l);
      }
    }
    const auto* conv = m.find("layer1/conv");
    const auto* bn = m.find("layer1/conv/bn");
    ASSERT_NE(conv, nullptr);
    ASSERT_NE(bn, nullptr);
    EXPECT_EQ(conv->parent, "backbone");
    // Each weight went to the longest layer name that prefixes it, not to "layer1/conv".
    EXPECT_EQ(conv->weights.size(), 2u);
    EXPECT_EQ(bn->weights.size(), 4u);
    EXPECT_EQ(bn->weights.at("beta").data, built.find("layer1/conv/bn")->weights.at("beta").data);
    EXPECT_EQ(m.find("layer2/conv/bn")->weights.size(), 3u);  // scale=False: no gamma
    EXPECT_FALSE(m.find("layer2/conv/bn")->weights.count("gamma"));
  }
}

TEST(LoaderBreadth, SlashInsideTopLevelLayerNames) {
  // The same names on the model's own layers: h5py stores layer "layer1/conv" as the nested
  // groups model_weights/layer1/conv (not a child of model_weights), its kernel at
  // model_weights/layer1/conv/layer1/conv/kernel:0.
  k::ModelBuilder b("yamnet_top", k::Style::functional, 33);
  auto x = b.input({8, 8, 3});
  x = b.conv2d(x, {.filters = 4, .padding = "same", .name = "layer1/conv"});
  x = b.batch_norm(x, {.name = "layer1/conv/bn"});
  x = b.relu(x, {.name = "layer1/relu"});
  x = b.global_average_pool2d(x);
  b.dense(x, {.units = 2, .name = "logits"});
  const Model built = b.build();
  TempDir dir;
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    EXPECT_EQ(f.strings("/model_weights/layer1/conv", "weight_names"),
              (std::vector<std::string>{"layer1/conv/kernel:0", "layer1/conv/bias:0"}));
    EXPECT_GT(H5Lexists(f.id(), "/model_weights/layer1/conv/bn/layer1/conv/bn/beta:0", H5P_DEFAULT), 0);
    EXPECT_FALSE(f.has_attr("/model_weights/layer1", "weight_names"));  // only an intermediate group
  }
  const Model m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.find("layer1/conv/bn")->weights.size(), 4u);
}

TEST(LoaderBreadth, NestedWeightNamingNoLayerIsStillRefusedWithTheName) {
  auto inner = slash_backbone();
  TempDir dir;
  bitlens::write_model_h5(slash_model(inner), dir / "m.h5");
  const bitlens::Array k = bitlens::load_model(dir / "m.h5").find("layer1/conv")->weights.at("kernel");
  {
    RawFile f(dir / "m.h5");
    auto names = f.strings("/model_weights/backbone", "weight_names");
    ASSERT_EQ(names[0], "layer1/conv/kernel:0");
    // "layer1/con" is no layer's name: a prefix match on characters (not path components)
    // would wrongly accept it.
    names[0] = "layer1/con/kernel:0";
    f.set_strings("/model_weights/backbone", "weight_names", names);
    f.write_dataset("/model_weights/backbone/layer1/con/kernel:0", k);
  }
  std::string msg = load_error(dir / "m.h5");
  EXPECT_TRUE(contains(msg, "nested model 'backbone': weight 'layer1/con/kernel:0' names none of its layers")) << msg;
  EXPECT_TRUE(contains(msg, "re-save")) << msg;
}

// ---- Custom subclassed layers with many weights (a MobileNetV3 block as one custom layer) ----

// A custom layer "mobile_net_v3_small_1" holding 140 variables: 28 sub-blocks of conv kernel +
// BatchNormalization (gamma, beta, moving_mean, moving_variance), so "kernel", "gamma", ... each
// repeat 28 times under different sub-paths. The real file also holds variables whose names do
// not start with the layer's name ("conv2d_18/kernel:0"): the writer always prefixes the layer
// name, so one of them is renamed by a raw HDF5 edit.
k::ModelBuilder custom_backbone_model() {
  k::ModelBuilder b("custom_backbone", k::Style::functional, 41);
  auto x = b.input({16, 16, 3});
  std::vector<std::pair<std::string, bitlens::Array>> w;
  for (int i = 0; i < 28; ++i) {
    const std::string blk = "block" + std::to_string(i) + "/";
    const float v = static_cast<float>(i);
    w.emplace_back(blk + "conv/kernel", bitlens::Array{{1, 1, 8, 8}, std::vector<float>(64, 0.01f * v)});
    w.emplace_back(blk + "bn/gamma", bitlens::Array{{8}, std::vector<float>(8, 1.0f + v)});
    w.emplace_back(blk + "bn/beta", bitlens::Array{{8}, std::vector<float>(8, -v)});
    w.emplace_back(blk + "bn/moving_mean", bitlens::Array{{8}, std::vector<float>(8, 0.5f * v)});
    w.emplace_back(blk + "bn/moving_variance", bitlens::Array{{8}, std::vector<float>(8, 2.0f + v)});
  }
  auto y = b.layer("MobileNetV3Backbone", {x}, json{{"name", "mobile_net_v3_small_1"}, {"alpha", 0.75}},
                   {1, 1, 576}, std::move(w));
  y = b.flatten(y);
  b.dense(y, {.units = 10, .activation = "softmax"});
  return b;
}

TEST(LoaderBreadth, CustomLayerWithManySameNamedWeightsLoadsAndRoundTrips) {
  TempDir dir;
  const Model built = custom_backbone_model().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  std::string renamed_from = "mobile_net_v3_small_1/block18/conv/kernel:0";
  {
    RawFile f(dir / "m.h5");
    auto names = f.strings("/model_weights/mobile_net_v3_small_1", "weight_names");
    ASSERT_EQ(names.size(), 140u);
    // Keras' order: every trainable variable first, then the 56 moving statistics.
    EXPECT_EQ(names[0], "mobile_net_v3_small_1/block0/conv/kernel:0");
    EXPECT_EQ(names[84], "mobile_net_v3_small_1/block0/bn/moving_mean:0");
    auto it = std::find(names.begin(), names.end(), renamed_from);
    ASSERT_NE(it, names.end());
    *it = "conv2d_18/kernel:0";
    f.set_strings("/model_weights/mobile_net_v3_small_1", "weight_names", names);
    f.write_dataset("/model_weights/mobile_net_v3_small_1/conv2d_18/kernel:0",
                    built.find("mobile_net_v3_small_1")->weights.at("block18/conv/kernel"));
    f.delete_link("/model_weights/mobile_net_v3_small_1/" + renamed_from);
  }
  const Model m = bitlens::load_model(dir / "m.h5");
  const auto* l = m.find("mobile_net_v3_small_1");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->class_name, "MobileNetV3Backbone");
  ASSERT_EQ(l->weights.size(), 140u);
  ASSERT_EQ(l->weight_names.size(), 140u);
  // Keyed by the path below the layer; a name outside the layer's prefix keeps its own path.
  EXPECT_EQ(l->weights.at("block27/bn/moving_variance").data, std::vector<float>(8, 29.0f));
  EXPECT_EQ(l->weights.at("block0/conv/kernel").shape, (std::vector<int64_t>{1, 1, 8, 8}));
  EXPECT_EQ(l->weights.at("conv2d_18/kernel").data,
            built.find("mobile_net_v3_small_1")->weights.at("block18/conv/kernel").data);
  EXPECT_FALSE(l->weights.count("block18/conv/kernel"));
  EXPECT_FALSE(l->weights.count("kernel"));

  // Written back, every variable keeps its stored name, order and value.
  bitlens::write_model_h5(m, dir / "again.h5");
  {
    RawFile a(dir / "m.h5"), b(dir / "again.h5");
    EXPECT_EQ(b.strings("/model_weights/mobile_net_v3_small_1", "weight_names"),
              a.strings("/model_weights/mobile_net_v3_small_1", "weight_names"));
  }
  expect_same_model(bitlens::load_model(dir / "again.h5"), m);
}

TEST(LoaderBreadth, KnownLayerStoringOneVariableTwiceIsStillRefused) {
  // For a class BitLens models the variables are fixed: a repeated one is an inconsistent list.
  TempDir dir;
  bitlens::write_model_h5(small_functional().build(), dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    auto names = f.strings("/model_weights/quant_dense", "weight_names");
    ASSERT_EQ(names.size(), 2u);
    names[1] = names[0];
    f.set_strings("/model_weights/quant_dense", "weight_names", names);
  }
  std::string msg = load_error(dir / "m.h5");
  EXPECT_TRUE(contains(msg, "layer 'quant_dense' (QuantDense) stores two weights named 'kernel'")) << msg;
  EXPECT_TRUE(contains(msg, "re-save")) << msg;
}

// ---- Layers that were never called (empty inbound_nodes) ----

// Adds to a written Functional model a custom loss layer that was created but never called:
// a model_config entry with "inbound_nodes": [], listed in layer_names with an empty
// weight_names (float64, shape (0,)), as tf.keras writes it.
void add_unconnected_layer(const fs::path& p, const std::string& name) {
  RawFile f(p);
  json cfg = f.model_config();
  cfg["config"]["layers"].push_back(
      {{"class_name", "CategoricalFocalLossLayer"},
       {"config", {{"name", name}, {"trainable", true}, {"dtype", "float32"}, {"gamma", 2.0}}},
       {"name", name},
       {"inbound_nodes", json::array()}});
  f.set_model_config(cfg);
  auto names = f.strings("/model_weights", "layer_names");
  names.push_back(name);
  f.set_strings("/model_weights", "layer_names", names);
  bitlens::io::Handle g = bitlens::io::create_group(f.id(), "/model_weights/" + name);
  bitlens::io::write_empty_float64_attr(g.get(), "weight_names");
}

TEST(LoaderBreadth, UnconnectedLayerIsKeptMarkedAndRoundTrips) {
  TempDir dir;
  const Model built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  add_unconnected_layer(dir / "m.h5", "focal_loss");
  const Model m = bitlens::load_model(dir / "m.h5");
  ASSERT_EQ(m.layers.size(), built.layers.size() + 1);
  const auto* l = m.find("focal_loss");
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->unconnected);
  EXPECT_TRUE(l->inputs.empty());
  EXPECT_EQ(l->class_name, "CategoricalFocalLossLayer");
  for (const auto& x : m.layers) {
    if (x.name != "focal_loss") {
      EXPECT_FALSE(x.unconnected) << x.name;
    }
  }
  EXPECT_EQ(m.outputs, built.outputs);

  bitlens::write_model_h5(m, dir / "again.h5");
  const Model again = bitlens::load_model(dir / "again.h5");
  expect_same_model(again, m);
  EXPECT_TRUE(again.find("focal_loss")->unconnected);
}

TEST(LoaderBreadth, UsingTheOutputOfAnUnconnectedLayerIsRefused) {
  TempDir dir;
  bitlens::write_model_h5(small_functional().build(), dir / "m.h5");
  add_unconnected_layer(dir / "m.h5", "focal_loss");
  {
    RawFile f(dir / "m.h5");
    json cfg = f.model_config();
    cfg["config"]["output_layers"] = json::array({json::array({"focal_loss", 0, 0})});
    f.set_model_config(cfg);
  }
  std::string msg = load_error(dir / "m.h5");
  EXPECT_TRUE(contains(msg, "the model output takes its input from layer 'focal_loss', which is not connected")) << msg;
  EXPECT_TRUE(contains(msg, "re-save")) << msg;
}

}  // namespace
