// The one table export (off-screen): CSV quoting per RFC 4180, the JSON table's shape, and the
// Compare tab exporting its CompareTableModel through the same writers after a real comparison.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include "gui_test_util.hpp"
#include "models/compare_model.hpp"
#include "models/report_models.hpp"
#include "models/table_export.hpp"
#include "pages/compare_page.hpp"
#include "pages/report_page.hpp"

using namespace bitlens;
using namespace bitlens::gui;
using namespace bitlens::gui::test;

namespace {

QStandardItemModel* table(const QStringList& header, const QList<QStringList>& rows, QObject* parent) {
  auto* m = new QStandardItemModel(static_cast<int>(rows.size()), static_cast<int>(header.size()), parent);
  m->setHorizontalHeaderLabels(header);
  for (int r = 0; r < rows.size(); ++r)
    for (int c = 0; c < rows[r].size(); ++c) m->setItem(r, c, new QStandardItem(rows[r][c]));
  return m;
}

QJsonArray parse_array(const QString& text) {
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8(), &err);
  if (err.error != QJsonParseError::NoError) qWarning("JSON does not parse: %s", qPrintable(err.errorString()));
  return doc.isArray() ? doc.array() : QJsonArray();
}

QStringList sorted(QStringList l) {
  l.sort();
  return l;
}

bool compare_and_wait(ComparePage& page, const QString& path) {
  QSignalSpy spy(&page, &ComparePage::comparisonFinished);
  page.set_model(path);
  if (spy.isEmpty() && !spy.wait(60000)) return false;
  return spy.last().at(0).toBool();
}

}  // namespace

class GuiTableExportTest : public QObject {
  Q_OBJECT
 private slots:
  void csvQuotesCommaQuoteAndLineBreakPerRfc4180() {
    QObject owner;
    const QStandardItemModel* m = table({QStringLiteral("name"), QStringLiteral("note, quoted")},
                                        {{QStringLiteral("plain"), QStringLiteral("say \"hi\", then\nleave")},
                                         {QStringLiteral("\""), QStringLiteral("cr\rhere")},
                                         {QString(), QStringLiteral("a|b")}},
                                        &owner);
    QCOMPARE(to_csv(*m), QStringLiteral("name,\"note, quoted\"\n"
                                        "plain,\"say \"\"hi\"\", then\nleave\"\n"
                                        "\"\"\"\",\"cr\rhere\"\n"
                                        ",a|b\n"));
    QCOMPARE(to_markdown(*m), QStringLiteral("| name | note, quoted |\n"
                                             "|---|---|\n"
                                             "| plain | say \"hi\", then\nleave |\n"
                                             "| \" | cr\rhere |\n"
                                             "|  | a\\|b |\n"));
  }

  void jsonTableIsOneObjectPerRowKeyedByHeader() {
    QObject owner;
    const QStandardItemModel* m = table({QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("a")},
                                        {{QStringLiteral("1"), QStringLiteral("x, \"y\""), QStringLiteral("3")},
                                         {QStringLiteral("4"), QString(), QStringLiteral("6")}},
                                        &owner);
    const QJsonArray rows = parse_array(to_json_table(*m));
    QCOMPARE(rows.size(), 2);
    // A repeated header keeps its column under a numbered key.
    QCOMPARE(sorted(rows[0].toObject().keys()), QStringList({QStringLiteral("a"), QStringLiteral("a (2)"), QStringLiteral("b")}));
    QCOMPARE(rows[0].toObject().value(QStringLiteral("b")).toString(), QStringLiteral("x, \"y\""));
    QCOMPARE(rows[0].toObject().value(QStringLiteral("a (2)")).toString(), QStringLiteral("3"));
    QCOMPARE(rows[1].toObject().value(QStringLiteral("a")).toString(), QStringLiteral("4"));
    QVERIFY(rows[1].toObject().value(QStringLiteral("b")).isString());

    // The report's layer table: one object per node, the layer names where the CSV has them.
    const Analysis a = analyze("mnist_tutorial.h5");
    LayerTableModel layers;
    layers.set_result(a.result);
    const QJsonArray objects = parse_array(to_json_table(layers));
    QCOMPARE(objects.size(), static_cast<qsizetype>(a.result->graph.nodes.size()));
    QStringList header;
    for (int c = 0; c < layers.columnCount(); ++c) header << layers.headerData(c, Qt::Horizontal).toString();
    for (int r = 0; r < objects.size(); ++r) {
      const QJsonObject o = objects[r].toObject();
      QCOMPARE(sorted(o.keys()), sorted(header));
      const Node& n = a.result->graph.nodes.at(static_cast<size_t>(layers.index(r, 0).data(NodeIdRole).toInt()));
      QCOMPARE(o.value(QStringLiteral("layer")).toString(), QString::fromStdString(n.name));
    }

    // The Report tab offers it for the table in view, as it offers CSV and Markdown.
    ReportPage page;
    page.set_result(a.result);
    page.tables()->setCurrentIndex(1);
    const QJsonArray types = parse_array(page.current_table_text(ReportPage::ExportFormat::JsonTable));
    QCOMPARE(types.size(), static_cast<qsizetype>(page.op_type_model()->rowCount()));
    QVERIFY(types.size() > 0);
    QCOMPARE(sorted(types[0].toObject().keys()),
             QStringList({QStringLiteral("%"), QStringLiteral("MACC"), QStringLiteral("layers"), QStringLiteral("operation type")}));
  }

