#include "storage/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "storage/internal/columns.h"
#include "storage/internal/sqlite.h"

namespace sslab::storage {

using internal::Database;
using internal::Statement;
using internal::Transaction;

namespace {

// Migration N takes a database from user_version N-1 to N. Forward only:
// never edit a released migration, append a new one.
constexpr const char* kMigrations[] = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE sweeps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  grid_json TEXT NOT NULL DEFAULT '{}',
  created_ms INTEGER NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  sweep_id INTEGER REFERENCES sweeps(id),
  state TEXT NOT NULL CONSTRAINT run_state_valid
    CHECK (state IN ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
  method TEXT NOT NULL CONSTRAINT run_method_set CHECK (method <> ''),
  architecture TEXT NOT NULL
    CONSTRAINT run_architecture_set CHECK (architecture <> ''),
  width INTEGER NOT NULL CONSTRAINT run_width_positive CHECK (width >= 1),
  config_json TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  versions_json TEXT NOT NULL,
  priority INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_sweep ON runs(sweep_id);
CREATE INDEX runs_by_state ON runs(state);
CREATE TABLE workers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE CONSTRAINT worker_name_set CHECK (name <> ''),
  kinds_json TEXT NOT NULL,
  devices_json TEXT NOT NULL,
  registered_ms INTEGER NOT NULL,
  last_heartbeat_ms INTEGER NOT NULL
);
CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  epoch INTEGER NOT NULL CONSTRAINT checkpoint_epoch_nonnegative
    CHECK (epoch >= 0),
  step INTEGER NOT NULL CONSTRAINT checkpoint_step_nonnegative
    CHECK (step >= 0),
  path TEXT NOT NULL CONSTRAINT checkpoint_path_set CHECK (path <> ''),
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL CONSTRAINT checkpoint_bytes_nonnegative
    CHECK (bytes >= 0),
  metrics_json TEXT NOT NULL,
  is_final INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (run_id, epoch)
);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL CONSTRAINT job_kind_valid
    CHECK (kind IN ('TRAIN','EXTRACT','PROBE')),
  state TEXT NOT NULL CONSTRAINT job_state_valid CHECK (state IN
    ('PENDING','RUNNABLE','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
  checkpoint_id INTEGER REFERENCES checkpoints(id),
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL CONSTRAINT job_attempts_nonnegative
    CHECK (attempts >= 0),
  max_attempts INTEGER NOT NULL CONSTRAINT job_max_attempts_positive
    CHECK (max_attempts >= 1),
  device TEXT NOT NULL CONSTRAINT job_device_valid
    CHECK (device IN ('CPU','GPU')),
  lease_worker_id INTEGER REFERENCES workers(id),
  lease_device TEXT NOT NULL DEFAULT '',
  lease_expiry_ms INTEGER,
  payload_json TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX jobs_queue ON jobs(state, priority DESC, id);
CREATE INDEX jobs_by_run ON jobs(run_id);
CREATE INDEX jobs_by_lease ON jobs(lease_expiry_ms) WHERE lease_expiry_ms IS NOT NULL;
CREATE TABLE features (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
  layer TEXT NOT NULL CONSTRAINT feature_layer_set CHECK (layer <> ''),
  split TEXT NOT NULL CONSTRAINT feature_split_set CHECK (split <> ''),
  path TEXT NOT NULL CONSTRAINT feature_path_set CHECK (path <> ''),
  sha256 TEXT NOT NULL,
  rows INTEGER NOT NULL CONSTRAINT feature_rows_nonnegative CHECK (rows >= 0),
  dims INTEGER NOT NULL CONSTRAINT feature_dims_nonnegative CHECK (dims >= 0),
  created_ms INTEGER NOT NULL,
  UNIQUE (checkpoint_id, layer, split)
);
CREATE TABLE results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
  layer TEXT NOT NULL CONSTRAINT result_layer_set CHECK (layer <> ''),
  probe_kind TEXT NOT NULL CONSTRAINT result_probe_kind_set
    CHECK (probe_kind <> ''),
  label_fraction REAL NOT NULL CONSTRAINT result_label_fraction_range
    CHECK (label_fraction > 0 AND label_fraction <= 1),
  split TEXT NOT NULL CONSTRAINT result_split_set CHECK (split <> ''),
  top1 REAL NOT NULL,
  top5 REAL NOT NULL,
  hyperparameters_json TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (checkpoint_id, layer, probe_kind, label_fraction, split)
);
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  step INTEGER NOT NULL,
  name TEXT NOT NULL CONSTRAINT metric_name_set CHECK (name <> ''),
  value REAL NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX metrics_by_run ON metrics(run_id, name, step);
)sql",
    // 2: the typed experiment model. A run's configuration moves from
    // config_json / plan_json into typed columns (lists as JSON arrays),
    // with the settings runs could not choose before (augmentation,
    // precision, memory format, probe device and hyper-parameters) set to
    // what they ran with; PROBE jobs keep their target in typed columns
    // instead of payload_json; a job's device is what it asks for ('auto',
    // 'cpu', 'cuda'); a worker's devices are objects with what it found.
    R"sql(
ALTER TABLE runs ADD COLUMN last_relu INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN dataset_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN dataset_path TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN val_fraction REAL NOT NULL DEFAULT 0.1;
ALTER TABLE runs ADD COLUMN max_examples INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN image_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN epochs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN batch_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN base_lr REAL NOT NULL DEFAULT 0.1;
ALTER TABLE runs ADD COLUMN warmup_epochs REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN decay_epochs TEXT NOT NULL DEFAULT '[]'
  CONSTRAINT run_decay_epochs_list CHECK (json_type(decay_epochs) = 'array');
ALTER TABLE runs ADD COLUMN decay_factor REAL NOT NULL DEFAULT 0.1;
ALTER TABLE runs ADD COLUMN eval_layers TEXT NOT NULL DEFAULT '[]'
  CONSTRAINT run_eval_layers_list CHECK (json_type(eval_layers) = 'array');
ALTER TABLE runs ADD COLUMN eval_probe_kinds TEXT NOT NULL DEFAULT '[]'
  CONSTRAINT run_eval_probe_kinds_list
  CHECK (json_type(eval_probe_kinds) = 'array');
ALTER TABLE runs ADD COLUMN eval_label_fractions TEXT NOT NULL DEFAULT '[]'
  CONSTRAINT run_eval_label_fractions_list
  CHECK (json_type(eval_label_fractions) = 'array');
ALTER TABLE runs ADD COLUMN eval_every_epochs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN seed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN device TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE runs ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3
  CONSTRAINT run_max_attempts_positive CHECK (max_attempts >= 1);
ALTER TABLE runs ADD COLUMN augmentation TEXT NOT NULL DEFAULT 'inception';
ALTER TABLE runs ADD COLUMN probe_device TEXT NOT NULL DEFAULT 'cpu';
ALTER TABLE runs ADD COLUMN precision TEXT NOT NULL DEFAULT 'fp32';
ALTER TABLE runs ADD COLUMN memory_format TEXT NOT NULL DEFAULT 'nchw';
ALTER TABLE runs ADD COLUMN probe_l2_grid TEXT NOT NULL
  DEFAULT '[0.1,0.01,0.001,0.0001,1e-05,1e-06]'
  CONSTRAINT run_probe_l2_grid_list CHECK (json_type(probe_l2_grid) = 'array');
ALTER TABLE runs ADD COLUMN probe_sgd_epochs INTEGER NOT NULL DEFAULT 100;
ALTER TABLE runs ADD COLUMN probe_sgd_learning_rate REAL NOT NULL DEFAULT 0.1;
ALTER TABLE runs ADD COLUMN probe_sgd_batch_size INTEGER NOT NULL
  DEFAULT 2048;
ALTER TABLE runs ADD COLUMN probe_mlp_hidden_units INTEGER NOT NULL
  DEFAULT 1000;
ALTER TABLE runs ADD COLUMN probe_mlp_epochs INTEGER NOT NULL DEFAULT 30;
-- config_json is the proto3 JSON mapping of the expanded sslab.v1.RunConfig:
-- enums by their proto names (METHOD_ROTATION), int64 values as strings.
UPDATE runs SET
  last_relu = coalesce(json_extract(config_json, '$.last_relu'), 1),
  dataset_kind =
    lower(substr(coalesce(json_extract(config_json, '$.dataset.kind'), ''),
                 length('DATASET_KIND_') + 1)),
  dataset_path = coalesce(json_extract(config_json, '$.dataset.path'), ''),
  val_fraction =
    coalesce(json_extract(config_json, '$.dataset.val_fraction'), 0.1),
  max_examples = CAST(coalesce(json_extract(config_json,
                                            '$.dataset.max_examples'), 0)
                      AS INTEGER),
  image_size = coalesce(json_extract(config_json, '$.dataset.image_size'), 0),
  epochs = coalesce(json_extract(config_json, '$.epochs'), 0),
  batch_size = coalesce(json_extract(config_json, '$.batch_size'), 0),
  base_lr = coalesce(json_extract(config_json, '$.lr_schedule.base_lr'), 0.1),
  warmup_epochs =
    coalesce(json_extract(config_json, '$.lr_schedule.warmup_epochs'), 0),
  decay_epochs =
    coalesce(json_extract(config_json, '$.lr_schedule.decay_epochs'), '[]'),
  decay_factor =
    coalesce(json_extract(config_json, '$.lr_schedule.decay_factor'), 0.1),
  eval_layers =
    coalesce(json_extract(config_json, '$.evaluation.layers'), '[]'),
  eval_probe_kinds = (
    SELECT json_group_array(lower(substr(value, length('PROBE_KIND_') + 1)))
    FROM json_each(runs.config_json, '$.evaluation.probe_kinds')),
  eval_label_fractions =
    coalesce(json_extract(config_json, '$.evaluation.label_fractions'), '[]'),
  eval_every_epochs =
    coalesce(json_extract(config_json, '$.evaluation.every_epochs'), 0),
  seed = CAST(coalesce(json_extract(config_json, '$.seed'), 0) AS INTEGER),
  device = lower(substr(coalesce(json_extract(config_json, '$.device'),
                                 'DEVICE_KIND_AUTO'),
                        length('DEVICE_KIND_') + 1)),
  threads = coalesce(json_extract(config_json, '$.threads'), 0),
  max_attempts = coalesce(json_extract(plan_json, '$.max_attempts'), 3);
-- Version 1 ran PROBE jobs on the run's device when it was 'cuda'.
UPDATE runs SET probe_device = CASE device WHEN 'cuda' THEN 'cuda' ELSE 'cpu'
                               END;
ALTER TABLE runs DROP COLUMN config_json;
ALTER TABLE runs DROP COLUMN plan_json;

CREATE TABLE jobs_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  kind TEXT NOT NULL CONSTRAINT job_kind_valid
    CHECK (kind IN ('TRAIN','EXTRACT','PROBE')),
  state TEXT NOT NULL CONSTRAINT job_state_valid CHECK (state IN
    ('PENDING','RUNNABLE','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
  checkpoint_id INTEGER REFERENCES checkpoints(id),
  layer TEXT,
  probe_kind TEXT,
  label_fraction REAL,
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL CONSTRAINT job_attempts_nonnegative
    CHECK (attempts >= 0),
  max_attempts INTEGER NOT NULL CONSTRAINT job_max_attempts_positive
    CHECK (max_attempts >= 1),
  device TEXT NOT NULL CONSTRAINT job_device_valid
    CHECK (device IN ('auto','cpu','cuda')),
  lease_worker_id INTEGER REFERENCES workers(id),
  lease_device TEXT NOT NULL DEFAULT '',
  lease_expiry_ms INTEGER,
  progress REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  CONSTRAINT job_probe_target CHECK ((kind = 'PROBE') = (layer IS NOT NULL
    AND probe_kind IS NOT NULL AND label_fraction IS NOT NULL))
);
INSERT INTO jobs_v2 (id, run_id, kind, state, checkpoint_id, layer,
  probe_kind, label_fraction, priority, attempts, max_attempts, device,
  lease_worker_id, lease_device, lease_expiry_ms, progress, last_error,
  created_ms, updated_ms)
SELECT id, run_id, kind, state, checkpoint_id,
  CASE kind WHEN 'PROBE' THEN json_extract(payload_json, '$.layer') END,
  CASE kind WHEN 'PROBE' THEN json_extract(payload_json, '$.probe_kind') END,
  CASE kind WHEN 'PROBE' THEN json_extract(payload_json, '$.label_fraction')
  END,
  priority, attempts, max_attempts,
  CASE device WHEN 'GPU' THEN 'cuda' ELSE 'cpu' END,
  lease_worker_id, lease_device, lease_expiry_ms, progress, last_error,
  created_ms, updated_ms
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_queue ON jobs(state, priority DESC, id);
CREATE INDEX jobs_by_run ON jobs(run_id);
CREATE INDEX jobs_by_lease ON jobs(lease_expiry_ms) WHERE lease_expiry_ms IS NOT NULL;

UPDATE workers SET devices_json = (
  SELECT json_group_array(json_object('id', value, 'key', '', 'name', '',
                                      'memory_bytes', 0))
  FROM json_each(workers.devices_json));
)sql",
    // 3: the SHA-256 of each lease's token; leases from before have none, so
    // no call can match them: they expire and their jobs are requeued.
    R"sql(
ALTER TABLE jobs ADD COLUMN lease_token_sha256 TEXT NOT NULL DEFAULT '';
)sql",
    // 4: each run's latest value per metric, kept on append (GetRun read it
    // with one subquery per row), and each series' point count, which
    // retention keeps bounded.
    R"sql(
