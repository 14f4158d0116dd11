// Export dialog (see export_dialog.hpp).
#include "pages/export_dialog.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QUrl>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "bitlens/export.hpp"
#include "bitlens/runtime.hpp"

namespace bitlens::gui {
namespace {

struct Outcome {
  bool ok = false;
  QString text;   // summary or validate table
  QString error;  // "" when ok
};

}  // namespace

ExportDialog::ExportDialog(QWidget* parent) : QDialog(parent) {
  setObjectName(QStringLiteral("exportDialog"));
  setWindowTitle(QStringLiteral("Export firmware project"));
  board_ = new QComboBox(this);
  board_->setObjectName(QStringLiteral("exportBoard"));
  try {
    boards_ = load_boards();
  } catch (const std::exception& e) {
    error_ = QString::fromStdString(e.what());
  }
  for (const Board& b : boards_)
    board_->addItem(QStringLiteral("%1 \u2014 %2").arg(QString::fromStdString(b.id), QString::fromStdString(b.description)),
                    QString::fromStdString(b.id));
  dir_ = new QLineEdit(this);
  dir_->setObjectName(QStringLiteral("exportDir"));
  auto* browse = new QPushButton(QStringLiteral("Browse..."), this);
  name_ = new QLineEdit(this);
  name_->setObjectName(QStringLiteral("exportName"));
  name_->setPlaceholderText(QStringLiteral("default: the model file's name"));
  vectors_ = new QSpinBox(this);
  vectors_->setObjectName(QStringLiteral("exportVectors"));
  vectors_->setRange(1, 1000);
  vectors_->setValue(QSettings().value(QStringLiteral("export/vectors"), 2).toInt());
  vectors_->setToolTip(QStringLiteral("Random test vectors embedded in the test application (and used by Validate)"));
  overwrite_ = new QCheckBox(QStringLiteral("Overwrite files in a non-empty folder"), this);
  target_ = new QComboBox(this);
  target_->setObjectName(QStringLiteral("validateTarget"));
  for (ValidateTarget t : {ValidateTarget::Host, ValidateTarget::QemuM4, ValidateTarget::QemuM7})
    target_->addItem(QLatin1String(target_name(t)), static_cast<int>(t));
  export_ = new QPushButton(QStringLiteral("&Export"), this);
  export_->setObjectName(QStringLiteral("exportButton"));
  export_->setDefault(true);
  validate_ = new QPushButton(QStringLiteral("&Validate"), this);
  validate_->setObjectName(QStringLiteral("validateButton"));
  validate_->setToolTip(QStringLiteral("Build and run the generated C code and compare it with the host runtime and the reference"));
  progress_ = new QProgressBar(this);
  progress_->setVisible(false);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  text_ = new QPlainTextEdit(this);
  text_->setObjectName(QStringLiteral("exportResult"));
  text_->setReadOnly(true);
  text_->setLineWrapMode(QPlainTextEdit::NoWrap);
  text_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  text_->setMinimumSize(640, 220);

  auto* dir_row = new QHBoxLayout;
  dir_row->addWidget(dir_, 1);
  dir_row->addWidget(browse);
  auto* form = new QFormLayout;
  form->addRow(QStringLiteral("&Board:"), board_);
  auto* dir_label = new QLabel(QStringLiteral("Output &folder:"), this);
  dir_label->setBuddy(dir_);  // a row holding a layout gets no buddy from QFormLayout
  form->addRow(dir_label, dir_row);
  form->addRow(QStringLiteral("Network &name:"), name_);
  form->addRow(QStringLiteral("&Test vectors:"), vectors_);
  form->addRow(QString(), overwrite_);
  use_data_ = new QCheckBox(this);
  use_data_->setObjectName(QStringLiteral("exportUseData"));
  use_data_->setVisible(false);
  form->addRow(QString(), use_data_);
  auto* validate_row = new QHBoxLayout;
  validate_row->addWidget(new QLabel(QStringLiteral("Validate on:"), this));
  validate_row->addWidget(target_);
  validate_row->addWidget(validate_);
  validate_row->addStretch();
  validate_row->addWidget(export_);
  auto* close = new QDialogButtonBox(QDialogButtonBox::Close, this);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addLayout(validate_row);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  layout->addWidget(text_, 1);
  layout->addWidget(close);

  const QString last_board = QSettings().value(QStringLiteral("export/board"), QStringLiteral("NUCLEO-F446RE")).toString();
  set_board(last_board);
  connect(board_, &QComboBox::currentIndexChanged, this, [this] { update_defaults(); });
  connect(name_, &QLineEdit::textEdited, this, [this] { update_defaults(); });
  connect(dir_, &QLineEdit::textEdited, this, [this] { dir_edited_ = true; });
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, QStringLiteral("Output folder"), QFileInfo(output_dir()).absolutePath());
    if (!d.isEmpty()) set_output_dir(d);
  });
  connect(export_, &QPushButton::clicked, this, &ExportDialog::start_export);
  connect(validate_, &QPushButton::clicked, this, &ExportDialog::start_validation);
  connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

