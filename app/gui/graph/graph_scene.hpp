// The layer graph as a QGraphicsScene: one NodeItem per compiled node, data-flow edges from the
// tensors, dashed links and a shared box for layers folded into another layer. Positions come
// from graph_layout (Graphviz dot), computed in the worker thread.
#pragma once

#include <QGraphicsScene>
#include <map>
#include <memory>

#include "bitlens/compiler.hpp"
#include "graph/graph_items.hpp"
#include "graph/graph_layout.hpp"

namespace bitlens::gui {

// The boxes, edges and groups to lay out for a compiled graph. Folded layers share a cluster
// with the layer they fold into; stripped layers hang off their input with a dashed link.
LayoutInput graph_layout_input(const CompileResult& r, const QFont& font);

class GraphScene : public QGraphicsScene {
  Q_OBJECT
 public:
  explicit GraphScene(QObject* parent = nullptr);
  ~GraphScene() override;

  // Rebuilds every item; `layout` must come from graph_layout_input(*result, font()).
  void set_graph(std::shared_ptr<const CompileResult> result, const LayoutResult& layout);
  void clear_graph();

  NodeItem* node_item(int node_id) const;
  int node_count() const { return static_cast<int>(nodes_.size()); }
  std::vector<NodeItem*> node_items() const;
  QRectF graph_rect() const { return graph_rect_; }
  // Node pixmap caching speeds up on-screen repaints; exports turn it off so PNGs are sharp at
  // any scale and SVGs get real text instead of bitmaps.
  void set_item_caching(bool on);

  // What a search matches (case-insensitive substring): the layer name, its Keras class, its
  // kernel class ("binary", "float", ...), one of its reason codes, its IR op or op type
  // ("conv2d", "sxor_s1_s1"), or any of these.
  enum class SearchField { Any, Name, Class, Kernel, Reason, OpType };
  // Marks every matching node (highlight all); returns their ids in graph order.
  std::vector<int> search(const QString& text, SearchField field = SearchField::Name);
  // The node one step away along the data flow from `node_id`: Down = its first consumer, Up =
  // the producer of its first input, Left/Right = the previous/next consumer of that producer
  // (or the previous/next node in graph order). -1 when there is none.
  enum class Step { Up, Down, Left, Right };
  // prefer: for Up, a producer to return to when it feeds the node (where Down came from).
  int neighbour(int node_id, Step step, int prefer = -1) const;
  // Selects one node (or none with -1) without re-emitting nodeSelected.
  void select_node(int node_id);
  int selected_node() const;

 signals:
  void nodeSelected(int node_id);  // -1: nothing selected

 private:
  void on_selection_changed();

  std::shared_ptr<const CompileResult> result_;
  std::map<int, NodeItem*> nodes_;
  QRectF graph_rect_;
  bool quiet_ = false;
};

}  // namespace bitlens::gui
