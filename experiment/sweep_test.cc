#include "experiment/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

SweepSpec Small() {
  SweepSpec s;
  s.name = "table1";
  s.base.method = Method::kRotation;
  s.base.architecture = Architecture::kResNet50V2;
  s.base.dataset.kind = DatasetKind::kIdx;
  s.base.dataset.path = "/d";
  s.base.epochs = 2;
  return s;
}

TEST(SweepTest, ExpandsEveryPointInAxisOrder) {
  SweepSpec s = Small();
  s.grid.methods = {Method::kRotation, Method::kJigsaw};
  s.grid.widths = {1, 2};
  s.grid.last_relu_values = {false};
  s.grid.seeds = {7};
  ASSERT_OK_AND_ASSIGN(std::vector<SweepRun> runs, ExpandSweep(s));
  ASSERT_THAT(runs, SizeIs(4));
  EXPECT_EQ(runs[0].name, "table1/rotation-resnet50_v2-k1(-)-seed7");
  EXPECT_EQ(runs[1].name, "table1/rotation-resnet50_v2-k2(-)-seed7");
  EXPECT_EQ(runs[3].name, "table1/jigsaw-resnet50_v2-k2(-)-seed7");
  EXPECT_EQ(runs[3].config.method, Method::kJigsaw);
  EXPECT_EQ(runs[3].config.batch_size, 128);  // the method's default
  EXPECT_EQ(runs[3].config.seed, 7);
  EXPECT_FALSE(runs[3].config.last_relu);
  EXPECT_EQ(runs[2].config.epochs, 2);
}

TEST(SweepTest, EmptyGridIsTheBaseRun) {
  ASSERT_OK_AND_ASSIGN(std::vector<SweepRun> runs, ExpandSweep(Small()));
  ASSERT_THAT(runs, SizeIs(1));
  EXPECT_EQ(runs[0].name, "table1/rotation-resnet50_v2-k4");
}

