// Helpers for the reference interpreter tests: build Layers and Models by hand, the way the
// loader would produce them from a Keras file, and compare arrays value by value.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "bitlens/model.hpp"
#include "bitlens/reference.hpp"

namespace bitlens::testutil {

inline Array arr(std::vector<int64_t> shape, std::vector<float> data) {
  return Array{std::move(shape), std::move(data)};
}

inline Layer layer(const std::string& name, const std::string& class_name, json config,
                   std::vector<std::string> inputs = {},
                   std::map<std::string, Array> weights = {}) {
  Layer l;
  l.name = name;
  l.class_name = class_name;
  l.config = std::move(config);
  l.config["name"] = name;
  for (auto& i : inputs) l.inputs.push_back(TensorRef{i, 0, 0});
  l.weights = std::move(weights);
  return l;
}

inline Layer input_layer(const std::string& name, std::vector<json> batch_input_shape) {
  json shape = json::array();
  for (auto& d : batch_input_shape) shape.push_back(d);
  return layer(name, "InputLayer", {{"batch_input_shape", shape}, {"dtype", "float32"}});
}

// A model whose layers are given in topological order.
inline Model model(std::vector<Layer> layers, std::vector<std::string> inputs,
                   std::vector<std::string> outputs, const std::string& keras_version = "2.10.0") {
  Model m;
  m.name = "test_model";
  m.class_name = "Functional";
  m.keras_version = keras_version;
  m.layers = std::move(layers);
  for (auto& i : inputs) m.inputs.push_back(TensorRef{i, 0, 0});
  for (auto& o : outputs) m.outputs.push_back(TensorRef{o, 0, 0});
  return m;
}

// Runs one layer on one input.
inline Array run1(const Layer& l, const Array& x, const std::string& keras_version = "2.10.0") {
  return reference_layer(l, {x}, keras_version);
}

// Exact comparison (the reference must produce these values to the bit).
inline void expect_array_eq(const Array& got, std::vector<int64_t> shape,
                            std::vector<float> values) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.data.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got.data[i], values[i]) << "at index " << i;
}

inline void expect_array_near(const Array& got, std::vector<int64_t> shape,
                              std::vector<float> values, float tol) {
  ASSERT_EQ(got.shape, shape);
  ASSERT_EQ(got.data.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(got.data[i], values[i], tol) << "at index " << i;
}

// Expects a ModelError whose message contains every one of `parts`.
template <typename F>
void expect_model_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected a ModelError";
  } catch (const ModelError& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

}  // namespace bitlens::testutil
