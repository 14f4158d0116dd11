// `bitlens compare` (variants side by side) and `bitlens variant` (write a pad_values variant).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "bitlens/compare.hpp"
#include "bitlens/dataset.hpp"
#include "bitlens/format.hpp"
#include "bitlens/npy.hpp"
#include "commands.hpp"
#include "image_dataset.hpp"

namespace bitlens::cli {

namespace {

// A progress bar on stderr, only when stderr is a terminal (never in pipes, logs or tests).
std::function<bool(int64_t, int64_t)> terminal_progress(const char* what) {
  if (!::isatty(2)) return {};
  return [what](int64_t done, int64_t total) {
    const int width = 30, filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld samples", what, std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done >= total) std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    return true;
  };
}

int compare_models(const std::vector<std::string>& files, const std::vector<float>& pads,
                   const std::vector<CompileOptions::Set>& sets, const std::string& input, const std::string& labels_file,
                   const std::string& images, const Preprocess& pre, CompareOptions opt, bool prefer_ram, bool as_json,
                   int width) {
  if (files.empty()) usage_error("compare: no MODEL given (see 'bitlens help compare')");
  if (files.size() == 1 && pads.empty() && sets.empty())
    usage_error("compare: give --pad-values V1,V2,..., --set LAYER.pad_values=V, or several model files");

  std::vector<VariantSpec> specs;
  for (const auto& f : files) specs.push_back({files.size() == 1 ? "saved" : std::filesystem::path(f).filename().string(), f, {}});
  for (float p : pads) {
    VariantSpec s{"pad=" + short_number(p), files[0], {}};
    s.options.pad_values = p;
    specs.push_back(s);
  }
  for (const auto& st : sets) {
    VariantSpec s{st.layer + "=" + st.value.dump(), files[0], {}};
    s.options.sets.push_back(st);
    specs.push_back(s);
  }
  for (auto& s : specs) s.options.prefer_ram = prefer_ram;
  std::string current = files[0];
  try {
    std::unique_ptr<Dataset> data;
    Labels labels;
    if (!images.empty()) {
      current = images;
      const images::ImageFolder folder = images::scan_image_folder(images);
      current = files[0];
      data = images::image_dataset(folder, images::model_input_shape(files[0]), pre);
      opt.dataset = data.get();
      if (!folder.classes.empty()) {
        labels = images::image_labels(folder);
        opt.labels = &labels;
      }
    }
    if (!input.empty()) {
      current = input;
      data = npy_dataset({input}, pre);
      opt.dataset = data.get();
    }
    if (!labels_file.empty()) {
      current = labels_file;
      labels = read_labels(labels_file);
      opt.labels = &labels;
    }
    current = files[0];
    opt.progress = terminal_progress("compare");
    const CompareResult r = compare_variants(specs, opt);
    if (as_json)
      std::cout << compare_json(r).dump(2) << "\n";
    else
      std::cout << compare_text(r, width);
    return 0;
  } catch (const std::exception& e) {
    // Messages about the samples or labels start with that file's name.
    const std::string m = error_text(e);
    for (const auto& f : {input, labels_file})
      if (!f.empty() && m.rfind(f + ": ", 0) == 0) return file_error(f, e);
    // Image messages name the folder or the image in it.
    if (!images.empty() && m.rfind(images, 0) == 0) {
      std::fprintf(stderr, "bitlens: error: %s\n", m.c_str());
      return 2;
    }
    return file_error(current, e);
  }
}

int write_variant_file(const std::string& file, const std::string& out, bool force, const CompileOptions& opt);

}  // namespace

Command compare_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> files;
    std::vector<float> pads;
    std::vector<CompileOptions::Set> sets;
    std::string board;
    std::string input, labels, images;
    Preprocess pre;
    CompareOptions compare;
    bool as_json = false;
    bool prefer_ram = false;
    int width = 120;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("compare", "compare pad_values variants or model files side by side");
  cmd->footer(
      "Forms: bitlens compare MODEL --pad-values V1,V2,... | --set LAYER.pad_values=V...\n"
      "       bitlens compare A.h5 B.h5 [C.h5...]\n"
      "\n"
      "Compares the model as saved with variants whose pad_values are overridden (every conv\n"
      "layer with --pad-values, one layer per --set), or separate model files (layers matched by\n"
      "name). For each variant: kernel class per layer (changes marked), MACC by op type, ROM,\n"
      "RAM, and functional agreement with the first column from running all variants on the\n"
      "same inputs (default 64 random samples): max/mean abs difference, cosine, top-1\n"
      "agreement for softmax outputs, and per layer the fraction of outputs that differ.\n"
      "--input X.npy --labels Y.npy: your own samples (streamed in batches of --batch; a progress\n"
      "bar on a terminal) and their classes: top-1 (and top-5) accuracy of every variant, the\n"
      "per-class confusion matrix in --json. uint8 images: --scale 0.00392157 gives [0, 1].\n"
      "pad_values is part of the trained model: changing it without retraining changes outputs.\n"
      "--board B adds whether each variant fits the board (flash and RAM margins) and a coarse\n"
      "Cortex-M instruction estimate from the benchmarked kernel costs (docs/performance.md).");
  cmd->add_option("MODEL", o->files, "the model, or several model files to compare");
  cmd->add_option("--pad-values", o->pads, "one variant per value: every conv layer's pad_values set to it")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->option_text("V1,V2,...");
  add_set_option(cmd, o->sets);
  auto* input = cmd->add_option("--input", o->input, "compare on these samples: one .npy (N, ...) of any numeric dtype")
                    ->option_text("X.npy");
  add_seed(cmd, "--random", o->compare.seed, "random inputs from SEED (default 0)")->excludes(input);
  auto* labels = cmd->add_option("--labels", o->labels, "class of each sample: indices (N,) or one-hot (N, K); adds accuracy")
                     ->option_text("Y.npy");
  labels->needs(input);
  auto* images = cmd->add_option("--images", o->images,
                                 "compare on the images of DIR (one sub-folder per class gives the labels; docs/datasets.md)")
                     ->option_text("DIR")
                     ->excludes(input);
  images->excludes(labels);
  cmd->get_option("--random")->excludes(images);
  cmd->add_option("--scale", o->pre.scale, "multiply every input value by S (uint8 images: 1/255 = 0.00392157)")
      ->option_text("S");
  cmd->add_option("--offset", o->pre.offset, "then add O (Keras Rescaling(scale, offset))")->option_text("O");
  cmd->add_option("--samples", o->compare.samples, "random samples (default 64)")
      ->check(CLI::Range(1, 100000))
      ->option_text("N");
  cmd->add_option("--batch", o->compare.batch, "samples held in memory at once (default 256)")
      ->check(CLI::Range(1, 1000000))
      ->option_text("N");
  cmd->add_option("--board", o->board, "add fit and instruction estimates for board B")->option_text("B");
  cmd->add_flag("--prefer-ram", o->prefer_ram,
                "compile every variant passing over kernels that trade scratch RAM for speed, as analyze --prefer-ram");
  cmd->add_flag("--json", o->as_json, "print one JSON document instead");
  cmd->add_option("--width", o->width, "fit the text to N columns (default 120)")->option_text("N");
  return {cmd, [o]() -> int {
            if (!o->board.empty()) o->compare.board = o->board;
            if ((o->pre.scale != 1.0f || o->pre.offset != 0.0f) && o->input.empty() && o->images.empty())
              usage_error("compare: --scale and --offset apply to --input or --images");
            return compare_models(o->files, o->pads, o->sets, o->input, o->labels, o->images, o->pre, o->compare,
                                  o->prefer_ram, o->as_json, o->width);
          }};
}

Command variant_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models;
    std::string out;
    bool force = false;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("variant", "write a copy of the model with pad_values changed");
  cmd->footer(
      "Writes a copy of MODEL with only those config values changed: weights, optimizer state,\n"
      "training config and versions are kept as stored. OUT has MODEL's format (.h5, or .keras\n"
      "for a .keras MODEL). Refuses to overwrite an existing file without --force.");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  add_compile_options(cmd, o->compile);
  cmd->add_option("-o,--output", o->out, "the file to write")->option_text("OUT.h5");
  cmd->add_flag("--force", o->force, "overwrite OUT if it exists");
  return {cmd, [o, cmd]() -> int {
            const std::string& file = single_model(cmd, o->models);
            return write_variant_file(file, o->out, o->force, o->compile);
          }};
}

namespace {

int write_variant_file(const std::string& file, const std::string& out, bool force, const CompileOptions& opt) {
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

}  // namespace

}  // namespace bitlens::cli
