#include "scheduler/internal/retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

namespace sslab::scheduler::internal {
namespace {

using experiment::JobKind;
using experiment::JobState;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A run of four checkpoints (ids 1..4 at epochs 1..4, 4 final) whose
// even epochs were evaluated: each has an EXTRACT job and two PROBE jobs,
// and two feature shards.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_.id = 7;
    for (int epoch = 1; epoch <= 4; ++epoch) {
      storage::Checkpoint c;
      c.id = epoch;
      c.run_id = 7;
      c.epoch = epoch;
      c.path = "runs/7/checkpoints/attempt-1/epoch-" + std::to_string(epoch);
      c.is_final = epoch == 4;
      checkpoints_.push_back(c);
    }
    jobs_.push_back(Job(JobKind::kTrain, JobState::kSucceeded, std::nullopt));
    for (int64_t id : {2, 4}) {
      jobs_.push_back(Job(JobKind::kExtract, JobState::kSucceeded, id));
      jobs_.push_back(Job(JobKind::kProbe, JobState::kSucceeded, id));
      jobs_.push_back(Job(JobKind::kProbe, JobState::kSucceeded, id));
      for (const char* layer : {"block1", "block2"}) {
        storage::Feature f;
        f.id = id * 10 + (layer[5] - '0');
        f.checkpoint_id = id;
        f.layer = layer;
        features_[id].push_back(f);
      }
    }
  }

  static storage::Job Job(JobKind kind, JobState state,
                          std::optional<int64_t> checkpoint) {
    storage::Job job;
    job.kind = kind;
    job.state = state;
    job.checkpoint_id = checkpoint;
    return job;
  }

  Unneeded Find(RetentionOptions options = {}) const {
    return FindUnneeded(run_, jobs_, checkpoints_, features_, options);
  }

  static std::vector<int64_t> Ids(const Unneeded& u, bool features) {
    std::vector<int64_t> ids;
    if (features) {
      for (const auto& f : u.features) ids.push_back(f.id);
    } else {
      for (const auto& c : u.checkpoints) ids.push_back(c.id);
    }
    return ids;
  }

  storage::Run run_;
  std::vector<storage::Job> jobs_;
  std::vector<storage::Checkpoint> checkpoints_;
  std::map<int64_t, std::vector<storage::Feature>> features_;
};

TEST_F(RetentionTest, KeepsEvaluatedFinalAndLastCheckpointsDropsProbedShards) {
  const Unneeded u = Find();
  // Epoch 1 and 3 were never evaluated; 3 is not the last.
  EXPECT_THAT(Ids(u, false), ElementsAre(1, 3));
  EXPECT_THAT(Ids(u, true), ElementsAre(21, 22, 41, 42));
}

TEST_F(RetentionTest, KeepLastCountsFromTheNewest) {
  checkpoints_[3].is_final = false;
  jobs_.resize(4);  // only epoch 2 evaluated
  EXPECT_THAT(Ids(Find({.keep_last_checkpoints = 1}), false),
              ElementsAre(1, 3));
  EXPECT_THAT(Ids(Find({.keep_last_checkpoints = 2}), false), ElementsAre(1));
  EXPECT_THAT(Ids(Find({.keep_last_checkpoints = 0}), false), IsEmpty());
}

TEST_F(RetentionTest, TrainingKeepsWhatARestartFallsBackOn) {
  for (int epoch = 5; epoch <= 6; ++epoch) {
    storage::Checkpoint c = checkpoints_[0];
    c.id = c.epoch = epoch;
    checkpoints_.push_back(c);
  }
  checkpoints_[3].is_final = false;
  jobs_[0].state = JobState::kRunning;  // TRAIN
  // The last three: the resume point and experiment::kFallbackCheckpoints.
  EXPECT_THAT(Ids(Find({.keep_last_checkpoints = 1}), false),
              ElementsAre(1, 3));
  jobs_[0].state = JobState::kSucceeded;
  EXPECT_THAT(Ids(Find({.keep_last_checkpoints = 1}), false),
              ElementsAre(1, 3, 5));
}

TEST_F(RetentionTest, ShardsStayUntilEveryProbeOfTheirCheckpointSucceeded) {
  jobs_[6].state = JobState::kRunning;  // a probe of checkpoint 4
  EXPECT_THAT(Ids(Find(), true), ElementsAre(21, 22));
  jobs_[6].state = JobState::kFailed;  // may be retried by hand
  EXPECT_THAT(Ids(Find(), true), ElementsAre(21, 22));
  jobs_[2].state = JobState::kRunnable;  // a probe of 2 requeued
  EXPECT_THAT(Ids(Find(), true), IsEmpty());
}

TEST_F(RetentionTest, PinnedRunAndKeepFeaturesKeepShards) {
  EXPECT_THAT(Ids(Find({.keep_features = true}), true), IsEmpty());
  run_.pinned = true;
  const Unneeded u = Find();
  EXPECT_THAT(Ids(u, false), IsEmpty());
  EXPECT_THAT(Ids(u, true), IsEmpty());
}

TEST_F(RetentionTest, WhatWasDeletedIsNotReportedAgain) {
  checkpoints_[0].deleted_at = absl::UnixEpoch();
  features_[2][0].deleted_at = absl::UnixEpoch();
  const Unneeded u = Find();
  EXPECT_THAT(Ids(u, false), ElementsAre(3));
  EXPECT_THAT(Ids(u, true), ElementsAre(22, 41, 42));
}

TEST_F(RetentionTest, RunWithoutProbesKeepsItsShards) {
  jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(),
                             [](const storage::Job& j) {
                               return j.kind == JobKind::kProbe;
                             }),
              jobs_.end());
  EXPECT_THAT(Ids(Find(), true), IsEmpty());
}

}  // namespace
}  // namespace sslab::scheduler::internal
