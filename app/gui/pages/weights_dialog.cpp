// Export weights dialog (see weights_dialog.hpp).
#include "pages/weights_dialog.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "bitlens/export.hpp"
#include "bitlens/weights.hpp"

namespace bitlens::gui {

WeightsDialog::WeightsDialog(QWidget* parent) : QDialog(parent) {
  setObjectName(QStringLiteral("weightsDialog"));
  setWindowTitle(QStringLiteral("Export effective weights"));
  what_ = new QLabel(this);
  what_->setWordWrap(true);
  format_ = new QComboBox(this);
  format_->setObjectName(QStringLiteral("weightsFormat"));
  format_->addItem(QStringLiteral("NumPy .npy files"), QStringLiteral("npy"));
  format_->addItem(QStringLiteral("C arrays (weights.h, weights.c)"), QStringLiteral("c"));
  format_->addItem(QStringLiteral("JSON (values inline)"), QStringLiteral("json"));
  dir_ = new QLineEdit(this);
  dir_->setObjectName(QStringLiteral("weightsDir"));
  connect(dir_, &QLineEdit::textEdited, this, [this] { dir_edited_ = true; });
  auto* browse = new QPushButton(QStringLiteral("&Browse..."), this);
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, QStringLiteral("Folder for the weights"), dir_->text());
    if (!d.isEmpty()) set_output_dir(d);
  });
  auto* dir_row = new QHBoxLayout;
  dir_row->addWidget(dir_, 1);
  dir_row->addWidget(browse);
  overwrite_ = new QCheckBox(QStringLiteral("Replace files an earlier export wrote in a non-empty folder"), this);
  text_ = new QPlainTextEdit(this);
  text_->setReadOnly(true);
  text_->setObjectName(QStringLiteral("weightsResult"));

  auto* form = new QFormLayout;
  form->addRow(QStringLiteral("Format:"), format_);
  form->addRow(QStringLiteral("Folder:"), dir_row);
  form->addRow(QString(), overwrite_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  QPushButton* write_button = buttons->addButton(QStringLiteral("&Write"), QDialogButtonBox::AcceptRole);
  write_button->setObjectName(QStringLiteral("weightsWrite"));
  connect(write_button, &QPushButton::clicked, this, [this] { write(); });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::close);
  auto* v = new QVBoxLayout(this);
  v->addWidget(what_);
  v->addLayout(form);
  v->addWidget(text_, 1);
  v->addWidget(buttons);
  resize(560, 380);
}

void WeightsDialog::set_model(std::shared_ptr<const CompileResult> result, const QString& path) {
  result_ = std::move(result);
  model_path_ = path;
  update_default_dir();
}

void WeightsDialog::set_layer(const QString& layer) {
  layer_ = layer;
  what_->setText(layer.isEmpty()
                     ? QStringLiteral("The weights every layer computes with: kernels after their quantizer (+-1, "
                                      "+-alpha), packed bits, folded thresholds or float steps (docs/weights.md).")
                     : QStringLiteral("The weights layer <b>%1</b> computes with: its kernel after the quantizer, "
                                      "packed bits, folded thresholds or float steps (docs/weights.md).")
                           .arg(layer.toHtmlEscaped()));
  update_default_dir();
}

void WeightsDialog::update_default_dir() {
  if (dir_edited_ || model_path_.isEmpty()) return;
  const QFileInfo f(model_path_);
  QString name = f.completeBaseName() + QStringLiteral("_weights");
  if (!layer_.isEmpty()) name += QStringLiteral("_") + QString(layer_).replace(QLatin1Char('/'), QLatin1Char('_'));
  dir_->setText(QDir(f.absolutePath()).filePath(name));
}

void WeightsDialog::set_format(const QString& format) {
  const int i = format_->findData(format);
  if (i >= 0) format_->setCurrentIndex(i);
}
QString WeightsDialog::format() const { return format_->currentData().toString(); }
void WeightsDialog::set_output_dir(const QString& dir) {
  dir_->setText(dir);
  dir_edited_ = true;
}
QString WeightsDialog::output_dir() const { return dir_->text(); }
void WeightsDialog::set_overwrite(bool on) { overwrite_->setChecked(on); }
QString WeightsDialog::result_text() const { return text_->toPlainText(); }

bool WeightsDialog::write() {
  error_.clear();
  if (!result_) {
    error_ = QStringLiteral("no model is open");
  } else if (dir_->text().trimmed().isEmpty()) {
    error_ = QStringLiteral("choose a folder for the weights");
  } else {
    try {
      const WeightsExport w = effective_weights(*result_, layer_.toStdString());
      const WeightsFormat f = format() == QLatin1String("c")      ? WeightsFormat::C
                              : format() == QLatin1String("json") ? WeightsFormat::Json
                                                                  : WeightsFormat::Npy;
      const auto files = weights_files(w, f);
      write_project(files, dir_->text().trimmed().toStdString(), overwrite_->isChecked());
      size_t tensors = 0;
      for (const auto& n : w.nodes) tensors += n.tensors.size();
      QString t = QStringLiteral("Wrote %1 tensor(s) of %2 node(s) to %3 (%4 file(s); weights.json describes each).\n")
                      .arg(tensors)
                      .arg(w.nodes.size())
                      .arg(dir_->text().trimmed())
                      .arg(files.size());
      for (const auto& n : w.nodes) {
        t += QStringLiteral("\n%1 (%2): ").arg(QString::fromStdString(n.node), QString::fromStdString(n.kernel));
        QStringList names;
        for (const auto& x : n.tensors) names << QString::fromStdString(x.name);
        t += names.join(QStringLiteral(", "));
      }
      for (const auto& s : w.skipped)
        t += QStringLiteral("\nskipped %1: %2").arg(QString::fromStdString(s.layer), QString::fromStdString(s.why));
      text_->setPlainText(t);
      return true;
    } catch (const std::exception& e) {
      error_ = QString::fromStdString(e.what());
    }
  }
  text_->setPlainText(QStringLiteral("Not written: ") + error_);
  return false;
}

}  // namespace bitlens::gui
