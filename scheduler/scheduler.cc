#include "scheduler/scheduler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "scheduler/internal/job_graph.h"
#include "scheduler/internal/leases.h"
#include "scheduler/internal/retention.h"

namespace sslab::scheduler {

using experiment::DeviceId;
using experiment::JobKind;
using experiment::JobState;
using experiment::RunState;
using storage::Job;
using storage::Run;

namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// Metric names are short identifiers: they become Prometheus label values,
// chart legends and table columns.
absl::Status CheckMetricName(const std::string& name) {
  if (name.empty() || name.size() > kMaxMetricNameLength) {
    return Invalid("metrics",
                   absl::StrCat("a metric name must have 1 to ",
                                kMaxMetricNameLength, " characters"));
  }
  for (char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_' &&
        ch != '.' && ch != '-') {
      return Invalid("metrics",
                     absl::StrCat("metric name \"", name.substr(0, 64),
                                  "\": only letters, digits, '_', '.', '-'"));
    }
  }
  return absl::OkStatus();
}

// Lineage entries are copied into every job record: few and short.
absl::Status CheckLineage(const std::map<std::string, std::string>& entries,
                          absl::string_view field, size_t max_entries) {
  if (entries.size() > max_entries) {
    return Invalid(field, absl::StrCat("at most ", max_entries,
                                       " entries, got ", entries.size()));
  }
  for (const auto& [key, value] : entries) {
    if (key.empty() || key.size() > kMaxMetricNameLength ||
        value.size() > kMaxLineageValueLength) {
      return Invalid(field, absl::StrCat("entry \"", key.substr(0, 64),
                                         "\" is empty or too long"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckName(const std::string& name, absl::string_view field) {
  if (name.size() > static_cast<size_t>(experiment::kMaxNameLength)) {
    return Invalid(field,
                   absl::StrCat("longer than ", experiment::kMaxNameLength,
                                " characters"));
  }
  return absl::OkStatus();
}

// Finite values only: SQLite stores NaN as NULL.
std::map<std::string, double> FiniteOnly(
    const std::map<std::string, double>& metrics) {
  std::map<std::string, double> out;
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) out[name] = value;
  }
  return out;
}

// A page request: at most `limit` rows after the row with id `last` (when
// set) in the list's order.
struct PageRequest {
  int limit = 0;
  std::optional<int64_t> last;
};

// page_size 0 means the default, larger sizes are clamped; a token is the id
// of the row the previous page ended at.
absl::StatusOr<PageRequest> ParsePage(int page_size,
                                      const std::string& page_token,
                                      const SchedulerOptions& options) {
  if (page_size < 0) {
    return Invalid("page_size", absl::StrCat("must be >= 0, got ", page_size));
  }
  PageRequest request;
  request.limit = page_size == 0 ? options.default_page_size
                                 : std::min(page_size, options.max_page_size);
  if (!page_token.empty()) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(page_token, &id) || id < 1) {
      return Invalid("page_token", "is not a token this list returned");
    }
    request.last = id;
  }
  return request;
}

// `rows` (read with one row to spare) cut to `limit`, with the next page's
// token, or "" when this is the last page.
template <typename Row, typename IdOf>
Page<Row> ToPage(std::vector<Row> rows, int limit, IdOf id_of) {
  Page<Row> page;
  if (static_cast<int>(rows.size()) > limit) {
    rows.resize(limit);
    page.next_page_token = absl::StrCat(id_of(rows.back()));
  }
  page.rows = std::move(rows);
  return page;
}

// A token naming a row that is gone (or never was) is the caller's error.
absl::Status TokenError(const absl::Status& status) {
  if (absl::IsNotFound(status)) {
    return Invalid("page_token", "is not a token this list returned");
  }
  return status;
}

// At most `max_points` points: each the mean of a run of consecutive
// points, at the run's last step (so the last point stays the last).
std::vector<storage::Metric> Downsample(std::vector<storage::Metric> points,
                                        int max_points) {
  const size_t n = points.size();
  if (n <= static_cast<size_t>(max_points)) return points;
  std::vector<storage::Metric> out;
  out.reserve(max_points);
  for (int b = 0; b < max_points; ++b) {
    const size_t begin = n * b / max_points;
    const size_t end = n * (b + 1) / max_points;
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += points[i].value;
    storage::Metric m = points[end - 1];
    m.value = sum / static_cast<double>(end - begin);
    out.push_back(std::move(m));
  }
  return out;
}

Artifact CheckpointArtifact(const storage::Checkpoint& c) {
  Artifact a;
  a.kind = Artifact::Kind::kCheckpoint;
  a.run_id = c.run_id;
  a.epoch = c.epoch;
  a.path = c.path;
  a.bytes = c.bytes;
  return a;
}

Artifact FeatureArtifact(const storage::Feature& f,
                         const storage::Checkpoint& of) {
  Artifact a;
  a.kind = Artifact::Kind::kFeatures;
  a.run_id = of.run_id;
  a.epoch = of.epoch;
  a.layer = f.layer;
  a.split = f.split;
  a.path = f.path;
  a.bytes = f.bytes;
  return a;
}

}  // namespace

class Scheduler::Impl {
 public:
  Impl(std::unique_ptr<storage::Store> store, Clock* clock,
       const SchedulerOptions& options)
      : store(std::move(store)),
        clock(clock),
        options(options),
        graph(this->store.get(), clock, &stats),
        leases(this->store.get(), clock, &graph, options.lease_duration,
               &stats) {}

  std::unique_ptr<storage::Store> store;
  Clock* const clock;
  const SchedulerOptions options;
  SchedulerStats stats;  // guarded by mu
  internal::JobGraph graph;
  internal::Leases leases;

