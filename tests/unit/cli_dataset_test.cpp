// compare on the user's own data: .npy samples and labels (indices or one-hot, uint8 images
// with --scale/--offset), accuracy per pad_values variant checked against `bitlens run` outputs
// scored by this test, batches of any size giving the same result, and one clear line for every
// bad dataset.
#include <gtest/gtest.h>

#include "cli_test_util.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "bitlens/npy.hpp"
#include "support/model_writer.hpp"
#include "support/orientation_task.hpp"

using namespace bitlens;
namespace fs = std::filesystem;

namespace {

using cli_test::Result;

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() / ("bitlens_cli_dataset_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

Result cli(const std::string& args) { return cli_test::run_cli(args, temp_dir()); }

std::string path(const std::string& name) { return (temp_dir() / name).string(); }

constexpr int kSamples = 300;

class Dataset : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    write_model_h5(orientation_task::make_model(1.0), path("orientation.h5"));
    const auto d = orientation_task::make_data(kSamples, 11);
    write_npy(path("x.npy"), d.x);
    write_npy(path("y.npy"), d.labels);
    write_npy(path("y_onehot.npy"), d.one_hot);
    write_npy(path("x_u8_as_f32.npy"), d.bytes);
    // The same images as a real uint8 .npy.
    std::vector<uint8_t> u8(d.bytes.data.begin(), d.bytes.data.end());
    std::ofstream(path("x_u8.npy"), std::ios::binary) << npy_bytes(d.bytes.shape, u8);
  }

  static json compare_json(const std::string& args) {
    Result r = cli("compare " + path("orientation.h5") + " " + args + " --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
};

// The class `bitlens run` predicts for every sample (argmax, computed here).
std::vector<int64_t> predictions_of_run(const std::string& extra) {
  const std::string out = path("run_out.npy");
  Result r = cli("run " + path("orientation.h5") + " --input " + path("x.npy") + " --output " + out + " " + extra);
  EXPECT_EQ(r.status, 0) << r.err;
  const Array y = read_npy(out);
  std::vector<int64_t> p;
  for (int s = 0; s < kSamples; ++s) {
    const float* v = y.data.data() + s * 4;
    p.push_back(std::max_element(v, v + 4) - v);
  }
  return p;
}

int64_t correct_of_run(const std::string& extra) {
  const Array labels = read_npy(path("y.npy"));
  const auto p = predictions_of_run(extra);
  int64_t correct = 0;
  for (int s = 0; s < kSamples; ++s) correct += p[static_cast<size_t>(s)] == static_cast<int64_t>(labels.data[static_cast<size_t>(s)]);
  return correct;
}

}  // namespace

TEST_F(Dataset, AccuracyPerPadValuesVariantEqualsScoringTheRunOutputs) {
  const json j = compare_json("--pad-values -1,0 --input " + path("x.npy") + " --labels " + path("y.npy"));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["samples"], kSamples);
  EXPECT_EQ(j["labels"], "y.npy");
  ASSERT_EQ(j["variants"].size(), 3u);
  const char* extra[] = {"", "--pad-values -1", "--pad-values 0"};
  std::vector<int64_t> correct;
  for (size_t i = 0; i < 3; ++i) {
    const json& a = j["variants"][i]["accuracy"];
    ASSERT_TRUE(a.is_object()) << j["variants"][i].dump();
    EXPECT_EQ(a["samples"], kSamples);
    EXPECT_EQ(a["classes"], 4);
    EXPECT_TRUE(a["top5"].is_null());  // 4 classes
    EXPECT_EQ(a["correct"].get<int64_t>(), correct_of_run(extra[i])) << j["variants"][i]["label"];
    // A classifier that learned something: far above the 25 % of chance.
    EXPECT_GT(a["top1"].get<double>(), 0.6);
    // The confusion matrix: rows are labels; its diagonal is the correct count.
    int64_t sum = 0, diagonal = 0;
    for (int l = 0; l < 4; ++l)
      for (int p = 0; p < 4; ++p) {
        sum += a["confusion"][l][p].get<int64_t>();
        if (l == p) diagonal += a["confusion"][l][p].get<int64_t>();
      }
    EXPECT_EQ(sum, kSamples);
    EXPECT_EQ(diagonal, a["correct"].get<int64_t>());
    correct.push_back(a["correct"]);
  }
  // The lines reach the border: pad_values changes what the network predicts.
  EXPECT_FALSE(correct[0] == correct[1] && correct[1] == correct[2]);
  // The samples on which the variants disagree, as the three runs predict them.
  std::vector<std::vector<int64_t>> p;
  for (const char* e : extra) p.push_back(predictions_of_run(e));
  std::vector<int64_t> differ;
  for (int s = 0; s < kSamples; ++s)
    if (p[0][static_cast<size_t>(s)] != p[1][static_cast<size_t>(s)] || p[0][static_cast<size_t>(s)] != p[2][static_cast<size_t>(s)])
      differ.push_back(s);
  ASSERT_FALSE(differ.empty());
  EXPECT_EQ(j["disagreement_count"].get<size_t>(), differ.size());
  ASSERT_EQ(j["disagreements"].size(), std::min<size_t>(differ.size(), 100));
  for (size_t k = 0; k < j["disagreements"].size(); ++k) {
    const json& d = j["disagreements"][k];
    const int64_t s = d["sample"];
    EXPECT_EQ(s, differ[k]);
    for (size_t v = 0; v < 3; ++v) EXPECT_EQ(d["predicted"][v].get<int64_t>(), p[v][static_cast<size_t>(s)]);
    EXPECT_EQ(d["label"].get<int64_t>(), static_cast<int64_t>(read_npy(path("y.npy")).data[static_cast<size_t>(s)]));
  }