ExportDialog::~ExportDialog() = default;

void ExportDialog::set_model(std::shared_ptr<const CompileResult> result, const QString& path) {
  if (path != model_path_) {
    dir_edited_ = false;
    name_->clear();
    text_->clear();
    status_->clear();
  }
  result_ = std::move(result);
  model_path_ = path;
  if (result_) name_->setPlaceholderText(QString::fromStdString(default_network_name(*result_)));
  export_->setEnabled(result_ != nullptr && !boards_.empty() && !busy_);
  validate_->setEnabled(result_ != nullptr && !busy_);
  update_defaults();
}

bool ExportDialog::set_board(const QString& id) {
  for (int i = 0; i < board_->count(); ++i)
    if (board_->itemData(i).toString().compare(id, Qt::CaseInsensitive) == 0) {
      board_->setCurrentIndex(i);
      return true;
    }
  return false;
}

QString ExportDialog::board() const { return board_->currentData().toString(); }

QStringList ExportDialog::boards() const {
  QStringList ids;
  for (const Board& b : boards_) ids << QString::fromStdString(b.id);
  return ids;
}

void ExportDialog::set_output_dir(const QString& dir) {
  dir_->setText(dir);
  dir_edited_ = true;
}

QString ExportDialog::output_dir() const { return dir_->text().trimmed(); }

void ExportDialog::set_network_name(const QString& name) {
  name_->setText(name);
  update_defaults();
}

QString ExportDialog::network_name() const {
  const QString n = name_->text().trimmed();
  return n.isEmpty() ? name_->placeholderText() : n;
}

void ExportDialog::set_vectors(int n) { vectors_->setValue(n); }
int ExportDialog::vectors() const { return vectors_->value(); }
void ExportDialog::set_overwrite(bool on) { overwrite_->setChecked(on); }

void ExportDialog::set_target(ValidateTarget t) { target_->setCurrentIndex(target_->findData(static_cast<int>(t))); }
ValidateTarget ExportDialog::target() const { return static_cast<ValidateTarget>(target_->currentData().toInt()); }

QMessageBox* ExportDialog::open_folder_box() const { return open_box_; }

QString ExportDialog::result_text() const { return text_->toPlainText(); }

// Until the user picks a folder: <model's folder>/<name>_<board>.
void ExportDialog::update_defaults() {
  if (dir_edited_ || model_path_.isEmpty()) return;
  const QString leaf = QStringLiteral("%1_%2").arg(network_name(), board().toLower().replace(QLatin1Char('-'), QLatin1Char('_')));
  dir_->setText(QDir(QFileInfo(model_path_).absolutePath()).filePath(leaf));
}

void ExportDialog::set_busy(bool on, const QString& text) {
  busy_ = on;
  progress_->setVisible(on);
  progress_->setRange(0, 0);  // the core reports no steps: an indeterminate bar
  export_->setEnabled(!on && result_ && !boards_.empty());
  validate_->setEnabled(!on && result_);
  status_->setText(text);
}

void ExportDialog::show_text(const QString& text) { text_->setPlainText(text); }

