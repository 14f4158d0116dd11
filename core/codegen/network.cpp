// Generates network/NAME.{h,c} and NAME_data.c from a CompileResult: one kernel call per
// scheduled node on one arena laid out by the planner, parameter structs filled field by field
// from the same builders the host Executor uses (ops/params), constants as exact
// literals. Each step is the node's registration in core/ops printed instead of run, so the
// firmware makes the Executor's calls by construction.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>

#include "bitlens/format.hpp"
#include "bitlens/codegen.hpp"
#include "ops/registry.hpp"

namespace bitlens {

namespace {

std::string upper(const std::string& s) {
  std::string r = s;
  for (auto& ch : r) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return r;
}

std::string shape_text(const Tensor& t) { return std::string(format_name(t.format)) + " " + shape_dims(t.shape); }

class Generator : public ops::CodeEnv {
 public:
  Generator(const CompileResult& c, const std::string& name) : c_(c), g_(c.graph) {
    out_.name = c_identifier(name);
    out_.upper = upper(out_.name);
    ids_.reserve(out_.name);
    resolve_offsets();
  }

  NetworkCode run() {
    check_exportable();
    std::ostringstream steps;
    for (size_t i = 0; i < c_.schedule.size(); ++i) emit_step(steps, static_cast<int>(i), g_.nodes[c_.schedule[i]]);
    out_.files.push_back({"network/" + out_.name + ".h", header()});
    out_.files.push_back({"network/" + out_.name + ".c", source(steps.str())});
    out_.files.push_back({"network/" + out_.name + "_data.c", data_file()});
    return std::move(out_);
  }

 private:
  const CompileResult& c_;
  const Graph& g_;
  NetworkCode out_;
  IdentifierSet ids_;
  std::vector<int64_t> offset_;           // arena offset per tensor id
  std::map<int, int64_t> scratch_;        // node id -> scratch offset
  std::map<const void*, std::string> sym_;  // constant data -> array symbol
  std::ostringstream data_, decls_;

  std::string N() const { return out_.name; }
  std::string U() const { return out_.upper; }

  void resolve_offsets() {
    offset_.assign(g_.tensors.size(), -1);
    for (const auto& b : c_.plan.buffers) {
      if (b.tensor >= 0) offset_[b.tensor] = b.offset;
      else scratch_[b.node] = b.offset;
    }
    for (size_t t = 0; t < g_.tensors.size(); ++t) {
      int s = static_cast<int>(t);
      while (g_.tensors[s].alias_of >= 0) s = g_.tensors[s].alias_of;
      offset_[t] = offset_[s];
    }
  }

  void check_exportable() {
    for (const auto& n : g_.nodes)
      if (!n.removed && n.decision.kernel == KernelClass::Unsupported)
        throw ModelError("layer '" + n.name + "' (" + n.class_name + ") is unsupported, so the model cannot be exported: " +
                         (n.decision.reasons.empty() ? std::string("see 'bitlens analyze'") : n.decision.reasons[0].message));
    for (int t : g_.outputs)
      if (g_.tensors[t].format != Format::F32)
        throw ModelError("internal: model output '" + g_.tensors[t].name + "' is not float32; please report this model");
    for (int t : g_.inputs)
      if (g_.tensors[t].format != Format::F32)
        throw ModelError("internal: model input '" + g_.tensors[t].name + "' is not float32; please report this model");
  }

  std::string arena(int tensor) const {
    if (offset_[tensor] < 0) throw ModelError("internal: tensor '" + g_.tensors[tensor].name + "' has no buffer");
    return "(arena + " + std::to_string(offset_[tensor]) + ")";
  }
  std::string in_f32(int t) const { return "(const float *)" + arena(t); }
  std::string out_f32(int t) const { return "(float *)" + arena(t); }

