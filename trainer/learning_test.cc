// End to end on real data: Rotation on a small Fashion-MNIST subset, through
// the data pipeline, must reach a pretext accuracy well above chance (0.25)
// within a bounded number of CPU steps, on the training images and on
// held-out test images the network never saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "common/testing/status_matchers.h"
#include "trainer/data_batch_source.h"
#include "trainer/pretext.h"
#include "trainer/trainer.h"

namespace sslab::trainer {
namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

// Rotation accuracy of the trained network, in inference mode, over every
// batch `source` yields for one epoch.
double HeldOutAccuracy(PretextModelImpl& model, data::BatchSource& source) {
  torch::NoGradGuard no_grad;
  model.eval();
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  double correct = 0;
  int64_t total = 0;
  EXPECT_OK(source.StartEpoch(0));
  while (true) {
    absl::StatusOr<std::optional<data::Batch>> batch = source.Next();
    EXPECT_OK(batch.status());
    if (!batch.ok() || !batch->has_value()) break;
    StepOutput out = model.Compute(**batch, generator, false);
    correct += out.correct.item<double>();
    total += out.total;
  }
  return total == 0 ? 0 : correct / total;
}

TEST(LearningTest, RotationOnFashionMnistLearns) {
  if (!std::filesystem::exists(kFashionMnist)) {
    GTEST_SKIP() << kFashionMnist << " missing (apt-get install "
                 << "dataset-fashion-mnist)";
  }
  TrainerOptions o;
  o.method = Method::kRotation;
  o.model.architecture = models::Architecture::kResNet50V2;
  o.model.width = 1;
  o.model.in_channels = 1;
  o.model.small_input = true;
  // 16 px keeps each step cheap; 16 epochs of 16 batches = 256 steps (about
  // a minute on 2 cores). Measured: 0.72 on the last training epoch, 0.70
  // held out; fewer steps (64, 128) stayed below 0.6.
  o.image_size = 16;
  o.batch_size = 32;
  o.base_learning_rate = 0.8;  // lr 0.1 at batch 32.
  o.epochs = 16;
  o.warmup_epochs = 0.5;
  o.decay_epochs = {12};
  o.threads = 2;
  o.seed = 1;
  o.progress_every_steps = 1000;

  data::DatasetSpec spec;
  spec.kind = data::DatasetKind::kIdx;
  spec.path = kFashionMnist;
  spec.max_examples = 512;
  data::LoaderOptions loader;
  loader.threads = 1;
  loader.seed = 1;
  ASSERT_OK_AND_ASSIGN(auto source, MakeDatasetBatchSource(
                                        spec, data::Split::kTrain, o, loader));
  ASSERT_EQ(source->batches_per_epoch(), 16);
  ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(o));
  ASSERT_OK_AND_ASSIGN(TrainSummary summary, trainer->Train(*source));
  EXPECT_EQ(summary.steps, 256);

  // 512 test images: never seen in training.
  ASSERT_OK_AND_ASSIGN(
      auto test, MakeDatasetBatchSource(spec, data::Split::kTest, o, loader));
  const double held_out = HeldOutAccuracy(trainer->model(), *test);
  EXPECT_GT(summary.last_epoch_pretext_accuracy, 0.6)
      << "loss " << summary.last_epoch_loss;
  EXPECT_GT(held_out, 0.55);
}

}  // namespace
}  // namespace sslab::trainer
