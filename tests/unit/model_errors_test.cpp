// Every way a model file can be unusable produces one ModelError line that names the file
// problem, layer or parameter and says what to do; nothing crashes or over-allocates.
#include "model_test_util.hpp"

#include <cmath>
#include <limits>

namespace {

using namespace model_test;

fs::path write_small(const TempDir& dir, const std::string& name = "m.h5") {
  bitlens::write_model_h5(small_functional().build(), dir / name);
  return dir / name;
}

// Edits the model_config JSON of a written file.
void edit_config(const fs::path& p, const std::function<void(json&)>& edit) {
  RawFile f(p);
  json cfg = f.model_config();
  edit(cfg);
  f.set_model_config(cfg);
}

json& layer_cfg(json& cfg, const std::string& name) {
  for (auto& e : cfg["config"]["layers"])
    if (e["name"] == name) return e["config"];
  throw std::runtime_error("no layer " + name);
}

// ---- files that are not models ----

TEST(ModelErrors, MissingFile) {
  TempDir dir;
  EXPECT_TRUE(contains(load_error(dir / "nope.h5"), "no such file"));
}

TEST(ModelErrors, Folder) {
  TempDir dir;
  EXPECT_TRUE(contains(load_error(dir.path()), "folder"));
}

TEST(ModelErrors, EmptyFile) {
  TempDir dir;
  write_bytes(dir / "e.h5", "");
  std::string msg = load_error(dir / "e.h5");
  EXPECT_TRUE(contains(msg, "empty")) << msg;
  EXPECT_TRUE(contains(msg, "model.save")) << msg;
}

TEST(ModelErrors, NonHdf5File) {
  TempDir dir;
  write_bytes(dir / "t.h5", "this is just some text, not a model\n");
  std::string msg = load_error(dir / "t.h5");
  EXPECT_TRUE(contains(msg, "neither a Keras .h5 (HDF5) file nor a .keras archive")) << msg;
}

TEST(ModelErrors, TfliteFileGetsAHint) {
  TempDir dir;
  write_bytes(dir / "m.tflite", std::string("\x1c\0\0\0TFL3", 8) + std::string(100, '\0'));
  EXPECT_TRUE(contains(load_error(dir / "m.tflite"), "TensorFlow Lite"));
}

TEST(ModelErrors, TruncatedFile) {
  TempDir dir;
  auto p = write_small(dir);
  std::string bytes = read_bytes(p);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 100, size_t{600}, size_t{8}, size_t{100}}) {
    write_bytes(dir / "cut.h5", bytes.substr(0, keep));
    std::string msg = load_error(dir / "cut.h5");
    EXPECT_FALSE(msg.empty()) << keep;
  }
  write_bytes(dir / "cut.h5", bytes.substr(0, bytes.size() / 2));
  std::string msg = load_error(dir / "cut.h5");
  EXPECT_TRUE(contains(msg, "damaged or truncated")) << msg;
}

TEST(ModelErrors, CorruptBytesNeverCrash) {
  TempDir dir;
  auto p = write_small(dir);
  const std::string bytes = read_bytes(p);
  std::mt19937 rng(1234);
  int errors = 0;
  for (int round = 0; round < 60; ++round) {
    std::string b = bytes;
    // Flip a few bytes anywhere after the signature.
    for (int k = 0; k < 4; ++k) b[8 + rng() % (b.size() - 8)] ^= static_cast<char>(1 + rng() % 255);
    write_bytes(dir / "bad.h5", b);
    try {
      bitlens::load_model(dir / "bad.h5");
    } catch (const ModelError& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(ModelErrors, Hdf5FileWithoutModelConfig) {
  TempDir dir;
  {
    auto lock = bitlens::io::h5_lock();
    auto f = bitlens::io::create_file(dir / "data.h5");
    bitlens::io::write_float_dataset(f.get(), "images", {{2, 2}, {1, 2, 3, 4}});
  }
  EXPECT_TRUE(contains(load_error(dir / "data.h5"), "not a Keras model (it has no model_config"));
}

TEST(ModelErrors, ModelWeightsWithoutModelConfig) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_attr("/", "model_config");
  }
  EXPECT_TRUE(contains(load_error(p), "no model_config"));
}

// ---- model_config JSON ----

TEST(ModelErrors, ModelConfigIsNotJson) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.set_string("/", "model_config", "{\"class_name\": \"Functional\", \"config\": {");
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "model_config is not valid JSON")) << msg;
}

