// Graph tab layout and search (see graph_page.hpp).
#include "pages/graph_page.hpp"

#include <QHBoxLayout>
#include <QKeyEvent>
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
  field_ = new QComboBox(this);
  field_->setObjectName(QStringLiteral("graphSearchField"));
  field_->addItem(QStringLiteral("name"), static_cast<int>(GraphScene::SearchField::Name));
  field_->addItem(QStringLiteral("class"), static_cast<int>(GraphScene::SearchField::Class));
  field_->addItem(QStringLiteral("kernel class"), static_cast<int>(GraphScene::SearchField::Kernel));
  field_->addItem(QStringLiteral("reason code"), static_cast<int>(GraphScene::SearchField::Reason));
  field_->addItem(QStringLiteral("op / op type"), static_cast<int>(GraphScene::SearchField::OpType));
  field_->addItem(QStringLiteral("any of these"), static_cast<int>(GraphScene::SearchField::Any));
  field_->setToolTip(QStringLiteral("What the search matches; every match is highlighted"));
  hit_label_ = new QLabel(this);
  hit_label_->setObjectName(QStringLiteral("graphSearchHits"));

  // Search and zoom on top, the legend in its own row so neither is squeezed at 1366 px.
  auto* bar = new QHBoxLayout;
  bar->addWidget(search_, 1);
  bar->addWidget(field_);
  auto* prev = new QToolButton(this);
  prev->setText(QStringLiteral("\u25b2"));
  prev->setToolTip(QStringLiteral("Previous match (Shift+F3)"));
  connect(prev, &QToolButton::clicked, this, [this] { find_previous(); });
  auto* next = new QToolButton(this);
  next->setText(QStringLiteral("\u25bc"));
  next->setToolTip(QStringLiteral("Next match (F3, Enter)"));
  connect(next, &QToolButton::clicked, this, [this] { find_next(); });
  bar->addWidget(prev);
  bar->addWidget(next);
  bar->addWidget(hit_label_);
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

  connect(search_, &QLineEdit::textChanged, this, [this] { update_hits(); });
  connect(field_, &QComboBox::currentIndexChanged, this, [this] { update_hits(); });
  connect(search_, &QLineEdit::returnPressed, this, [this] { find_next(); });
  view_->installEventFilter(this);
}

void GraphPage::set_search_field(GraphScene::SearchField f) {
  const int i = field_->findData(static_cast<int>(f));
  if (i >= 0) field_->setCurrentIndex(i);
}

void GraphPage::update_hits() {
  hits_ = scene_->search(search_->text(), static_cast<GraphScene::SearchField>(field_->currentData().toInt()));
  next_hit_ = 0;
  current_hit_ = -1;
  hit_label_->setText(search_->text().isEmpty() ? QString()
                      : hits_.empty()           ? QStringLiteral("no match")
                                                : QStringLiteral("%1 matches").arg(hits_.size()));
}

void GraphPage::set_analysis(const Analysis& a) {
  scene_->set_graph(a.result, a.layout);
  update_hits();
  view_->fit();
}

int GraphPage::show_hit(size_t index) {
  current_hit_ = static_cast<int>(index);
  const int id = hits_[index];
  scene_->select_node(id);
  emit scene_->nodeSelected(id);
  view_->centre_on_node(id);
  hit_label_->setText(QStringLiteral("%1 of %2").arg(index + 1).arg(hits_.size()));
  return id;
}

int GraphPage::find_next() {
  if (hits_.empty()) return -1;
  const size_t i = next_hit_ % hits_.size();
  next_hit_ = i + 1;
  return show_hit(i);
}

int GraphPage::find_previous() {
  if (hits_.empty()) return -1;
  const size_t n = hits_.size();
  const size_t i = current_hit_ < 0 ? n - 1 : (static_cast<size_t>(current_hit_) + n - 1) % n;
  next_hit_ = i + 1;
  return show_hit(i);
}

int GraphPage::step(GraphScene::Step s) {
  const int from = scene_->selected_node();
  int to = -1;
  if (from < 0) {
    const auto items = scene_->node_items();
    to = items.empty() ? -1 : items.front()->node_id();
  } else {
    to = scene_->neighbour(from, s, s == GraphScene::Step::Up ? down_from_ : -1);
  }
  if (to < 0) return -1;
  down_from_ = s == GraphScene::Step::Down ? from : -1;
  scene_->select_node(to);
  emit scene_->nodeSelected(to);
  view_->centre_on_node(to);
  return to;
}

bool GraphPage::eventFilter(QObject* watched, QEvent* event) {
  if (watched == view_ && event->type() == QEvent::KeyPress) {
    const auto* k = static_cast<QKeyEvent*>(event);
    if (k->modifiers() == Qt::NoModifier || k->modifiers() == Qt::KeypadModifier) {
      switch (k->key()) {
        case Qt::Key_Up: step(GraphScene::Step::Up); return true;
        case Qt::Key_Down: step(GraphScene::Step::Down); return true;
        case Qt::Key_Left: step(GraphScene::Step::Left); return true;
        case Qt::Key_Right: step(GraphScene::Step::Right); return true;
        default: break;
      }
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace bitlens::gui
