// Dataset choices of the app (see dataset_choice.hpp).
#include "dataset_choice.hpp"

#include <QFileInfo>

#include "image_dataset.hpp"

namespace bitlens::gui {

QString DatasetChoice::paths() const {
  if (!images.isEmpty()) return images;
  return labels.isEmpty() ? samples : samples + QLatin1Char('\n') + labels;
}

QString DatasetChoice::text() const {
  QString t;
  if (!images.isEmpty())
    t = QStringLiteral("images in %1 (classes from its sub-folders)").arg(QFileInfo(images).fileName());
  else if (!samples.isEmpty())
    t = QFileInfo(samples).fileName() + (labels.isEmpty() ? QStringLiteral(" (no labels)") : QStringLiteral(" + ") + QFileInfo(labels).fileName());
  else
    return QStringLiteral("64 random samples in [-1, 1]");
  if (scale != 1.0 || offset != 0.0) t += QStringLiteral(", x * %1 + %2").arg(scale).arg(offset);
  return t;
}

std::unique_ptr<Dataset> open_dataset(const DatasetChoice& d, const std::string& model_file, Labels& labels,
                                      bool& has_labels) {
  has_labels = false;
  const Preprocess pre{static_cast<float>(d.scale), static_cast<float>(d.offset)};
  if (!d.images.isEmpty()) {
    const images::ImageFolder folder = images::scan_image_folder(d.images.toStdString());
    auto data = images::image_dataset(folder, images::model_input_shape(model_file), pre);
    if (!folder.classes.empty()) {
      labels = images::image_labels(folder);
      has_labels = true;
    }
    return data;
  }
  if (d.samples.isEmpty()) return nullptr;
  auto data = npy_dataset({d.samples.toStdString()}, pre);
  if (!d.labels.isEmpty()) {
    labels = read_labels(d.labels.toStdString());
    has_labels = true;
  }
  return data;
}

}  // namespace bitlens::gui
