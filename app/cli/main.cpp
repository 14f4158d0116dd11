// The `bitlens` command line: thin layer over the core (parse options, call, print, exit codes).
// Exit status: 0 success, 1 a check failed (validate/compare mismatch), 2 unusable input.
// Options are declared once per command with CLI11 (commands.hpp); this file holds the shared
// declarations, the mapping of every parse error to one line and exit 2, and `analyze`.
#include <cstdio>
#include <cstdlib>
#include <iostream>
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

std::string error_text(const std::exception& e) {
  if (dynamic_cast<const ModelError*>(&e)) return e.what();
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return "the host ran out of memory (std::bad_alloc); BitLens checks sizes against its limits "
           "(docs/limits.md) before allocating, so this is a bug: please report the model";
  return std::string("unexpected error: ") + e.what() + "; please report the model and the command";
}

int file_error(const std::string& file, const std::exception& e) {
  std::string msg = error_text(e);
  if (msg.rfind(file + ": ", 0) == 0) msg = msg.substr(file.size() + 2);
  std::fprintf(stderr, "bitlens: error: %s: %s\n", file.c_str(), msg.c_str());
  return 2;
}

void usage_error(const std::string& msg) {
  std::fprintf(stderr, "bitlens: error: %s\n", msg.c_str());
  std::exit(2);
}

void add_models(CLI::App* cmd, std::vector<std::string>& models, const std::string& help) {
  cmd->add_option("MODEL", models, help);
}

void add_compile_options(CLI::App* cmd, CompileOptions& o) {
  cmd->add_option_function<float>(
         "--pad-values", [&o](const float& v) { o.pad_values = v; },
         "what-if: override pad_values of every Larq conv layer (-1, 0, 1, ...)")
      ->option_text("V");
  add_set_option(cmd, o.sets);
  cmd->add_flag("--prefer-ram", o.prefer_ram,
                "pass over kernels that trade scratch RAM for speed (the bit-sliced binary conv: "
                "about 9 KB on the forum model, 2-5x fewer instructions on few-channel layers)");
}

void add_set_option(CLI::App* cmd, std::vector<CompileOptions::Set>& sets) {
  // Checked while parsing so a malformed --set is reported as a usage error naming the option.
  cmd->add_option_function<std::vector<std::string>>(
         "--set",
         [&sets](const std::vector<std::string>& v) {
           for (const auto& s : v) sets.push_back(parse_set_option(s));
         },
         "what-if: override one layer's config value, e.g. conv2d.pad_values=0 (repeatable)")
      ->allow_extra_args(false)
      ->option_text("L.pad_values=V")
      ->check([](const std::string& v) -> std::string {
        try {
          parse_set_option(v);
          return {};
        } catch (const ModelError& e) {
          return e.what();
        }
      });
}

CLI::Option* add_seed(CLI::App* cmd, const std::string& name, uint64_t& seed, const std::string& help) {
  return cmd->add_option(name, seed, help)
      ->check([](const std::string& v) -> std::string {
        const bool digits = !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string::npos;
        return digits && (v.size() < 20 || v <= "18446744073709551615") ? std::string()
                                                                         : "'" + v + "' is not an integer in 0..2^64-1";
      })
      ->option_text("SEED");
}

const std::string& single_model(const CLI::App* cmd, const std::vector<std::string>& models) {
  const std::string c = cmd->get_name();
  if (models.empty()) usage_error(c + ": no MODEL given (see 'bitlens help " + c + "')");
  if (models.size() > 1)
    usage_error(c + ": only one MODEL may be given (got '" + models[0] + "' and '" + models[1] + "')");
  return models[0];
}

