// One test per trap of docs/keras-h5-format.md: each builds a file the way the offending
// writer does (with write_model_h5 options or raw HDF5 edits) and checks the loader reads it.
#include "model_test_util.hpp"

namespace {

using namespace model_test;

// ---- Trap 1: string encodings ----

TEST(ModelH5Traps, VariableLengthAsciiStrings) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    bitlens::io::Handle a(H5Aopen_by_name(f.id(), "/model_weights", "layer_names", H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    bitlens::io::Handle t(H5Aget_type(a.get()), H5Tclose);
    EXPECT_GT(H5Tis_variable_str(t.get()), 0);
    EXPECT_EQ(H5Tget_cset(t.get()), H5T_CSET_ASCII);
  }
  expect_same_model(bitlens::load_model(dir / "m.h5"), built);
}

TEST(ModelH5Traps, VariableLengthUtf8Strings) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::H5WriteOptions o;
  o.utf8_strings = true;
  bitlens::write_model_h5(built, dir / "m.h5", o);
  {
    RawFile f(dir / "m.h5");
    bitlens::io::Handle a(H5Aopen_by_name(f.id(), "/", "keras_version", H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    bitlens::io::Handle t(H5Aget_type(a.get()), H5Tclose);
    EXPECT_EQ(H5Tget_cset(t.get()), H5T_CSET_UTF8);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.keras_version, "2.10.0");
}

TEST(ModelH5Traps, FixedLengthNulPaddedStringsFromH5py2) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::H5WriteOptions o;
  o.fixed_length_strings = true;
  bitlens::write_model_h5(built, dir / "m.h5", o);
  {
    RawFile f(dir / "m.h5");
    bitlens::io::Handle a(H5Aopen_by_name(f.id(), "/model_weights/quant_conv2d", "weight_names",
                                          H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    bitlens::io::Handle t(H5Aget_type(a.get()), H5Tclose);
    EXPECT_EQ(H5Tis_variable_str(t.get()), 0);
    EXPECT_EQ(H5Tget_strpad(t.get()), H5T_STR_NULLPAD);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  // No trailing NULs survive (the names are padded to the longest one in the file).
  for (const auto& l : m.layers)
    for (const auto& n : l.weight_names) EXPECT_EQ(n.find('\0'), std::string::npos);
}

TEST(ModelH5Traps, FixedLengthUtf8NullTermAndSpacePadStrings) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    // Rewrite layer_names as fixed-length UTF-8, NUL-terminated, 40 bytes per name.
    auto names = f.strings("/model_weights", "layer_names");
    f.delete_attr("/model_weights", "layer_names");
    bitlens::io::Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.get(), 40);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    H5Tset_strpad(t.get(), H5T_STR_NULLTERM);
    hsize_t dims[1] = {names.size()};
    bitlens::io::Handle s(H5Screate_simple(1, dims, nullptr), H5Sclose);
    bitlens::io::Handle a(H5Acreate_by_name(f.id(), "/model_weights", "layer_names", t.get(), s.get(),
                                            H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    std::vector<char> buf(40 * names.size(), '\0');
    for (size_t i = 0; i < names.size(); ++i) std::copy(names[i].begin(), names[i].end(), buf.begin() + 40 * i);
    ASSERT_GE(H5Awrite(a.get(), t.get(), buf.data()), 0);
    // And one weight_names as space-padded fixed-length ASCII.
    auto wn = f.strings("/model_weights/quant_dense", "weight_names");
    f.delete_attr("/model_weights/quant_dense", "weight_names");
    size_t len = 0;
    for (const auto& n : wn) len = std::max(len, n.size() + 3);
    bitlens::io::Handle t2(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t2.get(), len);
    H5Tset_strpad(t2.get(), H5T_STR_SPACEPAD);
    hsize_t d2[1] = {wn.size()};
    bitlens::io::Handle s2(H5Screate_simple(1, d2, nullptr), H5Sclose);
    bitlens::io::Handle a2(H5Acreate_by_name(f.id(), "/model_weights/quant_dense", "weight_names", t2.get(),
                                             s2.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    std::vector<char> b2(len * wn.size(), ' ');
    for (size_t i = 0; i < wn.size(); ++i) std::copy(wn[i].begin(), wn[i].end(), b2.begin() + len * i);
    ASSERT_GE(H5Awrite(a2.get(), t2.get(), b2.data()), 0);
  }
  expect_same_model(bitlens::load_model(dir / "m.h5"), built);
}

TEST(ModelH5Traps, ScalarStringAttributesAndOneElementNameList) {
  TempDir dir;
  k::ModelBuilder b("one", k::Style::sequential);
  auto x = b.input({4, 4, 1});
  b.quant_conv2d(x, {.filters = 2, .use_bias = false, .kernel_quantizer = "ste_sign"});
  auto built = b.build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    // A Sequential's layer_names has one entry here; store it as a scalar string.
    auto names = f.strings("/model_weights", "layer_names");
    ASSERT_EQ(names.size(), 1u);
    f.set_string("/model_weights", "layer_names", names[0]);
    // And model_config as a 1-element array instead of a scalar.
    auto cfg = f.model_config();
    f.set_strings("/", "model_config", {cfg.dump()});
  }
  expect_same_model(bitlens::load_model(dir / "m.h5"), built);
}

// ---- Trap 2: layers without weights store an empty float64 array ----

TEST(ModelH5Traps, WeightlessLayersHaveEmptyFloat64WeightNames) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    for (const char* g : {"/model_weights/max_pooling2d", "/model_weights/flatten", "/model_weights/input_1"}) {
      bitlens::io::Handle a(H5Aopen_by_name(f.id(), g, "weight_names", H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      ASSERT_GE(a.get(), 0) << g;
      bitlens::io::Handle t(H5Aget_type(a.get()), H5Tclose);
      bitlens::io::Handle s(H5Aget_space(a.get()), H5Sclose);
      EXPECT_EQ(H5Tget_class(t.get()), H5T_FLOAT) << g;
      EXPECT_EQ(H5Tget_size(t.get()), 8u) << g;
      hsize_t dims[1] = {99};
      EXPECT_EQ(H5Sget_simple_extent_dims(s.get(), dims, nullptr), 1) << g;
      EXPECT_EQ(dims[0], 0u) << g;
    }
  }
  auto m = bitlens::load_model(dir / "m.h5");
  EXPECT_TRUE(m.find("flatten")->weights.empty());
  expect_same_model(m, built);
}

// ---- Trap 3: chunked name lists ----

TEST(ModelH5Traps, ChunkedLayerAndWeightNamesAreConcatenatedInOrder) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::H5WriteOptions o;
  o.chunk_name_lists_over = 40;  // forces layer_names0.. and weight_names0..
  bitlens::write_model_h5(built, dir / "m.h5", o);
  {
    RawFile f(dir / "m.h5");
    EXPECT_FALSE(f.has_attr("/model_weights", "layer_names"));
    EXPECT_TRUE(f.has_attr("/model_weights", "layer_names0"));
    EXPECT_TRUE(f.has_attr("/model_weights", "layer_names2"));
    EXPECT_TRUE(f.has_attr("/model_weights/batch_normalization", "weight_names0"));
    EXPECT_TRUE(f.has_attr("/model_weights/batch_normalization", "weight_names1"));
  }
  expect_same_model(bitlens::load_model(dir / "m.h5"), built);
}

TEST(ModelH5Traps, ChunkingAtKerasLimitWithManyLayers) {
  TempDir dir;
  k::ModelBuilder b("deep", k::Style::functional);
  auto x = b.input({4});
  // 1200 layers with 60-character names: > 64,512 bytes of layer_names.
  for (int i = 0; i < 1200; ++i) {
    char name[80];
    std::snprintf(name, sizeof name, "activation_with_a_deliberately_long_name_to_fill_bytes_%04d", i);
    x = b.activation(x, "relu", name);
  }
  auto built = b.build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    EXPECT_TRUE(f.has_attr("/model_weights", "layer_names0"));
    EXPECT_TRUE(f.has_attr("/model_weights", "layer_names1"));
    EXPECT_FALSE(f.has_attr("/model_weights", "layer_names"));
  }
  auto m = bitlens::load_model(dir / "m.h5");
  ASSERT_EQ(m.layers.size(), 1201u);
  EXPECT_EQ(m.layers[1200].name, "activation_with_a_deliberately_long_name_to_fill_bytes_1199");
}

// ---- top_level_model_weights and optimizer_weights are ignored ----

TEST(ModelH5Traps, TopLevelModelWeightsAndOptimizerWeightsAreIgnored) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    ASSERT_GT(H5Lexists(f.id(), "/model_weights/top_level_model_weights", H5P_DEFAULT), 0);
    // Something a loader would trip over if it did not ignore these groups.
    f.set_strings("/model_weights/top_level_model_weights", "weight_names", {"iteration:0"});
    f.write_dataset("/model_weights/top_level_model_weights/iteration:0", {{}, {7.f}});
    bitlens::io::create_group(f.id(), "/optimizer_weights/Adam");
    f.set_strings("/optimizer_weights", "weight_names", {"Adam/iter:0", "Adam/quant_conv2d/kernel/m:0"});
    f.write_dataset("/optimizer_weights/Adam/iter:0", {{}, {1.f}});
    f.set_string("/", "training_config", "{\"loss\": \"categorical_crossentropy\"}");
  }
  expect_same_model(bitlens::load_model(dir / "m.h5"), built);
}

