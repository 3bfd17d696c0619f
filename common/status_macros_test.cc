#include "common/status_macros.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/testing/status_matchers.h"

namespace sslab {
namespace {

using ::sslab::testing::StatusIs;

absl::StatusOr<std::unique_ptr<int>> MakeValue(bool ok) {
  if (!ok) return absl::NotFoundError("no value");
  return std::make_unique<int>(7);
}

absl::StatusOr<int> Doubled(bool ok, int* steps) {
  SSLAB_ASSIGN_OR_RETURN(auto value, MakeValue(ok));  // move-only value
  ++*steps;
  return *value * 2;
}

absl::Status Chain(absl::Status first, int* steps) {
  SSLAB_RETURN_IF_ERROR(first);
  ++*steps;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesErrorAndStops) {
  int steps = 0;
  EXPECT_THAT(Doubled(false, &steps), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(steps, 0);
  ASSERT_OK_AND_ASSIGN(int value, Doubled(true, &steps));
  EXPECT_EQ(value, 14);
  EXPECT_EQ(steps, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorPropagatesErrorAndStops) {
  int steps = 0;
  EXPECT_THAT(Chain(absl::DataLossError("torn"), &steps),
              StatusIs(absl::StatusCode::kDataLoss, "torn"));
  EXPECT_EQ(steps, 0);
  EXPECT_OK(Chain(absl::OkStatus(), &steps));
  EXPECT_EQ(steps, 1);
}

}  // namespace
}  // namespace sslab
