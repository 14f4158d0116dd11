// The reference interpreter's driver: dispatches a layer by class name to its op, and runs a
// Model by walking its layers in file (topological) order from the inputs to the outputs.
#include <algorithm>
#include <functional>
#include <set>

#include "bitlens/layer_table.hpp"
#include "bitlens/reference.hpp"
#include "reference/ops.hpp"

namespace bitlens {
namespace {

using ref::Inputs;
using ref::OpContext;

Array identity(const OpContext& ctx, const Inputs& in) {
  ref::require_inputs(ctx.layer, in, 1);
  return *in[0];
}

// The batch shape an InputLayer declares (with the batch axis, unknown = -1), if any.
std::optional<std::vector<int64_t>> configured_batch_shape(const Layer& layer) {
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    if (!ref::has_key(layer, key) || !layer.config[key].is_array()) continue;
    std::vector<int64_t> shape;
    for (const auto& d : layer.config[key])
      shape.push_back(d.is_number_integer() ? d.get<int64_t>() : -1);
    return shape;
  }
  return std::nullopt;
}

Array input_layer(const OpContext& ctx, const Inputs& in) {
  const Layer& layer = ctx.layer;
  ref::require_inputs(layer, in, 1);
  const Array& x = *in[0];
  if (static_cast<int64_t>(x.data.size()) != x.size())
    ref::fail(layer, "input holds " + std::to_string(x.data.size()) + " values for shape " +
                         shape_tuple(x.shape));
  if (auto shape = configured_batch_shape(layer)) {
    bool ok = shape->size() == x.shape.size();
    for (size_t d = 1; ok && d < shape->size(); ++d)
      if ((*shape)[d] >= 0 && (*shape)[d] != x.shape[d]) ok = false;
    if (!ok) {
      std::vector<int64_t> expected = *shape;
      std::string e = "(N";
      for (size_t d = 1; d < expected.size(); ++d)
        e += ", " + (expected[d] < 0 ? std::string("any") : std::to_string(expected[d]));
      ref::fail(layer, "input has shape " + shape_tuple(x.shape) + ", expected " + e + ")");
    }
  }
  return x;
}

// Every file of core/reference registers the classes it defines, next to their definitions.
const ref::OpTable& op_table() {
  static const ref::OpTable table = [] {
    ref::OpTable t;
    t["InputLayer"] = input_layer;
    // Identity at inference.
    for (const char* c : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                          "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"})
      t[c] = identity;
    ref::add_conv_ops(t);
    ref::add_normalize_pool_ops(t);
    ref::add_one_d_ops(t);
    ref::add_shape_ops(t);
    ref::add_elementwise_ops(t);
    return t;
  }();
  return table;
}

bool is_keras3(const std::string& keras_version) {
  return !keras_version.empty() && keras_version[0] >= '3' && keras_version[0] <= '9';
}

}  // namespace

const std::vector<std::string>& reference_supported_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& [k, f] : op_table()) v.push_back(k);
    return v;
  }();
  return names;
}

Array reference_layer(const Layer& layer, const std::vector<Array>& inputs,
                      const std::string& keras_version) {
  const auto& table = op_table();
  auto it = table.find(layer.class_name);
  if (it == table.end()) {
    std::string list;
    for (const auto& [name, fn] : table) list += (list.empty() ? "" : ", ") + name;
    ref::fail(layer, "layer class \"" + layer.class_name +
                         "\" is not supported by the reference interpreter; remove or replace "
                         "the layer (supported: " + list + ")");
  }
  Inputs in;
  for (const auto& a : inputs) {
    if (static_cast<int64_t>(a.data.size()) != a.size())
      ref::fail(layer, "an input holds " + std::to_string(a.data.size()) +
                           " values for shape " + shape_tuple(a.shape));
    in.push_back(&a);
  }
  // The same key list as the importer: a key nobody reads could change the result.
  if (auto key = unknown_config_key(layer.class_name, layer.config))
    ref::fail(layer, "config key '" + *key + "' = " + layer.config[*key].dump() +
                         " is not one BitLens knows for " + layer.class_name +
                         "; remove it and re-save the model");
  if (auto problem = generic_config_problem(layer.config)) ref::fail(layer, *problem);
  OpContext ctx{layer, is_keras3(keras_version), sem::tf_keras2_file(keras_version)};
  return it->second(ctx, in);
}

std::vector<Array> reference_run(const Model& model, const std::vector<Array>& inputs,
                                 ReferenceTrace* trace) {
  if (inputs.size() != model.inputs.size())
    throw ModelError("the model has " + std::to_string(model.inputs.size()) + " input(s), got " +
                     std::to_string(inputs.size()) + " input array(s)");
  if (model.outputs.empty()) throw ModelError("the model declares no outputs");

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < model.layers.size(); ++i) index[model.layers[i].name] = i;
  auto layer_of = [&](const TensorRef& r, const std::string& who) -> size_t {
    auto it = index.find(r.layer);
    if (it == index.end())
      throw ModelError(who + " refers to layer '" + r.layer + "', which the model does not have");
    if (r.tensor_index != 0)
      throw ModelError(who + " uses output " + std::to_string(r.tensor_index) + " of layer '" +
                       r.layer + "'; only single-output layers are supported");
    return it->second;
  };

  // Mark what the outputs depend on.
  std::vector<bool> needed(model.layers.size(), false);
  std::vector<size_t> stack;
  for (const auto& o : model.outputs) stack.push_back(layer_of(o, "model output"));
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    if (needed[i]) continue;
    needed[i] = true;
    const Layer& l = model.layers[i];
    for (const auto& r : l.inputs)
      stack.push_back(layer_of(r, "layer '" + l.name + "' (" + l.class_name + ") input"));
  }

  std::map<std::string, Array> values;
  for (size_t k = 0; k < model.inputs.size(); ++k) {
    const size_t i = layer_of(model.inputs[k], "model input");
    const Layer& l = model.layers[i];
    if (!l.inputs.empty())
      throw ModelError("model input " + std::to_string(k) + " refers to layer '" + l.name +
                       "' (" + l.class_name + "), which is not an InputLayer");
    if (values.count(l.name))
      throw ModelError("model input " + std::to_string(k) + " repeats layer '" + l.name + "'");
    values[l.name] = reference_layer(l, {inputs[k]}, model.keras_version);
    if (trace) {
      trace->order.push_back(l.name);
      trace->outputs[l.name] = values[l.name];
    }
  }

  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    if (!needed[i] || values.count(l.name)) continue;
    if (l.inputs.empty())
      ref::fail(l, "has no inputs and is not among the model inputs; the model graph is "
                   "incomplete");
    std::vector<Array> ins;
    for (const auto& r : l.inputs) {
      auto it = values.find(r.layer);
      if (it == values.end())
        ref::fail(l, "input '" + r.layer +
                         "' is not computed before this layer; the layers are not in "
                         "topological order");
      ins.push_back(it->second);
    }
    values[l.name] = reference_layer(l, ins, model.keras_version);
    if (trace) {
      trace->order.push_back(l.name);
      trace->outputs[l.name] = values[l.name];
    }
  }

  std::vector<Array> out;
  for (const auto& o : model.outputs) out.push_back(values.at(o.layer));
  return out;
}

}  // namespace bitlens
