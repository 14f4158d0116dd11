// The `bitlens` command line: thin layer over the core (parse options, call, print, exit codes).
// Exit status: 0 success, 1 a check failed (validate/compare mismatch), 2 unusable input.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/boards.hpp"
#include "bitlens/compiler.hpp"
#include "bitlens/model.hpp"
#include "bitlens/report.hpp"
#include "commands.hpp"

namespace bitlens::cli {

const char* const kUsage =
    "usage: bitlens <command> [options]\n"
    "\n"
    "Inspect Keras/Larq binary networks: which layers run on exact 1-bit kernels, which fall\n"
    "back, why, and what it costs.\n"
    "\n"
    "commands:\n"
    "  analyze MODEL   report kernels, reasons, MACC/ROM/RAM and the memory plan\n"
    "  run MODEL       run the model on the host (kernels or reference engine)\n"
    "  compare MODEL.. compare pad_values variants or model files side by side\n"
    "  variant MODEL   write a copy of the model with pad_values changed\n"
    "  export MODEL    write a ready-to-build STM32/QEMU firmware project (--board B --out DIR)\n"
    "  validate MODEL  build and run the generated C (host or QEMU) and compare with the host\n"
    "  boards          list the boards export, validate and analyze --board know\n"
    "  help [COMMAND]  show help for a command\n"
    "\n"
    "options: --help, --version\n";

const std::map<std::string, std::string>& command_help() {
  static const std::map<std::string, std::string> h = {
      {"analyze",
       "usage: bitlens analyze MODEL [--json] [--pad-values V] [--set LAYER.pad_values=V]... [--width N]\n"
       "                       [--board B]\n"
       "\n"
       "Reads a Keras .h5 or .keras model and prints, per layer, the kernel class (binary,\n"
       "binary-weights, float, fused, none, unsupported) with reason codes, MACC, ROM, the\n"
       "operation-type table, complexity bars and the memory plan.\n"
       "\n"
       "  --json               print one JSON document instead (schema: docs/report-format.md)\n"
       "  --pad-values V       what-if: override pad_values of every Larq conv layer (-1, 0, 1, ...)\n"
       "  --set L.pad_values=V what-if: override one layer's pad_values (repeatable)\n"
       "  --width N            fit the text report to N columns (80..160, default 100)\n"
       "  --board B            also check whether the model fits board B (see 'bitlens boards')\n"
       "\n"
       "Exit status: 0 report produced (also with unsupported layers), 2 unusable input.\n"},
      {"run",
       "usage: bitlens run MODEL (--input [NAME=]X.npy... | --random SEED [--batch N])\n"
       "                  [--output [NAME=]Y.npy...] [--engine kernels|reference]\n"
       "                  [--pad-values V] [--set L.pad_values=V]...\n"
       "\n"
       "Runs the model on the host. The kernels engine uses exactly the kernels and memory plan of\n"
       "an exported project; the reference engine is the independent float interpreter of\n"
       "Keras + Larq semantics. Inputs are float32 .npy files of shape (N, ...) matching the model\n"
       "input; several inputs/outputs take one file each (NAME=FILE). Without --output, a summary\n"
       "of the outputs is printed.\n"
       "\n"
       "Exit status: 0 success, 2 unusable model or input.\n"},
      {"compare",
       "usage: bitlens compare MODEL --pad-values V1,V2,... | --set LAYER.pad_values=V...\n"
       "       bitlens compare A.h5 B.h5 [C.h5...]\n"
       "                      [--input X.npy | --random SEED] [--samples N] [--board B] [--json] [--width N]\n"
       "\n"
       "Compares the model as saved with variants whose pad_values are overridden (every conv\n"
       "layer with --pad-values, one layer per --set), or separate model files (layers matched by\n"
       "name). For each variant: kernel class per layer (changes marked), MACC by op type, ROM,\n"
       "RAM, and functional agreement with the first column from running all variants on the\n"
       "same inputs (default 64 random samples): max/mean abs difference, cosine, top-1\n"
       "agreement for softmax outputs, and per layer the fraction of outputs that differ.\n"
       "pad_values is part of the trained model: changing it without retraining changes outputs.\n"
       "--board B adds whether each variant fits the board (flash and RAM margins) and a coarse\n"
       "Cortex-M instruction estimate from the benchmarked kernel costs (docs/performance.md).\n"},
      {"variant",
       "usage: bitlens variant MODEL (--pad-values V | --set LAYER.pad_values=V...) -o OUT.h5 [--force]\n"
       "\n"
       "Writes a copy of MODEL with only those config values changed: weights, optimizer state,\n"
       "training config and versions are kept as stored. OUT has MODEL's format (.h5, or .keras\n"
       "for a .keras MODEL). Refuses to overwrite an existing file without --force.\n"},
      {"export",
       "usage: bitlens export MODEL --board B --out DIR [--name NAME] [--force] [--vectors N] [--seed S]\n"
       "                      [--pad-values V] [--set L.pad_values=V]...\n"
       "\n"
       "Writes a self-contained firmware project for board B (see 'bitlens boards'): network/ (the\n"
       "generated NAME.h, NAME.c, NAME_data.c), bitlens/ (the kernel library), app/ (a test program\n"
       "with N embedded test vectors and the host runtime's outputs for them), board/ (start-up,\n"
       "linker script, clock/console set-up), Makefile, CMakeLists.txt + toolchain file, README.md.\n"
       "Build it with 'make' (arm-none-eabi-gcc + newlib only); 'make run' on QEMU boards.\n"
       "\n"
       "  --name NAME   network name used in file and symbol names (default: the model file name)\n"
       "  --force       write into a non-empty DIR (only the project's files are replaced)\n"
       "  --vectors N   test vectors to embed (default 2); --seed S their random seed\n"
       "\n"
       "Exit status: 0 written, 2 unusable model, unknown board or DIR not empty (without --force).\n"},
      {"validate",
       "usage: bitlens validate MODEL [--target host|qemu-m4|qemu-m7]\n"
       "                        [--input X.npy... | --random SEED [--batch N]] [--name NAME]\n"
       "                        [--network DIR] [--keep DIR] [--pad-values V] [--set L.pad_values=V]...\n"
       "\n"
       "Generates the C code, builds it (host: the C compiler 'cc'; qemu-m4/qemu-m7: the exported\n"
       "project with arm-none-eabi-gcc), runs it (QEMU mps2-an386 / mps2-an500) and compares its\n"
       "outputs with the host runtime and the reference interpreter: bit-exact counts, differing bits\n"
       "of binary outputs, rmse, mae, l2r, cos and max abs error (ST's definitions) of float outputs,\n"
       "and on QEMU the executed instructions of every step. Default inputs: --random 0 --batch 2.\n"
       "\n"
       "  --network DIR  validate these generated sources (an exported project's network/) instead\n"
       "  --keep DIR     build in DIR and keep it (default: a temporary directory)\n"
       "\n"
       "Exit status: 0 all outputs match, 1 mismatch, 2 unusable model or missing tools (the message\n"
       "names the Debian package to install).\n"},
      {"boards",
       "usage: bitlens boards [--json]\n"
       "\n"
       "Lists the boards (resources/boards/*.json): MCU, core, FPU, flash, RAM, clock and console.\n"
       "'bitlens analyze MODEL --board B' tells whether a model fits one of them.\n"},
  };
  return h;
}

std::string error_text(const std::exception& e) {
  if (dynamic_cast<const ModelError*>(&e)) return e.what();
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return "the host ran out of memory (std::bad_alloc); BitLens checks sizes against its limits "
           "(docs/limits.md) before allocating, so this is a bug: please report the model";
  return std::string("unexpected error: ") + e.what() + "; please report the model and the command";
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "bitlens: error: %s\n", msg.c_str());
  std::exit(2);
}

