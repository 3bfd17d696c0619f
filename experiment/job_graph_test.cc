#include "experiment/job_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sslab::experiment {
namespace {

using ::testing::ElementsAre;

TEST(JobGraphTest, ProbeTargetsAreLayerMajor) {
  EvaluationPlan plan;
  plan.layers = {"block3", "pixels"};
  plan.probe_kinds = {ProbeKind::kLbfgs, ProbeKind::kMlp};
  plan.label_fractions = {1.0, 0.1};
  EXPECT_THAT(ProbeTargets(plan),
              ElementsAre(ProbeTarget{"block3", ProbeKind::kLbfgs, 1.0},
                          ProbeTarget{"block3", ProbeKind::kLbfgs, 0.1},
                          ProbeTarget{"block3", ProbeKind::kMlp, 1.0},
                          ProbeTarget{"block3", ProbeKind::kMlp, 0.1},
                          ProbeTarget{"pixels", ProbeKind::kLbfgs, 1.0},
                          ProbeTarget{"pixels", ProbeKind::kLbfgs, 0.1},
                          ProbeTarget{"pixels", ProbeKind::kMlp, 1.0},
                          ProbeTarget{"pixels", ProbeKind::kMlp, 0.1}));
}

TEST(JobGraphTest, EvaluatedEpochs) {
  EvaluationPlan plan;
  EXPECT_TRUE(IsEvaluatedEpoch(plan, 7, /*is_final=*/true));
  EXPECT_FALSE(IsEvaluatedEpoch(plan, 5, /*is_final=*/false));
  plan.every_epochs = 5;
  EXPECT_TRUE(IsEvaluatedEpoch(plan, 5, false));
  EXPECT_TRUE(IsEvaluatedEpoch(plan, 10, false));
  EXPECT_FALSE(IsEvaluatedEpoch(plan, 0, false));
  EXPECT_FALSE(IsEvaluatedEpoch(plan, 7, false));
}

TEST(JobGraphTest, EvaluationSplits) {
  EXPECT_THAT(kEvaluationSplits,
              ElementsAre(Split::kTrain, Split::kVal, Split::kTest));
}

}  // namespace
}  // namespace sslab::experiment