CREATE TABLE latest_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  name TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL NOT NULL,
  points INTEGER NOT NULL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
INSERT INTO latest_metrics (run_id, name, step, value, points)
SELECT m.run_id, m.name, m.step, m.value,
       (SELECT count(*) FROM metrics c
        WHERE c.run_id = m.run_id AND c.name = m.name)
FROM metrics m
WHERE m.id = (SELECT n.id FROM metrics n
              WHERE n.run_id = m.run_id AND n.name = m.name
              ORDER BY n.step DESC, n.id DESC LIMIT 1);
)sql",
    // 5: lineage. What each worker runs (its build: sslab version and git
    // commit, LibTorch, CUDA and cuDNN, host), and what ran each job (that
    // build, the worker's name and the device), set at each lease.
    R"sql(
ALTER TABLE workers ADD COLUMN build_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN lineage_json TEXT NOT NULL DEFAULT '{}';
)sql",
    // 6: the artifact lifecycle. Runs may store features as float16.
    // Pinned runs keep every artifact; retention
    // marks what it deleted (the rows stay: results refer to checkpoints);
    // feature shards record their size, estimated for older rows as the
    // float32 payload they were written with.
    R"sql(
ALTER TABLE runs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN eval_feature_dtype TEXT NOT NULL
  DEFAULT 'float32';
ALTER TABLE checkpoints ADD COLUMN deleted_ms INTEGER;
ALTER TABLE features ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE features ADD COLUMN deleted_ms INTEGER;
UPDATE features SET bytes = rows * dims * 4;
CREATE INDEX checkpoints_live ON checkpoints(run_id) WHERE deleted_ms IS NULL;
)sql",
    // 7: data-parallel runs. A run's ranks per TRAIN job, and the devices a
    // gang lease holds (rank 0's is lease_device).
    R"sql(
ALTER TABLE runs ADD COLUMN devices_per_run INTEGER NOT NULL DEFAULT 1
  CONSTRAINT run_devices_per_run_positive CHECK (devices_per_run >= 1);
ALTER TABLE jobs ADD COLUMN lease_gang TEXT NOT NULL DEFAULT '[]'
  CONSTRAINT job_lease_gang_list CHECK (json_type(lease_gang) = 'array');
)sql",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion,
              "one migration per schema version");

// PRAGMA user_version cannot take a bound parameter; these are the only
// values ever written, fixed at compile time.
constexpr const char* kSetUserVersion[] = {
    "PRAGMA user_version = 1", "PRAGMA user_version = 2",
    "PRAGMA user_version = 3", "PRAGMA user_version = 4",
    "PRAGMA user_version = 5", "PRAGMA user_version = 6",
    "PRAGMA user_version = 7",
};
static_assert(std::size(kSetUserVersion) == Store::kSchemaVersion);

// ---- Row mapping ----

using experiment::ProbeKind;
using experiment::Split;
using internal::Corrupt;
using internal::EnumText;
using internal::ParseEnumText;

constexpr const char* kRunColumns =
    "id, name, sweep_id, state, method, architecture, width, last_relu, "
    "dataset_kind, dataset_path, val_fraction, max_examples, image_size, "
    "epochs, batch_size, base_lr, warmup_epochs, decay_epochs, decay_factor, "
    "eval_layers, eval_probe_kinds, eval_label_fractions, eval_every_epochs, "
    "seed, device, threads, max_attempts, versions_json, priority, "
    "created_ms, updated_ms, error, augmentation, probe_device, precision, "
    "memory_format, probe_l2_grid, probe_sgd_epochs, probe_sgd_learning_rate, "
    "probe_sgd_batch_size, probe_mlp_hidden_units, probe_mlp_epochs, pinned, "
    "eval_feature_dtype, devices_per_run";

