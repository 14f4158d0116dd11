// Text exports of any table model (CSV, Markdown, tab-separated for the clipboard) and of the
// whole analysis as the core's JSON report, so the GUI's exports match `bitlens analyze --json`.
#pragma once

#include <QAbstractItemModel>
#include <QModelIndexList>
#include <QString>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

QString to_csv(const QAbstractItemModel& model);       // RFC 4180 quoting, header row first
QString to_markdown(const QAbstractItemModel& model);  // GitHub table, '|' escaped
// The given rows (any column of each) as tab-separated text with a header line.
QString to_tsv(const QAbstractItemModel& model, const QModelIndexList& rows);
QString to_json(const CompileResult& r);               // json_report(r), indented

}  // namespace bitlens::gui
