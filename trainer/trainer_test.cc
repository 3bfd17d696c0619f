#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/files.h"
#include "common/testing/status_matchers.h"
#include "trainer/checkpoint.h"
#include "trainer/internal/checkpoint_io.h"
#include "trainer/pretext.h"

namespace sslab::trainer {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sslab_trainer_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainerOptions Tiny(Method method) const {
    TrainerOptions o;
    o.method = method;
    o.model.width = 1;
    o.model.in_channels = 1;
    o.model.small_input = true;
    o.batch_size = 4;
    o.image_size = 24;
    o.embedding_dim = 8;
    o.head_hidden = 16;
    o.num_permutations = 6;
    o.epochs = 2;
    o.warmup_epochs = 1;
    o.decay_epochs = {1.5};
    o.checkpoint_every_epochs = 1;
    o.checkpoint_dir = dir_.string();
    o.threads = 1;
    o.progress_every_steps = 1;
    o.seed = 5;
    return o;
  }

  // 8 examples: 2 batches of 4 per epoch.
  static data::TensorBatchSource Source(Method method) {
    // A private generator: the global one is part of the trainer's state.
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
    const bool patches = IsPatchMethod(method);
    at::Tensor views = patches ? torch::randn({8, 9, 1, 8, 8}, gen)
                               : torch::randn({8, 1, 1, 12, 12}, gen);
    return data::TensorBatchSource(views, torch::arange(8) % 3, 4, true, 9);
  }

  std::filesystem::path dir_;
};

std::vector<double> LossesOf(Trainer& trainer, data::BatchSource& source,
                             TrainHooks hooks = {}) {
  std::vector<double> losses;
  hooks.on_progress = [&](const Progress& p) { losses.push_back(p.loss); };
  auto summary = trainer.Train(source, hooks);
  EXPECT_OK(summary.status());
  return losses;
}

TEST_F(TrainerTest, LearningRateWarmsUpThenDecays) {
  TrainerOptions o;
  o.batch_size = 512;  // Peak 0.1 * 512 / 256 = 0.2.
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create([&] {
                         TrainerOptions t = o;
                         t.model.width = 1;
                         t.model.small_input = true;
                         return t;
                       }()));
  const int64_t spe = 10;  // Warm-up 5 epochs = 50 steps.
  EXPECT_DOUBLE_EQ(trainer->LearningRate(0, spe), 0.2 / 50);
  EXPECT_DOUBLE_EQ(trainer->LearningRate(24, spe), 0.2 * 25 / 50);
  EXPECT_DOUBLE_EQ(trainer->LearningRate(49, spe), 0.2);
  EXPECT_DOUBLE_EQ(trainer->LearningRate(149, spe), 0.2);
  EXPECT_DOUBLE_EQ(trainer->LearningRate(150, spe), 0.2 * 0.1);
  EXPECT_NEAR(trainer->LearningRate(250, spe), 0.2 * 0.01, 1e-12);
}

TEST_F(TrainerTest, RejectsBadOptionsByField) {
  TrainerOptions o = Tiny(Method::kRotation);
  o.batch_size = 0;
  EXPECT_THAT(Trainer::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("batch_size")));
  o = Tiny(Method::kRotation);
  o.epochs = -1;
  EXPECT_THAT(Trainer::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("epochs")));
  o = Tiny(Method::kRelativePatchLocation);
  o.image_size = 12;
  EXPECT_THAT(Trainer::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("image_size")));
  o = Tiny(Method::kRotation);
  o.device = "tpu";
  EXPECT_FALSE(Trainer::Create(o).ok());
}

TEST_F(TrainerTest, WrongBatchShapeIsInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(Tiny(Method::kJigsaw)));
  data::TensorBatchSource source(torch::randn({4, 1, 1, 8, 8}), {}, 4, false,
                                 0);
  EXPECT_THAT(trainer->Train(source),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("views")));
}