// ---- Trap 4: nested models ----

TEST(ModelH5Traps, NestedSequentialWeightsMapBackByPrefix) {
  TempDir dir;
  k::ModelBuilder inner("feature_extractor", k::Style::sequential, 11);
  auto i = inner.input({8, 8, 3});
  i = inner.conv2d(i, {.filters = 4, .name = "inner_conv"});
  i = inner.batch_norm(i, {.name = "inner_bn"});
  i = inner.quant_conv2d(i, {.filters = 5, .use_bias = false, .input_quantizer = "ste_sign",
                             .kernel_quantizer = "ste_sign", .name = "inner_qconv"});
  k::ModelBuilder outer("outer", k::Style::functional, 12);
  auto x = outer.input({8, 8, 3});
  auto y = outer.nested(inner, {x});
  y = outer.batch_norm(y);
  y = outer.global_average_pool2d(y);
  outer.dense(y, {.units = 2});
  auto built = outer.build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    auto names = f.strings("/model_weights/feature_extractor", "weight_names");
    // All trainable first, then the non-trainable BN statistics.
    std::vector<std::string> want = {"inner_conv/kernel:0", "inner_conv/bias:0", "inner_bn/gamma:0",
                                     "inner_bn/beta:0", "inner_qconv/kernel:0",
                                     "inner_bn/moving_mean:0", "inner_bn/moving_variance:0"};
    EXPECT_EQ(names, want);
    EXPECT_GT(H5Lexists(f.id(), "/model_weights/feature_extractor/inner_bn/moving_mean:0", H5P_DEFAULT), 0);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  const auto* conv = m.find("inner_conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->parent, "feature_extractor");
  EXPECT_EQ(conv->inputs, (std::vector<bitlens::TensorRef>{{"input_1", 0, 0}}));
  EXPECT_EQ(m.find("inner_bn")->weights.size(), 4u);
  EXPECT_EQ(m.find("batch_normalization")->inputs[0].layer, "inner_qconv");
  EXPECT_EQ(m.find("batch_normalization")->parent, "");
}

TEST(ModelH5Traps, NestedFunctionalModelWithNameClashAndTwoLevels) {
  TempDir dir;
  k::ModelBuilder deepest("deepest", k::Style::functional, 21);
  auto d = deepest.input({4}, "deep_in");
  deepest.dense(d, {.units = 4, .name = "dense"});  // clashes with the outer "dense"
  k::ModelBuilder middle("middle", k::Style::functional, 22);
  auto m_in = middle.input({4}, "mid_in");
  auto m1 = middle.dense(m_in, {.units = 4, .name = "mid_dense"});
  middle.nested(deepest, {m1});
  k::ModelBuilder outer("outer", k::Style::functional, 23);
  auto x = outer.input({4});
  auto y = outer.nested(middle, {x});
  outer.dense(y, {.units = 2, .name = "dense"});
  auto built = outer.build();
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  const auto* inner_dense = m.find("middle/deepest/dense");
  ASSERT_NE(inner_dense, nullptr);
  EXPECT_EQ(inner_dense->parent, "middle/deepest");
  EXPECT_EQ(inner_dense->config["name"], "dense");
  EXPECT_EQ(inner_dense->inputs[0].layer, "mid_dense");
  EXPECT_EQ(m.find("dense")->inputs[0].layer, "middle/deepest/dense");
  EXPECT_EQ(m.find("dense")->weights.at("kernel").shape, (std::vector<int64_t>{4, 2}));
}

// ---- Trap 5: weights-only files ----

TEST(ModelH5Traps, WeightsOnlyFileGetsAClearMessage) {
  TempDir dir;
  bitlens::H5WriteOptions o;
  o.weights_only = true;
  bitlens::write_model_h5(small_functional().build(), dir / "w.h5", o);
  std::string msg = load_error(dir / "w.h5");
  EXPECT_TRUE(contains(msg, "holds weights only (model.save_weights)")) << msg;
  EXPECT_TRUE(contains(msg, "model.save(\"m.h5\")")) << msg;
}

TEST(ModelH5Traps, Keras3WeightsOnlyFileGetsTheSameMessage) {
  TempDir dir;
  {
    auto lock = bitlens::io::h5_lock();
    auto f = bitlens::io::create_file(dir / "m.weights.h5");
    bitlens::io::create_group(f.get(), "layers/conv2d/vars");
    bitlens::io::write_float_dataset(f.get(), "layers/conv2d/vars/0", {{1}, {1.f}});
  }
  EXPECT_TRUE(contains(load_error(dir / "m.weights.h5"), "holds weights only"));
}

// ---- Trap 6: bare-list Sequential config (Keras <= 2.2.2) ----

TEST(ModelH5Traps, BareListSequentialConfig) {
  TempDir dir;
  auto b = small_sequential();
  k::BuildOptions bo;
  bo.sequential_bare_list = true;
  auto cfg = b.model_config(bo);
  ASSERT_TRUE(cfg["config"].is_array());
  ASSERT_NE(cfg["config"][0]["class_name"], "InputLayer");
  auto built = b.build(bo);
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    EXPECT_TRUE(f.model_config()["config"].is_array());
  }
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.name, "sequential");
  EXPECT_EQ(m.layers[0].name, "quant_conv2d_input");
  EXPECT_TRUE(m.layers[0].synthetic);
  EXPECT_EQ(m.layers[1].inputs, (std::vector<bitlens::TensorRef>{{"quant_conv2d_input", 0, 0}}));
}

