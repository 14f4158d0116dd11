// `bitlens validate`: generate, build (host cc or the exported QEMU project), run, and compare the
// generated code's outputs with the host runtime and the reference interpreter.
#include <array>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "bitlens/format.hpp"
#include "bitlens/validate.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/export.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "io/tempdir.hpp"

namespace bitlens {

namespace fs = std::filesystem;

namespace {

std::string quote(const std::string& s) {
  std::string r = "'";
  for (char ch : s) r += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return r + "'";
}

bool have_tool(const std::string& tool) {
  return std::system(("command -v " + quote(tool) + " >/dev/null 2>&1").c_str()) == 0;
}

void require_tool(const std::string& tool, const std::string& package) {
  if (!have_tool(tool))
    throw ToolError(tool + " not found: install the Debian package " + package + " (apt-get install " + package + ")");
}

struct Run {
  int status = -1;
  std::string out;
};

// Runs a shell command in `dir`, stdout and stderr together.
Run run(const std::string& cmd, const fs::path& dir) {
  Run r;
  FILE* p = ::popen(("cd " + quote(dir.string()) + " && " + cmd + " 2>&1").c_str(), "r");
  if (!p) throw ToolError("cannot start '" + cmd + "'");
  std::array<char, 8192> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string tail(const std::string& s, size_t lines) {
  size_t pos = s.size();
  for (size_t k = 0; k <= lines && pos > 0; ++k) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) return s;
  }
  return s.substr(pos + 1);
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream o(p, std::ios::binary);
  o << text;
  if (!o) throw ModelError("cannot write " + p.string());
}

// Replaces the generated network/ files by the user's (edited) ones.
void use_network_dir(const fs::path& from, const fs::path& to_network, const std::string& name) {
  for (const char* suffix : {".h", ".c", "_data.c"}) {
    const fs::path src = from / (name + suffix);
    if (!fs::is_regular_file(src))
      throw ModelError(src.string() + " not found: --network must name the network/ directory of an export of this "
                       "model with network name '" + name + "' (use --name NAME)");
    fs::copy_file(src, to_network / (name + suffix), fs::copy_options::overwrite_existing);
  }
}

// Output i of the model holds +-1 values when it is an unpacked bit tensor.
bool binary_output(const CompileResult& c, size_t i) {
  const int prod = c.graph.tensors[c.graph.outputs[i]].producer;
  return prod >= 0 && c.graph.nodes[prod].op == Op::Unpack;
}

std::vector<Array> run_host(const CompileResult& c, const ValidateOptions& o, const NetworkCode& net, const fs::path& work) {
  const char* cc = std::getenv("CC");
  const std::string compiler = cc && *cc ? cc : "cc";
  require_tool(compiler, "gcc");
  for (const auto& f : net.files) write_file(work / f.path, f.text);
  if (!o.network_dir.empty()) use_network_dir(o.network_dir, work / "network", net.name);
  const fs::path kdir = data_path("kernels");
  const Graph& g = c.graph;
  std::string in_sizes, out_sizes;
  for (size_t i = 0; i < g.inputs.size(); ++i) in_sizes += (i ? ", " : "") + std::to_string(g.tensors[g.inputs[i]].elements());
  for (size_t i = 0; i < g.outputs.size(); ++i) out_sizes += (i ? ", " : "") + std::to_string(g.tensors[g.outputs[i]].elements());
  std::ifstream t(data_path("export") / "host" / "main.c");
  std::stringstream ts;
  ts << t.rdbuf();
  std::string main_c = ts.str();
  auto replace_all = [&](const std::string& k, const std::string& v) {
    for (size_t p; (p = main_c.find(k)) != std::string::npos;) main_c.replace(p, k.size(), v);
  };
  replace_all("{{NAME}}", net.name);
  replace_all("{{UPPER}}", net.upper);
  replace_all("{{IN_SIZES}}", in_sizes);
  replace_all("{{OUT_SIZES}}", out_sizes);
  write_file(work / "host" / "main.c", main_c);
  const std::string cmd = quote(compiler) + " -std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -Inetwork -I" +
                          quote((kdir / "include").string()) + " network/*.c " + quote((kdir / "src").string()) +
                          "/*.c host/main.c -lm -o validate_host";
  const Run b = run(cmd, work);
  if (b.status != 0) throw ToolError("the generated code does not build with " + compiler + ":\n" + tail(b.out, 20));

  // Inputs: vector by vector, each model input in order.
  const int64_t n = o.inputs[0].shape[0];
  {
    std::ofstream in(work / "inputs.bin", std::ios::binary);
    for (int64_t v = 0; v < n; ++v)
      for (size_t i = 0; i < o.inputs.size(); ++i) {
        const int64_t per = g.tensors[g.inputs[i]].elements();
        in.write(reinterpret_cast<const char*>(o.inputs[i].data.data() + v * per), per * 4);
      }
  }
  const Run r = run("./validate_host inputs.bin outputs.bin " + std::to_string(n), work);
  if (r.status != 0) throw ToolError("the generated code failed on the host (status " + std::to_string(r.status) + "):\n" + tail(r.out, 10));
  std::vector<Array> outs;
  for (int t : g.outputs) {
    Array a;
    a.shape = {n};
    for (auto d : g.tensors[t].shape) a.shape.push_back(d);
    a.data.resize(static_cast<size_t>(a.size()));
    outs.push_back(std::move(a));
  }
  std::ifstream in(work / "outputs.bin", std::ios::binary);
  for (int64_t v = 0; v < n; ++v)
    for (size_t i = 0; i < outs.size(); ++i) {
      const int64_t per = g.tensors[g.outputs[i]].elements();
      in.read(reinterpret_cast<char*>(outs[i].data.data() + v * per), per * 4);
    }
  if (!in) throw ToolError("the host harness wrote too few outputs");
  return outs;
}

std::vector<Array> run_qemu(const CompileResult& c, const ValidateOptions& o, const fs::path& work, ValidateResult& res) {
  require_tool("make", "make");
  require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi (and libnewlib-arm-none-eabi)");
  require_tool("qemu-system-arm", "qemu-system-arm");
  const Board board = find_board(target_name(o.target));
  ProjectOptions po;
  po.name = o.name;
  po.inputs = o.inputs;
  const Project p = make_project(c, board, po);
  for (const auto& f : p.files) write_file(work / f.path, f.text);
  if (!o.network_dir.empty()) use_network_dir(o.network_dir, work / "network", p.network.name);
  const Run b = run("make -j2 EXTRA_CFLAGS=-DBL_DUMP_OUTPUTS", work);
  if (b.status != 0) {
    std::string hint;
    if (b.out.find("stdio.h") != std::string::npos || b.out.find("rdimon") != std::string::npos)
      hint = " (install the Debian package libnewlib-arm-none-eabi)";
    throw ToolError("the exported project does not build" + hint + ":\n" + tail(b.out, 20));
  }
  const Run r = run("timeout 600 qemu-system-arm -machine " + board.qemu_machine +
                        " -nographic -monitor none -serial none -semihosting-config enable=on,target=native "
                        "-icount shift=7 -kernel build/" + p.network.name + ".elf",
                    work);
  if (r.status == 99) throw ToolError("the firmware faulted under QEMU:\n" + tail(r.out, 10));
  if (r.status != 0 && r.status != 1)
    throw ToolError("QEMU failed (status " + std::to_string(r.status) + "):\n" + tail(r.out, 10));
  write_file(work / "qemu.log", r.out);
  res.firmware_pass = r.status == 0 && r.out.find("\nPASS\n") != std::string::npos;

  const Graph& g = c.graph;
  const int64_t n = o.inputs[0].shape[0];
  std::vector<Array> outs;
  for (int t : g.outputs) {
    Array a;
    a.shape = {n};
    for (auto d : g.tensors[t].shape) a.shape.push_back(d);
    a.data.assign(static_cast<size_t>(a.size()), std::nanf(""));
    outs.push_back(std::move(a));
  }
  std::vector<int64_t> filled(outs.size(), 0);
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag == "DUMP") {
      long v, oi, i;
      ls >> v >> oi >> i;
      if (!ls || v < 0 || v >= n || oi < 0 || oi >= static_cast<long>(outs.size())) continue;
      const int64_t per = g.tensors[g.outputs[oi]].elements();
      std::string w;
      while (ls >> w && i < per) {
        const uint32_t bits = static_cast<uint32_t>(std::stoul(w, nullptr, 16));
        std::memcpy(&outs[oi].data[v * per + i], &bits, 4);
        ++i;
        ++filled[oi];
      }
    } else if (tag == "STEP") {
      StepCount s;
      ls >> s.step >> s.count >> s.kernel;
      std::getline(ls, s.node);
      if (!s.node.empty() && s.node[0] == ' ') s.node.erase(0, 1);
      res.steps.push_back(s);
    } else if (tag == "TOTAL") {
      int v;
      uint64_t t;
      ls >> v >> t;
      res.totals.push_back(t);
    }
  }
  for (size_t i = 0; i < outs.size(); ++i)
    if (filled[i] != outs[i].size())
      throw ToolError("the firmware printed " + std::to_string(filled[i]) + " of " + std::to_string(outs[i].size()) +
                      " output values:\n" + tail(r.out, 10));
  return outs;
}

