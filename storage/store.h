// sslab's database: a SQLite file in WAL mode holding sweeps, runs, jobs,
// checkpoints, features, results, metrics and workers (storage/types.h).
//
// Opening a file applies the numbered, forward-only migrations (tracked by
// PRAGMA user_version); a file written by newer code is refused. Every write
// runs in a transaction and every statement is prepared with bound
// parameters. The scheduler process is the only one that opens the database.
// Durability: WAL with synchronous=NORMAL, so a committed write survives a
// process crash; a power loss may roll back the last commits, never corrupt.
//
// Thread-safety: a Store is thread-safe; one connection is guarded by an
// internal mutex. InTransaction() holds that mutex for its whole body, so
// calls made from inside the body (same thread) join the transaction, while
// other threads wait.
//
// Failure contract of every method: NOT_FOUND for an unknown id (the message
// names the kind of record and the id); FAILED_PRECONDITION when a referenced
// row is missing (foreign key) or a unique key is taken; INVALID_ARGUMENT when
// a value breaks a CHECK constraint (width < 1, a PROBE job without its
// target, ...); DATA_LOSS for a row holding a value this code cannot read;
// UNAVAILABLE when the file stayed locked past busy_timeout; DATA_LOSS for a
// corrupt file; INTERNAL otherwise. Messages never contain SQL text.
#ifndef SSLAB_STORAGE_STORE_H_
#define SSLAB_STORAGE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/types.h"

namespace sslab::storage {

struct StoreOptions {
  // How long a statement waits for a lock held by another connection before
  // failing with UNAVAILABLE. Default: 5 s.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Holds an exclusive advisory lock (flock on "<path>.lock") while open, so
  // a second opener (another scheduler, in any process) is refused with
  // FAILED_PRECONDITION instead of racing this one. Default: true.
  bool exclusive = true;
  // Runs PRAGMA quick_check when opening, so a damaged file stops the
  // scheduler with DATA_LOSS at start, not on some later query. Default:
  // true (0.4 s for a 160 MB file, 3M rows, on the 2-core development box).
  bool check_integrity = true;
  // Points kept per metric series (run, name): beyond it, every other point
  // of the older half is dropped. Default: 10,000 (a heartbeat every 10 s
  // for 28 h before any thinning).
  int64_t max_metric_points = 10000;
};

class Store {
 public:
  // The schema version this code writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 7;

  // Opens (creating if missing) the database at `path` and migrates it to
  // kSchemaVersion. Returns FAILED_PRECONDITION if the file's user_version is
  // newer than kSchemaVersion or (with `exclusive`) another Store holds it,
  // DATA_LOSS if it is not a SQLite database or fails its integrity check,
  // and INTERNAL (naming the path) if it cannot be opened.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& path, const StoreOptions& options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `body` in one IMMEDIATE transaction: commits if it returns OK, rolls
  // back every write made inside it otherwise and returns its status. Calls
  // nested in `body` on the same thread join the outer transaction.
  absl::Status InTransaction(absl::FunctionRef<absl::Status()> body);

  // The runs written to since the last call (their row, jobs, checkpoints,
  // metrics, pins or deletion), for watchers of one run; `all` when a write
  // could not name its run (features, results, deletions by id). A write
  // that was rolled back may be included: a spurious change, never a
  // missed one.
  struct ChangedRuns {
    std::set<int64_t> runs;
    bool all = false;
  };
  ChangedRuns TakeChangedRuns();

  // The file's user_version after Open (kSchemaVersion).
  int schema_version() const;

  // Writes a consistent copy of the database to `path` while it stays in use
  // (other processes' writes go on), atomically: a temporary file, checked
  // with PRAGMA quick_check, then renamed over `path`. For backups of a
  // running scheduler: open a second, non-exclusive Store on its file.
  absl::Status Backup(const std::string& path);

  // Create* and Upsert* ignore the record's id and return the stored one;
  // callers set the timestamps (created_at, updated_at).

  // Sweeps.
  absl::StatusOr<int64_t> CreateSweep(const Sweep& sweep);
  absl::StatusOr<Sweep> GetSweep(int64_t id);
  // Newest first (descending id), only ids below `before_id` when set, at
  // most `limit`, with their run counts.
  absl::StatusOr<std::vector<SweepSummary>> ListSweeps(
      std::optional<int64_t> before_id, int limit);

  // Runs.
  absl::StatusOr<int64_t> CreateRun(const Run& run);
  absl::StatusOr<Run> GetRun(int64_t id);
  // Writes state, error, priority and updated_at of an existing run.
  absl::Status UpdateRun(const Run& run);
  // Writes the probe kinds and label fractions of a run's evaluation plan
  // (Scheduler::AddProbes widens them); the rest of the config never
  // changes.
  absl::Status SetRunProbes(
      int64_t run_id, const std::vector<experiment::ProbeKind>& probe_kinds,
      const std::vector<double>& label_fractions);
  // Runs matching `filter`, newest first (descending id), only ids below
  // `before_id` when set, at most `limit`.
  absl::StatusOr<std::vector<Run>> ListRuns(const RunFilter& filter,
                                            std::optional<int64_t> before_id,
                                            int limit);
  // Ids of runs not in a final state, ascending.
  absl::StatusOr<std::vector<int64_t>> ListActiveRunIds();
  // How many runs are in each state (states without runs are absent).
  absl::StatusOr<std::map<RunState, int64_t>> CountRuns();