std::string take_value(const std::vector<std::string>& args, size_t& i) {
  if (i + 1 >= args.size()) usage_error("option " + args[i] + " needs a value");
  return args[++i];
}

float parse_float_option(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  const float f = std::strtof(v.c_str(), &end);
  if (v.empty() || *end != '\0') usage_error(opt + " '" + v + "' is not a number (use -1, 0 or 1)");
  return f;
}

// Options shared by commands that compile a model.
bool parse_compile_option(const std::vector<std::string>& args, size_t& i, CompileOptions& o) {
  if (args[i] == "--pad-values") {
    o.pad_values = parse_float_option("--pad-values", take_value(args, i));
    return true;
  }
  if (args[i] == "--set") {
    try {
      o.sets.push_back(parse_set_option(take_value(args, i)));
    } catch (const ModelError& e) {
      usage_error(e.what());
    }
    return true;
  }
  return false;
}

bool model_command_arg(const char* cmd, const std::vector<std::string>& args, size_t& i, CompileOptions& opt,
                       std::string& model) {
  const std::string& a = args[i];
  if (a == "--help" || a == "-h") {
    std::fputs(command_help().at(cmd).c_str(), stdout);
    return false;
  }
  if (parse_compile_option(args, i, opt)) return true;
  const std::string c = cmd;
  if (!a.empty() && a[0] == '-') usage_error(c + ": unknown option " + a + " (see 'bitlens help " + c + "')");
  if (!model.empty()) usage_error(c + ": only one MODEL may be given (got '" + model + "' and '" + a + "')");
  model = a;
  return true;
}

