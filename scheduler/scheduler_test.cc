#include "scheduler/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sslab::scheduler {
namespace {

using ::sslab::testing::StatusIs;
using storage::DeviceKind;
using storage::Job;
using storage::JobKind;
using storage::JobState;
using storage::RunState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using json = nlohmann::json;

constexpr absl::Duration kLease = absl::Seconds(30);

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("scheduler_test_") + info->name() + "_" +
            std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Start();
  }
  void TearDown() override {
    scheduler_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)starts the scheduler on the same database file.
  void Start() {
    scheduler_.reset();
    auto store = storage::Store::Open((dir_ / "sslab.db").string());
    ASSERT_OK(store.status());
    SchedulerOptions options;
    options.lease_duration = kLease;
    options.default_page_size = 2;
    auto scheduler = Scheduler::Create(std::move(*store), &clock_, options);
    ASSERT_OK(scheduler.status());
    scheduler_ = std::move(*scheduler);
  }

  static RunSpec Spec(int priority = 0, DeviceKind device = DeviceKind::kCpu) {
    RunSpec spec;
    spec.method = "rotation";
    spec.architecture = "resnet50_v2";
    spec.width = 4;
    spec.config_json = R"({"dataset":{"kind":"idx","path":"/d"},"epochs":2})";
    spec.priority = priority;
    spec.device = device;
    return spec;
  }

  int64_t Submit(const RunSpec& spec) {
    auto id = scheduler_->SubmitRun(spec);
    EXPECT_OK(id.status());
    return id.value_or(0);
  }

  int64_t Worker(const std::string& name, std::vector<std::string> devices,
                 std::vector<JobKind> kinds = {
                     JobKind::kTrain, JobKind::kExtract, JobKind::kProbe}) {
    auto id = scheduler_->RegisterWorker(
        {name, std::move(kinds), std::move(devices)});
    EXPECT_OK(id.status());
    return id.value_or(0);
  }

  // Leases a job that must exist.
  Lease MustLease(int64_t worker, std::vector<std::string> free) {
    auto lease = scheduler_->LeaseJob(worker, free);
    EXPECT_OK(lease.status());
    if (!lease.ok() || !lease->has_value()) {
      ADD_FAILURE() << "expected a lease for worker " << worker;
      return Lease{};
    }
    return **lease;
  }

  void ExpectNoLease(int64_t worker, std::vector<std::string> free) {
    auto lease = scheduler_->LeaseJob(worker, free);
    ASSERT_OK(lease.status());
    EXPECT_FALSE(lease->has_value()) << "leased job " << (*lease)->job.id;
  }

  RunState StateOf(int64_t run) {
    auto status = scheduler_->GetRun(run);
    EXPECT_OK(status.status());
    return status.ok() ? status->run.state : RunState::kPending;
  }

  Job JobOf(int64_t run, JobKind kind) {
    auto jobs = scheduler_->ListJobs(run);
    EXPECT_OK(jobs.status());
    for (const Job& j : *jobs) {
      if (j.kind == kind) return j;
    }
    ADD_FAILURE() << "run " << run << " has no " << storage::JobKindName(kind);
    return Job{};
  }

  CheckpointInfo Ckpt(int epoch, bool is_final) {
    CheckpointInfo c;
    c.epoch = epoch;
    c.step = epoch * 100;
    c.path = "/var/artifacts/ckpt-" + std::to_string(epoch);
    c.sha256 = "ab";
    c.bytes = 1234;
    c.is_final = is_final;
    return c;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, RejectsBadSpecsNamingTheField) {
  RunSpec spec = Spec();
  spec.width = 0;
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width")));
  spec = Spec();
  spec.method = "";
  EXPECT_THAT(
      scheduler_->SubmitRun(spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("method")));
  spec = Spec();
  spec.evaluation.every_epochs = -1;
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evaluation.every_epochs")));
  spec = Spec();
  spec.evaluation.label_fractions = {0.1, 1.5};
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("evaluation.label_fractions[1]")));
  spec = Spec();
  spec.config_json = "[1, 2";
  EXPECT_THAT(
      scheduler_->SubmitRun(spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config_json")));
  spec = Spec();
  spec.max_attempts = 0;
  EXPECT_THAT(
      scheduler_->SubmitRun(spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_attempts")));

  // A sweep is all or nothing.
  SweepSpec sweep;
  sweep.name = "grid";
  sweep.runs = {Spec(), Spec()};
  sweep.runs[1].width = -2;
  EXPECT_THAT(
      scheduler_->SubmitSweep(sweep),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("runs[1].width")));
  ASSERT_OK_AND_ASSIGN(RunPage page, scheduler_->ListRuns({}, 10, ""));
  EXPECT_THAT(page.runs, SizeIs(0));

  EXPECT_THAT(
      scheduler_->RegisterWorker({"w", {JobKind::kTrain}, {"gpu0"}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices[0]")));
}

TEST_F(SchedulerTest, LeasesByPriorityThenFifo) {
  int64_t low = Submit(Spec(/*priority=*/0));
  int64_t high1 = Submit(Spec(/*priority=*/5));
  int64_t high2 = Submit(Spec(/*priority=*/5));
  int64_t w = Worker("cpu-worker", {"cpu"});
  EXPECT_EQ(MustLease(w, {"cpu"}).job.run_id, high1);
  EXPECT_EQ(MustLease(w, {"cpu"}).job.run_id, high2);
  EXPECT_EQ(MustLease(w, {"cpu"}).job.run_id, low);
  ExpectNoLease(w, {"cpu"});
  EXPECT_EQ(StateOf(low), RunState::kRunning);
}

TEST_F(SchedulerTest, GpuJobsFitOnlyFreeGpusAndNeverShareOne) {
  int64_t gpu_run1 = Submit(Spec(0, DeviceKind::kGpu));
  int64_t gpu_run2 = Submit(Spec(0, DeviceKind::kGpu));
  Submit(Spec(0, DeviceKind::kGpu));
  int64_t cpu_only = Worker("cpu-only", {"cpu"});
  int64_t gpu_box = Worker("gpu-box", {"cpu", "cuda:0", "cuda:1"});

  ExpectNoLease(cpu_only, {"cpu"});  // CPU-only workers get CPU jobs only
  ExpectNoLease(gpu_box, {"cpu"});   // no free GPU reported

  Lease first = MustLease(gpu_box, {"cuda:0", "cuda:1"});
  EXPECT_EQ(first.job.run_id, gpu_run1);
  EXPECT_EQ(first.device, "cuda:0");
  // The worker wrongly reports cuda:0 free: the live lease still holds it.
  Lease second = MustLease(gpu_box, {"cuda:0", "cuda:1"});
  EXPECT_EQ(second.job.run_id, gpu_run2);
  EXPECT_EQ(second.device, "cuda:1");
  ExpectNoLease(gpu_box, {"cpu", "cuda:0", "cuda:1"});

  // Once a lease is released its GPU is free again.
  ASSERT_OK(scheduler_->FailJob(gpu_box, first.job.id, "boom", false));
  Lease third = MustLease(gpu_box, {"cuda:0"});
  EXPECT_EQ(third.device, "cuda:0");

  // CPU job on the GPU box needs "cpu" free.
  int64_t cpu_run = Submit(Spec(9, DeviceKind::kCpu));
  ExpectNoLease(gpu_box, {"cuda:0", "cuda:1"});
  EXPECT_EQ(MustLease(cpu_only, {"cpu"}).job.run_id, cpu_run);
}

TEST_F(SchedulerTest, ConcurrentLeasesNeverShareAGpu) {
  for (int i = 0; i < 8; ++i) Submit(Spec(0, DeviceKind::kGpu));
  int64_t w = Worker("gpu-box", {"cuda:0", "cuda:1"});
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> leased_on;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto lease = scheduler_->LeaseJob(w, {"cuda:0", "cuda:1"});
        ASSERT_OK(lease.status());
        if (lease->has_value()) {
          std::lock_guard<std::mutex> lock(mu);
          leased_on.push_back((*lease)->device);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(leased_on.begin(), leased_on.end());
  EXPECT_THAT(leased_on, ElementsAre("cuda:0", "cuda:1"));
}

TEST_F(SchedulerTest, WorkersGetOnlyKindsTheyServe) {
  Submit(Spec());
  int64_t prober = Worker("prober", {"cpu"}, {JobKind::kProbe});
  ExpectNoLease(prober, {"cpu"});
  int64_t trainer = Worker("trainer", {"cpu"}, {JobKind::kTrain});
  EXPECT_EQ(MustLease(trainer, {"cpu"}).job.kind, JobKind::kTrain);
}

TEST_F(SchedulerTest, UnknownWorkerAndForeignDevicesAreRejected) {
  EXPECT_THAT(scheduler_->LeaseJob(999, {"cpu"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker 999")));
  EXPECT_THAT(scheduler_->Heartbeat(999, 1, 0.5, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker 999")));
  int64_t w = Worker("w", {"cpu"});
  EXPECT_THAT(scheduler_->LeaseJob(w, {"cuda:0"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("free_devices[0]")));
  EXPECT_THAT(scheduler_->CompleteJob(w, 4242),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("job 4242")));
  // Registering the same name again keeps the id.
  EXPECT_EQ(Worker("w", {"cpu", "cuda:0"}), w);
}

TEST_F(SchedulerTest, ExpiredLeaseRequeuesAndHeartbeatsKeepItAlive) {
  int64_t run = Submit(Spec());
  int64_t a = Worker("a", {"cpu"});
  int64_t b = Worker("b", {"cpu"});
  Lease lease = MustLease(a, {"cpu"});
  EXPECT_EQ(lease.expiry, clock_.Now() + kLease);

  // Heartbeats renew the lease past its first expiry.
  clock_.Advance(absl::Seconds(20));
  ASSERT_OK_AND_ASSIGN(
      HeartbeatReply beat,
      scheduler_->Heartbeat(a, lease.job.id, 0.25, {{10, "loss", 1.5}}));
  EXPECT_FALSE(beat.cancelled);
  clock_.Advance(absl::Seconds(20));
  ASSERT_OK_AND_ASSIGN(int expired, scheduler_->ExpireLeases());
  EXPECT_EQ(expired, 0);
  ASSERT_OK_AND_ASSIGN(
      beat, scheduler_->Heartbeat(
                a, lease.job.id,
                HeartbeatInfo{0.25,
                              /*epoch=*/1,
                              /*step=*/20,
                              {{0, "loss", 1.25}, {0, "grad_norm", NAN}}}));
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_DOUBLE_EQ(status.train_progress, 0.25);
  EXPECT_EQ(status.epoch, 1);
  EXPECT_EQ(status.step, 20);
  EXPECT_DOUBLE_EQ(status.latest_metrics["loss"], 1.25);
  EXPECT_FALSE(status.latest_metrics.count("grad_norm"));
  ASSERT_THAT(status.job_list, SizeIs(1));
  ASSERT_OK_AND_ASSIGN(auto metrics, scheduler_->ListMetrics(run, "loss"));
  ASSERT_THAT(metrics, SizeIs(2));
  EXPECT_EQ(metrics[0].step, 10);
  EXPECT_EQ(metrics[1].step, 20);

  // Silence past the lease: the job goes back to the queue.
  clock_.Advance(kLease);
  ASSERT_OK_AND_ASSIGN(expired, scheduler_->ExpireLeases());
  EXPECT_EQ(expired, 1);
  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kRunnable);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_THAT(job.last_error, HasSubstr("lease expired"));
  EXPECT_EQ(StateOf(run), RunState::kRunning);
  EXPECT_THAT(scheduler_->Heartbeat(a, lease.job.id, 0.5, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not leased by worker")));

  Lease again = MustLease(b, {"cpu"});
  EXPECT_EQ(again.job.id, lease.job.id);
  EXPECT_EQ(again.job.attempts, 2);
  // The late worker cannot complete a job it lost.
  EXPECT_THAT(scheduler_->CompleteJob(a, lease.job.id),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SchedulerTest, ReRegisteredWorkerLosesItsOldLeases) {
  int64_t run = Submit(Spec(0, DeviceKind::kGpu));
  int64_t w = Worker("trainer@host", {"cuda:0"});
  Lease old = MustLease(w, {"cuda:0"});
  // The worker process restarts: same name, same id, old lease released.
  EXPECT_EQ(Worker("trainer@host", {"cuda:0"}), w);
  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kRunnable);
  EXPECT_THAT(job.last_error, HasSubstr("registered again"));
  EXPECT_THAT(scheduler_->Heartbeat(w, old.job.id, 0.1, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Lease again = MustLease(w, {"cuda:0"});  // its GPU is free at once
  EXPECT_EQ(again.job.id, old.job.id);
  EXPECT_EQ(again.job.attempts, 2);
}

TEST_F(SchedulerTest, RetryLimitFailsJobAndRunWithLastError) {
  RunSpec spec = Spec();
  spec.max_attempts = 2;
  int64_t run = Submit(spec);
  int64_t w = Worker("w", {"cpu"});

  Lease first = MustLease(w, {"cpu"});
  ASSERT_OK(
      scheduler_->FailJob(w, first.job.id, "NaN loss", /*retryable=*/true));
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kRunnable);

  MustLease(w, {"cpu"});
  clock_.Advance(kLease + absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(int expired, scheduler_->ExpireLeases());
  EXPECT_EQ(expired, 1);

  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.attempts, 2);
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kFailed);
  EXPECT_THAT(status.run.error, HasSubstr("lease expired"));
  ExpectNoLease(w, {"cpu"});

  // A non-retryable failure ends the run at once, keeping its message.
  int64_t run2 = Submit(Spec());
  Lease lease = MustLease(w, {"cpu"});
  ASSERT_OK(scheduler_->FailJob(w, lease.job.id, "CUDA out of memory", false));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run2));
  EXPECT_EQ(status.run.state, RunState::kFailed);
  EXPECT_THAT(status.run.error, HasSubstr("CUDA out of memory"));
  // Retried FailJob is harmless.
  EXPECT_OK(scheduler_->FailJob(w, lease.job.id, "CUDA out of memory", false));
  EXPECT_THAT(scheduler_->Cancel(run2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already finished")));
}

TEST_F(SchedulerTest, CancelCascadesAndRunningJobLearnsAtHeartbeat) {
  RunSpec spec = Spec(0, DeviceKind::kGpu);
  spec.evaluation.layers = {"block4"};
  spec.evaluation.every_epochs = 1;
  int64_t run = Submit(spec);
  int64_t w = Worker("w", {"cpu", "cuda:0"});
  Lease train = MustLease(w, {"cuda:0"});
  // An interim checkpoint queues an EXTRACT job.
  ASSERT_OK(
      scheduler_->RegisterCheckpoint(w, train.job.id, Ckpt(1, false)).status());
  EXPECT_EQ(JobOf(run, JobKind::kExtract).state, JobState::kRunnable);

  ASSERT_OK(scheduler_->Cancel(run, "wrong config"));
  ASSERT_OK_AND_ASSIGN(RunStatus cancelled, scheduler_->GetRun(run));
  EXPECT_EQ(cancelled.run.state, RunState::kCancelled);
  EXPECT_EQ(cancelled.run.error, "cancelled: wrong config");
  EXPECT_EQ(JobOf(run, JobKind::kExtract).state, JobState::kCancelled);
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kCancelled);

  ASSERT_OK_AND_ASSIGN(HeartbeatReply beat,
                       scheduler_->Heartbeat(w, train.job.id, 0.5, {}));
  EXPECT_TRUE(beat.cancelled);
  EXPECT_THAT(
      scheduler_->RegisterCheckpoint(w, train.job.id, Ckpt(2, false)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cancelled")));
  // Until the worker lets go, its GPU stays busy.
  Submit(Spec(0, DeviceKind::kGpu));
  ExpectNoLease(w, {"cuda:0"});
  ASSERT_OK(scheduler_->CompleteJob(w, train.job.id));
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kCancelled);
  EXPECT_EQ(MustLease(w, {"cuda:0"}).device, "cuda:0");

  EXPECT_THAT(scheduler_->Cancel(run),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(scheduler_->Cancel(77777),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("run 77777")));
}

TEST_F(SchedulerTest, GraphRunsTrainExtractProbeToSuccess) {
  RunSpec spec = Spec();
  spec.evaluation.layers = {"block4", "pre_logits"};
  spec.evaluation.probe_kinds = {"linear"};
  spec.evaluation.label_fractions = {1.0, 0.1};
  int64_t run = Submit(spec);
  int64_t w = Worker("w", {"cpu"});
  uint64_t seen = scheduler_->version();

  Lease train = MustLease(w, {"cpu"});
  EXPECT_NE(scheduler_->WaitForChange(seen, absl::Now()), seen);
  json payload = json::parse(train.job.payload_json);
  EXPECT_EQ(payload["kind"], "TRAIN");
  EXPECT_TRUE(payload["resume_checkpoint"].is_null());
  EXPECT_EQ(payload["config"]["epochs"], 2);

  // Only the final checkpoint is evaluated by default.
  ASSERT_OK(
      scheduler_->RegisterCheckpoint(w, train.job.id, Ckpt(1, false)).status());
  ExpectNoLease(w, {"cpu"});
  ASSERT_OK_AND_ASSIGN(int64_t final_ckpt, scheduler_->RegisterCheckpoint(
                                               w, train.job.id, Ckpt(2, true)));
  // A retried registration is idempotent.
  ASSERT_OK_AND_ASSIGN(int64_t again, scheduler_->RegisterCheckpoint(
                                          w, train.job.id, Ckpt(2, true)));
  EXPECT_EQ(again, final_ckpt);
  ASSERT_OK(scheduler_->CompleteJob(w, train.job.id));
  ASSERT_OK(scheduler_->CompleteJob(w, train.job.id));  // retried call
  EXPECT_EQ(StateOf(run), RunState::kRunning);

  Lease extract = MustLease(w, {"cpu"});
  ASSERT_EQ(extract.job.kind, JobKind::kExtract);
  payload = json::parse(extract.job.payload_json);
  EXPECT_EQ(payload["checkpoint"]["path"], "/var/artifacts/ckpt-2");
  EXPECT_EQ(payload["layers"], json({"block4", "pre_logits"}));
  std::vector<FeatureInfo> features;
  for (const std::string layer : {"block4", "pre_logits"}) {
    for (const std::string split : {"train", "val"}) {
      features.push_back(
          {layer, split, "/f/" + layer + "-" + split, "cd", 10, 8});
    }
  }
  ASSERT_OK(scheduler_->RegisterFeatures(w, extract.job.id, features));
  // The test split is missing.
  EXPECT_THAT(scheduler_->CompleteJob(w, extract.job.id),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("split 'test'")));
  for (const std::string layer : {"block4", "pre_logits"}) {
    features.push_back({layer, "test", "/f/" + layer + "-test", "cd", 5, 8});
  }
  ASSERT_OK(scheduler_->RegisterFeatures(w, extract.job.id, features));
  ASSERT_OK(scheduler_->CompleteJob(w, extract.job.id));

  ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, scheduler_->ListJobs(run));
  ASSERT_THAT(jobs, SizeIs(2 + 4));  // TRAIN, EXTRACT, 2 layers x 2 fractions
  for (int i = 0; i < 4; ++i) {
    Lease probe = MustLease(w, {"cpu"});
    ASSERT_EQ(probe.job.kind, JobKind::kProbe);
    payload = json::parse(probe.job.payload_json);
    std::string layer = payload["layer"];
    EXPECT_EQ(payload["features"]["train"]["path"], "/f/" + layer + "-train");
    EXPECT_EQ(payload["features"]["test"]["rows"], 5);
    EXPECT_THAT(scheduler_->CompleteJob(w, probe.job.id),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("no result")));
    ASSERT_OK(scheduler_->RecordResult(w, probe.job.id,
                                       {"test", 0.5 + 0.1 * i, 0.9, "{}"}));
    ASSERT_OK(scheduler_->CompleteJob(w, probe.job.id));
  }
  ExpectNoLease(w, {"cpu"});
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kSucceeded);
  EXPECT_EQ(status.jobs.succeeded, 6);

  storage::ResultFilter filter;
  filter.run_id = run;
  ASSERT_OK_AND_ASSIGN(auto results, scheduler_->QueryResults(filter));
  ASSERT_THAT(results, SizeIs(4));
  EXPECT_EQ(results[0].epoch, 2);
  filter.layer = "pre_logits";
  ASSERT_OK_AND_ASSIGN(results, scheduler_->QueryResults(filter));
  EXPECT_THAT(results, SizeIs(2));
  ASSERT_OK_AND_ASSIGN(auto ckpts, scheduler_->ListCheckpoints(run));
  EXPECT_THAT(ckpts, SizeIs(2));
}

TEST_F(SchedulerTest, RetriedTrainResumesFromLatestCheckpoint) {
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {"cpu"});
  Lease first = MustLease(w, {"cpu"});
  ASSERT_OK(
      scheduler_->RegisterCheckpoint(w, first.job.id, Ckpt(1, false)).status());
  ASSERT_OK(scheduler_->FailJob(w, first.job.id, "preempted", true));
  Lease second = MustLease(w, {"cpu"});
  json payload = json::parse(second.job.payload_json);
  EXPECT_EQ(payload["resume_checkpoint"]["epoch"], 1);
  EXPECT_EQ(payload["attempt"], 2);
  // Without evaluation layers, TRAIN completing finishes the run.
  ASSERT_OK(scheduler_->CompleteJob(w, second.job.id));
  EXPECT_EQ(StateOf(run), RunState::kSucceeded);
}

TEST_F(SchedulerTest, RestartRecoversFromTheSameFile) {
  int64_t run = Submit(Spec());
  int64_t queued = Submit(Spec());
  int64_t w = Worker("w", {"cpu"});
  Lease lease = MustLease(w, {"cpu"});
  ASSERT_EQ(lease.job.run_id, run);

  // A quick restart: the lease is still live and the worker carries on.
  clock_.Advance(absl::Seconds(10));
  Start();
  EXPECT_EQ(StateOf(run), RunState::kRunning);
  ASSERT_OK(scheduler_->Heartbeat(w, lease.job.id, 0.5, {}).status());

  // A long outage: the lease ran out meanwhile and the job is requeued.
  scheduler_.reset();
  clock_.Advance(kLease * 3);
  Start();
  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kRunnable);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(StateOf(run), RunState::kRunning);
  EXPECT_EQ(StateOf(queued), RunState::kPending);
  // Nothing lost: both runs' jobs come back in queue order.
  EXPECT_EQ(MustLease(w, {"cpu"}).job.run_id, run);
  EXPECT_EQ(MustLease(w, {"cpu"}).job.run_id, queued);
}

TEST_F(SchedulerTest, ListRunsPagesWithTokens) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit(Spec()));
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(RunPage page, scheduler_->ListRuns({}, 0, token));
    for (const auto& r : page.runs) seen.push_back(r.id);
    token = page.next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);  // default page size 2
  EXPECT_THAT(seen, ElementsAre(ids[4], ids[3], ids[2], ids[1], ids[0]));
  EXPECT_THAT(
      scheduler_->ListRuns({}, 0, "garbage"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(
      scheduler_->ListRuns({}, -1, ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));

  SweepSpec sweep;
  sweep.name = "widths";
  for (int k : {4, 8}) {
    RunSpec s = Spec();
    s.width = k;
    sweep.runs.push_back(s);
  }
  ASSERT_OK_AND_ASSIGN(SweepSubmission sub, scheduler_->SubmitSweep(sweep));
  storage::RunFilter filter;
  filter.sweep_id = sub.sweep_id;
  ASSERT_OK_AND_ASSIGN(RunPage page, scheduler_->ListRuns(filter, 10, ""));
  ASSERT_THAT(page.runs, SizeIs(2));
  EXPECT_EQ(page.runs[0].name, "rotation-resnet50_v2-k8");
  EXPECT_TRUE(page.next_page_token.empty());
}

TEST_F(SchedulerTest, WaitForChangeReturnsOnChangeOrShutdown) {
  uint64_t v = scheduler_->version();
  // Nothing changed: returns at the (past) deadline with the same version.
  EXPECT_EQ(scheduler_->WaitForChange(v, absl::Now() - absl::Seconds(1)), v);
  Submit(Spec());
  EXPECT_GT(scheduler_->WaitForChange(v, absl::Now() + absl::Hours(1)), v);
  v = scheduler_->version();
  scheduler_->Shutdown();
  EXPECT_EQ(scheduler_->WaitForChange(v, absl::Now() + absl::Hours(1)), v);
}

}  // namespace
}  // namespace sslab::scheduler
