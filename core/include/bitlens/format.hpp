// The one place numbers and shapes become text (reports, diagnostics, generated comments, the
// CLI and the GUI), so every message spells a shape the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitlens {

// 1234567 -> "1,234,567" (independent of the user's locale: reports are compared byte for byte).
std::string with_commas(int64_t v);

// printf's "%g": 6 significant digits, no trailing zeros ("1", "0.5", "-1e-07").
std::string short_number(double v);

// printf's "%.Ng": `digits` significant digits ("0.00123", "1.23e+06").
std::string significant(double v, int digits);

// `digits` decimals: fixed(0.12345, 3) = "0.123".
std::string fixed(double v, int digits);

// A fraction as a percentage with one decimal: 0.0612 -> "6.1%".
std::string percent(double fraction);

// 3 significant digits in scientific notation: "1.234e-05" (validate's metrics).
std::string scientific(double v);

// A byte count in binary units, for limits: "512 B", "1.5 KiB", "64 MiB".
std::string byte_size_text(int64_t bytes);

// Python's spelling, as Keras and numpy print shapes in their messages: "(2, 3)", "(5,)", "()".
std::string shape_tuple(const std::vector<int64_t>& shape);

// A per-sample shape after the batch axis: "(N, 2, 3)".
std::string shape_batch(const std::vector<int64_t>& shape);

// The compact spelling of report tables and generated comments: "2x6x12" ("" for a scalar).
std::string shape_dims(const std::vector<int64_t>& shape);

}  // namespace bitlens