absl::StatusOr<Run> ReadRun(const Statement& s) {
  Run run;
  run.id = s.Int(0);
  run.name = s.Text(1);
  run.sweep_id = s.OptionalInt(2);
  SSLAB_ASSIGN_OR_RETURN(run.state,
                         ParseEnumText<RunState>(s.Text(3), "run state"));
  experiment::RunConfig& c = run.config;
  SSLAB_ASSIGN_OR_RETURN(
      c.method, ParseEnumText<experiment::Method>(s.Text(4), "method"));
  SSLAB_ASSIGN_OR_RETURN(
      c.architecture,
      ParseEnumText<experiment::Architecture>(s.Text(5), "architecture"));
  c.width = static_cast<int>(s.Int(6));
  c.last_relu = s.Int(7) != 0;
  SSLAB_ASSIGN_OR_RETURN(c.dataset.kind, ParseEnumText<experiment::DatasetKind>(
                                             s.Text(8), "dataset kind"));
  c.dataset.path = s.Text(9);
  c.dataset.val_fraction = s.Double(10);
  c.dataset.max_examples = s.Int(11);
  c.dataset.image_size = static_cast<int>(s.Int(12));
  c.epochs = static_cast<int>(s.Int(13));
  c.batch_size = static_cast<int>(s.Int(14));
  c.lr_schedule.base_lr = s.Double(15);
  c.lr_schedule.warmup_epochs = s.Double(16);
  SSLAB_ASSIGN_OR_RETURN(c.lr_schedule.decay_epochs,
                         internal::DecodeNumbers(s.Text(17), "decay epochs"));
  c.lr_schedule.decay_factor = s.Double(18);
  SSLAB_ASSIGN_OR_RETURN(
      c.evaluation.layers,
      internal::DecodeStrings(s.Text(19), "evaluation layer list"));
  SSLAB_ASSIGN_OR_RETURN(
      c.evaluation.probe_kinds,
      internal::DecodeEnums<ProbeKind>(s.Text(20), "evaluation probe kind"));
  SSLAB_ASSIGN_OR_RETURN(
      c.evaluation.label_fractions,
      internal::DecodeNumbers(s.Text(21), "evaluation label fractions"));
  c.evaluation.every_epochs = static_cast<int>(s.Int(22));
  c.seed = s.Int(23);
  SSLAB_ASSIGN_OR_RETURN(c.device, ParseEnumText<experiment::DeviceRequest>(
                                       s.Text(24), "run device"));
  c.threads = static_cast<int>(s.Int(25));
  run.max_attempts = static_cast<int>(s.Int(26));
  SSLAB_ASSIGN_OR_RETURN(run.versions,
                         internal::DecodeStringMap(s.Text(27), "versions"));
  run.priority = static_cast<int>(s.Int(28));
  run.created_at = s.Time(29);
  run.updated_at = s.Time(30);
  run.error = s.Text(31);
  SSLAB_ASSIGN_OR_RETURN(
      c.augmentation,
      ParseEnumText<experiment::Augmentation>(s.Text(32), "augmentation"));
  SSLAB_ASSIGN_OR_RETURN(
      c.probe_device,
      ParseEnumText<experiment::DeviceRequest>(s.Text(33), "probe device"));
  SSLAB_ASSIGN_OR_RETURN(c.precision, ParseEnumText<experiment::Precision>(
                                          s.Text(34), "precision"));
  SSLAB_ASSIGN_OR_RETURN(
      c.memory_format,
      ParseEnumText<experiment::MemoryFormat>(s.Text(35), "memory format"));
  experiment::ProbeSettings& probe = c.evaluation.probe;
  SSLAB_ASSIGN_OR_RETURN(probe.l2_grid,
                         internal::DecodeNumbers(s.Text(36), "probe L2 grid"));
  probe.sgd_epochs = static_cast<int>(s.Int(37));
  probe.sgd_learning_rate = s.Double(38);
  probe.sgd_batch_size = static_cast<int>(s.Int(39));
  probe.mlp_hidden_units = static_cast<int>(s.Int(40));
  probe.mlp_epochs = static_cast<int>(s.Int(41));
  run.pinned = s.Int(42) != 0;
  SSLAB_ASSIGN_OR_RETURN(
      c.evaluation.feature_dtype,
      ParseEnumText<experiment::FeatureDtype>(s.Text(43), "feature dtype"));
  c.devices_per_run = static_cast<int>(s.Int(44));
  return run;
}

constexpr const char* kJobColumns =
    "id, run_id, kind, state, checkpoint_id, layer, probe_kind, "
    "label_fraction, priority, attempts, max_attempts, device, "
    "lease_worker_id, lease_device, lease_expiry_ms, progress, last_error, "
    "created_ms, updated_ms, lease_token_sha256, lineage_json, lease_gang";

absl::StatusOr<Job> ReadJob(const Statement& s) {
  Job job;
  job.id = s.Int(0);
  job.run_id = s.Int(1);
  SSLAB_ASSIGN_OR_RETURN(job.kind,
                         ParseEnumText<JobKind>(s.Text(2), "job kind"));
  SSLAB_ASSIGN_OR_RETURN(job.state,
                         ParseEnumText<JobState>(s.Text(3), "job state"));
  job.checkpoint_id = s.OptionalInt(4);
  if (!s.IsNull(5)) {
    experiment::ProbeTarget target;
    target.layer = s.Text(5);
    SSLAB_ASSIGN_OR_RETURN(target.probe_kind,
                           ParseEnumText<ProbeKind>(s.Text(6), "probe kind"));
    target.label_fraction = s.Double(7);
    job.probe = std::move(target);
  }
  job.priority = static_cast<int>(s.Int(8));
  job.attempts = static_cast<int>(s.Int(9));
  job.max_attempts = static_cast<int>(s.Int(10));
  SSLAB_ASSIGN_OR_RETURN(job.device, ParseEnumText<experiment::DeviceRequest>(
                                         s.Text(11), "job device"));
  job.lease_worker_id = s.OptionalInt(12);
  SSLAB_ASSIGN_OR_RETURN(job.lease_device,
                         internal::ParseDeviceText(s.Text(13), "lease device"));
  job.lease_expiry = s.OptionalTime(14);
  job.progress = s.Double(15);
  job.last_error = s.Text(16);
  job.created_at = s.Time(17);
  job.updated_at = s.Time(18);
  job.lease_token_sha256 = s.Text(19);
  SSLAB_ASSIGN_OR_RETURN(job.lineage,
                         internal::DecodeStringMap(s.Text(20), "job lineage"));
  SSLAB_ASSIGN_OR_RETURN(std::vector<std::string> gang,
                         internal::DecodeStrings(s.Text(21), "lease gang"));
  for (const std::string& text : gang) {
    SSLAB_ASSIGN_OR_RETURN(
        std::optional<experiment::DeviceId> device,
        internal::ParseDeviceText(text, "lease gang device"));
    if (!device) return Corrupt("lease gang device", "empty");
    job.lease_gang.push_back(*device);
  }
  return job;
}

constexpr const char* kCheckpointColumns =
    "id, run_id, epoch, step, path, sha256, bytes, metrics_json, is_final, "
    "created_ms, deleted_ms";

absl::StatusOr<Checkpoint> ReadCheckpoint(const Statement& s) {
  Checkpoint c;
  c.id = s.Int(0);
  c.run_id = s.Int(1);
  c.epoch = static_cast<int>(s.Int(2));
  c.step = s.Int(3);
  c.path = s.Text(4);
  c.sha256 = s.Text(5);
  c.bytes = s.Int(6);
  SSLAB_ASSIGN_OR_RETURN(
      c.metrics, internal::DecodeNumberMap(s.Text(7), "checkpoint metrics"));
  c.is_final = s.Int(8) != 0;
  c.created_at = s.Time(9);
  c.deleted_at = s.OptionalTime(10);
  return c;
}

absl::StatusOr<Feature> ReadFeature(const Statement& s) {
  Feature f;
  f.id = s.Int(0);
  f.checkpoint_id = s.Int(1);
  f.layer = s.Text(2);
  SSLAB_ASSIGN_OR_RETURN(f.split,
                         ParseEnumText<Split>(s.Text(3), "feature split"));
  f.path = s.Text(4);
  f.sha256 = s.Text(5);
  f.rows = s.Int(6);
  f.dims = s.Int(7);
  f.created_at = s.Time(8);
  f.bytes = s.Int(9);
  f.deleted_at = s.OptionalTime(10);
  return f;
}

