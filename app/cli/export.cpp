// `bitlens export`: writes a ready-to-build firmware project for one board (see docs/export.md).
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bitlens/export.hpp"
#include "commands.hpp"

namespace bitlens::cli {

int cmd_export(const std::vector<std::string>& args) {
  std::string model_file, board_id, out, name;
  bool force = false;
  ProjectOptions po;
  CompileOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--board") {
      board_id = take_value(args, i);
    } else if (a == "--out" || a == "-o") {
      out = take_value(args, i);
    } else if (a == "--name") {
      name = take_value(args, i);
    } else if (a == "--force") {
      force = true;
    } else if (a == "--vectors") {
      const std::string v = take_value(args, i);
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1 || n > 1000) usage_error("--vectors must be a number between 1 and 1000");
      po.vectors = static_cast<int>(n);
    } else if (a == "--seed") {
      const std::string v = take_value(args, i);
      char* end = nullptr;
      po.seed = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end) usage_error("--seed must be a non-negative integer");
    } else if (!model_command_arg("export", args, i, opt, model_file)) {
      return 0;
    }
  }
  if (model_file.empty()) usage_error("export: no MODEL given (see 'bitlens help export')");
  if (board_id.empty()) usage_error("export: --board B is required (list: 'bitlens boards')");
  if (out.empty()) usage_error("export: --out DIR is required");
  po.name = name;
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

}  // namespace bitlens::cli