Command analyze_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> models;
    bool as_json = false;
    int width = 100;
    std::string board;
    std::string dump_ir;
    CompileOptions compile;
  };
  auto o = std::make_shared<Opts>();
  std::vector<std::string> pass_names;
  std::string pass_help;
  for (const auto& p : pipeline()) {
    pass_names.push_back(p.name);
    pass_help += "\n  " + p.name + std::string(10 - std::min<size_t>(p.name.size(), 9), ' ') + p.does;
  }
  CLI::App* cmd = root.add_subcommand("analyze", "report kernels, reasons, MACC/ROM/RAM and the memory plan");
  cmd->footer(
      "Reads a Keras .h5 or .keras model and prints, per layer, the kernel class (binary,\n"
      "binary-weights, float, fused, none, unsupported) with reason codes, MACC, ROM, the\n"
      "operation-type table, complexity bars and the memory plan.\n"
      "\n"
      "Passes for --dump-ir, in the order the compiler runs them:" +
      pass_help +
      "\n\n"
      "Exit status: 0 report produced (also with unsupported layers), 2 unusable input.");
  add_models(cmd, o->models, "the Keras model (.h5 or .keras)");
  CLI::Option* json_flag = cmd->add_flag("--json", o->as_json, "print one JSON document instead (schema: docs/report-format.md)");
  add_compile_options(cmd, o->compile);
  CLI::Option* width =
      cmd->add_option("--width", o->width, "fit the text report to N columns (clamped to 80..160, default 100)")
          ->option_text("N");
  CLI::Option* board =
      cmd->add_option("--board", o->board, "also check whether the model fits board B (see 'bitlens boards')")
          ->option_text("B");
  // The dump replaces the report, so the report's own options would be dropped unsaid.
  cmd->add_option("--dump-ir", o->dump_ir,
                  "print the compiler's graph after pass PASS (listed below) instead of the report")
      ->option_text("PASS")
      ->check(CLI::IsMember(pass_names))
      ->excludes(json_flag)
      ->excludes(width)
      ->excludes(board);
  return {cmd, [o, cmd]() -> int {
            const std::string& file = single_model(cmd, o->models);
            try {
              Model m = load_model(file);
              if (!o->dump_ir.empty()) {
                compile(std::move(m), o->compile, [&](const std::string& pass, const CompileResult& c) {
                  if (pass == o->dump_ir) std::cout << "// after pass '" << pass << "'\n" << dump_ir(c);
                });
                return 0;
              }
              CompileResult r = compile(std::move(m), o->compile);
              const std::optional<FitCheck> fit =
                  o->board.empty() ? std::nullopt : std::optional(check_fit(r, find_board(o->board)));
              if (o->as_json) {
                json j = json_report(r);
                if (fit) j["fit"] = fit_json(*fit);
                std::cout << j.dump(2) << "\n";
              } else {
                std::cout << text_report(r, {o->width});
                if (fit) std::cout << "\n" << fit_text(*fit);
              }
              return 0;
            } catch (const std::exception& e) {
              std::fprintf(stderr, "bitlens: error: %s: %s\n", file.c_str(), error_text(e).c_str());
              return 2;
            }
          }};
}

}  // namespace bitlens::cli

int main(int argc, char** argv) {
  using namespace bitlens::cli;
  CLI::App app(
      "Inspect Keras/Larq binary networks: which layers run on exact 1-bit kernels, which fall\n"
      "back, why, and what it costs.",
      "bitlens");
  app.get_formatter()->column_width(26);
  app.footer("'bitlens help COMMAND' shows a command's options. --version prints the version.");
  std::vector<Command> commands = {analyze_command(app), run_command(app),    compare_command(app),
                                   variant_command(app), export_command(app), validate_command(app),
                                   boards_command(app),  weights_command(app)};
  for (auto& c : commands) {
    c.app->allow_extras();  // reported below with the command's own wording
    c.app->get_formatter()->column_width(26);
  }
  app.add_subcommand("help", "show help for a command")->allow_extras();
  app.require_subcommand(1);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::printf("bitlens %s\n", BITLENS_VERSION);
    return 0;
  }
  if (args[0] == "help") {
    if (args.size() == 1) {
      std::fputs(app.help().c_str(), stdout);
      return 0;
    }
    for (const auto& c : commands)
      if (c.app->get_name() == args[1]) {
        std::fputs(c.app->help("bitlens").c_str(), stdout);
        return 0;
      }
    usage_error("help: unknown command '" + args[1] + "'");
  }
  if (args[0] != "--help" && args[0] != "-h" && !args[0].empty() && args[0][0] == '-')
    usage_error("unknown option " + args[0] + " (see 'bitlens --help')");
  if (args[0].empty() || args[0][0] != '-') {
    bool known = false;
    for (const auto& c : commands) known = known || c.app->get_name() == args[0];
    if (!known) usage_error("unknown command '" + args[0] + "' (see 'bitlens --help')");
  }
  // Commands report their own errors naming the file; this is the last resort (e.g. an
  // exception while parsing options), still one line and exit 2, never an abort.
  std::string where = args[0];
  try {
    app.parse(argc, argv);
    for (auto& c : commands) {
      if (!c.app->parsed()) continue;
      where = c.app->get_name();
      for (const auto& extra : c.app->remaining())
        usage_error(where + ": unknown " + (extra.rfind('-', 0) == 0 ? "option " : "argument ") + extra +
                    " (see 'bitlens help " + where + "')");
      return c.run();
    }
    usage_error("no command given (see 'bitlens --help')");
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);  // the selected command's help, if one was named
    return 0;
  } catch (const CLI::ParseError& e) {
    for (auto& c : commands)
      if (c.app->parsed()) where = c.app->get_name();
    usage_error(where + ": " + e.what() + " (see 'bitlens help " + where + "')");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlens: error: %s: %s\n", where.c_str(), error_text(e).c_str());
    return 2;
  }
}