void ExportDialog::start_export() {
  if (busy_) return;
  if (!result_ || board().isEmpty() || output_dir().isEmpty()) {
    error_ = !result_ ? QStringLiteral("No model is open.") : board().isEmpty() ? QStringLiteral("No board selected.")
                                                                                : QStringLiteral("Choose an output folder.");
    status_->setText(error_);
    emit exportFinished(false);
    return;
  }
  QSettings settings;
  settings.setValue(QStringLiteral("export/board"), board());
  settings.setValue(QStringLiteral("export/vectors"), vectors());
  const QString dir = QDir(output_dir()).absolutePath();
  set_busy(true, QStringLiteral("Exporting to %1...").arg(dir));
  ProjectOptions po;
  po.name = network_name().toStdString();
  po.vectors = vectors();
  const std::string board_id = board().toStdString();
  const bool force = overwrite_->isChecked();
  QFuture<Outcome> future = QtConcurrent::run([r = result_, board_id, po, dir, force]() -> Outcome {
    try {
      const Board b = find_board(board_id);
      const Project p = make_project(*r, b, po);
      write_project(p.files, std::filesystem::path(dir.toStdString()), force);
      QString text = QStringLiteral("Exported network '%1' for %2 to %3 (%4 files, %5 test vector(s))\n\n")
                         .arg(QString::fromStdString(p.network.name), QString::fromStdString(b.id), dir)
                         .arg(p.files.size())
                         .arg(p.vectors);
      text += QString::fromStdString(fit_text(p.fit));
      text += QStringLiteral("\nBuild: cd %1 && make%2\n").arg(dir, b.emulated ? QStringLiteral(" && make run") : QStringLiteral(" && make flash"));
      return {true, text, {}};
    } catch (const std::exception& e) {
      return {false, {}, QString::fromStdString(e.what())};
    }
  });
  future.then(this, [this, dir](Outcome o) {
    set_busy(false, o.ok ? QStringLiteral("Exported to %1").arg(dir) : QStringLiteral("Export failed"));
    error_ = o.error;
    show_text(o.ok ? o.text : o.error);
    if (o.ok && open_prompt_) {
      if (open_box_) open_box_->deleteLater();
      open_box_ = new QMessageBox(QMessageBox::Information, QStringLiteral("Export done"),
                                  QStringLiteral("The project was written to\n%1\n\nOpen the folder?").arg(dir),
                                  QMessageBox::Open | QMessageBox::Close, this);
      open_box_->setObjectName(QStringLiteral("openFolderBox"));
      connect(open_box_, &QMessageBox::finished, this, [this, dir](int button) {
        if (button == QMessageBox::Open) QDesktopServices::openUrl(QUrl::fromLocalFile(dir));
        open_box_->deleteLater();
        open_box_ = nullptr;
      });
      open_box_->open();  // non-modal: the dialog stays usable (Validate)
    }
    emit exportFinished(o.ok);
  });
}

void ExportDialog::set_dataset(const DatasetChoice& d) {
  dataset_ = d;
  use_data_->setVisible(!d.random());
  use_data_->setText(QStringLiteral("Validate on the first N samples of %1").arg(d.text()));
  use_data_->setToolTip(d.paths());
  if (d.random()) use_data_->setChecked(false);
}
void ExportDialog::set_use_dataset(bool on) { use_data_->setChecked(on && !dataset_.random()); }
bool ExportDialog::use_dataset() const { return use_data_->isChecked() && !dataset_.random(); }

void ExportDialog::start_validation() {
  if (busy_) return;
  if (!result_) {
    error_ = QStringLiteral("No model is open.");
    status_->setText(error_);
    emit validationFinished(false);
    return;
  }
  ValidateOptions vo;
  vo.target = target();
  vo.name = network_name().toStdString();
  // Validate the exported project's sources when they are there (they may have been edited).
  const QString network = QDir(output_dir()).filePath(QStringLiteral("network"));
  if (!output_dir().isEmpty() && QFileInfo::exists(QDir(network).filePath(network_name() + QStringLiteral(".c"))))
    vo.network_dir = network.toStdString();
  const int n = vectors();
  set_busy(true, QStringLiteral("Validating on %1 (building and running the generated code)...").arg(QLatin1String(target_name(vo.target))));
  const DatasetChoice data = use_dataset() ? dataset_ : DatasetChoice{};
  const std::string model = model_path_.toStdString();
  QFuture<Outcome> future = QtConcurrent::run([r = result_, vo, n, data, model]() mutable -> Outcome {
    try {
      Labels labels, first;
      bool has_labels = false;
      if (auto d = open_dataset(data, model, labels, has_labels)) {
        check_dataset(*d, *r);
        const int64_t count = std::min<int64_t>(n, d->size());
        if (count == 0) throw ModelError(d->name() + ": no samples");
        vo.inputs = d->read(0, count);
        if (has_labels) {
          first = labels;
          first.index.resize(static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(labels.index.size()))));
          vo.labels = &first;
        }
      } else {
        vo.inputs = random_inputs(*r, 0, n);
      }
      const ValidateResult v = validate(*r, vo);
      return {v.pass(), QString::fromStdString(validate_text(*r, v)), {}};
    } catch (const std::exception& e) {
      return {false, {}, QString::fromStdString(e.what())};
    }
  });
  const QString where = QLatin1String(target_name(vo.target));
  future.then(this, [this, where](Outcome o) {
    const bool ran = o.error.isEmpty();
    set_busy(false, !ran ? QStringLiteral("Validation on %1 could not run").arg(where)
                         : o.ok ? QStringLiteral("Validation on %1: PASS (generated C matches)").arg(where)
                                : QStringLiteral("Validation on %1: MISMATCH").arg(where));
    error_ = o.error;
    show_text(ran ? o.text : o.error);
    emit validationFinished(o.ok);
  });
}

}  // namespace bitlens::gui
