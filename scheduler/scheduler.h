// The sslab scheduler's domain logic: runs and their job graphs, the job
// queue, worker leases, artifact registration and queries, over the typed
// experiment model (experiment/) and the store (storage/). The gRPC services
// (services/scheduler) are thin adapters over this class; nothing here
// knows gRPC.
//
// A run's job graph (experiment/job_graph.h): one TRAIN job; for every
// checkpoint to evaluate (the final one, plus every
// `evaluation.every_epochs`-th when set) one EXTRACT job, created RUNNABLE
// when TRAIN registers that checkpoint; when an EXTRACT job completes, one
// PROBE job per layer x probe kind x label fraction. A run is PENDING until
// one of its jobs is leased, then RUNNING, and ends SUCCEEDED (every job
// succeeded and TRAIN is done), FAILED (a job failed for good; its last error
// becomes the run's error and the run's other jobs are cancelled) or
// CANCELLED.
//
// Queue: priority (larger first), then FIFO (older job first). A worker gets
// only job kinds it serves and only a job that fits one of the free devices
// it reports. A job asks for the run's device (PROBE jobs: its probe
// device): "cuda" needs a free GPU of that worker; "cpu" its CPU; "auto" a
// free GPU of that worker, or its CPU when no live worker serving that kind
// of job has an idle GPU. A GPU is free when no live lease holds it, counted
// by the GPU's physical key across workers (two workers that see one GPU
// share it); each worker's CPU is its own. The TRAIN job of a run with
// devices_per_run N is a gang: N free GPUs of one worker, or N ranks on its
// CPU, all or nothing; a GPU gang first in the queue that does not fit yet
// holds back the GPUs of a worker with at least N of them from the jobs
// behind it. A job requeued from a worker
// (retryable failure, lost lease) goes to another live worker of its kind
// first: for two lease durations that worker skips it, since what failed may
// be that worker's (a data set it lacks, its disk).
//
// Leases expire `lease_duration` after the lease or the last heartbeat. An
// expired lease puts the job back in the queue (each lease counts one
// attempt); when an expired or retryable-failed job has used max_attempts it
// fails for good, and so does its run. Expiry is checked at the start of every
// worker call, Submit* and Cancel (and by ExpireLeases(), which a server
// should also call from a timer so that watchers see expiries promptly), so a
// restarted scheduler recovers by time alone: leases from before the restart
// stay valid until they expire, then their jobs are requeued.
//
// Thread-safety: thread-safe; calls are serialised by one mutex (the store
// is the only shared state), except WaitForChange, which waits without it.
// Call Shutdown() and let every WaitForChange caller return before
// destroying the scheduler.
//
// Failure contract: INVALID_ARGUMENT naming the field for bad input; NOT_FOUND
// naming the id for an unknown run, sweep, job or worker; FAILED_PRECONDITION
// for a call in the wrong state (cancel of a finished run, a worker call on a
// job whose lease it does not hold, or with another lease's token); storage
// errors pass through.
#ifndef SSLAB_SCHEDULER_SCHEDULER_H_
#define SSLAB_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/histogram.h"
#include "experiment/device.h"
#include "experiment/job_graph.h"
#include "experiment/run_config.h"
#include "experiment/sweep.h"
#include "scheduler/clock.h"
#include "storage/store.h"
#include "storage/types.h"

