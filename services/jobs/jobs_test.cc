// The job runners on real (tiny) Fashion-MNIST work, against a fake
// JobContext that records what a job reports: TRAIN -> EXTRACT -> PROBE,
// resume, cancellation and a corrupted feature file.
#include "services/jobs/jobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "common/files.h"
#include "common/testing/status_matchers.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kFashionMnist[] = "/usr/share/datasets/fashion-mnist";

class FakeContext final : public JobContext {
 public:
  explicit FakeContext(std::filesystem::path dir) : dir_(std::move(dir)) {}

  void ReportProgress(double fraction, int64_t, int64_t,
                      const std::map<std::string, double>&) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_progress = fraction;
    ++progress_reports;
  }
  bool cancelled() const override { return cancel.load(); }
  absl::StatusOr<int64_t> RegisterCheckpoint(
      const experiment::CheckpointReport& c) override {
    checkpoints.push_back(c);
    return static_cast<int64_t>(checkpoints.size());
  }
  absl::Status RegisterFeatures(
      const std::vector<experiment::FeatureRef>& f) override {
    features.insert(features.end(), f.begin(), f.end());
    return absl::OkStatus();
  }
  absl::Status RecordResult(const experiment::ProbeResult& r) override {
    results.push_back(r);
    return absl::OkStatus();
  }
  const std::filesystem::path& artifact_dir() const override { return dir_; }

  std::atomic<bool> cancel{false};
  double last_progress = 0;
  int progress_reports = 0;
  std::vector<experiment::CheckpointReport> checkpoints;
  std::vector<experiment::FeatureRef> features;
  std::vector<experiment::ProbeResult> results;

 private:
  std::filesystem::path dir_;
  std::mutex mu_;
};

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kFashionMnist)) {
      GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("jobs_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    worker_.threads = 2;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static experiment::RunConfig Config() {
    experiment::RunSpec spec;
    spec.method = experiment::Method::kRotation;
    spec.architecture = experiment::Architecture::kResNet50V2;
    spec.width = 1;
    spec.dataset.kind = experiment::DatasetKind::kIdx;
    spec.dataset.path = kFashionMnist;
    spec.dataset.max_examples = 48;
    spec.dataset.image_size = 16;
    spec.epochs = 1;
    spec.batch_size = 16;
    spec.evaluation.layers = {"block2", experiment::kPixelsLayer};
    spec.seed = 3;
    return experiment::ExpandRunSpec(spec).value();
  }

  static experiment::JobAssignment Assignment(experiment::JobKind kind) {
    experiment::JobAssignment a;
    a.run_id = 1;
    a.job_id = 1;
    a.kind = kind;
    a.config = Config();
    return a;
  }

  std::filesystem::path dir_;
  WorkerOptions worker_;
};

TEST_F(JobsTest, TrainExtractProbeChain) {
  // TRAIN writes and registers its final checkpoint.
  FakeContext train_ctx(dir_);
  ASSERT_OK(
      RunTrainJob(Assignment(experiment::JobKind::kTrain), train_ctx, worker_));
  ASSERT_THAT(train_ctx.checkpoints, SizeIs(1));
  const experiment::CheckpointReport& ckpt = train_ctx.checkpoints[0];
  EXPECT_EQ(ckpt.epoch, 1);
  EXPECT_TRUE(ckpt.is_final);
  EXPECT_EQ(ckpt.path, "runs/1/checkpoints/attempt-1/epoch-0001.ckpt");
  ASSERT_OK_AND_ASSIGN(std::string sha, Sha256OfFile(dir_ / ckpt.path));
  EXPECT_EQ(ckpt.sha256, sha);
  EXPECT_EQ(ckpt.bytes,
            static_cast<int64_t>(std::filesystem::file_size(dir_ / ckpt.path)));
  EXPECT_TRUE(ckpt.metrics.count("pretext_top1"));
  EXPECT_DOUBLE_EQ(train_ctx.last_progress, 1.0);

  // A retried TRAIN handed that checkpoint resumes at its end: nothing left
  // to train, the final state is registered again.
  experiment::JobAssignment resume = Assignment(experiment::JobKind::kTrain);
  resume.checkpoint = experiment::CheckpointRef{1, ckpt.epoch, ckpt.step,
                                                ckpt.path, ckpt.sha256};
  FakeContext resume_ctx(dir_);
  ASSERT_OK(RunTrainJob(resume, resume_ctx, worker_));
  ASSERT_THAT(resume_ctx.checkpoints, SizeIs(1));
  EXPECT_EQ(resume_ctx.checkpoints[0].epoch, 1);
  EXPECT_EQ(resume_ctx.checkpoints[0].step, ckpt.step);

  // EXTRACT: every layer of every split, registered with checksums.
  experiment::JobAssignment extract = Assignment(experiment::JobKind::kExtract);
  extract.checkpoint = resume.checkpoint;
  extract.checkpoint->id = 5;
  extract.layers = extract.config.evaluation.layers;
  extract.splits = {std::begin(experiment::kEvaluationSplits),
                    std::end(experiment::kEvaluationSplits)};
  FakeContext extract_ctx(dir_);
  ASSERT_OK(RunExtractJob(extract, extract_ctx, worker_));
  ASSERT_THAT(extract_ctx.features, SizeIs(6));
  for (const experiment::FeatureRef& f : extract_ctx.features) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / f.path)) << f.path;
    EXPECT_EQ(f.path.rfind("runs/1/features/ckpt-5/", 0), 0u) << f.path;
    EXPECT_GT(f.rows, 0);
    EXPECT_GT(f.dims, 0);
    EXPECT_FALSE(f.sha256.empty());
  }

  // PROBE: L-BFGS on the pixels at half the labels; val and test recorded.
  experiment::JobAssignment probe = Assignment(experiment::JobKind::kProbe);
  probe.checkpoint = extract.checkpoint;
  probe.probe = experiment::ProbeTarget{experiment::kPixelsLayer,
                                        experiment::ProbeKind::kLbfgs, 0.5};
  for (const experiment::FeatureRef& f : extract_ctx.features) {
    if (f.layer == experiment::kPixelsLayer) probe.features.push_back(f);
  }
  FakeContext probe_ctx(dir_);
  ASSERT_OK(RunProbeJob(probe, probe_ctx, worker_));
  ASSERT_THAT(probe_ctx.results, SizeIs(2));
  const experiment::ProbeResult& test = probe_ctx.results[0];
  EXPECT_EQ(test.split, experiment::Split::kTest);
  EXPECT_GT(test.top1, 0.1);  // well above a tenth on pixels
  EXPECT_LE(test.top1, 1.0);
  EXPECT_TRUE(test.hyperparameters.count("l2"));
  EXPECT_EQ(probe_ctx.results[1].split, experiment::Split::kVal);
  // Half the labels of train and of val (whose labels pick the L2 weight
  // and join the refit), class-balanced: within a row per class of half.
  for (const experiment::FeatureRef& f : probe.features) {
    if (f.split == experiment::Split::kTest) continue;
    const std::string rows =
        f.split == experiment::Split::kTrain ? "train_rows" : "val_rows";
    ASSERT_TRUE(test.hyperparameters.count(rows)) << rows;
    EXPECT_NEAR(std::stod(test.hyperparameters.at(rows)), f.rows / 2.0, 10)
        << rows;
  }

  // A feature file changed after registration is refused.
  const std::filesystem::path shard = dir_ / probe.features[0].path;
  std::fstream(shard, std::ios::in | std::ios::out | std::ios::binary)
          .seekp(-1, std::ios::end)
      << 'x';
  FakeContext corrupt_ctx(dir_);
  EXPECT_THAT(RunProbeJob(probe, corrupt_ctx, worker_),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(corrupt_ctx.results, SizeIs(0));
}