  // Serialises every call: each is read-check-write on the store.
  mutable std::mutex mu;

  std::mutex watch_mu;
  std::condition_variable watch_cv;
  std::atomic<uint64_t> version{1};
  bool shutdown = false;  // guarded by watch_mu
  // The runs some RunWatch is on; guarded by watch_mu.
  struct WatchedRun {
    uint64_t version = 0;
    int watches = 0;
    std::condition_variable cv;
  };
  std::map<int64_t, WatchedRun> watched;

  // After a commit: bumps the version, and wakes the watches of the runs the
  // store says were written (all of them when it cannot say).
  void Bump() {
    const storage::Store::ChangedRuns changed = store->TakeChangedRuns();
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      version.fetch_add(1);
      auto wake = [](WatchedRun& w) {
        ++w.version;
        w.cv.notify_all();
      };
      if (changed.all) {
        for (auto& [id, w] : watched) wake(w);
      } else {
        for (int64_t id : changed.runs) {
          if (auto it = watched.find(id); it != watched.end()) wake(it->second);
        }
      }
    }
    watch_cv.notify_all();
  }

  // Runs `body` in one store transaction and bumps the version when it
  // committed.
  absl::Status Mutate(absl::FunctionRef<absl::Status()> body) {
    absl::Status status = store->InTransaction(body);
    if (status.ok()) Bump();
    return status;
  }

  // Releases every lease that ran out, in its own transaction.
  absl::StatusOr<int> ExpireLeasesLocked() {
    int expired = 0;
    SSLAB_RETURN_IF_ERROR(store->InTransaction([&]() -> absl::Status {
      SSLAB_ASSIGN_OR_RETURN(expired, leases.ExpireDue());
      return absl::OkStatus();
    }));
    if (expired > 0) Bump();
    return expired;
  }

  absl::StatusOr<Run> GetRun(int64_t run_id) {
    absl::StatusOr<Run> run = store->GetRun(run_id);
    if (absl::IsNotFound(run.status())) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
    }
    return run;
  }

  absl::StatusOr<storage::Sweep> GetSweep(int64_t sweep_id) {
    absl::StatusOr<storage::Sweep> sweep = store->GetSweep(sweep_id);
    if (absl::IsNotFound(sweep.status())) {
      return absl::NotFoundError(
          absl::StrCat("sweep ", sweep_id, " not found"));
    }
    return sweep;
  }

  // The workers as monitoring sees them: alive or not, with their leases.
  absl::StatusOr<std::vector<WorkerInfo>> DescribeWorkers(
      std::vector<storage::Worker> workers);

  // Runs a job of which ended (or that were cancelled) since the last
  // CollectGarbageOfChangedRuns. Only these are collected automatically:
  // what was there before this process started waits for `sslab gc`.
  std::set<int64_t> changed_runs;  // guarded by mu

  // A run's checkpoints (deleted ones too) and the features of those not
  // deleted, by checkpoint id.
  absl::Status ReadArtifacts(
      int64_t run_id, std::vector<storage::Checkpoint>* checkpoints,
      std::map<int64_t, std::vector<storage::Feature>>* features) {
    SSLAB_ASSIGN_OR_RETURN(*checkpoints, store->ListCheckpoints(run_id));
    for (const storage::Checkpoint& c : *checkpoints) {
      if (c.deleted_at) continue;
      SSLAB_ASSIGN_OR_RETURN((*features)[c.id], store->ListFeatures(c.id));
    }
    return absl::OkStatus();
  }

  // Retention over the runs `run_ids` (unknown ones skipped): appends what
  // it no longer needs to `out` and, unless `dry_run`, marks it deleted, in
  // one transaction. Bumps the version when it marked anything.
  absl::Status Collect(const std::vector<int64_t>& run_ids, bool dry_run,
                       std::vector<Artifact>* out) {
    const absl::Time now = clock->Now();
    SSLAB_RETURN_IF_ERROR(store->InTransaction([&]() -> absl::Status {
      for (int64_t run_id : run_ids) {
        absl::StatusOr<Run> run = store->GetRun(run_id);
        if (absl::IsNotFound(run.status())) continue;  // deleted meanwhile
        SSLAB_RETURN_IF_ERROR(run.status());
        SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, store->ListJobs(run_id));
        std::vector<storage::Checkpoint> checkpoints;
        std::map<int64_t, std::vector<storage::Feature>> features;
        SSLAB_RETURN_IF_ERROR(ReadArtifacts(run_id, &checkpoints, &features));
        const internal::Unneeded unneeded = internal::FindUnneeded(
            *run, jobs, checkpoints, features, options.retention);
        for (const storage::Checkpoint& c : unneeded.checkpoints) {
          out->push_back(CheckpointArtifact(c));
          if (!dry_run) {
            SSLAB_RETURN_IF_ERROR(store->MarkCheckpointDeleted(c.id, now));
          }
        }
        for (const storage::Feature& f : unneeded.features) {
          const auto of = std::find_if(checkpoints.begin(), checkpoints.end(),
                                       [&](const storage::Checkpoint& c) {
                                         return c.id == f.checkpoint_id;
                                       });
          out->push_back(FeatureArtifact(f, *of));
          if (!dry_run) {
            SSLAB_RETURN_IF_ERROR(store->MarkFeatureDeleted(f.id, now));
          }
        }
      }
      return absl::OkStatus();
    }));
    if (!dry_run && !out->empty()) Bump();
    return absl::OkStatus();
  }

  // A run as submitted, before it is stored.
  Run NewRun(std::string name, experiment::RunConfig config, int priority,
             std::optional<int64_t> sweep_id) const {
    Run run;
    run.name =
        name.empty() ? experiment::DefaultRunName(config) : std::move(name);
    run.sweep_id = sweep_id;
    run.config = std::move(config);
    run.versions = options.versions;
    run.priority = priority;
    run.max_attempts = options.max_attempts;
    return run;
  }
};

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scheduler::~Scheduler() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    std::unique_ptr<storage::Store> store, Clock* clock,
    const SchedulerOptions& options) {
  if (store == nullptr) return absl::InvalidArgumentError("store: is null");
  if (clock == nullptr) return absl::InvalidArgumentError("clock: is null");
  if (options.lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("lease_duration: must be positive");
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts: must be >= 1");
  }
  if (options.default_page_size < 1 ||
      options.max_page_size < options.default_page_size) {
    return absl::InvalidArgumentError(
        "default_page_size: must be in [1, max_page_size]");
  }
  auto impl = std::make_unique<Impl>(std::move(store), clock, options);
  {
    // Recovery: leases that ran out while we were down are expired now;
    // live ones stay with their workers. Run states are re-derived.
    std::lock_guard<std::mutex> lock(impl->mu);
    SSLAB_ASSIGN_OR_RETURN(int expired, impl->ExpireLeasesLocked());
    SSLAB_ASSIGN_OR_RETURN(std::vector<int64_t> active,
                           impl->store->ListActiveRunIds());
    SSLAB_RETURN_IF_ERROR(impl->store->InTransaction([&]() -> absl::Status {
      for (int64_t id : active) {
        SSLAB_RETURN_IF_ERROR(impl->graph.RecomputeRunState(id));
      }
      return absl::OkStatus();
    }));
    SSLAB_LOG(INFO) << "scheduler recovered: " << active.size()
                    << " unfinished runs, " << expired << " expired leases";
  }
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

const SchedulerOptions& Scheduler::options() const { return impl_->options; }

// ---- Experiments ----

absl::StatusOr<int64_t> Scheduler::SubmitRun(const RunRequest& request) {
  SSLAB_RETURN_IF_ERROR(CheckName(request.name, "name"));
  experiment::RunSpec spec = request.config;
  if (!spec.seed) spec.seed = experiment::FreshSeed();
  SSLAB_ASSIGN_OR_RETURN(experiment::RunConfig config,
                         experiment::ExpandRunSpec(spec, "config."));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t run_id = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(run_id, impl_->graph.CreateRun(impl_->NewRun(
                                       request.name, std::move(config),
                                       request.priority, std::nullopt)));
    return absl::OkStatus();
  }));
  return run_id;
}

