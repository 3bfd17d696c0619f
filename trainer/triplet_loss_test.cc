#include "trainer/triplet_loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

namespace sslab::trainer {
namespace {

// Straight transcription of the definition, for comparison.
double ReferenceLoss(const at::Tensor& x, const at::Tensor& labels,
                     double margin) {
  const int64_t n = x.size(0);
  at::Tensor d = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(2);
  auto dist = d.accessor<float, 2>();
  auto lab = labels.accessor<int64_t, 1>();
  double sum = 0;
  int count = 0;
  for (int64_t a = 0; a < n; ++a) {
    for (int64_t p = 0; p < n; ++p) {
      if (p == a || lab[a] != lab[p]) continue;
      double outside = std::numeric_limits<double>::infinity();
      double inside = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) {
        if (lab[k] == lab[a]) continue;
        inside = std::max<double>(inside, dist[a][k]);
        if (dist[a][k] > dist[a][p])
          outside = std::min<double>(outside, dist[a][k]);
      }
      const double neg = std::isinf(outside) ? inside : outside;
      sum += std::max(0.0, margin + dist[a][p] - neg);
      ++count;
    }
  }
  return sum / count;
}

TEST(TripletLossTest, HandComputedCase) {
  // 1-d points 0, 1 (class 0) and 1.2, 3 (class 1); squared distances:
  // (0,1)=1 (0,2)=1.44 (0,3)=9 (1,2)=0.04 (1,3)=4 (2,3)=3.24. Margin 0.5:
  //  a=0,p=1: semi-hard negative 1.44 -> 0.5 + 1 - 1.44 = 0.06
  //  a=1,p=0: semi-hard negative 4    -> 0.5 + 1 - 4 < 0 -> 0
  //  a=2,p=3: no negative beyond 3.24, farthest 1.44 -> 0.5+3.24-1.44 = 2.3
  //  a=3,p=2: semi-hard negative 4    -> 0.5 + 3.24 - 4 < 0 -> 0
  // mean = 2.36 / 4 = 0.59.
  at::Tensor x = at::tensor({0.0f, 1.0f, 1.2f, 3.0f}).view({4, 1});
  at::Tensor labels = at::tensor({0, 0, 1, 1}, at::kLong);
  EXPECT_NEAR(TripletSemiHardLoss(x, labels, 0.5).item<double>(), 0.59, 1e-5);
  // Pushing the classes apart beyond the margin zeroes the loss.
  at::Tensor far = at::tensor({0.0f, 0.1f, 10.0f, 10.1f}).view({4, 1});
  EXPECT_NEAR(TripletSemiHardLoss(far, labels, 0.5).item<double>(), 0.0, 1e-6);
}

TEST(TripletLossTest, MatchesReferenceOnRandomEmbeddings) {
  torch::manual_seed(3);
  at::Tensor x = torch::randn({12, 5});
  at::Tensor labels = torch::arange(3).repeat_interleave(4);
  EXPECT_NEAR(TripletSemiHardLoss(x, labels, 0.5).item<double>(),
              ReferenceLoss(x, labels, 0.5), 1e-4);
}

TEST(TripletLossTest, GradientReachesEmbeddings) {
  torch::manual_seed(4);
  at::Tensor x = torch::randn({8, 3}).requires_grad_(true);
  at::Tensor labels = torch::arange(2).repeat_interleave(4);
  at::Tensor loss = TripletSemiHardLoss(x, labels, 0.5);
  ASSERT_GT(loss.item<double>(), 0);
  loss.backward();
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0);
}

TEST(TripletLossTest, NearestNeighbourAccuracy) {
  at::Tensor x = at::tensor({0.0f, 0.1f, 5.0f, 5.1f, 0.3f}).view({5, 1});
  at::Tensor labels = at::tensor({0, 0, 1, 1, 1}, at::kLong);
  // Rows 0..3 find their partner; row 4 (label 1) is nearest to a 0.
  EXPECT_NEAR(NearestNeighbourAccuracy(x, labels).item<double>(), 0.8, 1e-6);
}

}  // namespace
}  // namespace sslab::trainer