  Result text = cli("compare " + path("orientation.h5") + " --pad-values -1 --input " + path("x.npy") + " --labels " +
                    path("y.npy"));
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("accuracy top-1"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("300 samples (" + path("x.npy") + ")"), std::string::npos) << text.out;
}

TEST_F(Dataset, OneHotLabelsUint8ImagesAndBatchSizesGiveTheSameResult) {
  const std::string base = "--pad-values 0 --input " + path("x.npy") + " --labels " + path("y.npy");
  const json a = compare_json(base);
  ASSERT_TRUE(a.is_object());
  auto accuracies = [](const json& j) {
    std::vector<json> v;
    for (const auto& x : j["variants"]) v.push_back(x["accuracy"]);
    return v;
  };
  const json b = compare_json("--pad-values 0 --input " + path("x.npy") + " --labels " + path("y_onehot.npy"));
  EXPECT_EQ(accuracies(a), accuracies(b));
  // 0/255 pixels scaled to -1/+1: the images the float file holds.
  for (const char* f : {"x_u8.npy", "x_u8_as_f32.npy"}) {
    const json c = compare_json("--pad-values 0 --input " + path(f) + " --scale 0.00784313725 --offset -1 --labels " +
                                path("y.npy"));
    EXPECT_EQ(accuracies(a), accuracies(c)) << f;
  }
  // Streaming: 7 samples at a time changes nothing.
  json d = compare_json(base + " --batch 7");
  json a2 = a;
  EXPECT_EQ(a2["variants"], d["variants"]);
  EXPECT_EQ(a2["layers"], d["layers"]);
}

