// Compare tab (see compare_page.hpp).
#include "pages/compare_page.hpp"

#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QProgressBar>
#include <QSettings>
#include <QTimer>
#include <QUrl>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QIcon>
#include <QImage>
#include <QListWidget>
#include <QPixmap>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QValueAxis>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "bitlens/dataset.hpp"
#include "bitlens/npy.hpp"
#include "image_dataset.hpp"
#include "layer_text.hpp"
#include "models/compare_model.hpp"
#include "models/table_export.hpp"
#include "palette.hpp"

namespace bitlens::gui {

const std::array<float, 3> ComparePage::kPadValues = {-1.0f, 0.0f, 1.0f};

namespace {

QString pad_label(float p) { return QStringLiteral("pad=") + short_number(static_cast<double>(p)); }

// The widget shows the model cell by cell, column 0 as the row headers: the page hands out a
// QTableWidget (its item API is what callers read), and a QTableWidget cannot take another model.
void fill_item(const QModelIndex& i, QTableWidgetItem* item) {
  for (int role : {Qt::DisplayRole, Qt::ToolTipRole, Qt::FontRole, Qt::BackgroundRole, Qt::ForegroundRole,
                   Qt::TextAlignmentRole}) {
    const QVariant v = i.data(role);
    if (v.isValid()) item->setData(role, v);
  }
  const QVariant kernel = i.data(KernelClassRole);
  if (kernel.isValid()) item->setData(Qt::UserRole, kernel);  // where QTableWidget users look for it
}

void fill_table(QTableWidget* t, const QAbstractItemModel& m) {
  t->clear();
  t->setRowCount(0);
  t->setColumnCount(std::max(0, m.columnCount() - 1));
  QStringList labels;
  for (int c = 1; c < m.columnCount(); ++c) labels << m.headerData(c, Qt::Horizontal).toString();
  t->setHorizontalHeaderLabels(labels);
  t->setRowCount(m.rowCount());
  for (int r = 0; r < m.rowCount(); ++r) {
    auto* head = new QTableWidgetItem;
    fill_item(m.index(r, 0), head);
    t->setVerticalHeaderItem(r, head);
    for (int c = 1; c < m.columnCount(); ++c) {
      auto* item = new QTableWidgetItem;
      fill_item(m.index(r, c), item);
      t->setItem(r, c - 1, item);
    }
  }
}

void set_chart(QChartView* view, QChart* c) {
  QChart* old = view->chart();  // setChart does not delete the previous chart
  view->setChart(c);
  delete old;
}

// A bar chart with one category per variant and one bar set per (name, values) pair.
QChart* bar_chart(const QString& title, const QString& unit, const QStringList& variants,
                  const std::vector<std::pair<QString, std::vector<double>>>& sets, int first_colour) {
  QChart* c = new_chart(title);
  auto* series = new QBarSeries;
  double max = 0;
  for (size_t i = 0; i < sets.size(); ++i) {
    auto* set = new QBarSet(sets[i].first);
    set->setColor(series_colour(first_colour + static_cast<int>(i)));
    for (double v : sets[i].second) {
      *set << v;
      max = std::max(max, v);
    }
    series->append(set);
  }
  c->addSeries(series);
  const QColor text = QApplication::palette().color(QPalette::Text);
  // Short categories so they fit under narrow bars: "pad=-1" -> "p-1", long file names cut.
  QStringList short_names;
  for (const QString& v : variants)
    short_names << (v.startsWith(QLatin1String("pad=")) ? QStringLiteral("p") + v.mid(4) : v.left(8));
  short_names.removeDuplicates();
  auto* x = new QBarCategoryAxis;
  x->append(short_names.size() == variants.size() ? short_names : variants);
  x->setLabelsColor(text);
  QFont small = x->labelsFont();
  small.setPointSizeF(small.pointSizeF() * 0.7);
  x->setLabelsFont(small);
  auto* y = new QValueAxis;
  y->setTitleText(unit);
  y->setLabelFormat(QStringLiteral("%.0f"));
  if (unit == QLatin1String("%")) {
    y->setRange(0, 100);
  } else {
    y->setRange(0, max > 0 ? max * 1.05 : 1);
    y->applyNiceNumbers();
  }
  y->setLabelsFont(small);
  y->setLabelsColor(text);
  y->setTitleBrush(text);
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);
  series->attachAxis(x);
  series->attachAxis(y);
  if (sets.size() == 1) c->legend()->setVisible(false);
  return c;
}

}  // namespace

