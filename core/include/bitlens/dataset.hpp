// Datasets for compare and validate: the samples (one array per model input) and, optionally,
// their labels. Samples are read in batches, so a dataset larger than memory streams.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bitlens/model.hpp"

namespace bitlens {

// x' = x * scale + offset on every value read, in float32 (Keras' Rescaling(scale, offset): for
// uint8 images in [0, 255], scale 1/255 gives [0, 1]; scale 2/255 with offset -1 gives [-1, 1]).
struct Preprocess {
  float scale = 1.0f, offset = 0.0f;
  bool identity() const { return scale == 1.0f && offset == 0.0f; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Samples [start, start + count): one Array per model input, each of shape (count, ...).
  virtual std::vector<Array> read(int64_t start, int64_t count) = 0;
  virtual std::string name() const = 0;  // for messages: "X.npy"
  // The shape of one sample of each input (without the batch axis).
  virtual std::vector<std::vector<int64_t>> sample_shapes() const = 0;
};

// Checks that `data` has one array per model input, each of the model's sample shape. Throws
// ModelError starting with data.name(): "X.npy: samples of shape (10, 10, 1), but the model's
// input 'image' takes (12, 12, 1)".
struct CompileResult;
void check_dataset(const Dataset& data, const CompileResult& c);

// Arrays already in memory (random inputs, tests).
std::unique_ptr<Dataset> memory_dataset(std::vector<Array> inputs, const std::string& name = "the inputs");

// .npy files, one per model input, each (N, ...) with the same N, read slice by slice (any
// numeric dtype, converted to float32, then `p`). Throws ModelError naming the file.
std::unique_ptr<Dataset> npy_dataset(const std::vector<std::string>& files, const Preprocess& p = {});

struct Labels {
  std::string file;
  std::vector<int32_t> index;  // the class of each sample
  bool one_hot = false;
  bool folders = false;        // from an image folder's class sub-folders (`file` is the folder)
  int64_t classes = 0;         // one-hot width or sub-folder count, else the largest index + 1
};

// Class indices, shape (N,) or (N, 1), of any integer or integral float dtype; or one-hot rows
// (N, K), K > 1 (exactly one 1 per row, the rest 0). Throws ModelError naming the file and the
// first bad sample.
Labels read_labels(const std::string& file);

// Labels against the samples and the classifier: same count, every index below `classes`, a
// one-hot width equal to `classes`. Throws ModelError naming both files.
void check_labels(const Labels& labels, int64_t samples, const std::string& samples_name, int64_t classes);

// Accuracy of a classifier against labels: the prediction is the first index of the largest
// output value (argmax); top-5 counts a label ranked among the first five of a stable sort by
// decreasing value.
struct Accuracy {
  int64_t samples = 0, correct = 0, correct_top5 = 0;
  int64_t classes = 0;
  std::vector<int64_t> confusion;  // classes x classes: row = label, column = prediction
  double top1() const { return samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0; }
  std::optional<double> top5() const {
    if (classes < 5 || samples == 0) return std::nullopt;
    return static_cast<double>(correct_top5) / static_cast<double>(samples);
  }
};

// An empty score for a classifier with `classes` outputs.
Accuracy make_accuracy(int64_t classes);
// Adds one batch of classifier outputs `y` (b, classes) whose labels are labels[0..b).
void add_scores(Accuracy& acc, const Array& y, const int32_t* labels);
// {"samples", "classes", "correct", "top1", "top5" (null below 5 classes), "confusion": rows = labels}
json accuracy_json(const Accuracy& a);
// The class count of a classifier: its first output's per-sample shape is (K,); else 0.
int64_t classifier_classes(const CompileResult& c);

}  // namespace bitlens
