// The one palette of the desktop app: colour, text colour, badge and label per kernel class.
// Okabe-Ito colours (distinguishable with the common colour-vision deficiencies); every node
// also carries the badge text, so colour is never the only cue.
#pragma once

#include <QChart>
#include <QColor>
#include <QString>
#include <array>

#include "bitlens/ir.hpp"

namespace bitlens::gui {

struct KernelStyle {
  QColor fill;     // node background, chart series, table swatch
  QColor text;     // readable text colour on `fill`
  QString badge;   // short text drawn on every node ("BIN", "F32", ...)
  QString label;   // the core's kernel class name ("binary", ...)
};

const KernelStyle& kernel_style(KernelClass k);

// Every kernel class in legend order (best first).
constexpr std::array<KernelClass, 7> kAllKernelClasses = {
    KernelClass::Binary, KernelClass::BinaryWeights, KernelClass::Int8,       KernelClass::Float,
    KernelClass::Fused,  KernelClass::None,          KernelClass::Unsupported};

// Colours of graph chrome that do not depend on the kernel class.
QColor edge_colour(bool dark_background);
QColor highlight_colour();  // selection / search hit outline

// An empty chart titled `title` in the system palette's colours (dark theme when the window
// background is dark), as every chart of the app starts.
QChart* new_chart(const QString& title);
// Colour of an operation type ("sxor_s1_s1", ...): the kernel class it belongs to.
QColor op_type_colour(const QString& op_type);
// Colours for chart series that are not kernel classes (ROM, RAM, arena, lower bound, pie slices).
QColor series_colour(int i);

}  // namespace bitlens::gui
