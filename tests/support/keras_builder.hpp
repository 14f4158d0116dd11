// Builds Keras/Larq models in C++ exactly as tf.keras 2.10 + larq 0.13 serialize them (every
// config key Keras writes, quantizers in dict form, inbound_nodes), with deterministic random
// weights. Used by tests and by the example-model generator; write the result with
// write_model_h5().
//
//   bitlens::keras::ModelBuilder b("forum");
//   auto x = b.input({32, 32, 1});
//   x = b.quant_conv2d(x, {.filters = 16, .padding = "same", .use_bias = false,
//                          .input_quantizer = "ste_sign", .kernel_quantizer = "ste_sign",
//                          .pad_values = 1.0});
//   bitlens::Model m = b.build();
//
// Options are aggregates: designated initializers must follow the declaration order below.
// Every member has a default member initializer, so omitted members do not trip
// -Wmissing-field-initializers.
// Quantizer strings: "" (null), "ste_sign", "approx_sign", "swish_sign",
// "magnitude_aware_sign", "ste_heaviside", "ste_tern", "dorefa_quantizer", "noop"
// (class names such as "SteSign" work too), or an object with its config spelled out:
// "STCustomDoReFa(k_bit=8,mode=weights)", "DoReFa(k_bit=8,mode=activations)". activation()
// takes the object form too: Activation(STCustomDoReFa(...)).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bitlens/model.hpp"
#include "support/model_writer.hpp"

namespace bitlens::keras {

// A tensor while building: producing layer, output index, shape without the batch dimension.
struct Tensor {
  std::string layer{};
  int index = 0;
  std::vector<int64_t> shape;
};

struct ConvOptions {  // Conv2D and QuantConv2D
  int filters = 1;
  std::array<int, 2> kernel_size{3, 3};
  std::array<int, 2> strides{1, 1};
  std::string padding = "valid";
  std::array<int, 2> dilation_rate{1, 1};
  int groups = 1;  // the kernel is (kh, kw, cin / groups, filters), as Keras stores it
  std::string activation = "linear";
  bool use_bias = true;
  // QuantConv2D only:
  std::string input_quantizer{};
  std::string kernel_quantizer{};
  std::optional<double> pad_values = 0.0;  // nullopt: no key (files from larq < 0.9)
  bool kernel_clip = false;                // kernel_constraint weight_clip(1)
  std::string name{};                        // "" = Keras' automatic name
};

struct DepthwiseOptions {  // DepthwiseConv2D and QuantDepthwiseConv2D
  std::array<int, 2> kernel_size{3, 3};
  std::array<int, 2> strides{1, 1};
  std::string padding = "valid";
  int depth_multiplier = 1;
  std::array<int, 2> dilation_rate{1, 1};
  std::string activation = "linear";
  bool use_bias = true;
  std::string input_quantizer{};
  std::string depthwise_quantizer{};
  std::optional<double> pad_values = 0.0;
  std::string name{};
};

struct SeparableOptions {  // SeparableConv2D and QuantSeparableConv2D
  int filters = 1;
  std::array<int, 2> kernel_size{3, 3};
  std::array<int, 2> strides{1, 1};
  std::string padding = "valid";
  int depth_multiplier = 1;
  std::array<int, 2> dilation_rate{1, 1};
  std::string activation = "linear";
  bool use_bias = true;
  std::string input_quantizer{};
  std::string depthwise_quantizer{};
  std::string pointwise_quantizer{};
  std::optional<double> pad_values = 0.0;
  std::string name{};
};

struct DenseOptions {  // Dense and QuantDense
  int units = 1;
  std::string activation = "linear";
  bool use_bias = true;
  std::string input_quantizer{};
  std::string kernel_quantizer{};
  bool kernel_clip = false;
  std::string name{};
};

struct BatchNormOptions {
  bool scale = true;
  bool center = true;
  double epsilon = 1e-3;
  double momentum = 0.99;
  std::string name{};
};

struct PoolOptions {  // MaxPooling2D and AveragePooling2D
  std::array<int, 2> pool_size{2, 2};
  std::optional<std::array<int, 2>> strides{};  // nullopt: = pool_size
  std::string padding = "valid";
  std::string name{};
};

struct ReLUOptions {
  std::optional<double> max_value{};
  double negative_slope = 0.0;
  double threshold = 0.0;
  std::string name{};
};

enum class Style {
  functional,  // class_name "Functional", layers with inbound_nodes
  sequential,  // class_name "Sequential": each layer must consume the previous one
};

struct BuildOptions {
  // Functional: write class_name "Model" (TF < 2.4) instead of "Functional".
  bool class_name_model = false;
  // Sequential: write an InputLayer entry (otherwise only the first layer's batch_input_shape).
  bool sequential_input_layer = true;
  // Sequential: the Keras <= 2.2.2 form, config is a bare list of layers.
  bool sequential_bare_list = false;
  // Quantizers as plain strings (larq <= 0.8) instead of dicts.
  bool string_quantizers = false;
};

class ModelBuilder {
 public:
  explicit ModelBuilder(std::string model_name, Style style = Style::functional,
                        uint64_t seed = 1);

  // Model input (shape without batch). `name` "" = "input_N" (functional) or
  // "<first layer>_input" (sequential).
  Tensor input(std::vector<int64_t> shape, std::string name = "");

