// Builds the graph scene from a CompileResult and its layout (see graph_scene.hpp).
#include "graph/graph_scene.hpp"

#include <algorithm>

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

std::vector<int> GraphScene::search(const QString& text, SearchField field) {
  std::vector<int> hits;
  for (const auto& [id, item] : nodes_) {
    bool hit = false;
    if (!text.isEmpty() && result_) {
      const Node& n = result_->graph.nodes.at(static_cast<size_t>(id));
      auto has = [&](const std::string& s) { return QString::fromStdString(s).contains(text, Qt::CaseInsensitive); };
      auto want = [&](SearchField f) { return field == SearchField::Any || field == f; };
      hit = (want(SearchField::Name) && item->label().name.contains(text, Qt::CaseInsensitive)) ||
            (want(SearchField::Class) && has(n.class_name)) ||
            (want(SearchField::Kernel) && has(kernel_class_name(n.decision.kernel))) ||
            (want(SearchField::OpType) && (has(op_name(n.op)) || has(n.decision.op_type)));
      if (!hit && want(SearchField::Reason))
        for (const auto& r : n.decision.reasons) hit = hit || has(r.code);
    }
    item->set_search_hit(hit);
    if (hit) hits.push_back(id);
  }
  return hits;
}

int GraphScene::neighbour(int node_id, Step step, int prefer) const {
  if (!result_ || !node_item(node_id)) return -1;
  const Graph& g = result_->graph;
  const Node& n = g.nodes.at(static_cast<size_t>(node_id));
  auto shown = [&](int id) { return id >= 0 && node_item(id) != nullptr; };
  auto first_of = [&](const std::vector<int>& ids) {
    int best = -1;
    for (int id : ids)
      if (shown(id) && (best < 0 || id < best)) best = id;
    return best;
  };
  if (step == Step::Down) {
    std::vector<int> next;
    for (int t : n.outputs)
      for (int c : g.tensors[static_cast<size_t>(t)].consumers) next.push_back(c);
    return first_of(next);
  }
  const int producer = n.inputs.empty() ? -1 : g.tensors[static_cast<size_t>(n.inputs[0])].producer;
  if (step == Step::Up) {
    // A join (Add, Concatenate) has several producers: go back along the edge Down came by.
    for (int t : n.inputs)
      if (prefer >= 0 && g.tensors[static_cast<size_t>(t)].producer == prefer && shown(prefer)) return prefer;
    return shown(producer) ? producer : -1;
  }
  // Siblings: the other consumers of the producer's output, in graph order.
  std::vector<int> siblings;
  if (producer >= 0)
    for (int t : g.nodes[static_cast<size_t>(producer)].outputs)
      for (int c : g.tensors[static_cast<size_t>(t)].consumers)
        if (shown(c)) siblings.push_back(c);
  std::sort(siblings.begin(), siblings.end());
  siblings.erase(std::unique(siblings.begin(), siblings.end()), siblings.end());
  if (siblings.size() < 2 || std::find(siblings.begin(), siblings.end(), node_id) == siblings.end()) {
    // No branch here (or a layer folded into its producer, which reads nothing the others do):
    // walk the graph order.
    siblings.clear();
    for (const auto& [id, item] : nodes_) siblings.push_back(id);
  }
  const auto at = std::find(siblings.begin(), siblings.end(), node_id);
  if (at == siblings.end()) return -1;
  if (step == Step::Left) return at == siblings.begin() ? -1 : *(at - 1);
  return at + 1 == siblings.end() ? -1 : *(at + 1);
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