ComparePage::ComparePage(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("comparePage"));
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("compareStatus"));
  status_->setWordWrap(true);
  status_->setMinimumWidth(100);
  saved_ = new QCheckBox(QStringLiteral("as saved"), this);
  saved_->setObjectName(QStringLiteral("compareSaved"));
  saved_->setChecked(true);
  saved_->setToolTip(QStringLiteral("The model as saved: the reference column the others are compared with"));
  const QStringList pad_text = {QStringLiteral("pad_values \u22121"), QStringLiteral("0"), QStringLiteral("+1")};
  for (size_t i = 0; i < pads_.size(); ++i) {
    pads_[i] = new QCheckBox(pad_text[static_cast<int>(i)], this);
    pads_[i]->setObjectName(QStringLiteral("comparePad%1").arg(i));
    pads_[i]->setChecked(true);
    pads_[i]->setToolTip(QStringLiteral("Every conv layer's pad_values overridden with %1 (without retraining)").arg(short_number(static_cast<double>(kPadValues[i]))));
  }
  add_ = new QPushButton(QStringLiteral("Add files..."), this);
  add_->setToolTip(QStringLiteral("Compare with other model files (layers matched by name)"));
  clear_ = new QPushButton(QStringLiteral("Clear files"), this);
  file_list_ = new QListWidget(this);
  file_list_->setMaximumHeight(44);
  file_list_->setFlow(QListView::LeftToRight);
  file_list_->setVisible(false);
  clear_->setVisible(false);
  md_ = new QPushButton(QStringLiteral("Markdown..."), this);
  csv_ = new QPushButton(QStringLiteral("CSV..."), this);
  json_ = new QPushButton(QStringLiteral("JSON..."), this);
  md_->setToolTip(QStringLiteral("Export the comparison as Markdown"));
  csv_->setToolTip(QStringLiteral("Export the comparison as CSV"));
  json_->setToolTip(QStringLiteral("Export the comparison table as JSON (one object per row)"));
  for (QPushButton* b : {md_, csv_, json_}) b->setEnabled(false);

  data_ = new QLabel(this);
  data_->setObjectName(QStringLiteral("compareData"));
  // A long file name must not widen the window: the label shrinks (full text in the tooltip).
  data_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  data_->setMinimumWidth(24);
  samples_btn_ = new QPushButton(QStringLiteral("Samples..."), this);
  samples_btn_->setToolTip(QStringLiteral("Run the variants on your samples: one .npy of shape (N, ...) (any numeric dtype)"));
  labels_btn_ = new QPushButton(QStringLiteral("Labels..."), this);
  labels_btn_->setToolTip(QStringLiteral("Class of each sample (indices or one-hot): adds accuracy and the confusion matrix"));
  images_btn_ = new QPushButton(QStringLiteral("Images..."), this);
  images_btn_->setToolTip(QStringLiteral("A folder with one sub-folder of images per class (as Keras' image_dataset_from_directory)"));
  random_btn_ = new QPushButton(QStringLiteral("Random"), this);
  random_btn_->setToolTip(QStringLiteral("Back to 64 random samples in [-1, 1]"));
  scale_ = new QDoubleSpinBox(this);
  offset_ = new QDoubleSpinBox(this);
  for (QDoubleSpinBox* b : {scale_, offset_}) {
    b->setDecimals(8);
    b->setRange(-1e6, 1e6);
    b->setKeyboardTracking(false);
    b->setMaximumWidth(86);
  }
  scale_->setValue(1.0);
  scale_->setToolTip(QStringLiteral("Every input value is multiplied by this (uint8 images: 0.00392157 gives [0, 1])"));
  offset_->setToolTip(QStringLiteral("...then this is added (Keras Rescaling(scale, offset))"));
  progress_ = new QProgressBar(this);
  progress_->setObjectName(QStringLiteral("compareProgress"));
  progress_->setVisible(false);
  progress_->setMaximumWidth(160);
  cancel_btn_ = new QPushButton(QStringLiteral("Cancel"), this);
  cancel_btn_->setObjectName(QStringLiteral("compareCancel"));
  cancel_btn_->setVisible(false);
  progress_timer_ = new QTimer(this);
  progress_timer_->setInterval(100);
  connect(progress_timer_, &QTimer::timeout, this, [this] {
    if (!run_state_ || run_state_->total == 0) return;
    const int64_t total = run_state_->total;
    progress_->setRange(0, static_cast<int>(std::min<int64_t>(total, 1 << 30)));
    progress_->setValue(static_cast<int>(std::min<int64_t>(run_state_->done, 1 << 30)));
  });

  auto* data_row = new QHBoxLayout;
  data_row->addWidget(new QLabel(QStringLiteral("Data:"), this));
  data_row->addWidget(data_, 1);
  data_row->addWidget(samples_btn_);
  data_row->addWidget(labels_btn_);
  data_row->addWidget(images_btn_);
  data_row->addWidget(random_btn_);
  // x * scale + offset, as prefixes so the row stays narrow.
  scale_->setPrefix(QStringLiteral("\u00d7"));
  offset_->setPrefix(QStringLiteral("+"));
  data_row->addWidget(scale_);
  data_row->addWidget(offset_);
  data_row->addWidget(progress_);
  data_row->addWidget(cancel_btn_);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(QStringLiteral("Variants:"), this));
  controls->addWidget(saved_);
  for (QCheckBox* c : pads_) controls->addWidget(c);
  controls->addWidget(add_);
  controls->addWidget(clear_);
  controls->addWidget(file_list_, 1);
  controls->addStretch();
  auto* status_row = new QHBoxLayout;
  status_row->addWidget(status_, 1);
  status_row->addWidget(new QLabel(QStringLiteral("Export:"), this));
  status_row->addWidget(md_);
  status_row->addWidget(csv_);
  status_row->addWidget(json_);

  notes_ = new QLabel(this);
  notes_->setObjectName(QStringLiteral("compareNotes"));
  notes_->setWordWrap(true);
  notes_->setVisible(false);
  notes_->setStyleSheet(QStringLiteral("QLabel { border: 1px solid %1; padding: 3px; }").arg(highlight_colour().name()));

  table_model_ = new CompareTableModel(this);
  layers_ = new QTableWidget(this);
  layers_->setObjectName(QStringLiteral("compareLayers"));
  layers_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layers_->setSelectionMode(QAbstractItemView::SingleSelection);
  layers_->setMouseTracking(true);
  layers_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  layers_->verticalHeader()->setDefaultSectionSize(layers_->fontMetrics().height() + 6);
  layers_->setWordWrap(false);

  auto chart_view = [this](const QString& name) {
    auto* v = new QChartView(this);
    v->setObjectName(name);
    v->setRenderHint(QPainter::Antialiasing);
    v->setMinimumSize(140, 120);
    return v;
  };
  macc_ = chart_view(QStringLiteral("compareMaccChart"));
  rom_ = chart_view(QStringLiteral("compareRomChart"));
  ram_ = chart_view(QStringLiteral("compareRamChart"));
  agreement_ = chart_view(QStringLiteral("compareAgreementChart"));
  auto* charts = new QWidget(this);
  auto* grid = new QGridLayout(charts);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(2);
  grid->addWidget(macc_, 0, 0);
  grid->addWidget(rom_, 0, 1);
  grid->addWidget(ram_, 0, 2);
  grid->addWidget(agreement_, 0, 3);
  confusion_box_ = new QWidget(charts);
  auto* cb = new QVBoxLayout(confusion_box_);
  cb->setContentsMargins(0, 0, 0, 0);
  confusion_variant_ = new QComboBox(confusion_box_);
  confusion_variant_->setObjectName(QStringLiteral("compareConfusionVariant"));
  confusion_ = new QTableWidget(confusion_box_);
  confusion_->setObjectName(QStringLiteral("compareConfusion"));
  confusion_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  confusion_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  confusion_->verticalHeader()->setDefaultSectionSize(confusion_->fontMetrics().height() + 4);
  auto* ctitle = new QLabel(QStringLiteral("Confusion (rows: label, columns: prediction)"), confusion_box_);
  cb->addWidget(ctitle);
  cb->addWidget(confusion_variant_);
  cb->addWidget(confusion_, 1);
  confusion_box_->setVisible(false);
  grid->addWidget(confusion_box_, 0, 4);
  disagreements_title_ = new QLabel(charts);
  disagreements_ = new QListWidget(charts);
  disagreements_->setObjectName(QStringLiteral("compareDisagreements"));
  disagreements_->setViewMode(QListView::IconMode);
  disagreements_->setFlow(QListView::LeftToRight);
  disagreements_->setWrapping(false);
  disagreements_->setIconSize(QSize(48, 48));
  disagreements_->setMaximumHeight(100);
  disagreements_->setMovement(QListView::Static);
  disagreements_title_->setVisible(false);
  disagreements_->setVisible(false);
  grid->addWidget(disagreements_title_, 1, 0, 1, 5);
  grid->addWidget(disagreements_, 2, 0, 1, 5);
  split_ = new QSplitter(Qt::Vertical, this);
  QSplitter* split = split_;
  split->addWidget(layers_);
  split->addWidget(charts);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  split->setChildrenCollapsible(false);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addLayout(data_row);
  layout->addLayout(status_row);
  layout->addWidget(notes_);
  layout->addWidget(split, 1);

  connect(saved_, &QCheckBox::toggled, this, [this] { selection_changed(); });
  for (QCheckBox* c : pads_) connect(c, &QCheckBox::toggled, this, [this] { selection_changed(); });
  connect(add_, &QPushButton::clicked, this, [this] {
    const QString dir = model_.isEmpty() ? QString() : QFileInfo(model_).absolutePath();
    const QStringList paths = QFileDialog::getOpenFileNames(this, QStringLiteral("Add models to compare"), dir,
                                                            QStringLiteral("Keras models (*.h5 *.hdf5 *.keras);;All files (*)"));
    if (!paths.isEmpty()) add_files(paths);
  });
  connect(clear_, &QPushButton::clicked, this, [this] { clear_files(); });
  connect(md_, &QPushButton::clicked, this, [this] { export_dialog(ExportFormat::Markdown); });
  connect(csv_, &QPushButton::clicked, this, [this] { export_dialog(ExportFormat::Csv); });
  connect(json_, &QPushButton::clicked, this, [this] { export_dialog(ExportFormat::Json); });
  connect(samples_btn_, &QPushButton::clicked, this, [this] { pick_dataset(QStringLiteral("samples")); });
  connect(labels_btn_, &QPushButton::clicked, this, [this] { pick_dataset(QStringLiteral("labels")); });
  connect(images_btn_, &QPushButton::clicked, this, [this] { pick_dataset(QStringLiteral("images")); });
  connect(random_btn_, &QPushButton::clicked, this, [this] { set_dataset({}); });
  for (QDoubleSpinBox* b : {scale_, offset_})
    connect(b, &QDoubleSpinBox::valueChanged, this, [this] {
      DatasetChoice d = dataset_;
      d.scale = scale_->value();
      d.offset = offset_->value();
      if (d.scale != dataset_.scale || d.offset != dataset_.offset) set_dataset(d);
    });
  connect(cancel_btn_, &QPushButton::clicked, this, [this] { cancel(); });
  connect(confusion_variant_, &QComboBox::currentIndexChanged, this, [this](int i) { show_confusion(i); });
  clear_charts();
  data_->setText(dataset_.text());
  data_->setToolTip(dataset_.paths());
  status_->setText(QStringLiteral("Open a model to compare its pad_values variants."));
}

