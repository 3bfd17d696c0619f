#include "scheduler/internal/job_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sslab::scheduler::internal {
namespace {

using experiment::JobState;
using experiment::RunState;

storage::Job JobIn(JobState state, int attempts) {
  storage::Job job;
  job.state = state;
  job.attempts = attempts;
  return job;
}

TEST(JobGraphTest, RunStateFollowsItsJobs) {
  EXPECT_EQ(DeriveRunState({}), RunState::kPending);
  EXPECT_EQ(DeriveRunState({JobIn(JobState::kRunnable, 0)}),
            RunState::kPending);
  EXPECT_EQ(DeriveRunState({JobIn(JobState::kRunnable, 1)}),
            RunState::kRunning);
  EXPECT_EQ(DeriveRunState({JobIn(JobState::kSucceeded, 1),
                            JobIn(JobState::kRunnable, 0)}),
            RunState::kRunning);
  EXPECT_EQ(DeriveRunState({JobIn(JobState::kSucceeded, 1),
                            JobIn(JobState::kSucceeded, 2)}),
            RunState::kSucceeded);
}

TEST(JobGraphTest, CountsJobsByState) {
  const JobCounts c =
      CountJobs({JobIn(JobState::kPending, 0), JobIn(JobState::kRunning, 1),
                 JobIn(JobState::kRunning, 1), JobIn(JobState::kCancelled, 0),
                 JobIn(JobState::kFailed, 3)});
  EXPECT_EQ(c.total, 5);
  EXPECT_EQ(c.pending, 1);
  EXPECT_EQ(c.running, 2);
  EXPECT_EQ(c.cancelled, 1);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.succeeded, 0);
}

TEST(JobGraphTest, ProbesAskForTheProbeDevice) {
  using experiment::DeviceRequest;
  using experiment::JobKind;
  experiment::RunConfig config;
  config.device = DeviceRequest::kCuda;
  config.probe_device = DeviceRequest::kCpu;
  EXPECT_EQ(JobDevice(config, JobKind::kTrain), DeviceRequest::kCuda);
  EXPECT_EQ(JobDevice(config, JobKind::kExtract), DeviceRequest::kCuda);
  EXPECT_EQ(JobDevice(config, JobKind::kProbe), DeviceRequest::kCpu);
  config.device = DeviceRequest::kAuto;
  config.probe_device = DeviceRequest::kAuto;
  EXPECT_EQ(JobDevice(config, JobKind::kTrain), DeviceRequest::kAuto);
  EXPECT_EQ(JobDevice(config, JobKind::kProbe), DeviceRequest::kAuto);
}

}  // namespace
}  // namespace sslab::scheduler::internal
