// The Graph tab: legend, layer search and zoom buttons above the graph view. Wiring only.
#pragma once

#include <QComboBox>
#include <QLabel>
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
  // What the search text is matched against (GraphScene::SearchField).
  QComboBox* search_field() const { return field_; }
  void set_search_field(GraphScene::SearchField f);
  // Every match is highlighted; these select and show the next / previous one (wrapping) and
  // return its id, or -1 without matches. The label says "k of n".
  int find_next();
  int find_previous();
  const std::vector<int>& hits() const { return hits_; }
  QLabel* hit_label() const { return hit_label_; }
  // Arrow keys in the graph: move the selection along the data flow (GraphScene::neighbour).
  int step(GraphScene::Step s);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void update_hits();
  int show_hit(size_t index);

  GraphScene* scene_;
  GraphView* view_;
  QLineEdit* search_;
  QComboBox* field_;
  QLabel* hit_label_;
  std::vector<int> hits_;
  size_t next_hit_ = 0;
  int current_hit_ = -1;
  int down_from_ = -1;  // the node the last Down step left, for Up to return to
};

// A row of colour swatches with badge and class name: the legend of the graph.
QWidget* make_kernel_legend(QWidget* parent);

}  // namespace bitlens::gui
