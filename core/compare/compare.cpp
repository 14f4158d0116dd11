// Comparison of model variants: compile each, run all on the same inputs with the kernels
// engine, and line up kernels, costs, output agreement and per-layer divergence.
#include "bitlens/format.hpp"
#include "bitlens/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "bitlens/layer_table.hpp"
#include "bitlens/limits.hpp"
#include "bitlens/runtime.hpp"

namespace bitlens {
namespace {

struct Observed {
  Format format = Format::F32;
  int64_t elements = 0;            // per sample
  std::vector<uint32_t> words;     // all samples, f32 bits or s1 words
};

// Runs a compiled variant and records every executed node's output for every sample.
std::map<std::string, Observed> run_and_observe(const CompileResult& c, const std::vector<Array>& x,
                                                std::vector<Array>& outputs) {
  std::map<std::string, Observed> obs;
  Executor ex(c);
  ex.set_observer([&](int id, const void* data, int64_t bytes) {
    const Node& n = c.graph.nodes[id];
    const Tensor& t = c.graph.tensors[n.outputs[0]];
    Observed& o = obs[n.name];
    o.format = t.format;
    o.elements = t.elements();
    const auto* w = static_cast<const uint32_t*>(data);
    o.words.insert(o.words.end(), w, w + bytes / 4);
  });
  outputs = ex.run(x);
  return obs;
}

// Outputs of one layer over one batch that differ between two variants (bits for s1 tensors,
// values beyond 1e-6 relative for f32), and how many were compared; nullopt: not comparable.
struct DiffCount {
  int64_t differ = 0, total = 0;
};
std::optional<DiffCount> diff_count(const Observed& a, const Observed& b) {
  if (a.format != b.format || a.elements != b.elements || a.words.size() != b.words.size() || a.elements == 0)
    return std::nullopt;
  const size_t samples = a.format == Format::S1 ? a.words.size() / static_cast<size_t>((a.elements + 31) / 32)
                                                : a.words.size() / static_cast<size_t>(a.elements);
  DiffCount d;
  if (a.format == Format::S1) {
    for (size_t i = 0; i < a.words.size(); ++i) d.differ += __builtin_popcount(a.words[i] ^ b.words[i]);
  } else {
    for (size_t i = 0; i < a.words.size(); ++i) {
      float fa, fb;
      std::memcpy(&fa, &a.words[i], 4);
      std::memcpy(&fb, &b.words[i], 4);
      if (std::fabs(fa - fb) > 1e-6f * (1.0f + std::fabs(fb))) ++d.differ;
    }
  }
  d.total = a.elements * static_cast<int64_t>(samples);
  return d;
}

// A layer's differing outputs summed over every batch.
struct LayerDiff {
  DiffCount sum;
  bool comparable = true, seen = false;
  void add(const std::optional<DiffCount>& d) {
    seen = true;
    if (!d) {
      comparable = false;
      return;
    }
    sum.differ += d->differ;
    sum.total += d->total;
  }
  std::optional<double> fraction() const {
    if (!seen || !comparable || sum.total == 0) return std::nullopt;
    return static_cast<double>(sum.differ) / static_cast<double>(sum.total);
  }
};

bool softmax_output(const CompileResult& c) {
  if (c.graph.outputs.empty()) return false;
  const Tensor& t = c.graph.tensors[c.graph.outputs[0]];
  if (t.producer < 0) return false;
  const Node& n = c.graph.nodes[t.producer];
  return n.op == Op::Softmax || n.act.kind == sem::ActivationKind::Softmax;
}

// Agreement of one variant's outputs with the first variant's, summed over batches.
struct AgreementSum {
  bool shapes_differ = false, top1 = false;
  double max_abs = 0, sum = 0, dot = 0, na = 0, nb = 0;
  int64_t values = 0, same = 0, samples = 0;

