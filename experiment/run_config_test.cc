#include "experiment/run_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "common/testing/status_matchers.h"

namespace sslab::experiment {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

RunSpec Minimal() {
  RunSpec s;
  s.method = Method::kRotation;
  s.architecture = Architecture::kResNet50V2;
  s.dataset.kind = DatasetKind::kIdx;
  s.dataset.path = "/data/fashion-mnist";
  return s;
}

TEST(ExpandRunSpecTest, FillsThePapersDefaults) {
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(Minimal()));
  EXPECT_EQ(c.width, 4);
  EXPECT_TRUE(c.last_relu);
  EXPECT_EQ(c.epochs, 35);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.lr_schedule.base_lr, 0.1);
  EXPECT_DOUBLE_EQ(c.lr_schedule.warmup_epochs, 5);
  EXPECT_THAT(c.lr_schedule.decay_epochs, ElementsAre(15, 25));
  EXPECT_DOUBLE_EQ(c.lr_schedule.decay_factor, 0.1);
  EXPECT_DOUBLE_EQ(c.dataset.val_fraction, 0.1);
  EXPECT_EQ(c.dataset.image_size, 28);
  EXPECT_THAT(c.evaluation.layers,
              ElementsAre("after_root", "block1", "block2", "block3", "block4",
                          "pre_logits"));
  EXPECT_THAT(c.evaluation.probe_kinds, ElementsAre(ProbeKind::kLbfgs));
  EXPECT_THAT(c.evaluation.label_fractions, ElementsAre(1.0));
  EXPECT_EQ(c.evaluation.every_epochs, 0);
  EXPECT_EQ(c.device, DeviceRequest::kAuto);
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(DefaultRunName(c), "rotation-resnet50_v2-k4");
}

TEST(ExpandRunSpecTest, DefaultsDependOnMethodAndDataset) {
  RunSpec s = Minimal();
  s.method = Method::kJigsaw;
  s.dataset.kind = DatasetKind::kImageFolder;
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.dataset.image_size, 224);
  s.method = Method::kSupervised;
  s.dataset.kind = DatasetKind::kCifar;
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_EQ(c.batch_size, 256);
  EXPECT_EQ(c.dataset.image_size, 32);
}

TEST(ExpandRunSpecTest, KeepsExplicitValuesAndScalesTheSchedule) {
  RunSpec s = Minimal();
  s.architecture = Architecture::kVgg19Bn;
  s.width = 1;
  s.last_relu = false;
  s.epochs = 7;
  s.evaluation.layers = {"fc6", "pixels"};
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(c.width, 1);
  EXPECT_FALSE(c.last_relu);
  EXPECT_DOUBLE_EQ(c.lr_schedule.warmup_epochs, 1);
  EXPECT_THAT(c.lr_schedule.decay_epochs, ElementsAre(3, 5));
  EXPECT_THAT(c.evaluation.layers, ElementsAre("fc6", "pixels"));
  // A complete config expands to itself.
  ASSERT_OK_AND_ASSIGN(RunConfig again, ExpandRunSpec(ToRunSpec(c)));
  EXPECT_EQ(again, c);
}

TEST(ExpandRunSpecTest, RejectsBadFieldsNamingThem) {
  struct Case {
    std::function<void(RunSpec&)> mutate;
    const char* field;
  };
  const Case cases[] = {
      {[](RunSpec& s) { s.method.reset(); }, "config.method"},
      {[](RunSpec& s) { s.method = static_cast<Method>(42); }, "config.method"},
      {[](RunSpec& s) { s.architecture.reset(); }, "config.architecture"},
      {[](RunSpec& s) { s.width = 0; }, "config.width"},
      {[](RunSpec& s) { s.width = 65; }, "config.width"},
      {[](RunSpec& s) { s.dataset.path.clear(); }, "config.dataset.path"},
      {[](RunSpec& s) { s.dataset.kind.reset(); }, "config.dataset.kind"},
      {[](RunSpec& s) { s.dataset.val_fraction = 1; },
       "config.dataset.val_fraction"},
      {[](RunSpec& s) { s.dataset.max_examples = -1; },
       "config.dataset.max_examples"},
      {[](RunSpec& s) { s.dataset.image_size = 4097; },
       "config.dataset.image_size"},
      {[](RunSpec& s) { s.epochs = -1; }, "config.epochs"},
      {[](RunSpec& s) { s.batch_size = -8; }, "config.batch_size"},
      {[](RunSpec& s) { s.evaluation.layers = {"fc6"}; },  // VGG only
       "config.evaluation.layers[0]"},
      {[](RunSpec& s) {
         s.evaluation.layers = {"block1", "block1"};
       },
       "config.evaluation.layers[1]"},
      {[](RunSpec& s) { s.evaluation.label_fractions = {0}; },
       "config.evaluation.label_fractions[0]"},
      {[](RunSpec& s) {
         s.evaluation.label_fractions = {0.5, 0.5};
       },
       "config.evaluation.label_fractions[1]"},
      {[](RunSpec& s) {
         for (int i = 1; i <= 17; ++i) {
           s.evaluation.label_fractions.push_back(i / 17.0);
         }
       },
       "config.evaluation.label_fractions"},
      {[](RunSpec& s) {
         s.evaluation.probe_kinds = {ProbeKind::kSgd, ProbeKind::kSgd};
       },
       "config.evaluation.probe_kinds[1]"},
      {[](RunSpec& s) { s.evaluation.every_epochs = -1; },
       "config.evaluation.every_epochs"},
      {[](RunSpec& s) { s.lr_schedule.base_lr = -1; },
       "config.lr_schedule.base_lr"},
      {[](RunSpec& s) { s.lr_schedule.warmup_epochs = 99; },
       "config.lr_schedule.warmup_epochs"},
      {[](RunSpec& s) {
         s.lr_schedule.decay_epochs = {20, 10};
       },
       "config.lr_schedule.decay_epochs[1]"},
      {[](RunSpec& s) { s.lr_schedule.decay_factor = 1.5; },
       "config.lr_schedule.decay_factor"},
      {[](RunSpec& s) { s.device = static_cast<DeviceRequest>(9); },
       "config.device"},
      {[](RunSpec& s) { s.threads = 2000; }, "config.threads"},
  };
  for (const Case& tc : cases) {
    RunSpec s = Minimal();
    tc.mutate(s);
    EXPECT_THAT(ExpandRunSpec(s, "config."),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(std::string(tc.field) + ":")))
        << tc.field;
  }
}

TEST(ExpandRunSpecTest, UsesTheFieldPrefix) {
  RunSpec s = Minimal();
  s.width = -2;
  EXPECT_THAT(ExpandRunSpec(s, "base."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("base.width: must be in [1, 64], got -2")));
}

}  // namespace
}  // namespace sslab::experiment
