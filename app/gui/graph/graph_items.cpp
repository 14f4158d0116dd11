// Painting and geometry of the graph scene items (see graph_items.hpp).
#include "graph_items.hpp"

#include <QFontMetricsF>
#include <QLineF>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <QtMath>

#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {
namespace {

constexpr double kPad = 6.0;       // inner margin of a node box
constexpr double kBadgeGap = 8.0;  // between the name and the badge

QFont bold(QFont f) {
  f.setBold(true);
  return f;
}

QFont small(QFont f) {
  f.setPointSizeF(f.pointSizeF() * 0.85);
  return f;
}

}  // namespace

NodeLabel node_label(const CompileResult& r, const Node& n) {
  NodeLabel l;
  l.name = QString::fromStdString(n.name);
  l.class_name = n.class_name.empty() ? QStringLiteral("%1 step").arg(QLatin1String(op_name(n.op)))
                                      : QString::fromStdString(n.class_name);
  l.shape = output_shape_text(r, n);
  l.format = output_format_text(r, n);
  l.badge = kernel_style(n.decision.kernel).badge;
  return l;
}

QSizeF node_box_size(const NodeLabel& label, const QFont& font) {
  const QFontMetricsF fb(bold(font)), fs(small(font));
  const double top = fb.horizontalAdvance(label.name) + kBadgeGap + fs.horizontalAdvance(label.badge) + 8;
  const double second = fs.horizontalAdvance(label.class_name);
  const double third = fs.horizontalAdvance(label.shape + QStringLiteral("  ") + label.format);
  const double w = std::max({top, second, third, 90.0}) + 2 * kPad;
  const double h = fb.height() + 2 * fs.height() + 2 * kPad + 2;
  return {std::ceil(w), std::ceil(h)};
}

NodeItem::NodeItem(int node_id, KernelClass kernel, NodeLabel label, QSizeF size, QFont font)
    : id_(node_id), kernel_(kernel), label_(std::move(label)), size_(size), font_(std::move(font)) {
  setFlags(ItemIsSelectable | ItemIsFocusable);
  setAcceptHoverEvents(true);
  setCacheMode(DeviceCoordinateCache);  // cheap repaints while zooming/panning large graphs
  setZValue(2);
}

QRectF NodeItem::boundingRect() const {
  // The outline of a selected node is drawn outside the box.
  return QRectF(-size_.width() / 2, -size_.height() / 2, size_.width(), size_.height()).adjusted(-3, -3, 3, 3);
}

QColor NodeItem::fill_colour() const { return kernel_style(kernel_).fill; }

void NodeItem::set_search_hit(bool hit) {
  if (hit == search_hit_) return;
  search_hit_ = hit;
  update();
}

void NodeItem::paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) {
  const auto& st = kernel_style(kernel_);
  const QRectF box(-size_.width() / 2, -size_.height() / 2, size_.width(), size_.height());
  p->setRenderHint(QPainter::Antialiasing);
  QPen outline(st.fill.darker(150), 1);
  if (isSelected()) outline = QPen(highlight_colour(), 3);
  else if (search_hit_) outline = QPen(highlight_colour(), 2.5, Qt::DashLine);
  p->setPen(outline);
  p->setBrush(st.fill);
  p->drawRoundedRect(box, 5, 5);

  const QFont fb = bold(font_), fs = small(font_);
  const QFontMetricsF mb(fb), ms(fs);
  // Badge: inverted colours in a pill at the top right, readable without colour.
  const double bw = ms.horizontalAdvance(st.badge) + 8;
  const QRectF badge(box.right() - kPad - bw, box.top() + kPad, bw, mb.height());
  p->setPen(Qt::NoPen);
  p->setBrush(st.text);
  p->drawRoundedRect(badge, 4, 4);
  p->setFont(fs);
  p->setPen(st.fill);
  p->drawText(badge, Qt::AlignCenter, st.badge);

  p->setPen(st.text);
  p->setFont(fb);
  QRectF line(box.left() + kPad, box.top() + kPad, badge.left() - box.left() - kPad - 2, mb.height());
  p->drawText(line, Qt::AlignLeft | Qt::AlignVCenter, mb.elidedText(label_.name, Qt::ElideMiddle, line.width()));
  p->setFont(fs);
  line = QRectF(box.left() + kPad, line.bottom() + 1, box.width() - 2 * kPad, ms.height());
  p->drawText(line, Qt::AlignLeft | Qt::AlignVCenter, label_.class_name);
  line.translate(0, ms.height() + 1);
  p->drawText(line, Qt::AlignLeft | Qt::AlignVCenter, label_.shape);
  p->drawText(line, Qt::AlignRight | Qt::AlignVCenter, label_.format);
}

EdgeItem::EdgeItem(int from, int to, bool dashed, const QPainterPath& path, QPointF arrow_base, QPointF arrow_tip,
                   QColor colour)
    : QGraphicsPathItem(path), from_(from), to_(to), dashed_(dashed) {
  setPen(QPen(colour, dashed ? 1.0 : 1.4, dashed ? Qt::DashLine : Qt::SolidLine));
  setBrush(Qt::NoBrush);
  setZValue(1);
  const QLineF l(arrow_base, arrow_tip);
  if (l.length() > 0.5) {
    // Graphviz leaves ~10 pt between the spline end and the tip for the arrow head.
    const QLineF n = l.normalVector().unitVector();
    const QPointF side(n.dx() * 4, n.dy() * 4);
    arrow_ << arrow_tip << arrow_base + side << arrow_base - side;
  }
}

QRectF EdgeItem::boundingRect() const { return QGraphicsPathItem::boundingRect().united(arrow_.boundingRect()).adjusted(-2, -2, 2, 2); }

void EdgeItem::paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) {
  p->setRenderHint(QPainter::Antialiasing);
  p->setPen(pen());
  p->setBrush(Qt::NoBrush);
  p->drawPath(path());
  if (!arrow_.isEmpty()) {
    p->setPen(Qt::NoPen);
    p->setBrush(pen().color());
    p->drawPolygon(arrow_);
  }
}

ClusterItem::ClusterItem(int host_node, const QRectF& rect, QColor border) : QGraphicsRectItem(rect), host_(host_node) {
  QColor fill = border;
  fill.setAlpha(28);
  setPen(QPen(border, 1, Qt::DashLine));
  setBrush(fill);
  setZValue(0);
}

}  // namespace bitlens::gui
