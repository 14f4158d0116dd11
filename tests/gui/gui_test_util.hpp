// Helpers shared by the GUI tests: compile a bundled example model the way the app does.
#pragma once

#include <QApplication>
#include <QString>
#include <QTest>

#include "analysis.hpp"

namespace bitlens::gui::test {

inline QString model_path(const char* file) { return QStringLiteral(BITLENS_MODELS_DIR "/") + QLatin1String(file); }

inline Analysis analyze(const char* file) {
  Analysis a = analyze_file(model_path(file), 1, QApplication::font());
  if (!a.ok()) qFatal("cannot analyze %s: %s", file, qPrintable(a.error));
  return a;
}

inline const Node& node_named(const CompileResult& r, const char* name) {
  const Node* n = r.graph.find_node(name);
  if (!n) qFatal("no node %s", name);
  return *n;
}

}  // namespace bitlens::gui::test
