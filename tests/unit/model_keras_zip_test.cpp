// Keras 3 .keras archives: config.json + model.weights.h5 with per-class variable paths.
#include "model_test_util.hpp"

#include <zip.h>

#include "io/zip.hpp"

namespace {

using namespace model_test;

// Builds a .keras archive the way Keras 3 does, with libzip directly.
void make_zip(const fs::path& p, const std::vector<std::pair<std::string, std::string>>& members) {
  int err = 0;
  zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

// A Keras 3 config.json as keras.Sequential([...]).save() writes it (abridged to the keys
// that matter, plus the module/registered_name/build_config noise BitLens must ignore).
const char* kSequentialConfig = R"({
  "module": "keras", "class_name": "Sequential", "registered_name": null,
  "config": {"name": "sequential", "trainable": true,
    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
    "layers": [
      {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
       "config": {"batch_shape": [null, 6, 6, 1], "dtype": "float32", "sparse": false, "name": "input_layer"}},
      {"module": "keras.layers", "class_name": "Conv2D", "registered_name": null,
       "build_config": {"input_shape": [null, 6, 6, 1]},
       "config": {"name": "conv2d", "trainable": true,
         "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
         "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last",
         "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}},
      {"module": "keras.layers", "class_name": "BatchNormalization", "registered_name": null,
       "config": {"name": "batch_normalization", "axis": -1, "epsilon": 0.001, "center": true, "scale": false}},
      {"module": "keras.layers", "class_name": "Conv2D", "registered_name": null,
       "config": {"name": "conv2d_1", "filters": 3, "kernel_size": [1, 1], "padding": "same", "use_bias": false}},
      {"module": "keras.layers", "class_name": "Flatten", "registered_name": null,
       "config": {"name": "flatten", "data_format": "channels_last"}}
    ],
    "build_input_shape": [null, 6, 6, 1]},
  "build_config": {"input_shape": [null, 6, 6, 1]},
  "compile_config": null
})";

std::string weights_file(const TempDir& dir, const std::function<void(hid_t)>& fill) {
  auto p = dir / "w.h5";
  {
    auto lock = bitlens::io::h5_lock();
    auto f = bitlens::io::create_file(p);
    fill(f.get());
  }
  return read_bytes(p);
}

bitlens::Array filled(std::vector<int64_t> shape, float start) {
  bitlens::Array a;
  a.shape = std::move(shape);
  a.data.resize(static_cast<size_t>(a.size()));
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = start + 0.01f * static_cast<float>(i);
  return a;
}

std::string standard_weights(const TempDir& dir) {
  return weights_file(dir, [](hid_t f) {
    using bitlens::io::write_float_dataset;
    write_float_dataset(f, "layers/conv2d/vars/0", filled({3, 3, 1, 2}, 0.1f));
    write_float_dataset(f, "layers/conv2d/vars/1", filled({2}, -0.5f));
    write_float_dataset(f, "layers/batch_normalization/vars/0", filled({2}, 0.2f));
    write_float_dataset(f, "layers/batch_normalization/vars/1", filled({2}, 0.3f));
    write_float_dataset(f, "layers/batch_normalization/vars/2", filled({2}, 1.0f));
    write_float_dataset(f, "layers/conv2d_1/vars/0", filled({1, 1, 2, 3}, -0.2f));
    bitlens::io::create_group(f, "layers/flatten/vars");
    bitlens::io::create_group(f, "optimizer/vars");
  });
}

TEST(ModelKerasZip, Keras3SequentialArchiveWithPerClassVariablePaths) {
  TempDir dir;
  make_zip(dir / "m.keras", {{"metadata.json", R"({"keras_version": "3.10.0", "date_saved": "2025-01-01@00:00:00"})"},
                             {"config.json", kSequentialConfig},
                             {"model.weights.h5", standard_weights(dir)}});
  auto m = bitlens::load_model(dir / "m.keras");
  EXPECT_EQ(m.container, "keras-zip");
  EXPECT_EQ(m.keras_version, "3.10.0");
  EXPECT_EQ(m.class_name, "Sequential");
  ASSERT_EQ(m.layers.size(), 5u);
  EXPECT_EQ(bitlens::declared_input_shape(m.layers[0]), (std::vector<int64_t>{6, 6, 1}));
  const auto* conv = m.find("conv2d");
  EXPECT_EQ(conv->weights.at("kernel").data, filled({3, 3, 1, 2}, 0.1f).data);
  EXPECT_EQ(conv->weights.at("bias").data, filled({2}, -0.5f).data);
  // scale=False: vars are beta, moving_mean, moving_variance.
  const auto* bn = m.find("batch_normalization");
  EXPECT_EQ(bn->weights.count("gamma"), 0u);
  EXPECT_EQ(bn->weights.at("beta").data, filled({2}, 0.2f).data);
  EXPECT_EQ(bn->weights.at("moving_variance").data, filled({2}, 1.0f).data);
  EXPECT_EQ(m.find("conv2d_1")->weights.at("kernel").shape, (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(m.find("conv2d_1")->inputs, (std::vector<bitlens::TensorRef>{{"batch_normalization", 0, 0}}));
}

TEST(ModelKerasZip, ClassCounterIsNotTheLayerName) {
  TempDir dir;
  // Rename the layers: the variable paths still follow the class counter.
  json cfg = json::parse(kSequentialConfig);
  cfg["config"]["layers"][1]["config"]["name"] = "first";
  cfg["config"]["layers"][3]["config"]["name"] = "second";
  make_zip(dir / "m.keras", {{"config.json", cfg.dump()}, {"model.weights.h5", standard_weights(dir)}});
  auto m = bitlens::load_model(dir / "m.keras");
  EXPECT_EQ(m.find("first")->weights.at("kernel").shape, (std::vector<int64_t>{3, 3, 1, 2}));
  EXPECT_EQ(m.find("second")->weights.at("kernel").shape, (std::vector<int64_t>{1, 1, 2, 3}));
}

TEST(ModelKerasZip, FunctionalArchiveWrittenByWriteModelKeras) {
  TempDir dir;
  auto built = small_functional().build();
  bitlens::write_model_keras(built, dir / "m.keras");
  {
    bitlens::io::ZipReader z(dir / "m.keras");
    auto cfg = json::parse(z.read("config.json", 1 << 20));
    EXPECT_EQ(cfg["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["class_name"], "__keras_tensor__");
    EXPECT_TRUE(z.has("model.weights.h5"));
    EXPECT_TRUE(z.has("metadata.json"));
  }
  auto m = bitlens::load_model(dir / "m.keras");
  ASSERT_EQ(m.layers.size(), built.layers.size());
  for (size_t i = 0; i < m.layers.size(); ++i) {
    EXPECT_EQ(m.layers[i].name, built.layers[i].name);
    EXPECT_EQ(m.layers[i].inputs, built.layers[i].inputs);
    expect_same_weights(m.layers[i], built.layers[i]);
  }
  EXPECT_EQ(m.outputs, built.outputs);
  // Deterministic archive.
  bitlens::write_model_keras(built, dir / "m2.keras");
  EXPECT_EQ(read_bytes(dir / "m.keras"), read_bytes(dir / "m2.keras"));
}

TEST(ModelKerasZip, NestedModelInArchive) {
  TempDir dir;
  k::ModelBuilder inner("block", k::Style::functional, 5);
  auto i = inner.input({4, 4, 2}, "block_in");
  inner.conv2d(i, {.filters = 3, .name = "block_conv"});
  k::ModelBuilder outer("net", k::Style::functional, 6);
  auto x = outer.input({4, 4, 2});
  auto y = outer.nested(inner, {x});
  outer.conv2d(y, {.filters = 2, .kernel_size = {1, 1}});
  auto built = outer.build();
  bitlens::write_model_keras(built, dir / "m.keras");
  auto m = bitlens::load_model(dir / "m.keras");
  expect_same_weights(*m.find("block_conv"), *built.find("block_conv"));
  expect_same_weights(*m.find("conv2d"), *built.find("conv2d"));
  EXPECT_EQ(m.find("block_conv")->parent, "block");
}

TEST(ModelKerasZip, ArchiveWithoutConfig) {
  TempDir dir;
  make_zip(dir / "m.keras", {{"model.weights.h5", standard_weights(dir)}});
  EXPECT_TRUE(contains(load_error(dir / "m.keras"), "has weights but no config.json"));
  make_zip(dir / "other.zip", {{"readme.txt", "hello"}});
  EXPECT_TRUE(contains(load_error(dir / "other.zip"), "not a Keras model (no config.json)"));
}

TEST(ModelKerasZip, ConfigNotJson) {
  TempDir dir;
  make_zip(dir / "m.keras", {{"config.json", "{not json"}, {"model.weights.h5", standard_weights(dir)}});
  EXPECT_TRUE(contains(load_error(dir / "m.keras"), "config.json is not valid JSON"));
}

TEST(ModelKerasZip, WrongVariableCount) {
  TempDir dir;
  auto w = weights_file(dir, [](hid_t f) {
    using bitlens::io::write_float_dataset;
    write_float_dataset(f, "layers/conv2d/vars/0", filled({3, 3, 1, 2}, 0.1f));  // bias missing
    write_float_dataset(f, "layers/batch_normalization/vars/0", filled({2}, 0.2f));
    write_float_dataset(f, "layers/batch_normalization/vars/1", filled({2}, 0.3f));
    write_float_dataset(f, "layers/batch_normalization/vars/2", filled({2}, 1.0f));
    write_float_dataset(f, "layers/conv2d_1/vars/0", filled({1, 1, 2, 3}, -0.2f));
  });
  make_zip(dir / "m.keras", {{"config.json", kSequentialConfig}, {"model.weights.h5", w}});
  std::string msg = load_error(dir / "m.keras");
  EXPECT_TRUE(contains(msg, "layer 'conv2d' (Conv2D): model.weights.h5 holds 1 variables")) << msg;
  EXPECT_TRUE(contains(msg, "implies 2")) << msg;
}

TEST(ModelKerasZip, WrongVariableShape) {
  TempDir dir;
  auto w = weights_file(dir, [](hid_t f) {
    using bitlens::io::write_float_dataset;
    write_float_dataset(f, "layers/conv2d/vars/0", filled({3, 3, 1, 7}, 0.1f));
    write_float_dataset(f, "layers/conv2d/vars/1", filled({2}, -0.5f));
    write_float_dataset(f, "layers/batch_normalization/vars/0", filled({2}, 0.2f));
    write_float_dataset(f, "layers/batch_normalization/vars/1", filled({2}, 0.3f));
    write_float_dataset(f, "layers/batch_normalization/vars/2", filled({2}, 1.0f));
    write_float_dataset(f, "layers/conv2d_1/vars/0", filled({1, 1, 2, 3}, -0.2f));
  });
  make_zip(dir / "m.keras", {{"config.json", kSequentialConfig}, {"model.weights.h5", w}});
  std::string msg = load_error(dir / "m.keras");
  EXPECT_TRUE(contains(msg, "layer 'conv2d' (Conv2D): weight 'kernel' has shape (3, 3, 1, 7)")) << msg;
}

TEST(ModelKerasZip, DamagedWeightsImageAndTruncatedArchive) {
  TempDir dir;
  make_zip(dir / "m.keras", {{"config.json", kSequentialConfig}, {"model.weights.h5", "garbage, not hdf5"}});
  std::string msg = load_error(dir / "m.keras");
  EXPECT_TRUE(contains(msg, "model.weights.h5")) << msg;
  make_zip(dir / "good.keras", {{"config.json", kSequentialConfig}, {"model.weights.h5", standard_weights(dir)}});
  std::string bytes = read_bytes(dir / "good.keras");
  write_bytes(dir / "cut.keras", bytes.substr(0, bytes.size() / 2));
  msg = load_error(dir / "cut.keras");
  EXPECT_TRUE(contains(msg, ".keras archive is damaged or truncated")) << msg;
}

}  // namespace