std::string sci(double v) { return scientific(v); }

}  // namespace

const char* target_name(ValidateTarget t) {
  switch (t) {
    case ValidateTarget::QemuM4: return "qemu-m4";
    case ValidateTarget::QemuM7: return "qemu-m7";
    default: return "host";
  }
}

OutputMetrics compare_output(const std::string& name, const std::vector<float>& r, const std::vector<float>& p, bool binary,
                             float tol) {
  OutputMetrics m;
  m.name = name;
  m.binary = binary;
  m.elements = static_cast<int64_t>(r.size());
  double se = 0, ae = 0, sd = 0, sd2 = 0, rp = 0, rr = 0, pp = 0;
  // Relative to the output's largest magnitude, not each element's: an element that comes out
  // near zero by cancellation carries the rounding error of the large terms it summed (a deep
  // float network summed in another order differs there by far more than 1e-5 of itself).
  double scale = 0;
  for (float v : r)
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  const double limit = tol * (1.0 + scale);
  for (size_t i = 0; i < r.size() && i < p.size(); ++i) {
    const double a = r[i], b = p[i], d = a - b;
    if (std::memcmp(&r[i], &p[i], 4) == 0) ++m.bit_exact;
    if (binary && std::signbit(r[i]) != std::signbit(p[i])) ++m.differing_bits;
    if (!(std::fabs(d) <= limit)) ++m.out_of_tolerance;
    se += d * d;
    ae += std::fabs(d);
    sd += d;
    sd2 += d * d;
    rp += a * b;
    rr += a * a;
    pp += b * b;
    m.max_abs = std::max(m.max_abs, std::fabs(d));
    if (std::isnan(d)) m.max_abs = NAN;
  }
  const double n = std::max<double>(1, static_cast<double>(r.size()));
  m.rmse = std::sqrt(se / n);
  m.mae = ae / n;
  m.mean = sd / n;
  m.std = std::sqrt(std::max(0.0, sd2 / n - m.mean * m.mean));
  m.l2r = pp > 0 ? std::sqrt(se) / std::sqrt(pp) : (se > 0 ? INFINITY : 0.0);
  m.cos = rr > 0 && pp > 0 ? rp / (std::sqrt(rr) * std::sqrt(pp)) : (rr == pp ? 1.0 : 0.0);
  // Binary tensors must match bit for bit (and sign for sign); float ones within tolerance.
  m.pass = r.size() == p.size() && (binary ? m.bit_exact == m.elements : m.out_of_tolerance == 0);
  return m;
}

