// `bitlens compare` (variants side by side) and `bitlens variant` (write a pad_values variant).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "bitlens/compare.hpp"
#include "bitlens/npy.hpp"
#include "commands.hpp"

namespace bitlens::cli {

namespace {

std::vector<float> parse_float_list(const std::string& v) {
  std::vector<float> r;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const float f = std::strtof(item.c_str(), &end);
    if (item.empty() || *end) usage_error("--pad-values '" + v + "': '" + item + "' is not a number (e.g. -1,0,1)");
    r.push_back(f);
  }
  if (r.empty()) usage_error("--pad-values needs at least one value (e.g. -1,0,1)");
  return r;
}

std::string value_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  return buf;
}

}  // namespace

int cmd_compare(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  std::vector<float> pads;
  std::vector<CompileOptions::Set> sets;
  std::string input;
  CompareOptions opt;
  bool as_json = false;
  int width = 120;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--pad-values") {
      pads = parse_float_list(take_value(args, i));
    } else if (a == "--set") {
      try {
        sets.push_back(parse_set_option(take_value(args, i)));
      } catch (const ModelError& e) {
        usage_error(e.what());
      }
    } else if (a == "--input") {
      input = take_value(args, i);
    } else if (a == "--random") {
      opt.seed = std::strtoull(take_value(args, i).c_str(), nullptr, 10);
    } else if (a == "--samples") {
      opt.samples = std::atoi(take_value(args, i).c_str());
      if (opt.samples < 1 || opt.samples > 100000) usage_error("--samples must be between 1 and 100000");
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--board") {
      opt.board = take_value(args, i);
    } else if (a == "--width") {
      width = std::atoi(take_value(args, i).c_str());
    } else if (a == "--help" || a == "-h") {
      std::fputs(command_help().at("compare").c_str(), stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage_error("compare: unknown option " + a + " (see 'bitlens help compare')");
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) usage_error("compare: no MODEL given (see 'bitlens help compare')");
  if (files.size() == 1 && pads.empty() && sets.empty())
    usage_error("compare: give --pad-values V1,V2,..., --set LAYER.pad_values=V, or several model files");

  std::vector<VariantSpec> specs;
  for (const auto& f : files) specs.push_back({files.size() == 1 ? "saved" : std::filesystem::path(f).filename().string(), f, {}});
  for (float p : pads) {
    VariantSpec s{"pad=" + value_text(p), files[0], {}};
    s.options.pad_values = p;
    specs.push_back(s);
  }
  for (const auto& st : sets) {
    VariantSpec s{st.layer + "=" + st.value.dump(), files[0], {}};
    s.options.sets.push_back(st);
    specs.push_back(s);
  }
  std::string current = files[0];
  try {
    if (!input.empty()) {
      current = input;
      opt.inputs.push_back(read_npy(input));
      current = files[0];
    }
    const CompareResult r = compare_variants(specs, opt);
    if (as_json)
      std::cout << compare_json(r).dump(2) << "\n";
    else
      std::cout << compare_text(r, width);
    return 0;
  } catch (const std::exception& e) {
    std::string msg = error_text(e);
    if (msg.rfind(current + ": ", 0) == 0) msg = msg.substr(current.size() + 2);
    std::fprintf(stderr, "bitlens: error: %s: %s\n", current.c_str(), msg.c_str());
    return 2;
  }
}

int cmd_variant(const std::vector<std::string>& args) {
  std::string file, out;
  bool force = false;
  CompileOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" || a == "--output") {
      out = take_value(args, i);
    } else if (a == "--force") {
      force = true;
    } else if (!model_command_arg("variant", args, i, opt, file)) {
      return 0;
    }
  }
  if (file.empty()) usage_error("variant: no MODEL given (see 'bitlens help variant')");
  if (out.empty()) usage_error("variant: no output file given (-o OUT.h5)");
  if (!opt.pad_values && opt.sets.empty()) usage_error("variant: give --pad-values V or --set LAYER.pad_values=V");
  if (std::filesystem::exists(out) && !force) {
    std::fprintf(stderr, "bitlens: error: %s: the file exists; pass --force to overwrite it\n", out.c_str());
    return 2;
  }
  if (std::filesystem::exists(out) && std::filesystem::equivalent(out, file)) {
    std::fprintf(stderr, "bitlens: error: %s: refusing to overwrite the input model; write the variant to another file\n",
                 out.c_str());
    return 2;
  }
  std::string current = file;
  try {
    Model m = load_model(file);
    apply_overrides(m, opt);
    current = out;
    // A copy of the source with only the changed config values replaced (optimizer state,
    // training config and versions survive), written through a temporary file next to `out`.
    write_variant(file, m, out);
    std::printf("wrote %s\n", out.c_str());
    return 0;
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", out.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", current.c_str(), error_text(e).c_str());
    return 2;
  }
}

}  // namespace bitlens::cli