absl::StatusOr<SweepSubmission> Scheduler::SubmitSweep(
    const SweepRequest& request) {
  // One fresh seed for the whole grid: its runs differ only in their axes.
  experiment::SweepSpec spec = request.sweep;
  if (!spec.base.seed && spec.grid.seeds.empty()) {
    spec.base.seed = experiment::FreshSeed();
  }
  SSLAB_ASSIGN_OR_RETURN(std::vector<experiment::SweepRun> runs,
                         experiment::ExpandSweep(spec));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  SweepSubmission out;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    storage::Sweep sweep;
    sweep.name = request.sweep.name;
    sweep.grid = request.sweep.grid;
    sweep.created_at = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(out.sweep_id, impl_->store->CreateSweep(sweep));
    out.run_ids.clear();
    for (experiment::SweepRun& point : runs) {
      SSLAB_ASSIGN_OR_RETURN(int64_t id,
                             impl_->graph.CreateRun(impl_->NewRun(
                                 std::move(point.name), std::move(point.config),
                                 request.priority, out.sweep_id)));
      out.run_ids.push_back(id);
    }
    return absl::OkStatus();
  }));
  return out;
}

namespace {

// The status of each of `runs`, in their order, with one query per table.
absl::StatusOr<std::vector<RunStatus>> LoadStatuses(storage::Store& store,
                                                    std::vector<Run> runs) {
  std::vector<int64_t> ids;
  for (const Run& run : runs) ids.push_back(run.id);
  SSLAB_ASSIGN_OR_RETURN(auto jobs, store.ListJobsOfRuns(ids));
  SSLAB_ASSIGN_OR_RETURN(auto disk, store.DiskUsageOfRuns(ids));
  SSLAB_ASSIGN_OR_RETURN(auto metrics, store.LatestMetricsOfRuns(ids));
  std::vector<RunStatus> out;
  out.reserve(runs.size());
  for (Run& run : runs) {
    RunStatus& status = out.emplace_back();
    const int64_t id = run.id;
    status.run = std::move(run);
    status.job_list = std::move(jobs[id]);
    status.jobs = internal::CountJobs(status.job_list);
    for (const Job& j : status.job_list) {
      if (j.kind == JobKind::kTrain) status.train_progress = j.progress;
    }
    status.disk = disk[id];
    for (const storage::Metric& m : metrics[id]) {
      status.step = std::max(status.step, m.step);
      if (m.name == "epoch") {
        status.epoch = static_cast<int64_t>(m.value);
      } else {
        status.latest_metrics[m.name] = m.value;
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<RunStatus> Scheduler::GetRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(Run run, impl_->GetRun(run_id));
  SSLAB_ASSIGN_OR_RETURN(std::vector<RunStatus> statuses,
                         LoadStatuses(*impl_->store, {std::move(run)}));
  return std::move(statuses.front());
}

absl::StatusOr<storage::Sweep> Scheduler::GetSweep(int64_t sweep_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->GetSweep(sweep_id);
}

absl::StatusOr<Page<RunStatus>> Scheduler::ListRuns(
    const storage::RunFilter& filter, int page_size,
    const std::string& page_token) {
  SSLAB_ASSIGN_OR_RETURN(PageRequest request,
                         ParsePage(page_size, page_token, impl_->options));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      std::vector<Run> runs,
      impl_->store->ListRuns(filter, request.last, request.limit + 1));
  Page<Run> page =
      ToPage(std::move(runs), request.limit, [](const Run& r) { return r.id; });
  Page<RunStatus> out;
  SSLAB_ASSIGN_OR_RETURN(out.rows,
                         LoadStatuses(*impl_->store, std::move(page.rows)));
  out.next_page_token = std::move(page.next_page_token);
  return out;
}

absl::StatusOr<Page<storage::SweepSummary>> Scheduler::ListSweeps(
    int page_size, const std::string& page_token) {
  SSLAB_ASSIGN_OR_RETURN(PageRequest request,
                         ParsePage(page_size, page_token, impl_->options));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      std::vector<storage::SweepSummary> sweeps,
      impl_->store->ListSweeps(request.last, request.limit + 1));
  return ToPage(std::move(sweeps), request.limit,
                [](const storage::SweepSummary& s) { return s.sweep.id; });
}

absl::StatusOr<std::vector<MetricSeries>> Scheduler::GetMetricHistory(
    int64_t run_id, const std::vector<std::string>& names, int max_points) {
  if (max_points < 1) {
    return Invalid("max_points",
                   absl::StrCat("must be >= 1, got ", max_points));
  }
  std::vector<storage::Metric> all;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
    SSLAB_ASSIGN_OR_RETURN(all, impl_->store->ListMetrics(run_id));
  }
  // ListMetrics orders by name, then step: one series per run of names.
  std::vector<MetricSeries> series;
  for (storage::Metric& m : all) {
    if (!names.empty() &&
        std::find(names.begin(), names.end(), m.name) == names.end()) {
      continue;
    }
    if (series.empty() || series.back().name != m.name) {
      series.push_back({m.name, {}, 0});
    }
    series.back().points.push_back(std::move(m));
  }
  for (MetricSeries& s : series) {
    s.total_points = static_cast<int64_t>(s.points.size());
    s.points = Downsample(std::move(s.points), max_points);
  }
  return series;
}

absl::StatusOr<std::vector<Job>> Scheduler::ListJobs(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->store->ListJobs(run_id);
}

absl::StatusOr<Page<storage::Checkpoint>> Scheduler::ListCheckpoints(
    int64_t run_id, int page_size, const std::string& page_token) {
  SSLAB_ASSIGN_OR_RETURN(PageRequest request,
                         ParsePage(page_size, page_token, impl_->options));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  absl::StatusOr<std::vector<storage::Checkpoint>> checkpoints =
      impl_->store->ListCheckpoints(run_id, request.last, request.limit + 1);
  if (!checkpoints.ok()) return TokenError(checkpoints.status());
  return ToPage(std::move(*checkpoints), request.limit,
                [](const storage::Checkpoint& c) { return c.id; });
}

absl::StatusOr<Page<storage::ResultRow>> Scheduler::QueryResults(
    const storage::ResultFilter& filter, int page_size,
    const std::string& page_token) {
  SSLAB_ASSIGN_OR_RETURN(PageRequest request,
                         ParsePage(page_size, page_token, impl_->options));
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (filter.run_id) {
    SSLAB_RETURN_IF_ERROR(impl_->GetRun(*filter.run_id).status());
  }
  if (filter.sweep_id) {
    SSLAB_RETURN_IF_ERROR(impl_->GetSweep(*filter.sweep_id).status());
  }
  absl::StatusOr<std::vector<storage::ResultRow>> results =
      impl_->store->QueryResults(filter, request.last, request.limit + 1);
  if (!results.ok()) return TokenError(results.status());
  return ToPage(std::move(*results), request.limit,
                [](const storage::ResultRow& r) { return r.result.id; });
}

absl::StatusOr<std::vector<storage::Metric>> Scheduler::ListMetrics(
    int64_t run_id, std::optional<std::string> name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->store->ListMetrics(run_id, std::move(name));
}

absl::Status Scheduler::Cancel(int64_t run_id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->GetRun(run_id));
    if (experiment::IsFinal(run.state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " already finished (",
                       experiment::Name(run.state), "); nothing to cancel"));
    }
    SSLAB_RETURN_IF_ERROR(impl_->graph.CancelUnfinishedJobs(run_id));
    run.state = RunState::kCancelled;
    if (!reason.empty()) run.error = absl::StrCat("cancelled: ", reason);
    run.updated_at = impl_->clock->Now();
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateRun(run));
    impl_->changed_runs.insert(run_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<ProbeAddition> Scheduler::AddProbes(
    int64_t run_id, const std::vector<experiment::ProbeKind>& probe_kinds,
    const std::vector<double>& label_fractions, bool again) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ProbeAddition added;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->GetRun(run_id));
    if (run.state != RunState::kSucceeded) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " is ", experiment::Name(run.state),
                       ": probes can be added to a run that succeeded"));
    }
    experiment::EvaluationPlan& plan = run.config.evaluation;
    auto add = [](auto& list, const auto& more) {
      for (const auto& x : more) {
        if (std::find(list.begin(), list.end(), x) == list.end()) {
          list.push_back(x);
        }
      }
    };
    add(plan.probe_kinds, probe_kinds);
    add(plan.label_fractions, label_fractions);
    SSLAB_RETURN_IF_ERROR(experiment::ValidateRunConfig(run.config));
    SSLAB_RETURN_IF_ERROR(impl_->store->SetRunProbes(run_id, plan.probe_kinds,
                                                     plan.label_fractions));
    // With `again`, the targets of the named kinds and fractions (none
    // named: all) are probed again.
    std::function<bool(const experiment::ProbeTarget&)> probe_again;
    if (again) {
      auto named = [](const auto& list, const auto& x) {
        return list.empty() ||
               std::find(list.begin(), list.end(), x) != list.end();
      };
      probe_again = [&](const experiment::ProbeTarget& t) {
        return named(probe_kinds, t.probe_kind) &&
               named(label_fractions, t.label_fraction);
      };
    }
    SSLAB_ASSIGN_OR_RETURN(added,
                           impl_->graph.QueueMissingProbes(run, probe_again));
    if (added.probe_jobs == 0) return absl::OkStatus();
    run.state = RunState::kRunning;
    run.updated_at = impl_->clock->Now();
    return impl_->store->UpdateRun(run);
  }));
  return added;
}

