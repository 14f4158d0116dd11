// The view on the layer graph: wheel / Ctrl+wheel zoom, drag to pan, fit to window, centring on
// a node, and PNG/SVG export of the whole graph.
#pragma once

#include <QGraphicsView>

namespace bitlens::gui {

class GraphScene;

class GraphView : public QGraphicsView {
  Q_OBJECT
 public:
  explicit GraphView(GraphScene* scene, QWidget* parent = nullptr);

  void zoom_by(double factor);
  double zoom() const;
  void fit();
  void centre_on_node(int node_id);
  // The whole graph at `scale` device pixels per scene unit (2 = sharp on HiDPI).
  QImage render_image(double scale = 2.0) const;
  bool export_png(const QString& path) const;
  bool export_svg(const QString& path) const;

 public slots:
  void zoom_in() { zoom_by(1.25); }
  void zoom_out() { zoom_by(0.8); }

 signals:
  void zoomChanged(double zoom);

 protected:
  void wheelEvent(QWheelEvent* event) override;

 private:
  GraphScene* graph_;
};

}  // namespace bitlens::gui