constexpr const char* kWorkerColumns =
    "id, name, kinds_json, devices_json, registered_ms, last_heartbeat_ms, "
    "build_json";

absl::StatusOr<Worker> ReadWorker(const Statement& s) {
  Worker w;
  w.id = s.Int(0);
  w.name = s.Text(1);
  SSLAB_ASSIGN_OR_RETURN(
      w.kinds, internal::DecodeEnums<JobKind>(s.Text(2), "worker job kind"));
  SSLAB_ASSIGN_OR_RETURN(w.devices,
                         internal::DecodeDevices(s.Text(3), "worker devices"));
  w.registered_at = s.Time(4);
  w.last_heartbeat = s.Time(5);
  SSLAB_ASSIGN_OR_RETURN(w.build,
                         internal::DecodeStringMap(s.Text(6), "worker build"));
  return w;
}

// Collects every row of `s` through `read` (returning T or StatusOr<T>).
template <typename T, typename ReadFn>
absl::StatusOr<std::vector<T>> ReadAll(Statement& s, ReadFn read) {
  std::vector<T> out;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    if constexpr (std::is_same_v<decltype(read(s)), T>) {
      out.push_back(read(s));
    } else {
      SSLAB_ASSIGN_OR_RETURN(T value, read(s));
      out.push_back(std::move(value));
    }
  }
}

// `ids` as a JSON array, for `IN (SELECT value FROM json_each(?))`: one
// statement serves a whole page of runs.
std::string IdArray(const std::vector<int64_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

// Binds a job's probe target at `first` .. first + 2 (NULL for non-PROBE).
Statement& BindJobTarget(Statement& s, const Job& job, int first) {
  if (job.probe) {
    s.Bind(first, job.probe->layer)
        .Bind(first + 1, EnumText(job.probe->probe_kind))
        .Bind(first + 2, job.probe->label_fraction);
  } else {
    s.BindNull(first).BindNull(first + 1).BindNull(first + 2);
  }
  return s;
}

// Binds priority .. lease_gang (kJobColumns from "priority" on) at
// `first`..
Statement& BindJobState(Statement& s, const Job& job, int first) {
  std::vector<std::string> gang;
  for (const experiment::DeviceId& d : job.lease_gang) {
    gang.push_back(internal::DeviceText(d));
  }
  return s.Bind(first, job.priority)
      .Bind(first + 1, job.attempts)
      .Bind(first + 2, job.max_attempts)
      .Bind(first + 3, EnumText(job.device))
      .Bind(first + 4, job.lease_worker_id)
      .Bind(first + 5, internal::DeviceText(job.lease_device))
      .Bind(first + 6, job.lease_expiry)
      .Bind(first + 7, job.progress)
      .Bind(first + 8, job.last_error)
      .Bind(first + 9, job.created_at)
      .Bind(first + 10, job.updated_at)
      .Bind(first + 11, job.lease_token_sha256)
      .Bind(first + 12, internal::EncodeMap(job.lineage))
      .Bind(first + 13, internal::EncodeList(gang));
}

}  // namespace

namespace {

// PRAGMA quick_check: the b-trees and their pages are sound. DATA_LOSS with
// SQLite's first findings otherwise.
absl::Status QuickCheck(Database& db) {
  SSLAB_ASSIGN_OR_RETURN(Statement s, db.Prepare("PRAGMA quick_check(5)"));
  std::vector<std::string> problems;
  while (true) {
    absl::StatusOr<bool> row = s.Step();
    if (!row.ok()) {
      return absl::DataLossError(absl::StrCat(
          "database ", db.path(),
          " failed its integrity check: ", row.status().message()));
    }
    if (!*row) break;
    if (s.Text(0) != "ok") problems.push_back(s.Text(0));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "database ", db.path(),
      " failed its integrity check: ", absl::StrJoin(problems, "; "),
      " (restore a backup: sslab-scheduler backup)"));
}

}  // namespace

// An exclusive flock held for the Store's lifetime.
class FileLock {
 public:
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(
      const std::string& db_path) {
    std::string path = db_path + ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("cannot open lock file ", path,
                                              ": ", std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("database ", db_path,
                         " is already open in another sslab-scheduler (", path,
                         " is locked); only one may use it"));
      }
      return absl::InternalError(
          absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

class Store::Impl {
 public:
  explicit Impl(Database db) : db(std::move(db)) {}

  std::unique_ptr<FileLock> lock;  // destroyed after db: declared first

  Database db;
  // Recursive: InTransaction holds it while its body calls other methods.
  std::recursive_mutex mu;
  int depth = 0;               // nesting of InTransaction on the owning thread
  Store::ChangedRuns changed;  // since the last TakeChangedRuns

  // Notes a write to `run_id`'s rows, or to rows whose run is not at hand
  // (nullopt), for TakeChangedRuns.
  void MarkChanged(std::optional<int64_t> run_id) {
    std::lock_guard<std::recursive_mutex> hold(mu);
    if (run_id) {
      changed.runs.insert(*run_id);
    } else {
      changed.all = true;
    }
  }
  int schema_version = 0;
  StoreOptions options;

  absl::StatusOr<Statement> Prepare(absl::string_view sql) {
    return db.Prepare(sql);
  }

  // Runs a statement that must return exactly one row, read by `read`.
  template <typename T, typename ReadFn>
  absl::StatusOr<T> One(Statement& s, ReadFn read, absl::string_view what,
                        int64_t id) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row)
      return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
    return read(s);
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(
    const std::string& path, const StoreOptions& options) {
  std::unique_ptr<FileLock> lock;
  if (options.exclusive) {
    SSLAB_ASSIGN_OR_RETURN(lock, FileLock::Acquire(path));
  }
  SSLAB_ASSIGN_OR_RETURN(Database db, Database::Open(path));
  auto impl = std::make_unique<Impl>(std::move(db));
  impl->lock = std::move(lock);
  impl->options = options;
  Database& d = impl->db;

  // Reading the header first turns "not a database" into DATA_LOSS here.
  int version = 0;
  {
    auto s = d.Prepare("PRAGMA user_version");
    if (!s.ok()) {
      return absl::Status(
          s.status().code(),
          absl::StrCat("database ", path, ": ", s.status().message()));
    }
    absl::StatusOr<bool> row = s->Step();
    if (!row.ok()) {
      return absl::Status(
          row.status().code(),
          absl::StrCat("database ", path, ": ", row.status().message()));
    }
    version = *row ? static_cast<int>(s->Int(0)) : 0;
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", path, " has schema version ", version,
                     ", newer than this build supports (", kSchemaVersion,
                     "); use a newer sslab-scheduler"));
  }
  const std::string busy =
      absl::StrCat("PRAGMA busy_timeout = ",
                   absl::ToInt64Milliseconds(options.busy_timeout));
  SSLAB_RETURN_IF_ERROR(d.Exec(busy.c_str()));
  {
    // journal_mode returns the mode in force; WAL is refused on some file
    // systems, which we report rather than silently run without it.
    SSLAB_ASSIGN_OR_RETURN(Statement s, d.Prepare("PRAGMA journal_mode = WAL"));
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.Text(0) != "wal") {
      return absl::InternalError(
          absl::StrCat("database ", path, " cannot use WAL journaling"));
    }
  }
  if (options.check_integrity && version > 0) {
    SSLAB_RETURN_IF_ERROR(QuickCheck(d));
  }
  SSLAB_RETURN_IF_ERROR(d.Exec("PRAGMA foreign_keys = ON"));
  SSLAB_RETURN_IF_ERROR(d.Exec("PRAGMA synchronous = NORMAL"));

  for (int next = version + 1; next <= kSchemaVersion; ++next) {
    SSLAB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(&d));
    absl::Status status = d.Exec(kMigrations[next - 1]);
    if (status.ok()) status = d.Exec(kSetUserVersion[next - 1]);
    if (status.ok()) status = txn.Commit();
    if (!status.ok()) {
      return absl::Status(
          status.code(),
          absl::StrCat("migrating database ", path, " to version ", next, ": ",
                       status.message()));
    }
  }
  impl->schema_version = kSchemaVersion;
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::schema_version() const { return impl_->schema_version; }

absl::Status Store::Backup(const std::string& path) {
  const std::string tmp = TemporarySibling(path).string();
  absl::Status status;
  {
    std::lock_guard<std::recursive_mutex> lock(impl_->mu);
    status = impl_->db.BackupTo(tmp);
  }
  if (status.ok()) {
    absl::StatusOr<Database> copy = Database::Open(tmp);
    status = copy.ok() ? QuickCheck(*copy) : copy.status();
  }
  std::error_code ec;
  if (status.ok()) {
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      status = absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ",
                                                path, ": ", ec.message()));
    }
  }
  if (status.ok()) {
    const std::filesystem::path dir =
        std::filesystem::absolute(path).parent_path();
    status = SyncDirectory(dir);
  }
  if (!status.ok()) std::filesystem::remove(tmp, ec);
  return status;
}