TEST(ModelErrors, ModelConfigIsNotAString) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_attr("/", "model_config");
    hsize_t d[1] = {2};
    bitlens::io::Handle s(H5Screate_simple(1, d, nullptr), H5Sclose);
    bitlens::io::Handle a(H5Acreate2(f.id(), "model_config", H5T_NATIVE_INT, s.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    int v[2] = {1, 2};
    H5Awrite(a.get(), H5T_NATIVE_INT, v);
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "model_config")) << msg;
  EXPECT_TRUE(contains(msg, "numbers")) << msg;
}

struct ConfigCase {
  const char* what;
  std::function<void(json&)> edit;
  std::vector<const char*> expect;  // substrings of the message
};

TEST(ModelErrors, MissingOrWrongTypedConfigFields) {
  std::vector<ConfigCase> cases = {
      {"no class_name", [](json& c) { c.erase("class_name"); }, {"model_config has no 'class_name'"}},
      {"not a model", [](json& c) { c["class_name"] = "Dense"; }, {"'Dense'", "not a Sequential or Functional"}},
      {"no config", [](json& c) { c.erase("config"); }, {"no 'config'"}},
      {"no layers", [](json& c) { c["config"].erase("layers"); }, {"no 'layers'"}},
      {"layers not a list", [](json& c) { c["config"]["layers"] = 5; }, {"'layers'", "the number 5"}},
      {"no output_layers", [](json& c) { c["config"].erase("output_layers"); }, {"'output_layers'"}},
      {"layer not an object", [](json& c) { c["config"]["layers"][2] = "x"; }, {"layer #2", "not a layer"}},
      {"layer without class_name", [](json& c) { c["config"]["layers"][1].erase("class_name"); },
       {"layer #1", "'class_name'"}},
      {"filters is a string", [](json& c) { layer_cfg(c, "quant_conv2d")["filters"] = "4"; },
       {"layer 'quant_conv2d' (QuantConv2D)", "'filters'", "\"4\"", "an integer"}},
      {"filters missing", [](json& c) { layer_cfg(c, "quant_conv2d").erase("filters"); },
       {"layer 'quant_conv2d' (QuantConv2D) has no 'filters'"}},
      {"filters absurd", [](json& c) { layer_cfg(c, "quant_conv2d")["filters"] = 4000000000LL; },
       {"'filters'", "4000000000"}},
      {"kernel_size wrong", [](json& c) { layer_cfg(c, "quant_conv2d")["kernel_size"] = {3}; },
       {"'kernel_size'", "[3]", "two integers from 1 to 65536"}},
      {"padding unknown", [](json& c) { layer_cfg(c, "quant_conv2d")["padding"] = "causal"; },
       {"'padding'", "\"causal\"", "\"valid\" or \"same\""}},
      {"use_bias not bool", [](json& c) { layer_cfg(c, "quant_conv2d")["use_bias"] = "no"; },
       {"'use_bias'", "true or false"}},
      {"quantizer wrong", [](json& c) { layer_cfg(c, "quant_conv2d")["input_quantizer"] = 3; },
       {"'input_quantizer'", "ste_sign"}},
      {"quantizer dict without class", [](json& c) { layer_cfg(c, "quant_conv2d")["kernel_quantizer"] = json::object(); },
       {"'kernel_quantizer'"}},
      {"pad_values not a number", [](json& c) { layer_cfg(c, "quant_conv2d")["pad_values"] = "one"; },
       {"'pad_values'", "a number"}},
      {"units missing", [](json& c) { layer_cfg(c, "quant_dense").erase("units"); },
       {"layer 'quant_dense' (QuantDense) has no 'units'"}},
      {"epsilon wrong", [](json& c) { layer_cfg(c, "batch_normalization")["epsilon"] = nullptr; },
       {"'epsilon'", "null"}},
      {"scale wrong", [](json& c) { layer_cfg(c, "batch_normalization")["scale"] = 1; },
       {"'scale'", "true or false"}},
      {"activation missing", [](json& c) { layer_cfg(c, "activation").erase("activation"); },
       {"layer 'activation' (Activation) has no 'activation'"}},
      {"pool_size wrong", [](json& c) { layer_cfg(c, "max_pooling2d")["pool_size"] = {0, 2}; },
       {"layer 'max_pooling2d'", "'pool_size'"}},
      {"input shape missing", [](json& c) { layer_cfg(c, "input_1").erase("batch_input_shape"); },
       {"layer 'input_1' (InputLayer) has no 'batch_input_shape'"}},
      {"input shape wrong", [](json& c) { layer_cfg(c, "input_1")["batch_input_shape"] = {nullptr, "8", 8, 2}; },
       {"input dimension 1", "\"8\""}},
      {"input shape absurd",
       [](json& c) { layer_cfg(c, "input_1")["batch_input_shape"] = {nullptr, 100000, 100000, 3}; },
       {"input shape [null,100000,100000,3]", "claims more than"}},
      {"name wrong", [](json& c) { c["config"]["layers"][3]["name"] = 7; }, {"layer #3", "'name'"}},
      {"duplicate name", [](json& c) { c["config"]["layers"][3]["name"] = "quant_conv2d"; },
       {"two layers are named 'quant_conv2d'"}},
      {"inbound_nodes missing", [](json& c) { c["config"]["layers"][2].erase("inbound_nodes"); },
       {"layer 'batch_normalization' (BatchNormalization) has no 'inbound_nodes'"}},
      {"inbound_nodes empty", [](json& c) { c["config"]["layers"][2]["inbound_nodes"] = json::array(); },
       {"layer 'batch_normalization'", "not connected"}},
      {"shared layer",
       [](json& c) { auto& n = c["config"]["layers"][2]["inbound_nodes"]; n.push_back(n[0]); },
       {"layer 'batch_normalization'", "called 2 times"}},
      {"unknown input layer",
       [](json& c) { c["config"]["layers"][2]["inbound_nodes"][0][0][0] = "ghost"; },
       {"layer 'batch_normalization' (BatchNormalization)", "'ghost'", "not a layer of the model"}},
      {"bad tensor reference",
       [](json& c) { c["config"]["layers"][2]["inbound_nodes"][0][0] = json::array({"quant_conv2d"}); },
       {"layer 'batch_normalization'", "tensor reference"}},
      {"bad tensor index",
       [](json& c) { c["config"]["layers"][2]["inbound_nodes"][0][0][2] = -4; },
       {"layer 'batch_normalization'", "tensor index"}},
      {"cycle",
       [](json& c) { c["config"]["layers"][1]["inbound_nodes"][0][0][0] = "batch_normalization"; },
       {"cycle"}},
      {"output not a layer", [](json& c) { c["config"]["output_layers"][0][0] = "ghost"; },
       {"'ghost'"}},
      {"reshape absurd",
       [](json& c) {
         json e = {{"class_name", "Reshape"},
                   {"name", "reshape"},
                   {"config", {{"name", "reshape"}, {"target_shape", {100000, 100000, 100}}}},
                   {"inbound_nodes", json::parse(R"([[["flatten", 0, 0, {}]]])")}};
         c["config"]["layers"].push_back(e);
       },
       {"layer 'reshape' (Reshape)", "'target_shape'", "claims more than"}},
  };
  for (const auto& c : cases) {
    TempDir dir;
    auto p = write_small(dir);
    edit_config(p, c.edit);
    std::string msg = load_error(p);
    for (const char* e : c.expect) EXPECT_TRUE(contains(msg, e)) << c.what << ": " << msg;
    EXPECT_TRUE(contains(msg, "re-save") || contains(msg, "fix") || contains(msg, "use a smaller") ||
                contains(msg, "rename") || contains(msg, "save the whole model"))
        << c.what << " says what to do: " << msg;
  }
}

