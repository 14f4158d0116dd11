// Writing changed layer configs back into a model's own config JSON (`bitlens variant`).
#include "frontend/config_patch.hpp"
#include "frontend/assemble.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>

namespace bitlens {

namespace frontend {

std::string entry_name(const json& entry) {
  if (entry.contains("name") && entry["name"].is_string()) return entry["name"].get<std::string>();
  if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name") &&
      entry["config"]["name"].is_string())
    return entry["config"]["name"].get<std::string>();
  if (entry.contains("config") && entry["config"].is_array()) return "sequential";
  return "";
}

json* layer_list(json& model) {
  json& cfg = model["config"];
  if (cfg.is_array()) return &cfg;
  if (cfg.is_object() && cfg.contains("layers") && cfg["layers"].is_array()) return &cfg["layers"];
  return nullptr;
}

std::string layer_key(const std::string& parent, const std::string& name) { return parent + '\n' + name; }

std::string original_name(const Layer& l) {
  if (l.config.is_object() && l.config.contains("name") && l.config["name"].is_string())
    return l.config["name"].get<std::string>();
  return l.name;
}

}  // namespace frontend

namespace {

using frontend::entry_name;
using frontend::layer_key;
using frontend::layer_list;
using frontend::original_name;

// Replaces every layer entry's config with the one held in Model::layers. Returns false when
// the layer sets differ.
bool patch(json& model, const std::string& scope, const std::map<std::string, const Layer*>& by_key,
           std::set<const Layer*>& seen, int depth = 0) {
  if (depth > 32) return false;
  json* list = layer_list(model);
  if (!list) return false;
  for (auto& entry : *list) {
    if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string())
      return false;
    std::string cls = entry["class_name"].get<std::string>();
    std::string name = entry_name(entry);
    if (frontend::is_model_class(cls)) {
      if (!patch(entry, scope.empty() ? name : scope + "/" + name, by_key, seen, depth + 1))
        return false;
      continue;
    }
    if (cls == "InputLayer" && !scope.empty()) continue;  // dropped when flattening
    auto it = by_key.find(layer_key(scope, name));
    if (it == by_key.end()) return false;
    entry["config"] = it->second->config;
    seen.insert(it->second);
  }
  return true;
}

}  // namespace

bool frontend::patch_layer_configs(json& config, const Model& model) {
  std::map<std::string, const Layer*> by_key;
  for (const auto& l : model.layers) by_key[layer_key(l.parent, original_name(l))] = &l;
  std::set<const Layer*> seen;
  if (!patch(config, "", by_key, seen)) return false;
  for (const auto& l : model.layers)
    if (!l.synthetic && !seen.count(&l)) return false;
  return true;
}

json variant_config_changes(const json& original, const Model& changed) {
  // The same patch write_model_h5 applies, but onto the source's own config, so layers, nodes
  // and every key BitLens does not model stay as the file has them.
  json patched = original;
  const bool ok = patched.is_object() && patched.contains("config") && frontend::patch_layer_configs(patched, changed);
  if (!ok)
    throw ModelError("the variant's layers no longer match the source model's config (layers were "
                     "added, removed or renamed); a variant can only change config values");
  return json::diff(original, patched);
}

std::optional<std::string> apply_config_changes(const std::string& source_text, const json& changes) {
  if (!changes.is_array()) throw ModelError("internal: config changes are not a JSON patch");
  if (changes.empty()) return std::nullopt;
  // Applied to an order-preserving parse of the text: keys keep the order the file has them in.
  try {
    nlohmann::ordered_json out = nlohmann::ordered_json::parse(source_text);
    out = out.patch(nlohmann::ordered_json::parse(changes.dump()));
    return out.dump();
  } catch (const nlohmann::ordered_json::exception& e) {
    throw ModelError(std::string("cannot apply the changed config values (") + e.what() + ")");
  }
}

std::optional<std::string> variant_config_text(const std::string& source_text, const Model& changed) {
  json original;
  try {
    original = json::parse(source_text);
  } catch (const json::parse_error& e) {
    throw ModelError("the model's config is not valid JSON (at byte " + std::to_string(e.byte) +
                     "); re-save the model");
  }
  return apply_config_changes(source_text, variant_config_changes(original, changed));
}

}  // namespace bitlens
