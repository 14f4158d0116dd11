// Scoring a classifier against labels (bitlens/dataset.hpp): argmax takes the first of equal
// maxima, top-5 is the label's place in a stable sort by decreasing value, the confusion matrix
// has labels as rows. Expectations are worked out by hand below.
#include <gtest/gtest.h>

#include "bitlens/dataset.hpp"

using namespace bitlens;

TEST(Accuracy, TopOneTopFiveAndConfusionOnSixClasses) {
  // Three samples of six classes.
  Array y;
  y.shape = {3, 6};
  y.data = {
      0.1f, 0.9f, 0.3f, 0.2f, 0.0f, 0.5f,  // class 4 holds the smallest value
      1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f,  // a tie for the maximum: the first (class 0) is predicted
      0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f,  // decreasing: class 5 ranks sixth
  };
  // Sample 0, label 4 (value 0.0): larger values 0.1, 0.9, 0.3, 0.2, 0.5 -> rank 5: not in top-5.
  // Sample 1, label 1 (value 1.0): class 0 has the same value and comes first -> rank 1: top-5, not top-1.
  // Sample 2, label 0 (value 0.6): rank 0: top-1.
  const int32_t labels[] = {4, 1, 0};
  Accuracy a = make_accuracy(6);
  add_scores(a, y, labels);
  EXPECT_EQ(a.samples, 3);
  EXPECT_EQ(a.correct, 1);
  EXPECT_EQ(a.correct_top5, 2);
  EXPECT_DOUBLE_EQ(a.top1(), 1.0 / 3.0);
  ASSERT_TRUE(a.top5().has_value());
  EXPECT_DOUBLE_EQ(*a.top5(), 2.0 / 3.0);
  // Predictions: sample 0 -> class 1, sample 1 -> class 0, sample 2 -> class 0.
  std::vector<int64_t> want(36, 0);
  want[4 * 6 + 1] = 1;
  want[1 * 6 + 0] = 1;
  want[0 * 6 + 0] = 1;
  EXPECT_EQ(a.confusion, want);
  const json j = accuracy_json(a);
  EXPECT_EQ(j["confusion"][4][1], 1);
  EXPECT_EQ(j["correct"], 1);
}

TEST(Accuracy, NoTopFiveBelowFiveClasses) {
  Array y{{2, 4}, {0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f}};
  const int32_t labels[] = {1, 2};
  Accuracy a = make_accuracy(4);
  add_scores(a, y, labels);
  EXPECT_EQ(a.correct, 1);
  EXPECT_FALSE(a.top5().has_value());
  EXPECT_TRUE(accuracy_json(a)["top5"].is_null());
}