TEST(ModelErrors, SequentialWithoutAnyInputShape) {
  TempDir dir;
  auto b = small_sequential();
  k::BuildOptions bo;
  bo.sequential_input_layer = false;
  bitlens::write_model_h5(b.build(bo), dir / "m.h5");
  edit_config(dir / "m.h5", [](json& c) { c["config"]["layers"][0]["config"].erase("batch_input_shape"); });
  std::string msg = load_error(dir / "m.h5");
  EXPECT_TRUE(contains(msg, "no input shape")) << msg;
  EXPECT_TRUE(contains(msg, "'quant_conv2d'")) << msg;
}

// ---- weights ----

TEST(ModelErrors, WeightMissingFromTheFile) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_attr("/model_weights/quant_conv2d", "weight_names");
    bitlens::io::Handle g(H5Gopen2(f.id(), "/model_weights/quant_conv2d", H5P_DEFAULT), H5Gclose);
    bitlens::io::write_empty_float64_attr(g.get(), "weight_names");
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'quant_conv2d' (QuantConv2D): weight 'kernel' is missing")) << msg;
}

TEST(ModelErrors, LayerGroupMissing) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_link("/model_weights/batch_normalization");
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'batch_normalization' (BatchNormalization): weight")) << msg;
  EXPECT_TRUE(contains(msg, "missing")) << msg;
}

