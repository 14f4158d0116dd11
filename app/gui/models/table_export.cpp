// CSV / Markdown / TSV / JSON exports (see table_export.hpp).
#include "models/table_export.hpp"

#include <set>

#include "bitlens/report.hpp"

namespace bitlens::gui {
namespace {

QStringList header(const QAbstractItemModel& m) {
  QStringList h;
  for (int c = 0; c < m.columnCount(); ++c) h << m.headerData(c, Qt::Horizontal).toString();
  return h;
}

QStringList row_cells(const QAbstractItemModel& m, int row) {
  QStringList cells;
  for (int c = 0; c < m.columnCount(); ++c) cells << m.index(row, c).data().toString();
  return cells;
}

QString csv_cell(QString s) {
  if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) || s.contains(QLatin1Char('\n'))) {
    s.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + s + QLatin1Char('"');
  }
  return s;
}

}  // namespace

QString to_csv(const QAbstractItemModel& m) {
  QString out;
  auto line = [&](const QStringList& cells) {
    QStringList q;
    for (const auto& c : cells) q << csv_cell(c);
    out += q.join(QLatin1Char(',')) + QLatin1Char('\n');
  };
  line(header(m));
  for (int r = 0; r < m.rowCount(); ++r) line(row_cells(m, r));
  return out;
}

QString to_markdown(const QAbstractItemModel& m) {
  QString out;
  auto line = [&](QStringList cells) {
    for (auto& c : cells) c.replace(QLatin1String("|"), QLatin1String("\\|"));
    out += QStringLiteral("| ") + cells.join(QStringLiteral(" | ")) + QStringLiteral(" |\n");
  };
  const QStringList h = header(m);
  line(h);
  out += QStringLiteral("|") + QStringLiteral("---|").repeated(static_cast<int>(h.size())) + QLatin1Char('\n');
  for (int r = 0; r < m.rowCount(); ++r) line(row_cells(m, r));
  return out;
}

QString to_tsv(const QAbstractItemModel& m, const QModelIndexList& indexes) {
  std::set<int> rows;
  for (const auto& i : indexes) rows.insert(i.row());
  QString out = header(m).join(QLatin1Char('\t')) + QLatin1Char('\n');
  for (int r : rows) out += row_cells(m, r).join(QLatin1Char('\t')) + QLatin1Char('\n');
  return out;
}

QString to_json(const CompileResult& r) { return QString::fromStdString(json_report(r).dump(2)) + QLatin1Char('\n'); }

}  // namespace bitlens::gui
