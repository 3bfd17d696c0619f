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
  EXPECT_THAT(c.evaluation.probe.l2_grid,
              ElementsAre(1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6));
  EXPECT_EQ(c.evaluation.probe.sgd_epochs, 100);
  EXPECT_EQ(c.evaluation.probe.mlp_hidden_units, 1000);
  EXPECT_EQ(c.augmentation, Augmentation::kLight);  // 28 px
  EXPECT_EQ(c.device, DeviceRequest::kAuto);
  EXPECT_EQ(c.probe_device, DeviceRequest::kCpu);
  EXPECT_EQ(c.precision, Precision::kAuto);
  EXPECT_EQ(c.memory_format, MemoryFormat::kChannelsLast);
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.devices_per_run, 1);
  EXPECT_EQ(DefaultRunName(c), "rotation-resnet50_v2-k4");
  EXPECT_EQ(ShortRunWarning(c), "");
}

TEST(ExpandRunSpecTest, DefaultsDependOnMethodAndDataset) {
  RunSpec s = Minimal();
  s.method = Method::kJigsaw;
  s.dataset.kind = DatasetKind::kImageFolder;
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.dataset.image_size, 224);
  EXPECT_EQ(c.augmentation, Augmentation::kInception);
  s.method = Method::kSupervised;
  s.dataset.kind = DatasetKind::kCifar;
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_EQ(c.batch_size, 256);
  EXPECT_EQ(c.dataset.image_size, 32);
  // Patch methods on small images: resized so that patches are 32 px.
  s.method = Method::kJigsaw;
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_EQ(c.dataset.image_size, 128);
  EXPECT_EQ(c.augmentation, Augmentation::kInception);  // above 64 px
}

TEST(DefaultLrScheduleTest, ThePapersAtItsBudgetScaledDownToTwentyEpochs) {
  const LrSchedule paper = DefaultLrSchedule(35, Method::kRotation);
  EXPECT_DOUBLE_EQ(paper.base_lr, 0.1);
  EXPECT_DOUBLE_EQ(paper.warmup_epochs, 5);
  EXPECT_THAT(paper.decay_epochs, ElementsAre(15, 25));
  const LrSchedule doubled = DefaultLrSchedule(70, Method::kRotation);
  EXPECT_DOUBLE_EQ(doubled.warmup_epochs, 10);
  EXPECT_THAT(doubled.decay_epochs, ElementsAre(30, 50));
  const LrSchedule twenty =
      DefaultLrSchedule(kShortBudgetEpochs, Method::kRotation);
  EXPECT_DOUBLE_EQ(twenty.warmup_epochs, 20 * 5 / 35.0);
  EXPECT_EQ(twenty.decay_epochs.size(), 2);
}

TEST(DefaultLrScheduleTest, ShortBudgetsKeepMostStepsAtTheFullRate) {
  for (int epochs : {1, 2, 7, kShortBudgetEpochs - 1}) {
    const LrSchedule s = DefaultLrSchedule(epochs, Method::kRotation);
    EXPECT_DOUBLE_EQ(s.warmup_epochs, epochs / 7.0) << epochs;
    ASSERT_EQ(s.decay_epochs.size(), 1) << epochs;
    EXPECT_DOUBLE_EQ(s.decay_epochs[0], 0.75 * epochs) << epochs;
    // The full rate holds from 1/7 to 3/4 of the run: 61% of the steps,
    // where the scaled paper schedule would hold it for 29%.
    const double full = (s.decay_epochs[0] - s.warmup_epochs) / epochs;
    EXPECT_GT(full, 0.6) << epochs;
  }
  EXPECT_TRUE(DefaultLrSchedule(0, Method::kRotation).decay_epochs.size() == 1);
}

TEST(DefaultLrScheduleTest, ShortBudgetsCountRotationsAsExamples) {
  // 0.1 per 256 of the loss's examples: Rotation's 4 views each count.
  EXPECT_DOUBLE_EQ(DefaultLrSchedule(2, Method::kRotation).base_lr, 0.4);
  for (Method m : {Method::kExemplar, Method::kJigsaw,
                   Method::kRelativePatchLocation, Method::kSupervised}) {
    EXPECT_DOUBLE_EQ(DefaultLrSchedule(2, m).base_lr, 0.1) << Name(m);
  }
  // At the paper's budget, the study's per-image rule for every method.
  EXPECT_DOUBLE_EQ(DefaultLrSchedule(35, Method::kRotation).base_lr, 0.1);
  EXPECT_DOUBLE_EQ(
      DefaultLrSchedule(kShortBudgetEpochs, Method::kRotation).base_lr, 0.1);
}

