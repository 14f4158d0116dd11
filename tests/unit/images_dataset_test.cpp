// Image folders as datasets (compare/validate --images): class sub-folders in sorted order give
// the labels, PNG/BMP/JPEG decode, images are centre-cropped and resized to the model input,
// and the result equals the same samples given as .npy; bad folders and images get one line.
#include <gtest/gtest.h>

#include "cli_test_util.hpp"

#include <QImage>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "bitlens/npy.hpp"
#include "image_dataset.hpp"
#include "support/model_writer.hpp"
#include "support/orientation_task.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

using cli_test::Result;

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("bitlens_images_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

Result cli(const std::string& args) { return cli_test::run_cli(args, temp_dir()); }
std::string path(const std::string& name) { return (temp_dir() / name).string(); }

constexpr int kSamples = 120;
const char* const kClassDirs[] = {"a_horizontal", "b_vertical", "c_diagonal", "d_anti"};
const std::string kScale = " --scale 0.00784313725 --offset -1";  // 0/255 -> -1/+1

// Writes sample s of `d` as an image `factor` times larger (each pixel a factor x factor
// block), with `extra` columns of noise on each side (cropped away by the centre crop).
void write_image(const orientation_task::Data& d, int s, const std::string& file, int factor, int extra,
                 const char* format, int quality = -1) {
  const int n = orientation_task::kSize;
  QImage img(n * factor + 2 * extra, n * factor, QImage::Format_Grayscale8);
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) {
      const int cx = x - extra;
      const bool inside = cx >= 0 && cx < n * factor;
      const float v = inside ? d.bytes.data[static_cast<size_t>((s * n + y / factor) * n + cx / factor)] : ((x * 7 + y) % 255);
      img.setPixel(x, y, qRgb(static_cast<int>(v), static_cast<int>(v), static_cast<int>(v)));
    }
  ASSERT_TRUE(img.save(QString::fromStdString(file), format, quality)) << file;
}

void make_folder(const std::string& dir, const orientation_task::Data& d, int factor, int extra, const char* format,
                 const char* ext, int quality = -1) {
  for (const char* c : kClassDirs) fs::create_directories(fs::path(dir) / c);
  for (int s = 0; s < kSamples; ++s) {
    const int label = static_cast<int>(d.labels.data[static_cast<size_t>(s)]);
    char name[32];
    std::snprintf(name, sizeof name, "img%03d.%s", s, ext);
    write_image(d, s, (fs::path(dir) / kClassDirs[label] / name).string(), factor, extra, format, quality);
  }
}

class Images : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    write_model_h5(orientation_task::make_model(1.0), path("orientation.h5"));
    const auto d = orientation_task::make_data(kSamples, 21);
    write_npy(path("x.npy"), d.x);
    write_npy(path("y.npy"), d.labels);
    make_folder(path("png"), d, 1, 0, "PNG", "png");
    make_folder(path("bmp_2x_wide"), d, 2, 3, "BMP", "BMP");
    make_folder(path("jpeg"), d, 1, 0, "JPEG", "jpg", 95);
  }
  static json accuracies(const std::string& data_args) {
    Result r = cli("compare " + path("orientation.h5") + " --pad-values -1 --json " + data_args);
    EXPECT_EQ(r.status, 0) << data_args << "\n" << r.err;
    json j = json::parse(r.out, nullptr, false);
    json out = json::array();
    if (j.is_object())
      for (const auto& v : j["variants"]) out.push_back(v["accuracy"]);
    return out;
  }
};

}  // namespace

TEST_F(Images, FolderScanFollowsKerasClassOrder) {
  const images::ImageFolder f = images::scan_image_folder(path("png"));
  ASSERT_EQ(f.classes.size(), 4u);
  EXPECT_EQ(f.classes[0], "a_horizontal");
  EXPECT_EQ(f.classes[3], "d_anti");
  EXPECT_EQ(f.images.size(), static_cast<size_t>(kSamples));
  EXPECT_TRUE(std::is_sorted(f.images.begin(), f.images.end(),
                             [](const auto& a, const auto& b) { return a.label < b.label; }));
  // An image decodes to the values the .npy holds for that sample.
  const Array x = read_npy(path("x.npy"));
  const std::string first = f.images[0].file;
  const int s = std::stoi(fs::path(first).stem().string().substr(3));
  const Array img = images::load_image(first, {12, 12, 1}, {2.0f / 255.0f, -1.0f});
  ASSERT_EQ(img.data.size(), 144u);
  for (size_t i = 0; i < 144; ++i) EXPECT_NEAR(img.data[i], x.data[static_cast<size_t>(s) * 144 + i], 1e-6) << i;
}

TEST_F(Images, CompareOnImagesEqualsTheSameSamplesAsNpy) {
  const json npy = accuracies("--input " + path("x.npy") + " --labels " + path("y.npy"));
  ASSERT_EQ(npy.size(), 2u);
  EXPECT_GT(npy[0]["top1"].get<double>(), 0.6);
  // Same samples in another order (by class): the same counts and confusion matrix.
  EXPECT_EQ(accuracies("--images " + path("png") + kScale), npy);
  // Twice the size and wider (BMP): centre crop + resize give the 12x12 samples back.
  EXPECT_EQ(accuracies("--images " + path("bmp_2x_wide") + kScale), npy);
  // JPEG is lossy; the classifier still sees the lines.
  const json jpeg = accuracies("--images " + path("jpeg") + kScale);
  ASSERT_EQ(jpeg.size(), 2u);
  EXPECT_GT(jpeg[0]["top1"].get<double>(), 0.6);

  Result v = cli("validate " + path("orientation.h5") + " --images " + path("png") + kScale);
  ASSERT_EQ(v.status, 0) << v.out << v.err;
  const std::string want = "(" + std::to_string(npy[0]["correct"].get<int64_t>()) + "/" + std::to_string(kSamples) + ")";
  const auto line = v.out.find("generated C ", v.out.find("Accuracy against"));
  ASSERT_NE(line, std::string::npos) << v.out;
  EXPECT_EQ(v.out.substr(v.out.find('(', line), want.size()), want) << v.out;
}

TEST_F(Images, BadFoldersAndImagesGetOneLine) {
  auto expect_error = [](const std::string& cmd, const std::string& want) {
    Result r = cli(cmd);
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.out;
    EXPECT_NE(r.err.find(want), std::string::npos) << cmd << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  const std::string m = path("orientation.h5");
  fs::create_directories(path("empty"));
  expect_error("compare " + m + " --pad-values 0 --images " + path("empty"), "empty: no images");
  expect_error("compare " + m + " --pad-values 0 --images " + path("missing"), "missing: no such folder");
  fs::create_directories(path("broken"));
  fs::copy(path("png"), path("broken"), fs::copy_options::recursive);
  std::ofstream(path("broken/b_vertical/zz_bad.png")) << "not a png";
  expect_error("compare " + m + " --pad-values 0 --images " + path("broken"), "zz_bad.png: cannot read the image");
  // Five class folders for a four-class model.
  fs::create_directories(path("five"));
  fs::copy(path("png"), path("five"), fs::copy_options::recursive);
  fs::create_directories(path("five/e_extra"));
  expect_error("compare " + m + " --pad-values 0 --images " + path("five"), "5 class sub-folders, but the model's output has 4 classes");
  expect_error("validate " + m + " --images " + path("five"), "5 class sub-folders");
  // --images decides the samples and labels itself.
  expect_error("compare " + m + " --pad-values 0 --images " + path("png") + " --labels " + path("y.npy"), "--labels requires --input");
}
