#include "services/scheduler/experiment_service.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/common/experiment_proto.h"
#include "services/scheduler/convert.h"
#include "services/scheduler/handler.h"

#ifndef SSLAB_VERSION
#define SSLAB_VERSION "unknown"
#endif

namespace sslab::services {
namespace {

// A run with its job counts and progress and, for a detailed view, its jobs.
absl::StatusOr<v1::Run> LoadRun(scheduler::Scheduler& s, int64_t run_id,
                                bool detailed) {
  SSLAB_ASSIGN_OR_RETURN(scheduler::RunStatus status, s.GetRun(run_id));
  return ToProto(status, detailed);
}

// An optional filter field: UNSPECIFIED matches all, an unknown value is an
// error naming `field`.
template <typename Domain, typename Proto>
absl::Status SetFilter(Proto value, const char* field,
                       std::optional<Domain>* out) {
  if (value == 0) return absl::OkStatus();
  SSLAB_ASSIGN_OR_RETURN(*out, RequireFromProto<Domain>(value, field));
  return absl::OkStatus();
}

// GetMetricHistory's points per series when the request says 0, and the cap.
constexpr int kDefaultMetricPoints = 1000;
constexpr int kMaxMetricPoints = 10000;

bool IsFinished(v1::RunState state) {
  const std::optional<experiment::RunState> s =
      FromProto<experiment::RunState>(state);
  return s && experiment::IsFinal(*s);
}

}  // namespace

grpc::Status ExperimentServiceImpl::SubmitRun(grpc::ServerContext* context,
                                              const v1::SubmitRunRequest* req,
                                              v1::SubmitRunResponse* resp) {
  return handle_(context, "SubmitRun", [&]() -> absl::Status {
    scheduler::RunRequest request;
    request.name = req->name();
    SSLAB_ASSIGN_OR_RETURN(request.config, FromProto(req->config(), "config."));
    request.priority = req->priority();
    SSLAB_ASSIGN_OR_RETURN(int64_t run_id, scheduler_->SubmitRun(request));
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, run_id, /*detailed=*/true));
    SSLAB_LOG(INFO) << "submitted run " << run_id << " (" << resp->run().name()
                    << ")";
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::SubmitSweep(
    grpc::ServerContext* context, const v1::SubmitSweepRequest* req,
    v1::SubmitSweepResponse* resp) {
  return handle_(context, "SubmitSweep", [&]() -> absl::Status {
    scheduler::SweepRequest request;
    SSLAB_ASSIGN_OR_RETURN(request.sweep, FromProto(*req));
    request.priority = req->priority();
    SSLAB_ASSIGN_OR_RETURN(scheduler::SweepSubmission sub,
                           scheduler_->SubmitSweep(request));
    SSLAB_LOG(INFO) << "submitted sweep " << sub.sweep_id << " with "
                    << sub.run_ids.size() << " runs";
    resp->set_sweep_id(sub.sweep_id);
    for (int64_t id : sub.run_ids) {
      SSLAB_ASSIGN_OR_RETURN(*resp->add_runs(),
                             LoadRun(*scheduler_, id, /*detailed=*/false));
    }
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::GetRun(grpc::ServerContext* context,
                                           const v1::GetRunRequest* req,
                                           v1::GetRunResponse* resp) {
  return handle_(context, "GetRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::ListRuns(grpc::ServerContext* context,
                                             const v1::ListRunsRequest* req,
                                             v1::ListRunsResponse* resp) {
  return handle_(context, "ListRuns", [&]() -> absl::Status {
    storage::RunFilter filter;
    SSLAB_RETURN_IF_ERROR(SetFilter(req->state(), "state", &filter.state));
    SSLAB_RETURN_IF_ERROR(SetFilter(req->method(), "method", &filter.method));
    SSLAB_RETURN_IF_ERROR(
        SetFilter(req->architecture(), "architecture", &filter.architecture));
    if (req->sweep_id() < 0) {
      return InvalidField(
          "sweep_id", absl::StrCat("must be positive, got ", req->sweep_id()));
    }
    if (req->sweep_id() > 0) filter.sweep_id = req->sweep_id();
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::Page<scheduler::RunStatus> page,
        scheduler_->ListRuns(filter, req->page_size(), req->page_token()));
    for (const scheduler::RunStatus& status : page.rows) {
      *resp->add_runs() = ToProto(status, /*with_jobs=*/false);
    }
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::CancelRun(grpc::ServerContext* context,
                                              const v1::CancelRunRequest* req,
                                              v1::CancelRunResponse* resp) {
  return handle_(context, "CancelRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    const std::string reason = Truncate(req->reason());
    SSLAB_RETURN_IF_ERROR(scheduler_->Cancel(req->run_id(), reason));
    SSLAB_LOG(INFO) << "cancelled run " << req->run_id()
                    << (reason.empty() ? "" : ": ") << reason;
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::AddProbes(grpc::ServerContext* context,
                                              const v1::AddProbesRequest* req,
                                              v1::AddProbesResponse* resp) {
  return handle_(context, "AddProbes", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    if (req->probe_kinds().empty() && req->label_fractions().empty() &&
        !req->again()) {
      return absl::InvalidArgumentError(
          "probe_kinds, label_fractions: name a probe kind or a label "
          "fraction to add");
    }
    std::vector<experiment::ProbeKind> kinds;
    for (int i = 0; i < req->probe_kinds_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(
          experiment::ProbeKind kind,
          RequireFromProto<experiment::ProbeKind>(
              req->probe_kinds(i), absl::StrCat("probe_kinds[", i, "]")));
      kinds.push_back(kind);
    }
    const std::vector<double> fractions(req->label_fractions().begin(),
                                        req->label_fractions().end());
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::ProbeAddition added,
        scheduler_->AddProbes(req->run_id(), kinds, fractions, req->again()));
    SSLAB_LOG(INFO) << "run " << req->run_id() << ": " << added.probe_jobs
                    << " probe job(s) added, " << added.extract_jobs
                    << " extraction(s) first";
    resp->set_probe_jobs(added.probe_jobs);
    resp->set_extract_jobs(added.extract_jobs);
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::WatchRun(
    grpc::ServerContext* context, const v1::WatchRunRequest* req,
    grpc::ServerWriter<v1::WatchRunResponse>* writer) {
  return handle_(context, "WatchRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    struct Slot {  // one of max_watches_, held while the stream is open
      std::atomic<int>& open;
      ~Slot() { --open; }
    } slot{watches_};
    if (++watches_ > max_watches_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many watches open (", max_watches_,
                       "); poll GetRun or retry later"));
    }
    // Woken by changes to this run only: a heartbeat of another run costs
    // an open watch nothing.
    const std::unique_ptr<scheduler::Scheduler::RunWatch> watch =
        scheduler_->WatchRun(req->run_id());
    std::string last_sent;
    while (!context->IsCancelled()) {
      if (stopping_) {
        return absl::UnavailableError("the scheduler is shutting down");
      }
      // Read the version first so a change during LoadRun is not missed.
      const uint64_t seen = watch->version();
      v1::WatchRunResponse update;
      SSLAB_ASSIGN_OR_RETURN(*update.mutable_run(),
                             LoadRun(*scheduler_, req->run_id(), true));
      // Heartbeats bump update_time only; send when something shown changed.
      v1::Run shown = update.run();
      shown.clear_update_time();
      for (auto& job : *shown.mutable_jobs()) job.clear_lease_expire_time();
      std::string bytes = shown.SerializeAsString();
      if (bytes != last_sent) {
        if (!writer->Write(update)) return absl::OkStatus();  // client left
        last_sent = std::move(bytes);
      }
      if (IsFinished(update.run().state())) return absl::OkStatus();
      // Wake at least every second to notice a client that went away.
      watch->WaitForChange(seen, absl::Now() + absl::Seconds(1));
    }
    return absl::CancelledError("the client cancelled the watch");
  });
}

grpc::Status ExperimentServiceImpl::ListCheckpoints(
    grpc::ServerContext* context, const v1::ListCheckpointsRequest* req,
    v1::ListCheckpointsResponse* resp) {
  return handle_(context, "ListCheckpoints", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::Page<storage::Checkpoint> page,
        scheduler_->ListCheckpoints(req->run_id(), req->page_size(),
                                    req->page_token()));
    for (const auto& c : page.rows) *resp->add_checkpoints() = ToProto(c);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::QueryResults(
    grpc::ServerContext* context, const v1::QueryResultsRequest* req,
    v1::QueryResultsResponse* resp) {
  return handle_(context, "QueryResults", [&]() -> absl::Status {
    storage::ResultFilter filter;
    switch (req->scope_case()) {
      case v1::QueryResultsRequest::kRunId:
        SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
        filter.run_id = req->run_id();
        break;
      case v1::QueryResultsRequest::kSweepId:
        SSLAB_RETURN_IF_ERROR(CheckId(req->sweep_id(), "sweep_id"));
        filter.sweep_id = req->sweep_id();
        break;
      default:
        return InvalidField("scope", "set run_id or sweep_id");
    }
    if (!req->layer().empty()) filter.layer = req->layer();
    SSLAB_RETURN_IF_ERROR(
        SetFilter(req->probe_kind(), "probe_kind", &filter.probe_kind));
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::Page<storage::ResultRow> page,
        scheduler_->QueryResults(filter, req->page_size(), req->page_token()));
    for (const auto& row : page.rows) *resp->add_results() = ToProto(row);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::GetVersion(grpc::ServerContext* context,
                                               const v1::GetVersionRequest*,
                                               v1::GetVersionResponse* resp) {
  return handle_(context, "GetVersion", [&]() -> absl::Status {
    resp->set_version(SSLAB_VERSION);
    resp->set_api("sslab.v1");
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::GetMetricHistory(
    grpc::ServerContext* context, const v1::GetMetricHistoryRequest* req,
    v1::GetMetricHistoryResponse* resp) {
  return handle_(context, "GetMetricHistory", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    if (req->max_points() < 0) {
      return InvalidField(
          "max_points", absl::StrCat("must be >= 0, got ", req->max_points()));
    }
    const int max_points = req->max_points() == 0
                               ? kDefaultMetricPoints
                               : std::min(req->max_points(), kMaxMetricPoints);
    SSLAB_ASSIGN_OR_RETURN(
        std::vector<scheduler::MetricSeries> series,
        scheduler_->GetMetricHistory(req->run_id(),
                                     {req->names().begin(), req->names().end()},
                                     max_points));
    for (const auto& s : series) *resp->add_series() = ToProto(s);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::ListSweeps(grpc::ServerContext* context,
                                               const v1::ListSweepsRequest* req,
                                               v1::ListSweepsResponse* resp) {
  return handle_(context, "ListSweeps", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::Page<storage::SweepSummary> page,
        scheduler_->ListSweeps(req->page_size(), req->page_token()));
    for (const auto& s : page.rows) *resp->add_sweeps() = ToProto(s);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::GetSweep(grpc::ServerContext* context,
                                             const v1::GetSweepRequest* req,
                                             v1::GetSweepResponse* resp) {
  return handle_(context, "GetSweep", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->sweep_id(), "sweep_id"));
    SSLAB_ASSIGN_OR_RETURN(storage::Sweep sweep,
                           scheduler_->GetSweep(req->sweep_id()));
    storage::RunFilter filter;
    filter.sweep_id = sweep.id;
    std::vector<scheduler::RunStatus> runs;
    std::string token;
    do {  // every run: a sweep holds at most experiment::kMaxSweepRuns
      SSLAB_ASSIGN_OR_RETURN(scheduler::Page<scheduler::RunStatus> page,
                             scheduler_->ListRuns(filter, 1000, token));
      std::move(page.rows.begin(), page.rows.end(), std::back_inserter(runs));
      token = page.next_page_token;
    } while (!token.empty());
    std::reverse(runs.begin(), runs.end());  // grid order
    storage::SweepSummary summary{sweep, static_cast<int64_t>(runs.size()), 0};
    for (const scheduler::RunStatus& status : runs) {
      summary.succeeded += status.run.state == experiment::RunState::kSucceeded;
      *resp->add_runs() = ToProto(status, /*with_jobs=*/false);
    }
    *resp->mutable_sweep() = ToProto(summary);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::ListWorkers(
    grpc::ServerContext* context, const v1::ListWorkersRequest* req,
    v1::ListWorkersResponse* resp) {
  return handle_(context, "ListWorkers", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::Page<scheduler::WorkerInfo> page,
        scheduler_->ListWorkers(req->page_size(), req->page_token()));
    for (const auto& w : page.rows) *resp->add_workers() = ToProto(w);
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

absl::Status ExperimentServiceImpl::NeedFiles() const {
  if (files_ != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "the scheduler has no --data-dir: it cannot delete artifacts");
}

grpc::Status ExperimentServiceImpl::CollectGarbage(
    grpc::ServerContext* context, const v1::CollectGarbageRequest* req,
    v1::CollectGarbageResponse* resp) {
  return handle_(context, "CollectGarbage", [&]() -> absl::Status {
    std::optional<int64_t> run_id;
    if (req->run_id() != 0) {
      SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
      run_id = req->run_id();
    }
    SSLAB_RETURN_IF_ERROR(NeedFiles());
    SSLAB_ASSIGN_OR_RETURN(std::vector<scheduler::Artifact> unneeded,
                           scheduler_->CollectGarbage(run_id, req->dry_run()));
    int64_t bytes = 0;
    for (const scheduler::Artifact& a : unneeded) {
      *resp->add_artifacts() = ToProto(a);
      bytes += a.bytes;
    }
    if (!req->dry_run() && !unneeded.empty()) {
      const Removed removed = files_->Remove(unneeded);
      bytes = removed.bytes;
      SSLAB_LOG(INFO) << "gc: deleted " << unneeded.size() << " artifact(s), "
                      << removed.files << " file(s), " << removed.bytes
                      << " bytes";
    }
    resp->set_bytes(bytes);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::PinRun(grpc::ServerContext* context,
                                           const v1::PinRunRequest* req,
                                           v1::PinRunResponse* resp) {
  return handle_(context, "PinRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_RETURN_IF_ERROR(scheduler_->PinRun(req->run_id(), req->pinned()));
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), false));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::DeleteRun(grpc::ServerContext* context,
                                              const v1::DeleteRunRequest* req,
                                              v1::DeleteRunResponse* resp) {
  return handle_(context, "DeleteRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_RETURN_IF_ERROR(NeedFiles());
    SSLAB_RETURN_IF_ERROR(scheduler_->DeleteRun(req->run_id()).status());
    // Its directory holds every file of it, registered or not.
    const Removed removed = files_->RemoveRun(req->run_id());
    resp->set_files(removed.files);
    resp->set_bytes(removed.bytes);
    SSLAB_LOG(INFO) << "deleted run " << req->run_id() << ": " << removed.files
                    << " file(s), " << removed.bytes << " bytes";
    return absl::OkStatus();
  });
}

}  // namespace sslab::services
