// Layer facts BitLens relies on (config fields, weights) and the checks that enforce them.
#include "frontend/messages.hpp"
#include "bitlens/format.hpp"
#include "frontend/validate.hpp"

#include <cmath>
#include <map>

#include "bitlens/layer_table.hpp"
#include "frontend/assemble.hpp"

namespace bitlens::frontend {
namespace {


std::string describe(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return j.get<bool>() ? "true" : "false";
    case json::value_t::string: {
      std::string s = j.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "\"" + s + "\"";
    }
    case json::value_t::array: {
      std::string s = j.dump();
      return s.size() > 40 ? "a list" : s;
    }
    case json::value_t::object: return "an object";
    default: return j.dump();
  }
}

class Checker {
 public:
  Checker(const Layer& l, const LoadLimits& limits)
      : l_(l), limits_(limits), who_("layer '" + l.name + "' (" + l.class_name + ")") {}

  [[noreturn]] void bad_field(const std::string& key, const std::string& expected) const {
    const json& v = l_.config[key];
    throw ModelError("model_config: " + who_ + ": '" + key + "' is " + describe(v) +
                     ", expected " + expected + "; fix the layer's config and " + kResave);
  }

  bool pos_int(const json& v, int64_t cap) const {
    return v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= cap;
  }

  void check(const ConfigKey& f) const {
    using F = ConfigType;
    if (!l_.config.contains(f.key)) {
      if (f.required)
        throw ModelError("model_config: " + who_ + " has no '" + f.key + "'; " + kResave);
      return;
    }
    const json& v = l_.config[f.key];
    const int64_t cap = std::min<int64_t>(limits_.max_elements_per_array, int64_t{1} << 24);
    switch (f.type) {
      case F::PosInt:
        if (!pos_int(v, cap)) bad_field(f.key, "an integer from 1 to " + std::to_string(cap));
        break;
      case F::OptPair:
        if (v.is_null()) break;
        [[fallthrough]];
      case F::Pair:
        if (pos_int(v, 65536)) break;
        if (v.is_array() && v.size() == 2 && pos_int(v[0], 65536) && pos_int(v[1], 65536)) break;
        bad_field(f.key, "two integers from 1 to 65536 such as [3, 3]");
      case F::Padding:
      case F::Padding1D: {
        const char* expected = f.type == F::Padding ? "\"valid\" or \"same\"" : "\"valid\", \"same\" or \"causal\"";
        if (!v.is_string()) bad_field(f.key, expected);
        std::string s = v.get<std::string>();
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (s != "valid" && s != "same" && !(f.type == F::Padding1D && s == "causal")) bad_field(f.key, expected);
        break;
      }
      case F::Size1D:
        if (pos_int(v, 65536) || (v.is_array() && v.size() == 1 && pos_int(v[0], 65536))) break;
        bad_field(f.key, "an integer from 1 to 65536 such as [3]");
      case F::Any:
      case F::DType:
        break;
      case F::Bool:
        if (!v.is_boolean()) bad_field(f.key, "true or false");
        break;
      case F::Number:
        if (!v.is_number()) bad_field(f.key, "a number");
        break;
      case F::OptNumber:
        if (!v.is_null() && !v.is_number()) bad_field(f.key, "a number or null");
        break;
      case F::String:
        if (!v.is_string()) bad_field(f.key, "a string");
        break;
      case F::Activation:
        if (!v.is_string() && !v.is_null() &&
            !(v.is_object() && v.contains("class_name") && v["class_name"].is_string()))
          bad_field(f.key, "an activation name such as \"relu\"");
        break;
      case F::Quantizer:
        if (v.is_null() || v.is_string()) break;
        if (v.is_object() && v.contains("class_name") && v["class_name"].is_string() &&
            (!v.contains("config") || v["config"].is_object() || v["config"].is_null()))
          break;
        bad_field(f.key, "null, a quantizer name such as \"ste_sign\", or {\"class_name\": "
                         "\"SteSign\", \"config\": {...}}");
      case F::Axis:
        if (v.is_number_integer()) break;
        if (v.is_array() && !v.empty() && v.size() <= 8) {
          bool ok = true;
          for (const auto& a : v) ok = ok && a.is_number_integer();
          if (ok) break;
        }
        bad_field(f.key, "an axis index such as -1");
      case F::TargetShape: {
        if (!v.is_array() || v.empty() || v.size() > 8) bad_field(f.key, "a list of dimensions");
        int minus = 0;
        int64_t n = 1;
        for (const auto& d : v) {
          if (d.is_number_integer() && d.get<int64_t>() == -1) {
            ++minus;
            continue;
          }
          if (!pos_int(d, limits_.max_elements_per_array)) bad_field(f.key, "a list of positive dimensions");
          n *= d.get<int64_t>();
          if (n > limits_.max_elements_per_array)
            throw ModelError("model_config: " + who_ + ": 'target_shape' " + v.dump() +
                             " claims more than " + std::to_string(limits_.max_elements_per_array) +
                             " elements, more than BitLens accepts; fix the layer's config");
        }
        if (minus > 1) bad_field(f.key, "at most one -1");
        break;
      }
      case F::ZeroPad: {
        auto nonneg = [](const json& x) {
          return x.is_number_integer() && x.get<int64_t>() >= 0 && x.get<int64_t>() <= 65536;
        };
        if (nonneg(v)) break;
        if (v.is_array() && v.size() == 2) {
          if (nonneg(v[0]) && nonneg(v[1])) break;
          if (v[0].is_array() && v[1].is_array() && v[0].size() == 2 && v[1].size() == 2 &&
              nonneg(v[0][0]) && nonneg(v[0][1]) && nonneg(v[1][0]) && nonneg(v[1][1]))
            break;
        }
        bad_field(f.key, "padding such as [[1, 1], [1, 1]]");
      }
    }
  }

