#include "evaluator/probe.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/testing/status_matchers.h"
#include "evaluator/testing/fashion_mnist.h"

namespace sslab::evaluator {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

at::Generator Gen(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

// Gaussian blobs: class c centred at `scale * e_c` in `dims` dimensions.
FeatureSplit Blobs(int64_t n, int classes, int64_t dims, double scale,
                   uint64_t seed) {
  at::Generator gen = Gen(seed);
  at::Tensor y = at::randint(classes, {n}, gen, at::kLong);
  at::Tensor x = at::randn({n, dims}, gen);
  x.narrow(1, 0, classes).add_(at::one_hot(y, classes).to(at::kFloat) * scale);
  return {x, y};
}

// XOR: label = sign(x0) != sign(x1); not linearly separable.
FeatureSplit Xor(int64_t n, uint64_t seed) {
  at::Generator gen = Gen(seed);
  at::Tensor x = at::rand({n, 2}, gen) * 2 - 1;
  at::Tensor y = (x.select(1, 0).gt(0) != x.select(1, 1).gt(0)).to(at::kLong);
  return {x, y};
}

double Accuracy(const LinearFit& fit, const FeatureSplit& s) {
  at::Tensor pred =
      at::addmm(fit.model.bias, s.features, fit.model.weight).argmax(1);
  return pred.eq(s.labels).to(at::kDouble).mean().item<double>();
}

TEST(LbfgsProbeTest, SelectsTheGridPointWithTheBestValAccuracy) {
  // Few noisy training rows in many dimensions: the L2 weight matters.
  ProbeData data{Blobs(60, 3, 40, 1.5, 1), Blobs(400, 3, 40, 1.5, 2),
                 Blobs(400, 3, 40, 1.5, 3)};
  LbfgsProbeOptions options;
  options.l2_grid = {1e-5, 1e-2, 1.0, 30.0};
  options.train_on_train_and_val = false;
  ASSERT_OK_AND_ASSIGN(ProbeResult r, RunLbfgsProbe(data, options));
  ASSERT_EQ(r.l2_val_top1.size(), 4u);

  // Recompute every grid point independently (cold start) on the same
  // standardised data.
  at::Tensor mean = data.train.features.mean(0, true);
  at::Tensor sd = data.train.features.std(0, false, true);
  auto standardise = [&](const at::Tensor& x) { return (x - mean) / sd; };
  double best_acc = -1, best_l2 = -1;
  std::vector<double> accs;
  for (double l2 : options.l2_grid) {
    ASSERT_OK_AND_ASSIGN(
        LinearFit fit,
        FitLogisticRegression(standardise(data.train.features),
                              data.train.labels, 3, l2, options.lbfgs));
    const double acc =
        Accuracy(fit, {standardise(data.val.features), data.val.labels});
    accs.push_back(acc);
    if (acc > best_acc) best_acc = acc, best_l2 = l2;
  }
  for (size_t i = 0; i < accs.size(); ++i) {
    EXPECT_NEAR(r.l2_val_top1[i].second, accs[i], 0.011) << "grid point " << i;
  }
  // The grid must discriminate, or the test proves nothing.
  EXPECT_GT(*std::max_element(accs.begin(), accs.end()) -
                *std::min_element(accs.begin(), accs.end()),
            0.05);
  double chosen_val = -1;
  for (auto [l2, acc] : r.l2_val_top1) {
    if (l2 == r.chosen_l2) chosen_val = acc;
    EXPECT_LE(acc, r.val_top1);
  }
  EXPECT_EQ(chosen_val, r.val_top1);
  EXPECT_EQ(r.chosen_l2, best_l2);
  EXPECT_GT(r.test_top1, 0.5);
  EXPECT_GE(r.test_top5, r.test_top1);
}

TEST(LbfgsProbeTest, SeparableToyReachesFullAccuracy) {
  ProbeData data{Blobs(300, 4, 6, 12.0, 4), {}, Blobs(300, 4, 6, 12.0, 5)};
  LbfgsProbeOptions options;
  options.l2_grid = {1e-4};
  ASSERT_OK_AND_ASSIGN(ProbeResult r, RunLbfgsProbe(data, options));
  EXPECT_EQ(r.test_top1, 1.0);
  EXPECT_EQ(r.test_top5, 1.0);
  EXPECT_TRUE(std::isnan(r.val_top1));
}

TEST(LbfgsProbeTest, FashionMnistRawPixelsMatchScikitLearn) {
  // scikit-learn 1.2 LogisticRegression(solver="lbfgs", C=0.02, tol=1e-8,
  // max_iter=1000; converged in 581 iterations) on StandardScaler'd raw
  // pixels of the first 5000 train images, scored on the 10000 test images:
  // 0.8231. C = 1 / (n * l2) with n = 5000, l2 = 1e-2. The full-data
  // comparison is bench/evaluator/lbfgs_vs_sklearn.py.
  constexpr double kScikitLearnTop1 = 0.8231;
  auto train = fmnist::LoadFashionMnist("train", 5000);
  auto test = fmnist::LoadFashionMnist("test");
  if (!train || !test) GTEST_SKIP() << "Fashion-MNIST not installed";
  // One thread: on a shared CI box a second OpenMP thread mostly waits.
  at::set_num_threads(1);
  ProbeData data{
      {train->images, train->labels}, {}, {test->images, test->labels}};
  LbfgsProbeOptions options;
  options.l2_grid = {1e-2};
  options.lbfgs.max_iterations = 150;
  ASSERT_OK_AND_ASSIGN(ProbeResult r, RunLbfgsProbe(data, options));
  EXPECT_NEAR(r.test_top1, kScikitLearnTop1, 0.005);
  EXPECT_GT(r.test_top5, 0.98);
}

TEST(SgdProbeTest, LearnsBlobsAndIsDeterministic) {
  ProbeData data{Blobs(600, 5, 16, 3.0, 6), Blobs(200, 5, 16, 3.0, 7),
                 Blobs(400, 5, 16, 3.0, 8)};
  SgdProbeOptions options;
  options.epochs = 30;
  options.batch_size = 64;
  options.decay_epochs = {20};
  options.seed = 11;
  ASSERT_OK_AND_ASSIGN(ProbeResult a, RunSgdProbe(data, options));
  ASSERT_OK_AND_ASSIGN(ProbeResult b, RunSgdProbe(data, options));
  EXPECT_GT(a.test_top1, 0.85);
  EXPECT_GT(a.val_top1, 0.85);
  EXPECT_EQ(a.test_top1, b.test_top1);
  EXPECT_EQ(a.train_loss, b.train_loss);
  options.seed = 12;
  ASSERT_OK_AND_ASSIGN(ProbeResult c, RunSgdProbe(data, options));
  EXPECT_NE(a.train_loss, c.train_loss);
}

TEST(SgdProbeTest, ConvergesToTheLbfgsOptimum) {
  // SGD on the same objective (weight decay = L2 weight) approaches the
  // L-BFGS loss once the learning rate has decayed.
  ProbeData data{Blobs(500, 3, 8, 1.0, 9), {}, Blobs(300, 3, 8, 1.0, 10)};
  LbfgsProbeOptions lbfgs;
  lbfgs.l2_grid = {1e-2};
  ASSERT_OK_AND_ASSIGN(ProbeResult exact, RunLbfgsProbe(data, lbfgs));
  SgdProbeOptions sgd;
  sgd.epochs = 60;
  sgd.batch_size = 50;
  sgd.weight_decay = 1e-2;
  sgd.decay_epochs = {30, 50};
  ASSERT_OK_AND_ASSIGN(ProbeResult approx, RunSgdProbe(data, sgd));
  // SGD's reported loss is the data term only; it must be near L-BFGS's.
  EXPECT_NEAR(approx.test_top1, exact.test_top1, 0.03);
  EXPECT_LT(approx.train_loss, exact.train_loss + 0.02);
}

TEST(MlpProbeTest, BeatsLinearOnXor) {
  ProbeData data{Xor(1000, 13), {}, Xor(500, 14)};
  LbfgsProbeOptions linear;
  linear.l2_grid = {1e-4};
  ASSERT_OK_AND_ASSIGN(ProbeResult lin, RunLbfgsProbe(data, linear));
  MlpProbeOptions mlp;
  mlp.hidden_units = 64;
  mlp.optimizer = MlpOptimizer::kAdam;
  mlp.learning_rate = 1e-2;
  mlp.epochs = 40;
  mlp.batch_size = 100;
  mlp.seed = 3;
  ASSERT_OK_AND_ASSIGN(ProbeResult net, RunMlpProbe(data, mlp));
  EXPECT_LT(lin.test_top1, 0.7);
  EXPECT_GT(net.test_top1, 0.93);
  ASSERT_OK_AND_ASSIGN(ProbeResult again, RunMlpProbe(data, mlp));
  EXPECT_EQ(net.test_top1, again.test_top1);
  EXPECT_EQ(net.train_loss, again.train_loss);

  mlp.optimizer = MlpOptimizer::kSgd;
  mlp.learning_rate = 0.1;
  ASSERT_OK_AND_ASSIGN(ProbeResult sgd, RunMlpProbe(data, mlp));
  EXPECT_GT(sgd.test_top1, 0.9);
}

TEST(ProbeInputTest, RejectsBadInputWithClearErrors) {
  FeatureSplit good = Blobs(40, 2, 3, 2.0, 15);
  LbfgsProbeOptions options;
  options.l2_grid = {1e-3};
  auto run = [&](FeatureSplit train, FeatureSplit test) {
    return RunLbfgsProbe(ProbeData{train, {}, test}, options);
  };
  EXPECT_THAT(run({good.features, good.labels.narrow(0, 0, 39)}, good),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("train.labels: 39 labels for 40")));
  at::Tensor nan = good.features.clone();
  nan[3][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(run(good, {nan, good.labels}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("test.features: contains NaN or Inf")));
  at::Tensor inf = good.features.clone();
  inf[0][0] = std::numeric_limits<float>::infinity();
  EXPECT_THAT(run({inf, good.labels}, good),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("train.features")));
  EXPECT_THAT(
      run({good.features.narrow(0, 0, 0), good.labels.narrow(0, 0, 0)}, good),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("train: empty split")));
  EXPECT_THAT(run(good, {at::zeros({0, 3}), at::zeros({0}, at::kLong)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("test: empty split")));
  EXPECT_THAT(run({good.features, at::zeros({40}, at::kLong)}, good),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("only one class")));
  EXPECT_THAT(run(good, {good.features.narrow(1, 0, 2), good.labels}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("test.features: 2 dimensions")));
  // A grid needs a val split.
  options.l2_grid = {1e-3, 1e-2};
  EXPECT_THAT(run(good, good), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("val: empty split")));
  SgdProbeOptions sgd;
  sgd.epochs = 0;
  EXPECT_THAT(
      RunSgdProbe(ProbeData{good, {}, good}, sgd),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epochs")));
  MlpProbeOptions mlp;
  mlp.hidden_units = 0;
  EXPECT_THAT(
      RunMlpProbe(ProbeData{good, {}, good}, mlp),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_units")));
}

TEST(BalancedSubsetTest, TakesTheSameCountPerClassDeterministically) {
  // 3 classes with 50, 30 and 20 rows.
  at::Tensor labels =
      at::cat({at::zeros({50}, at::kLong), at::ones({30}, at::kLong),
               at::full({20}, 2, at::kLong)});
  at::Tensor features = at::arange(100, at::kFloat).unsqueeze(1);
  FeatureSplit split{features, labels};
  ASSERT_OK_AND_ASSIGN(FeatureSplit a, BalancedSubset(split, 0.3, 7));
  at::Tensor counts = at::bincount(a.labels);
  EXPECT_TRUE(at::equal(counts, at::tensor({10, 10, 10}, at::kLong)));
  // Rows stay paired with their labels and in original order.
  at::Tensor rows = a.features.squeeze(1).to(at::kLong);
  EXPECT_TRUE(at::equal(labels.index_select(0, rows), a.labels));
  EXPECT_TRUE(at::equal(std::get<0>(rows.sort()), rows));
  ASSERT_OK_AND_ASSIGN(FeatureSplit b, BalancedSubset(split, 0.3, 7));
  EXPECT_TRUE(at::equal(a.features, b.features));
  ASSERT_OK_AND_ASSIGN(FeatureSplit c, BalancedSubset(split, 0.3, 8));
  EXPECT_FALSE(at::equal(a.features, c.features));
  // A class smaller than the quota contributes all it has.
  ASSERT_OK_AND_ASSIGN(FeatureSplit d, BalancedSubset(split, 0.9, 7));
  EXPECT_TRUE(
      at::equal(at::bincount(d.labels), at::tensor({30, 30, 20}, at::kLong)));
  EXPECT_THAT(
      BalancedSubset(split, 0.0, 1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fraction")));
}

TEST(WithLabelFractionTest, CutsTrainAndValButNotTest) {
  // 4 classes x 25 rows in every split.
  const FeatureSplit split{at::arange(100, at::kFloat).unsqueeze(1),
                           at::arange(100, at::kLong).remainder(4)};
  ASSERT_OK_AND_ASSIGN(
      ProbeData cut, WithLabelFraction(ProbeData{split, split, split}, 0.2, 3));
  EXPECT_EQ(cut.train.labels.size(0), 20);
  // The refit on train + val must not see more labels than the fraction.
  EXPECT_EQ(cut.val.labels.size(0), 20);
  EXPECT_TRUE(
      at::equal(at::bincount(cut.val.labels), at::full({4}, 5, at::kLong)));
  EXPECT_EQ(cut.test.labels.size(0), 100);
  // No val split: only train is cut.
  ASSERT_OK_AND_ASSIGN(ProbeData no_val,
                       WithLabelFraction(ProbeData{split, {}, split}, 0.2, 3));
  EXPECT_EQ(no_val.train.labels.size(0), 20);
  EXPECT_FALSE(no_val.val.features.defined());
  ASSERT_OK_AND_ASSIGN(ProbeData all,
                       WithLabelFraction(ProbeData{split, split, split}, 1, 3));
  EXPECT_EQ(all.val.labels.size(0), 100);
  EXPECT_THAT(
      WithLabelFraction(ProbeData{split, split, split}, 1.5, 3).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fraction")));
}

}  // namespace
}  // namespace sslab::evaluator
