// Item models of the app (layer table, op types, memory plan, fallbacks) under
// QAbstractItemModelTester, their sorting, and the CSV / Markdown / JSON exports.
#include <QAbstractItemModelTester>
#include <QSortFilterProxyModel>
#include <QtTest>

#include "support/keras_builder.hpp"
#include "gui_test_util.hpp"
#include "layer_text.hpp"
#include "models/report_models.hpp"
#include "models/table_export.hpp"
#include "pages/details_panel.hpp"

using namespace bitlens;
using namespace bitlens::gui;
using namespace bitlens::gui::test;

class GuiModelsTest : public QObject {
  Q_OBJECT
 private slots:
  void layerTableListsEveryNodeWithKernelAndReasons() {
    for (const char* file : {"mnist_tutorial.h5", "forum_2layer_pad0.h5", "quicknet_style.h5"}) {
      const Analysis a = analyze(file);
      LayerTableModel m;
      QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
      m.set_result(a.result);
      QCOMPARE(m.rowCount(), static_cast<int>(a.result->graph.nodes.size()));
      QCOMPARE(m.columnCount(), static_cast<int>(LayerTableModel::ColumnCount));
      for (int row = 0; row < m.rowCount(); ++row) {
        const int id = m.index(row, 0).data(NodeIdRole).toInt();
        const Node& n = a.result->graph.nodes.at(static_cast<size_t>(id));
        QCOMPARE(m.index(row, LayerTableModel::Layer).data().toString(), QString::fromStdString(n.name));
        QCOMPARE(m.index(row, LayerTableModel::Kernel).data().toString(), QString::fromLatin1(kernel_class_name(n.decision.kernel)));
        QCOMPARE(m.row_of_node(id), row);
      }
      m.set_result(nullptr);
      QCOMPARE(m.rowCount(), 0);
    }
    const Analysis a = analyze("mnist_tutorial.h5");
    LayerTableModel m;
    m.set_result(a.result);
    const int row = m.row_of_node(node_named(*a.result, "quant_conv2d").id);
    QCOMPARE(m.index(row, LayerTableModel::Kernel).data().toString(), QStringLiteral("binary-weights"));
    QCOMPARE(m.index(row, LayerTableModel::Reasons).data().toString(), QStringLiteral("INPUT_NOT_QUANTIZED, OUTPUT_BITS"));
    QCOMPARE(m.index(row, LayerTableModel::Macc).data().toString(), QStringLiteral("194,688"));
    QCOMPARE(m.index(row, LayerTableModel::Formats).data().toString(), QStringLiteral("f32>s1"));
    QCOMPARE(m.index(row, LayerTableModel::Shape).data().toString(), QStringLiteral("26x26x32"));
    const int bn = m.row_of_node(node_named(*a.result, "batch_normalization").id);
    QCOMPARE(m.index(bn, LayerTableModel::FusedInto).data().toString(), QStringLiteral("quant_conv2d"));
  }

  void unknownShapesShowAsQuestionMarks() {
    // A custom layer's output shape is unknown, and so is everything after it: the table, the
    // tooltip and the details panel say "?" instead of a guessed shape.
    bitlens::keras::ModelBuilder b("custom", bitlens::keras::Style::functional, 3);
    auto x = b.input({8, 8, 3});
    x = b.conv2d(x, {.filters = 4, .padding = "same", .name = "stem"});
    x = b.layer("MyBackbone", {x}, json{{"name", "backbone"}}, {1, 1, 64});
    x = b.flatten(x);
    b.dense(x, {.units = 2, .name = "head"});
    auto r = std::make_shared<const CompileResult>(compile(b.build()));
    LayerTableModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.set_result(r);
    const Node& head = node_named(*r, "head");
    QCOMPARE(m.index(m.row_of_node(head.id), LayerTableModel::Shape).data().toString(), QStringLiteral("?"));
    QCOMPARE(m.index(m.row_of_node(node_named(*r, "backbone").id), LayerTableModel::Shape).data().toString(),
             QStringLiteral("?"));
    QCOMPARE(m.index(m.row_of_node(node_named(*r, "stem").id), LayerTableModel::Shape).data().toString(),
             QStringLiteral("8x8x4"));
    QVERIFY(node_tooltip(*r, head).contains(QStringLiteral("output: ?")));
    QVERIFY(node_tooltip(*r, head).contains(QStringLiteral("SHAPE_UNKNOWN")));
    QCOMPARE(node_ram_bytes(*r, head), int64_t{0});
  }