absl::Status Store::InTransaction(absl::FunctionRef<absl::Status()> body) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  Database& db = impl_->db;
  if (impl_->depth > 0) {
    // Nested: a savepoint so that a failing inner body undoes only itself.
    SSLAB_RETURN_IF_ERROR(db.Exec("SAVEPOINT nested"));
    ++impl_->depth;
    absl::Status status = body();
    --impl_->depth;
    if (!status.ok()) {
      db.Exec("ROLLBACK TO nested").IgnoreError();
      db.Exec("RELEASE nested").IgnoreError();
      return status;
    }
    return db.Exec("RELEASE nested");
  }
  SSLAB_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(&db));
  ++impl_->depth;
  absl::Status status = body();
  --impl_->depth;
  if (!status.ok()) return status;  // txn rolls back
  return txn.Commit();
}

Store::ChangedRuns Store::TakeChangedRuns() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return std::exchange(impl_->changed, ChangedRuns{});
}

// ---- Sweeps ----

absl::StatusOr<int64_t> Store::CreateSweep(const Sweep& sweep) {
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare("INSERT INTO sweeps (name, grid_json, created_ms) "
                       "VALUES (?1, ?2, ?3)"));
    s.Bind(1, sweep.name)
        .Bind(2, internal::EncodeGrid(sweep.grid))
        .Bind(3, sweep.created_at);
    SSLAB_RETURN_IF_ERROR(s.Run());
    id = impl_->db.LastInsertRowId();
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<Sweep> Store::GetSweep(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare("SELECT id, name, grid_json, created_ms "
                                  "FROM sweeps WHERE id = ?1"));
  s.Bind(1, id);
  return impl_->One<Sweep>(
      s,
      [](const Statement& r) -> absl::StatusOr<Sweep> {
        Sweep sweep;
        sweep.id = r.Int(0);
        sweep.name = r.Text(1);
        SSLAB_ASSIGN_OR_RETURN(sweep.grid,
                               internal::DecodeGrid(r.Text(2), "sweep grid"));
        sweep.created_at = r.Time(3);
        return sweep;
      },
      "sweep", id);
}

absl::StatusOr<std::vector<SweepSummary>> Store::ListSweeps(
    std::optional<int64_t> before_id, int limit) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(
          "SELECT s.id, s.name, s.grid_json, s.created_ms, count(r.id), "
          "coalesce(sum(r.state = 'SUCCEEDED'), 0) FROM sweeps s "
          "LEFT JOIN runs r ON r.sweep_id = s.id "
          "WHERE (?1 IS NULL OR s.id < ?1) GROUP BY s.id "
          "ORDER BY s.id DESC LIMIT ?2"));
  s.Bind(1, before_id).Bind(2, limit);
  return ReadAll<SweepSummary>(
      s, [](const Statement& r) -> absl::StatusOr<SweepSummary> {
        SweepSummary out;
        out.sweep.id = r.Int(0);
        out.sweep.name = r.Text(1);
        SSLAB_ASSIGN_OR_RETURN(out.sweep.grid,
                               internal::DecodeGrid(r.Text(2), "sweep grid"));
        out.sweep.created_at = r.Time(3);
        out.runs = r.Int(4);
        out.succeeded = r.Int(5);
        return out;
      });
}

// ---- Runs ----

absl::StatusOr<int64_t> Store::CreateRun(const Run& run) {
  const experiment::RunConfig& c = run.config;
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(absl::StrCat(
            "INSERT INTO runs (", kRunColumns,
            ") VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
            "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, "
            "?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, "
            "?38, ?39, ?40, ?41, ?42, ?43, ?44)")));
    s.Bind(1, run.name)
        .Bind(2, run.sweep_id)
        .Bind(3, EnumText(run.state))
        .Bind(4, EnumText(c.method))
        .Bind(5, EnumText(c.architecture))
        .Bind(6, c.width)
        .Bind(7, c.last_relu)
        .Bind(8, EnumText(c.dataset.kind))
        .Bind(9, c.dataset.path)
        .Bind(10, c.dataset.val_fraction)
        .Bind(11, c.dataset.max_examples)
        .Bind(12, c.dataset.image_size)
        .Bind(13, c.epochs)
        .Bind(14, c.batch_size)
        .Bind(15, c.lr_schedule.base_lr)
        .Bind(16, c.lr_schedule.warmup_epochs)
        .Bind(17, internal::EncodeList(c.lr_schedule.decay_epochs))
        .Bind(18, c.lr_schedule.decay_factor)
        .Bind(19, internal::EncodeList(c.evaluation.layers))
        .Bind(20, internal::EncodeEnums(c.evaluation.probe_kinds))
        .Bind(21, internal::EncodeList(c.evaluation.label_fractions))
        .Bind(22, c.evaluation.every_epochs)
        .Bind(23, c.seed)
        .Bind(24, EnumText(c.device))
        .Bind(25, c.threads)
        .Bind(26, run.max_attempts)
        .Bind(27, internal::EncodeMap(run.versions))
        .Bind(28, run.priority)
        .Bind(29, run.created_at)
        .Bind(30, run.updated_at)
        .Bind(31, run.error)
        .Bind(32, EnumText(c.augmentation))
        .Bind(33, EnumText(c.probe_device))
        .Bind(34, EnumText(c.precision))
        .Bind(35, EnumText(c.memory_format))
        .Bind(36, internal::EncodeList(c.evaluation.probe.l2_grid))
        .Bind(37, c.evaluation.probe.sgd_epochs)
        .Bind(38, c.evaluation.probe.sgd_learning_rate)
        .Bind(39, c.evaluation.probe.sgd_batch_size)
        .Bind(40, c.evaluation.probe.mlp_hidden_units)
        .Bind(41, c.evaluation.probe.mlp_epochs)
        .Bind(42, run.pinned)
        .Bind(43, EnumText(c.evaluation.feature_dtype))
        .Bind(44, c.devices_per_run);
    SSLAB_RETURN_IF_ERROR(s.Run());
    id = impl_->db.LastInsertRowId();
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<Run> Store::GetRun(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare(absl::StrCat("SELECT ", kRunColumns,
                                               " FROM runs WHERE id = ?1")));
  s.Bind(1, id);
  return impl_->One<Run>(s, ReadRun, "run", id);
}

absl::Status Store::UpdateRun(const Run& run) {
  impl_->MarkChanged(run.id);
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare("UPDATE runs SET state = ?2, error = ?3, priority = ?4, "
                       "updated_ms = ?5 WHERE id = ?1"));
    s.Bind(1, run.id)
        .Bind(2, EnumText(run.state))
        .Bind(3, run.error)
        .Bind(4, run.priority)
        .Bind(5, run.updated_at);
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("run ", run.id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::Status Store::SetRunProbes(
    int64_t run_id, const std::vector<experiment::ProbeKind>& probe_kinds,
    const std::vector<double>& label_fractions) {
  impl_->MarkChanged(run_id);
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s, impl_->Prepare("UPDATE runs SET eval_probe_kinds = ?2, "
                                    "eval_label_fractions = ?3 WHERE id = ?1"));
    s.Bind(1, run_id)
        .Bind(2, internal::EncodeEnums(probe_kinds))
        .Bind(3, internal::EncodeList(label_fractions));
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Run>> Store::ListRuns(
    const RunFilter& filter, std::optional<int64_t> before_id, int limit) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(absl::StrCat(
          "SELECT ", kRunColumns,
          " FROM runs WHERE (?1 IS NULL OR state = ?1) "
          "AND (?2 IS NULL OR method = ?2) "
          "AND (?3 IS NULL OR architecture = ?3) "
          "AND (?4 IS NULL OR sweep_id = ?4) "
          "AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6")));
  auto text = [](auto value) -> std::optional<std::string> {
    if (!value) return std::nullopt;
    return EnumText(*value);
  };
  s.Bind(1, text(filter.state))
      .Bind(2, text(filter.method))
      .Bind(3, text(filter.architecture))
      .Bind(4, filter.sweep_id)
      .Bind(5, before_id)
      .Bind(6, limit);
  return ReadAll<Run>(s, ReadRun);
}

absl::StatusOr<std::vector<int64_t>> Store::ListActiveRunIds() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare("SELECT id FROM runs WHERE state IN ('PENDING', "
                     "'RUNNING') ORDER BY id"));
  return ReadAll<int64_t>(s, [](const Statement& r) { return r.Int(0); });
}

