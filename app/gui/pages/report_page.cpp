// Report tab (see report_page.hpp).
#include "pages/report_page.hpp"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QVBoxLayout>

#include "layer_text.hpp"
#include "models/table_export.hpp"

namespace bitlens::gui {

ReportPage::ReportPage(QWidget* parent) : QWidget(parent) {
  summary_ = new QLabel(this);
  summary_->setObjectName(QStringLiteral("reportSummary"));
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layers_ = new LayerTableModel(this);
  op_types_ = new OpTypeModel(this);
  memory_ = new MemoryPlanModel(this);
  tabs_ = new QTabWidget(this);
  layer_view_ = make_view(layers_, QStringLiteral("layerTable"));
  tabs_->addTab(layer_view_, QStringLiteral("Layers"));
  tabs_->addTab(make_view(op_types_, QStringLiteral("opTypeTable")), QStringLiteral("Operation types"));
  tabs_->addTab(make_view(memory_, QStringLiteral("memoryTable")), QStringLiteral("Memory plan"));

  filter_ = new QLineEdit(this);
  filter_->setObjectName(QStringLiteral("reportFilter"));
  filter_->setPlaceholderText(QStringLiteral("Filter rows: show those with a cell containing this text (name, class, kernel class, reason code or op type)"));
  filter_->setClearButtonEnabled(true);
  connect(filter_, &QLineEdit::textChanged, this, [this](const QString& t) { set_filter(t); });

  auto* buttons = new QHBoxLayout;
  auto add_button = [&](const QString& text, auto fn) {
    auto* b = new QPushButton(text, this);
    connect(b, &QPushButton::clicked, this, fn);
    buttons->addWidget(b);
  };
  add_button(QStringLiteral("Copy rows"), [this] { copy_selection(); });
  buttons->addStretch();
  // The file dialogs live in the main window (File > Export), which handles this signal.
  add_button(QStringLiteral("Export CSV..."), [this] { emit exportRequested(ExportFormat::Csv); });
  add_button(QStringLiteral("Export Markdown..."), [this] { emit exportRequested(ExportFormat::Markdown); });
  add_button(QStringLiteral("Export table JSON..."), [this] { emit exportRequested(ExportFormat::JsonTable); });
  add_button(QStringLiteral("Export report JSON..."), [this] { emit exportRequested(ExportFormat::Json); });

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(summary_);
  layout->addWidget(filter_);
  layout->addWidget(tabs_, 1);
  layout->addLayout(buttons);

  connect(layer_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (!quiet_ && current.isValid()) emit nodeSelected(current.data(NodeIdRole).toInt());
          });
}

void ReportPage::set_filter(const QString& text) {
  if (filter_->text() != text) filter_->setText(text);  // re-enters through textChanged
  for (QSortFilterProxyModel* p : proxies_) p->setFilterFixedString(text);
}

QTableView* ReportPage::make_view(QAbstractItemModel* model, const QString& name) {
  auto* proxy = new QSortFilterProxyModel(this);
  proxy->setSourceModel(model);
  proxy->setSortRole(SortRole);
  proxy->setFilterKeyColumn(-1);  // any column
  proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
  proxies_.push_back(proxy);
  auto* view = new QTableView(this);
  view->setObjectName(name);
  view->setModel(proxy);
  view->setSortingEnabled(true);
  view->sortByColumn(0, Qt::AscendingOrder);
  view->setSelectionBehavior(QAbstractItemView::SelectRows);
  view->setSelectionMode(QAbstractItemView::ExtendedSelection);
  view->setAlternatingRowColors(true);
  view->setWordWrap(false);
  view->verticalHeader()->setVisible(false);
  view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
  view->horizontalHeader()->setStretchLastSection(true);
  connect(model, &QAbstractItemModel::modelReset, view, [view] { view->resizeColumnsToContents(); });
  return view;
}

void ReportPage::set_result(std::shared_ptr<const CompileResult> r) {
  r_ = r;
  layers_->set_result(r);
  op_types_->set_result(r);
  memory_->set_result(r);
  if (!r) {
    summary_->clear();
    return;
  }
  const Totals& t = r->totals;
  summary_->setText(QStringLiteral("<b>%1</b> &nbsp; MACC %2 &nbsp;&middot;&nbsp; weights (ROM) %3 &nbsp;&middot;&nbsp; "
                                   "activations (RAM) %4, lower bound %5 &nbsp;&middot;&nbsp; %6 steps")
                        .arg(QString::fromStdString(r->model.file.filename().string()).toHtmlEscaped(), number_text(t.macc),
                             bytes_text(t.rom_bytes), bytes_text(t.activations_bytes), bytes_text(t.ram_lower_bound_bytes))
                        .arg(r->schedule.size()));
}

void ReportPage::select_node(int node_id) {
  const int row = layers_->row_of_node(node_id);
  auto* proxy = static_cast<QSortFilterProxyModel*>(layer_view_->model());
  quiet_ = true;
  if (row < 0) {
    layer_view_->clearSelection();
  } else {
    const QModelIndex idx = proxy->mapFromSource(layers_->index(row, 0));
    layer_view_->selectionModel()->setCurrentIndex(idx, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    layer_view_->scrollTo(idx);
  }
  quiet_ = false;
}

int ReportPage::selected_node() const {
  const QModelIndex idx = layer_view_->selectionModel()->currentIndex();
  return idx.isValid() && layer_view_->selectionModel()->isRowSelected(idx.row(), idx.parent()) ? idx.data(NodeIdRole).toInt() : -1;
}

QTableView* ReportPage::current_view() const { return static_cast<QTableView*>(tabs_->currentWidget()); }

QString ReportPage::current_table_text(ExportFormat format) const {
  if (format == ExportFormat::Json) return r_ ? to_json(*r_) : QString();
  // The proxy: exported rows follow the order the user sorted them in.
  const QAbstractItemModel& m = *current_view()->model();
  switch (format) {
    case ExportFormat::Csv: return to_csv(m);
    case ExportFormat::Markdown: return to_markdown(m);
    case ExportFormat::JsonTable: return to_json_table(m);
    case ExportFormat::Json: break;
  }
  return {};
}

QString ReportPage::export_to(const QString& path, ExportFormat format) const {
  if (!r_) return QStringLiteral("No model is open.");
  return save_text(path, current_table_text(format));
}

void ReportPage::copy_selection() const {
  QTableView* v = current_view();
  const QModelIndexList rows = v->selectionModel()->selectedRows();
  QApplication::clipboard()->setText(rows.isEmpty() ? to_csv(*v->model()) : to_tsv(*v->model(), rows));
}

}  // namespace bitlens::gui
