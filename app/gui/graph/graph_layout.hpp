// Layered top-to-bottom DAG layout with Graphviz's "dot" engine (gvc/cgraph): node boxes of
// given sizes in, node centres, edge splines and cluster boxes out (scene coordinates, y down).
// Plain data and no widgets, so it runs in the analysis worker thread and in tests.
#pragma once

#include <QPainterPath>
#include <QPointF>
#include <QRectF>
#include <QSizeF>
#include <QString>
#include <vector>

namespace bitlens::gui {

struct LayoutInput {
  struct Node {
    int id = -1;
    QSizeF size;       // in scene units (points)
    int cluster = -1;  // nodes with the same key >= 0 are drawn inside one box
  };
  struct Edge {
    int from = -1, to = -1;
    bool dashed = false;  // fold/strip links, not data flow
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
};

struct LayoutResult {
  struct Node {
    int id = -1;
    QPointF centre;
  };
  struct Edge {
    int from = -1, to = -1;
    bool dashed = false;
    QPainterPath path;             // the spline, without the arrow head
    QPointF arrow_base, arrow_tip; // equal when there is no arrow head
  };
  struct Cluster {
    int key = -1;
    QRectF rect;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::vector<Cluster> clusters;
  QRectF bounds;
  QString error;  // empty on success
};

// Serialized internally (Graphviz keeps global state), so callers may use any thread.
LayoutResult layout_dag(const LayoutInput& input);

}  // namespace bitlens::gui
