// The Compare tab's table as an item model over one CompareResult: a "layer" column with each
// row's title, then one column per variant; the cost and agreement rows on top, then a row per
// layer in kernel-class colours with the variant's reason codes on hover.
#pragma once

#include <QAbstractTableModel>
#include <memory>
#include <vector>

#include "bitlens/compare.hpp"
#include "models/report_models.hpp"

namespace bitlens::gui {

// Roles: DisplayRole marks a layer whose kernel class differs from the first variant with
// "\u2260 "; ExportTextRole writes "* " instead, the marker the exported tables have always used.
// KernelClassRole on a layer cell; nothing there when the layer is absent from that variant.
class CompareTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;
  void set_result(std::shared_ptr<const CompareResult> r);
  const CompareResult* result() const { return r_.get(); }
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  int metric_rows() const;  // the cost and agreement rows, always on top
  int layer_rows() const;
  int row_of(const QString& title) const;  // a layer name or a metric ("cosine"); -1 if none

 private:
  QString title(int row) const;  // the layer name or metric, without a marker

  std::shared_ptr<const CompareResult> r_;
  std::vector<int> metrics_;  // the metric rows shown, in order
};

}  // namespace bitlens::gui