// ---- Artifact lifecycle ----

absl::StatusOr<std::vector<Artifact>> Scheduler::CollectGarbage(
    std::optional<int64_t> run_id, bool dry_run) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<int64_t> run_ids;
  if (run_id) {
    SSLAB_RETURN_IF_ERROR(impl_->GetRun(*run_id).status());
    run_ids = {*run_id};
  } else {
    SSLAB_ASSIGN_OR_RETURN(run_ids, impl_->store->ListRunIdsWithArtifacts());
  }
  std::vector<Artifact> out;
  SSLAB_RETURN_IF_ERROR(impl_->Collect(run_ids, dry_run, &out));
  return out;
}

absl::StatusOr<std::vector<Artifact>> Scheduler::CollectGarbageOfChangedRuns() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::vector<int64_t> run_ids(impl_->changed_runs.begin(),
                                     impl_->changed_runs.end());
  std::vector<Artifact> out;
  SSLAB_RETURN_IF_ERROR(impl_->Collect(run_ids, /*dry_run=*/false, &out));
  impl_->changed_runs.clear();
  return out;
}

absl::Status Scheduler::PinRun(int64_t run_id, bool pinned) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->GetRun(run_id).status());
  return impl_->Mutate(
      [&]() { return impl_->store->SetRunPinned(run_id, pinned); });
}

