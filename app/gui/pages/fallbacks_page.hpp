// The Fallbacks tab: every executing layer that is not fully binary, grouped by reason code,
// each with its explanation and fix ("why did my model fall back").
#pragma once

#include <QLabel>
#include <QTreeView>
#include <memory>

#include "bitlens/compiler.hpp"
#include "models/report_models.hpp"

namespace bitlens::gui {

class FallbacksPage : public QWidget {
  Q_OBJECT
 public:
  explicit FallbacksPage(QWidget* parent = nullptr);
  void set_result(std::shared_ptr<const CompileResult> r);
  FallbackModel* model() const { return model_; }
  QTreeView* view() const { return view_; }
  QString summary() const { return summary_->text(); }

 signals:
  void nodeSelected(int node_id);

 private:
  QLabel* summary_;
  FallbackModel* model_;
  QTreeView* view_;
};

}  // namespace bitlens::gui