// ---- Trap 7: Sequential without InputLayer (standalone Keras 2.3) ----

TEST(ModelH5Traps, SequentialWithoutInputLayerUsesBatchInputShape) {
  TempDir dir;
  auto b = small_sequential();
  k::BuildOptions bo;
  bo.sequential_input_layer = false;
  auto built = b.build(bo);
  bitlens::H5WriteOptions o;
  o.keras_version = "2.3.1";
  o.top_level_model_weights = false;
  bitlens::write_model_h5(built, dir / "m.h5", o);
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.keras_version, "2.3.1");
  ASSERT_EQ(m.layers[0].class_name, "InputLayer");
  EXPECT_EQ(m.layers[0].name, "quant_conv2d_input");
  EXPECT_EQ(bitlens::declared_input_shape(m.layers[0]), (std::vector<int64_t>{6, 6, 1}));
  EXPECT_EQ(m.inputs, (std::vector<bitlens::TensorRef>{{"quant_conv2d_input", 0, 0}}));
  EXPECT_EQ(m.outputs, (std::vector<bitlens::TensorRef>{{"dense", 0, 0}}));
}

TEST(ModelH5Traps, SequentialWithoutInputLayerStartingWithANestedModel) {
  TempDir dir;
  k::ModelBuilder inner("inner", k::Style::sequential, 2);
  auto i = inner.input({4}, "inner_in");
  inner.dense(i, {.units = 3, .name = "inner_dense"});
  k::ModelBuilder outer("outer", k::Style::sequential, 3);
  auto o = outer.input({4});
  o = outer.nested(inner, {o});
  outer.batch_norm(o, {.scale = false});
  k::BuildOptions bo;
  bo.sequential_input_layer = false;
  auto built = outer.build(bo);
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.layers[0].name, "inner_input");
  EXPECT_EQ(bitlens::declared_input_shape(m.layers[0]), (std::vector<int64_t>{4}));
  EXPECT_EQ(m.find("inner_dense")->inputs, (std::vector<bitlens::TensorRef>{{"inner_input", 0, 0}}));
}

