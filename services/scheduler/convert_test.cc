#include "services/scheduler/convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "services/common/run_config.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

TEST(ConvertTest, DeviceIds) {
  v1::Device cuda;
  cuda.set_kind(v1::DEVICE_KIND_CUDA);
  cuda.set_index(3);
  ASSERT_OK_AND_ASSIGN(std::string id, DeviceId(cuda, "devices[0]"));
  EXPECT_EQ(id, "cuda:3");
  EXPECT_EQ(DeviceFromId("cuda:3").index(), 3);
  EXPECT_EQ(DeviceFromId("cpu").kind(), v1::DEVICE_KIND_CPU);
  v1::Device auto_device;
  auto_device.set_kind(v1::DEVICE_KIND_AUTO);
  EXPECT_THAT(DeviceId(auto_device, "devices[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("devices[1].kind")));
  cuda.set_index(-1);
  EXPECT_THAT(DeviceId(cuda, "free_devices[0]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("free_devices[0].index")));
}

TEST(ConvertTest, RunSpecCarriesTheExpandedConfig) {
  v1::RunConfig c;
  c.set_method(v1::METHOD_JIGSAW);
  c.set_architecture(v1::ARCHITECTURE_VGG19_BN);
  c.set_device(v1::DEVICE_KIND_CUDA);
  c.mutable_dataset()->set_kind(v1::DATASET_KIND_IMAGEFOLDER);
  c.mutable_dataset()->set_path("/data/imagenet");
  c.mutable_evaluation()->add_probe_kinds(v1::PROBE_KIND_MLP);
  ASSERT_OK_AND_ASSIGN(v1::RunConfig expanded, ExpandRunConfig(c));
  const scheduler::RunSpec spec = ToRunSpec(expanded, "x", 5);
  EXPECT_EQ(spec.method, "jigsaw");
  EXPECT_EQ(spec.architecture, "vgg19_bn");
  EXPECT_EQ(spec.width, 4);
  EXPECT_EQ(spec.priority, 5);
  EXPECT_EQ(spec.device, storage::DeviceKind::kGpu);
  EXPECT_THAT(
      spec.evaluation.layers,
      ElementsAre("block1", "block2", "block3", "block4", "fc6", "pre_logits"));
  EXPECT_THAT(spec.evaluation.probe_kinds, ElementsAre("mlp"));
  ASSERT_OK_AND_ASSIGN(v1::RunConfig stored,
                       RunConfigFromJson(spec.config_json));
  EXPECT_EQ(stored.SerializeAsString(), expanded.SerializeAsString());
  EXPECT_THAT(spec.versions_json, HasSubstr("\"api\":\"sslab.v1\""));
}

TEST(ConvertTest, ProbeLeaseIsTyped) {
  scheduler::Lease lease;
  lease.job.id = 9;
  lease.job.run_id = 2;
  lease.job.kind = storage::JobKind::kProbe;
  lease.job.state = storage::JobState::kRunning;
  lease.job.checkpoint_id = 4;
  lease.job.payload_json = R"({
      "run_id": 2, "job_id": 9, "kind": "PROBE", "attempt": 1,
      "config": {"method": "METHOD_ROTATION", "width": 2, "future_field": 1},
      "checkpoint": {"id": 4, "epoch": 35, "step": 100, "path": "/a/b.pt",
                     "sha256": "ff"},
      "layer": "block3", "probe_kind": "sgd", "label_fraction": 0.1,
      "features": {"train": {"path": "/f/train", "sha256": "1", "rows": 10,
                             "dims": 8},
                   "test": {"path": "/f/test", "sha256": "2", "rows": 5,
                            "dims": 8}}})";
  lease.device = "cuda:1";
  lease.expiry = absl::FromUnixSeconds(1000);
  const v1::JobAssignment a = ToAssignment(lease);
  EXPECT_EQ(a.job().job_id(), 9);
  EXPECT_EQ(a.job().kind(), v1::JOB_KIND_PROBE);
  EXPECT_EQ(a.job().layer(), "block3");
  EXPECT_EQ(a.job().probe_kind(), v1::PROBE_KIND_SGD);
  EXPECT_DOUBLE_EQ(a.job().label_fraction(), 0.1);
  EXPECT_EQ(a.config().method(), v1::METHOD_ROTATION);  // unknown keys ignored
  EXPECT_EQ(a.config().width(), 2);
  EXPECT_EQ(a.device().kind(), v1::DEVICE_KIND_CUDA);
  EXPECT_EQ(a.device().index(), 1);
  EXPECT_EQ(a.checkpoint().checkpoint_id(), 4);
  EXPECT_EQ(a.checkpoint().path(), "/a/b.pt");
  ASSERT_EQ(a.features_size(), 2);
  EXPECT_EQ(a.features(0).layer(), "block3");
  EXPECT_EQ(a.features(1).split(), "train");
  EXPECT_EQ(a.features(1).rows(), 10);
  EXPECT_EQ(a.lease_expire_time().seconds(), 1000);
}

TEST(ConvertTest, MalformedStoredJsonLeavesFieldsUnset) {
  scheduler::Lease lease;
  lease.job.kind = storage::JobKind::kTrain;
  lease.job.payload_json = "not json";
  lease.device = "cpu";
  const v1::JobAssignment a = ToAssignment(lease);
  EXPECT_FALSE(a.has_checkpoint());
  EXPECT_EQ(a.config().method(), v1::METHOD_UNSPECIFIED);

  storage::Run run;
  run.id = 1;
  run.config_json = "[1,2]";
  run.versions_json = "{\"sslab\": 3}";
  const v1::Run out = ToProto(run);
  EXPECT_EQ(out.config().method(), v1::METHOD_UNSPECIFIED);
  EXPECT_EQ(out.versions().at("sslab"), "3");
}

TEST(ConvertTest, RunCarriesProgressAndJobsWhenAsked) {
  scheduler::RunStatus status;
  status.run.id = 3;
  status.run.state = storage::RunState::kRunning;
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
