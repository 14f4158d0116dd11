// `bitlens run`: run a model on the host with the kernels engine or the reference interpreter.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bitlens/format.hpp"
#include "bitlens/compiler.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "commands.hpp"

namespace bitlens::cli {

namespace {

struct NamedFile {
  std::string name;  // empty: positional
  std::string file;
};

NamedFile split_named(const std::string& v) {
  const auto eq = v.find('=');
  if (eq == std::string::npos) return {"", v};
  return {v.substr(0, eq), v.substr(eq + 1)};
}

// Orders NAME=FILE arguments by the model's inputs/outputs (tensor or layer names).
std::vector<std::string> order_files(const std::vector<NamedFile>& given, const std::vector<std::string>& names,
                                     const char* what) {
  std::vector<std::string> files(names.size());
  if (given.size() != names.size()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    usage_error(std::string("the model has ") + std::to_string(names.size()) + " " + what + "(s) (" + list + "), " +
                std::to_string(given.size()) + " --" + what + " file(s) given");
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i].name.empty()) {
      if (names.size() != 1) usage_error(std::string("several ") + what + "s: give each as --" + what + " NAME=FILE");
      files[0] = given[i].file;
      continue;
    }
    bool found = false;
    for (size_t k = 0; k < names.size(); ++k)
      if (names[k] == given[i].name) {
        files[k] = given[i].file;
        found = true;
      }
    if (!found) usage_error(std::string("--") + what + " " + given[i].name + "=...: the model has no " + what + " named '" + given[i].name + "'");
  }
  return files;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args) {
  std::string model_file, engine = "kernels";
  std::vector<NamedFile> inputs, outputs;
  bool random = false;
  uint64_t seed = 0;
  int batch = 1;
  CompileOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--input") {
      inputs.push_back(split_named(take_value(args, i)));
    } else if (a == "--output") {
      outputs.push_back(split_named(take_value(args, i)));
    } else if (a == "--engine") {
      engine = take_value(args, i);
      if (engine != "kernels" && engine != "reference") usage_error("--engine must be 'kernels' or 'reference'");
    } else if (a == "--random") {
      random = true;
      const std::string v = take_value(args, i);
      char* end = nullptr;
      seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end) usage_error("--random SEED must be a non-negative integer");
    } else if (a == "--batch") {
      batch = std::atoi(take_value(args, i).c_str());
      if (batch < 1 || batch > 100000) usage_error("--batch must be between 1 and 100000");
    } else if (!model_command_arg("run", args, i, opt, model_file)) {
      return 0;
    }
  }
  if (model_file.empty()) usage_error("run: no MODEL given (see 'bitlens help run')");
  if (random == !inputs.empty()) usage_error("run: give either --input FILE or --random SEED");

  std::string current = model_file;
  try {
    CompileResult c = compile(load_model(model_file), opt);
    std::vector<std::string> in_names, out_names;
    for (int t : c.graph.inputs) in_names.push_back(c.graph.tensors[t].name);
    for (const auto& r : c.model.outputs) out_names.push_back(r.layer);

    const RunKind kind = engine == "reference" ? RunKind::Reference : RunKind::Kernels;
    std::vector<Array> x;
    if (random) {
      check_host_limits(c, batch, kind);
      x = random_inputs(c, seed, batch);
    } else {
      for (const auto& f : order_files(inputs, in_names, "input")) {
        current = f;
        x.push_back(read_npy(f));
      }
      current = model_file;
    }
    check_inputs(c, x);
    check_host_limits(c, x[0].shape[0], kind);
    std::vector<Array> y;
    if (engine == "reference") {
      y = reference_run(c.model, x);
    } else {
      Executor ex(c);
      y = ex.run(x);
    }
    if (outputs.empty()) {
      for (size_t i = 0; i < y.size(); ++i) {
        std::printf("output '%s' %s, engine %s\n", out_names[i].c_str(), shape_tuple(y[i].shape).c_str(), engine.c_str());
        const int64_t per = y[i].shape[0] ? y[i].size() / y[i].shape[0] : 0;
        for (int64_t b = 0; b < y[i].shape[0]; ++b) {
          std::printf("  [%lld]", static_cast<long long>(b));
          const int64_t show = std::min<int64_t>(per, 10);
          for (int64_t k = 0; k < show; ++k) std::printf(" %.6g", static_cast<double>(y[i].data[b * per + k]));
          if (per > show) std::printf(" ... (%lld values)", static_cast<long long>(per));
          std::printf("\n");
        }
      }
    } else {
      const auto files = order_files(outputs, out_names, "output");
      for (size_t i = 0; i < files.size(); ++i) {
        current = files[i];
        write_npy(files[i], y[i]);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    // Messages about .npy files already start with the file name.
    std::string msg = error_text(e);
    if (msg.rfind(current + ": ", 0) == 0) msg = msg.substr(current.size() + 2);
    std::fprintf(stderr, "bitlens: error: %s: %s\n", current.c_str(), msg.c_str());
    return 2;
  }
}

}  // namespace bitlens::cli