TEST_F(TrainerTest, ResumeGivesTheSameLossesAsAnUninterruptedRun) {
  // Jigsaw exercises every piece of state: the permutation draws (trainer
  // generator), dropout (global generator), BatchNorm statistics and the
  // momentum buffers; Rotation the plain path.
  for (Method method : {Method::kJigsaw, Method::kRotation}) {
    SCOPED_TRACE(std::string(experiment::Name(method)));
    const TrainerOptions o = Tiny(method);
    std::vector<double> straight;
    {
      ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
      data::TensorBatchSource source = Source(method);
      straight = LossesOf(*trainer, source);
    }
    ASSERT_EQ(straight.size(), 4u);
    {
      // Interrupted after the first epoch (its checkpoint is written).
      ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
      data::TensorBatchSource source = Source(method);
      TrainHooks hooks;
      hooks.should_stop = [&] { return trainer->step() == 2; };
      ASSERT_OK_AND_ASSIGN(TrainSummary s, trainer->Train(source, hooks));
      EXPECT_TRUE(s.cancelled);
      EXPECT_EQ(s.epochs_completed, 1);
      EXPECT_EQ(s.last_checkpoint, (dir_ / "epoch-0001.ckpt").string());
    }
    // Something else uses the global generator in between.
    torch::randn({100});
    ASSERT_OK_AND_ASSIGN(auto resumed, Trainer::Create(o));
    ASSERT_OK(resumed->RestoreCheckpoint(dir_ / "epoch-0001.ckpt"));
    EXPECT_EQ(resumed->epoch(), 1);
    EXPECT_EQ(resumed->step(), 2);
    data::TensorBatchSource source = Source(method);
    std::vector<double> after = LossesOf(*resumed, source);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0], straight[2]);
    EXPECT_EQ(after[1], straight[3]);
  }
}

TEST_F(TrainerTest, CheckpointRoundTripsTheBackbone) {
  TrainerOptions o = Tiny(Method::kRotation);
  o.epochs = 1;
  std::vector<CheckpointInfo> written;
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
  data::TensorBatchSource source = Source(Method::kRotation);
  TrainHooks hooks;
  hooks.on_checkpoint = [&](const CheckpointInfo& c) { written.push_back(c); };
  ASSERT_OK_AND_ASSIGN(TrainSummary summary, trainer->Train(source, hooks));
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].epoch, 1);
  EXPECT_EQ(written[0].step, 2);
  EXPECT_EQ(written[0].path, summary.last_checkpoint);

  ASSERT_OK_AND_ASSIGN(LoadedModel loaded,
                       LoadModelFromCheckpoint(written[0].path, torch::kCPU));
  EXPECT_EQ(loaded.method, Method::kRotation);
  EXPECT_EQ(loaded.epoch, 1);
  EXPECT_EQ(loaded.step, 2);
  EXPECT_EQ(loaded.model_options.num_outputs, 4);
  EXPECT_EQ(loaded.model_options.width, 1);
  EXPECT_FALSE(loaded.backbone->is_training());
  auto original = trainer->model().backbone();
  original->eval();
  torch::NoGradGuard no_grad;
  at::Tensor x = torch::randn({2, 1, 12, 12});
  EXPECT_TRUE(torch::equal(original->forward(x), loaded.backbone->forward(x)));
}

// VGG19-BN's fc6 is sized for its input: a 28 px run must build for 28 px
// (not the small-input default 32) and its checkpoint must say so.
TEST_F(TrainerTest, Vgg19BnTrainsAndReloadsAtItsImageSize) {
  TrainerOptions o = Tiny(Method::kRotation);
  o.model.architecture = models::Architecture::kVgg19Bn;
  o.image_size = 28;
  o.epochs = 1;
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  data::TensorBatchSource source(torch::randn({4, 1, 1, 28, 28}, gen),
                                 torch::zeros({4}, torch::kLong), 4, true, 1);
  ASSERT_OK_AND_ASSIGN(TrainSummary summary, trainer->Train(source));
  ASSERT_OK_AND_ASSIGN(
      LoadedModel loaded,
      LoadModelFromCheckpoint(summary.last_checkpoint, torch::kCPU));
  EXPECT_EQ(loaded.model_options.image_size, 28);
  torch::NoGradGuard no_grad;
  auto features =
      loaded.backbone->ForwardEndpoints(torch::randn({2, 1, 28, 28}), {"fc6"});
  EXPECT_EQ(features.at("fc6").size(0), 2);
}

