// Scene items of the layer graph: a node box (name, class, output shape/format, kernel badge),
// a data-flow edge with arrow head, and the box grouping a layer with the layers folded into it.
#pragma once

#include <QFont>
#include <QGraphicsItem>
#include <QGraphicsPathItem>
#include <QGraphicsRectItem>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

// What a node box says; measured in the worker thread for the layout, drawn by NodeItem.
struct NodeLabel {
  QString name, class_name, shape, format, badge;
};
NodeLabel node_label(const CompileResult& r, const Node& n);
QSizeF node_box_size(const NodeLabel& label, const QFont& font);

class NodeItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 1 };
  NodeItem(int node_id, KernelClass kernel, NodeLabel label, QSizeF size, QFont font);
  int type() const override { return Type; }
  QRectF boundingRect() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

  int node_id() const { return id_; }
  KernelClass kernel() const { return kernel_; }
  const NodeLabel& label() const { return label_; }
  QColor fill_colour() const;
  void set_search_hit(bool hit);
  bool search_hit() const { return search_hit_; }

 private:
  int id_;
  KernelClass kernel_;
  NodeLabel label_;
  QSizeF size_;
  QFont font_;
  bool search_hit_ = false;
};

class EdgeItem : public QGraphicsPathItem {
 public:
  enum { Type = UserType + 2 };
  EdgeItem(int from, int to, bool dashed, const QPainterPath& path, QPointF arrow_base, QPointF arrow_tip,
           QColor colour);
  int type() const override { return Type; }
  QRectF boundingRect() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;
  int from() const { return from_; }
  int to() const { return to_; }
  bool dashed() const { return dashed_; }

 private:
  int from_, to_;
  bool dashed_;
  QPolygonF arrow_;
};

class ClusterItem : public QGraphicsRectItem {
 public:
  enum { Type = UserType + 3 };
  ClusterItem(int host_node, const QRectF& rect, QColor border);
  int type() const override { return Type; }
  int host_node() const { return host_; }

 private:
  int host_;
};

}  // namespace bitlens::gui
