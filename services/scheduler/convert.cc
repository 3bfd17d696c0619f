#include "services/scheduler/convert.h"

#include <algorithm>

#include "services/common/experiment_proto.h"

namespace sslab::services {

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

v1::Run ToProto(const storage::Run& run) {
  v1::Run out;
  out.set_run_id(run.id);
  out.set_name(run.name);
  out.set_sweep_id(run.sweep_id.value_or(0));
  out.set_state(ToProto<v1::RunState>(run.state));
  *out.mutable_config() = ToProto(run.config);
  for (const auto& [k, v] : run.versions) (*out.mutable_versions())[k] = v;
  ToProto(run.created_at, out.mutable_create_time());
  ToProto(run.updated_at, out.mutable_update_time());
  out.set_error(run.error);
  out.set_priority(run.priority);
  out.set_pinned(run.pinned);
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
  v1::DiskUsage* disk = out.mutable_disk();
  disk->set_checkpoints(status.disk.checkpoints);
  disk->set_checkpoint_bytes(status.disk.checkpoint_bytes);
  disk->set_feature_shards(status.disk.feature_shards);
  disk->set_feature_bytes(status.disk.feature_bytes);
  if (with_jobs) {
    for (const storage::Job& job : status.job_list) {
      *out.add_jobs() = ToProto(job);
    }
  }
  return out;
}

v1::Job ToProto(const storage::Job& job) {
  v1::Job out;
  out.set_job_id(job.id);
  out.set_run_id(job.run_id);
  out.set_kind(ToProto<v1::JobKind>(job.kind));
  out.set_state(ToProto<v1::JobState>(job.state));
  out.set_priority(job.priority);
  out.set_attempts(job.attempts);
  out.set_worker_id(job.lease_worker_id.value_or(0));
  out.set_checkpoint_id(job.checkpoint_id.value_or(0));
  if (job.probe) {
    out.set_layer(job.probe->layer);
    out.set_probe_kind(ToProto<v1::ProbeKind>(job.probe->probe_kind));
    out.set_label_fraction(job.probe->label_fraction);
  }
  out.set_progress(job.progress);
  out.set_error(job.last_error);
  if (job.lease_expiry) {
    ToProto(*job.lease_expiry, out.mutable_lease_expire_time());
  }
  out.set_device_kind(std::string(experiment::Name(job.device)));
  if (job.lease_device) out.set_lease_device(job.lease_device->ToString());
  for (const experiment::DeviceId& d : job.lease_gang) {
    out.add_lease_gang(d.ToString());
  }
  out.mutable_lineage()->insert(job.lineage.begin(), job.lineage.end());
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
  for (const auto& [k, v] : c.metrics) (*out.mutable_metrics())[k] = v;
  ToProto(c.created_at, out.mutable_create_time());
  out.set_is_final(c.is_final);
  if (c.deleted_at) ToProto(*c.deleted_at, out.mutable_delete_time());
  return out;
}

v1::Artifact ToProto(const scheduler::Artifact& a) {
  v1::Artifact out;
  out.set_run_id(a.run_id);
  out.set_epoch(a.epoch);
  out.set_path(a.path);
  out.set_bytes(a.bytes);
  if (a.kind == scheduler::Artifact::Kind::kCheckpoint) {
    out.set_kind("checkpoint");
  } else {
    out.set_kind("features");
    out.set_layer(a.layer);
    out.set_split(std::string(experiment::Name(a.split)));
  }
  return out;
}

v1::Result ToProto(const storage::ResultRow& row) {
  const storage::Result& r = row.result;
  v1::Result out;
  out.set_result_id(r.id);
  out.set_run_id(row.run_id);
  out.set_checkpoint_id(r.checkpoint_id);
  out.set_epoch(row.epoch);
  out.set_layer(r.target.layer);
  out.set_probe_kind(ToProto<v1::ProbeKind>(r.target.probe_kind));
  out.set_label_fraction(r.target.label_fraction);
  out.set_split(std::string(experiment::Name(r.split)));
  out.set_top1(r.top1);
  out.set_top5(r.top5);
  for (const auto& [k, v] : r.hyperparameters) {
    (*out.mutable_hyperparameters())[k] = v;
  }
  out.set_method(ToProto<v1::Method>(row.method));
  out.set_architecture(ToProto<v1::Architecture>(row.architecture));
  out.set_width(row.width);
  out.set_run_name(row.run_name);
  out.set_sweep_id(row.sweep_id.value_or(0));
  return out;
}

v1::JobAssignment ToProto(const scheduler::Lease& lease) {
  v1::JobAssignment out;
  *out.mutable_job() = ToProto(lease.job);
  ToProto(lease.assignment, &out);
  ToProto(lease.expiry, out.mutable_lease_expire_time());
  out.set_lease_token(lease.token);
  return out;
}

v1::Sweep ToProto(const storage::SweepSummary& s) {
  v1::Sweep out;
  out.set_sweep_id(s.sweep.id);
  out.set_name(s.sweep.name);
  const experiment::SweepGrid& g = s.sweep.grid;
  v1::SweepGrid* grid = out.mutable_grid();
  for (auto m : g.methods) grid->add_methods(ToProto<v1::Method>(m));
  for (auto a : g.architectures) {
    grid->add_architectures(ToProto<v1::Architecture>(a));
  }
  for (int w : g.widths) grid->add_widths(w);
  for (bool r : g.last_relu_values) grid->add_last_relu_values(r);
  for (int64_t seed : g.seeds) grid->add_seeds(seed);
  for (int e : g.epochs_values) grid->add_epochs_values(e);
  for (const experiment::SweepAxis& axis : g.axes) {
    v1::SweepAxis* out_axis = grid->add_axes();
    out_axis->set_field(axis.field);
    for (const std::string& value : axis.values) out_axis->add_values(value);
  }
  for (const std::vector<std::string>& fields : g.zip) {
    v1::SweepZip* zip = grid->add_zip();
    for (const std::string& field : fields) zip->add_fields(field);
  }
  ToProto(s.sweep.created_at, out.mutable_create_time());
  out.set_runs_total(static_cast<int32_t>(s.runs));
  out.set_runs_succeeded(static_cast<int32_t>(s.succeeded));
  return out;
}

v1::Worker ToProto(const scheduler::WorkerInfo& info) {
  const storage::Worker& w = info.worker;
  v1::Worker out;
  out.set_worker_id(w.id);
  out.set_name(w.name);
  for (const experiment::DeviceInfo& d : w.devices) {
    *out.add_devices() = ToProto(d);
  }
  for (experiment::JobKind k : w.kinds) {
    out.add_job_kinds(ToProto<v1::JobKind>(k));
  }
  ToProto(w.registered_at, out.mutable_register_time());
  ToProto(w.last_heartbeat, out.mutable_last_heartbeat_time());
  out.set_alive(info.alive);
  for (const storage::Job& job : info.jobs) *out.add_jobs() = ToProto(job);
  return out;
}

v1::MetricSeries ToProto(const scheduler::MetricSeries& series) {
  v1::MetricSeries out;
  out.set_name(series.name);
  out.set_total_points(series.total_points);
  for (const storage::Metric& m : series.points) {
    v1::MetricPoint* p = out.add_points();
    p->set_step(m.step);
    p->set_value(m.value);
  }
  return out;
}

}  // namespace sslab::services