TEST(ShortRunWarningTest, WarnsWhenTooFewStepsRunAtTheFullRate) {
  RunSpec s = Minimal();
  s.epochs = 2;
  s.dataset.max_examples = 5000;
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(ShortRunWarning(c), "");  // ~85 steps at the full rate
  s.dataset.max_examples = 1000;      // ~17
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_THAT(ShortRunWarning(c), HasSubstr("optimisation steps"));
  // The paper's schedule squeezed into 2 epochs holds the full rate for
  // 0.57 epochs: a warning on any dataset size.
  s.dataset.max_examples = 0;
  s.lr_schedule.warmup_epochs = 2 * 5 / 35.0;
  s.lr_schedule.decay_epochs = {2 * 15 / 35.0, 2 * 25 / 35.0};
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_THAT(ShortRunWarning(c), HasSubstr("full learning rate"));
  s.epochs = 0;  // the random-init control never warns
  s.lr_schedule = {};
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_EQ(ShortRunWarning(c), "");
}

TEST(ExpandRunSpecTest, KeepsExplicitValuesAndScalesTheSchedule) {
  RunSpec s = Minimal();
  s.architecture = Architecture::kVgg19Bn;
  s.width = 1;
  s.last_relu = false;
  s.epochs = 7;
  s.evaluation.layers = {"fc6", "pixels"};
  s.evaluation.probe.l2_grid = {1e-3, 1e-4};
  s.evaluation.probe.mlp_hidden_units = 64;
  s.augmentation = Augmentation::kInception;
  s.probe_device = DeviceRequest::kAuto;
  s.precision = Precision::kBf16;
  s.memory_format = MemoryFormat::kNchw;
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(c.width, 1);
  EXPECT_FALSE(c.last_relu);
  EXPECT_DOUBLE_EQ(c.lr_schedule.warmup_epochs, 1);
  EXPECT_THAT(c.lr_schedule.decay_epochs, ElementsAre(5.25));
  EXPECT_THAT(c.evaluation.layers, ElementsAre("fc6", "pixels"));
  EXPECT_THAT(c.evaluation.probe.l2_grid, ElementsAre(1e-3, 1e-4));
  EXPECT_EQ(c.evaluation.probe.mlp_hidden_units, 64);
  EXPECT_EQ(c.evaluation.probe.mlp_epochs, 30);
  EXPECT_EQ(c.augmentation, Augmentation::kInception);
  EXPECT_EQ(c.probe_device, DeviceRequest::kAuto);
  EXPECT_EQ(c.precision, Precision::kBf16);
  EXPECT_EQ(c.memory_format, MemoryFormat::kNchw);
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
      {[](RunSpec& s) { s.devices_per_run = 0; }, "config.devices_per_run"},
      {[](RunSpec& s) { s.devices_per_run = 65; }, "config.devices_per_run"},
      {[](RunSpec& s) {
         s.batch_size = 64;
         s.devices_per_run = 3;
       },
       "config.batch_size"},  // must be a multiple of devices_per_run
      {[](RunSpec& s) { s.probe_device = static_cast<DeviceRequest>(9); },
       "config.probe_device"},
      {[](RunSpec& s) { s.precision = static_cast<Precision>(9); },
       "config.precision"},
      {[](RunSpec& s) { s.memory_format = static_cast<MemoryFormat>(9); },
       "config.memory_format"},
      {[](RunSpec& s) { s.augmentation = static_cast<Augmentation>(9); },
       "config.augmentation"},
      {[](RunSpec& s) {
         s.evaluation.probe.l2_grid = {1e-3, 0};
       },
       "config.evaluation.probe.l2_grid[1]"},
      {[](RunSpec& s) {
         s.evaluation.probe.l2_grid = {1e-3, 1e-3};
       },
       "config.evaluation.probe.l2_grid[1]"},
      {[](RunSpec& s) { s.evaluation.probe.sgd_epochs = 0; },
       "config.evaluation.probe.sgd_epochs"},
      {[](RunSpec& s) { s.evaluation.probe.sgd_learning_rate = -0.1; },
       "config.evaluation.probe.sgd_learning_rate"},
      {[](RunSpec& s) { s.evaluation.probe.sgd_batch_size = 0; },
       "config.evaluation.probe.sgd_batch_size"},
      {[](RunSpec& s) { s.evaluation.probe.mlp_hidden_units = 0; },
       "config.evaluation.probe.mlp_hidden_units"},
      {[](RunSpec& s) { s.evaluation.probe.mlp_epochs = 0; },
       "config.evaluation.probe.mlp_epochs"},
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

TEST(ExpandRunSpecTest, RefusesRunsOverTheJobAndBatchMemoryBudgets) {
  // 1e5 epochs evaluated every epoch: 1e5 EXTRACT jobs, each with PROBE
  // jobs for every layer and probe kind.
  RunSpec many = Minimal();
  many.epochs = 100000;
  many.evaluation.every_epochs = 1;
  EXPECT_THAT(ExpandRunSpec(many, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.evaluation.every_epochs: the run "
                                 "would plan")));
  many.evaluation.every_epochs = 1000;  // 101 checkpoints: fine
  EXPECT_OK(ExpandRunSpec(many, "config.").status());

  // Terabyte batches: 2^20 images of 4096^2 px, times 4 rotations.
  RunSpec huge = Minimal();
  huge.method = Method::kRotation;
  huge.batch_size = 1 << 20;
  huge.dataset.image_size = 4096;
  EXPECT_THAT(ExpandRunSpec(huge, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.batch_size: a batch of 1048576")));
  huge.batch_size = 256;  // 256 x 4 x 3 x 4096^2 x 4 B = 192 GiB: still no
  EXPECT_THAT(ExpandRunSpec(huge, "config."),
              StatusIs(absl::StatusCode::kInvalidArgument));
  huge.dataset.image_size = 224;  // the paper's: 588 MiB
  EXPECT_OK(ExpandRunSpec(huge, "config.").status());
}

TEST(ExpandRunSpecTest, RefusesInputsTooSmallForVgg) {
  // Fashion-MNIST's 28 px images: 7 px patches, which VGG19-BN's five pools
  // reduce to nothing; caught at submit rather than by the TRAIN job.
  RunSpec s = Minimal();
  s.architecture = Architecture::kVgg19Bn;
  s.method = Method::kRelativePatchLocation;
  ASSERT_OK_AND_ASSIGN(RunConfig c, ExpandRunSpec(s));
  EXPECT_EQ(c.dataset.image_size, 128);  // the default for patch methods
  s.dataset.image_size = 28;
  EXPECT_THAT(
      ExpandRunSpec(s, "config."),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("config.dataset.image_size: relative_patch_location "
                         "cuts 7 px patches from 28 px images, and VGG19-BN "
                         "needs >= 32 px: use dataset.image_size >= 126")));
  s.dataset.image_size = 126;
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_EQ(PatchSide(c.dataset.image_size), 32);
  EXPECT_FALSE(UsesSmallInputStem(c));
  s.method = Method::kJigsaw;
  s.dataset.image_size = 125;
  EXPECT_THAT(ExpandRunSpec(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("jigsaw cuts 31 px")));
  // The ResNets take 7 px patches; whole images down to 16 px for VGG.
  s.architecture = Architecture::kResNet50V1;
  s.dataset.image_size = 28;
  EXPECT_OK(ExpandRunSpec(s).status());
  s.architecture = Architecture::kVgg19Bn;
  s.method = Method::kRotation;
  s.dataset.image_size = 16;
  ASSERT_OK_AND_ASSIGN(c, ExpandRunSpec(s));
  EXPECT_TRUE(UsesSmallInputStem(c));
  s.dataset.image_size = 15;
  EXPECT_THAT(ExpandRunSpec(s),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dataset.image_size: 15 px is too small for "
                                 "VGG19-BN (needs >= 16)")));
  // PatchSide is the paper's 64 px of an 85 px cell.
  EXPECT_EQ(PatchSide(255), 64);
  EXPECT_EQ(PatchSide(224), 56);
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