absl::StatusOr<std::map<RunState, int64_t>> Store::CountRuns() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare("SELECT state, count(*) FROM runs GROUP BY state"));
  std::map<RunState, int64_t> out;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    SSLAB_ASSIGN_OR_RETURN(RunState state,
                           ParseEnumText<RunState>(s.Text(0), "run state"));
    out[state] = s.Int(1);
  }
}

// ---- Jobs ----

absl::StatusOr<int64_t> Store::CreateJob(const Job& job) {
  impl_->MarkChanged(job.run_id);
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(absl::StrCat(
            "INSERT INTO jobs (", kJobColumns,
            ") VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
            "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)")));
    s.Bind(1, job.run_id)
        .Bind(2, EnumText(job.kind))
        .Bind(3, EnumText(job.state))
        .Bind(4, job.checkpoint_id);
    BindJobTarget(s, job, 5);
    BindJobState(s, job, 8);
    SSLAB_RETURN_IF_ERROR(s.Run());
    id = impl_->db.LastInsertRowId();
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<Job> Store::GetJob(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare(absl::StrCat("SELECT ", kJobColumns,
                                               " FROM jobs WHERE id = ?1")));
  s.Bind(1, id);
  return impl_->One<Job>(s, ReadJob, "job", id);
}

absl::Status Store::UpdateJob(const Job& job) {
  impl_->MarkChanged(job.run_id);
  return InTransaction([&]() -> absl::Status {
    // Parameters are numbered as in CreateJob, so BindJobState serves both;
    // kind, checkpoint, target, device and created_ms never change.
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(
            "UPDATE jobs SET state = ?2, priority = ?8, attempts = ?9, "
            "max_attempts = ?10, lease_worker_id = ?12, lease_device = ?13, "
            "lease_expiry_ms = ?14, progress = ?15, last_error = ?16, "
            "updated_ms = ?18, lease_token_sha256 = ?19, lineage_json = ?20, "
            "lease_gang = ?21 WHERE id = ?1"));
    s.Bind(1, job.id).Bind(2, EnumText(job.state));
    BindJobState(s, job, 8);
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("job ", job.id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Job>> Store::ListJobs(int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(auto jobs, ListJobsOfRuns({run_id}));
  return std::move(jobs[run_id]);
}

absl::StatusOr<std::map<int64_t, std::vector<Job>>> Store::ListJobsOfRuns(
    const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(absl::StrCat(
          "SELECT ", kJobColumns,
          " FROM jobs WHERE run_id IN (SELECT value FROM json_each(?1)) "
          "ORDER BY run_id, id")));
  s.Bind(1, IdArray(run_ids));
  SSLAB_ASSIGN_OR_RETURN(std::vector<Job> jobs, ReadAll<Job>(s, ReadJob));
  std::map<int64_t, std::vector<Job>> by_run;
  for (Job& job : jobs) by_run[job.run_id].push_back(std::move(job));
  return by_run;
}

absl::StatusOr<std::vector<Job>> Store::ListRunnableJobs(
    const std::set<JobFit>& fits, int limit) {
  // One bit per (kind, device) pair, numbered as the SQL below numbers them.
  auto bit = [](const JobFit& fit) {
    const int kind = fit.first == JobKind::kTrain     ? 0
                     : fit.first == JobKind::kExtract ? 3
                                                      : 6;
    const int device = fit.second == DeviceRequest::kAuto  ? 0
                       : fit.second == DeviceRequest::kCpu ? 1
                                                           : 2;
    return int64_t{1} << (kind + device);
  };
  int64_t mask = 0;
  for (const JobFit& fit : fits) mask |= bit(fit);
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(absl::StrCat(
          "SELECT ", kJobColumns,
          " FROM jobs WHERE state = 'RUNNABLE' AND (?1 >> ("
          "CASE kind WHEN 'TRAIN' THEN 0 WHEN 'EXTRACT' THEN 3 ELSE 6 END + "
          "CASE device WHEN 'auto' THEN 0 WHEN 'cpu' THEN 1 ELSE 2 END)) & 1 "
          "ORDER BY priority DESC, id ASC LIMIT ?2")));
  s.Bind(1, mask).Bind(2, limit);
  return ReadAll<Job>(s, ReadJob);
}

absl::StatusOr<std::map<std::pair<JobKind, JobState>, int64_t>>
Store::CountJobs() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare("SELECT kind, state, count(*) FROM jobs "
                                  "GROUP BY kind, state"));
  std::map<std::pair<JobKind, JobState>, int64_t> out;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    SSLAB_ASSIGN_OR_RETURN(JobKind kind,
                           ParseEnumText<JobKind>(s.Text(0), "job kind"));
    SSLAB_ASSIGN_OR_RETURN(JobState state,
                           ParseEnumText<JobState>(s.Text(1), "job state"));
    out[{kind, state}] = s.Int(2);
  }
}

absl::StatusOr<std::vector<Job>> Store::ListLeasedJobs(
    std::optional<int64_t> worker_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      // The few leased jobs through their partial index: left to itself,
      // SQLite scans every job in id order to spare the sort, and this runs
      // at the start of every scheduler call (40 ms at 100,000 runs).
      impl_->Prepare(absl::StrCat(
          "SELECT ", kJobColumns,
          " FROM jobs INDEXED BY jobs_by_lease WHERE lease_expiry_ms IS NOT "
          "NULL AND (?1 IS NULL OR lease_worker_id = ?1) ORDER BY id")));
  s.Bind(1, worker_id);
  return ReadAll<Job>(s, ReadJob);
}

// ---- Checkpoints ----

absl::StatusOr<int64_t> Store::UpsertCheckpoint(const Checkpoint& c) {
  impl_->MarkChanged(c.run_id);
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(
            "INSERT INTO checkpoints (run_id, epoch, step, path, sha256, "
            "bytes, metrics_json, is_final, created_ms) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
            "ON CONFLICT (run_id, epoch) DO UPDATE SET step = excluded.step, "
            "path = excluded.path, sha256 = excluded.sha256, "
            "bytes = excluded.bytes, metrics_json = excluded.metrics_json, "
            "is_final = max(is_final, excluded.is_final), deleted_ms = NULL "
            "RETURNING id"));
    s.Bind(1, c.run_id)
        .Bind(2, c.epoch)
        .Bind(3, c.step)
        .Bind(4, c.path)
        .Bind(5, c.sha256)
        .Bind(6, c.bytes)
        .Bind(7, internal::EncodeMap(c.metrics))
        .Bind(8, c.is_final)
        .Bind(9, c.created_at);
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("checkpoint upsert returned no id");
    id = s.Int(0);
    return s.Run();
  }));
  return id;
}

absl::StatusOr<Checkpoint> Store::GetCheckpoint(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(Statement s, impl_->Prepare(absl::StrCat(
                                          "SELECT ", kCheckpointColumns,
                                          " FROM checkpoints WHERE id = ?1")));
  s.Bind(1, id);
  return impl_->One<Checkpoint>(s, ReadCheckpoint, "checkpoint", id);
}

absl::StatusOr<std::vector<Checkpoint>> Store::ListCheckpoints(
    int64_t run_id, std::optional<int64_t> after_id, int limit) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  std::optional<int64_t> after_epoch;
  if (after_id) {
    SSLAB_ASSIGN_OR_RETURN(Checkpoint after, GetCheckpoint(*after_id));
    after_epoch = after.epoch;
  }
  SSLAB_ASSIGN_OR_RETURN(Statement s, impl_->Prepare(absl::StrCat(
                                          "SELECT ", kCheckpointColumns,
                                          " FROM checkpoints WHERE run_id = ?1 "
                                          "AND (?2 IS NULL OR epoch > ?2) "
                                          "ORDER BY epoch LIMIT ?3")));
  s.Bind(1, run_id).Bind(2, after_epoch).Bind(3, limit);
  return ReadAll<Checkpoint>(s, ReadCheckpoint);
}

// ---- Features ----

absl::StatusOr<int64_t> Store::UpsertFeature(const Feature& f) {
  impl_->MarkChanged(std::nullopt);
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(
            "INSERT INTO features (checkpoint_id, layer, split, path, sha256, "
            "rows, dims, created_ms, bytes) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
            "ON CONFLICT (checkpoint_id, layer, split) DO UPDATE SET "
            "path = excluded.path, sha256 = excluded.sha256, "
            "rows = excluded.rows, dims = excluded.dims, "
            "bytes = excluded.bytes, deleted_ms = NULL RETURNING id"));
    s.Bind(1, f.checkpoint_id)
        .Bind(2, f.layer)
        .Bind(3, EnumText(f.split))
        .Bind(4, f.path)
        .Bind(5, f.sha256)
        .Bind(6, f.rows)
        .Bind(7, f.dims)
        .Bind(8, f.created_at)
        .Bind(9, f.bytes);
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("feature upsert returned no id");
    id = s.Int(0);
    return s.Run();
  }));
  return id;
}

