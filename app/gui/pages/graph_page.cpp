// Graph tab layout and search (see graph_page.hpp).
#include "pages/graph_page.hpp"

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

#include "palette.hpp"

namespace bitlens::gui {

QWidget* make_kernel_legend(QWidget* parent) {
  auto* w = new QWidget(parent);
  w->setObjectName(QStringLiteral("legend"));
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  for (KernelClass k : kAllKernelClasses) {
    const auto& st = kernel_style(k);
    auto* label = new QLabel(w);
    label->setTextFormat(Qt::RichText);
    label->setText(QStringLiteral("<span style='background:%1;color:%2'>&nbsp;%3&nbsp;</span> %4")
                       .arg(st.fill.name(), st.text.name(), st.badge, st.label));
    l->addWidget(label);
  }
  auto* fused = new QLabel(QStringLiteral("  dashed box: layers folded into one kernel"), w);
  l->addWidget(fused);
  l->addStretch();
  // The legend may be clipped in a narrow window; it must not force the window wider.
  w->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  w->setMinimumWidth(0);
  return w;
}

GraphPage::GraphPage(QWidget* parent) : QWidget(parent) {
  scene_ = new GraphScene(this);
  view_ = new GraphView(scene_, this);
  search_ = new QLineEdit(this);
  search_->setObjectName(QStringLiteral("graphSearch"));
  search_->setPlaceholderText(QStringLiteral("Find layer (Ctrl+F)"));
  search_->setClearButtonEnabled(true);
  search_->setMaximumWidth(320);

  // Search and zoom on top, the legend in its own row so neither is squeezed at 1366 px.
  auto* bar = new QHBoxLayout;
  bar->addWidget(search_, 1);
  auto button = [&](const QString& text, const QString& tip, auto slot) {
    auto* b = new QToolButton(this);
    b->setText(text);
    b->setToolTip(tip);
    connect(b, &QToolButton::clicked, view_, slot);
    bar->addWidget(b);
  };
  button(QStringLiteral("+"), QStringLiteral("Zoom in (Ctrl++)"), &GraphView::zoom_in);
  button(QStringLiteral("-"), QStringLiteral("Zoom out (Ctrl+-)"), &GraphView::zoom_out);
  button(QStringLiteral("Fit"), QStringLiteral("Fit to window (Ctrl+0)"), &GraphView::fit);
  bar->addStretch(1);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(bar);
  layout->addWidget(make_kernel_legend(this));
  layout->addWidget(view_, 1);

  connect(search_, &QLineEdit::textChanged, this, [this](const QString& text) {
    hits_ = scene_->search(text);
    next_hit_ = 0;
  });
  connect(search_, &QLineEdit::returnPressed, this, [this] { find_next(); });
}

void GraphPage::set_analysis(const Analysis& a) {
  scene_->set_graph(a.result, a.layout);
  hits_ = scene_->search(search_->text());
  next_hit_ = 0;
  view_->fit();
}

int GraphPage::find_next() {
  if (hits_.empty()) return -1;
  const int id = hits_[next_hit_ % hits_.size()];
  ++next_hit_;
  scene_->select_node(id);
  emit scene_->nodeSelected(id);
  view_->centre_on_node(id);
  return id;
}

}  // namespace bitlens::gui
