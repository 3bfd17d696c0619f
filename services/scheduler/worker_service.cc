#include "services/scheduler/worker_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "services/common/experiment_proto.h"
#include "services/scheduler/convert.h"
#include "services/scheduler/handler.h"

namespace sslab::services {
namespace {

// Every device of `devices`, each named "<field>[i]" in errors.
absl::StatusOr<std::vector<experiment::DeviceId>> DevicesFromProto(
    const google::protobuf::RepeatedPtrField<v1::Device>& devices,
    const char* field) {
  std::vector<experiment::DeviceId> out;
  for (int i = 0; i < devices.size(); ++i) {
    SSLAB_ASSIGN_OR_RETURN(
        experiment::DeviceId id,
        FromProto(devices[i], absl::StrCat(field, "[", i, "]")));
    out.push_back(id);
  }
  return out;
}

// The lease a job call names. INVALID_ARGUMENT naming a missing field.
template <typename Request>
absl::StatusOr<scheduler::LeaseRef> LeaseOf(const Request& req) {
  SSLAB_RETURN_IF_ERROR(CheckId(req.worker_id(), "worker_id"));
  SSLAB_RETURN_IF_ERROR(CheckId(req.job_id(), "job_id"));
  if (req.lease_token().empty()) {
    return InvalidField("lease_token",
                        "required (the JobAssignment's lease_token)");
  }
  return scheduler::LeaseRef{req.worker_id(), req.job_id(), req.lease_token()};
}

}  // namespace

grpc::Status WorkerServiceImpl::RegisterWorker(
    grpc::ServerContext* context, const v1::RegisterWorkerRequest* req,
    v1::RegisterWorkerResponse* resp) {
  return handle_(context, "RegisterWorker", [&]() -> absl::Status {
    scheduler::WorkerSpec spec;
    spec.name = req->name();
    spec.build.insert(req->build().begin(), req->build().end());
    for (int i = 0; i < req->devices_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(
          experiment::DeviceInfo device,
          DeviceInfoFromProto(req->devices(i),
                              absl::StrCat("devices[", i, "]")));
      spec.devices.push_back(std::move(device));
    }
    for (int i = 0; i < req->job_kinds_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(experiment::JobKind kind,
                             RequireFromProto<experiment::JobKind>(
                                 static_cast<v1::JobKind>(req->job_kinds(i)),
                                 absl::StrCat("job_kinds[", i, "]")));
      spec.kinds.push_back(kind);
    }
    SSLAB_ASSIGN_OR_RETURN(int64_t id, scheduler_->RegisterWorker(spec));
    std::vector<std::string> devices;
    for (const auto& d : spec.devices) {
      devices.push_back(absl::StrCat(d.id.ToString(), " (",
                                     d.name.empty() ? "unnamed" : d.name, ")"));
    }
    SSLAB_LOG(INFO) << "worker " << id << " (" << spec.name
                    << ") registered with " << absl::StrJoin(devices, ",");
    resp->set_worker_id(id);
    resp->set_lease_seconds(
        absl::ToDoubleSeconds(scheduler_->lease_duration()));
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::LeaseJob(grpc::ServerContext* context,
                                         const v1::LeaseJobRequest* req,
                                         v1::LeaseJobResponse* resp) {
  return handle_(context, "LeaseJob", [&]() -> absl::Status {
    SSLAB_RETURN_IF_ERROR(CheckId(req->worker_id(), "worker_id"));
    SSLAB_ASSIGN_OR_RETURN(
        std::vector<experiment::DeviceId> free,
        DevicesFromProto(req->free_devices(), "free_devices"));
    SSLAB_ASSIGN_OR_RETURN(std::optional<scheduler::Lease> lease,
                           scheduler_->LeaseJob(req->worker_id(), free));
    if (lease) *resp->mutable_assignment() = ToProto(*lease);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  return handle_(context, "Heartbeat", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    if (!std::isfinite(req->progress())) {
      return InvalidField("progress", "must be finite");
    }
    if (req->step() < 0) return InvalidField("step", "must be >= 0");
    if (req->epoch() < 0) return InvalidField("epoch", "must be >= 0");
    scheduler::HeartbeatInfo info;
    info.progress = req->progress();
    // Proto3 cannot tell 0 from unset: a position is known once it moved.
    if (req->epoch() > 0 || req->step() > 0) {
      info.epoch = req->epoch();
      info.step = req->step();
    }
    for (const auto& [name, value] : req->metrics()) info.metrics[name] = value;
    SSLAB_ASSIGN_OR_RETURN(scheduler::HeartbeatReply reply,
                           scheduler_->Heartbeat(lease, info));
    resp->set_cancelled(reply.cancelled);
    ToProto(reply.lease_expiry, resp->mutable_lease_expire_time());
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::CompleteJob(grpc::ServerContext* context,
                                            const v1::CompleteJobRequest* req,
                                            v1::CompleteJobResponse*) {
  return handle_(context, "CompleteJob", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    SSLAB_RETURN_IF_ERROR(scheduler_->CompleteJob(
        lease, {req->lineage().begin(), req->lineage().end()}));
    SSLAB_LOG(INFO) << "worker " << req->worker_id() << " completed job "
                    << req->job_id();
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::FailJob(grpc::ServerContext* context,
                                        const v1::FailJobRequest* req,
                                        v1::FailJobResponse*) {
  return handle_(context, "FailJob", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    const std::string error = req->error().empty() ? "failed without a message"
                                                   : Truncate(req->error());
    if (req->released()) return scheduler_->ReleaseJob(lease, error);
    return scheduler_->FailJob(lease, error, req->retryable());
  });
}

grpc::Status WorkerServiceImpl::RegisterCheckpoint(
    grpc::ServerContext* context, const v1::RegisterCheckpointRequest* req,
    v1::RegisterCheckpointResponse* resp) {
  return handle_(context, "RegisterCheckpoint", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    // Out-of-range epochs are clamped to one past the limit, which the
    // scheduler rejects naming "epoch".
    const experiment::CheckpointReport info = FromProto(*req);
    SSLAB_ASSIGN_OR_RETURN(int64_t id,
                           scheduler_->RegisterCheckpoint(lease, info));
    resp->set_checkpoint_id(id);
    return absl::OkStatus();
  });
}

grpc::Status WorkerServiceImpl::RegisterFeatures(
    grpc::ServerContext* context, const v1::RegisterFeaturesRequest* req,
    v1::RegisterFeaturesResponse*) {
  return handle_(context, "RegisterFeatures", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    if (req->features().empty()) {
      return InvalidField("features", "must not be empty");
    }
    std::vector<experiment::FeatureRef> features;
    for (int i = 0; i < req->features_size(); ++i) {
      SSLAB_ASSIGN_OR_RETURN(
          experiment::FeatureRef f,
          FromProto(req->features(i), absl::StrCat("features[", i, "]")));
      features.push_back(std::move(f));
    }
    return scheduler_->RegisterFeatures(lease, features);
  });
}

grpc::Status WorkerServiceImpl::RecordResult(grpc::ServerContext* context,
                                             const v1::RecordResultRequest* req,
                                             v1::RecordResultResponse*) {
  return handle_(context, "RecordResult", [&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(scheduler::LeaseRef lease, LeaseOf(*req));
    SSLAB_ASSIGN_OR_RETURN(experiment::ProbeResult info, FromProto(*req));
    return scheduler_->RecordResult(lease, info);
  });
}

}  // namespace sslab::services
