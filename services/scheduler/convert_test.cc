#include "services/scheduler/convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/common/experiment_proto.h"

namespace sslab::services {
namespace {

using ::testing::ElementsAre;

TEST(ConvertTest, TimestampsRoundTripToTheMillisecond) {
  const absl::Time t = absl::FromUnixMillis(1767225600123);
  google::protobuf::Timestamp p;
  ToProto(t, &p);
  EXPECT_EQ(p.seconds(), 1767225600);
  EXPECT_EQ(p.nanos(), 123000000);
  EXPECT_EQ(FromProto(p), t);
  ToProto(absl::InfinitePast(), &p);
  EXPECT_EQ(p.seconds(), 0);
}

TEST(ConvertTest, RunCarriesItsTypedConfigAndVersions) {
  storage::Run run;
  run.id = 4;
  run.name = "r";
  run.state = experiment::RunState::kFailed;
  run.config.method = experiment::Method::kExemplar;
  run.config.dataset.path = "/d";
  run.config.evaluation.layers = {"block1"};
  run.versions = {{"sslab", "0.1.0"}};
  run.error = "boom";
  const v1::Run out = ToProto(run);
  EXPECT_EQ(out.state(), v1::RUN_STATE_FAILED);
  EXPECT_EQ(out.config().method(), v1::METHOD_EXEMPLAR);
  EXPECT_EQ(out.config().dataset().path(), "/d");
  EXPECT_THAT(out.config().evaluation().layers(), ElementsAre("block1"));
  EXPECT_EQ(out.versions().at("sslab"), "0.1.0");
  EXPECT_EQ(out.error(), "boom");
}

TEST(ConvertTest, ProbeJobsShowTheirTargetAndDevices) {
  storage::Job job;
  job.id = 9;
  job.kind = experiment::JobKind::kProbe;
  job.state = experiment::JobState::kRunning;
  job.probe =
      experiment::ProbeTarget{"block3", experiment::ProbeKind::kSgd, 0.1};
  job.device = experiment::DeviceRequest::kCuda;
  job.lease_device = experiment::DeviceId::Cuda(1);
  const v1::Job out = ToProto(job);
  EXPECT_EQ(out.kind(), v1::JOB_KIND_PROBE);
  EXPECT_EQ(out.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(out.layer(), "block3");
  EXPECT_EQ(out.probe_kind(), v1::PROBE_KIND_SGD);
  EXPECT_DOUBLE_EQ(out.label_fraction(), 0.1);
  EXPECT_EQ(out.device_kind(), "cuda");
  EXPECT_EQ(out.lease_device(), "cuda:1");
  EXPECT_EQ(out.lease_gang_size(), 0);
  job.lease_gang = {experiment::DeviceId::Cuda(1),
                    experiment::DeviceId::Cuda(3)};
  EXPECT_THAT(ToProto(job).lease_gang(),
              ::testing::ElementsAre("cuda:1", "cuda:3"));
}

TEST(ConvertTest, LeaseBecomesTheAssignmentTheWorkerReadsBack) {
  scheduler::Lease lease;
  lease.job.id = 9;
  lease.job.run_id = 2;
  lease.job.kind = experiment::JobKind::kProbe;
  lease.job.attempts = 1;
  lease.job.probe =
      experiment::ProbeTarget{"block3", experiment::ProbeKind::kMlp, 1.0};
  experiment::JobAssignment& a = lease.assignment;
  a.run_id = 2;
  a.job_id = 9;
  a.kind = experiment::JobKind::kProbe;
  a.attempt = 1;
  a.config.dataset.path = "/d";
  a.config.evaluation.layers = {"block3"};
  a.device = experiment::DeviceId::Cuda(1);
  a.checkpoint = experiment::CheckpointRef{4, 35, 100, "runs/2/ck", "ff"};
  a.probe = lease.job.probe;
  a.features = {{"block3", experiment::Split::kTrain, "f/t", "1", 10, 8}};
  lease.expiry = absl::FromUnixSeconds(1000);
  const v1::JobAssignment out = ToProto(lease);
  EXPECT_EQ(out.job().job_id(), 9);
  EXPECT_EQ(out.lease_expire_time().seconds(), 1000);
  EXPECT_EQ(out.checkpoint().run_id(), 2);
  ASSERT_OK_AND_ASSIGN(experiment::JobAssignment back, FromProto(out));
  EXPECT_EQ(back, a);
}

TEST(ConvertTest, ResultsCarryTheirRunAndTarget) {
  storage::ResultRow row;
  row.run_id = 3;
  row.run_name = "grid/jigsaw";
  row.sweep_id = 5;
  row.method = experiment::Method::kJigsaw;
  row.architecture = experiment::Architecture::kVgg19Bn;
  row.width = 2;
  row.epoch = 7;
  row.result.target = {"fc6", experiment::ProbeKind::kLbfgs, 0.5};
  row.result.split = experiment::Split::kVal;
  row.result.top1 = 0.25;
  row.result.hyperparameters = {{"l2", "0.01"}};
  const v1::Result out = ToProto(row);
  EXPECT_EQ(out.layer(), "fc6");
  EXPECT_EQ(out.probe_kind(), v1::PROBE_KIND_LBFGS);
  EXPECT_EQ(out.split(), "val");
  EXPECT_EQ(out.method(), v1::METHOD_JIGSAW);
  EXPECT_EQ(out.architecture(), v1::ARCHITECTURE_VGG19_BN);
  EXPECT_EQ(out.sweep_id(), 5);
  EXPECT_EQ(out.hyperparameters().at("l2"), "0.01");
}

TEST(ConvertTest, RunCarriesProgressAndJobsWhenAsked) {
  scheduler::RunStatus status;
  status.run.id = 3;
  status.run.state = experiment::RunState::kRunning;
  status.train_progress = 0.25;
  status.jobs.total = 2;
  status.jobs.running = 1;
  status.jobs.succeeded = 1;
  status.epoch = 2;
  status.step = 20;
  status.latest_metrics = {{"loss", 1.0}};
  status.job_list.resize(2);
  status.job_list[0].id = 7;
  EXPECT_EQ(ToProto(status, /*with_jobs=*/false).jobs_size(), 0);
  const v1::Run out = ToProto(status, /*with_jobs=*/true);
  ASSERT_EQ(out.jobs_size(), 2);
  EXPECT_EQ(out.jobs(0).job_id(), 7);
  EXPECT_EQ(out.state(), v1::RUN_STATE_RUNNING);
  EXPECT_DOUBLE_EQ(out.progress().train_fraction(), 0.25);
  EXPECT_EQ(out.progress().epoch(), 2);
  EXPECT_EQ(out.progress().step(), 20);
  EXPECT_DOUBLE_EQ(out.progress().metrics().at("loss"), 1.0);
  EXPECT_EQ(out.progress().metrics().count("epoch"), 0u);
  EXPECT_EQ(out.progress().jobs_succeeded(), 1);
}

}  // namespace
}  // namespace sslab::services
