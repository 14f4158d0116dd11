// Image folders as datasets (compare/validate --images DIR in the CLI, the app's dataset
// picker): one sub-folder per class, as Keras' image_dataset_from_directory(labels="inferred")
// reads them. Decoding uses Qt's image readers (QtGui, no display needed), so the core stays
// free of Qt. Format and behaviour: docs/datasets.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bitlens/dataset.hpp"

namespace bitlens::images {

struct ImageFolder {
  std::string dir;
  // Class names: every sub-folder, sorted by name (Keras' order and indices, an empty one
  // included); empty for a folder without sub-folders, whose images have no labels.
  std::vector<std::string> classes;
  struct Entry {
    std::string file;
    int32_t label = -1;
  };
  std::vector<Entry> images;  // by class, then by path (images in nested folders of a class count)
};

// Files with the extensions Keras reads (.bmp .gif .jpeg .jpg .png, any case). Throws ModelError
// naming `dir` when it is missing, unreadable or holds no image.
ImageFolder scan_image_folder(const std::string& dir);

// Samples of shape (H, W, C) for a model input of that shape (C = 1: grayscale, C = 3: RGB):
// each image is centre-cropped to the aspect ratio W:H, resized to W x H with bilinear
// filtering, its 0..255 values converted to float32 and then `p` applied. Images are decoded
// batch by batch. An unreadable image throws ModelError naming the file.
std::unique_ptr<Dataset> image_dataset(const ImageFolder& folder, const std::vector<int64_t>& sample_shape,
                                       const Preprocess& p = {});

// The labels the folder names (sub-folder index per image). Throws ModelError without classes.
Labels image_labels(const ImageFolder& folder);

// The sample shape of a model file's single input, to decode images to. Throws ModelError (no
// single input, or an input that declares no shape).
std::vector<int64_t> model_input_shape(const std::string& model_file);

// One image as a sample (for tests and thumbnails).
Array load_image(const std::string& file, const std::vector<int64_t>& sample_shape, const Preprocess& p = {});

}  // namespace bitlens::images
