// The Compare tab's table model (see compare_model.hpp).
#include "models/compare_model.hpp"

#include <QFont>
#include <QGuiApplication>
#include <QPalette>

#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {
namespace {

enum Metric { Macc, Rom, Ram, RamBound, MaxAbs, MeanAbs, Cosine, Top1, FirstDivergence, AccTop1, AccTop5, MetricCount };
constexpr const char* kMetricTitles[MetricCount] = {
    "MACC",         "ROM (weights) B", "RAM (arena + I/O) B", "RAM lower bound B", "max abs diff",
    "mean abs diff", "cosine",          "top-1 agreement",     "first divergence",  "accuracy top-1",
    "accuracy top-5"};

QString metric_text(int m, const VariantSummary& s, size_t v) {
  switch (m) {
    case AccTop1: return s.accuracy ? QStringLiteral("%1%").arg(s.accuracy->top1() * 100.0, 0, 'f', 2) : QStringLiteral("n/a");
    case AccTop5:
      return s.accuracy && s.accuracy->top5() ? QStringLiteral("%1%").arg(*s.accuracy->top5() * 100.0, 0, 'f', 2)
                                              : QStringLiteral("n/a");
    case Macc: return number_text(s.totals.macc);
    case Rom: return number_text(s.totals.rom_bytes);
    case Ram: return number_text(s.totals.ram_bytes);
    case RamBound: return number_text(s.totals.ram_lower_bound_bytes);
    case FirstDivergence:
      if (v == 0) return QStringLiteral("-");
      return s.first_divergence.empty() ? QStringLiteral("none") : QString::fromStdString(s.first_divergence);
    default: break;
  }
  // Agreement with the first column: "-" for the reference itself, "n/a" when it cannot run.
  if (v == 0) return QStringLiteral("-");
  if (!s.agreement.available) return QStringLiteral("n/a");
  switch (m) {
    case MaxAbs: return short_number(s.agreement.max_abs);
    case MeanAbs: return QString::number(s.agreement.mean_abs, 'f', 4);
    case Cosine: return QString::number(s.agreement.cosine, 'f', 6);
    case Top1: return s.agreement.top1 ? QStringLiteral("%1%").arg(*s.agreement.top1 * 100.0, 0, 'f', 1) : QStringLiteral("-");
    default: return {};
  }
}

// Kernel class, pad_values and output divergence of one cell, as shown and exported.
QString cell_text(const LayerComparison& l, size_t v) {
  if (!l.kernel[v]) return QStringLiteral("(absent)");
  QString t = QString::fromLatin1(kernel_class_name(*l.kernel[v]));
  if (l.pad_values[v]) t += QStringLiteral(" p") + short_number(static_cast<double>(*l.pad_values[v]));
  if (v > 0 && l.diff_fraction[v] && *l.diff_fraction[v] > 0)
    t += QStringLiteral(" \u0394%1%").arg(*l.diff_fraction[v] * 100.0, 0, 'f', 2);
  return t;
}

bool kernel_differs(const LayerComparison& l, size_t v) { return v > 0 && l.kernel[v] != l.kernel[0]; }

QString cell_tooltip(const CompareResult& r, const LayerComparison& l, size_t v) {
  const QString name = QString::fromStdString(l.name).toHtmlEscaped();
  const QString reference = QString::fromStdString(r.variants[0].label).toHtmlEscaped();
  QStringList tip;
  tip << QStringLiteral("<b>%1</b> in <b>%2</b>").arg(name, QString::fromStdString(r.variants[v].label).toHtmlEscaped());
  if (!l.kernel[v]) {
    tip << QStringLiteral("not present in this variant");
  } else {
    tip << QStringLiteral("kernel: %1").arg(QLatin1String(kernel_class_name(*l.kernel[v])));
    const QString codes = QString::fromStdString(l.codes[v]);
    tip << QStringLiteral("reasons: %1").arg(codes.isEmpty() ? QStringLiteral("none") : codes.toHtmlEscaped());
    if (l.pad_values[v]) tip << QStringLiteral("pad_values: %1").arg(short_number(static_cast<double>(*l.pad_values[v])));
    if (v > 0 && l.diff_fraction[v])
      tip << QStringLiteral("outputs differing from %1: %2%").arg(reference).arg(*l.diff_fraction[v] * 100.0, 0, 'f', 2);
    if (kernel_differs(l, v)) tip << QStringLiteral("<i>kernel class differs from %1</i>").arg(reference);
  }
  return tip.join(QStringLiteral("<br>"));
}

QFont font_with(bool bold, bool italic) {
  QFont f;
  if (bold) f.setBold(true);
  if (italic) f.setItalic(true);
  return f;
}

}  // namespace

