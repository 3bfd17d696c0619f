#include "services/jobs/job_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace sslab::services {
namespace {

using ::testing::ElementsAre;

experiment::RunConfig Config() {
  experiment::RunConfig c;
  c.method = experiment::Method::kRotation;
  c.architecture = experiment::Architecture::kRevNet50;
  c.width = 2;
  c.last_relu = false;
  c.dataset = {experiment::DatasetKind::kCifar, "/data/cifar", 0.2, 500, 32};
  c.epochs = 7;
  c.batch_size = 48;
  c.lr_schedule = {0.3, 1.0, {4, 6}, 0.5};
  c.seed = 11;
  c.threads = 0;
  return c;
}

TEST(JobOptionsTest, TrainerOptionsCarryEveryRunField) {
  const trainer::TrainerOptions o =
      TrainerOptionsFor(Config(), /*channels=*/3, /*num_classes=*/10,
                        experiment::DeviceId::Cuda(1), /*threads=*/5);
  EXPECT_EQ(o.method, experiment::Method::kRotation);
  EXPECT_EQ(o.model.architecture, experiment::Architecture::kRevNet50);
  EXPECT_EQ(o.model.width, 2);
  EXPECT_FALSE(o.model.last_relu);
  EXPECT_EQ(o.model.in_channels, 3);
  EXPECT_TRUE(o.model.small_input);  // 32 px, not a patch method
  EXPECT_EQ(o.num_classes, 10);
  EXPECT_EQ(o.batch_size, 48);
  EXPECT_EQ(o.image_size, 32);
  EXPECT_DOUBLE_EQ(o.base_learning_rate, 0.3);
  EXPECT_EQ(o.epochs, 7);
  EXPECT_DOUBLE_EQ(o.warmup_epochs, 1.0);
  EXPECT_THAT(o.decay_epochs, ElementsAre(4, 6));
  EXPECT_DOUBLE_EQ(o.decay_factor, 0.5);
  EXPECT_EQ(o.seed, 11u);
  EXPECT_EQ(o.threads, 5);
  EXPECT_EQ(o.device, "cuda:1");
  EXPECT_EQ(o.checkpoint_every_epochs, 1);
  EXPECT_EQ(o.head_hidden, 512);  // small network and images
  EXPECT_EQ(o.augmentation, experiment::Augmentation::kLight);
  EXPECT_TRUE(o.channels_last);
  EXPECT_TRUE(o.bf16_autocast);  // precision auto on CUDA
}

TEST(JobOptionsTest, PrecisionAndLayoutFollowTheRunAndTheDevice) {
  experiment::RunConfig c = Config();
  const auto cpu = experiment::DeviceId::Cpu();
  const auto gpu = experiment::DeviceId::Cuda(0);
  EXPECT_FALSE(UsesBf16(c, cpu));  // auto
  EXPECT_TRUE(UsesBf16(c, gpu));
  c.precision = experiment::Precision::kFp32;
  EXPECT_FALSE(UsesBf16(c, gpu));
  c.precision = experiment::Precision::kBf16;
  EXPECT_TRUE(UsesBf16(c, cpu));
  c.memory_format = experiment::MemoryFormat::kNchw;
  c.augmentation = experiment::Augmentation::kInception;
  const trainer::TrainerOptions o = TrainerOptionsFor(c, 3, 10, cpu, 2);
  EXPECT_FALSE(o.channels_last);
  EXPECT_TRUE(o.bf16_autocast);
  EXPECT_EQ(o.augmentation, experiment::Augmentation::kInception);
}

TEST(JobOptionsTest, PatchMethodsAndLargeImages) {
  experiment::RunConfig c = Config();
  c.method = experiment::Method::kJigsaw;
  c.width = 4;
  c.dataset.image_size = 224;
  const trainer::TrainerOptions o =
      TrainerOptionsFor(c, 3, 1000, experiment::DeviceId::Cpu(), 2);
  EXPECT_FALSE(o.model.small_input);
  EXPECT_EQ(o.head_hidden, trainer::TrainerOptions().head_hidden);
  EXPECT_EQ(EvalTransformFor(c, 3).kind, "eval_patches");
  EXPECT_EQ(EvalTransformFor(Config(), 1).kind, "eval");
  EXPECT_EQ(EvalTransformFor(Config(), 1).channels, 1);
}

TEST(JobOptionsTest, DatasetAndThreads) {
  const data::DatasetSpec d = DatasetSpecFor(Config());
  EXPECT_EQ(d.kind, experiment::DatasetKind::kCifar);
  EXPECT_EQ(d.path, "/data/cifar");
  EXPECT_DOUBLE_EQ(d.val_fraction, 0.2);
  EXPECT_EQ(d.max_examples, 500);
  EXPECT_EQ(d.seed, 11u);
  experiment::RunConfig c = Config();
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(ThreadsFor(c, 1), 1);  // the worker's setting
  c.threads = 1;
  EXPECT_EQ(ThreadsFor(c, cores), 1);  // the run's wins
  c.threads = 0;
  EXPECT_EQ(ThreadsFor(c, 0), cores);     // all cores
  EXPECT_EQ(ThreadsFor(c, 4096), cores);  // never more
  c.threads = experiment::kMaxThreads;
  EXPECT_EQ(ThreadsFor(c, 1), cores);
  EXPECT_TRUE(
      TrainLoaderOptionsFor(c, experiment::DeviceId::Cuda(0), 2).pin_memory);
  EXPECT_FALSE(
      TrainLoaderOptionsFor(c, experiment::DeviceId::Cpu(), 2).pin_memory);
  const data::LoaderOptions extract = ExtractLoaderOptionsFor(c10::kCPU, 4);
  EXPECT_FALSE(extract.shuffle);
  EXPECT_FALSE(extract.drop_last);
}

TEST(JobOptionsTest, ProbesUseTheRunsProbeSettings) {
  const auto lbfgs = LbfgsOptionsFor(Config(), c10::kCPU, /*has_val=*/true);
  EXPECT_EQ(lbfgs.l2_grid, experiment::ProbeSettings().l2_grid);
  EXPECT_THAT(LbfgsOptionsFor(Config(), c10::kCPU, false).l2_grid,
              ElementsAre(1e-4));
  experiment::RunConfig c = Config();
  c.evaluation.probe.l2_grid = {1e-2, 1e-3};
  c.evaluation.probe.sgd_epochs = 40;
  c.evaluation.probe.sgd_learning_rate = 0.5;
  c.evaluation.probe.sgd_batch_size = 512;
  c.evaluation.probe.mlp_hidden_units = 256;
  c.evaluation.probe.mlp_epochs = 7;
  EXPECT_THAT(LbfgsOptionsFor(c, c10::kCPU, true).l2_grid,
              ElementsAre(1e-2, 1e-3));
  const auto sgd = SgdOptionsFor(c, c10::kCPU);
  EXPECT_EQ(sgd.seed, 11u);
  EXPECT_EQ(sgd.epochs, 40);
  EXPECT_DOUBLE_EQ(sgd.learning_rate, 0.5);
  EXPECT_EQ(sgd.batch_size, 512);
  EXPECT_THAT(sgd.decay_epochs, ElementsAre(20, 30));
  const auto mlp = MlpOptionsFor(c, c10::kCPU);
  EXPECT_EQ(mlp.hidden_units, 256);
  EXPECT_EQ(mlp.epochs, 7);
}

}  // namespace
}  // namespace sslab::services
