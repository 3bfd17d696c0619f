#include "evaluator/logistic_regression.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "common/testing/status_matchers.h"

namespace sslab::evaluator {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

TEST(LogisticLossTest, MatchesHandComputedCase) {
  // Two points, two classes, W = 0: p = 0.5 everywhere, loss = log 2 and
  // the residual (p - onehot) / n = +-0.25.
  at::Tensor x = at::eye(2, at::kFloat);
  at::Tensor y = at::arange(2, at::kLong);
  LinearModel m{at::zeros({2, 2}), at::zeros({2})};
  LossAndGradient g = LogisticLossAndGradient(x, y, m, /*l2=*/0.5);
  EXPECT_NEAR(g.loss, std::log(2.0), 1e-6);
  EXPECT_TRUE(at::allclose(
      g.weight_grad, at::tensor({-0.25f, 0.25f, 0.25f, -0.25f}).view({2, 2})));
  EXPECT_TRUE(at::allclose(g.bias_grad, at::zeros({2})));

  // With W = [[1, 0], [0, 0]] the L2 term adds 0.5 * 0.5 * 1 to the loss and
  // 0.5 * W to the weight gradient.
  m.weight = at::tensor({1.f, 0.f, 0.f, 0.f}).view({2, 2});
  g = LogisticLossAndGradient(x, y, m, 0.5);
  const double e = std::exp(1.0);
  const double expected =
      0.5 * (std::log(e + 1) - 1) + 0.5 * std::log(2.0) + 0.25;
  EXPECT_NEAR(g.loss, expected, 1e-6);
  const float p0 = static_cast<float>(e / (e + 1));
  at::Tensor expected_grad =
      at::tensor({(p0 - 1) / 2 + 0.5f, (1 - p0) / 2, 0.25f, -0.25f})
          .view({2, 2});
  EXPECT_TRUE(at::allclose(g.weight_grad, expected_grad, 1e-5, 1e-6));
}

TEST(LogisticLossTest, GradientMatchesAutograd) {
  at::Generator gen = Gen(1);
  at::Tensor x = at::randn({50, 7}, gen, at::kDouble);
  at::Tensor y = at::randint(4, {50}, gen, at::kLong);
  at::Tensor w = at::randn({7, 4}, gen, at::kDouble).requires_grad_(true);
  at::Tensor b = at::randn({4}, gen, at::kDouble).requires_grad_(true);
  const double l2 = 0.3;
  at::Tensor loss = at::cross_entropy_loss(at::addmm(b, x, w), y) +
                    0.5 * l2 * w.square().sum();
  loss.backward();
  LossAndGradient g =
      LogisticLossAndGradient(x, y, LinearModel{w.detach(), b.detach()}, l2);
  EXPECT_NEAR(g.loss, loss.item<double>(), 1e-10);
  EXPECT_TRUE(at::allclose(g.weight_grad, w.grad(), 1e-8, 1e-10));
  EXPECT_TRUE(at::allclose(g.bias_grad, b.grad(), 1e-8, 1e-10));
}

TEST(FitLogisticRegressionTest, SeparableToyReachesFullAccuracy) {
  // Four well separated Gaussian blobs.
  at::Generator gen = Gen(2);
  at::Tensor centers =
      at::tensor({4.f, 0.f, -4.f, 0.f, 0.f, 4.f, 0.f, -4.f}).view({4, 2});
  at::Tensor y = at::arange(4, at::kLong).repeat({100});
  at::Tensor x = centers.index_select(0, y) + at::randn({400, 2}, gen);
  LbfgsOptions options;
  ASSERT_OK_AND_ASSIGN(LinearFit fit,
                       FitLogisticRegression(x, y, 4, 1e-4, options));
  at::Tensor pred = at::addmm(fit.model.bias, x, fit.model.weight).argmax(1);
  EXPECT_EQ(pred.eq(y).sum().item<int64_t>(), 400);
  EXPECT_LT(fit.gradient_max, 1e-4);
  EXPECT_GT(fit.iterations, 0);
}

TEST(FitLogisticRegressionTest, ReachesTheOptimumOfAStronglyConvexProblem) {
  // With a big L2 weight the optimum is well conditioned; the final
  // gradient must vanish and the loss must not beat gradient descent's.
  at::Generator gen = Gen(3);
  at::Tensor x = at::randn({200, 10}, gen, at::kDouble);
  at::Tensor y = at::randint(3, {200}, gen, at::kLong);
  LbfgsOptions options;
  options.gradient_tolerance = 1e-10;
  options.loss_tolerance = 0;
  ASSERT_OK_AND_ASSIGN(LinearFit fit,
                       FitLogisticRegression(x, y, 3, 0.1, options));
  LossAndGradient g = LogisticLossAndGradient(x, y, fit.model, 0.1);
  EXPECT_LT(g.weight_grad.abs().max().item<double>(), 1e-7);
  EXPECT_NEAR(g.loss, fit.loss, 1e-12);
  // Plain gradient descent from zero for many steps reaches the same loss.
  LinearModel m{at::zeros({10, 3}, at::kDouble), at::zeros({3}, at::kDouble)};
  for (int i = 0; i < 3000; ++i) {
    LossAndGradient step = LogisticLossAndGradient(x, y, m, 0.1);
    m.weight -= 0.5 * step.weight_grad;
    m.bias -= 0.5 * step.bias_grad;
  }
  EXPECT_THAT(LogisticLossAndGradient(x, y, m, 0.1).loss,
              DoubleNear(fit.loss, 1e-9));
}

TEST(FitLogisticRegressionTest, TargetLossStopsEarly) {
  at::Generator gen = Gen(4);
  at::Tensor x = at::randn({300, 20}, gen);
  at::Tensor y = at::randint(5, {300}, gen, at::kLong);
  LbfgsOptions options;
  ASSERT_OK_AND_ASSIGN(LinearFit full,
                       FitLogisticRegression(x, y, 5, 1e-3, options));
  options.target_loss = std::log(5.0) - 0.5 * (std::log(5.0) - full.loss);
  ASSERT_OK_AND_ASSIGN(LinearFit early,
                       FitLogisticRegression(x, y, 5, 1e-3, options));
  EXPECT_LE(early.loss, options.target_loss + 1e-6);
  EXPECT_LT(early.iterations, full.iterations);
}

TEST(FitLogisticRegressionTest,
     SecondMomentPreconditionerReachesTheSameOptimum) {
  // Strongly correlated features (a random mixing with singular values
  // spread over 1e-2 .. 1) make plain L-BFGS crawl; whitening them through
  // the second-moment preconditioner must reach the same optimum in far
  // fewer iterations. One feature is constant (a zero-variance direction)
  // and the smallest weight is 0, so the preconditioner's floor is used.
  at::Generator gen = Gen(7);
  const int64_t n = 600, d = 40;
  at::Tensor z = at::randn({n, d}, gen, at::kDouble);
  at::Tensor y = at::randint(4, {n}, gen, at::kLong);
  z.narrow(1, 0, 4).add_(at::one_hot(y, 4).to(at::kDouble));
  auto [q, r] = at::linalg_qr(at::randn({d, d}, gen, at::kDouble));
  at::Tensor x = z.mm(at::diag(at::logspace(0, -2, d, 10, at::kDouble)))
                     .mm(q.t())
                     .to(at::kFloat);
  x.select(1, d - 1).fill_(1.5);
  LbfgsOptions plain;
  plain.max_iterations = 2000;
  plain.preconditioner_rank = 0;
  const std::vector<double> grid = {1e-2, 1e-4, 0};
  ASSERT_OK_AND_ASSIGN(std::vector<LinearFit> slow,
                       FitLogisticRegressionPath(x, y, 4, grid, plain));
  // Rank d: the exact eigendecomposition; rank 8 (< d / 4): the randomized
  // leading part, the rest taken as flat.
  for (int64_t rank : {d, int64_t{8}}) {
    LbfgsOptions preconditioned = plain;
    preconditioned.preconditioner_rank = rank;
    ASSERT_OK_AND_ASSIGN(
        std::vector<LinearFit> fast,
        FitLogisticRegressionPath(x, y, 4, grid, preconditioned));
    for (size_t i = 0; i < grid.size(); ++i) {
      SCOPED_TRACE(::testing::Message()
                   << "rank " << rank << ", l2 " << grid[i]);
      EXPECT_LE(fast[i].gradient_max, plain.gradient_tolerance);
      EXPECT_TRUE(std::isfinite(fast[i].loss));
      // Both stop at gradient 1e-4; near an ill-conditioned optimum that
      // leaves the losses a little apart, the preconditioned one no higher.
      EXPECT_LE(fast[i].loss, slow[i].loss + 1e-5);
      EXPECT_LT(2 * fast[i].iterations, slow[i].iterations);
    }
  }
}

TEST(EstimateSecondMomentsTest, ExactOrLeadingEigenpairs) {
  // X^T X / n with a known spectrum: 6 large eigenvalues over a flat rest.
  at::Generator gen = Gen(8);
  const int64_t n = 2000, d = 120;
  auto [q, r] = at::linalg_qr(at::randn({d, d}, gen, at::kDouble));
  at::Tensor scales = at::ones({d}, at::kDouble);
  scales.narrow(0, 0, 6).copy_(
      at::tensor({30., 25., 20., 15., 10., 5.}, at::kDouble));
  at::Tensor x = at::randn({n, d}, gen, at::kDouble).mul(scales).mm(q.t());
  at::Tensor exact = std::get<0>(at::linalg_eigh(x.t().mm(x).div(n)));

  SecondMoments all = EstimateSecondMoments(x.to(at::kFloat), 30);
  ASSERT_EQ(all.basis.size(1), d);  // d <= 4 * rank: every eigenpair
  EXPECT_TRUE(at::allclose(all.eigenvalues, exact, 1e-4, 1e-3));
  EXPECT_EQ(all.rest, 0);

  SecondMoments leading = EstimateSecondMoments(x.to(at::kFloat), 12);
  ASSERT_EQ(leading.basis.size(1), 12);
  at::Tensor gram = leading.basis.t().mm(leading.basis);
  EXPECT_TRUE(at::allclose(gram, at::eye(12), 1e-4, 1e-4));
  // The six large ones are found to 2%; the rest is about the flat part.
  at::Tensor found = leading.eigenvalues.flip(0).narrow(0, 0, 6);
  EXPECT_TRUE(at::allclose(found, exact.flip(0).narrow(0, 0, 6), 0.02));
  const double flat = exact.narrow(0, 0, d - 12).mean().item<double>();
  EXPECT_NEAR(leading.rest, flat, 0.1 * flat);
}

TEST(FitLogisticRegressionPathTest, EachWeightMatchesItsSeparateFit) {
  // Wide, noisy data: the small weights run long, the large ones stop
  // early, so the lockstep loop drops finished fits along the way.
  at::Generator gen = Gen(5);
  at::Tensor x = at::randn({400, 60}, gen);
  at::Tensor y = at::randint(4, {400}, gen, at::kLong);
  x.narrow(1, 0, 4).add_(at::one_hot(y, 4).to(at::kFloat));
  LbfgsOptions options;
  options.max_iterations = 200;
  const std::vector<double> grid = {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6};
  ASSERT_OK_AND_ASSIGN(std::vector<LinearFit> path,
                       FitLogisticRegressionPath(x, y, 4, grid, options));
  ASSERT_EQ(path.size(), grid.size());
  std::set<int> iterations;
  for (size_t i = 0; i < grid.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(LinearFit alone,
                         FitLogisticRegression(x, y, 4, grid[i], options));
    EXPECT_NEAR(path[i].loss, alone.loss, 1e-6 * std::abs(alone.loss))
        << grid[i];
    // Same iterates up to float32 rounding of the wider products.
    EXPECT_LE(std::abs(path[i].iterations - alone.iterations), 2) << grid[i];
    EXPECT_TRUE(
        at::allclose(path[i].model.weight, alone.model.weight, 1e-3, 1e-3))
        << grid[i];
    iterations.insert(path[i].iterations);
  }
  EXPECT_GT(iterations.size(), 2u);  // the fits really stopped apart
}

TEST(FitLogisticRegressionPathTest, WarmStartsAndBadGrids) {
  at::Generator gen = Gen(6);
  at::Tensor x = at::randn({100, 5}, gen);
  at::Tensor y = at::randint(3, {100}, gen, at::kLong);
  LbfgsOptions options;
  ASSERT_OK_AND_ASSIGN(
      std::vector<LinearFit> cold,
      FitLogisticRegressionPath(x, y, 3, {1e-2, 1e-3}, options));
  // Started at their own optima, both stop at once.
  ASSERT_OK_AND_ASSIGN(
      std::vector<LinearFit> warm,
      FitLogisticRegressionPath(x, y, 3, {1e-2, 1e-3}, options,
                                {cold[0].model, cold[1].model}));
  EXPECT_LE(warm[0].iterations, 1);
  EXPECT_LE(warm[1].iterations, 1);
  EXPECT_THAT(
      FitLogisticRegressionPath(x, y, 3, {}, options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("l2_grid")));
  EXPECT_THAT(FitLogisticRegressionPath(x, y, 3, {1e-2, -1}, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("l2")));
  EXPECT_THAT(FitLogisticRegressionPath(x, y, 3, {1e-2, 1e-3}, options,
                                        {cold[0].model}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("init")));
}

TEST(FitLogisticRegressionTest, RejectsBadInput) {
  at::Tensor x = at::zeros({4, 2});
  at::Tensor y = at::tensor({0, 1, 0, 1}, at::kLong);
  LbfgsOptions options;
  EXPECT_THAT(
      FitLogisticRegression(x, y.narrow(0, 0, 3), 2, 0, options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("labels")));
  EXPECT_THAT(
      FitLogisticRegression(x, y, 1, 0, options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_classes")));
  EXPECT_THAT(
      FitLogisticRegression(x, y + 1, 2, 0, options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("labels")));
  EXPECT_THAT(FitLogisticRegression(x, y, 2, -1, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("l2")));
  EXPECT_THAT(
      FitLogisticRegression(at::zeros({0, 2}), y.narrow(0, 0, 0), 2, 0,
                            options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("features")));
  LbfgsOptions negative_rank;
  negative_rank.preconditioner_rank = -1;
  EXPECT_THAT(FitLogisticRegression(x, y, 2, 0, negative_rank),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("preconditioner_rank")));
  const SecondMoments of_other_features =
      EstimateSecondMoments(at::ones({4, 3}), 8);
  EXPECT_THAT(FitLogisticRegression(x, y, 2, 0, options, std::nullopt,
                                    &of_other_features),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("second_moments")));
}

}  // namespace
}  // namespace sslab::evaluator