static int cmd_analyze(const std::vector<std::string>& args) {
  std::string file;
  bool as_json = false;
  int width = 100;
  std::string board;
  CompileOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      as_json = true;
    } else if (a == "--board") {
      board = take_value(args, i);
    } else if (a == "--width") {
      width = std::atoi(take_value(args, i).c_str());
    } else if (!model_command_arg("analyze", args, i, opt, file)) {
      return 0;
    }
  }
  if (file.empty()) usage_error("analyze: no MODEL given (see 'bitlens help analyze')");
  try {
    Model m = load_model(file);
    CompileResult r = compile(std::move(m), opt);
    const std::optional<FitCheck> fit = board.empty() ? std::nullopt : std::optional(check_fit(r, find_board(board)));
    if (as_json) {
      json j = json_report(r);
      if (fit) j["fit"] = fit_json(*fit);
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << text_report(r, {width});
      if (fit) std::cout << "\n" << fit_text(*fit);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", file.c_str(), error_text(e).c_str());
    return 2;
  }
}

}  // namespace bitlens::cli

int main(int argc, char** argv) {
  using namespace bitlens::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "--version" || cmd == "version") {
    std::printf("bitlens %s\n", BITLENS_VERSION);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "help") {
    if (rest.empty()) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    auto it = command_help().find(rest[0]);
    if (it == command_help().end()) usage_error("help: unknown command '" + rest[0] + "'");
    std::fputs(it->second.c_str(), stdout);
    return 0;
  }
  // Commands report their own errors naming the file; this is the last resort (e.g. an
  // exception while parsing options), still one line and exit 2, never an abort.
  try {
    if (cmd == "analyze") return cmd_analyze(rest);
    if (cmd == "run") return cmd_run(rest);
    if (cmd == "compare") return cmd_compare(rest);
    if (cmd == "variant") return cmd_variant(rest);
    if (cmd == "export") return cmd_export(rest);
    if (cmd == "validate") return cmd_validate(rest);
    if (cmd == "boards") return cmd_boards(rest);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", cmd.c_str(), error_text(e).c_str());
    return 2;
  }
  usage_error("unknown command '" + cmd + "' (see 'bitlens --help')");
}
