// Shared helpers for the model_* tests: temporary folders, small models, raw HDF5 edits of
// written files (to reproduce what other writers produce), and model comparison.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>

#include "support/keras_builder.hpp"
#include "bitlens/model.hpp"
#include "io/h5.hpp"

namespace model_test {

using bitlens::json;
using bitlens::Model;
using bitlens::ModelError;
namespace fs = std::filesystem;
namespace k = bitlens::keras;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("bitlens_model_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The what() of the ModelError `f` throws; fails the test when it throws nothing.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    return msg;
  }
  ADD_FAILURE() << "expected a ModelError";
  return "";
}

inline std::string load_error(const fs::path& p, const bitlens::LoadLimits& limits = {}) {
  return error_of([&] { bitlens::load_model(p, limits); });
}

// A small functional Larq model touching the common layer kinds.
inline k::ModelBuilder small_functional(const std::string& name = "small", uint64_t seed = 3) {
  k::ModelBuilder b(name, k::Style::functional, seed);
  auto x = b.input({8, 8, 2});
  auto c = b.quant_conv2d(x, {.filters = 4, .padding = "same", .use_bias = false,
                              .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
                              .pad_values = 1.0});
  auto n = b.batch_norm(c);
  auto p = b.max_pool2d(n);
  auto f = b.flatten(p);
  auto d = b.quant_dense(f, {.units = 3, .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign"});
  b.activation(d, "softmax");
  return b;
}

inline k::ModelBuilder small_sequential(const std::string& name = "seq", uint64_t seed = 5) {
  k::ModelBuilder b(name, k::Style::sequential, seed);
  auto x = b.input({6, 6, 1});
  x = b.quant_conv2d(x, {.filters = 2, .use_bias = false, .kernel_quantizer = "ste_sign"});
  x = b.batch_norm(x, {.scale = false});
  x = b.flatten(x);
  x = b.dense(x, {.units = 2});
  return b;
}

inline void expect_same_weights(const bitlens::Layer& a, const bitlens::Layer& b) {
  ASSERT_EQ(a.weights.size(), b.weights.size()) << a.name;
  for (const auto& [n, arr] : a.weights) {
    ASSERT_TRUE(b.weights.count(n)) << a.name << "/" << n;
    EXPECT_EQ(arr.shape, b.weights.at(n).shape) << a.name << "/" << n;
    EXPECT_EQ(arr.data, b.weights.at(n).data) << a.name << "/" << n;
  }
}

// Same layers, configs, wiring and weights. Weight names are compared when `names` is set.
inline void expect_same_model(const Model& a, const Model& b, bool names = true) {
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const auto& x = a.layers[i];
    const auto& y = b.layers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.class_name, y.class_name) << x.name;
    EXPECT_EQ(x.config, y.config) << x.name;
    EXPECT_EQ(x.inputs, y.inputs) << x.name;
    EXPECT_EQ(x.call_kwargs, y.call_kwargs) << x.name;
    EXPECT_EQ(x.parent, y.parent) << x.name;
    if (names) {
      EXPECT_EQ(x.weight_names, y.weight_names) << x.name;
    }
    expect_same_weights(x, y);
  }
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.outputs, b.outputs);
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Opens a written file read-write for raw edits.
class RawFile {
 public:
  explicit RawFile(const fs::path& p) : lock_(bitlens::io::h5_lock()) {
    id_ = H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    EXPECT_GE(id_, 0) << "cannot open " << p;
  }
  ~RawFile() {
    if (id_ >= 0) H5Fclose(id_);
  }
  hid_t id() const { return id_; }

  void delete_attr(const std::string& obj, const std::string& name) {
    EXPECT_GE(H5Adelete_by_name(id_, obj.c_str(), name.c_str(), H5P_DEFAULT), 0) << obj << "@" << name;
  }
  bool has_attr(const std::string& obj, const std::string& name) {
    return H5Aexists_by_name(id_, obj.c_str(), name.c_str(), H5P_DEFAULT) > 0;
  }
  void set_string(const std::string& obj, const std::string& name, const std::string& value) {
    if (has_attr(obj, name)) delete_attr(obj, name);
    bitlens::io::Handle g(H5Oopen(id_, obj.c_str(), H5P_DEFAULT), H5Oclose);
    bitlens::io::write_string_attr(g.get(), name, value, {});
  }
  void set_strings(const std::string& obj, const std::string& name,
                   const std::vector<std::string>& values, bitlens::io::StringStyle style = {}) {
    if (has_attr(obj, name)) delete_attr(obj, name);
    bitlens::io::Handle g(H5Oopen(id_, obj.c_str(), H5P_DEFAULT), H5Oclose);
    bitlens::io::write_strings_attr(g.get(), name, values, style);
  }
  void set_model_config(const json& config) { set_string("/", "model_config", config.dump()); }
  json model_config() {
    bitlens::io::Handle g(H5Oopen(id_, "/", H5P_DEFAULT), H5Oclose);
    return json::parse(bitlens::io::read_string_attr(g.get(), "model_config", 1 << 26));
  }
  std::vector<std::string> strings(const std::string& obj, const std::string& name) {
    bitlens::io::Handle g(H5Oopen(id_, obj.c_str(), H5P_DEFAULT), H5Oclose);
    return bitlens::io::read_strings_attr(g.get(), name, 1 << 26);
  }
  void delete_link(const std::string& path) {
    EXPECT_GE(H5Ldelete(id_, path.c_str(), H5P_DEFAULT), 0) << path;
  }
  void write_dataset(const std::string& path, const bitlens::Array& a) {
    if (H5Lexists(id_, path.c_str(), H5P_DEFAULT) > 0) delete_link(path);
    bitlens::io::write_float_dataset(id_, path, a);
  }

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  hid_t id_ = -1;
};

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace model_test
