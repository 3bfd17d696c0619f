#include "services/scheduler/convert.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/run_config.h"

#ifndef SSLAB_VERSION
#define SSLAB_VERSION "unknown"
#endif

namespace sslab::services {
namespace {

using json = nlohmann::json;

json ParseObject(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

// Reads `key` of `j` as T, or `fallback` when missing or of another type.
template <typename T>
T Get(const json& j, const char* key, T fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

v1::Checkpoint CheckpointFromJson(const json& j) {
  v1::Checkpoint c;
  c.set_checkpoint_id(Get<int64_t>(j, "id", 0));
  c.set_epoch(Get<int64_t>(j, "epoch", 0));
  c.set_step(Get<int64_t>(j, "step", 0));
  c.set_path(Get<std::string>(j, "path", ""));
  c.set_sha256(Get<std::string>(j, "sha256", ""));
  return c;
}

}  // namespace

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  if (t == absl::InfinitePast() || t == absl::UnixEpoch()) {
    out->Clear();
    return;
  }
  const int64_t ms = absl::ToUnixMillis(t);
  out->set_seconds(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  out->set_nanos(static_cast<int32_t>(((ms % 1000) + 1000) % 1000 * 1000000));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

v1::RunState ToProto(storage::RunState state) {
  switch (state) {
    case storage::RunState::kPending:
      return v1::RUN_STATE_PENDING;
    case storage::RunState::kRunning:
      return v1::RUN_STATE_RUNNING;
    case storage::RunState::kSucceeded:
      return v1::RUN_STATE_SUCCEEDED;
    case storage::RunState::kFailed:
      return v1::RUN_STATE_FAILED;
    case storage::RunState::kCancelled:
      return v1::RUN_STATE_CANCELLED;
  }
  return v1::RUN_STATE_UNSPECIFIED;
}

std::optional<storage::RunState> FromProto(v1::RunState state) {
  switch (state) {
    case v1::RUN_STATE_PENDING:
      return storage::RunState::kPending;
    case v1::RUN_STATE_RUNNING:
      return storage::RunState::kRunning;
    case v1::RUN_STATE_SUCCEEDED:
      return storage::RunState::kSucceeded;
    case v1::RUN_STATE_FAILED:
      return storage::RunState::kFailed;
    case v1::RUN_STATE_CANCELLED:
      return storage::RunState::kCancelled;
    default:
      return std::nullopt;
  }
}

v1::JobKind ToProto(storage::JobKind kind) {
  switch (kind) {
    case storage::JobKind::kTrain:
      return v1::JOB_KIND_TRAIN;
    case storage::JobKind::kExtract:
      return v1::JOB_KIND_EXTRACT;
    case storage::JobKind::kProbe:
      return v1::JOB_KIND_PROBE;
  }
  return v1::JOB_KIND_UNSPECIFIED;
}

std::optional<storage::JobKind> FromProto(v1::JobKind kind) {
  switch (kind) {
    case v1::JOB_KIND_TRAIN:
      return storage::JobKind::kTrain;
    case v1::JOB_KIND_EXTRACT:
      return storage::JobKind::kExtract;
    case v1::JOB_KIND_PROBE:
      return storage::JobKind::kProbe;
    default:
      return std::nullopt;
  }
}

v1::JobState ToProto(storage::JobState state) {
  switch (state) {
    case storage::JobState::kPending:
      return v1::JOB_STATE_PENDING;
    case storage::JobState::kRunnable:
      return v1::JOB_STATE_RUNNABLE;
    case storage::JobState::kRunning:
      return v1::JOB_STATE_RUNNING;
    case storage::JobState::kSucceeded:
      return v1::JOB_STATE_SUCCEEDED;
    case storage::JobState::kFailed:
      return v1::JOB_STATE_FAILED;
    case storage::JobState::kCancelled:
      return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

scheduler::RunSpec ToRunSpec(const v1::RunConfig& c, const std::string& name,
                             int priority) {
  scheduler::RunSpec spec;
  spec.name = name;
  spec.method = std::string(MethodName(c.method()));
  spec.architecture = std::string(ArchitectureName(c.architecture()));
  spec.width = c.width();
  spec.config_json = RunConfigToJson(c);
  spec.versions_json =
      json{{"sslab", SSLAB_VERSION}, {"api", "sslab.v1"}}.dump();
  for (const std::string& layer : c.evaluation().layers()) {
    spec.evaluation.layers.push_back(layer);
  }
  for (int kind : c.evaluation().probe_kinds()) {
    spec.evaluation.probe_kinds.emplace_back(
        ProbeKindName(static_cast<v1::ProbeKind>(kind)));
  }
  for (double f : c.evaluation().label_fractions()) {
    spec.evaluation.label_fractions.push_back(f);
  }
  spec.evaluation.every_epochs = c.evaluation().every_epochs();
  spec.priority = priority;
  // AUTO runs on any worker with a CPU slot; the worker picks CUDA when it
  // has one. Probes run on the CPU unless the run asks for CUDA.
  spec.device = c.device() == v1::DEVICE_KIND_CUDA ? storage::DeviceKind::kGpu
                                                   : storage::DeviceKind::kCpu;
  spec.probe_device = spec.device;
  return spec;
}

v1::Run ToProto(const storage::Run& run) {
  v1::Run out;
  out.set_run_id(run.id);
  out.set_name(run.name);
  out.set_sweep_id(run.sweep_id.value_or(0));
  out.set_state(ToProto(run.state));
  out.set_config_json(run.config_json);
  if (auto config = RunConfigFromJson(run.config_json, true); config.ok()) {
    *out.mutable_config() = *std::move(config);
  }
  const json versions = ParseObject(run.versions_json);
  for (const auto& [k, v] : versions.items()) {
    (*out.mutable_versions())[k] =
        v.is_string() ? v.get<std::string>() : v.dump();
  }
  ToProto(run.created_at, out.mutable_create_time());
  ToProto(run.updated_at, out.mutable_update_time());
  out.set_error(run.error);
  out.set_priority(run.priority);
  return out;
}

v1::Run ToProto(const scheduler::RunStatus& status, bool with_jobs) {
  v1::Run out = ToProto(status.run);
  v1::Progress* p = out.mutable_progress();
  p->set_train_fraction(status.train_progress);
  const scheduler::JobCounts& n = status.jobs;
  p->set_jobs_total(n.total);
  p->set_jobs_pending(n.pending);
  p->set_jobs_runnable(n.runnable);
  p->set_jobs_running(n.running);
  p->set_jobs_succeeded(n.succeeded);
  p->set_jobs_failed(n.failed);
  p->set_jobs_cancelled(n.cancelled);
  p->set_epoch(std::max<int64_t>(status.epoch, 0));
  p->set_step(std::max<int64_t>(status.step, 0));
  for (const auto& [name, value] : status.latest_metrics) {
    (*p->mutable_metrics())[name] = value;
  }
  if (with_jobs) {
    for (const storage::Job& job : status.job_list)
      *out.add_jobs() = ToProto(job);
  }
  return out;
}

v1::Job ToProto(const storage::Job& job) {
  v1::Job out;
  out.set_job_id(job.id);
  out.set_run_id(job.run_id);
  out.set_kind(ToProto(job.kind));
  out.set_state(ToProto(job.state));
  out.set_priority(job.priority);
  out.set_attempts(job.attempts);
  out.set_worker_id(job.lease_worker_id.value_or(0));
  out.set_checkpoint_id(job.checkpoint_id.value_or(0));
  if (job.kind == storage::JobKind::kProbe) {
    const json payload = ParseObject(job.payload_json);
    out.set_layer(Get<std::string>(payload, "layer", ""));
    out.set_probe_kind(
        ParseProbeKind(Get<std::string>(payload, "probe_kind", ""))
            .value_or(v1::PROBE_KIND_UNSPECIFIED));
    out.set_label_fraction(Get<double>(payload, "label_fraction", 1.0));
  }
  out.set_progress(job.progress);
  out.set_error(job.last_error);
  if (job.lease_expiry)
    ToProto(*job.lease_expiry, out.mutable_lease_expire_time());
  out.set_device_kind(job.device == storage::DeviceKind::kGpu ? "gpu" : "cpu");
  out.set_lease_device(job.lease_device);
  return out;
}

v1::Checkpoint ToProto(const storage::Checkpoint& c) {
  v1::Checkpoint out;
  out.set_checkpoint_id(c.id);
  out.set_run_id(c.run_id);
  out.set_epoch(c.epoch);
  out.set_step(c.step);
  out.set_path(c.path);
  out.set_sha256(c.sha256);
  out.set_bytes(c.bytes);
  const json metrics = ParseObject(c.metrics_json);
  for (const auto& [k, v] : metrics.items()) {
    if (v.is_number()) (*out.mutable_metrics())[k] = v.get<double>();
  }
  ToProto(c.created_at, out.mutable_create_time());
  out.set_is_final(c.is_final);
  return out;
}

v1::Result ToProto(const storage::ResultRow& row) {
  const storage::Result& r = row.result;
  v1::Result out;
  out.set_result_id(r.id);
  out.set_run_id(row.run_id);
  out.set_checkpoint_id(r.checkpoint_id);
  out.set_epoch(row.epoch);
  out.set_layer(r.layer);
  out.set_probe_kind(
      ParseProbeKind(r.probe_kind).value_or(v1::PROBE_KIND_UNSPECIFIED));
  out.set_label_fraction(r.label_fraction);
  out.set_split(r.split);
  out.set_top1(r.top1);
  out.set_top5(r.top5);
  const json hyperparameters = ParseObject(r.hyperparameters_json);
  for (const auto& [k, v] : hyperparameters.items()) {
    (*out.mutable_hyperparameters())[k] =
        v.is_string() ? v.get<std::string>() : v.dump();
  }
  out.set_method(ParseMethod(row.method).value_or(v1::METHOD_UNSPECIFIED));
  out.set_architecture(ParseArchitecture(row.architecture)
                           .value_or(v1::ARCHITECTURE_UNSPECIFIED));
  out.set_width(row.width);
  out.set_run_name(row.run_name);
  out.set_sweep_id(row.sweep_id.value_or(0));
  return out;
}

absl::StatusOr<std::string> DeviceId(const v1::Device& device,
                                     const std::string& field) {
  switch (device.kind()) {
    case v1::DEVICE_KIND_CPU:
      return std::string("cpu");
    case v1::DEVICE_KIND_CUDA:
      if (device.index() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".index: must be >= 0, got ", device.index()));
      }
      return absl::StrCat("cuda:", device.index());
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".kind: must be DEVICE_KIND_CPU or DEVICE_KIND_CUDA, got ",
          device.kind()));
  }
}

v1::Device DeviceFromId(const std::string& id) {
  v1::Device d;
  int index = 0;
  if (id.rfind("cuda:", 0) == 0 &&
      absl::SimpleAtoi(absl::string_view(id).substr(5), &index)) {
    d.set_kind(v1::DEVICE_KIND_CUDA);
    d.set_index(index);
  } else {
    d.set_kind(v1::DEVICE_KIND_CPU);
  }
  return d;
}

v1::JobAssignment ToAssignment(const scheduler::Lease& lease) {
  v1::JobAssignment out;
  *out.mutable_job() = ToProto(lease.job);
  *out.mutable_device() = DeviceFromId(lease.device);
  ToProto(lease.expiry, out.mutable_lease_expire_time());
  out.set_payload_json(lease.job.payload_json);
  const json payload = ParseObject(lease.job.payload_json);
  if (payload.contains("config") && payload.at("config").is_object()) {
    if (auto config = RunConfigFromJson(payload.at("config").dump(), true);
        config.ok()) {
      *out.mutable_config() = *std::move(config);
    }
  }
  for (const char* key : {"checkpoint", "resume_checkpoint"}) {
    if (payload.contains(key) && payload.at(key).is_object()) {
      *out.mutable_checkpoint() = CheckpointFromJson(payload.at(key));
      out.mutable_checkpoint()->set_run_id(lease.job.run_id);
    }
  }
  out.set_evaluate_every_epochs(Get<int>(payload, "evaluate_every_epochs", 0));
  for (const auto& l : Get<std::vector<std::string>>(payload, "layers", {})) {
    out.add_layers(l);
  }
  for (const auto& s : Get<std::vector<std::string>>(payload, "splits", {})) {
    out.add_splits(s);
  }
  if (payload.contains("features") && payload.at("features").is_object()) {
    for (const auto& [split, f] : payload.at("features").items()) {
      v1::FeatureShard* shard = out.add_features();
      shard->set_layer(out.job().layer());
      shard->set_split(split);
      shard->set_path(Get<std::string>(f, "path", ""));
      shard->set_sha256(Get<std::string>(f, "sha256", ""));
      shard->set_rows(Get<int64_t>(f, "rows", 0));
      shard->set_dims(Get<int64_t>(f, "dims", 0));
    }
  }
  return out;
}

}  // namespace sslab::services
