// C identifiers, string literals, comments and exact numeric literals for generated code.
// Layer names come straight from user files ("conv/1", "my layer", "int", "3x3"): everything
// that reaches a .c file goes through here.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "bitlens/codegen.hpp"

namespace bitlens {

namespace {

// C99/C11 keywords, C++20 keywords and alternative tokens, and names of the C library macros
// and types a generated file includes, so a layer called "int", "class" or "NULL" still works.
const std::set<std::string>& reserved_words() {
  static const std::set<std::string> w = {
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
      "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
      "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
      "volatile", "while", "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic",
      "_Noreturn", "_Static_assert", "_Thread_local", "alignas", "alignof", "and", "and_eq", "asm", "bitand",
      "bitor", "bool", "catch", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "consteval",
      "constexpr", "constinit", "const_cast", "co_await", "co_return", "co_yield", "decltype", "delete",
      "dynamic_cast", "explicit", "export", "false", "friend", "module", "import", "mutable", "namespace",
      "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq", "private", "protected",
      "public", "reinterpret_cast", "requires", "static_assert", "static_cast", "template", "this",
      "thread_local", "throw", "true", "try", "typeid", "typename", "using", "virtual", "wchar_t", "xor",
      "xor_eq", "NULL", "INFINITY", "NAN", "EOF", "errno", "assert", "offsetof", "size_t", "main",
      "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
      "uintptr_t", "intptr_t", "bool", "memcpy", "memset", "printf"};
  return w;
}

}  // namespace

std::string c_identifier(std::string_view text) {
  std::string r;
  r.reserve(text.size() + 2);
  for (unsigned char ch : text) r += (std::isalnum(ch) && ch < 128) || ch == '_' ? static_cast<char>(ch) : '_';
  if (r.empty()) return "unnamed";
  if (std::isdigit(static_cast<unsigned char>(r[0]))) r = "n" + r;
  // Identifiers starting with "_X" or containing "__" are reserved for the implementation.
  if (r[0] == '_') r = "u" + r;
  for (size_t p; (p = r.find("__")) != std::string::npos;) r.erase(p, 1);
  if (reserved_words().count(r)) r += "_";
  return r;
}

std::string IdentifierSet::make(std::string_view text) {
  const std::string base = c_identifier(text);
  std::string id = base;
  // base may end in '_' (a keyword); "int_" + "_2" would create a reserved "__".
  const std::string sep = base.back() == '_' ? "" : "_";
  for (int k = 2; used_.count(id); ++k) id = base + sep + std::to_string(k);
  used_.insert(id);
  return id;
}

std::string c_string_body(std::string_view text) {
  std::string r;
  for (unsigned char ch : text) {
    if (ch == '"' || ch == '\\' || ch == '?') {  // '?': no trigraphs in C99 string literals
      r += '\\';
      r += static_cast<char>(ch);
    } else if (ch < 32 || ch >= 127) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", ch);
      r += buf;
    } else {
      r += static_cast<char>(ch);
    }
  }
  return r;
}

std::string c_comment_text(std::string_view text) {
  std::string r;
  for (unsigned char ch : text) {
    const char c = ch < 32 || ch >= 127 ? '?' : static_cast<char>(ch);
    // "*/" would end the comment, "/*" nests (-Wcomment), "??" could start a trigraph.
    if (!r.empty() && ((r.back() == '*' && c == '/') || (r.back() == '/' && c == '*') || (r.back() == '?' && c == '?')))
      r += ' ';
    r += c;
  }
  // The text is followed by " */" or more text: a trailing '/' or '*' must not join it.
  if (!r.empty() && (r.back() == '\\' || r.back() == '/' || r.back() == '*')) r += ' ';
  return r;
}

std::string c_float_literal(float v) {
  if (std::isnan(v)) return "NAN";
  if (std::isinf(v)) return v < 0 ? "(-INFINITY)" : "INFINITY";
  char buf[48];
  // %a of the exact float value (promoted to double without change) round-trips bit for bit.
  std::snprintf(buf, sizeof buf, "%af", static_cast<double>(v));
  return buf;
}

std::string c_int32_literal(int32_t v) {
  if (v == INT32_MIN) return "(-2147483647 - 1)";
  return std::to_string(v);
}

}  // namespace bitlens
