// `bitlens validate`: builds and runs the generated code (host or QEMU) and compares it with the
// host runtime and the reference interpreter. Exit 0 match, 1 mismatch, 2 unusable model/tools.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bitlens/dataset.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/runtime.hpp"
#include "bitlens/validate.hpp"
#include "commands.hpp"
#include "image_dataset.hpp"

namespace bitlens::cli {

namespace {

int validate_model(const std::string& model_file, const std::vector<std::string>& input_files,
                   const std::string& labels_file, const Preprocess& pre, bool random, uint64_t seed, int batch,
                   ValidateOptions vo, const CompileOptions& opt);
int validate_images(const std::string& model_file, const std::string& dir, const Preprocess& pre, ValidateOptions vo,
                    const CompileOptions& opt);

}  // namespace

Command validate_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models, inputs;
    std::string labels, images;
    Preprocess pre;
    std::string target = "host";
    uint64_t seed = 0;
    int batch = 2;
    ValidateOptions validate;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      root.add_subcommand("validate", "build and run the generated C (host or QEMU) and compare with the host");
  cmd->footer(
      "Generates the C code, builds it (host: the C compiler 'cc'; qemu-m4/qemu-m7: the exported\n"
      "project with arm-none-eabi-gcc), runs it (QEMU mps2-an386 / mps2-an500) and compares its\n"
      "outputs with the host runtime and the reference interpreter: bit-exact counts, differing bits\n"
      "of binary outputs, rmse, mae, l2r, cos and max abs error (ST's definitions) of float outputs,\n"
      "and on QEMU the executed instructions of every step. Default inputs: --random 0 --batch 2.\n"
      "\n"
      "Exit status: 0 all outputs match, 1 mismatch, 2 unusable model or missing tools (the message\n"
      "names the Debian package to install).");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  cmd->add_option("--target", o->target, "host (default), qemu-m4 or qemu-m7")
      ->check(CLI::IsMember({"host", "qemu-m4", "qemu-m7"}));
  auto* input = cmd->add_option("--input", o->inputs, "input data, one float32 .npy per model input, in order")
                    ->allow_extra_args(false)
                    ->option_text("X.npy");
  auto* random = add_seed(cmd, "--random", o->seed, "uniform random inputs in [-1, 1] from SEED (default 0)");
  input->excludes(random);
  auto* labels = cmd->add_option("--labels", o->labels, "class of each input sample: indices (N,) or one-hot (N, K); adds accuracy")
                     ->option_text("Y.npy")
                     ->needs(input);
  cmd->add_option("--images", o->images, "validate on the images of DIR (sub-folders = classes; docs/datasets.md)")
      ->option_text("DIR")
      ->excludes(input)
      ->excludes(random)
      ->excludes(labels);
  cmd->add_option("--scale", o->pre.scale, "multiply every input value by S (uint8 images: 1/255)")->option_text("S");
  cmd->add_option("--offset", o->pre.offset, "then add O (Keras Rescaling(scale, offset))")->option_text("O");
  cmd->add_option("--batch", o->batch, "samples with --random (default 2)")->check(CLI::Range(1, 1000))->option_text("N");
  cmd->add_option("--name", o->validate.name, "network name of the generated code")->option_text("NAME");
  cmd->add_option("--network", o->validate.network_dir,
                  "validate these generated sources (an exported project's network/) instead")
      ->option_text("DIR");
  cmd->add_option("--keep", o->validate.work_dir, "build in DIR and keep it (default: a temporary directory)")
      ->option_text("DIR");
  add_compile_options(cmd, o->compile);
  return {cmd, [o, cmd]() -> int {
            const std::string& model_file = single_model(cmd, o->models);
            ValidateOptions vo = o->validate;
            vo.target = o->target == "qemu-m4"   ? ValidateTarget::QemuM4
                        : o->target == "qemu-m7" ? ValidateTarget::QemuM7
                                                 : ValidateTarget::Host;
            if ((o->pre.scale != 1.0f || o->pre.offset != 0.0f) && o->inputs.empty() && o->images.empty())
              usage_error("validate: --scale and --offset apply to --input or --images");
            if (!o->images.empty()) return validate_images(model_file, o->images, o->pre, vo, o->compile);
            // Default: --random 0 --batch 2.
            return validate_model(model_file, o->inputs, o->labels, o->pre, o->inputs.empty(), o->seed, o->batch, vo,
                                  o->compile);
          }};
}

namespace {

// Runs the validation and prints its table; exit status 0 all outputs match, 1 a mismatch.
int validate_and_print(const CompileResult& c, const ValidateOptions& vo) {
  const ValidateResult r = validate(c, vo);
  std::cout << validate_text(c, r);
  return r.pass() ? 0 : 1;
}

int validate_model(const std::string& model_file, const std::vector<std::string>& input_files,
                   const std::string& labels_file, const Preprocess& pre, bool random, uint64_t seed, int batch,
                   ValidateOptions vo, const CompileOptions& opt) {
  std::string current = model_file;
  Labels labels;
  try {
    const CompileResult c = compile(load_model(model_file), opt);
    if (random) {
      check_host_limits(c, batch, RunKind::Reference);
      vo.inputs = random_inputs(c, seed, batch);
    } else {
      if (input_files.size() != c.graph.inputs.size())
        usage_error("validate: the model has " + std::to_string(c.graph.inputs.size()) + " input(s); give one --input "
                    "file per input, in order");
      for (const auto& f : input_files) {
        current = f;
        vo.inputs.push_back(read_npy(f));
        if (!pre.identity())
          for (float& v : vo.inputs.back().data) v = v * pre.scale + pre.offset;
      }
      current = input_files[0];
      check_inputs(c, vo.inputs);
      if (!labels_file.empty()) {
        current = labels_file;
        labels = read_labels(labels_file);
        vo.labels = &labels;
      }
      current = model_file;
    }
    return validate_and_print(c, vo);
  } catch (const std::exception& e) {
    // Tool failures span several lines (build log); the first line is the error. Messages about
    // the labels start with that file's name.
    if (!labels_file.empty() && error_text(e).rfind(labels_file + ": ", 0) == 0) return file_error(labels_file, e);
    return file_error(current, e);
  }
}

int validate_images(const std::string& model_file, const std::string& dir, const Preprocess& pre, ValidateOptions vo,
                    const CompileOptions& opt) {
  std::string current = model_file;
  try {
    const CompileResult c = compile(load_model(model_file), opt);
    if (c.graph.inputs.size() != 1) usage_error("validate: --images needs a model with one input");
    current = dir;
    const images::ImageFolder folder = images::scan_image_folder(dir);
    auto data = images::image_dataset(folder, c.graph.tensors[c.graph.inputs[0]].shape, pre);
    check_host_limits(c, data->size(), RunKind::Reference);
    vo.inputs = data->read(0, data->size());
    Labels labels;
    if (!folder.classes.empty()) {
      labels = images::image_labels(folder);
      vo.labels = &labels;
    }
    current = model_file;
    return validate_and_print(c, vo);
  } catch (const std::exception& e) {
    if (error_text(e).rfind(dir, 0) == 0) {
      std::fprintf(stderr, "bitlens: error: %s\n", error_text(e).c_str());
      return 2;
    }
    return file_error(current, e);
  }
}

}  // namespace

}  // namespace bitlens::cli
