// Okabe-Ito palette per kernel class (see palette.hpp).
#include "palette.hpp"

#include <QApplication>
#include <QLegend>
#include <QPalette>

namespace bitlens::gui {

const KernelStyle& kernel_style(KernelClass k) {
  // Okabe & Ito (2008): bluish green, sky blue, yellow, orange, reddish purple, grey, vermillion.
  static const KernelStyle styles[] = {
      {QColor(0x00, 0x9E, 0x73), QColor(Qt::white), "BIN", "binary"},
      {QColor(0x56, 0xB4, 0xE9), QColor(Qt::black), "BW", "binary-weights"},
      {QColor(0xF0, 0xE4, 0x42), QColor(Qt::black), "I8", "int8"},
      {QColor(0xE6, 0x9F, 0x00), QColor(Qt::black), "F32", "float"},
      {QColor(0xCC, 0x79, 0xA7), QColor(Qt::black), "FUSED", "fused"},
      {QColor(0xBB, 0xBB, 0xBB), QColor(Qt::black), "NONE", "none"},
      {QColor(0xD5, 0x5E, 0x00), QColor(Qt::white), "UNSUP", "unsupported"},
  };
  switch (k) {
    case KernelClass::Binary: return styles[0];
    case KernelClass::BinaryWeights: return styles[1];
    case KernelClass::Int8: return styles[2];
    case KernelClass::Float: return styles[3];
    case KernelClass::Fused: return styles[4];
    case KernelClass::None: return styles[5];
    case KernelClass::Unsupported: break;
  }
  return styles[6];
}

QColor edge_colour(bool dark_background) {
  return dark_background ? QColor(0xC8, 0xC8, 0xC8) : QColor(0x50, 0x50, 0x50);
}

// Okabe-Ito blue: distinct from every kernel fill.
QColor highlight_colour() { return QColor(0x00, 0x72, 0xB2); }

QColor op_type_colour(const QString& t) {
  // Operations on bits in the binary colour, float ones in the float colour; the element-wise
  // ("op_") variants lighter than the MAC-heavy ones so both stay distinct in one pie.
  if (t.startsWith(QLatin1String("sxor"))) return kernel_style(KernelClass::Binary).fill;
  if (t == QLatin1String("op_s1_s1")) return kernel_style(KernelClass::Binary).fill.lighter(150);
  if (t.startsWith(QLatin1String("sadd"))) return kernel_style(KernelClass::BinaryWeights).fill;
  if (t.startsWith(QLatin1String("smul_s8"))) return kernel_style(KernelClass::Int8).fill;
  if (t == QLatin1String("op_f32_s8") || t == QLatin1String("op_s8_f32") || t == QLatin1String("op_s8_s1"))
    return kernel_style(KernelClass::Int8).fill.lighter(120);
  if (t.startsWith(QLatin1String("smul"))) return kernel_style(KernelClass::Float).fill;
  if (t == QLatin1String("op_f32_f32")) return kernel_style(KernelClass::Float).fill.lighter(140);
  if (t == QLatin1String("op_f32_s1")) return kernel_style(KernelClass::Fused).fill;
  if (t == QLatin1String("op_s1_f32")) return kernel_style(KernelClass::Fused).fill.lighter(130);
  return kernel_style(KernelClass::None).fill;
}

QColor series_colour(int i) {
  // The Okabe-Ito set in an order where neighbours contrast: blue, vermillion, bluish green,
  // orange, reddish purple, sky blue, yellow, black.
  static const QColor colours[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00), QColor(0x00, 0x9E, 0x73),
                                   QColor(0xE6, 0x9F, 0x00), QColor(0xCC, 0x79, 0xA7), QColor(0x56, 0xB4, 0xE9),
                                   QColor(0xF0, 0xE4, 0x42), QColor(0x00, 0x00, 0x00)};
  return colours[((i % 8) + 8) % 8];
}

QChart* new_chart(const QString& title) {
  auto* c = new QChart;
  const QPalette pal = QApplication::palette();
  if (pal.color(QPalette::Window).lightness() < 128) c->setTheme(QChart::ChartThemeDark);
  c->setBackgroundBrush(pal.color(QPalette::Base));
  c->setTitleBrush(pal.color(QPalette::Text));
  c->legend()->setLabelColor(pal.color(QPalette::Text));
  c->setTitle(title);
  c->setMargins(QMargins(4, 4, 4, 4));
  c->legend()->setAlignment(Qt::AlignBottom);
  return c;
}

}  // namespace bitlens::gui