ValidateResult validate(const CompileResult& c, const ValidateOptions& o) {
  if (o.inputs.empty()) throw ModelError("validate needs inputs (--input or --random)");
  check_inputs(c, o.inputs);
  check_host_limits(c, o.inputs[0].shape[0], RunKind::Reference);
  if (o.labels) {
    const int64_t k = classifier_classes(c);
    if (k == 0)
      throw ModelError(o.labels->file + ": labels need a classifier, an output of shape (N, classes); the model's "
                       "first output is not one");
    check_labels(*o.labels, o.inputs[0].shape[0], "the inputs", k);
  }
  ValidateResult res;
  res.target = o.target;
  res.vectors = static_cast<int>(o.inputs[0].shape[0]);

  Executor ex(c);
  const auto runtime_out = ex.run(o.inputs);
  const auto reference_out = reference_run(c.model, o.inputs);

  const bool keep = !o.work_dir.empty();
  if (keep && fs::exists(o.work_dir) && !fs::is_empty(o.work_dir))
    throw ModelError(fs::absolute(o.work_dir).string() + " is not empty; give a new or empty directory to --keep");
  if (keep) fs::create_directories(o.work_dir);
  // Without --keep: a fresh private directory (mkdtemp under $TMPDIR), never a predictable name
  // someone else could have planted sources in; removed on every path out.
  std::optional<io::TempDir> temp;
  if (!keep) temp.emplace("bitlens-validate-");
  const fs::path work = keep ? fs::absolute(o.work_dir) : temp->path();
  std::vector<Array> got;
  const NetworkCode net = generate_network(c, o.name);
  res.network = net.name;
  if (o.target == ValidateTarget::Host)
    got = run_host(c, o, net, work);
  else
    got = run_qemu(c, o, work, res);

  res.vs_runtime.against = "host runtime";
  res.vs_reference.against = "reference interpreter";
  res.vs_runtime.pass = res.vs_reference.pass = true;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string name = c.graph.tensors[c.graph.outputs[i]].name;
    const bool bin = binary_output(c, i);
    auto a = compare_output(name, runtime_out[i].data, got[i].data, bin, kFloatOutputTolerance);
    auto b = compare_output(name, reference_out[i].data, got[i].data, bin, kFloatOutputTolerance);
    res.vs_runtime.pass &= a.pass;
    res.vs_reference.pass &= b.pass;
    res.vs_runtime.outputs.push_back(a);
    res.vs_reference.outputs.push_back(b);
  }
  if (o.labels && !got.empty()) {
    res.labels = o.labels->file;
    auto score = [&](const Array& y) {
      Accuracy a = make_accuracy(classifier_classes(c));
      add_scores(a, y, o.labels->index.data());
      return a;
    };
    res.generated_accuracy = score(got[0]);
    res.runtime_accuracy = score(runtime_out[0]);
    res.reference_accuracy = score(reference_out[0]);
  }
  return res;
}

