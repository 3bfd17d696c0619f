// Domain records stored by sslab's database: sweeps, runs, jobs, checkpoints,
// features, probe results, metrics and workers. Plain values; no SQLite types.
//
// Ids are positive int64 values assigned by the database. Times are absl::Time
// (stored with millisecond precision). JSON columns are opaque strings to
// storage: their owners (the scheduler, services) define their contents.
#ifndef SSLAB_STORAGE_TYPES_H_
#define SSLAB_STORAGE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sslab::storage {

// Lifecycle of a run, derived by the scheduler from its jobs.
enum class RunState { kPending, kRunning, kSucceeded, kFailed, kCancelled };

enum class JobKind { kTrain, kExtract, kProbe };

// kPending: waiting for inputs; kRunnable: in the queue; kRunning: leased to
// a worker (the lease may be renewed by heartbeats); the rest are final.
enum class JobState {
  kPending,
  kRunnable,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled
};

// What a job needs to run on.
enum class DeviceKind { kCpu, kGpu };

// Upper-case names as stored in the database ("PENDING", "TRAIN", "GPU", ...).
absl::string_view RunStateName(RunState state);
absl::string_view JobKindName(JobKind kind);
absl::string_view JobStateName(JobState state);
absl::string_view DeviceKindName(DeviceKind kind);
// Parse the names above (case-insensitive); nullopt for anything else.
std::optional<RunState> ParseRunState(absl::string_view name);
std::optional<JobKind> ParseJobKind(absl::string_view name);
std::optional<JobState> ParseJobState(absl::string_view name);
std::optional<DeviceKind> ParseDeviceKind(absl::string_view name);

// True for SUCCEEDED, FAILED, CANCELLED.
bool IsFinal(RunState state);
bool IsFinal(JobState state);

struct Sweep {
  int64_t id = 0;
  std::string name;
  // Description of the grid (opaque; for display).
  std::string grid_json = "{}";
  absl::Time created_at;
};

struct Run {
  int64_t id = 0;
  std::string name;
  std::optional<int64_t> sweep_id;
  RunState state = RunState::kPending;
  std::string method;
  std::string architecture;
  int width = 1;
  // The full expanded run config (opaque to storage and the scheduler).
  std::string config_json = "{}";
  // The evaluation plan, owned by the scheduler (opaque to storage).
  std::string plan_json = "{}";
  // Versions of the code/protocol that created the run (opaque).
  std::string versions_json = "{}";
  // Larger runs first.
  int priority = 0;
  absl::Time created_at;
  absl::Time updated_at;
  // Why the run failed (the failing job's last error); empty otherwise.
  std::string error;
};

struct Job {
  int64_t id = 0;
  int64_t run_id = 0;
  JobKind kind = JobKind::kTrain;
  JobState state = JobState::kPending;
  // The checkpoint an EXTRACT or PROBE job evaluates; unset for TRAIN.
  std::optional<int64_t> checkpoint_id;
  // Larger first; ties go to the older job (smaller id): priority then FIFO.
  int priority = 0;
  // Number of times the job was leased.
  int attempts = 0;
  int max_attempts = 3;
  DeviceKind device = DeviceKind::kCpu;
  // The worker holding (or, once the job is final, last holding) the lease.
  std::optional<int64_t> lease_worker_id;
  // The device the lease occupies ("cpu", "cuda:0").
  std::string lease_device;
  // Set while a lease is held; unset once released.
  std::optional<absl::Time> lease_expiry;
  // What the worker needs (inputs); owned by the scheduler.
  std::string payload_json = "{}";
  // 0..1, reported by heartbeats.
  double progress = 0;
  std::string last_error;
  absl::Time created_at;
  absl::Time updated_at;
};

struct Checkpoint {
  int64_t id = 0;
  int64_t run_id = 0;
  int epoch = 0;
  int64_t step = 0;
  std::string path;
  std::string sha256;
  int64_t bytes = 0;
  // Pretext metrics at this checkpoint (opaque JSON object).
  std::string metrics_json = "{}";
  // The last checkpoint of training.
  bool is_final = false;
  absl::Time created_at;
};

// One shard of precomputed features: one layer of one split of a checkpoint.
struct Feature {
  int64_t id = 0;
  int64_t checkpoint_id = 0;
  std::string layer;
  std::string split;  // "train", "val", "test"
  std::string path;
  std::string sha256;
  int64_t rows = 0;
  int64_t dims = 0;
  absl::Time created_at;
};

// Accuracy of one probe on one layer of one checkpoint, on one split.
struct Result {
  int64_t id = 0;
  int64_t checkpoint_id = 0;
  std::string layer;
  std::string probe_kind;       // e.g. "linear", "mlp"
  double label_fraction = 1.0;  // (0, 1]
  std::string split;
  double top1 = 0;
  double top5 = 0;
  std::string hyperparameters_json = "{}";
  absl::Time created_at;
};

// A Result joined with what identifies its run, for result tables.
struct ResultRow {
  Result result;
  int64_t run_id = 0;
  std::string run_name;
  std::optional<int64_t> sweep_id;
  std::string method;
  std::string architecture;
  int width = 1;
  int epoch = 0;
};

struct Metric {
  int64_t step = 0;
  std::string name;
  double value = 0;
};

struct Worker {
  int64_t id = 0;
  // Unique: registering the same name again updates the worker in place.
  std::string name;
  std::vector<JobKind> kinds;
  // Device ids it has: "cpu", "cuda:0", "cuda:1", ...
  std::vector<std::string> devices;
  absl::Time registered_at;
  absl::Time last_heartbeat;
};

// ListRuns filter; unset fields match everything.
struct RunFilter {
  std::optional<RunState> state;
  std::optional<std::string> method;
  std::optional<std::string> architecture;
  std::optional<int64_t> sweep_id;
};

// QueryResults filter; unset fields match everything.
struct ResultFilter {
  std::optional<int64_t> run_id;
  std::optional<int64_t> sweep_id;
  std::optional<std::string> layer;
  std::optional<std::string> probe_kind;
};

}  // namespace sslab::storage

#endif  // SSLAB_STORAGE_TYPES_H_
