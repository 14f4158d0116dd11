// HTML rendering of one layer's details (see details_panel.hpp).
#include "pages/details_panel.hpp"

#include <cmath>

#include "bitlens/format.hpp"
#include "bitlens/layer_table.hpp"
#include "bitlens/weights.hpp"
#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {
namespace {

QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }

// Quantizers are stored as null, a string, or {"class_name", "config"}: show the class name and
// any non-default config compactly.
QString value_text(const json& v) {
  if (v.is_object() && v.contains("class_name")) {
    QString s = QString::fromStdString(v["class_name"].get<std::string>());
    if (v.contains("config") && v["config"].is_object() && !v["config"].empty())
      s += QStringLiteral(" ") + QString::fromStdString(v["config"].dump());
    return s;
  }
  if (v.is_string()) return QString::fromStdString(v.get<std::string>());
  return QString::fromStdString(v.dump());
}

constexpr const char* kExportWeightsLink = "bitlens:export-weights";

QString row(const QString& k, const QString& v) {
  return QStringLiteral("<tr><td style='padding-right:12px'><b>%1</b></td><td>%2</td></tr>").arg(k, v);
}

}  // namespace

WeightStats weight_stats(const std::string& name, const Array& a) {
  WeightStats s;
  s.name = QString::fromStdString(name);
  s.shape = a.shape;
  s.count = static_cast<int64_t>(a.data.size());
  if (a.data.empty()) return s;
  s.min = s.max = a.data[0];
  double sum = 0;
  for (float w : a.data) {
    if (w > 0) ++s.positive;
    else if (w < 0) ++s.negative;
    else ++s.zero;
    if (std::fabs(w) < kNearZero) ++s.near_zero;
    s.min = std::min(s.min, w);
    s.max = std::max(s.max, w);
    sum += std::fabs(w);
  }
  s.mean_abs = sum / static_cast<double>(s.count);
  return s;
}

DetailsPanel::DetailsPanel(QWidget* parent) : QTextBrowser(parent) {
  setObjectName(QStringLiteral("detailsPanel"));
  setOpenLinks(false);
  setPlaceholderText(QStringLiteral("Open a model (Ctrl+O) or drop a .h5/.keras file here."));
  connect(this, &QTextBrowser::anchorClicked, this, [this](const QUrl& url) {
    if (url.toString() == QLatin1String(kExportWeightsLink) && r_ && node_ >= 0)
      emit exportWeightsRequested(QString::fromStdString(r_->graph.nodes[static_cast<size_t>(node_)].layer));
  });
}

void DetailsPanel::set_result(std::shared_ptr<const CompileResult> r) {
  r_ = std::move(r);
  show_node(-1);
}

void DetailsPanel::show_node(int node_id) {
  node_ = -1;
  if (!r_) {
    clear();
    return;
  }
  if (node_id >= 0 && static_cast<size_t>(node_id) < r_->graph.nodes.size()) {
    node_ = node_id;
    setHtml(node_html(r_->graph.nodes[static_cast<size_t>(node_id)]));
  } else {
    setHtml(summary_html());
  }
}

QString DetailsPanel::summary_html() const {
  const CompileResult& r = *r_;
  QString h = QStringLiteral("<h3>%1</h3><table>").arg(esc(r.model.name));
  h += row(QStringLiteral("file"), esc(r.model.file.filename().string()));
  h += row(QStringLiteral("class"), esc(r.model.class_name) + QStringLiteral(", keras ") + esc(r.model.keras_version));
  h += row(QStringLiteral("MACC"), number_text(r.totals.macc));
  h += row(QStringLiteral("weights (ROM)"), bytes_text(r.totals.rom_bytes));
  h += row(QStringLiteral("activations (RAM)"), bytes_text(r.totals.activations_bytes) +
                                                    QStringLiteral(", lower bound ") + bytes_text(r.plan.lower_bound_bytes));
  std::map<KernelClass, int> counts;
  for (const auto& n : r.graph.nodes)
    if (!n.class_name.empty()) ++counts[n.decision.kernel];
  QStringList parts;
  for (KernelClass k : kAllKernelClasses)
    if (counts[k]) parts << QStringLiteral("%1 %2").arg(counts[k]).arg(kernel_style(k).label);
  h += row(QStringLiteral("layers"), parts.join(QStringLiteral(", ")));
  h += QStringLiteral("</table><p>Select a layer in the graph or a table to see its decision, config and weights.</p>");
  return h;
}