absl::StatusOr<std::vector<Artifact>> Scheduler::DeleteRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  std::vector<Artifact> out;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->GetRun(run_id));
    if (!experiment::IsFinal(run.state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " is ", experiment::Name(run.state),
                       ": cancel it first"));
    }
    // A cancelled job's worker may still be writing until it lets go.
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs,
                           impl_->store->ListJobs(run_id));
    for (const Job& job : jobs) {
      if (!job.lease_expiry) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "run ", run_id, ": job ", job.id, " is still stopping on worker ",
          job.lease_worker_id.value_or(0), "; retry shortly"));
    }
    std::vector<storage::Checkpoint> checkpoints;
    std::map<int64_t, std::vector<storage::Feature>> features;
    SSLAB_RETURN_IF_ERROR(
        impl_->ReadArtifacts(run_id, &checkpoints, &features));
    for (const storage::Checkpoint& c : checkpoints) {
      if (c.deleted_at) continue;
      out.push_back(CheckpointArtifact(c));
      for (const storage::Feature& f : features[c.id]) {
        if (!f.deleted_at) out.push_back(FeatureArtifact(f, c));
      }
    }
    return impl_->store->DeleteRun(run_id);
  }));
  impl_->changed_runs.erase(run_id);
  return out;
}

// ---- Watching ----

uint64_t Scheduler::version() const { return impl_->version.load(); }

uint64_t Scheduler::WaitForChange(uint64_t seen, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(impl_->watch_mu);
  impl_->watch_cv.wait_until(lock, absl::ToChronoTime(deadline), [&] {
    return impl_->shutdown || impl_->version.load() != seen;
  });
  return impl_->version.load();
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->watch_mu);
    impl_->shutdown = true;
    for (auto& [id, w] : impl_->watched) w.cv.notify_all();
  }
  impl_->watch_cv.notify_all();
}

std::unique_ptr<Scheduler::RunWatch> Scheduler::WatchRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  ++impl_->watched[run_id].watches;
  return std::unique_ptr<RunWatch>(new RunWatch(impl_.get(), run_id));
}

Scheduler::RunWatch::~RunWatch() {
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  auto it = impl_->watched.find(run_id_);
  if (--it->second.watches == 0) impl_->watched.erase(it);
}

uint64_t Scheduler::RunWatch::version() const {
  std::lock_guard<std::mutex> lock(impl_->watch_mu);
  return impl_->watched.at(run_id_).version;
}

uint64_t Scheduler::RunWatch::WaitForChange(uint64_t seen,
                                            absl::Time deadline) {
  std::unique_lock<std::mutex> lock(impl_->watch_mu);
  Impl::WatchedRun& w = impl_->watched.at(run_id_);
  w.cv.wait_until(lock, absl::ToChronoTime(deadline),
                  [&] { return impl_->shutdown || w.version != seen; });
  return w.version;
}

// ---- Workers ----