  void check_input_layer() const {
    const json* shape = nullptr;
    for (const char* k : {"batch_input_shape", "batch_shape"})
      if (l_.config.contains(k)) shape = &l_.config[k];
    if (!shape)
      throw ModelError("model_config: " + who_ + " has no 'batch_input_shape'; build the model "
                       "with keras.Input(shape=...) and " + kResave);
    if (!shape->is_array() || shape->empty() || shape->size() > 9)
      throw ModelError("model_config: " + who_ + ": the input shape is " + describe(*shape) +
                       ", expected a list such as [null, 28, 28, 1]; " + kResave);
    int64_t n = 1;
    for (size_t i = 0; i < shape->size(); ++i) {
      const json& d = (*shape)[i];
      if (d.is_null()) continue;
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        throw ModelError("model_config: " + who_ + ": input dimension " + std::to_string(i) +
                         " is " + describe(d) + ", expected a size or null; " + kResave);
      int64_t v = d.get<int64_t>();
      if (i == 0) continue;  // batch
      if (v != 0 && n > limits_.max_elements_per_array / v) n = limits_.max_elements_per_array + 1;
      else n *= v;
      if (n > limits_.max_elements_per_array)
        throw ModelError("model_config: " + who_ + ": input shape " + shape->dump() +
                         " claims more than " + std::to_string(limits_.max_elements_per_array) +
                         " elements per sample, more than BitLens accepts; use a smaller input");
    }
  }

  std::array<int64_t, 2> pair(const char* key, int64_t dflt) const {
    if (!l_.config.contains(key)) return {dflt, dflt};
    const json& v = l_.config[key];
    if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  }
  int64_t integer(const char* key, int64_t dflt) const {
    return l_.config.contains(key) ? l_.config[key].get<int64_t>() : dflt;
  }
  bool flag(const char* key, bool dflt) const {
    return l_.config.contains(key) ? l_.config[key].get<bool>() : dflt;
  }

  const Array* weight(const std::string& s, bool required) const {
    auto it = l_.weights.find(s);
    if (it == l_.weights.end()) {
      if (required)
        throw ModelError(who_ + ": weight '" + s + "' is missing from the file; the model was "
                         "saved without it — build the model (call it once) and " + kResave);
      return nullptr;
    }
    return &it->second;
  }

  void unexpected(const std::string& s, const std::string& why) const {
    if (l_.weights.count(s))
      throw ModelError(who_ + ": the file stores a weight '" + s + "' but " + why +
                       "; the config and the weights do not match — " + kResave);
  }

  // `want`: -1 = any size.
  void shape(const std::string& s, const Array& a, const std::vector<int64_t>& want,
             const std::string& because) const {
    bool ok = a.shape.size() == want.size();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || a.shape[i] == want[i];
    if (ok) return;
    std::string w = "(";
    for (size_t i = 0; i < want.size(); ++i)
      w += (i ? ", " : "") + (want[i] < 0 ? std::string("*") : std::to_string(want[i]));
    w += want.size() == 1 ? ",)" : ")";
    throw ModelError(who_ + ": weight '" + s + "' has shape " + shape_tuple(a.shape) + " but " +
                     because + ", so it must be " + w + "; the config and the weights do not "
                     "match — " + kResave);
  }

