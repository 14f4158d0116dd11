// Shared wording for nodes (see layer_text.hpp).
#include "bitlens/format.hpp"
#include "layer_text.hpp"

#include <algorithm>

#include "bitlens/report.hpp"
#include "palette.hpp"

namespace bitlens::gui {

QString shape_text(const std::vector<int64_t>& shape) { return QString::fromStdString(shape_dims(shape)); }

QString shape_text(const Tensor& t) { return t.shape_known ? shape_text(t.shape) : QStringLiteral("?"); }

QString number_text(int64_t v) { return QString::fromStdString(with_commas(v)); }

QString bytes_text(int64_t bytes) { return number_text(bytes) + QStringLiteral(" B"); }

QString short_number(double v) { return QString::fromStdString(bitlens::short_number(v)); }

QString output_shape_text(const CompileResult& r, const Node& n) {
  if (n.outputs.empty()) return {};
  return shape_text(r.graph.tensors[n.outputs[0]]);
}

QString formats_text(const CompileResult& r, const Node& n) {
  if (n.removed || n.outputs.empty()) return QStringLiteral("-");
  const char* out = format_name(r.graph.tensors[n.outputs[0]].format);
  if (n.inputs.empty()) return QString::fromLatin1(out);
  return QStringLiteral("%1>%2").arg(QLatin1String(format_name(r.graph.tensors[n.inputs[0]].format)),
                                      QLatin1String(out));
}

QString output_format_text(const CompileResult& r, const Node& n) {
  if (n.removed || n.outputs.empty()) return QStringLiteral("-");
  return QString::fromLatin1(format_name(r.graph.tensors[n.outputs[0]].format));
}

int64_t node_ram_bytes(const CompileResult& r, const Node& n) {
  if (n.removed) return 0;
  int64_t bytes = n.scratch_bytes;
  for (int t : n.outputs)
    if (r.graph.tensors[t].alias_of < 0) bytes += r.graph.tensors[t].bytes();
  return bytes;
}

QString reason_codes_text(const Node& n) {
  QStringList codes;
  for (const auto& re : n.decision.reasons) codes << QString::fromStdString(re.code);
  return codes.join(QStringLiteral(", "));
}

QString node_tooltip(const CompileResult& r, const Node& n) {
  const auto& st = kernel_style(n.decision.kernel);
  QString html = QStringLiteral("<b>%1</b>").arg(QString::fromStdString(n.name).toHtmlEscaped());
  if (!n.class_name.empty())
    html += QStringLiteral(" (%1)").arg(QString::fromStdString(n.class_name).toHtmlEscaped());
  html += QStringLiteral("<br>kernel: <b>%1</b> [%2]").arg(st.label, st.badge);
  if (!n.decision.kernel_name.empty())
    html += QStringLiteral(" &mdash; %1").arg(QString::fromStdString(n.decision.kernel_name));
  if (!n.decision.op_type.empty())
    html += QStringLiteral(" (%1)").arg(QString::fromStdString(n.decision.op_type));
  if (!n.decision.fused_into.empty())
    html += QStringLiteral("<br>folded into <b>%1</b>").arg(QString::fromStdString(n.decision.fused_into).toHtmlEscaped());
  html += QStringLiteral("<br>output: %1 %2").arg(output_shape_text(r, n), output_format_text(r, n));
  html += QStringLiteral("<br>MACC %1 &middot; ROM %2 &middot; RAM %3")
              .arg(number_text(n.macc), bytes_text(n.rom_bytes), bytes_text(node_ram_bytes(r, n)));
  for (const auto& rj : n.decision.rejected)
    html += QStringLiteral("<br>%1 rejected: %2")
                .arg(QString::fromStdString(rj.kernel), QString::fromStdString(rj.why).toHtmlEscaped());
  for (const auto& re : n.decision.reasons) {
    html += QStringLiteral("<hr><b>%1</b>%2: %3")
                .arg(QString::fromStdString(re.code),
                     re.severity == Reason::Severity::Info ? QStringLiteral(" (note)") : QString(),
                     QString::fromStdString(re.message).toHtmlEscaped());
    if (!re.fix.empty())
      html += QStringLiteral("<br><i>fix:</i> %1").arg(QString::fromStdString(re.fix).toHtmlEscaped());
  }
  // A fixed width makes Qt wrap long reason sentences instead of drawing one endless line.
  return QStringLiteral("<div style='width:420px'>%1</div>").arg(html);
}

std::vector<const Node*> nodes_in_report_order(const CompileResult& r) {
  std::vector<const Node*> nodes;
  for (const auto& n : r.graph.nodes) nodes.push_back(&n);
  std::stable_sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) { return a->order < b->order; });
  return nodes;
}

bool is_fallback(const Node& n) {
  return n.decision.kernel == KernelClass::Float || n.decision.kernel == KernelClass::BinaryWeights ||
         n.decision.kernel == KernelClass::Unsupported;
}

}  // namespace bitlens::gui
