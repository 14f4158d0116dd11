// The Export dialog and the Compare tab (off-screen): the export action writes a firmware
// project for a board, host validation from the GUI reports a match, the Compare tab shows the
// pad_values variants side by side with kernel-class colours, agreement figures and notes, and
// exports them; `--screenshot --tab compare` renders it.
#include <QAbstractButton>
#include <QAction>
#include <QChartView>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QCheckBox>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QChart>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "bitlens/export.hpp"
#include "bitlens/npy.hpp"
#include "bitlens/runtime.hpp"
#include "support/keras_builder.hpp"
#include "support/model_writer.hpp"
#include "support/orientation_task.hpp"
#include "gui_test_util.hpp"
#include "main_window.hpp"
#include "pages/compare_page.hpp"
#include "pages/details_panel.hpp"
#include "pages/export_dialog.hpp"
#include "pages/weights_dialog.hpp"
#include "palette.hpp"

using namespace bitlens;
using namespace bitlens::gui;
using namespace bitlens::gui::test;

namespace {

bool open_and_wait(MainWindow& w, const QString& path) {
  QSignalSpy spy(&w, &MainWindow::analysisFinished);
  w.open_file(path);
  if (spy.isEmpty() && !spy.wait(30000)) return false;
  return spy.takeFirst().at(0).toBool();
}

// Opens `file` with the Compare tab current and waits for the comparison.
bool compare_model(MainWindow& w, const char* file) {
  w.tabs()->setCurrentWidget(w.compare_page());
  QSignalSpy spy(w.compare_page(), &ComparePage::comparisonFinished);
  if (!open_and_wait(w, model_path(file))) return false;
  if (spy.isEmpty() && !spy.wait(60000)) return false;
  return spy.last().at(0).toBool();
}

QString read_all(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

}  // namespace

class GuiExportCompareTest : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void exportActionWritesProject() {
    QTemporaryDir tmp;
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    QAction* action = w.findChild<QAction*>(QStringLiteral("actionExportProject"));
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(QStringLiteral("Ctrl+E")));
    action->trigger();
    ExportDialog* d = w.export_dialog();
    QVERIFY(d);
    QVERIFY(d->isVisible());
    QVERIFY(!d->isModal());
    // The board database fills the board list.
    QVERIFY(d->boards().contains(QStringLiteral("NUCLEO-F446RE")));
    QVERIFY(d->boards().contains(QStringLiteral("qemu-m4")));
    QVERIFY(!d->set_board(QStringLiteral("no-such-board")));
    QVERIFY(d->set_board(QStringLiteral("nucleo-f446re")));
    QCOMPARE(d->board(), QStringLiteral("NUCLEO-F446RE"));
    // Defaults from the model: network name = file stem, folder next to the model.
    QCOMPARE(d->network_name(), QStringLiteral("forum_2layer_pad0"));
    QVERIFY(d->output_dir().endsWith(QStringLiteral("forum_2layer_pad0_nucleo_f446re")));