  void add(const Array& ref, const Array& y) {
    if (ref.shape != y.shape) {
      shapes_differ = true;
      return;
    }
    for (size_t i = 0; i < ref.data.size(); ++i) {
      const double r = ref.data[i], p = y.data[i], d = std::fabs(r - p);
      max_abs = std::max(max_abs, d);
      sum += d;
      dot += r * p;
      na += r * r;
      nb += p * p;
    }
    values += static_cast<int64_t>(ref.data.size());
    if (top1 && !ref.shape.empty() && ref.shape[0] > 0) {
      const int64_t n = ref.shape[0], k = ref.size() / n;
      for (int64_t s = 0; s < n; ++s) {
        const auto* r0 = ref.data.data() + s * k;
        const auto* p0 = y.data.data() + s * k;
        same += (std::max_element(r0, r0 + k) - r0) == (std::max_element(p0, p0 + k) - p0);
      }
      samples += n;
    }
  }

  Agreement result() const {
    Agreement a;
    if (shapes_differ) {
      a.why_not = "output shapes differ";
      return a;
    }
    a.available = true;
    a.max_abs = max_abs;
    a.mean_abs = values ? sum / static_cast<double>(values) : 0;
    a.cosine = (na > 0 && nb > 0) ? dot / (std::sqrt(na) * std::sqrt(nb)) : (na == nb ? 1.0 : 0.0);
    if (top1 && samples > 0) a.top1 = static_cast<double>(same) / static_cast<double>(samples);
    return a;
  }
};

std::string codes_of(const Node& n) {
  std::string s;
  for (const auto& r : n.decision.reasons)
    if (r.code != "FUSED" && r.code != "MODEL_INPUT") s += (s.empty() ? "" : ",") + r.code;
  return s;
}

}  // namespace

int64_t estimate_instructions(const CompileResult& c) {
  // Calibrated on QEMU Cortex-M4 counts (M7 within 3 %): kernels/bench (3x3 conv with 64
  // channels: 10.1 instructions per XORed word, ~2.5 per output) and the exported forum model
  // (1 and 16 channels, bit-level patch gathering: 20.6 per word, ~57 per output). Other kernels
  // per MACC: float conv 1/0.241, binary-weights 1/0.149, binary dense 1/2.979, element-wise
  // steps 11,753 / 2,048 (the forum model's pack step).
  const Graph& g = c.graph;
  double total = 0;
  for (int id : c.schedule) {
    const Node& n = g.nodes[id];
    const auto& type = n.decision.op_type;
    if (n.op == Op::Conv2D && type == "sxor_s1_s1") {
      // Per group: each filter's patch covers its group's channels (a grouped layer gathers
      // one patch per group, so the per-output cost follows the group's channel count).
      const int64_t cin = g.tensors[n.inputs[0]].shape.back() / n.conv.groups;
      const double words = static_cast<double>((n.conv.kh * n.conv.kw * cin + 31) / 32);
      const bool aligned = cin % 32 == 0;
      total += static_cast<double>(g.tensors[n.outputs[0]].elements()) *
               (words * (aligned ? 10.1 : 20.6) + (aligned ? 2.5 : 56.9));
    } else if (type == "sxor_s1_s1") {
      total += static_cast<double>(n.macc) / 2.979;
    } else if (type == "smul_f32_f32") {
      total += static_cast<double>(n.macc) / 0.241;
    } else if (type == "sadd_f32_s1") {
      total += static_cast<double>(n.macc) / 0.149;
    } else {
      total += static_cast<double>(n.macc) * (11753.0 / 2048.0);
    }
  }
  return static_cast<int64_t>(total + 0.5);
}

CompareResult compare_variants(const std::vector<VariantSpec>& specs, const CompareOptions& options) {
  if (specs.empty()) throw ModelError("nothing to compare");
  CompareResult res;
  std::vector<CompileResult> compiled;
  compiled.reserve(specs.size());
  std::map<std::string, Model> loaded;
  for (const auto& s : specs) {
    auto it = loaded.find(s.file);
    if (it == loaded.end()) it = loaded.emplace(s.file, load_model(s.file)).first;
    compiled.push_back(compile(it->second, s.options));
  }

  // The samples: a streamed dataset, the arrays given, or random inputs (generated at once, as
  // `bitlens run --random` does, so the same seed gives the same samples).
  std::unique_ptr<Dataset> own;
  Dataset* data = options.dataset;
  if (!data) {
    std::vector<Array> x = options.inputs;
    std::string name = "the inputs";
    if (x.empty()) {
      const int n = std::max(1, options.samples);
      for (size_t i = 0; i < compiled.size(); ++i)
        if (auto v = host_limit_violation(compiled[i], n, RunKind::Compare)) throw ModelError(specs[i].file + ": " + *v);
      x = random_inputs(compiled[0], options.seed, n);
      name = "random, seed " + std::to_string(options.seed);
    }
    own = memory_dataset(std::move(x), name);
    data = own.get();
  }
  const int64_t total = data->size();
  res.data = data->name();
  if (total == 0) throw ModelError(res.data + ": no samples");
  res.samples = total;
  // Samples that do not fit the first variant are the user's data problem, not a variant's.
  check_dataset(*data, compiled[0]);
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(options.batch, total));
  for (size_t i = 0; i < compiled.size(); ++i)
    if (auto v = host_limit_violation(compiled[i], batch, RunKind::Compare))
      throw ModelError(specs[i].file + ": " + *v);
  if (options.labels) {
    res.labels = options.labels->file;
    for (size_t i = 0; i < compiled.size(); ++i) {
      const int64_t k = classifier_classes(compiled[i]);
      if (k == 0)
        throw ModelError(options.labels->file + ": labels need a classifier, an output of shape (N, classes); " +
                         specs[i].file + "'s output '" + compiled[i].graph.tensors[compiled[i].graph.outputs.at(0)].name +
                         "' is not one");
      check_labels(*options.labels, total, res.data, k);
    }
  }

