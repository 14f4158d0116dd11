// Renderers of a CompileResult: the ST-style text report and the JSON document
// (schema in docs/report-format.md). Deterministic: no timestamps, no absolute paths.
#pragma once

#include <string>

#include "bitlens/compiler.hpp"

namespace bitlens {

struct ReportOptions {
  int width = 100;  // terminal columns to fit (80..160)
};

std::string text_report(const CompileResult& r, const ReportOptions& options = {});
json json_report(const CompileResult& r);

}  // namespace bitlens