  // Emits one const array into NAME_data.c (once per data pointer) and returns its symbol.
  template <class T>
  std::string array(const Node& n, const T* ptr, size_t count, const char* suffix, const char* ctype) {
    if (ptr == nullptr || count == 0) return "NULL";
    auto it = sym_.find(ptr);
    if (it != sym_.end()) return it->second;
    const std::string s = ids_.make(N() + "_" + c_identifier(n.name) + "_" + suffix);
    sym_[ptr] = s;
    const std::string decl = std::string("const ") + ctype + " " + s + "[" + std::to_string(count) + "]";
    decls_ << "extern " << decl << ";\n";
    data_ << "/* " << c_comment_text(n.name) << ": " << suffix << ", " << count << " x " << ctype << " */\n";
    data_ << "extern " << decl << ";\n" << decl << " = {";
    const int per_line = std::is_same_v<T, float> ? 4 : std::is_same_v<T, int8_t> ? 16 : 8;
    for (size_t i = 0; i < count; ++i) {
      data_ << (i % per_line == 0 ? "\n    " : " ") << literal(ptr[i]) << (i + 1 < count ? "," : "");
    }
    data_ << "};\n\n";
    out_.data_bytes += static_cast<int64_t>((count * sizeof(T) + 3) / 4 * 4);
    return s;
  }
  static std::string literal(float v) { return c_float_literal(v); }
  static std::string literal(int32_t v) { return c_int32_literal(v); }
  static std::string literal(int8_t v) { return std::to_string(v); }
  static std::string literal(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08xu", v);
    return b;
  }

  // CodeEnv: what the registrations print with.
  std::string tensor(int t) override { return arena(t); }
  std::string scratch(int node) override {
    auto it = scratch_.find(node);
    return it == scratch_.end() ? "NULL" : "(arena + " + std::to_string(it->second) + ")";
  }
  std::string data(const Node& n, const float* p, size_t count, const char* suffix) override {
    return array(n, p, count, suffix, "float");
  }
  std::string data(const Node& n, const int32_t* p, size_t count, const char* suffix) override {
    return array(n, p, count, suffix, "int32_t");
  }
  std::string data(const Node& n, const uint32_t* p, size_t count, const char* suffix) override {
    return array(n, p, count, suffix, "uint32_t");
  }
  std::string data(const Node& n, const int8_t* p, size_t count, const char* suffix) override {
    return array(n, p, count, suffix, "int8_t");
  }

  void emit_step(std::ostream& o, int step, const Node& n) {
    const Tensor& ot = g_.tensors[n.outputs[0]];
    const int x = n.inputs.empty() ? -1 : n.inputs[0];
    const auto k = n.decision.kernel;

    // Comment: the Keras layer, kernel class, C kernel, op type, formats, shapes and reasons.
    o << "  /* step " << step << ": " << c_comment_text(n.name);
    if (!n.class_name.empty()) o << " (" << c_comment_text(n.class_name) << ")";
    else o << " (inserted for layer " << c_comment_text(n.layer) << ")";
    o << "\n   *   kernel class " << kernel_class_name(k) << ", " << c_comment_text(n.decision.kernel_name) << ", op "
      << c_comment_text(n.decision.op_type) << ", " << (x >= 0 ? shape_text(g_.tensors[x]) : std::string("-")) << " -> "
      << shape_text(ot) << ", " << with_commas(n.macc) << " MACC";
    if (!n.decision.reasons.empty()) {
      o << "\n   *   reasons:";
      for (size_t i = 0; i < n.decision.reasons.size(); ++i)
        o << (i ? ", " : " ") << c_comment_text(n.decision.reasons[i].code);
    }
    o << " */\n";
    o << "  STEP_BEGIN(" << step << ");\n  {\n";
    ops::Step s(g_, n, *this, o);
    ops::kernel_for(g_, n).describe(s);
    if (!s.called().empty()) o << "    if (st != BL_OK) return st;\n";
    o << "  }\n  STEP_END(" << step << ");\n\n";
  }

  int64_t arena_bytes() const { return std::max<int64_t>(4, (c_.plan.arena_bytes + 3) / 4 * 4); }

