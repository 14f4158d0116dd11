// Graphviz "dot" layout of the layer DAG (see graph_layout.hpp).
#include "graph_layout.hpp"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <QMutex>
#include <QMutexLocker>
#include <map>
#include <string>

namespace bitlens::gui {
namespace {

// cgraph's API predates const: it takes char* but does not modify the strings.
char* c(const char* s) { return const_cast<char*>(s); }

void set(void* obj, const char* key, const std::string& value) {
  agsafeset(obj, c(key), c(value.c_str()), c(""));
}

std::string num(double v) { return std::to_string(v); }

// One context for the process: creating it loads the plugin configuration, which is slow.
GVC_t* context() {
  static GVC_t* gvc = gvContext();
  return gvc;
}

}  // namespace

LayoutResult layout_dag(const LayoutInput& input) {
  static QMutex mutex;
  QMutexLocker lock(&mutex);
  LayoutResult out;
  GVC_t* gvc = context();
  if (!gvc) {
    out.error = QStringLiteral("Graphviz could not be initialised");
    return out;
  }
  Agraph_t* g = agopen(c("bitlens"), Agdirected, nullptr);
  set(g, "rankdir", "TB");
  set(g, "nodesep", "0.35");
  set(g, "ranksep", "0.45");
  set(g, "splines", "spline");
  set(g, "outputorder", "edgesfirst");

  std::map<int, Agraph_t*> clusters;
  std::map<int, Agnode_t*> nodes;
  for (const auto& n : input.nodes) {
    Agraph_t* parent = g;
    if (n.cluster >= 0) {
      auto& sub = clusters[n.cluster];
      if (!sub) {
        sub = agsubg(g, c(("cluster_" + std::to_string(n.cluster)).c_str()), 1);
        set(sub, "margin", "8");
      }
      // One rank inside the box: folded layers sit beside their host, so the data flow
      // stays a straight vertical line instead of a staircase.
      parent = agsubg(sub, c(("rank_" + std::to_string(n.cluster)).c_str()), 1);
      set(parent, "rank", "same");
    }
    Agnode_t* an = agnode(parent, c(("n" + std::to_string(n.id)).c_str()), 1);
    // Sizes are given in points; Graphviz wants inches. No label: we draw text ourselves,
    // so Graphviz needs no font plugin and the box is exactly the size we measured.
    set(an, "shape", "box");
    set(an, "fixedsize", "true");
    set(an, "label", "");
    set(an, "width", num(n.size.width() / 72.0));
    set(an, "height", num(n.size.height() / 72.0));
    nodes[n.id] = an;
  }
  std::vector<Agedge_t*> edges;
  for (const auto& e : input.edges) {
    auto a = nodes.find(e.from), b = nodes.find(e.to);
    if (a == nodes.end() || b == nodes.end()) {
      edges.push_back(nullptr);
      continue;
    }
    Agedge_t* ae = agedge(g, a->second, b->second, nullptr, 1);
    if (e.dashed) set(ae, "weight", "4");  // keep folded layers right next to their host
    edges.push_back(ae);
  }

  if (gvLayout(gvc, g, "dot") != 0) {
    out.error = QStringLiteral("Graphviz dot layout failed (is the dot layout plugin installed?)");
    agclose(g);
    return out;
  }
  const boxf bb = GD_bb(g);
  // Graphviz has y up; the scene has y down.
  auto pt = [&](pointf p) { return QPointF(p.x - bb.LL.x, bb.UR.y - p.y); };
  out.bounds = QRectF(0, 0, bb.UR.x - bb.LL.x, bb.UR.y - bb.LL.y);
  for (const auto& n : input.nodes) out.nodes.push_back({n.id, pt(ND_coord(nodes[n.id]))});
  for (const auto& [key, sub] : clusters) {
    const boxf cb = GD_bb(sub);
    out.clusters.push_back({key, QRectF(pt({cb.LL.x, cb.UR.y}), pt({cb.UR.x, cb.LL.y}))});
  }
  for (size_t i = 0; i < input.edges.size(); ++i) {
    LayoutResult::Edge e{input.edges[i].from, input.edges[i].to, input.edges[i].dashed, {}, {}, {}};
    Agedge_t* ae = edges[i];
    if (ae && ED_spl(ae) && ED_spl(ae)->size > 0) {
      const bezier& bz = ED_spl(ae)->list[0];
      // A cubic B-spline in Graphviz's form: p0, then (c1, c2, p) triples.
      if (bz.size >= 4) {
        e.path.moveTo(pt(bz.list[0]));
        for (int k = 1; k + 2 < bz.size; k += 3)
          e.path.cubicTo(pt(bz.list[k]), pt(bz.list[k + 1]), pt(bz.list[k + 2]));
        e.arrow_base = e.arrow_tip = pt(bz.list[bz.size - 1]);
        if (bz.eflag) e.arrow_tip = pt(bz.ep);
      }
    }
    out.edges.push_back(std::move(e));
  }
  gvFreeLayout(gvc, g);
  agclose(g);
  return out;
}

}  // namespace bitlens::gui