absl::StatusOr<std::vector<Feature>> Store::ListFeatures(
    int64_t checkpoint_id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(
          "SELECT id, checkpoint_id, layer, split, path, sha256, rows, dims, "
          "created_ms, bytes, deleted_ms FROM features "
          "WHERE checkpoint_id = ?1 ORDER BY layer, split"));
  s.Bind(1, checkpoint_id);
  return ReadAll<Feature>(s, ReadFeature);
}

// ---- Artifact lifecycle ----

absl::Status Store::SetRunPinned(int64_t run_id, bool pinned) {
  impl_->MarkChanged(run_id);
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare("UPDATE runs SET pinned = ?2 WHERE id = ?1"));
    s.Bind(1, run_id).Bind(2, pinned);
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::Status Store::MarkCheckpointDeleted(int64_t id, absl::Time at) {
  return MarkDeleted("checkpoint", id, at);
}

absl::Status Store::MarkFeatureDeleted(int64_t id, absl::Time at) {
  return MarkDeleted("feature", id, at);
}

absl::Status Store::MarkDeleted(absl::string_view kind, int64_t id,
                                absl::Time at) {
  impl_->MarkChanged(std::nullopt);
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(kind == "checkpoint"
                           ? "UPDATE checkpoints SET deleted_ms = ?2 "
                             "WHERE id = ?1"
                           : "UPDATE features SET deleted_ms = ?2 "
                             "WHERE id = ?1"));
    s.Bind(1, id).Bind(2, at);
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<DiskUsage> Store::RunDiskUsage(int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(auto usage, DiskUsageOfRuns({run_id}));
  return usage[run_id];
}

absl::StatusOr<std::map<int64_t, DiskUsage>> Store::DiskUsageOfRuns(
    const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare("SELECT r.value, "
                     "  (SELECT count(*) FROM checkpoints "
                     "   WHERE run_id = r.value AND deleted_ms IS NULL), "
                     "  (SELECT coalesce(sum(bytes), 0) FROM checkpoints "
                     "   WHERE run_id = r.value AND deleted_ms IS NULL), "
                     "  (SELECT count(f.id) FROM checkpoints c "
                     "   JOIN features f ON f.checkpoint_id = c.id "
                     "   WHERE c.run_id = r.value AND c.deleted_ms IS NULL "
                     "   AND f.deleted_ms IS NULL), "
                     "  (SELECT coalesce(sum(f.bytes), 0) FROM checkpoints c "
                     "   JOIN features f ON f.checkpoint_id = c.id "
                     "   WHERE c.run_id = r.value AND c.deleted_ms IS NULL "
                     "   AND f.deleted_ms IS NULL) "
                     "FROM json_each(?1) r"));
  s.Bind(1, IdArray(run_ids));
  std::map<int64_t, DiskUsage> by_run;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return by_run;
    DiskUsage& usage = by_run[s.Int(0)];
    usage.checkpoints = static_cast<int>(s.Int(1));
    usage.checkpoint_bytes = s.Int(2);
    usage.feature_shards = static_cast<int>(s.Int(3));
    usage.feature_bytes = s.Int(4);
  }
}

absl::StatusOr<std::vector<int64_t>> Store::ListRunIdsWithArtifacts() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare("SELECT DISTINCT run_id FROM checkpoints "
                                  "WHERE deleted_ms IS NULL ORDER BY run_id"));
  std::vector<int64_t> ids;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ids.push_back(s.Int(0));
  }
  return ids;
}

absl::Status Store::DeleteRun(int64_t run_id) {
  impl_->MarkChanged(run_id);
  return InTransaction([&]() -> absl::Status {
    // Children first: results and features hang off checkpoints, which jobs
    // also refer to.
    for (const char* sql : {
             "DELETE FROM results WHERE checkpoint_id IN "
             "(SELECT id FROM checkpoints WHERE run_id = ?1)",
             "DELETE FROM features WHERE checkpoint_id IN "
             "(SELECT id FROM checkpoints WHERE run_id = ?1)",
             "DELETE FROM jobs WHERE run_id = ?1",
             "DELETE FROM checkpoints WHERE run_id = ?1",
             "DELETE FROM metrics WHERE run_id = ?1",
             "DELETE FROM latest_metrics WHERE run_id = ?1",
             "DELETE FROM runs WHERE id = ?1",
         }) {
      SSLAB_ASSIGN_OR_RETURN(Statement s, impl_->Prepare(sql));
      s.Bind(1, run_id);
      SSLAB_RETURN_IF_ERROR(s.Run());
    }
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("run ", run_id, " not found"));
    }
    return absl::OkStatus();
  });
}

// ---- Results ----

absl::StatusOr<int64_t> Store::UpsertResult(const Result& r) {
  impl_->MarkChanged(std::nullopt);
  int64_t id = 0;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(
            "INSERT INTO results (checkpoint_id, layer, probe_kind, "
            "label_fraction, split, top1, top5, hyperparameters_json, "
            "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
            "ON CONFLICT (checkpoint_id, layer, probe_kind, label_fraction, "
            "split) DO UPDATE SET top1 = excluded.top1, top5 = excluded.top5, "
            "hyperparameters_json = excluded.hyperparameters_json "
            "RETURNING id"));
    s.Bind(1, r.checkpoint_id)
        .Bind(2, r.target.layer)
        .Bind(3, EnumText(r.target.probe_kind))
        .Bind(4, r.target.label_fraction)
        .Bind(5, EnumText(r.split))
        .Bind(6, r.top1)
        .Bind(7, r.top5)
        .Bind(8, internal::EncodeMap(r.hyperparameters))
        .Bind(9, r.created_at);
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("result upsert returned no id");
    id = s.Int(0);
    return s.Run();
  }));
  return id;
}

absl::StatusOr<std::vector<ResultRow>> Store::QueryResults(
    const ResultFilter& filter, std::optional<int64_t> after_id, int limit) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  // Where the previous page ended: that result's place in the order below.
  std::optional<Statement> after;
  if (after_id) {
    SSLAB_ASSIGN_OR_RETURN(
        after, impl_->Prepare("SELECT c.run_id, c.epoch, r.layer, "
                              "r.probe_kind, r.label_fraction, r.split "
                              "FROM results r JOIN checkpoints c "
                              "ON c.id = r.checkpoint_id WHERE r.id = ?1"));
    after->Bind(1, *after_id);
    SSLAB_ASSIGN_OR_RETURN(bool found, after->Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("result ", *after_id, " not found"));
    }
  }
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(absl::StrCat(
          "SELECT r.id, r.checkpoint_id, r.layer, r.probe_kind, "
          "r.label_fraction, r.split, r.top1, r.top5, r.hyperparameters_json, "
          "r.created_ms, u.id, u.name, u.sweep_id, u.method, u.architecture, "
          "u.width, c.epoch FROM results r "
          "JOIN checkpoints c ON c.id = r.checkpoint_id "
          "JOIN runs u ON u.id = c.run_id WHERE ",
          // The scope as a plain equality, so that the planner walks the
          // run's (or sweep's) checkpoints by index instead of every result
          // ("?1 IS NULL OR ..." defeats the indexes). Fixed text only.
          filter.run_id     ? "c.run_id = ?1 "
          : filter.sweep_id ? "u.sweep_id = ?2 "
                            : "1 ",
          "AND (?3 IS NULL OR r.layer = ?3) "
          "AND (?4 IS NULL OR r.probe_kind = ?4) ",
          // The run bound lets the scan start at the previous page's run
          // instead of the scope's first; the row value is the exact place.
          after ? "AND u.id >= ?5 AND (u.id, c.epoch, r.layer, r.probe_kind, "
                  "r.label_fraction, r.split) > (?5, ?6, ?7, ?8, ?9, ?10) "
                : "",
          "ORDER BY u.id, c.epoch, r.layer, r.probe_kind, r.label_fraction, "
          "r.split LIMIT ?11")));
  if (filter.run_id) s.Bind(1, *filter.run_id);
  if (filter.sweep_id) s.Bind(2, *filter.sweep_id);
  s.Bind(3, filter.layer);
  if (filter.probe_kind) {
    s.Bind(4, EnumText(*filter.probe_kind));
  } else {
    s.BindNull(4);
  }
  if (after) {
    s.Bind(5, after->Int(0))
        .Bind(6, after->Int(1))
        .Bind(7, after->Text(2))
        .Bind(8, after->Text(3))
        .Bind(9, after->Double(4))
        .Bind(10, after->Text(5));
  }
  s.Bind(11, limit);
  return ReadAll<ResultRow>(
      s, [](const Statement& q) -> absl::StatusOr<ResultRow> {
        ResultRow row;
        Result& r = row.result;
        r.id = q.Int(0);
        r.checkpoint_id = q.Int(1);
        r.target.layer = q.Text(2);
        SSLAB_ASSIGN_OR_RETURN(
            r.target.probe_kind,
            ParseEnumText<ProbeKind>(q.Text(3), "probe kind"));
        r.target.label_fraction = q.Double(4);
        SSLAB_ASSIGN_OR_RETURN(r.split,
                               ParseEnumText<Split>(q.Text(5), "result split"));
        r.top1 = q.Double(6);
        r.top5 = q.Double(7);
        SSLAB_ASSIGN_OR_RETURN(
            r.hyperparameters,
            internal::DecodeStringMap(q.Text(8), "hyperparameters"));
        r.created_at = q.Time(9);
        row.run_id = q.Int(10);
        row.run_name = q.Text(11);
        row.sweep_id = q.OptionalInt(12);
        SSLAB_ASSIGN_OR_RETURN(row.method, ParseEnumText<experiment::Method>(
                                               q.Text(13), "method"));
        SSLAB_ASSIGN_OR_RETURN(row.architecture,
                               ParseEnumText<experiment::Architecture>(
                                   q.Text(14), "architecture"));
        row.width = static_cast<int>(q.Int(15));
        row.epoch = static_cast<int>(q.Int(16));
        return row;
      });
}

