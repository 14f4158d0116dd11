// The samples a comparison or a validation runs on, as the user picked them in the app: random
// (samples and images empty), a .npy with optional labels, or an image folder (sub-folders =
// classes), with the input scaling of --scale/--offset.
#pragma once

#include <QString>
#include <memory>
#include <string>

#include "bitlens/dataset.hpp"

namespace bitlens::gui {

struct DatasetChoice {
  QString samples, labels, images;
  double scale = 1.0, offset = 0.0;
  bool random() const { return samples.isEmpty() && images.isEmpty(); }
  QString text() const;   // "64 random samples in [-1, 1]", "x.npy + y.npy", "images in digits (...)"
  QString paths() const;  // the full paths, one per line ("" for random samples)
};

// Opens the chosen samples for `model_file` (image folders are decoded to its input shape) and
// fills `labels` when the choice has them (a labels file, or class sub-folders); returns null
// for random samples. Throws ModelError naming the file.
std::unique_ptr<Dataset> open_dataset(const DatasetChoice& d, const std::string& model_file, Labels& labels,
                                      bool& has_labels);

}  // namespace bitlens::gui
