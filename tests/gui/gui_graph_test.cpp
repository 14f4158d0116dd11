// The layer graph: node count, colours and badges by kernel class (as painted), tooltips with
// reason codes and fixes, folded-layer groups, residual merges, search, zoom and PNG/SVG export.
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include "graph/graph_scene.hpp"
#include "graph/graph_view.hpp"
#include "gui_test_util.hpp"
#include "palette.hpp"

using namespace bitlens;
using namespace bitlens::gui;
using namespace bitlens::gui::test;

namespace {

struct Built {
  Analysis a;
  GraphScene scene;
  explicit Built(const char* file) : a(analyze(file)) { scene.set_graph(a.result, a.layout); }
  NodeItem* item(const char* name) { return scene.node_item(node_named(*a.result, name).id); }
};

}  // namespace

class GuiGraphTest : public QObject {
  Q_OBJECT
 private slots:
  void oneNodePerCompiledNode() {
    for (const char* file : {"mnist_tutorial.h5", "forum_2layer_pad0.h5", "quicknet_style.h5", "forum_1layer_padm1.h5"}) {
      Built b(file);
      QCOMPARE(b.scene.node_count(), static_cast<int>(b.a.result->graph.nodes.size()));
    }
    Built forum("forum_2layer_pad0.h5");
    QCOMPARE(forum.scene.node_count(), 4);  // input, pack step, two convolutions
    Built mnist("mnist_tutorial.h5");
    QCOMPARE(mnist.scene.node_count(), 15);
  }

  void nodesColouredAndBadgedByKernelClass() {
    Built b("mnist_tutorial.h5");
    for (NodeItem* item : b.scene.node_items()) {
      const Node& n = b.a.result->graph.nodes.at(static_cast<size_t>(item->node_id()));
      QCOMPARE(item->kernel(), n.decision.kernel);
      QCOMPARE(item->fill_colour(), kernel_style(n.decision.kernel).fill);
      QCOMPARE(item->label().badge, kernel_style(n.decision.kernel).badge);
    }
    QCOMPARE(b.item("quant_conv2d")->label().badge, QStringLiteral("BW"));
    QCOMPARE(b.item("quant_conv2d_1")->label().badge, QStringLiteral("BIN"));
    QCOMPARE(b.item("batch_normalization")->label().badge, QStringLiteral("FUSED"));
    QCOMPARE(b.item("activation")->label().badge, QStringLiteral("F32"));
    QCOMPARE(b.item("quant_conv2d")->label().format, QStringLiteral("s1"));
    QCOMPARE(b.item("quant_conv2d")->label().shape, QStringLiteral("26x26x32"));
    QCOMPARE(b.item("activation")->label().format, QStringLiteral("f32"));

    // The painted box has the class colour: sample inside the box, left of the text.
    GraphView view(&b.scene);
    const QImage img = view.render_image(1.0);
    const QRectF src = b.scene.graph_rect();
    for (const char* name : {"quant_conv2d", "quant_conv2d_1", "batch_normalization", "activation", "flatten"}) {
      NodeItem* item = b.item(name);
      const QRectF box = item->mapRectToScene(item->boundingRect().adjusted(3, 3, -3, -3));
      const QPoint p((box.left() + 3 - src.left()), (box.center().y() - src.top()));
      QCOMPARE(img.pixelColor(p).rgb(), item->fill_colour().rgb());
    }
  }

  void paletteDistinguishesEveryClass() {
    QSet<QRgb> colours;
    QSet<QString> badges;
    for (KernelClass k : kAllKernelClasses) {
      colours.insert(kernel_style(k).fill.rgb());
      badges.insert(kernel_style(k).badge);
      QCOMPARE(kernel_style(k).label, QString::fromLatin1(kernel_class_name(k)));
    }
    QCOMPARE(colours.size(), 7);
    QCOMPARE(badges.size(), 7);
  }

  void tooltipNamesKernelReasonsFixesAndCosts() {
    Built b("mnist_tutorial.h5");
    const Node& n = node_named(*b.a.result, "quant_conv2d");
    const QString tip = b.item("quant_conv2d")->toolTip();
    QVERIFY(tip.contains(QStringLiteral("binary-weights")));
    QVERIFY(tip.contains(QStringLiteral("bl_bwconv2d")) || tip.contains(QString::fromStdString(n.decision.kernel_name)));
    QVERIFY(!n.decision.reasons.empty());
    for (const auto& re : n.decision.reasons) {
      QVERIFY2(tip.contains(QString::fromStdString(re.code)), re.code.c_str());
      QVERIFY2(tip.contains(QString::fromStdString(re.message).toHtmlEscaped()), re.message.c_str());
      if (!re.fix.empty()) QVERIFY2(tip.contains(QString::fromStdString(re.fix).toHtmlEscaped()), re.fix.c_str());
    }
    QVERIFY(tip.contains(QStringLiteral("MACC 194,688")));
    QVERIFY(tip.contains(QStringLiteral("ROM 384 B")));
    QVERIFY(tip.contains(QStringLiteral("RAM 5,936 B")));

    Built forum("forum_2layer_pad0.h5");
    QVERIFY(forum.item("quant_conv2d_1")->toolTip().contains(QStringLiteral("PAD_ZERO_EXACT")));
    Built folded("mnist_tutorial.h5");
    QVERIFY(folded.item("batch_normalization")->toolTip().contains(QStringLiteral("folded into <b>quant_conv2d</b>")));
  }

