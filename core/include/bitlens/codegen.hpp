// C code generation: turns one CompileResult into the network/ sources of an exported project
// (NAME.h, NAME.c, NAME_data.c) that call the kernels/ library exactly as the host Executor does.
// API of the generated code: docs/export.md.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens {

// One file of a generated project; `path` is relative to the project root ("network/x.c").
struct GeneratedFile {
  std::string path;
  std::string text;
};

// A valid C (and C++) identifier for `text`: characters outside [A-Za-z0-9_] become '_', a
// leading digit or an empty text gets a prefix, C/C++ keywords and reserved forms (leading
// underscore + capital, double underscore) are changed. Deterministic.
std::string c_identifier(std::string_view text);

// Hands out unique identifiers: the first request for a sanitized name gets it unchanged,
// later ones get "_2", "_3", ... (also unique against names reserved earlier).
class IdentifierSet {
 public:
  std::string make(std::string_view text);
  void reserve(const std::string& identifier) { used_.insert(identifier); }
  bool contains(const std::string& identifier) const { return used_.count(identifier) != 0; }

 private:
  std::set<std::string> used_;
};

// `text` as the body of a C string literal (quotes, backslashes, '?' and non-printable bytes
// escaped), and as text safe inside a /* */ comment.
std::string c_string_body(std::string_view text);
std::string c_comment_text(std::string_view text);

// Exact C literals: hex-float for floats (INFINITY/NAN spelled with <math.h> macros),
// decimal for int32 (INT32_MIN spelled as an expression), hex for words.
std::string c_float_literal(float v);
std::string c_int32_literal(int32_t v);

struct NetworkCode {
  std::string name;   // identifier used in file and symbol names (bl_NAME_run, NAME.c)
  std::string upper;  // NAME upper-cased, the macro prefix (NAME_ARENA_BYTES)
  std::vector<GeneratedFile> files;  // network/NAME.h, network/NAME.c, network/NAME_data.c
  int64_t data_bytes = 0;            // bytes of const arrays in NAME_data.c
};

// The network name used when none is given: the model file's stem as an identifier.
std::string default_network_name(const CompileResult& c);

// Generates the network sources. `name` is sanitized with c_identifier. Throws ModelError when
// the model cannot be exported (unsupported layers, an output that is not float32).
NetworkCode generate_network(const CompileResult& c, const std::string& name);

}  // namespace bitlens
