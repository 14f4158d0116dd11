// Reading Keras layer configs for the reference interpreter: typed getters with defaults and
// one-line errors that name the layer, the key, the value found and what was expected.

#include "bitlens/format.hpp"
#include "reference/ops.hpp"

namespace bitlens::ref {

void fail(const Layer& layer, const std::string& message) {
  throw ModelError("layer '" + layer.name + "' (" + layer.class_name + "): " + message);
}

bool has_key(const Layer& layer, const char* key) {
  return layer.config.is_object() && layer.config.contains(key) && !layer.config[key].is_null();
}

static const json& get(const Layer& layer, const char* key) { return layer.config[key]; }

static void missing(const Layer& layer, const char* key) {
  fail(layer, std::string("config has no \"") + key + "\"; the file is incomplete or not Keras");
}

int64_t cfg_int(const Layer& layer, const char* key, std::optional<int64_t> fallback) {
  if (!has_key(layer, key)) {
    if (!fallback) missing(layer, key);
    return *fallback;
  }
  const json& v = get(layer, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<int64_t>()))
    return v.get<int64_t>();
  fail(layer, std::string(key) + " = " + v.dump() + " is not an integer");
}

double cfg_number(const Layer& layer, const char* key, std::optional<double> fallback) {
  if (!has_key(layer, key)) {
    if (!fallback) missing(layer, key);
    return *fallback;
  }
  const json& v = get(layer, key);
  if (!v.is_number()) fail(layer, std::string(key) + " = " + v.dump() + " is not a number");
  return v.get<double>();
}

bool cfg_bool(const Layer& layer, const char* key, std::optional<bool> fallback) {
  if (!has_key(layer, key)) {
    if (!fallback) missing(layer, key);
    return *fallback;
  }
  const json& v = get(layer, key);
  if (!v.is_boolean()) fail(layer, std::string(key) + " = " + v.dump() + " is not true/false");
  return v.get<bool>();
}

std::string cfg_string(const Layer& layer, const char* key, std::optional<std::string> fallback) {
  if (!has_key(layer, key)) {
    if (!fallback) missing(layer, key);
    return *fallback;
  }
  const json& v = get(layer, key);
  if (!v.is_string()) fail(layer, std::string(key) + " = " + v.dump() + " is not a string");
  return v.get<std::string>();
}

std::array<int64_t, 2> cfg_pair(const Layer& layer, const char* key,
                                std::optional<std::array<int64_t, 2>> fallback) {
  if (!has_key(layer, key)) {
    if (!fallback) missing(layer, key);
    return *fallback;
  }
  const json& v = get(layer, key);
  std::array<int64_t, 2> r{};
  if (v.is_number_integer()) {
    r = {v.get<int64_t>(), v.get<int64_t>()};
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() &&
             v[1].is_number_integer()) {
    r = {v[0].get<int64_t>(), v[1].get<int64_t>()};
  } else {
    fail(layer, std::string(key) + " = " + v.dump() + " is not an integer or a pair of integers");
  }
  if (r[0] < 1 || r[1] < 1)
    fail(layer, std::string(key) + " = " + v.dump() + " must be at least 1");
  return r;
}

bool cfg_same_padding(const Layer& layer) {
  const std::string p = cfg_string(layer, "padding", std::string("valid"));
  if (p == "same") return true;
  if (p == "valid") return false;
  fail(layer, "padding = \"" + p + "\" is not supported; use \"valid\" or \"same\"");
}

void require_channels_last(const Layer& layer) {
  const std::string f = cfg_string(layer, "data_format", std::string("channels_last"));
  if (f != "channels_last")
    fail(layer, "data_format = \"" + f +
                    "\" is not supported; BitLens computes NHWC (\"channels_last\") only");
}

sem::QuantizerSpec cfg_quantizer(const Layer& layer, const char* key) {
  if (!layer.config.is_object() || !layer.config.contains(key)) return {};
  return sem::parse_quantizer(layer.config[key],
                              "layer '" + layer.name + "' (" + layer.class_name + "): " + key);
}

sem::ActivationSpec cfg_activation(const Layer& layer, const char* key, bool keras3) {
  if (!layer.config.is_object() || !layer.config.contains(key)) return {};
  return sem::parse_activation(layer.config[key],
                               "layer '" + layer.name + "' (" + layer.class_name + "): " + key,
                               keras3);
}

const Array& weight(const Layer& layer, const std::string& name,
                    const std::vector<int64_t>& expected_shape) {
  auto it = layer.weights.find(name);
  if (it == layer.weights.end()) {
    std::string have;
    for (const auto& [k, v] : layer.weights) have += (have.empty() ? "" : ", ") + k;
    fail(layer, "weight \"" + name + "\" is missing (the layer has: " +
                    (have.empty() ? std::string("no weights") : have) +
                    "); the file's weights do not match its config");
  }
  const Array& a = it->second;
  if (a.shape != expected_shape)
    fail(layer, "weight \"" + name + "\" has shape " + shape_tuple(a.shape) + ", expected " +
                    shape_tuple(expected_shape) + " from the config and the input shape");
  if (static_cast<int64_t>(a.data.size()) != a.size())
    fail(layer, "weight \"" + name + "\" holds " + std::to_string(a.data.size()) +
                    " values for shape " + shape_tuple(a.shape));
  return a;
}

void require_inputs(const Layer& layer, const Inputs& in, size_t count) {
  if (in.size() != count)
    fail(layer, "takes " + std::to_string(count) + " input tensor" + (count == 1 ? "" : "s") +
                    ", got " + std::to_string(in.size()));
}

void require_rank(const Layer& layer, const Array& a, size_t rank, const char* what) {
  if (a.shape.size() != rank)
    fail(layer, std::string(what) + " must have rank " + std::to_string(rank) +
                    " including the batch axis, got shape " + shape_tuple(a.shape));
}

}  // namespace bitlens::ref