    const QString out = tmp.filePath(QStringLiteral("proj"));
    d->set_output_dir(out);
    d->set_network_name(QStringLiteral("forum2"));
    d->set_vectors(3);
    d->set_open_folder_prompt(true);
    QSignalSpy done(d, &ExportDialog::exportFinished);
    d->start_export();
    // the export runs on the shared thread pool: under load (ctest -j2 beside the fuzzers) it can
    // queue behind the Compare tab's runs for over a minute
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 240000);
    QVERIFY2(done.takeFirst().at(0).toBool(), qPrintable(d->last_error()));
    for (const char* f : {"network/forum2.c", "network/forum2.h", "network/forum2_data.c", "Makefile", "CMakeLists.txt"})
      QVERIFY2(QFile::exists(QDir(out).filePath(QLatin1String(f))), f);
    QVERIFY(read_all(QDir(out).filePath(QStringLiteral("network/forum2.h"))).contains(QStringLiteral("bl_forum2_run")));
    QVERIFY(d->result_text().contains(QStringLiteral("3 test vector(s)")));
    QVERIFY(d->result_text().contains(QStringLiteral("NUCLEO-F446RE")));
    // The offer to open the folder is a non-modal box; closing it opens nothing.
    QMessageBox* box = d->open_folder_box();
    QVERIFY(box);
    QVERIFY(box->isVisible());
    QVERIFY(box->text().contains(out));
    box->button(QMessageBox::Close)->click();
    QTRY_VERIFY(!d->open_folder_box());

    // A second export into the now non-empty folder is refused unless overwriting is chosen.
    d->start_export();
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 240000);
    QVERIFY(!done.takeFirst().at(0).toBool());
    QVERIFY(!d->last_error().isEmpty());
    d->set_open_folder_prompt(false);
    d->set_overwrite(true);
    d->start_export();
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 240000);
    QVERIFY2(done.takeFirst().at(0).toBool(), qPrintable(d->last_error()));
    QVERIFY(!d->open_folder_box());
  }

  // The details panel shows what a layer computes with and exports it (bitlens weights).
  void weightsFromTheDetailsPanel() {
    QTemporaryDir tmp;
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("mnist_tutorial.h5")));
    QVERIFY(w.select_layer(QStringLiteral("quant_conv2d_1")));
    const QString html = w.details()->toPlainText();
    QVERIFY2(html.contains(QStringLiteral("Effective weights")), qPrintable(html));
    QVERIFY(html.contains(QStringLiteral("threshold")));  // BatchNorm + sign folded into integer thresholds
    QVERIFY(html.contains(QStringLiteral("kernel_sign")));
    QVERIFY(html.contains(QStringLiteral("Export weights...")));
    emit w.details()->anchorClicked(QUrl(QStringLiteral("bitlens:export-weights")));
    WeightsDialog* d = w.weights_dialog();
    QVERIFY(d);
    QVERIFY(d->isVisible());
    QVERIFY(!d->isModal());
    QCOMPARE(d->layer(), QStringLiteral("quant_conv2d_1"));
    QVERIFY(d->output_dir().endsWith(QStringLiteral("mnist_tutorial_weights_quant_conv2d_1")));

    const QString out = tmp.filePath(QStringLiteral("w"));
    d->set_output_dir(out);
    QVERIFY2(d->write(), qPrintable(d->last_error()));
    QFile f(QDir(out).filePath(QStringLiteral("weights.json")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QJsonArray nodes = QJsonDocument::fromJson(f.readAll()).object().value(QStringLiteral("nodes")).toArray();
    QCOMPARE(nodes.size(), 1);
    QCOMPARE(nodes[0].toObject().value(QStringLiteral("layer")).toString(), QStringLiteral("quant_conv2d_1"));
    for (const auto& t : nodes[0].toObject().value(QStringLiteral("tensors")).toArray()) {
      const QString file = t.toObject().value(QStringLiteral("file")).toString();
      QVERIFY2(QFile::exists(QDir(out).filePath(file)), qPrintable(file));
    }
    QVERIFY(d->result_text().contains(QStringLiteral("threshold")));

    // The folder is no longer empty: refused (nothing changed) unless replacing is chosen.
    d->set_format(QStringLiteral("c"));
    QVERIFY(!d->write());
    QVERIFY(d->last_error().contains(QStringLiteral("is not empty")));
    QVERIFY(!QFile::exists(QDir(out).filePath(QStringLiteral("weights.h"))));
    d->set_overwrite(true);
    QVERIFY2(d->write(), qPrintable(d->last_error()));
    QVERIFY(read_all(QDir(out).filePath(QStringLiteral("weights.h"))).contains(QStringLiteral("quant_conv2d_1_threshold")));

    // From the menu: every layer.
    QAction* all = w.findChild<QAction*>(QStringLiteral("actionExportWeights"));
    QVERIFY(all);
    all->trigger();
    QVERIFY(w.weights_dialog()->layer().isEmpty());
    w.weights_dialog()->set_output_dir(tmp.filePath(QStringLiteral("all")));
    w.weights_dialog()->set_format(QStringLiteral("json"));
    QVERIFY2(w.weights_dialog()->write(), qPrintable(w.weights_dialog()->last_error()));
    QVERIFY(read_all(tmp.filePath(QStringLiteral("all/weights.json"))).contains(QStringLiteral("\"values\"")));
  }

  void hostValidationFromTheGuiMatches() {
    QTemporaryDir tmp;
    MainWindow w;
    w.show();
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    ExportDialog* d = w.open_export_dialog();
    d->set_open_folder_prompt(false);
    d->set_output_dir(tmp.filePath(QStringLiteral("proj")));
    QSignalSpy exported(d, &ExportDialog::exportFinished);
    d->start_export();
    QVERIFY(exported.wait(60000));
    QVERIFY(exported.takeFirst().at(0).toBool());
    d->set_target(ValidateTarget::Host);
    QSignalSpy validated(d, &ExportDialog::validationFinished);
    d->start_validation();
    QVERIFY(d->busy());  // off the UI thread: the call returns at once
    QVERIFY(validated.wait(120000));
    QVERIFY2(validated.takeFirst().at(0).toBool(), qPrintable(d->result_text() + d->last_error()));
    QVERIFY(!d->busy());
    QVERIFY(d->result_text().contains(QStringLiteral("target host")));
    QVERIFY(d->result_text().contains(QStringLiteral("Result: PASS")));
    QVERIFY(d->result_text().contains(QStringLiteral("quant_conv2d_1")));

    // Validation builds the exported project's sources: a broken network/ file fails it, with
    // the build error shown instead of a crash.
    QFile data(QDir(tmp.filePath(QStringLiteral("proj"))).filePath(QStringLiteral("network/forum_2layer_pad0.c")));
    QVERIFY(data.open(QIODevice::WriteOnly | QIODevice::Truncate));
    data.write("this is not C\n");
    data.close();
    d->start_validation();
    QVERIFY(validated.wait(120000));
    QVERIFY(!validated.takeFirst().at(0).toBool());
    QVERIFY(!d->last_error().isEmpty());
    QCOMPARE(d->result_text(), d->last_error());
  }

  void qemuValidationFromTheGuiMatches() {
    if (QStandardPaths::findExecutable(QStringLiteral("qemu-system-arm")).isEmpty() ||
        QStandardPaths::findExecutable(QStringLiteral("arm-none-eabi-gcc")).isEmpty())
      QSKIP("qemu-system-arm / arm-none-eabi-gcc not installed");
    QTemporaryDir tmp;
    MainWindow w;
    QVERIFY(open_and_wait(w, model_path("forum_2layer_pad0.h5")));
    ExportDialog* d = w.open_export_dialog();
    d->set_open_folder_prompt(false);
    QVERIFY(d->set_board(QStringLiteral("qemu-m4")));
    d->set_output_dir(tmp.filePath(QStringLiteral("m4")));
    QSignalSpy exported(d, &ExportDialog::exportFinished);
    d->start_export();
    QVERIFY(exported.wait(60000));
    QVERIFY2(exported.takeFirst().at(0).toBool(), qPrintable(d->last_error()));
    d->set_target(ValidateTarget::QemuM4);
    QSignalSpy validated(d, &ExportDialog::validationFinished);
    d->start_validation();
    QVERIFY(validated.wait(240000));
    QVERIFY2(validated.takeFirst().at(0).toBool(), qPrintable(d->result_text() + d->last_error()));
    QVERIFY(d->result_text().contains(QStringLiteral("qemu-m4")));
    QVERIFY(d->result_text().contains(QStringLiteral("Result: PASS")));
  }

  void compareTabShowsPadVariants() {
    MainWindow w;
    w.resize(1366, 768);
    w.show();
    QVERIFY(compare_model(w, "forum_2layer_pad0.h5"));
    ComparePage* page = w.compare_page();
    const CompareResult* r = page->result();
    QVERIFY(r);
    QTableWidget* t = page->table();
    QCOMPARE(t->columnCount(), 4);
    QStringList headers;
    for (int c = 0; c < 4; ++c) headers << t->horizontalHeaderItem(c)->text();
    QCOMPARE(headers, QStringList({QStringLiteral("saved"), QStringLiteral("pad=-1"), QStringLiteral("pad=0"), QStringLiteral("pad=1")}));
    QCOMPARE(page->layer_rows(), 3);
    QCOMPARE(t->rowCount(), 12);  // 4 cost + 5 agreement rows on top, then the layers
    QCOMPARE(page->row_of(QStringLiteral("MACC")), 0);
    QCOMPARE(page->row_of(QStringLiteral("quant_conv2d_input")), 9);
    // Every quant_conv2d cell: binary, in the binary colour, with that variant's pad_values.
    const QColor binary = kernel_style(KernelClass::Binary).fill;
    for (const char* layer : {"quant_conv2d", "quant_conv2d_1"}) {
      const int row = page->row_of(QLatin1String(layer));
      QVERIFY2(row >= 0, layer);
      for (int c = 0; c < 4; ++c) {
        QTableWidgetItem* cell = t->item(row, c);
        QVERIFY(cell->text().startsWith(QStringLiteral("binary p")));
        QCOMPARE(cell->background().color(), binary);
        QCOMPARE(cell->data(Qt::UserRole).toInt(), static_cast<int>(KernelClass::Binary));
        QVERIFY(cell->toolTip().contains(QStringLiteral("PAD_")));  // the variant's reason codes
      }
      QVERIFY(t->item(row, 1)->text().contains(QStringLiteral("p-1")));
      QVERIFY(t->item(row, 3)->text().contains(QStringLiteral("p1")));
    }
    // Different reason codes per variant in the tooltips: pad=0 is exact zero padding.
    const int conv = page->row_of(QStringLiteral("quant_conv2d"));
    QVERIFY(t->item(conv, 2)->toolTip().contains(QStringLiteral("PAD_ZERO_EXACT")));
    QVERIFY(!t->item(conv, 1)->toolTip().contains(QStringLiteral("PAD_ZERO_EXACT")));
    // Agreement: pad=0 equals the saved pad=0 model exactly; +-1 change the outputs.
    QCOMPARE(t->item(page->row_of(QStringLiteral("max abs diff")), 2)->text(), QStringLiteral("0"));
    QCOMPARE(t->item(page->row_of(QStringLiteral("cosine")), 2)->text(), QStringLiteral("1.000000"));
    QCOMPARE(t->item(page->row_of(QStringLiteral("first divergence")), 2)->text(), QStringLiteral("none"));
    QCOMPARE(r->variants[2].agreement.max_abs, 0.0);
    QVERIFY(r->variants[1].agreement.max_abs > 0);
    QCOMPARE(t->item(page->row_of(QStringLiteral("first divergence")), 1)->text(), QStringLiteral("quant_conv2d"));
    QVERIFY(t->item(page->row_of(QStringLiteral("cosine")), 1)->text().toDouble() < 0.999);
    QCOMPARE(t->item(page->row_of(QStringLiteral("MACC")), 0)->text(), QStringLiteral("2,508,800"));
    QVERIFY(page->notes_text().isEmpty());
    // Charts: one MACC bar per variant.
    QVERIFY(!page->macc_chart()->chart()->series().isEmpty());
    QVERIFY(!page->ram_chart()->chart()->series().isEmpty());

    // Unticking a variant compares again without it.
    QSignalSpy again(page, &ComparePage::comparisonFinished);
    page->set_pad_enabled(1.0f, false);
    QVERIFY(again.wait(60000));
    QCOMPARE(page->table()->columnCount(), 3);

    // Markdown and CSV export.
    QTemporaryDir tmp;
    const QString md = tmp.filePath(QStringLiteral("c.md")), csv = tmp.filePath(QStringLiteral("c.csv"));
    QCOMPARE(page->export_to(md, ComparePage::ExportFormat::Markdown), QString());
    QCOMPARE(page->export_to(csv, ComparePage::ExportFormat::Csv), QString());
    const QString md_text = read_all(md), csv_text = read_all(csv);
    QVERIFY(md_text.contains(QStringLiteral("| layer | saved | pad=-1 | pad=0 |")));
    QVERIFY(md_text.contains(QStringLiteral("| quant_conv2d | binary p0 | binary p-1")));
    const QStringList lines = csv_text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines[0], QStringLiteral("layer,saved,pad=-1,pad=0"));
    QVERIFY(csv_text.contains(QStringLiteral("max abs diff,-,")));
    QVERIFY(!page->export_to(tmp.filePath(QStringLiteral("no/dir/x.csv")), ComparePage::ExportFormat::Csv).isEmpty());
  }

  // The dataset picker: the variants run on the user's samples and labels; accuracy rows, the
  // accuracy chart and the confusion matrix appear, the choice is remembered per model, an
  // image folder works the same way, and a long run can be cancelled.
  void compareTabOnLabelledData() {
    QTemporaryDir tmp;
    const std::string model = tmp.filePath(QStringLiteral("orientation.h5")).toStdString();
    write_model_h5(orientation_task::make_model(1.0), model);
    const auto d = orientation_task::make_data(200, 5);
    const QString x = tmp.filePath(QStringLiteral("x.npy")), y = tmp.filePath(QStringLiteral("y.npy"));
    write_npy(x.toStdString(), d.x);
    write_npy(y.toStdString(), d.labels);
    // The saved model's correct predictions, scored here from the host runtime's outputs.
    const CompileResult c = compile(load_model(model));
    Executor ex(c);
    const Array out = ex.run({d.x})[0];
    int correct = 0;
    for (int s = 0; s < 200; ++s) {
      const float* v = out.data.data() + s * 4;
      correct += std::max_element(v, v + 4) - v == static_cast<int>(d.labels.data[static_cast<size_t>(s)]);
    }

    MainWindow w;
    w.show();
    w.tabs()->setCurrentWidget(w.compare_page());
    ComparePage* page = w.compare_page();
    QVERIFY(open_and_wait(w, QString::fromStdString(model)));
    QTRY_VERIFY_WITH_TIMEOUT(!page->busy() && page->result(), 60000);
    QCOMPARE(page->row_of(QStringLiteral("accuracy top-1")), -1);  // random samples: no labels
    page->set_pad_enabled(1.0f, false);
    page->set_pad_enabled(0.0f, false);
    ComparePage::DatasetChoice choice;
    choice.samples = x;
    choice.labels = y;
    page->set_dataset(choice);
    QTRY_VERIFY_WITH_TIMEOUT(!page->busy() && page->result() && page->result()->samples == 200, 60000);
    const int row = page->row_of(QStringLiteral("accuracy top-1"));
    QVERIFY(row >= 0);
    // Column 0 is the saved model (row titles are the vertical header).
    QCOMPARE(page->table()->item(row, 0)->text(), QStringLiteral("%1%").arg(100.0 * correct / 200, 0, 'f', 2));
    QVERIFY(correct > 120);  // far above the 25 % of chance
    QVERIFY(page->findChild<QLabel*>(QStringLiteral("compareData"))->text().contains(QStringLiteral("x.npy + y.npy")));
    QVERIFY(page->agreement_chart()->chart()->title().contains(QStringLiteral("Accuracy on y.npy")));
    QTableWidget* conf = page->confusion_table();
    QVERIFY(conf->isVisible());
    QCOMPARE(conf->rowCount(), 4);
    int sum = 0, diagonal = 0;
    for (int l = 0; l < 4; ++l)
      for (int p = 0; p < 4; ++p) {
        sum += conf->item(l, p)->text().toInt();
        if (l == p) diagonal += conf->item(l, p)->text().toInt();
      }
    QCOMPARE(sum, 200);
    QCOMPARE(diagonal, correct);

    // Thumbnails of the samples the two variants classify differently, from the .npy rows.
    QListWidget* dis = page->disagreement_list();
    QCOMPARE(dis->count(), static_cast<int>(page->result()->disagreements.size()));
    QVERIFY(dis->count() > 0);
    QVERIFY(!dis->item(0)->icon().isNull());
    const auto& first = page->result()->disagreements[0];
    QVERIFY(dis->item(0)->toolTip().contains(QStringLiteral("sample %1").arg(first.sample)));
    const float* v = out.data.data() + first.sample * 4;
    QVERIFY(dis->item(0)->toolTip().contains(QStringLiteral("saved predicts %1").arg(std::max_element(v, v + 4) - v)));

    // Validation from the Export dialog on the first 30 of these samples, with their accuracy.
    ExportDialog* dlg = w.open_export_dialog();
    QVERIFY(dlg->findChild<QCheckBox*>(QStringLiteral("exportUseData"))->isVisibleTo(dlg));
    dlg->set_use_dataset(true);
    dlg->set_vectors(30);
    dlg->set_target(ValidateTarget::Host);
    QSignalSpy validated(dlg, &ExportDialog::validationFinished);
    dlg->start_validation();
    QVERIFY(validated.wait(120000));
    QVERIFY2(validated.takeFirst().at(0).toBool(), qPrintable(dlg->last_error() + dlg->result_text()));
    int correct30 = 0;
    for (int s = 0; s < 30; ++s) {
      const float* p = out.data.data() + s * 4;
      correct30 += std::max_element(p, p + 4) - p == static_cast<int>(d.labels.data[static_cast<size_t>(s)]);
    }
    QVERIFY2(dlg->result_text().contains(QStringLiteral("Accuracy against y.npy")), qPrintable(dlg->result_text()));
    QVERIFY2(dlg->result_text().contains(QStringLiteral("(%1/30)").arg(correct30)), qPrintable(dlg->result_text()));
    dlg->close();

    // Remembered for this model.
    const ComparePage::DatasetChoice back = ComparePage::remembered_dataset(QString::fromStdString(model));
    QCOMPARE(back.samples, x);
    QCOMPARE(back.labels, y);

    // An image folder: one sub-folder per class, PNG files.
    const QString folder = tmp.filePath(QStringLiteral("images"));
    for (int s = 0; s < 40; ++s) {
      const int label = static_cast<int>(d.labels.data[static_cast<size_t>(s)]);
      QDir().mkpath(QStringLiteral("%1/class_%2").arg(folder).arg(label));
      QImage img(12, 12, QImage::Format_Grayscale8);
      for (int i = 0; i < 144; ++i)
        img.setPixel(i % 12, i / 12, qRgb(0, 0, 0) + (d.bytes.data[static_cast<size_t>(s * 144 + i)] > 0 ? 0xffffff : 0));
      QVERIFY(img.save(QStringLiteral("%1/class_%2/%3.png").arg(folder).arg(label).arg(s)));
    }
    ComparePage::DatasetChoice images;
    images.images = folder;
    images.scale = 2.0 / 255.0;
    images.offset = -1.0;
    page->set_dataset(images);
    QTRY_VERIFY_WITH_TIMEOUT(!page->busy() && page->result() && page->result()->samples == 40, 60000);
    QVERIFY(page->row_of(QStringLiteral("accuracy top-1")) >= 0);
    if (page->disagreement_list()->count() > 0) QVERIFY(!page->disagreement_list()->item(0)->icon().isNull());

    // Cancel: a dataset of 40,000 samples stops after the batch running when Cancel is pressed.
    Array big;
    big.shape = {40000, 12, 12, 1};
    big.data.resize(40000 * 144);
    for (size_t i = 0; i < big.data.size(); ++i) big.data[i] = d.x.data[i % d.x.data.size()];
    const QString bx = tmp.filePath(QStringLiteral("big.npy"));
    write_npy(bx.toStdString(), big);
    ComparePage::DatasetChoice large;
    large.samples = bx;
    QSignalSpy done(page, &ComparePage::comparisonFinished);
    page->set_dataset(large);
    QVERIFY(page->busy());
    QVERIFY(page->progress_bar()->isVisible());
    page->cancel();
    QTRY_VERIFY_WITH_TIMEOUT(!done.isEmpty(), 240000);
    QVERIFY(!done.takeFirst().at(0).toBool());
    QCOMPARE(page->error(), QStringLiteral("cancelled"));
    QVERIFY(!page->progress_bar()->isVisible());
  }

  void compareTabAddsFiles() {
    MainWindow w;
    w.show();
    QVERIFY(compare_model(w, "forum_2layer_pad0.h5"));
    ComparePage* page = w.compare_page();
    QSignalSpy spy(page, &ComparePage::comparisonFinished);
    page->set_pad_enabled(-1.0f, false);
    page->set_pad_enabled(0.0f, false);
    page->set_pad_enabled(1.0f, false);
    page->add_files({model_path("forum_2layer_padp1.h5")});
    QTRY_VERIFY_WITH_TIMEOUT(!page->busy() && page->result() && page->result()->variants.size() == 2, 60000);
    QCOMPARE(page->table()->horizontalHeaderItem(1)->text(), QStringLiteral("forum_2layer_padp1.h5"));
    const int conv = page->row_of(QStringLiteral("quant_conv2d"));
    QVERIFY(page->table()->item(conv, 1)->text().startsWith(QStringLiteral("binary p1")));
  }

  void compareTabNotesPadValuesWithoutEffect() {
    MainWindow w;
    w.show();
    QVERIFY(compare_model(w, "mnist_tutorial.h5"));
    ComparePage* page = w.compare_page();
    QCOMPARE(page->table()->columnCount(), 4);
    QVERIFY2(page->notes_text().contains(QStringLiteral("pad_values has no effect")), qPrintable(page->notes_text()));
  }

  void compareTabRefusesModelTooLargeForTheHost() {
    // A 4096x4096x3 input into a 4096-filter conv: 256 GiB per sample. Used to hang the tab.
    QTemporaryDir tmp;
    const QString f = tmp.filePath(QStringLiteral("huge.h5"));
    keras::ModelBuilder b("huge");
    auto x = b.input({4096, 4096, 3});
    b.quant_conv2d(x, {.filters = 4096, .padding = "same", .use_bias = false, .input_quantizer = "",
                       .kernel_quantizer = "ste_sign", .pad_values = 0.0, .name = "wide"});
    write_model_h5(b.build(), f.toStdString());
    MainWindow w;
    w.show();
    w.tabs()->setCurrentWidget(w.compare_page());
    QSignalSpy spy(w.compare_page(), &ComparePage::comparisonFinished);
    QVERIFY(open_and_wait(w, f));  // analysis works and reports HOST_LIMIT
    QVERIFY(!spy.isEmpty() || spy.wait(60000));
    QCOMPARE(spy.last().at(0).toBool(), false);
    const QString e = w.compare_page()->error();
    QVERIFY2(e.contains(QStringLiteral("layer 'wide' (QuantConv2D)")) && e.contains(QStringLiteral("256 GiB")) &&
                 e.contains(QStringLiteral("host limit")),
             qPrintable(e));
  }

  void screenshotOfCompareTab() {
    QTemporaryDir tmp;
    const QString out = tmp.filePath(QStringLiteral("compare.png"));
    QProcess p;
    p.start(QStringLiteral(BITLENS_GUI_EXE), {model_path("forum_2layer_pad0.h5"), QStringLiteral("--screenshot"), out,
                                             QStringLiteral("--tab"), QStringLiteral("compare"), QStringLiteral("--size"),
                                             QStringLiteral("1100x700")});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
    const QImage img(out);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), QSize(1100, 700));
    // The binary cells are in the picture.
    const QRgb binary = kernel_style(KernelClass::Binary).fill.rgb();
    int hits = 0;
    for (int y = 0; y < img.height(); y += 2)
      for (int x = 0; x < img.width(); x += 2)
        if (img.pixel(x, y) == binary) ++hits;
    QVERIFY2(hits > 200, qPrintable(QString::number(hits)));
  }
};

QTEST_MAIN(GuiExportCompareTest)
#include "gui_export_compare_test.moc"
