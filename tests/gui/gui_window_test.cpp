// The main window end to end (off-screen): background analysis, selection synced between graph,
// layer table, fallbacks and details, reload on file change, stale results dropped, error
// dialog on a corrupt file, report export, and the headless --screenshot command line.
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTreeView>
#include <QtTest>

#include "graph/graph_scene.hpp"
#include "gui_test_util.hpp"
#include "main_window.hpp"
#include "pages/compare_page.hpp"
#include "pages/details_panel.hpp"
#include "pages/fallbacks_page.hpp"
#include "pages/graph_page.hpp"
#include "pages/report_page.hpp"

using namespace bitlens;
using namespace bitlens::gui;
using namespace bitlens::gui::test;

namespace {

bool open_and_wait(MainWindow& w, const QString& path, bool expect_ok = true) {
  QSignalSpy spy(&w, &MainWindow::analysisFinished);
  w.open_file(path);
  // A file that fails at once may be reported before open_file() returns.
  if (spy.isEmpty() && !spy.wait(30000)) return false;
  return spy.takeFirst().at(0).toBool() == expect_ok;
}

void write_garbage(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
  f.write(QByteArray(4096, '\x5a'));
}

}  // namespace

class GuiWindowTest : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }  // keep the user's settings

  void opensModelInBackgroundAndFillsEveryPage() {
    MainWindow w;
    w.resize(1366, 768);
    w.show();
    QVERIFY(open_and_wait(w, model_path("mnist_tutorial.h5")));
    QVERIFY(!w.busy());
    QCOMPARE(w.graph_page()->scene()->node_count(), 15);
    QCOMPARE(w.report_page()->layer_model()->rowCount(), 15);
    QCOMPARE(w.fallbacks_page()->model()->layer_count(), 2);
    QVERIFY(w.windowTitle().contains(QStringLiteral("mnist_tutorial.h5")));
    QVERIFY(w.recent_files().contains(QFileInfo(model_path("mnist_tutorial.h5")).absoluteFilePath()));
  }

  void selectionSyncedBetweenGraphTableAndDetails() {
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("mnist_tutorial.h5")));
    const CompileResult& r = *w.analysis().result;
    const int conv1 = node_named(r, "quant_conv2d_1").id, act = node_named(r, "activation").id;

    // Graph -> table + details.
    w.graph_page()->scene()->node_item(conv1)->setSelected(true);
    QCOMPARE(w.selected_node(), conv1);
    QCOMPARE(w.report_page()->selected_node(), conv1);
    QCOMPARE(w.details()->node(), conv1);
    QVERIFY(w.details()->toPlainText().contains(QStringLiteral("quant_conv2d_1")));

    // Table -> graph + details (through the sorting proxy).
    QTableView* table = w.report_page()->layer_view();
    QModelIndex row;
    for (int i = 0; i < table->model()->rowCount(); ++i)
      if (table->model()->index(i, 0).data(NodeIdRole).toInt() == act) row = table->model()->index(i, 0);
    QVERIFY(row.isValid());
    table->selectionModel()->setCurrentIndex(row, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QCOMPARE(w.graph_page()->scene()->selected_node(), act);
    QCOMPARE(w.details()->node(), act);
    QVERIFY(w.graph_page()->scene()->node_item(act)->isSelected());
    QVERIFY(!w.graph_page()->scene()->node_item(conv1)->isSelected());

    // Fallbacks -> graph + table.
    QTreeView* tree = w.fallbacks_page()->view();
    const QModelIndex group = tree->model()->index(0, 0);
    const QModelIndex child = tree->model()->index(0, 0, group);
    const int id = child.data(NodeIdRole).toInt();
    tree->selectionModel()->setCurrentIndex(child, QItemSelectionModel::ClearAndSelect);
    QCOMPARE(w.graph_page()->scene()->selected_node(), id);
    QCOMPARE(w.report_page()->selected_node(), id);

    // Search in the graph page selects the hit everywhere.
    w.graph_page()->search_box()->setText(QStringLiteral("flatten"));
    QCOMPARE(w.graph_page()->find_next(), node_named(r, "flatten").id);
    QCOMPARE(w.report_page()->selected_node(), node_named(r, "flatten").id);
  }

  // Netron-style navigation: find by name, class, kernel class, reason code or op type with
  // every match highlighted, next/previous, arrow keys along the data flow, and a filter on the
  // report tables.
  void findHighlightAndKeyboardNavigation() {
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("quicknet_style.h5")));
    GraphPage* g = w.graph_page();
    const CompileResult& r = *w.analysis().result;
    auto expected = [&](auto pred) {
      std::vector<int> ids;
      for (const auto& n : r.graph.nodes)
        if (g->scene()->node_item(n.id) && pred(n)) ids.push_back(n.id);
      return ids;
    };
    auto highlighted = [&] {
      std::vector<int> ids;
      for (NodeItem* item : g->scene()->node_items())
        if (item->search_hit()) ids.push_back(item->node_id());
      std::sort(ids.begin(), ids.end());
      return ids;
    };
    // Kernel class: every float node, all highlighted at once.
    g->set_search_field(GraphScene::SearchField::Kernel);
    g->search_box()->setText(QStringLiteral("float"));
    const auto floats = expected([](const Node& n) { return n.decision.kernel == KernelClass::Float; });
    QVERIFY(floats.size() > 2);
    QCOMPARE(g->hits(), floats);
    QCOMPARE(highlighted(), floats);
    QCOMPARE(g->hit_label()->text(), QStringLiteral("%1 matches").arg(floats.size()));
    // Reason code.
    g->set_search_field(GraphScene::SearchField::Reason);
    g->search_box()->setText(QStringLiteral("FUSED"));
    const auto bn = expected([](const Node& n) {
      for (const auto& re : n.decision.reasons)
        if (re.code == "FUSED") return true;
      return false;
    });
    QVERIFY(bn.size() > 1);
    QCOMPARE(g->hits(), bn);
    // Op type, and Keras class.
    g->set_search_field(GraphScene::SearchField::OpType);
    g->search_box()->setText(QStringLiteral("sxor_s1_s1"));
    QCOMPARE(g->hits(), expected([](const Node& n) { return n.decision.op_type == "sxor_s1_s1"; }));
    g->set_search_field(GraphScene::SearchField::Class);
    g->search_box()->setText(QStringLiteral("QuantConv2D"));
    const auto convs = expected([](const Node& n) { return n.class_name == "QuantConv2D"; });
    QVERIFY(convs.size() >= 2);
    QCOMPARE(g->hits(), convs);
    // Next / previous wrap around and select the match everywhere.
    QCOMPARE(g->find_next(), convs[0]);
    QCOMPARE(g->hit_label()->text(), QStringLiteral("1 of %1").arg(convs.size()));
    QCOMPARE(g->find_next(), convs[1]);
    QCOMPARE(g->find_previous(), convs[0]);
    QCOMPARE(g->find_previous(), convs.back());
    QCOMPARE(w.report_page()->selected_node(), convs.back());
    QAction* prev = w.findChild<QAction*>(QStringLiteral("actionFindPrevious"));
    QVERIFY(prev);
    QCOMPARE(prev->shortcut(), QKeySequence(QKeySequence::FindPrevious));
    // "any" matches names too; no text, no highlight.
    g->set_search_field(GraphScene::SearchField::Any);
    g->search_box()->setText(QStringLiteral("batch_normalization_1"));
    QVERIFY(!g->hits().empty());
    g->search_box()->clear();
    QVERIFY(highlighted().empty());

    // Arrow keys: down to the consumer, up back to the producer.
    const Node& conv = r.graph.nodes[static_cast<size_t>(convs[0])];
    g->scene()->select_node(conv.id);
    g->view()->setFocus();
    QTest::keyClick(g->view(), Qt::Key_Down);
    const int down = g->scene()->selected_node();
    const auto& consumers = r.graph.tensors[static_cast<size_t>(conv.outputs[0])].consumers;
    QVERIFY(std::find(consumers.begin(), consumers.end(), down) != consumers.end());
    QCOMPARE(w.report_page()->selected_node(), down);
    QTest::keyClick(g->view(), Qt::Key_Up);
    QCOMPARE(g->scene()->selected_node(), conv.id);
    QTest::keyClick(g->view(), Qt::Key_Right);
    QVERIFY(g->scene()->selected_node() != conv.id);
    QTest::keyClick(g->view(), Qt::Key_Left);
    QCOMPARE(g->scene()->selected_node(), conv.id);

    // Report filter: only rows mentioning the text, in every table.
    ReportPage* rep = w.report_page();
    rep->set_filter(QStringLiteral("FUSED"));
    QAbstractItemModel* shown = rep->layer_view()->model();
    QCOMPARE(shown->rowCount(), static_cast<int>(bn.size()));
    for (int row = 0; row < shown->rowCount(); ++row)
      QVERIFY(std::find(bn.begin(), bn.end(), shown->index(row, 0).data(NodeIdRole).toInt()) != bn.end());
    rep->set_filter(QString());
    QCOMPARE(shown->rowCount(), rep->layer_model()->rowCount());
  }

  void corruptFileShowsErrorDialogAndKeepsWindow() {
    QTemporaryDir dir;
    const QString bad = dir.filePath(QStringLiteral("corrupt.h5"));
    write_garbage(bad);
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    QVERIFY(open_and_wait(w, bad, false));
    QMessageBox* box = w.error_dialog();
    QVERIFY(box);
    QVERIFY(box->isVisible());
    QVERIFY(!w.last_error().isEmpty());
    QVERIFY2(box->text().contains(w.last_error()), qPrintable(box->text()));
    QVERIFY(box->text().contains(QStringLiteral("corrupt.h5")));
    // The previous model stays on screen.
    QCOMPARE(w.graph_page()->scene()->node_count(), 4);
    box->close();
    QTRY_VERIFY(!w.error_dialog());

    QVERIFY(open_and_wait(w, dir.filePath(QStringLiteral("missing.h5")), false));
    QVERIFY(w.error_dialog());
    w.error_dialog()->close();
  }

  void preferRamRecompilesWithThePatchKernel() {
    MainWindow w;
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    auto kernel = [&] { return w.analysis().result->graph.find_node("quant_conv2d_1")->decision.kernel_name; };
    QAction* prefer = w.findChild<QAction*>(QStringLiteral("actionPreferRam"));
    QVERIFY(prefer && prefer->isCheckable());
    QVERIFY(!prefer->isChecked());
    QCOMPARE(kernel(), std::string("bl_bconv2d_bitsliced"));
    const int64_t fast_ram = w.analysis().result->totals.ram_bytes;
    QSignalSpy spy(&w, &MainWindow::analysisFinished);
    prefer->setChecked(true);
    QVERIFY(spy.wait(30000));
    QCOMPARE(kernel(), std::string("bl_bconv2d"));
    QVERIFY(w.analysis().result->totals.ram_bytes < fast_ram);
    QVERIFY(w.analysis().result->options.prefer_ram);  // what exports and reports of this result use
    // The Compare tab compiles its variants the same way, so its RAM column matches Analyze.
    QVERIFY(w.compare_page()->prefer_ram());
    w.compare_page()->set_pad_enabled(1.0f, true);
    for (const auto& s : w.compare_page()->variant_specs()) QVERIFY(s.options.prefer_ram);
    prefer->setChecked(false);  // the choice is remembered: leave the default for other tests
    QVERIFY(spy.wait(30000));
    QCOMPARE(kernel(), std::string("bl_bconv2d_bitsliced"));
    QVERIFY(!w.compare_page()->prefer_ram());
    for (const auto& s : w.compare_page()->variant_specs()) QVERIFY(!s.options.prefer_ram);
  }

  void newerOpenWinsOverStaleResult() {
    MainWindow w;
    QSignalSpy spy(&w, &MainWindow::analysisFinished);
    w.open_file(model_path("quicknet_style.h5"));
    w.open_file(model_path("forum_1layer_pad0.h5"));
    QVERIFY(spy.wait(30000));
    QTRY_VERIFY_WITH_TIMEOUT(!w.busy(), 30000);
    QTest::qWait(300);  // give a stale quicknet result every chance to arrive
    QCOMPARE(w.generation(), quint64{2});
    QCOMPARE(QFileInfo(w.analysis().path).fileName(), QStringLiteral("forum_1layer_pad0.h5"));
    QCOMPARE(w.graph_page()->scene()->node_count(), static_cast<int>(w.analysis().result->graph.nodes.size()));
    QCOMPARE(spy.count(), 1);
  }

  void reloadsWhenTheFileChanges() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("model.h5"));
    QVERIFY(QFile::copy(model_path("forum_1layer_pad0.h5"), path));
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, path));
    const int before = w.graph_page()->scene()->node_count();
    const Node& conv = node_named(*w.analysis().result, "quant_conv2d");
    w.select_node(conv.id);
    QSignalSpy spy(&w, &MainWindow::analysisFinished);
    // Re-save as training would: a different model at the same path.
    QVERIFY(QFile::remove(path));
    QVERIFY(QFile::copy(model_path("mnist_tutorial.h5"), path));
    QVERIFY(spy.wait(30000));
    QVERIFY(spy.takeFirst().at(0).toBool());
    QCOMPARE(w.graph_page()->scene()->node_count(), 15);
    QVERIFY(before != 15);
    // The layer being looked at stays selected when it still exists.
    QCOMPARE(w.selected_node(), node_named(*w.analysis().result, "quant_conv2d").id);
  }

  void reportExportWritesCsvAndJson() {
    QTemporaryDir dir;
    MainWindow w;
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    ReportPage* page = w.report_page();
    const QString csv = dir.filePath(QStringLiteral("layers.csv")), js = dir.filePath(QStringLiteral("report.json"));
    QCOMPARE(page->export_to(csv, ReportPage::ExportFormat::Csv), QString());
    QCOMPARE(page->export_to(js, ReportPage::ExportFormat::Json), QString());
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 5);
    QVERIFY(lines[0].startsWith(QStringLiteral("id,layer,")));
    QVERIFY(lines[4].contains(QStringLiteral("quant_conv2d_1,QuantConv2D,binary,sxor_s1_s1,s1>f32,32x32x16")));
    QFile j(js);
    QVERIFY(j.open(QIODevice::ReadOnly));
    const json doc = json::parse(j.readAll().toStdString());
    QCOMPARE(doc["layers"].size(), size_t{4});
    QCOMPARE(doc["layers"][3]["reasons"][0]["code"].get<std::string>(), std::string("PAD_ZERO_EXACT"));
    // Markdown of the operation-type table (the current sub-tab is what gets exported).
    page->tables()->setCurrentIndex(1);
    QVERIFY(page->current_table_text(ReportPage::ExportFormat::Markdown).startsWith(QStringLiteral("| operation type | MACC |")));
    QVERIFY(!page->export_to(dir.filePath(QStringLiteral("no/such/dir/x.csv")), ReportPage::ExportFormat::Csv).isEmpty());
  }

  void screenshotOptionWritesPng() {
    QTemporaryDir dir;
    for (const char* tab : {"graph", "report", "charts", "fallbacks"}) {
      const QString out = dir.filePath(QStringLiteral("%1.png").arg(QLatin1String(tab)));
      QProcess p;
      p.start(QStringLiteral(BITLENS_GUI_EXE), {model_path("mnist_tutorial.h5"), QStringLiteral("--screenshot"), out,
                                               QStringLiteral("--tab"), QLatin1String(tab), QStringLiteral("--size"),
                                               QStringLiteral("1024x700")});
      QVERIFY(p.waitForFinished(60000));
      QCOMPARE(p.exitCode(), 0);
      const QImage img(out);
      QVERIFY2(!img.isNull(), tab);
      QCOMPARE(img.size(), QSize(1024, 700));
    }
    // An unusable file: one-line error on stderr, exit status 2, no image.
    const QString bad = dir.filePath(QStringLiteral("bad.h5"));
    write_garbage(bad);
    QProcess p;
    p.start(QStringLiteral(BITLENS_GUI_EXE), {bad, QStringLiteral("--screenshot"), dir.filePath(QStringLiteral("bad.png"))});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 2);
    QVERIFY(p.readAllStandardError().contains("bitlens-gui: error: bad.h5:"));
    QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("bad.png"))));
    p.start(QStringLiteral(BITLENS_GUI_EXE), {model_path("mnist_tutorial.h5"), QStringLiteral("--screenshot"),
                                             dir.filePath(QStringLiteral("x.png")), QStringLiteral("--tab"), QStringLiteral("nope")});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 2);
  }
};

QTEST_MAIN(GuiWindowTest)
#include "gui_window_test.moc"
