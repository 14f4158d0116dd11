// The Graph tab: legend, layer search and zoom buttons above the graph view. Wiring only.
#pragma once

#include <QLineEdit>
#include <QWidget>
#include <memory>

#include "analysis.hpp"
#include "graph/graph_scene.hpp"
#include "graph/graph_view.hpp"

namespace bitlens::gui {

class GraphPage : public QWidget {
  Q_OBJECT
 public:
  explicit GraphPage(QWidget* parent = nullptr);
  void set_analysis(const Analysis& a);
  GraphScene* scene() const { return scene_; }
  GraphView* view() const { return view_; }
  QLineEdit* search_box() const { return search_; }
  // Selects and shows the next node matching the search text; returns its id or -1.
  int find_next();

 private:
  GraphScene* scene_;
  GraphView* view_;
  QLineEdit* search_;
  std::vector<int> hits_;
  size_t next_hit_ = 0;
};

// A row of colour swatches with badge and class name: the legend of the graph.
QWidget* make_kernel_legend(QWidget* parent);

}  // namespace bitlens::gui