  Tensor conv2d(const Tensor& x, ConvOptions o);
  Tensor quant_conv2d(const Tensor& x, ConvOptions o);
  Tensor depthwise_conv2d(const Tensor& x, DepthwiseOptions o);
  Tensor quant_depthwise_conv2d(const Tensor& x, DepthwiseOptions o);
  Tensor separable_conv2d(const Tensor& x, SeparableOptions o);
  Tensor quant_separable_conv2d(const Tensor& x, SeparableOptions o);
  Tensor dense(const Tensor& x, DenseOptions o);
  Tensor quant_dense(const Tensor& x, DenseOptions o);
  Tensor batch_norm(const Tensor& x, BatchNormOptions o = {});
  Tensor max_pool2d(const Tensor& x, PoolOptions o = {});
  Tensor average_pool2d(const Tensor& x, PoolOptions o = {});
  Tensor global_average_pool2d(const Tensor& x, std::string name = "");
  Tensor global_max_pool2d(const Tensor& x, std::string name = "");
  Tensor flatten(const Tensor& x, std::string name = "");
  Tensor reshape(const Tensor& x, std::vector<int64_t> target_shape, std::string name = "");
  // padding: {{top, bottom}, {left, right}}
  Tensor zero_padding2d(const Tensor& x, std::array<std::array<int, 2>, 2> padding,
                        std::string name = "");
  Tensor activation(const Tensor& x, std::string activation, std::string name = "");
  Tensor relu(const Tensor& x, ReLUOptions o = {});
  Tensor softmax(const Tensor& x, int axis = -1, std::string name = "");
  Tensor add(const std::vector<Tensor>& xs, std::string name = "");
  Tensor concatenate(const std::vector<Tensor>& xs, int axis = -1, std::string name = "");
  Tensor dropout(const Tensor& x, double rate = 0.5, std::string name = "");
  Tensor spatial_dropout2d(const Tensor& x, double rate = 0.5, std::string name = "");
  Tensor gaussian_noise(const Tensor& x, double stddev = 0.1, std::string name = "");
  // TFOpLambda layers as `x + c` and `x * c` serialize in tf.keras 2.x.
  Tensor tf_add_constant(const Tensor& x, double c);
  Tensor tf_multiply_constant(const Tensor& x, double c);
  // `x + y` of two tensors: the second operand is a tensor reference inside the kwargs.
  Tensor tf_add(const Tensor& x, const Tensor& y);
  // Any other class (custom layers, Conv1D, LSTM, ...): `config` gets "name", "trainable"
  // and "dtype" added; weights are stored as given (short name -> array).
  Tensor layer(const std::string& class_name, const std::vector<Tensor>& inputs, json config,
               std::vector<int64_t> output_shape,
               std::vector<std::pair<std::string, Array>> weights = {});
  // Uses a finished builder's model as one layer (a nested model), called on `inputs`.
  // Its outputs are the ones passed to inner.set_outputs() or its last layer.
  Tensor nested(const ModelBuilder& inner, const std::vector<Tensor>& inputs);

  // Replaces a generated weight (e.g. to plant a NaN or a wrong shape in a test).
  void set_weight(const std::string& layer, const std::string& short_name, Array value);
  // Model outputs; default: the last layer added.
  void set_outputs(std::vector<Tensor> outputs);

  // The model_config JSON ({"class_name", "config"}) as Keras writes it.
  json model_config(const BuildOptions& options = {}) const;
  // The model, assembled and validated exactly as the loader does it. Throws ModelError.
  Model build(const BuildOptions& options = {}) const;

  const std::string& name() const { return name_; }

 private:
  struct Entry {
    std::string class_name;
    json config;
    std::vector<Tensor> inputs;
    json kwargs = json::object();      // call kwargs of the inbound leaf
    std::vector<std::pair<std::string, Array>> weights;  // short name -> value, Keras order
    std::vector<std::vector<int64_t>> output_shapes;
    const ModelBuilder* nested = nullptr;
    std::string nested_class;
    json nested_config;
    std::vector<std::pair<std::string, Array>> nested_weights;  // full names
    int64_t fan_in = 0;  // binary dot-product length of a quantized conv/dense (for BN stats)
  };

  std::string auto_name(const std::string& class_name, const std::string& requested);
  Tensor add_entry(Entry e);
  // A layer whose output has its input's shape (activations, dropout, ...).
  Tensor same_shape(const std::string& class_name, const Tensor& x, const std::string& name,
                    const json& extra);
  std::string tf_op_name(const std::string& base);
  json base_config(const std::string& name) const;
  json quantizer(const std::string& q);
  std::vector<Tensor> outputs() const;
  std::vector<std::pair<std::string, Array>> all_weights_trainable_first() const;
  Array random_array(std::vector<int64_t> shape, float lo, float hi);
  json inbound_leaf(const Tensor& t, const json& kwargs) const;

  std::string name_{};
  Style style_;
  uint64_t rng_;
  std::vector<Entry> entries_;
  std::map<std::string, int> counters_;
  std::map<std::string, int> used_names_;
  std::vector<Tensor> outputs_;
};

}  // namespace bitlens::keras