TEST(ModelH5Traps, SequentialWithInputLayerKeepsIt) {
  auto m = small_sequential().build();
  EXPECT_EQ(m.layers[0].class_name, "InputLayer");
  EXPECT_FALSE(m.layers[0].synthetic);
  EXPECT_EQ(m.layers[0].name, "quant_conv2d_input");
  for (size_t i = 1; i < m.layers.size(); ++i)
    EXPECT_EQ(m.layers[i].inputs, (std::vector<bitlens::TensorRef>{{m.layers[i - 1].name, 0, 0}}));
}

// ---- Functional configs ----

TEST(ModelH5Traps, FunctionalNamedModelAndMultiInputLeaves) {
  TempDir dir;
  k::ModelBuilder b("two_branch", k::Style::functional);
  auto a = b.input({4, 4, 2});
  auto c = b.input({4, 4, 2});
  auto s = b.add({a, c});
  auto t = b.concatenate({s, a, c});
  b.set_outputs({t, s});
  k::BuildOptions bo;
  bo.class_name_model = true;
  auto built = b.build(bo);
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  EXPECT_EQ(m.class_name, "Model");
  EXPECT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.find("add")->inputs, (std::vector<bitlens::TensorRef>{{"input_1", 0, 0}, {"input_2", 0, 0}}));
  EXPECT_EQ(m.find("concatenate")->inputs.size(), 3u);
  EXPECT_EQ(m.outputs, (std::vector<bitlens::TensorRef>{{"concatenate", 0, 0}, {"add", 0, 0}}));
}

