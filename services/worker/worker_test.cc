// The worker runtime against a real scheduler server in this process (gRPC
// on a loopback port): lease, heartbeats, completion, failures by status
// code, cancellation, and the status snapshot.
#include "services/worker/worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "common/testing/status_matchers.h"
#include "scheduler/scheduler.h"
#include "services/scheduler/scheduler_server.h"
#include "storage/store.h"

namespace sslab::services {
namespace {

using experiment::JobKind;
using experiment::JobState;
using experiment::RunState;
using ::testing::HasSubstr;

// What a TRAIN runner reports before it succeeds: the run's final
// checkpoint (epoch 1, step 10).
absl::Status RegisterFinalCheckpoint(JobContext& context) {
  experiment::CheckpointReport ckpt;
  ckpt.epoch = 1;
  ckpt.step = 10;
  ckpt.path = "runs/1/checkpoints/epoch-0001.ckpt";
  ckpt.is_final = true;
  return context.RegisterCheckpoint(ckpt).status();
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("worker_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Heartbeats every 0.3 s.
    ASSERT_NO_FATAL_FAILURE(OpenScheduler(absl::Milliseconds(900)));
  }

  // (Re)opens the scheduler on the test's database and serves it on a free
  // port.
  void OpenScheduler(absl::Duration lease) {
    server_.reset();
    scheduler_.reset();
    ASSERT_OK_AND_ASSIGN(auto store,
                         storage::Store::Open((dir_ / "db").string()));
    scheduler::SchedulerOptions options;
    options.lease_duration = lease;
    options.max_attempts = 2;
    ASSERT_OK_AND_ASSIGN(
        scheduler_, scheduler::Scheduler::Create(
                        std::move(store), scheduler::Clock::Real(), options));
    ASSERT_NO_FATAL_FAILURE(StartServer(0));
  }

  void StartServer(int port) {
    SchedulerServerOptions server_options;
    server_options.listen = "127.0.0.1:" + std::to_string(port);
    server_options.expire_interval = absl::Milliseconds(100);
    ASSERT_OK_AND_ASSIGN(
        server_, SchedulerServer::Start(scheduler_.get(), server_options));
  }

  void TearDown() override {
    StopWorker();
    server_.reset();
    scheduler_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t SubmitRun(
      experiment::DeviceRequest device = experiment::DeviceRequest::kAuto,
      int devices_per_run = 1) {
    scheduler::RunRequest request;
    request.config.device = device;
    request.config.devices_per_run = devices_per_run;
    request.config.method = experiment::Method::kRotation;
    request.config.architecture = experiment::Architecture::kResNet50V2;
    request.config.dataset.kind = experiment::DatasetKind::kIdx;
    request.config.dataset.path = "/d";
    request.config.epochs = 1;
    request.config.evaluation.layers = {"block1"};
    absl::StatusOr<int64_t> id = scheduler_->SubmitRun(request);
    EXPECT_OK(id.status());
    return id.value_or(0);
  }

  void StartWorker(JobRunner runner,
                   std::vector<experiment::DeviceInfo> devices = {
                       {experiment::DeviceId::Cpu(), "host/cpu", "CPU", 0}}) {
    WorkerOptions options;
    options.name = "test-trainer";
    options.scheduler_address = "127.0.0.1:" + std::to_string(server_->port());
    options.devices = std::move(devices);
    options.job_kinds = {JobKind::kTrain};
    options.artifact_dir = dir_;
    options.idle_poll = std::chrono::milliseconds(20);
    worker_ = std::make_unique<Worker>(options, std::move(runner));
    thread_ = std::thread([this] { run_status_ = worker_->Run(); });
  }

  void StopWorker() {
    if (!worker_) return;
    worker_->Stop();
    thread_.join();
    EXPECT_OK(run_status_);
    worker_.reset();
  }

  // Polls the run's TRAIN job until `done` holds (up to 20 s).
  storage::Job WaitForTrainJob(int64_t run,
                               std::function<bool(const storage::Job&)> done) {
    storage::Job job;
    for (int i = 0; i < 2000; ++i) {
      absl::StatusOr<std::vector<storage::Job>> jobs =
          scheduler_->ListJobs(run);
      EXPECT_OK(jobs.status());
      job = jobs->front();
      if (done(job)) return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "TRAIN job of run " << run << " never got there; state "
                  << experiment::Name(job.state);
    return job;
  }

  // Polls the worker's own status until `done` holds (up to 20 s): it is
  // updated just after the scheduler hears the job's outcome.
  v1::WorkerStatus WaitForWorker(
      std::function<bool(const v1::WorkerStatus&)> done) {
    v1::WorkerStatus status;
    for (int i = 0; i < 2000; ++i) {
      status = worker_->Status();
      if (done(status)) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "worker status never got there: "
                  << status.ShortDebugString();
    return status;
  }

  RunState StateOf(int64_t run) {
    absl::StatusOr<scheduler::RunStatus> status = scheduler_->GetRun(run);
    EXPECT_OK(status.status());
    return status->run.state;
  }

  std::filesystem::path dir_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<SchedulerServer> server_;
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  absl::Status run_status_;
};

TEST_F(WorkerTest, RunsAJobAndReportsWhatItProduced) {
  const int64_t run = SubmitRun();
  std::atomic<int> calls{0};
  StartWorker([&](const experiment::JobAssignment& a, JobContext& context) {
    ++calls;
    EXPECT_EQ(a.kind, JobKind::kTrain);
    EXPECT_EQ(a.run_id, run);
    EXPECT_EQ(a.config.epochs, 1);
    EXPECT_EQ(context.artifact_dir(), dir_);
    context.ReportProgress(0.5, 1, 10, {{"loss", 0.25}});
    // Long enough for a heartbeat to carry the progress.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    return RegisterFinalCheckpoint(context);
  });
  const storage::Job job = WaitForTrainJob(
      run, [](const auto& j) { return j.state == JobState::kSucceeded; });
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(calls, 1);
  ASSERT_OK_AND_ASSIGN(scheduler::RunStatus status, scheduler_->GetRun(run));
  EXPECT_DOUBLE_EQ(status.latest_metrics["loss"], 0.25);
  EXPECT_EQ(status.epoch, 1);
  // Its checkpoint queued the EXTRACT job, which this worker does not serve.
  EXPECT_EQ(status.jobs.runnable, 1);
  const v1::WorkerStatus snapshot = WaitForWorker([](const auto& s) {
    return s.jobs_succeeded() == 1 && s.phase() == v1::WORKER_PHASE_IDLE;
  });
  EXPECT_FALSE(snapshot.has_current_job());
}

TEST_F(WorkerTest, FailuresAreRetriedOnlyWhenARetryCanHelp) {
  const int64_t transient = SubmitRun();
  std::atomic<int> calls{0};
  StartWorker([&](const experiment::JobAssignment&, JobContext&) {
    return ++calls == 1 ? absl::UnavailableError("disk hiccup")
                        : absl::InvalidArgumentError("config: bad width");
  });
  // UNAVAILABLE is retried; the second attempt's INVALID_ARGUMENT is final.
  const storage::Job job = WaitForTrainJob(
      transient, [](const auto& j) { return j.state == JobState::kFailed; });
  EXPECT_EQ(job.attempts, 2);
  EXPECT_THAT(job.last_error, HasSubstr("config: bad width"));
  EXPECT_EQ(StateOf(transient), RunState::kFailed);
  const v1::WorkerStatus status =
      WaitForWorker([](const auto& s) { return s.jobs_failed() == 2; });
  EXPECT_THAT(status.last_error(), HasSubstr("bad width"));
}

// The scheduler is gone when a job ends (restarting, say): the worker
// reports the outcome once it is back, keeping the lease meanwhile, so the
// job is not requeued and run again, and its device is not leased to
// another job while the scheduler still counts it busy.
TEST_F(WorkerTest, ReportsAnOutcomeOnceTheSchedulerIsBack) {
  // A lease that outlasts the outage and the channel's reconnection.
  ASSERT_NO_FATAL_FAILURE(OpenScheduler(absl::Seconds(6)));
  const int64_t run = SubmitRun();
  std::atomic<int> calls{0};
  std::atomic<bool> registered{false};
  std::atomic<bool> finish{false};
  StartWorker([&](const experiment::JobAssignment&, JobContext& context) {
    ++calls;
    const absl::Status status = RegisterFinalCheckpoint(context);
    registered = true;
    while (!finish) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return status;
  });
  while (!registered) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int port = server_->port();
  server_.reset();
  finish = true;
  // Long enough for the report to meet the closed port (without this pause
  // the test proves less, it does not wait for anything).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_NO_FATAL_FAILURE(StartServer(port));
  const storage::Job job = WaitForTrainJob(
      run, [](const auto& j) { return j.state == JobState::kSucceeded; });
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(calls, 1);
}

TEST_F(WorkerTest, ACancelledRunStopsTheJobAtItsNextHeartbeat) {
  const int64_t run = SubmitRun();
  std::atomic<bool> started{false};
  std::atomic<bool> saw_cancel{false};
  StartWorker([&](const experiment::JobAssignment&, JobContext& context) {
    started = true;
    for (int i = 0; i < 1000 && !context.cancelled(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    saw_cancel = context.cancelled();
    return absl::CancelledError("stopped");
  });
  WaitForTrainJob(run, [](const auto& j) { return j.attempts > 0; });
  ASSERT_OK(scheduler_->Cancel(run, "changed my mind"));
  const storage::Job job = WaitForTrainJob(
      run, [](const auto& j) { return !j.lease_expiry.has_value(); });
  EXPECT_TRUE(started);
  EXPECT_TRUE(saw_cancel);
  EXPECT_EQ(job.state, JobState::kCancelled);
  EXPECT_EQ(job.attempts, 1);  // not retried
  EXPECT_EQ(StateOf(run), RunState::kCancelled);
}

TEST_F(WorkerTest, StoppingHandsARunningJobBackWithoutUsingItsRetries) {
  const int64_t run = SubmitRun();  // max_attempts 2
  // Three restarts of the worker (a rolling update, a preempted Slurm job):
  // each hands the job back, and none may cost the run its retries.
  for (int restart = 1; restart <= 3; ++restart) {
    StartWorker([&](const experiment::JobAssignment&, JobContext& context) {
      while (!context.cancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return absl::CancelledError("stopped");
    });
    WaitForTrainJob(run, [&](const auto& j) {
      return j.attempts == restart && j.state == JobState::kRunning;
    });
    StopWorker();
    const storage::Job job = WaitForTrainJob(
        run, [](const auto& j) { return j.state == JobState::kRunnable; });
    EXPECT_EQ(job.last_error, "handed back: the worker is stopping");
    EXPECT_EQ(job.max_attempts, 2 + restart);
    EXPECT_EQ(StateOf(run), RunState::kRunning);
  }
  // Failures still count: the job fails for good after the 2 it was
  // allowed, at attempt 5 of 5.
  StartWorker([](const experiment::JobAssignment&, JobContext&) {
    return absl::UnavailableError("the disk went away");
  });
  const storage::Job failed = WaitForTrainJob(
      run, [](const auto& j) { return j.state == JobState::kFailed; });
  EXPECT_EQ(failed.attempts, 5);
  EXPECT_EQ(StateOf(run), RunState::kFailed);
}

TEST_F(WorkerTest, RunsOneJobPerDeviceAtOnce) {
  // Fake GPUs: the scheduler takes the worker's word for them.
  const std::vector<experiment::DeviceInfo> devices = {
      {experiment::DeviceId::Cpu(), "host/cpu", "CPU", 0},
      {experiment::DeviceId::Cuda(0), "GPU-a", "Fake GPU", 1 << 30},
      {experiment::DeviceId::Cuda(1), "GPU-b", "Fake GPU", 1 << 30}};
  const int64_t gpu_run1 = SubmitRun(experiment::DeviceRequest::kCuda);
  const int64_t gpu_run2 = SubmitRun(experiment::DeviceRequest::kCuda);
  const int64_t cpu_run = SubmitRun(experiment::DeviceRequest::kCpu);
  std::mutex mu;
  std::set<std::string> running_on;
  std::atomic<bool> release{false};
  StartWorker(
      [&](const experiment::JobAssignment& a, JobContext& context) {
        {
          std::lock_guard<std::mutex> lock(mu);
          running_on.insert(a.device.ToString());
        }
        context.ReportProgress(0.5, 1, 3, {});
        while (!release && !context.cancelled()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return RegisterFinalCheckpoint(context);
      },
      devices);
  // All three run at the same time, each on its own device.
  const v1::WorkerStatus busy = WaitForWorker([](const auto& s) {
    int running = 0;
    for (const v1::WorkerSlot& slot : s.slots()) {
      running += slot.has_current_job() ? 1 : 0;
    }
    return running == 3;
  });
  EXPECT_EQ(busy.phase(), v1::WORKER_PHASE_RUNNING);
  ASSERT_EQ(busy.devices_size(), 3);
  EXPECT_EQ(busy.devices(1).name(), "Fake GPU");
  EXPECT_EQ(busy.devices(2).key(), "GPU-b");
  // A slot shows its job just before the runner starts: wait for all three
  // runners to have said where they run (up to 20 s).
  auto runners_started = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return running_on.size() == 3;
  };
  for (int i = 0; i < 2000 && !runners_started(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(running_on, (std::set<std::string>{"cpu", "cuda:0", "cuda:1"}));
  }
  release = true;
  for (int64_t run : {gpu_run1, gpu_run2, cpu_run}) {
    WaitForTrainJob(
        run, [](const auto& j) { return j.state == JobState::kSucceeded; });
  }
  // The workers list shows the devices as the worker described them.
  ASSERT_OK_AND_ASSIGN(auto workers, scheduler_->ListWorkers(0, ""));
  ASSERT_EQ(workers.rows.size(), 1);
  EXPECT_EQ(workers.rows[0].worker.devices, devices);
}

// A data-parallel run's gang takes both GPUs from one slot; the other slot,
// its GPU lent, leases nothing until the gang ends, so the single-GPU run
// queued behind it waits.
TEST_F(WorkerTest, AGangHoldsEveryGpuItLeasedUntilItEnds) {
  const std::vector<experiment::DeviceInfo> devices = {
      {experiment::DeviceId::Cuda(0), "GPU-a", "Fake GPU", 1 << 30},
      {experiment::DeviceId::Cuda(1), "GPU-b", "Fake GPU", 1 << 30}};
  const int64_t gang = SubmitRun(experiment::DeviceRequest::kCuda, 2);
  const int64_t single = SubmitRun(experiment::DeviceRequest::kCuda);
  std::mutex mu;
  std::vector<std::pair<int64_t, std::vector<experiment::DeviceId>>> started;
  std::atomic<bool> release{false};
  StartWorker(
      [&](const experiment::JobAssignment& a, JobContext& context) {
        {
          std::lock_guard<std::mutex> lock(mu);
          started.push_back({a.run_id, a.devices});
        }
        while (a.run_id == gang && !release && !context.cancelled()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return RegisterFinalCheckpoint(context);
      },
      devices);
  WaitForTrainJob(gang,
                  [](const auto& j) { return j.state == JobState::kRunning; });
  // Both slots show the gang's job.
  WaitForWorker([&](const v1::WorkerStatus& s) {
    int showing = 0;
    for (const v1::WorkerSlot& slot : s.slots()) {
      showing += slot.current_job().run_id() == gang ? 1 : 0;
    }
    return showing == 2;
  });
  // Many lease polls of the idle slot later, the single run still waits.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(WaitForTrainJob(single, [](const auto&) { return true; }).state,
            JobState::kRunnable);
  release = true;
  for (int64_t run : {gang, single}) {
    WaitForTrainJob(
        run, [](const auto& j) { return j.state == JobState::kSucceeded; });
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[0].first, gang);
  EXPECT_THAT(started[0].second,
              ::testing::UnorderedElementsAre(experiment::DeviceId::Cuda(0),
                                              experiment::DeviceId::Cuda(1)));
  EXPECT_EQ(started[1].first, single);
  EXPECT_THAT(started[1].second, ::testing::IsEmpty());
}

}  // namespace
}  // namespace sslab::services