std::string validate_text(const CompileResult& c, const ValidateResult& r) {
  std::ostringstream s;
  const bool qemu = r.target != ValidateTarget::Host;
  s << "BitLens validate: " << c.model.file.filename().string() << ", network " << r.network << ", target "
    << target_name(r.target)
    << (r.target == ValidateTarget::QemuM4 ? " (QEMU mps2-an386, Cortex-M4)"
        : r.target == ValidateTarget::QemuM7 ? " (QEMU mps2-an500, Cortex-M7)"
                                             : " (host C compiler)")
    << ", " << r.vectors << " vector(s)\n";
  for (const Comparison* cmp : {&r.vs_runtime, &r.vs_reference}) {
    s << "\nGenerated C vs " << cmp->against << "\n";
    s << std::left << std::setw(24) << "output" << std::right << std::setw(20) << "bit-exact" << std::setw(12) << "diff bits"
      << std::setw(11) << "rmse" << std::setw(11) << "mae" << std::setw(11) << "l2r" << std::setw(11) << "cos"
      << std::setw(11) << "max abs" << "  result\n";
    for (const auto& m : cmp->outputs) {
      std::string nm = m.name.size() > 23 ? m.name.substr(0, 20) + "..." : m.name;
      s << std::left << std::setw(24) << nm << std::right << std::setw(20)
        << (std::to_string(m.bit_exact) + "/" + std::to_string(m.elements)) << std::setw(12)
        << (m.binary ? std::to_string(m.differing_bits) : std::string("-")) << std::setw(11) << sci(m.rmse) << std::setw(11)
        << sci(m.mae) << std::setw(11) << sci(m.l2r) << std::setw(11) << std::fixed << std::setprecision(6) << m.cos
        << std::defaultfloat << std::setw(11) << sci(m.max_abs) << "  "
        << (m.pass ? (m.bit_exact == m.elements ? "OK (bit-exact)" : "OK (within tolerance)")
                   : (m.binary ? "MISMATCH (bits differ)" : "MISMATCH (out of tolerance: " + std::to_string(m.out_of_tolerance) + " elements)"))
        << "\n";
    }
  }
  if (qemu && !r.steps.empty()) {
    uint64_t sum = 0;
    for (const auto& st : r.steps) sum += st.count;
    s << "\nInstructions per step, vector 0 (QEMU -icount shift=7: executed instructions, not cycles)\n";
    s << std::right << std::setw(4) << "step" << "  " << std::left << std::setw(32) << "node" << std::setw(22) << "kernel"
      << std::right << std::setw(14) << "instructions" << std::setw(8) << "%" << std::setw(12) << "MACC/instr" << "\n";
    for (const auto& st : r.steps) {
      const Node* n = c.graph.find_node(st.node);
      const double macc = n ? static_cast<double>(n->macc) : 0.0;
      std::ostringstream pct, mpi;
      pct << std::fixed << std::setprecision(1) << (sum ? 100.0 * static_cast<double>(st.count) / static_cast<double>(sum) : 0.0);
      mpi << std::fixed << std::setprecision(2) << (st.count ? macc / static_cast<double>(st.count) : 0.0);
      s << std::right << std::setw(4) << st.step << "  " << std::left << std::setw(32) << st.node << std::setw(22) << st.kernel
        << std::right << std::setw(14) << with_commas(static_cast<int64_t>(st.count)) << std::setw(8) << pct.str()
        << std::setw(12) << mpi.str() << "\n";
    }
    s << std::right << std::setw(4) << "" << "  " << std::left << std::setw(54) << "sum of steps" << std::right << std::setw(14)
      << with_commas(static_cast<int64_t>(sum)) << "\n";
    if (!r.totals.empty())
      s << std::right << std::setw(4) << "" << "  " << std::left << std::setw(54) << "whole inference (vector 0)" << std::right
        << std::setw(14) << with_commas(static_cast<int64_t>(r.totals[0])) << "\n";
    s << "Firmware self-check against the embedded expected outputs: " << (r.firmware_pass ? "PASS" : "FAIL") << "\n";
  }
  if (r.generated_accuracy) {
    auto pct = [](const Accuracy& a) {
      return fixed(a.top1() * 100, 2) + "% (" + std::to_string(a.correct) + "/" + std::to_string(a.samples) + ")" +
             (a.top5() ? ", top-5 " + fixed(*a.top5() * 100, 2) + "%" : std::string());
    };
    s << "\nAccuracy against " << fs::path(r.labels).filename().string() << " (top-1, argmax of the first output)\n"
      << "  generated C            " << pct(*r.generated_accuracy) << "\n"
      << "  host runtime           " << pct(*r.runtime_accuracy) << "\n"
      << "  reference interpreter  " << pct(*r.reference_accuracy) << "\n";
  }
  s << "\nResult: " << (r.pass() ? "PASS" : "FAIL") << " — generated C "
    << (r.vs_runtime.pass ? "matches" : "does NOT match") << " the host runtime and "
    << (r.vs_reference.pass ? "matches" : "does NOT match") << " the reference interpreter"
    << " (binary outputs bit for bit, float outputs within " << kFloatOutputTolerance
    << " x (1 + the output's largest magnitude))\n";
  return s.str();
}

}  // namespace bitlens
