// Item models over a CompileResult (see report_models.hpp).
#include "models/report_models.hpp"

#include <QColor>
#include <QFont>
#include <map>
#include <set>

#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {

// ---- LayerTableModel -------------------------------------------------------------------------

void LayerTableModel::set_result(std::shared_ptr<const CompileResult> r) {
  beginResetModel();
  r_ = std::move(r);
  rows_ = r_ ? nodes_in_report_order(*r_) : std::vector<const Node*>{};
  endResetModel();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}
int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

int LayerTableModel::row_of_node(int node_id) const {
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i]->id == node_id) return static_cast<int>(i);
  return -1;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const Node& n = *rows_[static_cast<size_t>(index.row())];
  const CompileResult& r = *r_;
  const int col = index.column();
  if (role == NodeIdRole) return n.id;
  if (role == KernelClassRole) return static_cast<int>(n.decision.kernel);
  if (role == Qt::ToolTipRole) return node_tooltip(r, n);
  if (role == Qt::DecorationRole && col == Kernel) return kernel_style(n.decision.kernel).fill;
  if (role == Qt::TextAlignmentRole && (col == Id || col == Macc || col == Rom || col == Ram))
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == SortRole) {
    switch (col) {
      case Id: return static_cast<qlonglong>(n.order * 1000);  // inserted steps sort next to their layer
      case Macc: return static_cast<qlonglong>(n.macc);
      case Rom: return static_cast<qlonglong>(n.rom_bytes);
      case Ram: return static_cast<qlonglong>(node_ram_bytes(r, n));
      default: return data(index, Qt::DisplayRole);
    }
  }
  if (role != Qt::DisplayRole && role != Qt::EditRole) return {};
  switch (col) {
    case Id: return n.id;
    case Layer: return QString::fromStdString(n.name);
    case Class: return n.class_name.empty() ? QStringLiteral("(%1 step)").arg(QLatin1String(op_name(n.op)))
                                            : QString::fromStdString(n.class_name);
    case Kernel: return kernel_style(n.decision.kernel).label;
    case OpType: return QString::fromStdString(n.decision.op_type);
    case Formats: return formats_text(r, n);
    case Shape: return output_shape_text(r, n);
    case Macc: return number_text(n.macc);
    case Rom: return number_text(n.rom_bytes);
    case Ram: return number_text(node_ram_bytes(r, n));
    case Reasons: return reason_codes_text(n);
    case FusedInto: return QString::fromStdString(n.decision.fused_into);
    default: return {};
  }
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= ColumnCount) return {};
  static const char* names[] = {"id", "layer", "class", "kernel", "op type", "formats", "output shape",
                                "MACC", "ROM (B)", "RAM (B)", "reasons", "folded into"};
  return QString::fromLatin1(names[section]);
}

// ---- OpTypeModel -----------------------------------------------------------------------------

void OpTypeModel::set_result(std::shared_ptr<const CompileResult> r) {
  beginResetModel();
  rows_.clear();
  total_ = 0;
  if (r) {
    std::map<std::string, int> layers;
    for (const auto& n : r->graph.nodes)
      if (!n.removed && !n.decision.op_type.empty()) ++layers[n.decision.op_type];
    for (const auto& [type, macc] : r->totals.op_types) {
      rows_.push_back({QString::fromStdString(type), macc, layers[type]});
      total_ += macc;
    }
  }
  endResetModel();
}

int OpTypeModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int OpTypeModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant OpTypeModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const Row& row = rows_[static_cast<size_t>(index.row())];
  const double share = total_ > 0 ? 100.0 * static_cast<double>(row.macc) / static_cast<double>(total_) : 0.0;
  if (role == Qt::TextAlignmentRole && index.column() != Type) return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == SortRole) {
    switch (index.column()) {
      case Macc:
      case Share: return static_cast<qlonglong>(row.macc);
      case Layers: return row.layers;
      default: return row.type;
    }
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Type: return row.type;
    case Macc: return number_text(row.macc);
    case Share: return QStringLiteral("%1%").arg(share, 0, 'f', 1);
    case Layers: return row.layers;
    default: return {};
  }
}

QVariant OpTypeModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= ColumnCount) return {};
  static const char* names[] = {"operation type", "MACC", "%", "layers"};
  return QString::fromLatin1(names[section]);
}

// ---- MemoryPlanModel -------------------------------------------------------------------------

void MemoryPlanModel::set_result(std::shared_ptr<const CompileResult> r) {
  beginResetModel();
  r_ = std::move(r);
  endResetModel();
}

int MemoryPlanModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || !r_ ? 0 : static_cast<int>(r_->plan.buffers.size());
}
int MemoryPlanModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant MemoryPlanModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const auto& b = r_->plan.buffers[static_cast<size_t>(index.row())];
  if (role == NodeIdRole) return b.tensor >= 0 ? r_->graph.tensors[static_cast<size_t>(b.tensor)].producer : b.node;
  if (role == Qt::TextAlignmentRole && index.column() != Buffer && index.column() != Scratch)
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  if (role == SortRole) {
    switch (index.column()) {
      case Size: return static_cast<qlonglong>(b.size);
      case Offset: return static_cast<qlonglong>(b.offset);
      case FirstStep: return b.first_step;
      case LastStep: return b.last_step;
      default: return data(index, Qt::DisplayRole);
    }
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Buffer: return QString::fromStdString(b.name);
    case Size: return number_text(b.size);
    case Offset: return number_text(b.offset);
    case FirstStep: return b.first_step;
    case LastStep: return b.last_step;
    case Scratch: return b.tensor < 0 ? QStringLiteral("scratch") : QStringLiteral("tensor");
    default: return {};
  }
}

QVariant MemoryPlanModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= ColumnCount) return {};
  static const char* names[] = {"buffer", "size (B)", "offset", "first step", "last step", "kind"};
  return QString::fromLatin1(names[section]);
}

// ---- FallbackModel ---------------------------------------------------------------------------
// internalId: 0 for a group row, group index + 1 for a layer row under that group.

void FallbackModel::set_result(std::shared_ptr<const CompileResult> r) {
  beginResetModel();
  r_ = std::move(r);
  groups_.clear();
  if (r_) {
    std::map<std::string, size_t> index_of;
    for (const Node* n : nodes_in_report_order(*r_)) {
      if (!is_fallback(*n)) continue;
      auto add = [&](const std::string& code, const Reason* re) {
        auto [it, fresh] = index_of.try_emplace(code, groups_.size());
        if (fresh) groups_.push_back({QString::fromStdString(code), {}});
        groups_[it->second].entries.push_back({n, re});
      };
      bool any = false;
      // Notes (Info) explain a binary detail; a fallback is explained by its warnings first.
      for (const auto& re : n->decision.reasons)
        if (re.severity == Reason::Severity::Warning) add(re.code, &re), any = true;
      if (!any)
        for (const auto& re : n->decision.reasons) add(re.code, &re), any = true;
      if (!any) add("(no reason recorded)", nullptr);
    }
  }
  endResetModel();
}

int FallbackModel::layer_count() const {
  std::set<const Node*> nodes;
  for (const auto& g : groups_)
    for (const auto& e : g.entries) nodes.insert(e.node);
  return static_cast<int>(nodes.size());
}

QModelIndex FallbackModel::index(int row, int column, const QModelIndex& parent) const {
  if (!hasIndex(row, column, parent)) return {};
  if (!parent.isValid()) return createIndex(row, column, quintptr{0});
  return createIndex(row, column, static_cast<quintptr>(parent.row() + 1));
}

QModelIndex FallbackModel::parent(const QModelIndex& child) const {
  if (!child.isValid() || child.internalId() == 0) return {};
  return createIndex(static_cast<int>(child.internalId() - 1), 0, quintptr{0});
}

int FallbackModel::rowCount(const QModelIndex& parent) const {
  if (!parent.isValid()) return static_cast<int>(groups_.size());
  if (parent.internalId() != 0 || parent.column() != 0) return 0;
  return static_cast<int>(groups_[static_cast<size_t>(parent.row())].entries.size());
}

int FallbackModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant FallbackModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  if (index.internalId() == 0) {
    const Group& g = groups_[static_cast<size_t>(index.row())];
    if (role == NodeIdRole) return -1;
    if (role == Qt::FontRole) {
      QFont f;
      f.setBold(true);
      return f;
    }
    if (role != Qt::DisplayRole) return {};
    if (index.column() == Item)
      return QStringLiteral("%1 (%2 layer%3)").arg(g.code).arg(g.entries.size()).arg(g.entries.size() == 1 ? "" : "s");
    // The fix is the same sentence pattern for every layer of a code; show the first one.
    if (index.column() == Fix && !g.entries.empty() && g.entries[0].reason)
      return QString::fromStdString(g.entries[0].reason->fix);
    return {};
  }
  const Entry& e = groups_[static_cast<size_t>(index.internalId() - 1)].entries[static_cast<size_t>(index.row())];
  if (role == NodeIdRole) return e.node->id;
  if (role == KernelClassRole) return static_cast<int>(e.node->decision.kernel);
  if (role == Qt::DecorationRole && index.column() == Kernel) return kernel_style(e.node->decision.kernel).fill;
  if (role == Qt::ToolTipRole) return node_tooltip(*r_, *e.node);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case Item: return QString::fromStdString(e.node->name);
    case Kernel: return kernel_style(e.node->decision.kernel).label;
    case Message: return e.reason ? QString::fromStdString(e.reason->message) : QString();
    case Fix: return e.reason ? QString::fromStdString(e.reason->fix) : QString();
    default: return {};
  }
}

QVariant FallbackModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= ColumnCount) return {};
  static const char* names[] = {"reason / layer", "kernel", "why", "fix"};
  return QString::fromLatin1(names[section]);
}

}  // namespace bitlens::gui
