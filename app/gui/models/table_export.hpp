// Text exports of any table model (CSV, Markdown, JSON, tab-separated for the clipboard) and of
// the whole analysis as the core's JSON report, so the GUI's exports match `bitlens analyze --json`.
// Every table export of the app goes through here, so a cell is spelled and escaped one way.
#pragma once

#include <QAbstractItemModel>
#include <QModelIndexList>
#include <QString>

#include "bitlens/compiler.hpp"

namespace bitlens::gui {

// A cell's text is its ExportTextRole where the model gives one, else its DisplayRole; the
// header row is the horizontal headers. Rows in the model's order (a proxy's, when sorted).
QString to_csv(const QAbstractItemModel& model);       // RFC 4180 quoting, header row first, '\n' line ends
QString to_markdown(const QAbstractItemModel& model);  // GitHub table, '|' escaped
// [{"<header>": "<cell text>", ...}, ...]: one object per row, every value the cell text as a
// string (as in the CSV). A header that repeats gets " (2)", " (3)"... so no column is lost;
// QJsonObject writes the keys sorted, so the column order is the CSV's, not the object's.
QString to_json_table(const QAbstractItemModel& model);
// The given rows (any column of each) as tab-separated text with a header line.
QString to_tsv(const QAbstractItemModel& model, const QModelIndexList& rows);
QString to_json(const CompileResult& r);               // json_report(r), indented

// Writes `text` as UTF-8, replacing the file only once all of it is written; "" or the error.
QString save_text(const QString& path, const QString& text);

}  // namespace bitlens::gui