  void foldedLayersShareABoxWithTheirHost() {
    Built b("mnist_tutorial.h5");
    std::map<int, QRectF> boxes;
    for (QGraphicsItem* i : b.scene.items())
      if (i->type() == ClusterItem::Type) boxes[static_cast<ClusterItem*>(i)->host_node()] = i->sceneBoundingRect();
    QCOMPARE(boxes.size(), size_t{5});  // each BatchNormalization folds into its conv/dense
    for (const auto& n : b.a.result->graph.nodes) {
      if (n.decision.fused_into.empty()) continue;
      const int host = node_named(*b.a.result, n.decision.fused_into.c_str()).id;
      QVERIFY(boxes.count(host));
      QVERIFY(boxes[host].contains(b.scene.node_item(n.id)->sceneBoundingRect().adjusted(3, 3, -3, -3)));
      QVERIFY(boxes[host].contains(b.scene.node_item(host)->sceneBoundingRect().adjusted(3, 3, -3, -3)));
    }
  }

  void layoutIsTopToBottomWithoutOverlaps() {
    Built b("quicknet_style.h5");
    const auto items = b.scene.node_items();
    for (size_t i = 0; i < items.size(); ++i)
      for (size_t j = i + 1; j < items.size(); ++j)
        QVERIFY(!items[i]->sceneBoundingRect().adjusted(3, 3, -3, -3).intersects(items[j]->sceneBoundingRect().adjusted(3, 3, -3, -3)));
    int data_edges = 0;
    std::map<int, int> incoming;
    for (QGraphicsItem* i : b.scene.items()) {
      if (i->type() != EdgeItem::Type) continue;
      auto* e = static_cast<EdgeItem*>(i);
      QVERIFY(!e->path().isEmpty());
      if (e->dashed()) continue;
      ++data_edges;
      ++incoming[e->to()];
      // Data flows downwards.
      QVERIFY(b.scene.node_item(e->from())->pos().y() < b.scene.node_item(e->to())->pos().y());
    }
    QVERIFY(data_edges > 0);
    // Residual merges are drawn with both inputs: QuickNet's Adds run in the binary convs'
    // output stage, which read the shortcut as a second input.
    int adds = 0;
    for (const auto& n : b.a.result->graph.nodes)
      if ((n.op == Op::Add && !n.removed) || n.epi.residual >= 0) {
        ++adds;
        QCOMPARE(incoming[n.id], 2);
      }
    QVERIFY(adds >= 2);
  }

  void searchMarksMatchingNodes() {
    Built b("mnist_tutorial.h5");
    const auto hits = b.scene.search(QStringLiteral("BATCH_norm"));
    QCOMPARE(hits.size(), size_t{5});
    for (int id : hits) QVERIFY(b.scene.node_item(id)->search_hit());
    QVERIFY(!b.item("quant_conv2d")->search_hit());
    QVERIFY(b.scene.search(QString()).empty());
    QVERIFY(!b.scene.node_item(hits[0])->search_hit());
  }

  void zoomFitAndExport() {
    Built b("mnist_tutorial.h5");
    GraphView view(&b.scene);
    view.resize(800, 600);
    const double z = view.zoom();
    view.zoom_in();
    QCOMPARE(view.zoom(), z * 1.25);
    view.zoom_out();
    QVERIFY(qAbs(view.zoom() - z) < 1e-9);
    view.fit();
    QVERIFY(view.zoom() <= 1.0);

    QTemporaryDir dir;
    const QString png = dir.filePath(QStringLiteral("g.png")), svg = dir.filePath(QStringLiteral("g.svg"));
    QVERIFY(view.export_png(png));
    QVERIFY(view.export_svg(svg));
    const QImage img(png);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), (b.scene.graph_rect().size() * 2).toSize());
    QFile f(svg);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray text = f.readAll();
    QVERIFY(text.contains("<svg"));
    QVERIFY(text.contains("quant_conv2d_1"));  // node text is real SVG text
  }

  void corruptFileGivesCoreErrorNotCrash() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("broken.h5"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray("\x89HDF\r\n\x1a\n this is not really an HDF5 file", 40));
    f.close();
    const Analysis a = analyze_file(path, 7, QApplication::font());
    QVERIFY(!a.ok());
    QCOMPARE(a.generation, quint64{7});
    QVERIFY(!a.error.isEmpty());
  }
};

QTEST_MAIN(GuiGraphTest)
#include "gui_graph_test.moc"
