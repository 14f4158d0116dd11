// Text the app shows about one graph node (shapes, formats, byte counts, reasons, tooltip),
// written once so the graph tooltip, the tables, the details panel and the exports agree.
#pragma once

#include <QString>
#include <QStringList>
#include <vector>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

QString shape_text(const std::vector<int64_t>& shape);  // "26x26x32"
// A tensor's shape, "?" when BitLens cannot know it (downstream of an unsupported layer).
QString shape_text(const Tensor& t);
QString number_text(int64_t v);                          // "1,234,567"
QString bytes_text(int64_t bytes);                       // "12,832 B"
QString short_number(double v);                          // "0.5", "1e-07" (printf's %g)

// The node's output shape ("" when it has no output, "?" when it is unknown).
QString output_shape_text(const CompileResult& r, const Node& n);
// "f32>s1" (input>output format) for executing nodes, "-" for fused/removed ones.
QString formats_text(const CompileResult& r, const Node& n);
// Output format alone ("s1"/"f32"), "-" for fused/removed nodes.
QString output_format_text(const CompileResult& r, const Node& n);
// Activation RAM a node needs while it runs: its output buffer (views excluded) plus scratch.
int64_t node_ram_bytes(const CompileResult& r, const Node& n);
// "PAD_ZERO_EXACT, OUTPUT_BITS"
QString reason_codes_text(const Node& n);
// Rich-text tooltip: kernel, every reason with message and fix, MACC, ROM, RAM.
QString node_tooltip(const CompileResult& r, const Node& n);
// Nodes in the order the reports list them (schedule position).
std::vector<const Node*> nodes_in_report_order(const CompileResult& r);
// Whether the node is worth listing under "fallbacks": it executes, but not fully binary.
bool is_fallback(const Node& n);

}  // namespace bitlens::gui
