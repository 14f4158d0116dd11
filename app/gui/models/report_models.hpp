// Qt item models over one CompileResult (display-free, tested with QAbstractItemModelTester):
// the per-layer table, the operation-type table, the memory-plan buffers and the fallbacks
// grouped by reason code. Sorting goes through QSortFilterProxyModel with SortRole.
#pragma once

#include <QAbstractItemModel>
#include <QAbstractTableModel>
#include <memory>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

enum Roles {
  NodeIdRole = Qt::UserRole + 1,  // int node id (-1 for rows that are not a node)
  KernelClassRole,                // int(KernelClass)
  SortRole,                       // numbers as qlonglong so columns sort numerically
  ExportTextRole,                 // what CSV/Markdown/JSON write where it differs from DisplayRole
};

class LayerTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Id, Layer, Class, Kernel, OpType, Formats, Shape, Macc, Rom, Ram, Reasons, FusedInto, ColumnCount };
  using QAbstractTableModel::QAbstractTableModel;
  void set_result(std::shared_ptr<const CompileResult> r);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
  int row_of_node(int node_id) const;  // -1 if absent

 private:
  std::shared_ptr<const CompileResult> r_;
  std::vector<const Node*> rows_;
};

class OpTypeModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Type, Macc, Share, Layers, ColumnCount };
  using QAbstractTableModel::QAbstractTableModel;
  void set_result(std::shared_ptr<const CompileResult> r);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  struct Row {
    QString type;
    int64_t macc = 0;
    int layers = 0;
  };
  std::vector<Row> rows_;
  int64_t total_ = 0;
};

class MemoryPlanModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Buffer, Size, Offset, FirstStep, LastStep, Scratch, ColumnCount };
  using QAbstractTableModel::QAbstractTableModel;
  void set_result(std::shared_ptr<const CompileResult> r);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  std::shared_ptr<const CompileResult> r_;
};

// Two levels: reason code (with how many layers it affects) -> each affected layer with the
// reason's message and fix. Lists every executing layer that is not fully binary.
class FallbackModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { Item, Kernel, Message, Fix, ColumnCount };
  using QAbstractItemModel::QAbstractItemModel;
  void set_result(std::shared_ptr<const CompileResult> r);
  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
  int layer_count() const;  // distinct layers listed

 private:
  struct Entry {
    const Node* node;
    const Reason* reason;  // null: the layer gave no reason
  };
  struct Group {
    QString code;
    std::vector<Entry> entries;
  };
  std::shared_ptr<const CompileResult> r_;
  std::vector<Group> groups_;
};

}  // namespace bitlens::gui