  std::string header() const {
    std::ostringstream h;
    const std::string guard = U() + "_H";
    const auto& t = c_.totals;
    h << "/* " << N() << ".h: C API of the network generated by BitLens " << BITLENS_VERSION << " from "
      << c_comment_text(c_.model.file.filename().string()) << " (model '" << c_comment_text(c_.model.name) << "').\n"
      << " * Generated file: regenerate with `bitlens export` instead of editing. API: docs/export.md. */\n"
      << "#ifndef " << guard << "\n#define " << guard << "\n\n#include <stdint.h>\n\n#include \"bitlens/bl_kernels.h\"\n\n"
      << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      << "/* Working memory (activations and kernel scratch; inputs and outputs live inside it). */\n"
      << "#define " << U() << "_ARENA_BYTES " << arena_bytes() << "u\n"
      << "#define " << U() << "_IN_COUNT " << g_.inputs.size() << "\n"
      << "#define " << U() << "_OUT_COUNT " << g_.outputs.size() << "\n";
    for (size_t i = 0; i < g_.inputs.size(); ++i) {
      const Tensor& tt = g_.tensors[g_.inputs[i]];
      h << "#define " << U() << "_IN_" << i << "_SIZE " << tt.elements() << " /* floats, " << c_comment_text(tt.name)
        << " " << shape_text(tt) << " */\n";
    }
    for (size_t i = 0; i < g_.outputs.size(); ++i) {
      const Tensor& tt = g_.tensors[g_.outputs[i]];
      h << "#define " << U() << "_OUT_" << i << "_SIZE " << tt.elements() << " /* floats, " << c_comment_text(tt.name)
        << " " << shape_text(tt) << " */\n";
    }
    if (g_.inputs.size() == 1) h << "#define " << U() << "_IN_SIZE " << U() << "_IN_0_SIZE\n";
    if (g_.outputs.size() == 1) h << "#define " << U() << "_OUT_SIZE " << U() << "_OUT_0_SIZE\n";
    h << "#define " << U() << "_STEP_COUNT " << c_.schedule.size() << " /* kernel calls per inference */\n"
      << "#define " << U() << "_LAYER_COUNT " << c_.model.layers.size() << " /* Keras layers in the model */\n"
      << "#define " << U() << "_MACC " << t.macc << "u\n"
      << "#define " << U() << "_ROM_BYTES " << t.rom_bytes << "u /* const weight arrays */\n"
      << "#define " << U() << "_RAM_BYTES " << t.ram_bytes << "u /* arena + buffers outside it */\n\n"
      << "/* What the network costs (the figures of `bitlens analyze`). */\n"
      << "typedef struct {\n  const char *model_name;\n  const char *generator;\n  uint64_t macc;\n  uint32_t rom_bytes;\n"
      << "  uint32_t ram_bytes;\n  uint32_t arena_bytes;\n  int32_t layer_count;\n  int32_t step_count;\n"
      << "  int32_t in_count;\n  int32_t out_count;\n} " << N() << "_report_t;\n\n"
      << "/* One kernel call: the Keras layer it belongs to, the node name (\"<layer>/pack\" for inserted\n"
      << " * steps), its kernel class, C kernel and MACC. */\n"
      << "typedef struct {\n  const char *layer;\n  const char *node;\n  const char *kernel_class;\n  const char *kernel;\n"
      << "  const char *op_type;\n  uint64_t macc;\n} " << N() << "_step_t;\n\n"
      << "extern const " << N() << "_report_t " << N() << "_report;\n"
      << "extern const " << N() << "_step_t " << N() << "_steps[" << U() << "_STEP_COUNT];\n\n"
      << "/* Called before (after == 0) and after (after == 1) every step; for profiling. */\n"
      << "typedef void (*" << N() << "_hook_t)(int32_t step, int32_t after, void *user);\n\n"
      << "/* Selects the arena: a 4-byte aligned buffer of " << U() << "_ARENA_BYTES bytes, or NULL for the\n"
      << " * built-in static one (absent when compiled with -D" << U() << "_NO_STATIC_ARENA). Returns BL_ERR_PARAM\n"
      << " * for a misaligned arena or NULL without the static one. Call once before running. */\n"
      << "bl_status bl_" << N() << "_init(void *arena);\n\n"
      << "/* Runs one inference: inputs[i] holds " << U() << "_IN_<i>_SIZE floats (NHWC), outputs[i] receives\n"
      << " * " << U() << "_OUT_<i>_SIZE floats. Buffers may be anywhere (they are copied in and out). A NULL\n"
      << " * array or entry skips that copy: the data then stays in the arena (see _input/_output). */\n"
      << "bl_status bl_" << N() << "_run_io(const float *const *inputs, float *const *outputs);\n\n"
      << "/* Where input/output i lives inside the arena (NULL before init or for a bad i): write an input\n"
      << " * there and pass NULL to run to save the copy; an output stays valid until the next run. */\n"
      << "float *bl_" << N() << "_input(int32_t i);\n"
      << "const float *bl_" << N() << "_output(int32_t i);\n";
    if (g_.inputs.size() == 1 && g_.outputs.size() == 1)
      h << "\n/* The same for the single input and output. */\n"
        << "bl_status bl_" << N() << "_run(const float *in, float *out);\n";
    h << "\n/* Installs a step hook (NULL removes it). */\n"
      << "void bl_" << N() << "_set_hook(" << N() << "_hook_t hook, void *user);\n\n"
      << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << guard << " */\n";
    return h.str();
  }

