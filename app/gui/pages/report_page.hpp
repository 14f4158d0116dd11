// The Report tab: summary line and the per-layer, operation-type and memory-plan tables
// (sortable), with copy, CSV / Markdown / JSON export of the current table and the JSON report.
// Wiring only; models live in models/.
#pragma once

#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <memory>

#include "bitlens/compiler.hpp"
#include "models/report_models.hpp"

namespace bitlens::gui {

class ReportPage : public QWidget {
  Q_OBJECT
 public:
  enum class ExportFormat { Csv, Markdown, Json, JsonTable };  // Json: the whole report
  explicit ReportPage(QWidget* parent = nullptr);
  void set_result(std::shared_ptr<const CompileResult> r);

  // Selects the node's row in the layer table without emitting nodeSelected.
  void select_node(int node_id);
  int selected_node() const;
  // Writes the current table (CSV/Markdown/JsonTable) or the whole JSON report. Returns an error or "".
  QString export_to(const QString& path, ExportFormat format) const;
  QString current_table_text(ExportFormat format) const;
  void copy_selection() const;

  LayerTableModel* layer_model() const { return layers_; }
  OpTypeModel* op_type_model() const { return op_types_; }
  MemoryPlanModel* memory_model() const { return memory_; }
  QTableView* layer_view() const { return layer_view_; }
  QTabWidget* tables() const { return tabs_; }
  // Shows only the rows of every table with a cell containing `text` (case-insensitive): layer
  // names, classes, kernel classes, reason codes, op types. Exports write the rows shown.
  void set_filter(const QString& text);
  QLineEdit* filter_box() const { return filter_; }

 signals:
  void nodeSelected(int node_id);
  void exportRequested(bitlens::gui::ReportPage::ExportFormat format);

 private:
  QTableView* make_view(QAbstractItemModel* model, const QString& name);
  QTableView* current_view() const;

  std::shared_ptr<const CompileResult> r_;
  QLabel* summary_;
  QTabWidget* tabs_;
  LayerTableModel* layers_;
  OpTypeModel* op_types_;
  MemoryPlanModel* memory_;
  QTableView* layer_view_;
  QLineEdit* filter_;
  std::vector<QSortFilterProxyModel*> proxies_;
  bool quiet_ = false;
};

}  // namespace bitlens::gui
