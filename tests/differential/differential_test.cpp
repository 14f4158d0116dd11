// Whole-model differential test (issue 10, item 7). Seeded random models (random_model.hpp)
// are run by
//   - the kernels engine (Executor: the C kernels and arena of exported firmware),
//   - the reference interpreter (core/reference),
//   - an independent oracle: tests/oracle/keras_oracle.py (Python + numpy + h5py), which reads
//     the written .h5 file itself and implements Keras/Larq from their documentation and source.
// Only models BitLens supports (no `unsupported` node) are compared; the rest are counted.
//
// Tolerances (see tests/differential/README.md for why):
//   kernels vs reference: every bit-packed (s1) tensor the kernels engine computes equals the
//     sign of the reference's value of that tensor, bit for bit (the binary decisions, ties
//     included); integer-valued model outputs bit for bit; other outputs within
//     |a-b| <= 1e-4 * (1 + max|reference|) per output tensor.
//   reference vs oracle: the oracle gives three readings of Keras (main: float32 per op; alt:
//     float64 + fused BatchNorm order; seq: float32 sums in tap order, computed only when the
//     first two do not match); the reference must match one of them within
//     |a-b| <= 2e-3 * (1 + max|oracle|), with the same NaN/Inf pattern.
//
// Runs: ctest runs seeds 1..kCtestModels (stops early, without failing, after 50 s).
//   BITLENS_DIFF_MODELS=N  BITLENS_DIFF_FIRST_SEED=S  ./differential_test   (long mode, no cap)
// A failure prints the seed, the model config JSON and the first layer where the reference and
// the oracle part (`keras_oracle.py --trace`).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include "bitlens/compiler.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/reference.hpp"
#include "bitlens/runtime.hpp"
#include "differential/random_model.hpp"
#include "oracle/run_oracle.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

constexpr int kCtestModels = 6000;
constexpr double kCtestSeconds = 50.0;
constexpr int kBatch = 2;
constexpr int kOracleBatch = 64;  // models per oracle process

// Known BitLens discrepancies being fixed elsewhere (issue 10). A model that fails a comparison
// *and* matches one of these is counted under the issue instead of failing the test, so the
// suite stays green while the fix is under way; once fixed, such models simply pass. Every
// entry names the issue item and what goes wrong.
struct KnownIssue {
  std::string id, what;
  std::function<bool(const diff::Generated&)> matches;
};
const std::vector<KnownIssue>& known_issues() {
  // Empty: issue10-mas-exactness is fixed (the reference sums MagnitudeAwareSign products
  // exactly and rounds once, as the compiler's thresholds do; see MAS_SUM_ORDER).
  static const std::vector<KnownIssue> v = {};
  return v;
}