  void compareTabExportsItsModelThroughTheOneWriter() {
    ComparePage page;
    QAbstractItemModelTester tester(page.table_model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    page.show();
    QVERIFY(compare_and_wait(page, model_path("forum_2layer_pad0.h5")));
    const CompareTableModel& m = *page.table_model();
    QCOMPARE(m.rowCount(), 12);
    QCOMPARE(m.columnCount(), 5);

    // CSV: the file the tab writes is to_csv of its model...
    QTemporaryDir tmp;
    const QString path = tmp.filePath(QStringLiteral("c.csv"));
    QCOMPARE(page.export_to(path, ComparePage::ExportFormat::Csv), QString());
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString csv = QString::fromUtf8(f.readAll());
    QCOMPARE(csv, to_csv(m));
    // ...and says what the table on screen says, with '*' where the screen marks a change with
    // '\u2260', comma-grouped numbers quoted.
    const QStringList lines = csv.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 13);
    QCOMPARE(lines[0], QStringLiteral("layer,saved,pad=-1,pad=0,pad=1"));
    QCOMPARE(lines[1], QStringLiteral("MACC,\"2,508,800\",\"2,508,800\",\"2,508,800\",\"2,508,800\""));
    const QTableWidget* t = page.table();
    for (int r = 0; r < t->rowCount(); ++r) {
      QStringList shown{t->verticalHeaderItem(r)->text()};
      for (int c = 0; c < t->columnCount(); ++c) shown << t->item(r, c)->text();
      for (QString& s : shown) {
        if (s.startsWith(QStringLiteral("\u2260 "))) s = QStringLiteral("* ") + s.mid(2);
        if (s.contains(QLatin1Char(','))) s = QLatin1Char('"') + s + QLatin1Char('"');
      }
      QCOMPARE(lines[r + 1], shown.join(QLatin1Char(',')));
    }

    // JSON: one object per row of the table, keyed by its header.
    QCOMPARE(page.export_to(tmp.filePath(QStringLiteral("c.json")), ComparePage::ExportFormat::Json), QString());
    QFile j(tmp.filePath(QStringLiteral("c.json")));
    QVERIFY(j.open(QIODevice::ReadOnly));
    const QJsonArray rows = parse_array(QString::fromUtf8(j.readAll()));
    QCOMPARE(rows.size(), 12);
    const QStringList keys = sorted({QStringLiteral("layer"), QStringLiteral("saved"), QStringLiteral("pad=-1"),
                                     QStringLiteral("pad=0"), QStringLiteral("pad=1")});
    for (const QJsonValue& row : rows) QCOMPARE(sorted(row.toObject().keys()), keys);
    QCOMPARE(rows[0].toObject().value(QStringLiteral("layer")).toString(), QStringLiteral("MACC"));
    QCOMPARE(rows[0].toObject().value(QStringLiteral("saved")).toString(), QStringLiteral("2,508,800"));
    const QJsonObject conv = rows[page.row_of(QStringLiteral("quant_conv2d"))].toObject();
    QVERIFY2(conv.value(QStringLiteral("pad=-1")).toString().startsWith(QStringLiteral("binary p-1")),
             qPrintable(conv.value(QStringLiteral("pad=-1")).toString()));

    // Markdown: the heading and explanation, then to_markdown's table.
    const QString md = page.text(ComparePage::ExportFormat::Markdown);
    QVERIFY(md.startsWith(QStringLiteral("# Comparison of forum_2layer_pad0.h5\n\nAgreement with `saved` over ")));
    QVERIFY(md.endsWith(QStringLiteral("\n\n") + to_markdown(m)));
  }

  void compareExportsMarkChangedKernelsWithAsterisk() {
    // A model with other layers: the layers the first variant lacks differ in kernel class.
    ComparePage page;
    page.set_saved_enabled(true);
    for (float pad : ComparePage::kPadValues) page.set_pad_enabled(pad, false);
    page.add_files({model_path("mnist_tutorial.h5")});
    page.show();
    QVERIFY(compare_and_wait(page, model_path("forum_2layer_pad0.h5")));
    const CompareTableModel& m = *page.table_model();
    const int pool = m.row_of(QStringLiteral("max_pooling2d"));
    QVERIFY(pool >= 0);
    QCOMPARE(m.index(pool, 0).data().toString(), QStringLiteral("\u2260 max_pooling2d"));
    QCOMPARE(m.index(pool, 2).data().toString(), QStringLiteral("\u2260 binary"));
    QCOMPARE(m.index(pool, 1).data().toString(), QStringLiteral("(absent)"));
    QVERIFY(!m.index(pool, 1).data(KernelClassRole).isValid());
    QCOMPARE(page.table()->item(pool, 1)->text(), QStringLiteral("\u2260 binary"));
    QVERIFY(page.text(ComparePage::ExportFormat::Csv).contains(QStringLiteral("\n* max_pooling2d,(absent),* binary\n")));
    QVERIFY(page.text(ComparePage::ExportFormat::Markdown).contains(QStringLiteral("\n| * max_pooling2d | (absent) | * binary |\n")));
  }
};

QTEST_MAIN(GuiTableExportTest)
#include "gui_table_export_test.moc"