namespace sslab::scheduler {

struct RunRequest {
  // Empty: experiment::DefaultRunName. At most experiment::kMaxNameLength.
  std::string name;
  // Expanded with the study's defaults on submit; errors name "config.*".
  experiment::RunSpec config;
  // Larger first; every job of the run inherits it.
  int priority = 0;
};

struct SweepRequest {
  // Expanded on submit (experiment::ExpandSweep); errors name its fields.
  experiment::SweepSpec sweep;
  int priority = 0;
};

struct SweepSubmission {
  int64_t sweep_id = 0;
  std::vector<int64_t> run_ids;  // in grid order
};

// What Scheduler::AddProbes queued.
struct ProbeAddition {
  // PROBE jobs the run gains: queued now, or when their EXTRACT job ends.
  int probe_jobs = 0;
  // Evaluated checkpoints whose features retention had deleted: extracted
  // again first.
  int extract_jobs = 0;
};

struct JobCounts {
  int total = 0;
  int pending = 0;
  int runnable = 0;
  int running = 0;
  int succeeded = 0;
  int failed = 0;
  int cancelled = 0;
};

// A run with what a watcher shows.
struct RunStatus {
  storage::Run run;
  JobCounts jobs;
  // The TRAIN job's last reported progress, 0..1.
  double train_progress = 0;
  // Latest training position reported by heartbeats; -1 before any.
  int64_t epoch = -1;
  int64_t step = -1;
  // Latest value of each metric reported by heartbeats.
  std::map<std::string, double> latest_metrics;
  // The run's jobs, ascending id.
  std::vector<storage::Job> job_list;
  // What its artifacts not yet deleted take.
  storage::DiskUsage disk;
};

// One training curve of a run, downsampled: each point the mean of a run of
// consecutive recorded points, at the last step of that run.
struct MetricSeries {
  std::string name;
  std::vector<storage::Metric> points;
  // Points recorded before downsampling.
  int64_t total_points = 0;
};

// One page of a list. Every list takes `page_size` (0: the default, larger
// than the maximum: the maximum, negative: INVALID_ARGUMENT) and
// `page_token` (empty, or a next_page_token that list returned: anything
// else is INVALID_ARGUMENT naming "page_token").
template <typename Row>
struct Page {
  std::vector<Row> rows;
  // Empty on the last page.
  std::string next_page_token;
};

// A registered worker as monitoring sees it.
struct WorkerInfo {
  storage::Worker worker;
  // Heard from (a lease request or heartbeat) within two lease durations.
  bool alive = false;
  // The jobs it holds leases on.
  std::vector<storage::Job> jobs;
};

// What the database holds now, for monitoring.
struct Census {
  // Counts by state (and kind); absent = none.
  std::map<experiment::RunState, int64_t> runs;
  std::map<std::pair<experiment::JobKind, experiment::JobState>, int64_t> jobs;
  int workers = 0;
  int workers_alive = 0;
  // Devices held by live leases.
  int devices_busy = 0;
  // The latest images/s each running run's training reported.
  std::map<int64_t, double> images_per_second;
};

// What the scheduler counted since it started (in memory, not persisted).
struct SchedulerStats {
  // Seconds a job waited in the queue before a lease, by kind.
  std::map<experiment::JobKind, Histogram> queue_wait_seconds;
  // Seconds from lease to CompleteJob or FailJob, by kind.
  std::map<experiment::JobKind, Histogram> job_duration_seconds;
  // Attempts requeued (retryable failures, expiries, lost workers).
  std::map<experiment::JobKind, uint64_t> retries;
  // Jobs that failed for good.
  std::map<experiment::JobKind, uint64_t> failures;
  uint64_t lease_expiries = 0;

  void RecordQueueWait(experiment::JobKind kind, absl::Duration wait);
  void RecordDuration(experiment::JobKind kind, absl::Duration duration);
};

struct WorkerSpec {
  // Unique per worker process; registering a name again updates that worker,
  // keeps its id and releases the leases it still holds (requeued as if they
  // expired): the earlier process with that name is taken to be gone.
  std::string name;
  // Job kinds it serves; empty: all.
  std::vector<experiment::JobKind> kinds;
  // Non-empty, no duplicate ids, no two GPUs with the same key.
  std::vector<experiment::DeviceInfo> devices;
  // What it runs (storage::Worker::build); copied into each job it leases.
  std::map<std::string, std::string> build;
};

// What every worker call on a leased job names: the worker, the job, and the
// token of the lease (attempt) it holds.
struct LeaseRef {
  int64_t worker_id = 0;
  int64_t job_id = 0;
  std::string token;
};

struct Lease {
  // The job as leased: state RUNNING, attempts counted.
  storage::Job job;
  // What the worker runs: the run's config, the device, inputs.
  experiment::JobAssignment assignment;
  absl::Time expiry;
  // 256 random bits, hex; only its SHA-256 is stored. Job ids and worker ids
  // are visible to every client, the token only to this lease's holder: a
  // stale attempt, or anyone else, cannot act on the job.
  std::string token;

