// The scheduler's server (ExperimentService + WorkerService) in-process on a
// loopback port: request validation (codes and field names) and the worker
// protocol end to end.
#include "services/scheduler/scheduler_server.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "scheduler/clock.h"
#include "scheduler/scheduler.h"
#include "services/common/grpc_status.h"
#include "sslab/v1/experiment_service.grpc.pb.h"
#include "sslab/v1/worker_service.grpc.pb.h"
#include "storage/store.h"

namespace sslab::services {
namespace {

using ::sslab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

class SchedulerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("sslab_service_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(auto store,
                         storage::Store::Open((dir_ / "db").string()));
    scheduler::SchedulerOptions scheduler_options;
    scheduler_options.lease_duration = absl::Seconds(12);
    scheduler_options.versions = {{"sslab", "test"}, {"api", "sslab.v1"}};
    ASSERT_OK_AND_ASSIGN(
        scheduler_,
        scheduler::Scheduler::Create(std::move(store), scheduler::Clock::Real(),
                                     scheduler_options));
    SchedulerServerOptions options;
    options.listen = "127.0.0.1:0";
    ASSERT_OK_AND_ASSIGN(server_,
                         SchedulerServer::Start(scheduler_.get(), options));
    ASSERT_GT(server_->port(), 0);
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                            grpc::InsecureChannelCredentials());
    experiments_ = v1::ExperimentService::NewStub(channel_);
    workers_ = v1::WorkerService::NewStub(channel_);
  }

  void TearDown() override {
    server_.reset();
    scheduler_.reset();
    std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
    return ctx;
  }

  static v1::RunConfig SmallConfig() {
    v1::RunConfig c;
    c.set_method(v1::METHOD_ROTATION);
    c.set_architecture(v1::ARCHITECTURE_RESNET50_V2);
    c.set_width(1);
    c.set_epochs(2);
    c.mutable_dataset()->set_kind(v1::DATASET_KIND_IDX);
    c.mutable_dataset()->set_path("/usr/share/datasets/fashion-mnist");
    c.mutable_evaluation()->add_layers("block3");
    c.mutable_evaluation()->add_layers("pre_logits");
    return c;
  }

  absl::StatusOr<v1::Run> Submit(const v1::RunConfig& config) {
    v1::SubmitRunRequest req;
    *req.mutable_config() = config;
    v1::SubmitRunResponse resp;
    absl::Status s =
        FromGrpcStatus(experiments_->SubmitRun(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    return resp.run();
  }

  absl::StatusOr<v1::Run> Get(int64_t run_id) {
    v1::GetRunRequest req;
    req.set_run_id(run_id);
    v1::GetRunResponse resp;
    absl::Status s =
        FromGrpcStatus(experiments_->GetRun(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    return resp.run();
  }

  absl::StatusOr<int64_t> Register() {
    v1::RegisterWorkerRequest req;
    req.set_name("fake-worker");
    req.add_devices()->set_kind(v1::DEVICE_KIND_CPU);
    v1::RegisterWorkerResponse resp;
    absl::Status s =
        FromGrpcStatus(workers_->RegisterWorker(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    // Workers learn the scheduler's own lease duration.
    EXPECT_DOUBLE_EQ(resp.lease_seconds(), 12);
    return resp.worker_id();
  }

  absl::StatusOr<v1::LeaseJobResponse> Lease(int64_t worker_id) {
    v1::LeaseJobRequest req;
    req.set_worker_id(worker_id);
    req.add_free_devices()->set_kind(v1::DEVICE_KIND_CPU);
    v1::LeaseJobResponse resp;
    absl::Status s =
        FromGrpcStatus(workers_->LeaseJob(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  absl::Status Complete(int64_t worker_id, const v1::JobAssignment& a) {
    v1::CompleteJobRequest req;
    req.set_worker_id(worker_id);
    req.set_job_id(a.job().job_id());
    req.set_lease_token(a.lease_token());
    v1::CompleteJobResponse resp;
    return FromGrpcStatus(workers_->CompleteJob(Ctx().get(), req, &resp));
  }

  std::filesystem::path dir_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<SchedulerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ExperimentService::Stub> experiments_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

TEST_F(SchedulerServiceTest, SubmitExpandsDefaultsAndStoresTheConfig) {
  v1::RunConfig config = SmallConfig();
  config.clear_width();
  config.clear_epochs();
  ASSERT_OK_AND_ASSIGN(v1::Run run, Submit(config));
  EXPECT_GT(run.run_id(), 0);
  EXPECT_EQ(run.state(), v1::RUN_STATE_PENDING);
  EXPECT_EQ(run.config().width(), 4);
  EXPECT_EQ(run.config().epochs(), 35);
  EXPECT_EQ(run.config().batch_size(), 64);
  EXPECT_EQ(run.versions().at("api"), "sslab.v1");
  EXPECT_EQ(run.name(), "rotation-resnet50_v2-k4");
  ASSERT_THAT(run.jobs(), SizeIs(1));
  EXPECT_EQ(run.jobs(0).kind(), v1::JOB_KIND_TRAIN);
  EXPECT_EQ(run.jobs(0).state(), v1::JOB_STATE_RUNNABLE);
}

TEST_F(SchedulerServiceTest, BadSubmissionsNameTheField) {
  auto expect_invalid = [&](v1::RunConfig config, const std::string& field) {
    EXPECT_THAT(Submit(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr(field + ":")))
        << field;
  };
  v1::RunConfig c = SmallConfig();
  c.set_method(static_cast<v1::Method>(77));
  expect_invalid(c, "config.method");
  c = SmallConfig();
  c.set_architecture(v1::ARCHITECTURE_UNSPECIFIED);
  expect_invalid(c, "config.architecture");
  c = SmallConfig();
  c.set_width(0);
  expect_invalid(c, "config.width");
  c = SmallConfig();
  c.mutable_dataset()->clear_path();
  expect_invalid(c, "config.dataset.path");
  c = SmallConfig();
  c.set_epochs(-3);
  expect_invalid(c, "config.epochs");
  // Nothing was stored.
  v1::ListRunsResponse list;
  ASSERT_TRUE(
      experiments_->ListRuns(Ctx().get(), v1::ListRunsRequest(), &list).ok());
  EXPECT_THAT(list.runs(), SizeIs(0));
}

TEST_F(SchedulerServiceTest, UnknownIdsAndWrongStates) {
  EXPECT_THAT(Get(4242), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get(0), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("run_id")));
  ASSERT_OK_AND_ASSIGN(v1::Run run, Submit(SmallConfig()));
  v1::CancelRunRequest cancel;
  cancel.set_run_id(run.run_id());
  cancel.set_reason("wrong learning rate");
  v1::CancelRunResponse cancelled;
  ASSERT_TRUE(experiments_->CancelRun(Ctx().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.run().state(), v1::RUN_STATE_CANCELLED);
  EXPECT_EQ(cancelled.run().error(), "cancelled: wrong learning rate");
  EXPECT_THAT(
      FromGrpcStatus(experiments_->CancelRun(Ctx().get(), cancel, &cancelled)),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  cancel.set_run_id(999);
  EXPECT_THAT(
      FromGrpcStatus(experiments_->CancelRun(Ctx().get(), cancel, &cancelled)),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Lease(31337), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Lease(0), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("worker_id")));
  v1::ListRunsRequest bad_list;
  bad_list.set_state(static_cast<v1::RunState>(12));
  v1::ListRunsResponse list;
  EXPECT_THAT(
      FromGrpcStatus(experiments_->ListRuns(Ctx().get(), bad_list, &list)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("state")));
  v1::QueryResultsRequest no_scope;
  v1::QueryResultsResponse results;
  EXPECT_THAT(FromGrpcStatus(
                  experiments_->QueryResults(Ctx().get(), no_scope, &results)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scope")));

  // AddProbes: the request's own fields, then the run's state.
  v1::AddProbesRequest add;
  v1::AddProbesResponse added;
  auto add_probes = [&]() {
    return FromGrpcStatus(experiments_->AddProbes(Ctx().get(), add, &added));
  };
  EXPECT_THAT(add_probes(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("run_id")));
  add.set_run_id(run.run_id());
  EXPECT_THAT(add_probes(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probe_kinds, label_fractions")));
  add.add_probe_kinds(v1::PROBE_KIND_MLP);
  add.add_probe_kinds(v1::PROBE_KIND_UNSPECIFIED);
  EXPECT_THAT(add_probes(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("probe_kinds[1]: must be set")));
  add.set_probe_kinds(1, static_cast<v1::ProbeKind>(9));
  EXPECT_THAT(add_probes(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("probe_kinds[1]: unknown")));
  add.mutable_probe_kinds()->RemoveLast();
  EXPECT_THAT(add_probes(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("is cancelled")));
  add.set_run_id(999);
  EXPECT_THAT(add_probes(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SchedulerServiceTest, ListRunsPaginates) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(Submit(SmallConfig()).status());
  v1::ListRunsRequest req;
  req.set_page_size(2);
  v1::ListRunsResponse page1, page2;
  ASSERT_TRUE(experiments_->ListRuns(Ctx().get(), req, &page1).ok());
  ASSERT_THAT(page1.runs(), SizeIs(2));
  ASSERT_FALSE(page1.next_page_token().empty());
  req.set_page_token(page1.next_page_token());
  ASSERT_TRUE(experiments_->ListRuns(Ctx().get(), req, &page2).ok());
  ASSERT_THAT(page2.runs(), SizeIs(1));
  EXPECT_TRUE(page2.next_page_token().empty());
  EXPECT_GT(page1.runs(0).run_id(), page1.runs(1).run_id());
  EXPECT_GT(page1.runs(1).run_id(), page2.runs(0).run_id());
  req.set_page_token("garbage");
  EXPECT_THAT(
      FromGrpcStatus(experiments_->ListRuns(Ctx().get(), req, &page2)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(SchedulerServiceTest, SweepExpandsTheGrid) {
  v1::SubmitSweepRequest req;
  *req.mutable_base() = SmallConfig();
  req.mutable_base()->mutable_evaluation()->clear_layers();
  req.set_name("grid");
  req.add_methods(v1::METHOD_ROTATION);
  req.add_methods(v1::METHOD_JIGSAW);
  req.add_architectures(v1::ARCHITECTURE_RESNET50_V1);
  req.add_architectures(v1::ARCHITECTURE_VGG19_BN);
  req.add_widths(1);
  req.add_widths(2);
  v1::SubmitSweepResponse resp;
  ASSERT_TRUE(experiments_->SubmitSweep(Ctx().get(), req, &resp).ok());
  EXPECT_GT(resp.sweep_id(), 0);
  ASSERT_THAT(resp.runs(), SizeIs(8));
  EXPECT_EQ(resp.runs(0).sweep_id(), resp.sweep_id());
  v1::ListRunsRequest list_req;
  list_req.set_sweep_id(resp.sweep_id());
  list_req.set_method(v1::METHOD_JIGSAW);
  v1::ListRunsResponse list;
  ASSERT_TRUE(experiments_->ListRuns(Ctx().get(), list_req, &list).ok());
  EXPECT_THAT(list.runs(), SizeIs(4));
  // A bad point rejects the whole sweep.
  req.add_widths(0);
  EXPECT_THAT(
      FromGrpcStatus(experiments_->SubmitSweep(Ctx().get(), req, &resp)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("widths[2]")));
}

TEST_F(SchedulerServiceTest, SweepAxesOfAnySettingZipAndAreKept) {
  v1::SubmitSweepRequest req;
  *req.mutable_base() = SmallConfig();
  req.set_name("lr-batch");
  req.add_widths(1);
  req.add_widths(2);
  v1::SweepAxis* lr = req.add_axes();
  lr->set_field("lr");
  lr->add_values("0.1");
  lr->add_values("0.4");
  v1::SweepAxis* batch = req.add_axes();
  batch->set_field("batch-size");
  batch->add_values("64");
  batch->add_values("256");
  v1::SweepZip* zip = req.add_zip();
  zip->add_fields("lr");
  zip->add_fields("batch-size");
  v1::SubmitSweepResponse resp;
  ASSERT_TRUE(experiments_->SubmitSweep(Ctx().get(), req, &resp).ok());
  ASSERT_THAT(resp.runs(), SizeIs(4));
  EXPECT_THAT(resp.runs(3).name(), EndsWith("-k2-lr0.4-batch-size256"));
  EXPECT_EQ(resp.runs(3).config().batch_size(), 256);
  EXPECT_EQ(resp.runs(3).config().lr_schedule().base_lr(), 0.4);
  EXPECT_EQ(resp.runs(2).config().batch_size(), 64);

  // The grid is stored as submitted (ListSweeps reads it back).
  v1::ListSweepsResponse sweeps;
  ASSERT_TRUE(
      experiments_->ListSweeps(Ctx().get(), v1::ListSweepsRequest(), &sweeps)
          .ok());
  ASSERT_THAT(sweeps.sweeps(), SizeIs(1));
  const v1::SweepGrid& grid = sweeps.sweeps(0).grid();
  ASSERT_THAT(grid.axes(), SizeIs(2));
  EXPECT_EQ(grid.axes(1).field(), "batch-size");
  EXPECT_THAT(grid.axes(1).values(), ElementsAre("64", "256"));
  ASSERT_THAT(grid.zip(), SizeIs(1));
  EXPECT_THAT(grid.zip(0).fields(), ElementsAre("lr", "batch-size"));

  // Unequal zipped axes are refused, naming the group.
  batch->add_values("512");
  EXPECT_THAT(
      FromGrpcStatus(experiments_->SubmitSweep(Ctx().get(), req, &resp)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("zip[0]: lr has 2 values but batch-size has 3")));
}

TEST_F(SchedulerServiceTest, WorkerProtocolRunsTheJobGraph) {
  ASSERT_OK_AND_ASSIGN(v1::Run run, Submit(SmallConfig()));
  ASSERT_OK_AND_ASSIGN(int64_t worker, Register());

  // TRAIN.
  ASSERT_OK_AND_ASSIGN(v1::LeaseJobResponse train, Lease(worker));
  ASSERT_TRUE(train.has_assignment());
  const v1::JobAssignment& a = train.assignment();
  EXPECT_EQ(a.job().kind(), v1::JOB_KIND_TRAIN);
  EXPECT_EQ(a.config().epochs(), 2);
  EXPECT_EQ(a.device().kind(), v1::DEVICE_KIND_CPU);
  EXPECT_FALSE(a.has_checkpoint());
  EXPECT_EQ(a.job().attempts(), 1);
  v1::HeartbeatRequest hb;
  hb.set_worker_id(worker);
  hb.set_job_id(a.job().job_id());
  v1::HeartbeatResponse refused;
  EXPECT_THAT(
      FromGrpcStatus(workers_->Heartbeat(Ctx().get(), hb, &refused)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lease_token")));
  hb.set_lease_token(std::string(64, '0'));
  EXPECT_THAT(FromGrpcStatus(workers_->Heartbeat(Ctx().get(), hb, &refused)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("lease_token")));
  EXPECT_EQ(a.lease_token().size(), 64u);
  hb.set_lease_token(a.lease_token());
  hb.set_progress(0.5);
  hb.set_epoch(1);
  hb.set_step(10);
  (*hb.mutable_metrics())["loss"] = 1.25;
  (*hb.mutable_metrics())["nan"] = std::nan("");
  v1::HeartbeatResponse hb_resp;
  ASSERT_TRUE(workers_->Heartbeat(Ctx().get(), hb, &hb_resp).ok());
  EXPECT_FALSE(hb_resp.cancelled());
  ASSERT_OK_AND_ASSIGN(v1::Run running, Get(run.run_id()));
  EXPECT_EQ(running.state(), v1::RUN_STATE_RUNNING);
  EXPECT_DOUBLE_EQ(running.progress().train_fraction(), 0.5);
  EXPECT_EQ(running.progress().epoch(), 1);
  EXPECT_DOUBLE_EQ(running.progress().metrics().at("loss"), 1.25);

  v1::RegisterCheckpointRequest ck;
  ck.set_worker_id(worker);
  ck.set_job_id(a.job().job_id());
  ck.set_lease_token(a.lease_token());
  ck.set_epoch(2);
  ck.set_step(20);
  ck.set_path("runs/1/ckpt-2.pt");
  ck.set_sha256(std::string(64, 'a'));
  ck.set_bytes(100);
  ck.set_is_final(true);
  (*ck.mutable_metrics())["pretext_top1"] = 0.7;
  v1::RegisterCheckpointResponse ck_resp;
  ASSERT_TRUE(workers_->RegisterCheckpoint(Ctx().get(), ck, &ck_resp).ok());
  ASSERT_OK(Complete(worker, a));

  // EXTRACT.
  ASSERT_OK_AND_ASSIGN(v1::LeaseJobResponse extract, Lease(worker));
  ASSERT_TRUE(extract.has_assignment());
  EXPECT_EQ(extract.assignment().job().kind(), v1::JOB_KIND_EXTRACT);
  EXPECT_EQ(extract.assignment().checkpoint().checkpoint_id(),
            ck_resp.checkpoint_id());
  EXPECT_EQ(extract.assignment().checkpoint().path(), "runs/1/ckpt-2.pt");
  EXPECT_THAT(extract.assignment().layers(),
              ElementsAre("block3", "pre_logits"));
  EXPECT_THAT(extract.assignment().splits(),
              ElementsAre("train", "val", "test"));
  v1::RegisterFeaturesRequest feats;
  feats.set_worker_id(worker);
  feats.set_job_id(extract.assignment().job().job_id());
  feats.set_lease_token(extract.assignment().lease_token());
  for (const std::string& layer : extract.assignment().layers()) {
    for (const char* split : {"train", "val", "test"}) {
      v1::FeatureShard* f = feats.add_features();
      f->set_layer(layer);
      f->set_split(split);
      f->set_path("f/" + layer + "-" + split);
      f->set_rows(10);
      f->set_dims(4);
    }
  }
  v1::RegisterFeaturesResponse feats_resp;
  ASSERT_TRUE(workers_->RegisterFeatures(Ctx().get(), feats, &feats_resp).ok());
  ASSERT_OK(Complete(worker, extract.assignment()));

  // PROBE x 2.
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::LeaseJobResponse probe, Lease(worker));
    ASSERT_TRUE(probe.has_assignment());
    const v1::JobAssignment& p = probe.assignment();
    EXPECT_EQ(p.job().kind(), v1::JOB_KIND_PROBE);
    EXPECT_EQ(p.job().probe_kind(), v1::PROBE_KIND_LBFGS);
    EXPECT_EQ(p.job().layer(), i == 0 ? "block3" : "pre_logits");
    ASSERT_THAT(p.features(), SizeIs(3));
    EXPECT_EQ(p.features(0).layer(), p.job().layer());
    v1::RecordResultRequest result;
    result.set_worker_id(worker);
    result.set_job_id(p.job().job_id());
    result.set_lease_token(p.lease_token());
    result.set_split("test");
    result.set_top1(0.5 + 0.1 * i);
    result.set_top5(0.9);
    (*result.mutable_hyperparameters())["l2"] = "0.001";
    v1::RecordResultResponse result_resp;
    ASSERT_TRUE(workers_->RecordResult(Ctx().get(), result, &result_resp).ok());
    result.set_top1(1.5);
    EXPECT_THAT(
        FromGrpcStatus(
            workers_->RecordResult(Ctx().get(), result, &result_resp)),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top1")));
    ASSERT_OK(Complete(worker, p));
  }
  ASSERT_OK_AND_ASSIGN(v1::LeaseJobResponse none, Lease(worker));
  EXPECT_FALSE(none.has_assignment());

  ASSERT_OK_AND_ASSIGN(v1::Run done, Get(run.run_id()));
  EXPECT_EQ(done.state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_EQ(done.progress().jobs_succeeded(), 4);

  v1::QueryResultsRequest q;
  q.set_run_id(run.run_id());
  v1::QueryResultsResponse results;
  ASSERT_TRUE(experiments_->QueryResults(Ctx().get(), q, &results).ok());
  ASSERT_THAT(results.results(), SizeIs(2));
  EXPECT_EQ(results.results(0).method(), v1::METHOD_ROTATION);
  EXPECT_EQ(results.results(0).epoch(), 2);
  EXPECT_EQ(results.results(0).hyperparameters().at("l2"), "0.001");
  // The same rows a page at a time.
  q.set_page_size(1);
  v1::QueryResultsResponse first, second;
  ASSERT_TRUE(experiments_->QueryResults(Ctx().get(), q, &first).ok());
  ASSERT_THAT(first.results(), SizeIs(1));
  EXPECT_EQ(first.results(0).layer(), results.results(0).layer());
  ASSERT_FALSE(first.next_page_token().empty());
  q.set_page_token(first.next_page_token());
  ASSERT_TRUE(experiments_->QueryResults(Ctx().get(), q, &second).ok());
  ASSERT_THAT(second.results(), SizeIs(1));
  EXPECT_EQ(second.results(0).layer(), results.results(1).layer());
  EXPECT_TRUE(second.next_page_token().empty());
  q.set_page_token("987654321");
  EXPECT_THAT(
      FromGrpcStatus(experiments_->QueryResults(Ctx().get(), q, &second)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));

  v1::ListCheckpointsRequest lc;
  lc.set_run_id(run.run_id());
  v1::ListCheckpointsResponse checkpoints;
  ASSERT_TRUE(
      experiments_->ListCheckpoints(Ctx().get(), lc, &checkpoints).ok());
  ASSERT_THAT(checkpoints.checkpoints(), SizeIs(1));
  EXPECT_TRUE(checkpoints.checkpoints(0).is_final());
  EXPECT_DOUBLE_EQ(checkpoints.checkpoints(0).metrics().at("pretext_top1"),
                   0.7);

  // A finished run's watch sends its final state and ends.
  v1::WatchRunRequest w;
  w.set_run_id(run.run_id());
  auto ctx = Ctx();
  auto reader = experiments_->WatchRun(ctx.get(), w);
  v1::WatchRunResponse update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.run().state(), v1::RUN_STATE_SUCCEEDED);
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_TRUE(reader->Finish().ok());

  // Cancel of a finished run.
  v1::CancelRunRequest cancel;
  cancel.set_run_id(run.run_id());
  v1::CancelRunResponse cancelled;
  EXPECT_THAT(
      FromGrpcStatus(experiments_->CancelRun(Ctx().get(), cancel, &cancelled)),
      StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SchedulerServiceTest, WatchStreamsChangesUntilCancelled) {
  ASSERT_OK_AND_ASSIGN(v1::Run run, Submit(SmallConfig()));
  v1::WatchRunRequest w;
  w.set_run_id(run.run_id());
  auto ctx = Ctx();
  auto reader = experiments_->WatchRun(ctx.get(), w);
  v1::WatchRunResponse update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.run().state(), v1::RUN_STATE_PENDING);
  // A cancel is a change: the stream shows it and ends.
  v1::CancelRunRequest cancel;
  cancel.set_run_id(run.run_id());
  v1::CancelRunResponse cancelled;
  ASSERT_TRUE(experiments_->CancelRun(Ctx().get(), cancel, &cancelled).ok());
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.run().state(), v1::RUN_STATE_CANCELLED);
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_TRUE(reader->Finish().ok());
  // Unknown run.
  w.set_run_id(777);
  auto ctx2 = Ctx();
  auto bad = experiments_->WatchRun(ctx2.get(), w);
  EXPECT_FALSE(bad->Read(&update));
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SchedulerServiceTest, WorkerValidation) {
  v1::RegisterWorkerRequest req;
  req.set_name("w");
  v1::RegisterWorkerResponse resp;
  EXPECT_THAT(
      FromGrpcStatus(workers_->RegisterWorker(Ctx().get(), req, &resp)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices")));
  req.add_devices()->set_kind(static_cast<v1::DeviceKind>(55));
  EXPECT_THAT(FromGrpcStatus(workers_->RegisterWorker(Ctx().get(), req, &resp)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("devices[0].kind")));
  req.mutable_devices(0)->set_kind(v1::DEVICE_KIND_CPU);
  req.add_job_kinds(static_cast<v1::JobKind>(9));
  EXPECT_THAT(
      FromGrpcStatus(workers_->RegisterWorker(Ctx().get(), req, &resp)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("job_kinds[0]")));
  ASSERT_OK_AND_ASSIGN(int64_t worker, Register());
  v1::HeartbeatRequest hb;
  hb.set_worker_id(worker);
  hb.set_job_id(12345);
  hb.set_lease_token("a guess");
  v1::HeartbeatResponse hb_resp;
  const grpc::Status s = workers_->Heartbeat(Ctx().get(), hb, &hb_resp);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::NOT_FOUND ||
              s.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  EXPECT_THAT(s.error_message(), Not(HasSubstr("SELECT")));
}

TEST_F(SchedulerServiceTest, HealthAndReflectionAreServed) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // Reflection: a raw ServerReflectionRequest{list_services: ""} (field 7)
  // over the bidi stream; the answer names our services.
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  auto ctx = Ctx();
  auto call = generic.PrepareCall(
      ctx.get(),
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t expected) {
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  ASSERT_TRUE(ok);
  const char request[] = {0x3a, 0x00};
  grpc::Slice slice(request, sizeof(request));
  grpc::ByteBuffer out(&slice, 1);
  call->WriteLast(out, grpc::WriteOptions(), reinterpret_cast<void*>(2));
  step(2);
  ASSERT_TRUE(ok);
  grpc::ByteBuffer in;
  call->Read(&in, reinterpret_cast<void*>(3));
  step(3);
  ASSERT_TRUE(ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(in.Dump(&slices).ok());
  std::string answer;
  for (const auto& sl : slices) {
    answer.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  }
  EXPECT_THAT(answer, HasSubstr("sslab.v1.ExperimentService"));
  EXPECT_THAT(answer, HasSubstr("sslab.v1.WorkerService"));
  grpc::Status finish;
  call->Finish(&finish, reinterpret_cast<void*>(4));
  step(4);
  EXPECT_TRUE(finish.ok()) << finish.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }

  v1::GetVersionResponse version;
  ASSERT_TRUE(
      experiments_->GetVersion(Ctx().get(), v1::GetVersionRequest(), &version)
          .ok());
  EXPECT_EQ(version.api(), "sslab.v1");
}

}  // namespace
}  // namespace sslab::services
