// The "Export weights" dialog: the effective weights of the whole model or of one layer
// (bitlens/weights.hpp, as `bitlens weights` writes them) in a chosen format and folder.
// Writing is quick (constants only), so it runs on the UI thread. Non-modal, every step
// callable from code, so tests drive it.
#pragma once

#include <QDialog>
#include <memory>

#include "bitlens/compiler.hpp"

QT_BEGIN_NAMESPACE
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
QT_END_NAMESPACE

namespace bitlens::gui {

class WeightsDialog : public QDialog {
  Q_OBJECT
 public:
  explicit WeightsDialog(QWidget* parent = nullptr);

  void set_model(std::shared_ptr<const CompileResult> result, const QString& path);
  void set_layer(const QString& layer);  // empty: every layer
  QString layer() const { return layer_; }
  void set_format(const QString& format);  // "npy", "c" or "json"
  QString format() const;
  void set_output_dir(const QString& dir);
  QString output_dir() const;
  void set_overwrite(bool on);

  // Writes the files; false with last_error() set when it could not (nothing is then written).
  bool write();
  QString last_error() const { return error_; }
  QString result_text() const;

 private:
  void update_default_dir();

  QLabel* what_;
  QComboBox* format_;
  QLineEdit* dir_;
  QCheckBox* overwrite_;
  QPlainTextEdit* text_;
  std::shared_ptr<const CompileResult> result_;
  QString model_path_, layer_, error_;
  bool dir_edited_ = false;
};

}  // namespace bitlens::gui