  // Jobs.
  absl::StatusOr<int64_t> CreateJob(const Job& job);
  absl::StatusOr<Job> GetJob(int64_t id);
  // Writes every mutable field of an existing job (all but id, run_id, kind,
  // checkpoint_id, device, created_at).
  absl::Status UpdateJob(const Job& job);
  // Jobs of a run, ascending id.
  absl::StatusOr<std::vector<Job>> ListJobs(int64_t run_id);
  // The same for many runs in one query; runs without jobs are absent.
  absl::StatusOr<std::map<int64_t, std::vector<Job>>> ListJobsOfRuns(
      const std::vector<int64_t>& run_ids);
  // RUNNABLE jobs whose (kind, device request) is in `fits`, in queue
  // order (priority descending, then id ascending), at most `limit`.
  absl::StatusOr<std::vector<Job>> ListRunnableJobs(
      const std::set<JobFit>& fits, int limit);
  // How many jobs there are of each kind in each state.
  absl::StatusOr<std::map<std::pair<JobKind, JobState>, int64_t>> CountJobs();
  // Jobs holding a lease (lease_expiry set), optionally of one worker only.
  absl::StatusOr<std::vector<Job>> ListLeasedJobs(
      std::optional<int64_t> worker_id = std::nullopt);

  // Checkpoints. Upsert is keyed by (run_id, epoch): registering the same
  // epoch again updates the row and returns its id.
  absl::StatusOr<int64_t> UpsertCheckpoint(const Checkpoint& checkpoint);
  absl::StatusOr<Checkpoint> GetCheckpoint(int64_t id);
  // Ascending epoch; when `after_id` is set, only the epochs after that
  // checkpoint's (NOT_FOUND if there is none); at most `limit` (negative:
  // all).
  absl::StatusOr<std::vector<Checkpoint>> ListCheckpoints(
      int64_t run_id, std::optional<int64_t> after_id = std::nullopt,
      int limit = -1);

  // Features, keyed by (checkpoint_id, layer, split).
  absl::StatusOr<int64_t> UpsertFeature(const Feature& feature);
  // Ordered by layer, then split.
  absl::StatusOr<std::vector<Feature>> ListFeatures(int64_t checkpoint_id);

  // Artifact lifecycle. A deleted checkpoint or feature keeps its row
  // (results refer to it) with deleted_at set; registering it again (the
  // same key) clears that.
  absl::Status SetRunPinned(int64_t run_id, bool pinned);
  absl::Status MarkCheckpointDeleted(int64_t id, absl::Time at);
  absl::Status MarkFeatureDeleted(int64_t id, absl::Time at);
  // Checkpoints and feature shards of the run not deleted, and their bytes.
  absl::StatusOr<DiskUsage> RunDiskUsage(int64_t run_id);
  // The same for many runs in one query (every id has an entry).
  absl::StatusOr<std::map<int64_t, DiskUsage>> DiskUsageOfRuns(
      const std::vector<int64_t>& run_ids);
  // Runs with a checkpoint not deleted (only those can have artifacts),
  // ascending.
  absl::StatusOr<std::vector<int64_t>> ListRunIdsWithArtifacts();
  // Deletes the run and every row of it: jobs, checkpoints, features,
  // results, metrics. NOT_FOUND for an unknown run. (A sweep keeps its
  // other runs.)
  absl::Status DeleteRun(int64_t run_id);

  // Results, keyed by (checkpoint_id, layer, probe_kind, label_fraction,
  // split).
  absl::StatusOr<int64_t> UpsertResult(const Result& result);
  // Ordered by run id, epoch, layer, probe kind, label fraction, split;
  // when `after_id` is set, only the rows after that result in this order
  // (NOT_FOUND if there is none); at most `limit` (negative: all).
  absl::StatusOr<std::vector<ResultRow>> QueryResults(
      const ResultFilter& filter,
      std::optional<int64_t> after_id = std::nullopt, int limit = -1);

  // Metrics: appended, each series (run, name) thinned to at most
  // StoreOptions::max_metric_points.
  absl::Status AppendMetrics(int64_t run_id, const std::vector<Metric>& metrics,
                             absl::Time now);
  // Ordered by name, then step; all names when `name` is unset.
  absl::StatusOr<std::vector<Metric>> ListMetrics(
      int64_t run_id, std::optional<std::string> name = std::nullopt);
  // The most recent value of each metric name of a run (largest step, then
  // latest written), ordered by name.
  absl::StatusOr<std::vector<Metric>> LatestMetrics(int64_t run_id);
  // The same for many runs in one query; runs without metrics are absent.
  absl::StatusOr<std::map<int64_t, std::vector<Metric>>> LatestMetricsOfRuns(
      const std::vector<int64_t>& run_ids);

  // Workers. Upsert is keyed by name: an existing worker keeps its id and
  // registered_at and gets the new kinds, devices and last_heartbeat.
  absl::StatusOr<Worker> UpsertWorker(const Worker& worker);
  absl::StatusOr<Worker> GetWorker(int64_t id);
  // Registered workers, ascending id, only ids above `after_id` when set, at
  // most `limit` (negative: all).
  absl::StatusOr<std::vector<Worker>> ListWorkers(
      std::optional<int64_t> after_id = std::nullopt, int limit = -1);
  absl::Status TouchWorker(int64_t id, absl::Time now);

 private:
  class Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  // Sets deleted_ms of the checkpoint or feature ("checkpoint" / "feature").
  absl::Status MarkDeleted(absl::string_view kind, int64_t id, absl::Time at);
  // Drops every other point of the older half of one series.
  absl::Status ThinMetricSeries(int64_t run_id, const std::string& name);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sslab::storage

#endif  // SSLAB_STORAGE_STORE_H_
