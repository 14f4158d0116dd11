// `bitlens weights`: the effective inference weights of a model, out of the file (docs/weights.md).
#include <cstdio>
#include <iostream>

#include "bitlens/export.hpp"
#include "bitlens/weights.hpp"
#include "commands.hpp"

namespace bitlens::cli {

Command weights_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models;
    std::string layer, format = "npy", out;
    bool force = false;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("weights", "write the weights the kernels compute with (+-1, thresholds, ...) to DIR");
  cmd->footer(
      "Writes, for every layer that runs with constants (or only --layer NAME), the kernel after its\n"
      "quantizer in Keras' shape (+-1, +-alpha or float), its sign and the packed words the C\n"
      "kernel reads, the bias, and the output stage after folding: integer thresholds and flips for\n"
      "bit outputs, or the float multiply/add steps and the clamp. DIR/weights.json describes every\n"
      "tensor (shape, dtype, meaning, the rule that computes the output); docs/weights.md has the\n"
      "details. --pad-values/--set give the weights of that variant (thresholds depend on them).\n"
      "\n"
      "Formats: npy (one .npy per tensor), c (weights.h + weights.c), json (values inline).\n"
      "Exit status: 0 written, 2 unusable model, unknown layer or DIR not empty (without --force).");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  cmd->add_option("--layer", o->layer, "only this Keras layer (as 'bitlens analyze' names it)")->option_text("NAME");
  cmd->add_option("--format", o->format, "npy (default), c or json")->check(CLI::IsMember({"npy", "c", "json"}));
  cmd->add_option("-o,--out", o->out, "the directory to write")->option_text("DIR");
  cmd->add_flag("--force", o->force, "write into a non-empty DIR (only files BitLens wrote there are replaced)");
  add_compile_options(cmd, o->compile);
  return {cmd, [o, cmd]() -> int {
            const std::string& model_file = single_model(cmd, o->models);
            if (o->out.empty()) usage_error("weights: --out DIR is required");
            try {
              const CompileResult c = compile(load_model(model_file), o->compile);
              const WeightsExport w = effective_weights(c, o->layer);
              const WeightsFormat f = o->format == "c"      ? WeightsFormat::C
                                      : o->format == "json" ? WeightsFormat::Json
                                                            : WeightsFormat::Npy;
              const auto files = weights_files(w, f);
              write_project(files, o->out, o->force);
              size_t tensors = 0;
              for (const auto& n : w.nodes) tensors += n.tensors.size();
              std::cout << "Wrote " << tensors << " tensor(s) of " << w.nodes.size() << " node(s) to " << o->out << " ("
                        << o->format << ", " << files.size() << " file(s); described in weights.json)\n";
              for (const auto& s : w.skipped) std::cout << "  skipped " << s.layer << ": " << s.why << "\n";
              return 0;
            } catch (const std::exception& e) {
              std::fprintf(stderr, "bitlens: error: %s: %s\n", model_file.c_str(), error_text(e).c_str());
              return 2;
            }
          }};
}

}  // namespace bitlens::cli
