// Details of the selected layer: decision with every reason, costs, tensors (shapes, formats),
// the Keras config with the parameters that decide kernels first, and weight statistics.
#pragma once

#include <QTextBrowser>
#include <memory>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

// Statistics of one latent weight array (what training left before the sign quantizer).
struct WeightStats {
  QString name;
  std::vector<int64_t> shape;
  int64_t count = 0, positive = 0, negative = 0, zero = 0;
  int64_t near_zero = 0;  // |w| < kNearZero: signs that the next training step may flip
  float min = 0, max = 0;
  double mean_abs = 0;
};
constexpr float kNearZero = 1e-2f;
WeightStats weight_stats(const std::string& name, const Array& a);

class DetailsPanel : public QTextBrowser {
  Q_OBJECT
 public:
  explicit DetailsPanel(QWidget* parent = nullptr);
  void set_result(std::shared_ptr<const CompileResult> r);
  void show_node(int node_id);  // -1: the model summary
  int node() const { return node_; }

 signals:
  // The "Export weights..." link of a layer with effective weights was clicked.
  void exportWeightsRequested(const QString& layer);

 private:
  QString summary_html() const;
  QString node_html(const Node& n) const;

  std::shared_ptr<const CompileResult> r_;
  int node_ = -1;
};

}  // namespace bitlens::gui