absl::StatusOr<int64_t> Scheduler::RegisterWorker(const WorkerSpec& spec) {
  if (spec.name.empty()) return Invalid("name", "must be set");
  SSLAB_RETURN_IF_ERROR(CheckName(spec.name, "name"));
  if (spec.devices.empty()) return Invalid("devices", "must not be empty");
  std::set<DeviceId> seen;
  std::map<std::string, DeviceId> gpu_keys;
  for (const experiment::DeviceInfo& d : spec.devices) {
    if (!seen.insert(d.id).second) {
      return Invalid("devices",
                     absl::StrCat("'", d.id.ToString(), "' appears twice"));
    }
    if (!d.id.is_cuda() || d.key.empty()) continue;
    const auto [it, added] = gpu_keys.emplace(d.key, d.id);
    if (!added) {
      return Invalid(
          "devices",
          absl::StrCat("'", it->second.ToString(), "' and '", d.id.ToString(),
                       "' are the same GPU (", d.key, ")"));
    }
  }
  SSLAB_RETURN_IF_ERROR(CheckLineage(spec.build, "build", kMaxBuildEntries));
  std::vector<JobKind> kinds = spec.kinds;
  if (kinds.empty()) kinds = experiment::AllValues<JobKind>();
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  std::lock_guard<std::mutex> lock(impl_->mu);
  storage::Worker worker;
  worker.name = spec.name;
  worker.kinds = std::move(kinds);
  worker.devices = spec.devices;
  worker.build = spec.build;
  worker.registered_at = worker.last_heartbeat = impl_->clock->Now();
  storage::Worker stored;
  int released = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(stored, impl_->store->UpsertWorker(worker));
    // A worker registers once per process: leases still held under its name
    // belong to a process that is gone, so they are released now rather
    // than at expiry (which would also keep its GPUs busy meanwhile).
    SSLAB_ASSIGN_OR_RETURN(std::vector<Job> held,
                           impl_->store->ListLeasedJobs(stored.id));
    for (Job& job : held) {
      ++released;
      SSLAB_RETURN_IF_ERROR(impl_->leases.ReleaseLost(
          std::move(job),
          absl::StrCat("worker ", stored.id, " (", stored.name,
                       ") registered again, so its earlier process is gone")));
    }
    return absl::OkStatus();
  }));
  SSLAB_LOG(INFO) << "worker " << stored.id << " (" << stored.name
                  << ") registered"
                  << (released > 0
                          ? absl::StrCat(", released ", released,
                                         " leases of its earlier process")
                          : "");
  return stored.id;
}

absl::StatusOr<std::optional<Lease>> Scheduler::LeaseJob(
    int64_t worker_id, const std::vector<DeviceId>& free_devices) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  absl::StatusOr<storage::Worker> worker = impl_->store->GetWorker(worker_id);
  if (absl::IsNotFound(worker.status())) {
    return absl::NotFoundError(
        absl::StrCat("worker_id: worker ", worker_id, " is not registered"));
  }
  SSLAB_RETURN_IF_ERROR(worker.status());
  for (size_t i = 0; i < free_devices.size(); ++i) {
    if (std::none_of(worker->devices.begin(), worker->devices.end(),
                     [&](const experiment::DeviceInfo& d) {
                       return d.id == free_devices[i];
                     })) {
      return Invalid(absl::StrCat("free_devices[", i, "]"),
                     absl::StrCat("worker ", worker_id, " has no device '",
                                  free_devices[i].ToString(), "'"));
    }
  }
  std::optional<Lease> lease;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(lease,
                           impl_->leases.LeaseFor(*worker, free_devices));
    return absl::OkStatus();
  }));
  if (lease) {
    SSLAB_LOG(INFO) << "leased " << experiment::Name(lease->job.kind) << " job "
                    << lease->job.id << " (run " << lease->job.run_id
                    << ", attempt " << lease->job.attempts << ") to worker "
                    << worker_id << " on "
                    << lease->assignment.device.ToString();
  }
  return lease;
}

absl::StatusOr<HeartbeatReply> Scheduler::Heartbeat(const LeaseRef& lease,
                                                    const HeartbeatInfo& info) {
  std::vector<storage::Metric> metrics;
  const int64_t step = std::max<int64_t>(info.step.value_or(0), 0);
  if (info.metrics.size() > kMaxMetricsPerHeartbeat) {
    return Invalid("metrics",
                   absl::StrCat("at most ", kMaxMetricsPerHeartbeat,
                                " per heartbeat, got ", info.metrics.size()));
  }
  for (const auto& [name, value] : FiniteOnly(info.metrics)) {
    SSLAB_RETURN_IF_ERROR(CheckMetricName(name));
    metrics.push_back({step, name, value});
  }
  if (info.epoch) {
    metrics.push_back({step, "epoch", static_cast<double>(*info.epoch)});
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  HeartbeatReply reply;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    const absl::Time now = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->leases.Held(lease));
    SSLAB_RETURN_IF_ERROR(impl_->store->TouchWorker(lease.worker_id, now));
    if (job.state == JobState::kCancelled) {
      reply.cancelled = true;
      reply.lease_expiry = *job.lease_expiry;
      return absl::OkStatus();
    }
    if (std::isfinite(info.progress)) {
      job.progress = std::clamp(info.progress, 0.0, 1.0);
    }
    impl_->leases.Renew(job);
    job.updated_at = now;
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    SSLAB_RETURN_IF_ERROR(
        impl_->store->AppendMetrics(job.run_id, metrics, now));
    reply.lease_expiry = *job.lease_expiry;
    return absl::OkStatus();
  }));
  return reply;
}

