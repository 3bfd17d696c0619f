#include "services/scheduler/scheduler_service.h"

#include <cmath>
#include <exception>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "services/common/grpc_status.h"
#include "services/common/run_config.h"
#include "services/scheduler/convert.h"

#ifndef SSLAB_VERSION
#define SSLAB_VERSION "unknown"
#endif

namespace sslab::services {
namespace {

using json = nlohmann::json;

constexpr int kMaxNameLength = 200;
constexpr int kMaxErrorLength = 4000;
constexpr int kMaxSweepRuns = 1000;

// Runs `body`, converting its status, and any exception, for the client.
grpc::Status Guard(const char* rpc, const std::function<absl::Status()>& body) {
  try {
    return ToGrpcStatus(body());
  } catch (const std::exception& e) {
    SSLAB_LOG(ERROR) << rpc << ": unexpected exception: " << e.what();
  } catch (...) {
    SSLAB_LOG(ERROR) << rpc << ": unexpected exception";
  }
  return grpc::Status(grpc::StatusCode::INTERNAL,
                      "internal error in the scheduler (see its log)");
}

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status CheckId(int64_t id, absl::string_view field) {
  if (id <= 0) {
    return Invalid(field, id == 0 ? "required"
                                  : absl::StrCat("must be positive, got ", id));
  }
  return absl::OkStatus();
}

absl::Status CheckName(const std::string& name, absl::string_view field) {
  if (name.size() > kMaxNameLength) {
    return Invalid(field,
                   absl::StrCat("longer than ", kMaxNameLength, " characters"));
  }
  return absl::OkStatus();
}

// A run with its job counts and progress and, for a detailed view, its jobs.
absl::StatusOr<v1::Run> LoadRun(scheduler::Scheduler& s, int64_t run_id,
                                bool detailed) {
  SSLAB_ASSIGN_OR_RETURN(scheduler::RunStatus status, s.GetRun(run_id));
  return ToProto(status, detailed);
}

bool IsFinal(v1::RunState state) {
  return state == v1::RUN_STATE_SUCCEEDED || state == v1::RUN_STATE_FAILED ||
         state == v1::RUN_STATE_CANCELLED;
}

// Finite values only: SQLite cannot store NaN, and a NaN loss must not make
// a worker's heartbeat fail.
json FiniteMetrics(const google::protobuf::Map<std::string, double>& metrics) {
  json out = json::object();
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value) && !name.empty()) out[name] = value;
  }
  return out;
}

