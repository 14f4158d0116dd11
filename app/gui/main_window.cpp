// Main window: actions, file handling, background analysis and selection sync.
#include "main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QtConcurrent/QtConcurrent>

#include "pages/charts_page.hpp"
#include "pages/compare_page.hpp"
#include "pages/details_panel.hpp"
#include "pages/export_dialog.hpp"
#include "pages/fallbacks_page.hpp"
#include "pages/graph_page.hpp"

namespace bitlens::gui {
namespace {

constexpr int kMaxRecent = 8;

bool is_model_file(const QString& path) {
  const QString s = QFileInfo(path).suffix().toLower();
  return s == QLatin1String("h5") || s == QLatin1String("keras") || s == QLatin1String("hdf5");
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setObjectName(QStringLiteral("mainWindow"));
  setWindowTitle(QStringLiteral("BitLens"));
  setAcceptDrops(true);

  graph_ = new GraphPage(this);
  report_ = new ReportPage(this);
  charts_ = new ChartsPage(this);
  fallbacks_ = new FallbacksPage(this);
  compare_ = new ComparePage(this);
  details_ = new DetailsPanel(this);
  connect(details_, &DetailsPanel::exportWeightsRequested, this, [this](const QString& layer) { open_weights_dialog(layer); });
  tabs_ = new QTabWidget(this);
  tabs_->setObjectName(QStringLiteral("tabs"));
  tabs_->addTab(graph_, QStringLiteral("&Graph"));
  tabs_->addTab(report_, QStringLiteral("&Report"));
  tabs_->addTab(charts_, QStringLiteral("&Charts"));
  tabs_->addTab(fallbacks_, QStringLiteral("&Fallbacks"));
  tabs_->addTab(compare_, QStringLiteral("C&ompare"));
  splitter_ = new QSplitter(Qt::Horizontal, this);
  splitter_->addWidget(tabs_);
  splitter_->addWidget(details_);
  splitter_->setStretchFactor(0, 3);
  splitter_->setStretchFactor(1, 1);
  splitter_->setChildrenCollapsible(false);
  details_->setMinimumWidth(260);
  setCentralWidget(splitter_);

  status_ = new QLabel(QStringLiteral("Open a Keras/Larq model (Ctrl+O) or drop one here."), this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, kAnalysisSteps);
  progress_->setMaximumWidth(200);
  progress_->setVisible(false);
  statusBar()->addWidget(status_, 1);
  statusBar()->addPermanentWidget(progress_);

  create_actions();

  connect(graph_->scene(), &GraphScene::nodeSelected, this, [this](int id) {
    select_node(id);
  });
  connect(report_, &ReportPage::nodeSelected, this, [this](int id) {
    select_node(id);
    graph_->view()->centre_on_node(id);
  });
  connect(fallbacks_, &FallbacksPage::nodeSelected, this, [this](int id) {
    select_node(id);
    graph_->view()->centre_on_node(id);
  });
  connect(report_, &ReportPage::exportRequested, this, &MainWindow::export_report);

  // Editors and Keras replace the file (write new + rename), which drops it from the watcher:
  // wait until the writer is done, then reload and watch the new file.
  reload_timer_.setSingleShot(true);
  reload_timer_.setInterval(400);
  connect(&file_watcher_, &QFileSystemWatcher::fileChanged, this, [this](const QString& path) {
    if (path == analysis_.path || path == pending_path_) reload_timer_.start();
  });
  connect(&reload_timer_, &QTimer::timeout, this, [this] {
    if (QFileInfo::exists(analysis_.path)) reload();
  });
  connect(&progress_watcher_, &QFutureWatcher<Analysis>::progressValueChanged, progress_, &QProgressBar::setValue);
  connect(&progress_watcher_, &QFutureWatcher<Analysis>::progressTextChanged, status_, &QLabel::setText);

  QSettings settings;
  if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray())) {
    // First start: most of the screen, capped so 1366x768 laptops get a window that fits.
    const QSize avail = screen() ? screen()->availableGeometry().size() : QSize(1366, 768);
    resize(std::min(1400, avail.width() * 9 / 10), std::min(900, avail.height() * 9 / 10));
  }
  if (!splitter_->restoreState(settings.value(QStringLiteral("window/splitter")).toByteArray()))
    reset_splitter();
  rebuild_recent_menu();
}

MainWindow::~MainWindow() = default;

void MainWindow::reset_splitter() { splitter_->setSizes({width() * 7 / 10, width() * 3 / 10}); }