TEST(ModelH5Traps, TfOpLambdaKwargsTensorReferencesAndConstants) {
  TempDir dir;
  k::ModelBuilder b("ops", k::Style::functional);
  auto x = b.input({4});
  auto d1 = b.dense(x, {.units = 4});
  auto d2 = b.dense(x, {.units = 4});
  auto s = b.tf_add(d1, d2);
  auto c = b.tf_add_constant(s, 0.5);
  b.tf_multiply_constant(c, -2.0);
  auto built = b.build();
  auto cfg = b.model_config();
  // As tf.keras writes it: the node is the single leaf, the second tensor hides in kwargs.
  const auto& entry = cfg["config"]["layers"][3];
  ASSERT_EQ(entry["name"], "tf.__operators__.add");
  EXPECT_EQ(entry["inbound_nodes"],
            json::parse(R"([["dense", 0, 0, {"y": ["dense_1", 0, 0], "name": null}]])"));
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  expect_same_model(m, built);
  const auto* add = m.find("tf.__operators__.add");
  EXPECT_EQ(add->inputs, (std::vector<bitlens::TensorRef>{{"dense", 0, 0}, {"dense_1", 0, 0}}));
  EXPECT_EQ(m.find("tf.__operators__.add_1")->call_kwargs["y"], 0.5);
  EXPECT_EQ(m.find("tf.math.multiply")->call_kwargs["y"], -2.0);
  EXPECT_EQ(m.find("tf.math.multiply")->config["function"], "math.multiply");
}