TEST(ModelErrors, ListedDatasetMissing) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_link("/model_weights/quant_dense/quant_dense/bias:0");
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'quant_dense': weight 'quant_dense/bias:0' is listed")) << msg;
  EXPECT_TRUE(contains(msg, "dataset is missing")) << msg;
}

TEST(ModelErrors, WeightNamesAttributeMissing) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_attr("/model_weights/quant_dense", "weight_names");
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'quant_dense'")) << msg;
  EXPECT_TRUE(contains(msg, "'weight_names'")) << msg;
}

TEST(ModelErrors, WrongWeightShapes) {
  struct Case {
    const char* layer;
    const char* weight;
    bitlens::Array value;
    std::vector<const char*> expect;
  };
  std::vector<Case> cases = {
      {"quant_conv2d", "kernel", {{3, 3, 2, 5}, std::vector<float>(90, 0.5f)},
       {"layer 'quant_conv2d' (QuantConv2D): weight 'kernel' has shape (3, 3, 2, 5)", "filters=4",
        "(3, 3, *, 4)"}},
      {"quant_conv2d", "kernel", {{5, 5, 2, 4}, std::vector<float>(200, 0.5f)},
       {"weight 'kernel'", "kernel_size=(3, 3)"}},
      {"quant_conv2d", "kernel", {{3, 3, 8}, std::vector<float>(72, 0.5f)}, {"weight 'kernel' has shape (3, 3, 8)"}},
      {"quant_dense", "kernel", {{32, 4}, std::vector<float>(128, 0.5f)},
       {"layer 'quant_dense' (QuantDense): weight 'kernel'", "units=3"}},
      {"quant_dense", "bias", {{4}, std::vector<float>(4, 0.5f)}, {"weight 'bias' has shape (4,)", "(3,)"}},
      {"batch_normalization", "gamma", {{5}, std::vector<float>(5, 0.5f)},
       {"layer 'batch_normalization' (BatchNormalization): weight 'gamma'", "moving_mean has 4 channels"}},
  };
  for (const auto& c : cases) {
    auto b = small_functional();
    b.set_weight(c.layer, c.weight, c.value);
    std::string msg = error_of([&] { b.build(); });
    for (const char* e : c.expect) EXPECT_TRUE(contains(msg, e)) << msg;
    // The same check applies to a file.
    TempDir dir;
    bitlens::write_model_h5(small_functional().build(), dir / "m.h5");
    {
      RawFile f(dir / "m.h5");
      f.write_dataset(std::string("/model_weights/") + c.layer + "/" + c.layer + "/" + c.weight + ":0", c.value);
    }
    std::string file_msg = load_error(dir / "m.h5");
    EXPECT_EQ(file_msg, msg);
  }
}