void CompareTableModel::set_result(std::shared_ptr<const CompareResult> r) {
  beginResetModel();
  r_ = std::move(r);
  // Accuracy rows only with labels (top-5 from five classes on).
  metrics_.clear();
  for (int m = Macc; m <= FirstDivergence; ++m) metrics_.push_back(m);
  if (r_ && !r_->labels.empty()) {
    metrics_.push_back(AccTop1);
    const auto& a = r_->variants.empty() ? std::nullopt : r_->variants[0].accuracy;
    if (a && a->top5()) metrics_.push_back(AccTop5);
  }
  endResetModel();
}

int CompareTableModel::metric_rows() const { return r_ ? static_cast<int>(metrics_.size()) : 0; }
int CompareTableModel::layer_rows() const { return r_ ? static_cast<int>(r_->layers.size()) : 0; }

int CompareTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : metric_rows() + layer_rows(); }
int CompareTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() || !r_ ? 0 : 1 + static_cast<int>(r_->variants.size());
}

QString CompareTableModel::title(int row) const {
  if (row < metric_rows()) return QLatin1String(kMetricTitles[metrics_[static_cast<size_t>(row)]]);
  return QString::fromStdString(r_->layers[static_cast<size_t>(row - metric_rows())].name);
}

int CompareTableModel::row_of(const QString& t) const {
  for (int row = 0; row < rowCount(); ++row)
    if (title(row) == t) return row;
  return -1;
}

QVariant CompareTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const CompareResult& r = *r_;
  const int row = index.row();
  const int col = index.column();

  if (row < metric_rows()) {
    const int metric = metrics_[static_cast<size_t>(row)];
    if (col == 0) {
      if (role == Qt::DisplayRole) return title(row);
      if (role == Qt::FontRole) return font_with(false, true);
      return {};
    }
    const size_t v = static_cast<size_t>(col - 1);
    const VariantSummary& s = r.variants[v];
    switch (role) {
      case Qt::DisplayRole: return metric_text(metric, s, v);
      case Qt::TextAlignmentRole: return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
      case Qt::BackgroundRole: return QGuiApplication::palette().color(QPalette::AlternateBase);
      case Qt::ToolTipRole:
        if (metric == AccTop1 || metric == AccTop5)
          return s.accuracy ? QStringLiteral("%1 of %2 samples correct against %3")
                                  .arg(metric == AccTop1 ? s.accuracy->correct : s.accuracy->correct_top5)
                                  .arg(s.accuracy->samples)
                                  .arg(QString::fromStdString(r.labels))
                            : QString::fromStdString(s.agreement.why_not);
        if (v == 0 || metric < MaxAbs) return {};
        return s.agreement.available ? QStringLiteral("%1 against %2 over %3 samples")
                                           .arg(title(row), QString::fromStdString(r.variants[0].label))
                                           .arg(r.samples)
                                     : QString::fromStdString(s.agreement.why_not);
      default: return {};
    }
  }

  const LayerComparison& l = r.layers[static_cast<size_t>(row - metric_rows())];
  if (col == 0) {
    switch (role) {
      case Qt::DisplayRole: return (l.changed ? QStringLiteral("\u2260 ") : QString()) + title(row);
      case ExportTextRole: return (l.changed ? QStringLiteral("* ") : QString()) + title(row);
      case Qt::FontRole: return l.changed ? QVariant(font_with(true, false)) : QVariant();
      case Qt::ToolTipRole:
        if (l.changed) return QStringLiteral("The kernel class of this layer differs between the variants");
        if (l.same_padding) return QStringLiteral("padding=\"same\": pad_values matters here");
        return {};
      default: return {};
    }
  }
  const size_t v = static_cast<size_t>(col - 1);
  const bool differs = kernel_differs(l, v);
  switch (role) {
    case Qt::DisplayRole: return (differs ? QStringLiteral("\u2260 ") : QString()) + cell_text(l, v);
    case ExportTextRole: return (differs ? QStringLiteral("* ") : QString()) + cell_text(l, v);
    case Qt::FontRole: return differs ? QVariant(font_with(true, false)) : QVariant();
    case Qt::ToolTipRole: return cell_tooltip(r, l, v);
    case Qt::BackgroundRole: return l.kernel[v] ? QVariant(kernel_style(*l.kernel[v]).fill) : QVariant();
    case Qt::ForegroundRole: return l.kernel[v] ? QVariant(kernel_style(*l.kernel[v]).text) : QVariant();
    case KernelClassRole: return l.kernel[v] ? QVariant(static_cast<int>(*l.kernel[v])) : QVariant();
    default: return {};
  }
}

QVariant CompareTableModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= columnCount()) return {};
  if (section == 0) return QStringLiteral("layer");
  return QString::fromStdString(r_->variants[static_cast<size_t>(section - 1)].label);
}

}  // namespace bitlens::gui