  void layerTableSortsNumerically() {
    const Analysis a = analyze("mnist_tutorial.h5");
    LayerTableModel m;
    m.set_result(a.result);
    QSortFilterProxyModel proxy;
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    proxy.setSourceModel(&m);
    proxy.setSortRole(SortRole);
    proxy.sort(LayerTableModel::Macc, Qt::DescendingOrder);
    // "2,230,272" sorts below "331,776" as text; numerically it is the largest.
    QCOMPARE(proxy.index(0, LayerTableModel::Layer).data().toString(), QStringLiteral("quant_conv2d_1"));
    QCOMPARE(proxy.index(1, LayerTableModel::Layer).data().toString(), QStringLiteral("quant_conv2d_2"));
    qlonglong previous = std::numeric_limits<qlonglong>::max();
    for (int r = 0; r < proxy.rowCount(); ++r) {
      const qlonglong v = proxy.index(r, LayerTableModel::Macc).data(SortRole).toLongLong();
      QVERIFY(v <= previous);
      previous = v;
    }
  }

  void opTypeAndMemoryModelsMatchTotals() {
    const Analysis a = analyze("mnist_tutorial.h5");
    OpTypeModel ops;
    QAbstractItemModelTester t1(&ops, QAbstractItemModelTester::FailureReportingMode::QtTest);
    ops.set_result(a.result);
    QCOMPARE(ops.rowCount(), static_cast<int>(a.result->totals.op_types.size()));
    qlonglong sum = 0;
    bool saw_sxor = false;
    for (int r = 0; r < ops.rowCount(); ++r) {
      sum += ops.index(r, OpTypeModel::Macc).data(SortRole).toLongLong();
      if (ops.index(r, OpTypeModel::Type).data().toString() == QLatin1String("sxor_s1_s1")) {
        saw_sxor = true;
        QCOMPARE(ops.index(r, OpTypeModel::Macc).data().toString(), QStringLiteral("2,599,552"));
        QCOMPARE(ops.index(r, OpTypeModel::Share).data().toString(), QStringLiteral("92.1%"));
      }
    }
    QVERIFY(saw_sxor);
    QCOMPARE(sum, static_cast<qlonglong>(a.result->totals.macc));

    MemoryPlanModel mem;
    QAbstractItemModelTester t2(&mem, QAbstractItemModelTester::FailureReportingMode::QtTest);
    mem.set_result(a.result);
    QCOMPARE(mem.rowCount(), static_cast<int>(a.result->plan.buffers.size()));
    for (int r = 0; r < mem.rowCount(); ++r) {
      const auto& b = a.result->plan.buffers[static_cast<size_t>(r)];
      QCOMPARE(mem.index(r, MemoryPlanModel::Buffer).data().toString(), QString::fromStdString(b.name));
      QCOMPARE(mem.index(r, MemoryPlanModel::Size).data(SortRole).toLongLong(), static_cast<qlonglong>(b.size));
      QVERIFY(mem.index(r, MemoryPlanModel::Offset).data(SortRole).toLongLong() + b.size <= a.result->plan.arena_bytes);
    }
  }

