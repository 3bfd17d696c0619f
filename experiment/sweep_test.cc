#include "experiment/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;
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