absl::Status Scheduler::CompleteJob(
    const LeaseRef& lease, const std::map<std::string, std::string>& lineage) {
  SSLAB_RETURN_IF_ERROR(
      CheckLineage(lineage, "lineage", kMaxJobLineageEntries));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t run_id = 0;
  absl::Status completed = impl_->Mutate([&]() -> absl::Status {
    absl::StatusOr<Job> done = impl_->store->GetJob(lease.job_id);
    if (done.ok() && done->state == JobState::kSucceeded &&
        internal::Leases::LastLeasedAs(*done, lease)) {
      return absl::OkStatus();  // a retried call
    }
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->leases.Held(lease));
    impl_->leases.AttemptEnded(job);
    job.lease_expiry.reset();
    job.updated_at = impl_->clock->Now();
    if (job.state == JobState::kCancelled) return impl_->store->UpdateJob(job);
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->store->GetRun(job.run_id));
    SSLAB_RETURN_IF_ERROR(impl_->graph.AdvancePast(run, job));
    job.state = JobState::kSucceeded;
    job.progress = 1;
    for (const auto& [key, value] : lineage) job.lineage[key] = value;
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    run_id = run.id;
    return impl_->graph.RecomputeRunState(run.id);
  });
  if (completed.ok() && run_id != 0) impl_->changed_runs.insert(run_id);
  return completed;
}

absl::Status Scheduler::FailJob(const LeaseRef& lease, const std::string& error,
                                bool retryable) {
  return EndAttempt(lease, error.empty() ? "(no error message)" : error,
                    retryable ? AttemptEnd::kRetryable : AttemptEnd::kFatal);
}

absl::Status Scheduler::ReleaseJob(const LeaseRef& lease,
                                   const std::string& reason) {
  return EndAttempt(lease, reason, AttemptEnd::kHandedBack);
}

absl::Status Scheduler::EndAttempt(const LeaseRef& lease,
                                   const std::string& message, AttemptEnd end) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t run_id = 0;
  absl::Status ended = impl_->Mutate([&]() -> absl::Status {
    absl::StatusOr<Job> done = impl_->store->GetJob(lease.job_id);
    if (done.ok() && done->state == JobState::kFailed &&
        internal::Leases::LastLeasedAs(*done, lease) && !done->lease_expiry) {
      return absl::OkStatus();  // a retried call
    }
    SSLAB_ASSIGN_OR_RETURN(Job job, impl_->leases.Held(lease));
    impl_->leases.AttemptEnded(job);
    job.lease_expiry.reset();
    job.updated_at = impl_->clock->Now();
    run_id = job.run_id;
    if (job.state == JobState::kCancelled) return impl_->store->UpdateJob(job);
    if (end == AttemptEnd::kHandedBack) {
      SSLAB_LOG(INFO) << experiment::Name(job.kind) << " job " << job.id
                      << " (run " << job.run_id << ") handed back by worker "
                      << lease.worker_id << ": " << message
                      << "; queued again with one more attempt allowed";
      // The attempt stays in the job's history (attempts counts leases);
      // the budget for real failures grows by the one it took.
      ++job.max_attempts;
    } else {
      SSLAB_LOG(WARNING) << experiment::Name(job.kind) << " job " << job.id
                         << " (run " << job.run_id << ") failed on worker "
                         << lease.worker_id
                         << (end == AttemptEnd::kRetryable ? " (retryable)"
                                                           : "")
                         << ": " << message;
      if (end == AttemptEnd::kFatal || job.attempts >= job.max_attempts) {
        return impl_->graph.FailForGood(std::move(job), message);
      }
      ++impl_->stats.retries[job.kind];
    }
    job.state = JobState::kRunnable;
    job.last_error = end == AttemptEnd::kHandedBack
                         ? absl::StrCat("handed back: ", message)
                         : message;
    SSLAB_RETURN_IF_ERROR(impl_->store->UpdateJob(job));
    return impl_->graph.RecomputeRunState(job.run_id);
  });
  // A run that failed or was cancelled keeps only what retention keeps.
  if (ended.ok() && run_id != 0) impl_->changed_runs.insert(run_id);
  return ended;
}

absl::StatusOr<int64_t> Scheduler::RegisterCheckpoint(
    const LeaseRef& lease, const experiment::CheckpointReport& info) {
  if (info.epoch < 0 || info.epoch > experiment::kMaxEpochs) {
    return Invalid("epoch",
                   absl::StrCat("must be in [0, ", experiment::kMaxEpochs,
                                "], got ", info.epoch));
  }
  if (info.step < 0) {
    return Invalid("step", absl::StrCat("must be >= 0, got ", info.step));
  }
  SSLAB_RETURN_IF_ERROR(experiment::CheckArtifactPath(info.path, "path"));
  SSLAB_RETURN_IF_ERROR(experiment::CheckSha256(info.sha256, "sha256"));
  if (info.bytes < 0) {
    return Invalid("bytes", absl::StrCat("must be >= 0, got ", info.bytes));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Job job,
                           impl_->leases.HeldRunning(lease, JobKind::kTrain));
    SSLAB_ASSIGN_OR_RETURN(Run run, impl_->store->GetRun(job.run_id));
    storage::Checkpoint c;
    c.run_id = run.id;
    c.epoch = info.epoch;
    c.step = info.step;
    c.path = info.path;
    c.sha256 = info.sha256;
    c.bytes = info.bytes;
    c.metrics = FiniteOnly(info.metrics);
    c.is_final = info.is_final;
    c.created_at = impl_->clock->Now();
    SSLAB_ASSIGN_OR_RETURN(id, impl_->store->UpsertCheckpoint(c));
    if (experiment::IsEvaluatedEpoch(run.config.evaluation, info.epoch,
                                     info.is_final)) {
      SSLAB_RETURN_IF_ERROR(impl_->graph.EnsureExtractJob(run, id));
    }
    return absl::OkStatus();
  }));
  return id;
}

