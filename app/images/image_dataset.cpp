// Image-folder datasets (see image_dataset.hpp).
#include "image_dataset.hpp"

#include <QImage>
#include <QImageReader>
#include <QString>
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "bitlens/format.hpp"

namespace bitlens::images {

namespace fs = std::filesystem;

namespace {

bool image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".bmp" || e == ".gif" || e == ".jpeg" || e == ".jpg" || e == ".png";
}

// Images in `dir`, and with `recursive` in its sub-folders too (Keras walks each class folder).
std::vector<std::string> sorted_images(const fs::path& dir, bool recursive) {
  std::vector<std::string> out;
  std::error_code ec;
  auto take = [&](const fs::directory_entry& e) {
    std::error_code fec;
    if (e.is_regular_file(fec) && image_extension(e.path())) out.push_back(e.path().string());
  };
  if (recursive)
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) take(*it);
  else
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) take(*it);
  if (ec) throw ModelError(dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

class ImageDataset : public Dataset {
 public:
  ImageDataset(ImageFolder f, std::vector<int64_t> shape, const Preprocess& p)
      : f_(std::move(f)), shape_(std::move(shape)), p_(p) {
    if (shape_.size() != 3 || (shape_[2] != 1 && shape_[2] != 3))
      throw ModelError(f_.dir + ": image folders give samples of shape (height, width, 1 or 3); the model's input is " +
                       shape_tuple(shape_));
  }
  int64_t size() const override { return static_cast<int64_t>(f_.images.size()); }
  std::vector<Array> read(int64_t start, int64_t count) override {
    Array a;
    a.shape = {count, shape_[0], shape_[1], shape_[2]};
    a.data.reserve(static_cast<size_t>(a.size()));
    for (int64_t i = start; i < start + count; ++i) {
      const Array one = load_image(f_.images[static_cast<size_t>(i)].file, shape_, p_);
      a.data.insert(a.data.end(), one.data.begin(), one.data.end());
    }
    return {std::move(a)};
  }
  std::string name() const override { return f_.dir; }
  std::vector<std::vector<int64_t>> sample_shapes() const override { return {shape_}; }

 private:
  ImageFolder f_;
  std::vector<int64_t> shape_;
  Preprocess p_;
};

}  // namespace

ImageFolder scan_image_folder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw ModelError(dir + ": " + (fs::exists(dir, ec) ? "not a folder" : "no such folder") +
                     "; --images takes a folder with one sub-folder of images per class");
  ImageFolder f;
  f.dir = dir;
  std::vector<fs::path> subs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) subs.push_back(it->path());
  if (ec) throw ModelError(dir + ": cannot list the folder: " + ec.message());
  std::sort(subs.begin(), subs.end());
  // As Keras' index_directory: every sub-folder is a class (an empty one keeps its index).
  for (const auto& s : subs) {
    const auto label = static_cast<int32_t>(f.classes.size());
    f.classes.push_back(s.filename().string());
    for (const auto& file : sorted_images(s, true)) f.images.push_back({file, label});
  }
  if (subs.empty())
    for (const auto& file : sorted_images(dir, false)) f.images.push_back({file, -1});
  if (f.images.empty())
    throw ModelError(dir + ": no images (.bmp .gif .jpeg .jpg .png) in it or in its sub-folders");
  return f;
}

std::unique_ptr<Dataset> image_dataset(const ImageFolder& folder, const std::vector<int64_t>& sample_shape,
                                       const Preprocess& p) {
  return std::make_unique<ImageDataset>(folder, sample_shape, p);
}

Labels image_labels(const ImageFolder& folder) {
  if (folder.classes.empty())
    throw ModelError(folder.dir + ": no class sub-folders, so no labels (put each class's images in a sub-folder)");
  Labels l;
  l.file = folder.dir;
  l.folders = true;
  l.classes = static_cast<int64_t>(folder.classes.size());
  for (const auto& e : folder.images) l.index.push_back(e.label);
  return l;
}

std::vector<int64_t> model_input_shape(const std::string& file) {
  const Model m = load_model(file);
  if (m.inputs.size() != 1)
    throw ModelError(file + ": image folders need a model with one input; this one has " + std::to_string(m.inputs.size()));
  const Layer* l = m.find(m.inputs[0].layer);
  const auto s = l ? declared_input_shape(*l) : std::nullopt;
  if (!s) throw ModelError(file + ": the input layer declares no shape, so images cannot be resized to it");
  return *s;
}

Array load_image(const std::string& file, const std::vector<int64_t>& shape, const Preprocess& p) {
  QImageReader reader(QString::fromStdString(file));
  QImage img = reader.read();
  if (img.isNull())
    throw ModelError(file + ": cannot read the image (" + reader.errorString().toStdString() + ")");
  const int h = static_cast<int>(shape[0]), w = static_cast<int>(shape[1]);
  // Centre crop to the target aspect ratio (Keras' crop_to_aspect_ratio=True), then bilinear.
  const double target = static_cast<double>(w) / h, have = static_cast<double>(img.width()) / img.height();
  if (have > target) {
    const int cw = std::max(1, static_cast<int>(img.height() * target + 0.5));
    img = img.copy((img.width() - cw) / 2, 0, cw, img.height());
  } else if (have < target) {
    const int ch = std::max(1, static_cast<int>(img.width() / target + 0.5));
    img = img.copy(0, (img.height() - ch) / 2, img.width(), ch);
  }
  const bool gray = shape[2] == 1;
  img = img.convertToFormat(gray ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
  if (img.width() != w || img.height() != h) img = img.scaled(w, h, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
  Array a;
  a.shape = {1, shape[0], shape[1], shape[2]};
  a.data.reserve(static_cast<size_t>(a.size()));
  for (int y = 0; y < h; ++y) {
    const uchar* row = img.constScanLine(y);
    for (int x = 0; x < w * static_cast<int>(shape[2]); ++x) {
      const float v = static_cast<float>(row[x]);
      a.data.push_back(p.identity() ? v : v * p.scale + p.offset);
    }
  }
  return a;
}

}  // namespace bitlens::images