TEST_F(JobsTest, CancelledTrainingStopsWithoutACheckpoint) {
  FakeContext ctx(dir_);
  ctx.cancel = true;
  EXPECT_THAT(
      RunTrainJob(Assignment(experiment::JobKind::kTrain), ctx, worker_),
      StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(ctx.checkpoints, SizeIs(0));
}

TEST_F(JobsTest, ADamagedLatestCheckpointFallsBackToAnEarlierOne) {
  experiment::JobAssignment first = Assignment(experiment::JobKind::kTrain);
  first.config.epochs = 2;
  FakeContext trained(dir_);
  ASSERT_OK(RunTrainJob(first, trained, worker_));
  ASSERT_THAT(trained.checkpoints, SizeIs(2));
  auto ref = [](const experiment::CheckpointReport& c, int64_t id) {
    return experiment::CheckpointRef{id, c.epoch, c.step, c.path, c.sha256};
  };
  // Epoch 2's file is damaged after it was registered.
  std::ofstream(dir_ / trained.checkpoints[1].path, std::ios::app) << "junk";

  experiment::JobAssignment retry = first;
  retry.attempt = 2;
  retry.config.epochs = 3;
  retry.checkpoint = ref(trained.checkpoints[1], 2);
  FakeContext alone(dir_);
  EXPECT_THAT(RunTrainJob(retry, alone, worker_),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("SHA-256")));
  EXPECT_THAT(alone.checkpoints, SizeIs(0));

  retry.fallback_checkpoints = {ref(trained.checkpoints[0], 1)};
  FakeContext resumed(dir_);
  ASSERT_OK(RunTrainJob(retry, resumed, worker_));
  // Resumed after epoch 1: epochs 2 and 3 trained again, in attempt-2/.
  ASSERT_THAT(resumed.checkpoints, SizeIs(2));
  EXPECT_EQ(resumed.checkpoints[0].epoch, 2);
  EXPECT_EQ(resumed.checkpoints[1].epoch, 3);
  EXPECT_EQ(resumed.checkpoints[0].path,
            "runs/1/checkpoints/attempt-2/epoch-0002.ckpt");
}

TEST_F(JobsTest, MissingInputsAreErrors) {
  FakeContext ctx(dir_);
  EXPECT_THAT(
      RunExtractJob(Assignment(experiment::JobKind::kExtract), ctx, worker_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checkpoint")));
  experiment::JobAssignment probe = Assignment(experiment::JobKind::kProbe);
  probe.probe =
      experiment::ProbeTarget{"block2", experiment::ProbeKind::kSgd, 1.0};
  EXPECT_THAT(RunProbeJob(probe, ctx, worker_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("needs train and test features")));
  experiment::JobAssignment missing = Assignment(experiment::JobKind::kTrain);
  missing.config.dataset.path = (dir_ / "nowhere").string();
  // Another worker may have the data set: retryable, and it says where.
  EXPECT_THAT(
      RunTrainJob(missing, ctx, worker_),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("on this worker")));
}

}  // namespace
}  // namespace sslab::services