absl::Status Scheduler::RegisterFeatures(
    const LeaseRef& lease,
    const std::vector<experiment::FeatureRef>& features) {
  for (size_t i = 0; i < features.size(); ++i) {
    const experiment::FeatureRef& f = features[i];
    const std::string field = absl::StrCat("features[", i, "].");
    if (f.layer.empty()) return Invalid(field + "layer", "must be set");
    SSLAB_RETURN_IF_ERROR(
        experiment::CheckArtifactPath(f.path, field + "path"));
    SSLAB_RETURN_IF_ERROR(experiment::CheckSha256(f.sha256, field + "sha256"));
    if (f.rows < 0) return Invalid(field + "rows", "must be >= 0");
    if (f.dims < 0) return Invalid(field + "dims", "must be >= 0");
    if (f.bytes < 0) return Invalid(field + "bytes", "must be >= 0");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Job job,
                           impl_->leases.HeldRunning(lease, JobKind::kExtract));
    const absl::Time now = impl_->clock->Now();
    for (const experiment::FeatureRef& info : features) {
      storage::Feature f;
      f.checkpoint_id = job.checkpoint_id.value_or(0);
      f.layer = info.layer;
      f.split = info.split;
      f.path = info.path;
      f.sha256 = info.sha256;
      f.rows = info.rows;
      f.dims = info.dims;
      f.bytes = info.bytes;
      f.created_at = now;
      SSLAB_RETURN_IF_ERROR(impl_->store->UpsertFeature(f).status());
    }
    return absl::OkStatus();
  });
}

absl::Status Scheduler::RecordResult(const LeaseRef& lease,
                                     const experiment::ProbeResult& result) {
  if (!(result.top1 >= 0 && result.top1 <= 1)) {
    return Invalid("top1",
                   absl::StrCat("must be in [0, 1], got ", result.top1));
  }
  if (!(result.top5 >= 0 && result.top5 <= 1)) {
    return Invalid("top5",
                   absl::StrCat("must be in [0, 1], got ", result.top5));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_RETURN_IF_ERROR(impl_->ExpireLeasesLocked().status());
  return impl_->Mutate([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(Job job,
                           impl_->leases.HeldRunning(lease, JobKind::kProbe));
    storage::Result r;
    r.checkpoint_id = job.checkpoint_id.value_or(0);
    r.target = *job.probe;
    r.split = result.split;
    r.top1 = result.top1;
    r.top5 = result.top5;
    r.hyperparameters = result.hyperparameters;
    r.created_at = impl_->clock->Now();
    return impl_->store->UpsertResult(r).status();
  });
}

// ---- Monitoring ----

absl::StatusOr<Page<WorkerInfo>> Scheduler::ListWorkers(
    int page_size, const std::string& page_token) {
  SSLAB_ASSIGN_OR_RETURN(PageRequest request,
                         ParsePage(page_size, page_token, impl_->options));
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      std::vector<storage::Worker> workers,
      impl_->store->ListWorkers(request.last, request.limit + 1));
  SSLAB_ASSIGN_OR_RETURN(std::vector<WorkerInfo> infos,
                         impl_->DescribeWorkers(std::move(workers)));
  return ToPage(std::move(infos), request.limit,
                [](const WorkerInfo& w) { return w.worker.id; });
}

absl::StatusOr<std::vector<WorkerInfo>> Scheduler::Impl::DescribeWorkers(
    std::vector<storage::Worker> workers) {
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> leased, store->ListLeasedJobs());
  const absl::Time alive_since = clock->Now() - 2 * options.lease_duration;
  std::vector<WorkerInfo> out;
  for (storage::Worker& w : workers) {
    WorkerInfo info;
    info.alive = w.last_heartbeat >= alive_since;
    for (const Job& job : leased) {
      if (job.lease_worker_id == w.id) info.jobs.push_back(job);
    }
    info.worker = std::move(w);
    out.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<Census> Scheduler::TakeCensus() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Worker> all,
                         impl_->store->ListWorkers());
  SSLAB_ASSIGN_OR_RETURN(std::vector<WorkerInfo> workers,
                         impl_->DescribeWorkers(std::move(all)));
  Census census;
  SSLAB_ASSIGN_OR_RETURN(census.runs, impl_->store->CountRuns());
  SSLAB_ASSIGN_OR_RETURN(census.jobs, impl_->store->CountJobs());
  census.workers = static_cast<int>(workers.size());
  for (const WorkerInfo& w : workers) {
    census.workers_alive += w.alive ? 1 : 0;
    for (const storage::Job& job : w.jobs) {
      // A GPU gang holds each of its devices; a CPU gang's ranks share one.
      census.devices_busy +=
          job.lease_gang.empty()
              ? 1
              : static_cast<int>(
                    std::set<experiment::DeviceId>(job.lease_gang.begin(),
                                                   job.lease_gang.end())
                        .size());
    }
  }
  SSLAB_ASSIGN_OR_RETURN(std::vector<int64_t> active,
                         impl_->store->ListActiveRunIds());
  for (int64_t run : active) {
    SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Metric> latest,
                           impl_->store->LatestMetrics(run));
    for (const storage::Metric& m : latest) {
      if (m.name == "images_per_second")
        census.images_per_second[run] = m.value;
    }
  }
  return census;
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

void SchedulerStats::RecordQueueWait(JobKind kind, absl::Duration wait) {
  queue_wait_seconds.try_emplace(kind, Histogram::JobBounds())
      .first->second.Observe(absl::ToDoubleSeconds(wait));
}

void SchedulerStats::RecordDuration(JobKind kind, absl::Duration duration) {
  job_duration_seconds.try_emplace(kind, Histogram::JobBounds())
      .first->second.Observe(absl::ToDoubleSeconds(duration));
}

absl::Duration Scheduler::lease_duration() const {
  return impl_->options.lease_duration;
}

absl::StatusOr<int> Scheduler::ExpireLeases() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->ExpireLeasesLocked();
}

}  // namespace sslab::scheduler
