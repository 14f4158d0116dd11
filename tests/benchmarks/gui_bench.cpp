// GUI benchmark (prints numbers, not a pass/fail test): open + compile + Graphviz layout + scene
// build of a generated 300-layer binary network, then repaint times while zooming and panning.
// Run: QT_QPA_PLATFORM=offscreen build/tests/gui/bitlens_bench_gui
#include <QApplication>
#include <QElapsedTimer>
#include <QScrollBar>
#include <QTemporaryDir>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "analysis.hpp"
#include "support/keras_builder.hpp"
#include "graph/graph_scene.hpp"
#include "graph/graph_view.hpp"

using namespace bitlens;

namespace {

// 1 input + float stem + 99 residual blocks of (QuantConv2D, BatchNormalization, Add) + global
// pool = 300 Keras layers.
Model large_model() {
  keras::ModelBuilder b("bench_300", keras::Style::functional, 3);
  auto x = b.input({16, 16, 8});
  x = b.conv2d(x, {.filters = 16, .padding = "same"});
  for (int i = 0; i < 99; ++i) {
    auto y = b.quant_conv2d(x, {.filters = 16, .padding = "same", .use_bias = false, .input_quantizer = "ste_sign",
                                .kernel_quantizer = "ste_sign", .pad_values = 1.0});
    y = b.batch_norm(y);
    x = b.add({x, y});
  }
  b.global_average_pool2d(x);
  return b.build();
}

double ms(const QElapsedTimer& t) { return static_cast<double>(t.nsecsElapsed()) / 1e6; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QTemporaryDir dir;
  const QString path = dir.filePath(QStringLiteral("bench_300.h5"));
  const Model m = large_model();
  write_model_h5(m, path.toStdString());
  std::printf("model: %zu Keras layers\n", m.layers.size());

  std::vector<double> totals;
  gui::Analysis a;
  for (int run = 0; run < 5; ++run) {
    QElapsedTimer t;
    t.start();
    a = gui::analyze_file(path, 1, QApplication::font());
    if (!a.ok()) {
      std::fprintf(stderr, "analysis failed: %s\n", qPrintable(a.error));
      return 1;
    }
    gui::GraphScene scene;
    QElapsedTimer ts;
    ts.start();
    scene.set_graph(a.result, a.layout);
    const double scene_ms = ms(ts);
    totals.push_back(ms(t));
    std::printf("run %d: read %.1f ms, compile %.1f ms, layout %.1f ms, scene %.1f ms, total %.1f ms (%d nodes)\n", run,
                a.load_ms, a.compile_ms, a.layout_ms, scene_ms, ms(t), scene.node_count());
  }
  std::printf("open + layout + scene of 300 layers: median %.1f ms (target < 1000 ms)\n", median(totals));

  gui::GraphScene scene;
  scene.set_graph(a.result, a.layout);
  gui::GraphView view(&scene);
  view.resize(1366, 768);
  view.show();
  QApplication::processEvents();
  view.resetTransform();  // 100%: the zoom level users read text at
  auto repaint = [&] {
    QElapsedTimer t;
    t.start();
    view.viewport()->repaint();
    return ms(t);
  };
  repaint();
  std::vector<double> zoom, pan;
  for (int i = 0; i < 20; ++i) {
    view.zoom_by(i < 10 ? 0.85 : 1.0 / 0.85);
    zoom.push_back(repaint());
  }
  view.resetTransform();
  for (int i = 0; i < 40; ++i) {
    view.verticalScrollBar()->setValue(view.verticalScrollBar()->value() + 40);
    pan.push_back(repaint());
  }
  std::printf("repaint while zooming: median %.2f ms, max %.2f ms\n", median(zoom), *std::max_element(zoom.begin(), zoom.end()));
  std::printf("repaint while panning: median %.2f ms, max %.2f ms\n", median(pan), *std::max_element(pan.begin(), pan.end()));
  view.fit();
  std::printf("repaint of the whole graph (fit, zoom %.2f): %.2f ms\n", view.zoom(), repaint());
  return 0;
}
