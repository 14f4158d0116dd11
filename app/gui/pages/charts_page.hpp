// The Charts tab (QtCharts): MACC per layer stacked by kernel class, ROM and RAM per layer,
// operation-type shares, and the memory plan over the schedule (live bytes vs arena and bound).
#pragma once

#include <QWidget>
#include <memory>

#include "bitlens/compiler.hpp"

QT_BEGIN_NAMESPACE
class QChart;
class QChartView;
QT_END_NAMESPACE

namespace bitlens::gui {

class ChartsPage : public QWidget {
  Q_OBJECT
 public:
  explicit ChartsPage(QWidget* parent = nullptr);
  void set_result(std::shared_ptr<const CompileResult> r);
  QChart* macc_chart() const;
  QChart* memory_chart() const;
  QChart* rom_ram_chart() const;
  QChart* op_type_chart() const;

 private:
  QChartView* macc_;
  QChartView* rom_ram_;
  QChartView* op_types_;
  QChartView* memory_;
};

}  // namespace bitlens::gui
