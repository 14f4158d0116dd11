// Text rendering of a CompileResult, modelled on ST's `stedgeai analyze` report: summary,
// per-layer table, decisions with reasons and fixes, op types, complexity bars, memory plan.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "bitlens/format.hpp"
#include "bitlens/report.hpp"

namespace bitlens {

namespace {

std::string bytes_str(int64_t b) {
  std::string s = with_commas(b) + " B";
  if (b >= 1024) s += " (" + fixed(static_cast<double>(b) / 1024.0, 2) + " KiB)";
  return s;
}

std::string shape_str(const std::vector<int64_t>& s) { return s.empty() ? "-" : shape_dims(s); }

// "?" for a shape BitLens cannot know (downstream of an unsupported layer): never a guess.
std::string shape_str(const Tensor& t) { return t.shape_known ? shape_str(t.shape) : "?"; }

std::string fit(const std::string& s, size_t w) {
  if (s.size() <= w) return s;
  if (w <= 3) return s.substr(0, w);
  return s.substr(0, w - 3) + "...";
}

// A plain table: columns sized to content (each capped), right-aligned numeric columns.
struct Table {
  std::vector<std::string> head;
  std::vector<bool> right;
  std::vector<size_t> cap;
  std::vector<std::vector<std::string>> rows;  // an empty row draws a separator
  size_t max_width = 1000;  // the last column shrinks to keep lines within this

  std::string render() const {
    std::vector<size_t> w(head.size());
    for (size_t c = 0; c < head.size(); ++c) w[c] = head[c].size();
    for (const auto& r : rows)
      for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], std::min(r[c].size(), cap[c]));
    size_t total = 2 * (w.size() - 1);
    for (size_t x : w) total += x;
    if (total > max_width) w.back() = std::max<size_t>(12, w.back() - std::min(w.back(), total - max_width));
    std::ostringstream o;
    auto line = [&]() {
      for (size_t c = 0; c < w.size(); ++c) o << std::string(w[c], '-') << (c + 1 < w.size() ? "  " : "");
      o << "\n";
    };
    auto row = [&](const std::vector<std::string>& r) {
      std::string s;
      for (size_t c = 0; c < w.size(); ++c) {
        std::string cell = fit(c < r.size() ? r[c] : "", w[c]);
        const std::string pad(w[c] - cell.size(), ' ');
        s += right[c] ? pad + cell : cell + (c + 1 < w.size() ? pad : "");
        if (c + 1 < w.size()) s += "  ";
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      o << s << "\n";
    };
    line();
    row(head);
    line();
    for (const auto& r : rows) {
      if (r.empty())
        line();
      else
        row(r);
    }
    line();
    return o.str();
  }
};

// Word-wraps `text` to `width` columns; continuation lines start with `indent` spaces.
std::string wrap(const std::string& text, size_t width, size_t indent) {
  const size_t lead = text.find_first_not_of(' ');
  std::istringstream in(text.substr(lead == std::string::npos ? text.size() : lead));
  std::string word, out;
  std::string line(lead == std::string::npos ? 0 : lead, ' ');
  bool empty = true;
  while (in >> word) {
    if (!empty && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(indent, ' ');
      empty = true;
    }
    if (!empty) line += ' ';
    line += word;
    empty = false;
  }
  return out + line;
}

std::string bar(double fraction, int width) {
  const int n = std::clamp(static_cast<int>(fraction * width + 0.5), fraction > 0 ? 1 : 0, width);
  return std::string(static_cast<size_t>(n), '|') + std::string(static_cast<size_t>(width - n), ' ');
}

std::string pct(double f) { return percent(f); }

}  // namespace

