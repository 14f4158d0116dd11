// `bitlens export`: writes a ready-to-build firmware project for one board (see docs/export.md).
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bitlens/export.hpp"
#include "commands.hpp"

namespace bitlens::cli {

namespace {

int export_project(const std::string& model_file, const std::string& board_id, const std::string& out, bool force,
                   ProjectOptions po, const CompileOptions& opt);

}  // namespace

Command export_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models;
    std::string board, out;
    bool force = false;
    ProjectOptions project;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = root.add_subcommand("export", "write a ready-to-build STM32/QEMU firmware project (--board B --out DIR)");
  cmd->footer(
      "Writes a self-contained firmware project for board B (see 'bitlens boards'): network/ (the\n"
      "generated NAME.h, NAME.c, NAME_data.c), bitlens/ (the kernel library), app/ (a test program\n"
      "with N embedded test vectors and the host runtime's outputs for them), board/ (start-up,\n"
      "linker script, clock/console set-up), Makefile, CMakeLists.txt + toolchain file, README.md.\n"
      "Build it with 'make' (arm-none-eabi-gcc + newlib only); 'make run' on QEMU boards.\n"
      "\n"
      "Exit status: 0 written, 2 unusable model, unknown board or DIR not empty (without --force).");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  cmd->add_option("--board", o->board, "the target board (list: 'bitlens boards')")->option_text("B");
  cmd->add_option("-o,--out", o->out, "the project directory to write")->option_text("DIR");
  cmd->add_option("--name", o->project.name, "network name used in file and symbol names (default: the model file name)")
      ->option_text("NAME");
  cmd->add_flag("--force", o->force, "write into a non-empty DIR (only the project's files are replaced)");
  cmd->add_option("--vectors", o->project.vectors, "test vectors to embed (default 2)")
      ->check(CLI::Range(1, 1000))
      ->option_text("N");
  add_seed(cmd, "--seed", o->project.seed, "random seed of the test vectors");
  add_compile_options(cmd, o->compile);
  return {cmd, [o, cmd]() -> int {
            const std::string& model_file = single_model(cmd, o->models);
            if (o->board.empty()) usage_error("export: --board B is required (list: 'bitlens boards')");
            if (o->out.empty()) usage_error("export: --out DIR is required");
            return export_project(model_file, o->board, o->out, o->force, o->project, o->compile);
          }};
}

namespace {

int export_project(const std::string& model_file, const std::string& board_id, const std::string& out, bool force,
                   ProjectOptions po, const CompileOptions& opt) {
  try {
    const Board board = find_board(board_id);
    const CompileResult c = compile(load_model(model_file), opt);
    const Project p = make_project(c, board, po);
    write_project(p.files, out, force);
    std::cout << "Exported network '" << p.network.name << "' for " << board.id << " to " << out << " (" << p.files.size()
              << " files, " << p.vectors << " test vector(s))\n";
    std::cout << fit_text(p.fit);
    std::cout << "Build: cd " << out << " && make" << (board.emulated ? " && make run" : " && make flash") << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", model_file.c_str(), error_text(e).c_str());
    return 2;
  }
}

}  // namespace

}  // namespace bitlens::cli
