// Builds the graph scene from a CompileResult and its layout (see graph_scene.hpp).
#include "graph/graph_scene.hpp"

#include <QApplication>
#include <QPalette>

#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {

LayoutInput graph_layout_input(const CompileResult& r, const QFont& font) {
  const Graph& g = r.graph;
  LayoutInput in;
  std::map<std::string, int> id_of;
  for (const auto& n : g.nodes) id_of[n.name] = n.id;
  // Hosts with at least one folded layer get a cluster keyed by their node id.
  std::map<int, bool> hosts;
  for (const auto& n : g.nodes)
    if (!n.decision.fused_into.empty() && id_of.count(n.decision.fused_into)) hosts[id_of[n.decision.fused_into]] = true;
  for (const auto& n : g.nodes) {
    int cluster = -1;
    if (hosts.count(n.id)) cluster = n.id;
    if (!n.decision.fused_into.empty() && id_of.count(n.decision.fused_into)) cluster = id_of[n.decision.fused_into];
    in.nodes.push_back({n.id, node_box_size(node_label(r, n), font), cluster});
  }
  for (const auto& n : g.nodes) {
    if (!n.removed) {
      for (int t : n.inputs) {
        const int p = g.tensors[t].producer;
        if (p >= 0) in.edges.push_back({p, n.id, false});
      }
    } else if (!n.decision.fused_into.empty() && id_of.count(n.decision.fused_into)) {
      in.edges.push_back({id_of[n.decision.fused_into], n.id, true});
    } else if (!n.inputs.empty() && g.tensors[n.inputs[0]].producer >= 0) {
      in.edges.push_back({g.tensors[n.inputs[0]].producer, n.id, true});
    }
  }
  return in;
}

GraphScene::GraphScene(QObject* parent) : QGraphicsScene(parent) {
  // Items are static once built: no BSP maintenance while zooming through a large graph.
  setItemIndexMethod(QGraphicsScene::BspTreeIndex);
  connect(this, &QGraphicsScene::selectionChanged, this, &GraphScene::on_selection_changed);
}

// Deleting selected items emits selectionChanged; nobody may hear it while the window dies.
GraphScene::~GraphScene() {
  blockSignals(true);
  clear();
}

void GraphScene::clear_graph() {
  quiet_ = true;
  clear();
  nodes_.clear();
  result_.reset();
  graph_rect_ = {};
  quiet_ = false;
}

void GraphScene::set_graph(std::shared_ptr<const CompileResult> result, const LayoutResult& layout) {
  clear_graph();
  result_ = std::move(result);
  if (!result_) return;
  const bool dark = QApplication::palette().color(QPalette::Base).lightness() < 128;
  const QColor line = edge_colour(dark);
  const QFont f = font();
  for (const auto& c : layout.clusters) {
    const Node& host = result_->graph.nodes.at(static_cast<size_t>(c.key));
    auto* item = new ClusterItem(c.key, c.rect, kernel_style(host.decision.kernel).fill.darker(130));
    item->setToolTip(QStringLiteral("%1 with the layers folded into it").arg(QString::fromStdString(host.name)));
    addItem(item);
  }
  for (const auto& e : layout.edges) {
    if (e.path.isEmpty()) continue;
    addItem(new EdgeItem(e.from, e.to, e.dashed, e.path, e.arrow_base, e.arrow_tip, line));
  }
  for (const auto& ln : layout.nodes) {
    const Node& n = result_->graph.nodes.at(static_cast<size_t>(ln.id));
    const NodeLabel label = node_label(*result_, n);
    auto* item = new NodeItem(n.id, n.decision.kernel, label, node_box_size(label, f), f);
    item->setPos(ln.centre);
    item->setToolTip(node_tooltip(*result_, n));
    addItem(item);
    nodes_[n.id] = item;
  }
  graph_rect_ = layout.bounds.adjusted(-20, -20, 20, 20);
  setSceneRect(graph_rect_);
}

NodeItem* GraphScene::node_item(int node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : it->second;
}

std::vector<NodeItem*> GraphScene::node_items() const {
  std::vector<NodeItem*> v;
  for (const auto& [id, item] : nodes_) v.push_back(item);
  return v;
}

void GraphScene::set_item_caching(bool on) {
  for (const auto& [id, item] : nodes_) item->setCacheMode(on ? QGraphicsItem::DeviceCoordinateCache : QGraphicsItem::NoCache);
}

std::vector<int> GraphScene::search(const QString& text) {
  std::vector<int> hits;
  for (const auto& [id, item] : nodes_) {
    const bool hit = !text.isEmpty() && item->label().name.contains(text, Qt::CaseInsensitive);
    item->set_search_hit(hit);
    if (hit) hits.push_back(id);
  }
  return hits;
}

void GraphScene::select_node(int node_id) {
  quiet_ = true;
  clearSelection();
  if (NodeItem* item = node_item(node_id)) item->setSelected(true);
  quiet_ = false;
}

int GraphScene::selected_node() const {
  for (QGraphicsItem* item : selectedItems())
    if (item->type() == NodeItem::Type) return static_cast<NodeItem*>(item)->node_id();
  return -1;
}

void GraphScene::on_selection_changed() {
  if (!quiet_) emit nodeSelected(selected_node());
}

}  // namespace bitlens::gui