struct Tally {
  int generated = 0, unsupported = 0, reference_refused = 0, compared = 0, exact = 0;
  int oracle_compared = 0, oracle_alt_only = 0, oracle_seq_only = 0, fragile_models = 0;
  int refused = 0, bit_tensors = 0;
  std::map<std::string, int> known;
  std::map<std::string, int> unsupported_features, compared_features, unsupported_nodes, refused_messages;
};

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("bitlens_diff_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};



bool same_special(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return true;
}

// Index of the first element outside |a-b| <= tol * (1 + max|b|), or -1.
int64_t first_mismatch(const Array& a, const Array& b, double tol) {
  if (a.shape != b.shape) return 0;
  double scale = 0;
  for (float v : b.data)
    if (std::isfinite(v)) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  const double lim = tol * (1.0 + scale);
  for (size_t i = 0; i < a.data.size(); ++i) {
    const float x = a.data[i], y = b.data[i];
    if (!same_special(x, y)) return static_cast<int64_t>(i);
    if (std::isfinite(x) && std::fabs(static_cast<double>(x) - y) > lim) return static_cast<int64_t>(i);
  }
  return -1;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + ")";
}

// Outputs that are exact integers in the reference (binary dot products without a float
// epilogue) must come out bit for bit; other float outputs within 1e-4 (float32 rounding of
// folded epilogues, transcendental functions, float kernels' summation).
bool integer_valued(const std::vector<Array>& outs) {
  for (const auto& a : outs)
    for (float v : a.data)
      if (!std::isfinite(v) || v != std::nearbyint(v) || std::fabs(v) > 16777216.0f) return false;
  return true;
}

// The binary decisions: every bit-packed (s1) tensor the kernels engine computes must equal the
// sign of the reference's output of the layer it stands for (bit 1 = negative, sign(0) = +1),
// bit for bit, ties included. Returns "" or a description of the first differing bit.
// `near_tie` is set when the differing bit comes from a float-accumulating node (binary-weights
// or float kernel) or packs a float tensor, and the reference value is within float32 rounding of 0 (|v| <= 1e-6 * (1 +
// max|v| of the sample)): the summation order decides such a bit (see README, finding 3).
std::string compare_bits(const CompileResult& r, const std::map<int, std::vector<std::vector<uint32_t>>>& bits,
                         const ReferenceTrace& trace, int* tensors_checked, bool* near_tie) {
  *near_tie = false;
  // In execution order, so that a flipped near-tie in a pack step is seen before its consumers.
  for (const int node : r.schedule) {
    if (!bits.count(node)) continue;
    const auto& samples = bits.at(node);
    const Node& n = r.graph.nodes.at(static_cast<size_t>(node));
    const bitlens::Tensor& t = r.graph.tensors.at(static_cast<size_t>(n.outputs.at(0)));
    // A node with layers folded into it (BatchNorm, activation clamps) emits the value of the
    // last of them; a MaxPool on bits pools the bits of its producer's folded chain (the pool
    // commutes with the monotone per-channel map), so it stands for the last layer folded into
    // that producer. Only a reference value with this tensor's element count can be compared.
    // A pack step (f32 -> s1) stands for the sign of the float tensor it packs, i.e. of the
    // node producing it (and that node's folded layers).
    if (n.op != Op::MaxPool && !n.epi.pools.empty()) continue;  // pre-pool bits: the pool is checked
    const Node* src = &n;
    // Inserted steps (no class) stand for no layer of their own.
    std::string layer = n.class_name.empty() ? t.name : n.layer;
    if (n.op == Op::Pack && !n.inputs.empty()) {
      const bitlens::Tensor& in = r.graph.tensors.at(static_cast<size_t>(n.inputs[0]));
      src = in.producer >= 0 ? &r.graph.nodes.at(static_cast<size_t>(in.producer)) : nullptr;
      layer = src && !src->class_name.empty() ? src->layer : in.name;
    }
    std::set<std::string> heads;
    if (src) heads.insert(src->name);
    for (const Node* cur = src; cur && cur->op == Op::MaxPool && !cur->inputs.empty();) {
      const int prod = r.graph.tensors.at(static_cast<size_t>(cur->inputs[0])).producer;
      if (prod < 0) break;
      cur = &r.graph.nodes.at(static_cast<size_t>(prod));
      heads.insert(cur->name);
    }
    // Walk forward from the node's own layer through its single consumers that were folded into
    // this node (or, for a pool on bits, into its producer): the bits are the sign of the last.
    const int64_t batch = static_cast<int64_t>(samples.size());
    for (;;) {
      std::vector<const Layer*> consumers;
      for (const auto& l : r.model.layers)
        for (const auto& in : l.inputs)
          if (in.layer == layer) consumers.push_back(&l);
      if (consumers.size() != 1) break;
      const Node* c = r.graph.find_node(consumers[0]->name);
      // Another pool on bits before the folded layers: these bits are pooled before the folded
      // map is applied to them, no reference value holds them (the last pool is checked).
      if (c && c->op == Op::MaxPool && !c->removed && !c->outputs.empty() &&
          r.graph.tensors.at(static_cast<size_t>(c->outputs[0])).format == Format::S1 && n.op == Op::MaxPool) {
        layer.clear();
        break;
      }
      // Training-only layers (Dropout, ...) are removed and pass values through.
      if (!c || !(heads.count(c->decision.fused_into) || c->op == Op::Identity)) break;
      layer = consumers[0]->name;
    }
    if (layer.empty()) continue;
    auto it = trace.outputs.find(layer);
    if (it == trace.outputs.end()) continue;  // an inserted step's own tensor
    ++*tensors_checked;
    const Array& ref = it->second;
    if (ref.size() != batch * t.elements()) continue;
    const int64_t e = t.elements();
    for (size_t b = 0; b < samples.size(); ++b) {
      for (int64_t i = 0; i < e; ++i) {
        const float v = ref.data.at(static_cast<size_t>(static_cast<int64_t>(b) * e + i));
        const bool want = v < 0.0f;
        const bool got = (samples[b].at(static_cast<size_t>(i / 32)) >> (i % 32)) & 1u;
        if (want != got) {
          // The scale of the tensor's finite values: an overflowed (inf) element must not make
          // every difference a "near tie". A tensor holding inf or NaN is never a near tie: the
          // engines agree on non-finite values too (max pooling as TF, docs/decisions.md).
          double scale = 0;
          bool finite = std::isfinite(v);
          for (int64_t j = 0; j < e; ++j) {
            const double x = static_cast<double>(ref.data.at(static_cast<size_t>(static_cast<int64_t>(b) * e + j)));
            if (std::isfinite(x)) scale = std::max(scale, std::fabs(x));
            else finite = false;
          }
          *near_tie = finite &&
                      (n.op == Op::Pack || n.decision.kernel == KernelClass::BinaryWeights ||
                       n.decision.kernel == KernelClass::Float) &&
                      std::fabs(v) <= 1e-6 * (1.0 + scale);
          std::ostringstream o;
          int64_t total = 0;
          for (size_t bb = 0; bb < samples.size(); ++bb)
            for (int64_t j = 0; j < e; ++j)
              total += (ref.data.at(static_cast<size_t>(static_cast<int64_t>(bb) * e + j)) < 0.0f) !=
                       static_cast<bool>((samples[bb].at(static_cast<size_t>(j / 32)) >> (j % 32)) & 1u);
          o << total << " of " << e * static_cast<int64_t>(samples.size()) << " bits differ; first: ";
          o << "bit-packed tensor '" << t.name << "' = sign of layer '" << layer << "' (node " << n.name << ", " << kernel_class_name(n.decision.kernel)
            << ") sample " << b << " element " << i << ": kernels bit " << got << ", reference value " << v;
          return o.str();
        }
      }
    }
  }
  return "";
}

struct Pending {
  uint64_t seed;
  diff::Generated gen;
  std::vector<Array> inputs;
  std::vector<Array> reference;
  fs::path prefix;
};

// BITLENS_DIFF_SAVE=DIR keeps a failing model and its inputs (DIR/seed<N>.h5, .in<k>.npy) for
// `bitlens run` and `keras_oracle.py --trace`.
std::string save_case(const Pending& p) {
  const char* dir = std::getenv("BITLENS_DIFF_SAVE");
  if (!dir || !*dir) return "";
  fs::create_directories(dir);
  const std::string base = std::string(dir) + "/seed" + std::to_string(p.seed);
  H5WriteOptions wo;
  wo.keras_version = p.gen.keras_version;
  wo.keras3_legacy = p.gen.keras_version.starts_with("3.");
  write_model_h5(p.gen.model, base + ".h5", wo);
  for (size_t i = 0; i < p.inputs.size(); ++i) write_npy(base + ".in" + std::to_string(i) + ".npy", p.inputs[i]);
  return "saved as " + base + ".h5\n";
}

std::string describe(const Pending& p) {
  std::ostringstream o;
  o << save_case(p);
  o << "seed " << p.seed << " (keras_version " << p.gen.keras_version << ", features:";
  for (const auto& f : p.gen.features) o << " " << f;
  o << ")\nmodel_config: " << p.gen.config.dump() << "\n";
  return o.str();
}

// A failed comparison of a model that shows a known issue: counted (the first one printed).
bool known_failure(const Pending& p, Tally& t, const std::string& what) {
  const diff::Generated& g = p.gen;
  for (const auto& k : known_issues())
    if (k.matches(g)) {
      if (t.known[k.id]++ == 0)
        std::printf("known issue %s (first case, not a test failure): %s\n  %s\n", k.id.c_str(), k.what.c_str(),
                    what.substr(0, 400).c_str());
      if (t.known[k.id] == 1) std::printf("%s", save_case(p).c_str());
      return true;
    }
  return false;
}


// On an oracle mismatch: the first layer (in file order) whose reference output differs from
// the oracle's, from ReferenceTrace and `keras_oracle.py --trace`.
std::string first_differing_layer(const Pending& p, const fs::path& model_file) {
  ReferenceTrace trace;
  try {
    reference_run(p.gen.model, p.inputs, &trace);
  } catch (const std::exception& e) {
    return std::string("reference trace failed: ") + e.what();
  }
  const fs::path dir = p.prefix.string() + ".trace";
  fs::create_directories(dir);
  std::string cmd = oracle_run::command() + " " + model_file.string() + " --trace " + dir.string();
  for (size_t i = 0; i < p.inputs.size(); ++i) cmd += " --input " + p.prefix.string() + ".in" + std::to_string(i) + ".npy";
  const std::string out = oracle_run::run_capture(cmd);
  for (const auto& name : trace.order) {
    std::string file = name;
    for (auto& c : file)
      if (c == '/') c = '@';
    const fs::path f = dir / (file + ".npy");
    if (!fs::exists(f)) continue;
    const Array want = read_npy(f);
    const Array& got = trace.outputs.at(name);
    const int64_t k = first_mismatch(got, want, 2e-3);
    if (k >= 0) {
      std::ostringstream o;
      o << "first differing layer: '" << name << "' (" << p.gen.model.find(name)->class_name << "), element " << k;
      if (got.shape == want.shape)
        o << ": oracle " << want.data[static_cast<size_t>(k)] << ", reference " << got.data[static_cast<size_t>(k)];
      else
        o << ": oracle shape " << shape_str(want.shape) << ", reference shape " << shape_str(got.shape);
      return o.str();
    }
  }
  return "no single layer differs beyond tolerance (oracle trace: " + out + ")";
}

// The oracle's slow third reading (float32 sums one tap at a time, in tap order), computed only
// when the reference matches neither main nor alt: exact ties in real arithmetic after float
// layers (a + b - a - b) come out as +-1 ulp or 0 depending on the summation order.
// The seq reading (float32 sums in tap order) of output k; also counts its fragile sign
// decisions: an exact real tie whose float64 sum is exactly 0 in the main reading (not fragile
// there) can be a nonzero residual of float32 sums, whose sign TF's unspecified order decides.
bool matches_seq_variant(const Pending& p, size_t k, int* seq_fragile) {
  const std::string fragile_file = p.prefix.string() + ".seq.fragile.txt";
  std::string cmd = oracle_run::command() + " " + p.prefix.string() + ".h5 --variant seq --fragile " + fragile_file;
  for (size_t i = 0; i < p.inputs.size(); ++i) cmd += " --input " + p.prefix.string() + ".in" + std::to_string(i) + ".npy";
  for (size_t i = 0; i < p.reference.size(); ++i) cmd += " --output " + p.prefix.string() + ".seq." + std::to_string(i) + ".npy";
  oracle_run::run_capture(cmd);
  std::ifstream fr(fragile_file);
  fr >> *seq_fragile;
  const fs::path f = p.prefix.string() + ".seq." + std::to_string(k) + ".npy";
  return fs::exists(f) && first_mismatch(p.reference[k], read_npy(f), 2e-3) < 0;
}

// Runs the oracle on the pending models and compares; each failure is appended to `errors`.
bool compare_with_oracle(std::vector<Pending>& batch, const fs::path& dir, Tally& t, std::vector<std::string>* errors) {
  if (batch.empty()) return true;
  const fs::path jobs = dir / "jobs.txt";
  {
    std::ofstream j(jobs);
    for (const auto& p : batch) {
      j << p.prefix.string() << ".h5\t";
      for (size_t i = 0; i < p.inputs.size(); ++i) j << (i ? "," : "") << p.prefix.string() << ".in" << i << ".npy";
      j << "\t" << p.prefix.string() << "\n";
    }
  }
  const std::string out = oracle_run::run_capture(oracle_run::command() + " --batch " + jobs.string());
  bool ok = true;
  for (const auto& p : batch) {
    const fs::path err = p.prefix.string() + ".error.txt";
    if (fs::exists(err)) {
      std::ifstream e(err);
      std::string msg((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
      errors->push_back("the oracle cannot run a model BitLens supports: " + msg + describe(p) + "oracle output:\n" + out);
      ok = false;
      continue;
    }
    {
      std::ifstream fr(p.prefix.string() + ".fragile.txt");
      int fragile = 0;
      fr >> fragile;
      t.fragile_models += fragile > 0;
    }
    bool alt_only = false;
    for (size_t k = 0; k < p.reference.size(); ++k) {
      const fs::path fm = p.prefix.string() + ".main." + std::to_string(k) + ".npy";
      const fs::path fa = p.prefix.string() + ".alt." + std::to_string(k) + ".npy";
      if (!fs::exists(fm) || !fs::exists(fa)) {
        errors->push_back("oracle wrote no output " + std::to_string(k) + "\n" + describe(p) + out);
        ok = false;
        break;
      }
      const Array main = read_npy(fm), alt = read_npy(fa);
      const int64_t em = first_mismatch(p.reference[k], main, 2e-3);
      const int64_t ea = first_mismatch(p.reference[k], alt, 2e-3);
      int seq_fragile = 0;
      if (em >= 0 && ea >= 0 && matches_seq_variant(p, k, &seq_fragile)) {
        ++t.oracle_seq_only;
        continue;
      }
      if (em >= 0 && ea >= 0) {
        // A sign decision on a value within float32 rounding of 0 (but not an exact tie) is not
        // pinned down by Keras: TF's sigmoid/exp/rsqrt are not correctly rounded and its sums
        // have no fixed order. Counted, not failed, when the oracle saw such a decision in its
        // main or its seq reading.
        std::ifstream fr(p.prefix.string() + ".fragile.txt");
        int fragile = 0;
        fr >> fragile;
        fragile += seq_fragile;
        if (fragile > 0) {
          if (t.known["oracle-fragile-sign"]++ == 0)
            std::printf("known issue oracle-fragile-sign (first case, not a test failure): seed %llu: %d sign "
                        "decision(s) within float32 rounding of 0 in the oracle, output %zu differs\n%s",
                        static_cast<unsigned long long>(p.seed), fragile, k, save_case(p).c_str());
          alt_only = false;
          break;
        }
        std::ostringstream o;
        o << "reference != oracle, output " << k << " element " << em;
        if (main.shape == p.reference[k].shape)
          o << ": oracle(main) " << main.data[static_cast<size_t>(em)] << ", oracle(alt) "
            << alt.data[static_cast<size_t>(em)] << ", reference " << p.reference[k].data[static_cast<size_t>(em)];
        else
          o << ": oracle shape " << shape_str(main.shape) << ", reference " << shape_str(p.reference[k].shape);
        if (known_failure(p, t, "seed " + std::to_string(p.seed) + ": " + o.str())) {
          alt_only = false;
          break;
        }
        errors->push_back(o.str() + "\n" + first_differing_layer(p, p.prefix.string() + ".h5") + "\n" + describe(p));
        ok = false;
        break;
      }
      alt_only = alt_only || em >= 0;
    }
    ++t.oracle_compared;
    t.oracle_alt_only += alt_only;
  }
  return ok;
}

bool check_with_oracle(std::vector<Pending>& batch, const fs::path& dir, Tally& t) {
  std::vector<std::string> errors;
  const bool ok = compare_with_oracle(batch, dir, t, &errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
  return ok;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Generates, compiles and runs seed `seed` on both engines. Returns the pending oracle job, or
// nullopt when the model is not compared (unsupported). Fails the test on an engine mismatch.
std::optional<Pending> run_generated(Pending p, const fs::path& dir, Tally& t, bool* failed);

std::optional<Pending> run_engines(uint64_t seed, const fs::path& dir, Tally& t, bool* failed,
                                   const std::set<std::string>& only = {}) {
  Pending p;
  p.seed = seed;
  p.gen = diff::generate(seed, only);
  return run_generated(std::move(p), dir, t, failed);
}

// Same, for a model already generated (p.seed and p.gen set; p.seed also seeds the inputs and
// names the files, so it must be unique within `dir`).
std::optional<Pending> run_generated(Pending p, const fs::path& dir, Tally& t, bool* failed) {
  const uint64_t seed = p.seed;
  ++t.generated;
  CompileResult r;
  try {
    r = compile(p.gen.model);
  } catch (const ModelError& e) {
    // A valid Keras file BitLens refuses (issue 10 item 5 was groups > 1 failing the kernel
    // shape check; grouped convolutions now run). Counted, not compared; the long run lists them.
    ++t.refused;
    std::string msg = e.what();
    msg = msg.substr(msg.find(':') + 1, 70);
    for (auto& c : msg)
      if (std::isdigit(static_cast<unsigned char>(c))) c = '#';
    ++t.refused_messages[msg];
    for (const auto& f : p.gen.features) ++t.unsupported_features[f];
    return std::nullopt;
  }
  bool unsupported = false;
  for (const Node& n : r.graph.nodes)
    if (n.decision.kernel == KernelClass::Unsupported) {
      unsupported = true;
      ++t.unsupported_nodes[n.class_name + " " + (n.decision.reasons.empty() ? "" : n.decision.reasons[0].code)];
    }
  if (unsupported) {
    ++t.unsupported;
    for (const auto& f : p.gen.features) ++t.unsupported_features[f];
    return std::nullopt;
  }
  p.inputs = diff::random_inputs(p.gen.model, seed, kBatch);
  try {
    p.reference = reference_run(r.model, p.inputs);
  } catch (const ModelError& e) {
    // compile() deploys it but the reference cannot run it: that is a BitLens inconsistency.
    if (known_failure(p, t, "seed " + std::to_string(seed) + ": reference refuses a deployed model: " + e.what()))
      return std::nullopt;
    ADD_FAILURE() << "analyze calls the model deployable but the reference refuses it: " << e.what() << "\n" << describe(p);
    *failed = true;
    return std::nullopt;
  }
  Executor ex(r);
  std::map<int, std::vector<std::vector<uint32_t>>> bits;
  ex.set_observer([&](int node, const void* data, int64_t bytes) {
    const Node& n = r.graph.nodes.at(static_cast<size_t>(node));
    if (n.outputs.empty() || r.graph.tensors.at(static_cast<size_t>(n.outputs[0])).format != Format::S1) return;
    const auto* w = static_cast<const uint32_t*>(data);
    bits[node].emplace_back(w, w + bytes / 4);
  });
  // BITLENS_DIFF_SHOW=LAYER (debugging one seed): print the kernels engine's f32 output of that
  // node next to the reference's values.
  std::map<int, std::vector<float>> shown;
  const char* show = std::getenv("BITLENS_DIFF_SHOW");
  if (show && *show) {
    auto inner = [&, show](int node, const void* data, int64_t bytes) {
      const Node& n = r.graph.nodes.at(static_cast<size_t>(node));
      if (n.name != show || n.outputs.empty() || r.graph.tensors.at(static_cast<size_t>(n.outputs[0])).format != Format::F32) return;
      const auto* f = static_cast<const float*>(data);
      shown[node].insert(shown[node].end(), f, f + bytes / 4);
    };
    ex.set_observer([&, inner](int node, const void* data, int64_t bytes) {
      inner(node, data, bytes);
      const Node& n = r.graph.nodes.at(static_cast<size_t>(node));
      if (n.outputs.empty() || r.graph.tensors.at(static_cast<size_t>(n.outputs[0])).format != Format::S1) return;
      const auto* w = static_cast<const uint32_t*>(data);
      bits[node].emplace_back(w, w + bytes / 4);
    });
  }
  const auto got = ex.run(p.inputs);
  ReferenceTrace trace;
  reference_run(r.model, p.inputs, &trace);
  for (const auto& [node, vals] : shown) {
    const auto& ref = trace.outputs.at(r.graph.nodes.at(static_cast<size_t>(node)).name).data;
    for (size_t i = 0; i < vals.size() && i < ref.size(); ++i)
      std::printf("%s[%zu] kernels %.9g reference %.9g%s\n", show, i, vals[i], ref[i], vals[i] != ref[i] ? "  <--" : "");
  }
  bool near_tie = false;
  const std::string bit_diff = compare_bits(r, bits, trace, &t.bit_tensors, &near_tie);
  if (!bit_diff.empty()) {
    if (known_failure(p, t, "seed " + std::to_string(seed) + ": " + bit_diff)) return std::nullopt;
    if (near_tie) {
      // Finding 3 (README): a float-accumulating kernel with bit output sums in another order than
      // the reference; at an exact tie in real arithmetic the two float32 sums land on either side.
      if (t.known["float-accumulation-near-tie"]++ == 0)
        std::printf("known issue float-accumulation-near-tie (first case, not a test failure): seed %llu: %s\n%s",
                    static_cast<unsigned long long>(seed), bit_diff.c_str(), save_case(p).c_str());
      return std::nullopt;
    }
    ADD_FAILURE() << "kernels engine != reference in a binary decision: " << bit_diff << "\n" << describe(p);
    *failed = true;
    return std::nullopt;
  }
  const bool exact = integer_valued(p.reference);
  t.exact += exact;
  // exp(x) turns an absolute difference in x (two float sums of ~40 in different orders differ
  // by ~1e-5) into the same *relative* difference of a huge value: a looser bound after it.
  const double tol = p.gen.config.dump().find("\"exponential\"") != std::string::npos ? 1e-3 : 1e-4;
  for (size_t k = 0; k < got.size(); ++k) {
    const int64_t e = first_mismatch(got[k], p.reference[k], exact ? 0.0 : tol);
    if (e >= 0) {
      if (known_failure(p, t, "seed " + std::to_string(seed) + ": kernels engine != reference, output " +
                                      std::to_string(k) + " element " + std::to_string(e) + ": kernels " +
                                      std::to_string(got[k].data[static_cast<size_t>(e)]) + ", reference " +
                                      std::to_string(p.reference[k].data[static_cast<size_t>(e)])))
        return std::nullopt;
      ADD_FAILURE() << "kernels engine != reference (" << (exact ? "exact" : "tolerance " + std::to_string(tol)) << "), output " << k
                    << " element " << e << ": kernels " << got[k].data[static_cast<size_t>(e)] << ", reference "
                    << p.reference[k].data[static_cast<size_t>(e)] << "\n" << describe(p);
      *failed = true;
      return std::nullopt;
    }
  }
  ++t.compared;
  for (const auto& f : p.gen.features) ++t.compared_features[f];
  p.prefix = dir / ("m" + std::to_string(seed));
  H5WriteOptions wo;
  wo.keras_version = p.gen.keras_version;
  wo.keras3_legacy = p.gen.keras_version.starts_with("3.");
  write_model_h5(p.gen.model, p.prefix.string() + ".h5", wo);
  for (size_t i = 0; i < p.inputs.size(); ++i) write_npy(p.prefix.string() + ".in" + std::to_string(i) + ".npy", p.inputs[i]);
  return p;
}

void print_tally(const Tally& t, double secs) {
  std::printf("differential: %d models generated, %d compared on both engines (%d with integer outputs compared bit for bit, %d bit-packed tensors checked), %d compared with the "
              "oracle (%d matched only its alt reading, %d only its seq reading), %d unsupported by BitLens, "
              "%.1f s\n",
              t.generated, t.compared, t.exact, t.bit_tensors, t.oracle_compared, t.oracle_alt_only, t.oracle_seq_only, t.unsupported, secs);
  std::printf("  models with a sign decision within float32 rounding of 0 (oracle): %d\n", t.fragile_models);
  for (const auto& [id, n] : t.known) std::printf("  known issue %s: %d models\n", id.c_str(), n);
  std::printf("  refused by the loader/compiler (ModelError): %d\n", t.refused);
  for (const auto& [m, n] : t.refused_messages) std::printf("    %5d  %s\n", n, m.c_str());
  std::printf("  unsupported nodes (class, first reason):\n");
  for (const auto& [m, n] : t.unsupported_nodes) std::printf("    %5d  %s\n", n, m.c_str());
  std::printf("  feature: compared / in unsupported or refused models\n");
  std::set<std::string> names;
  for (const auto& f : diff::features()) names.insert(f.name);
  names.insert("Add");
  names.insert("Concatenate");
  for (const auto& n : names) {
    auto c = t.compared_features.count(n) ? t.compared_features.at(n) : 0;
    auto u = t.unsupported_features.count(n) ? t.unsupported_features.at(n) : 0;
    std::printf("  %-26s %6d / %d\n", n.c_str(), c, u);
  }
}

}  // namespace

TEST(Differential, RandomModelsEnginesAndOracleAgree) {
  const int requested = env_int("BITLENS_DIFF_MODELS", 0);
  const bool long_mode = requested > 0;
  const int count = long_mode ? requested : kCtestModels;
  const uint64_t first = static_cast<uint64_t>(env_int("BITLENS_DIFF_FIRST_SEED", 1));
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  Tally t;
  TempDir dir;
  std::vector<Pending> batch;
  bool failed = false;
  // ctest stops at the first failure; the long mode goes on and lists every failing seed.
  for (uint64_t seed = first; seed < first + static_cast<uint64_t>(count) && (!failed || long_mode); ++seed) {
    if (!long_mode && elapsed() > kCtestSeconds) {
      std::printf("differential: time budget reached after seed %llu\n", static_cast<unsigned long long>(seed - 1));
      break;
    }
    auto p = run_engines(seed, dir.path(), t, &failed);
    if (p) batch.push_back(std::move(*p));
    if (batch.size() >= kOracleBatch) {
      if (!check_with_oracle(batch, dir.path(), t)) failed = true;
      for (const auto& q : batch) fs::remove_all(q.prefix.string() + ".trace");
      batch.clear();
      // Files of checked models are not needed any more.
      for (const auto& e : fs::directory_iterator(dir.path())) fs::remove_all(e.path());
    }
    if (long_mode && (seed - first + 1) % 5000 == 0) print_tally(t, elapsed());
  }
  if (!failed || long_mode) check_with_oracle(batch, dir.path(), t);
  print_tally(t, elapsed());
  // The test must exercise something: most generated models are supported today.
  EXPECT_GT(t.compared, t.generated / 4) << "too few generated models are supported: is the generator broken?";
  EXPECT_EQ(t.oracle_compared, t.compared);
}

// The rule: every layer analyze calls deployable (any kernel class but `unsupported`) runs on the
// kernels engine with the reference's results (bits exactly, floats within 1e-4), and a model
// with an `unsupported` layer is refused by the Executor instead of being run some other way.
// Each table row alone, on random inputs, 30 seeds each.
TEST(Differential, DeployableLayersRunAsTheReference) {
  TempDir dir;
  int deployable_rows = 0;
  for (const auto& f : diff::features()) {
    Tally t;
    bool failed = false;
    int refused_ok = 0, loader_refused = 0;
    for (uint64_t seed = 1; seed <= 30 && !failed; ++seed) {
      // Unsupported models: the Executor must refuse them.
      diff::Generated g = diff::generate(seed, {f.name});
      if (std::find(g.features.begin(), g.features.end(), f.name) == g.features.end()) continue;
      bool unsupported = false;
      try {
        CompileResult r = compile(g.model);
        for (const Node& n : r.graph.nodes) unsupported = unsupported || n.decision.kernel == KernelClass::Unsupported;
        if (unsupported) {
          EXPECT_THROW(Executor ex(r), ModelError) << f.name << " seed " << seed << ": an unsupported layer must not run";
          ++refused_ok;
          continue;
        }
      } catch (const ModelError&) {
        ++loader_refused;  // a valid file the loader refuses (issue 10 item 5): not run at all
        continue;
      }
      run_engines(seed, dir.path(), t, &failed, {f.name});
      for (const auto& e : fs::directory_iterator(dir.path())) fs::remove_all(e.path());
    }
    deployable_rows += t.compared > 0;
    EXPECT_GT(t.compared + refused_ok + loader_refused, 0) << f.name << ": the row was never generated";
    std::printf("  %-26s deployable and equal: %2d, unsupported and refused: %2d, refused by the loader: %2d, "
                "known issues: %d\n", f.name.c_str(), t.compared, refused_ok, loader_refused, static_cast<int>(t.known.size()));
  }
  EXPECT_GE(deployable_rows, 15) << "most table rows are deployable today";
}

// The oracle comparison can fail: a model whose file differs from what the reference ran (one
// BatchNormalization mean moved by 1) must be reported, and the untouched one must not.
TEST(Differential, OracleComparisonDetectsADifferentModel) {
  TempDir dir;
  diff::Generated g;
  uint64_t seed = 1;
  for (;; ++seed) {
    g = diff::generate(seed, {"BinaryBlock"});
    bool ok = true;
    try {
      for (const Node& n : compile(g.model).graph.nodes) ok = ok && n.decision.kernel != KernelClass::Unsupported;
    } catch (const ModelError&) {
      ok = false;
    }
    if (ok) break;
  }
  g.keras_version = g.model.keras_version = "2.10.0";  // written as 2.10.0 below
  Pending p;
  p.seed = seed;
  p.gen = g;
  p.inputs = diff::random_inputs(g.model, seed, kBatch);
  p.reference = reference_run(g.model, p.inputs);
  p.prefix = dir.path() / "m";
  for (size_t i = 0; i < p.inputs.size(); ++i) write_npy(p.prefix.string() + ".in" + std::to_string(i) + ".npy", p.inputs[i]);
  write_model_h5(g.model, p.prefix.string() + ".h5");
  Tally t;
  std::vector<Pending> batch = {p};
  EXPECT_TRUE(check_with_oracle(batch, dir.path(), t));
  EXPECT_EQ(t.oracle_compared, 1);
  // The same model with one BatchNormalization statistic changed in the file.
  Model changed = g.model;
  bool edited = false;
  for (auto& l : changed.layers)
    if (l.class_name == "BatchNormalization" && !edited) {
      for (auto& v : l.weights.at("moving_mean").data) v += 50.0f;
      edited = true;
    }
  ASSERT_TRUE(edited);
  write_model_h5(changed, p.prefix.string() + ".h5");
  std::vector<std::string> errors;
  EXPECT_FALSE(compare_with_oracle(batch, dir.path(), t, &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("reference != oracle"), std::string::npos) << errors[0];
}

// Issue 10 item 1: for every class in the layer table (bitlens/layer_table.hpp) and every config
// key it lists, a file with that key at an unusual value gives the right numbers (both engines
// and the oracle agree) or the layer is refused naming the key — never a silent difference.
// Keys whose values the generator itself varies are covered by the random test above (its models
// are compared with the oracle); every other read key is probed here, and every ignored key must
// leave the outputs bit for bit unchanged.
namespace probe {

// What a key's value is set to. Empty: the key shapes weights or tensors (a patched value would
// just make an inconsistent file), so the generator must vary it instead.
std::vector<json> read_probes(const std::string& cls, const ConfigKey& k, const json& current) {
  const std::string key = k.key;
  if (key == "data_format") return {"channels_first"};
  if (key == "interpolation") return {"bilinear", "area"};
  if (key == "dtype")
    return {"float16", "float32",
            {{"class_name", "Policy"}, {"config", {{"name", "mixed_float16"}}}},
            {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}, {"registered_name", nullptr}},
            {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "mixed_bfloat16"}}}, {"registered_name", nullptr}}};
  if (key == "lora_rank" || key == "dora_rank") return {4, nullptr};
  if (key == "lora_alpha" || key == "dora_alpha") return {8.0};  // no effect without a rank
  if (key == "quantization_config") return {{{"mode", "int8"}}, nullptr};
  if (key == "virtual_batch_size") return {8};
  if (key == "sparse" || key == "ragged") return {true, false};
  if (key == "epsilon") return {0.5, 1e-7, -1.0};
  if (key == "fused" || key == "synchronized" || key == "renorm") return {true, false};
  if (key == "function") return {"math.sin"};
  if (key == "axis") return {1, -1};
  if (key == "activation") return {"made_up_activation", {{"class_name", "function"}, {"config", "gelu"}}};
  // Depthwise layers carry groups = 1 (tf.keras 2) but have no groups.
  if (key == "groups" && (cls.find("Depthwise") != std::string::npos || cls.find("Separable") != std::string::npos)) return {2};
  // These shape the weights or the output.
  if (key == "use_bias" || key == "center" || key == "scale" || key == "keepdims") return {};
  switch (k.type) {
    case ConfigType::Bool: return {!(current.is_boolean() && current.get<bool>())};
    case ConfigType::Number: return {0.375, -2.5};
    case ConfigType::OptNumber: return {0.25, nullptr};
    case ConfigType::Quantizer:
      return {{{"class_name", "SteTern"}, {"config", {{"threshold_value", 0.05}, {"ternary_weight_networks", false}}}},
              "made_up_quantizer"};
    default: return {};
  }
}

json ignored_probe(const std::string& key) {
  auto ends = [&](const char* s) { return key.size() >= std::strlen(s) && key.compare(key.size() - std::strlen(s), std::string::npos, s) == 0; };
  if (ends("_initializer")) return {{"class_name", "Ones"}, {"config", json::object()}};
  if (ends("_regularizer")) return {{"class_name", "L2"}, {"config", {{"l2", 0.5}}}};
  if (ends("_constraint")) return {{"class_name", "NonNeg"}, {"config", json::object()}};
  if (key == "trainable" || key == "synchronized" || key == "renorm" || key == "optional") return key != "trainable";
  if (key == "noise_shape") return json::array({nullptr, 1});
  if (key == "data_format") return "channels_first";
  if (key == "metrics") return json::array({"flip_ratio"});
  if (key == "renorm_clipping") return {{"rmax", 3.0}, {"rmin", 0.3}, {"dmax", 5.0}};
  return 0.875;  // rate, seed, stddev, momentum, l1, l2, renorm_momentum
}

// Keys every generated model exercises (the input's shape) and the name, which other layers
// use to refer to the layer.
bool exempt(const std::string& key) { return key == "name" || key == "batch_input_shape" || key == "batch_shape"; }

}  // namespace probe

TEST(Differential, EveryConfigKeyIsComputedOrRefused) {
  // Values the generator gives each (class, key) over many models.
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;
  for (uint64_t seed = 1; seed <= 2000; ++seed)
    for (const auto& l : diff::generate(seed).model.layers)
      if (l.config.is_object())
        for (auto it = l.config.begin(); it != l.config.end(); ++it) seen[l.class_name][it.key()].insert(it.value().dump());

  TempDir dir;
  uint64_t next_id = 1000000;  // unique file names for run_generated
  // Computed probes go to the oracle in one batch (one Python start).
  std::vector<Pending> oracle_batch;
  std::map<uint64_t, std::string> labels;
  int probed = 0, computed = 0, refused = 0, varied = 0, ignored_checked = 0;
  for (const LayerInfo& info : layer_table()) {
    const std::string& cls = info.class_name;
    if (cls == "SpatialDropout3D") continue;  // needs a rank-5 input, which BitLens does not read
    // A fully supported generated model with a top-level layer of this class.
    std::set<std::string> rows;
    for (const auto& f : diff::features())
      if (f.name == cls || f.name.rfind(cls + "(", 0) == 0) rows.insert(f.name);
    std::optional<diff::Generated> base;
    size_t at = 0;
    for (uint64_t seed = 1; seed <= 400 && !base; ++seed) {
      diff::Generated g = diff::generate(seed, rows);
      g.model.keras_version = g.keras_version = "2.10.0";
      for (size_t i = 0; i < g.model.layers.size(); ++i)
        if (g.model.layers[i].class_name == cls) {
          bool ok = true;
          try {
            for (const Node& n : compile(g.model).graph.nodes) ok = ok && n.decision.kernel != KernelClass::Unsupported;
          } catch (const ModelError&) {
            ok = false;
          }
          if (ok) {
            base = g;
            at = i;
          }
          break;
        }
    }
    ASSERT_TRUE(base) << cls << ": no generated model has a supported " << cls << " layer; add a row to random_model.hpp";
    const json base_cfg = base->model.layers[at].config;
    const std::string lname = base->model.layers[at].name;
    const auto inputs = diff::random_inputs(base->model, 7, kBatch);
    const auto base_out = reference_run(base->model, inputs);

    for (const ConfigKey& k : info.read) {
      const std::string key = k.key;
      if (probe::exempt(key)) continue;
      const auto probes = probe::read_probes(cls, k, base_cfg.value(key, json()));
      if (probes.empty()) {
        EXPECT_GE(seen[cls][key].size(), 2u) << cls << "." << key << " shapes weights or tensors, so the generator must vary it "
                                              << "(it gave " << seen[cls][key].size() << " value(s)); add it to random_model.hpp";
        ++varied;
        continue;
      }
      for (const json& v : probes) {
        ++probed;
        diff::Generated g = *base;
        g.model.layers[at].config[key] = v;
        const std::string what = cls + " '" + lname + "' " + key + " = " + v.dump();
        std::string vtext = v.is_string() ? v.get<std::string>() : v.dump();
        try {
          const CompileResult r = compile(g.model);
          const Node* bad = nullptr;
          for (const Node& n : r.graph.nodes)
            if (n.layer == lname && n.decision.kernel == KernelClass::Unsupported) bad = &n;
          if (bad) {
            bool named = false;
            for (const auto& reason : bad->decision.reasons)
              named = named || reason.message.find(key) != std::string::npos || reason.message.find(vtext) != std::string::npos;
            EXPECT_TRUE(named) << what << ": unsupported, but no reason names the key or value: "
                               << (bad->decision.reasons.empty() ? "" : bad->decision.reasons[0].message);
            ++refused;
            continue;
          }
          bool other_unsupported = false;
          for (const Node& n : r.graph.nodes) other_unsupported = other_unsupported || n.decision.kernel == KernelClass::Unsupported;
          ASSERT_FALSE(other_unsupported) << what << ": another layer became unsupported";
        } catch (const ModelError& e) {
          EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << what << ": refused without naming the key: " << e.what();
          ++refused;
          continue;
        }
        // Computed: it must be right.
        Tally t;
        bool failed = false;
        Pending p;
        p.seed = next_id++;
        p.gen = g;
        auto pending = run_generated(std::move(p), dir.path(), t, &failed);
        ASSERT_FALSE(failed) << what;
        ASSERT_TRUE(pending) << what << ": not compared (" << (t.known.empty() ? "" : t.known.begin()->first) << ")";
        labels[pending->seed] = what;
        oracle_batch.push_back(std::move(*pending));
        ++computed;
      }
    }
    for (const IgnoredKey& k : info.ignored) {
      if (probe::exempt(k.key)) continue;
      Model m = base->model;
      m.layers[at].config[k.key] = probe::ignored_probe(k.key);
      const auto out = reference_run(m, inputs);
      ASSERT_EQ(out.size(), base_out.size());
      for (size_t o = 0; o < out.size(); ++o)
        EXPECT_EQ(out[o].data, base_out[o].data) << cls << "." << k.key << " is listed as ignored but changes the reference's output";
      const CompileResult r = compile(m);
      Executor ex(r);
      const auto got = ex.run(inputs);
      const CompileResult r0 = compile(base->model);
      Executor ex0(r0);
      const auto got0 = ex0.run(inputs);
      for (size_t o = 0; o < got.size(); ++o)
        EXPECT_EQ(got[o].data, got0[o].data) << cls << "." << k.key << " is listed as ignored but changes the kernels engine's output";
      ++ignored_checked;
    }
  }
  Tally t;
  std::vector<std::string> errors;
  compare_with_oracle(oracle_batch, dir.path(), t, &errors);
  for (const auto& e : errors) {
    std::string what = "?";
    for (const auto& [seed, label] : labels)
      if (e.find("seed " + std::to_string(seed) + " ") != std::string::npos) what = label;
    ADD_FAILURE() << what << ": BitLens computes it but the oracle disagrees:\n" << e;
  }
  EXPECT_GE(t.oracle_compared + static_cast<int>(errors.size()), computed) << "the oracle skipped computed probes";
  std::printf("config keys: %d probes (%d computed and equal to the oracle, %d refused naming the key), %d keys varied by "
              "the generator, %d ignored keys checked unchanged\n", probed, computed, refused, varied, ignored_checked);
  EXPECT_GT(computed, 10);
  EXPECT_GT(refused, 10);
}
