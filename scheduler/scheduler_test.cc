#include "scheduler/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sslab::scheduler {
namespace {

using experiment::DeviceId;
using experiment::DeviceRequest;
using experiment::JobKind;
using experiment::JobState;
using experiment::ProbeKind;
using experiment::ProbeTarget;
using experiment::RunState;
using experiment::Split;
using ::sslab::testing::StatusIs;
using storage::Job;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

const DeviceId kCpu = DeviceId::Cpu();
const DeviceId kGpu0 = DeviceId::Cuda(0);
const DeviceId kGpu1 = DeviceId::Cuda(1);

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
    options.max_attempts = max_attempts_;
    options.versions = {{"sslab", "test"}};
    auto scheduler = Scheduler::Create(std::move(*store), &clock_, options);
    ASSERT_OK(scheduler.status());
    scheduler_ = std::move(*scheduler);
  }

  static RunRequest Spec(int priority = 0,
                         DeviceRequest device = DeviceRequest::kCpu) {
    RunRequest request;
    experiment::RunSpec& spec = request.config;
    spec.method = experiment::Method::kRotation;
    spec.architecture = experiment::Architecture::kResNet50V2;
    spec.dataset.kind = experiment::DatasetKind::kIdx;
    spec.dataset.path = "/d";
    spec.epochs = 2;
    spec.evaluation.layers = {"block4"};
    spec.device = device;
    request.priority = priority;
    return request;
  }

  int64_t Submit(const RunRequest& spec) {
    auto id = scheduler_->SubmitRun(spec);
    EXPECT_OK(id.status());
    return id.value_or(0);
  }

  int64_t Worker(const std::string& name, std::vector<DeviceId> devices,
                 std::vector<JobKind> kinds = {
                     JobKind::kTrain, JobKind::kExtract, JobKind::kProbe}) {
    std::vector<experiment::DeviceInfo> described;
    for (const DeviceId& d : devices) described.push_back({d, "", "", 0});
    return Worker(name, std::move(described), std::move(kinds));
  }
  int64_t Worker(const std::string& name,
                 std::vector<experiment::DeviceInfo> devices,
                 std::vector<JobKind> kinds = {
                     JobKind::kTrain, JobKind::kExtract, JobKind::kProbe}) {
    auto id = scheduler_->RegisterWorker(
        {name, std::move(kinds), std::move(devices)});
    EXPECT_OK(id.status());
    return id.value_or(0);
  }

  // Leases a job that must exist.
  Lease MustLease(int64_t worker, std::vector<DeviceId> free) {
    auto lease = scheduler_->LeaseJob(worker, free);
    EXPECT_OK(lease.status());
    if (!lease.ok() || !lease->has_value()) {
      ADD_FAILURE() << "expected a lease for worker " << worker;
      return Lease{};
    }
    return **lease;
  }

  void ExpectNoLease(int64_t worker, std::vector<DeviceId> free) {
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
    ADD_FAILURE() << "run " << run << " has no " << experiment::Name(kind);
    return Job{};
  }

  experiment::CheckpointReport Ckpt(int epoch, bool is_final) {
    experiment::CheckpointReport c;
    c.epoch = epoch;
    c.step = epoch * 100;
    c.path = "runs/1/ckpt-" + std::to_string(epoch);
    c.sha256 = std::string(64, 'a');
    c.bytes = 1234;
    c.is_final = is_final;
    return c;
  }

  // Registers `features` of every split for `layers`.
  void RegisterAllFeatures(const LeaseRef& lease,
                           const std::vector<std::string>& layers) {
    std::vector<experiment::FeatureRef> features;
    for (const std::string& layer : layers) {
      for (Split split : experiment::kEvaluationSplits) {
        features.push_back(
            {layer, split,
             "f/" + layer + "-" + std::string(experiment::Name(split)),
             std::string(64, 'c'), 5, 8});
      }
    }
    ASSERT_OK(scheduler_->RegisterFeatures(lease, features));
  }

  std::filesystem::path dir_;
  int max_attempts_ = 3;
  FakeClock clock_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, RejectsBadRequestsNamingTheField) {
  RunRequest spec = Spec();
  spec.config.width = 0;
  EXPECT_THAT(
      scheduler_->SubmitRun(spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config.width")));
  spec = Spec();
  spec.config.method.reset();
  EXPECT_THAT(
      scheduler_->SubmitRun(spec),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("config.method")));
  spec = Spec();
  spec.config.evaluation.every_epochs = -1;
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.evaluation.every_epochs")));
  spec = Spec();
  spec.config.evaluation.label_fractions = {0.1, 1.5};
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.evaluation.label_fractions[1]")));
  spec = Spec();
  spec.name = std::string(201, 'x');
  EXPECT_THAT(scheduler_->SubmitRun(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));

  // A sweep is all or nothing.
  SweepRequest sweep;
  sweep.sweep.name = "grid";
  sweep.sweep.base = Spec().config;
  sweep.sweep.grid.widths = {2, 0};
  EXPECT_THAT(
      scheduler_->SubmitSweep(sweep),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("widths[1]")));
  sweep.sweep.grid.widths = {2};
  sweep.sweep.base.dataset.path.clear();
  EXPECT_THAT(scheduler_->SubmitSweep(sweep),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("base.dataset.path")));
  ASSERT_OK_AND_ASSIGN(Page<RunStatus> page, scheduler_->ListRuns({}, 10, ""));
  EXPECT_THAT(page.rows, SizeIs(0));

  EXPECT_THAT(
      scheduler_->RegisterWorker({"w", {JobKind::kTrain}, {}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices")));
  EXPECT_THAT(scheduler_->RegisterWorker(
                  {"w", {}, {{kGpu0, "", "", 0}, {kGpu0, "", "", 0}}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'cuda:0' appears twice")));
  EXPECT_THAT(
      scheduler_->RegisterWorker(
          {"w", {}, {{kGpu0, "GPU-a", "", 0}, {kGpu1, "GPU-a", "", 0}}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("'cuda:0' and 'cuda:1' are the same GPU")));
}

TEST_F(SchedulerTest, StoresTheExpandedConfigWithVersions) {
  RunRequest request = Spec();
  request.config.width.reset();
  int64_t run = Submit(request);
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.name, "rotation-resnet50_v2-k4");
  EXPECT_EQ(status.run.config.width, 4);
  EXPECT_EQ(status.run.config.batch_size, 64);
  EXPECT_THAT(status.run.config.evaluation.probe_kinds,
              ElementsAre(ProbeKind::kLbfgs));
  EXPECT_EQ(status.run.versions.at("sslab"), "test");
  EXPECT_EQ(status.run.max_attempts, 3);
}

TEST_F(SchedulerTest, ARunWithoutSeedGetsAFreshOneRecorded) {
  auto seed_of = [&](int64_t run) {
    auto status = scheduler_->GetRun(run);
    EXPECT_OK(status.status());
    return status.ok() ? status->run.config.seed : -1;
  };
  const int64_t a = seed_of(Submit(Spec()));
  const int64_t b = seed_of(Submit(Spec()));
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
  EXPECT_NE(a, b);  // 1 in 2^31 to fail by chance
  RunRequest zero = Spec();
  zero.config.seed = 0;
  EXPECT_EQ(seed_of(Submit(zero)), 0);  // a seed given is kept, 0 included

  // A sweep's runs share one fresh seed: they differ only in their axes.
  SweepRequest sweep;
  sweep.sweep.name = "widths";
  sweep.sweep.base = Spec().config;
  sweep.sweep.grid.widths = {1, 2};
  ASSERT_OK_AND_ASSIGN(SweepSubmission submitted,
                       scheduler_->SubmitSweep(sweep));
  ASSERT_THAT(submitted.run_ids, SizeIs(2));
  EXPECT_GT(seed_of(submitted.run_ids[0]), 0);
  EXPECT_EQ(seed_of(submitted.run_ids[0]), seed_of(submitted.run_ids[1]));
}

TEST_F(SchedulerTest, ALeaseRecordsWhatRunsTheJob) {
  const int64_t run = Submit(Spec());
  WorkerSpec spec{"box-trainer",
                  {JobKind::kTrain},
                  {{kCpu, "box/cpu", "Xeon", int64_t{1} << 30}},
                  {{"sslab", "0.1.0"},
                   {"git", "abc1234"},
                   {"libtorch", "1.13.0"},
                   {"host", "box"}}};
  ASSERT_OK_AND_ASSIGN(int64_t w, scheduler_->RegisterWorker(spec));
  const Lease lease = MustLease(w, {kCpu});
  ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, scheduler_->ListJobs(run));
  ASSERT_EQ(jobs[0].id, lease.job.id);
  std::map<std::string, std::string> expected = spec.build;
  expected["worker"] = "box-trainer";
  expected["device"] = "cpu (Xeon)";
  EXPECT_EQ(jobs[0].lineage, expected);
  // What the job learned about its inputs joins it when it completes.
  std::map<std::string, std::string> many;
  for (int i = 0; i < 9; ++i) many[absl::StrCat("key", i)] = "v";
  EXPECT_THAT(
      scheduler_->CompleteJob(lease.ref(), many),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lineage")));
  ASSERT_OK(
      scheduler_->RegisterCheckpoint(lease.ref(), Ckpt(1, false)).status());
  ASSERT_OK(scheduler_->CompleteJob(lease.ref(), {{"dataset", "4 files"}}));
  ASSERT_OK_AND_ASSIGN(jobs, scheduler_->ListJobs(run));
  expected["dataset"] = "4 files";
  EXPECT_EQ(jobs[0].lineage, expected);

  // A build is copied into every job: it is kept small.
  spec.name = "chatty";
  for (int i = 0; i < 40; ++i) spec.build[absl::StrCat("key", i)] = "v";
  EXPECT_THAT(scheduler_->RegisterWorker(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("build")));
}

TEST_F(SchedulerTest, LeasesByPriorityThenFifo) {
  int64_t low = Submit(Spec(/*priority=*/0));
  int64_t high1 = Submit(Spec(/*priority=*/5));
  int64_t high2 = Submit(Spec(/*priority=*/5));
  int64_t w = Worker("cpu-worker", {kCpu});
  EXPECT_EQ(MustLease(w, {kCpu}).job.run_id, high1);
  EXPECT_EQ(MustLease(w, {kCpu}).job.run_id, high2);
  EXPECT_EQ(MustLease(w, {kCpu}).job.run_id, low);
  ExpectNoLease(w, {kCpu});
  EXPECT_EQ(StateOf(low), RunState::kRunning);
}

TEST_F(SchedulerTest, GpuJobsFitOnlyFreeGpusAndNeverShareOne) {
  int64_t gpu_run1 = Submit(Spec(0, DeviceRequest::kCuda));
  int64_t gpu_run2 = Submit(Spec(0, DeviceRequest::kCuda));
  Submit(Spec(0, DeviceRequest::kCuda));
  int64_t cpu_only = Worker("cpu-only", {kCpu});
  int64_t gpu_box = Worker("gpu-box", {kCpu, kGpu0, kGpu1});

  ExpectNoLease(cpu_only, {kCpu});  // CPU-only workers get CPU jobs only
  ExpectNoLease(gpu_box, {kCpu});   // no free GPU reported

  Lease first = MustLease(gpu_box, {kGpu0, kGpu1});
  EXPECT_EQ(first.job.run_id, gpu_run1);
  EXPECT_EQ(first.assignment.device, kGpu0);
  // The worker wrongly reports cuda:0 free: the live lease still holds it.
  Lease second = MustLease(gpu_box, {kGpu0, kGpu1});
  EXPECT_EQ(second.job.run_id, gpu_run2);
  EXPECT_EQ(second.assignment.device, kGpu1);
  EXPECT_EQ(second.job.lease_device, kGpu1);
  ExpectNoLease(gpu_box, {kCpu, kGpu0, kGpu1});

  // Once a lease is released its GPU is free again.
  ASSERT_OK(
      scheduler_->FailJob({gpu_box, first.job.id, first.token}, "boom", false));
  Lease third = MustLease(gpu_box, {kGpu0});
  EXPECT_EQ(third.assignment.device, kGpu0);

  // CPU job on the GPU box needs "cpu" free.
  int64_t cpu_run = Submit(Spec(9, DeviceRequest::kCpu));
  ExpectNoLease(gpu_box, {kGpu0, kGpu1});
  EXPECT_EQ(MustLease(cpu_only, {kCpu}).job.run_id, cpu_run);
}

TEST_F(SchedulerTest, AutoRunsTakeAFreeGpuBeforeTheCpu) {
  int64_t first = Submit(Spec(0, DeviceRequest::kAuto));
  int64_t second = Submit(Spec(0, DeviceRequest::kAuto));
  int64_t third = Submit(Spec(0, DeviceRequest::kAuto));
  int64_t cpu_only = Worker("cpu-only", {kCpu});
  int64_t gpu = Worker("gpu", {kCpu, kGpu0});
  // A live worker has an idle GPU: auto jobs wait for it, not for the CPU.
  ExpectNoLease(cpu_only, {kCpu});
  Lease on_gpu = MustLease(gpu, {kCpu, kGpu0});
  EXPECT_EQ(on_gpu.job.run_id, first);
  EXPECT_EQ(on_gpu.assignment.device, kGpu0);
  // Every GPU is busy now: the next auto job takes a CPU.
  Lease on_cpu = MustLease(cpu_only, {kCpu});
  EXPECT_EQ(on_cpu.job.run_id, second);
  EXPECT_EQ(on_cpu.assignment.device, kCpu);
  // The GPU's worker goes silent (its lease expires): the CPU stops waiting.
  ASSERT_OK(scheduler_->FailJob({cpu_only, on_cpu.job.id, on_cpu.token}, "done",
                                false));
  clock_.Advance(kLease + absl::Seconds(1));
  Lease last = MustLease(cpu_only, {kCpu});
  EXPECT_EQ(last.assignment.device, kCpu);
  EXPECT_THAT((std::vector<int64_t>{first, third}),
              ::testing::Contains(last.job.run_id));
}

TEST_F(SchedulerTest, AnIdleGpuHoldsBackOnlyTheKindsItsWorkerServes) {
  Submit(Spec(0, DeviceRequest::kAuto));
  Worker("gpu-prober", {kGpu0}, {JobKind::kProbe});
  int64_t cpu_trainer = Worker("cpu-trainer", {kCpu}, {JobKind::kTrain});
  EXPECT_EQ(MustLease(cpu_trainer, {kCpu}).assignment.device, kCpu);
}

TEST_F(SchedulerTest, WorkersSharingAGpuNeverBothLeaseIt) {
  // Two containers given the same physical GPU report its UUID.
  const experiment::DeviceInfo shared{kGpu0, "GPU-8f3c", "NVIDIA H200", 1};
  const experiment::DeviceInfo other{kGpu0, "GPU-77aa", "NVIDIA H200", 1};
  Submit(Spec(0, DeviceRequest::kCuda));
  Submit(Spec(0, DeviceRequest::kCuda));
  Submit(Spec(0, DeviceRequest::kCuda));
  int64_t trainer = Worker("trainer", std::vector{shared});
  int64_t extractor = Worker("extractor", std::vector{shared});
  int64_t elsewhere = Worker("elsewhere", std::vector{other});
  Lease held = MustLease(trainer, {kGpu0});
  ExpectNoLease(extractor, {kGpu0});
  EXPECT_EQ(MustLease(elsewhere, {kGpu0}).assignment.device, kGpu0);
  ASSERT_OK(
      scheduler_->FailJob({trainer, held.job.id, held.token}, "done", false));
  EXPECT_EQ(MustLease(extractor, {kGpu0}).assignment.device, kGpu0);
}

// A run with devices_per_run N: its TRAIN job is leased as one gang of N
// devices of one worker, all or none, and every one of them is busy while
// the lease lives (across workers that see the same GPU too). On the CPU,
// the N ranks share the worker's CPU.
TEST_F(SchedulerTest, DataParallelRunsLeaseTheirDevicesAsOneGang) {
  const experiment::DeviceInfo g0{kGpu0, "GPU-a", "H200", 1};
  const experiment::DeviceInfo g1{kGpu1, "GPU-b", "H200", 1};
  const experiment::DeviceInfo g2{DeviceId::Cuda(2), "GPU-c", "H200", 1};
  RunRequest pair = Spec(1, DeviceRequest::kCuda);
  pair.config.devices_per_run = 2;
  const int64_t gang = Submit(pair);
  const int64_t single = Submit(Spec(0, DeviceRequest::kCuda));
  const int64_t box = Worker("box", std::vector{g0, g1, g2});
  // The container that also sees the box's first GPU.
  const int64_t twin = Worker("twin", std::vector{g0});

  // One GPU free is not enough for the gang, and the gang, first in the
  // queue, holds the box's GPUs back from the run behind it...
  ExpectNoLease(box, {DeviceId::Cuda(2)});
  // ...but not the twin's one GPU: the twin can never host the gang.
  Lease one = MustLease(twin, {kGpu0});
  EXPECT_EQ(one.job.run_id, single);
  EXPECT_THAT(one.assignment.devices, IsEmpty());
  EXPECT_THAT(one.job.lease_gang, IsEmpty());
  // With two GPUs free (cuda:0 is the twin's now), the gang gets both:
  // rank 0 on the first.
  Lease both = MustLease(box, {kGpu0, kGpu1, DeviceId::Cuda(2)});
  EXPECT_EQ(both.job.run_id, gang);
  EXPECT_EQ(both.assignment.device, kGpu1);
  EXPECT_THAT(both.assignment.devices, ElementsAre(kGpu1, DeviceId::Cuda(2)));
  EXPECT_THAT(JobOf(gang, JobKind::kTrain).lease_gang,
              ElementsAre(kGpu1, DeviceId::Cuda(2)));
  EXPECT_EQ(JobOf(gang, JobKind::kTrain).lineage.at("data_parallel"),
            "2 ranks: cuda:1 cuda:2");
  // Every GPU is busy: another run gets none of them.
  Submit(Spec(0, DeviceRequest::kCuda));
  ExpectNoLease(box, {kGpu0, kGpu1, DeviceId::Cuda(2)});
  ExpectNoLease(twin, {kGpu0});
  ASSERT_OK_AND_ASSIGN(Census census, scheduler_->TakeCensus());
  EXPECT_EQ(census.devices_busy, 3);  // the gang's two and the twin's
  // Lost, the gang's lease frees both of its GPUs at once.
  ASSERT_OK(
      scheduler_->FailJob({box, both.job.id, both.token}, "rank 1 died", true));
  ASSERT_OK_AND_ASSIGN(census, scheduler_->TakeCensus());
  EXPECT_EQ(census.devices_busy, 1);

  // A CPU gang: two ranks on the worker's one CPU.
  RunRequest on_cpu = Spec(5, DeviceRequest::kCpu);
  on_cpu.config.devices_per_run = 2;
  const int64_t cpu_gang = Submit(on_cpu);
  const int64_t cpu_worker = Worker("cpu", {kCpu});
  Lease cpu = MustLease(cpu_worker, {kCpu});
  EXPECT_EQ(cpu.job.run_id, cpu_gang);
  EXPECT_THAT(cpu.assignment.devices, ElementsAre(kCpu, kCpu));

  // An auto gang waits for a worker with enough idle GPUs, and takes the CPU
  // only when no live worker has them.
  RunRequest auto_pair = Spec(9, DeviceRequest::kAuto);
  auto_pair.config.devices_per_run = 2;
  const int64_t auto_gang = Submit(auto_pair);
  const int64_t gpus2 =
      Worker("gpus2",
             std::vector<DeviceId>{kCpu, DeviceId::Cuda(4), DeviceId::Cuda(5)});
  ExpectNoLease(cpu_worker, {kCpu});
  Lease auto_lease =
      MustLease(gpus2, {kCpu, DeviceId::Cuda(4), DeviceId::Cuda(5)});
  EXPECT_EQ(auto_lease.job.run_id, auto_gang);
  EXPECT_THAT(auto_lease.assignment.devices,
              ElementsAre(DeviceId::Cuda(4), DeviceId::Cuda(5)));
}

TEST_F(SchedulerTest, ProbesRunOnTheProbeDevice) {
  RunRequest spec = Spec(0, DeviceRequest::kCuda);
  spec.config.probe_device = DeviceRequest::kCpu;
  int64_t run = Submit(spec);
  int64_t gpu = Worker("gpu", {kGpu0});
  int64_t cpu = Worker("cpu", {kCpu});
  ExpectNoLease(cpu, {kCpu});
  Lease train = MustLease(gpu, {kGpu0});
  ASSERT_OK(
      scheduler_
          ->RegisterCheckpoint({gpu, train.job.id, train.token}, Ckpt(2, true))
          .status());
  ASSERT_OK(scheduler_->CompleteJob({gpu, train.job.id, train.token}));
  ExpectNoLease(cpu, {kCpu});
  Lease extract = MustLease(gpu, {kGpu0});
  EXPECT_EQ(extract.job.kind, JobKind::kExtract);
  RegisterAllFeatures(extract.ref(), {"block4"});
  ASSERT_OK(scheduler_->CompleteJob({gpu, extract.job.id, extract.token}));
  EXPECT_EQ(JobOf(run, JobKind::kProbe).device, DeviceRequest::kCpu);
  ExpectNoLease(gpu, {kGpu0});
  Lease probe = MustLease(cpu, {kCpu});
  EXPECT_EQ(probe.job.kind, JobKind::kProbe);
  EXPECT_EQ(probe.assignment.device, kCpu);
}

TEST_F(SchedulerTest, ConcurrentLeasesNeverShareAGpu) {
  for (int i = 0; i < 8; ++i) Submit(Spec(0, DeviceRequest::kCuda));
  int64_t w = Worker("gpu-box", {kGpu0, kGpu1});
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<DeviceId> leased_on;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto lease = scheduler_->LeaseJob(w, {kGpu0, kGpu1});
        ASSERT_OK(lease.status());
        if (lease->has_value()) {
          std::lock_guard<std::mutex> lock(mu);
          leased_on.push_back((*lease)->assignment.device);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(leased_on.begin(), leased_on.end());
  EXPECT_THAT(leased_on, ElementsAre(kGpu0, kGpu1));
}

TEST_F(SchedulerTest, WorkersGetOnlyKindsTheyServe) {
  Submit(Spec());
  int64_t prober = Worker("prober", {kCpu}, {JobKind::kProbe});
  ExpectNoLease(prober, {kCpu});
  int64_t trainer = Worker("trainer", {kCpu}, {JobKind::kTrain});
  EXPECT_EQ(MustLease(trainer, {kCpu}).job.kind, JobKind::kTrain);
}

TEST_F(SchedulerTest, UnknownWorkerAndForeignDevicesAreRejected) {
  EXPECT_THAT(scheduler_->LeaseJob(999, {kCpu}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker 999")));
  EXPECT_THAT(scheduler_->Heartbeat({999, 1, "t"}, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("worker 999")));
  int64_t w = Worker("w", {kCpu});
  EXPECT_THAT(scheduler_->LeaseJob(w, {kGpu0}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("free_devices[0]")));
  EXPECT_THAT(scheduler_->CompleteJob({w, 4242, "t"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("job 4242")));
  // Registering the same name again keeps the id.
  EXPECT_EQ(Worker("w", {kCpu, kGpu0}), w);
}

TEST_F(SchedulerTest, ExpiredLeaseRequeuesAndHeartbeatsKeepItAlive) {
  int64_t run = Submit(Spec());
  int64_t a = Worker("a", {kCpu});
  int64_t b = Worker("b", {kCpu});
  Lease lease = MustLease(a, {kCpu});
  EXPECT_EQ(lease.expiry, clock_.Now() + kLease);

  // Heartbeats renew the lease past its first expiry.
  clock_.Advance(absl::Seconds(20));
  ASSERT_OK_AND_ASSIGN(
      HeartbeatReply beat,
      scheduler_->Heartbeat({a, lease.job.id, lease.token},
                            {0.25, std::nullopt, 10, {{"loss", 1.5}}}));
  EXPECT_FALSE(beat.cancelled);
  clock_.Advance(absl::Seconds(20));
  ASSERT_OK_AND_ASSIGN(int expired, scheduler_->ExpireLeases());
  EXPECT_EQ(expired, 0);
  ASSERT_OK_AND_ASSIGN(
      beat, scheduler_->Heartbeat({a, lease.job.id, lease.token},
                                  {0.25,
                                   /*epoch=*/1,
                                   /*step=*/20,
                                   {{"loss", 1.25}, {"grad_norm", NAN}}}));
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
  EXPECT_THAT(scheduler_->Heartbeat({a, lease.job.id, lease.token}, {0.5}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not leased by worker")));

  Lease again = MustLease(b, {kCpu});
  EXPECT_EQ(again.job.id, lease.job.id);
  EXPECT_EQ(again.job.attempts, 2);
  EXPECT_EQ(again.assignment.attempt, 2);
  // The late worker cannot complete a job it lost.
  EXPECT_THAT(scheduler_->CompleteJob({a, lease.job.id, lease.token}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SchedulerTest, AStaleAttemptOfTheSameWorkerCannotActOnTheJob) {
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease first = MustLease(w, {kCpu});
  EXPECT_EQ(first.token.size(), 64u);
  // The first attempt stalls past its lease; the same worker leases the job
  // again, and the first attempt then wakes up.
  clock_.Advance(kLease + absl::Seconds(1));
  Lease second = MustLease(w, {kCpu});
  ASSERT_EQ(second.job.id, first.job.id);
  EXPECT_NE(second.token, first.token);
  for (const absl::Status& stale :
       {scheduler_->Heartbeat(first.ref(), {0.9}).status(),
        scheduler_->RegisterCheckpoint(first.ref(), Ckpt(1, false)).status(),
        scheduler_->FailJob(first.ref(), "stale", /*retryable=*/false),
        scheduler_->CompleteJob(first.ref())}) {
    EXPECT_THAT(stale, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("lease_token")));
  }
  // Nor can a guess, or another worker with the right token.
  EXPECT_THAT(scheduler_->Heartbeat({w, second.job.id, "guess"}, {0.1}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  int64_t other = Worker("other", {kCpu});
  EXPECT_THAT(
      scheduler_->FailJob({other, second.job.id, second.token}, "x", false),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK_AND_ASSIGN(Page<storage::Checkpoint> ckpts,
                       scheduler_->ListCheckpoints(run, 0, ""));
  EXPECT_TRUE(ckpts.rows.empty());
  EXPECT_EQ(StateOf(run), RunState::kRunning);
  ASSERT_OK(scheduler_->Heartbeat(second.ref(), {0.5}).status());
}

TEST_F(SchedulerTest, ArtifactPathsMustStayInsideTheArtifactDirectory) {
  Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease train = MustLease(w, {kCpu});
  for (const char* path :
       {"/dev/zero", "/etc/passwd", "../../etc/passwd", "runs/1/../../x", ""}) {
    experiment::CheckpointReport c = Ckpt(1, false);
    c.path = path;
    EXPECT_THAT(scheduler_->RegisterCheckpoint(train.ref(), c),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("path")))
        << path;
  }
  experiment::CheckpointReport ok = Ckpt(1, false);
  ok.path = "runs/1/checkpoints/attempt-1/epoch-0001.ckpt";
  EXPECT_OK(scheduler_->RegisterCheckpoint(train.ref(), ok).status());
}

// Out-of-range worker reports, each refused with the field it names
// (docs/bad-inputs.md), and nothing recorded for them.
TEST_F(SchedulerTest, WorkerReportsOutOfRangeAreRefusedNamingTheField) {
  const int64_t run = Submit(Spec());
  for (const std::string& name : {std::string(), std::string(201, 'w')}) {
    EXPECT_THAT(scheduler_->RegisterWorker({name, {JobKind::kTrain}, {}}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")))
        << name.size();
  }
  const int64_t w = Worker("w", {kCpu});
  Lease train = MustLease(w, {kCpu});
  auto refused = [&](experiment::CheckpointReport c, const char* field) {
    EXPECT_THAT(scheduler_->RegisterCheckpoint(train.ref(), c),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
  };
  experiment::CheckpointReport c = Ckpt(1, false);
  c.epoch = -1;
  refused(c, "epoch: must be in [0, 100000]");
  c.epoch = experiment::kMaxEpochs + 1;
  refused(c, "epoch: must be in [0, 100000]");
  c = Ckpt(1, false);
  c.step = -1;
  refused(c, "step: must be >= 0");
  c = Ckpt(1, false);
  c.bytes = -1;
  refused(c, "bytes: must be >= 0");
  c = Ckpt(1, false);
  c.path = "runs/" + std::string(1100, 'p');
  refused(c, "path: longer than 1024 bytes");
  c.path = std::string("runs/1/a\0b", 10);
  refused(c, "path: contains a NUL byte");
  c = Ckpt(1, false);
  c.sha256 = "ab";
  refused(c, "sha256: must be 64 lowercase hex digits");
  c.sha256 = std::string(64, 'A');
  refused(c, "sha256: must be 64 lowercase hex digits");
  ASSERT_OK_AND_ASSIGN(auto status, scheduler_->GetRun(run));
  EXPECT_EQ(status.disk.checkpoints, 0);

  ASSERT_OK(
      scheduler_->RegisterCheckpoint(train.ref(), Ckpt(2, true)).status());
  ASSERT_OK(scheduler_->CompleteJob(train.ref()));
  Lease extract = MustLease(w, {kCpu});
  ASSERT_EQ(extract.job.kind, JobKind::kExtract);
  const experiment::FeatureRef good{
      "block4", Split::kTrain, "f/b4", std::string(64, 'c'), 5, 8};
  auto bad_feature = [&](experiment::FeatureRef f, const char* field) {
    EXPECT_THAT(scheduler_->RegisterFeatures(extract.ref(), {good, f}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
  };
  experiment::FeatureRef f = good;
  f.layer = "";
  bad_feature(f, "features[1].layer: must be set");
  f = good;
  f.path = "/etc/passwd";
  bad_feature(f, "features[1].path: must be relative");
  f.path = "f/../../x";
  bad_feature(f, "features[1].path: must stay inside");
  f = good;
  f.sha256 = "cd";
  bad_feature(f, "features[1].sha256: must be 64 lowercase hex digits");
  f = good;
  f.rows = -1;
  bad_feature(f, "features[1].rows: must be >= 0");
  f = good;
  f.dims = -1;
  bad_feature(f, "features[1].dims: must be >= 0");
  f = good;
  f.bytes = -1;
  bad_feature(f, "features[1].bytes: must be >= 0");
  RegisterAllFeatures(extract.ref(), {"block4"});
  ASSERT_OK(scheduler_->CompleteJob(extract.ref()));

  Lease probe = MustLease(w, {kCpu});
  ASSERT_EQ(probe.job.kind, JobKind::kProbe);
  for (double top5 : {1.5, -0.1, std::nan("")}) {
    EXPECT_THAT(
        scheduler_->RecordResult(probe.ref(), {Split::kTest, 0.5, top5, {}}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top5")))
        << top5;
  }
  EXPECT_THAT(scheduler_->RecordResult(probe.ref(),
                                       {Split::kTest, std::nan(""), 0.5, {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("top1")));
}

TEST_F(SchedulerTest, HeartbeatsRecordBoundedMetrics) {
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease lease = MustLease(w, {kCpu});
  HeartbeatInfo flood{0.1};
  for (int i = 0; i < 33; ++i) flood.metrics[absl::StrCat("m", i)] = i;
  EXPECT_THAT(scheduler_->Heartbeat(lease.ref(), flood),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metrics: at most 32")));
  for (const std::string& name :
       {std::string(65, 'x'), std::string("loss\nsslab_workers 9"),
        std::string("")}) {
    EXPECT_THAT(
        scheduler_->Heartbeat(lease.ref(), {0.1, 1, 1, {{name, 1}}}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics")));
  }
  ASSERT_OK(
      scheduler_->Heartbeat(lease.ref(), {0.1, 1, 1, {{"train.loss-ema_2", 1}}})
          .status());
  ASSERT_OK_AND_ASSIGN(auto metrics, scheduler_->ListMetrics(run));
  for (const storage::Metric& m : metrics) {
    EXPECT_LE(m.name.size(), kMaxMetricNameLength);
  }
}

TEST_F(SchedulerTest, AJobThatFailedOnAWorkerGoesToAnotherFirst) {
  Submit(Spec());
  int64_t a = Worker("a", {kCpu});
  Lease first = MustLease(a, {kCpu});
  // Worker a lacks the data set: a retryable failure.
  ASSERT_OK(scheduler_->FailJob(first.ref(),
                                "dataset.path: not found on "
                                "this worker",
                                true));
  int64_t b = Worker("b", {kCpu});
  ExpectNoLease(a, {kCpu});  // b is alive and serves TRAIN: b first
  Lease second = MustLease(b, {kCpu});
  EXPECT_EQ(second.job.id, first.job.id);
  EXPECT_EQ(second.job.attempts, 2);

  // Failed on b too: a is alive, so a first; once a went quiet, b alone
  // takes it again.
  ASSERT_OK(scheduler_->FailJob(second.ref(), "flaky", true));
  ExpectNoLease(b, {kCpu});
  clock_.Advance(kLease + absl::Seconds(1));
  Lease third = MustLease(b, {kCpu});
  EXPECT_EQ(third.job.id, first.job.id);
  EXPECT_EQ(third.job.attempts, 3);
}

TEST_F(SchedulerTest, ReRegisteredWorkerLosesItsOldLeases) {
  int64_t run = Submit(Spec(0, DeviceRequest::kCuda));
  int64_t w = Worker("trainer@host", {kGpu0});
  Lease old = MustLease(w, {kGpu0});
  // The worker process restarts: same name, same id, old lease released.
  EXPECT_EQ(Worker("trainer@host", {kGpu0}), w);
  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kRunnable);
  EXPECT_THAT(job.last_error, HasSubstr("registered again"));
  EXPECT_THAT(scheduler_->Heartbeat({w, old.job.id, old.token}, {0.1}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Lease again = MustLease(w, {kGpu0});  // its GPU is free at once
  EXPECT_EQ(again.job.id, old.job.id);
  EXPECT_EQ(again.job.attempts, 2);
}

TEST_F(SchedulerTest, RetryLimitFailsJobAndRunWithLastError) {
  max_attempts_ = 2;
  Start();
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {kCpu});

  Lease first = MustLease(w, {kCpu});
  ASSERT_OK(scheduler_->FailJob({w, first.job.id, first.token}, "NaN loss",
                                /*retryable=*/true));
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kRunnable);

  MustLease(w, {kCpu});
  clock_.Advance(kLease + absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(int expired, scheduler_->ExpireLeases());
  EXPECT_EQ(expired, 1);

  Job job = JobOf(run, JobKind::kTrain);
  EXPECT_EQ(job.state, JobState::kFailed);
  EXPECT_EQ(job.attempts, 2);
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kFailed);
  EXPECT_THAT(status.run.error, HasSubstr("TRAIN job"));
  EXPECT_THAT(status.run.error, HasSubstr("lease expired"));
  ExpectNoLease(w, {kCpu});

  // A non-retryable failure ends the run at once, keeping its message.
  int64_t run2 = Submit(Spec());
  Lease lease = MustLease(w, {kCpu});
  ASSERT_OK(scheduler_->FailJob({w, lease.job.id, lease.token},
                                "CUDA out of memory", false));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run2));
  EXPECT_EQ(status.run.state, RunState::kFailed);
  EXPECT_THAT(status.run.error, HasSubstr("CUDA out of memory"));
  // Retried FailJob is harmless.
  EXPECT_OK(scheduler_->FailJob({w, lease.job.id, lease.token},
                                "CUDA out of memory", false));
  EXPECT_THAT(scheduler_->Cancel(run2),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already finished")));
}

TEST_F(SchedulerTest, CancelCascadesAndRunningJobLearnsAtHeartbeat) {
  RunRequest spec = Spec(0, DeviceRequest::kCuda);
  spec.config.evaluation.every_epochs = 1;
  int64_t run = Submit(spec);
  int64_t w = Worker("w", {kCpu, kGpu0});
  Lease train = MustLease(w, {kGpu0});
  // An interim checkpoint queues an EXTRACT job.
  ASSERT_OK(
      scheduler_
          ->RegisterCheckpoint({w, train.job.id, train.token}, Ckpt(1, false))
          .status());
  EXPECT_EQ(JobOf(run, JobKind::kExtract).state, JobState::kRunnable);

  ASSERT_OK(scheduler_->Cancel(run, "wrong config"));
  ASSERT_OK_AND_ASSIGN(RunStatus cancelled, scheduler_->GetRun(run));
  EXPECT_EQ(cancelled.run.state, RunState::kCancelled);
  EXPECT_EQ(cancelled.run.error, "cancelled: wrong config");
  EXPECT_EQ(JobOf(run, JobKind::kExtract).state, JobState::kCancelled);
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kCancelled);

  ASSERT_OK_AND_ASSIGN(
      HeartbeatReply beat,
      scheduler_->Heartbeat({w, train.job.id, train.token}, {0.5}));
  EXPECT_TRUE(beat.cancelled);
  EXPECT_THAT(
      scheduler_->RegisterCheckpoint({w, train.job.id, train.token},
                                     Ckpt(2, false)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cancelled")));
  // Until the worker lets go, its GPU stays busy.
  Submit(Spec(0, DeviceRequest::kCuda));
  ExpectNoLease(w, {kGpu0});
  ASSERT_OK(scheduler_->CompleteJob({w, train.job.id, train.token}));
  EXPECT_EQ(JobOf(run, JobKind::kTrain).state, JobState::kCancelled);
  EXPECT_EQ(MustLease(w, {kGpu0}).assignment.device, kGpu0);

  EXPECT_THAT(scheduler_->Cancel(run),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(scheduler_->Cancel(77777),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("run 77777")));
}

TEST_F(SchedulerTest, GraphRunsTrainExtractProbeToSuccess) {
  RunRequest spec = Spec();
  spec.config.evaluation.layers = {"block4", "pixels"};
  spec.config.evaluation.probe_kinds = {ProbeKind::kSgd};
  spec.config.evaluation.label_fractions = {1.0, 0.1};
  int64_t run = Submit(spec);
  int64_t w = Worker("w", {kCpu});
  uint64_t seen = scheduler_->version();

  Lease train = MustLease(w, {kCpu});
  EXPECT_NE(scheduler_->WaitForChange(seen, absl::Now()), seen);
  const experiment::JobAssignment& t = train.assignment;
  EXPECT_EQ(t.kind, JobKind::kTrain);
  EXPECT_EQ(t.run_id, run);
  EXPECT_EQ(t.job_id, train.job.id);
  EXPECT_EQ(t.attempt, 1);
  EXPECT_EQ(t.checkpoint, std::nullopt);
  EXPECT_EQ(t.config.epochs, 2);
  EXPECT_EQ(t.device, kCpu);

  // Only the final checkpoint is evaluated by default.
  ASSERT_OK(
      scheduler_
          ->RegisterCheckpoint({w, train.job.id, train.token}, Ckpt(1, false))
          .status());
  ExpectNoLease(w, {kCpu});
  ASSERT_OK_AND_ASSIGN(int64_t final_ckpt,
                       scheduler_->RegisterCheckpoint(
                           {w, train.job.id, train.token}, Ckpt(2, true)));
  // A retried registration is idempotent.
  ASSERT_OK_AND_ASSIGN(int64_t again,
                       scheduler_->RegisterCheckpoint(
                           {w, train.job.id, train.token}, Ckpt(2, true)));
  EXPECT_EQ(again, final_ckpt);
  ASSERT_OK(scheduler_->CompleteJob({w, train.job.id, train.token}));
  ASSERT_OK(
      scheduler_->CompleteJob({w, train.job.id, train.token}));  // retried call
  EXPECT_EQ(StateOf(run), RunState::kRunning);

  Lease extract = MustLease(w, {kCpu});
  ASSERT_EQ(extract.job.kind, JobKind::kExtract);
  const experiment::JobAssignment& e = extract.assignment;
  ASSERT_TRUE(e.checkpoint.has_value());
  EXPECT_EQ(e.checkpoint->id, final_ckpt);
  EXPECT_EQ(e.checkpoint->path, "runs/1/ckpt-2");
  EXPECT_THAT(e.layers, ElementsAre("block4", "pixels"));
  EXPECT_THAT(e.splits, ElementsAre(Split::kTrain, Split::kVal, Split::kTest));
  // Without the test split the EXTRACT job cannot complete.
  std::vector<experiment::FeatureRef> partial;
  for (const std::string layer : {"block4", "pixels"}) {
    for (Split split : {Split::kTrain, Split::kVal}) {
      partial.push_back({layer, split, "f/x", std::string(64, 'c'), 10, 8});
    }
  }
  ASSERT_OK(scheduler_->RegisterFeatures({w, extract.job.id, extract.token},
                                         partial));
  EXPECT_THAT(scheduler_->CompleteJob({w, extract.job.id, extract.token}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("split 'test'")));
  RegisterAllFeatures(extract.ref(), {"block4", "pixels"});
  ASSERT_OK(scheduler_->CompleteJob({w, extract.job.id, extract.token}));

  ASSERT_OK_AND_ASSIGN(std::vector<Job> jobs, scheduler_->ListJobs(run));
  ASSERT_THAT(jobs, SizeIs(2 + 4));  // TRAIN, EXTRACT, 2 layers x 2 fractions
  EXPECT_EQ(jobs[2].probe, (ProbeTarget{"block4", ProbeKind::kSgd, 1.0}));
  EXPECT_EQ(jobs[5].probe, (ProbeTarget{"pixels", ProbeKind::kSgd, 0.1}));
  for (int i = 0; i < 4; ++i) {
    Lease probe = MustLease(w, {kCpu});
    ASSERT_EQ(probe.job.kind, JobKind::kProbe);
    const experiment::JobAssignment& p = probe.assignment;
    ASSERT_TRUE(p.probe.has_value());
    EXPECT_EQ(p.probe, probe.job.probe);
    EXPECT_EQ(p.checkpoint->id, final_ckpt);
    ASSERT_THAT(p.features, SizeIs(3));
    for (const experiment::FeatureRef& f : p.features) {
      EXPECT_EQ(f.layer, p.probe->layer);
      EXPECT_EQ(f.path, "f/" + p.probe->layer + "-" +
                            std::string(experiment::Name(f.split)));
      EXPECT_EQ(f.rows, 5);
    }
    EXPECT_THAT(scheduler_->CompleteJob({w, probe.job.id, probe.token}),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr("no result")));
    ASSERT_OK(scheduler_->RecordResult(
        {w, probe.job.id, probe.token},
        {Split::kTest, 0.5 + 0.1 * i, 0.9, {{"l2", "0.1"}}}));
    ASSERT_OK(scheduler_->CompleteJob({w, probe.job.id, probe.token}));
  }
  ExpectNoLease(w, {kCpu});
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kSucceeded);
  EXPECT_EQ(status.jobs.succeeded, 6);

  storage::ResultFilter filter;
  filter.run_id = run;
  ASSERT_OK_AND_ASSIGN(auto results, scheduler_->QueryResults(filter, 10, ""));
  ASSERT_THAT(results.rows, SizeIs(4));
  EXPECT_EQ(results.rows[0].epoch, 2);
  EXPECT_EQ(results.rows[0].result.hyperparameters.at("l2"), "0.1");
  filter.layer = "pixels";
  ASSERT_OK_AND_ASSIGN(results, scheduler_->QueryResults(filter, 10, ""));
  EXPECT_THAT(results.rows, SizeIs(2));
  ASSERT_OK_AND_ASSIGN(auto ckpts, scheduler_->ListCheckpoints(run, 0, ""));
  EXPECT_THAT(ckpts.rows, SizeIs(2));
}

TEST_F(SchedulerTest, AddProbesQueuesOnlyWhatARunLacks) {
  const int64_t run = Submit(Spec());  // block4, L-BFGS, all labels
  const int64_t w = Worker("w", {kCpu});
  // Leases and completes every job there is; returns the probes it ran.
  auto finish = [&]() {
    std::vector<ProbeTarget> probed;
    for (auto lease = scheduler_->LeaseJob(w, {kCpu});
         lease.ok() && lease->has_value();
         lease = scheduler_->LeaseJob(w, {kCpu})) {
      const Lease& l = **lease;
      switch (l.job.kind) {
        case JobKind::kTrain:
          EXPECT_OK(
              scheduler_->RegisterCheckpoint(l.ref(), Ckpt(2, true)).status());
          break;
        case JobKind::kExtract:
          RegisterAllFeatures(l.ref(), {"block4"});
          break;
        case JobKind::kProbe:
          probed.push_back(*l.job.probe);
          EXPECT_OK(
              scheduler_->RecordResult(l.ref(), {Split::kTest, 0.5, 0.9, {}}));
          break;
      }
      EXPECT_OK(scheduler_->CompleteJob(l.ref()));
    }
    return probed;
  };
  EXPECT_THAT(scheduler_->AddProbes(run, {ProbeKind::kMlp}, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a run that succeeded")));
  finish();
  ASSERT_EQ(StateOf(run), RunState::kSucceeded);

  // The plan stays layers x kinds x fractions: MLP on 10% of the labels
  // also brings L-BFGS on 10% and MLP on all of them.
  ASSERT_OK_AND_ASSIGN(ProbeAddition added,
                       scheduler_->AddProbes(run, {ProbeKind::kMlp}, {0.1}));
  EXPECT_EQ(added.probe_jobs, 3);
  EXPECT_EQ(added.extract_jobs, 0);  // its features are still there
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kRunning);
  EXPECT_THAT(status.run.config.evaluation.probe_kinds,
              ElementsAre(ProbeKind::kLbfgs, ProbeKind::kMlp));
  EXPECT_THAT(status.run.config.evaluation.label_fractions,
              ElementsAre(1.0, 0.1));
  EXPECT_THAT(
      scheduler_->AddProbes(run, {ProbeKind::kSgd}, {}),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("running")));
  EXPECT_THAT(finish(), UnorderedElementsAre(
                            ProbeTarget{"block4", ProbeKind::kLbfgs, 0.1},
                            ProbeTarget{"block4", ProbeKind::kMlp, 1.0},
                            ProbeTarget{"block4", ProbeKind::kMlp, 0.1}));
  EXPECT_EQ(StateOf(run), RunState::kSucceeded);

  // Nothing new: nothing queued, the run stays as it is.
  ASSERT_OK_AND_ASSIGN(added,
                       scheduler_->AddProbes(run, {ProbeKind::kLbfgs}, {1.0}));
  EXPECT_EQ(added.probe_jobs, 0);
  EXPECT_EQ(StateOf(run), RunState::kSucceeded);
  // A bad fraction changes nothing and names the field.
  EXPECT_THAT(scheduler_->AddProbes(run, {ProbeKind::kSgd}, {1.5}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label_fractions")));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_THAT(status.run.config.evaluation.probe_kinds, SizeIs(2));
  EXPECT_THAT(scheduler_->AddProbes(run + 1, {ProbeKind::kSgd}, {}),
              StatusIs(absl::StatusCode::kNotFound));

  // Once retention deleted the features, they are extracted again first,
  // and only the new probes follow.
  ASSERT_OK_AND_ASSIGN(std::vector<Artifact> deleted,
                       scheduler_->CollectGarbage(run, /*dry_run=*/false));
  ASSERT_THAT(deleted, SizeIs(3));
  ASSERT_OK_AND_ASSIGN(added,
                       scheduler_->AddProbes(run, {ProbeKind::kSgd}, {}));
  EXPECT_EQ(added.probe_jobs, 2);
  EXPECT_EQ(added.extract_jobs, 1);
  EXPECT_THAT(finish(), UnorderedElementsAre(
                            ProbeTarget{"block4", ProbeKind::kSgd, 1.0},
                            ProbeTarget{"block4", ProbeKind::kSgd, 0.1}));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kSucceeded);
  EXPECT_EQ(status.jobs.total, 1 + 2 + 6);  // TRAIN, 2 EXTRACT, 6 PROBE
  storage::ResultFilter filter;
  filter.run_id = run;
  ASSERT_OK_AND_ASSIGN(auto results, scheduler_->QueryResults(filter, 10, ""));
  EXPECT_THAT(results.rows, SizeIs(6));

  // Probed again (the evaluator changed): L-BFGS on 10% while the features
  // are there runs at once and replaces its result.
  ASSERT_OK_AND_ASSIGN(added, scheduler_->AddProbes(run, {ProbeKind::kLbfgs},
                                                    {0.1}, /*again=*/true));
  EXPECT_EQ(added.probe_jobs, 1);
  EXPECT_EQ(added.extract_jobs, 0);
  EXPECT_THAT(finish(),
              ElementsAre(ProbeTarget{"block4", ProbeKind::kLbfgs, 0.1}));
  // Features deleted, every probe of the plan again: the six wait (PENDING,
  // not leasable) for one re-extraction, and no seventh is made when it ends.
  ASSERT_OK(scheduler_->CollectGarbage(run, /*dry_run=*/false).status());
  ASSERT_OK_AND_ASSIGN(added,
                       scheduler_->AddProbes(run, {}, {}, /*again=*/true));
  EXPECT_EQ(added.probe_jobs, 6);
  EXPECT_EQ(added.extract_jobs, 1);
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_EQ(status.jobs.pending, 6);
  EXPECT_EQ(status.jobs.runnable, 1);
  ASSERT_OK_AND_ASSIGN(std::optional<Lease> extract,
                       scheduler_->LeaseJob(w, {kCpu}));
  ASSERT_TRUE(extract.has_value());
  EXPECT_EQ(extract->job.kind, JobKind::kExtract);
  ASSERT_OK_AND_ASSIGN(std::optional<Lease> none,
                       scheduler_->LeaseJob(w, {kCpu}));
  EXPECT_FALSE(none.has_value());
  RegisterAllFeatures(extract->ref(), {"block4"});
  ASSERT_OK(scheduler_->CompleteJob(extract->ref()));
  EXPECT_THAT(finish(), SizeIs(6));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_EQ(status.run.state, RunState::kSucceeded);
  EXPECT_EQ(status.jobs.total, 1 + 3 + 13);  // TRAIN, 3 EXTRACT, 13 PROBE
  ASSERT_OK_AND_ASSIGN(results, scheduler_->QueryResults(filter, 10, ""));
  EXPECT_THAT(results.rows, SizeIs(6));  // replaced, not added
}

TEST_F(SchedulerTest, RetentionTakesOnlyWhatNoJobNeedsAndRunsCanBeDeleted) {
  RunRequest spec = Spec();
  spec.config.epochs = 4;
  const int64_t run = Submit(spec);
  const int64_t w = Worker("w", {kCpu});
  Lease train = MustLease(w, {kCpu});
  for (int epoch = 1; epoch <= 4; ++epoch) {
    ASSERT_OK(
        scheduler_->RegisterCheckpoint(train.ref(), Ckpt(epoch, epoch == 4))
            .status());
  }
  EXPECT_THAT(scheduler_->DeleteRun(run),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cancel it first")));
  auto collect = [&](bool dry_run) {
    absl::StatusOr<std::vector<Artifact>> got =
        scheduler_->CollectGarbage(run, dry_run);
    EXPECT_OK(got.status());
    std::vector<std::string> names;
    for (const Artifact& a : got.value_or(std::vector<Artifact>{})) {
      names.push_back(
          absl::StrCat(a.kind == Artifact::Kind::kCheckpoint ? "ckpt" : a.layer,
                       "@", a.epoch));
    }
    return names;
  };
  // Training: the resume point and its fallbacks stay; epoch 1 can go.
  EXPECT_THAT(collect(/*dry_run=*/true), ElementsAre("ckpt@1"));
  ASSERT_OK(scheduler_->CompleteJob(train.ref()));
  EXPECT_THAT(collect(/*dry_run=*/true),
              ElementsAre("ckpt@1", "ckpt@2", "ckpt@3"));
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.disk.checkpoints, 4);  // a dry run deletes nothing
  ASSERT_OK_AND_ASSIGN(std::vector<Artifact> changed,
                       scheduler_->CollectGarbageOfChangedRuns());
  EXPECT_THAT(changed, SizeIs(3));
  EXPECT_THAT(collect(false), IsEmpty());
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_EQ(status.disk.checkpoints, 1);
  EXPECT_EQ(status.disk.checkpoint_bytes, 1234);

  // Feature shards stay until the last probe of their checkpoint succeeded.
  Lease extract = MustLease(w, {kCpu});
  ASSERT_EQ(extract.job.kind, JobKind::kExtract);
  RegisterAllFeatures(extract.ref(), {"block4"});
  ASSERT_OK(scheduler_->CompleteJob(extract.ref()));
  std::vector<Lease> probes;
  for (auto lease = scheduler_->LeaseJob(w, {kCpu});
       lease.ok() && lease->has_value();
       lease = scheduler_->LeaseJob(w, {kCpu})) {
    probes.push_back(**lease);
  }
  ASSERT_GE(probes.size(), 1u);
  for (const Lease& probe : probes) {
    EXPECT_THAT(collect(false), IsEmpty());
    ASSERT_OK(
        scheduler_->RecordResult(probe.ref(), {Split::kTest, 0.5, 0.9, {}}));
    ASSERT_OK(scheduler_->CompleteJob(probe.ref()));
  }
  EXPECT_EQ(StateOf(run), RunState::kSucceeded);
  ASSERT_OK_AND_ASSIGN(changed, scheduler_->CollectGarbageOfChangedRuns());
  ASSERT_THAT(changed, SizeIs(3));  // block4 of train, val, test
  EXPECT_EQ(changed[0].kind, Artifact::Kind::kFeatures);
  EXPECT_EQ(changed[0].epoch, 4);
  ASSERT_OK_AND_ASSIGN(changed, scheduler_->CollectGarbageOfChangedRuns());
  EXPECT_THAT(changed, IsEmpty());

  // A finished run goes with its records; what was left is returned.
  ASSERT_OK(scheduler_->PinRun(run, true));
  ASSERT_OK_AND_ASSIGN(status, scheduler_->GetRun(run));
  EXPECT_TRUE(status.run.pinned);
  ASSERT_OK_AND_ASSIGN(std::vector<Artifact> left, scheduler_->DeleteRun(run));
  ASSERT_THAT(left, SizeIs(1));
  EXPECT_EQ(left[0].path, "runs/1/ckpt-4");
  EXPECT_THAT(scheduler_->GetRun(run), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(scheduler_->PinRun(run, false),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SchedulerTest, AutomaticRetentionLeavesRunsFromBeforeTheStartAlone) {
  RunRequest spec = Spec();
  spec.config.epochs = 3;
  const int64_t run = Submit(spec);
  const int64_t w = Worker("w", {kCpu});
  Lease train = MustLease(w, {kCpu});
  for (int epoch = 1; epoch <= 3; ++epoch) {
    ASSERT_OK(
        scheduler_->RegisterCheckpoint(train.ref(), Ckpt(epoch, epoch == 3))
            .status());
  }
  ASSERT_OK(scheduler_->CompleteJob(train.ref()));
  // After a restart (an upgrade, say), only what is asked for goes.
  Start();
  ASSERT_OK_AND_ASSIGN(std::vector<Artifact> changed,
                       scheduler_->CollectGarbageOfChangedRuns());
  EXPECT_THAT(changed, IsEmpty());
  ASSERT_OK_AND_ASSIGN(std::vector<Artifact> all,
                       scheduler_->CollectGarbage(std::nullopt, false));
  EXPECT_THAT(all, SizeIs(2));  // epochs 1 and 2
  ASSERT_OK_AND_ASSIGN(RunStatus status, scheduler_->GetRun(run));
  EXPECT_EQ(status.disk.checkpoints, 1);
}

TEST_F(SchedulerTest, ACancelledRunIsDeletedOnlyOnceItsWorkersLetGo) {
  const int64_t run = Submit(Spec());
  const int64_t w = Worker("w", {kCpu});
  Lease train = MustLease(w, {kCpu});
  ASSERT_OK(scheduler_->Cancel(run));
  // The trainer may still be writing a checkpoint until its heartbeat.
  EXPECT_THAT(scheduler_->DeleteRun(run),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("still stopping on worker")));
  ASSERT_OK(scheduler_->FailJob(train.ref(), "cancelled", false));
  ASSERT_OK(scheduler_->DeleteRun(run).status());
  EXPECT_THAT(scheduler_->GetRun(run), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SchedulerTest, RetriedTrainResumesFromLatestCheckpoint) {
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease first = MustLease(w, {kCpu});
  experiment::CheckpointReport ckpt = Ckpt(1, false);
  ckpt.metrics = {{"loss", 0.5}, {"pretext_top1", NAN}};
  ASSERT_OK(scheduler_->RegisterCheckpoint({w, first.job.id, first.token}, ckpt)
                .status());
  ASSERT_OK(
      scheduler_->FailJob({w, first.job.id, first.token}, "preempted", true));
  Lease second = MustLease(w, {kCpu});
  ASSERT_TRUE(second.assignment.checkpoint.has_value());
  EXPECT_EQ(second.assignment.checkpoint->epoch, 1);
  EXPECT_EQ(second.assignment.checkpoint->path, "runs/1/ckpt-1");
  EXPECT_EQ(second.assignment.attempt, 2);
  ASSERT_OK_AND_ASSIGN(auto ckpts, scheduler_->ListCheckpoints(run, 0, ""));
  ASSERT_THAT(ckpts.rows, SizeIs(1));
  EXPECT_EQ(ckpts.rows[0].metrics,
            (std::map<std::string, double>{{"loss", 0.5}}));
  // Completing TRAIN marks its last checkpoint final and queues its EXTRACT.
  ASSERT_OK(scheduler_->CompleteJob({w, second.job.id, second.token}));
  ASSERT_OK_AND_ASSIGN(ckpts, scheduler_->ListCheckpoints(run, 0, ""));
  EXPECT_TRUE(ckpts.rows[0].is_final);
  EXPECT_EQ(JobOf(run, JobKind::kExtract).checkpoint_id, ckpts.rows[0].id);
}

TEST_F(SchedulerTest, RetriedTrainGetsEarlierCheckpointsToFallBackOn) {
  Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease first = MustLease(w, {kCpu});
  for (int epoch = 1; epoch <= 4; ++epoch) {
    ASSERT_OK(scheduler_->RegisterCheckpoint(first.ref(), Ckpt(epoch, false))
                  .status());
  }
  ASSERT_OK(scheduler_->FailJob(first.ref(), "checkpoint damaged", true));
  Lease second = MustLease(w, {kCpu});
  ASSERT_TRUE(second.assignment.checkpoint.has_value());
  EXPECT_EQ(second.assignment.checkpoint->epoch, 4);
  ASSERT_THAT(second.assignment.fallback_checkpoints,
              SizeIs(experiment::kFallbackCheckpoints));
  EXPECT_EQ(second.assignment.fallback_checkpoints[0].epoch, 3);
  EXPECT_EQ(second.assignment.fallback_checkpoints[1].epoch, 2);
}

TEST_F(SchedulerTest, RestartRecoversFromTheSameFile) {
  int64_t run = Submit(Spec());
  int64_t queued = Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease lease = MustLease(w, {kCpu});
  ASSERT_EQ(lease.job.run_id, run);

  // A quick restart: the lease is still live and the worker carries on.
  clock_.Advance(absl::Seconds(10));
  Start();
  EXPECT_EQ(StateOf(run), RunState::kRunning);
  ASSERT_OK(
      scheduler_->Heartbeat({w, lease.job.id, lease.token}, {0.5}).status());

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
  EXPECT_EQ(MustLease(w, {kCpu}).job.run_id, run);
  EXPECT_EQ(MustLease(w, {kCpu}).job.run_id, queued);
}

// ListRuns reads a page's jobs, metrics and disk use with one query each:
// every run must still get exactly what GetRun gives it.
TEST_F(SchedulerTest, ListRunsGivesEachRunWhatGetRunGives) {
  const int64_t trained = Submit(Spec());
  const int64_t training = Submit(Spec());
  const int64_t queued = Submit(Spec());
  const int64_t w = Worker("w", {kCpu});
  Lease first = MustLease(w, {kCpu});
  ASSERT_EQ(first.job.run_id, trained);
  ASSERT_OK(scheduler_->Heartbeat(first.ref(), {0.5, 1, 7, {{"loss", 2.5}}})
                .status());
  ASSERT_OK(
      scheduler_->RegisterCheckpoint(first.ref(), Ckpt(1, true)).status());
  ASSERT_OK(scheduler_->CompleteJob(first.ref()));
  ASSERT_OK_AND_ASSIGN(RunStatus single, scheduler_->GetRun(trained));
  ASSERT_THAT(single.job_list, SizeIs(2));  // TRAIN done, EXTRACT queued
  ASSERT_EQ(single.disk.checkpoints, 1);
  // The EXTRACT of `trained` was queued after the other TRAIN jobs.
  Lease second = MustLease(w, {kCpu});
  ASSERT_EQ(second.job.run_id, training);
  ASSERT_OK(
      scheduler_
          ->Heartbeat(second.ref(), {0.25, 0, 3, {{"loss", 4.0}, {"acc", 0.5}}})
          .status());

  ASSERT_OK_AND_ASSIGN(Page<RunStatus> page, scheduler_->ListRuns({}, 10, ""));
  ASSERT_THAT(page.rows, SizeIs(3));
  for (const RunStatus& listed : page.rows) {
    SCOPED_TRACE(absl::StrCat("run ", listed.run.id));
    ASSERT_OK_AND_ASSIGN(RunStatus got, scheduler_->GetRun(listed.run.id));
    EXPECT_EQ(listed.run.state, got.run.state);
    ASSERT_EQ(listed.job_list.size(), got.job_list.size());
    for (size_t i = 0; i < got.job_list.size(); ++i) {
      EXPECT_EQ(listed.job_list[i].id, got.job_list[i].id);
      EXPECT_EQ(listed.job_list[i].run_id, listed.run.id);
    }
    EXPECT_EQ(listed.jobs.total, got.jobs.total);
    EXPECT_EQ(listed.jobs.succeeded, got.jobs.succeeded);
    EXPECT_DOUBLE_EQ(listed.train_progress, got.train_progress);
    EXPECT_EQ(listed.epoch, got.epoch);
    EXPECT_EQ(listed.step, got.step);
    EXPECT_EQ(listed.latest_metrics, got.latest_metrics);
    EXPECT_EQ(listed.disk.checkpoints, got.disk.checkpoints);
    EXPECT_EQ(listed.disk.checkpoint_bytes, got.disk.checkpoint_bytes);
  }
  // And the values are the runs' own, not a neighbour's.
  EXPECT_EQ(page.rows[2].run.id, trained);
  EXPECT_EQ(page.rows[2].disk.checkpoints, 1);
  EXPECT_EQ(page.rows[2].latest_metrics.at("loss"), 2.5);
  EXPECT_EQ(page.rows[1].run.id, training);
  EXPECT_EQ(page.rows[1].step, 3);
  EXPECT_EQ(page.rows[1].latest_metrics.at("acc"), 0.5);
  EXPECT_EQ(page.rows[1].disk.checkpoints, 0);
  EXPECT_EQ(page.rows[0].run.id, queued);
  EXPECT_THAT(page.rows[0].latest_metrics, IsEmpty());
  EXPECT_EQ(page.rows[0].epoch, -1);
}

TEST_F(SchedulerTest, ListRunsPagesWithTokensAndSweepsExpandTheirGrid) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Submit(Spec()));
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(Page<RunStatus> page,
                         scheduler_->ListRuns({}, 0, token));
    for (const auto& r : page.rows) seen.push_back(r.run.id);
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

  SweepRequest sweep;
  sweep.sweep.name = "widths";
  sweep.sweep.base = Spec().config;
  sweep.sweep.grid.widths = {4, 8};
  sweep.priority = 3;
  ASSERT_OK_AND_ASSIGN(SweepSubmission sub, scheduler_->SubmitSweep(sweep));
  ASSERT_THAT(sub.run_ids, SizeIs(2));
  storage::RunFilter filter;
  filter.sweep_id = sub.sweep_id;
  ASSERT_OK_AND_ASSIGN(Page<RunStatus> page,
                       scheduler_->ListRuns(filter, 10, ""));
  ASSERT_THAT(page.rows, SizeIs(2));
  EXPECT_EQ(page.rows[0].run.name, "widths/rotation-resnet50_v2-k8");
  EXPECT_EQ(page.rows[0].run.config.width, 8);
  EXPECT_EQ(page.rows[0].run.priority, 3);
  EXPECT_TRUE(page.next_page_token.empty());
  ASSERT_OK_AND_ASSIGN(storage::Sweep stored,
                       scheduler_->GetSweep(sub.sweep_id));
  EXPECT_EQ(stored.grid, sweep.sweep.grid);
  EXPECT_THAT(scheduler_->GetSweep(sub.sweep_id + 1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SchedulerTest, MetricHistoryIsDownsampledPerSeries) {
  int64_t run = Submit(Spec());
  int64_t w = Worker("w", {kCpu});
  Lease lease = MustLease(w, {kCpu});
  for (int step = 1; step <= 10; ++step) {
    ASSERT_OK(
        scheduler_
            ->Heartbeat(
                {w, lease.job.id, lease.token},
                {0.1 * step, 0, step, {{"loss", 10.0 - step}, {"lr", 0.5}}})
            .status());
  }
  ASSERT_OK_AND_ASSIGN(std::vector<MetricSeries> all,
                       scheduler_->GetMetricHistory(run, {}, 1000));
  ASSERT_THAT(all, SizeIs(3));  // epoch, loss, lr (by name)
  EXPECT_EQ(all[1].name, "loss");
  EXPECT_EQ(all[1].total_points, 10);
  EXPECT_THAT(all[1].points, SizeIs(10));
  ASSERT_OK_AND_ASSIGN(std::vector<MetricSeries> loss,
                       scheduler_->GetMetricHistory(run, {"loss"}, 4));
  ASSERT_THAT(loss, SizeIs(1));
  ASSERT_THAT(loss[0].points, SizeIs(4));
  EXPECT_EQ(loss[0].total_points, 10);
  // Runs of 2, 3, 2, 3 points: each the mean, at its last step.
  EXPECT_EQ(loss[0].points[0].step, 2);
  EXPECT_DOUBLE_EQ(loss[0].points[0].value, (9.0 + 8.0) / 2);
  EXPECT_EQ(loss[0].points[3].step, 10);
  EXPECT_DOUBLE_EQ(loss[0].points[3].value, (2.0 + 1.0 + 0.0) / 3);
  EXPECT_THAT(
      scheduler_->GetMetricHistory(run, {}, 0),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_points")));
  EXPECT_THAT(scheduler_->GetMetricHistory(run + 100, {}, 10),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SchedulerTest, SweepsAreListedNewestFirstWithRunCounts) {
  for (const char* name : {"first", "second", "third"}) {
    SweepRequest sweep;
    sweep.sweep.name = name;
    sweep.sweep.base = Spec().config;
    sweep.sweep.grid.widths = {1, 2};
    ASSERT_OK(scheduler_->SubmitSweep(sweep).status());
  }
  ASSERT_OK_AND_ASSIGN(Page<storage::SweepSummary> page,
                       scheduler_->ListSweeps(2, ""));
  ASSERT_THAT(page.rows, SizeIs(2));
  EXPECT_EQ(page.rows[0].sweep.name, "third");
  EXPECT_EQ(page.rows[0].runs, 2);
  EXPECT_EQ(page.rows[0].succeeded, 0);
  ASSERT_FALSE(page.next_page_token.empty());
  ASSERT_OK_AND_ASSIGN(page, scheduler_->ListSweeps(2, page.next_page_token));
  ASSERT_THAT(page.rows, SizeIs(1));
  EXPECT_EQ(page.rows[0].sweep.name, "first");
  EXPECT_TRUE(page.next_page_token.empty());
  EXPECT_THAT(
      scheduler_->ListSweeps(0, "x"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(SchedulerTest, MonitoringCountsWorkersJobsAndTheirTiming) {
  int64_t run = Submit(Spec());
  Submit(Spec());
  int64_t busy = Worker("busy", {kCpu});
  int64_t idle = Worker("idle", {kCpu, kGpu0});
  clock_.Advance(absl::Seconds(5));
  Lease lease = MustLease(busy, {kCpu});
  ASSERT_OK(scheduler_
                ->Heartbeat({busy, lease.job.id, lease.token},
                            {0.5, 1, 3, {{"images_per_second", 42.0}}})
                .status());
  // `busy` heartbeats within every lease; `idle` falls silent for longer
  // than two leases (66 s).
  for (int s : {25, 25, 11}) {
    clock_.Advance(absl::Seconds(s));
    ASSERT_OK(scheduler_->Heartbeat({busy, lease.job.id, lease.token}, {0.6})
                  .status());
  }

  ASSERT_OK_AND_ASSIGN(Page<WorkerInfo> page, scheduler_->ListWorkers(0, ""));
  const std::vector<WorkerInfo>& workers = page.rows;
  ASSERT_THAT(workers, SizeIs(2));
  EXPECT_EQ(workers[0].worker.id, busy);
  EXPECT_TRUE(workers[0].alive);
  ASSERT_THAT(workers[0].jobs, SizeIs(1));
  EXPECT_EQ(workers[0].jobs[0].id, lease.job.id);
  EXPECT_EQ(workers[1].worker.id, idle);
  EXPECT_FALSE(workers[1].alive);
  ASSERT_THAT(workers[1].worker.devices, SizeIs(2));
  EXPECT_EQ(workers[1].worker.devices[1].id, kGpu0);

  ASSERT_OK_AND_ASSIGN(Census census, scheduler_->TakeCensus());
  EXPECT_EQ(census.runs[RunState::kRunning], 1);
  EXPECT_EQ(census.runs[RunState::kPending], 1);
  EXPECT_EQ((census.jobs[{JobKind::kTrain, JobState::kRunning}]), 1);
  EXPECT_EQ((census.jobs[{JobKind::kTrain, JobState::kRunnable}]), 1);
  EXPECT_EQ(census.workers, 2);
  EXPECT_EQ(census.workers_alive, 1);
  EXPECT_EQ(census.devices_busy, 1);
  EXPECT_DOUBLE_EQ(census.images_per_second[run], 42.0);

  // The job waited 5 s in the queue and its attempt lasted 61 s; requeued,
  // it is leased again at once, then its lease runs out.
  ASSERT_OK(
      scheduler_->FailJob({busy, lease.job.id, lease.token}, "flaky", true));
  EXPECT_EQ(MustLease(busy, {kCpu}).job.id, lease.job.id);
  clock_.Advance(kLease * 2);
  ASSERT_OK(scheduler_->ExpireLeases().status());
  const SchedulerStats stats = scheduler_->Stats();
  const Histogram& wait = stats.queue_wait_seconds.at(JobKind::kTrain);
  EXPECT_EQ(wait.count(), 2u);
  EXPECT_DOUBLE_EQ(wait.sum(), 5.0);
  const Histogram& duration = stats.job_duration_seconds.at(JobKind::kTrain);
  EXPECT_EQ(duration.count(), 1u);
  EXPECT_DOUBLE_EQ(duration.sum(), 61.0);
  EXPECT_EQ(stats.retries.at(JobKind::kTrain), 2u);  // the failure, the expiry
  EXPECT_EQ(stats.lease_expiries, 1u);
  EXPECT_FALSE(stats.failures.count(JobKind::kTrain));
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

TEST_F(SchedulerTest, ARunWatchWakesOnlyForItsOwnRun) {
  const int64_t other = Submit(Spec());
  const int64_t watched = Submit(Spec());
  const int64_t w = Worker("w", {kCpu});
  std::unique_ptr<Scheduler::RunWatch> watch = scheduler_->WatchRun(watched);
  uint64_t v = watch->version();
  const absl::Time past = absl::Now() - absl::Seconds(1);

  // The other run is leased, beats and is cancelled: not this watch's news.
  Lease lease = MustLease(w, {kCpu});
  ASSERT_EQ(lease.job.run_id, other);  // FIFO
  ASSERT_OK(scheduler_->Heartbeat(lease.ref(), {0.5}).status());
  ASSERT_OK(scheduler_->Cancel(other));
  ASSERT_OK(scheduler_->FailJob(lease.ref(), "cancelled", false));
  EXPECT_EQ(watch->WaitForChange(v, past), v);

  // Its own lease, heartbeat and cancellation each wake it.
  lease = MustLease(w, {kCpu});
  ASSERT_EQ(lease.job.run_id, watched);
  EXPECT_GT(watch->WaitForChange(v, past), v);
  v = watch->version();
  ASSERT_OK(scheduler_->Heartbeat(lease.ref(), {0.5}).status());
  EXPECT_GT(watch->WaitForChange(v, past), v);
  v = watch->version();
  ASSERT_OK(scheduler_->Cancel(watched));
  EXPECT_GT(watch->WaitForChange(v, absl::Now() + absl::Hours(1)), v);

  // A second watch of the same run shares the count; shutdown wakes both.
  std::unique_ptr<Scheduler::RunWatch> again = scheduler_->WatchRun(watched);
  EXPECT_EQ(again->version(), watch->version());
  v = watch->version();
  std::thread waiter([&] {
    EXPECT_EQ(again->WaitForChange(v, absl::Now() + absl::Hours(1)), v);
  });
  scheduler_->Shutdown();
  EXPECT_EQ(watch->WaitForChange(v, absl::Now() + absl::Hours(1)), v);
  waiter.join();
}

}  // namespace
}  // namespace sslab::scheduler
