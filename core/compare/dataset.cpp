// Datasets (bitlens/dataset.hpp): in-memory arrays, streamed .npy files, labels.
#include "bitlens/dataset.hpp"

#include <algorithm>
#include <cmath>

#include "bitlens/compiler.hpp"
#include "bitlens/format.hpp"
#include "bitlens/npy.hpp"

namespace bitlens {

namespace {

class MemoryDataset : public Dataset {
 public:
  MemoryDataset(std::vector<Array> x, std::string name) : x_(std::move(x)), name_(std::move(name)) {}
  int64_t size() const override { return x_.empty() || x_[0].shape.empty() ? 0 : x_[0].shape[0]; }
  std::vector<Array> read(int64_t start, int64_t count) override {
    std::vector<Array> out;
    for (const auto& a : x_) {
      const int64_t per = a.shape[0] ? a.size() / a.shape[0] : 0;
      Array b;
      b.shape = a.shape;
      b.shape[0] = count;
      b.data.assign(a.data.begin() + start * per, a.data.begin() + (start + count) * per);
      out.push_back(std::move(b));
    }
    return out;
  }
  std::string name() const override { return name_; }
  std::vector<std::vector<int64_t>> sample_shapes() const override {
    std::vector<std::vector<int64_t>> out;
    for (const auto& a : x_) out.emplace_back(a.shape.begin() + (a.shape.empty() ? 0 : 1), a.shape.end());
    return out;
  }

 private:
  std::vector<Array> x_;
  std::string name_;
};

class NpyDataset : public Dataset {
 public:
  NpyDataset(const std::vector<std::string>& files, const Preprocess& p) : p_(p) {
    for (const auto& f : files) files_.push_back(std::make_unique<NpyRows>(f));
    for (const auto& f : files_)
      if (f->rows() != files_[0]->rows())
        throw ModelError(f->name() + ": " + std::to_string(f->rows()) + " samples, but " + files_[0]->name() +
                         " has " + std::to_string(files_[0]->rows()) + "; every input file needs one row per sample");
  }
  int64_t size() const override { return files_.empty() ? 0 : files_[0]->rows(); }
  std::vector<Array> read(int64_t start, int64_t count) override {
    std::vector<Array> out;
    for (auto& f : files_) {
      Array a = f->read(start, count);
      if (!p_.identity())
        for (float& v : a.data) v = v * p_.scale + p_.offset;
      out.push_back(std::move(a));
    }
    return out;
  }
  std::string name() const override { return files_.empty() ? std::string() : files_[0]->name(); }
  std::vector<std::vector<int64_t>> sample_shapes() const override {
    std::vector<std::vector<int64_t>> out;
    for (const auto& f : files_) out.emplace_back(f->header().shape.begin() + 1, f->header().shape.end());
    return out;
  }

 private:
  std::vector<std::unique_ptr<NpyRows>> files_;
  Preprocess p_;
};

}  // namespace

std::unique_ptr<Dataset> memory_dataset(std::vector<Array> inputs, const std::string& name) {
  return std::make_unique<MemoryDataset>(std::move(inputs), name);
}

std::unique_ptr<Dataset> npy_dataset(const std::vector<std::string>& files, const Preprocess& p) {
  return std::make_unique<NpyDataset>(files, p);
}

void check_dataset(const Dataset& data, const CompileResult& c) {
  const auto shapes = data.sample_shapes();
  const auto& in = c.graph.inputs;
  if (shapes.size() != in.size())
    throw ModelError(data.name() + ": " + std::to_string(shapes.size()) + " input array(s) for a model with " +
                     std::to_string(in.size()) + " inputs");
  for (size_t k = 0; k < in.size(); ++k) {
    const Tensor& t = c.graph.tensors[static_cast<size_t>(in[k])];
    if (shapes[k] != t.shape)
      throw ModelError(data.name() + ": samples of shape " + shape_tuple(shapes[k]) + ", but the model's input '" +
                       t.name + "' takes " + shape_tuple(t.shape) + " (the file's shape is (N, ...), N samples)");
  }
}

Labels read_labels(const std::string& file) {
  const Array a = read_npy(file);
  Labels l;
  l.file = file;
  if (a.shape.empty()) throw ModelError(file + ": a scalar; labels are class indices (N,) or one-hot rows (N, K)");
  const int64_t n = a.shape[0];
  const bool indices = a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1);
  if (!indices && a.shape.size() != 2)
    throw ModelError(file + ": shape " + shape_tuple(a.shape) +
                     "; labels are class indices (N,) or one-hot rows (N, K)");
  l.index.resize(static_cast<size_t>(n));
  if (indices) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = a.data[static_cast<size_t>(i)];
      if (!(v >= 0) || v != std::floor(v) || v > 1e7f)
        throw ModelError(file + ": label of sample " + std::to_string(i) + " is " + significant(v, 9) +
                         ", not a class index (an integer >= 0)");
      l.index[static_cast<size_t>(i)] = static_cast<int32_t>(v);
      l.classes = std::max<int64_t>(l.classes, l.index[static_cast<size_t>(i)] + 1);
    }
    return l;
  }
  l.one_hot = true;
  l.classes = a.shape[1];
  for (int64_t i = 0; i < n; ++i) {
    int64_t ones = 0, at = -1;
    for (int64_t k = 0; k < l.classes; ++k) {
      const float v = a.data[static_cast<size_t>(i * l.classes + k)];
      if (v == 1.0f) {
        ++ones;
        at = k;
      } else if (v != 0.0f) {
        ones = -1;
        break;
      }
    }
    if (ones != 1)
      throw ModelError(file + ": row " + std::to_string(i) + " is not one-hot (exactly one 1, the rest 0); give "
                                                              "class indices (N,) for soft labels' argmax");
    l.index[static_cast<size_t>(i)] = static_cast<int32_t>(at);
  }
  return l;
}