void MainWindow::create_actions() {
  auto action = [this](const QString& text, const QKeySequence& key, const QString& name, auto fn) {
    auto* a = new QAction(text, this);
    a->setObjectName(name);
    if (!key.isEmpty()) a->setShortcut(key);
    connect(a, &QAction::triggered, this, fn);
    addAction(a);
    return a;
  };
  QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
  QAction* open = action(QStringLiteral("&Open..."), QKeySequence::Open, QStringLiteral("actionOpen"), [this] { open_dialog(); });
  file->addAction(open);
  recent_menu_ = file->addMenu(QStringLiteral("Open &Recent"));
  QMenu* examples = file->addMenu(QStringLiteral("Open &Example"));
  const QDir models(data_dir(QStringLiteral("models")));
  for (const QString& f : models.entryList({QStringLiteral("*.h5"), QStringLiteral("*.keras")}, QDir::Files, QDir::Name)) {
    const QString path = models.filePath(f);
    examples->addAction(f, this, [this, path] { open_file(path); });
  }
  examples->setEnabled(!examples->isEmpty());
  QAction* reload_action = action(QStringLiteral("Re&load"), QKeySequence::Refresh, QStringLiteral("actionReload"), [this] { reload(); });
  file->addAction(reload_action);
  file->addSeparator();
  QMenu* exp = file->addMenu(QStringLiteral("&Export"));
  exp->addAction(action(QStringLiteral("Graph as &PNG..."), QKeySequence(QStringLiteral("Ctrl+Shift+P")),
                        QStringLiteral("actionExportPng"), [this] { export_graph(false); }));
  exp->addAction(action(QStringLiteral("Graph as &SVG..."), QKeySequence(QStringLiteral("Ctrl+Shift+G")),
                        QStringLiteral("actionExportSvg"), [this] { export_graph(true); }));
  exp->addAction(action(QStringLiteral("Table as &CSV..."), QKeySequence(QStringLiteral("Ctrl+Shift+C")),
                        QStringLiteral("actionExportCsv"), [this] { export_report(ReportPage::ExportFormat::Csv); }));
  exp->addAction(action(QStringLiteral("Table as &Markdown..."), QKeySequence(QStringLiteral("Ctrl+Shift+M")),
                        QStringLiteral("actionExportMarkdown"), [this] { export_report(ReportPage::ExportFormat::Markdown); }));
  exp->addAction(action(QStringLiteral("Table as JSO&N..."), QKeySequence(), QStringLiteral("actionExportTableJson"),
                        [this] { export_report(ReportPage::ExportFormat::JsonTable); }));
  exp->addAction(action(QStringLiteral("Report as &JSON..."), QKeySequence(QStringLiteral("Ctrl+Shift+J")),
                        QStringLiteral("actionExportJson"), [this] { export_report(ReportPage::ExportFormat::Json); }));
  exp->addSeparator();
  exp->addAction(action(QStringLiteral("Effective &Weights..."), QKeySequence(), QStringLiteral("actionExportWeights"),
                        [this] { open_weights_dialog(); }));
  QAction* project = action(QStringLiteral("Export &Firmware Project..."), QKeySequence(QStringLiteral("Ctrl+E")),
                            QStringLiteral("actionExportProject"), [this] { open_export_dialog(); });
  file->addAction(project);
  file->addSeparator();
  file->addAction(action(QStringLiteral("&Quit"), QKeySequence::Quit, QStringLiteral("actionQuit"), [this] { close(); }));

  QMenu* edit = menuBar()->addMenu(QStringLiteral("&Edit"));
  QAction* copy = action(QStringLiteral("&Copy Table Rows"), QKeySequence(QStringLiteral("Ctrl+Shift+Y")),
                         QStringLiteral("actionCopyRows"), [this] { report_->copy_selection(); });
  edit->addAction(copy);
  QAction* find = action(QStringLiteral("&Find Layer..."), QKeySequence::Find, QStringLiteral("actionFind"), [this] {
    tabs_->setCurrentWidget(graph_);
    graph_->search_box()->setFocus();
    graph_->search_box()->selectAll();
  });
  edit->addAction(find);
  edit->addAction(action(QStringLiteral("Find &Next"), QKeySequence::FindNext, QStringLiteral("actionFindNext"), [this] {
    tabs_->setCurrentWidget(graph_);
    graph_->find_next();
  }));
  edit->addAction(action(QStringLiteral("Find &Previous"), QKeySequence::FindPrevious, QStringLiteral("actionFindPrevious"), [this] {
    tabs_->setCurrentWidget(graph_);
    graph_->find_previous();
  }));

  QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
  QAction* zin = action(QStringLiteral("Zoom &In"), QKeySequence::ZoomIn, QStringLiteral("actionZoomIn"), [this] { graph_->view()->zoom_in(); });
  zin->setShortcuts({QKeySequence::ZoomIn, QKeySequence(QStringLiteral("Ctrl+="))});
  view->addAction(zin);
  view->addAction(action(QStringLiteral("Zoom &Out"), QKeySequence::ZoomOut, QStringLiteral("actionZoomOut"), [this] { graph_->view()->zoom_out(); }));
  view->addAction(action(QStringLiteral("&Fit to Window"), QKeySequence(QStringLiteral("Ctrl+0")), QStringLiteral("actionFit"), [this] { graph_->view()->fit(); }));
  view->addSeparator();
  const QStringList names = {QStringLiteral("&Graph"), QStringLiteral("&Report"), QStringLiteral("&Charts"), QStringLiteral("F&allbacks"), QStringLiteral("C&ompare")};
  for (int i = 0; i < names.size(); ++i)
    view->addAction(action(names[i], QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)), QStringLiteral("actionTab%1").arg(i + 1),
                           [this, i] { tabs_->setCurrentIndex(i); }));
  view->addAction(action(QStringLiteral("&Details Panel"), QKeySequence(QStringLiteral("F9")), QStringLiteral("actionDetails"),
                         [this] { details_->setVisible(!details_->isVisible()); }));
  view->addSeparator();
  // --prefer-ram: kernels that need no scratch over faster ones that do; the model is analysed
  // again with the choice.
  QAction* prefer_ram = new QAction(QStringLiteral("Prefer &RAM over Speed"), this);
  prefer_ram->setObjectName(QStringLiteral("actionPreferRam"));
  prefer_ram->setCheckable(true);
  prefer_ram->setToolTip(QStringLiteral("Choose kernels that need no scratch RAM (the patch binary conv instead of the "
                                        "bit-sliced one): less RAM, more instructions on few-channel layers"));
  compile_options_.prefer_ram = QSettings().value(QStringLiteral("analysis/prefer_ram"), false).toBool();
  prefer_ram->setChecked(compile_options_.prefer_ram);
  compare_->set_prefer_ram(compile_options_.prefer_ram);
  connect(prefer_ram, &QAction::toggled, this, [this](bool on) {
    compile_options_.prefer_ram = on;
    compare_->set_prefer_ram(on);
    QSettings().setValue(QStringLiteral("analysis/prefer_ram"), on);
    reload();
  });
  view->addAction(prefer_ram);

  QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
  help->addAction(action(QStringLiteral("&About BitLens"), QKeySequence(), QStringLiteral("actionAbout"), [this] {
    QMessageBox::about(this, QStringLiteral("About BitLens"),
                       QStringLiteral("<b>BitLens %1</b><p>Shows which layers of a Keras/Larq binary network run on an "
                                      "exact 1-bit kernel, which fall back, why, and what it costs.</p>")
                           .arg(QStringLiteral(BITLENS_VERSION)));
  }));

  QToolBar* tb = addToolBar(QStringLiteral("Main"));
  tb->setObjectName(QStringLiteral("mainToolBar"));
  tb->setMovable(false);
  tb->addAction(open);
  tb->addAction(reload_action);
  tb->addSeparator();
  for (const char* name : {"actionExportPng", "actionExportSvg", "actionExportCsv", "actionExportJson"}) {
    QAction* a = findChild<QAction*>(QLatin1String(name));
    a->setIconText(a->text().remove(QLatin1Char('&')).remove(QStringLiteral("...")));
    tb->addAction(a);
  }
  tb->addSeparator();
  project->setIconText(QStringLiteral("Export Project"));
  tb->addAction(project);
  tb->addSeparator();
  tb->addAction(find);
  for (QAction* a : findChildren<QAction*>())
    if (!a->shortcut().isEmpty()) a->setToolTip(QStringLiteral("%1 (%2)").arg(a->text().remove(QLatin1Char('&')), a->shortcut().toString(QKeySequence::NativeText)));
}