TEST(ModelErrors, EmptyWeightDatasetIsAShapeError) {
  // A zero-element dataset (found by the fuzzer) travels through the reader's snapshot like
  // any other and ends as the layer's shape message, in and out of process (sanitizers watch).
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.write_dataset("/model_weights/quant_dense/quant_dense/bias:0", {{0}, {}});
  }
  bitlens::LoadLimits inproc;
  inproc.isolate_hdf5 = false;
  for (const auto& limits : {bitlens::LoadLimits{}, inproc}) {
    std::string msg = load_error(p, limits);
    EXPECT_TRUE(contains(msg, "layer 'quant_dense' (QuantDense): weight 'bias' has shape (0,)")) << msg;
  }
}

TEST(ModelErrors, BiasPresentAlthoughUseBiasIsFalse) {
  auto b = small_functional();
  b.set_weight("quant_conv2d", "bias", {{4}, {0, 0, 0, 0}});
  std::string msg = error_of([&] { b.build(); });
  EXPECT_TRUE(contains(msg, "layer 'quant_conv2d' (QuantConv2D): the file stores a weight 'bias'")) << msg;
  EXPECT_TRUE(contains(msg, "use_bias=false")) << msg;
}

TEST(ModelErrors, NegativeVarianceIsNotALoadError) {
  // Keras loads a BatchNormalization with a negative moving_variance (and computes NaN with
  // it): the file is read as stored, and the compiler reports the layer (BN_PARAMS, see
  // compiler_loader_breadth_test) while the rest of the model is still analysed.
  auto b = small_functional();
  b.set_weight("batch_normalization", "moving_variance", {{4}, {1, 1, -0.5f, 1}});
  TempDir dir;
  bitlens::write_model_h5(b.build(), dir / "m.h5");
  const auto m = bitlens::load_model(dir / "m.h5");
  EXPECT_EQ(m.find("batch_normalization")->weights.at("moving_variance").data,
            (std::vector<float>{1, 1, -0.5f, 1}));
}

TEST(ModelErrors, NanAndInfWeights) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    TempDir dir;
    auto p = write_small(dir);
    auto m = bitlens::load_model(p);
    auto kernel = m.find("quant_dense")->weights.at("kernel");
    kernel.data[7] = bad;
    {
      RawFile f(p);
      f.write_dataset("/model_weights/quant_dense/quant_dense/kernel:0", kernel);
    }
    std::string msg = load_error(p);
    std::string what = std::isnan(bad) ? "NaN" : (bad > 0 ? "+Inf" : "-Inf");
    EXPECT_TRUE(contains(msg, "layer 'quant_dense' (QuantDense): weight 'kernel' holds " + what + " at index 7")) << msg;
    EXPECT_TRUE(contains(msg, "retrain")) << msg;
  }
}

TEST(ModelErrors, DatasetClaimingBillionsOfElementsIsRefusedBeforeReading) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_link("/model_weights/quant_dense/quant_dense/kernel:0");
    // 100000 x 100000 floats = 40 GB, chunked and never written: the file stays tiny.
    hsize_t dims[2] = {100000, 100000}, chunk[2] = {64, 64};
    bitlens::io::Handle s(H5Screate_simple(2, dims, nullptr), H5Sclose);
    bitlens::io::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl.get(), 2, chunk);
    bitlens::io::Handle d(H5Dcreate2(f.id(), "/model_weights/quant_dense/quant_dense/kernel:0", H5T_IEEE_F32LE,
                                     s.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    ASSERT_GE(d.get(), 0);
  }
  EXPECT_LT(fs::file_size(p), 1u << 20);
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'quant_dense'")) << msg;
  EXPECT_TRUE(contains(msg, "(100000, 100000)")) << msg;
  EXPECT_TRUE(contains(msg, "more than")) << msg;
}

