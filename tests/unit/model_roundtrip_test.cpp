// write_model_h5 -> load_model gives back the same model, for every writer layout; config
// patches (pad_values variants) change only the config; output is byte-deterministic.
#include "model_test_util.hpp"

namespace {

using namespace model_test;

bitlens::Model every_layer_model() {
  k::ModelBuilder b("every_layer", k::Style::functional, 77);
  auto x = b.input({12, 12, 3});
  auto a = b.conv2d(x, {.filters = 8, .strides = {2, 2}, .padding = "same"});
  a = b.batch_norm(a, {.center = false, .epsilon = 1e-5});
  a = b.relu(a, {.max_value = 6.0});
  auto q = b.quant_conv2d(a, {.filters = 8, .padding = "same", .dilation_rate = {1, 1}, .use_bias = true,
                              .input_quantizer = "approx_sign", .kernel_quantizer = "magnitude_aware_sign",
                              .pad_values = -1.0});
  auto dw = b.depthwise_conv2d(q, {.padding = "same", .depth_multiplier = 2});
  auto qdw = b.quant_depthwise_conv2d(q, {.padding = "same", .depth_multiplier = 2, .use_bias = false,
                                          .input_quantizer = "ste_sign", .depthwise_quantizer = "ste_sign",
                                          .pad_values = 1.0});
  auto s = b.add({dw, qdw});
  auto sep = b.separable_conv2d(s, {.filters = 6, .padding = "same"});
  auto qsep = b.quant_separable_conv2d(s, {.filters = 6, .padding = "same", .use_bias = false,
                                           .input_quantizer = "ste_sign", .depthwise_quantizer = "ste_sign",
                                           .pointwise_quantizer = "ste_sign"});
  auto c = b.concatenate({sep, qsep});
  c = b.zero_padding2d(c, {{{1, 0}, {0, 1}}});
  c = b.average_pool2d(c, {.pool_size = {2, 2}});
  auto g1 = b.global_max_pool2d(c);
  auto g2 = b.global_average_pool2d(c);
  auto g = b.add({g1, g2});
  g = b.dropout(g, 0.2);
  g = b.gaussian_noise(g, 0.1);
  g = b.reshape(g, {3, 4});
  g = b.flatten(g);
  g = b.tf_multiply_constant(g, 0.5);
  g = b.tf_add_constant(g, 1.0);
  g = b.dense(g, {.units = 5, .activation = "relu"});
  g = b.quant_dense(g, {.units = 4, .input_quantizer = "ste_heaviside", .kernel_quantizer = "ste_tern"});
  g = b.activation(g, "tanh");
  b.softmax(g);
  return b.build();
}

TEST(ModelRoundTrip, EveryLayerKindSurvivesWriteAndLoad) {
  TempDir dir;
  auto built = every_layer_model();
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.file, dir / "m.h5");
  EXPECT_EQ(m.container, "h5");
  EXPECT_EQ(m.keras_version, "2.10.0");
  EXPECT_EQ(m.backend, "tensorflow");
  EXPECT_EQ(m.raw_config, built.raw_config);
}

TEST(ModelRoundTrip, AllWriterLayoutsLoadTheSameModel) {
  auto built = every_layer_model();
  for (int variant = 0; variant < 6; ++variant) {
    TempDir dir;
    bitlens::H5WriteOptions o;
    if (variant == 1) o.fixed_length_strings = true;
    if (variant == 2) o.utf8_strings = true;
    if (variant == 3) o.chunk_name_lists_over = 100;
    if (variant == 4) o.top_level_model_weights = false;
    if (variant == 5) {
      o.fixed_length_strings = true;
      o.utf8_strings = true;
      o.chunk_name_lists_over = 64;
    }
    bitlens::write_model_h5(built, dir / "m.h5", o);
    SCOPED_TRACE(variant);
    expect_same_model(bitlens::load_model(dir / "m.h5"), built);
  }
}

TEST(ModelRoundTrip, SequentialAndNestedRoundTrip) {
  TempDir dir;
  auto seq = small_sequential().build();
  bitlens::write_model_h5(seq, dir / "s.h5");
  expect_same_model(bitlens::load_model(dir / "s.h5"), seq);
  // Loaded -> written -> loaded again is stable too.
  bitlens::write_model_h5(bitlens::load_model(dir / "s.h5"), dir / "s2.h5");
  EXPECT_EQ(read_bytes(dir / "s.h5"), read_bytes(dir / "s2.h5"));
}