TEST(SweepTest, NamesTheBadField) {
  SweepSpec s = Small();
  s.grid.widths = {2, 0};
  EXPECT_THAT(ExpandSweep(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("widths[1]: must be in")));
  s = Small();
  s.grid.epochs_values = {-1};
  EXPECT_THAT(ExpandSweep(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("epochs_values[0]")));
  s = Small();
  s.base.dataset.path.clear();
  EXPECT_THAT(ExpandSweep(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("base.dataset.path")));
  s = Small();
  s.name.clear();
  EXPECT_THAT(ExpandSweep(s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
}

TEST(SweepTest, FurtherAxesSetAnySettingAndNameTheRun) {
  SweepSpec s = Small();
  s.grid.widths = {1, 2};
  s.grid.axes = {{"lr", {"0.1", "0.4"}}, {"decay-epochs", {"1", "1.5"}}};
  ASSERT_OK_AND_ASSIGN(std::vector<SweepRun> runs, ExpandSweep(s));
  ASSERT_THAT(runs, SizeIs(8));
  EXPECT_EQ(runs[0].name, "table1/rotation-resnet50_v2-k1-lr0.1-decay-epochs1");
  EXPECT_EQ(runs[1].name,
            "table1/rotation-resnet50_v2-k1-lr0.1-decay-epochs1.5");
  EXPECT_EQ(runs[7].name,
            "table1/rotation-resnet50_v2-k2-lr0.4-decay-epochs1.5");
  EXPECT_EQ(runs[7].config.lr_schedule.base_lr, 0.4);
  EXPECT_EQ(runs[7].config.lr_schedule.decay_epochs, std::vector<double>{1.5});
  EXPECT_EQ(runs[7].config.width, 2);
}

TEST(SweepTest, ZippedAxesAdvanceTogether) {
  SweepSpec s = Small();
  s.grid.methods = {Method::kRotation, Method::kJigsaw};
  s.grid.epochs_values = {2, 4};
  s.grid.axes = {{"lr", {"0.1", "0.4"}},
                 {"batch-size", {"64", "256"}},
                 {"decay-epochs", {"1.5", "3"}}};
  s.grid.zip = {{"lr", "batch-size"}, {"epochs", "decay-epochs"}};
  ASSERT_OK_AND_ASSIGN(std::vector<SweepRun> runs, ExpandSweep(s));
  // methods (2) x epochs+decay-epochs (2) x lr+batch-size (2): the zip
  // groups sit where their first axis is.
  ASSERT_THAT(runs, SizeIs(8));
  EXPECT_EQ(runs[0].name,
            "table1/rotation-resnet50_v2-k4-e2-lr0.1-batch-size64-"
            "decay-epochs1.5");
  EXPECT_EQ(runs[1].name,
            "table1/rotation-resnet50_v2-k4-e2-lr0.4-batch-size256-"
            "decay-epochs1.5");
  EXPECT_EQ(runs[2].name,
            "table1/rotation-resnet50_v2-k4-e4-lr0.1-batch-size64-"
            "decay-epochs3");
  EXPECT_EQ(runs[7].config.method, Method::kJigsaw);
  for (const SweepRun& run : runs) {
    EXPECT_EQ(run.config.batch_size,
              run.config.lr_schedule.base_lr == 0.1 ? 64 : 256);
    EXPECT_EQ(run.config.lr_schedule.decay_epochs.front(),
              run.config.epochs == 2 ? 1.5 : 3);
  }
  ASSERT_OK_AND_ASSIGN(int size, GridSize(s.grid));
  EXPECT_EQ(size, 8);
}

TEST(SweepTest, BadFurtherAxesAndZipsNameTheirEntry) {
  auto expand = [](std::vector<SweepAxis> axes,
                   std::vector<std::vector<std::string>> zip = {}) {
    SweepSpec s = Small();
    s.grid.widths = {1, 2};
    s.grid.axes = std::move(axes);
    s.grid.zip = std::move(zip);
    return ExpandSweep(s).status();
  };
  EXPECT_THAT(expand({{"lrr", {"1"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[0].field: unknown setting \"lrr\"")));
  EXPECT_THAT(expand({{"width", {"1"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has its own axis")));
  EXPECT_THAT(expand({{"lr", {"1"}}, {"lr", {"2"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[1].field: \"lr\" is swept twice")));
  EXPECT_THAT(expand({{"lr", {}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[0].values: must not be empty")));
  EXPECT_THAT(expand({{"lr", {"0.1", "fast"}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("axes[0].values[1]: lr: expected a number")));
  // In range is ExpandRunSpec's to say; the point is named.
  EXPECT_THAT(
      expand({{"lr", {"0.1", "-1"}}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("base_lr"),
                     HasSubstr("(in the sweep's point width=1 lr=-1)"))));
  EXPECT_THAT(expand({{"lr", {"0.1", "0.4"}}}, {{"lr", "seed"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("zip[0]: no axis sweeps \"seed\"")));
  EXPECT_THAT(expand({{"lr", {"0.1", "0.4", "1"}}}, {{"width", "lr"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("zip[0]: width has 2 values but lr has 3")));
  EXPECT_THAT(
      expand({{"lr", {"0.1", "0.4"}}}, {{"width", "lr"}, {"lr", "width"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("zip[1]: \"lr\" is zipped more than once")));
  EXPECT_THAT(expand({{"lr", {"0.1", "0.4"}}}, {{"lr"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("zip[0]: needs at least two fields")));
  EXPECT_THAT(expand({{"lr", {"0.1", "0.4"}}}, {{"lr", "epochs-values"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("(zip names settings: method, arch")));
  // A value long enough to make a run's name too long is refused, naming
  // the point.
  EXPECT_THAT(expand({{"dataset", {"idx:/" + std::string(190, 'd')}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is longer than 200 characters (in the "
                                 "sweep's point width=1 dataset=idx:/ddd")));
}

TEST(SweepTest, GridSizeIsBoundedWithoutOverflow) {
  SweepGrid grid;
  grid.widths.assign(10, 1);
  grid.seeds.assign(100, 1);
  ASSERT_OK_AND_ASSIGN(int size, GridSize(grid));
  EXPECT_EQ(size, 1000);
  grid.epochs_values = {1, 2};
  EXPECT_THAT(GridSize(grid), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("grid: has more than 1000")));
  // Axes whose product wraps a 64-bit integer (2^16 per axis, 6 axes) are
  // rejected before anything is expanded.
  SweepGrid huge;
  huge.widths.assign(1 << 16, 1);
  huge.seeds.assign(1 << 16, 1);
  huge.epochs_values.assign(1 << 16, 1);
  huge.last_relu_values.assign(1 << 16, true);
  EXPECT_THAT(GridSize(huge), StatusIs(absl::StatusCode::kInvalidArgument));
  SweepSpec s = Small();
  s.grid = huge;
  EXPECT_THAT(ExpandSweep(s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("grid")));
}

}  // namespace
}  // namespace sslab::experiment