  std::string source(const std::string& steps) const {
    std::ostringstream s;
    const auto& t = c_.totals;
    s << "/* " << N() << ".c: the network's inference code generated by BitLens " << BITLENS_VERSION
      << ": one kernel call per step,\n * in schedule order, on one arena at the planner's offsets. Generated file. */\n"
      << "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n#include \"" << N()
      << ".h\"\n\n"
      << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n/* Constant data (" << N() << "_data.c). */\n"
      << decls_.str() << "#ifdef __cplusplus\n}\n#endif\n\n"
      << "#ifndef " << U() << "_NO_STATIC_ARENA\nstatic uint32_t " << N() << "_static_arena[" << U()
      << "_ARENA_BYTES / 4];\n#endif\n"
      << "static unsigned char *" << N() << "_arena;\nstatic " << N() << "_hook_t " << N() << "_hook;\nstatic void *"
      << N() << "_hook_user;\n\n"
      << "const " << N() << "_report_t " << N() << "_report = {\n    \"" << c_string_body(c_.model.name)
      << "\", \"BitLens " << BITLENS_VERSION << "\", " << t.macc << "u, " << t.rom_bytes << "u, " << t.ram_bytes << "u, "
      << arena_bytes() << "u, " << c_.model.layers.size() << ", " << c_.schedule.size() << ", " << g_.inputs.size()
      << ", " << g_.outputs.size() << "};\n\n"
      << "const " << N() << "_step_t " << N() << "_steps[" << U() << "_STEP_COUNT] = {\n";
    for (size_t i = 0; i < c_.schedule.size(); ++i) {
      const Node& n = g_.nodes[c_.schedule[i]];
      s << "    {\"" << c_string_body(n.layer) << "\", \"" << c_string_body(n.name) << "\", \""
        << kernel_class_name(n.decision.kernel) << "\", \"" << c_string_body(n.decision.kernel_name) << "\", \""
        << c_string_body(n.decision.op_type) << "\", " << n.macc << "u}" << (i + 1 < c_.schedule.size() ? "," : "") << "\n";
    }
    s << "};\n\n"
      << "bl_status bl_" << N() << "_init(void *arena) {\n"
      << "  if (arena == NULL) {\n#ifndef " << U() << "_NO_STATIC_ARENA\n    arena = " << N()
      << "_static_arena;\n#else\n    return BL_ERR_PARAM;\n#endif\n  }\n"
      << "  if (((uintptr_t)arena & 3u) != 0) return BL_ERR_PARAM;\n"
      << "  " << N() << "_arena = (unsigned char *)arena;\n  return BL_OK;\n}\n\n"
      << "void bl_" << N() << "_set_hook(" << N() << "_hook_t hook, void *user) {\n  " << N() << "_hook = hook;\n  " << N()
      << "_hook_user = user;\n}\n\n"
      << "#define STEP_BEGIN(i) do { if (" << N() << "_hook) " << N() << "_hook((i), 0, " << N() << "_hook_user); } while (0)\n"
      << "#define STEP_END(i) do { if (" << N() << "_hook) " << N() << "_hook((i), 1, " << N() << "_hook_user); } while (0)\n\n"
      << "bl_status bl_" << N() << "_run_io(const float *const *inputs, float *const *outputs) {\n"
      << "  unsigned char *const arena = " << N() << "_arena;\n  bl_status st;\n"
      << "  if (arena == NULL) return BL_ERR_PARAM;\n";
    for (size_t i = 0; i < g_.inputs.size(); ++i)
      s << "  if (inputs != NULL && inputs[" << i << "] != NULL) memcpy(" << arena(g_.inputs[i]) << ", inputs[" << i << "], "
        << g_.tensors[g_.inputs[i]].bytes() << "u);\n";
    s << "\n" << steps;
    for (size_t i = 0; i < g_.outputs.size(); ++i)
      s << "  if (outputs != NULL && outputs[" << i << "] != NULL) memcpy(outputs[" << i << "], " << arena(g_.outputs[i]) << ", "
        << g_.tensors[g_.outputs[i]].bytes() << "u);\n";
    s << "  return BL_OK;\n}\n\n";
    s << "float *bl_" << N() << "_input(int32_t i) {\n  unsigned char *const arena = " << N() << "_arena;\n"
      << "  if (arena == NULL) return NULL;\n  switch (i) {\n";
    for (size_t i = 0; i < g_.inputs.size(); ++i) s << "    case " << i << ": return " << out_f32(g_.inputs[i]) << ";\n";
    s << "    default: return NULL;\n  }\n}\n\n";
    s << "const float *bl_" << N() << "_output(int32_t i) {\n  unsigned char *const arena = " << N() << "_arena;\n"
      << "  if (arena == NULL) return NULL;\n  switch (i) {\n";
    for (size_t i = 0; i < g_.outputs.size(); ++i) s << "    case " << i << ": return " << in_f32(g_.outputs[i]) << ";\n";
    s << "    default: return NULL;\n  }\n}\n";
    if (g_.inputs.size() == 1 && g_.outputs.size() == 1)
      s << "\nbl_status bl_" << N() << "_run(const float *in, float *out) {\n  const float *inputs[1];\n"
        << "  float *outputs[1];\n  inputs[0] = in;\n  outputs[0] = out;\n  return bl_" << N()
        << "_run_io(inputs, outputs);\n}\n";
    return s.str();
  }

  std::string data_file() const {
    std::ostringstream d;
    d << "/* " << N() << "_data.c: constant data of the network (packed weight bits, integer thresholds, flip\n"
      << " * masks, per-channel mul/add, float weights, OR masks) as exact literals, placed in flash.\n"
      << " * Generated by BitLens " << BITLENS_VERSION << " from " << c_comment_text(c_.model.file.filename().string())
      << ". */\n#include <math.h>\n#include <stdint.h>\n\n"
      << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
      << data_.str() << "#ifdef __cplusplus\n}\n#endif\n";
    return d.str();
  }
};

}  // namespace

std::string default_network_name(const CompileResult& c) {
  std::string stem = c.model.file.stem().string();
  if (stem.empty()) stem = c.model.name.empty() ? "network" : c.model.name;
  return c_identifier(stem);
}

NetworkCode generate_network(const CompileResult& c, const std::string& name) {
  return Generator(c, name.empty() ? default_network_name(c) : name).run();
}

}  // namespace bitlens