TEST(ModelH5Traps, ConstantValueFirstOperand) {
  TempDir dir;
  k::ModelBuilder b("const", k::Style::functional);
  auto x = b.input({4});
  auto d = b.dense(x, {.units = 4});
  b.tf_multiply_constant(d, 3.0);
  bitlens::write_model_h5(b.build(), dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    auto cfg = f.model_config();
    // tf.math.multiply(3.0, y=dense): the first operand is a constant.
    cfg["config"]["layers"][2]["inbound_nodes"] =
        json::parse(R"([["_CONSTANT_VALUE", -1, 3.0, {"y": ["dense", 0, 0], "name": null}]])");
    f.set_model_config(cfg);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  const auto* mul = m.find("tf.math.multiply");
  EXPECT_EQ(mul->inputs, (std::vector<bitlens::TensorRef>{{"dense", 0, 0}}));
  EXPECT_EQ(mul->call_kwargs["x"], 3.0);
  EXPECT_EQ(mul->call_kwargs["y"], json::parse(R"(["dense", 0, 0])"));
}

TEST(ModelH5Traps, ThreeElementLeavesAndNodeIndicesAreAccepted) {
  TempDir dir;
  auto b = small_functional();
  bitlens::write_model_h5(b.build(), dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    auto cfg = f.model_config();
    for (auto& e : cfg["config"]["layers"])
      for (auto& node : e["inbound_nodes"])
        for (auto& leaf : node) {
          leaf.erase(3);  // [name, node, tensor] without kwargs
          leaf[1] = 1;    // Keras renumbers nodes; every layer is called once
        }
    f.set_model_config(cfg);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  EXPECT_EQ(m.find("batch_normalization")->inputs,
            (std::vector<bitlens::TensorRef>{{"quant_conv2d", 0, 0}}));
}

TEST(ModelH5Traps, LayersOutOfFileOrderAreSortedTopologically) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_h5(built, dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    auto cfg = f.model_config();
    auto& layers = cfg["config"]["layers"];
    std::reverse(layers.begin(), layers.end());
    f.set_model_config(cfg);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  std::vector<std::string> order;
  for (const auto& l : m.layers) order.push_back(l.name);
  EXPECT_EQ(order, (std::vector<std::string>{"input_1", "quant_conv2d", "batch_normalization",
                                             "max_pooling2d", "flatten", "quant_dense", "activation"}));
}

// ---- Keras 3 legacy .h5 ----

TEST(ModelH5Traps, Keras3LegacyH5) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::H5WriteOptions o;
  o.keras3_legacy = true;
  o.keras_version = "3.10.0";
  bitlens::write_model_h5(built, dir / "m.h5", o);
  {
    RawFile f(dir / "m.h5");
    auto cfg = f.model_config();
    const auto& in = cfg["config"]["layers"][0];
    EXPECT_TRUE(in["config"].contains("batch_shape"));
    EXPECT_FALSE(in["config"].contains("batch_input_shape"));
    EXPECT_EQ(in["config"]["dtype"]["class_name"], "DTypePolicy");
    EXPECT_EQ(cfg["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["class_name"], "__keras_tensor__");
    EXPECT_EQ(f.strings("/model_weights/quant_conv2d", "weight_names"),
              (std::vector<std::string>{"small/quant_conv2d/kernel"}));
    EXPECT_GT(H5Lexists(f.id(), "/model_weights/quant_conv2d/small/quant_conv2d/kernel", H5P_DEFAULT), 0);
  }
  auto m = bitlens::load_model(dir / "m.h5");
  EXPECT_EQ(m.keras_version, "3.10.0");
  ASSERT_EQ(m.layers.size(), built.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    EXPECT_EQ(m.layers[i].name, built.layers[i].name);
    EXPECT_EQ(m.layers[i].inputs, built.layers[i].inputs);
    expect_same_weights(m.layers[i], built.layers[i]);
  }
  EXPECT_EQ(bitlens::declared_input_shape(m.layers[0]), (std::vector<int64_t>{8, 8, 2}));
  EXPECT_EQ(m.outputs, built.outputs);
}

TEST(ModelH5Traps, Keras3LegacyH5SequentialAndNested) {
  TempDir dir;
  k::ModelBuilder inner("block", k::Style::sequential, 31);
  auto i = inner.input({4, 4, 2});
  i = inner.conv2d(i, {.filters = 3, .name = "block_conv"});
  inner.batch_norm(i, {.name = "block_bn"});
  k::ModelBuilder outer("net", k::Style::sequential, 32);
  auto x = outer.input({4, 4, 2});
  x = outer.nested(inner, {x});
  outer.flatten(x);
  auto built = outer.build();
  bitlens::H5WriteOptions o;
  o.keras3_legacy = true;
  o.keras_version = "3.10.0";
  bitlens::write_model_h5(built, dir / "m.h5", o);
  auto m = bitlens::load_model(dir / "m.h5");
  ASSERT_NE(m.find("block_bn"), nullptr);
  EXPECT_EQ(m.find("block_bn")->parent, "block");
  expect_same_weights(*m.find("block_bn"), *built.find("block_bn"));
  expect_same_weights(*m.find("block_conv"), *built.find("block_conv"));
  EXPECT_EQ(m.find("block_bn")->weight_names[0], "block/block_bn/gamma");
}

// ---- Quantizer forms ----

TEST(ModelH5Traps, StringQuantizersFromOldLarqAndMissingPadValues) {
  TempDir dir;
  k::ModelBuilder b("old_larq", k::Style::sequential);
  auto x = b.input({6, 6, 1});
  b.quant_conv2d(x, {.filters = 2, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                     .kernel_quantizer = "ste_sign", .pad_values = std::nullopt});
  k::BuildOptions bo;
  bo.string_quantizers = true;
  auto built = b.build(bo);
  bitlens::write_model_h5(built, dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  const auto& cfg = m.layers[1].config;
  EXPECT_EQ(cfg["input_quantizer"], "ste_sign");
  EXPECT_EQ(cfg["kernel_quantizer"], "ste_sign");
  EXPECT_FALSE(cfg.contains("pad_values"));
}

}  // namespace