  void check_weights() const {
    const std::string& c = l_.class_name;
    bool conv = c == "Conv2D" || c == "QuantConv2D" || c == "QConv2D";
    bool dw = c == "DepthwiseConv2D" || c == "QuantDepthwiseConv2D" || c == "QDepthwiseConv2D";
    bool sep = c == "SeparableConv2D" || c == "QuantSeparableConv2D";
    bool dense = c == "Dense" || c == "QuantDense" || c == "QDense";
    if (conv || dw || sep || dense) {
      bool use_bias = flag("use_bias", true);
      int64_t out = 0;
      if (conv) {
        auto k = pair("kernel_size", 1);
        int64_t filters = integer("filters", 1);
        shape("kernel", *weight("kernel", true), {k[0], k[1], -1, filters},
              "the config says kernel_size=(" + std::to_string(k[0]) + ", " +
                  std::to_string(k[1]) + ") and filters=" + std::to_string(filters));
        out = filters;
      } else if (dw || sep) {
        auto k = pair("kernel_size", 1);
        int64_t dm = integer("depth_multiplier", 1);
        const Array& d = *weight("depthwise_kernel", true);
        shape("depthwise_kernel", d, {k[0], k[1], -1, dm},
              "the config says kernel_size=(" + std::to_string(k[0]) + ", " +
                  std::to_string(k[1]) + ") and depth_multiplier=" + std::to_string(dm));
        out = d.shape[2] * dm;
        if (sep) {
          int64_t filters = integer("filters", 1);
          shape("pointwise_kernel", *weight("pointwise_kernel", true), {1, 1, out, filters},
                "the depthwise kernel gives " + std::to_string(out) +
                    " channels and the config says filters=" + std::to_string(filters));
          out = filters;
        }
      } else {
        int64_t units = integer("units", 1);
        shape("kernel", *weight("kernel", true), {-1, units},
              "the config says units=" + std::to_string(units));
        out = units;
      }
      if (use_bias) {
        shape("bias", *weight("bias", true), {out},
              "the layer has " + std::to_string(out) + " output channels");
      } else {
        unexpected("bias", "the config says use_bias=false");
      }
    } else if (c == "BatchNormalization") {
      bool scale = flag("scale", true), center = flag("center", true);
      const Array& mean = *weight("moving_mean", true);
      if (mean.shape.size() != 1)
        shape("moving_mean", mean, {-1}, "BatchNormalization keeps one value per channel");
      std::vector<int64_t> want = {mean.shape[0]};
      std::string because = "moving_mean has " + std::to_string(mean.shape[0]) + " channels";
      const Array& var = *weight("moving_variance", true);
      shape("moving_variance", var, want, because);
      if (scale) shape("gamma", *weight("gamma", true), want, because);
      else unexpected("gamma", "the config says scale=false");
      if (center) shape("beta", *weight("beta", true), want, because);
      else unexpected("beta", "the config says center=false");
      // Values (negative variance, NaN, epsilon <= 0) are not checked here: Keras loads such a
      // model, so it is reported for this layer when compiled (BN_PARAMS) and refused by the
      // reference interpreter, with the rest of the model still analysed.
    }
  }

  void check_finite() const {
    // BatchNormalization's parameters are checked as a whole when compiled (BN_PARAMS).
    if (l_.class_name == "BatchNormalization") return;
    for (const auto& [s, a] : l_.weights) {
      for (size_t i = 0; i < a.data.size(); ++i) {
        float v = a.data[i];
        if (std::isfinite(v)) continue;
        std::string what = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
        throw ModelError(who_ + ": weight '" + s + "' holds " + what + " at index " +
                         std::to_string(i) + " of " + std::to_string(a.data.size()) +
                         "; training diverged or the file is damaged — retrain or fix the "
                         "weights before deploying");
      }
    }
  }

  void run() const {
    if (l_.class_name == "InputLayer") {
      check_input_layer();
    } else {
      if (const LayerInfo* info = find_layer_info(l_.class_name))
        for (const auto& f : info->read) check(f);
      check_weights();
    }
    check_finite();
  }

 private:
  const Layer& l_;
  const LoadLimits& limits_;
  std::string who_;
};

}  // namespace

void validate_layer(const Layer& layer, const LoadLimits& limits) {
  if (!layer.config.is_object())
    throw ModelError("model_config: layer '" + layer.name + "' (" + layer.class_name +
                     "): 'config' is not an object; " + kResave);
  Checker(layer, limits).run();
}

std::optional<std::vector<std::string>> variable_order(const std::string& c, const json& cfg) {
  auto flag = [&](const char* k, bool d) {
    return cfg.is_object() && cfg.contains(k) && cfg[k].is_boolean() ? cfg[k].get<bool>() : d;
  };
  std::vector<std::string> v;
  if (const LayerInfo* info = find_layer_info(c)) {
    for (const auto& w : info->weights)
      if (!w.unless_false || flag(w.unless_false, true)) v.push_back(w.name);
    return v;
  }
  // Classes BitLens refuses whose files must still load, so the refusal can name the layer.
  if (c == "Conv3D" || c == "QuantConv3D" || c == "Conv2DTranspose" || c == "QuantConv2DTranspose") {
    v = {"kernel"};
    if (flag("use_bias", true)) v.push_back("bias");
    return v;
  }
  return std::nullopt;
}

}  // namespace bitlens::frontend