std::string text_report(const CompileResult& r, const ReportOptions& options) {
  const Graph& g = r.graph;
  const size_t width = static_cast<size_t>(std::clamp(options.width, 80, 160));
  std::ostringstream o;

  std::vector<const Node*> nodes;
  for (const auto& n : g.nodes) nodes.push_back(&n);
  std::stable_sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) { return a->order < b->order; });

  o << "BitLens " << BITLENS_VERSION << " - analyze\n\n";
  o << "Summary\n";
  auto kv = [&](const std::string& k, const std::string& v) {
    std::string key = k;
    key.resize(20, ' ');
    o << key << ": " << v << "\n";
  };
  kv("model file", r.model.file.filename().string());
  kv("model", r.model.name + " (" + r.model.class_name +
                  (r.model.keras_version.empty() ? "" : ", keras " + r.model.keras_version) + ")");
  std::string ov;
  if (r.options.pad_values) {
    ov += "pad_values=" + short_number(*r.options.pad_values) + " on every conv layer";
  }
  for (const auto& s : r.options.sets) ov += (ov.empty() ? "" : ", ") + s.layer + "." + s.key + "=" + s.value.dump();
  if (!ov.empty()) kv("overrides", ov);
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Tensor& t = g.tensors[g.inputs[i]];
    kv("input " + std::to_string(i + 1) + "/" + std::to_string(g.inputs.size()),
       "'" + t.name + "', " + format_name(t.format) + "(" + shape_str(t) + "), " +
           (t.shape_known ? bytes_str(t.bytes()) : std::string("size unknown")) +
           ", in the arena");
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const Tensor& t = g.tensors[g.outputs[i]];
    kv("output " + std::to_string(i + 1) + "/" + std::to_string(g.outputs.size()),
       "'" + t.name + "', " + format_name(t.format) + "(" + shape_str(t) + "), " +
           (t.shape_known ? bytes_str(t.bytes()) : std::string("size unknown")) +
           ", in the arena");
  }
  kv("macc", with_commas(r.totals.macc));
  kv("weights (ro)", bytes_str(r.totals.rom_bytes));
  kv("activations (rw)", bytes_str(r.totals.activations_bytes) + ", lower bound " +
                             bytes_str(r.totals.ram_lower_bound_bytes));
  kv("ram (total)", bytes_str(r.totals.ram_bytes) + " = " + with_commas(r.totals.activations_bytes) + " + " +
                        with_commas(r.totals.io_bytes) + " (inputs/outputs inside the arena)");
  std::map<std::string, int> count;
  for (const Node* n : nodes)
    if (!n->class_name.empty()) count[kernel_class_name(n->decision.kernel)]++;
  std::string kc;
  for (const char* k : {"binary", "binary-weights", "int8", "float", "fused", "none", "unsupported"})
    if (count.count(k)) kc += (kc.empty() ? "" : ", ") + std::to_string(count[k]) + " " + k;
  kv("layers", kc);
  // Unsupported layers have no kernel, so no MACC/ROM/RAM figure (and none is guessed for the
  // ones whose shape is unknown): say that the totals leave them out.
  if (count.count("unsupported")) {
    int unknown = 0;
    for (const Node* n : nodes)
      if (!n->class_name.empty() && !n->outputs.empty() && !g.tensors[n->outputs[0]].shape_known) ++unknown;
    kv("not in totals", std::to_string(count["unsupported"]) + " unsupported layer(s)" +
                            (unknown ? ", " + std::to_string(unknown) + " of them with an unknown output shape (?)"
                                     : std::string()));
  }
  o << "\n";

  // Per-layer table.
  const size_t name_cap = width >= 120 ? 28 : 22;
  Table t{{"id", width >= 100 ? "layer (class)" : "layer", "kernel", "fmt", "oshape", "macc", "rom", "reasons"},
          {true, false, false, false, false, true, true, false},
          {4, width >= 100 ? name_cap + 18 : name_cap, 14, 7, 12, 11, 7, 60},
          {}};
  t.max_width = width;
  int id = 0;
  for (const Node* n : nodes) {
    // Narrow terminals drop the class name; the decisions section still names every layer.
    std::string name = n->class_name.empty() ? "  " + n->name.substr(n->layer.size()) + " (step)"
                       : width >= 100        ? fit(n->name, name_cap) + " (" + n->class_name + ")"
                                             : fit(n->name, name_cap);
    std::string fmt = "-";
    if (!n->removed && !n->inputs.empty() && !n->outputs.empty())
      fmt = std::string(format_name(g.tensors[n->inputs[0]].format)) + ">" + format_name(g.tensors[n->outputs[0]].format);
    else if (!n->outputs.empty() && n->op == Op::Input)
      fmt = format_name(g.tensors[n->outputs[0]].format);
    std::string codes;
    for (const auto& re : n->decision.reasons)
      if (re.code != "FUSED" && re.code != "MODEL_INPUT") codes += (codes.empty() ? "" : ",") + re.code;
    if (!n->decision.fused_into.empty()) codes = "-> " + n->decision.fused_into;
    t.rows.push_back({n->class_name.empty() ? "" : std::to_string(id++), name, kernel_class_name(n->decision.kernel),
                      fmt, n->outputs.empty() ? "-" : shape_str(g.tensors[n->outputs[0]]),
                      n->macc ? with_commas(n->macc) : "", n->rom_bytes ? with_commas(n->rom_bytes) : "", codes});
  }
  o << "Layers\n" << t.render() << "\n";

  // Decisions: every non-binary layer with its reasons and fixes, then binary notes.
  o << "Decisions (why each layer runs where it runs; codes in docs/decisions.md)\n";
  for (const Node* n : nodes) {
    const bool ignored = !n->decision.reasons.empty() && n->decision.reasons[0].code == "UNCONNECTED";
    if (n->decision.reasons.empty() || n->decision.kernel == KernelClass::Fused ||
        (n->decision.kernel == KernelClass::None && !ignored))
      continue;
    o << "- " << n->name << " [" << kernel_class_name(n->decision.kernel) << "]\n";
    for (const auto& re : n->decision.reasons) {
      o << wrap("    " + re.code + (re.severity == Reason::Severity::Info ? " (note): " : ": ") + re.message + ".",
                width, 6)
        << "\n";
      if (re.fix != "Nothing required" && re.fix != "Nothing to do")
        o << wrap("      fix: " + re.fix + ".", width, 11) << "\n";
    }
  }
  o << "\n";

  // Op types.
  Table ops{{"operation type", "#", "%"}, {false, true, true}, {20, 14, 8}, {}};
  for (const auto& [k, v] : r.totals.op_types)
    ops.rows.push_back({k, with_commas(v), pct(r.totals.macc ? static_cast<double>(v) / r.totals.macc : 0)});
  o << "Number of operation types\n" << ops.render() << "\n";

  // Complexity bars per Keras layer (its steps included).
  std::map<std::string, std::pair<int64_t, int64_t>> per_layer;
  std::vector<std::string> layer_order;
  for (const Node* n : nodes) {
    if (!per_layer.count(n->layer)) layer_order.push_back(n->layer);
    per_layer[n->layer].first += n->macc;
    per_layer[n->layer].second += n->rom_bytes;
  }
  const int bw = width >= 120 ? 24 : 16;
  Table cx{{"layer", "macc", "rom"}, {false, false, false}, {name_cap, static_cast<size_t>(bw) + 8, static_cast<size_t>(bw) + 8}, {}};
  for (const auto& name : layer_order) {
    const auto [m, rom] = per_layer[name];
    if (m == 0 && rom == 0) continue;
    const double fm = r.totals.macc ? static_cast<double>(m) / r.totals.macc : 0;
    const double fr = r.totals.rom_bytes ? static_cast<double>(rom) / r.totals.rom_bytes : 0;
    std::string pm = pct(fm), pr = pct(fr);
    cx.rows.push_back({name, bar(fm, bw) + std::string(7 - std::min<size_t>(7, pm.size()), ' ') + pm,
                       bar(fr, bw) + std::string(7 - std::min<size_t>(7, pr.size()), ' ') + pr});
  }
  o << "Complexity report\n" << cx.render() << "\n";

  // Memory plan.
  Table mp{{"buffer", "offset", "size", "live (steps)"}, {false, true, true, false}, {name_cap + 10, 10, 10, 12}, {}};
  std::vector<MemoryPlan::Buffer> bufs = r.plan.buffers;
  std::stable_sort(bufs.begin(), bufs.end(), [](const auto& a, const auto& b) {
    return a.first_step != b.first_step ? a.first_step < b.first_step : a.offset < b.offset;
  });
  for (const auto& b : bufs) {
    std::string fmt;
    if (b.tensor >= 0) fmt = std::string(" ") + format_name(g.tensors[b.tensor].format);
    mp.rows.push_back({b.name + fmt, with_commas(b.offset), with_commas(b.size),
                       std::to_string(b.first_step) + ".." + std::to_string(b.last_step)});
  }
  o << "Memory plan (one arena of " << with_commas(r.plan.arena_bytes) << " B; lower bound "
    << with_commas(r.plan.lower_bound_bytes) << " B)\n"
    << mp.render();
  return o.str();
}

}  // namespace bitlens