  std::vector<AgreementSum> agreement(specs.size());
  std::vector<std::map<std::string, LayerDiff>> layer_diff(specs.size());
  std::vector<Accuracy> accuracy(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    agreement[i].top1 = softmax_output(compiled[0]) && softmax_output(compiled[i]);
    if (options.labels) {
      accuracy[i] = make_accuracy(classifier_classes(compiled[i]));
    }
  }
  std::vector<std::string> run_error(specs.size());
  for (int64_t start = 0; start < total; start += batch) {
    const int64_t count = std::min(batch, total - start);
    const std::vector<Array> x = data->read(start, count);
    std::vector<std::map<std::string, Observed>> observed(specs.size());
    std::vector<std::vector<Array>> outputs(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!run_error[i].empty()) continue;
      try {
        check_inputs(compiled[i], x);
        observed[i] = run_and_observe(compiled[i], x, outputs[i]);
      } catch (const ModelError& e) {
        run_error[i] = e.what();
      }
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!run_error[i].empty() || !run_error[0].empty() || outputs[i].empty() || outputs[0].empty()) continue;
      agreement[i].add(outputs[0][0], outputs[i][0]);
      if (options.labels) add_scores(accuracy[i], outputs[i][0], options.labels->index.data() + start);
      for (const auto& [name, o] : observed[i]) {
        auto a = observed[0].find(name);
        layer_diff[i][name].add(a == observed[0].end() ? std::nullopt : diff_count(a->second, o));
      }
    }
    // Samples on which classifier variants disagree.
    if (!outputs[0].empty() && run_error[0].empty() && classifier_classes(compiled[0]) > 0 && specs.size() > 1) {
      for (int64_t s = 0; s < count; ++s) {
        Disagreement d;
        d.sample = start + s;
        d.label = options.labels ? options.labels->index[static_cast<size_t>(start + s)] : -1;
        bool differ = false;
        for (size_t i = 0; i < specs.size(); ++i) {
          int64_t p = -1;
          if (run_error[i].empty() && !outputs[i].empty() && outputs[i][0].shape == outputs[0][0].shape) {
            const int64_t k = outputs[i][0].size() / count;
            const float* v = outputs[i][0].data.data() + s * k;
            p = std::max_element(v, v + k) - v;
          }
          d.predicted.push_back(p);
          // A variant that did not run or has another output shape is not counted as disagreeing.
          differ = differ || (p >= 0 && d.predicted[0] >= 0 && p != d.predicted[0]);
        }
        if (!differ) continue;
        ++res.disagreement_count;
        if (res.disagreements.size() < kMaxDisagreements) res.disagreements.push_back(std::move(d));
      }
    }
    if (options.progress && !options.progress(start + count, total)) throw CompareCancelled();
  }

  for (size_t i = 0; i < specs.size(); ++i) {
    VariantSummary v;
    v.label = specs[i].label;
    v.file = specs[i].file;
    v.totals = compiled[i].totals;
    if (options.board) {
      v.fit = check_fit(compiled[i], find_board(*options.board));
      v.est_instructions = estimate_instructions(compiled[i]);
    }
    if (!run_error[i].empty() || !run_error[0].empty()) {
      v.agreement.why_not = !run_error[i].empty() ? run_error[i] : run_error[0];
    } else {
      v.agreement = agreement[i].result();
      if (options.labels) v.accuracy = accuracy[i];
      if (v.agreement.available)
        for (int id : compiled[i].schedule) {
          const Node& n = compiled[i].graph.nodes[id];
          auto d = layer_diff[i].find(n.name);
          if (d == layer_diff[i].end()) continue;
          const auto f = d->second.fraction();
          if (f && *f > 0) {
            v.first_divergence = n.layer;
            break;
          }
        }
    }
    res.variants.push_back(std::move(v));
  }

  // Layers: the first variant's order, then layers only other variants have.
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& c : compiled) {
    std::vector<const Node*> nodes;
    for (const auto& n : c.graph.nodes)
      if (!n.class_name.empty()) nodes.push_back(&n);
    for (const Node* n : nodes)
      if (seen.insert(n->name).second) names.push_back(n->name);
  }
  for (const auto& name : names) {
    LayerComparison l;
    l.name = name;
    std::set<std::string> sig;
    for (size_t i = 0; i < specs.size(); ++i) {
      const Node* n = compiled[i].graph.find_node(name);
      if (!n) {
        l.kernel.push_back(std::nullopt);
        l.codes.push_back("");
        l.pad_values.push_back(std::nullopt);
        l.diff_fraction.push_back(std::nullopt);
        sig.insert("absent");
        continue;
      }
      l.kernel.push_back(n->decision.kernel);
      l.codes.push_back(codes_of(*n));
      const LayerInfo* info = find_layer_info(n->class_name);
      l.pad_values.push_back(info && info->find_read("pad_values") ? std::optional<float>(n->conv.pad_value)
                                                                   : std::nullopt);
      if (i == 0) l.same_padding = n->conv.same;
      sig.insert(kernel_class_name(n->decision.kernel));
      auto d = layer_diff[i].find(name);
      l.diff_fraction.push_back(d != layer_diff[i].end() ? d->second.fraction() : std::nullopt);
    }
    l.changed = sig.size() > 1;
    res.layers.push_back(std::move(l));
  }

  // pad_values only matters where padding="same".
  bool any_pad_layer = false, any_same = false;
  for (const auto& l : res.layers) {
    if (!l.pad_values.empty() && l.pad_values[0]) {
      any_pad_layer = true;
      any_same = any_same || l.same_padding;
    }
  }
  bool pad_overridden = false;
  for (const auto& s : specs) {
    pad_overridden = pad_overridden || s.options.pad_values.has_value();
    for (const auto& set : s.options.sets) pad_overridden = pad_overridden || set.key == "pad_values";
  }
  if (pad_overridden && any_pad_layer && !any_same)
    res.notes.push_back("pad_values has no effect on this model: every layer with pad_values uses padding=\"valid\", "
                        "so no border value is ever read; the variants compute the same function");
  else if (pad_overridden && !any_pad_layer)
    res.notes.push_back("the model has no layer with a pad_values parameter");
  for (size_t i = 0; i < specs.size(); ++i)
    if (!run_error[i].empty()) res.notes.push_back("variant " + specs[i].label + " could not run: " + run_error[i]);
  return res;
}