std::string Truncate(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

// ---------------------------------------------------------------------------
// ExperimentService

grpc::Status ExperimentServiceImpl::SubmitRun(grpc::ServerContext*,
                                              const v1::SubmitRunRequest* req,
                                              v1::SubmitRunResponse* resp) {
  return Guard("SubmitRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckName(req->name(), "name"));
    SSLAB_ASSIGN_OR_RETURN(v1::RunConfig config,
                           ExpandRunConfig(req->config(), "config."));
    SSLAB_ASSIGN_OR_RETURN(
        int64_t run_id,
        scheduler_->SubmitRun(ToRunSpec(config, req->name(), req->priority())));
    SSLAB_LOG(INFO) << "submitted run " << run_id << " ("
                    << MethodName(config.method()) << ", "
                    << ArchitectureName(config.architecture())
                    << " k=" << config.width() << ")";
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, run_id, /*detailed=*/true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::SubmitSweep(
    grpc::ServerContext*, const v1::SubmitSweepRequest* req,
    v1::SubmitSweepResponse* resp) {
  return Guard("SubmitSweep", [&]() -> absl::Status {
    if (req->name().empty()) return Invalid("name", "must not be empty");
    SSLAB_RETURN_IF_ERROR(CheckName(req->name(), "name"));
    // Each axis: the listed values, or the base's own value.
    std::vector<v1::Method> methods;
    for (int i = 0; i < req->methods_size(); ++i) {
      const auto m = static_cast<v1::Method>(req->methods(i));
      if (MethodName(m).empty()) {
        return Invalid(absl::StrCat("methods[", i, "]"),
                       absl::StrCat("unknown method (", m, ")"));
      }
      methods.push_back(m);
    }
    if (methods.empty()) methods.push_back(req->base().method());
    std::vector<v1::Architecture> archs;
    for (int i = 0; i < req->architectures_size(); ++i) {
      const auto a = static_cast<v1::Architecture>(req->architectures(i));
      if (ArchitectureName(a).empty()) {
        return Invalid(absl::StrCat("architectures[", i, "]"),
                       absl::StrCat("unknown architecture (", a, ")"));
      }
      archs.push_back(a);
    }
    if (archs.empty()) archs.push_back(req->base().architecture());
    std::vector<std::optional<int>> widths;
    for (int i = 0; i < req->widths_size(); ++i) {
      if (req->widths(i) < 1) {
        return Invalid(absl::StrCat("widths[", i, "]"),
                       absl::StrCat("must be >= 1, got ", req->widths(i)));
      }
      widths.push_back(req->widths(i));
    }
    if (widths.empty()) widths.push_back(std::nullopt);
    std::vector<std::optional<bool>> relus(req->last_relu_values().begin(),
                                           req->last_relu_values().end());
    if (relus.empty()) relus.push_back(std::nullopt);
    std::vector<std::optional<int64_t>> seeds(req->seeds().begin(),
                                              req->seeds().end());
    if (seeds.empty()) seeds.push_back(std::nullopt);
    std::vector<std::optional<int>> epochs;
    for (int i = 0; i < req->epochs_values_size(); ++i) {
      if (req->epochs_values(i) < 0) {
        return Invalid(
            absl::StrCat("epochs_values[", i, "]"),
            absl::StrCat("must be >= 0, got ", req->epochs_values(i)));
      }
      epochs.push_back(req->epochs_values(i));
    }
    if (epochs.empty()) epochs.push_back(std::nullopt);
    const size_t total = methods.size() * archs.size() * widths.size() *
                         relus.size() * seeds.size() * epochs.size();
    if (total > kMaxSweepRuns) {
      return Invalid("grid", absl::StrCat("has ", total, " points; at most ",
                                          kMaxSweepRuns));
    }

    scheduler::SweepSpec spec;
    spec.name = req->name();
    json grid = json::object();
    for (auto m : methods)
      grid["methods"].push_back(std::string(MethodName(m)));
    for (auto a : archs) {
      grid["architectures"].push_back(std::string(ArchitectureName(a)));
    }
    if (req->widths_size())
      grid["widths"] =
          std::vector<int>(req->widths().begin(), req->widths().end());
    if (req->seeds_size())
      grid["seeds"] =
          std::vector<int64_t>(req->seeds().begin(), req->seeds().end());
    if (req->last_relu_values_size()) {
      grid["last_relu"] = std::vector<bool>(req->last_relu_values().begin(),
                                            req->last_relu_values().end());
    }
    if (req->epochs_values_size()) {
      grid["epochs"] = std::vector<int>(req->epochs_values().begin(),
                                        req->epochs_values().end());
    }
    spec.grid_json = Dump(grid);
    for (auto m : methods) {
      for (auto a : archs) {
        for (auto w : widths) {
          for (auto r : relus) {
            for (auto seed : seeds) {
              for (auto e : epochs) {
                v1::RunConfig point = req->base();
                point.set_method(m);
                point.set_architecture(a);
                if (w) point.set_width(*w);
                if (r) point.set_last_relu(*r);
                if (seed) point.set_seed(*seed);
                if (e) point.set_epochs(*e);
                SSLAB_ASSIGN_OR_RETURN(v1::RunConfig config,
                                       ExpandRunConfig(point, "base."));
                std::string name = absl::StrCat(
                    req->name(), "/", MethodName(m), "-", ArchitectureName(a),
                    "-k", config.width(), config.last_relu() ? "" : "(-)");
                if (seed) absl::StrAppend(&name, "-seed", *seed);
                if (e) absl::StrAppend(&name, "-e", *e);
                spec.runs.push_back(ToRunSpec(config, name, req->priority()));
              }
            }
          }
        }
      }
    }
    SSLAB_ASSIGN_OR_RETURN(scheduler::SweepSubmission sub,
                           scheduler_->SubmitSweep(spec));
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

grpc::Status ExperimentServiceImpl::GetRun(grpc::ServerContext*,
                                           const v1::GetRunRequest* req,
                                           v1::GetRunResponse* resp) {
  return Guard("GetRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::ListRuns(grpc::ServerContext*,
                                             const v1::ListRunsRequest* req,
                                             v1::ListRunsResponse* resp) {
  return Guard("ListRuns", [&]() -> absl::Status {
    storage::RunFilter filter;
    if (req->state() != v1::RUN_STATE_UNSPECIFIED) {
      filter.state = FromProto(req->state());
      if (!filter.state) {
        return Invalid("state",
                       absl::StrCat("unknown run state (", req->state(), ")"));
      }
    }
    if (req->method() != v1::METHOD_UNSPECIFIED) {
      if (MethodName(req->method()).empty()) {
        return Invalid("method",
                       absl::StrCat("unknown method (", req->method(), ")"));
      }
      filter.method = std::string(MethodName(req->method()));
    }
    if (req->architecture() != v1::ARCHITECTURE_UNSPECIFIED) {
      if (ArchitectureName(req->architecture()).empty()) {
        return Invalid("architecture", absl::StrCat("unknown architecture (",
                                                    req->architecture(), ")"));
      }
      filter.architecture = std::string(ArchitectureName(req->architecture()));
    }
    if (req->sweep_id() < 0) {
      return Invalid("sweep_id",
                     absl::StrCat("must be positive, got ", req->sweep_id()));
    }
    if (req->sweep_id() > 0) filter.sweep_id = req->sweep_id();
    if (req->page_size() < 0) {
      return Invalid("page_size",
                     absl::StrCat("must be >= 0, got ", req->page_size()));
    }
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::RunPage page,
        scheduler_->ListRuns(filter, req->page_size(), req->page_token()));
    for (const storage::Run& run : page.runs) {
      // Counts and progress for the table; a run deleted in between is
      // listed without them.
      absl::StatusOr<v1::Run> full = LoadRun(*scheduler_, run.id, false);
      *resp->add_runs() = full.ok() ? *std::move(full) : ToProto(run);
    }
    resp->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::CancelRun(grpc::ServerContext*,
                                              const v1::CancelRunRequest* req,
                                              v1::CancelRunResponse* resp) {
  return Guard("CancelRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_RETURN_IF_ERROR(scheduler_->Cancel(
        req->run_id(), Truncate(req->reason(), kMaxErrorLength)));
    SSLAB_LOG(INFO) << "cancelled run " << req->run_id()
                    << (req->reason().empty() ? "" : ": ")
                    << Truncate(req->reason(), kMaxErrorLength);
    SSLAB_ASSIGN_OR_RETURN(*resp->mutable_run(),
                           LoadRun(*scheduler_, req->run_id(), true));
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::WatchRun(
    grpc::ServerContext* context, const v1::WatchRunRequest* req,
    grpc::ServerWriter<v1::WatchRunResponse>* writer) {
  return Guard("WatchRun", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    std::string last_sent;
    while (!context->IsCancelled()) {
      if (stopping_)
        return absl::UnavailableError("the scheduler is shutting down");
      // Read the version first so a change during LoadRun is not missed.
      const uint64_t seen = scheduler_->version();
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
      if (IsFinal(update.run().state())) return absl::OkStatus();
      // Wake at least every second to notice a client that went away.
      scheduler_->WaitForChange(seen, absl::Now() + absl::Seconds(1));
    }
    return absl::CancelledError("the client cancelled the watch");
  });
}

grpc::Status ExperimentServiceImpl::ListCheckpoints(
    grpc::ServerContext*, const v1::ListCheckpointsRequest* req,
    v1::ListCheckpointsResponse* resp) {
  return Guard("ListCheckpoints", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->run_id(), "run_id"));
    SSLAB_ASSIGN_OR_RETURN(std::vector<storage::Checkpoint> checkpoints,
                           scheduler_->ListCheckpoints(req->run_id()));
    for (const auto& c : checkpoints) *resp->add_checkpoints() = ToProto(c);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::QueryResults(
    grpc::ServerContext*, const v1::QueryResultsRequest* req,
    v1::QueryResultsResponse* resp) {
  return Guard("QueryResults", [&]() -> absl::Status {
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
        return Invalid("scope", "set run_id or sweep_id");
    }
    if (!req->layer().empty()) filter.layer = req->layer();
    if (req->probe_kind() != v1::PROBE_KIND_UNSPECIFIED) {
      if (ProbeKindName(req->probe_kind()).empty()) {
        return Invalid("probe_kind", absl::StrCat("unknown probe kind (",
                                                  req->probe_kind(), ")"));
      }
      filter.probe_kind = std::string(ProbeKindName(req->probe_kind()));
    }
    SSLAB_ASSIGN_OR_RETURN(std::vector<storage::ResultRow> rows,
                           scheduler_->QueryResults(filter));
    for (const auto& row : rows) *resp->add_results() = ToProto(row);
    return absl::OkStatus();
  });
}

grpc::Status ExperimentServiceImpl::GetVersion(grpc::ServerContext*,
                                               const v1::GetVersionRequest*,
                                               v1::GetVersionResponse* resp) {
  resp->set_version(SSLAB_VERSION);
  resp->set_api("sslab.v1");
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------
// WorkerService

grpc::Status WorkerServiceImpl::RegisterWorker(
    grpc::ServerContext*, const v1::RegisterWorkerRequest* req,
    v1::RegisterWorkerResponse* resp) {
  return Guard("RegisterWorker", [&]() -> absl::Status {
    scheduler::WorkerSpec spec;
    if (req->name().empty()) return Invalid("name", "must not be empty");
    SSLAB_RETURN_IF_ERROR(CheckName(req->name(), "name"));
    spec.name = req->name();
    if (req->devices().empty()) return Invalid("devices", "must not be empty");
    for (int i = 0; i < req->devices_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(
          std::string id,
          DeviceId(req->devices(i), absl::StrCat("devices[", i, "]")));
      spec.devices.push_back(std::move(id));
    }
    for (int i = 0; i < req->job_kinds_size(); ++i) {
      const auto kind = FromProto(static_cast<v1::JobKind>(req->job_kinds(i)));
      if (!kind) {
        return Invalid(
            absl::StrCat("job_kinds[", i, "]"),
            absl::StrCat("unknown job kind (", req->job_kinds(i), ")"));
      }
      spec.kinds.push_back(*kind);
    }
    if (spec.kinds.empty()) {
      spec.kinds = {storage::JobKind::kTrain, storage::JobKind::kExtract,
                    storage::JobKind::kProbe};
    }
    SSLAB_ASSIGN_OR_RETURN(int64_t id, scheduler_->RegisterWorker(spec));
    SSLAB_LOG(INFO) << "worker " << id << " (" << spec.name
                    << ") registered with " << absl::StrJoin(spec.devices, ",");
    resp->set_worker_id(id);
    resp->set_lease_seconds(absl::ToDoubleSeconds(lease_duration_));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::LeaseJob(grpc::ServerContext*,
                                         const v1::LeaseJobRequest* req,
                                         v1::LeaseJobResponse* resp) {
  return Guard("LeaseJob", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    std::vector<std::string> free;
    for (int i = 0; i < req->free_devices_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(std::string id,
                             DeviceId(req->free_devices(i),
                                      absl::StrCat("free_devices[", i, "]")));
      free.push_back(std::move(id));
    }
    SSLAB_ASSIGN_OR_RETURN(std::optional<scheduler::Lease> lease,
                           scheduler_->LeaseJob(req->worker_id(), free));
    if (lease) {
      SSLAB_LOG(INFO) << "worker " << req->worker_id() << " leased job "
                      << lease->job.id << " on " << lease->device;
      *resp->mutable_assignment() = ToAssignment(*lease);
    }
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*,
                                          const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  return Guard("Heartbeat", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    if (!std::isfinite(req->progress()))
      return Invalid("progress", "must be finite");
    if (req->step() < 0) return Invalid("step", "must be >= 0");
    if (req->epoch() < 0) return Invalid("epoch", "must be >= 0");
    std::vector<storage::Metric> metrics;
    const json finite = FiniteMetrics(req->metrics());
    for (const auto& [name, value] : finite.items()) {
      metrics.push_back({req->step(), name, value.get<double>()});
    }
    if (req->epoch() > 0 || req->step() > 0) {
      metrics.push_back(
          {req->step(), "epoch", static_cast<double>(req->epoch())});
    }
    SSLAB_ASSIGN_OR_RETURN(
        scheduler::HeartbeatReply reply,
        scheduler_->Heartbeat(req->worker_id(), req->job_id(), req->progress(),
                              metrics));
    resp->set_cancelled(reply.cancelled);
    ToProto(reply.lease_expiry, resp->mutable_lease_expire_time());
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::CompleteJob(grpc::ServerContext*,
                                            const v1::CompleteJobRequest* req,
                                            v1::CompleteJobResponse*) {
  return Guard("CompleteJob", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    SSLAB_RETURN_IF_ERROR(
        scheduler_->CompleteJob(req->worker_id(), req->job_id()));
    SSLAB_LOG(INFO) << "worker " << req->worker_id() << " completed job "
                    << req->job_id();
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::FailJob(grpc::ServerContext*,
                                        const v1::FailJobRequest* req,
                                        v1::FailJobResponse*) {
  return Guard("FailJob", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    const std::string error = req->error().empty()
                                  ? "failed without a message"
                                  : Truncate(req->error(), kMaxErrorLength);
    SSLAB_RETURN_IF_ERROR(scheduler_->FailJob(req->worker_id(), req->job_id(),
                                              error, req->retryable()));
    SSLAB_LOG(WARNING) << "worker " << req->worker_id() << " failed job "
                       << req->job_id()
                       << (req->retryable() ? " (retryable)" : "") << ": "
                       << error;
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::RegisterCheckpoint(
    grpc::ServerContext*, const v1::RegisterCheckpointRequest* req,
    v1::RegisterCheckpointResponse* resp) {
  return Guard("RegisterCheckpoint", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    if (req->epoch() < 0 || req->epoch() > 1000000) {
      return Invalid(
          "epoch", absl::StrCat("must be in [0, 1000000], got ", req->epoch()));
    }
    if (req->step() < 0) return Invalid("step", "must be >= 0");
    if (req->bytes() < 0) return Invalid("bytes", "must be >= 0");
    if (req->path().empty()) return Invalid("path", "must not be empty");
    scheduler::CheckpointInfo info;
    info.epoch = static_cast<int>(req->epoch());
    info.step = req->step();
    info.path = req->path();
    info.sha256 = req->sha256();
    info.bytes = req->bytes();
    info.metrics_json = Dump(FiniteMetrics(req->metrics()));
    info.is_final = req->is_final();
    SSLAB_ASSIGN_OR_RETURN(
        int64_t id,
        scheduler_->RegisterCheckpoint(req->worker_id(), req->job_id(), info));
    resp->set_checkpoint_id(id);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::RegisterFeatures(
    grpc::ServerContext*, const v1::RegisterFeaturesRequest* req,
    v1::RegisterFeaturesResponse*) {
  return Guard("RegisterFeatures", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    if (req->features().empty())
      return Invalid("features", "must not be empty");
    std::vector<scheduler::FeatureInfo> features;
    for (int i = 0; i < req->features_size(); ++i) {
      const v1::FeatureShard& f = req->features(i);
      const std::string field = absl::StrCat("features[", i, "]");
      if (f.layer().empty())
        return Invalid(field + ".layer", "must not be empty");
      if (f.split().empty())
        return Invalid(field + ".split", "must not be empty");
      if (f.path().empty())
        return Invalid(field + ".path", "must not be empty");
      if (f.rows() < 0) return Invalid(field + ".rows", "must be >= 0");
      if (f.dims() < 0) return Invalid(field + ".dims", "must be >= 0");
      features.push_back(
          {f.layer(), f.split(), f.path(), f.sha256(), f.rows(), f.dims()});
    }
    return scheduler_->RegisterFeatures(req->worker_id(), req->job_id(),
                                        features);
  });
}

grpc::Status WorkerServiceImpl::RecordResult(grpc::ServerContext*,
                                             const v1::RecordResultRequest* req,
                                             v1::RecordResultResponse*) {
  return Guard("RecordResult", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_RETURN_IF_ERROR(CheckId(req->job_id(), "job_id"));
    if (req->split().empty()) return Invalid("split", "must not be empty");
    if (!(req->top1() >= 0 && req->top1() <= 1)) {
      return Invalid("top1",
                     absl::StrCat("must be in [0, 1], got ", req->top1()));
    }
    if (!(req->top5() >= 0 && req->top5() <= 1)) {
      return Invalid("top5",
                     absl::StrCat("must be in [0, 1], got ", req->top5()));
    }
    scheduler::ResultInfo info;
    info.split = req->split();
    info.top1 = req->top1();
    info.top5 = req->top5();
    json hp = json::object();
    for (const auto& [k, v] : req->hyperparameters()) hp[k] = v;
    info.hyperparameters_json = Dump(hp);
    return scheduler_->RecordResult(req->worker_id(), req->job_id(), info);
  });
}

}  // namespace sslab::services
