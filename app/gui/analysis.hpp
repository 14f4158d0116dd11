// One analysis of a model file, as the worker thread produces it: the core's CompileResult
// plus the graph layout, or the core's error message. Plain data handed to the UI thread.
#pragma once

#include <QFont>
#include <QPromise>
#include <QString>
#include <memory>

#include "bitlens/compiler.hpp"
#include "graph/graph_layout.hpp"

namespace bitlens::gui {

struct Analysis {
  quint64 generation = 0;  // drops results of analyses the user has since replaced
  QString path;
  std::shared_ptr<const CompileResult> result;  // null on error
  LayoutResult layout;
  QString error;  // the core's one-line message
  double load_ms = 0, compile_ms = 0, layout_ms = 0;
  bool ok() const { return result != nullptr; }
};

// Steps reported through the promise's progress value (0..kAnalysisSteps).
constexpr int kAnalysisSteps = 3;

// Loads, compiles (with `options`, e.g. --prefer-ram's) and lays out; never throws. `promise`
// may be null (tests, benchmarks).
Analysis analyze_file(const QString& path, quint64 generation, const QFont& font,
                      QPromise<Analysis>* promise = nullptr, const CompileOptions& options = {});

// Where bundled data lives: <exe>/../share/bitlens/<what> when installed, else the build tree.
QString data_dir(const QString& what);

}  // namespace bitlens::gui
