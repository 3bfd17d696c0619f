// The sslab scheduler's domain logic: runs and their job graphs, the job
// queue, worker leases, artifact registration and queries. The gRPC service
// (services/) is a thin adapter over this class; nothing here knows gRPC.
//
// A run's job graph: one TRAIN job; for every checkpoint to evaluate (the
// final one, plus every `evaluation.every_epochs` epochs when set) one EXTRACT
// job, created RUNNABLE when TRAIN registers that checkpoint; when an EXTRACT
// job completes, one PROBE job per layer x probe kind x label fraction.
// A run is PENDING until one of its jobs is leased, then RUNNING, and ends
// SUCCEEDED (every job succeeded and TRAIN is done), FAILED (a job failed for
// good; its last error becomes the run's error and the run's other jobs are
// cancelled) or CANCELLED.
//
// Queue: priority (larger first), then FIFO (older job first). A worker gets
// only job kinds it serves and only a job that fits one of the free devices
// it reports: a GPU job needs a free "cuda:N" of that worker that no live
// lease holds; a CPU job needs "cpu" among the free devices.
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
// Job payloads (Job::payload_json, written when the job is leased) are JSON
// objects with "run_id", "job_id", "kind", "attempt", "config" (the run's
// config_json as an object) and:
//   TRAIN:   "resume_checkpoint": {"id","epoch","step","path","sha256"} of the
//            run's latest checkpoint, or null; "evaluate_every_epochs": N.
//   EXTRACT: "checkpoint": {"id","epoch","step","path","sha256"},
//            "layers": [...], "splits": [...].
//   PROBE:   "checkpoint": {...}, "layer", "probe_kind", "label_fraction",
//            "features": {split: {"path","sha256","rows","dims"}} (the
//            features the EXTRACT job registered for this layer).
// A PROBE job's payload_json has "layer", "probe_kind" and "label_fraction"
// from its creation on, before it is leased too.
//
// Thread-safety: thread-safe; calls are serialised by one mutex (the store
// is the only shared state), except WaitForChange, which waits without it.
// Call Shutdown() and let every WaitForChange caller return before
// destroying the scheduler.
//
// Failure contract: INVALID_ARGUMENT naming the field for bad input; NOT_FOUND
// naming the id for an unknown run, sweep, job or worker; FAILED_PRECONDITION
// for a call in the wrong state (cancel of a finished run, a worker call on a
// job whose lease it does not hold); storage errors pass through.
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
#include "scheduler/clock.h"
#include "storage/store.h"
#include "storage/types.h"

