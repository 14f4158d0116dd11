// One step of a compiled model: the kernel calls of one node, described once and either run on
// the host (the Executor) or printed as C (the code generator). A registration says
//     s.call("bl_bconv2d", bl_bconv2d, params, In{0}, Out{}, Scratch{});
// and the same argument list is resolved to pointers into the host arena, or spelled as C
// expressions with the casts taken from the C prototype itself, so the exported firmware and
// the host runtime cannot call a kernel differently.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "bitlens/bl_kernels.h"
#include "bitlens/codegen.hpp"
#include "bitlens/ir.hpp"
#include "bitlens/model.hpp"

namespace bitlens::ops {

// Where a step's tensors and scratch live on the host.
class HostEnv {
 public:
  virtual ~HostEnv() = default;
  virtual void* tensor(int t) = 0;
  virtual void* scratch(int node) = 0;  // nullptr when the node has none
};

// What the code generator provides: C expressions for tensors and scratch in the arena, and
// constant arrays in NAME_data.c (one symbol per data pointer).
class CodeEnv {
 public:
  virtual ~CodeEnv() = default;
  virtual std::string tensor(int t) = 0;       // "(arena + 123)"
  virtual std::string scratch(int node) = 0;   // "(arena + 123)" or "NULL"
  virtual std::string data(const Node& n, const float* p, size_t count, const char* suffix) = 0;
  virtual std::string data(const Node& n, const int32_t* p, size_t count, const char* suffix) = 0;
  virtual std::string data(const Node& n, const uint32_t* p, size_t count, const char* suffix) = 0;
  virtual std::string data(const Node& n, const int8_t* p, size_t count, const char* suffix) = 0;
};

// ---- Argument tokens -----------------------------------------------------------------------
struct In {  // the node's input i
  size_t i;
};
struct Out {};      // the node's output tensor
struct Scratch {};  // the node's scratch buffer (NULL when none)
template <class T>
struct Const {  // constant data held by the node (an array in NAME_data.c); empty = NULL
  const T* p;
  size_t count;
  const char* suffix;
};
template <class T>
Const<T> constant(const std::vector<T>& v, const char* suffix) {
  return {v.empty() ? nullptr : v.data(), v.size(), suffix};
}
struct Tensors {  // an array of the given tensors' addresses (const T *in[count])
  std::vector<int> ids;
};
struct Ints {  // a constant int32 array declared in the step (static const int32_t c[count])
  std::vector<int32_t> v;
};

// Prints a parameter struct's fields as C assignments ("    p.field = value;").
class Fields {
 public:
  Fields(CodeEnv& env, const Node& n, std::ostream& o, std::string var) : env_(env), n_(n), o_(o), var_(std::move(var)) {}
  void set(const std::string& field, const std::string& value) { o_ << "    " << var_ << "." << field << " = " << value << ";\n"; }
  void set(const std::string& field, int32_t v) { set(field, std::to_string(v)); }
  void set_float(const std::string& field, float v) { set(field, c_float_literal(v)); }
  // A pointer field must point into one of the node's vectors: that is what makes the generated
  // struct identical to the host's.
  template <class T>
  void set_data(const std::string& field, const T* p, const std::vector<T>& v, const char* suffix) {
    if (p == nullptr) return set(field, "NULL");
    if (p != v.data()) throw ModelError("internal: parameter of '" + n_.name + "' points outside its node data");
    set(field, env_.data(n_, v.data(), v.size(), suffix));
  }
  CodeEnv& env() { return env_; }
  const Node& node() const { return n_; }

 private:
  CodeEnv& env_;
  const Node& n_;
  std::ostream& o_;
  std::string var_;
};

template <class P>
struct Params {  // a parameter struct passed by address; printed field by field
  const P& p;
  const char* type;                     // "bl_bconv2d_params"
  std::function<void(Fields&)> fields;  // prints every field that is not zero
  const char* var = "p";
};

// ---- The step ------------------------------------------------------------------------------
class Step {
 public:
  Step(const Graph& g, const Node& n, HostEnv& host) : g(g), n(n), host_(&host) {}
  Step(const Graph& g, const Node& n, CodeEnv& code, std::ostream& o) : g(g), n(n), code_(&code), o_(&o) {}

  const Graph& g;
  const Node& n;
  bool host() const { return host_ != nullptr; }
  // Host runs only: where tensor t lives in the arena.
  void* host_tensor(int t) const { return host_->tensor(t); }
  const std::vector<std::string>& called() const { return called_; }

  template <class... A, class... T>
  void call(const char* name, bl_status (*fn)(A...), const T&... tokens) {
    static_assert(sizeof...(A) == sizeof...(T), "one token per kernel parameter");
    called_.push_back(name);
    if (host_) {
      keep_f_.clear();
      keep_u_.clear();
      const bl_status st = fn(resolve<A>(tokens)...);
      if (st != BL_OK)
        throw ModelError("kernel " + std::string(name) + " rejected the parameters of '" + n.name + "' (status " +
                         std::to_string(static_cast<int>(st)) + "); please report this model");
      return;
    }
    std::ostringstream pre;
    const std::vector<std::string> args{spell<A>(tokens, pre)...};
    std::ostream& o = *o_;
    if (called_.size() > 1) o << "    if (st != BL_OK) return st;\n";
    const bool block = !pre.str().empty();
    if (block) o << "    {\n" << pre.str();
    o << "    st = " << name << "(";
    for (size_t i = 0; i < args.size(); ++i) o << (i ? ", " : "") << args[i];
    o << ");\n";
    if (block) o << "    }\n";
  }