TEST_F(Dataset, BadDatasetsGetOneLineNamingTheFile) {
  auto expect_error = [](const std::string& args, const std::string& want) {
    Result r = cli("compare " + path("orientation.h5") + " --pad-values 0 " + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
    EXPECT_NE(r.err.find(want), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;  // nothing partially printed
  };
  const std::string x = " --input " + path("x.npy");
  // Labels that do not fit the samples or the classifier.
  Array few{{10}, std::vector<float>(10, 1.0f)};
  write_npy(path("y_few.npy"), few);
  expect_error(x + " --labels " + path("y_few.npy"), "y_few.npy: 10 labels for the 300 samples of");
  Array big = read_npy(path("y.npy"));
  big.data[5] = 4;
  write_npy(path("y_big.npy"), big);
  expect_error(x + " --labels " + path("y_big.npy"), "y_big.npy: label of sample 5 is 4, but the model's output has 4 classes");
  Array half = read_npy(path("y.npy"));
  half.data[2] = 1.5f;
  write_npy(path("y_half.npy"), half);
  expect_error(x + " --labels " + path("y_half.npy"), "label of sample 2 is 1.5, not a class index");
  Array two = read_npy(path("y_onehot.npy"));
  two.data[3 * 4 + 0] = 1.0f;
  two.data[3 * 4 + 1] = 1.0f;
  write_npy(path("y_two.npy"), two);
  expect_error(x + " --labels " + path("y_two.npy"), "y_two.npy: row 3 is not one-hot");
  Array wide{{kSamples, 5}, std::vector<float>(static_cast<size_t>(kSamples) * 5, 0.0f)};
  for (int s = 0; s < kSamples; ++s) wide.data[static_cast<size_t>(s) * 5] = 1.0f;
  write_npy(path("y_wide.npy"), wide);
  expect_error(x + " --labels " + path("y_wide.npy"), "one-hot rows of width 5, but the model's output has 4 classes");
  expect_error(x + " --labels " + path("missing.npy"), "missing.npy: no such file");
  // Samples of the wrong shape, none at all, or a file that is not .npy.
  write_npy(path("x_small.npy"), Array{{4, 10, 10, 1}, std::vector<float>(400, 1.0f)});
  expect_error(" --input " + path("x_small.npy"), "x_small.npy: samples of shape (10, 10, 1), but the model's input 'image' takes (12, 12, 1)");
  write_npy(path("x_none.npy"), Array{{0, 12, 12, 1}, {}});
  expect_error(" --input " + path("x_none.npy"), "x_none.npy: no samples");
  std::ofstream(path("x_text.npy")) << "not numpy";
  expect_error(" --input " + path("x_text.npy"), "x_text.npy");
  // Labels need samples, and a classifier.
  expect_error(" --labels " + path("y.npy"), "--labels requires --input");
  Result forum = cli("compare " + std::string(BITLENS_MODELS_DIR) + "/forum_1layer_pad0.h5 --pad-values 1 --input " +
                     path("x.npy") + " --labels " + path("y.npy"));
  EXPECT_EQ(forum.status, 2);
}

// validate on the same data: the generated C scores what the host runtime and the reference
// interpreter score, on the host compiler and under QEMU (Cortex-M4).
TEST_F(Dataset, ValidateReportsAccuracyOfTheGeneratedCode) {
  const int64_t correct = correct_of_run("");
  Result host = cli("validate " + path("orientation.h5") + " --input " + path("x.npy") + " --labels " + path("y.npy"));
  ASSERT_EQ(host.status, 0) << host.out << host.err;
  const std::string want = std::to_string(correct) + "/" + std::to_string(kSamples) + ")";
  for (const char* who : {"generated C ", "host runtime ", "reference interpreter "}) {
    const auto at = host.out.find(who, host.out.find("Accuracy against y.npy"));
    ASSERT_NE(at, std::string::npos) << host.out;
    EXPECT_EQ(host.out.substr(host.out.find('(', at), want.size() + 1), "(" + want) << host.out;
  }
  // Under QEMU on 16 samples (the firmware embeds them all).
  Array x = read_npy(path("x.npy")), y = read_npy(path("y.npy"));
  x.shape[0] = 16;
  x.data.resize(16 * 144);
  y.shape[0] = 16;
  y.data.resize(16);
  write_npy(path("x16.npy"), x);
  write_npy(path("y16.npy"), y);
  Result qemu = cli("validate " + path("orientation.h5") + " --target qemu-m4 --input " + path("x16.npy") + " --labels " +
                    path("y16.npy"));
  ASSERT_EQ(qemu.status, 0) << qemu.out << qemu.err;
  const auto at = qemu.out.find("generated C ", qemu.out.find("Accuracy against y16.npy"));
  ASSERT_NE(at, std::string::npos) << qemu.out;
  const auto rt = qemu.out.find("host runtime ", at);
  EXPECT_EQ(qemu.out.substr(qemu.out.find('(', at), 8), qemu.out.substr(qemu.out.find('(', rt), 8)) << qemu.out;

  Result bad = cli("validate " + path("orientation.h5") + " --input " + path("x.npy") + " --labels " + path("y16.npy"));
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("y16.npy: 16 labels for the 300 samples"), std::string::npos) << bad.err;
}

// The progress bar is for people: on a terminal it is drawn on stderr; in a pipe or a log
// nothing but the result is written.
TEST_F(Dataset, ProgressBarOnlyOnATerminal) {
  const std::string args = "compare " + path("orientation.h5") + " --pad-values 0 --batch 50 --input " + path("x.npy");
  Result piped = cli(args);
  EXPECT_EQ(piped.status, 0) << piped.err;
  EXPECT_TRUE(piped.err.empty()) << piped.err;
  // script(1) gives the command a pseudo-terminal; its output (both streams) lands in the file.
  const std::string log = path("tty.log");
  const std::string cmd = "script -qec '" + std::string(BITLENS_CLI) + " " + args + " >/dev/null' " + log + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(log);
  const std::string tty((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(tty.find("compare ["), std::string::npos) << tty;
  EXPECT_NE(tty.find("300/300 samples"), std::string::npos) << tty;
}

TEST_F(Dataset, UnsupportedDtypeNamesTheFile) {
  // complex64 samples: not a dtype BitLens converts.
  std::string bytes = npy_bytes_raw("<c8", {2, 12, 12, 1}, std::string(2 * 144 * 8, '\0'));
  std::ofstream(path("x_complex.npy"), std::ios::binary) << bytes;
  Result r = cli("compare " + path("orientation.h5") + " --pad-values 0 --input " + path("x_complex.npy"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("x_complex.npy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("<c8"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}