namespace {

std::string sci(double v) { return v == 0 ? fixed(v, 0) : significant(v, 3); }

std::string fit(const std::string& s, size_t w) { return s.size() <= w ? s : s.substr(0, w - 3) + "..."; }

}  // namespace

std::string compare_text(const CompareResult& r, int width) {
  std::ostringstream o;
  const size_t key_w = 26, col_w = 16;
  const size_t per_block = std::max<size_t>(1, (static_cast<size_t>(std::max(width, 60)) - key_w) / col_w);
  const size_t nv = r.variants.size();

  o << "BitLens " << BITLENS_VERSION << " - compare\n\nVariants\n";
  for (size_t i = 0; i < nv; ++i) {
    o << "  " << static_cast<char>('A' + static_cast<int>(i % 26)) << "  " << r.variants[i].label << "  ("
      << std::filesystem::path(r.variants[i].file).filename().string() << ")\n";
  }
  for (const auto& n : r.notes) o << "\nnote: " << n << "\n";

  auto header = [&](size_t from, size_t to, const std::string& title) {
    std::string h = title;
    h.resize(key_w, ' ');
    for (size_t i = from; i < to; ++i) {
      std::string c = std::string(1, static_cast<char>('A' + static_cast<int>(i % 26))) + " " + r.variants[i].label;
      c = fit(c, col_w - 1);
      c.resize(col_w, ' ');
      h += c;
    }
    while (!h.empty() && h.back() == ' ') h.pop_back();
    o << h << "\n" << std::string(std::min<size_t>(key_w + (to - from) * col_w, static_cast<size_t>(width)), '-') << "\n";
  };
  auto row = [&](const std::string& key, size_t from, size_t to, auto cell) {
    std::string line = fit(key, key_w - 1);
    line.resize(key_w, ' ');
    for (size_t i = from; i < to; ++i) {
      std::string c = fit(cell(i), col_w - 1);
      c.resize(col_w, ' ');
      line += c;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    o << line << "\n";
  };

  for (size_t from = 0; from < nv; from += per_block) {
    const size_t to = std::min(nv, from + per_block);
    o << "\n";
    header(from, to, "layer kernels (* differ)");
    for (const auto& l : r.layers) {
      row((l.changed ? "* " : "  ") + l.name, from, to, [&](size_t i) {
        if (!l.kernel[i]) return std::string("(absent)");
        std::string k = kernel_class_name(*l.kernel[i]);
        if (l.pad_values[i] && l.same_padding) k += " p" + sci(*l.pad_values[i]);
        return k;
      });
    }
    o << "\n";
    header(from, to, "costs");
    row("macc", from, to, [&](size_t i) { return with_commas(r.variants[i].totals.macc); });
    std::set<std::string> types;
    for (const auto& v : r.variants)
      for (const auto& [k, _] : v.totals.op_types) types.insert(k);
    for (const auto& t : types)
      row("  " + t, from, to, [&](size_t i) {
        auto it = r.variants[i].totals.op_types.find(t);
        return it == r.variants[i].totals.op_types.end() ? std::string("-") : with_commas(it->second);
      });
    row("weights (ro) B", from, to, [&](size_t i) { return with_commas(r.variants[i].totals.rom_bytes); });
    row("activations (rw) B", from, to, [&](size_t i) { return with_commas(r.variants[i].totals.activations_bytes); });
    row("  lower bound B", from, to, [&](size_t i) { return with_commas(r.variants[i].totals.ram_lower_bound_bytes); });
    if (!r.variants.empty() && r.variants[0].fit) {
      row("fits " + r.variants[0].fit->board, from, to, [&](size_t i) {
        const auto& f = *r.variants[i].fit;
        return std::string(f.fits() ? "yes" : "NO") + " (" + with_commas(f.flash_available - f.flash_needed) + ")";
      });
      row("  RAM margin B", from, to, [&](size_t i) {
        const auto& f = *r.variants[i].fit;
        return with_commas(f.ram_available - f.ram_needed);
      });
      row("est. instructions (M4)", from, to, [&](size_t i) { return with_commas(r.variants[i].est_instructions); });
    }
    o << "\n";
    o << "functional agreement with A, all variants run on the same " << r.samples << " samples (" << r.data << ")\n";
    header(from, to, "agreement with A");
    auto agr = [&](auto f) {
      return [&, f](size_t i) {
        const auto& a = r.variants[i].agreement;
        return a.available ? f(a) : std::string("n/a");
      };
    };
    row("max abs diff", from, to, agr([](const Agreement& a) { return sci(a.max_abs); }));
    row("mean abs diff", from, to, agr([](const Agreement& a) { return sci(a.mean_abs); }));
    row("cosine", from, to, agr([](const Agreement& a) { return fixed(a.cosine, 6); }));
    row("top-1 agreement", from, to,
        agr([](const Agreement& a) { return a.top1 ? fixed(*a.top1 * 100, 1) + "%" : std::string("-"); }));
    if (!r.labels.empty()) {
      auto acc = [&](auto f) {
        return [&, f](size_t i) { return r.variants[i].accuracy ? f(*r.variants[i].accuracy) : std::string("n/a"); };
      };
      row("accuracy top-1", from, to, acc([](const Accuracy& a) { return fixed(a.top1() * 100, 2) + "%"; }));
      if (r.variants[0].accuracy && r.variants[0].accuracy->top5())
        row("accuracy top-5", from, to, acc([](const Accuracy& a) { return a.top5() ? fixed(*a.top5() * 100, 2) + "%" : std::string("-"); }));
    }
    row("first divergence", from, to, [&](size_t i) {
      if (i == 0) return std::string("-");
      if (!r.variants[i].agreement.available) return std::string("n/a");
      return r.variants[i].first_divergence.empty() ? std::string("none") : r.variants[i].first_divergence;
    });
    if (!r.labels.empty()) o << "accuracy: against the labels in " << std::filesystem::path(r.labels).filename().string()
                              << " (argmax of the output; per-class confusion in --json)\n";
    o << "\n";
    header(from, to, "outputs differing from A");
    for (const auto& l : r.layers) {
      bool any = false;
      for (size_t i = 0; i < nv; ++i) any = any || l.diff_fraction[i].has_value();
      if (!any) continue;
      row("  " + l.name, from, to, [&](size_t i) {
        if (!l.diff_fraction[i]) return std::string("-");
        return fixed(*l.diff_fraction[i] * 100, 2) + "%";
      });
    }
  }
  return o.str();
}

json compare_json(const CompareResult& r) {
  json j;
  j["samples"] = r.samples;
  j["data"] = r.data;
  j["labels"] = r.labels.empty() ? json(nullptr) : json(std::filesystem::path(r.labels).filename().string());
  j["disagreement_count"] = r.disagreement_count;
  j["disagreements"] = json::array();
  for (const auto& d : r.disagreements)
    j["disagreements"].push_back({{"sample", d.sample}, {"label", d.label < 0 ? json(nullptr) : json(d.label)}, {"predicted", d.predicted}});
  j["notes"] = r.notes;
  j["variants"] = json::array();
  for (const auto& v : r.variants) {
    json a;
    a["available"] = v.agreement.available;
    if (v.agreement.available) {
      a["max_abs"] = v.agreement.max_abs;
      a["mean_abs"] = v.agreement.mean_abs;
      a["cosine"] = v.agreement.cosine;
      a["top1"] = v.agreement.top1 ? json(*v.agreement.top1) : json(nullptr);
    } else {
      a["why_not"] = v.agreement.why_not;
    }
    j["variants"].push_back({{"label", v.label},
                             {"file", std::filesystem::path(v.file).filename().string()},
                             {"macc", v.totals.macc},
                             {"op_types", v.totals.op_types},
                             {"rom_bytes", v.totals.rom_bytes},
                             {"activations_bytes", v.totals.activations_bytes},
                             {"ram_lower_bound_bytes", v.totals.ram_lower_bound_bytes},
                             {"agreement", a},
                             {"first_divergence", v.first_divergence.empty() ? json(nullptr) : json(v.first_divergence)},
                             {"accuracy", v.accuracy ? accuracy_json(*v.accuracy) : json(nullptr)},
                             {"fit", v.fit ? fit_json(*v.fit) : json(nullptr)},
                             {"est_instructions", v.fit ? json(v.est_instructions) : json(nullptr)}});
  }
  j["layers"] = json::array();
  for (const auto& l : r.layers) {
    json k = json::array(), c = json::array(), d = json::array(), p = json::array();
    for (size_t i = 0; i < l.kernel.size(); ++i) {
      k.push_back(l.kernel[i] ? json(kernel_class_name(*l.kernel[i])) : json(nullptr));
      c.push_back(l.codes[i]);
      d.push_back(l.diff_fraction[i] ? json(*l.diff_fraction[i]) : json(nullptr));
      p.push_back(l.pad_values[i] ? json(*l.pad_values[i]) : json(nullptr));
    }
    j["layers"].push_back({{"name", l.name}, {"kernel", k}, {"reasons", c}, {"pad_values", p},
                           {"same_padding", l.same_padding}, {"changed", l.changed}, {"diff_fraction", d}});
  }
  return j;
}

}  // namespace bitlens
