// Worker-side analysis: load_model + compile + Graphviz layout (see analysis.hpp).
#include "analysis.hpp"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>

#include "graph/graph_scene.hpp"

namespace bitlens::gui {

Analysis analyze_file(const QString& path, quint64 generation, const QFont& font, QPromise<Analysis>* promise,
                      const CompileOptions& options) {
  Analysis a;
  a.generation = generation;
  a.path = path;
  auto progress = [&](int step, const QString& text) {
    if (promise) promise->setProgressValueAndText(step, text);
  };
  QElapsedTimer timer;
  try {
    timer.start();
    progress(0, QStringLiteral("Reading %1").arg(QFileInfo(path).fileName()));
    Model model = load_model(std::filesystem::path(path.toStdString()));
    a.load_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
    timer.restart();
    progress(1, QStringLiteral("Choosing kernels"));
    auto result = std::make_shared<CompileResult>(compile(std::move(model), options));
    a.compile_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
    timer.restart();
    progress(2, QStringLiteral("Laying out the graph"));
    a.layout = layout_dag(graph_layout_input(*result, font));
    a.layout_ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
    if (!a.layout.error.isEmpty()) {
      a.error = a.layout.error;
      return a;
    }
    a.result = std::move(result);
    progress(kAnalysisSteps, QStringLiteral("Done"));
  } catch (const std::exception& e) {
    // ModelError carries the core's "what is wrong and what to do"; anything else is shown too
    // rather than taking the window down.
    a.error = QString::fromStdString(e.what());
    a.result.reset();
  }
  return a;
}

QString data_dir(const QString& what) {
  const QDir installed(QCoreApplication::applicationDirPath() + QStringLiteral("/../share/bitlens/") + what);
  if (installed.exists()) return installed.canonicalPath();
#ifdef BITLENS_BUILD_DATA_DIR
  // Running from the build tree: models are generated into <build>/resources/models.
  const QDir build(QStringLiteral(BITLENS_BUILD_DATA_DIR "/") + what);
  if (build.exists()) return build.canonicalPath();
#endif
  return {};
}

}  // namespace bitlens::gui