void MainWindow::open_file(const QString& path) {
  const quint64 gen = ++generation_;
  pending_path_ = QFileInfo(path).absoluteFilePath();
  busy_ = true;
  progress_->setValue(0);
  progress_->setVisible(true);
  status_->setText(QStringLiteral("Analyzing %1...").arg(QFileInfo(path).fileName()));
  const QFont font = graph_->scene()->font();
  QFuture<Analysis> future = QtConcurrent::run(
      [](QPromise<Analysis>& promise, QString p, quint64 g, QFont f, CompileOptions o) {
        promise.addResult(analyze_file(p, g, f, &promise, o));
      },
      pending_path_, gen, font, compile_options_);
  progress_watcher_.setFuture(future);
  // Runs in the UI thread; when the worker is already done (a file that fails at once) Qt
  // runs it right here, so analysisFinished may come before open_file() returns.
  future.then(this, [this](Analysis a) {
    // A newer open/reload was started meanwhile: its result is the one to show.
    if (a.generation != generation_) return;
    apply(std::move(a));
  });
}

void MainWindow::reload() {
  if (!analysis_.path.isEmpty()) open_file(analysis_.path);
  else if (!pending_path_.isEmpty()) open_file(pending_path_);
}

void MainWindow::apply(Analysis a) {
  busy_ = false;
  progress_->setVisible(false);
  if (!file_watcher_.files().isEmpty()) file_watcher_.removePaths(file_watcher_.files());
  if (QFileInfo::exists(a.path)) file_watcher_.addPath(a.path);
  if (!a.ok()) {
    status_->setText(QStringLiteral("Could not open %1").arg(QFileInfo(a.path).fileName()));
    show_error(QStringLiteral("Cannot open model"),
               QStringLiteral("%1:\n%2").arg(QFileInfo(a.path).fileName(), a.error));
    // Keep showing the previous model (if any): a failed reload must not wipe a good result.
    last_error_ = a.error;
    emit analysisFinished(false);
    return;
  }
  const QString previous_layer =
      selected_ >= 0 && analysis_.result ? QString::fromStdString(analysis_.result->graph.nodes[static_cast<size_t>(selected_)].name) : QString();
  const bool same_file = a.path == analysis_.path;
  last_error_.clear();
  analysis_ = std::move(a);
  selected_ = -1;
  graph_->set_analysis(analysis_);
  report_->set_result(analysis_.result);
  charts_->set_result(analysis_.result);
  fallbacks_->set_result(analysis_.result);
  details_->set_result(analysis_.result);
  compare_->set_model(analysis_.path);
  if (export_dialog_) export_dialog_->set_model(analysis_.result, analysis_.path);
  setWindowTitle(QStringLiteral("%1 - BitLens").arg(QFileInfo(analysis_.path).fileName()));
  status_->setText(QStringLiteral("%1: %2 nodes, analyzed in %3 ms (read %4, compile %5, layout %6)")
                       .arg(QFileInfo(analysis_.path).fileName())
                       .arg(analysis_.result->graph.nodes.size())
                       .arg(analysis_.load_ms + analysis_.compile_ms + analysis_.layout_ms, 0, 'f', 0)
                       .arg(analysis_.load_ms, 0, 'f', 0)
                       .arg(analysis_.compile_ms, 0, 'f', 0)
                       .arg(analysis_.layout_ms, 0, 'f', 0));
  add_recent(analysis_.path);
  // A reload (file re-saved from training) keeps the layer the user was looking at.
  if (same_file && !previous_layer.isEmpty()) select_layer(previous_layer);
  emit analysisFinished(true);
}

