// Sub-commands of the `bitlens` CLI and the option helpers they share.
#pragma once

#include <exception>
#include <map>
#include <string>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens::cli {

const std::map<std::string, std::string>& command_help();
[[noreturn]] void usage_error(const std::string& msg);
std::string take_value(const std::vector<std::string>& args, size_t& i);
bool parse_compile_option(const std::vector<std::string>& args, size_t& i, CompileOptions& o);
// The arguments every MODEL command shares: --help, --pad-values/--set, unknown options and the
// single MODEL. Returns false when help was printed (the command then returns 0).
bool model_command_arg(const char* cmd, const std::vector<std::string>& args, size_t& i, CompileOptions& opt,
                       std::string& model);

// The one-line message for an exception reaching a command's boundary: ModelError's own text;
// anything else (out of memory, a library's exception) is named so the line stays useful.
std::string error_text(const std::exception& e);

int cmd_run(const std::vector<std::string>& args);
int cmd_compare(const std::vector<std::string>& args);
int cmd_variant(const std::vector<std::string>& args);
int cmd_export(const std::vector<std::string>& args);
int cmd_validate(const std::vector<std::string>& args);
int cmd_boards(const std::vector<std::string>& args);

}  // namespace bitlens::cli