  LeaseRef ref() const {
    return {job.lease_worker_id.value_or(0), job.id, token};
  }
};

// Limits on what one heartbeat may record.
inline constexpr size_t kMaxMetricsPerHeartbeat = 32;
inline constexpr size_t kMaxMetricNameLength = 64;
// Limits on lineage: a worker's build (WorkerSpec::build) and what a job
// adds when it completes. Keys are at most kMaxMetricNameLength long.
inline constexpr size_t kMaxBuildEntries = 32;
inline constexpr size_t kMaxJobLineageEntries = 8;
inline constexpr size_t kMaxLineageValueLength = 256;

struct HeartbeatInfo {
  // Progress of the job, clamped to [0, 1] (NaN keeps the previous value).
  double progress = 0;
  // Training position, when known; the epoch is recorded as the metric
  // "epoch" (RunStatus::epoch reads it back).
  std::optional<int64_t> epoch;
  std::optional<int64_t> step;
  // Recorded at `step` (0 when unknown). Non-finite values are dropped: a NaN
  // loss must not fail the heartbeat that keeps the lease. At most
  // kMaxMetricsPerHeartbeat, names of letters, digits, '_', '.', '-' up to
  // kMaxMetricNameLength (INVALID_ARGUMENT naming "metrics" otherwise).
  std::map<std::string, double> metrics;
};

struct HeartbeatReply {
  // The job (or its run) was cancelled: stop and call CompleteJob or FailJob
  // (either releases the lease). A cancelled job's lease is not renewed.
  bool cancelled = false;
  absl::Time lease_expiry;
};

// What retention keeps of a run that is not pinned (scheduler/internal/
// retention.h says it all): every checkpoint evaluated or needed by an
// unfinished job, the final one and the last `keep_last_checkpoints` (<= 0:
// every checkpoint); a checkpoint's feature shards until all its probes
// succeeded, or for good with `keep_features`.
struct RetentionOptions {
  int keep_last_checkpoints = 1;
  bool keep_features = false;
};

// A checkpoint or one feature shard of one, as retention reports it.
struct Artifact {
  enum class Kind { kCheckpoint, kFeatures };
  Kind kind = Kind::kCheckpoint;
  int64_t run_id = 0;
  int epoch = 0;
  // kFeatures: which shard.
  std::string layer;
  experiment::Split split = experiment::Split::kTrain;
  // Relative to the artifact directory.
  std::string path;
  int64_t bytes = 0;
};

struct SchedulerOptions {
  // How long a lease lasts without a heartbeat. Default: 30 s.
  absl::Duration lease_duration = absl::Seconds(30);
  // Leases per job before it fails for good. Default: 3.
  int max_attempts = 3;
  // Page size of every list when the request says 0. Default: 50.
  int default_page_size = 50;
  // Larger page sizes are clamped to this. Default: 1000.
  int max_page_size = 1000;
  // Recorded with every run submitted (e.g. "sslab" -> "0.1.0").
  std::map<std::string, std::string> versions;
  RetentionOptions retention;
};

class Scheduler {
  class Impl;

 public:
  // Takes over `store`; `clock` is not owned and must outlive the scheduler.
  // Runs the recovery pass: expires leases that ran out while the scheduler
  // was down and re-derives the state of unfinished runs.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      std::unique_ptr<storage::Store> store, Clock* clock,
      const SchedulerOptions& options = {});

  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const SchedulerOptions& options() const;

  // ---- Experiments (the CLI's side) ----

  // Expands and stores the run and its TRAIN job (RUNNABLE). Returns the run
  // id.
  absl::StatusOr<int64_t> SubmitRun(const RunRequest& request);
  // Expands the grid and stores the sweep and all its runs in one
  // transaction (all or nothing).
  absl::StatusOr<SweepSubmission> SubmitSweep(const SweepRequest& request);

  absl::StatusOr<RunStatus> GetRun(int64_t run_id);
  absl::StatusOr<storage::Sweep> GetSweep(int64_t sweep_id);
  // Lists are paged (see Page).
  // Newest first, each with its status (as GetRun), read for the whole page
  // at once.
  absl::StatusOr<Page<RunStatus>> ListRuns(const storage::RunFilter& filter,
                                           int page_size,
                                           const std::string& page_token);
  absl::StatusOr<std::vector<storage::Job>> ListJobs(int64_t run_id);
  // Ascending epoch.
  absl::StatusOr<Page<storage::Checkpoint>> ListCheckpoints(
      int64_t run_id, int page_size, const std::string& page_token);
  // In Store::QueryResults' order. NOT_FOUND if the filter names an unknown
  // run or sweep.
  absl::StatusOr<Page<storage::ResultRow>> QueryResults(
      const storage::ResultFilter& filter, int page_size,
      const std::string& page_token);
  absl::StatusOr<std::vector<storage::Metric>> ListMetrics(
      int64_t run_id, std::optional<std::string> name = std::nullopt);
  // The run's training curves by name (`names` empty: all), each
  // downsampled to at most `max_points` (>= 1) points.
  absl::StatusOr<std::vector<MetricSeries>> GetMetricHistory(
      int64_t run_id, const std::vector<std::string>& names, int max_points);
  // Sweeps newest first.
  absl::StatusOr<Page<storage::SweepSummary>> ListSweeps(
      int page_size, const std::string& page_token);