void MainWindow::select_node(int node_id) {
  if (!analysis_.result || node_id >= static_cast<int>(analysis_.result->graph.nodes.size())) node_id = -1;
  selected_ = node_id;
  if (graph_->scene()->selected_node() != node_id) graph_->scene()->select_node(node_id);
  if (report_->selected_node() != node_id) report_->select_node(node_id);
  if (details_->node() != node_id || node_id < 0) details_->show_node(node_id);
}

bool MainWindow::select_layer(const QString& name) {
  if (!analysis_.result) return false;
  const Node* n = analysis_.result->graph.find_node(name.toStdString());
  if (!n) return false;
  select_node(n->id);
  graph_->view()->centre_on_node(n->id);
  return true;
}

void MainWindow::show_error(const QString& title, const QString& text) {
  if (!error_dialogs_) return;
  if (error_box_) error_box_->close();
  // Non-modal (open(), not exec()): the window stays responsive and tests can inspect it.
  error_box_ = new QMessageBox(QMessageBox::Critical, title, text, QMessageBox::Ok, this);
  error_box_->setObjectName(QStringLiteral("errorDialog"));
  error_box_->setAttribute(Qt::WA_DeleteOnClose);
  error_box_->open();
}

ExportDialog* MainWindow::open_export_dialog() {
  if (!export_dialog_) export_dialog_ = new ExportDialog(this);
  export_dialog_->set_model(analysis_.result, analysis_.path);
  export_dialog_->set_dataset(compare_->dataset());  // the Compare tab's samples, if any
  export_dialog_->show();  // non-modal: the window stays usable, tests drive the dialog
  export_dialog_->raise();
  return export_dialog_;
}