TEST(ModelRoundTrip, WritingIsDeterministic) {
  TempDir dir;
  auto built = every_layer_model();
  bitlens::write_model_h5(built, dir / "a.h5");
  bitlens::write_model_h5(built, dir / "b.h5");
  EXPECT_EQ(read_bytes(dir / "a.h5"), read_bytes(dir / "b.h5"));
}

TEST(ModelRoundTrip, PadValuesVariantChangesOnlyTheConfig) {
  TempDir dir;
  auto m = bitlens::load_model(fs::path(BITLENS_MODELS_DIR) / "forum_2layer_pad0.h5");
  for (auto& l : m.layers)
    if (l.class_name == "QuantConv2D") l.config["pad_values"] = 1.0;
  bitlens::write_model_h5(m, dir / "p1.h5");
  auto v = bitlens::load_model(dir / "p1.h5");
  auto orig = bitlens::load_model(fs::path(BITLENS_MODELS_DIR) / "forum_2layer_pad0.h5");
  ASSERT_EQ(v.layers.size(), orig.layers.size());
  for (size_t i = 0; i < v.layers.size(); ++i) {
    expect_same_weights(v.layers[i], orig.layers[i]);
    EXPECT_EQ(v.layers[i].weight_names, orig.layers[i].weight_names);
    if (v.layers[i].class_name == "QuantConv2D") {
      EXPECT_EQ(v.layers[i].config["pad_values"], 1.0);
      auto a = v.layers[i].config, b = orig.layers[i].config;
      a.erase("pad_values");
      b.erase("pad_values");
      EXPECT_EQ(a, b);
    }
  }
  // The same file as the bundled pad_values=1 variant, byte for byte.
  EXPECT_EQ(read_bytes(dir / "p1.h5"), read_bytes(fs::path(BITLENS_MODELS_DIR) / "forum_2layer_padp1.h5"));
  // Weight datasets are stored byte-identically.
  {
    RawFile a(dir / "p1.h5");
    bitlens::io::Handle d(H5Dopen2(a.id(), "/model_weights/quant_conv2d/quant_conv2d/kernel:0", H5P_DEFAULT), H5Dclose);
    bitlens::io::Handle t(H5Dget_type(d.get()), H5Tclose);
    EXPECT_GT(H5Tequal(t.get(), H5T_IEEE_F32LE), 0);
  }
}

TEST(ModelRoundTrip, ChangedLayersAreWrittenAsARebuiltFunctionalConfig) {
  TempDir dir;
  auto m = small_functional().build();
  // Drop the softmax: the layer list no longer matches raw_config.
  m.layers.pop_back();
  m.outputs = {{"quant_dense", 0, 0}};
  bitlens::write_model_h5(m, dir / "m.h5");
  auto back = bitlens::load_model(dir / "m.h5");
  EXPECT_EQ(back.class_name, "Functional");
  ASSERT_EQ(back.layers.size(), m.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    EXPECT_EQ(back.layers[i].name, m.layers[i].name);
    EXPECT_EQ(back.layers[i].inputs, m.layers[i].inputs);
    expect_same_weights(back.layers[i], m.layers[i]);
  }
  EXPECT_EQ(back.outputs, m.outputs);
}

TEST(ModelRoundTrip, ModelWithoutRawConfigIsWrittenFromLayers) {
  TempDir dir;
  auto src = every_layer_model();
  bitlens::Model m = src;
  m.raw_config = nullptr;
  bitlens::write_model_h5(m, dir / "m.h5");
  auto back = bitlens::load_model(dir / "m.h5");
  ASSERT_EQ(back.layers.size(), src.layers.size());
  for (size_t i = 0; i < src.layers.size(); ++i) {
    EXPECT_EQ(back.layers[i].name, src.layers[i].name);
    EXPECT_EQ(back.layers[i].inputs, src.layers[i].inputs) << src.layers[i].name;
    EXPECT_EQ(back.layers[i].call_kwargs, src.layers[i].call_kwargs) << src.layers[i].name;
    expect_same_weights(back.layers[i], src.layers[i]);
  }
}

TEST(ModelRoundTrip, WriteErrorsNameThePath) {
  auto m = small_functional().build();
  std::string msg = error_of([&] { bitlens::write_model_h5(m, "/nonexistent-dir/x/m.h5"); });
  EXPECT_TRUE(contains(msg, "/nonexistent-dir/x/m.h5")) << msg;
}

TEST(ModelRoundTrip, IsolationCanBeSwitchedOffWithTheSameResult) {
  bitlens::LoadLimits inproc;
  inproc.isolate_hdf5 = false;
  auto p = fs::path(BITLENS_MODELS_DIR) / "quicknet_style.h5";
  expect_same_model(bitlens::load_model(p, inproc), bitlens::load_model(p));
}

}  // namespace
