// The BitLens main window: opens a model (menu, command line, drag and drop, recent files,
// examples), analyzes it off the UI thread (QtConcurrent + generation counter), reloads it when
// the file changes, and keeps the selected layer in sync across graph, tables and details.
#pragma once

#include <QFileSystemWatcher>
#include <QFutureWatcher>
#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>
#include <QTimer>

#include "analysis.hpp"
#include "pages/export_dialog.hpp"
#include "pages/weights_dialog.hpp"
#include "pages/report_page.hpp"

QT_BEGIN_NAMESPACE
class QLabel;
class QProgressBar;
class QSplitter;
class QTabWidget;
class QMenu;
QT_END_NAMESPACE

namespace bitlens::gui {

class ChartsPage;
class ComparePage;
class DetailsPanel;
class FallbacksPage;
class GraphPage;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Tab { GraphTab, ReportTab, ChartsTab, FallbacksTab, CompareTab };
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Starts analyzing `path` in the background; the result replaces the current one when it
  // arrives unless another file was opened meanwhile.
  void open_file(const QString& path);
  void reload();
  bool busy() const { return busy_; }
  const Analysis& analysis() const { return analysis_; }
  quint64 generation() const { return generation_; }
  QString last_error() const { return last_error_; }  // of the latest failed open, "" after a success

  // Selects a layer everywhere (graph, layer table, details). -1 clears the selection.
  void select_node(int node_id);
  bool select_layer(const QString& name);  // by node name; false if there is none
  int selected_node() const { return selected_; }

  // Errors go to a non-modal dialog; with this off (headless use) only analysisFinished reports.
  void set_error_dialogs(bool on) { error_dialogs_ = on; }
  QMessageBox* error_dialog() const { return error_box_; }

  GraphPage* graph_page() const { return graph_; }
  ReportPage* report_page() const { return report_; }
  ChartsPage* charts_page() const { return charts_; }
  FallbacksPage* fallbacks_page() const { return fallbacks_; }
  ComparePage* compare_page() const { return compare_; }
  // The Export dialog (Ctrl+E) for the current model, created on first use; shown non-modally.
  ExportDialog* open_export_dialog();
  ExportDialog* export_dialog() const { return export_dialog_; }
  // The effective-weights dialog for `layer` (empty: every layer).
  WeightsDialog* open_weights_dialog(const QString& layer = QString());
  WeightsDialog* weights_dialog() const { return weights_dialog_; }
  DetailsPanel* details() const { return details_; }
  QTabWidget* tabs() const { return tabs_; }
  QStringList recent_files() const;
  void reset_splitter();  // graph/tables 70%, details 30% of the current width

 signals:
  void analysisFinished(bool ok);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void create_actions();
  void apply(Analysis a);
  void add_recent(const QString& path);
  void rebuild_recent_menu();
  void open_dialog();
  void export_graph(bool svg);
  void export_report(ReportPage::ExportFormat format);
  void show_error(const QString& title, const QString& text);

  GraphPage* graph_;
  ReportPage* report_;
  ChartsPage* charts_;
  FallbacksPage* fallbacks_;
  ComparePage* compare_;
  QPointer<ExportDialog> export_dialog_;
  QPointer<WeightsDialog> weights_dialog_;
  DetailsPanel* details_;
  QTabWidget* tabs_;
  QSplitter* splitter_;
  QLabel* status_;
  QProgressBar* progress_;
  QMenu* recent_menu_ = nullptr;
  QPointer<QMessageBox> error_box_;
  QFileSystemWatcher file_watcher_;
  QTimer reload_timer_;
  QFutureWatcher<Analysis> progress_watcher_;

  Analysis analysis_;
  QString pending_path_;
  QString last_error_;
  quint64 generation_ = 0;
  bool busy_ = false;
  // View > Prefer RAM over Speed (remembered): the compile options of every analysis.
  CompileOptions compile_options_;
  bool error_dialogs_ = true;
  int selected_ = -1;
};

}  // namespace bitlens::gui