 private:
  HostEnv* host_ = nullptr;
  CodeEnv* code_ = nullptr;
  std::ostream* o_ = nullptr;
  std::vector<std::string> called_;
  std::deque<std::vector<const float*>> keep_f_;
  std::deque<std::vector<const uint32_t*>> keep_u_;
  std::deque<std::vector<int32_t>> keep_i_;

  int tensor_of(const In& t) const { return n.inputs.at(t.i); }
  int tensor_of(const Out&) const { return n.outputs.at(0); }

  template <class A>
  static const char* ctype() {
    if constexpr (std::is_same_v<A, const float*>) return "const float *";
    else if constexpr (std::is_same_v<A, float*>) return "float *";
    else if constexpr (std::is_same_v<A, const uint32_t*>) return "const uint32_t *";
    else if constexpr (std::is_same_v<A, uint32_t*>) return "uint32_t *";
    else if constexpr (std::is_same_v<A, const int8_t*>) return "const int8_t *";
    else if constexpr (std::is_same_v<A, int8_t*>) return "int8_t *";
    else if constexpr (std::is_same_v<A, const void*>) return "const void *";
    else if constexpr (std::is_same_v<A, void*>) return "void *";
    else static_assert(sizeof(A) == 0, "no C spelling for this parameter type");
  }

  // Host: the token's value as the kernel parameter type A.
  template <class A, class T>
  A resolve(const T& t) {
    if constexpr (std::is_same_v<T, In> || std::is_same_v<T, Out>) {
      return static_cast<A>(host_->tensor(tensor_of(t)));
    } else if constexpr (std::is_same_v<T, Scratch>) {
      return host_->scratch(n.id);
    } else if constexpr (std::is_same_v<T, Tensors>) {
      using E = std::remove_const_t<std::remove_pointer_t<A>>;  // const float * or const uint32_t *
      if constexpr (std::is_same_v<E, const float*>) {
        auto& v = keep_f_.emplace_back();
        for (int id : t.ids) v.push_back(static_cast<const float*>(host_->tensor(id)));
        return v.data();
      } else {
        auto& v = keep_u_.emplace_back();
        for (int id : t.ids) v.push_back(static_cast<const uint32_t*>(host_->tensor(id)));
        return v.data();
      }
    } else if constexpr (std::is_same_v<T, Ints>) {
      return keep_i_.emplace_back(t.v).data();
    } else if constexpr (requires { t.suffix; }) {
      return t.count ? t.p : nullptr;
    } else if constexpr (requires { t.fields; }) {
      return &t.p;
    } else {
      return static_cast<A>(t);
    }
  }

  // Code: the token as a C expression of type A; declarations it needs go to `pre`.
  template <class A, class T>
  std::string spell(const T& t, std::ostream& pre) {
    if constexpr (std::is_same_v<T, In> || std::is_same_v<T, Out>) {
      return std::string("(") + ctype<A>() + ")" + code_->tensor(tensor_of(t));
    } else if constexpr (std::is_same_v<T, Scratch>) {
      return code_->scratch(n.id);
    } else if constexpr (std::is_same_v<T, Tensors>) {
      using E = std::remove_const_t<std::remove_pointer_t<A>>;
      pre << "    " << ctype<E>() << "in[" << t.ids.size() << "];\n";
      for (size_t i = 0; i < t.ids.size(); ++i)
        pre << "    in[" << i << "] = (" << ctype<E>() << ")" << code_->tensor(t.ids[i]) << ";\n";
      return "in";
    } else if constexpr (std::is_same_v<T, Ints>) {
      pre << "    static const int32_t c[" << t.v.size() << "] = {";
      for (size_t i = 0; i < t.v.size(); ++i) pre << (i ? ", " : "") << c_int32_literal(t.v[i]);
      pre << "};\n";
      return "c";
    } else if constexpr (requires { t.suffix; }) {
      return t.count ? code_->data(n, t.p, t.count, t.suffix) : std::string("NULL");
    } else if constexpr (requires { t.fields; }) {
      pre << "    " << t.type << " " << t.var << ";\n    memset(&" << t.var << ", 0, sizeof " << t.var << ");\n";
      Fields f(*code_, n, pre, t.var);
      t.fields(f);
      return std::string("&") + t.var;
    } else if constexpr (std::is_same_v<A, size_t>) {
      return "(size_t)" + std::to_string(t);
    } else if constexpr (std::is_same_v<A, float>) {
      return c_float_literal(static_cast<float>(t));
    } else if constexpr (std::is_same_v<A, bl_activation>) {
      static_assert(std::is_same_v<T, bl_activation>);
      return activation_enum(t);
    } else {
      static_assert(std::is_integral_v<A>, "no C spelling for this token");
      return std::to_string(static_cast<A>(t));
    }
  }

  static std::string activation_enum(bl_activation a);
};

}  // namespace bitlens::ops
