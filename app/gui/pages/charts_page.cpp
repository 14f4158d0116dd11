// Builds the four charts from a CompileResult (see charts_page.hpp).
#include "pages/charts_page.hpp"

#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QGridLayout>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPieSeries>
#include <QStackedBarSeries>
#include <QValueAxis>

#include "layer_text.hpp"
#include "palette.hpp"

namespace bitlens::gui {
namespace {

void style_axis(QAbstractAxis* a) {
  const QPalette pal = QApplication::palette();
  a->setLabelsColor(pal.color(QPalette::Text));
  a->setTitleBrush(pal.color(QPalette::Text));
  QFont f = a->labelsFont();
  f.setPointSizeF(f.pointSizeF() * 0.8);
  a->setLabelsFont(f);
}

// Layer names as bar categories: rotated, and dropped when there are too many to read.
QBarCategoryAxis* category_axis(const QStringList& names) {
  auto* axis = new QBarCategoryAxis;
  axis->append(names);
  axis->setLabelsAngle(-90);
  style_axis(axis);
  if (names.size() > 40) axis->setLabelsVisible(false);
  return axis;
}

QValueAxis* value_axis(const QString& title, double max) {
  auto* axis = new QValueAxis;
  axis->setTitleText(title);
  axis->setLabelFormat(QStringLiteral("%.0f"));  // bytes and MACs are whole numbers
  axis->setRange(0, max > 0 ? max * 1.05 : 1);
  axis->applyNiceNumbers();
  style_axis(axis);
  return axis;
}

QChartView* new_view(QWidget* parent, const QString& name) {
  auto* v = new QChartView(parent);
  v->setObjectName(name);
  v->setRenderHint(QPainter::Antialiasing);
  v->setMinimumSize(280, 200);
  return v;
}

}  // namespace

ChartsPage::ChartsPage(QWidget* parent) : QWidget(parent) {
  macc_ = new_view(this, QStringLiteral("maccChart"));
  rom_ram_ = new_view(this, QStringLiteral("romRamChart"));
  op_types_ = new_view(this, QStringLiteral("opTypeChart"));
  memory_ = new_view(this, QStringLiteral("memoryChart"));
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(2, 2, 2, 2);
  grid->setSpacing(2);
  grid->addWidget(macc_, 0, 0);
  grid->addWidget(rom_ram_, 0, 1);
  grid->addWidget(op_types_, 1, 0);
  grid->addWidget(memory_, 1, 1);
  set_result(nullptr);
}

QChart* ChartsPage::macc_chart() const { return macc_->chart(); }
QChart* ChartsPage::memory_chart() const { return memory_->chart(); }
QChart* ChartsPage::rom_ram_chart() const { return rom_ram_->chart(); }
QChart* ChartsPage::op_type_chart() const { return op_types_->chart(); }

void ChartsPage::set_result(std::shared_ptr<const CompileResult> r) {
  // QChartView::setChart does not delete the previous chart.
  for (QChartView* v : {macc_, rom_ram_, op_types_, memory_}) {
    QChart* old = v->chart();
    v->setChart(new QChart);
    delete old;
  }
  if (!r) return;
  const auto nodes = nodes_in_report_order(*r);

  // MACC per layer, one bar set per kernel class so each bar takes its class colour.
  {
    QStringList names;
    std::vector<const Node*> with_macc;
    for (const Node* n : nodes)
      if (n->macc > 0) {
        names << QString::fromStdString(n->name);
        with_macc.push_back(n);
      }
    auto* series = new QStackedBarSeries;
    double max = 0;
    for (KernelClass k : kAllKernelClasses) {
      auto* set = new QBarSet(kernel_style(k).label);
      set->setColor(kernel_style(k).fill);
      set->setBorderColor(kernel_style(k).fill.darker(140));
      bool any = false;
      for (const Node* n : with_macc) {
        const bool mine = n->decision.kernel == k;
        *set << (mine ? static_cast<double>(n->macc) : 0.0);
        any = any || mine;
        max = std::max(max, static_cast<double>(n->macc));
      }
      if (any) series->append(set);
      else delete set;
    }
    QChart* c = new_chart(QStringLiteral("MACC per layer, by kernel class"));
    c->addSeries(series);
    auto* x = category_axis(names);
    auto* y = value_axis(QStringLiteral("MACC"), max);
    c->addAxis(x, Qt::AlignBottom);
    c->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
    QChart* old = macc_->chart();
    macc_->setChart(c);
    delete old;
  }

  // ROM and RAM per executing layer.
  {
    QStringList names;
    auto* rom = new QBarSet(QStringLiteral("ROM (weights)"));
    auto* ram = new QBarSet(QStringLiteral("RAM (output + scratch)"));
    rom->setColor(series_colour(0));
    ram->setColor(series_colour(1));
    double max = 0;
    for (const Node* n : nodes) {
      if (n->removed) continue;
      names << QString::fromStdString(n->name);
      *rom << static_cast<double>(n->rom_bytes);
      *ram << static_cast<double>(node_ram_bytes(*r, *n));
      max = std::max({max, static_cast<double>(n->rom_bytes), static_cast<double>(node_ram_bytes(*r, *n))});
    }
    auto* series = new QBarSeries;
    series->append(rom);
    series->append(ram);
    QChart* c = new_chart(QStringLiteral("ROM and RAM per layer"));
    c->addSeries(series);
    auto* x = category_axis(names);
    auto* y = value_axis(QStringLiteral("bytes"), max);
    c->addAxis(x, Qt::AlignBottom);
    c->addAxis(y, Qt::AlignLeft);
    series->attachAxis(x);
    series->attachAxis(y);
    QChart* old = rom_ram_->chart();
    rom_ram_->setChart(c);
    delete old;
  }

  // Operation-type shares of the MACC.
  {
    auto* series = new QPieSeries;
    for (const auto& [type, macc] : r->totals.op_types) {
      if (macc <= 0) continue;
      const double share = r->totals.macc > 0 ? 100.0 * static_cast<double>(macc) / static_cast<double>(r->totals.macc) : 0;
      QPieSlice* s = series->append(QStringLiteral("%1 %2%").arg(QString::fromStdString(type)).arg(share, 0, 'f', 1),
                                    static_cast<double>(macc));
      s->setColor(op_type_colour(QString::fromStdString(type)));
      s->setBorderColor(QApplication::palette().color(QPalette::Base));
      s->setLabelVisible(share >= 3.0);  // tiny slices only in the legend
      s->setLabelColor(QApplication::palette().color(QPalette::Text));
    }
    series->setPieSize(0.6);
    QChart* c = new_chart(QStringLiteral("MACC by operation type"));
    c->addSeries(series);
    c->legend()->setAlignment(Qt::AlignRight);
    QChart* old = op_types_->chart();
    op_types_->setChart(c);
    delete old;
  }

  // Memory plan over time.
  {
    auto* live = new QLineSeries;
    live->setName(QStringLiteral("live bytes"));
    // Steps: a buffer is live for the whole step, so draw flat segments.
    for (size_t s = 0; s < r->plan.live_bytes.size(); ++s) {
      const double v = static_cast<double>(r->plan.live_bytes[s]);
      live->append(static_cast<double>(s), v);
      live->append(static_cast<double>(s) + 1, v);
    }
    const double steps = std::max<double>(1, static_cast<double>(r->plan.live_bytes.size()));
    auto flat = [&](const QString& name, int64_t v, QColor colour, Qt::PenStyle style) {
      auto* l = new QLineSeries;
      l->setName(name);
      l->append(0, static_cast<double>(v));
      l->append(steps, static_cast<double>(v));
      l->setPen(QPen(colour, 2, style));
      return l;
    };
    live->setPen(QPen(series_colour(0), 2));
    QChart* c = new_chart(QStringLiteral("Memory plan: live bytes per step"));
    QList<QLineSeries*> all = {live,
                               flat(QStringLiteral("arena %1").arg(bytes_text(r->plan.arena_bytes)), r->plan.arena_bytes,
                                    series_colour(1), Qt::SolidLine),
                               flat(QStringLiteral("lower bound %1").arg(bytes_text(r->plan.lower_bound_bytes)),
                                    r->plan.lower_bound_bytes, series_colour(2), Qt::DashLine)};
    auto* x = new QValueAxis;
    x->setTitleText(QStringLiteral("schedule step"));
    x->setRange(0, steps);
    x->setLabelFormat(QStringLiteral("%d"));
    style_axis(x);
    auto* y = value_axis(QStringLiteral("bytes"), static_cast<double>(std::max(r->plan.arena_bytes, r->plan.lower_bound_bytes)));
    c->addAxis(x, Qt::AlignBottom);
    c->addAxis(y, Qt::AlignLeft);
    for (QLineSeries* l : all) {
      c->addSeries(l);
      l->attachAxis(x);
      l->attachAxis(y);
    }
    QChart* old = memory_->chart();
    memory_->setChart(c);
    delete old;
  }
}

}  // namespace bitlens::gui