  // Cancels the run and every unfinished job of it: queued jobs at once,
  // leased ones learn it at their next heartbeat. NOT_FOUND for an unknown
  // run, FAILED_PRECONDITION if the run already finished.
  // `reason`, when given, becomes the run's error text ("cancelled: ...").
  absl::Status Cancel(int64_t run_id, const std::string& reason = "");

  // Probes a succeeded run further, without training it again: adds
  // `probe_kinds` and `label_fractions` to its evaluation plan (the plan
  // stays every layer x kind x fraction) and queues the PROBE jobs its
  // evaluated checkpoints lack, after an EXTRACT job where retention deleted
  // the features. The run is running again until they end; nothing new
  // leaves it as it is. NOT_FOUND for an unknown run; FAILED_PRECONDITION
  // unless it succeeded, or when a checkpoint to extract again was deleted;
  // INVALID_ARGUMENT naming the field for a plan that does not validate.
  // `again` also probes again what the run has of those kinds and fractions
  // (an empty list: all of the plan's), replacing the results: for a run
  // evaluated by an evaluator that has changed since.
  absl::StatusOr<ProbeAddition> AddProbes(
      int64_t run_id, const std::vector<experiment::ProbeKind>& probe_kinds,
      const std::vector<double>& label_fractions, bool again = false);

  // ---- Artifact lifecycle ----
  //
  // This class knows no directory: it decides and records, and the caller
  // removes the files. Records are marked first, so a crash in between
  // leaves a file the database calls deleted, never a record of a file that
  // is gone.

  // The artifacts retention (options().retention) no longer needs, of
  // `run_id` or of every run when unset; unless `dry_run`, marked deleted in
  // one transaction. NOT_FOUND for an unknown run.
  absl::StatusOr<std::vector<Artifact>> CollectGarbage(
      std::optional<int64_t> run_id, bool dry_run);
  // CollectGarbage of the runs a job of which ended, or that were cancelled,
  // since the last call (in this process: older runs wait for an explicit
  // CollectGarbage, so an upgrade deletes nothing unasked): what a server
  // runs from a timer.
  absl::StatusOr<std::vector<Artifact>> CollectGarbageOfChangedRuns();
  // A pinned run keeps every artifact. NOT_FOUND for an unknown run.
  absl::Status PinRun(int64_t run_id, bool pinned);
  // Deletes a finished run and every record of it; returns its artifacts not
  // yet deleted, for the caller to remove. FAILED_PRECONDITION naming the
  // state while it is pending or running.
  absl::StatusOr<std::vector<Artifact>> DeleteRun(int64_t run_id);

  // ---- Watching ----

  // A counter bumped by every committed change (submit, lease, heartbeat,
  // completion, expiry, cancel, ...).
  uint64_t version() const;
  // Blocks until version() != `seen`, `deadline` passes, or Shutdown() is
  // called; returns version(). Uses the real time for the deadline.
  uint64_t WaitForChange(uint64_t seen, absl::Time deadline);
  // Wakes every waiter; later WaitForChange calls return at once.
  void Shutdown();

  // One run's changes (its row, jobs, checkpoints, metrics), for a watcher
  // of that run alone: a change elsewhere does not wake it, so many open
  // watches cost nothing while their runs are quiet. Counted only while some
  // RunWatch of the run is alive. Destroy every RunWatch before the
  // Scheduler.
  class RunWatch {
   public:
    ~RunWatch();
    RunWatch(const RunWatch&) = delete;
    RunWatch& operator=(const RunWatch&) = delete;
    // The run's change count since the first live watch of it began.
    uint64_t version() const;
    // Blocks until version() != `seen`, `deadline` passes, or Shutdown() is
    // called; returns version(). Uses the real time for the deadline.
    uint64_t WaitForChange(uint64_t seen, absl::Time deadline);