namespace {
QString settings_key(const QString& model) {
  return QStringLiteral("compare/datasets/") +
         QString::fromLatin1(QUrl::toPercentEncoding(QFileInfo(model).absoluteFilePath()));
}
}  // namespace

DatasetChoice ComparePage::remembered_dataset(const QString& model) {
  QSettings st;
  const QString k = settings_key(model);
  DatasetChoice d;
  d.samples = st.value(k + QStringLiteral("/samples")).toString();
  d.labels = st.value(k + QStringLiteral("/labels")).toString();
  d.images = st.value(k + QStringLiteral("/images")).toString();
  // A value that is not a number (a hand-edited settings file) falls back to no scaling: a
  // silent 0 would zero every input.
  bool scale_ok = false, offset_ok = false;
  const double scale = st.value(k + QStringLiteral("/scale"), 1.0).toDouble(&scale_ok);
  const double offset = st.value(k + QStringLiteral("/offset"), 0.0).toDouble(&offset_ok);
  d.scale = scale_ok ? scale : 1.0;
  d.offset = offset_ok ? offset : 0.0;
  return d;
}

void ComparePage::set_dataset(const DatasetChoice& d) {
  dataset_ = d;
  if (!model_.isEmpty()) {
    QSettings st;
    const QString k = settings_key(model_);
    st.setValue(k + QStringLiteral("/samples"), d.samples);
    st.setValue(k + QStringLiteral("/labels"), d.labels);
    st.setValue(k + QStringLiteral("/images"), d.images);
    st.setValue(k + QStringLiteral("/scale"), d.scale);
    st.setValue(k + QStringLiteral("/offset"), d.offset);
  }
  const QSignalBlocker b1(scale_), b2(offset_);
  scale_->setValue(d.scale);
  offset_->setValue(d.offset);
  data_->setText(d.text());
  data_->setToolTip(d.paths());
  labels_btn_->setEnabled(!d.samples.isEmpty());
  selection_changed();
}

