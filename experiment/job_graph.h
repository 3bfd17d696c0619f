// The job graph of a run, typed: TRAIN -> one EXTRACT per evaluated
// checkpoint (every planned layer, every evaluation split) -> one PROBE per
// layer x probe kind x label fraction. Also what a worker is handed for one
// job (JobAssignment), so the scheduler and the workers share one type.
//
// Thread-safe (value types and pure functions).
#ifndef SSLAB_EXPERIMENT_JOB_GRAPH_H_
#define SSLAB_EXPERIMENT_JOB_GRAPH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "experiment/device.h"
#include "experiment/run_config.h"
#include "experiment/vocabulary.h"

namespace sslab::experiment {

// The splits every EXTRACT job computes: probes train on train, choose their
// hyper-parameters on val and report test.
inline constexpr Split kEvaluationSplits[] = {Split::kTrain, Split::kVal,
                                              Split::kTest};

// What one PROBE job trains: `probe_kind` on one layer's features, seeing
// `label_fraction` of the train split's labels.
struct ProbeTarget {
  std::string layer;
  ProbeKind probe_kind = ProbeKind::kLbfgs;
  double label_fraction = 1.0;

  friend bool operator==(const ProbeTarget&, const ProbeTarget&) = default;
};

// The PROBE targets of one evaluated checkpoint, layer-major (layers in plan
// order, then probe kinds, then label fractions).
std::vector<ProbeTarget> ProbeTargets(const EvaluationPlan& plan);

// Whether the checkpoint of `epoch` gets an EXTRACT job: the final one
// always, and every `every_epochs`-th epoch's when that is set.
bool IsEvaluatedEpoch(const EvaluationPlan& plan, int epoch, bool is_final);

// Artifact paths (checkpoints, feature shards) are relative to the workers'
// artifact directory and stay inside it: non-empty, not absolute, no ".."
// component, at most kMaxArtifactPathLength bytes. INVALID_ARGUMENT naming
// `field` otherwise.
inline constexpr size_t kMaxArtifactPathLength = 1024;
absl::Status CheckArtifactPath(absl::string_view path, absl::string_view field);

// An artifact's registered SHA-256: 64 lowercase hex digits, or empty when
// the worker did not compute one (then nothing verifies it). INVALID_ARGUMENT
// naming `field` otherwise.
absl::Status CheckSha256(absl::string_view sha256, absl::string_view field);

// A registered checkpoint, as a job refers to it.
struct CheckpointRef {
  int64_t id = 0;
  int epoch = 0;
  int64_t step = 0;
  // Relative to the artifact directory.
  std::string path;
  std::string sha256;

  friend bool operator==(const CheckpointRef&, const CheckpointRef&) = default;
};

// One split of one layer's features, as an EXTRACT job registers them and a
// PROBE job is handed them.
struct FeatureRef {
  std::string layer;
  Split split = Split::kTrain;
  // Relative to the artifact directory.
  std::string path;
  std::string sha256;
  int64_t rows = 0;
  int64_t dims = 0;
  int64_t bytes = 0;  // file size; 0 when unknown

  friend bool operator==(const FeatureRef&, const FeatureRef&) = default;
};

// A checkpoint a TRAIN job registers.
struct CheckpointReport {
  int epoch = 0;     // >= 0
  int64_t step = 0;  // >= 0
  // Relative to the artifact directory; non-empty.
  std::string path;
  std::string sha256;
  int64_t bytes = 0;  // >= 0
  // Pretext metrics at this checkpoint (e.g. "loss", "pretext_top1").
  std::map<std::string, double> metrics;
  // The last checkpoint of training (always evaluated).
  bool is_final = false;

  friend bool operator==(const CheckpointReport&,
                         const CheckpointReport&) = default;
};

// What a PROBE job records for one split.
struct ProbeResult {
  Split split = Split::kTest;
  double top1 = 0;  // [0, 1]
  double top5 = 0;  // [0, 1]
  // Chosen hyper-parameters (e.g. "l2" -> "0.0001").
  std::map<std::string, std::string> hyperparameters;

  friend bool operator==(const ProbeResult&, const ProbeResult&) = default;
};

// How many earlier checkpoints a TRAIN job is handed besides the latest.
inline constexpr int kFallbackCheckpoints = 2;

// Everything a worker needs to run one leased job.
struct JobAssignment {
  int64_t run_id = 0;
  int64_t job_id = 0;
  JobKind kind = JobKind::kTrain;
  // 1 for the first lease of the job.
  int attempt = 1;
  RunConfig config;
  // The device the job must use (a gang's rank 0).
  DeviceId device;
  // TRAIN with config.devices_per_run > 1: the device of each rank, rank 0
  // first; every rank of a CPU gang has the worker's CPU. Empty otherwise.
  std::vector<DeviceId> devices;
  // TRAIN: the run's latest checkpoint to resume from (nullopt: start from
  // scratch). EXTRACT and PROBE: the checkpoint they evaluate.
  std::optional<CheckpointRef> checkpoint;
  // TRAIN: the run's earlier checkpoints, newest first (at most
  // kFallbackCheckpoints), to resume from when `checkpoint` is damaged.
  std::vector<CheckpointRef> fallback_checkpoints;
  // EXTRACT: the layers and splits to compute.
  std::vector<std::string> layers;
  std::vector<Split> splits;
  // PROBE: what to train, and its layer's features (one per split).
  std::optional<ProbeTarget> probe;
  std::vector<FeatureRef> features;

  friend bool operator==(const JobAssignment&, const JobAssignment&) = default;
};

}  // namespace sslab::experiment

#endif  // SSLAB_EXPERIMENT_JOB_GRAPH_H_
