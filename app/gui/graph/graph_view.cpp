// Zoom, pan, fit and export of the layer graph (see graph_view.hpp).
#include "graph/graph_view.hpp"

#include <QPainter>
#include <QSvgGenerator>
#include <QWheelEvent>

#include "graph/graph_scene.hpp"

namespace bitlens::gui {

GraphView::GraphView(GraphScene* scene, QWidget* parent) : QGraphicsView(scene, parent), graph_(scene) {
  setDragMode(QGraphicsView::ScrollHandDrag);
  setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  // Repaint only what changed; with item caching, panning a 300-node graph stays smooth.
  setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
  setOptimizationFlags(QGraphicsView::DontSavePainterState);
  setObjectName(QStringLiteral("graphView"));
}

double GraphView::zoom() const { return transform().m11(); }

void GraphView::zoom_by(double factor) {
  const double z = zoom() * factor;
  if (z < 0.05 || z > 8.0) return;
  scale(factor, factor);
  emit zoomChanged(zoom());
}

void GraphView::fit() {
  if (graph_->graph_rect().isEmpty()) return;
  fitInView(graph_->graph_rect(), Qt::KeepAspectRatio);
  // Small graphs would be blown up to fill the window; text is most readable at 100%.
  if (zoom() > 1.0) {
    resetTransform();
    centerOn(graph_->graph_rect().center());
  }
  emit zoomChanged(zoom());
}

void GraphView::centre_on_node(int node_id) {
  if (auto* item = graph_->node_item(node_id)) ensureVisible(item, 40, 40);
}

void GraphView::wheelEvent(QWheelEvent* event) {
  // Plain wheel scrolls (pans) like every other view; Ctrl+wheel zooms under the mouse.
  if (event->modifiers() & Qt::ControlModifier) {
    const double steps = event->angleDelta().y() / 120.0;
    if (steps != 0) zoom_by(std::pow(1.15, steps));
    event->accept();
    return;
  }
  QGraphicsView::wheelEvent(event);
}

QImage GraphView::render_image(double scale) const {
  const QRectF src = graph_->graph_rect();
  QImage img((src.size() * scale).toSize(), QImage::Format_ARGB32_Premultiplied);
  img.fill(palette().color(QPalette::Base));
  QPainter p(&img);
  p.setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
  graph_->set_item_caching(false);
  graph_->render(&p, QRectF(QPointF(0, 0), src.size() * scale), src);
  graph_->set_item_caching(true);
  return img;
}

bool GraphView::export_png(const QString& path) const {
  const QImage img = render_image();
  return !img.isNull() && img.save(path, "PNG");
}

bool GraphView::export_svg(const QString& path) const {
  const QRectF src = graph_->graph_rect();
  QSvgGenerator svg;
  svg.setFileName(path);
  svg.setSize(src.size().toSize());
  svg.setViewBox(QRectF(QPointF(0, 0), src.size()));
  svg.setTitle(QStringLiteral("BitLens layer graph"));
  QPainter p;
  if (!p.begin(&svg)) return false;
  graph_->set_item_caching(false);
  graph_->render(&p, QRectF(QPointF(0, 0), src.size()), src);
  graph_->set_item_caching(true);
  return p.end();
}

}  // namespace bitlens::gui