void ComparePage::pick_dataset(const QString& what) {
  const QString dir = model_.isEmpty() ? QString() : QFileInfo(model_).absolutePath();
  DatasetChoice d = dataset_;
  if (what == QLatin1String("images")) {
    const QString f = QFileDialog::getExistingDirectory(this, QStringLiteral("Image folder (one sub-folder per class)"), dir);
    if (f.isEmpty()) return;
    d.images = f;
    d.samples.clear();
    d.labels.clear();
  } else {
    const QString f = QFileDialog::getOpenFileName(this, what == QLatin1String("labels") ? QStringLiteral("Labels (.npy)")
                                                                                       : QStringLiteral("Samples (.npy)"),
                                                   dir, QStringLiteral("NumPy arrays (*.npy);;All files (*)"));
    if (f.isEmpty()) return;
    if (what == QLatin1String("labels")) {
      d.labels = f;
    } else {
      d.samples = f;
      d.images.clear();
    }
  }
  set_dataset(d);
}

void ComparePage::cancel() {
  if (run_state_) run_state_->cancel = true;
}

namespace {

// A sample of the dataset as a picture, for thumbnails: an image file as it is, a .npy row of
// shape (H, W, 1 or 3) stretched from its value range to 0..255; null for other samples.
QImage sample_picture(const DatasetChoice& d, int64_t index) {
  try {
    if (!d.images.isEmpty()) {
      const images::ImageFolder f = images::scan_image_folder(d.images.toStdString());
      if (index < 0 || index >= static_cast<int64_t>(f.images.size())) return {};
      return QImage(QString::fromStdString(f.images[static_cast<size_t>(index)].file));
    }
    if (d.samples.isEmpty()) return {};
    NpyRows rows(d.samples.toStdString());
    const Array a = rows.read(index, 1);
    if (a.shape.size() != 4 || (a.shape[3] != 1 && a.shape[3] != 3)) return {};
    const int h = static_cast<int>(a.shape[1]), w = static_cast<int>(a.shape[2]), c = static_cast<int>(a.shape[3]);
    const auto [lo, hi] = std::minmax_element(a.data.begin(), a.data.end());
    const float span = *hi > *lo ? *hi - *lo : 1.0f;
    QImage img(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        auto at = [&](int k) {
          return static_cast<int>(255.0f * (a.data[static_cast<size_t>((y * w + x) * c + k)] - *lo) / span + 0.5f);
        };
        img.setPixel(x, y, c == 1 ? qRgb(at(0), at(0), at(0)) : qRgb(at(0), at(1), at(2)));
      }
    return img;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

void ComparePage::show_disagreements() {
  disagreements_->clear();
  const bool any = result_ && !result_->disagreements.empty();
  disagreements_->setVisible(any);
  disagreements_title_->setVisible(any);
  if (!any) return;
  const CompareResult& r = *result_;
  disagreements_title_->setText(QStringLiteral("%1 sample(s) on which the variants predict different classes%2:")
                                    .arg(r.disagreement_count)
                                    .arg(r.disagreement_count > static_cast<int64_t>(r.disagreements.size())
                                             ? QStringLiteral(" (the first %1 shown)").arg(r.disagreements.size())
                                             : QString()));
  for (const auto& d : r.disagreements) {
    QStringList preds, tip;
    tip << QStringLiteral("sample %1").arg(d.sample);
    if (d.label >= 0) tip << QStringLiteral("label: %1").arg(d.label);
    for (size_t v = 0; v < d.predicted.size(); ++v) {
      preds << QString::number(d.predicted[v]);
      tip << QStringLiteral("%1 predicts %2").arg(QString::fromStdString(r.variants[v].label)).arg(d.predicted[v]);
    }
    auto* item = new QListWidgetItem(QStringLiteral("#%1: %2").arg(d.sample).arg(preds.join(QLatin1Char('/'))), disagreements_);
    item->setToolTip(tip.join(QLatin1Char('\n')));
    item->setData(Qt::UserRole, QVariant::fromValue<qlonglong>(d.sample));
    const QImage pic = sample_picture(dataset_, d.sample);
    if (!pic.isNull())
      item->setIcon(QIcon(QPixmap::fromImage(pic.scaled(48, 48, Qt::KeepAspectRatio,
                                                        pic.width() < 48 ? Qt::FastTransformation : Qt::SmoothTransformation))));
  }
}

void ComparePage::show_confusion(int variant) {
  confusion_->clear();
  confusion_->setRowCount(0);
  confusion_->setColumnCount(0);
  if (!result_ || variant < 0 || static_cast<size_t>(variant) >= result_->variants.size()) return;
  const auto& acc = result_->variants[static_cast<size_t>(variant)].accuracy;
  if (!acc) return;
  const int k = static_cast<int>(acc->classes);
  confusion_->setRowCount(k);
  confusion_->setColumnCount(k);
  QStringList classes;
  for (int i = 0; i < k; ++i) classes << QString::number(i);  // class indices, as the labels give them
  confusion_->setHorizontalHeaderLabels(classes);
  confusion_->setVerticalHeaderLabels(classes);
  int64_t most = 1;
  for (int64_t v : acc->confusion) most = std::max(most, v);
  const QColor hi = highlight_colour();
  for (int l = 0; l < k; ++l)
    for (int p = 0; p < k; ++p) {
      const int64_t n = acc->confusion[static_cast<size_t>(l * k + p)];
      auto* item = new QTableWidgetItem(QString::number(n));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      QColor c = l == p ? QColor(0x4c, 0xaf, 0x50) : hi;
      c.setAlphaF(n == 0 ? 0.0f : 0.15f + 0.6f * static_cast<float>(n) / static_cast<float>(most));
      item->setBackground(c);
      item->setToolTip(QStringLiteral("label %1, predicted %2: %3 sample(s)").arg(l).arg(p).arg(n));
      confusion_->setItem(l, p, item);
    }
}

ComparePage::~ComparePage() {
  ++generation_;
  cancel();
}

void ComparePage::set_model(const QString& path) {
  if (path != model_) {
    dataset_ = path.isEmpty() ? DatasetChoice{} : remembered_dataset(path);
    const QSignalBlocker b1(scale_), b2(offset_);
    scale_->setValue(dataset_.scale);
    offset_->setValue(dataset_.offset);
    data_->setText(dataset_.text());
    data_->setToolTip(dataset_.paths());
    labels_btn_->setEnabled(!dataset_.samples.isEmpty());
  }
  model_ = path;
  dirty_ = true;
  if (path.isEmpty()) {
    ++generation_;
    busy_ = false;
    result_.reset();
    show_result();
    return;
  }
  if (isVisible()) run();
}

void ComparePage::set_saved_enabled(bool on) { saved_->setChecked(on); }

void ComparePage::set_prefer_ram(bool on) {
  if (on == prefer_ram_) return;
  prefer_ram_ = on;
  selection_changed();
}

void ComparePage::set_pad_enabled(float pad, bool on) {
  for (size_t i = 0; i < kPadValues.size(); ++i)
    if (kPadValues[i] == pad) pads_[i]->setChecked(on);
}

void ComparePage::add_files(const QStringList& paths) {
  for (const QString& p : paths) {
    const QString abs = QFileInfo(p).absoluteFilePath();
    if (files_.contains(abs)) continue;
    files_ << abs;
    auto* item = new QListWidgetItem(QFileInfo(abs).fileName(), file_list_);
    item->setToolTip(abs);
  }
  file_list_->setVisible(!files_.isEmpty());
  clear_->setVisible(!files_.isEmpty());
  selection_changed();
}

void ComparePage::clear_files() {
  files_.clear();
  file_list_->clear();
  file_list_->setVisible(false);
  clear_->setVisible(false);
  selection_changed();
}

void ComparePage::selection_changed() {
  dirty_ = true;
  if (!model_.isEmpty() && isVisible()) run();
}

std::vector<VariantSpec> ComparePage::variant_specs() const {
  std::vector<VariantSpec> specs;
  if (model_.isEmpty()) return specs;
  const std::string file = model_.toStdString();
  if (saved_->isChecked()) specs.push_back({"saved", file, {}});
  for (size_t i = 0; i < pads_.size(); ++i) {
    if (!pads_[i]->isChecked()) continue;
    VariantSpec s{pad_label(kPadValues[i]).toStdString(), file, {}};
    s.options.pad_values = kPadValues[i];
    specs.push_back(std::move(s));
  }
  for (const QString& f : files_) specs.push_back({QFileInfo(f).fileName().toStdString(), f.toStdString(), {}});
  for (auto& s : specs) s.options.prefer_ram = prefer_ram_;
  return specs;
}

void ComparePage::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (dirty_ && !model_.isEmpty()) run();
}

void ComparePage::run() {
  dirty_ = false;
  const quint64 gen = ++generation_;
  const std::vector<VariantSpec> specs = variant_specs();
  if (specs.empty()) {
    busy_ = false;
    result_.reset();
    error_ = model_.isEmpty() ? QString() : QStringLiteral("Pick at least one variant.");
    show_result();
    emit comparisonFinished(false);
    return;
  }
  busy_ = true;
  status_->setText(QStringLiteral("Comparing %1 variant(s) of %2...").arg(specs.size()).arg(QFileInfo(model_).fileName()));
  if (run_state_) run_state_->cancel = true;  // a comparison still running is superseded
  run_state_ = std::make_shared<RunState>();
  progress_->setRange(0, 0);
  progress_->setValue(0);
  progress_->setVisible(true);
  cancel_btn_->setVisible(true);
  progress_timer_->start();
  using Outcome = std::pair<std::shared_ptr<const CompareResult>, QString>;
  const DatasetChoice d = dataset_;
  const std::string model = model_.toStdString();
  QFuture<Outcome> future = QtConcurrent::run([specs, d, model, state = run_state_]() -> Outcome {
    try {
      CompareOptions o;
      Labels labels;
      bool has_labels = false;
      std::unique_ptr<Dataset> data = open_dataset(d, model, labels, has_labels);
      if (has_labels) o.labels = &labels;
      o.dataset = data.get();
      // The worker only writes numbers; the page's timer reads them (no object crosses threads).
      o.progress = [state](int64_t done, int64_t total) {
        state->total = total;
        state->done = done;
        return !state->cancel;
      };
      return {std::make_shared<const CompareResult>(compare_variants(specs, o)), QString()};
    } catch (const CompareCancelled&) {
      return {nullptr, QStringLiteral("cancelled")};
    } catch (const std::exception& e) {
      return {nullptr, QString::fromStdString(e.what())};
    }
  });
  future.then(this, [this, gen](Outcome o) {
    if (gen != generation_) return;  // the model or the selection changed meanwhile
    progress_timer_->stop();
    progress_->setVisible(false);
    cancel_btn_->setVisible(false);
    busy_ = false;
    result_ = std::move(o.first);
    error_ = o.second;
    show_result();
    emit comparisonFinished(result_ != nullptr);
  });
}

QString ComparePage::notes_text() const { return notes_->isVisible() ? notes_->text() : QString(); }

void ComparePage::show_result() {
  table_model_->set_result(result_);
  fill_table(layers_, *table_model_);
  for (QPushButton* b : {md_, csv_, json_}) b->setEnabled(result_ != nullptr);
  notes_->setVisible(false);
  if (!result_) {
    status_->setText(error_.isEmpty() ? QStringLiteral("Open a model to compare its pad_values variants.")
                                      : QStringLiteral("Cannot compare: %1").arg(error_));
    clear_charts();
    return;
  }
  const CompareResult& r = *result_;
  QStringList labels;
  for (const auto& v : r.variants) labels << QString::fromStdString(v.label);
  status_->setText(QStringLiteral("%1: %2 variants; agreement with \"%3\" over %4 samples (%5). "
                                  "Cells: kernel class, pad_values (p), \u0394 outputs differing; \u2260 kernel class changed.")
                       .arg(QFileInfo(model_).fileName())
                       .arg(r.variants.size())
                       .arg(labels.value(0))
                       .arg(r.samples)
                       .arg(QFileInfo(QString::fromStdString(r.data)).fileName()));
  if (!r.notes.empty()) {
    QStringList notes;
    for (const auto& n : r.notes) notes << QString::fromStdString(n);
    notes_->setText(notes.join(QLatin1Char('\n')));
    notes_->setVisible(true);
  }

  // The table as tall as its rows (within reason), the charts below get the rest.
  const int table_height = layers_->horizontalHeader()->height() + 2 * layers_->frameWidth() + 4 +
                           layers_->rowCount() * layers_->verticalHeader()->defaultSectionSize();
  const QList<int> sizes = split_->sizes();
  const int total = sizes.value(0) + sizes.value(1);
  if (total > 0) {
    const int top = std::clamp(table_height, total / 3, total * 3 / 5);
    split_->setSizes({top, total - top});
  }

  // Charts.
  std::vector<double> macc, rom, arena, bound, cosine, accuracy;
  for (size_t v = 0; v < r.variants.size(); ++v) {
    const VariantSummary& s = r.variants[v];
    macc.push_back(static_cast<double>(s.totals.macc));
    rom.push_back(static_cast<double>(s.totals.rom_bytes));
    arena.push_back(static_cast<double>(s.totals.ram_bytes));
    bound.push_back(static_cast<double>(s.totals.ram_lower_bound_bytes));
    cosine.push_back(v == 0 ? 100.0 : s.agreement.available ? std::max(0.0, s.agreement.cosine) * 100.0 : 0.0);
    accuracy.push_back(s.accuracy ? s.accuracy->top1() * 100.0 : 0.0);
  }
  set_chart(macc_, bar_chart(QStringLiteral("MACC per variant"), QStringLiteral("MACC"), labels, {{QStringLiteral("MACC"), macc}}, 0));
  set_chart(rom_, bar_chart(QStringLiteral("ROM (weights) per variant"), QStringLiteral("bytes"), labels,
                            {{QStringLiteral("ROM"), rom}}, 2));
  set_chart(ram_, bar_chart(QStringLiteral("RAM per variant"), QStringLiteral("bytes"), labels,
                            {{QStringLiteral("arena + I/O"), arena}, {QStringLiteral("lower bound"), bound}}, 1));
  if (r.labels.empty())
    set_chart(agreement_, bar_chart(QStringLiteral("Output cosine vs %1").arg(labels[0]), QStringLiteral("%"), labels,
                                    {{QStringLiteral("cosine"), cosine}}, 4));
  else
    set_chart(agreement_, bar_chart(QStringLiteral("Accuracy on %1").arg(QFileInfo(QString::fromStdString(r.labels)).fileName()),
                                    QStringLiteral("%"), labels,
                                    {{QStringLiteral("top-1 accuracy"), accuracy}, {QStringLiteral("cosine vs %1").arg(labels[0]), cosine}},
                                    4));
  // The confusion matrix, of the variant chosen (the first by default).
  confusion_box_->setVisible(!r.labels.empty());
  {
    const QSignalBlocker block(confusion_variant_);
    const int keep = confusion_variant_->currentIndex();
    confusion_variant_->clear();
    confusion_variant_->addItems(labels);
    confusion_variant_->setCurrentIndex(keep >= 0 && keep < labels.size() ? keep : 0);
  }
  show_confusion(confusion_variant_->currentIndex());
  show_disagreements();
}

void ComparePage::clear_charts() {
  set_chart(macc_, new_chart(QStringLiteral("MACC per variant")));
  set_chart(rom_, new_chart(QStringLiteral("ROM (weights) per variant")));
  set_chart(ram_, new_chart(QStringLiteral("RAM per variant")));
  set_chart(agreement_, new_chart(QStringLiteral("Output cosine similarity")));
}

int ComparePage::layer_rows() const { return table_model_->layer_rows(); }

int ComparePage::row_of(const QString& title) const { return table_model_->row_of(title); }

QString ComparePage::text(ExportFormat format) const {
  if (!result_) return {};
  switch (format) {
    case ExportFormat::Csv: return to_csv(*table_model_);
    case ExportFormat::Json: return to_json_table(*table_model_);
    case ExportFormat::Markdown: break;
  }
  QString out = QStringLiteral("# Comparison of %1\n\n").arg(QFileInfo(model_).fileName());
  for (const auto& n : result_->notes) out += QStringLiteral("> %1\n\n").arg(QString::fromStdString(n));
  out += QStringLiteral("Agreement with `%1` over %2 samples (%3); `*` marks a kernel class that differs, "
                        "\u0394 the share of a layer's outputs that differ.\n\n")
             .arg(table_model_->headerData(1, Qt::Horizontal).toString())
             .arg(result_->samples)
             .arg(QFileInfo(QString::fromStdString(result_->data)).fileName());
  return out + to_markdown(*table_model_);
}

QString ComparePage::export_to(const QString& path, ExportFormat format) const {
  if (!result_) return QStringLiteral("nothing to export");
  return save_text(path, text(format));
}

void ComparePage::export_dialog(ExportFormat format) {
  if (!result_) return;
  const QString ext = format == ExportFormat::Csv    ? QStringLiteral("csv")
                      : format == ExportFormat::Json ? QStringLiteral("json")
                                                     : QStringLiteral("md");
  const QString base = QStringLiteral("%1_compare.%2").arg(QFileInfo(model_).completeBaseName(), ext);
  const QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Export comparison"),
                                                    QFileInfo(model_).dir().filePath(base), QStringLiteral("*.%1").arg(ext));
  if (path.isEmpty()) return;
  const QString err = export_to(path, format);
  status_->setText(err.isEmpty() ? QStringLiteral("Written %1").arg(path) : QStringLiteral("Could not write %1: %2").arg(path, err));
}

}  // namespace bitlens::gui