void check_labels(const Labels& l, int64_t samples, const std::string& samples_name, int64_t classes) {
  if (static_cast<int64_t>(l.index.size()) != samples)
    throw ModelError(l.file + ": " + std::to_string(l.index.size()) + " labels for the " + std::to_string(samples) +
                     " samples of " + samples_name + "; give one label per sample");
  if (l.folders && l.classes != classes)
    throw ModelError(l.file + ": " + std::to_string(l.classes) + " class sub-folders, but the model's output has " +
                     std::to_string(classes) + " classes; give one sub-folder per class (sorted names = class order)");
  if (l.one_hot && l.classes != classes)
    throw ModelError(l.file + ": one-hot rows of width " + std::to_string(l.classes) + ", but the model's output has " +
                     std::to_string(classes) + " classes");
  for (size_t i = 0; i < l.index.size(); ++i)
    if (l.index[i] >= classes)
      throw ModelError(l.file + ": label of sample " + std::to_string(i) + " is " + std::to_string(l.index[i]) +
                       ", but the model's output has " + std::to_string(classes) + " classes (0.." +
                       std::to_string(classes - 1) + ")");
}

Accuracy make_accuracy(int64_t classes) {
  Accuracy a;
  a.classes = classes;
  a.confusion.assign(static_cast<size_t>(classes * classes), 0);
  return a;
}

void add_scores(Accuracy& acc, const Array& y, const int32_t* labels) {
  const int64_t n = y.shape[0], k = acc.classes;
  for (int64_t s = 0; s < n; ++s) {
    const float* v = y.data.data() + s * k;
    const int32_t l = labels[s];
    const int64_t pred = std::max_element(v, v + k) - v;
    // The label's place in a stable sort by decreasing value.
    int64_t rank = 0;
    for (int64_t c = 0; c < k; ++c) rank += v[c] > v[l] || (c < l && v[c] == v[l]);
    acc.correct += pred == l;
    acc.correct_top5 += rank < 5;
    ++acc.confusion[static_cast<size_t>(l * k + pred)];
    ++acc.samples;
  }
}

int64_t classifier_classes(const CompileResult& c) {
  if (c.graph.outputs.empty()) return 0;
  const Tensor& t = c.graph.tensors[c.graph.outputs[0]];
  return t.shape_known && t.shape.size() == 1 ? t.shape[0] : 0;
}

json accuracy_json(const Accuracy& a) {
  json confusion = json::array();
  for (int64_t l = 0; l < a.classes; ++l)
    confusion.push_back(std::vector<int64_t>(a.confusion.begin() + l * a.classes, a.confusion.begin() + (l + 1) * a.classes));
  return {{"samples", a.samples},
          {"classes", a.classes},
          {"correct", a.correct},
          {"top1", a.top1()},
          {"top5", a.top5() ? json(*a.top5()) : json(nullptr)},
          {"confusion", confusion}};
}

}  // namespace bitlens
