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

int run_model(const std::string& model_file, const std::vector<NamedFile>& inputs,
              const std::vector<NamedFile>& outputs, const std::string& engine, bool random, uint64_t seed,
              int batch, const CompileOptions& opt);

}  // namespace

Command run_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models, inputs, outputs;
    std::string engine = "kernels";
    uint64_t seed = 0;
    int batch = 1;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("run", "run the model on the host (kernels or reference engine)");
  cmd->footer(
      "The kernels engine uses exactly the kernels and memory plan of an exported project; the\n"
      "reference engine is the independent float interpreter of Keras + Larq semantics. Inputs are\n"
      "float32 .npy files of shape (N, ...) matching the model input; several inputs/outputs take\n"
      "one file each (NAME=FILE). Without --output, a summary of the outputs is printed.\n"
      "\n"
      "Exit status: 0 success, 2 unusable model or input.");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  auto* input = cmd->add_option("--input", o->inputs, "input data, one float32 .npy per model input ([NAME=]X.npy)")
                    ->allow_extra_args(false)
                    ->option_text("[NAME=]X.npy");
  auto* random = add_seed(cmd, "--random", o->seed, "run on uniform random inputs in [-1, 1] from SEED");
  input->excludes(random);
  cmd->add_option("--batch", o->batch, "samples with --random (default 1)")
      ->check(CLI::Range(1, 100000))
      ->option_text("N");
  cmd->add_option("--output", o->outputs, "write each model output to a .npy file ([NAME=]Y.npy)")
      ->allow_extra_args(false)
      ->option_text("[NAME=]Y.npy");
  cmd->add_option("--engine", o->engine, "kernels (default) or reference")
      ->check(CLI::IsMember({"kernels", "reference"}));
  add_compile_options(cmd, o->compile);
  return {cmd, [o, cmd, random]() -> int {
            const std::string& model_file = single_model(cmd, o->models);
            const bool use_random = random->count() > 0;
            if (use_random == !o->inputs.empty()) usage_error("run: give either --input FILE or --random SEED");
            std::vector<NamedFile> inputs, outputs;
            for (const auto& f : o->inputs) inputs.push_back(split_named(f));
            for (const auto& f : o->outputs) outputs.push_back(split_named(f));
            return run_model(model_file, inputs, outputs, o->engine, use_random, o->seed, o->batch, o->compile);
          }};
}

namespace {

int run_model(const std::string& model_file, const std::vector<NamedFile>& inputs,
              const std::vector<NamedFile>& outputs, const std::string& engine, bool random, uint64_t seed,
              int batch, const CompileOptions& opt) {
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
    return file_error(current, e);
  }
}

}  // namespace

}  // namespace bitlens::cli
