// The Compare tab: the open model as saved against pad_values overrides (-1/0/+1) and other model
// files, side by side (core compare_variants, run off the UI thread in batches, cancellable): a
// per-layer table with one column per variant coloured by kernel class (differences highlighted,
// reason codes on hover), the functional agreement figures, charts of MACC/ROM/RAM per variant,
// Markdown/CSV/JSON export. On random samples or the user's dataset (.npy + labels, image folder);
// with labels also accuracy rows and chart, a confusion matrix and thumbnails of the samples the
// variants classify differently.
#pragma once

#include <QWidget>
#include <array>
#include <atomic>
#include <memory>

#include "bitlens/compare.hpp"
#include "dataset_choice.hpp"

QT_BEGIN_NAMESPACE
class QChartView;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QProgressBar;
class QTimer;
class QLabel;
class QListWidget;
class QPushButton;
class QSplitter;
class QTableWidget;
QT_END_NAMESPACE

namespace bitlens::gui {

class CompareTableModel;

class ComparePage : public QWidget {
  Q_OBJECT
 public:
  enum class ExportFormat { Markdown, Csv, Json };
  // The pad_values of the three checkboxes (columns "pad=-1", "pad=0", "pad=1").
  static const std::array<float, 3> kPadValues;

  explicit ComparePage(QWidget* parent = nullptr);
  ~ComparePage() override;

  // The model the variants are built from; compares again (now when the tab is visible,
  // otherwise the next time it is shown). "" clears the page.
  void set_model(const QString& path);
  QString model() const { return model_; }

  // Variant selection (the checkboxes and the file list).
  void set_saved_enabled(bool on);
  void set_pad_enabled(float pad, bool on);
  void add_files(const QStringList& paths);
  void clear_files();
  QStringList files() const { return files_; }
  // View > Prefer RAM over Speed: every variant is compiled with it, as the analysis is, so the
  // RAM and instruction columns describe the kernels Analyze shows. Compares again.
  void set_prefer_ram(bool on);
  bool prefer_ram() const { return prefer_ram_; }
  std::vector<VariantSpec> variant_specs() const;

  // The samples the variants run on: random (samples and images empty), a .npy with optional
  // labels, or an image folder (sub-folders = classes); scale/offset as --scale/--offset.
  // Remembered per model file (QSettings "compare/datasets/<model path>") and restored by
  // set_model.
  using DatasetChoice = gui::DatasetChoice;
  void set_dataset(const DatasetChoice& d);  // remembers it and compares again
  DatasetChoice dataset() const { return dataset_; }
  static DatasetChoice remembered_dataset(const QString& model);

  // A comparison runs in batches; the bar shows the samples done, Cancel stops it.
  QProgressBar* progress_bar() const { return progress_; }
  void cancel();

  // With labels: the confusion matrix (rows = labels, columns = predictions) of one variant.
  QTableWidget* confusion_table() const { return confusion_; }
  void show_confusion(int variant);

  // Samples on which the variants predict different classes (classifiers): a thumbnail each for
  // image samples, the predictions per variant in the item's text and tooltip.
  QListWidget* disagreement_list() const { return disagreements_; }

  // Starts comparing now (in the background); comparisonFinished reports the outcome.
  void run();
  bool busy() const { return busy_; }
  const CompareResult* result() const { return result_.get(); }
  QString error() const { return error_; }
  QString notes_text() const;

  // One table, one column per variant: the cost and agreement rows, then a row per layer.
  // The widget shows table_model() (column 0 of which is the row headers); exports write the model.
  QTableWidget* table() const { return layers_; }
  CompareTableModel* table_model() const { return table_model_; }
  int layer_rows() const;                      // the last rows are layers
  int row_of(const QString& title) const;      // a layer name or a metric ("cosine"); -1 if none
  QChartView* macc_chart() const { return macc_; }
  QChartView* rom_chart() const { return rom_; }
  QChartView* ram_chart() const { return ram_; }
  QChartView* agreement_chart() const { return agreement_; }  // cosine, and accuracy with labels

  // The table, costs and agreement: to_csv / to_json_table of table_model(); Markdown adds a
  // heading, the notes and what the markers mean above to_markdown's table.
  QString text(ExportFormat format) const;
  QString export_to(const QString& path, ExportFormat format) const;  // "" on success, else the error

 signals:
  void comparisonFinished(bool ok);

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  void selection_changed();
  void show_result();
  void clear_charts();
  void export_dialog(ExportFormat format);
  void pick_dataset(const QString& what);
  void show_disagreements();

  QCheckBox* saved_;
  std::array<QCheckBox*, 3> pads_;
  QListWidget* file_list_;
  QPushButton* add_;
  QPushButton* clear_;
  QPushButton* md_;
  QPushButton* csv_;
  QPushButton* json_;
  QLabel* status_;
  QLabel* notes_;
  CompareTableModel* table_model_;
  QTableWidget* layers_;
  QSplitter* split_;
  QChartView* macc_;
  QChartView* rom_;
  QChartView* ram_;
  QChartView* agreement_;
  QLabel* data_;
  QPushButton* samples_btn_;
  QPushButton* labels_btn_;
  QPushButton* images_btn_;
  QPushButton* random_btn_;
  QDoubleSpinBox* scale_;
  QDoubleSpinBox* offset_;
  QProgressBar* progress_;
  QPushButton* cancel_btn_;
  QWidget* confusion_box_;
  QComboBox* confusion_variant_;
  QTableWidget* confusion_;
  QListWidget* disagreements_;
  QLabel* disagreements_title_;
  DatasetChoice dataset_;
  // Shared with the worker of the running comparison: progress in samples, and the cancel request.
  struct RunState {
    std::atomic<int64_t> done{0}, total{0};
    std::atomic<bool> cancel{false};
  };
  std::shared_ptr<RunState> run_state_;
  QTimer* progress_timer_;

  QString model_;
  QStringList files_;
  std::shared_ptr<const CompareResult> result_;
  QString error_;
  quint64 generation_ = 0;
  bool busy_ = false;
  bool dirty_ = false;
  bool prefer_ram_ = false;
};

}  // namespace bitlens::gui
