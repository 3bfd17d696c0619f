#include "trainer/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sslab::trainer {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

TEST(OptionsTest, DefaultsAreThePapersSchedule) {
  TrainerOptions o;
  EXPECT_EQ(o.epochs, 35);
  EXPECT_EQ(o.warmup_epochs, 5);
  EXPECT_THAT(o.decay_epochs, ::testing::ElementsAre(15, 25));
  EXPECT_EQ(o.momentum, 0.9);
  EXPECT_EQ(o.weight_decay, 1e-4);
  EXPECT_OK(ValidateTrainerOptions(o));
}

TEST(OptionsTest, BadValuesNameTheField) {
  TrainerOptions o;
  o.batch_size = 0;
  EXPECT_THAT(
      ValidateTrainerOptions(o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  o = {};
  o.epochs = -1;
  EXPECT_THAT(
      ValidateTrainerOptions(o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epochs")));
  o = {};
  o.model.width = 0;
  EXPECT_THAT(
      ValidateTrainerOptions(o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.width")));
  o = {};
  o.method = Method::kJigsaw;
  o.image_size = 21;
  EXPECT_THAT(
      ValidateTrainerOptions(o),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image_size")));
  o.image_size = 24;
  EXPECT_OK(ValidateTrainerOptions(o));
  o.method = Method::kRotation;
  o.image_size = 21;  // Not a patch method: fine.
  EXPECT_OK(ValidateTrainerOptions(o));
}

TEST(OptionsTest, ViewSizeIsThePatchSideForPatchMethods) {
  TrainerOptions o;
  o.image_size = 255;  // The paper's 85 px cells and 64 px patches.
  o.method = Method::kJigsaw;
  EXPECT_EQ(ViewSize(o), 64);
  o.method = Method::kRelativePatchLocation;
  o.image_size = 96;  // 32 px cells -> round(32 * 64 / 85) = 24.
  EXPECT_EQ(ViewSize(o), 24);
  o.method = Method::kRotation;
  EXPECT_EQ(ViewSize(o), 96);
}

TEST(OptionsTest, JsonRoundTripKeepsEveryField) {
  TrainerOptions o;
  o.method = Method::kRelativePatchLocation;
  o.model.architecture = models::Architecture::kRevNet50;
  o.model.width = 3;
  o.model.last_relu = false;
  o.model.small_input = true;
  o.model.image_size = 40;
  o.batch_size = 17;
  o.image_size = 96;
  o.head_hidden = 128;
  o.decay_epochs = {1.5, 2.5};
  o.checkpoint_dir = "/tmp/x";
  o.seed = 42;
  o.bf16_autocast = true;
  ASSERT_OK_AND_ASSIGN(TrainerOptions back,
                       TrainerOptionsFromJson(TrainerOptionsToJson(o)));
  EXPECT_EQ(TrainerOptionsToJson(back), TrainerOptionsToJson(o));
  EXPECT_EQ(back.method, Method::kRelativePatchLocation);
  EXPECT_EQ(back.model.architecture, models::Architecture::kRevNet50);
  EXPECT_EQ(back.model.width, 3);
  EXPECT_FALSE(back.model.last_relu);
  EXPECT_EQ(back.model.image_size, 40);
  EXPECT_EQ(back.seed, 42u);
}

TEST(OptionsTest, JsonErrorsNameTheField) {
  EXPECT_THAT(
      TrainerOptionsFromJson(R"({"batch_size": "big"})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  EXPECT_THAT(
      TrainerOptionsFromJson(R"({"model": {"architecture": "lenet"}})"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("architecture")));
  EXPECT_THAT(TrainerOptionsFromJson("{"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace sslab::trainer
