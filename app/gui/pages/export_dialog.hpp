// The Export dialog: board (from the board database), output folder, network name and number of
// test vectors; Export writes the firmware project with the core export API (as `bitlens export`
// does) and offers to open the folder; Validate builds and runs the generated code on host,
// qemu-m4 or qemu-m7 (as `bitlens validate` does) and shows the validate table. Both run off the
// UI thread. Non-modal (open()), and every step is callable from code, so tests drive it.
#pragma once

#include <QDialog>
#include <memory>

#include "bitlens/boards.hpp"
#include "bitlens/validate.hpp"
#include "dataset_choice.hpp"

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QMessageBox;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
QT_END_NAMESPACE

namespace bitlens::gui {

class ExportDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ExportDialog(QWidget* parent = nullptr);
  ~ExportDialog() override;

  // The compiled model to export and the file it came from (for default names and folders).
  void set_model(std::shared_ptr<const CompileResult> result, const QString& path);

  // The form, settable from code.
  bool set_board(const QString& id);  // false when the database has no such board
  QString board() const;
  QStringList boards() const;
  void set_output_dir(const QString& dir);
  QString output_dir() const;
  void set_network_name(const QString& name);
  QString network_name() const;
  void set_vectors(int n);
  int vectors() const;
  void set_overwrite(bool on);
  void set_target(ValidateTarget t);
  ValidateTarget target() const;
  // Validate on the first N (= test vectors) samples of this dataset instead of random vectors,
  // with accuracy when it has labels (the Compare tab's choice; random: the option is off).
  void set_dataset(const DatasetChoice& d);
  void set_use_dataset(bool on);
  bool use_dataset() const;
  // After a successful export, ask whether to open the folder (on by default; tests turn it off).
  void set_open_folder_prompt(bool on) { open_prompt_ = on; }
  QMessageBox* open_folder_box() const;

  // Start in the background; exportFinished / validationFinished report the outcome.
  void start_export();
  void start_validation();
  bool busy() const { return busy_; }
  QString last_error() const { return error_; }
  QString result_text() const;  // the export summary or the validate table shown in the dialog

 signals:
  void exportFinished(bool ok);
  void validationFinished(bool pass);

 private:
  void set_busy(bool on, const QString& text);
  void update_defaults();
  void show_text(const QString& text);

  QComboBox* board_;
  QLineEdit* dir_;
  QLineEdit* name_;
  QSpinBox* vectors_;
  QCheckBox* overwrite_;
  QComboBox* target_;
  QCheckBox* use_data_;
  DatasetChoice dataset_;
  QPushButton* export_;
  QPushButton* validate_;
  QProgressBar* progress_;
  QLabel* status_;
  QPlainTextEdit* text_;
  QMessageBox* open_box_ = nullptr;

  std::shared_ptr<const CompileResult> result_;
  QString model_path_;
  QString error_;
  std::vector<Board> boards_;
  bool busy_ = false;
  bool open_prompt_ = true;
  bool dir_edited_ = false;
};

}  // namespace bitlens::gui