namespace sslab::scheduler {

struct EvaluationPlan {
  // Representation layers to probe ("block1".."block4", "pre_logits", ...).
  // Empty: the run only trains.
  std::vector<std::string> layers;
  // Probe kinds ("linear", "mlp", ...). Empty: {"linear"}.
  std::vector<std::string> probe_kinds;
  // Fractions of the training labels each probe sees, each in (0, 1].
  // Empty: {1.0}.
  std::vector<double> label_fractions;
  // Also evaluate the checkpoint of every N-th epoch; 0: final only. >= 0.
  int every_epochs = 0;
  // Splits each EXTRACT job computes. Empty: {"train", "val", "test"}.
  std::vector<std::string> splits;
};

// Everything the scheduler needs to know about a run. The config itself is
// opaque: services expand and validate it; the scheduler stores it and hands
// it to workers.
struct RunSpec {
  // Empty: "<method>-<architecture>-k<width>".
  std::string name;
  std::string method;        // non-empty
  std::string architecture;  // non-empty
  int width = 1;             // k >= 1
  // The full expanded config: a JSON object.
  std::string config_json = "{}";
  // Versions of what created the run: a JSON object.
  std::string versions_json = "{}";
  EvaluationPlan evaluation;
  // Larger first. Every job of the run inherits it.
  int priority = 0;
  // Where TRAIN and EXTRACT jobs run.
  storage::DeviceKind device = storage::DeviceKind::kCpu;
  // Where PROBE jobs run.
  storage::DeviceKind probe_device = storage::DeviceKind::kCpu;
  // Leases per job before it fails for good; >= 1.
  int max_attempts = 3;
};

// A sweep is a named set of runs submitted atomically. Callers (services)
// expand the grid (methods x architectures x widths x other fields) into one
// RunSpec per point, config_json included.
struct SweepSpec {
  std::string name;  // non-empty
  // Description of the grid, for display: a JSON object.
  std::string grid_json = "{}";
  std::vector<RunSpec> runs;  // non-empty
};

struct SweepSubmission {
  int64_t sweep_id = 0;
  std::vector<int64_t> run_ids;  // in the order of SweepSpec::runs
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
  EvaluationPlan evaluation;
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
};

struct RunPage {
  std::vector<storage::Run> runs;
  // Empty on the last page.
  std::string next_page_token;
};

struct WorkerSpec {
  // Unique per worker process; registering a name again updates that worker,
  // keeps its id and releases the leases it still holds (requeued as if they
  // expired): the earlier process with that name is taken to be gone.
  std::string name;
  // Job kinds it serves; empty: all.
  std::vector<storage::JobKind> kinds;
  // "cpu" and/or "cuda:N"; non-empty, no duplicates.
  std::vector<std::string> devices;
};

struct Lease {
  // The job as leased: state RUNNING, attempts counted, payload_json set.
  storage::Job job;
  // The device the job must run on ("cpu" or "cuda:N").
  std::string device;
  absl::Time expiry;
};

struct HeartbeatInfo {
  // Progress of the job, clamped to [0, 1] (NaN keeps the previous value).
  double progress = 0;
  // Training position, when known (-1: not reported).
  int64_t epoch = -1;
  int64_t step = -1;
  // Recorded at `step` (0 when step is not reported) unless a metric carries
  // its own step. Non-finite values are dropped.
  std::vector<storage::Metric> metrics;
};

struct HeartbeatReply {
  // The job (or its run) was cancelled: stop and call CompleteJob or FailJob
  // (either releases the lease). A cancelled job's lease is not renewed.
  bool cancelled = false;
  absl::Time lease_expiry;
};

struct CheckpointInfo {
  int epoch = 0;     // >= 0
  int64_t step = 0;  // >= 0
  std::string path;  // non-empty
  std::string sha256;
  int64_t bytes = 0;  // >= 0
  // Pretext metrics: a JSON object.
  std::string metrics_json = "{}";
  // The last checkpoint of training (always evaluated).
  bool is_final = false;
};

struct FeatureInfo {
  std::string layer;  // non-empty
  std::string split;  // non-empty
  std::string path;   // non-empty
  std::string sha256;
  int64_t rows = 0;  // >= 0
  int64_t dims = 0;  // >= 0
};

struct ResultInfo {
  std::string split;  // non-empty, e.g. "val", "test"
  double top1 = 0;    // [0, 1]
  double top5 = 0;    // [0, 1]
  // Chosen hyper-parameters: a JSON object.
  std::string hyperparameters_json = "{}";
};

struct SchedulerOptions {
  // How long a lease lasts without a heartbeat. Default: 30 s.
  absl::Duration lease_duration = absl::Seconds(30);
  // ListRuns page size when the request says 0. Default: 50.
  int default_page_size = 50;
  // Larger page sizes are clamped to this. Default: 1000.
  int max_page_size = 1000;
};

class Scheduler {
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

  // ---- Experiments (the CLI's side) ----

  // Stores the run and its TRAIN job (RUNNABLE). Returns the run id.
  absl::StatusOr<int64_t> SubmitRun(const RunSpec& spec);
  // Stores the sweep and all its runs in one transaction (all or nothing).
  // Invalid runs are reported as "runs[i].<field>".
  absl::StatusOr<SweepSubmission> SubmitSweep(const SweepSpec& spec);

  absl::StatusOr<RunStatus> GetRun(int64_t run_id);
  absl::StatusOr<storage::Sweep> GetSweep(int64_t sweep_id);
  // Newest first. `page_size` 0 means the default, negative is
  // INVALID_ARGUMENT; `page_token` is empty or a previous next_page_token
  // (anything else is INVALID_ARGUMENT naming "page_token").
  absl::StatusOr<RunPage> ListRuns(const storage::RunFilter& filter,
                                   int page_size,
                                   const std::string& page_token);
  absl::StatusOr<std::vector<storage::Job>> ListJobs(int64_t run_id);
  absl::StatusOr<std::vector<storage::Checkpoint>> ListCheckpoints(
      int64_t run_id);
  // NOT_FOUND if the filter names an unknown run or sweep.
  absl::StatusOr<std::vector<storage::ResultRow>> QueryResults(
      const storage::ResultFilter& filter);
  absl::StatusOr<std::vector<storage::Metric>> ListMetrics(
      int64_t run_id, std::optional<std::string> name = std::nullopt);