WeightsDialog* MainWindow::open_weights_dialog(const QString& layer) {
  if (!weights_dialog_) weights_dialog_ = new WeightsDialog(this);
  weights_dialog_->set_model(analysis_.result, analysis_.path);
  weights_dialog_->set_layer(layer);
  weights_dialog_->show();
  weights_dialog_->raise();
  return weights_dialog_;
}

void MainWindow::open_dialog() {
  QSettings settings;
  const QString dir = settings.value(QStringLiteral("files/lastDir"), data_dir(QStringLiteral("models"))).toString();
  const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Open Keras/Larq model"), dir,
                                                    QStringLiteral("Keras models (*.h5 *.hdf5 *.keras);;All files (*)"));
  if (path.isEmpty()) return;
  settings.setValue(QStringLiteral("files/lastDir"), QFileInfo(path).absolutePath());
  open_file(path);
}

QStringList MainWindow::recent_files() const { return QSettings().value(QStringLiteral("files/recent")).toStringList(); }

void MainWindow::add_recent(const QString& path) {
  QStringList list = recent_files();
  list.removeAll(path);
  list.prepend(path);
  while (list.size() > kMaxRecent) list.removeLast();
  QSettings().setValue(QStringLiteral("files/recent"), list);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const QStringList list = recent_files();
  for (int i = 0; i < list.size(); ++i) {
    const QString path = list[i];
    QAction* a = recent_menu_->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(QFileInfo(path).fileName()), this,
                                         [this, path] { open_file(path); });
    a->setToolTip(path);
    a->setEnabled(QFileInfo::exists(path));
  }
  recent_menu_->setEnabled(!list.isEmpty());
}

void MainWindow::export_graph(bool svg) {
  if (!analysis_.ok()) return;
  const QString base = QFileInfo(analysis_.path).completeBaseName() + (svg ? QStringLiteral(".svg") : QStringLiteral(".png"));
  const QString path = QFileDialog::getSaveFileName(this, svg ? QStringLiteral("Export graph as SVG") : QStringLiteral("Export graph as PNG"),
                                                    QDir(QFileInfo(analysis_.path).absolutePath()).filePath(base),
                                                    svg ? QStringLiteral("SVG (*.svg)") : QStringLiteral("PNG (*.png)"));
  if (path.isEmpty()) return;
  const bool ok = svg ? graph_->view()->export_svg(path) : graph_->view()->export_png(path);
  if (!ok) show_error(QStringLiteral("Export failed"), QStringLiteral("Could not write %1").arg(path));
  else status_->setText(QStringLiteral("Graph written to %1").arg(path));
}

void MainWindow::export_report(ReportPage::ExportFormat format) {
  if (!analysis_.ok()) return;
  using F = ReportPage::ExportFormat;
  // CSV/Markdown/table JSON export the table shown in the Report tab; Json is the whole report.
  const QString table = format == F::Json ? QStringLiteral("report")
                                          : report_->tables()->tabText(report_->tables()->currentIndex()).toLower().replace(QLatin1Char(' '), QLatin1Char('_'));
  const QString ext = format == F::Csv ? QStringLiteral("csv") : format == F::Markdown ? QStringLiteral("md") : QStringLiteral("json");
  const QString base = QStringLiteral("%1_%2.%3").arg(QFileInfo(analysis_.path).completeBaseName(), table, ext);
  const QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Export"), QDir(QFileInfo(analysis_.path).absolutePath()).filePath(base),
                                                    QStringLiteral("*.%1").arg(ext));
  if (path.isEmpty()) return;
  const QString err = report_->export_to(path, format);
  if (!err.isEmpty()) show_error(QStringLiteral("Export failed"), QStringLiteral("%1: %2").arg(path, err));
  else status_->setText(QStringLiteral("Written %1").arg(path));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  for (const QUrl& url : event->mimeData()->urls())
    if (url.isLocalFile() && is_model_file(url.toLocalFile())) {
      event->acceptProposedAction();
      return;
    }
}

void MainWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls())
    if (url.isLocalFile() && is_model_file(url.toLocalFile())) {
      open_file(url.toLocalFile());
      event->acceptProposedAction();
      return;
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/splitter"), splitter_->saveState());
  event->accept();
}

}  // namespace bitlens::gui
