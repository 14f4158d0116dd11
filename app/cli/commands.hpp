// Sub-commands of the `bitlens` CLI. Each declares its options once, on its own CLI11
// subcommand (values, ranges, choices and help text together), and returns the function that
// runs it after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // exit status: 0 success, 1 a check failed, 2 unusable input
};

Command analyze_command(CLI::App& root);
Command run_command(CLI::App& root);
Command compare_command(CLI::App& root);
Command variant_command(CLI::App& root);
Command export_command(CLI::App& root);
Command validate_command(CLI::App& root);
Command boards_command(CLI::App& root);
Command weights_command(CLI::App& root);

// ---- shared option declarations (main.cpp) ----

// The positional MODEL arguments (counted by single_model, so a second MODEL gets its own message).
void add_models(CLI::App* cmd, std::vector<std::string>& models, const std::string& help);
// --pad-values V and --set LAYER.KEY=VALUE (repeatable), shared by every command that compiles.
void add_compile_options(CLI::App* cmd, CompileOptions& o);
// Only --set (compare makes one variant per --set).
void add_set_option(CLI::App* cmd, std::vector<CompileOptions::Set>& sets);
// A --seed-like option: a non-negative 64-bit integer.
CLI::Option* add_seed(CLI::App* cmd, const std::string& name, uint64_t& seed, const std::string& help);
// The one MODEL of a command; "CMD: no MODEL given" / "only one MODEL" otherwise.
const std::string& single_model(const CLI::App* cmd, const std::vector<std::string>& models);

// "bitlens: error: MSG", exit 2.
[[noreturn]] void usage_error(const std::string& msg);

// The one-line message for an exception reaching a command's boundary: ModelError's own text;
// anything else (out of memory, a library's exception) is named so the line stays useful.
std::string error_text(const std::exception& e);
// Prints "bitlens: error: FILE: MESSAGE" for an exception about FILE (without repeating FILE when
// the message already starts with it, as .npy errors do) and returns exit status 2.
int file_error(const std::string& file, const std::exception& e);

}  // namespace bitlens::cli
