// CSV / Markdown / JSON / TSV exports (see table_export.hpp).
#include "models/table_export.hpp"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <set>

#include "bitlens/report.hpp"
#include "models/report_models.hpp"

namespace bitlens::gui {
namespace {

QStringList header(const QAbstractItemModel& m) {
  QStringList h;
  for (int c = 0; c < m.columnCount(); ++c) h << m.headerData(c, Qt::Horizontal).toString();
  return h;
}

QStringList row_cells(const QAbstractItemModel& m, int row) {
  QStringList cells;
  for (int c = 0; c < m.columnCount(); ++c) {
    const QModelIndex i = m.index(row, c);
    const QVariant exported = i.data(ExportTextRole);
    cells << (exported.isValid() ? exported : i.data()).toString();
  }
  return cells;
}

QString csv_cell(QString s) {
  if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) || s.contains(QLatin1Char('\n')) ||
      s.contains(QLatin1Char('\r'))) {
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

QString to_json_table(const QAbstractItemModel& m) {
  QStringList keys;
  for (const QString& h : header(m)) {
    QString key = h;
    for (int n = 2; keys.contains(key); ++n) key = QStringLiteral("%1 (%2)").arg(h).arg(n);
    keys << key;
  }
  QJsonArray rows;
  for (int r = 0; r < m.rowCount(); ++r) {
    const QStringList cells = row_cells(m, r);
    QJsonObject o;
    for (int c = 0; c < cells.size(); ++c) o.insert(keys[c], cells[c]);
    rows.append(o);
  }
  return QString::fromUtf8(QJsonDocument(rows).toJson(QJsonDocument::Indented));
}

QString to_tsv(const QAbstractItemModel& m, const QModelIndexList& indexes) {
  std::set<int> rows;
  for (const auto& i : indexes) rows.insert(i.row());
  QString out = header(m).join(QLatin1Char('\t')) + QLatin1Char('\n');
  for (int r : rows) out += row_cells(m, r).join(QLatin1Char('\t')) + QLatin1Char('\n');
  return out;
}

QString to_json(const CompileResult& r) { return QString::fromStdString(json_report(r).dump(2)) + QLatin1Char('\n'); }

QString save_text(const QString& path, const QString& text) {
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly)) return f.errorString();
  const QByteArray bytes = text.toUtf8();
  if (f.write(bytes) != bytes.size() || !f.commit()) return f.errorString();
  return {};
}

}  // namespace bitlens::gui