QString DetailsPanel::node_html(const Node& n) const {
  const CompileResult& r = *r_;
  const auto& st = kernel_style(n.decision.kernel);
  QString h = QStringLiteral("<h3>%1</h3>").arg(esc(n.name));
  h += QStringLiteral("<p><span style='background:%1;color:%2'>&nbsp;%3&nbsp;</span> <b>%4</b> &nbsp;%5</p>")
           .arg(st.fill.name(), st.text.name(), st.badge, st.label,
                n.class_name.empty() ? QStringLiteral("inserted %1 step").arg(QLatin1String(op_name(n.op))) : esc(n.class_name));

  h += QStringLiteral("<h4>Decision</h4><table>");
  if (!n.decision.kernel_name.empty()) h += row(QStringLiteral("C kernel"), esc(n.decision.kernel_name));
  if (!n.decision.op_type.empty()) h += row(QStringLiteral("op type"), esc(n.decision.op_type));
  for (const auto& rj : n.decision.rejected)
    h += row(QStringLiteral("not %1").arg(esc(rj.kernel)), esc(rj.why));
  if (!n.decision.fused_into.empty()) h += row(QStringLiteral("folded into"), esc(n.decision.fused_into));
  h += row(QStringLiteral("MACC"), number_text(n.macc));
  h += row(QStringLiteral("ROM"), bytes_text(n.rom_bytes));
  h += row(QStringLiteral("RAM"), bytes_text(node_ram_bytes(r, n)) + QStringLiteral(" (scratch ") + bytes_text(n.scratch_bytes) + QStringLiteral(")"));
  h += QStringLiteral("</table>");
  for (const auto& re : n.decision.reasons) {
    h += QStringLiteral("<p><b>%1</b>%2: %3").arg(esc(re.code),
                                                 re.severity == Reason::Severity::Info ? QStringLiteral(" (note)") : QString(),
                                                 esc(re.message));
    if (!re.fix.empty()) h += QStringLiteral("<br><i>fix:</i> %1").arg(esc(re.fix));
    h += QStringLiteral("</p>");
  }

  h += QStringLiteral("<h4>Tensors</h4><table>");
  auto tensor_row = [&](const QString& kind, int t) {
    const Tensor& tt = r.graph.tensors[static_cast<size_t>(t)];
    h += row(kind, QStringLiteral("%1 &nbsp;%2 %3 (%4)").arg(esc(tt.name), shape_text(tt),
                                                              QLatin1String(format_name(tt.format)),
                                                              tt.shape_known ? bytes_text(tt.bytes()) : QStringLiteral("size unknown")));
  };
  for (int t : n.inputs) tensor_row(QStringLiteral("in"), t);
  for (int t : n.outputs) tensor_row(QStringLiteral("out"), t);
  h += QStringLiteral("</table>");

  // Inserted steps (pack, unpack) have no Keras layer of their own.
  if (const Layer* src = n.class_name.empty() ? nullptr : r.model.find(n.layer)) {
    const json& cfg = src->config;
    // The layer table says which keys BitLens computes (and with which values) and which it
    // ignores because they cannot change an inference result.
    if (const LayerInfo* info = find_layer_info(src->class_name)) {
      h += QStringLiteral("<h4>Keras config BitLens computes</h4><table>");
      for (const ConfigKey& k : info->read)
        if (cfg.contains(k.key))
          h += row(QString::fromLatin1(k.key), value_text(cfg[k.key]).toHtmlEscaped() +
                                                   QStringLiteral(" <i>(supported: %1)</i>")
                                                       .arg(QString::fromUtf8(k.values).toHtmlEscaped()));
      h += QStringLiteral("</table>");
      QStringList ignored;
      for (const IgnoredKey& k : info->ignored)
        if (cfg.contains(k.key)) ignored << QString::fromStdString(k.key);
      if (!ignored.isEmpty())
        h += QStringLiteral("<p><b>ignored at inference:</b> %1</p>").arg(ignored.join(QStringLiteral(", ")).toHtmlEscaped());
    } else {
      h += QStringLiteral("<p>BitLens does not model %1: its config is shown as saved.</p>")
               .arg(QString::fromStdString(src->class_name).toHtmlEscaped());
    }
    h += QStringLiteral("<p><b>full config</b></p><pre style='font-size:small'>%1</pre>").arg(QString::fromStdString(cfg.dump(2)).toHtmlEscaped());

    if (!src->weights.empty()) {
      h += QStringLiteral("<h4>Weights (latent, as stored)</h4><table>");
      for (const auto& [name, arr] : src->weights) {
        const WeightStats s = weight_stats(name, arr);
        QString v = QStringLiteral("%1 = %2 values, range [%3, %4], mean |w| %5")
                        .arg(shape_text(s.shape), number_text(s.count))
                        .arg(static_cast<double>(s.min), 0, 'g', 3)
                        .arg(static_cast<double>(s.max), 0, 'g', 3)
                        .arg(s.mean_abs, 0, 'g', 3);
        if (name.find("kernel") != std::string::npos && s.count > 0) {
          const double c = static_cast<double>(s.count);
          v += QStringLiteral("<br>near 0 (|w| &lt; %1): %2 (%3%) &nbsp; sign balance: %4% +1 / %5% -1")
                   .arg(static_cast<double>(kNearZero))
                   .arg(number_text(s.near_zero))
                   .arg(100.0 * static_cast<double>(s.near_zero) / c, 0, 'f', 1)
                   // Larq's sign maps 0 to +1.
                   .arg(100.0 * static_cast<double>(s.positive + s.zero) / c, 0, 'f', 1)
                   .arg(100.0 * static_cast<double>(s.negative) / c, 0, 'f', 1);
        }
        h += row(esc(name), v);
      }
      h += QStringLiteral("</table>");
    }
  }

  // What the kernels compute with (the same tensors `bitlens weights` writes).
  if (!n.removed && !n.layer.empty()) {
    try {
      const WeightsExport w = effective_weights(r, n.layer);
      for (const auto& nw : w.nodes) {
        if (nw.node != n.name) continue;
        h += QStringLiteral("<h4>Effective weights</h4><p>%1</p><table>").arg(esc(nw.rule));
        for (const auto& t : nw.tensors)
          h += row(esc(t.name), QStringLiteral("%1 %2: %3").arg(esc(t.dtype), esc(shape_tuple(t.shape)), esc(t.meaning)));
        h += QStringLiteral("</table><p><a href='%1'>Export weights...</a></p>").arg(QLatin1String(kExportWeightsLink));
      }
    } catch (const ModelError&) {
      // A node without constants of its own: nothing to show.
    }
  }
  return h;
}

}  // namespace bitlens::gui