  void fallbacksGroupedByReasonWithFix() {
    const Analysis a = analyze("mnist_tutorial.h5");
    FallbackModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.set_result(a.result);
    QCOMPARE(m.layer_count(), 2);  // quant_conv2d (binary-weights) and the softmax (float)
    QStringList codes;
    for (int g = 0; g < m.rowCount(); ++g) codes << m.index(g, 0).data().toString();
    QVERIFY2(codes.contains(QStringLiteral("INPUT_NOT_QUANTIZED (1 layer)")), qPrintable(codes.join(';')));
    QVERIFY2(codes.contains(QStringLiteral("FLOAT_OP (1 layer)")), qPrintable(codes.join(';')));
    const QModelIndex group = m.index(static_cast<int>(codes.indexOf(QStringLiteral("INPUT_NOT_QUANTIZED (1 layer)"))), 0);
    QCOMPARE(m.rowCount(group), 1);
    QCOMPARE(m.index(0, FallbackModel::Item, group).data().toString(), QStringLiteral("quant_conv2d"));
    QCOMPARE(m.index(0, FallbackModel::Kernel, group).data().toString(), QStringLiteral("binary-weights"));
    QVERIFY(m.index(0, FallbackModel::Fix, group).data().toString().contains(QStringLiteral("input_quantizer=\"ste_sign\"")));
    QCOMPARE(m.index(0, 0, group).data(NodeIdRole).toInt(), node_named(*a.result, "quant_conv2d").id);

    // Every layer of the forum model runs binary: nothing to list.
    const Analysis forum = analyze("forum_2layer_pad0.h5");
    m.set_result(forum.result);
    QCOMPARE(m.rowCount(), 0);
    QCOMPARE(m.layer_count(), 0);

    // Every layer the QuickNet-style model runs in float is listed.
    const Analysis q = analyze("quicknet_style.h5");
    m.set_result(q.result);
    int expected = 0;
    for (const auto& n : q.result->graph.nodes) expected += is_fallback(n) ? 1 : 0;
    QVERIFY(expected > 0);
    QCOMPARE(m.layer_count(), expected);
  }

  void exportsCsvMarkdownJson() {
    const Analysis a = analyze("mnist_tutorial.h5");
    LayerTableModel m;
    m.set_result(a.result);
    const QString csv = to_csv(m);
    const QStringList lines = csv.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), m.rowCount() + 1);
    QVERIFY(lines[0].startsWith(QStringLiteral("id,layer,class,kernel,op type,formats,output shape,MACC")));
    // Cells holding commas are quoted (RFC 4180).
    QVERIFY2(csv.contains(QStringLiteral("1,quant_conv2d,QuantConv2D,binary-weights,sadd_f32_s1,f32>s1,26x26x32,\"194,688\",384,\"5,936\",\"INPUT_NOT_QUANTIZED, OUTPUT_BITS\",")),
             qPrintable(lines[2]));

    const QString md = to_markdown(m);
    QVERIFY(md.startsWith(QStringLiteral("| id | layer | class |")));
    QVERIFY(md.contains(QStringLiteral("\n|---|---|")));
    QCOMPARE(md.count(QLatin1Char('\n')), m.rowCount() + 2);

    const json j = json::parse(to_json(*a.result).toStdString());
    QCOMPARE(j["layers"].size(), a.result->graph.nodes.size());
    QCOMPARE(j["totals"]["macc"].get<int64_t>(), a.result->totals.macc);
    QCOMPARE(QString::fromStdString(j["model"]["file"].get<std::string>()), QStringLiteral("mnist_tutorial.h5"));
  }

  void weightStatisticsCountSignsAndNearZero() {
    Array arr;
    arr.shape = {2, 3};
    arr.data = {0.5f, -0.005f, 0.0f, -2.0f, 0.009f, 1.0f};
    const WeightStats s = weight_stats("kernel", arr);
    QCOMPARE(s.count, int64_t{6});
    QCOMPARE(s.positive, int64_t{3});
    QCOMPARE(s.negative, int64_t{2});
    QCOMPARE(s.zero, int64_t{1});
    QCOMPARE(s.near_zero, int64_t{3});
    QCOMPARE(s.min, -2.0f);
    QCOMPARE(s.max, 1.0f);
  }

  void detailsPanelShowsConfigWeightsAndReasons() {
    const Analysis a = analyze("forum_2layer_pad0.h5");
    DetailsPanel panel;
    panel.set_result(a.result);
    const Node& n = node_named(*a.result, "quant_conv2d_1");
    panel.show_node(n.id);
    const QString text = panel.toPlainText();
    for (const char* s : {"PAD_ZERO_EXACT", "pad_values", "padding", "same", "input_quantizer", "SteSign", "strides",
                          "near 0", "sign balance", "32x32x16", "s1",
                          // from the layer table: the keys computed with their supported values,
                          // and the ones that cannot change inference
                          "Keras config BitLens computes", "supported: any (exact padding)",
                          "ignored at inference:", "kernel_initializer"})
      QVERIFY2(text.contains(QLatin1String(s)), s);
    panel.show_node(-1);
    QVERIFY(panel.toPlainText().contains(QStringLiteral("forum_2layer_pad0.h5")));
  }
};

QTEST_MAIN(GuiModelsTest)
#include "gui_models_test.moc"