  // Cancels the run and every unfinished job of it: queued jobs at once,
  // leased ones learn it at their next heartbeat. NOT_FOUND for an unknown
  // run, FAILED_PRECONDITION if the run already finished.
  // `reason`, when given, becomes the run's error text ("cancelled: ...").
  absl::Status Cancel(int64_t run_id, const std::string& reason = "");

  // ---- Watching ----

  // A counter bumped by every committed change (submit, lease, heartbeat,
  // completion, expiry, cancel, ...).
  uint64_t version() const;
  // Blocks until version() != `seen`, `deadline` passes, or Shutdown() is
  // called; returns version(). Uses the real time for the deadline.
  uint64_t WaitForChange(uint64_t seen, absl::Time deadline);
  // Wakes every waiter; later WaitForChange calls return at once.
  void Shutdown();

  // ---- Workers ----

  // Returns the worker id. INVALID_ARGUMENT for an empty name, no devices, or
  // a device that is not "cpu" / "cuda:N".
  absl::StatusOr<int64_t> RegisterWorker(const WorkerSpec& spec);

  // Leases the first job in queue order that the worker serves and that fits
  // `free_devices` (a subset of its registered devices; INVALID_ARGUMENT
  // naming "free_devices" otherwise). Returns nullopt when nothing fits.
  // NOT_FOUND naming the worker if it is not registered.
  absl::StatusOr<std::optional<Lease>> LeaseJob(
      int64_t worker_id, const std::vector<std::string>& free_devices);

  // Renews the lease, records progress (clamped to 0..1) and metrics.
  // FAILED_PRECONDITION if the worker does not hold the job's lease (it
  // expired and the job was requeued, or the job finished).
  // Metrics are stored as given; the epoch, when reported, as a metric named
  // "epoch" (RunStatus::epoch reads it back).
  absl::StatusOr<HeartbeatReply> Heartbeat(int64_t worker_id, int64_t job_id,
                                           const HeartbeatInfo& info);
  // Shorthand for the above without epoch and step.
  absl::StatusOr<HeartbeatReply> Heartbeat(
      int64_t worker_id, int64_t job_id, double progress,
      const std::vector<storage::Metric>& metrics);

  // Marks the job SUCCEEDED, releases the lease and advances the graph
  // (EXTRACT -> PROBE jobs; last job -> run SUCCEEDED). An EXTRACT job must
  // have registered features for every planned layer (FAILED_PRECONDITION
  // otherwise). Repeating the call for a job this worker completed is OK; on
  // a cancelled job it only releases the lease.
  absl::Status CompleteJob(int64_t worker_id, int64_t job_id);

  // Releases the lease. A retryable failure requeues the job unless it used
  // max_attempts; otherwise the job fails for good with `error`, and so does
  // its run. On a cancelled job it only releases the lease.
  absl::Status FailJob(int64_t worker_id, int64_t job_id,
                       const std::string& error, bool retryable);

  // From the TRAIN job holding the lease. Idempotent per epoch: returns the
  // checkpoint id. Creates the EXTRACT job when the checkpoint is to be
  // evaluated (once per checkpoint).
  absl::StatusOr<int64_t> RegisterCheckpoint(int64_t worker_id, int64_t job_id,
                                             const CheckpointInfo& info);
  // From the EXTRACT job holding the lease; for its checkpoint. Idempotent
  // per (layer, split).
  absl::Status RegisterFeatures(int64_t worker_id, int64_t job_id,
                                const std::vector<FeatureInfo>& features);
  // From the PROBE job holding the lease; for its checkpoint, layer, probe
  // kind and label fraction. Idempotent per split.
  absl::Status RecordResult(int64_t worker_id, int64_t job_id,
                            const ResultInfo& result);

  // ---- Maintenance ----

  // The lease length workers must heartbeat within.
  absl::Duration lease_duration() const;

  // Requeues (or fails, after max_attempts) every job whose lease expired.
  // Returns how many leases expired.
  absl::StatusOr<int> ExpireLeases();

 private:
  class Impl;
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::scheduler

#endif  // SSLAB_SCHEDULER_SCHEDULER_H_
