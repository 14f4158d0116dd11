// Fallbacks tab (see fallbacks_page.hpp).
#include "pages/fallbacks_page.hpp"

#include <QHeaderView>
#include <QVBoxLayout>

namespace bitlens::gui {

FallbacksPage::FallbacksPage(QWidget* parent) : QWidget(parent) {
  summary_ = new QLabel(this);
  summary_->setObjectName(QStringLiteral("fallbackSummary"));
  summary_->setWordWrap(true);
  model_ = new FallbackModel(this);
  view_ = new QTreeView(this);
  view_->setObjectName(QStringLiteral("fallbackTree"));
  view_->setModel(model_);
  view_->setWordWrap(true);
  view_->setAlternatingRowColors(true);
  view_->setUniformRowHeights(false);
  view_->header()->setStretchLastSection(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(summary_);
  layout->addWidget(view_, 1);
  connect(view_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& i) {
    const int id = i.data(NodeIdRole).toInt();
    if (i.isValid() && id >= 0) emit nodeSelected(id);
  });
}

void FallbacksPage::set_result(std::shared_ptr<const CompileResult> r) {
  model_->set_result(r);
  view_->expandAll();
  view_->setColumnWidth(FallbackModel::Item, 260);
  view_->setColumnWidth(FallbackModel::Kernel, 110);
  view_->setColumnWidth(FallbackModel::Message, 420);
  if (!r) {
    summary_->clear();
    return;
  }
  const int n = model_->layer_count();
  summary_->setText(n == 0 ? QStringLiteral("Every executing layer runs on an exact binary kernel: nothing falls back.")
                           : QStringLiteral("<b>%1 layer%2 not fully binary</b> (binary-weights, float or unsupported), "
                                            "grouped by reason. Each reason names the parameter and the fix.")
                                 .arg(n)
                                 .arg(n == 1 ? QStringLiteral(" is") : QStringLiteral("s are")));
}

}  // namespace bitlens::gui
