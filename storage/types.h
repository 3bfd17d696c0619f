// Records stored by sslab's database: sweeps, runs, jobs, checkpoints,
// features, probe results, metrics and workers. Plain values in the types of
// the experiment model (experiment/); no SQLite types.
//
// Ids are positive int64 values assigned by the database. Times are absl::Time
// (stored with millisecond precision).
#ifndef SSLAB_STORAGE_TYPES_H_
#define SSLAB_STORAGE_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "experiment/device.h"
#include "experiment/job_graph.h"
#include "experiment/run_config.h"
#include "experiment/sweep.h"
#include "experiment/vocabulary.h"

namespace sslab::storage {

using experiment::DeviceRequest;
using experiment::JobKind;
using experiment::JobState;
using experiment::RunState;

struct Sweep {
  int64_t id = 0;
  std::string name;
  experiment::SweepGrid grid;
  absl::Time created_at;
};

// A sweep with how many of its runs there are and have succeeded.
struct SweepSummary {
  Sweep sweep;
  int64_t runs = 0;
  int64_t succeeded = 0;
};

struct Run {
  int64_t id = 0;
  std::string name;
  std::optional<int64_t> sweep_id;
  RunState state = RunState::kPending;
  // The complete configuration, stored in typed columns.
  experiment::RunConfig config;
  // Versions of what created the run (e.g. "sslab" -> "0.1.0").
  std::map<std::string, std::string> versions;
  // Larger runs first; every job of the run inherits it.
  int priority = 0;
  // Leases per job before it fails for good (>= 1).
  int max_attempts = 3;
  absl::Time created_at;
  absl::Time updated_at;
  // Why the run failed (the failing job's last error); empty otherwise.
  std::string error;
  // Retention keeps every artifact of a pinned run (Store::SetRunPinned).
  bool pinned = false;
};

struct Job {
  int64_t id = 0;
  int64_t run_id = 0;
  JobKind kind = JobKind::kTrain;
  JobState state = JobState::kPending;
  // The checkpoint an EXTRACT or PROBE job evaluates; unset for TRAIN.
  std::optional<int64_t> checkpoint_id;
  // PROBE jobs: what they train; unset for the other kinds.
  std::optional<experiment::ProbeTarget> probe;
  // Larger first; ties go to the older job (smaller id): priority then FIFO.
  int priority = 0;
  // Number of times the job was leased.
  int attempts = 0;
  int max_attempts = 3;
  // The device the job asks for: kAuto = a GPU when one is free, else the
  // CPU.
  DeviceRequest device = DeviceRequest::kCpu;
  // The worker holding (or, once the job is final, last holding) the lease.
  std::optional<int64_t> lease_worker_id;
  // The device the lease occupies (or last occupied).
  std::optional<experiment::DeviceId> lease_device;
  // A gang lease (a TRAIN job of a run with devices_per_run > 1): the device
  // of each rank, rank 0's (= lease_device) first. Empty otherwise.
  std::vector<experiment::DeviceId> lease_gang;
  // Set while a lease is held; unset once released.
  std::optional<absl::Time> lease_expiry;
  // Lower-case hex SHA-256 of the token of the job's latest lease (empty
  // before any): every call of that attempt must present the token.
  std::string lease_token_sha256;
  // 0..1, reported by heartbeats.
  double progress = 0;
  std::string last_error;
  // What ran the latest attempt: the worker's build, "worker" (its name) and
  // "device" (the leased device as the worker described it).
  std::map<std::string, std::string> lineage;
  absl::Time created_at;
  absl::Time updated_at;
};

// A kind of job and a device request a lease can serve (ListRunnableJobs).
using JobFit = std::pair<JobKind, DeviceRequest>;

struct Checkpoint {
  int64_t id = 0;
  int64_t run_id = 0;
  int epoch = 0;
  int64_t step = 0;
  // Relative to the artifact directory.
  std::string path;
  std::string sha256;
  int64_t bytes = 0;
  // Pretext metrics at this checkpoint (e.g. "loss", "pretext_top1").
  std::map<std::string, double> metrics;
  // The last checkpoint of training.
  bool is_final = false;
  absl::Time created_at;
  // When retention deleted the file; the record stays (results refer to it).
  std::optional<absl::Time> deleted_at;
};

// One shard of precomputed features: one layer of one split of a checkpoint.
struct Feature {
  int64_t id = 0;
  int64_t checkpoint_id = 0;
  std::string layer;
  experiment::Split split = experiment::Split::kTrain;
  std::string path;
  std::string sha256;
  int64_t rows = 0;
  int64_t dims = 0;
  // File size (rows * dims * 4 estimated for shards registered before
  // schema 6).
  int64_t bytes = 0;
  absl::Time created_at;
  // When retention deleted the file.
  std::optional<absl::Time> deleted_at;
};

// What a run's artifacts not yet deleted take on disk.
struct DiskUsage {
  int checkpoints = 0;
  int64_t checkpoint_bytes = 0;
  int feature_shards = 0;
  int64_t feature_bytes = 0;
};

// Accuracy of one probe on one layer of one checkpoint, on one split.
struct Result {
  int64_t id = 0;
  int64_t checkpoint_id = 0;
  experiment::ProbeTarget target;
  experiment::Split split = experiment::Split::kTest;
  double top1 = 0;
  double top5 = 0;
  // Chosen hyper-parameters (e.g. "l2" -> "0.0001").
  std::map<std::string, std::string> hyperparameters;
  absl::Time created_at;
};

// A Result joined with what identifies its run, for result tables.
struct ResultRow {
  Result result;
  int64_t run_id = 0;
  std::string run_name;
  std::optional<int64_t> sweep_id;
  experiment::Method method = experiment::Method::kRotation;
  experiment::Architecture architecture = experiment::Architecture::kResNet50V2;
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
  // As the worker found them at startup.
  std::vector<experiment::DeviceInfo> devices;
  // What the worker runs: "sslab", "git", "libtorch", "cuda", "cudnn",
  // "host" (as it reported them at registration).
  std::map<std::string, std::string> build;
  absl::Time registered_at;
  absl::Time last_heartbeat;
};

// ListRuns filter; unset fields match everything.
struct RunFilter {
  std::optional<RunState> state;
  std::optional<experiment::Method> method;
  std::optional<experiment::Architecture> architecture;
  std::optional<int64_t> sweep_id;
};

// QueryResults filter; unset fields match everything.
struct ResultFilter {
  std::optional<int64_t> run_id;
  std::optional<int64_t> sweep_id;
  std::optional<std::string> layer;
  std::optional<experiment::ProbeKind> probe_kind;
};

}  // namespace sslab::storage

#endif  // SSLAB_STORAGE_TYPES_H_