TEST_F(TrainerTest, CorruptOrMismatchedCheckpointsAreClearErrors) {
  TrainerOptions o = Tiny(Method::kRotation);
  o.epochs = 1;
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
  const std::filesystem::path good = dir_ / "good.ckpt";
  ASSERT_OK(trainer->WriteCheckpoint(good));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(good));

  // Truncated: DATA_LOSS naming the file, from both readers.
  const std::filesystem::path truncated = dir_ / "truncated.ckpt";
  ASSERT_OK(WriteFileAtomically(truncated, bytes.substr(0, bytes.size() / 2)));
  EXPECT_THAT(
      trainer->RestoreCheckpoint(truncated),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr(truncated.string())));
  EXPECT_THAT(
      LoadModelFromCheckpoint(truncated, torch::kCPU),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr(truncated.string())));
  const std::filesystem::path garbage = dir_ / "garbage.ckpt";
  ASSERT_OK(WriteFileAtomically(garbage, "not a checkpoint"));
  EXPECT_THAT(LoadModelFromCheckpoint(garbage, torch::kCPU),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("garbage")));
  EXPECT_THAT(LoadModelFromCheckpoint(dir_ / "missing.ckpt", torch::kCPU),
              StatusIs(absl::StatusCode::kNotFound));

  // Another architecture / width: FAILED_PRECONDITION saying what differs.
  TrainerOptions wider = o;
  wider.model.width = 2;
  ASSERT_OK_AND_ASSIGN(auto other, Trainer::Create(wider));
  EXPECT_THAT(
      other->RestoreCheckpoint(good),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("width=1")));
  TrainerOptions exemplar = o;
  exemplar.method = Method::kExemplar;
  ASSERT_OK_AND_ASSIGN(auto third, Trainer::Create(exemplar));
  EXPECT_THAT(third->RestoreCheckpoint(good),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("method=rotation")));

  // A config that does not match its tensors: INVALID_ARGUMENT.
  ASSERT_OK_AND_ASSIGN(internal::CheckpointContents c,
                       internal::ReadCheckpoint(good));
  c.config_json = TrainerOptionsToJson(wider);
  ASSERT_OK_AND_ASSIGN(std::string tampered, internal::SerializeCheckpoint(c));
  ASSERT_OK(WriteFileAtomically(dir_ / "tampered.ckpt", tampered));
  EXPECT_THAT(LoadModelFromCheckpoint(dir_ / "tampered.ckpt", torch::kCPU),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shape")));
}

TEST_F(TrainerTest, ProgressAndCancellation) {
  TrainerOptions o = Tiny(Method::kRotation);
  o.checkpoint_dir.clear();
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
  data::TensorBatchSource source = Source(Method::kRotation);
  std::vector<Progress> reports;
  TrainHooks hooks;
  hooks.on_progress = [&](const Progress& p) { reports.push_back(p); };
  hooks.should_stop = [&] { return trainer->step() == 3; };
  ASSERT_OK_AND_ASSIGN(TrainSummary s, trainer->Train(source, hooks));
  EXPECT_TRUE(s.cancelled);
  EXPECT_EQ(s.steps, 3);
  EXPECT_TRUE(s.last_checkpoint.empty());
  ASSERT_EQ(reports.size(), 3u);
  for (size_t i = 0; i < reports.size(); ++i) {
    const Progress& p = reports[i];
    EXPECT_EQ(p.step, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(p.total_steps, 4);
    EXPECT_EQ(p.epoch, i < 2 ? 0 : 1);
    EXPECT_GT(p.loss, 0);
    EXPECT_GE(p.pretext_accuracy, 0);
    EXPECT_LE(p.pretext_accuracy, 1);
    EXPECT_GT(p.images_per_second, 0);
    EXPECT_GE(p.eta_seconds, 0);
    EXPECT_GT(p.learning_rate, 0);
  }
  EXPECT_EQ(reports.back().eta_seconds > 0, true);
}

}  // namespace
}  // namespace sslab::trainer