// ---- Metrics ----

absl::Status Store::AppendMetrics(int64_t run_id,
                                  const std::vector<Metric>& metrics,
                                  absl::Time now) {
  impl_->MarkChanged(run_id);
  if (metrics.empty()) return absl::OkStatus();
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement insert,
        impl_->Prepare("INSERT INTO metrics (run_id, step, name, value, "
                       "created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"));
    // The latest value moves only forward in step; the count always grows.
    SSLAB_ASSIGN_OR_RETURN(
        Statement latest,
        impl_->Prepare(
            "INSERT INTO latest_metrics (run_id, name, step, value, points) "
            "VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (run_id, name) DO UPDATE "
            "SET points = points + 1, "
            "step = CASE WHEN excluded.step >= step THEN excluded.step "
            "ELSE step END, "
            "value = CASE WHEN excluded.step >= step THEN excluded.value "
            "ELSE value END RETURNING points"));
    for (const Metric& m : metrics) {
      insert.Reset();
      insert.Bind(1, run_id)
          .Bind(2, m.step)
          .Bind(3, m.name)
          .Bind(4, m.value)
          .Bind(5, now);
      SSLAB_RETURN_IF_ERROR(insert.Run());
      latest.Reset();
      latest.Bind(1, run_id).Bind(2, m.name).Bind(3, m.step).Bind(4, m.value);
      SSLAB_ASSIGN_OR_RETURN(bool row, latest.Step());
      const int64_t points = row ? latest.Int(0) : 0;
      latest.Reset();
      if (points > impl_->options.max_metric_points) {
        SSLAB_RETURN_IF_ERROR(ThinMetricSeries(run_id, m.name));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status Store::ThinMetricSeries(int64_t run_id, const std::string& name) {
  // Every other point of the older half goes: recent history stays whole,
  // older history gets coarser, the series stays under the cap.
  SSLAB_ASSIGN_OR_RETURN(
      Statement thin,
      impl_->Prepare(
          "DELETE FROM metrics WHERE id IN (SELECT id FROM (SELECT id, "
          "row_number() OVER (ORDER BY step, id) AS n FROM metrics "
          "WHERE run_id = ?1 AND name = ?2) WHERE n <= ?3 AND n % 2 = 0)"));
  thin.Bind(1, run_id).Bind(2, name).Bind(
      3, static_cast<int64_t>(impl_->options.max_metric_points / 2));
  SSLAB_RETURN_IF_ERROR(thin.Run());
  SSLAB_ASSIGN_OR_RETURN(
      Statement count,
      impl_->Prepare("UPDATE latest_metrics SET points = (SELECT count(*) "
                     "FROM metrics WHERE run_id = ?1 AND name = ?2) "
                     "WHERE run_id = ?1 AND name = ?2"));
  count.Bind(1, run_id).Bind(2, name);
  return count.Run();
}

absl::StatusOr<std::vector<Metric>> Store::ListMetrics(
    int64_t run_id, std::optional<std::string> name) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare("SELECT step, name, value FROM metrics WHERE run_id = ?1 "
                     "AND (?2 IS NULL OR name = ?2) ORDER BY name, step, id"));
  s.Bind(1, run_id).Bind(2, name);
  return ReadAll<Metric>(s, [](const Statement& r) {
    Metric m;
    m.step = r.Int(0);
    m.name = r.Text(1);
    m.value = r.Double(2);
    return m;
  });
}

absl::StatusOr<std::vector<Metric>> Store::LatestMetrics(int64_t run_id) {
  SSLAB_ASSIGN_OR_RETURN(auto latest, LatestMetricsOfRuns({run_id}));
  return std::move(latest[run_id]);
}

absl::StatusOr<std::map<int64_t, std::vector<Metric>>>
Store::LatestMetricsOfRuns(const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare("SELECT run_id, step, name, value FROM latest_metrics "
                     "WHERE run_id IN (SELECT value FROM json_each(?1)) "
                     "ORDER BY run_id, name"));
  s.Bind(1, IdArray(run_ids));
  std::map<int64_t, std::vector<Metric>> by_run;
  while (true) {
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return by_run;
    Metric m;
    m.step = s.Int(1);
    m.name = s.Text(2);
    m.value = s.Double(3);
    by_run[s.Int(0)].push_back(std::move(m));
  }
}

// ---- Workers ----

absl::StatusOr<Worker> Store::UpsertWorker(const Worker& worker) {
  Worker out = worker;
  SSLAB_RETURN_IF_ERROR(InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s,
        impl_->Prepare(
            "INSERT INTO workers (name, kinds_json, devices_json, "
            "registered_ms, last_heartbeat_ms, build_json) VALUES (?1, ?2, "
            "?3, ?4, ?5, ?6) "
            "ON CONFLICT (name) DO UPDATE SET kinds_json = "
            "excluded.kinds_json, "
            "devices_json = excluded.devices_json, "
            "last_heartbeat_ms = excluded.last_heartbeat_ms, "
            "build_json = excluded.build_json "
            "RETURNING id, registered_ms"));
    s.Bind(1, worker.name)
        .Bind(2, internal::EncodeEnums(worker.kinds))
        .Bind(3, internal::EncodeDevices(worker.devices))
        .Bind(4, worker.registered_at)
        .Bind(5, worker.last_heartbeat)
        .Bind(6, internal::EncodeMap(worker.build));
    SSLAB_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("worker upsert returned no id");
    out.id = s.Int(0);
    out.registered_at = s.Time(1);
    return s.Run();
  }));
  return out;
}

absl::StatusOr<Worker> Store::GetWorker(int64_t id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s, impl_->Prepare(absl::StrCat("SELECT ", kWorkerColumns,
                                               " FROM workers WHERE id = ?1")));
  s.Bind(1, id);
  return impl_->One<Worker>(s, ReadWorker, "worker", id);
}

absl::StatusOr<std::vector<Worker>> Store::ListWorkers(
    std::optional<int64_t> after_id, int limit) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  SSLAB_ASSIGN_OR_RETURN(
      Statement s,
      impl_->Prepare(absl::StrCat("SELECT ", kWorkerColumns,
                                  " FROM workers WHERE (?1 IS NULL OR id > ?1) "
                                  "ORDER BY id LIMIT ?2")));
  s.Bind(1, after_id).Bind(2, limit);
  return ReadAll<Worker>(s, ReadWorker);
}

absl::Status Store::TouchWorker(int64_t id, absl::Time now) {
  return InTransaction([&]() -> absl::Status {
    SSLAB_ASSIGN_OR_RETURN(
        Statement s, impl_->Prepare("UPDATE workers SET last_heartbeat_ms = ?2 "
                                    "WHERE id = ?1"));
    s.Bind(1, id).Bind(2, now);
    SSLAB_RETURN_IF_ERROR(s.Run());
    if (impl_->db.Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("worker ", id, " not found"));
    }
    return absl::OkStatus();
  });
}

}  // namespace sslab::storage
