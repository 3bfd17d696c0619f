// End to end on real data: Rotation on a small Fashion-MNIST subset, through
// the data pipeline, must reach a pretext accuracy well above chance (0.25)
// within a bounded number of CPU steps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/testing/status_matchers.h"
#include "trainer/data_batch_source.h"
#include "trainer/trainer.h"

namespace sslab::trainer {
namespace {

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

TEST(LearningTest, RotationOnFashionMnistLearns) {
  if (!std::filesystem::exists(kFashionMnist)) {
    GTEST_SKIP() << kFashionMnist << " missing (apt-get install "
                 << "dataset-fashion-mnist)";
  }
  TrainerOptions o;
  o.method = Method::kRotation;
  o.model.width = 1;
  o.model.in_channels = 1;
  o.model.small_input = true;
  o.image_size = 16;
  o.batch_size = 32;
  o.base_learning_rate = 0.8;  // lr 0.1 at batch 32.
  o.epochs = 4;
  o.warmup_epochs = 0.5;
  o.decay_epochs = {3};
  o.threads = 2;
  o.seed = 1;
  o.progress_every_steps = 1000;

  data::DatasetSpec spec;
  spec.kind = "idx";
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
  EXPECT_EQ(summary.steps, 64);
  EXPECT_GT(summary.last_epoch_pretext_accuracy, 0.6)
      << "loss " << summary.last_epoch_loss;
}

}  // namespace
}  // namespace sslab::trainer
