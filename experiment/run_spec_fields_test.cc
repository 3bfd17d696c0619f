#include "experiment/run_spec_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RunSpecFieldsTest, SetsEachKindOfSetting) {
  RunSpec s;
  ASSERT_OK(SetField(s, "lr", "0.4", "x"));
  ASSERT_OK(SetField(s, "batch-size", "256", "x"));
  ASSERT_OK(SetField(s, "max-examples", "5000", "x"));
  ASSERT_OK(SetField(s, "last-relu", "false", "x"));
  ASSERT_OK(SetField(s, "arch", "RevNet50", "x"));
  ASSERT_OK(SetField(s, "dataset", "cifar:/data/c:10", "x"));
  ASSERT_OK(SetField(s, "decay-epochs", "3, 6", "x"));
  ASSERT_OK(SetField(s, "probes", "lbfgs,mlp", "x"));
  ASSERT_OK(SetField(s, "sgd-lr", "1e-2", "x"));
  EXPECT_EQ(s.lr_schedule.base_lr, 0.4);
  EXPECT_EQ(s.batch_size, 256);
  EXPECT_EQ(s.dataset.max_examples, 5000);
  EXPECT_EQ(s.last_relu, false);
  EXPECT_EQ(s.architecture, Architecture::kRevNet50);
  EXPECT_EQ(s.dataset.kind, DatasetKind::kCifar);
  EXPECT_EQ(s.dataset.path, "/data/c:10");
  EXPECT_THAT(s.lr_schedule.decay_epochs, ElementsAre(3, 6));
  EXPECT_THAT(s.evaluation.probe_kinds,
              ElementsAre(ProbeKind::kLbfgs, ProbeKind::kMlp));
  EXPECT_EQ(s.evaluation.probe.sgd_learning_rate, 0.01);
}

TEST(RunSpecFieldsTest, NamesTheFieldAndTheValueOnBadInput) {
  RunSpec s;
  EXPECT_THAT(SetField(s, "lrr", "1", "axes[0]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[0]: unknown setting \"lrr\"; one of "
                                 "method|arch|width")));
  EXPECT_THAT(SetField(s, "batch-size", "64.5", "axes[1].values[0]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[1].values[0]: batch-size: expected an "
                                 "integer, got \"64.5\"")));
  EXPECT_THAT(SetField(s, "probes", "lbfgs,svm", "p"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected lbfgs|sgd|mlp, got \"svm\"")));
  EXPECT_THAT(
      SetField(s, "dataset", "/data", "d"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("KIND:PATH")));
  EXPECT_THAT(
      SetField(s, "last-relu", "yes", "r"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true|false")));
  // A failed set leaves the setting as it was.
  EXPECT_FALSE(s.batch_size.has_value());
  EXPECT_TRUE(s.evaluation.probe_kinds.empty());
}

TEST(RunSpecFieldsTest, ListsFieldsAndTellsListsApart) {
  EXPECT_TRUE(IsListField("decay-epochs"));
  EXPECT_TRUE(IsListField("l2-grid"));
  EXPECT_FALSE(IsListField("lr"));
  EXPECT_FALSE(IsListField("nope"));
  EXPECT_TRUE(IsField("memory-format"));
  EXPECT_FALSE(IsField("priority"));
  // Every listed name is a setting: an empty value is refused as a value of
  // the wrong form, naming the setting.
  for (absl::string_view name : absl::StrSplit(FieldNames(), '|')) {
    RunSpec s;
    EXPECT_THAT(SetField(s, name, "", "x"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("x: ", name, ": expected"))))
        << name;
  }
}

}  // namespace
}  // namespace sslab::experiment