TEST(ModelErrors, TotalWeightLimit) {
  TempDir dir;
  auto p = write_small(dir);
  bitlens::LoadLimits limits;
  limits.max_total_elements = 50;
  std::string msg = load_error(p, limits);
  EXPECT_TRUE(contains(msg, "values in total")) << msg;
}

TEST(ModelErrors, LayerCountLimit) {
  TempDir dir;
  auto p = write_small(dir);
  bitlens::LoadLimits limits;
  limits.max_layers = 3;
  EXPECT_TRUE(contains(load_error(p, limits), "more than 3 layers"));
}

TEST(ModelErrors, JsonSizeLimit) {
  TempDir dir;
  auto p = write_small(dir);
  bitlens::LoadLimits limits;
  limits.max_json_bytes = 100;
  std::string msg = load_error(p, limits);
  EXPECT_TRUE(contains(msg, "model_config")) << msg;
  EXPECT_TRUE(contains(msg, "larger than 100 bytes")) << msg;
}

TEST(ModelErrors, NumericWeightNames) {
  TempDir dir;
  auto p = write_small(dir);
  {
    RawFile f(p);
    f.delete_attr("/model_weights/quant_dense", "weight_names");
    hsize_t d[1] = {2};
    bitlens::io::Handle s(H5Screate_simple(1, d, nullptr), H5Sclose);
    bitlens::io::Handle a(H5Acreate_by_name(f.id(), "/model_weights/quant_dense", "weight_names", H5T_IEEE_F64LE,
                                            s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    double v[2] = {1, 2};
    H5Awrite(a.get(), H5T_NATIVE_DOUBLE, v);
  }
  std::string msg = load_error(p);
  EXPECT_TRUE(contains(msg, "layer 'quant_dense'")) << msg;
  EXPECT_TRUE(contains(msg, "holds numbers instead of names")) << msg;
}

TEST(ModelErrors, UnknownLayersLoadWithTheirClassName) {
  // Not an error: unknown classes are kept for the report to call unsupported.
  k::ModelBuilder b("custom", k::Style::functional);
  auto x = b.input({10, 3});
  auto y = b.layer("Conv1D", {x}, {{"filters", 4}, {"kernel_size", {3}}}, {8, 4},
                   {{"kernel", {{3, 3, 4}, std::vector<float>(36, 0.1f)}}, {"bias", {{4}, {0, 0, 0, 0}}}});
  b.layer("MyCustomLayer", {y}, {{"alpha", 0.5}}, {8, 4});
  TempDir dir;
  bitlens::write_model_h5(b.build(), dir / "m.h5");
  auto m = bitlens::load_model(dir / "m.h5");
  EXPECT_EQ(m.find("conv1d")->class_name, "Conv1D");
  EXPECT_EQ(m.find("conv1d")->weights.at("kernel").shape, (std::vector<int64_t>{3, 3, 4}));
  EXPECT_EQ(m.find("my_custom_layer")->config["alpha"], 0.5);
}

}  // namespace

namespace {

using namespace model_test;

TEST(ModelErrors, AbsurdlyDeepJsonIsRefusedBeforeParsing) {
  TempDir dir;
  bitlens::write_model_h5(small_functional().build(), dir / "m.h5");
  {
    RawFile f(dir / "m.h5");
    json cfg = f.model_config();
    std::string text = cfg.dump();
    // A 100,000-deep list in an unused key: copying such a value would overflow the stack.
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    text.insert(text.size() - 1, ", \"junk\": " + deep);
    f.set_string("/", "model_config", text);
  }
  std::string msg = load_error(dir / "m.h5");
  EXPECT_TRUE(contains(msg, "model_config nests deeper than 256 levels")) << msg;
}

}  // namespace