   private:
    friend class Scheduler;
    RunWatch(Impl* impl, int64_t run_id) : impl_(impl), run_id_(run_id) {}
    Impl* const impl_;
    const int64_t run_id_;
  };
  // Starts counting `run_id`'s changes (the run need not exist).
  std::unique_ptr<RunWatch> WatchRun(int64_t run_id);

  // ---- Workers ----

  // Returns the worker id. INVALID_ARGUMENT for an empty name, no devices or
  // a duplicate device.
  absl::StatusOr<int64_t> RegisterWorker(const WorkerSpec& spec);

  // Leases the first job in queue order that the worker serves and that fits
  // `free_devices` (a subset of its registered devices; INVALID_ARGUMENT
  // naming "free_devices" otherwise). Returns nullopt when nothing fits.
  // NOT_FOUND naming the worker if it is not registered.
  absl::StatusOr<std::optional<Lease>> LeaseJob(
      int64_t worker_id, const std::vector<experiment::DeviceId>& free_devices);

  // The calls below act on the job of `lease` and need its current lease:
  // NOT_FOUND naming worker_id or job_id for an unknown one;
  // FAILED_PRECONDITION when the worker does not hold the job's lease (it
  // expired and the job was requeued, or the job finished) or `lease.token`
  // is not that lease's (an earlier attempt's, or a guess).

  // Renews the lease, records progress and metrics.
  absl::StatusOr<HeartbeatReply> Heartbeat(const LeaseRef& lease,
                                           const HeartbeatInfo& info);

  // Marks the job SUCCEEDED, releases the lease and advances the graph
  // (EXTRACT -> PROBE jobs; last job -> run SUCCEEDED). An EXTRACT job must
  // have registered features for every planned layer and split
  // (FAILED_PRECONDITION otherwise). Repeating the call for a job this worker
  // completed is OK; on a cancelled job it only releases the lease.
  // `lineage` (at most kMaxJobLineageEntries entries) is added to the
  // job's.
  absl::Status CompleteJob(
      const LeaseRef& lease,
      const std::map<std::string, std::string>& lineage = {});

  // Releases the lease. A retryable failure requeues the job unless it used
  // max_attempts; otherwise the job fails for good with `error`, and so does
  // its run. On a cancelled job it only releases the lease.
  absl::Status FailJob(const LeaseRef& lease, const std::string& error,
                       bool retryable);

  // From a worker that stops before the job ends: requeues the job, and
  // gives it one more attempt than it had, so that a hand-back never uses up
  // the budget for failures (a job resumes from its last checkpoint: a
  // rolling restart of workers costs nothing). On a cancelled job it only
  // releases the lease.
  absl::Status ReleaseJob(const LeaseRef& lease, const std::string& reason);

  // From the TRAIN job holding the lease. Idempotent per epoch: returns the
  // checkpoint id. Creates the EXTRACT job when the checkpoint is to be
  // evaluated (once per checkpoint).
  absl::StatusOr<int64_t> RegisterCheckpoint(
      const LeaseRef& lease, const experiment::CheckpointReport& checkpoint);
  // From the EXTRACT job holding the lease; for its checkpoint. Idempotent
  // per (layer, split).
  absl::Status RegisterFeatures(
      const LeaseRef& lease,
      const std::vector<experiment::FeatureRef>& features);
  // From the PROBE job holding the lease; for its checkpoint and target.
  // Idempotent per split.
  absl::Status RecordResult(const LeaseRef& lease,
                            const experiment::ProbeResult& result);

  // ---- Monitoring ----

  // Ascending id.
  absl::StatusOr<Page<WorkerInfo>> ListWorkers(int page_size,
                                               const std::string& page_token);
  absl::StatusOr<Census> TakeCensus();
  SchedulerStats Stats() const;

  // ---- Maintenance ----

  // The lease length workers must heartbeat within.
  absl::Duration lease_duration() const;

  // Requeues (or fails, after max_attempts) every job whose lease expired.
  // Returns how many leases expired.
  absl::StatusOr<int> ExpireLeases();

 private:
  enum class AttemptEnd { kFatal, kRetryable, kHandedBack };
  // FailJob and ReleaseJob: ends the lease and requeues the job, or fails it
  // for good.
  absl::Status EndAttempt(const LeaseRef& lease, const std::string& message,
                          AttemptEnd end);

  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::scheduler

#endif  // SSLAB_SCHEDULER_SCHEDULER_H_
